"""Charging the CPU a submission used after its cells, as the kernel counted it, to its steps.

The runner samples counts every 0.1 s (`samples`): one per forked chain that has a control group
of its own (each chain's process is moved into one as it starts: grader/cgroups.py `subgroup`),
and the rest, what the submission's group holds outside them (the kernel's own steps, processes
left over, a chain not placed). Between two samples each count grows by some CPU time, charged to:

    the one step its processes were running    that step (its limit is checked against it)
    several at once                            where chains get groups (`strict`): each of them,
                                               all of it (a chain not placed: its process did not
                                               name itself, which an honest one does at once);
                                               else none: each chain's process is then held by its
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

from collections.abc import Mapping
from dataclasses import dataclass, field

from .conversation import Conversation, Lane

Count = int | None  # a forked chain's index, or None: the rest of the submission's group


@dataclass(frozen=True)
class Sample:
    """One count now: its CPU seconds, the steps running on it, the step it began last."""

    cpu: float
    running: tuple[str, ...] = ()
    last: str | None = None


def samples(talk: Conversation, total: float, chain_cpu: Mapping[int, float]) -> dict[Count, Sample]:
    """The counts of a child now: each chain of the part being run that has a group of its own
    (`chain_cpu`: its count), and the rest of `total`, with the steps the conversation says ran."""
    placed = {i: lane for i, lane in talk.lanes.items() if i in chain_cpu}
    found: dict[Count, Sample] = {}
    for i, lane in placed.items():
        running = _running(lane)
        found[i] = Sample(chain_cpu[i], running, _last(running, lane.answered))
    rest = (*((talk.running,) if talk.running else ()),
            *(s for i, lane in talk.lanes.items() if i not in placed for s in _running(lane)))
    chained = {s for lane in placed.values() for s in (*lane.answered, *lane.todo)}
    ended = sorted((s for s in talk.spans if s not in chained), key=lambda s: talk.spans[s][1])
    found[None] = Sample(total - sum(chain_cpu[i] for i in placed), rest, _last(rest, ended))
    return found


def _running(lane: Lane) -> tuple[str, ...]:
    return (lane.running,) if lane.running is not None and lane.exit_code is None else ()


def _last(running: tuple[str, ...], answered: list[str]) -> str | None:
    return running[-1] if running else (answered[-1] if answered else None)


@dataclass
class _Meter:
    """One count at the last sample, what its processes were running then and had begun last."""

    cpu: float
    running: tuple[str, ...] = ()
    last: str | None = None


@dataclass
class Charges:
    """The CPU charged so far to each step, and to none (`between`)."""

    strict: bool = False  # chains get groups of their own: one count of several steps is each one's
    charged: dict[str, float] = field(default_factory=dict)
    between: float = 0.0
    after: dict[str | None, float] = field(default_factory=dict)  # `between`, by the step each count ran last
    _meters: dict[Count, _Meter] = field(default_factory=dict)

    @property
    def left_by(self) -> str | None:
        """The step after which most of `between` was used (by processes it left running), if known."""
        return max(self.after, key=lambda step: self.after[step]) if self.after else None

    def take(self, now: Mapping[Count, Sample], after_cells: bool) -> None:
        """A new sample of each count; CPU outside steps is charged to `between` only `after_cells`."""
        for key, sample in now.items():
            meter = self._meters.setdefault(key, _Meter(0.0 if key is not None else sample.cpu,
                                                        sample.running, sample.last))
            used = sample.cpu - meter.cpu
            seen = meter.running or sample.running
            if len(seen) == 1 or (seen and self.strict):
                for step in seen:
                    self.charged[step] = self.charged.get(step, 0.0) + used
            elif not seen and sample.last == meter.last and after_cells:
                self.between += used
                self.after[sample.last] = self.after.get(sample.last, 0.0) + used
            meter.cpu, meter.running, meter.last = sample.cpu, sample.running, sample.last
