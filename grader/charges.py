"""Charging the CPU a submission used after its cells, as the kernel counted it, to its steps.

The grader samples counts (grader/runner.py): one per forked chain that has a control group of
its own (each chain's process is moved into one as it starts: grader/cgroups.py `subgroup`), and
the rest, what the submission's group holds outside them (the kernel's own steps, processes left
over, a chain not placed). Between two samples each count grows by some CPU time, charged to:

    the one step its processes were running    that step (its limit is checked against it)
    several at once (one count, no groups)     none: each chain's process is then held by its
                                               RLIMIT_CPU alone
    none, though steps began and ended         none (a step shorter than a sample)
    none at all                                `between`: CPU spent outside every step, held to
                                               one call's limit for the whole child (`after`:
                                               by the step the count ran last, whose processes
                                               left running used it)

So every CPU second counted after the cells lands on a step, or on `between`, or (bounded by the
number of steps) nowhere. Which chain a group belongs to is the chain process's own claim (its
name), so a submission can at most move CPU from one of its own steps to another, as it could
within one process; what it cannot do is use CPU that no limit counts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

Count = int | None  # a forked chain's index, or None: the rest of the submission's group


@dataclass
class _Meter:
    """One count at the last sample, what its processes were running then and had begun last."""

    cpu: float
    steps: tuple[str, ...] = ()
    last: str | None = None


@dataclass
class Charges:
    """The CPU charged so far to each step, and to none (`between`)."""

    charged: dict[str, float] = field(default_factory=dict)
    between: float = 0.0
    after: dict[str | None, float] = field(default_factory=dict)  # `between`, by the step each count ran last
    _meters: dict[Count, _Meter] = field(default_factory=dict)

    @property
    def left_by(self) -> str | None:
        """The step after which most of `between` was used (by processes it left running), if known."""
        return max(self.after, key=lambda step: self.after[step]) if self.after else None

    def take(self, cpu: Mapping[Count, float], running: Mapping[Count, Sequence[str]],
             last: Mapping[Count, str | None], after_cells: bool) -> None:
        """A new sample: each count's CPU, the steps running on it and the one it began last; CPU
        outside steps is charged to `between` only `after_cells`."""
        for key, now in cpu.items():
            steps, began = tuple(running.get(key, ())), last.get(key)
            meter = self._meters.setdefault(key, _Meter(0.0 if key is not None else now, steps, began))
            used = now - meter.cpu
            seen = meter.steps or steps
            if len(seen) == 1:
                self.charged[seen[0]] = self.charged.get(seen[0], 0.0) + used
            elif not seen and began == meter.last and after_cells:
                self.between += used
                self.after[began] = self.after.get(began, 0.0) + used
            meter.cpu, meter.steps, meter.last = now, steps, began
