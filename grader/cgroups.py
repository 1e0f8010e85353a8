"""A control group per sandbox: memory, processes and CPU share held by the kernel.

Each sandbox's processes are put in a group of their own, made under the grader's own group in
each hierarchy (never at a hierarchy's root unless the grader's own group is that root):

    cgroup v1    memory   memory.limit_in_bytes (and memory.memsw.limit_in_bytes, so that swap
                          does not escape it); memory.oom_control: the kernel kills, not pauses
                 pids     pids.max: a fork past it fails (EAGAIN); threads count too
                 cpuacct  cpuacct.usage: CPU time of every process the group ever held
                 cpu      cpu.shares: the grader's own CFS weight (optional)
                 freezer  freezer.state: `kill` freezes first, so nothing forks meanwhile (optional)
    cgroup v2    one group: memory.max, memory.swap.max = 0, pids.max, cpu.weight (when the cpu
                 controller is enabled), cpu.stat usage_usec, cgroup.kill or cgroup.freeze

v2 is used where the memory and pids controllers are enabled for the children of the grader's
own group (cgroup.subtree_control: root, or a delegated systemd user slice); else v1 where its
memory, pids and cpuacct hierarchies are mounted; else nowhere, and `availability` says why.

Stall time (`stall_seconds`): how long the group's processes were runnable but waited for a CPU,
the kernel's pressure stall information (PSI, cpu.pressure "some total=", kernel 4.20 and later).
The kernel keeps it per group of the v2 hierarchy only, with or without controllers: with v1, the
group also gets a folder in a v2 hierarchy mounted beside them (systemd's hybrid layout,
/sys/fs/cgroup/unified) where the grader may make one, and its processes join it too (optional:
where that cannot be made or joined, the group has no stall time). `stall_problem` says why not.

The memory limit counts what the group's processes hold in anonymous memory, shared memory,
memfd files, tmpfs (/dev/shm) and page cache, whoever maps it: ten 500 MiB memfd files hit it.
Past it the kernel reclaims page cache, then kills a process of the group (`Usage.oom_kills`).

A group may have subgroups that only count CPU (`subgroup`: a folder inside its cpuacct folder,
or inside its v2 folder with no controller enabled for it): the runner puts each forked chain of
steps in one, so that the kernel counts each chain's CPU apart; the group's limits, kill and
usage still cover them.

A group is named coursegrade-<grader pid>-<n>-<its pid namespace>; `availability` (once per
grader process) kills what is left in the groups of a grader process that is gone, and removes
them (`sweep_stale`).
"""

from __future__ import annotations

import contextlib
import errno
import functools
import itertools
import os
import re
import signal
import time
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .sandbox import Limits

PREFIX = "coursegrade-"
KILL_SECONDS = 5.0  # `kill` gives up after this long (a process stuck in the kernel never dies)
REMOVE_SECONDS = 1.0  # `remove` retries this long while the kernel still releases the group
FREEZE_SECONDS = 0.2  # how long `kill` waits for a v1 freezer to report FROZEN
V1_REQUIRED = ("memory", "pids", "cpuacct")
V1_OPTIONAL = ("cpu", "freezer")
V2_REQUIRED = ("memory", "pids")

# The kernel's sched_prio_to_weight (kernel/sched/core.c): nice -20 ... 19.
NICE_WEIGHTS = (
    88761, 71755, 56483, 46273, 36291, 29154, 23254, 18705, 14949, 11916,
    9548, 7620, 6100, 4904, 3906, 3121, 2501, 1991, 1586, 1277,
    1024, 820, 655, 526, 423, 335, 272, 215, 172, 137,
    110, 87, 70, 56, 45, 36, 29, 23, 18, 15,
)


class ControlGroupError(Exception):
    """No control group can be made here (or this one could not be); the message says why."""


@dataclass(frozen=True)
class Usage:
    """What a group's processes have used, as the kernel counts it."""

    cpu_seconds: float  # CPU time, every process the group ever held (exited ones included)
    memory_bytes: int  # charged now: anonymous, shared, memfd, tmpfs, page cache
    memory_peak_bytes: int  # the most charged at once (the current charge where not counted)
    oom_kills: int  # processes the kernel killed for the memory limit
    processes: int  # tasks counted against the process limit now (threads included)


