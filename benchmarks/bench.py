"""Grade N copies of each assignment's reference solution as a batch, and print how long it took.

    python benchmarks/bench.py [-n 20] [-a conv-arithmetic] [--jobs 1 2] [--sandbox auto]

For each assignment and each -j: the per-submission time (median) with its breakdown, and the
throughput of the whole batch (submissions per second, start of the command to the end of
summary.html). Rows:
  cold      -j 1, no warm workers: each submission waits for its own sandbox and kernel (what
            one `grade FILE` pays)
  -j N      the batch as `grade batch` runs it: N worker processes, each with warm workers ahead
Columns (medians over the submissions, seconds): start-up = sandbox + kernel start-up of one
worker (cold row; in the warm rows it happens ahead, off the critical path); waited = how long a
submission waited for its warm worker; execution = the notebook's cells; checks = the probe's
calls; judge; report = writing the JSON, HTML and details; per sub = one submission in its
worker process, all of the above, also as a ratio to `python -c "import torch"` timed in the same
run. First line: what each sandbox's kernel-held limits cost (its control group, its scratch
space, its system-call filter). Other processes on the machine change every figure: the load
average is printed with each row.

    python benchmarks/bench.py --student [-n 5]

The student's loop instead: `grade FILE --no-hidden` of a correct conv-pooling and
toy2d-classifiers notebook (the whole command, as a student waits for it; toy2d also as before
its trainings ran in parallel and its datasets were cached: `-j 1`, no dataset cache; both also
with `--keep-warm`, forked from the template the first of the n gradings left running), and
`grader.check()` inside a running Jupyter kernel for conv-pooling; medians of n, each also as a
ratio to `python -c "import torch"`.

    python benchmarks/bench.py --distributed

The cost of grading through Dask (`grade batch --scheduler`): 40 conv-arithmetic and 10
toy2d-classifiers references with the local pool (-j 2), with `--scheduler local:2` and with
`--scheduler local:1` on this machine; each batch's wall time (the command's: a local:N
cluster's start-up included, also printed alone), its throughput, a submission's share of the
wall time as a ratio to `python -c "import torch"`, the load average; then local:2 against the
local pool, and 2 workers against 1.

    python benchmarks/bench.py --versus-nbgrader [-n 20] [--repeat 3] [-a conv-arithmetic -a toy2d-classifiers]

nbgrader 0.9 (in a virtualenv of its own) against `grade` on a port of conv-arithmetic's and
toy2d-classifiers' own checks, hidden ones included, interleaved: benchmarks/nbgrader_port.py
(toy2d's port: benchmarks/toy2d_port.py), whose options it takes. For toy2d also one notebook
(nbgrader against `grade FILE`) and the batch against the time its own training takes on the cores.

    python benchmarks/bench.py --backends [-n 20] [-a conv-arithmetic] [--repeat 3]

What a submission costs with each isolating backend, interleaved (bwrap, bwrap-fork, bwrap, ...):
`grade batch -j 1` of n and of 2n copies of the reference as a command of its own; its wall time,
its CPU seconds (every process it started, sandboxes included), the marginal CPU seconds of one
submission ((CPU of 2n - CPU of n) / n: the batch's start-up and the template's drop out), and
the peak memory of all its processes together (a sum of PSS, sampled every 0.1 s, or less often
where a sample would take more than 5 % of a core); each with the load average, and as ratios to
`python -c "import torch"` (its wall and CPU time, its peak RSS).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from grader.assignments import course_root, known_assignments, load_assignment  # noqa: E402
from grader.batch import BatchConfig, run_batch  # noqa: E402
from grader.cgroups import ControlGroup  # noqa: E402
from grader.cgroups import availability as cgroup_problem  # noqa: E402
from grader.sandbox import Limits  # noqa: E402
from grader.scratchfs import ScratchSpace  # noqa: E402
from grader.syscall_filter import availability as filter_problem  # noqa: E402
from grader.syscall_filter import filter_file  # noqa: E402

COLUMNS = ("startup", "wait", "execution", "checks", "judging", "report", "grading")
HEADERS = ("start-up", "waited", "execution", "checks", "judge", "report", "per sub")


def _copies(solution: Path, folder: Path, n: int) -> None:
    folder.mkdir()
    for i in range(n):
        (folder / f"student{i:03d}{solution.suffix}").write_bytes(solution.read_bytes())


def run(name: str, n: int, jobs: int, warm: int | None, sandbox: str, scheduler: str | None = None) -> dict[str, float]:
    """One batch of n copies of the reference; the medians and the throughput."""
    assignment = load_assignment(name)
    assert assignment.solution is not None, f"{name} has no reference here"
    with tempfile.TemporaryDirectory(prefix="coursegrade-bench-") as scratch:
        folder, output = Path(scratch) / "class", Path(scratch) / "reports"
        _copies(assignment.solution, folder, n)
        config = BatchConfig(folder, assignment, output, jobs, sandbox, warm_ahead=warm, scheduler=scheduler)
        started = time.monotonic()
        with open("/dev/null", "w") as quiet:
            outcome = run_batch(config, stream=quiet)
        wall = time.monotonic() - started
        timings = [json.loads(p.read_text())["timings"] for p in (output / "details").glob("*.json")]
    assert outcome.graded == n and not outcome.errors, outcome
    medians = {c: statistics.median(t.get(c, 0.0) for t in timings) for c in COLUMNS}
    return {**medians, "wall": wall, "throughput": n / wall}


def _median_ms(action: Callable[[], None], repeat: int = 20) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return 1000 * statistics.median(times)


def _group_once() -> None:
    ControlGroup.create(Limits(), 1024).remove()


def _space_once() -> None:
    ScratchSpace.create(Limits().disk_bytes, Limits().disk_files).remove()


def _filter_once() -> None:
    os.close(filter_file())


def sandbox_costs() -> str:
    """What each sandbox's kernel-held limits cost to set up and take down (ms, medians of 20)."""
    parts = []
    for label, action, problem in (("control group create+remove", _group_once, cgroup_problem()),
                                   ("scratch space create+remove", _space_once, ""),
                                   ("system-call filter per start", _filter_once, filter_problem())):
        parts.append(f"{label} {_median_ms(action):.2f} ms" if not problem else f"{label}: n/a ({problem})")
    return "sandbox parts: " + "; ".join(parts)


