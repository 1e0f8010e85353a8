"""Families of computations a "must not call" rule covers whole, by the name of their operators.

A rule that forbids one route to a convolution or a pooling forbids the computation itself: every
ATen operator of its family (forward, backward, mkldnn, slow and depthwise variants, im2col and
col2im), the Python functions around them (`torch.nn.grad.conv2d_weight`, `torch.mkldnn_*`), and
numpy's and scipy's routines that compute it. Both sides use this module: the probe matches the
operators it sees run, grader/forbidden/ the names the source uses. Standard library only.
"""

from __future__ import annotations

import re

FAMILY_PREFIX = "family."  # a forbidden name "family.convolution" stands for the whole family

_CONVOLUTION = r"conv(?!ert)|im2col|col2im"  # conv2d, mkldnn_convolution, ConvTranspose2d, LazyConv2d; not convert
_POOLING = r"pool"
OPERATORS: dict[str, re.Pattern[str]] = {  # matched against an ATen operator's name ("mkldnn_convolution")
    "convolution": re.compile(_CONVOLUTION),
    "pooling": re.compile(_POOLING),
}
ARRAY_ROUTINES: dict[str, re.Pattern[str]] = {  # a routine's name in an array library: the start of a name
    # called on any base (grader/forbidden/), anywhere in the last part of a library's dotted name
    "convolution": re.compile(r"convolve|correlate|xcorr|acorr|[ls]filt|filtfilt|sosfilt|upfirdn|resample_poly|sepfir"
                              r"|polymul"),
    "pooling": re.compile(r"(maximum|minimum|uniform|median|rank|percentile|order|generic)_filter|block_reduce"
                          r"|grey_(dilation|erosion)|medfilt|rolling$|(max|min|rank|median)filter"),
}
ARRAY_MODULES: dict[str, re.Pattern[str]] = {  # and, in a library's dotted name only, its modules and classes
    "convolution": re.compile(r"polynomial"),
    "pooling": re.compile(r"pool|rolling"),
}
ARRAY_LIBRARIES = ("numpy", "scipy", "skimage", "matplotlib", "pylab", "pandas", "PIL")
PYTHON_NAMESPACES = ("torch", "torch.nn", "torch.nn.functional", "torch.nn.grad", "torch.Tensor")
PYTHON_EXTRAS = {  # im2col and col2im under other names (Tensor.unfold, a view, stays the student's)
    "convolution": ("torch.nn.functional.unfold", "torch.nn.functional.fold", "torch.nn.Unfold", "torch.nn.Fold"),
    "pooling": ("torch.nn.functional.interpolate", "torch.nn.functional.local_response_norm",
                "torch.nn.LocalResponseNorm", "torch.nn.Upsample"),  # an area interpolation is an average pooling
}


def family_of(name: str) -> str | None:
    """The family a forbidden name belongs to ("torch.nn.functional.conv2d" → "convolution"), or None."""
    if name.startswith(FAMILY_PREFIX):
        return name.removeprefix(FAMILY_PREFIX)
    leaf = name.rsplit(".", 1)[-1].lower()
    if leaf == "unfold" and not name.startswith("aten."):  # F.unfold is im2col; Tensor.unfold is a view
        return "convolution"
    return next((family for family, pattern in OPERATORS.items() if pattern.search(leaf)), None)


def with_families(names: tuple[str, ...]) -> tuple[str, ...]:
    """`names`, plus the family token of each family they touch."""
    families = [f"{FAMILY_PREFIX}{f}" for f in dict.fromkeys(filter(None, map(family_of, names)))]
    return tuple(dict.fromkeys((*names, *families)))


def operator_family(operator: str, families: set[str]) -> str | None:
    """The family among `families` an ATen operator's name belongs to, or None."""
    return next((f for f in families if OPERATORS[f].search(operator)), None)


def array_routine_family(path: str, families: set[str]) -> str | None:
    """The family among `families` a numpy/scipy routine ("scipy.signal.correlate2d") computes, or None."""
    parts = path.split(".")
    if parts[0] not in ARRAY_LIBRARIES or len(parts) < 2:
        return None
    last = parts[-1].lower()
    return next((f for f in families if ARRAY_ROUTINES[f].search(last) or ARRAY_MODULES[f].search(last)), None)
