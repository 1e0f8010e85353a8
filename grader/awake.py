"""Awake time: the wall-clock time a sandbox's processes could have used.

Limits are CPU seconds; wall clock is only a backstop, for what waits or sleeps. On a loaded
machine a runnable process waits too, for a CPU, and that is not the student's doing: the kernel
counts that time per control group (PSI, grader/cgroups.py `stall_seconds`), and a backstop
measures awake time, the elapsed wall time minus the growth of that stall time meanwhile. A
sleeping process is not stalled (it does not want a CPU): its awake time is its wall time.

Where the stall time is not counted (no control group, PSI disabled), awake time is wall time:
the plain wall-clock rule, said once (grader/runner.py).
"""

from __future__ import annotations

import select
import time
from collections.abc import Callable

AWAKE_POLL = 1.0  # seconds between two readings of the clock while waiting
StallSource = Callable[[], "float | None"]  # stall seconds so far (any origin; only growth counts), or None


def no_stall() -> float | None:
    """The source where nothing is counted: awake time is wall time."""
    return None


class AwakeClock:
    """A clock that runs with the wall clock and pauses while the processes wait for a CPU: the
    difference of two readings is awake seconds. Readings never go back."""

    def __init__(self, stalled: StallSource = no_stall) -> None:
        self.stalled = stalled
        self.first: float | None = None  # the source's first reading
        self.stall = 0.0  # its largest growth since
        self.last = float("-inf")  # the last reading

    @property
    def counts_stall(self) -> bool:
        """Whether the source has said something (else this clock is the wall clock)."""
        return self.first is not None

    def read(self, now: float) -> float:
        """The clock at wall time `now` (time.monotonic()): `now` minus the stall counted so far."""
        value = self.stalled()
        if value is not None:
            if self.first is None:
                self.first = value
            self.stall = max(self.stall, value - self.first)
        self.last = max(self.last, now - self.stall)
        return self.last


def awake_seconds(clock: AwakeClock, since: float, now: float) -> float:
    """Awake seconds from the reading `since` (of `clock`) to wall time `now`."""
    return clock.read(now) - since


def machine_stall() -> float | None:
    """The whole machine's stall seconds (/proc/pressure/cpu "some"): for processes that are the
    grader's own and have no control group, such as a fork server's template. Generous: any
    process waiting for a CPU counts, so a busy machine never shortens a wait."""
    try:
        with open("/proc/pressure/cpu") as file:
            for line in file:
                if line.startswith("some "):
                    return int(line.rsplit("total=", 1)[1]) / 1e6
    except (OSError, ValueError, IndexError):
        pass
    return None


def readable_within(fd: int, seconds: float, at_most: float, stalled: StallSource = machine_stall) -> bool:
    """Whether `fd` becomes readable within `seconds` of awake time (wall time less the stall that
    `stalled` counts meanwhile), and `at_most` seconds of wall time: the waits for what the grader
    started itself, such as a template importing torch, which a busy machine slows down."""
    clock = AwakeClock(stalled)
    started = time.monotonic()
    start = clock.read(started)
    while True:
        now = time.monotonic()
        left = min(seconds - (clock.read(now) - start), at_most - (now - started))
        if select.select([fd], [], [], min(AWAKE_POLL, max(0.0, left)))[0]:
            return True
        if left <= 0:
            return False
