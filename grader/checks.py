"""Building checks: what an assignment's `checks.py` and hidden checks are written with.

A check is its inputs (steps, sent to the student's process) and a judge (run here, in the
grader, with the expected value, the reference and the labels). For example::

    returns("slides", "fully_connected_params", 40_000, 40_000, expect=1_600_000_000)
    raises("even-kernel", ValueError, "cross_correlation2d", x, k4)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from .compare import DEFAULT_TOLERANCE, Tolerance, matches, mismatch, show
from .model import Check, Evidence, Step, Verdict, hint_lines


class _Reference:
    def __repr__(self) -> str:
        return "REFERENCE"


REFERENCE: Any = _Reference()
"""`expect=REFERENCE`: the expected value is the reference solution's answer to the same call."""


@dataclass(frozen=True)
class Mistake:
    """A known mistake, written as the wrong function it amounts to, and what to tell the student."""

    hint: str
    wrong: Callable[..., Any]

    def explains(self, got: Any, args: Sequence[Any], kwargs: dict[str, Any], tol: Tolerance) -> bool:
        try:
            wrong_answer = self.wrong(*args, **kwargs)
        except Exception:  # the mistake does not apply to these inputs
            return False
        return matches(got, wrong_answer, tol)


def returns(
    name: str,
    function: str,
    *args: Any,
    expect: Any = REFERENCE,
    points: float = 1.0,
    hidden: bool = False,
    mistakes: Sequence[Mistake] = (),
    tolerance: Tolerance = DEFAULT_TOLERANCE,
    oracle: Callable[..., Any] | None = None,
    forbidden: tuple[str, ...] = (),
    timeout: float | None = None,
    **kwargs: Any,
) -> Check:
    """`function(*args, **kwargs)` must return `expect` (a literal, REFERENCE, or `oracle(...)`)."""
    step = Step(f"{function}/{name}", function, args, kwargs, forbidden=forbidden, timeout=timeout)
    call = step.call_text()

    def expected_value(evidence: Evidence) -> Any:
        if oracle is not None:
            return oracle(*args, **kwargs)
        if expect is REFERENCE:
            assert evidence.reference is not None, "REFERENCE check graded without the reference"
            return evidence.reference[function](*args, **kwargs)
        return expect

    def judge(evidence: Evidence) -> Verdict:
        observed = evidence[step.name]
        expected = expected_value(evidence)
        why = mismatch(observed, expected, tolerance)
        if why is None:
            return Verdict(True, f"{call} returned {show(observed.value)}")
        lines = [f"called {call}", f"returned {show(observed.value)}", f"expected {show(expected)}"]
        if why:
            lines.append(f"({why})")
        lines += [step.reproduce()] if step.reproduce() else []
        hints = tuple(m.hint for m in mistakes if m.explains(observed.value, args, kwargs, tolerance))
        return Verdict(False, "\n".join([*lines, *hint_lines(hints)]), hints=hints)

    return Check(
        id=f"{function}/{name}",
        exercise=function,
        steps=(step,),
        judge=judge,
        points=points,
        hidden=hidden,
        description=f"{call} returns the right value",
        needs_reference=expect is REFERENCE and oracle is None,
    )


def raises(
    name: str,
    exception: type[BaseException],
    function: str,
    *args: Any,
    points: float = 1.0,
    hidden: bool = False,
    why: str = "",
    mistakes: Sequence[Mistake] = (),
    **kwargs: Any,
) -> Check:
    """`function(*args, **kwargs)` must raise `exception` (or a subclass of it); a value returned
    instead is named by the known mistake that gives it (e.g. an argument left unvalidated)."""
    step = Step(f"{function}/{name}", function, args, kwargs)
    call = step.call_text()
    wanted = exception.__name__
    reason = f" ({why})" if why else ""

    def judge(evidence: Evidence) -> Verdict:
        observed = evidence[step.name]
        if observed.raised(wanted):
            return Verdict(True, f"{call} raised {observed.error_type}")
        if observed.status == "raised":
            got = f"raised {observed.error_type}: {observed.error_message}"
        else:
            got = f"returned {show(observed.value)}"
        returned = observed.status == "returned"
        hints = tuple(m.hint for m in mistakes
                      if returned and m.explains(observed.value, args, kwargs, DEFAULT_TOLERANCE))
        lines = [f"called {call}", got, f"expected it to raise {wanted}{reason}", *hint_lines(hints)]
        return Verdict(False, "\n".join(lines), hints=hints)

    return Check(
        id=f"{function}/{name}",
        exercise=function,
        steps=(step,),
        judge=judge,
        points=points,
        hidden=hidden,
        description=f"{call} raises {wanted}",
        expects_raise=True,
    )


def hide(checks: Sequence[Check]) -> list[Check]:
    """The same checks, marked hidden (for `reference/<name>/hidden_checks.py`)."""
    return [replace(c, hidden=True) for c in checks]


def forbid(rules: Mapping[str, tuple[str, ...]], checks: Sequence[Check]) -> list[Check]:
    """The same checks, each step calling a function of `rules` forbidden what the rule names.

    One rule per exercise, put on every step of it, so a forbidden call loses the whole exercise.
    A rule covers the families its names belong to (grader/families.py): forbidding `F.conv2d`
    forbids every route to a convolution.
    """
    from .families import with_families

    def ruled(step: Step) -> Step:
        names = with_families(tuple(rules.get(step.function or "", ())))
        return replace(step, forbidden=tuple(dict.fromkeys((*step.forbidden, *names))))

    return [replace(c, steps=tuple(ruled(s) for s in c.steps)) for c in checks]
