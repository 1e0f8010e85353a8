"""Where student code runs: a small interface and its backends.

A backend starts `argv` for one submission with the scratch folder as the only place the
student's code is meant to write, applies the resource limits, and can kill everything the
submission started.

    bwrap        bubblewrap: no network (loopback only), its own process namespace, the system
                 and Python read-only, the scratch folder the only writable place (/tmp is its
                 tmp/); the course, `reference/`, the reports and the home are not there at all;
                 a system-call filter (grader/syscall_filter.py) refuses what student code never
                 needs (namespaces, mounts, ptrace, keyctl, bpf, perf_event_open, io_uring, sockets
                 of families no network namespace holds, such as AF_VSOCK, ...);
                 the data the grader owns (scikit-learn's digits, `HIDDEN_DATA`) is a notice
                 saying the grader passes the data to `train`
    subprocess   a resource-limited child in its own session: limits, but no isolation
    bwrap-fork   the same isolation per submission, made in a child forked from one warm template
                 that runs inside one bwrap sandbox (grader/forkserver.py): a fork instead of a
                 sandbox, an interpreter and a Jupyter kernel per submission
    none         a plain child in its own session (`--sandbox none`)

Where each limit (`Limits`) is held:

    memory       the sandbox's control group (grader/cgroups.py): all its processes together,
                 shared memory, memfd files, tmpfs and page cache included; past it the kernel
                 kills one of them. Also RLIMIT_DATA per process, so that one allocation too big
                 is a MemoryError (and the only memory limit where there is no group).
                 `memory_used` reads the group's charge (else a PSS sum over /proc), polled by
                 the runner, which stops the run past the limit.
    processes    the group's pids.max (threads count too); also RLIMIT_NPROC, counted per user
                 and not binding root: when the grader is root, bwrap runs the student's code as
                 a user id of its own.
    CPU time     RLIMIT_CPU per process; budgets over all processes are counted by the runner
                 from the group's CPU time (`Sandbox.usage`), else from /proc; each forked chain
                 of steps in a subgroup of its own (grader/charges.py). The group's CPU weight
                 is the grader's own nice's (`nice grade batch` yields to other work).
    file size    RLIMIT_FSIZE.
    stack, files the main thread's stack (8 MiB, Linux's and Colab's default) and open files
                 (4,096): fixed, not the grader's (`ulimit -s unlimited` in an instructor's
                 shell let a deep recursion pass that failed on a classmate's laptop).
    disk         bytes and files of the scratch folder: its own tmpfs where the grader can mount
                 one (grader/scratchfs.py), else counted by the runner.
    wall clock   a backstop watched by the runner (5 x the CPU budget + 30 s), for what sleeps;
                 and cells whose processes used no CPU for 60 s (counted by the control group,
                 which a busy machine slows but never stops) are stopped as waiting forever. Both
                 count awake time (grader/awake.py): wall time less the group's waits for a CPU
                 (PSI), plain wall time where the kernel does not count those.

Where control groups cannot be made (`cgroups.availability()` says why), the rlimits alone hold,
and the sandbox's `note` and one warning on stderr say so (`--sandbox none` has no limits, and
uses a group, where there is one, only to count and to kill).

`stop` kills every process of the group (frozen meanwhile), then, as a backstop, every process
that carries `COURSEGRADE_RUN=<scratch>` in its environment (set for every process a submission
starts: it finds the ones that left the process group or were orphaned), then removes the group.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os

try:
    import resource
except ImportError:  # Windows: no sandbox runs there, but grader.check() in a notebook imports this
    resource = None  # type: ignore[assignment]
import shutil
import signal
import subprocess
import sys
import time
import zlib
from pathlib import Path
from typing import IO, Protocol

from .cgroups import ControlGroup, ControlGroupError, Usage, availability, weight_for_nice
from .errors import SandboxError, reason
from .limits import Limits
from .syscall_filter import availability as syscall_filter_problem
from .syscall_filter import bwrap_seccomp_args, filter_file

GRADER_PACKAGE = Path(__file__).resolve().parent
MARKER = "COURSEGRADE_RUN"
TMPFS_BYTES = 64 * 2**20  # /tmp and /dev/shm inside bwrap live in memory: keep them small
INSIDE_LIB = "/opt/coursegrade"  # where bwrap shows the grader package (and nothing else)
SETPRIV = shutil.which("setpriv")  # util-linux: drops root to the student user inside bwrap
SYSTEM_PATHS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
HIDDEN_DATA = (("sklearn", "datasets/data/digits.csv.gz"),)  # test images: the grader's, never the student's
HIDDEN_NOTICE = b"load_digits is hidden while grading: the grader passes the data to train(model; X; y)\n"
ETC_ENTRIES = (
    "ld.so.cache", "ld.so.conf", "ld.so.conf.d", "alternatives", "localtime", "passwd", "group",
    "nsswitch.conf", "hosts", "host.conf", "fonts", "matplotlibrc", "mime.types", "protocols",
    "services",
)


ISOLATED = ("bwrap", "bwrap-fork")  # the backends that isolate student code
STACK_BYTES = 8 * 2**20  # the main thread's stack, as on Linux and Colab: what a recursion can count on
OPEN_FILES = 4096


class Sandbox(Protocol):
    name: str
    note: str  # said on the terminal and in the report when this backend is a fallback

    def start(self, argv: list[str], scratch: Path, limits: Limits, stderr: IO[bytes]) -> subprocess.Popen[bytes]:
        """Start `argv` confined to `scratch`, with stdin and stdout as pipes."""

    def stop(self, process: subprocess.Popen[bytes]) -> None:
        """Kill `process` and everything it started."""

    def usage(self, process: subprocess.Popen[bytes]) -> Usage | None:
        """What `process` and everything it started have used, as the kernel counts it (after
        `stop`: what they had used then); None when it has no control group."""


def child_environment(scratch: Path, python_path: str) -> dict[str, str]:
    """A small, clean environment: nothing of the grader's own is passed on."""
    return {
        "PATH": os.path.dirname(sys.executable) + ":/usr/local/bin:/usr/bin:/bin",
        "HOME": str(scratch / "home"),
        "TMPDIR": str(scratch / "tmp"),
        "PYTHONPATH": python_path,
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
        "JUPYTER_RUNTIME_DIR": str(scratch / "runtime"),
        "JUPYTER_PLATFORM_DIRS": "1",
        "IPYTHONDIR": str(scratch / "ipython"),
        "MPLCONFIGDIR": str(scratch / "tmp"),
        "MPLBACKEND": "Agg",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "LANG": "C.UTF-8",
        MARKER: str(scratch),
    }


