"""A scratch folder of each sandbox's own, with a byte limit and a file-count limit.

Where the grader may mount (root, or CAP_SYS_ADMIN), each scratch folder is a tmpfs of its own,
mounted with ``size=``, ``nr_inodes=``, ``nosuid,nodev``: the kernel refuses a write or a new
file past the limits (ENOSPC, "No space left on device") to that sandbox only, at once, and no
other sandbox's room changes whatever one of them does. Elsewhere the folder is a plain one
(the fallback) and the grader counts it itself every few tenths of a second, stopping the child
that goes past (`ScratchSpace.over_limit`); it can then go past its limit for that long, and, when
the grader is not root, hide files in a folder it made unreadable.

The tmpfs's root has mode 0700, like the folder `tempfile.mkdtemp` makes, and is root's until
sandbox.hand_over gives it to the student's user. It is not ``noexec``: torch.compile loads the
libraries it builds in TMPDIR.

A tmpfs lives in memory: its pages are charged to the memory control group of the process that
writes them, so a student's files count against that sandbox's memory limit too (where it has a
control group of its own), and stay charged until the tmpfs is unmounted: call `remove` as soon
as the sandbox's processes are stopped, before its control group is removed.

Each mount's source is ``coursegrade:<pid of the grader>`` (see /proc/self/mountinfo), so that
`sweep_stale` can unmount what a grader that was killed left behind.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import re
import shutil
import stat
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Protocol

MS_NOSUID, MS_NODEV = 2, 4
MNT_DETACH = 2
SOURCE = "coursegrade"  # the mount's source is SOURCE:<pid of the grader that mounted it>
WALK_EVERY = 0.5  # the fallback counts its folder at most this often (seconds)...
WALK_SHARE = 10  # ...and waits at least this many times as long as the last count took
MAX_DEPTH = 100  # the fallback does not count deeper; a folder nested deeper stops the child
FULL_MARGIN = 2**20  # a tmpfs with less room than this (or 1 % of its size) is full
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]


def size_text(n: int) -> str:
    """`n` bytes in the largest binary unit it is at least one of: "2 GiB", "1.5 MiB", "100 B"."""
    for unit, power in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 2**power:
            return f"{n / 2**power:.3g} {unit}"
    return f"{n} B"


def _mount_tmpfs(folder: Path, bytes_limit: int, files_limit: int, mode: int, pid: int) -> None:
    """Mount a tmpfs on `folder`: `files_limit` names besides its root (which takes an inode)."""
    options = f"size={bytes_limit},nr_inodes={files_limit + 1},mode={mode:04o}"
    flags = MS_NOSUID | MS_NODEV
    if _libc.mount(f"{SOURCE}:{pid}".encode(), os.fsencode(folder), b"tmpfs", flags, options.encode()) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code), str(folder))


def _unmount(folder: Path) -> bool:
    """Unmount `folder` (lazily when it is busy); False when it was not a mount point."""
    for flags in (0, MNT_DETACH):
        if _libc.umount2(os.fsencode(folder), flags) == 0:
            return True
        code = ctypes.get_errno()
        if code in (errno.EINVAL, errno.ENOENT):
            return False
        if code != errno.EBUSY:
            raise OSError(code, os.strerror(code), str(folder))
    return False  # not reached: MNT_DETACH never answers EBUSY


def _why_not_mount(error: OSError) -> str:
    if error.errno == errno.EPERM:
        return "the grader may not mount a tmpfs here (it needs root or CAP_SYS_ADMIN)"
    return f"mounting a tmpfs failed: {error.strerror}"


class _Listing(Iterator[os.DirEntry[str]], Protocol):
    """What os.scandir returns."""

    def close(self) -> None: ...


@dataclass
class _Count:
    """What a bounded walk of a plain folder found (a lower bound once over a limit)."""

    bytes: int = 0
    files: int = 0
    too_deep: bool = False


def _count_entry(entry: os.DirEntry[str], count: _Count, linked: set[tuple[int, int]]) -> None:
    count.files += 1
    try:
        info = entry.stat(follow_symlinks=False)
    except OSError:  # gone meanwhile
        return
    if info.st_nlink > 1 and not stat.S_ISDIR(info.st_mode):
        if (info.st_dev, info.st_ino) in linked:
            return  # a hard link: its blocks are counted once
        linked.add((info.st_dev, info.st_ino))
    count.bytes += info.st_blocks * 512  # what it takes on disk: fallocate counts, holes do not


def _open_child(entry: os.DirEntry[str], parent: int) -> int | None:
    if not entry.is_dir(follow_symlinks=False):
        return None
    try:
        return os.open(entry.name, _DIR_FLAGS, dir_fd=parent)
    except OSError:  # gone, or replaced by a link meanwhile
        return None


def _push(stack: list[tuple[int, _Listing]], fd: int) -> None:
    try:
        stack.append((fd, os.scandir(fd)))
    except OSError:
        os.close(fd)
        raise


def count_folder(folder: Path, bytes_limit: int, files_limit: int) -> _Count:
    """Bytes (allocated blocks) and names under `folder`, through descriptors, never following a
    link; it stops once either passes its limit, or at a folder MAX_DEPTH deep (`too_deep`)."""
    count, linked = _Count(), set[tuple[int, int]]()  # hard-linked (device, inode)s seen
    stack: list[tuple[int, _Listing]] = []
    try:
        _push(stack, os.open(folder, _DIR_FLAGS))
        while stack and count.bytes <= bytes_limit and count.files <= files_limit:
            fd, entries = stack[-1]
            entry = next(entries, None)
            if entry is None:
                stack.pop()
                entries.close()
                os.close(fd)
                continue
            _count_entry(entry, count, linked)
            child = _open_child(entry, fd)
            if child is not None and len(stack) >= MAX_DEPTH:
                os.close(child)
                count.too_deep = True
                break
            if child is not None:
                _push(stack, child)
    except OSError:
        pass  # the folder went away: what was counted stands
    finally:
        for fd, entries in stack:
            entries.close()
            os.close(fd)
    return count


class ScratchSpace:
    """One sandbox's scratch folder: a tmpfs of its own where the grader may mount, else a plain
    folder it watches. Use `ScratchSpace.create`, and `remove` (or a ``with`` block) when done.

    `path` is the folder; `limited` is True when the kernel holds the limits; `why_not` says why
    it does not ("" when it does); `bytes_limit`, `files_limit` as asked; `removed` after `remove`.
    """

    def __init__(self, path: Path, bytes_limit: int, files_limit: int, why_not: str) -> None:
        self.path = path
        self.bytes_limit = bytes_limit
        self.files_limit = files_limit
        self.why_not = why_not  # "" when the kernel holds the limits
        self.limited = not why_not
        self.removed = False
        self._reason = ""
        self._next_walk = 0.0

    @classmethod
    def create(cls, bytes_limit: int, files_limit: int, prefix: str = "coursegrade-", *,
               mount: bool = True, parent: str | None = None, mode: int = 0o700) -> ScratchSpace:
        """A new empty folder (as `tempfile.mkdtemp(prefix, dir=parent)` makes it) with room for
        `bytes_limit` bytes (rounded up to whole pages) and `files_limit` names (files, folders,
        links); a tmpfs with mode `mode` when `mount` and the grader may mount, else a plain folder
        with `why_not` saying why. Raises ValueError for a limit below 1 (0 would be unlimited)."""
        if bytes_limit < 1 or files_limit < 1:
            raise ValueError(f"scratch limits must be at least 1, not {bytes_limit} bytes, {files_limit} files")
        path = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
        why_not = "" if mount else "a plain folder was asked for (mount=False)"
        if mount:
            try:
                _mount_tmpfs(path, bytes_limit, files_limit, mode, os.getpid())
            except OSError as error:
                why_not = _why_not_mount(error)
        return cls(path, bytes_limit, files_limit, why_not)

    def __enter__(self) -> ScratchSpace:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.remove()

    def usage(self) -> tuple[int, int]:
        """Bytes and names in the folder (its root not counted). On the tmpfs: exact, from statvfs.
        On a plain folder: a walk that stops once past a limit (then the numbers are a lower bound).
        (0, 0) once removed."""
        if self.removed:
            return 0, 0
        if self.limited:
            info = os.statvfs(self.path)
            return (info.f_blocks - info.f_bfree) * info.f_frsize, info.f_files - info.f_ffree - 1
        count = count_folder(self.path, self.bytes_limit, self.files_limit)
        return count.bytes, count.files

    def over_limit(self) -> str:
        """Why the grader must stop the child ("" when it need not). Only a plain folder ever says
        so (the kernel holds the tmpfs's limits); it is counted at most every WALK_EVERY s (and
        WALK_SHARE times as long as its last count took), so call it as often as you like.
        Once said, the reason stays."""
        now = time.monotonic()
        if self.limited or self._reason or now < self._next_walk:
            return self._reason
        count = count_folder(self.path, self.bytes_limit, self.files_limit)
        took = time.monotonic() - now
        self._next_walk = now + max(WALK_EVERY, WALK_SHARE * took)
        self._reason = self._reason_for(count)
        return self._reason

    def _reason_for(self, count: _Count) -> str:
        if count.bytes > self.bytes_limit:
            return f"stopped: wrote more than {size_text(self.bytes_limit)} to its folder"
        if count.files > self.files_limit:
            return f"stopped: more than {self.files_limit:,} files in its folder"
        if count.too_deep:
            return f"stopped: folders nested more than {MAX_DEPTH} deep in its folder"
        return ""

    def full(self) -> str:
        """A note when the tmpfs has (nearly) no room left, bytes or names: the student's code was
        then refused writes ("No space left on device"); "" otherwise, and always on a plain folder."""
        if not self.limited or self.removed:
            return ""
        info = os.statvfs(self.path)
        size = info.f_blocks * info.f_frsize
        notes = []
        if info.f_bavail * info.f_frsize < min(FULL_MARGIN, size // 100 + 1):
            notes.append(f"its folder is full ({size_text(size)})")
        if info.f_favail == 0:
            notes.append(f"its folder holds as many files as it may ({self.files_limit:,})")
        return "; ".join(notes)

    def remove(self) -> None:
        """Unmount the tmpfs (detached if something still holds a file open: its memory is freed
        when the last one is closed), then remove the folder, never following a link in it.
        Safe to call again."""
        if self.removed:
            return
        self.removed = True
        if self.limited:
            with contextlib.suppress(OSError):  # then rmtree still empties it (its memory is freed)
                _unmount(self.path)
        shutil.rmtree(self.path, ignore_errors=True)  # descriptor-based on Linux: links are removed, not followed


def _stale_mounts(mountinfo: str) -> list[tuple[Path, int]]:
    """Mount points and grader pids of this module's tmpfs mounts in /proc/self/mountinfo text."""
    found = []
    for line in mountinfo.splitlines():
        fields = line.split()
        if "-" not in fields:
            continue
        tail = fields[fields.index("-") + 1:]
        if len(tail) < 2 or len(fields) < 5:
            continue
        source, _, pid = tail[1].partition(":")
        if tail[0] == "tmpfs" and source == SOURCE and pid.isdigit():
            point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m[1], 8)), fields[4])  # \040 is a space
            found.append((Path(point), int(pid)))
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # PermissionError: it runs, as another user
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def sweep_stale() -> list[Path]:
    """Unmount and remove the scratch tmpfs mounts left by a grader process that no longer runs
    (killed before it could `remove` them: they hold memory). The folders they were mounted on
    are removed only when empty. Returns the folders unmounted."""
    try:
        with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as f:
            mounts = _stale_mounts(f.read())
    except OSError:
        return []
    swept = []
    for point, pid in mounts:
        if pid == os.getpid() or _alive(pid):
            continue
        with contextlib.suppress(OSError):
            if _unmount(point):
                swept.append(point)
            os.rmdir(point)
    return swept
