"""Attacks of the isolation review, for real, on both isolating backends (bwrap, and children forked
from the fork server's template), two sandboxes at once where the attack needs a classmate:

    AF_VSOCK    a socket family no network namespace holds: a sandbox reached the host of the
                virtual machine the grader runs in, and shared one port space with every other
                sandbox (one bound a port, the one graded beside it found it in use). socket() now
                makes unix, inet, inet6 and netlink sockets only, through the 32-bit system calls
                too (tests/submissions/hostile/reaches_through_vsock.py)
    /dev/pts    the fork server's children saw the template's /dev, one devpts for all: a child
                listed the terminals another opened (and, as the same user, could open them). Each
                child now has a devpts of its own, as bwrap's --dev gives each sandbox
                (tests/submissions/hostile/shares_terminals.py)

The test names say "hostile": `pytest -k hostile` runs them with the hostile corpus.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from grader import syscall_filter
from grader.assignments import load_assignment
from grader.batch import BatchConfig, run_batch
from grader.forkserver import ForkSandbox, fork_problem
from grader.model import GradeReport
from grader.sandbox import Limits, Sandbox, bwrap_problem, get_sandbox
from grader.validate import expectation_problems

from .conftest import ROOT, SUBMISSIONS

HOSTILE = SUBMISSIONS / "hostile"
BACKENDS = [name for name, problem in (("bwrap", bwrap_problem), ("bwrap-fork", fork_problem)) if not problem()]

pytestmark = pytest.mark.skipif(not BACKENDS, reason="no isolating backend runs here")

_SANDBOXES: dict[str, Sandbox] = {}


def _sandbox(name: str) -> Sandbox:
    """One backend of each name for the whole module (the fork server's template is started once)."""
    if name not in _SANDBOXES:
        _SANDBOXES[name] = get_sandbox(name)
    return _SANDBOXES[name]


@pytest.fixture(scope="module", autouse=True)
def _close_the_templates() -> Iterator[None]:
    yield
    for sandbox in _SANDBOXES.values():
        if isinstance(sandbox, ForkSandbox):
            sandbox.close()
    _SANDBOXES.clear()


def _scratch() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="coursegrade-test-"))
    for sub in ("work", "home", "tmp", "lib"):
        (folder / sub).mkdir()
    (folder / "lib" / "grader").symlink_to(ROOT / "grader", target_is_directory=True)
    return folder


@pytest.fixture
def scratches() -> Iterator[tuple[Path, Path]]:
    folders = _scratch(), _scratch()
    yield folders
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)


def _start(sandbox: Sandbox, script: str, scratch: Path) -> Any:
    stderr = open(scratch / "stderr.txt", "wb")  # noqa: SIM115  (closed with the scratch folder)
    return sandbox.start([sys.executable, "-c", script], scratch, Limits(), stderr)


def _alone(sandbox: Sandbox, script: str, scratch: Path) -> Any:
    """Run `script` in the sandbox; the JSON of the last line it printed."""
    process = _start(sandbox, script, scratch)
    try:
        out, _ = process.communicate(timeout=120)
    finally:
        sandbox.stop(process)
    lines = out.decode().strip().splitlines()
    assert lines, (scratch / "stderr.txt").read_text()[-3000:]
    return json.loads(lines[-1])


def _side_by_side(sandbox: Sandbox, holder: str, peeker: str, scratches: tuple[Path, Path]) -> tuple[str, Any]:
    """Start `holder` (it prints one line once it holds what it holds, then sleeps) and, while it
    holds it, run `peeker` in a second sandbox of the same backend: the holder's line, the
    JSON of the peeker's last line."""
    first, second = scratches
    held = _start(sandbox, holder, first)
    try:
        line = held.stdout.readline().decode().strip()
        assert line, (first / "stderr.txt").read_text()[-3000:]
        seen = _alone(sandbox, f"HELD = {line!r}\n{peeker}", second)
        assert held.poll() is None, "the holder ended before the peeker looked"
    finally:
        sandbox.stop(held)
    return line, seen


# -- AF_VSOCK and the other families no network namespace holds --------------------------------