def _user_process_count() -> int | None:
    """How many processes the grader's user runs now; None where it cannot be counted (no /proc)."""
    if not os.path.isdir("/proc"):
        return None
    uid = os.getuid()
    return sum(1 for pid in _pids() if _owner(pid) == uid)


def _apply_limits(limits: Limits, processes: int) -> None:
    """Runs in the child between fork and exec; every process it starts inherits the limits."""
    os.setsid()
    # RLIMIT_DATA (heap and anonymous mappings), not RLIMIT_AS: torch and the kernel map far
    # more address space than they use, and an AS limit would stop them from starting.
    resource.setrlimit(resource.RLIMIT_DATA, (limits.memory_bytes, limits.memory_bytes))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_bytes, limits.file_bytes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 5))
    _fixed_limit(resource.RLIMIT_STACK, STACK_BYTES)
    _fixed_limit(resource.RLIMIT_NOFILE, OPEN_FILES)
    # Counted per user (and not applied to root): the user's processes so far, plus ours; left
    # alone where they cannot be counted (no /proc: macOS).
    if processes:
        resource.setrlimit(resource.RLIMIT_NPROC, (processes, processes))


def _fixed_limit(kind: int, value: int) -> None:
    """`value` for both limits, whatever the grader was started with; where the grader may not raise
    its hard limit that far (not root), as close as it may."""
    try:
        resource.setrlimit(kind, (value, value))
    except (ValueError, OSError):
        hard = resource.getrlimit(kind)[1]
        low = value if hard == resource.RLIM_INFINITY else min(value, hard)
        resource.setrlimit(kind, (low, hard))


