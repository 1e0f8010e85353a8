"""Public checks of conv-arithmetic: the slides' own numbers. Students may read this file.

Each known mistake is written as the wrong formula it amounts to; when a student's answer
equals what that formula gives, the feedback names the mistake in the course's words.
"""

from collections.abc import Callable
from math import ceil, floor

from grader.checks import Mistake, raises, returns
from grader.limits import Limits

TITLE = "Counting parameters and output sizes"
EXERCISES = [
    "conv_params",
    "conv_output_size",
    "pool_output_size",
    "fully_connected_params",
    "locally_connected_params",
    "shared_weights_params",
]
LIMITS = Limits(call_seconds=2, cell_seconds=30, run_seconds=120)
WARM_IMPORTS = ("math",)
MUTATION_MINIMUM = 0.95  # `grade validate conv-arithmetic --mutants`: each exercise kills this share of its mutants

CONV_PARAMS_MISTAKES = [
    Mistake("the bias is forgotten: a conv layer has one bias per output channel, "
            "n*n*c_in*c_out weights plus c_out biases",
            lambda n, c_in, c_out, bias=True: n * n * c_in * c_out),
    Mistake("one bias per input channel was counted; there is one bias per output channel (per filter)",
            lambda n, c_in, c_out, bias=True: n * n * c_in * c_out + (c_in if bias else 0)),
    Mistake("the kernel was counted as n weights instead of n×n",
            lambda n, c_in, c_out, bias=True: n * c_in * c_out + (c_out if bias else 0)),
    Mistake("the input channels are forgotten: each filter spans all c_in input channels",
            lambda n, c_in, c_out, bias=True: n * n * c_out + (c_out if bias else 0)),
    Mistake("bias=False was ignored: without bias only the n*n*c_in*c_out weights remain",
            lambda n, c_in, c_out, bias=True: n * n * c_in * c_out + c_out),
]


