"""nbgrader 0.9 on the same work as `grade batch`: a port of an assignment's own checks.

    python benchmarks/nbgrader_port.py [-n 20] [-a conv-arithmetic -a toy2d-classifiers] [--repeat 3]

Builds nbgrader in a virtualenv of its own (~/.cache/coursegrade/nbgrader-venv, or
$COURSEGRADE_NBGRADER_VENV; `pip install nbgrader==0.9.*` there: not a dependency of the project,
with torch, scikit-learn, matplotlib and pandas at the grader's versions: the notebook's packages),
ports the assignment into an nbgrader course: one solution cell (the reference's code cells)
and one autograded test cell per check of the assignment, hidden checks included, each the same
call as plain asserts against the value (or the exception) the reference gives, worth the
check's points. Then, interleaved, `nbgrader autograde` of n submitted copies of the reference
against `grade batch -j 1` of the same n copies (and `-j 2`), each with its wall time, its CPU
seconds (a control group around the command: every process it starts), its peak memory (a sum of
PSS) and the load average, and as ratios to `python -c "import torch"`.

Assignments whose checks are plain calls on plain values are ported generically (conv-arithmetic);
toy2d-classifiers by benchmarks/toy2d_port.py (its datasets made in the notebook as the grader makes
them, the same trainings and thresholds as asserts). For toy2d-classifiers the rounds also time one
notebook (the reference) by `nbgrader autograde` against `grade FILE` (hidden checks included,
trainings in parallel up to the cores) and against `grade FILE --keep-warm` (forked from the
template the previous grading left running: a student's second self-check; its CPU seconds leave
out the template's forks, which are not the command's processes), n notebooks against
`grade batch -j 2` only, and print the batch's wall time against the time the reference's own
training takes on the machine's cores (CPU seconds of its make/train/predict for every model the
checks train, in a plain process, times n, divided by the cores), and against that with the
notebook's own cells added (its demo trainings and plot: work that grading a notebook runs, in
nbgrader as here).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import venv
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import toy2d_port  # noqa: E402
from bench import _copies, measured  # noqa: E402

from grader.assignments import Assignment, load_assignment  # noqa: E402
from grader.submission import load_submission  # noqa: E402

VENV = Path(os.environ.get("COURSEGRADE_NBGRADER_VENV", Path.home() / ".cache" / "coursegrade" / "nbgrader-venv"))
NBGRADER = VENV / "bin" / "nbgrader"
ASSIGNMENT = "ported"
KEPT = "grade FILE kept"  # --keep-warm: forked from the template the previous grading left running
KEEP_SECONDS = 1800  # longer than a round; the last round's grading is followed by one that ends it


def ensure_nbgrader() -> None:
    """nbgrader 0.9 in its own virtualenv (made once)."""
    if NBGRADER.exists():
        return
    venv.create(VENV, with_pip=True)
    subprocess.run([str(VENV / "bin" / "pip"), "install", "-q", "nbgrader==0.9.*"], check=True)


STUDENT_PACKAGES = ("torch", "scikit-learn", "matplotlib", "pandas")  # what a notebook's kernel has in both tools


def ensure_training_packages() -> None:
    """The packages a student's notebook finds in the grader's environment, at the same versions, in
    nbgrader's virtualenv too: the same notebook then does the same work in both. Without matplotlib
    the reference's demo cell stops at its import (no demo trainings, no plot); without pandas,
    scikit-learn does not import it (it does wherever pandas is installed, as here and on Colab)."""
    from importlib.metadata import version

    versions = [version(name).split("+")[0] for name in STUDENT_PACKAGES]
    same = (f"import importlib.metadata as m; assert [m.version(n).split('+')[0] for n in {STUDENT_PACKAGES!r}]"
            f" == {versions!r}")
    if subprocess.run([str(VENV / "bin" / "python"), "-c", same], capture_output=True).returncode != 0:
        subprocess.run([str(VENV / "bin" / "pip"), "install", "-q",
                        *(f"{name}=={v}" for name, v in zip(STUDENT_PACKAGES, versions, strict=True))], check=True)


def _reference_namespace(assignment: Assignment) -> dict[str, Any]:
    assert assignment.solution is not None
    namespace: dict[str, Any] = {"__name__": "__reference__"}
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):
        exec(compile(load_submission(assignment.solution).source, "reference", "exec"), namespace)  # trusted
    return namespace


def _call_text(function: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    parts = [repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()]
    return f"{function}({', '.join(parts)})"


def test_cells(assignment: Assignment) -> list[tuple[str, str, float]]:
    """(grade id, source, points) of one test cell per check: the reference's answer as an assert."""
    if assignment.name == toy2d_port.NAME:
        return toy2d_port.test_cells(assignment)
    reference = _reference_namespace(assignment)
    cells = []
    for check in assignment.checks:
        lines = []
        for step in check.steps:
            if step.function is None or step.call:
                raise SystemExit(f"{assignment.name}: check {check.id} is not a plain call; not ported")
            call = _call_text(step.function, step.args, dict(step.kwargs))
            try:
                expected = reference[step.function](*step.args, **step.kwargs)
            except Exception as error:  # the reference raises: the check expects that exception
                kind = type(error).__name__
                lines += ["try:", f"    {call}", f"except {kind}:", "    pass", "else:",
                          f"    raise AssertionError('{step.function} should raise {kind}')"]
            else:
                lines.append(f"assert {call} == {expected!r} and type({call}) is {type(expected).__name__}")
        cells.append((check.id.replace("/", "__").replace("-", "_"), "\n".join(lines), check.points))
    return cells