def _before_exec(group: ControlGroup | None, limits: Limits | None, processes: int) -> None:
    """Runs in the child between fork and exec: into its control group first, then the rlimits."""
    if group is not None:
        group.join(os.getpid())
    if limits is None:
        os.setsid()
    else:
        _apply_limits(limits, processes)


def _popen(argv: list[str], cwd: Path, env: dict[str, str], limits: Limits | None,
           stderr: IO[bytes], processes: int | None = None, group: ControlGroup | None = None,
           pass_fds: tuple[int, ...] = ()) -> subprocess.Popen[bytes]:
    """Start `argv` in `group` (created before, so that the child is in it before exec), with
    `limits` as rlimits (None: none); the group travels on the process (`group_of`)."""
    if limits is not None and not processes:
        running = _user_process_count()
        processes = None if running is None else running + limits.processes
    count = processes or 0
    try:
        process = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                   stderr=stderr, preexec_fn=lambda: _before_exec(group, limits, count),
                                   pass_fds=pass_fds)
    except BaseException as error:
        if group is not None:
            group.remove()
        if isinstance(error, OSError | subprocess.SubprocessError):  # refused (e.g. a Python this user may not run)
            raise SandboxError(f"cannot start the submission's process ({argv[0]}): {reason(error)}") from None
        raise
    process.coursegrade_group = group  # type: ignore[attr-defined]
    return process


def _new_group(limits: Limits | None) -> ControlGroup | None:
    """A control group for one sandbox with `limits` (None: to count and kill only), at the
    grader's own priority; None where groups cannot be made (said once on stderr)."""
    if availability():
        return None
    try:
        return ControlGroup.create(limits, weight_for_nice(os.getpriority(os.PRIO_PROCESS, 0)))
    except ControlGroupError as error:
        if limits is not None:
            _warn_once(f"limits held by rlimits only for some submissions: {error}")
        return None


def group_of(process: subprocess.Popen[bytes]) -> ControlGroup | None:
    group = getattr(process, "coursegrade_group", None)
    return group if isinstance(group, ControlGroup) else None


def group_usage(process: subprocess.Popen[bytes]) -> Usage | None:
    """The usage of `process`'s control group; None when it has none."""
    group = group_of(process)
    return group.usage() if group is not None else None


# -- finding and killing every process of a submission ------------------------------------------

def _pids() -> list[int]:
    """Every process id, from /proc; none where there is no /proc (macOS: a submission's processes
    are then its process group, killed with it)."""
    try:
        return [int(name) for name in os.listdir("/proc") if name.isdigit()]
    except OSError:
        return []


def _owner(pid: int) -> int:
    try:
        return os.stat(f"/proc/{pid}").st_uid
    except OSError:
        return -1