def import_torch_seconds() -> float:
    """`python -c "import torch"` in this run: the yardstick the figures are read against."""
    started = time.monotonic()
    subprocess.run([sys.executable, "-c", "import torch"], check=True)
    return time.monotonic() - started


def _row(label: str, figures: dict[str, float], cold: bool, torch_seconds: float) -> str:
    """A table row; start-up is shown for the cold row only (warm workers start off the critical path)."""
    cells = " ".join(f"{figures[c]:>9.3f}" if cold or c != "startup" else f"{'-':>9}" for c in COLUMNS)
    load = os.getloadavg()[0]
    ratio = figures["grading"] / torch_seconds
    return (f"  {label:<7} {cells} {figures['wall']:>8.1f} s {figures['throughput']:>7.2f} /s   "
            f"{ratio:.2f}x import torch   load {load:.1f}")


KEPT = ("--keep-warm", "600")  # the first grading starts the template, the median is a later one's
STUDENT_GRADES = (("conv-pooling", (), ""), ("toy2d-classifiers", ("-j", "1"), "-j 1, no dataset cache"),
                  ("toy2d-classifiers", (), ""), ("conv-pooling", KEPT, "--keep-warm"),
                  ("toy2d-classifiers", KEPT, "--keep-warm"))


def _timed(action: Callable[[], None], n: int) -> float:
    times = []
    for _ in range(n):
        started = time.monotonic()
        action()
        times.append(time.monotonic() - started)
    return statistics.median(times)


def _grade_command(notebook: Path, options: Sequence[str] = ()) -> Callable[[], None]:
    from grader.dataset_cache import DISABLE

    environment = {**os.environ, **({DISABLE: "1"} if "-j" in options else {})}
    def grade() -> None:
        subprocess.run([sys.executable, "-m", "grader", str(notebook), "--no-hidden", *options], check=True,
                       capture_output=True, env=environment)
    return grade


def _check_in_kernel(notebook: Path, n: int) -> float:
    """The median time of `grader.check()` in a live kernel that has run the notebook."""
    import nbformat
    from nbclient import NotebookClient

    cells = [c.source for c in nbformat.read(notebook, as_version=4).cells if c.cell_type == "code"]
    timing = (f"import grader, time, statistics\ntimes = []\nfor _ in range({n}):\n    t = time.monotonic()\n"
              "    grader.check()\n    times.append(time.monotonic() - t)\nprint(statistics.median(times))")
    book = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in [*cells, timing]])
    NotebookClient(book, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(course_root())}}).execute()
    return float(book.cells[-1].outputs[-1]["text"].split()[-1])


def student_loop(n: int, torch_seconds: float) -> None:
    for name, options, label in STUDENT_GRADES:
        solution = load_assignment(name).solution
        assert solution is not None
        seconds = _timed(_grade_command(solution, options), n)
        if options == KEPT:  # the kept template ends a second after one more grading
            _grade_command(solution, ("--keep-warm", "1"))()
        how = f" ({label})" if label else ""
        print(f"  grade {name} notebook (public checks){how}: {seconds:.2f} s = {seconds / torch_seconds:.2f}x "
              f"import torch   load {os.getloadavg()[0]:.1f}", flush=True)
    solution = load_assignment("conv-pooling").solution
    assert solution is not None
    seconds = _check_in_kernel(solution, n)
    print(f"  grader.check() in a running kernel, conv-pooling: {seconds:.3f} s = {seconds / torch_seconds:.2f}x "
          f"import torch   load {os.getloadavg()[0]:.1f}", flush=True)


