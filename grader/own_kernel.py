"""`grade FILE` where no sandbox can start (Windows: no `resource`, no sessions, no process groups).

The notebook runs, as in Jupyter, in a local kernel of the student's own, started in the
notebook's folder; then `grader.check()` runs the public checks there against the functions the
notebook defined (grader/notebook.py) and prints its result, which is read here. Only public
checks: hidden ones are never on a student's machine, so a student can fool only themselves.
Instructors grade on Linux, where the sandbox runs (`grade batch` says so elsewhere).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from .assignments import Assignment, course_root, detect_assignment, load_assignment
from .cell_errors import cell_problem
from .child import cell_log
from .model import CellLog, GradeReport
from .submission import load_submission

SANDBOX_NAME = "none (your own Jupyter kernel: public checks only; no sandbox on this system)"


def grade_in_own_kernel(path: Path, assignment_name: str | None = None, root: Path | None = None) -> GradeReport:
    """Run the notebook or module at `path` in a local kernel, then its public checks there."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    started = time.monotonic()
    submission = load_submission(path)
    root = root or course_root(path.parent)
    name = assignment_name or detect_assignment(submission, root)
    assignment = load_assignment(name, root, include_hidden=False)
    marker = f"coursegrade-result-{secrets.token_hex(8)}:"
    with tempfile.TemporaryDirectory(prefix="coursegrade-own-") as folder:
        notebook_path = Path(folder) / "submission.ipynb"
        submission.write_notebook(notebook_path)
        import nbformat

        notebook = nbformat.read(notebook_path, as_version=4)
    code_cells = [c for c in notebook.cells if c.cell_type == "code"]
    notebook.cells = [*code_cells, nbformat.v4.new_code_cell(_checking_cell(name, marker))]
    client = NotebookClient(notebook, timeout=_cell_timeout(assignment), allow_errors=True, kernel_name="python3",
                            resources={"metadata": {"path": str(path.resolve().parent)}})
    problem = ""
    with _environment(root):
        try:
            client.execute()
        except CellTimeoutError:
            problem = f"stopped: a cell ran longer than {_cell_timeout(assignment)} s"
        except DeadKernelError:
            problem = "stopped: the notebook's kernel died"
    cells = tuple(CellLog(**cell_log(i, cell, "ok")) for i, cell in enumerate(code_cells))
    report = _read_result(notebook.cells[-1], marker, assignment, str(path))
    problems = (submission.compile_problem, cell_problem(cells, submission.cells), problem, report.message)
    message = "; ".join(p for p in problems if p)
    return replace(report, message=message, cells=cells, sandbox=SANDBOX_NAME,
                   timings={"total": time.monotonic() - started})


def _checking_cell(name: str, marker: str) -> str:
    return ("import json as _json, grader\n"  # grader.check: the self-check the forbidden-call rules allow
            f"print({marker!r} + _json.dumps(grader.check(assignment={name!r}).report.to_json()))")


def _cell_timeout(assignment: Assignment) -> int:
    """A wall-clock limit per cell, the sandbox's backstop for a cell (5 x its CPU budget + 30 s)."""
    return int(5 * assignment.limits.cell_seconds + 30)


@contextlib.contextmanager
def _environment(root: Path) -> Any:
    """The kernel finds the same course folder as this process."""
    before = os.environ.get("COURSEGRADE_ROOT")
    os.environ["COURSEGRADE_ROOT"] = str(root)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("COURSEGRADE_ROOT", None)
        else:
            os.environ["COURSEGRADE_ROOT"] = before


def _read_result(cell: Any, marker: str, assignment: Assignment, submission: str) -> GradeReport:
    """The checking cell's printed result, decoded; an error report when there is none."""
    lines = "".join(str(o.get("text", "")) for o in cell.get("outputs", []) if o.get("output_type") == "stream")
    for line in lines.splitlines():
        if line.startswith(marker):
            try:
                return replace(GradeReport.from_json(json.loads(line[len(marker):])), submission=submission)
            except (ValueError, KeyError, TypeError):
                break
    errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
    why = f"{errors[0].get('ename')}: {errors[0].get('evalue')}" if errors else "no result was printed"
    return GradeReport(assignment.name, submission, "error", 0.0, 0.0, (),
                       message=f"the public checks could not run in the notebook's kernel ({why})")