def _size_mistakes(window: str) -> list[Mistake]:
    return [
        Mistake(f"floor instead of ceil: without padding the output size is ceil((w-{window}+1)/stride), "
                f"i.e. floor((w+2*padding-{window})/stride) + 1",
                lambda w, n, stride=1, padding=0: floor((w + 2 * padding - n + 1) / (stride or n))),
        Mistake("the +1 is missing: the kernel also fits at position 0, "
                f"so the size is floor((w+2*padding-{window})/stride) + 1",
                lambda w, n, stride=1, padding=0: (w + 2 * padding - n) // (stride or n)),
        Mistake("padding counted once instead of twice: the input grows by `padding` on both sides, w + 2*padding",
                lambda w, n, stride=1, padding=0: (w + padding - n) // (stride or n) + 1),
        Mistake("the stride is ignored: with stride s only every s-th position is kept",
                lambda w, n, stride=1, padding=0: w + 2 * padding - n + 1),
        Mistake("ceil was applied to the floor formula: ceil((w+2p-n)/s)+1 counts a window that does not fit",
                lambda w, n, stride=1, padding=0: ceil((w + 2 * padding - n) / (stride or n)) + 1),
    ]


OUTPUT_SIZE_MISTAKES = _size_mistakes("n")
POOL_SIZE_MISTAKES = [
    *_size_mistakes("z"),
    Mistake("stride=None must mean stride=z (non-overlapping windows), not stride=1",
            lambda w, z, stride=None, padding=0: (w + 2 * padding - z) // (stride or 1) + 1),
]
FC_MISTAKES = [
    Mistake("biases were counted; here a fully connected layer counts its weights only, n_inputs*n_hidden",
            lambda n_inputs, n_hidden: n_inputs * n_hidden + n_hidden),
]
LOCAL_MISTAKES = [
    Mistake("the receptive field is field×field pixels: field*field weights per hidden unit",
            lambda n_hidden, field: n_hidden * field),
]
SHARED_MISTAKES = [
    Mistake("with shared weights the count no longer depends on the number of hidden units; "
            "it is field*field*c_in*c_out",
            lambda field, c_in=1, c_out=1: field * field * c_in * c_out * 40_000),
    Mistake("the channels are forgotten: each of the c_out filters spans all c_in input channels",
            lambda field, c_in=1, c_out=1: field * field),
    Mistake("biases were counted; shared weights here are the kernel weights only",
            lambda field, c_in=1, c_out=1: field * field * c_in * c_out + c_out),
]


def _unvalidated(what: str, formula: Callable[..., int]) -> Mistake:
    """A bad argument let through: the answer is the formula's, where a ValueError was due."""
    return Mistake(f"{what} was not validated: every argument is checked on its own, and a size, kernel, "
                   "window, stride or channel count below 1 raises ValueError whatever the other arguments are",
                   formula)


def _pool_formula(w: int, z: int, stride: int | None = None, padding: int = 0) -> int:
    return (w + 2 * padding - z) // (stride or z) + 1


WIDTH_NOT_VALIDATED = _unvalidated("the width w", lambda w, n, stride=1, padding=0: (w + 2 * padding - n) // stride + 1)
POOL_WIDTH_NOT_VALIDATED = _unvalidated("the width w", _pool_formula)
WINDOW_NOT_VALIDATED = _unvalidated("the window z", _pool_formula)
FC_HIDDEN_NOT_VALIDATED = _unvalidated("the number of hidden units", lambda n_inputs, n_hidden: n_inputs * n_hidden)
LOCAL_HIDDEN_NOT_VALIDATED = _unvalidated(
    "the number of hidden units", lambda n_hidden, field: n_hidden * field * field)
CHANNELS_NOT_VALIDATED = _unvalidated(
    "the number of channels (c_in, c_out)", lambda field, c_in=1, c_out=1: field * field * c_in * c_out)

CHECKS = [
    # conv_params: a 3×3 kernel, grey image, one filter; the first layer of VGG (3×3, 3→64)
    returns("one-filter", "conv_params", 3, 1, 1, expect=10, mistakes=CONV_PARAMS_MISTAKES),
    returns("vgg-first-layer", "conv_params", 3, 3, 64, expect=1_792, mistakes=CONV_PARAMS_MISTAKES),
    returns("no-bias", "conv_params", 5, 6, 16, bias=False, expect=2_400, mistakes=CONV_PARAMS_MISTAKES),
    raises("zero-kernel", ValueError, "conv_params", 0, 1, 1, why="a kernel below 1"),
    # conv_output_size: LeNet's 32 → 28 with a 5×5 kernel; stride and padding
    returns("lenet", "conv_output_size", 32, 5, expect=28, mistakes=OUTPUT_SIZE_MISTAKES),
    returns("stride", "conv_output_size", 7, 3, stride=2, expect=3, mistakes=OUTPUT_SIZE_MISTAKES),
    returns("same-padding", "conv_output_size", 5, 3, padding=1, expect=5, mistakes=OUTPUT_SIZE_MISTAKES),
    raises("kernel-too-large", ValueError, "conv_output_size", 3, 5, why="the kernel does not fit in the input"),
    # pool_output_size: the slides' 4×4 → 2×2; AlexNet's overlapping pooling 55 → 27
    returns("slides-2x2", "pool_output_size", 4, 2, expect=2, mistakes=POOL_SIZE_MISTAKES),
    returns("overlapping", "pool_output_size", 55, 3, stride=2, expect=27, mistakes=POOL_SIZE_MISTAKES),
    raises("zero-stride", ValueError, "pool_output_size", 8, 2, stride=0, why="a stride below 1"),
    # the slides' 200×200 image with 40,000 hidden units
    returns("slides", "fully_connected_params", 40_000, 40_000, expect=1_600_000_000, mistakes=FC_MISTAKES),
    returns("slides", "locally_connected_params", 40_000, 10, expect=4_000_000, mistakes=LOCAL_MISTAKES),
    returns("slides-one-filter", "shared_weights_params", 10, expect=100, mistakes=SHARED_MISTAKES),
    returns("slides-ten-filters", "shared_weights_params", 10, c_out=10, expect=1_000, mistakes=SHARED_MISTAKES),
    returns("slides-ten-in-ten-out", "shared_weights_params", 10, 10, 10, expect=10_000, mistakes=SHARED_MISTAKES),
]
