"""Hidden checks of conv-arithmetic (instructor only): expected values come from the reference.

Inputs cover the slides' numbers, stride not dividing, padding, a kernel equal to the input,
and every bad-argument case of the contract.
"""

from grader.assignments import public_checks
from grader.checks import REFERENCE, hide, raises, returns

CONV_ARITH = public_checks("conv-arithmetic")  # the public checks module: its known mistakes
_conv = CONV_ARITH.CONV_PARAMS_MISTAKES
_out = CONV_ARITH.OUTPUT_SIZE_MISTAKES
_pool = CONV_ARITH.POOL_SIZE_MISTAKES

CHECKS = hide([
    returns("alexnet-first-layer", "conv_params", 11, 3, 96, expect=REFERENCE, mistakes=_conv),
    returns("one-by-one", "conv_params", 1, 256, 64, expect=REFERENCE, mistakes=_conv),
    returns("no-bias-many-channels", "conv_params", 3, 64, 128, bias=False, expect=REFERENCE, mistakes=_conv),
    raises("zero-in-channels", ValueError, "conv_params", 3, 0, 8),
    raises("zero-out-channels", ValueError, "conv_params", 3, 8, 0),

    returns("stride-not-dividing", "conv_output_size", 9, 3, stride=3, expect=REFERENCE, mistakes=_out),
    returns("stride-not-dividing-2", "conv_output_size", 10, 4, stride=4, expect=REFERENCE, mistakes=_out),
    returns("padding-and-stride", "conv_output_size", 227, 11, stride=4, padding=2, expect=REFERENCE, mistakes=_out),
    returns("padding-two", "conv_output_size", 6, 3, padding=2, expect=REFERENCE, mistakes=_out),
    returns("kernel-equals-input", "conv_output_size", 5, 5, expect=REFERENCE, mistakes=_out),
    returns("padding-lets-kernel-fit", "conv_output_size", 2, 4, padding=1, expect=REFERENCE, mistakes=_out),
    returns("stride-larger-than-input", "conv_output_size", 4, 2, stride=9, expect=REFERENCE, mistakes=_out),
    raises("zero-width", ValueError, "conv_output_size", 0, 1),
    raises("zero-kernel", ValueError, "conv_output_size", 5, 0),
    raises("zero-stride", ValueError, "conv_output_size", 5, 3, stride=0),
    raises("negative-padding", ValueError, "conv_output_size", 5, 3, padding=-1),
    raises("kernel-larger-than-padded-input", ValueError, "conv_output_size", 4, 7, padding=1),
    raises("zero-width-padded", ValueError, "conv_output_size", 0, 1, padding=1,
           why="w = 0 is a bad size even where the padding lets the kernel fit",
           mistakes=[CONV_ARITH.WIDTH_NOT_VALIDATED]),

    returns("odd-input", "pool_output_size", 5, 2, expect=REFERENCE, mistakes=_pool),
    returns("overlapping-odd", "pool_output_size", 13, 3, stride=2, expect=REFERENCE, mistakes=_pool),
    returns("window-equals-input", "pool_output_size", 7, 7, expect=REFERENCE, mistakes=_pool),
    returns("padding", "pool_output_size", 7, 3, stride=2, padding=1, expect=REFERENCE, mistakes=_pool),
    returns("same-padding", "pool_output_size", 5, 3, stride=1, padding=1, expect=REFERENCE, mistakes=_pool),
    returns("one-by-one-window", "pool_output_size", 5, 1, expect=REFERENCE, mistakes=_pool),
    returns("padding-lets-window-fit", "pool_output_size", 2, 4, padding=1, expect=REFERENCE, mistakes=_pool),
    raises("window-too-large", ValueError, "pool_output_size", 3, 4),
    raises("zero-window", ValueError, "pool_output_size", 3, 0),
    raises("zero-window-with-stride", ValueError, "pool_output_size", 3, 0, stride=1,
           why="z = 0 is a bad window whatever the stride", mistakes=[CONV_ARITH.WINDOW_NOT_VALIDATED]),
    raises("zero-width-padded", ValueError, "pool_output_size", 0, 2, padding=1,
           why="w = 0 is a bad size even where the padding lets the window fit",
           mistakes=[CONV_ARITH.POOL_WIDTH_NOT_VALIDATED]),
    raises("window-larger-than-padded-input", ValueError, "pool_output_size", 3, 6, padding=1,
           why="6 > 3 + 2*1: the window does not fit in the padded input"),
    raises("negative-padding", ValueError, "pool_output_size", 6, 2, padding=-1),

    returns("small", "fully_connected_params", 784, 100, expect=REFERENCE, mistakes=CONV_ARITH.FC_MISTAKES),
    returns("one-input", "fully_connected_params", 1, 10, expect=REFERENCE, mistakes=CONV_ARITH.FC_MISTAKES),
    raises("zero-inputs", ValueError, "fully_connected_params", 0, 10),
    raises("zero-hidden", ValueError, "fully_connected_params", 10, 0, why="a layer of no hidden unit",
           mistakes=[CONV_ARITH.FC_HIDDEN_NOT_VALIDATED]),
    returns("small", "locally_connected_params", 100, 3, expect=REFERENCE, mistakes=CONV_ARITH.LOCAL_MISTAKES),
    returns("one-pixel-field", "locally_connected_params", 50, 1, expect=REFERENCE),
    raises("zero-field", ValueError, "locally_connected_params", 10, 0),
    raises("zero-hidden", ValueError, "locally_connected_params", 0, 3, why="a layer of no hidden unit",
           mistakes=[CONV_ARITH.LOCAL_HIDDEN_NOT_VALIDATED]),
    returns("rgb", "shared_weights_params", 5, 3, 6, expect=REFERENCE, mistakes=CONV_ARITH.SHARED_MISTAKES),
    raises("zero-field", ValueError, "shared_weights_params", 0),
    raises("zero-out-channels", ValueError, "shared_weights_params", 3, 2, 0, why="a layer with no output channel",
           mistakes=[CONV_ARITH.CHANNELS_NOT_VALIDATED]),
    raises("zero-in-channels", ValueError, "shared_weights_params", 3, 0, 4, why="a layer with no input channel",
           mistakes=[CONV_ARITH.CHANNELS_NOT_VALIDATED]),
])