def _parent(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
        return int(stat[stat.rindex(b")") + 2:].split()[1])
    except (OSError, ValueError, IndexError):
        return 0


def _has_marker(pid: int, marker: bytes) -> bool:
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            return marker in f.read(1 << 20).split(b"\0")
    except OSError:
        return False


def submission_processes(root: int | None, scratch: str) -> set[int]:
    """`root`, its descendants, and every process marked with this submission's scratch folder."""
    marker = f"{MARKER}={scratch}".encode()
    pids = _pids()
    children: dict[int, list[int]] = {}
    for pid in pids:
        children.setdefault(_parent(pid), []).append(pid)
    found = {pid for pid in pids if _has_marker(pid, marker)}
    if root is not None:
        found.add(root)
    todo = list(found)
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    found.discard(os.getpid())
    return found


def _memory_of(pid: int) -> int:
    """Proportional set size (shared pages split between their users), else resident size."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as f:
            for line in f:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        with open(f"/proc/{pid}/statm", "rb") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def memory_used(process: subprocess.Popen[bytes], scratch: str) -> int:
    """The memory all processes of a submission hold together (RLIMIT_DATA is per process).

    With a control group: its charge (shared memory, memfd, tmpfs and page cache included),
    which the kernel keeps under the limit; once the kernel has killed one of its processes for
    memory, one byte more than the limit (they asked for more). Else a PSS sum over /proc."""
    group = group_of(process)
    if group is not None:
        usage = group.usage()
        if usage.oom_kills and group.memory_limit is not None:
            return max(usage.memory_bytes, group.memory_limit + 1)
        return usage.memory_bytes
    root = process.pid if process.returncode is None else None
    return sum(_memory_of(pid) for pid in submission_processes(root, scratch))


def _signal_all(pids: set[int], sig: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def kill_everything(process: subprocess.Popen[bytes], scratch: str) -> None:
    """Freeze, then kill, the child's group, its descendants and its marked processes, until none is left."""
    if process.returncode is None:  # not reaped yet, so its pid (and group id) is still ours
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
    for _ in range(20):
        root = process.pid if process.returncode is None else None
        alive = {pid for pid in submission_processes(root, scratch) if is_alive(pid)}
        if not alive:
            break
        _signal_all(alive, signal.SIGSTOP)  # a frozen process cannot fork while we look
        _signal_all(alive | submission_processes(root, scratch), signal.SIGKILL)
        time.sleep(0.01)
    process.wait()


def is_alive(pid: int) -> bool:
    """Whether process `pid` runs (a zombie, not yet waited for by its parent, does not)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
        return stat[stat.rindex(b")") + 2:][:1] not in (b"Z", b"X")
    except (OSError, ValueError):
        return False


def _scratch_of(process: subprocess.Popen[bytes]) -> str:
    return str(getattr(process, "coursegrade_scratch", ""))


def stop_submission(process: subprocess.Popen[bytes]) -> None:
    """Kill every process of the submission's control group, then (a backstop) every marked one
    and the descendants of `process`; then remove the group (its usage is kept)."""
    group = group_of(process)
    if group is not None:
        group.kill()
    kill_everything(process, _scratch_of(process))
    if group is not None:
        group.remove()


# -- the backends ---------------------------------------------------------------------------------

class SubprocessSandbox:
    """A resource-limited child process in its own session: limits, but no isolation."""

    name = "subprocess"

    def __init__(self, note: str = "") -> None:
        self.note = note

    def start(self, argv: list[str], scratch: Path, limits: Limits, stderr: IO[bytes]) -> subprocess.Popen[bytes]:
        env = child_environment(scratch, str(scratch / "lib"))
        process = _popen(argv, scratch / "work", env, limits, stderr, group=_new_group(limits))
        process.coursegrade_scratch = str(scratch)  # type: ignore[attr-defined]
        return process

    def stop(self, process: subprocess.Popen[bytes]) -> None:
        stop_submission(process)

    def usage(self, process: subprocess.Popen[bytes]) -> Usage | None:
        return group_usage(process)


class PlainSandbox(SubprocessSandbox):
    """A plain child process in its own session, without resource limits (`--sandbox none`)."""

    name = "none"

    def start(self, argv: list[str], scratch: Path, limits: Limits, stderr: IO[bytes]) -> subprocess.Popen[bytes]:
        env = child_environment(scratch, str(scratch / "lib"))
        process = _popen(argv, scratch / "work", env, None, stderr, group=_new_group(None))
        process.coursegrade_scratch = str(scratch)  # type: ignore[attr-defined]
        return process


def python_roots() -> list[str]:
    """The folders the Python environment lives in, outside the system folders."""
    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, str(Path(sys.executable).resolve().parent.parent)}
    return sorted(r for r in roots if not any(r == s or r.startswith(s + "/") for s in SYSTEM_PATHS))


def _open_mount_points(targets: list[str]) -> list[str]:
    """bwrap makes the folders leading to a mount point private (0700): open them (0755), so
    a student user that is not root can reach Python."""
    ancestors = {str(p) for t in targets for p in Path(t).parents if str(p) != "/"}
    args: list[str] = []
    for folder in sorted(ancestors, key=lambda p: (p.count("/"), p)):  # parents first, the same order each run
        args += ["--perms", "0755", "--dir", folder]
    return args


FIRST_USER, USERS = 200_000, 100_000  # the student users' ids
USERS_FOLDER = "/run/coursegrade-users"  # root's: a lock file per student user id in use
_claimed: dict[str, tuple[int, int | None]] = {}  # scratch folder -> its user id, the descriptor holding it


def users_of_their_own() -> bool:
    """Whether each submission runs as a user of its own: the grader is root, and can drop to it."""
    return os.geteuid() == 0 and SETPRIV is not None


def student_uid(scratch: Path) -> int | None:
    """When the grader is root: a user id of the submission's own (root's files stay root's), held
    for it until `release_user`: while held, no other sandbox on the machine, this grader's or
    another's, runs as it, so nothing the kernel counts per user (RLIMIT_NPROC, inotify instances,
    pending signals) is shared with a classmate. A lock file per id in USERS_FOLDER holds it (and is
    let go when the grader ends, however); where that folder cannot be used, the id is only likely
    to be the submission's own (a hash of its folder's name). None: not root (bwrap then runs as
    the grader's user)."""
    if not users_of_their_own():
        return None
    key = str(scratch)
    if key not in _claimed:
        first = zlib.crc32(key.encode()) % USERS
        lock = _users_lock()
        _claimed[key] = (FIRST_USER + first, None) if lock is None else _first_free(lock, first)
    return _claimed[key][0]


def release_user(scratch: Path) -> None:
    """The submission's user id is free again (its processes are stopped): its lock file goes
    (removed while still locked: whoever opened it meanwhile finds it gone once they lock it)."""
    uid, fd = _claimed.pop(str(scratch), (0, None))
    if fd is not None:
        with contextlib.suppress(OSError):
            os.unlink(os.path.join(USERS_FOLDER, str(uid)))
        os.close(fd)


def open_private_folder(path: str) -> int | None:
    """`path` (made 0700 where it is missing; OSError where it cannot be), opened, when it is a folder
    this user owns that no one else may enter; else None (a link, a file, another's or an open folder)."""
    os.makedirs(path, mode=0o700, exist_ok=True)
    try:
        folder = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as error:
        if error.errno in (errno.ENOTDIR, errno.ELOOP):
            return None
        raise
    status = os.fstat(folder)
    if status.st_uid == os.geteuid() and not status.st_mode & 0o077:
        return folder
    os.close(folder)
    return None


def _users_lock() -> int | None:
    """USERS_FOLDER, opened, when it is a folder only root may enter; else None."""
    with contextlib.suppress(OSError):
        return open_private_folder(USERS_FOLDER)
    return None


def _first_free(folder: int, first: int) -> tuple[int, int | None]:
    """The first user id from FIRST_USER + `first` on whose lock file no one holds a lock, and the
    descriptor holding it now (the folder is closed)."""
    import fcntl

    try:
        for step in range(USERS):
            uid = FIRST_USER + (first + step) % USERS
            fd = os.open(str(uid), os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=folder)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                if os.stat(str(uid), dir_fd=folder, follow_symlinks=False).st_ino == os.fstat(fd).st_ino:
                    return uid, fd
            except (BlockingIOError, FileNotFoundError):  # held; or let go and removed as it was opened
                pass
            os.close(fd)
    finally:
        os.close(folder)
    return FIRST_USER + first, None


def hand_over(scratch: Path) -> int | None:
    """Give the scratch folder as it is now to the student user (the grader's later files stay
    root's); that user's id, or None when there is none or the folder cannot be given."""
    uid = student_uid(scratch)
    if uid is None:
        return None
    try:
        for folder, subfolders, files in os.walk(scratch):
            os.lchown(folder, uid, uid)
            for name in subfolders + files:
                os.lchown(os.path.join(folder, name), uid, uid)
    except OSError:
        return None
    return uid


def bwrap_command(bwrap: str, scratch: Path, argv: list[str], uid: int | None,
                  seccomp_fd: int | None = None) -> list[str]:
    """The whole command: bwrap's arguments, then `argv` (as user `uid` when there is one), under
    the system-call filter read from `seccomp_fd` when there is one."""
    options = bwrap_arguments(bwrap, scratch)[1:-1]
    if seccomp_fd is not None:
        options += bwrap_seccomp_args(seccomp_fd)
    if uid is None:
        return [bwrap, *options, "--", *argv]
    caps = ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]  # for setpriv only; gone after it
    drop = [str(SETPRIV), f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--"]
    return [bwrap, *caps, *options, "--", *drop, *argv]


def hidden_data_files() -> list[str]:
    """The files of `HIDDEN_DATA` in this Python environment (found without importing their packages)."""
    import importlib.util

    found = []
    for package, inside in HIDDEN_DATA:
        spec = importlib.util.find_spec(package)
        for folder in (spec.submodule_search_locations or []) if spec is not None else []:
            if (Path(folder) / inside).is_file():
                found.append(str(Path(folder) / inside))
    return found


NOTICE_FILE = GRADER_PACKAGE / "hidden_notice.csv.gz"  # gzip of HIDDEN_NOTICE (tests/test_sandbox.py checks)


def _notice_file() -> str:
    """A gzip file of the grader's package, readable by the student user, whose only line is
    `HIDDEN_NOTICE`: scikit-learn's loader then fails with that sentence (numpy cannot read it
    as numbers). A file shipped with the grader: nothing to create, nothing to remove."""
    return str(NOTICE_FILE)


def hidden_data_arguments() -> list[str]:
    """bwrap's arguments that put the notice over each file of the grader's data."""
    return [arg for target in hidden_data_files() for arg in ("--ro-bind", _notice_file(), target)]


def system_view_arguments() -> list[str]:
    """bwrap's arguments for the system as every sandbox sees it: its folders read-only, a few of /etc."""
    args: list[str] = []
    for path in SYSTEM_PATHS:
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    for entry in ETC_ENTRIES:
        args += ["--ro-bind-try", f"/etc/{entry}", f"/etc/{entry}"]
    return args


def bwrap_arguments(bwrap: str, scratch: Path) -> list[str]:
    """bwrap's command line: what the student's process sees, and nothing more."""
    args = [bwrap, "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
            "--die-with-parent", "--new-session", "--proc", "/proc", "--dev", "/dev",
            "--size", str(TMPFS_BYTES), "--tmpfs", "/dev/shm",
            # /tmp is its scratch folder's tmp/ (within the folder's limits), bound first: what
            # lives under the host's /tmp (the scratch folder, a Python environment) goes on top
            "--bind", str(scratch / "tmp"), "/tmp"]
    args += system_view_arguments()
    # the scratch folder may be deeper than /tmp (TMPDIR=/tmp/slurm-123, /var/tmp/x): its
    # ancestors are opened too, or the student's user could not reach it
    args += _open_mount_points([*python_roots(), f"{INSIDE_LIB}/grader", str(scratch)])
    for root in python_roots():
        args += ["--ro-bind", root, root]
    args += ["--ro-bind", str(GRADER_PACKAGE), f"{INSIDE_LIB}/grader"]
    args += hidden_data_arguments()
    args += ["--bind", str(scratch), str(scratch)]
    args += ["--chdir", str(scratch / "work"), "--remount-ro", "/", "--"]
    return args


class BwrapSandbox:
    """bubblewrap: the submission sees the system, Python and its scratch folder, and nothing else."""

    name = "bwrap"

    def __init__(self, bwrap: str, note: str = "") -> None:
        self.bwrap = bwrap
        self.note = note

    def start(self, argv: list[str], scratch: Path, limits: Limits, stderr: IO[bytes]) -> subprocess.Popen[bytes]:
        uid = hand_over(scratch)
        seccomp_fd = filter_file() if not syscall_filter_problem() else None
        try:
            command = bwrap_command(self.bwrap, scratch, argv, uid, seccomp_fd)
            env = child_environment(scratch, INSIDE_LIB)
            process = _popen(command, scratch / "work", env, limits, stderr, limits.processes if uid else None,
                             _new_group(limits), pass_fds=() if seccomp_fd is None else (seccomp_fd,))
        finally:
            if seccomp_fd is not None:
                os.close(seccomp_fd)
        process.coursegrade_scratch = str(scratch)  # type: ignore[attr-defined]
        return process

    def stop(self, process: subprocess.Popen[bytes]) -> None:
        # bwrap joined the group before exec, so every process of its namespace is in it; and
        # killing bwrap kills the namespace's first process (--die-with-parent), and with it the
        # namespace. The scan catches anything in between.
        stop_submission(process)

    def usage(self, process: subprocess.Popen[bytes]) -> Usage | None:
        return group_usage(process)


@functools.cache
def bwrap_problem() -> str:
    """Why bwrap cannot run here ("" when it can): a quick real start of Python inside it."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        if not sys.platform.startswith("linux"):
            return f"bubblewrap (the sandbox) exists only on Linux, not on {sys.platform}"
        return "the bwrap command is not installed (Debian/Ubuntu: apt-get install bubblewrap)"
    import tempfile

    with tempfile.TemporaryDirectory(prefix="coursegrade-probe-") as folder:
        for sub in ("work", "tmp"):
            (Path(folder) / sub).mkdir()
        uid = hand_over(Path(folder))
        seccomp_fd = filter_file() if not syscall_filter_problem() else None
        command = bwrap_command(bwrap, Path(folder), [sys.executable, "-c", "import grader"], uid, seccomp_fd)
        try:
            env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": INSIDE_LIB}
            fds = () if seccomp_fd is None else (seccomp_fd,)
            done = subprocess.run(command, capture_output=True, timeout=20, env=env, pass_fds=fds)
        except (OSError, subprocess.TimeoutExpired) as error:
            return f"bwrap did not start: {error}"
        finally:
            release_user(Path(folder))
            if seccomp_fd is not None:
                os.close(seccomp_fd)
    if done.returncode != 0:
        message = done.stderr.decode(errors="replace").strip().splitlines()
        return f"bwrap cannot run here: {message[-1] if message else f'exit status {done.returncode}'}"
    return ""


@functools.cache
def _warn_once(text: str) -> None:
    print(f"grade: warning: {text}", file=sys.stderr, flush=True)


def _noted(*notes: str) -> str:
    """The notes that say something, joined; said once on stderr."""
    note = "; ".join(n for n in notes if n)
    if note:
        _warn_once(note)
    return note


def limits_note() -> str:
    """What the sandbox's note says when the kernel cannot hold the limits per sandbox here."""
    problem = availability()
    return f"limits held by rlimits only: {problem}" if problem else ""


def filter_note() -> str:
    """What the sandbox's note says when bwrap runs without the system-call filter."""
    problem = syscall_filter_problem()
    return f"no system-call filter: {problem}" if problem else ""


def start_early(name: str, warm: tuple[str, ...]) -> None:
    """Where `name` may be the fork server: run its self-test now, with the template for `warm`
    importing beside it, for a grading that loads its checks meanwhile; get_sandbox(name, warm=warm)
    then returns that backend, template and all."""
    if name in ("auto", "bwrap-fork"):
        from .forkserver import fork_problem

        fork_problem(0.0, tuple(sorted(warm)))


def get_sandbox(name: str = "auto", keep: float = 0.0, warm: tuple[str, ...] = ()) -> Sandbox:
    """The backend called `name` ("auto": the fork server, else bwrap, where it works here, else a
    loud fallback); `keep`: the fork server's templates outlive this grader by that many seconds
    (the next grader forks from them at once); `warm`: the imports of the template the grading
    will want, started beside the fork server's self-test rather than after it."""
    if name == "none":
        return PlainSandbox()
    if name == "subprocess":
        return SubprocessSandbox(_noted(limits_note()))
    if name in ("auto", "bwrap-fork"):
        from .forkserver import fork_problem, fork_sandbox

        why_not = fork_problem(keep, tuple(sorted(warm)))
        if not why_not:
            return fork_sandbox(_noted(filter_note()), keep)
        if name == "bwrap-fork":
            raise SandboxError(f"--sandbox bwrap-fork: {why_not}; use --sandbox bwrap")
    problem = bwrap_problem()
    if not problem:
        return BwrapSandbox(shutil.which("bwrap") or "bwrap", _noted(limits_note(), filter_note()))
    if name == "bwrap":
        raise SandboxError(f"--sandbox bwrap: {problem}; use --sandbox subprocess to grade without isolation")
    note = f"NOT ISOLATED: {problem}; student code ran as a resource-limited subprocess that can read your files"
    return SubprocessSandbox(_noted(note, limits_note()))
