"""The `grade` command as a user runs it: real subprocesses, real kernel, real exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from grader.model import CHECK_STATUSES

from .conftest import ROOT

REFERENCE = ROOT / "reference" / "conv-arithmetic" / "solution.ipynb"
TEMPLATE = ROOT / "assignments" / "conv-arithmetic" / "template.ipynb"


def test_help_answers_at_once_without_heavy_imports() -> None:
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "grader", "--help"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "exit codes" in done.stdout
    imported = {line.rsplit("|", 1)[-1].strip().split(".")[0] for line in done.stderr.splitlines()}
    assert not imported & {"torch", "pandas", "nbclient", "numpy", "jinja2"}
    assert time.monotonic() - started < 10


def test_reference_full_marks_exit_0_and_json_contract(run_grade) -> None:
    done = run_grade(str(REFERENCE), "--format", "json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert set(result) == {"assignment", "submission", "status", "score", "max_score", "message", "checks"}
    assert result["status"] == "graded" and result["score"] == result["max_score"] > 0
    for check in result["checks"]:
        assert set(check) == {"id", "exercise", "status", "points", "max_points", "hidden", "message"}
        assert check["status"] in CHECK_STATUSES
        assert isinstance(check["points"], float) and isinstance(check["hidden"], bool)


def test_template_scores_zero_exit_1(run_grade) -> None:
    done = run_grade(str(TEMPLATE))
    assert done.returncode == 1
    assert "score 0 /" in done.stdout and "not implemented yet" in done.stdout


def test_bad_input_exit_2_with_one_line(run_grade, tmp_path: Path) -> None:
    text = tmp_path / "essay.ipynb"
    text.write_text("this is not a notebook")
    other = tmp_path / "work.py"
    other.write_text("def unrelated():\n    pass\n")
    cases = {
        (str(tmp_path / "missing.ipynb"),): "no such file",
        (str(text),): "is not a Jupyter notebook",
        (str(REFERENCE), "--assignment", "nope"): "unknown assignment 'nope'",
        (str(other),): "cannot tell which assignment",
        (str(tmp_path),): "is a folder",
    }
    for args, message in cases.items():
        done = run_grade(*args)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert message in done.stderr and "Traceback" not in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1


def test_student_view_lists_hidden_checks_as_skipped(run_grade) -> None:
    done = run_grade(str(REFERENCE), "--no-hidden", "--format", "json")
    result = json.loads(done.stdout)
    skipped = [c for c in result["checks"] if c["status"] == "skipped"]
    assert skipped and all(c["hidden"] for c in skipped)
    assert done.returncode == 0


def test_verbose_prints_the_time_breakdown(run_grade) -> None:
    done = run_grade(str(REFERENCE), "--verbose")
    assert "startup" in done.stdout and "execution" in done.stdout and "checks" in done.stdout


def test_batch_of_a_torch_assignment_does_not_deadlock(run_grade, tmp_path: Path) -> None:
    """cnn-digits' checks run torch in the grader before `grade batch` forks its workers; with
    several OpenMP threads asked for, the forked workers used to hang forever."""
    import os

    from .conftest import SUBMISSIONS

    done = run_grade("batch", str(SUBMISSIONS / "cnn-digits"), "-a", "cnn-digits", "-o", str(tmp_path),
                     timeout=300, env={**os.environ, "OMP_NUM_THREADS": "4"})
    assert done.returncode == 0, done.stderr
    assert len(list((tmp_path / "results").glob("*.json"))) == 3
