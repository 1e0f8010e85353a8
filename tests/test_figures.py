"""Report pictures: a decision boundary drawn with numpy is a PNG any reader opens, with the
regions, dots and crosses where the data puts them (read back with Pillow, not our own code)."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

from grader.datasets import grid
from grader.figures import BOUNDARY_PIXELS, CLASS_COLOURS, FRAME, REGION_ALPHA, decision_boundary, png_bytes

BLUE, ORANGE = (np.array([int(c[i:i + 2], 16) for i in (1, 3, 5)]) for c in CLASS_COLOURS[:2])


def _pixels(png: bytes) -> np.ndarray:
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG" and image.mode == "RGB"
    return np.asarray(image).astype(int)


def _pale(colour: np.ndarray) -> np.ndarray:
    return np.round(255 * (1 - REGION_ALPHA) + REGION_ALPHA * colour).astype(int)


def _at(extent: tuple[float, float, float, float], x: float, y: float) -> tuple[int, int]:
    """The pixel (row, column) of the point (x, y)."""
    x0, x1, y0, y1 = extent
    return (round((y1 - y) / (y1 - y0) * (BOUNDARY_PIXELS - 1)), round((x - x0) / (x1 - x0) * (BOUNDARY_PIXELS - 1)))


@pytest.mark.parametrize("height,width", [(1, 1), (3, 5), (7, 2)])
def test_png_bytes_round_trip(height: int, width: int) -> None:
    rgb = np.random.default_rng(height * width).integers(0, 256, (height, width, 3), dtype=np.uint8)
    assert np.array_equal(_pixels(png_bytes(rgb)), rgb)
    assert png_bytes(rgb) == png_bytes(rgb.copy())


def test_boundary_regions_dots_and_crosses_are_where_the_data_is() -> None:
    X = torch.tensor([[-1.0, -1.0], [1.0, 1.0], [1.0, -1.0]])
    y = torch.tensor([0, 1, 0])
    predicted = torch.tensor([0, 1, 1])  # the last point is wrong
    points, extent = grid(X)
    left_or_right = (points[:, 0] > 0).long()  # class 0 left of x = 0, class 1 right of it
    picture = decision_boundary("xor", "accuracy 67%", left_or_right, extent, X, y, predicted, 2)
    pixels = _pixels(picture.png)
    assert pixels.shape == (BOUNDARY_PIXELS, BOUNDARY_PIXELS, 3)
    assert (pixels[0] == FRAME).all() and (pixels[:, -1] == FRAME).all()
    assert np.array_equal(pixels[_at(extent, -0.5, 0.9)], _pale(BLUE))  # regions, far from any point
    assert np.array_equal(pixels[_at(extent, 0.5, 0.0)], _pale(ORANGE))
    assert np.array_equal(pixels[_at(extent, -1.0, -1.0)], BLUE)  # right: a dot of its true class
    assert np.array_equal(pixels[_at(extent, 1.0, 1.0)], ORANGE)
    assert (pixels[_at(extent, 1.0, -1.0)] == 0).all()  # wrong: a black cross
    hidden = _pixels(decision_boundary("xor", "", left_or_right, extent, None, y, predicted, 2).png)
    assert np.array_equal(hidden[_at(extent, -1.0, -1.0)], _pale(BLUE))  # no points: only the regions


def test_classes_outside_the_palette_are_clipped_not_an_error() -> None:
    X = torch.tensor([[0.0, 0.0], [1.0, 1.0]])
    points, extent = grid(X)
    too_many = torch.full((len(points),), 7)  # a model with more outputs than the split has classes
    pixels = _pixels(decision_boundary("m", "", too_many, extent, X, torch.tensor([5, -1]), too_many[:2], 2).png)
    assert np.array_equal(pixels[_at(extent, 0.5, 0.2)], _pale(ORANGE))
