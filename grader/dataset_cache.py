"""Generated datasets kept on disk, in the grader's own cache folder, between gradings.

Generating a split costs importing scikit-learn (about a second) and the generator itself; a
student who runs `grade` again gets the arrays from `$XDG_CACHE_HOME/coursegrade/datasets`
(`~/.cache/...`). Safe by construction:
- the folder is the user's own cache, never the course or the notebook's folder (which a
  student controls when an instructor grades); it is used only when it is a real folder owned
  by this user that nobody else may write into (created 0700), else nothing is cached;
- each file is written whole under a temporary name, then renamed into place;
- a file is believed only when it loads as plain arrays (`allow_pickle=False`) whose SHA-256,
  stored beside them, matches, and whose key and format version match what was asked:
  anything else (truncated, edited, from an older grader) is generated again and rewritten;
- a key names everything the arrays depend on, and the folder's name includes a hash of the
  generators' source (grader/datasets.py) and of numpy's version, so a changed generator never
  reads arrays an older one made.
The sandbox never sees this folder (bubblewrap binds only the system, Python and the scratch).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .cachedir import private_cache_folder

FORMAT = 1
Arrays = tuple[np.ndarray, np.ndarray]
DISABLE = "COURSEGRADE_NO_DATASET_CACHE"  # set (to anything) to generate every time


@functools.cache
def cache_folder() -> Path | None:
    """The grader's own folder for datasets, or None where none can be used safely."""
    if os.environ.get(DISABLE):
        return None
    return private_cache_folder(f"datasets-{_generators_version()}")


@functools.cache
def _generators_version() -> str:
    source = (Path(__file__).parent / "datasets.py").read_bytes()
    return hashlib.sha256(source + np.__version__.encode() + bytes([FORMAT])).hexdigest()[:16]


def _digest(key: str, X: np.ndarray, y: np.ndarray) -> str:
    hasher = hashlib.sha256(key.encode())
    for array in (X, y):
        hasher.update(f"{array.dtype.str}{array.shape}".encode())
        hasher.update(np.ascontiguousarray(array).tobytes())
    return hasher.hexdigest()


def _read(path: Path, key: str) -> Arrays | None:
    """The arrays stored at `path` for `key`, or None: missing, unreadable or not what was written."""
    try:
        with np.load(path, allow_pickle=False) as stored:
            X, y = stored["X"], stored["y"]
            written_for, digest = str(stored["key"]), str(stored["digest"])
    except Exception:  # a damaged file is any exception numpy's reader can raise: generate again
        return None
    if written_for != key or digest != _digest(key, X, y):
        return None
    return X, y


def _write(folder: Path, path: Path, key: str, X: np.ndarray, y: np.ndarray) -> None:
    """Write the arrays whole beside `path`, then rename them into place (a failure only costs the cache)."""
    buffer = io.BytesIO()
    np.savez(buffer, X=X, y=y, key=np.array(key), digest=np.array(_digest(key, X, y)))
    with contextlib.suppress(OSError):
        fd, temporary = tempfile.mkstemp(prefix=".tmp-", dir=folder)
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(buffer.getvalue())
            os.replace(temporary, path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)


def cached_arrays(key: str, make: Callable[[], Arrays]) -> Arrays:
    """`make()`'s arrays, from the cache folder when a good copy of them is there."""
    folder = cache_folder()
    if folder is None:
        return make()
    path = folder / f"{hashlib.sha256(key.encode()).hexdigest()[:32]}.npz"
    found = _read(path, key)
    if found is not None:
        return found
    X, y = make()
    _write(folder, path, key, X, y)
    return X, y
