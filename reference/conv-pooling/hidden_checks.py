"""Hidden checks of conv-pooling (instructor only): the same oracles on inputs from a hidden seed.

Other sizes (1×1 output, kernel equal to the image, one row of windows), one and three
channels, 5×5 kernels, strides 2 and 3 that do not divide, padding 2, and every bad-argument
case of the contract.
"""

from grader.assignments import public_checks
from grader.checks import forbid, hide, raises, returns

P = public_checks("conv-pooling")  # the public checks module: oracles, mistakes, rules
SEED = 914_173_205
draw = P.drawer(SEED)
K3, K5 = P.asymmetric(draw(3, 3)), P.asymmetric(draw(5, 5))
F32 = P.FLOAT
more = P.drawer(SEED + 1)  # the inputs of the checks added for `--mutants` (the first stream is unchanged)
M3, M5 = P.asymmetric(more(3, 3)), P.asymmetric(more(5, 5))


def _xcorr(name: str, *args: object, **kwargs: object) -> object:
    return returns(name, "cross_correlation2d", *args, oracle=P.cross_correlation2d, tolerance=F32,
                   mistakes=P.XCORR_MISTAKES, **kwargs)


def _conv(name: str, *args: object, **kwargs: object) -> object:
    return returns(name, "convolution2d", *args, oracle=P.convolution2d, tolerance=F32,
                   mistakes=P.CONV_MISTAKES, **kwargs)


def _layer(name: str, *args: object, **kwargs: object) -> object:
    return returns(name, "conv_layer", *args, oracle=P.conv_layer, tolerance=F32,
                   mistakes=P.LAYER_MISTAKES, **kwargs)


def _pool(kind: str, name: str, *args: object, **kwargs: object) -> object:
    oracle, mistakes = (P.max_pool2d, P.MAX_MISTAKES) if kind == "max" else (P.avg_pool2d, P.AVG_MISTAKES)
    return returns(name, f"{kind}_pool2d", *args, oracle=oracle, tolerance=F32, mistakes=mistakes, **kwargs)