def weight_for_nice(nice: int) -> int:
    """The kernel's CFS weight for `nice` (0 → 1024; each step about ×1.25 the other way)."""
    return NICE_WEIGHTS[min(19, max(-20, nice)) + 20]


# -- where groups can be made -------------------------------------------------------------------

PRESSURE = "pressure"  # the role of the folder whose cpu.pressure counts the group's stall time


@dataclass(frozen=True)
class _Layout:
    version: int  # 1 or 2
    parents: dict[str, str]  # role (controller, or PRESSURE) -> the grader's own group's folder for it
    optional: frozenset[str] = frozenset()  # roles a group may go without (its folder not made or joined)


def _unescape(field: str) -> str:
    """A path of /proc/self/mountinfo (space, tab, newline and backslash are octal escapes)."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def _own_paths() -> tuple[dict[str, str], str | None]:
    """The grader's own group path per v1 controller, and in the v2 hierarchy."""
    v1: dict[str, str] = {}
    v2 = None
    with open("/proc/self/cgroup") as f:
        for line in f:
            number, controllers, path = line.rstrip("\n").split(":", 2)
            if number == "0" and not controllers:
                v2 = path
            for controller in filter(None, controllers.split(",")):
                v1[controller] = path
    return v1, v2


def _mounts() -> list[tuple[str, str, str, set[str]]]:
    """(file system type, mount root, mount point, super options) of every cgroup mount."""
    found = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            fields, kind = left.split(), right.split()
            if len(fields) >= 5 and len(kind) >= 3 and kind[0] in ("cgroup", "cgroup2"):
                found.append((kind[0], _unescape(fields[3]), _unescape(fields[4]), set(kind[2].split(","))))
    return found


def _folder(root: str, point: str, own: str) -> str | None:
    """The folder of group `own` in a hierarchy mounted at `point` from `root`, if it shows there."""
    if root != "/" and own != root and not own.startswith(root + "/"):
        return None
    folder = os.path.join(point, own[len(root):].lstrip("/") if root != "/" else own.lstrip("/"))
    return folder.rstrip("/") if os.path.isdir(folder) else None


def _v2_folders(mounts: list[tuple[str, str, str, set[str]]], own: str | None) -> list[str]:
    """The grader's own group's folder in each mounted v2 hierarchy that shows it."""
    return [f for kind, root, point, _ in mounts if kind == "cgroup2" and own is not None
            for f in [_folder(root, point, own)] if f]


def _v2_layout(mounts: list[tuple[str, str, str, set[str]]], own: str | None) -> _Layout | str:
    folders = _v2_folders(mounts, own)
    if not folders:
        return "no cgroup2 hierarchy shows the grader's own group"
    enabled = set(_read(os.path.join(folders[0], "cgroup.subtree_control")).split())
    missing = [c for c in V2_REQUIRED if c not in enabled]
    if missing:
        return (f"cgroup2: the {' and '.join(missing)} controller(s) are not enabled for the children of "
                f"{folders[0]} (its cgroup.subtree_control: {' '.join(sorted(enabled)) or 'empty'})")
    roles = [*V2_REQUIRED, *(["cpu"] if "cpu" in enabled else []), PRESSURE]
    return _Layout(2, {role: folders[0] for role in roles})


def _v1_layout(mounts: list[tuple[str, str, str, set[str]]], own: dict[str, str]) -> _Layout | str:
    parents: dict[str, str] = {}
    for role in (*V1_REQUIRED, *V1_OPTIONAL):
        for kind, root, point, options in mounts:
            folder = _folder(root, point, own[role]) if kind == "cgroup" and role in options and role in own else None
            if folder:
                parents[role] = folder
                break
    missing = [role for role in V1_REQUIRED if role not in parents]
    if missing:
        return f"cgroup v1: no {', '.join(missing)} hierarchy is mounted"
    return _Layout(1, parents)


