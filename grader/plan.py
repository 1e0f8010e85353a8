"""The probe's plan: which calls the student's process makes, in which order, with which inputs,
as plain data (no sandbox needed to build it: grader.check() in a notebook uses it too)."""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from . import protocol
from .codec import Encoder, encode_input
from .errors import AssignmentError
from .limits import Limits
from .model import Check, Ref, Step


def plan_steps(checks: Sequence[Check]) -> list[Step]:
    """Every step the checks need, once each, in the order they first appear."""
    steps: dict[str, Step] = {}
    for check in checks:
        for step in (*check.steps, *check.extra_steps):
            known = steps.setdefault(step.name, step)
            if known is not step and known.call_text() != step.call_text():
                raise AssignmentError(f"two different steps are both called {step.name!r}")
    return list(steps.values())


def hidden_only_steps(checks: Sequence[Check]) -> frozenset[str]:
    """Steps that only hidden checks use: their inputs reach the sandbox after all others."""
    def names(hidden: bool) -> set[str]:
        return {s.name for c in checks if c.hidden == hidden for s in (*c.steps, *c.extra_steps)}

    return frozenset(names(True) - names(False))


def _refs_in(value: Any) -> list[str]:
    """The steps a value refers to, however deep in tuples, lists and dicts."""
    if isinstance(value, Ref):
        return [value.step]
    if isinstance(value, (tuple, list)):
        return [r for v in value for r in _refs_in(v)]
    if isinstance(value, Mapping):
        return [r for v in value.values() for r in _refs_in(v)]
    return []


def chains(steps: Sequence[Step]) -> list[list[Step]]:
    """The steps cut into independent chains: steps that refer to one another's results (a model
    made, exported, trained, exported again, queried) are in one chain, in plan order; chains in
    the order of their first step. Steps of different chains share nothing the grader gave."""
    root: dict[str, str] = {s.name: s.name for s in steps}

    def find(name: str) -> str:
        while root[name] != name:
            root[name] = root[root[name]]
            name = root[name]
        return name

    for step in steps:
        for ref in _refs_in((step.args, step.kwargs)):
            if ref in root:
                root[find(step.name)] = find(ref)
    grouped: dict[str, list[Step]] = {}
    for step in steps:
        grouped.setdefault(find(step.name), []).append(step)
    return list(grouped.values())


@dataclass(frozen=True)
class Lanes:
    """How a part's steps run: `inline` in the kernel's own process, in order, first; then each of
    `forked` (chains, each its own events file protocol.chain_file(index)) in a process forked
    for it, at most `jobs` at once."""

    inline: tuple[str, ...]
    forked: tuple[tuple[int, tuple[str, ...]], ...] = ()
    jobs: int = 1

    @property
    def names(self) -> tuple[str, ...]:
        return (*self.inline, *(s for _, chain in self.forked for s in chain))


def lanes(steps: Sequence[Step], jobs: int, first_chain: int = 0, keep: frozenset[str] = frozenset()) -> Lanes:
    """The part's steps as lanes: chains of more than one step are forked when `jobs` > 1 and there
    are two of them or more, into `jobs` processes at most (a fork of the kernel's process costs
    more than a small model's training: each process runs its chains one after another, the
    longest chains placed first, each on the process with the fewest steps so far), and at most
    protocol.MAX_CHAINS - `first_chain` of them. Single steps, and chains with a step in `keep`
    (whose results a later part refers to: they must stay in the kernel's process), run inline."""
    cut = chains(steps)
    forkable = [c for c in cut if len(c) > 1 and not any(s.name in keep for s in c)]
    room = protocol.MAX_CHAINS - first_chain
    if jobs < 2 or len(forkable) < 2 or room < 2:
        return Lanes(tuple(s.name for s in steps))
    forked_names = {s.name for c in forkable for s in c}
    files: list[list[str]] = [[] for _ in range(min(room, jobs, len(forkable)))]
    for chain in sorted(forkable, key=len, reverse=True):
        min(files, key=len).extend(s.name for s in chain)
    return Lanes(tuple(s.name for s in steps if s.name not in forked_names),
                 tuple((first_chain + i, tuple(names)) for i, names in enumerate(files)), jobs)


def cross_part_keep(public: Sequence[Step], hidden: Sequence[Step]) -> frozenset[str]:
    """Steps of part 1 that a step of part 2 refers to (their chain stays in the kernel's process)."""
    publics = {s.name for s in public}
    return frozenset(r for s in hidden for r in _refs_in((s.args, s.kwargs)) if r in publics)


def plan_part(steps: Sequence[Step], part: int, seed: int, limits: Limits, more: bool,
              lanes: Lanes | None = None, placed: bool = False) -> dict[str, Any]:
    """Part `part` of the plan as the child receives it, tensors included (protocol.PLAN); with
    `lanes`, which steps the probe runs in forked processes (`placed`: the grader puts each in a
    control group of its own)."""
    encoder = Encoder(None, prefix=f"in{part}")
    encoded = [
        {
            "name": s.name,
            "function": s.function,
            "args": [encode_input(a, encoder) for a in s.args],
            "kwargs": {"$dict": {k: encode_input(v, encoder) for k, v in s.kwargs.items()}},
            "observe": s.observe,
            "call": s.call,
            "timeout": s.timeout or limits.call_seconds,
            "forbidden": list(s.forbidden),
        }
        for s in steps
    ]
    tensors = {name: base64.b64encode(data).decode() for name, data in encoder.files.items()}
    plan = {"part": part, "seed": seed, "more": more, "steps": encoded, "tensors": tensors}
    if lanes is not None and lanes.forked:
        plan["chains"] = [{"index": index, "steps": list(names)} for index, names in lanes.forked]
        plan["jobs"] = lanes.jobs
        plan["placed"] = placed
    return plan
