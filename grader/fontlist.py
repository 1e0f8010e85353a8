"""matplotlib's font list, built once per machine, read by every fork-server template.

The first `import matplotlib.pyplot` in a fresh MPLCONFIGDIR lists every font on the system
(fc-list, then each file read): 0.2-0.3 s here with 38 fonts, seconds on a desktop with hundreds.
A template's MPLCONFIGDIR is its own empty /tmp, so every cold start paid that. Now:
- the grader builds the list once, outside any sandbox: this Python importing matplotlib's font
  manager in an empty folder, with an empty HOME as the template has (the same fonts are listed:
  the template sees the system's folders and /etc/fonts), no student code anywhere near it;
- it is kept in the grader's own cache folder, `$XDG_CACHE_HOME/coursegrade/matplotlib-VERSION`
  (grader/cachedir.py, as the datasets' folder), written under a temporary folder and renamed
  into place whole;
- a template that imports matplotlib is handed the list as a file descriptor open for reading
  (`opened`, as the system-call filter is handed over), with its name; it copies the list into
  its /tmp and closes the descriptor before it imports anything (grader/zygote.py). Nothing is
  mounted: no sandbox shows the folder, and no child inherits the descriptor. A list matplotlib
  cannot use (another version, a font file gone) is rebuilt by matplotlib in the template.
The first template on a machine starts while the list is being built (by a process of its own), and
lists the fonts itself.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.metadata
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from .cachedir import private_cache_folder

NAME = re.compile(r"^fontlist-v[0-9A-Za-z.]{1,32}\.json$")  # matplotlib's name for it
_BUILD = """
import glob, os, shutil, sys
try:
    import matplotlib.font_manager
    for path in glob.glob(os.path.join(os.environ["MPLCONFIGDIR"], "fontlist-v*.json")):
        os.replace(path, os.path.join(sys.argv[1], os.path.basename(path)))
finally:
    shutil.rmtree(os.environ["MPLCONFIGDIR"], ignore_errors=True)
"""


@functools.cache
def folder() -> Path | None:
    """The grader's folder for this matplotlib's font list; None without matplotlib, or where it is
    not a folder of this user's that nobody else may write into."""
    try:
        return private_cache_folder(f"matplotlib-{importlib.metadata.version('matplotlib')}")
    except importlib.metadata.PackageNotFoundError:
        return None


def built() -> bool:
    return _list() is not None


def _list() -> Path | None:
    path = folder()
    if path is None:
        return None
    try:
        return next((p for p in sorted(path.iterdir()) if NAME.match(p.name)), None)
    except OSError:
        return None


def opened() -> tuple[int, str] | None:
    """The font list open for reading (a descriptor the caller closes) and its name; None until it is built."""
    path = _list()
    if path is None:
        return None
    try:
        return os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC), path.name
    except OSError:
        return None


def build_soon() -> None:
    """Start building the font list, where there is none yet (once per grader process): a process
    of its own, not waited for (no thread in a grader that forks its workers next); it puts the
    list in place when it is done, also after this grader has ended."""
    if not _building and not built():
        _building.append(_start_building())


_building: list[subprocess.Popen[bytes] | None] = []  # the build this process started, kept (a Popen freed early warns)


def build() -> None:
    """Build the font list now (its folder gets it whole, or not at all)."""
    process = _start_building()
    with contextlib.suppress(subprocess.SubprocessError):
        if process is not None:
            process.wait(timeout=300)


def _start_building() -> subprocess.Popen[bytes] | None:
    path = folder()
    if path is None:
        return None
    try:
        scratch = tempfile.mkdtemp(prefix=".build-", dir=path)
        env = {"PATH": "/usr/bin:/bin", "HOME": scratch, "MPLCONFIGDIR": scratch, "MPLBACKEND": "Agg",
               "LANG": "C.UTF-8"}
        return subprocess.Popen([sys.executable, "-c", _BUILD, str(path)], env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    except OSError:
        return None