def _with_pressure(layout: _Layout, mounts: list[tuple[str, str, str, set[str]]], own: str | None) -> _Layout:
    """A v1 layout, plus the grader's own folder in a v2 hierarchy mounted beside it (no controller
    needed: the kernel keeps every v2 group's stall time) where the grader may make groups there."""
    folder = next(iter(_v2_folders(mounts, own)), None)
    if folder is None or not os.access(folder, os.W_OK) or not os.path.exists("/proc/pressure/cpu"):
        return layout
    return _Layout(1, {**layout.parents, PRESSURE: folder}, frozenset({PRESSURE}))


@functools.cache
def _layout() -> _Layout | str:
    """Where this grader makes groups, or why it cannot (cached: it does not change)."""
    try:
        own_v1, own_v2 = _own_paths()
        mounts = _mounts()
    except OSError as error:
        return f"cannot read the grader's control groups: {error}"
    v2 = _v2_layout(mounts, own_v2)
    if isinstance(v2, _Layout):
        return v2
    v1 = _v1_layout(mounts, own_v1)
    return _with_pressure(v1, mounts, own_v2) if isinstance(v1, _Layout) else f"{v2}; {v1}"


# -- small file helpers (open, read or write, close) --------------------------------------------

def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def _write(path: str, value: str) -> None:
    """Write `value` to a control file; an OSError names the file."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
        try:
            os.write(fd, value.encode())
        finally:
            os.close(fd)
    except OSError as error:
        raise OSError(error.errno, error.strerror, path) from None


def _number(path: str) -> int:
    try:
        return int(_read(path).split()[0])
    except (ValueError, IndexError):
        return 0


def _stall(path: str) -> float | None:
    """The "some total=" of a pressure file, in seconds; None where there is none (no PSI)."""
    for line in _read(path).splitlines() if path else ():
        if line.startswith("some "):
            for field in line.split():
                if field.startswith("total="):
                    with contextlib.suppress(ValueError):
                        return int(field[6:]) / 1e6
    return None


def _keyed(path: str) -> dict[str, int]:
    """A flat keyed file ("key value" lines: memory.events, cpu.stat, memory.oom_control)."""
    values = {}
    for line in _read(path).splitlines():
        key, _, value = line.partition(" ")
        with contextlib.suppress(ValueError):
            values[key] = int(value)
    return values


# -- the groups ----------------------------------------------------------------------------------

_names = itertools.count()


class ControlGroup:
    """The control group of one sandbox: its folder in every hierarchy it uses.

    `create` makes it (ControlGroupError where groups cannot be made); `join` puts a process in
    it; `kill` ends every process in it; `remove` deletes it (after which `usage` keeps saying
    what was used last). As a context manager it is killed and removed on exit.
    """

    def __init__(self, version: int, folders: dict[str, str], memory_limit: int | None,
                 optional: frozenset[str] = frozenset()) -> None:
        self.version = version
        self.folders = folders  # role -> folder (v2: the same folder for every role)
        self.memory_limit = memory_limit  # None: no limit (accounting only)
        distinct = list(dict.fromkeys(folders.values()))
        self._procs = tuple(os.path.join(f, "cgroup.procs") for f in distinct)
        self._distinct = tuple(distinct)
        required = {f for role, f in folders.items() if role not in optional}
        self._spare = frozenset(os.path.join(f, "cgroup.procs") for f in distinct if f not in required)
        self._last: Usage | None = None  # what `usage` says once the group is removed
        self._last_stall: float | None = None  # what `stall_seconds` says then

    @classmethod
    def create(cls, limits: Limits | None, weight: int) -> ControlGroup:
        """A new group with `limits` (None: accounting and killing only) and CPU weight `weight`
        (see `weight_for_nice`). Raises ControlGroupError when it cannot be made here."""
        layout = _layout()
        if isinstance(layout, str):
            raise ControlGroupError(layout)
        folders = _make_folders(layout)
        group = cls(layout.version, folders, limits.memory_bytes if limits else None, layout.optional)
        try:
            group._configure(limits, weight)
        except OSError as error:
            group.remove()
            raise ControlGroupError(f"cannot set the limits of control group {error.filename}: "
                                    f"{error.strerror}") from error
        return group

    def _configure(self, limits: Limits | None, weight: int) -> None:
        if self.version == 1:
            self._configure_v1(limits, weight)
            return
        folder = self.folders["memory"]
        if limits is not None:
            _write(os.path.join(folder, "memory.max"), str(limits.memory_bytes))
            swap = os.path.join(folder, "memory.swap.max")
            if os.path.exists(swap):
                _write(swap, "0")
            _write(os.path.join(folder, "pids.max"), str(limits.processes))
        if "cpu" in self.folders:  # cpu.weight: 1..10000, 100 for nice 0's 1024
            _write(os.path.join(folder, "cpu.weight"), str(min(10000, max(1, round(weight * 100 / 1024)))))

    def _configure_v1(self, limits: Limits | None, weight: int) -> None:
        memory = self.folders["memory"]
        _write(os.path.join(memory, "memory.oom_control"), "0")  # the kernel kills on OOM, never pauses
        if limits is not None:
            _write(os.path.join(memory, "memory.limit_in_bytes"), str(limits.memory_bytes))
            memsw = os.path.join(memory, "memory.memsw.limit_in_bytes")  # memory + swap: after memory
            if os.path.exists(memsw):
                _write(memsw, str(limits.memory_bytes))
            _write(os.path.join(self.folders["pids"], "pids.max"), str(limits.processes))
        if "cpu" in self.folders:
            _write(os.path.join(self.folders["cpu"], "cpu.shares"), str(max(2, weight)))

    def join(self, pid: int) -> None:
        """Put process `pid` in the group in every hierarchy. Safe between fork and exec (a
        `preexec_fn`): it only opens, writes and closes files. Raises OSError on failure."""
        data = b"%d" % pid
        for path in self._procs:
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
                try:
                    os.write(fd, data)
                finally:
                    os.close(fd)
            except OSError:
                if path not in self._spare:  # an optional folder only costs its stall time
                    raise

    def pids(self) -> set[int]:
        """The processes in the group now (in any of its hierarchies), its subgroups' included."""
        found: set[int] = set()
        for folder in self._distinct:
            for inner, _, _ in os.walk(folder):
                found.update(int(word) for word in _read(os.path.join(inner, "cgroup.procs")).split())
        return found

    def own_pids(self) -> list[int]:
        """The processes in this group itself, not in a subgroup, as its CPU count sees them."""
        return [int(word) for word in _read(self._file(self._counting_role, "cgroup.procs")).split()]

    def subgroup(self, name: str) -> ControlGroup:
        """A group inside this one that only counts CPU: a process moved there (`join`) is still
        held by this group's limits, killed with it and counted in its usage too. OSError when it
        cannot be made."""
        folder = os.path.join(self.folders[self._counting_role], name)
        with contextlib.suppress(FileExistsError):
            os.mkdir(folder, 0o755)
        return ControlGroup(self.version, {self._counting_role: folder}, None)

    @property
    def _counting_role(self) -> str:
        return "cpuacct" if self.version == 1 else "memory"  # v2: one folder for every role

    def cpu_seconds(self) -> float:
        """CPU time of every process the group (its subgroups included) ever held."""
        return self._last.cpu_seconds if self._last is not None else self._cpu_now()

    def _cpu_now(self) -> float:
        if self.version == 1:
            return _number(self._file(self._counting_role, "cpuacct.usage")) / 1e9
        return _keyed(self._file(self._counting_role, "cpu.stat")).get("usage_usec", 0) / 1e6

    def stall_seconds(self) -> float | None:
        """Seconds the group's processes (its subgroups' included) were runnable but waited for a
        CPU, as the kernel counts it (PSI); after `remove`, what it was then; None where not counted."""
        return self._last_stall if self._last is not None else _stall(self._file(PRESSURE, "cpu.pressure"))

    def usage(self) -> Usage:
        """What the group's processes have used; after `remove`, what they had used then."""
        if self._last is not None:
            return self._last
        return self._usage_v1() if self.version == 1 else self._usage_v2()

    def _file(self, role: str, name: str) -> str:
        """The control file `name` of the group's `role` folder ("" where it has none: reads as empty)."""
        return os.path.join(self.folders[role], name) if role in self.folders else ""

    def _usage_v1(self) -> Usage:
        oom = _keyed(self._file("memory", "memory.oom_control"))
        if "oom_kill" in oom:  # kernel 4.13 and later
            kills = oom["oom_kill"]
        else:  # a hint only: the limit was reached at least once (maybe only reclaiming)
            failed = _number(self._file("memory", "memory.memsw.failcnt")) or _number(
                self._file("memory", "memory.failcnt"))
            kills = min(1, failed)
        return Usage(
            cpu_seconds=self._cpu_now(),
            memory_bytes=_number(self._file("memory", "memory.usage_in_bytes")),
            memory_peak_bytes=_number(self._file("memory", "memory.max_usage_in_bytes")),
            oom_kills=kills,
            processes=_number(self._file("pids", "pids.current")),
        )

    def _usage_v2(self) -> Usage:
        events = _keyed(self._file("memory", "memory.events"))
        current = _number(self._file("memory", "memory.current"))
        peak = self._file("memory", "memory.peak")  # kernel 5.19 and later
        return Usage(
            cpu_seconds=self._cpu_now(),
            memory_bytes=current,
            memory_peak_bytes=_number(peak) if os.path.exists(peak) else current,
            oom_kills=events.get("oom_kill", min(1, events.get("oom", 0))),
            processes=_number(self._file("memory", "pids.current")),
        )

    def kill(self) -> bool:
        """SIGKILL every process of the group until none is left (frozen meanwhile, so that none
        forks while it is being killed); gives up after KILL_SECONDS. True when it is empty."""
        deadline = time.monotonic() + KILL_SECONDS
        pause = 0.001
        while self.pids():
            if time.monotonic() > deadline:
                return False
            self._kill_once()
            time.sleep(pause)
            pause = min(0.05, pause * 2)
        return True

    def _kill_once(self) -> None:
        kill_file = os.path.join(self._distinct[0], "cgroup.kill")  # cgroup v2, kernel 5.14 and later
        if self.version == 2 and os.path.exists(kill_file):
            with contextlib.suppress(OSError):
                _write(kill_file, "1")
                return
        frozen = self._freeze(True)
        try:
            for pid in self.pids():
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
        finally:
            if frozen:
                self._freeze(False)  # a frozen process dies only once it is thawed

    def _freeze(self, frozen: bool) -> bool:
        """Freeze (or thaw) the group where there is a freezer; False where there is none."""
        if self.version == 2:
            state, value, done = os.path.join(self._distinct[0], "cgroup.freeze"), "1" if frozen else "0", "frozen 1"
        elif "freezer" in self.folders:
            state = os.path.join(self.folders["freezer"], "freezer.state")
            value, done = ("FROZEN" if frozen else "THAWED"), "FROZEN"
        else:
            return False
        try:
            _write(state, value)
        except OSError:
            return False
        if self.version == 2:
            state = os.path.join(self._distinct[0], "cgroup.events")
        deadline = time.monotonic() + FREEZE_SECONDS
        while frozen and done not in _read(state) and time.monotonic() < deadline:
            time.sleep(0.001)
        return True

    def remove(self) -> bool:
        """Delete the group's folders, retrying while the kernel still releases the group
        (REMOVE_SECONDS at most); what was used is kept for `usage`. True when all are gone."""
        if self._last is None:
            self._last_stall = self.stall_seconds()
            self._last = self._usage_v1() if self.version == 1 else self._usage_v2()
        deadline = time.monotonic() + REMOVE_SECONDS
        inner = [os.path.join(top, name) for folder in self._distinct
                 for top, names, _ in os.walk(folder, topdown=False) for name in names]  # subgroups first
        return all(_remove_folder(folder, deadline) for folder in [*inner, *reversed(self._distinct)])

    def __enter__(self) -> ControlGroup:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.kill()
        self.remove()


