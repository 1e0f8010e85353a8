"""Comparing what a student's function returned with what was expected, in the grader.

Types are compared exactly (an `int` subclass is not an `int`), so a value whose `__eq__`
lies cannot pass; values are only ever plain data decoded by the grader itself.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from .codec import Opaque
from .model import Observation


@dataclass(frozen=True)
class Tolerance:
    """How close floats must be: |got - expected| <= atol + rtol * |expected|."""

    rtol: float = 1e-5
    atol: float = 1e-6


EXACT = Tolerance(rtol=0.0, atol=0.0)
DEFAULT_TOLERANCE = Tolerance()


def is_tensor(value: Any) -> bool:
    return type(value).__name__ == "Tensor" and type(value).__module__ == "torch"


def type_name(value: Any) -> str:
    """The type as the student knows it; for a value that came back described, the type it had."""
    if is_tensor(value):
        return "Tensor"
    if isinstance(value, Opaque):
        return value.type
    return type(value).__name__


def show(value: Any) -> str:
    """A short, readable rendering of a value for feedback."""
    if is_tensor(value):
        dtype = str(value.dtype).replace("torch.", "")
        if value.numel() <= 25:
            body = str(_rounded(value.tolist()))
            return f"tensor of shape {tuple(value.shape)}, {dtype}: {body}"
        return f"tensor of shape {tuple(value.shape)}, {dtype}"
    if isinstance(value, Opaque):
        return f"a {value.type} ({value.repr})"
    text = repr(value)
    return text if len(text) <= 300 else text[:297] + "..."


def _rounded(values: Any) -> Any:
    """Floats to 4 significant digits, for reading (the comparison uses the exact values)."""
    if isinstance(values, list):
        return [_rounded(v) for v in values]
    return float(f"{values:.4g}") if isinstance(values, float) else values


def mismatch(got: Observation, expected: Any, tolerance: Tolerance = DEFAULT_TOLERANCE) -> str | None:
    """Why `got` does not match `expected` ("" when the values simply differ), or None when it does."""
    return _mismatch(got.value, expected, tolerance, where="")


def _mismatch(got: Any, expected: Any, tol: Tolerance, where: str) -> str | None:
    if is_tensor(expected):
        return _tensor_mismatch(got, expected, tol, where)
    if type(got) is not type(expected):
        return f"{where}returned a {type_name(got)}, expected a {type_name(expected)}"
    if isinstance(expected, float):
        if math.isnan(expected) and math.isnan(got):
            return None
        if math.isclose(got, expected, rel_tol=tol.rtol, abs_tol=tol.atol):
            return None
        return f"{where}{got!r} is not {expected!r} (rtol={tol.rtol}, atol={tol.atol})"
    if isinstance(expected, list | tuple):
        if len(got) != len(expected):
            return f"{where}has {len(got)} items, expected {len(expected)}"
        for i, (g, e) in enumerate(zip(got, expected, strict=True)):
            found = _mismatch(g, e, tol, where=f"{where}item {i}: ")
            if found is not None:
                return found or f"{where}item {i} differs"
        return None
    return None if got == expected else ""


def _tensor_mismatch(got: Any, expected: Any, tol: Tolerance, where: str) -> str | None:
    import torch

    if type(got) is not torch.Tensor:
        return f"{where}returned a {type_name(got)}, expected a torch.Tensor"
    wrong = []  # the type-level problems, all of them, before any value is looked at
    if got.dtype != expected.dtype:
        wrong.append(f"dtype is {got.dtype}, expected {expected.dtype}")
    if tuple(got.shape) != tuple(expected.shape):
        wrong.append(f"shape is {tuple(got.shape)}, expected {tuple(expected.shape)}")
    if wrong:
        fix = _dtype_fix(got, expected, tol) if got.dtype != expected.dtype else ""
        return where + "; ".join(wrong) + fix
    if expected.is_floating_point() or expected.is_complex():
        close = torch.isclose(got, expected, rtol=tol.rtol, atol=tol.atol, equal_nan=True)
    else:
        close = got == expected
    if bool(close.all()):
        return None
    return where + _value_differences(got, expected, close, tol)


DTYPE_FIXES = {"torch.float32": ".float()", "torch.float64": ".double()", "torch.int64": ".long()",
               "torch.int32": ".int()", "torch.bool": ".bool()"}


def _dtype_fix(got: Any, expected: Any, tol: Tolerance) -> str:
    """How to fix a dtype mismatch, and whether the values are right once converted."""
    fix = DTYPE_FIXES.get(str(expected.dtype))
    if fix is None:
        return ""
    text = f" (convert with {fix}, or create it as {expected.dtype})"
    if tuple(got.shape) == tuple(expected.shape) and not got.is_complex():
        converted = got.to(expected.dtype)
        same = (_isclose(converted, expected, tol) if expected.is_floating_point() else converted == expected)
        if bool(same.all()):
            text = f"; the values are right: convert with {fix} (or create the tensor as {expected.dtype})"
    return text


def _isclose(got: Any, expected: Any, tol: Tolerance) -> Any:
    import torch

    return torch.isclose(got, expected, rtol=tol.rtol, atol=tol.atol, equal_nan=True)


def _value_differences(got: Any, expected: Any, close: Any, tol: Tolerance) -> str:
    """How many values differ, where the first is, and by how much at most."""
    at = tuple(int(i) for i in (~close).nonzero()[0].tolist())
    text = (f"{int((~close).sum())} of {close.numel()} values differ; first at index {at}: "
            f"{got[at].item():.6g} instead of {expected[at].item():.6g}")
    if expected.is_floating_point():
        largest = (got.double() - expected.double()).abs().nan_to_num(nan=float("inf")).max().item()
        text += f"; largest difference {largest:.3g}"
    return f"{text} (rtol={tol.rtol}, atol={tol.atol})"


def matches(got: Any, expected: Any, tolerance: Tolerance = DEFAULT_TOLERANCE) -> bool:
    return _mismatch(got, expected, tolerance, where="") is None
