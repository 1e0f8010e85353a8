"""Public checks of conv-pooling: torch is the oracle, on inputs drawn from a public seed.

Students may read this file. Expected values are computed here, in the grader, by torch
(`F.conv2d`, `F.max_pool2d`, `F.avg_pool2d`, `F.pad(mode="reflect")`) on random tensors with
asymmetric kernels (a symmetric one cannot tell convolution from cross-correlation), odd
sizes, several channels and strides that do not divide. Each known mistake is written as the
wrong function it amounts to; when a student's answer equals it, the feedback names it.
"""

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from grader.checks import Mistake, forbid, raises, returns
from grader.compare import Tolerance
from grader.limits import Limits

TITLE = "Convolution, cross-correlation and pooling by hand"
EXERCISES = ["cross_correlation2d", "convolution2d", "conv_layer", "max_pool2d", "avg_pool2d"]
LIMITS = Limits(call_seconds=10, cell_seconds=60, run_seconds=300)
WARM_IMPORTS = ("torch",)
SEED = 285  # public: these inputs are no secret; the hidden checks draw theirs from a hidden seed
MUTATION_MINIMUM = 0.95  # `grade validate conv-pooling --mutants`: each exercise kills this share of its mutants
FLOAT = Tolerance(rtol=1e-4, atol=1e-5)  # float32 sums of at most 75 products of N(0, 1) values

CONV_FORBIDDEN = (
    "torch.nn.functional.conv2d", "torch.nn.functional.conv_transpose2d", "torch.nn.functional.unfold",
    "torch.conv2d", "torch.conv_transpose2d", "torch.nn.Conv2d", "torch.nn.ConvTranspose2d",
    "torch.nn.Unfold", "torch.convolution",
    # the same convolution by another dimension is the same call in disguise
    "torch.nn.functional.conv1d", "torch.nn.functional.conv3d", "torch.nn.functional.conv_transpose1d",
    "torch.nn.functional.conv_transpose3d", "torch.nn.Conv1d", "torch.nn.Conv3d", "torch.conv_tbc",
    # what every torch convolution ends in, whichever Python route reached it (seen at run time)
    "aten.convolution", "aten._convolution", "aten.im2col",
)
POOL_FORBIDDEN = (
    "torch.nn.functional.max_pool2d", "torch.nn.functional.avg_pool2d",
    "torch.nn.functional.max_pool2d_with_indices", "torch.nn.functional.adaptive_max_pool2d",
    "torch.nn.functional.adaptive_avg_pool2d", "torch.nn.functional.lp_pool2d",
    "torch.nn.functional.fractional_max_pool2d", "torch.nn.functional.max_pool1d",
    "torch.nn.functional.avg_pool1d", "torch.nn.functional.max_pool3d", "torch.nn.functional.avg_pool3d",
    "torch.max_pool2d", "torch.max_pool1d", "torch.avg_pool1d",
    "torch.nn.MaxPool2d", "torch.nn.AvgPool2d", "torch.nn.AdaptiveMaxPool2d", "torch.nn.AdaptiveAvgPool2d",
    "torch.nn.LPPool2d",
    "aten.max_pool2d_with_indices", "aten.max_pool2d", "aten.avg_pool2d", "aten.max_pool1d",
    "aten.avg_pool1d", "aten.max_pool3d_with_indices", "aten.avg_pool3d", "aten.adaptive_max_pool2d",
    "aten._adaptive_avg_pool2d", "aten.fractional_max_pool2d",
)
RULES = {"conv_layer": CONV_FORBIDDEN, "max_pool2d": POOL_FORBIDDEN, "avg_pool2d": POOL_FORBIDDEN}


def drawer(seed: int) -> Callable[..., torch.Tensor]:
    """`draw(*shape)`: float32 N(0, 1) tensors from one generator, the same on every run."""
    generator = torch.Generator().manual_seed(seed)

    def draw(*shape: int) -> torch.Tensor:
        return torch.randn(shape, generator=generator, dtype=torch.float32)

    return draw


def asymmetric(k: torch.Tensor) -> torch.Tensor:
    """The kernel, made sure not to equal itself flipped in either axis."""
    k = k.clone()
    k.view(-1)[0] += 1.0 + k.abs().max()
    return k


# --- torch as the oracle ---------------------------------------------------------------------

def extend(x: torch.Tensor, s: int, boundary: str, mode: str = "") -> torch.Tensor:
    """x (H, W) extended by s pixels on each side as the boundary says ("valid": not at all)."""
    if boundary == "valid":
        return x
    if boundary not in ("zero", "mirror"):
        raise ValueError(boundary)
    mode = mode or ("constant" if boundary == "zero" else "reflect")
    return F.pad(x[None, None], (s, s, s, s), mode=mode)[0, 0]


