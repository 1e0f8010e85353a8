"""Grades do not depend on how busy the machine is.

Limits are CPU seconds of a submission's own processes (its control group), wall clock only a
generous backstop: a correct training submission keeps every point when every core is kept
busy by other processes (one busy loop more than cores, each in a session of its own) and a
classmate in the same batch tries to starve it. The reference scores full marks on a quiet
machine (tests/test_corpus.py); here it must score the same, check by check.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from grader.assignments import load_assignment
from grader.batch import BatchConfig, run_batch

from .conftest import SUBMISSIONS, leftover_processes

pytestmark = pytest.mark.whole_machine  # it keeps every core busy itself; no process may be left behind

SPIN = "import time\nend = time.monotonic() + 900\nwhile time.monotonic() < end:\n    pass\n"


@contextmanager
def busy_machine(loops: int) -> Iterator[None]:
    """`loops` processes spinning, each in its own session (bounded: 15 minutes at most)."""
    spinning = [subprocess.Popen([sys.executable, "-c", SPIN], start_new_session=True) for _ in range(loops)]
    try:
        yield
    finally:
        for process in spinning:
            process.kill()
            process.wait()


@pytest.mark.parametrize("name", ["toy2d-classifiers", "cnn-digits"])
def test_a_busy_machine_and_a_starving_classmate_change_no_grade(name: str, tmp_path: Path) -> None:
    spec = load_assignment(name)
    assert spec.solution is not None
    folder, output = tmp_path / "class", tmp_path / "out"
    folder.mkdir()
    shutil.copyfile(spec.solution, folder / "correct.ipynb")
    shutil.copyfile(SUBMISSIONS / "hostile" / "starves_classmates.py", folder / "starver.py")
    with busy_machine((os.cpu_count() or 2) + 1):
        run_batch(BatchConfig(folder, spec, output, jobs=2, sandbox_name="auto"))
    result = json.loads((output / "results" / "correct.json").read_text())
    not_passed = [(c["id"], c["status"], c["message"]) for c in result["checks"] if c["status"] != "passed"]
    assert not_passed == [] and result["score"] == result["max_score"] == spec.max_score
    assert json.loads((output / "details" / "correct.json").read_text())["limits_hit"] == []
    assert leftover_processes() == []