def test_hostile_socket_rules_match_every_family_but_the_allowed_ones() -> None:
    pairs = [rule.when for rule in syscall_filter.rules() if rule.call == "socket"]
    allowed = set(syscall_filter.SOCKET_FAMILIES.values())

    def refused(value: int) -> bool:
        return any(when is not None and value & when[0] == when[1] for when in pairs)

    samples = [*range(0, 300), 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF, 0xFFFF_FFFE, 1 << 31 | 1, 1 << 31 | 40]
    samples += [(value * 2_654_435_761) & 0xFFFF_FFFF for value in range(1, 5000)]
    assert [value for value in samples if refused(value) != (value not in allowed)] == []
    assert not refused(1 << 32 | 1) and refused(1 << 32 | 40)  # the kernel reads an int: the low 32 bits


FAMILIES = textwrap.dedent("""
    import ctypes, errno, json, mmap, os, platform, socket, struct
    libc = ctypes.CDLL(None, use_errno=True)

    def make(family, kind):
        ctypes.set_errno(0)
        fd = libc.syscall(ctypes.c_long(41), ctypes.c_long(family), ctypes.c_long(kind), ctypes.c_long(0))
        if fd >= 0:
            os.close(fd)
            return "ok"
        return errno.errorcode.get(ctypes.get_errno(), str(ctypes.get_errno()))

    def int80(number, a=0, b=0, c=0):
        code = (b"\\x53\\xb8" + struct.pack("<I", number) + b"\\xbb" + struct.pack("<I", a)
                + b"\\xb9" + struct.pack("<I", b) + b"\\xba" + struct.pack("<I", c)
                + b"\\x31\\xf6\\x31\\xff\\xcd\\x80\\x5b\\xc3")
        memory = mmap.mmap(-1, mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
        memory.write(code)
        result = ctypes.CFUNCTYPE(ctypes.c_int)(ctypes.addressof(ctypes.c_char.from_buffer(memory)))()
        if result >= 0 and number in (102, 359):
            os.close(result)
            return "ok"
        return result if result >= 0 else errno.errorcode.get(-result, str(-result))

    seen = {name: make(family, kind) for name, (family, kind) in {
        "unix": (1, 1), "inet": (2, 1), "netlink": (16, 3), "unix, high bits set": (1 << 32 | 1, 1),
        "vsock": (40, 1), "vsock seqpacket": (40, 5), "vsock, high bits set": (1 << 32 | 40, 1),
        "packet": (17, 3), "unspec": (0, 1), "bluetooth": (31, 1), "can": (29, 3), "tipc": (30, 5),
        "rds": (21, 5), "alg": (38, 5), "xdp": (44, 3), "past every family": (1 << 31, 1)}.items()}

    def thirty_two_bit():
        if not isinstance(int80(20), int):  # getpid: no 32-bit system calls here
            return {}
        libc.mmap.restype = ctypes.c_void_p
        libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                              ctypes.c_long]
        low = libc.mmap(None, 4096, 3, 0x22 | 0x40, -1, 0)  # below 4 GiB (MAP_32BIT): a 32-bit pointer
        ctypes.memmove(low, struct.pack("<III", 40, 1, 0), 12)
        return {"int 0x80 socket(unix)": int80(359, 1, 1, 0), "int 0x80 socket(vsock)": int80(359, 40, 1, 0),
                "int 0x80 socketcall(SYS_SOCKET, vsock)": int80(102, 1, low)}

    if platform.machine() == "x86_64":  # in a child: a kernel without them may answer with SIGSEGV
        read, write = os.pipe()
        if os.fork() == 0:
            try:
                os.write(write, json.dumps(thirty_two_bit()).encode())
            finally:
                os._exit(0)
        os.close(write)
        with os.fdopen(read) as answer:
            seen.update(json.loads(answer.read() or "{}"))
    print(json.dumps(seen))
""")


