"""The grader's datasets: deterministic from a seed, the shapes and classes the contract says."""

from __future__ import annotations

import pytest
import torch

from grader.datasets import TOY2D, digits, grid, toy2d


@pytest.mark.parametrize("name", TOY2D)
def test_toy_datasets_are_deterministic_and_seed_dependent(name: str) -> None:
    a, b, c = toy2d(name, 3), toy2d(name, 3), toy2d(name, 4)
    assert torch.equal(a.X_train, b.X_train) and torch.equal(a.y_test, b.y_test)
    assert not torch.equal(a.X_train, c.X_train)
    assert a.X_train.dtype == torch.float32 and a.y_train.dtype == torch.int64
    assert a.X_train.shape == (400, 2) and a.X_test.shape == (400, 2)
    counts = torch.bincount(torch.cat([a.y_train, a.y_test]), minlength=a.n_classes)
    assert len(counts) == a.n_classes and counts.min() > 800 / a.n_classes * 0.7


def test_blobs_have_three_classes_and_spiral_three_arms() -> None:
    assert toy2d("blobs", 0).n_classes == 3 and toy2d("spiral", 0).n_classes == 3
    assert toy2d("xor", 0).n_classes == 2


def test_digits_are_split_from_the_bundled_images() -> None:
    split = digits(1)
    assert split.X_train.shape == (1500, 1, 8, 8) and split.X_test.shape == (297, 1, 8, 8)
    assert float(split.X_train.max()) <= 1.0 and split.n_classes == 10
    assert not torch.equal(split.y_test, digits(2).y_test)


def test_grid_covers_the_data() -> None:
    X = torch.tensor([[0.0, 1.0], [2.0, 3.0]])
    points, extent = grid(X, steps=5, margin=0.5)
    assert points.shape == (25, 2)
    assert extent == (-0.5, 2.5, 0.5, 3.5)
