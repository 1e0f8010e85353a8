"""The grader's own cache folders, under `$XDG_CACHE_HOME/coursegrade/` (`~/.cache/...`)."""

from __future__ import annotations

import os
import stat
from pathlib import Path


def private_cache_folder(name: str) -> Path | None:
    """`$XDG_CACHE_HOME/coursegrade/NAME`, made 0700 if missing; None unless it is a real folder of
    this user's that nobody else may write into (then nothing is cached there)."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    folder = base / "coursegrade" / name
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = os.lstat(folder)
    except (OSError, RuntimeError):
        return None
    own = not hasattr(os, "getuid") or info.st_uid == os.getuid()
    private = not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    return folder if stat.S_ISDIR(info.st_mode) and own and private else None