# ---------------------------------------------------------------- --distributed: the cost of Dask

DISTRIBUTED = (("conv-arithmetic", 40), ("toy2d-classifiers", 10))
WAYS = (("-j 2", 2, None), ("local:2", 2, "local:2"), ("local:1", 1, "local:1"))


def cluster_startup(workers: int) -> float:
    """Seconds from nothing to a client of `local:N` with its N workers (no assignment loaded)."""
    from grader.distributed import connected

    started = time.monotonic()
    with connected(f"local:{workers}"):
        return time.monotonic() - started


def distributed_costs(sandbox: str, torch_seconds: float) -> None:
    print(f"local:2 cluster start-up: {cluster_startup(2):.1f} s   load {os.getloadavg()[0]:.1f}", flush=True)
    for name, n in DISTRIBUTED:
        print(f"{name}: {n} copies of the reference", flush=True)
        walls = {}
        for label, jobs, scheduler in WAYS:
            figures = run(name, n, jobs, None, sandbox, scheduler)
            walls[label] = figures["wall"]
            share = figures["wall"] / n / torch_seconds
            print(f"  {label:<8} {figures['wall']:7.1f} s {figures['throughput']:7.2f} /s   a submission "
                  f"{share:.2f}x import torch   load {os.getloadavg()[0]:.1f}", flush=True)
        print(f"  throughput of local:2 / local pool -j 2: {walls['-j 2'] / walls['local:2']:.2f}; "
              f"of 2 Dask workers / 1: {walls['local:1'] / walls['local:2']:.2f}", flush=True)


# ---------------------------------------------------------------- --backends: fork server against bwrap

BACKENDS = ("bwrap", "bwrap-fork")


