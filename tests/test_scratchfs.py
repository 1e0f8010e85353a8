"""Scratch spaces for real: a tmpfs of each sandbox's own, whose limits the kernel holds, and the
plain folder the grader counts itself where it may not mount."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from grader.scratchfs import (
    MAX_DEPTH,
    SOURCE,
    ScratchSpace,
    _mount_tmpfs,
    _stale_mounts,
    _unmount,
    size_text,
    sweep_stale,
)

from .conftest import ROOT

MiB = 2**20


def _mount_problem() -> str:
    space = ScratchSpace.create(4096, 4)
    space.remove()
    return space.why_not


needs_mount = pytest.mark.skipif(bool(_mount_problem()), reason=f"no tmpfs of its own here: {_mount_problem()}")


def _source(path: Path) -> str:
    """The source of the mount on `path` ("" when there is none)."""
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields = line.split()
        if fields[4] == str(path):
            return fields[fields.index("-") + 2]
    return ""


def _mounted(path: Path) -> bool:
    return bool(_source(path))


def _fill(path: Path, size: int) -> int:
    """Write `size` bytes to `path`, 64 KiB at a time; the bytes written before a refusal."""
    written = 0
    with open(path, "wb") as f:
        while written < size:
            written += f.write(b"x" * min(2**16, size - written))
    return written


@pytest.fixture
def space() -> Iterator[ScratchSpace]:
    with ScratchSpace.create(MiB, 50) as made:
        yield made


@pytest.fixture
def plain() -> Iterator[ScratchSpace]:
    with ScratchSpace.create(MiB, 50, mount=False) as made:
        yield made


# -- the tmpfs: the kernel holds the limits ----------------------------------------------------------

@needs_mount
def test_a_space_is_a_private_tmpfs_of_its_own(space: ScratchSpace) -> None:
    assert space.limited and space.why_not == ""
    assert space.path.name.startswith("coursegrade-") and _source(space.path) == f"{SOURCE}:{os.getpid()}"
    assert os.stat(space.path).st_dev != os.stat(space.path.parent).st_dev
    assert os.stat(space.path).st_mode & 0o777 == 0o700  # as private as mkdtemp's folder
    flags = os.statvfs(space.path).f_flag
    assert flags & os.ST_NOSUID and flags & os.ST_NODEV
    assert space.usage() == (0, 0)


@needs_mount
def test_writing_past_the_byte_limit_is_refused_and_nothing_lands_outside(space: ScratchSpace) -> None:
    with pytest.raises(OSError) as refused:
        _fill(space.path / "big", 2 * MiB)
    assert refused.value.errno == errno.ENOSPC
    assert space.usage()[0] == MiB
    assert space.full() == "its folder is full (1 MiB)"
    assert space.over_limit() == ""  # the kernel held the limit: nothing for the grader to stop
    fd = os.open(space.path / "again", os.O_CREAT | os.O_WRONLY, 0o600)
    try:
        with pytest.raises(OSError) as refused:
            os.posix_fallocate(fd, 0, 2 * MiB)
        assert refused.value.errno == errno.ENOSPC
    finally:
        os.close(fd)
    assert _unmount(space.path)
    assert os.listdir(space.path) == []  # the folder under the mount never got a byte


@needs_mount
def test_fallocate_past_the_limit_is_refused_whole(space: ScratchSpace) -> None:
    fd = os.open(space.path / "reserved", os.O_CREAT | os.O_WRONLY, 0o600)
    try:
        with pytest.raises(OSError) as refused:
            os.posix_fallocate(fd, 0, 3 * MiB)
        assert refused.value.errno == errno.ENOSPC
        os.posix_fallocate(fd, 0, MiB // 2)
    finally:
        os.close(fd)
    assert space.usage() == (MiB // 2, 1)


@needs_mount
def test_creating_past_the_file_limit_is_refused(space: ScratchSpace) -> None:
    for i in range(25):
        (space.path / f"folder{i}").mkdir()
        (space.path / f"folder{i}" / "file").touch()
    assert space.usage() == (0, 50)
    for make in (lambda p: p.touch(), lambda p: p.mkdir(), lambda p: p.symlink_to("folder0"),
                 lambda p: os.link(space.path / "folder0" / "file", p)):
        with pytest.raises(OSError) as refused:
            make(space.path / "one-more")
        assert refused.value.errno == errno.ENOSPC
    assert space.full() == "its folder holds as many files as it may (50)"
    assert space.over_limit() == ""


@needs_mount
def test_usage_counts_pages_and_names(space: ScratchSpace) -> None:
    (space.path / "sub").mkdir()
    for name in ("a", "sub/b", "sub/c"):
        (space.path / name).write_bytes(b"y" * 10_000)  # three pages each
    (space.path / "empty").touch()
    assert space.usage() == (3 * 3 * 4096, 5)
    (space.path / "sub" / "b").unlink()
    assert space.usage() == (2 * 3 * 4096, 4)


@needs_mount
def test_two_spaces_are_independent() -> None:
    with ScratchSpace.create(MiB, 50) as first, ScratchSpace.create(MiB, 50) as second:
        room = os.statvfs(second.path)
        with pytest.raises(OSError):
            _fill(first.path / "big", 2 * MiB)
        for i in range(49):
            (first.path / f"f{i}").touch()
        with pytest.raises(OSError):
            (first.path / "one-more").touch()
        after = os.statvfs(second.path)
        assert (after.f_bavail, after.f_favail) == (room.f_bavail, room.f_favail)
        assert _fill(second.path / "big", MiB) == MiB
        assert second.full() and not second.over_limit()


@needs_mount
def test_remove_unmounts_and_removes_everything_but_what_links_point_to(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("keep\n")
    space = ScratchSpace.create(MiB, 50)
    (space.path / "sub" / "deeper").mkdir(parents=True)
    (space.path / "sub" / "deeper" / "file").write_text("x")
    (space.path / "to-folder").symlink_to(outside, target_is_directory=True)
    (space.path / "sub" / "to-file").symlink_to(outside / "keep.txt")
    held = os.open(space.path / "sub" / "deeper" / "file", os.O_RDONLY)
    sleeper = subprocess.Popen(["sleep", "30"], cwd=space.path / "sub")  # busy: unmounted detached
    try:
        space.remove()
        assert not space.path.exists() and not _mounted(space.path)
        assert os.read(held, 10) == b"x"  # what was open stays readable until closed
        space.remove()  # again: nothing to do
        assert space.usage() == (0, 0) and space.full() == "" and space.over_limit() == ""
    finally:
        os.close(held)
        sleeper.kill()
        sleeper.wait()
    assert sorted(os.listdir(outside)) == ["keep.txt"] and (outside / "keep.txt").read_text() == "keep\n"


@needs_mount
def test_the_student_user_writes_into_it_but_cannot_unmount_it(space: ScratchSpace) -> None:
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("setpriv (util-linux) is not installed")
    os.chown(space.path, 65534, 65534)
    script = "import sys; open(sys.argv[1] + '/mine', 'w').write('x')"
    done = subprocess.run([setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-c",
                           script, str(space.path)], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert space.usage() == (4096, 1)
    umount = subprocess.run([setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", "umount",
                             str(space.path)], capture_output=True, text=True, timeout=30)
    assert umount.returncode != 0 and _mounted(space.path)


# -- the fallback: a plain folder the grader counts -------------------------------------------------

def test_the_fallback_is_a_plain_folder_that_says_why(plain: ScratchSpace) -> None:
    assert not plain.limited and "mount=False" in plain.why_not
    assert not _mounted(plain.path) and plain.usage() == (0, 0)
    assert plain.over_limit() == "" and plain.full() == ""


def test_the_fallback_counts_bytes_and_stops_past_the_limit(plain: ScratchSpace) -> None:
    (plain.path / "sub").mkdir()
    _fill(plain.path / "sub" / "big", MiB + 2**16)
    used, files = plain.usage()
    assert used > MiB and files == 2
    assert plain.over_limit() == "stopped: wrote more than 1 MiB to its folder"
    (plain.path / "sub" / "big").unlink()
    assert plain.over_limit() == "stopped: wrote more than 1 MiB to its folder"  # once said, it stays


def test_the_fallback_counts_allocated_blocks() -> None:
    with ScratchSpace.create(3 * MiB, 50, mount=False) as plain:
        with open(plain.path / "reserved", "wb") as f:
            os.posix_fallocate(f.fileno(), 0, 2 * MiB)
        with open(plain.path / "sparse", "wb") as f:
            f.truncate(64 * MiB)  # a hole takes no room
        os.link(plain.path / "reserved", plain.path / "same-blocks")
        used, files = plain.usage()
        assert 2 * MiB <= used < 2 * MiB + 2**16 and files == 3  # a hard link's blocks are counted once
        assert plain.over_limit() == ""
        with open(plain.path / "more", "wb") as f:
            os.posix_fallocate(f.fileno(), 0, 2 * MiB)
        assert plain.usage()[0] > 3 * MiB


def test_the_fallback_counts_files_and_stops_past_the_limit(plain: ScratchSpace) -> None:
    for i in range(60):
        (plain.path / f"f{i}").touch()
    assert plain.usage() == (0, 51)  # counting stops once past the limit
    assert plain.over_limit() == "stopped: more than 50 files in its folder"


def test_the_fallback_never_follows_links(plain: ScratchSpace, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    for i in range(100):
        (outside / f"f{i}").write_bytes(b"z" * 20_000)
    (plain.path / "to-folder").symlink_to(outside, target_is_directory=True)
    (plain.path / "to-file").symlink_to(outside / "f0")
    assert plain.usage()[1] == 2 and plain.over_limit() == ""
    plain.remove()
    assert len(os.listdir(outside)) == 100 and not plain.path.exists()


def test_the_fallback_stops_a_folder_nested_too_deep_to_count(tmp_path: Path) -> None:
    with ScratchSpace.create(MiB, 10_000, mount=False) as plain:
        folder = plain.path
        for _ in range(MAX_DEPTH + 1):
            folder = folder / "d"
            folder.mkdir()
        assert plain.over_limit() == f"stopped: folders nested more than {MAX_DEPTH} deep in its folder"


def test_where_the_grader_may_not_mount_it_falls_back_and_says_why(tmp_path: Path) -> None:
    setpriv = shutil.which("setpriv")
    if os.geteuid() != 0 or setpriv is None:
        pytest.skip("needs root and setpriv to run as a user that may not mount")
    script = ("from grader.scratchfs import ScratchSpace\n"
              "with ScratchSpace.create(2**20, 50) as s: print(s.limited, s.why_not, sep='|')\n")
    done = subprocess.run([setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all",
                           sys.executable, "-c", script], capture_output=True, text=True, timeout=30,
                          cwd=ROOT, env={"PYTHONPATH": str(ROOT), "TMPDIR": "/tmp", "PATH": "/usr/bin:/bin"})
    if done.returncode != 0:
        pytest.skip(f"the grader's Python cannot run as nobody here: {done.stderr.strip()[-200:]}")
    assert done.stdout.strip() == "False|the grader may not mount a tmpfs here (it needs root or CAP_SYS_ADMIN)"


# -- limits, words, leftovers ------------------------------------------------------------------------

def test_a_limit_of_zero_is_refused_not_unlimited() -> None:
    with pytest.raises(ValueError):
        ScratchSpace.create(0, 50)
    with pytest.raises(ValueError):
        ScratchSpace.create(MiB, 0)


def test_sizes_read_plainly() -> None:
    assert [size_text(n) for n in (2 * 2**30, 3 * MiB // 2, 512 * 1024, 100)] == ["2 GiB", "1.5 MiB", "512 KiB",
                                                                                "100 B"]


def test_stale_mounts_are_read_from_mountinfo() -> None:
    text = (f"101 30 0:55 / /tmp/coursegrade-a\\040b rw,nosuid,nodev - tmpfs {SOURCE}:4242 rw,size=1024k\n"
            "102 30 0:56 / /tmp/other rw - tmpfs tmpfs rw\n"
            f"103 30 0:57 / /tmp/coursegrade-c rw shared:5 - tmpfs {SOURCE}:17 rw\n")
    assert _stale_mounts(text) == [(Path("/tmp/coursegrade-a b"), 4242), (Path("/tmp/coursegrade-c"), 17)]


@needs_mount
def test_sweep_unmounts_what_a_dead_grader_left_and_nothing_else(tmp_path: Path) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()  # its pid is now no one's
    left = tmp_path / "left"
    left.mkdir()
    _mount_tmpfs(left, MiB, 50, 0o700, dead.pid)
    (left / "data").write_bytes(b"x" * 10_000)
    with ScratchSpace.create(MiB, 50) as mine:
        try:
            assert left in sweep_stale()
            assert not left.exists() and _mounted(mine.path)
        finally:
            _unmount(left)
