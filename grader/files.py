"""Writing the grader's output files: whole or not at all, and never through a planted link.

The grader (often root) writes into folders others can write to: beside a submission (the
student owns that folder), a class's reports folder. It writes after the student's code ran, and
by then the student may have renamed any folder on the way and put a link in its place. So an
output folder is opened once, when the command starts (`OutputFolder.open`), and every file is
then made relative to that open folder, whatever its path has become:

- each name on the path is opened with O_NOFOLLOW; a symbolic link on the way is followed only
  when root or the user running the grader owns it (a link is the redirection itself: one another
  user made could point anywhere). A folder another user owns is written into: the open folder
  pins where the file goes, so its owner can delete or read the file, never send it elsewhere;
- a file is written to a new, randomly named file (O_CREAT|O_EXCL|O_NOFOLLOW) in the open folder
  and renamed onto its name there (renameat): a link at either name is replaced, never written
  through; a missing subfolder is made there (mkdirat) and opened with O_NOFOLLOW;
- before writing, the folder's path must still lead to the folder opened, and after, the file's
  path to the file written: else an `OutputError` (exit 2 with one line), and nothing is written
  anywhere else.

Reading a submission (`open_to_read`) follows the same rule for links: a student who links
their file to a classmate's, or to anything only the grader can read, is refused, however late
the link was put there; the file is opened once and read from that descriptor.

Where the system cannot open a file relative to a folder (Windows: `grade FILE` runs there in the
student's own kernel, for the student alone) the files are written and read by path, whole as above.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Any, NoReturn

from .errors import OutputError, reason
from .textsafe import valid_unicode

FILE_MODE = 0o644
MAX_LINKS = 40  # as the kernel's ELOOP
_NOFOLLOW, _CLOEXEC = getattr(os, "O_NOFOLLOW", 0), getattr(os, "O_CLOEXEC", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_PATH", os.O_RDONLY)  # O_PATH: search permission is enough
_FOLDER = _DIRECTORY | _NOFOLLOW | _CLOEXEC
_LISTED = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | _CLOEXEC
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC
_TO_READ = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | _CLOEXEC  # a FIFO is not waited on: it is refused
PINNED = bool(_NOFOLLOW) and {os.open, os.mkdir, os.rename, os.unlink, os.stat} <= os.supports_dir_fd


class OutputFolder:
    """A folder the grader writes into, opened once; its files are written relative to it."""

    def __init__(self, path: Path, real: str, fd: int, missing: tuple[str, ...]) -> None:
        self.path = path  # as the user gave it: what messages show
        self._real = real  # the folder opened, its links resolved: what is checked before writing
        self._fd: int | None = fd
        self._missing = missing  # the folders below it still to be made, at the first write
        status = os.fstat(fd)
        self._identity = (status.st_dev, status.st_ino)

    @classmethod
    def open(cls, path: Path) -> OutputFolder:
        """`path` (made at the first write where it is missing), before anyone else's code runs."""
        if not PINNED:
            return _ByPath(path)
        try:
            real, fd, missing = _open_existing(path)
        except LinkRefused as refused:
            raise OutputError(f"cannot use {path} as the output folder: {refused}") from None
        except OSError as error:
            raise OutputError(f"cannot open the output folder {path}: {reason(error)}") from None
        if not _writable(fd):  # said now, not after the grading it was opened for
            os.close(fd)
            made_in = f" (to be made in {real})" if missing else ""
            raise OutputError(f"cannot write into the output folder {path}{made_in}: {os.strerror(errno.EACCES)}")
        return cls(path, real, fd, missing)

    def write(self, name: str, data: str | bytes) -> Path:
        """Write `data` (text as UTF-8) whole to `name` (`file` or `sub/file`) in the folder; its path."""
        content = valid_unicode(data).encode("utf-8") if isinstance(data, str) else data
        *subs, leaf = _names(name)
        shown = self.path.joinpath(*subs, leaf)
        self._check_folder()
        try:
            folder = self._subfolder((*self._missing, *subs), shown.parent, create=True)
            try:
                written = _write_in(folder, leaf, content)
            finally:
                os.close(folder)
        except OSError as error:  # a full disk, a folder at the file's name, a folder made read-only since
            raise OutputError(f"cannot write {shown}: {reason(error)}") from None
        _check_file(shown, written)
        return shown

    def remove(self, name: str) -> None:
        """Remove the file `name` (`file` or `sub/file`) if it is there."""
        *subs, leaf = _names(name)
        try:
            folder = self._subfolder((*self._missing, *subs), self.path.joinpath(*subs), create=False)
        except FileNotFoundError:
            return
        try:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(leaf, dir_fd=folder)
        finally:
            os.close(folder)

    def names(self, sub: str = "") -> list[str]:
        """The names in the folder, or in its subfolder `sub`; none when it is not there."""
        subs = _names(sub) if sub else []
        try:
            folder = self._subfolder((*self._missing, *subs), self.path.joinpath(*subs), create=False)
        except FileNotFoundError:
            return []
        try:
            listed = os.open(".", _LISTED, dir_fd=folder)
        finally:
            os.close(folder)
        try:
            return os.listdir(listed)
        finally:
            os.close(listed)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> OutputFolder:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()

    def __getstate__(self) -> dict[str, Any]:
        """A spawned process opens the folder again, and accepts it only if it is the same folder."""
        return {**self.__dict__, "_fd": None}

    def _folder_fd(self) -> int:
        if self._fd is None:
            try:
                self._fd = os.open(self._real, _DIRECTORY | _CLOEXEC)
            except OSError:
                self._moved()
            self._check_folder()
        return self._fd

    def _check_folder(self) -> None:
        """The folder's path still leads to the folder opened."""
        try:
            status, opened = os.stat(self._real), os.fstat(self._folder_fd())
        except OSError:
            self._moved()
        if (status.st_dev, status.st_ino) != self._identity or (opened.st_dev, opened.st_ino) != self._identity:
            self._moved()

    def _moved(self) -> NoReturn:
        raise OutputError(f"the output folder {self.path} was moved or replaced (by a link?) after the grader "
                          "opened it: nothing was written")

    def _subfolder(self, names: tuple[str, ...], shown: Path, create: bool) -> int:
        """The folder `names` below the open one (made where missing and `create`), never through a link."""
        folder = os.dup(self._folder_fd())
        try:
            for name in names:
                child = _open_child(folder, name, create)
                os.close(folder)
                folder = child
        except OSError as error:
            os.close(folder)
            if error.errno in (errno.ELOOP, errno.ENOTDIR):
                raise OutputError(f"{shown} is not a folder (a link or a file is in its way): "
                                  "nothing was written") from None
            raise
        return folder


