"""A .zip as the LMS hands it out, unpacked into a private folder without trusting its names.

An archive is the students' input too: entries named `../x` or `/etc/x`, links, devices, and
files big enough to fill the disk are all possible. Only the submission files are unpacked
(.ipynb, .py), each capped in size, into a fresh folder only the grader can read; a link in
the archive becomes a link to nothing, and its student gets an error row.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
import time
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from .errors import UsageError
from .intake import SUFFIXES, detect_layout, not_an_export
from .submission import MAX_SUBMISSION_BYTES

MAX_MEMBERS = 100_000
LINK_TARGET = "(a symbolic link in the archive)"  # never followed: the intake refuses links


@contextlib.contextmanager
def opened_export(path: Path) -> Iterator[Path]:
    """The folder of submissions at `path`: the folder itself, or a .zip unpacked for the batch
    (removed afterwards). A single top folder in the archive (`submissions/...`) is entered."""
    if path.is_dir() or path.suffix.lower() != ".zip":
        yield path
        return
    if not path.is_file():
        raise not_an_export(path)
    folder = Path(tempfile.mkdtemp(prefix="coursegrade-export-"))
    try:
        _unpack(path, folder)
        yield _single_top(folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _unpack(archive: Path, folder: Path) -> None:
    try:
        with zipfile.ZipFile(archive) as zipped:
            members = zipped.infolist()
            if len(members) > MAX_MEMBERS:
                raise UsageError(f"{archive} holds more than {MAX_MEMBERS} files")
            for member in members:
                _unpack_member(zipped, member, folder)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as error:
        raise UsageError(f"cannot read {archive} as a .zip: {error}") from None


def _safe_name(member: zipfile.ZipInfo) -> PurePosixPath | None:
    """The member's path inside the folder, or None when it would leave it."""
    name = PurePosixPath(member.filename.replace("\\", "/"))
    if name.is_absolute() or ".." in name.parts or not name.parts or ":" in name.parts[0]:
        return None
    return name


def _unpack_member(zipped: zipfile.ZipFile, member: zipfile.ZipInfo, folder: Path) -> None:
    name = _safe_name(member)
    if name is None or member.is_dir() or name.suffix not in SUFFIXES:
        return
    link = stat.S_ISLNK(member.external_attr >> 16)
    data = b"" if link else _member_data(zipped, member)
    target = folder.joinpath(*name.parts)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        if os.path.lexists(target):  # a name twice in the archive: the later one, as unzip does
            target.unlink()
        if link:
            os.symlink(LINK_TARGET, target)
            return
        with open(target, "xb") as sink:
            sink.write(data)
        stamp = time.mktime((*member.date_time, 0, 0, -1))
        os.utime(target, (stamp, stamp))
    except (OSError, ValueError, OverflowError):  # a name or a date this system refuses
        return


def _member_data(zipped: zipfile.ZipFile, member: zipfile.ZipInfo) -> bytes:
    """A submission's bytes (a bigger one than a submission may be is refused when graded). A damaged
    or unreadable entry makes the archive unreadable: skipping it would drop a student's work unsaid."""
    try:
        with zipped.open(member) as source:
            return source.read(MAX_SUBMISSION_BYTES + 1)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError, ValueError) as error:
        raise zipfile.BadZipFile(f"{member.filename} cannot be unpacked ({error}): download the export again, "
                                 "or grade a folder of what can be unpacked") from None


def _single_top(folder: Path) -> Path:
    """The folder the export is in: a lone top folder that wraps an export (Canvas or Moodle
    names, or folders inside) is entered; a lone student's folder is not."""
    entries = [e for e in folder.iterdir() if not e.name.startswith((".", "_"))]
    if len(entries) == 1 and entries[0].is_dir() and not entries[0].is_symlink():
        inner = entries[0]
        if detect_layout(inner) != "plain" or any(p.is_dir() for p in inner.iterdir()):
            return inner
    return folder