def _make_folders(layout: _Layout) -> dict[str, str]:
    """mkdir a new group in each hierarchy of `layout`; role -> folder."""
    for _ in range(100):
        name = f"{PREFIX}{os.getpid()}-{next(_names)}-{_pid_namespace()}"
        made: dict[str, str] = {}  # parent -> new folder
        spare = {p for role, p in layout.parents.items() if role in layout.optional} - {
            p for role, p in layout.parents.items() if role not in layout.optional}
        try:
            for parent in dict.fromkeys(layout.parents.values()):
                try:
                    os.mkdir(os.path.join(parent, name), 0o755)
                except OSError as error:
                    if parent in spare and error.errno != errno.EEXIST:
                        continue  # an optional folder: the group goes without it
                    raise
                made[parent] = os.path.join(parent, name)
        except OSError as error:
            for folder in made.values():
                with contextlib.suppress(OSError):
                    os.rmdir(folder)
            if error.errno == errno.EEXIST:
                continue  # left by an earlier grader with this pid
            raise ControlGroupError(f"cannot make a control group in {error.filename}: {error.strerror}") from error
        return {role: made[parent] for role, parent in layout.parents.items() if parent in made}
    raise ControlGroupError("cannot find a free control group name")


def _remove_folder(folder: str, deadline: float) -> bool:
    while True:
        try:
            os.rmdir(folder)
            return True
        except FileNotFoundError:
            return True
        except OSError as error:
            if error.errno != errno.EBUSY or time.monotonic() > deadline:
                return False
        time.sleep(0.005)