class LinkRefused(Exception):
    """A name on a path is in the way: a link another user made, or a file where a folder should be."""


def open_to_read(path: Path) -> int:
    """A descriptor of the file at `path` opened for reading, name by name as output folders are:
    a link on the way, the file itself included, is followed only when root or this user made it
    (else LinkRefused). OSError as open(2) would raise it otherwise."""
    if not PINNED:
        return os.open(path, _TO_READ)
    for _ in range(MAX_LINKS):
        real, folder, missing = _open_existing(path.parent)
        try:
            if missing:
                raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), str(path))
            try:
                return os.open(path.name or ".", _TO_READ | _NOFOLLOW, dir_fd=folder)
            except OSError as error:
                if error.errno != errno.ELOOP:
                    raise
            path = Path(real, _link_target(path.name, folder))
        finally:
            os.close(folder)
    raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), str(path))


def write_atomic(path: Path, data: str | bytes) -> None:
    """Write `data` to `path` whole, for a command that runs no one else's code between choosing
    `path` and writing it; any other opens its `OutputFolder` when it starts."""
    with OutputFolder.open(path.parent) as folder:
        folder.write(path.name, data)


class _ByPath(OutputFolder):
    """Where folders cannot be opened (Windows): the same calls, by path."""

    def __init__(self, path: Path) -> None:
        self.path, self._fd = path, None

    def write(self, name: str, data: str | bytes) -> Path:
        target = self.path.joinpath(*_names(name))
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(prefix=f".{target.name[:200]}.", suffix=".tmp", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(valid_unicode(data).encode("utf-8") if isinstance(data, str) else data)
            os.replace(temporary, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
        return target

    def remove(self, name: str) -> None:
        self.path.joinpath(*_names(name)).unlink(missing_ok=True)

    def names(self, sub: str = "") -> list[str]:
        folder = self.path.joinpath(*_names(sub)) if sub else self.path
        return [p.name for p in folder.iterdir()] if folder.is_dir() else []


def _writable(folder: int) -> bool:
    """This user may make files in the open `folder` (as far as the permissions and the mount say)."""
    try:
        return os.access(".", os.W_OK | os.X_OK, dir_fd=folder, effective_ids=os.access in os.supports_effective_ids)
    except (OSError, NotImplementedError):  # cannot be asked here: the writes will say
        return True


def _names(name: str) -> list[str]:
    parts = name.split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise ValueError(f"not a name within the folder: {name!r}")
    return parts


def _open_existing(path: Path) -> tuple[str, int, tuple[str, ...]]:
    """The deepest folder on `path` that is there, opened name by name: its real path, its
    descriptor, and the names below it still to be made."""
    real = "/" if path.is_absolute() else os.getcwd()
    folder = os.open(real, _FOLDER)
    todo = list(path.parts[1:] if path.is_absolute() else path.parts)
    links = 0
    try:
        while todo:
            name = todo.pop(0)
            try:
                child = os.open(name, _FOLDER, dir_fd=folder)
            except FileNotFoundError:
                return real, folder, _to_make(path, (name, *todo))
            except OSError as error:
                if error.errno not in (errno.ELOOP, errno.ENOTDIR):
                    raise
                target = _link_target(name, folder)
                links += 1
                if links > MAX_LINKS:
                    raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), str(path)) from None
                if target.is_absolute():
                    os.close(folder)
                    real, folder = "/", os.open("/", _FOLDER)
                todo[:0] = target.parts[1:] if target.is_absolute() else target.parts
                continue
            os.close(folder)
            real, folder = os.path.dirname(real) if name == ".." else os.path.join(real, name), child
    except BaseException:
        os.close(folder)
        raise
    return real, folder, ()


