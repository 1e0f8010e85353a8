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

from collections.abc import Callable

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