def _cell(source: str, metadata: dict[str, Any], kind: str = "code") -> dict[str, Any]:
    cell: dict[str, Any] = {"cell_type": kind, "metadata": {"nbgrader": {"schema_version": 3, **metadata}},
                            "source": source}
    if kind == "code":
        cell.update(outputs=[], execution_count=None)
    return cell


def _notebook(cells: list[dict[str, Any]]) -> dict[str, Any]:
    return {"cells": cells, "nbformat": 4, "nbformat_minor": 5,
            "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}}


def build_course(assignment: Assignment, course: Path, n: int) -> None:
    """The nbgrader course: source, generated release, and n submissions (copies of the reference)."""
    solution = load_submission(assignment.solution).source  # type: ignore[arg-type]
    tests = test_cells(assignment)
    source_cells = [_cell(f"### BEGIN SOLUTION\n{solution}\n### END SOLUTION",
                          {"grade": False, "solution": True, "locked": False, "grade_id": "solution"})]
    if assignment.name == toy2d_port.NAME:
        source_cells.append(_cell(toy2d_port.setup_source(), {"grade": False, "solution": False, "locked": True,
                                                              "grade_id": "setup"}))
    source_cells += [_cell(src, {"grade": True, "solution": False, "locked": True, "points": points, "grade_id": gid})
                     for gid, src, points in tests]
    (course / "source" / ASSIGNMENT).mkdir(parents=True)
    (course / "source" / ASSIGNMENT / "work.ipynb").write_text(json.dumps(_notebook(source_cells)))
    (course / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        f"c.CourseDirectory.root = {str(course)!r}\n"
        "c.CourseDirectory.course_id = 'bench'\n"
        "c.ExecutePreprocessor.timeout = 600\n")
    _nbgrader(course, "generate_assignment", ASSIGNMENT, "--force")
    released = json.loads((course / "release" / ASSIGNMENT / "work.ipynb").read_text())
    released["cells"][0]["source"] = solution
    for i in range(n):
        folder = course / "submitted" / f"student{i:03d}" / ASSIGNMENT
        folder.mkdir(parents=True)
        (folder / "work.ipynb").write_text(json.dumps(released))


def _env() -> dict[str, str]:
    """nbgrader's virtualenv first on PATH (it runs alembic; its kernel is that Python's)."""
    return {**os.environ, "PATH": f"{VENV / 'bin'}:{os.environ.get('PATH', '/usr/bin:/bin')}"}


def _nbgrader(course: Path, *args: str) -> None:
    done = subprocess.run([str(NBGRADER), *args], cwd=course, capture_output=True, text=True, env=_env())
    if done.returncode != 0:
        raise SystemExit(f"nbgrader {' '.join(args)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")


def autograde_command(course: Path) -> list[str]:
    return ["sh", "-c", f"cd {course} && rm -rf autograded && PATH={VENV / 'bin'}:$PATH "
                        f"{NBGRADER} autograde {ASSIGNMENT} --force"]


def check_scores(course: Path, assignment: Assignment, n: int) -> str:
    """What nbgrader gave (every copy of the reference should have full marks)."""
    done = subprocess.run([str(NBGRADER), "export", "--to", "grades.csv"], cwd=course, capture_output=True, text=True,
                          env=_env())
    if done.returncode != 0:
        return f"nbgrader export failed: {done.stderr[-300:]}"
    rows = (course / "grades.csv").read_text().splitlines()[1:]
    scores = [float(r.split(",")[-2]) if r else 0.0 for r in rows]
    full = sum(c.points for c in assignment.checks)
    erring = sum(any(output.get("output_type") == "error" for cell in json.loads(book.read_text())["cells"]
                     for output in cell.get("outputs", ()))
                 for book in (course / "autograded").glob(f"*/{ASSIGNMENT}/work.ipynb"))
    return (f"{sum(1 for s in scores if abs(s - full) < 1e-6)}/{n} submissions at full marks ({full:g} points), "
            f"{erring} with an error in a cell")


def _ways(assignment: Assignment, base: Path, n: int, sandbox: str) -> dict[str, Any]:
    """label: command(round) of each way one assignment is graded (nbgrader's courses built here)."""
    course = base / "course"
    build_course(assignment, course, n)
    _copies(assignment.solution, base / "class", n)  # type: ignore[arg-type]
    grade = [sys.executable, "-m", "grader"]
    ways: dict[str, Any] = {f"nbgrader {n}": lambda r: autograde_command(course)}
    if assignment.name == toy2d_port.NAME:
        build_course(assignment, base / "course1", 1)
        single = base / f"solution{assignment.solution.suffix}"  # type: ignore[union-attr]
        single.write_bytes(assignment.solution.read_bytes())  # type: ignore[union-attr]
        ways["nbgrader 1"] = lambda r: autograde_command(base / "course1")
        ways["grade FILE"] = lambda r: [*grade, str(single), "-a", assignment.name, "--sandbox", sandbox]
        ways[KEPT] = lambda r: [*grade, str(single), "-a", assignment.name, "--sandbox", sandbox,
                                "--keep-warm", str(KEEP_SECONDS)]
    for j in (1, 2):
        ways[f"grade -j {j}"] = lambda r, j=j: [*grade, "batch", str(base / "class"), "-a", assignment.name,
                                                "-j", str(j), "-o", str(base / f"out-{j}-{r}"), "--sandbox", sandbox]
    return ways


def _line(label: str, figures: dict[str, float], yardstick: dict[str, float], n: int) -> str:
    return (f"  {label:<13} {figures['wall']:6.1f} s ({figures['wall'] / yardstick['wall']:4.1f}x torch)  "
            f"{figures['cpu']:6.1f} CPU-s ({figures['cpu'] / n:.3f}/sub)  "
            f"peak {figures['peak'] / 2**20:5.0f} MiB ({figures['peak'] / yardstick['peak']:.1f}x)   "
            f"load {figures['load']:.1f}")


def _summary(name: str, n: int, results: dict[str, list[dict[str, float]]], own: list[dict[str, float]]) -> None:
    median = {w: {k: statistics.median(f[k] for f in fs) for k in ("wall", "cpu", "peak", "load")}
              for w, fs in results.items()}
    pairs = [(f"nbgrader {n}", w) for w in median if w.startswith("grade -j")]
    if "grade FILE" in median:
        pairs[:0] = [("nbgrader 1", "grade FILE"), ("nbgrader 1", KEPT)]
    print(f"{name}: medians")
    for slow, fast in pairs:
        a, b = median[slow], median[fast]
        print(f"  {slow} / {fast}: {a['wall'] / b['wall']:.1f}x wall ({a['wall']:.1f} s / {b['wall']:.1f} s), "
              f"{a['cpu'] / b['cpu']:.1f}x CPU, peak memory {b['peak'] / 2**20:.0f} MiB against "
              f"{a['peak'] / 2**20:.0f} MiB ({b['peak'] / a['peak']:.2f}x nbgrader's)   "
              f"load {a['load']:.1f} / {b['load']:.1f}")
    if own and "grade -j 2" in median:
        cpu, cores = statistics.median(o["cpu"] for o in own), os.cpu_count() or 1
        limit = cpu * n / cores
        wall = median["grade -j 2"]["wall"]
        print(f"  their own training: {cpu:.2f} CPU-s per notebook ({int(own[0]['models'])} models: make, train, "
              f"predict; plain process, 1 thread) x {n} / {cores} cores = {limit:.1f} s; grade batch -j 2 wall / "
              f"that = {wall / limit:.2f} (goal <= 1.15); its CPU / theirs = "
              f"{median['grade -j 2']['cpu'] / (cpu * n):.1f}; beyond the student's functions "
              f"{median['grade -j 2']['cpu'] / n - cpu:.2f} CPU-s per submission   "
              f"load {statistics.median(o['load'] for o in own):.1f}")
        cells = statistics.median(o["notebook"] for o in own)
        print(f"  with the notebook's own cells too ({cells:.2f} CPU-s: its demo trainings and plot, which grading "
              f"runs as nbgrader does): ({cpu:.2f} + {cells:.2f}) x {n} / {cores} = {(cpu + cells) * n / cores:.1f} s; "
              f"grade batch -j 2 wall / that = {wall / ((cpu + cells) * n / cores):.2f}; beyond the notebook and "
              f"its functions {median['grade -j 2']['cpu'] / n - cpu - cells:.2f} CPU-s per submission")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", "--count", type=int, default=20, help="notebooks per batch (default 20)")
    parser.add_argument("-a", "--assignment", action="append",
                        help="conv-arithmetic and/or toy2d-classifiers (repeatable; default both)")
    parser.add_argument("--repeat", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--sandbox", default="auto")
    args = parser.parse_args()
    names = args.assignment or ["conv-arithmetic", toy2d_port.NAME]
    ensure_nbgrader()
    if toy2d_port.NAME in names:
        ensure_training_packages()
    assignments = {name: load_assignment(name) for name in names}
    yardstick = measured([sys.executable, "-c", "import torch"])
    print(f"python -c 'import torch': {yardstick['wall']:.2f} s, {yardstick['cpu']:.2f} CPU-s, "
          f"{yardstick['peak'] / 2**20:.0f} MiB   load {yardstick['load']:.1f}; {os.cpu_count()} cores", flush=True)
    with tempfile.TemporaryDirectory(prefix="coursegrade-nbgrader-") as scratch:
        ways: dict[str, dict[str, Any]] = {}
        results: dict[str, dict[str, list[dict[str, float]]]] = {}
        own: list[dict[str, float]] = []
        for name, assignment in assignments.items():
            (Path(scratch) / name).mkdir()
            ways[name] = _ways(assignment, Path(scratch) / name, args.count, args.sandbox)
            results[name] = {w: [] for w in ways[name]}
            print(f"{name}: {args.count} submissions (copies of the reference), {len(assignment.checks)} checks "
                  f"ported (hidden ones included)", flush=True)
        kept = [ways[name][KEPT](0) for name in names if KEPT in ways[name]]
        for command in kept:  # its template is started here, not in the first round
            subprocess.run(command, capture_output=True, check=False)
        print(f"interleaved x {args.repeat}", flush=True)
        for round_ in range(args.repeat):
            for name, assignment in assignments.items():
                for way, command in ways[name].items():
                    figures = measured(command(round_))
                    results[name][way].append(figures)
                    subs = 1 if way in ("nbgrader 1", "grade FILE", KEPT) else args.count
                    print(_line(f"{name[:4]} {way}", figures, yardstick, subs), flush=True)
                if name == toy2d_port.NAME:
                    mine = {**toy2d_port.own_training_seconds(assignment), "load": os.getloadavg()[0]}
                    own.append(mine)
                    print(f"  toy2 own training (plain process): {mine['cpu']:.2f} CPU-s for {mine['models']} models, "
                          f"its own cells {mine['notebook']:.2f} CPU-s   load {mine['load']:.1f}", flush=True)
        for command in kept:  # the kept templates end a second after this grading
            subprocess.run([*command[:-1], "1"], capture_output=True, check=False)
        for name, assignment in assignments.items():
            base = Path(scratch) / name
            print(f"  {name} nbgrader: {check_scores(base / 'course', assignment, args.count)}")
            if (base / "course1").exists():
                print(f"  {name} nbgrader, one notebook: {check_scores(base / 'course1', assignment, 1)}")
            _summary(name, args.count, results[name], own if name == toy2d_port.NAME else [])
    return 0


if __name__ == "__main__":
    sys.exit(main())