def _link_target(name: str, folder: int) -> Path:
    """Where the link `name` in `folder` points, when root or this user made it."""
    status = os.stat(name, dir_fd=folder, follow_symlinks=False)
    if not stat.S_ISLNK(status.st_mode):
        raise LinkRefused(f"{name} is not a folder")
    if status.st_uid not in (0, os.geteuid()):
        raise LinkRefused(f"{name} is a link another user (uid {status.st_uid}) owns; give the real path")
    return Path(os.readlink(name, dir_fd=folder))


def _to_make(path: Path, names: tuple[str, ...]) -> tuple[str, ...]:
    if ".." in names:
        raise OutputError(f"cannot make the output folder {path}: '..' below a folder that is not there")
    return tuple(name for name in names if name != ".")


def _open_child(folder: int, name: str, create: bool) -> int:
    try:
        return os.open(name, _FOLDER, dir_fd=folder)
    except FileNotFoundError:
        if not create:
            raise
    with contextlib.suppress(FileExistsError):
        os.mkdir(name, 0o777, dir_fd=folder)
    return os.open(name, _FOLDER, dir_fd=folder)


def _write_in(folder: int, name: str, content: bytes) -> tuple[int, int]:
    """Write `content` to `name` in the open `folder` through a new temporary file; the file's identity.

    No fsync: what we guard against is the grader being interrupted or killed, after which the
    kernel still writes what it was given."""
    temporary, fd = _new_file(folder, name)
    try:
        with os.fdopen(fd, "wb") as file:
            os.fchmod(file.fileno(), FILE_MODE)
            file.write(content)
            status = os.fstat(file.fileno())
        os.rename(temporary, name, src_dir_fd=folder, dst_dir_fd=folder)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary, dir_fd=folder)
        raise
    return status.st_dev, status.st_ino


def _new_file(folder: int, name: str) -> tuple[str, int]:
    """A new file of a random name beside `name` (`.name.RANDOM.tmp`, which a rerun sweeps away)."""
    for _ in range(100):
        temporary = f".{name[:200]}.{secrets.token_hex(6)}.tmp"
        with contextlib.suppress(FileExistsError):
            return temporary, os.open(temporary, _NEW_FILE, 0o600, dir_fd=folder)
    raise FileExistsError(errno.EEXIST, "no free temporary name", name)


def _check_file(path: Path, written: tuple[int, int]) -> None:
    """`path` leads to the file just written (else its folder moved while it was written)."""
    try:
        status = os.stat(path)
        same = (status.st_dev, status.st_ino) == written
    except OSError:
        same = False
    if not same:
        raise OutputError(f"{path}: its folder was moved or replaced while the grader wrote it; "
                          "the file is not where it was to be")
