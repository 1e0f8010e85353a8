"""nbgrader 0.9 on the same work as `grade batch`: a port of an assignment's own checks.

    python benchmarks/nbgrader_port.py [-n 20] [-a conv-arithmetic] [--repeat 3]

Builds nbgrader in a virtualenv of its own (~/.cache/coursegrade/nbgrader-venv, or
$COURSEGRADE_NBGRADER_VENV; `pip install nbgrader==0.9.*` there: not a dependency of the project),
ports the assignment into an nbgrader course: one solution cell (the reference's code cells)
and one autograded test cell per check of the assignment, hidden checks included, each the same
call as plain asserts against the value (or the exception) the reference gives, worth the
check's points. Then, interleaved, `nbgrader autograde` of n submitted copies of the reference
against `grade batch -j 1` of the same n copies (and `-j 2`), each with its wall time, its CPU
seconds (a control group around the command: every process it starts), its peak memory (a sum of
PSS) and the load average, and as ratios to `python -c "import torch"`.

Only assignments whose checks are plain calls on plain values are ported (conv-arithmetic); the
training assignments' checks build models and datasets in the grader, which this port does not
rewrite.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import venv
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench import _copies, measured  # noqa: E402

from grader.assignments import Assignment, load_assignment  # noqa: E402
from grader.submission import load_submission  # noqa: E402

VENV = Path(os.environ.get("COURSEGRADE_NBGRADER_VENV", Path.home() / ".cache" / "coursegrade" / "nbgrader-venv"))
NBGRADER = VENV / "bin" / "nbgrader"
ASSIGNMENT = "ported"


def ensure_nbgrader() -> None:
    """nbgrader 0.9 in its own virtualenv (made once)."""
    if NBGRADER.exists():
        return
    venv.create(VENV, with_pip=True)
    subprocess.run([str(VENV / "bin" / "pip"), "install", "-q", "nbgrader==0.9.*"], check=True)


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
    return f"{sum(1 for s in scores if abs(s - full) < 1e-6)}/{n} submissions at full marks ({full:g} points)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=20)
    parser.add_argument("-a", "--assignment", default="conv-arithmetic")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sandbox", default="auto")
    args = parser.parse_args()
    ensure_nbgrader()
    assignment = load_assignment(args.assignment)
    yardstick = measured([sys.executable, "-c", "import torch"])
    print(f"python -c 'import torch': {yardstick['wall']:.2f} s, {yardstick['cpu']:.2f} CPU-s, "
          f"{yardstick['peak'] / 2**20:.0f} MiB   load {yardstick['load']:.1f}", flush=True)
    with tempfile.TemporaryDirectory(prefix="coursegrade-nbgrader-") as scratch:
        course, copies = Path(scratch) / "course", Path(scratch) / "class"
        build_course(assignment, course, args.n)
        _copies(assignment.solution, copies, args.n)  # type: ignore[arg-type]
        ways = {"nbgrader": lambda r: autograde_command(course)}
        for jobs in (1, 2):
            ways[f"grade -j {jobs}"] = lambda r, j=jobs: [
                sys.executable, "-m", "grader", "batch", str(copies), "-a", args.assignment, "-j", str(j),
                "-o", str(Path(scratch) / f"out-{j}-{r}"), "--sandbox", args.sandbox]
        results: dict[str, list[dict[str, float]]] = {w: [] for w in ways}
        print(f"{args.assignment}: {args.n} submissions (copies of the reference), "
              f"{len(assignment.checks)} checks ported, interleaved x {args.repeat}", flush=True)
        for round_ in range(args.repeat):
            for way, command in ways.items():
                figures = measured(command(round_))
                results[way].append(figures)
                print(f"  {way:<11} {figures['wall']:6.1f} s ({figures['wall'] / yardstick['wall']:4.1f}x torch)  "
                      f"{figures['cpu']:6.1f} CPU-s ({figures['cpu'] / args.n:.3f}/sub)  "
                      f"peak {figures['peak'] / 2**20:5.0f} MiB ({figures['peak'] / yardstick['peak']:.1f}x)   "
                      f"load {figures['load']:.1f}", flush=True)
        print(f"  nbgrader: {check_scores(course, assignment, args.n)}")
        median = {w: {k: statistics.median(f[k] for f in fs) for k in ("wall", "cpu", "peak")}
                  for w, fs in results.items()}
        for way in ways:
            if way != "nbgrader":
                print(f"  nbgrader / {way}: {median['nbgrader']['wall'] / median[way]['wall']:.1f}x wall, "
                      f"{median['nbgrader']['cpu'] / median[way]['cpu']:.1f}x CPU, peak memory "
                      f"{median[way]['peak'] / median['nbgrader']['peak']:.2f}x nbgrader's   "
                      f"load {os.getloadavg()[0]:.1f}")
    shutil.rmtree(course, ignore_errors=True) if course.exists() else None
    return 0


if __name__ == "__main__":
    sys.exit(main())
