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


@pytest.fixture
def cache_home(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    from grader import dataset_cache

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv(dataset_cache.DISABLE, raising=False)
    dataset_cache.cache_folder.cache_clear()
    toy2d.cache_clear()
    yield tmp_path
    dataset_cache.cache_folder.cache_clear()
    toy2d.cache_clear()


def test_a_split_is_kept_on_disk_and_read_back_the_same(cache_home) -> None:  # type: ignore[no-untyped-def]
    from grader import dataset_cache

    made = toy2d("moons", 11)
    files = list(cache_home.glob("coursegrade/datasets-*/*.npz"))
    assert len(files) == 1
    toy2d.cache_clear()
    calls: list[str] = []
    X, y = dataset_cache.cached_arrays("toy2d-moons-11-800", lambda: calls.append("made") or (None, None))  # type: ignore[func-returns-value]
    assert calls == [] and torch.equal(torch.from_numpy(X[:400]), made.X_train)
    assert torch.equal(toy2d("moons", 11).y_test, made.y_test)
    assert toy2d("moons", 11) is toy2d("moons", 11)  # in-process too


@pytest.mark.parametrize("damage", ["truncate", "edit", "garbage"])
def test_a_damaged_cache_file_is_generated_again(cache_home, damage: str) -> None:  # type: ignore[no-untyped-def]
    import numpy as np

    made = toy2d("xor", 5)
    path = next(cache_home.glob("coursegrade/datasets-*/*.npz"))
    if damage == "truncate":
        path.write_bytes(path.read_bytes()[:200])
    elif damage == "edit":
        with np.load(path) as stored:
            fields = dict(stored)
        fields["y"] = 1 - fields["y"]  # flipped labels, the digest kept: not believed
        np.savez(path, **fields)
    else:
        path.write_bytes(b"\x00" * 64)
    toy2d.cache_clear()
    again = toy2d("xor", 5)
    assert torch.equal(again.y_test, made.y_test) and torch.equal(again.X_train, made.X_train)
    toy2d.cache_clear()
    assert torch.equal(toy2d("xor", 5).y_train, made.y_train)  # rewritten whole


def test_a_folder_others_may_write_is_not_used(cache_home) -> None:  # type: ignore[no-untyped-def]
    from grader import dataset_cache

    folder = dataset_cache.cache_folder()
    assert folder is not None
    folder.chmod(0o777)
    dataset_cache.cache_folder.cache_clear()
    assert dataset_cache.cache_folder() is None
    assert toy2d("blobs", 2).n_classes == 3  # generated, not cached
    assert not list(folder.glob("*.npz"))
