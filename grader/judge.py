"""Deciding each check from observations, in the grader's own process; and scoring."""

from __future__ import annotations

import traceback
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .assignments import ListedCheck
from .model import Check, CheckResult, CheckStatus, Evidence, Figure, Observation, Step


def _failure(step: Step, observed: Observation, last: bool, check: Check,
             source: tuple[str, ...] = ()) -> tuple[CheckStatus, str] | None:
    """The status and message when a step did not simply return, or broke a rule; else None."""
    call = step.call_text()
    if observed.forbidden_calls:
        calls = ", ".join(observed.forbidden_calls)
        return "failed", f"called {call}\nit calls {calls}, which this exercise must not use"
    written = _forbidden_in_source(step, observed, source)
    if written:
        uses = "\n".join(f"  - {w}" for w in written)
        return "failed", f"{step.function} breaks the rule of what this exercise must not call:\n{uses}"
    if observed.status == "returned":
        return None
    if observed.status == "raised":
        if observed.raised("NotImplementedError"):
            return "failed", f"{step.function} is not implemented yet (it raises NotImplementedError)"
        if observed.error_type == "NameError" and f"'{step.function}'" in observed.error_message:
            return "error", (
                f"{step.function} is not defined: check its name and that the cell defining it "
                "runs without error"
            )
        if last and check.expects_raise:
            return None
        output = f"\nit printed:\n{observed.output.strip()}" if observed.output.strip() else ""
        return "error", f"called {call}\nraised {observed.error_type}: {observed.error_message}{output}"
    if observed.status == "timeout":
        return "timeout", f"called {call}\n{observed.error_message or 'no answer in time'}"
    if observed.status == "crashed":
        return "error", f"called {call}\n{observed.error_message}"
    return "error", f"{call} was not run: {observed.error_message or 'an earlier step failed'}"


def _forbidden_in_source(step: Step, observed: Observation, source: tuple[str, ...]) -> tuple[str, ...]:
    """What the source of a step's function uses that the step forbids (once it is known to exist)."""
    if not step.forbidden or step.function is None or not source or observed.status == "not_run":
        return ()
    if observed.error_type == "NameError" and f"'{step.function}'" in observed.error_message:
        return ()
    from .forbidden import violations

    return violations(source, step.function, step.forbidden)


def judge_check(
    check: Check,
    observations: Mapping[str, Observation],
    reference: Mapping[str, Callable[..., Any]] | None = None,
    source: tuple[str, ...] = (),
) -> tuple[CheckResult, tuple[Figure, ...]]:
    """The verdict on one check, and any pictures its judge made; `source`: the code cells."""
    try:
        for i, step in enumerate(check.steps):
            observed = observations.get(step.name) or Observation(step.name, "not_run")
            failed = _failure(step, observed, i == len(check.steps) - 1, check, source)
            if failed is not None:
                return _result(check, failed[0], failed[1]), ()
        verdict = check.judge(Evidence(observations, reference, source))
    except Exception as error:  # a bug in a check or in the grader's own rules must not stop the run; say it loudly
        where = traceback.format_exception_only(type(error), error)[-1].strip()
        return _result(check, "error", f"the grader could not judge this check ({where}); tell your instructor"), ()
    status: CheckStatus = "passed" if verdict.passed else "failed"
    return _result(check, status, verdict.message, verdict.hints), verdict.figures


def _result(check: Check, status: CheckStatus, message: str, hints: tuple[str, ...] = ()) -> CheckResult:
    points = check.points if status == "passed" else 0.0
    return CheckResult(check.id, check.exercise, status, points, check.points, check.hidden, message, hints)


def skipped_hidden(listed: Sequence[ListedCheck]) -> list[CheckResult]:
    """Hidden checks that cannot run here: listed, with their points, as skipped."""
    return [
        CheckResult(c.id, c.exercise, "skipped", 0.0, c.points, True, "hidden check: runs at grading time")
        for c in listed
    ]


def judge_all(
    checks: Sequence[Check],
    observations: Mapping[str, Observation],
    reference: Mapping[str, Callable[..., Any]] | None = None,
    source: tuple[str, ...] = (),
) -> tuple[list[CheckResult], list[Figure]]:
    results: list[CheckResult] = []
    figures: list[Figure] = []
    for check in checks:
        result, pictures = judge_check(check, observations, reference, source)
        results.append(result)
        figures.extend(pictures)
    return results, figures


def total(results: Sequence[CheckResult]) -> tuple[float, float]:
    """The score and the most it could have been."""
    return round(sum(r.points for r in results), 6), round(sum(r.max_points for r in results), 6)
