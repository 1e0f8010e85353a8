"""`grade batch --scheduler` on a real Dask cluster started as a user would (`dask scheduler`,
two `dask worker`s on localhost): a mixed class graded through it, one worker SIGKILLed midway,
gives the outputs of a local batch; a client killed midway is resumed by a rerun; an
unreachable scheduler is exit 2 with one line. And the wire between workers and client:
reports round-trip whole, anything else is refused."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from grader.assignments import load_assignment
from grader.cli import main
from grader.files import OutputFolder
from grader.intake import Entry, SubmittedFile
from grader.model import CellLog, CheckResult, Figure, GradeReport
from grader.outputs import result_path
from grader.pool import PoolConfig

from .conftest import ROOT, SUBMISSIONS

ASSIGNMENT = "conv-arithmetic"
CORPUS = SUBMISSIONS / ASSIGNMENT
CLASS = ("correct.ipynb", "correct_module.py", "floor_not_ceil.py", "padding_once.py", "pool_stride_one.py",
         "syntax_error_cell.ipynb")
SIZE = len(CLASS) + 4  # and the reference, a file that is no notebook, a student with two files, a slow one
SLOW = "import time\n\n_end = time.process_time() + 4\nwhile time.process_time() < _end:\n    pass\n\n"
DASK = Path(sys.executable).parent / "dask"
NO_DASK = """import sys
from grader.cli import main
code = main(sys.argv[1:])
assert not {"dask", "distributed"} & set(sys.modules), "grade batch without --scheduler imported dask"
sys.exit(code)"""


def make_class(folder: Path) -> Path:
    folder.mkdir(parents=True)
    for name in CLASS:
        shutil.copy(CORPUS / name, folder / name)
    solution = load_assignment(ASSIGNMENT).solution
    assert solution is not None
    shutil.copy(solution, folder / "reference.ipynb")
    shutil.copy(ROOT / "tests" / "batch_samples" / "not_a_notebook.ipynb", folder)
    (folder / "dana").mkdir()
    shutil.copy(CORPUS / "floor_not_ceil.py", folder / "dana" / "first.py")
    shutil.copy(CORPUS / "correct_module.py", folder / "dana" / "second.py")
    # right, after 4 s of CPU: a batch cannot end before it, however fast the others are graded
    (folder / "slow.py").write_text(SLOW + (CORPUS / "correct_module.py").read_text())
    return folder


def batch(folder: Path, output: Path, *extra: str, script: str | None = None,
          env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    start = ["-c", script] if script else ["-m", "grader"]
    return subprocess.Popen([sys.executable, *start, "batch", str(folder), "-a", ASSIGNMENT, "-o", str(output),
                             "--pick", "best", *extra], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, **(env or {})})


def finished(process: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=300)
    return process.returncode, out, err


def outputs(output: Path) -> dict[str, object]:
    """Every output but timings (the summary's slowest section, the details' timings and dates)."""
    files: dict[str, object] = {p.relative_to(output).as_posix(): p.read_text() for p in output.rglob("*")
                                if p.is_file() and p.suffix in (".json", ".html", ".csv")}
    files["summary.html"] = re.sub(r'<section id="slowest">.*?</section>', "", str(files["summary.html"]), flags=re.S)
    for name in [n for n in files if n.startswith("details/")]:
        details = json.loads(str(files[name]))
        files[name] = {k: v for k, v in details.items() if k not in ("timings", "graded_at")}
    return files


def count_done(output: Path) -> int:
    return len(list((output / "details").glob("*.json")))


def wait_for(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The class, and its outputs from a local batch (which must not import dask)."""
    base = tmp_path_factory.mktemp("distributed")
    folder = make_class(base / "class")
    output = base / "local" / "reports"
    code, out, err = finished(batch(folder, output, "-j", "2", script=NO_DASK))
    assert code == 1 and f"{SIZE} graded now" in out, out + err  # not_a_notebook cannot be graded
    return folder, output


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A scheduler and two workers (one thread each, with a nanny) started by the dask command line."""
    base = tmp_path_factory.mktemp("cluster")
    address_file = base / "scheduler.json"
    env = {**os.environ, "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "1"}
    common = ["--no-dashboard", "--host", "127.0.0.1"]
    logs = open(base / "cluster.log", "w")  # noqa: SIM115 - open as long as the cluster runs
    processes = [subprocess.Popen([str(DASK), "scheduler", "--port", "0", "--scheduler-file", str(address_file),
                                   *common], env=env, stdout=logs, stderr=logs)]
    try:
        wait_for(address_file.exists, 60, "the scheduler")
        for name in ("one", "two"):
            processes.append(subprocess.Popen([str(DASK), "worker", "--scheduler-file", str(address_file),
                                               "--nthreads", "1", "--name", name, *common],
                                              env=env, stdout=logs, stderr=logs))
        address = json.loads(address_file.read_text())["address"]
        assert len(worker_pids(address, wait=2)) == 2
        yield address
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        logs.close()


def worker_pids(address: str, wait: int = 0, busy: bool = False) -> dict[str, int]:
    """The process id of each worker (not its nanny), once `wait` workers are there; `busy`:
    of those grading a student now."""
    from distributed import Client

    with Client(address, timeout=30, set_as_default=False) as client:
        if wait:
            client.wait_for_workers(wait, timeout=60)
        pids = client.run(os.getpid)
        grading = {w for w, keys in client.processing().items() if any(str(k).startswith("coursegrade-") for k in keys)}
        return {w: pid for w, pid in pids.items() if w in grading or not busy}


def test_a_worker_killed_midway_costs_nothing(cluster: str, course: tuple[Path, Path], tmp_path: Path) -> None:
    folder, local = course
    output = tmp_path / "reports"
    process = batch(folder, output, "--scheduler", cluster)
    wait_for(lambda: count_done(output) >= 1 or process.poll() is not None, 120, "a student graded")
    busy: dict[str, int] = {}
    while not busy and process.poll() is None:  # a forked sandbox grades a student in a fraction of a second
        busy = worker_pids(cluster, busy=True)
    assert busy and process.poll() is None, "the batch ended before a worker could be killed"
    victim = min(busy.values())
    os.kill(victim, signal.SIGKILL)
    code, out, err = finished(process)
    assert code == 1 and f"{SIZE} students: {SIZE} graded now" in out, out + err
    assert "worker process died" not in (output / "gradebook.csv").read_text()
    assert outputs(output) == outputs(local)  # the details' keys too: a rerun, local or not, has nothing to do


def test_an_interrupted_client_is_resumed_by_a_rerun(cluster: str, course: tuple[Path, Path], tmp_path: Path) -> None:
    folder, local = course
    output = tmp_path / "reports"
    process = batch(folder, output, "--scheduler", cluster)
    wait_for(lambda: count_done(output) >= 4 or process.poll() is not None, 120, "four students graded")
    process.kill()
    process.wait()
    done = count_done(output)
    assert done < SIZE and not (output / "gradebook.csv").exists()
    code, out, err = finished(batch(folder, output, "--scheduler", cluster))
    assert f"{SIZE - done} graded now, {done} unchanged" in out, out + err
    assert outputs(output) == outputs(local)


def test_an_unreachable_scheduler_is_exit_2_with_one_line(course: tuple[Path, Path], tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    folder, _ = course
    env = {"DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "1s"}
    code, out, err = finished(batch(folder, tmp_path / "out", "--scheduler", "tcp://127.0.0.1:9", env=env))
    assert code == 2 and err.startswith("grade: error: cannot reach the Dask scheduler at tcp://127.0.0.1:9"), err
    assert len(err.strip().splitlines()) == 1 and not list((tmp_path / "out" / "details").glob("*"))
    assert main(["batch", str(folder), "-a", ASSIGNMENT, "-o", str(tmp_path / "out"), "--scheduler", "local:"]) == 2
    err = capsys.readouterr().err
    assert "local:N" in err and len(err.strip().splitlines()) == 1, err


# ---------------------------------------------------------------- the wire, with literals


def full_report() -> GradeReport:
    checks = (CheckResult("a/b", "a", "failed", 1.5, 3.0, True, "called f(1)\nexpected 2", ("floor, not ceil",)),
              CheckResult("c", "c", "passed", 2, 2, False))
    return GradeReport(ASSIGNMENT, "alice/hw.py", "graded", 3.5, 5.0, checks, "cell 2: NameError",
                       (CellLog(0, "ok", "import torch"), CellLog(1, "error", "x(", "SyntaxError", "out\udcff")),
                       (Figure("boundary", b"\x89PNG\0\xff", "caption"),), {"execution": 0.25, "startup": 1},
                       "bwrap", ("call time limit",))


def test_a_report_crosses_the_wire_whole() -> None:
    from grader.distributed import Answer

    answer = Answer((full_report(), full_report()), 1.25)
    assert Answer.loads(answer.dumps(), 2) == answer
    assert Answer.loads(Answer(problem="another grader").dumps(), 3).problem == "another grader"


@pytest.mark.parametrize("change", [
    lambda d: d.update(seconds="1"), lambda d: d["reports"][0].update(status="passed"),
    lambda d: d["reports"][0]["checks"][0].update(points=True), lambda d: d["reports"][0]["figures"][0].update(png="!"),
    lambda d: d["reports"][0]["cells"][0].pop("error"), lambda d: d["reports"].append(d["reports"][0]),
    lambda d: d["reports"][0]["timings"].update(x="slow"), lambda d: d["reports"][0].update(limits_hit=[1]),
])
def test_anything_else_is_refused(change) -> None:
    from grader.distributed import Answer

    data = json.loads(Answer((full_report(),), 1.0).dumps())
    change(data)
    with pytest.raises(ValueError):
        Answer.loads(json.dumps(data), 1)
    with pytest.raises(ValueError):
        Answer.loads(b"{}", 1)


def test_the_assignment_travels_as_its_files() -> None:
    from grader.distributed import ship, unship
    from grader.errors import UsageError

    assignment = load_assignment(ASSIGNMENT)
    shipped = ship(assignment)
    assert {name for name, _ in shipped.files} >= {f"assignments/{ASSIGNMENT}/checks.py",
                                                   f"reference/{ASSIGNMENT}/hidden_checks.py"}
    loaded = unship(shipped)
    assert (loaded.version, [c.id for c in loaded.checks]) == (assignment.version, [c.id for c in assignment.checks])
    assert loaded.reference is not None and "COURSEGRADE_ROOT" not in os.environ
    with pytest.raises(UsageError, match="install the same coursegrade"):
        unship(type(shipped)(shipped.name, shipped.files, True, "another"))


class _Lost:
    status = "error"

    def __init__(self, error: BaseException) -> None:
        self.error = error

    def exception(self) -> BaseException:
        return self.error


def test_a_submission_that_killed_two_workers_is_an_error_naming_that(tmp_path: Path) -> None:
    from distributed.scheduler import KilledWorker

    from grader.distributed import _collect

    assignment = load_assignment(ASSIGNMENT)
    path = tmp_path / "bob.py"
    path.write_text("")
    entry = Entry("bob", (SubmittedFile(path, "bob.py"),))
    config = PoolConfig(assignment, OutputFolder.open(tmp_path / "out"), 1)
    graded = _collect(_Lost(KilledWorker("t", None, 1)), entry, "k", [], config)  # type: ignore[arg-type]
    assert graded.status == "error" and "on 2 Dask workers" in graded.problem
    result = json.loads(result_path(tmp_path / "out", "bob").read_text())
    assert result["status"] == "error" and "on 2 Dask workers" in result["message"]


def test_a_worker_without_bubblewrap_refuses_unless_told(monkeypatch: pytest.MonkeyPatch) -> None:
    import grader.distributed
    from grader.distributed import Answer, GradingPlugin, Job, ship
    from grader.sandbox import SubprocessSandbox

    monkeypatch.setattr(grader.distributed, "get_sandbox", lambda name: SubprocessSandbox("NOT ISOLATED: no bwrap"))
    plugin = GradingPlugin(ship(load_assignment(ASSIGNMENT)), "auto", 0)
    plugin._start("tcp://worker:1")
    problem = Answer.loads(plugin._grade(Job((), 0)), 0).problem
    assert "tcp://worker:1 cannot grade" in problem and "install bubblewrap" in problem
