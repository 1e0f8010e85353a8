"""`grade FILE` off Linux, shown on Linux by taking away what only Linux has (tests/fixtures):
like Windows (no `resource`, `fcntl`, sessions, process groups or interval timers) the notebook
runs in a kernel of the student's own with the public checks; like macOS (no /proc, control
groups, bubblewrap or memfd) it runs in the resource-limited subprocess backend."""

from __future__ import annotations

import os
import subprocess
import sys

from .conftest import ROOT, SUBMISSIONS

MISTAKE = SUBMISSIONS / "conv-pooling" / "kernel_not_flipped.py"  # convolution2d forgets to flip


def _grade(fixture: str, *arguments: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "tests" / "fixtures" / fixture)}
    return subprocess.run([sys.executable, "-m", "grader", *arguments], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=600)


def test_like_windows_the_public_checks_run_in_a_kernel_of_the_students_own() -> None:
    done = _grade("without_linux", str(MISTAKE), "-a", "conv-pooling")
    assert done.returncode == 1, done.stderr
    assert "no sandbox on this system" in done.stderr
    assert "✗ convolution2d" in done.stdout and "✓ max_pool2d" in done.stdout
    assert "public points" in done.stdout and "hidden points at grading time" in done.stdout
    assert "convolution2d(" in done.stdout  # the same teaching feedback: what was called


def test_like_windows_grading_a_class_says_it_needs_a_sandbox_in_one_line() -> None:
    done = _grade("without_linux", "batch", str(SUBMISSIONS / "conv-pooling"), "-a", "conv-pooling")
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "WSL" in done.stderr


def test_like_macos_the_subprocess_backend_grades_with_every_check() -> None:
    done = _grade("like_macos", str(MISTAKE), "-a", "conv-pooling")
    assert done.returncode == 1, done.stderr
    assert "NOT ISOLATED" in done.stderr and "bwrap" in done.stderr
    assert "✗ convolution2d" in done.stdout and "✓ max_pool2d" in done.stdout
    assert "hidden points at grading time" not in done.stdout  # an instructor's checkout: hidden checks ran
