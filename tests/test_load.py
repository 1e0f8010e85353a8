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

from grader import protocol
from grader.assignments import load_assignment
from grader.batch import BatchConfig, run_batch
from grader.cgroups import stall_problem
from grader.model import Step
from grader.runner import Worker, backstop, run_steps
from grader.sandbox import Limits, get_sandbox

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


STARVED = 10  # busy loops per core: a step then gets about a tenth of a core


@contextmanager
def starved_machine() -> Iterator[None]:
    """STARVED busy loops per core, each a shell in a session of its own (as other users' jobs are)."""
    loops = [subprocess.Popen(["setsid", "sh", "-c", "while :; do :; done"]) for _ in range(STARVED * _cores())]
    try:
        yield
    finally:
        for process in loops:
            process.kill()
            process.wait()


def _cores() -> int:
    return len(os.sched_getaffinity(0))


@pytest.mark.skipif(bool(stall_problem()), reason=f"no stall time counted here: {stall_problem()}")
def test_a_step_starved_of_cpu_is_not_stopped_by_the_backstop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A step needs 1.5 of its 2 CPU seconds; the backstop is made small (1.5 x 2 s + 3 s = 6 s) and
    the machine so busy that the step takes far longer than that in wall time: awake time (wall less
    the step's waits for a CPU, as the kernel counts them) is what the backstop measures, so it passes."""
    monkeypatch.setattr(protocol, "WALL_FACTOR", 1.5)
    monkeypatch.setattr(protocol, "WALL_SLACK", 3.0)
    notebook = tmp_path / "works.ipynb"
    cell = {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
            "source": "import time\ndef f():\n    end = time.process_time() + 1.5\n"
                      "    while time.process_time() < end:\n        pass\n    return 7"}
    notebook.write_text(json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    sandbox = get_sandbox()
    worker = Worker(sandbox, Limits(), warm_imports=())
    assert worker.wait_ready(), worker.stderr_tail()  # started before the load: the test takes seconds
    with starved_machine():
        outcome = run_steps(notebook, [Step("f/one", "f", timeout=2)], sandbox, Limits(), warm_imports=(),
                            worker=worker)
    observed = outcome.observations["f/one"]
    assert (observed.status, observed.value, outcome.stops) == ("returned", 7, ())
    start, end = outcome.spans["f/one"]
    assert end - start > backstop(2), "the machine was not busy enough for the test to mean anything"
    assert leftover_processes() == []
