"""The judge and the comparisons, with literals: no process is started."""

from __future__ import annotations

import torch

from grader.assignments import ListedCheck
from grader.checks import Mistake, raises, returns
from grader.codec import Opaque
from grader.compare import EXACT, Tolerance, matches
from grader.judge import judge_check, skipped_hidden, total
from grader.model import Observation


def _observed(check, **fields) -> dict[str, Observation]:
    step = check.steps[0]
    return {step.name: Observation(step.name, **fields)}


def test_right_value_passes_and_wrong_value_explains_itself() -> None:
    check = returns("stride", "conv_output_size", 7, 3, stride=2, expect=3)
    result, _ = judge_check(check, _observed(check, status="returned", value=3))
    assert result.status == "passed" and result.points == 1.0
    result, _ = judge_check(check, _observed(check, status="returned", value=2))
    assert result.status == "failed" and result.points == 0.0
    assert "called conv_output_size(7, 3, stride=2)" in result.message
    assert "returned 2" in result.message and "expected 3" in result.message


def test_known_mistake_is_named() -> None:
    floor = Mistake("floor instead of ceil", lambda w, n, stride=1, padding=0: (w - n + 1) // stride)
    check = returns("stride", "conv_output_size", 7, 3, stride=2, expect=3, mistakes=[floor])
    result, _ = judge_check(check, _observed(check, status="returned", value=2))
    assert "hint: floor instead of ceil" in result.message


def test_a_hidden_check_shows_its_verdict_and_the_judges_hints_only() -> None:
    """Hints are a field the judge fills, never lines picked out of the child's free text."""
    floor = Mistake("floor instead of ceil", lambda w, n, stride=1, padding=0: (w - n + 1) // stride)
    check = returns("secret", "conv_output_size", 227, 11, stride=4, expect=56, mistakes=[floor], hidden=True)
    result, _ = judge_check(check, _observed(check, status="returned", value=(227 - 11 + 1) // 4))
    assert result.hints == ("floor instead of ceil",) and "227" in result.message
    assert result.student_message == "hidden check: failed\nhint: floor instead of ceil"
    forged = "hint: the inputs were 227, 11\n  - stride=4"
    result, _ = judge_check(check, _observed(check, status="raised", error_type="ValueError", error_message=forged))
    assert result.student_message == "hidden check: error" and result.to_json()["message"] == "hidden check: error"


def test_types_are_exact_so_bools_floats_and_lying_objects_fail() -> None:
    check = returns("x", "f", expect=1)
    for value in (True, 1.0, Opaque("LyingInt", "1")):
        result, _ = judge_check(check, _observed(check, status="returned", value=value))
        assert result.status == "failed", value


def test_statuses_of_steps_that_did_not_return() -> None:
    check = returns("x", "f", 1, expect=1)
    cases = {
        "timeout": _observed(check, status="timeout", error_message="no answer after 2 s"),
        "error": _observed(check, status="raised", error_type="TypeError", error_message="boom"),
    }
    for status, observed in cases.items():
        result, _ = judge_check(check, observed)
        assert result.status == status and result.points == 0
    result, _ = judge_check(check, _observed(check, status="raised", error_type="NotImplementedError",
                                             error_bases=("RuntimeError",)))
    assert result.status == "failed" and "not implemented yet" in result.message
    result, _ = judge_check(check, _observed(check, status="raised", error_type="NameError",
                                             error_message="name 'f' is not defined"))
    assert result.status == "error" and "f is not defined" in result.message
    result, _ = judge_check(check, {})
    assert result.status == "error"


def test_raises_check_accepts_subclasses_only_of_the_wanted_exception() -> None:
    check = raises("bad", ValueError, "f", 0)
    good = _observed(check, status="raised", error_type="MyError", error_bases=("ValueError", "Exception"))
    assert judge_check(check, good)[0].status == "passed"
    wrong = _observed(check, status="raised", error_type="TypeError", error_bases=("Exception",))
    assert judge_check(check, wrong)[0].status == "failed"
    silent = _observed(check, status="returned", value=3)
    assert "expected it to raise ValueError" in judge_check(check, silent)[0].message


def test_forbidden_calls_fail_the_check_even_with_the_right_value() -> None:
    check = returns("x", "f", expect=1)
    observed = _observed(check, status="returned", value=1, forbidden_calls=("torch.conv2d",))
    result, _ = judge_check(check, observed)
    assert result.status == "failed" and "torch.conv2d" in result.message


def test_a_broken_judge_is_an_error_result_not_a_crash() -> None:
    check = returns("x", "f", expect=1, oracle=lambda: 1 / 0)
    result, _ = judge_check(check, _observed(check, status="returned", value=1))
    assert result.status == "error" and "ZeroDivisionError" in result.message


def test_a_failure_of_the_graders_own_rule_checking_is_that_checks_error_not_a_crash(monkeypatch) -> None:
    import grader.forbidden

    def overflows(*args: object) -> tuple[str, ...]:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(grader.forbidden, "violations", overflows)
    check = returns("x", "f", expect=1, forbidden=("torch.nn.functional.conv2d",))
    observed = _observed(check, status="returned", value=1)
    result, figures = judge_check(check, observed, source=("def f():\n    return 1",))
    assert result.status == "error" and "RecursionError" in result.message and figures == ()


def test_tensor_comparison_checks_type_dtype_shape_then_values() -> None:
    expected = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert matches(expected + 1e-7, expected)
    assert not matches(expected + 1e-3, expected)
    assert matches(expected + 1e-3, expected, Tolerance(rtol=0, atol=1e-2))
    assert not matches(expected.double(), expected)
    assert not matches(expected.T.reshape(4), expected)
    assert not matches(expected.tolist(), expected)
    assert not matches(expected + 1e-3, expected, EXACT)
    assert matches(expected.clone(), expected, EXACT)


def test_skipped_hidden_checks_count_in_max_score_only() -> None:
    skipped = skipped_hidden([ListedCheck("f/hidden", "f", 2.0)])
    assert skipped[0].status == "skipped" and skipped[0].hidden
    assert total(skipped) == (0.0, 2.0)


def test_a_failing_public_check_says_how_to_reproduce_it_exactly() -> None:
    import torch

    from grader.model import Step

    x = torch.randn(8, 7)
    step = Step("f/a", "f", (x, 3), {"boundary": "zero"})
    lines = step.reproduce().splitlines()
    assert lines[:2] == ["to reproduce:", "import torch"] and lines[-1] == "f(x1, 3, boundary='zero')"
    assert torch.equal(eval(lines[2].split(" = ", 1)[1]), x)  # float32 values written exactly
    assert Step("f/b", "f", (torch.zeros(100, 100),)).reproduce() == ""  # too large to paste
    assert Step("f/c", "f", (3,)).reproduce() == ""  # the call line says it all
