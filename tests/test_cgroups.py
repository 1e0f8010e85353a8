"""Control groups for real: the kernel holds memory (shared memory included), processes and CPU
accounting per sandbox, and a group's processes, orphans included, die with it.

Every test is bounded where a limit would not hold: memory is capped at 1 GiB, forks at 60,
and every child sleeps a few seconds at most."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from grader.cgroups import PRESSURE, ControlGroup, availability, stall_problem, sweep_stale, weight_for_nice
from grader.sandbox import Limits

needs_groups = pytest.mark.skipif(bool(availability()), reason=f"control groups cannot be made here: {availability()}")


@pytest.fixture
def small_group() -> Iterator[ControlGroup]:
    """A group of 512 MiB and 32 processes, killed and removed after the test."""
    with ControlGroup.create(Limits(memory_bytes=2**29, processes=32), weight_for_nice(0)) as group:
        yield group
    assert not any(os.path.exists(folder) for folder in group.folders.values())


def _run_in(group: ControlGroup, script: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run `script` with Python in `group` (joined between fork and exec), no rlimits."""
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=timeout,
                          preexec_fn=lambda: group.join(os.getpid()))


def test_weight_for_nice_is_the_kernels() -> None:
    assert weight_for_nice(0) == 1024 and weight_for_nice(10) == 110
    assert weight_for_nice(-20) == 88761 and weight_for_nice(19) == 15
    assert weight_for_nice(40) == 15 and weight_for_nice(-40) == 88761  # clamped like setpriority
    weights = [weight_for_nice(n) for n in range(-20, 20)]
    assert all(1.19 < a / b < 1.3 for a, b in zip(weights, weights[1:], strict=False))


MEMFD = """
import os
fd = os.memfd_create("coursegrade-test")
for _ in range(1024):  # 1 GiB at most, no process maps it
    os.write(fd, bytes(2**20))
print("held 1 GiB")
"""


@needs_groups
def test_memory_in_memfd_counts_against_the_limit(small_group: ControlGroup) -> None:
    done = _run_in(small_group, MEMFD)
    assert done.returncode == -9, done.stdout + done.stderr
    assert "held" not in done.stdout
    assert small_group.usage().oom_kills >= 1
    assert small_group.usage().memory_peak_bytes >= 2**29 * 0.9


@needs_groups
def test_memory_in_dev_shm_counts_against_the_limit(small_group: ControlGroup) -> None:
    shm = Path("/dev/shm") / f"coursegrade-test-{uuid.uuid4().hex}"
    script = MEMFD.replace('os.memfd_create("coursegrade-test")', f"os.open({str(shm)!r}, os.O_CREAT | os.O_WRONLY)")
    try:
        done = _run_in(small_group, script)
    finally:
        shm.unlink(missing_ok=True)
    assert done.returncode == -9, done.stdout + done.stderr
    assert small_group.usage().oom_kills >= 1


FORKS = """
import os, time
made = 0
for _ in range(60):
    try:
        if os.fork() == 0:
            os.dup2(os.open("/dev/null", os.O_RDWR), 1)  # the pipes close when the parent exits
            os.dup2(1, 2)
            time.sleep(5)
            os._exit(0)
        made += 1
    except OSError:
        break
print(made)
"""


@needs_groups
def test_the_process_limit_refuses_a_fork(small_group: ControlGroup) -> None:
    done = _run_in(small_group, FORKS)
    assert done.returncode == 0, done.stderr
    assert 0 < int(done.stdout) < 40  # 31: the parent is the group's 32nd
    assert len(small_group.pids()) == int(done.stdout)  # the sleepers: `kill` ends them


@needs_groups
def test_cpu_seconds_is_cpu_time(small_group: ControlGroup) -> None:
    busy = "import time\nwhile time.process_time() < 1.0:\n    pass\ntime.sleep(0.5)"  # the sleep costs no CPU
    assert _run_in(small_group, busy).returncode == 0
    assert 0.5 <= small_group.usage().cpu_seconds <= 3


@needs_groups
def test_a_subgroup_counts_its_own_cpu_inside_the_groups_limits_and_dies_with_it(small_group: ControlGroup) -> None:
    """A forked chain's group: its CPU counted apart, and in the group's; its processes held by the
    group's limits (a fork past them refused), listed, killed and removed with the group."""
    chain = small_group.subgroup("chain-0")
    spin = ("import os, time\nwhile time.process_time() < 1.0:\n    pass\nprint(len([os.fork() for _ in range(40)]))")
    done = subprocess.run([sys.executable, "-c", spin], capture_output=True, text=True, timeout=60,
                          preexec_fn=lambda: (small_group.join(os.getpid()), chain.join(os.getpid())))
    assert done.returncode != 0 and "BlockingIOError" in done.stderr  # the group's 32 processes
    assert 0.5 <= chain.cpu_seconds() <= small_group.cpu_seconds() <= 3
    sleeper = subprocess.Popen(["sleep", "30"], preexec_fn=lambda: (small_group.join(os.getpid()),
                                                                    chain.join(os.getpid())))
    assert small_group.own_pids() == [] and small_group.pids() == chain.pids() == {sleeper.pid}
    assert small_group.kill() and sleeper.wait(timeout=10) == -9
    assert small_group.remove() and not os.path.exists(chain.folders[next(iter(chain.folders))])


ORPHANS = """
import os
for _ in range(3):
    if os.fork() == 0:
        os.setsid()
        os.dup2(os.open("/dev/null", os.O_RDWR), 1)
        os.dup2(1, 2)
        if os.fork() == 0:
            os.execv("/bin/sleep", ["sleep", "30"])
        os._exit(0)
    os.wait()
print(os.getpid(), flush=True)
"""


