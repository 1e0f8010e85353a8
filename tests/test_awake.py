"""Backstops count awake time: wall time less the time a sandbox's processes waited for a CPU."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import pytest

from grader import protocol
from grader.awake import AwakeClock, machine_stall, readable_within
from grader.cgroups import _stall
from grader.child import RunDelay, _CellWatch, cell_wall
from grader.model import Step
from grader.runner import backstop, run_steps
from grader.sandbox import Limits, get_sandbox


class FakePressure:
    """A stall source whose count the test sets (seconds, or None: not counted)."""

    def __init__(self, value: float | None = 0.0) -> None:
        self.value = value

    def __call__(self) -> float | None:
        return self.value


def test_a_wait_for_the_graders_own_processes_does_not_count_a_busy_machines_stall() -> None:
    """A template importing torch on a machine whose every moment is stall: the wait outlives its
    patience in wall time (the writer answers only after 0.3 s, six patiences) and sees the answer."""
    reading, writing = os.pipe()
    try:
        writer = threading.Timer(0.3, os.write, (writing, b"R"))
        writer.start()
        assert readable_within(reading, 0.05, 60.0, stalled=time.monotonic)
        writer.join()
    finally:
        os.close(reading)
        os.close(writing)


def test_a_wait_ends_at_its_patience_or_its_wall_bound() -> None:
    reading, writing = os.pipe()
    try:
        assert not readable_within(reading, 0.05, 60.0, stalled=FakePressure(0.0))  # nothing stalled
        assert not readable_within(reading, 60.0, 0.05, stalled=time.monotonic)  # all stalled: the bound
    finally:
        os.close(reading)
        os.close(writing)


def test_the_machines_stall_is_read_where_the_kernel_counts_it() -> None:
    stall = machine_stall()
    assert stall is None or stall >= 0.0
    if os.path.exists("/proc/pressure/cpu"):
        assert stall is not None


def test_awake_time_is_wall_time_less_the_stall_grown_meanwhile() -> None:
    pressure = FakePressure(1000.0)  # a count from before the clock started is not the submission's
    clock = AwakeClock(pressure)
    start = clock.read(50.0)
    pressure.value = 1007.5
    assert clock.read(60.0) - start == pytest.approx(2.5)  # 10 s elapsed, 7.5 s of them waiting for a CPU
    assert clock.counts_stall


def test_a_sleeping_process_is_awake_all_the_time() -> None:
    pressure = FakePressure(3.0)
    clock = AwakeClock(pressure)
    start = clock.read(0.0)
    assert clock.read(40.0) - start == pytest.approx(40.0)  # asleep, it waits for no CPU: no stall grows


def test_without_a_stall_count_awake_time_is_wall_time() -> None:
    clock = AwakeClock(FakePressure(None))
    start = clock.read(10.0)
    assert clock.read(25.0) - start == pytest.approx(15.0) and not clock.counts_stall


def test_awake_time_never_goes_back() -> None:
    pressure = FakePressure(0.0)
    clock = AwakeClock(pressure)
    readings = []
    for now, stall in [(1.0, 0.0), (2.0, 1.5), (2.0, 1.4), (2.5, 1.0), (3.0, 2.9)]:
        pressure.value = stall  # sampled a little apart from `now`: growth may look larger than the wall's
        readings.append(clock.read(now))
    assert readings == sorted(readings)


def test_the_stall_is_read_from_the_kernels_pressure_file(tmp_path: Path) -> None:
    pressure = tmp_path / "cpu.pressure"
    pressure.write_text("some avg10=1.00 avg60=0.50 avg300=0.10 total=2500000\n"
                        "full avg10=0.00 avg60=0.00 avg300=0.00 total=1000\n")
    assert _stall(str(pressure)) == pytest.approx(2.5)
    assert _stall(str(tmp_path / "absent")) is None and _stall("") is None


def test_the_childs_cell_backstop_is_never_before_the_graders() -> None:
    for cell_seconds in (1.0, 10.0, 60.0):  # the grader's: over one cell at least, awake time both
        assert cell_wall(cell_seconds) <= backstop(1 * (cell_seconds + 2.0) + 2.0)
    assert RunDelay("self")() >= 0.0  # this process's threads' waits (0 where there is no schedstat)


def _notebook(path: Path, source: str) -> None:
    cell = {"cell_type": "code", "source": source, "metadata": {}, "outputs": [], "execution_count": None}
    path.write_text(json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))


def test_a_sleeping_step_is_still_stopped_by_the_backstop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A step that sleeps uses no CPU and waits for none: its awake time is its wall time, and the
    backstop (made small here: 1 x 0.5 s + 1 s) stops it though its CPU limit is far."""
    monkeypatch.setattr(protocol, "WALL_FACTOR", 1.0)
    monkeypatch.setattr(protocol, "WALL_SLACK", 1.0)
    notebook = tmp_path / "sleeps.ipynb"
    _notebook(notebook, "import time\ndef f():\n    time.sleep(600)\ndef g():\n    return 7")
    steps = [Step("f/one", "f", timeout=0.5), Step("g/one", "g")]
    outcome = run_steps(notebook, steps, get_sandbox(), Limits(), warm_imports=())
    observed = outcome.observations["f/one"]
    assert observed.status == "timeout" and "no answer after 1.5 s" in observed.error_message
    assert outcome.observations["g/one"].value == 7  # a new child carried on