CHECKS = forbid(P.RULES, hide([
    _xcorr("valid-5x5", draw(9, 11), K5),
    _xcorr("kernel-equals-image", draw(5, 5), K5),
    _xcorr("zero-5x5", draw(7, 6), K5, boundary="zero"),
    _xcorr("mirror-3x3", draw(5, 7), K3, boundary="mirror"),
    _xcorr("mirror-small", draw(3, 4), K5, boundary="mirror"),
    _xcorr("one-by-one-kernel", draw(4, 6), P.asymmetric(draw(1, 1)), boundary="mirror"),
    raises("three-dimensions", ValueError, "cross_correlation2d", draw(2, 6, 6), K3),
    raises("kernel-too-large", ValueError, "cross_correlation2d", draw(4, 6), K5),
    _xcorr("zero-image-smaller-than-kernel", more(2, 6), M5, boundary="zero"),
    raises("mirror-image-too-small", ValueError, "cross_correlation2d", more(2, 6), M5, boundary="mirror",
           why="a 5×5 kernel reaches 2 pixels out: the mirror needs an image larger than 2 in both directions"),
    raises("three-dimensional-image", ValueError, "cross_correlation2d", more(4, 6, 6), M3,
           why="x must be (H, W), even when it is large enough for the kernel"),
    raises("three-dimensional-kernel", ValueError, "cross_correlation2d", more(6, 6), more(3, 3, 3),
           why="k must be (m, m)"),
    raises("even-width-kernel", ValueError, "cross_correlation2d", more(6, 7), more(3, 4),
           why="a (3, 4) kernel: both sides must be the same odd size", mistakes=P.XCORR_HEIGHT_ONLY),
    raises("even-height-kernel", ValueError, "cross_correlation2d", more(7, 6), more(4, 3),
           why="a (4, 3) kernel: both sides must be the same odd size"),

    _conv("valid-5x5", draw(10, 9), K5),
    _conv("zero-3x3", draw(5, 8), K3, boundary="zero"),
    _conv("mirror-3x3", draw(6, 5), K3, boundary="mirror"),
    _conv("mirror-small", draw(4, 3), K5, boundary="mirror"),
    raises("unknown-boundary", ValueError, "convolution2d", draw(6, 6), K3, boundary="reflect"),
    raises("three-dimensions", ValueError, "convolution2d", draw(6, 6), draw(3, 3, 3)),
    _conv("kernel-fits-exactly", more(5, 7), M5),
    _conv("zero-image-smaller-than-kernel", more(6, 2), M5, boundary="zero"),
    raises("kernel-too-large", ValueError, "convolution2d", more(6, 4), M5,
           why="with boundary=\"valid\" a 5×5 kernel must fit in the 6×4 image: it does not fit its width"),
    raises("mirror-image-too-small", ValueError, "convolution2d", more(6, 2), M5, boundary="mirror",
           why="a 5×5 kernel reaches 2 pixels out: the mirror needs an image larger than 2 in both directions"),
    raises("three-dimensional-image", ValueError, "convolution2d", more(4, 6, 6), M3,
           why="x must be (H, W), even when it is large enough for the kernel"),
    raises("one-dimensional-kernel", ValueError, "convolution2d", more(6, 6), more(3),
           why="k must be (m, m): check the arguments before flipping the kernel"),
    raises("even-width-kernel", ValueError, "convolution2d", more(6, 7), more(3, 4),
           why="a (3, 4) kernel: both sides must be the same odd size", mistakes=P.CONV_HEIGHT_ONLY),
    raises("even-height-kernel", ValueError, "convolution2d", more(7, 6), more(4, 3),
           why="a (4, 3) kernel: both sides must be the same odd size"),

    _layer("three-to-three", draw(3, 11, 9), P.asymmetric(draw(3, 3, 3, 3)), draw(3)),
    _layer("stride-two-not-dividing", draw(3, 12, 9), P.asymmetric(draw(2, 3, 3, 3)), draw(2), stride=2),
    _layer("padding-two-5x5", draw(2, 8, 7), P.asymmetric(draw(3, 2, 5, 5)), draw(3), padding=2),
    _layer("stride-three-padding-one", draw(1, 13, 14), P.asymmetric(draw(2, 1, 3, 3)), draw(2),
           stride=3, padding=1),
    _layer("one-by-one-kernel", draw(3, 5, 6), draw(4, 3, 1, 1), draw(4)),
    _layer("kernel-equals-input", draw(2, 5, 5), P.asymmetric(draw(3, 2, 5, 5)), draw(3)),
    raises("mismatched-bias", ValueError, "conv_layer", draw(2, 6, 6), draw(3, 2, 3, 3), draw(2)),
    raises("two-dimensions", ValueError, "conv_layer", draw(6, 6), draw(1, 1, 3, 3), draw(1)),
    raises("kernel-too-large", ValueError, "conv_layer", draw(1, 4, 4), draw(1, 1, 5, 5), draw(1)),
    raises("kernel-too-tall", ValueError, "conv_layer", more(1, 4, 8), more(1, 1, 5, 5), more(1),
           why="a 5×5 kernel must fit in the height of the (padded) input, 4, as in its width"),
    raises("kernel-too-wide", ValueError, "conv_layer", more(1, 8, 4), more(1, 1, 5, 5), more(1),
           why="a 5×5 kernel must fit in the width of the (padded) input, 4, as in its height"),
    raises("image-without-channel-axis", ValueError, "conv_layer", more(2, 7), more(3, 2, 3, 3), more(3),
           why="x must be (c_in, H, W), even when its first size equals c_in"),
    raises("two-dimensional-bias", ValueError, "conv_layer", more(2, 6, 6), more(3, 2, 3, 3), more(3, 1),
           why="b must be (c_out,), even when its first size equals c_out"),

    _pool("max", "overlapping-three-channels", draw(3, 11, 10), 3, stride=2),
    _pool("max", "stride-three", draw(13, 11), 2, stride=3),
    _pool("max", "window-equals-input", draw(2, 5, 5), 5),
    _pool("max", "one-row-of-windows", draw(3, 8), 3),
    raises("window-too-wide", ValueError, "max_pool2d", draw(2, 6, 4), 5),
    raises("four-dimensions", ValueError, "max_pool2d", draw(1, 2, 6, 6), 2),
    _pool("max", "one-by-one-window", more(2, 3, 4), 1),
    _pool("max", "stride-one", more(6, 7), 3, stride=1),
    raises("window-too-high", ValueError, "max_pool2d", more(4, 6), 5,
           why="a 5×5 window must fit in the height, 4, as in the width"),

    _pool("avg", "overlapping-three-channels", draw(3, 10, 11), 3, stride=2),
    _pool("avg", "stride-three", draw(11, 13), 2, stride=3),
    _pool("avg", "window-equals-input", draw(5, 5), 5),
    _pool("avg", "overlapping-2d", draw(9, 7), 3, stride=2),
    raises("window-too-high", ValueError, "avg_pool2d", draw(3, 9), 4),
    raises("four-dimensions", ValueError, "avg_pool2d", draw(1, 1, 6, 6), 3),
    _pool("avg", "one-by-one-window", more(2, 4, 3), 1),
    _pool("avg", "stride-one", more(7, 6), 3, stride=1),
    raises("window-too-wide", ValueError, "avg_pool2d", more(6, 4), 5,
           why="a 5×5 window must fit in the width, 4, as in the height"),
    raises("window-too-wide-three-channels", ValueError, "avg_pool2d", more(2, 6, 4), 5,
           why="a 5×5 window must fit in the width of each channel, 4 (the last size of (C, H, W))"),
]))