def _pid_namespace() -> str:
    """This process's pid namespace (its inode): a pid means something only within it."""
    try:
        return str(os.stat("/proc/self/ns/pid").st_ino)
    except OSError:
        return "0"


def _stale_names(layout: _Layout) -> set[str]:
    """The groups here made by a grader process that is gone: named after its pid, in this pid
    namespace (a grader in another one, sharing a hierarchy, is never taken for gone)."""
    names: set[str] = set()
    for parent in set(layout.parents.values()):
        with contextlib.suppress(OSError):
            for name in os.listdir(parent):
                pid, _, rest = name[len(PREFIX):].partition("-")
                if (name.startswith(PREFIX) and pid.isdigit() and rest.endswith(f"-{_pid_namespace()}")
                        and not os.path.exists(f"/proc/{pid}")):
                    names.add(name)
    return names


def sweep_stale() -> int:
    """Kill the processes left in, and remove, the groups of grader processes that are gone (a
    grader killed before its `stop` ran, or while it removed its folders one hierarchy at a time:
    a group may be missing some); how many groups were removed."""
    layout = _layout()
    if isinstance(layout, str):
        return 0
    removed = 0
    for name in _stale_names(layout):
        folders = {role: os.path.join(parent, name) for role, parent in layout.parents.items()}
        group = ControlGroup(layout.version, {r: f for r, f in folders.items() if os.path.isdir(f)}, None,
                             layout.optional)
        if group.folders and group.kill() and group.remove():
            removed += 1
    return removed


@functools.cache
def availability() -> str:
    """"" when control groups can be made here, else why not (cached): a real group is made with
    the default limits, then removed."""
    from .sandbox import Limits

    layout = _layout()
    if isinstance(layout, str):
        return layout
    sweep_stale()
    try:
        group = ControlGroup.create(Limits(), weight_for_nice(0))
    except ControlGroupError as error:
        return str(error)
    if not group.remove():
        return f"cannot remove control group {group._distinct[0]}"
    return ""


@functools.cache
def stall_problem() -> str:
    """"" when a group made here counts its stall time (`stall_seconds`), else why not (cached): a
    real group is made, read, then removed."""
    problem = availability()
    if problem:
        return f"no control group: {problem}"
    try:
        group = ControlGroup.create(None, weight_for_nice(0))
    except ControlGroupError as error:
        return str(error)
    try:
        if group.stall_seconds() is None:
            where = "no cgroup v2 hierarchy the grader may use" if PRESSURE not in group.folders else "PSI disabled"
            return f"the kernel counts no CPU stall time (PSI) for the sandboxes' control groups here ({where})"
        return ""
    finally:
        group.remove()
