"""The probe's plan: which calls the student's process makes, in which order, with which inputs,
as plain data (no sandbox needed to build it: grader.check() in a notebook uses it too)."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

from .codec import Encoder, encode_input
from .errors import AssignmentError
from .limits import Limits
from .model import Check, Step


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


def plan_part(steps: Sequence[Step], part: int, seed: int, limits: Limits, more: bool) -> dict[str, Any]:
    """Part `part` of the plan as the child receives it, tensors included (protocol.PLAN)."""
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
    return {"part": part, "seed": seed, "more": more, "steps": encoded, "tensors": tensors}