def test_a_kernel_that_did_not_start_is_not_graded_and_a_rerun_grades_it_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The grader's failure, not the student's: no 0 is written as done, the student is graded again."""
    from dataclasses import replace

    from grader.assignments import load_assignment
    from grader.errors import SandboxError
    from grader.files import OutputFolder
    from grader.intake import Entry, SubmittedFile
    from grader.outputs import is_done
    from grader.pool import PoolConfig, grade_loaded, save_entry
    from grader.submission import load_submission

    from .conftest import SUBMISSIONS

    def no_kernel(*args: object, **kwargs: object) -> None:
        raise SandboxError("the grader could not start the notebook's kernel")

    monkeypatch.setattr("grader.grading.grade_submission", no_kernel)
    spec = load_assignment("conv-arithmetic")
    path = next((SUBMISSIONS / "conv-arithmetic").glob("*.py"))
    report = grade_loaded(path.name, load_submission(path), spec, get_sandbox("none"), None, 0)
    assert report.status == "error" and report.retry and "could not start" in report.message
    entry = Entry("alice", (SubmittedFile(path, path.name),))
    with OutputFolder.open(tmp_path / "out") as output:
        config = PoolConfig(spec, output, 1)
        assert save_entry(entry, "key-1", config, [report], 1.0).status == "error"
        assert not is_done(tmp_path / "out", "alice", "key-1")  # a rerun grades alice again
        save_entry(entry, "key-1", config, [replace(report, retry=False)], 1.0)
        assert is_done(tmp_path / "out", "alice", "key-1")  # any other error result is done


def test_a_kernel_that_does_not_start_is_started_again_once_then_the_grader_says_so(tmp_path: Path) -> None:
    from grader.errors import KernelStartError

    notebook = tmp_path / "fine.ipynb"
    _notebook(notebook, "def g():\n    return 7")
    with pytest.raises(KernelStartError, match=r"could not start the notebook's kernel \(2 tries"):
        run_steps(notebook, [Step("g/one", "g")], get_sandbox("subprocess"), Limits(startup_seconds=0.0),
                  warm_imports=())


class FakeKernel:
    """A kernel for the cell watch: no CPU used; starved (every second waited for a CPU) or asleep."""

    def __init__(self, starved: bool) -> None:
        self.began, self.starved, self.interrupted = time.monotonic(), starved, 0

    def cpu(self) -> float:
        return 0.0

    def stalled(self) -> float:
        return time.monotonic() - self.began if self.starved else 0.0

    def interrupt(self) -> None:
        self.interrupted += 1


@pytest.mark.parametrize("starved", [True, False], ids=["starved", "asleep"])
def test_the_cell_watch_counts_awake_time(starved: bool) -> None:
    kernel = FakeKernel(starved)
    watch = _CellWatch(kernel, seconds=100.0, wall=0.3)
    watch.start()
    watch.cell(running=True)
    if starved:
        time.sleep(1.0)  # awake all along for 0 s: never past 0.3 s
    else:
        while not watch.wall_fired and time.monotonic() - kernel.began < 60:
            time.sleep(0.05)
    assert (watch.wall_fired, kernel.interrupted) == ((False, 0) if starved else (True, 1))
    watch.cell(running=False)