@pytest.mark.skipif(bool(syscall_filter.availability()), reason="no system-call filter here")
@pytest.mark.parametrize("backend", BACKENDS)
def test_hostile_sockets_of_families_outside_network_namespaces_are_refused(backend: str,
                                                                          scratches: tuple[Path, Path]) -> None:
    seen = _alone(_sandbox(backend), FAMILIES, scratches[0])
    made = {name: seen.pop(name) for name in ("unix", "inet", "netlink", "unix, high bits set")}
    assert made == dict.fromkeys(made, "ok"), made
    if "int 0x80 socket(unix)" in seen:
        assert seen.pop("int 0x80 socket(unix)") == "ok"
    assert seen == dict.fromkeys(seen, "EPERM"), f"made, or not refused by the filter: {seen}"


VSOCK_HOLDER = textwrap.dedent("""
    import socket, time
    try:
        held = socket.socket(40, socket.SOCK_STREAM)
        held.bind((0xFFFFFFFF, 47_012))  # VMADDR_CID_ANY
        print("bound", flush=True)
    except OSError as error:
        print(error.strerror, flush=True)
    time.sleep(60)
""")
VSOCK_PEEKER = textwrap.dedent("""
    import json, socket
    try:
        socket.socket(40, socket.SOCK_STREAM).bind((0xFFFFFFFF, 47_012))
        print(json.dumps("bound"))
    except OSError as error:
        print(json.dumps(error.strerror))
""")


@pytest.mark.parametrize("backend", BACKENDS)
def test_hostile_two_sandboxes_share_no_vsock_port(backend: str, scratches: tuple[Path, Path]) -> None:
    held, seen = _side_by_side(_sandbox(backend), VSOCK_HOLDER, VSOCK_PEEKER, scratches)
    assert seen != "Address already in use", "the peeker met the holder's vsock port"
    assert held != "bound" and seen != "bound", (held, seen)


# -- /dev/pts -----------------------------------------------------------------------------------

PTY_HOLDER = textwrap.dedent("""
    import os, time
    master, slave = os.openpty()
    print(os.ttyname(slave), flush=True)
    time.sleep(60)
""")
PTY_PEEKER = textwrap.dedent("""
    import json, os
    master, slave = os.openpty()
    seen = {"mine": os.ttyname(slave), "listed": sorted(os.listdir("/dev/pts"))}
    try:
        os.close(os.open(HELD, os.O_RDWR | os.O_NOCTTY))
        seen["opened"] = "yes"
    except OSError as error:
        seen["opened"] = error.strerror
    print(json.dumps(seen))
""")


@pytest.mark.parametrize("backend", BACKENDS)
def test_hostile_a_sandboxs_terminals_are_its_own(backend: str, scratches: tuple[Path, Path]) -> None:
    held, seen = _side_by_side(_sandbox(backend), PTY_HOLDER, PTY_PEEKER, scratches)
    assert held.startswith("/dev/pts/")
    mine = Path(seen["mine"]).name
    assert seen["listed"] == sorted(["ptmx", mine]), f"another sandbox's terminal is listed: {seen}"
    if held != seen["mine"]:  # the same name in two instances of devpts is two terminals
        assert seen["opened"] == "No such file or directory", seen


# -- the hostile samples, graded by `grade batch -j 2` beside a copy of themselves ----------------

@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", ["reaches_through_vsock.py", "shares_terminals.py", "floods_its_stderr.py"])
def test_hostile_sample_graded_beside_a_copy_of_itself(backend: str, name: str, tmp_path: Path) -> None:
    expected = json.loads((HOSTILE / "expected.json").read_text())[name]
    spec = load_assignment(expected["assignment"])
    folder = tmp_path / "submissions"
    folder.mkdir()
    for student in ("alice", "bob"):
        shutil.copyfile(HOSTILE / name, folder / f"{student}.py")
    run_batch(BatchConfig(folder, spec, tmp_path / "out", jobs=2, sandbox_name=backend))
    problems = []
    for student in ("alice", "bob"):
        result = json.loads((tmp_path / "out" / "results" / f"{student}.json").read_text())
        report = GradeReport.from_json(result)
        problems += [f"{student}: {p}" for p in expectation_problems(report, expected, len(spec.checks))]
        details = json.loads((tmp_path / "out" / "details" / f"{student}.json").read_text())
        assert details["sandbox"] == backend
    assert problems == []

