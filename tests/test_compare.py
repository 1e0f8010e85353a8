"""Comparing returned tensors in the grader: type, then dtype and shape, then values."""

from __future__ import annotations

import torch

from grader.codec import Opaque
from grader.compare import Tolerance, matches, mismatch, show
from grader.model import Observation

TOL = Tolerance(rtol=1e-4, atol=1e-5)
EXPECTED = torch.tensor([[1.0, 2.0], [3.0, 4.0]])


def _why(value: object) -> str | None:
    return mismatch(Observation("s", "returned", value), EXPECTED, TOL)


def test_a_close_tensor_matches() -> None:
    assert _why(EXPECTED + 1e-6) is None


def test_not_a_tensor_is_named() -> None:
    assert _why([[1.0, 2.0], [3.0, 4.0]]) == "returned a list, expected a torch.Tensor"
    described = Opaque("numpy.ndarray", "array(...)")
    assert _why(described) == "returned a numpy.ndarray, expected a torch.Tensor"


def test_dtype_and_shape_are_reported_together_before_values() -> None:
    why = _why(torch.zeros(1, 2, 2, dtype=torch.float64))
    assert why == ("dtype is torch.float64, expected torch.float32; shape is (1, 2, 2), expected (2, 2) "
                   "(convert with .float(), or create it as torch.float32)")


def test_right_values_in_the_wrong_dtype_are_told_how_to_fix() -> None:
    assert str(_why(EXPECTED.double())).endswith(
        "the values are right: convert with .float() (or create the tensor as torch.float32)")
    assert "values are right" not in _why(torch.zeros(2, 2, dtype=torch.float64))


def test_differing_values_say_where_and_how_much_with_the_tolerance() -> None:
    got = EXPECTED.clone()
    got[1, 0] = 3.5
    assert _why(got) == ("1 of 4 values differ; first at index (1, 0): 3.5 instead of 3; "
                         "largest difference 0.5 (rtol=0.0001, atol=1e-05)")


def test_nan_only_matches_nan() -> None:
    assert not matches(torch.tensor([float("nan")]), torch.tensor([1.0]), TOL)
    assert matches(torch.tensor([float("nan")]), torch.tensor([float("nan")]), TOL)


def test_small_tensors_are_shown_rounded() -> None:
    assert show(torch.tensor([1 / 3])) == "tensor of shape (1,), float32: [0.3333]"