def correlate(x: torch.Tensor, k: torch.Tensor, boundary: str = "valid", mode: str = "") -> torch.Tensor:
    return F.conv2d(extend(x, k.shape[0] // 2, boundary, mode)[None, None], k[None, None])[0, 0]


def cross_correlation2d(x: torch.Tensor, k: torch.Tensor, boundary: str = "valid") -> torch.Tensor:
    return correlate(x, k, boundary)


def convolution2d(x: torch.Tensor, k: torch.Tensor, boundary: str = "valid") -> torch.Tensor:
    return correlate(x, k.flip(0, 1), boundary)


def conv_layer(x: torch.Tensor, kappa: torch.Tensor, b: torch.Tensor, stride: int = 1,
               padding: int = 0) -> torch.Tensor:
    return F.conv2d(x[None], kappa, b, stride=stride, padding=padding)[0]


def max_pool2d(x: torch.Tensor, z: int, stride: int | None = None) -> torch.Tensor:
    return F.max_pool2d(x[None], z, z if stride is None else stride)[0]


def avg_pool2d(x: torch.Tensor, z: int, stride: int | None = None) -> torch.Tensor:
    return F.avg_pool2d(x[None], z, z if stride is None else stride)[0]


# --- known mistakes, as the wrong functions they amount to ------------------------------------

def symmetric(x: torch.Tensor, s: int) -> torch.Tensor:
    """Mirror padding that repeats the border sample: x(-1) = x(0), x(-2) = x(1)."""
    x = torch.cat([x[:s].flip(0), x, x[-s:].flip(0)], 0)
    return torch.cat([x[:, :s].flip(1), x, x[:, -s:].flip(1)], 1)


def _mirror_mistakes(flip: bool) -> list[Mistake]:
    def kernel(k: torch.Tensor) -> torch.Tensor:
        return k.flip(0, 1) if flip else k

    def with_symmetric(x: torch.Tensor, k: torch.Tensor, boundary: str = "valid") -> torch.Tensor:
        if boundary != "mirror":
            raise ValueError(boundary)
        return F.conv2d(symmetric(x, k.shape[0] // 2)[None, None], kernel(k)[None, None])[0, 0]

    def with_replicate(x: torch.Tensor, k: torch.Tensor, boundary: str = "valid") -> torch.Tensor:
        if boundary != "mirror":
            raise ValueError(boundary)
        return correlate(x, kernel(k), boundary, mode="replicate")

    return [
        Mistake("the mirror repeats the border sample: mirror symmetry without repeating it means "
                "x(-1) = x(1), x(-2) = x(2) (what F.pad(..., mode=\"reflect\") does), not x(-1) = x(0)",
                with_symmetric),
        Mistake("the mirror repeats the border sample: the border pixel is copied outwards "
                "(F.pad mode=\"replicate\"); the mirror reflects about the border without repeating it, "
                "x(-1) = x(1)", with_replicate),
    ]


def _boundary_ignored(flip: bool) -> Mistake:
    def wrong(x: torch.Tensor, k: torch.Tensor, boundary: str = "valid") -> torch.Tensor:
        if boundary == "valid":
            raise ValueError(boundary)
        return correlate(x, k.flip(0, 1) if flip else k, "valid")

    return Mistake("the boundary was ignored: with \"zero\" or \"mirror\" the output keeps the input's size "
                   "H×W; extend the image by s pixels on every side first", wrong)


def short_by_one(oracle: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
    def wrong(*args: Any, **kwargs: Any) -> torch.Tensor:
        return oracle(*args, **kwargs)[..., :-1, :-1]

    return wrong




XCORR_MISTAKES = [
    Mistake("the kernel was flipped: that is convolution; cross-correlation uses k(a,b) x(i+a, j+b) "
            "with the kernel as it is", convolution2d),
    *_mirror_mistakes(flip=False),
    _boundary_ignored(flip=False),
    Mistake("the output is off by one at the border: it misses the last row and column; with "
            "boundary=\"valid\" the kernel fits at H-2s positions, the last one included",
            short_by_one(cross_correlation2d)),
]
CONV_MISTAKES = [
    Mistake("the kernel is not flipped: your convolution equals the cross-correlation. True convolution "
            "is y(i,j) = Σ k(a,b) x(i-a, j-b): the cross-correlation with k flipped in both axes",
            cross_correlation2d),
    Mistake("the kernel is flipped in one axis only: convolution flips it in both (k.flip(0, 1))",
            lambda x, k, boundary="valid": correlate(x, k.flip(0), boundary)),
    Mistake("the kernel is flipped in one axis only: convolution flips it in both (k.flip(0, 1))",
            lambda x, k, boundary="valid": correlate(x, k.flip(1), boundary)),
    *_mirror_mistakes(flip=True),
    _boundary_ignored(flip=True),
    Mistake("the output is off by one at the border: it misses the last row and column; with "
            "boundary=\"valid\" the kernel fits at H-2s positions, the last one included",
            short_by_one(convolution2d)),
]
def _height_only(flip: bool) -> list[Mistake]:
    """A kernel checked on its height only (m = k.shape[0]): a (3, 4) kernel then goes through,
    and the loops over a, b < m read its first 3×3 values (flipped before or after the cut)."""
    hint = ("only the kernel's height was checked: the kernel must be square with an odd size m = 2s+1 on "
            "both sides (k.shape[0] and k.shape[1]); any other kernel raises ValueError")

    def cut(k: torch.Tensor) -> torch.Tensor:
        m = k.shape[0]
        if k.dim() != 2 or k.shape[1] == m or m % 2 == 0:
            raise ValueError("not this mistake")
        return k[:m, :m]

    if not flip:
        return [Mistake(hint, lambda x, k, boundary="valid": correlate(x, cut(k), boundary))]
    return [Mistake(hint, lambda x, k, boundary="valid": correlate(x, cut(k).flip(0, 1), boundary)),
            Mistake(hint, lambda x, k, boundary="valid": correlate(x, cut(k.flip(0, 1)), boundary))]


XCORR_HEIGHT_ONLY = _height_only(flip=False)
CONV_HEIGHT_ONLY = _height_only(flip=True)


def _first(b: torch.Tensor, n: int) -> torch.Tensor:
    """b's first n values, as a loop over n input channels indexing b would read them."""
    if n > b.shape[0]:
        raise IndexError("the loop would read past the end of b")
    return b[:n]


LAYER_MISTAKES = [
    Mistake("the bias is added once per input channel: there is one bias per output channel, "
            "added once to the sum over all input channels",
            lambda x, kappa, b, stride=1, padding=0:
                conv_layer(x, kappa, b, stride, padding) + (x.shape[0] - 1) * b[:, None, None]),
    Mistake("the bias is indexed by the input channel: there is one bias per output channel, b[o], "
            "added once to the sum over all input channels",
            lambda x, kappa, b, stride=1, padding=0:
                conv_layer(x, kappa, 0 * b, stride, padding) + _first(b, x.shape[0]).sum()),
    Mistake("the bias is missing: y = Σ cross-correlations + b[out channel]",
            lambda x, kappa, b, stride=1, padding=0: conv_layer(x, kappa, 0 * b, stride, padding)),
    Mistake("the kernel was flipped: in machine learning \"convolution\" means cross-correlation + bias",
            lambda x, kappa, b, stride=1, padding=0: conv_layer(x, kappa.flip(2, 3), b, stride, padding)),
    Mistake("the stride is ignored: with stride s only every s-th position is kept",
            lambda x, kappa, b, stride=1, padding=0: conv_layer(x, kappa, b, 1, padding)),
    Mistake("the padding is ignored: padding p adds p zeros on every side of the input",
            lambda x, kappa, b, stride=1, padding=0: conv_layer(x, kappa, b, stride, 0)),
    Mistake("the output is off by one at the border: it misses the last row and column; the size is "
            "floor((H + 2*padding - n) / stride) + 1", short_by_one(conv_layer)),
]


def _pool_mistakes(oracle: Callable[..., torch.Tensor], torch_pool: Callable[..., torch.Tensor]) -> list[Mistake]:
    return [
        Mistake("the stride is ignored: windows start every `stride` pixels (stride=None means z, "
                "windows side by side), not at every pixel",
                lambda x, z, stride=None: torch_pool(x[None], z, 1)[0]),
        Mistake("windows that stick out of the input were kept: only windows fully inside count",
                lambda x, z, stride=None: torch_pool(x[None], z, z if stride is None else stride, ceil_mode=True)[0]),
        Mistake("the channels were pooled together: each channel of a (C, H, W) input is pooled on its own, "
                "and the output keeps its C channels",
                lambda x, z, stride=None: _across_channels(oracle(x, z, stride), torch_pool)),
        Mistake("the output is off by one at the border: the last window is missing; windows start at "
                "0, s, 2s, ... up to H - z included", short_by_one(oracle)),
    ]


def _across_channels(pooled: torch.Tensor, torch_pool: Callable[..., torch.Tensor]) -> torch.Tensor:
    if pooled.dim() != 3:
        raise ValueError("one channel")
    return pooled.amax(0) if torch_pool is F.max_pool2d else pooled.mean(0)


MAX_MISTAKES = _pool_mistakes(max_pool2d, F.max_pool2d)
AVG_MISTAKES = [
    *_pool_mistakes(avg_pool2d, F.avg_pool2d),
    Mistake("the windows were summed, not averaged: divide by z*z",
            lambda x, z, stride=None: avg_pool2d(x, z, stride) * z * z),
]

SLIDES_X = torch.tensor([[12, 20, 30, 0], [8, 12, 2, 0], [34, 70, 37, 4], [112, 100, 25, 12]], dtype=torch.float32)
draw = drawer(SEED)
K3, K5 = asymmetric(draw(3, 3)), asymmetric(draw(5, 5))

CHECKS = forbid(RULES, [
    # cross-correlation: each boundary, a 5×5 kernel for the mirror (it reaches two pixels out)
    returns("valid", "cross_correlation2d", draw(7, 9), K3, oracle=cross_correlation2d,
            tolerance=FLOAT, mistakes=XCORR_MISTAKES),
    returns("zero", "cross_correlation2d", draw(6, 5), K3, boundary="zero", oracle=cross_correlation2d,
            tolerance=FLOAT, mistakes=XCORR_MISTAKES),
    returns("mirror", "cross_correlation2d", draw(7, 8), K5, boundary="mirror", oracle=cross_correlation2d,
            tolerance=FLOAT, mistakes=XCORR_MISTAKES),
    raises("even-kernel", ValueError, "cross_correlation2d", draw(6, 6), draw(2, 2),
           why="the kernel must have an odd size m = 2s+1"),
    raises("unknown-boundary", ValueError, "cross_correlation2d", draw(6, 6), K3, boundary="same",
           why="the boundary is one of \"valid\", \"zero\", \"mirror\""),
    # convolution: the same, with the kernel flipped
    returns("valid", "convolution2d", draw(8, 7), K3, oracle=convolution2d, tolerance=FLOAT,
            mistakes=CONV_MISTAKES),
    returns("zero", "convolution2d", draw(6, 6), K5, boundary="zero", oracle=convolution2d,
            tolerance=FLOAT, mistakes=CONV_MISTAKES),
    returns("mirror", "convolution2d", draw(7, 9), K5, boundary="mirror", oracle=convolution2d,
            tolerance=FLOAT, mistakes=CONV_MISTAKES),
    raises("even-kernel", ValueError, "convolution2d", draw(6, 6), draw(4, 4),
           why="the kernel must have an odd size m = 2s+1"),
    # the layer: channels, stride that does not divide, padding
    returns("one-channel", "conv_layer", draw(1, 7, 7), asymmetric(draw(1, 1, 3, 3)), draw(1),
            oracle=conv_layer, tolerance=FLOAT, mistakes=LAYER_MISTAKES),
    returns("channels", "conv_layer", draw(3, 9, 8), asymmetric(draw(2, 3, 3, 3)), draw(2),
            oracle=conv_layer, tolerance=FLOAT, mistakes=LAYER_MISTAKES),
    returns("stride-padding", "conv_layer", draw(2, 10, 11), asymmetric(draw(4, 2, 3, 3)), draw(4),
            stride=3, padding=1, oracle=conv_layer, tolerance=FLOAT, mistakes=LAYER_MISTAKES),
    raises("mismatched-channels", ValueError, "conv_layer", draw(2, 6, 6), draw(2, 3, 3, 3), draw(2),
           why="kappa has 3 input channels, x has 2"),
    # max pooling: the slides' 4×4 example, overlapping pooling, a stride that does not divide
    returns("slides-4x4", "max_pool2d", SLIDES_X, 2, expect=torch.tensor([[20.0, 30.0], [112.0, 37.0]]),
            mistakes=MAX_MISTAKES),
    returns("overlapping", "max_pool2d", draw(2, 9, 8), 3, stride=2, oracle=max_pool2d, tolerance=FLOAT,
            mistakes=MAX_MISTAKES),
    returns("not-dividing", "max_pool2d", draw(7, 7), 2, oracle=max_pool2d, tolerance=FLOAT,
            mistakes=MAX_MISTAKES),
    raises("window-too-large", ValueError, "max_pool2d", draw(3, 3), 4, why="the window is larger than the input"),
    # average pooling: the same inputs' kind
    returns("slides-4x4", "avg_pool2d", SLIDES_X, 2, expect=torch.tensor([[13.0, 8.0], [79.0, 19.5]]),
            tolerance=FLOAT, mistakes=AVG_MISTAKES),
    returns("overlapping", "avg_pool2d", draw(3, 9, 8), 3, stride=2, oracle=avg_pool2d, tolerance=FLOAT,
            mistakes=AVG_MISTAKES),
    returns("not-dividing", "avg_pool2d", draw(7, 5), 2, oracle=avg_pool2d, tolerance=FLOAT,
            mistakes=AVG_MISTAKES),
    raises("one-dimension", ValueError, "avg_pool2d", draw(8), 2, why="x must be (H, W) or (C, H, W)"),
])
