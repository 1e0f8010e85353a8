"""The data the grader owns: toy 2D datasets and the 8×8 digits, deterministic from a seed.

Datasets are made here, in the grader's process. Only the inputs of a split (and the
training labels) are sent to the student's process; the test labels stay here. Blobs,
moons and circles come from scikit-learn's generators; XOR and the 3-arm spiral, which
scikit-learn has no generator for, are written here.

A split, once made, is kept in this process and in the user's cache folder
(grader/dataset_cache.py): a student's second `grade` neither imports scikit-learn nor
generates again.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .dataset_cache import cached_arrays

TOY2D = ("blobs", "moons", "circles", "xor", "spiral")
BLOB_CENTERS = ((1.5, 2.0), (4.5, 2.0), (3.0, 4.5))  # off the origin: no lucky untrained model


@dataclass(frozen=True)
class Split:
    """A dataset cut into a training split and a test split (tensors: float32 inputs, int64 labels)."""

    name: str
    X_train: Any
    y_train: Any
    X_test: Any
    y_test: Any
    n_classes: int

    @property
    def in_features(self) -> int:
        return int(self.X_train[0].numel())


def _blobs(n: int, rng: np.random.RandomState) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import make_blobs

    X, y = make_blobs(n_samples=n, centers=np.array(BLOB_CENTERS), cluster_std=0.45, random_state=rng)
    return X, y


def _moons(n: int, rng: np.random.RandomState) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import make_moons

    X, y = make_moons(n_samples=n, noise=0.15, random_state=rng)
    return (X - (0.5, 0.25)) / 0.8, y


def _circles(n: int, rng: np.random.RandomState) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import make_circles

    X, y = make_circles(n_samples=n, noise=0.08, factor=0.5, random_state=rng)
    return X * 1.5, y


def _xor(n: int, rng: np.random.RandomState) -> tuple[np.ndarray, np.ndarray]:
    """The XOR of two bits: Gaussian clusters at the corners of [0, 2]², class 1 where the bits differ.

    Off the origin on purpose: around it, an untrained ReLU network's random kinks happened to
    cut XOR right (96.7 % on one seed in 100); here the best untrained run stays near 83 %.
    """
    corners = rng.randint(0, 4, size=n)
    bits = np.array([(1, 1), (0, 0), (1, 0), (0, 1)], dtype=float)[corners]
    X = 2.0 * bits + rng.normal(scale=0.35, size=(n, 2))
    return X, (corners >= 2).astype(np.int64)


def _spiral(n: int, rng: np.random.RandomState, arms: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """`arms` interleaved spiral arms, one class each (as in CS231n's classic example)."""
    y = rng.randint(0, arms, size=n)
    radius = rng.uniform(0.05, 1.0, size=n)
    angle = y * (2 * np.pi / arms) + radius * 4.0 + rng.normal(scale=0.2, size=n)
    X = 1.5 * np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)
    return X, y.astype(np.int64)


GENERATORS: dict[str, tuple[Callable[[int, np.random.RandomState], tuple[np.ndarray, np.ndarray]], int]] = {
    "blobs": (_blobs, 3),
    "moons": (_moons, 2),
    "circles": (_circles, 2),
    "xor": (_xor, 2),
    "spiral": (_spiral, 3),
}


def _random_state(name: str, seed: int) -> np.random.RandomState:
    """A different, fixed stream per dataset for the same grading seed.

    The state is expanded from the whole seed (any size) by numpy's SeedSequence, so a student
    who sees the training points cannot search a small seed space to regenerate the test labels.
    """
    entropy = [seed, *name.encode()]
    return np.random.RandomState(np.random.MT19937(np.random.SeedSequence(entropy)))


def _as_split(name: str, X: np.ndarray, y: np.ndarray, n_train: int, n_classes: int) -> Split:
    import torch

    X_t = torch.tensor(np.asarray(X), dtype=torch.float32)
    y_t = torch.tensor(np.asarray(y), dtype=torch.int64)
    return Split(name, X_t[:n_train], y_t[:n_train], X_t[n_train:], y_t[n_train:], n_classes)


def _toy2d_arrays(name: str, seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    make, _ = GENERATORS[name]
    rng = _random_state(name, seed)
    X, y = make(n, rng)
    order = rng.permutation(len(y))
    return np.asarray(X[order], dtype=np.float32), np.asarray(y[order], dtype=np.int64)


@functools.lru_cache(maxsize=64)
def toy2d(name: str, seed: int, n_train: int = 400, n_test: int = 400) -> Split:
    """The toy dataset `name` for grading seed `seed`, shuffled, then cut into train and test
    (the same object for the same arguments: nothing may change its tensors in place)."""
    n_classes = GENERATORS[name][1]
    X, y = cached_arrays(f"toy2d-{name}-{seed}-{n_train + n_test}",
                         lambda: _toy2d_arrays(name, seed, n_train + n_test))
    return _as_split(name, X, y, n_train, n_classes)


def _digits_arrays(seed: int) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    order = _random_state("digits", seed).permutation(len(bunch.target))
    images = (bunch.images[order] / 16.0).reshape(-1, 1, 8, 8)
    return images.astype(np.float32), bunch.target[order].astype(np.int64)


@functools.lru_cache(maxsize=16)
def digits(seed: int, n_train: int = 1_500) -> Split:
    """scikit-learn's 1,797 8×8 digits (shipped with it, no download), as (N,1,8,8) in [0, 1]."""
    X, y = cached_arrays(f"digits-{seed}", lambda: _digits_arrays(seed))
    return _as_split("digits", X, y, n_train, 10)


def grid(X: Any, steps: int = 80, margin: float = 0.4) -> tuple[Any, tuple[float, float, float, float]]:
    """`steps`×`steps` points covering X's range (inputs for a decision-boundary picture), and that range."""
    import torch

    low = X.min(dim=0).values - margin
    high = X.max(dim=0).values + margin
    xs = torch.linspace(float(low[0]), float(high[0]), steps)
    ys = torch.linspace(float(low[1]), float(high[1]), steps)
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    points = torch.stack([gx.reshape(-1), gy.reshape(-1)], dim=1)
    return points, (float(low[0]), float(high[0]), float(low[1]), float(high[1]))