@needs_groups
def test_kill_ends_setsid_orphans_and_remove_deletes_the_group() -> None:
    group = ControlGroup.create(Limits(), weight_for_nice(0))
    try:
        done = _run_in(group, ORPHANS)  # the orphans outlive it, in their own sessions
        orphans = group.pids()
        assert done.returncode == 0 and len(orphans) == 3
        assert group.kill()
        assert group.pids() == set()
        assert not [pid for pid in orphans if _alive(pid)]
    finally:
        assert group.remove()
    assert not any(os.path.exists(folder) for folder in group.folders.values())
    assert group.usage().cpu_seconds > 0  # kept after removal


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return False
    return stat[stat.rindex(b")") + 2:][:1] not in (b"Z", b"X")


@needs_groups
def test_the_group_has_the_limits_and_weight_asked_for() -> None:
    with ControlGroup.create(Limits(memory_bytes=3 * 2**28, processes=77), weight_for_nice(10)) as group:
        memory, pids = group.folders["memory"], group.folders["pids"]
        if group.version == 1:
            assert Path(memory, "memory.limit_in_bytes").read_text().strip() == str(3 * 2**28)
            memsw = Path(memory, "memory.memsw.limit_in_bytes")
            assert not memsw.exists() or memsw.read_text().strip() == str(3 * 2**28)
            assert "oom_kill_disable 0" in Path(memory, "memory.oom_control").read_text()
            weight = ("cpu.shares", "110")
        else:
            assert Path(memory, "memory.max").read_text().strip() == str(3 * 2**28)
            weight = ("cpu.weight", "11")
        assert Path(pids, "pids.max").read_text().strip() == "77"
        if "cpu" in group.folders:
            assert Path(group.folders["cpu"], weight[0]).read_text().strip() == weight[1]


@needs_groups
def test_groups_are_made_under_the_graders_own_group() -> None:
    own = {}
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(",") if controllers else ["unified"]:
            own[controller] = path
    with ControlGroup.create(None, weight_for_nice(0)) as group:
        for role, folder in group.folders.items():
            path = own[role if group.version == 1 and role != PRESSURE else "unified"]  # stall time: always v2
            assert folder.rstrip("/").endswith(path.rstrip("/") + "/" + os.path.basename(folder)), (role, folder)
            assert os.path.basename(folder).startswith(f"coursegrade-{os.getpid()}-")


LEAVES_A_GROUP = """
import json, os, subprocess
from grader.cgroups import ControlGroup
from grader.sandbox import Limits
group = ControlGroup.create(Limits(), 1024)
sleeper = subprocess.Popen(["sleep", "30"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           preexec_fn=lambda: group.join(os.getpid()))
print(json.dumps({"pid": sleeper.pid, "folders": group.folders}), flush=True)
os._exit(0)  # a grader killed before its stop: the group and its process are left behind
"""

LEAVES_HALF_A_GROUP = """
import json, os
from grader.cgroups import ControlGroup
from grader.sandbox import Limits
group = ControlGroup.create(Limits(), 1024)
if group.version == 2:  # one folder: nothing to leave half removed
    group.remove()
    print("{}")
    os._exit(0)
group.subgroup("cgchain-0")
counting = group.folders["cpuacct"]
os.rmdir(os.path.join(counting, "cgchain-0"))
os.rmdir(counting)  # killed while removing its folders: the one that counts CPU is gone first
print(json.dumps({role: folder for role, folder in group.folders.items() if folder != counting}), flush=True)
os._exit(0)
"""


@needs_groups
def test_groups_of_a_grader_that_is_gone_are_swept() -> None:
    done = subprocess.run([sys.executable, "-c", LEAVES_A_GROUP], capture_output=True, text=True, timeout=30,
                          cwd=Path(__file__).resolve().parent.parent)
    left = json.loads(done.stdout or "{}")
    assert left, done.stderr
    try:
        assert _alive(left["pid"]) and all(os.path.isdir(f) for f in left["folders"].values())
        assert sweep_stale() >= 1
        assert not _alive(left["pid"])
        assert not [f for f in left["folders"].values() if os.path.exists(f)]
    finally:
        if _alive(left["pid"]):
            os.kill(left["pid"], 9)


@needs_groups
def test_a_group_left_half_removed_is_swept_too() -> None:
    done = subprocess.run([sys.executable, "-c", LEAVES_HALF_A_GROUP], capture_output=True, text=True,
                          timeout=30, cwd=Path(__file__).resolve().parent.parent)
    left = json.loads(done.stdout)
    if not left:
        pytest.skip("cgroup v2: a group is one folder")
    assert all(os.path.isdir(f) for f in left.values()), done.stderr
    assert sweep_stale() >= 1
    assert not [f for f in left.values() if os.path.exists(f)]


@pytest.mark.skipif(bool(stall_problem()), reason=f"no stall time counted here: {stall_problem()}")
def test_a_groups_processes_are_counted_for_stall_time_too(tmp_path: Path) -> None:
    """Its processes are in the folder whose cpu.pressure counts their waits for a CPU (with cgroup
    v1, a group of the v2 hierarchy beside it), and the count is kept once the group is removed."""
    with ControlGroup.create(Limits(), weight_for_nice(0)) as group:
        sleeper = subprocess.Popen(["sleep", "30"], preexec_fn=lambda: group.join(os.getpid()))
        try:
            held = Path(group.folders[PRESSURE], "cgroup.procs").read_text().split()
            assert str(sleeper.pid) in held and group.stall_seconds() is not None
        finally:
            sleeper.kill()
            sleeper.wait()
    assert group.stall_seconds() is not None  # removed: the last count
