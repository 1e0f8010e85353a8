"""`grader.check()` inside a student's running notebook, executed for real through nbclient:
the same feedback as `grade`, for every public check or one exercise, no sandbox needed."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbclient import NotebookClient

from .conftest import ROOT, SUBMISSIONS

MISTAKE = SUBMISSIONS / "conv-pooling" / "kernel_not_flipped.py"  # convolution2d forgets to flip


def _run(cells: list[str]) -> list[str]:
    """Execute the cells in a fresh kernel (in the course folder, as a student's release is);
    the text each cell showed."""
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    NotebookClient(notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}).execute()
    return ["".join(o.get("text", "") or o.get("data", {}).get("text/plain", "") for o in cell.outputs)
            for cell in notebook.cells]


def test_check_in_the_notebook_says_what_passes_and_what_fails() -> None:
    shown = _run([MISTAKE.read_text(), "import grader\ngrader.check()"])[-1]
    assert "conv-pooling · the running notebook" in shown and "public points" in shown
    assert "✓ cross_correlation2d" in shown and "✗ convolution2d" in shown
    assert "convolution2d(" in shown  # what was called, what came back, what was expected
    assert "hidden points at grading time" in shown


def test_check_of_one_exercise_and_a_misspelt_one() -> None:
    texts = _run([MISTAKE.read_text(), "import grader\nprint(repr(grader.check('max_pool2d')))",
                  "try:\n    grader.check('maxpool2d')\nexcept grader.UsageError as e:\n    print(e)"])
    assert "✓ max_pool2d" in texts[1] and "convolution2d" not in texts[1]
    assert "did you mean 'max_pool2d'?" in texts[2]


def test_a_self_check_cell_is_harmless_when_the_notebook_is_graded(tmp_path: Path) -> None:
    from grader.grading import grade_submission
    from grader.notebook import GRADING_MARKER
    from grader.sandbox import MARKER, get_sandbox
    from grader.submission import load_submission

    assert GRADING_MARKER == MARKER
    reference = ROOT / "reference" / "conv-pooling" / "solution.ipynb"
    notebook = nbformat.read(reference, as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell("import grader\ngrader.check()"))
    path = tmp_path / "self_check_cell.ipynb"
    nbformat.write(notebook, path)
    from grader.assignments import load_assignment

    report = grade_submission(load_submission(path), load_assignment("conv-pooling"), get_sandbox())
    assert report.score == report.max_score, [c.message for c in report.checks if c.status != "passed"]
    assert all(c.status == "ok" for c in report.cells)


def test_the_check_needs_nothing_that_only_linux_has() -> None:
    import os
    import subprocess
    import sys

    code = (f"exec(open({str(MISTAKE)!r}).read())\nimport grader, sys\nprint(repr(grader.check()))\n"
            "assert 'grader.sandbox' not in sys.modules and 'resource' not in sys.modules")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "tests" / "fixtures" / "without_linux")}
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert "✗ convolution2d" in done.stdout and "✓ max_pool2d" in done.stdout
