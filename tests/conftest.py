"""Shared fixtures: the project's folders and a way to run the real `grade` command."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SUBMISSIONS = ROOT / "tests" / "submissions"


@pytest.fixture
def run_grade():
    """Run `python -m grader ARGS` in a real subprocess; returns the CompletedProcess."""

    def run(*args: str, timeout: float = 300, **kwargs) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "grader", *args],
            cwd=kwargs.pop("cwd", ROOT), capture_output=True, text=True, timeout=timeout, **kwargs,
        )

    return run