def _tree(root: int) -> list[int]:
    """`root` and its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                stat = Path(f"/proc/{name}/stat").read_bytes()
                children.setdefault(int(stat[stat.rindex(b")") + 2:].split()[1]), []).append(int(name))
            except (OSError, ValueError, IndexError):
                continue
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


SAMPLE_SECONDS = 0.1  # at most this often; less often when a sample costs more than 5 ms of CPU


def _pss(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def measured(command: list[str]) -> dict[str, float]:
    """Run `command` in a control group of its own (the sandboxes' groups are made inside it);
    its wall time, the CPU seconds of the group, and the peak of its processes' summed PSS (its
    descendants and every process in its group: the children a kept template forks for it too)."""
    import threading

    group = ControlGroup.create(None, 1024)
    started = time.monotonic()
    try:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                   preexec_fn=lambda: group.join(os.getpid()))
        peak = [0]

        def sample() -> None:  # reading PSS walks page tables: kept to 5 % of a core, so it slows no one
            while process.poll() is None:
                before = time.thread_time()
                peak[0] = max(peak[0], sum(_pss(pid) for pid in {*_tree(process.pid), *group.pids()}))
                time.sleep(max(SAMPLE_SECONDS, 19 * (time.thread_time() - before)))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, stderr = process.communicate()
        wall = time.monotonic() - started
        sampler.join()
        cpu = group.usage().cpu_seconds
    finally:
        group.kill()
        group.remove()
    if process.returncode not in (0, 1):
        raise RuntimeError(f"{command} failed: {stderr.decode(errors='replace')[-2000:]}")
    return {"wall": wall, "cpu": cpu, "peak": peak[0], "load": os.getloadavg()[0]}


def _batch_command(folder: Path, name: str, sandbox: str, output: Path) -> list[str]:
    return [sys.executable, "-m", "grader", "batch", str(folder), "-a", name, "-o", str(output), "-j", "1",
            "--sandbox", sandbox]


def backends_cost(names: list[str], n: int, repeat: int) -> None:
    yardstick = measured([sys.executable, "-c", "import torch"])
    print(f"python -c 'import torch': {yardstick['wall']:.2f} s, {yardstick['cpu']:.2f} CPU-s, "
          f"{yardstick['peak'] / 2**20:.0f} MiB   load {yardstick['load']:.1f}", flush=True)
    for name in names:
        assignment = load_assignment(name)
        assert assignment.solution is not None
        print(f"{name}: grade batch -j 1 of {n} and {2 * n} copies of the reference, interleaved x {repeat}")
        results: dict[str, list[dict[str, float]]] = {b: [] for b in BACKENDS}
        with tempfile.TemporaryDirectory(prefix="coursegrade-bench-") as scratch:
            for size in (n, 2 * n):
                _copies(assignment.solution, Path(scratch) / f"class{size}", size)
            for round_ in range(repeat):
                for backend in BACKENDS:
                    runs = {size: measured(_batch_command(Path(scratch) / f"class{size}", name, backend,
                                                          Path(scratch) / f"out-{backend}-{round_}-{size}"))
                            for size in (n, 2 * n)}
                    small, large = runs[n], runs[2 * n]
                    figures = {"wall": small["wall"], "cpu": small["cpu"], "peak": small["peak"],
                               "marginal": (large["cpu"] - small["cpu"]) / n, "load": small["load"]}
                    results[backend].append(figures)
                    print(f"  {backend:<10} {n} subs {small['wall']:6.1f} s ({small['wall'] / yardstick['wall']:.1f}x)"
                          f"  {small['cpu']:6.1f} CPU-s ({small['cpu'] / yardstick['cpu']:.1f}x)"
                          f"  marginal {figures['marginal']:.3f} CPU-s/sub "
                          f"({figures['marginal'] / yardstick['cpu']:.2f}x)"
                          f"  peak {small['peak'] / 2**20:5.0f} MiB ({small['peak'] / yardstick['peak']:.1f}x)"
                          f"   load {small['load']:.1f} / {large['load']:.1f}", flush=True)
        medians = {b: {k: statistics.median(r[k] for r in rs) for k in ("wall", "cpu", "marginal", "peak")}
                   for b, rs in results.items()}
        slow, fast = medians["bwrap"], medians["bwrap-fork"]
        print(f"  medians: bwrap-fork is {slow['wall'] / fast['wall']:.1f}x faster in wall time, "
              f"{slow['cpu'] / fast['cpu']:.1f}x in CPU, {slow['marginal'] / fast['marginal']:.1f}x per extra "
              f"submission ({fast['marginal']:.3f} against {slow['marginal']:.3f} CPU-s), peak memory "
              f"{fast['peak'] / 2**20:.0f} against {slow['peak'] / 2**20:.0f} MiB   load {os.getloadavg()[0]:.1f}",
              flush=True)


def main() -> int:
    if "--versus-nbgrader" in sys.argv:
        import nbgrader_port

        sys.argv.remove("--versus-nbgrader")
        return nbgrader_port.main()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=20, help="copies of each reference (default 20)")
    parser.add_argument("-a", "--assignment", action="append", help="only this assignment (repeatable)")
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2], help="the -j values to measure (default 1 2)")
    parser.add_argument("--no-cold", action="store_true", help="skip the row without warm workers")
    parser.add_argument("--warm", type=int, help="warm workers ahead in each worker process (default: as grade batch)")
    parser.add_argument("--sandbox", default="auto")
    parser.add_argument("--student", action="store_true", help="time the student's loop instead (see above)")
    parser.add_argument("--distributed", action="store_true", help="the cost of grading through Dask (see above)")
    parser.add_argument("--backends", action="store_true", help="bwrap-fork against bwrap (see above)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds of --backends (default 3)")
    args = parser.parse_args()
    if args.backends:
        backends_cost(args.assignment or ["conv-arithmetic"], args.n, args.repeat)
        return 0
    if args.distributed:
        torch_seconds = import_torch_seconds()
        print(f"python -c 'import torch': {torch_seconds:.2f} s; {os.cpu_count()} cores")
        distributed_costs(args.sandbox, torch_seconds)
        return 0
    if args.student:
        torch_seconds = statistics.median(import_torch_seconds() for _ in range(3))
        print(f"python -c 'import torch': {torch_seconds:.2f} s (median of 3); medians of {args.n}:")
        student_loop(args.n, torch_seconds)
        return 0
    names = args.assignment or [a for a in known_assignments() if (course_root() / "reference" / a).is_dir()]
    header = " ".join(f"{h:>9}" for h in HEADERS)
    print(sandbox_costs())
    torch_seconds = import_torch_seconds()
    print(f"python -c 'import torch': {torch_seconds:.2f} s (per sub is also given as a ratio to it)")
    for name in names:
        print(f"{name}: {args.n} copies of the reference (median seconds per submission)")
        print(f"  {'':<7} {header} {'batch':>10} {'throughput':>9}")
        if not args.no_cold:
            print(_row("cold", run(name, args.n, 1, 0, args.sandbox), cold=True, torch_seconds=torch_seconds),
                  flush=True)
        for jobs in args.jobs:
            figures = run(name, args.n, jobs, args.warm, args.sandbox)
            print(_row(f"-j {jobs}", figures, cold=False, torch_seconds=torch_seconds), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
