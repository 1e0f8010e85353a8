"""The sandbox backends for real: what a student's process can see, reach, use and leave behind."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from grader.cgroups import availability
from grader.forkserver import fork_problem
from grader.model import Step
from grader.runner import Worker, exit_stop, run_steps
from grader.sandbox import (
    OPEN_FILES,
    STACK_BYTES,
    BwrapSandbox,
    Limits,
    PlainSandbox,
    Sandbox,
    SubprocessSandbox,
    bwrap_problem,
    get_sandbox,
    group_of,
    memory_used,
    student_uid,
    submission_processes,
    users_of_their_own,
)

from .conftest import ROOT, SUBMISSIONS, leading_to_python

needs_bwrap = pytest.mark.skipif(bool(bwrap_problem()), reason=f"bwrap cannot run here: {bwrap_problem()}")
needs_groups = pytest.mark.skipif(bool(availability()), reason=f"control groups cannot be made here: {availability()}")


def _skip_without(backend: str) -> None:
    """Skip where `backend` (bwrap or bwrap-fork) cannot run here."""
    problem = fork_problem() if backend == "bwrap-fork" else bwrap_problem()
    if problem:
        pytest.skip(problem)


def _isolating() -> list[Sandbox]:
    """bwrap, and the fork server where it runs here."""
    if bwrap_problem():
        return []
    return [get_sandbox("bwrap")] + ([] if fork_problem() else [get_sandbox("bwrap-fork")])


def _backends() -> list[Sandbox]:
    return [SubprocessSandbox(), *_isolating()]


@pytest.fixture
def scratch() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="coursegrade-test-"))
    for sub in ("work", "home", "tmp", "lib"):
        (folder / sub).mkdir()
    (folder / "lib" / "grader").symlink_to(ROOT / "grader", target_is_directory=True)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def _run(sandbox: Sandbox, script: str, scratch: Path, limits: Limits | None = None) -> str:
    """Run `script` in the sandbox; what it printed."""
    with open(scratch / "stderr.txt", "wb") as stderr:
        process = sandbox.start([sys.executable, "-c", script], scratch, limits or Limits(), stderr)
        try:
            out, _ = process.communicate(timeout=60)
        finally:
            sandbox.stop(process)
    return out.decode() + (scratch / "stderr.txt").read_text()


LOOK_AROUND = """
import json, os, socket, sys
seen = {}
seen["course"] = sorted(os.listdir(ROOT)) if os.path.isdir(ROOT) else []
seen["reference"] = os.path.exists(os.path.join(ROOT, "reference"))
seen["reports"] = os.path.exists(os.path.join(ROOT, "reports"))
seen["home"] = sorted(os.listdir(HOME)) if os.path.isdir(HOME) else []
seen["tmp"] = sorted(os.listdir("/tmp"))
seen["grader_process"] = os.path.exists(f"/proc/{GRADER}")
import grader
seen["grader"] = grader.__file__
wrote = []
for place in (sys.prefix, ROOT, "/", "/usr", HOME):
    try:
        with open(os.path.join(place, "HOSTILE_WAS_HERE.txt"), "w") as f:
            f.write("x")
        wrote.append(place)
    except OSError:
        pass
seen["wrote"] = wrote
try:
    socket.create_connection(("1.1.1.1", 53), timeout=2).close()
    seen["network"] = True
except OSError:
    seen["network"] = False
with socket.socket() as server:
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    socket.create_connection(server.getsockname(), timeout=2).close()
    seen["loopback"] = True
print(json.dumps(seen))
"""


@needs_bwrap
@pytest.mark.parametrize("sandbox", _isolating(), ids=lambda s: s.name)
def test_bwrap_shows_only_the_system_python_and_scratch(sandbox: Sandbox, scratch: Path) -> None:
    home = str(Path.home())
    script = f"ROOT, HOME, GRADER = {str(ROOT)!r}, {home!r}, {os.getpid()}\n" + LOOK_AROUND
    seen = json.loads(_run(sandbox, script, scratch).splitlines()[-1])
    assert not seen["reference"] and not seen["reports"]
    assert set(seen["course"]) <= leading_to_python(str(ROOT)), "the course folder is visible"
    assert set(seen["home"]) <= leading_to_python(home), "the home folder is visible"
    assert set(seen["tmp"]) - leading_to_python("/tmp") == {scratch.name}, "/tmp is not private"
    assert not seen["grader_process"], "the grader's processes are visible"
    assert seen["grader"].startswith("/opt/coursegrade/grader/")
    assert seen["wrote"] == [], "wrote outside its scratch folder"
    assert seen["network"] is False and seen["loopback"] is True


ORPHANS = """
import os, sys, time
for _ in range(5):
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            os.execv("/bin/sleep", ["coursegrade-test-orphan", "30"])
        os._exit(0)
    os.wait()
print("ready", flush=True)
time.sleep(30)
"""


def _live_named(prefix: str) -> list[int]:
    found = []
    for pid in (p for p in os.listdir("/proc") if p.isdigit()):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
            state = Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1][1:2]
        except OSError:
            continue
        if command.startswith(prefix.encode()) and state not in (b"Z", b"X"):
            found.append(int(pid))
    return found


@pytest.mark.parametrize("sandbox", _backends(), ids=lambda s: s.name)
def test_stop_kills_every_process_orphans_included(sandbox: Sandbox, scratch: Path) -> None:
    with open(scratch / "stderr.txt", "wb") as stderr:
        process = sandbox.start([sys.executable, "-c", ORPHANS], scratch, Limits(), stderr)
        assert process.stdout is not None
        assert process.stdout.readline().strip() == b"ready"
        for _ in range(200):  # the last grandchild may not have reached exec yet
            if len(_live_named("coursegrade-test-orphan")) >= 5:
                break
            time.sleep(0.01)
        assert len(_live_named("coursegrade-test-orphan")) >= 5
        sandbox.stop(process)
    assert _live_named("coursegrade-test-orphan") == []


@pytest.mark.parametrize("sandbox", _backends(), ids=lambda s: s.name)
def test_memory_limit_stops_an_allocation(sandbox: Sandbox, scratch: Path) -> None:
    script = "try:\n    x = bytes(3 * 2**30)\n    print('allocated')\nexcept MemoryError:\n    print('MemoryError')"
    assert "MemoryError" in _run(sandbox, script, scratch, Limits(memory_bytes=2**30))


@needs_bwrap
def test_torch_and_a_kernel_start_under_the_default_memory_limit() -> None:
    worker = Worker(get_sandbox("bwrap"), Limits(), warm_imports=("torch",))
    try:
        assert worker.wait_ready(), worker.stderr_tail()
    finally:
        worker.close()


def test_bwrap_required_where_it_cannot_run_is_a_usage_error(run_grade, tmp_path: Path) -> None:
    env = {**os.environ, "PATH": str(tmp_path)}  # no bwrap on this PATH
    done = run_grade(str(SUBMISSIONS / "conv-arithmetic" / "correct_module.py"), "--sandbox", "bwrap", env=env)
    assert done.returncode == 2
    assert "bwrap" in done.stderr and "--sandbox subprocess" in done.stderr


def test_auto_falls_back_to_subprocess_and_says_so(run_grade, tmp_path: Path) -> None:
    env = {**os.environ, "PATH": str(tmp_path)}
    done = run_grade(str(SUBMISSIONS / "conv-arithmetic" / "correct_module.py"), env=env)
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("warning") == 1 and "NOT ISOLATED" in done.stderr
    assert "NOT ISOLATED" in done.stdout  # in the report too, without --verbose


@needs_bwrap
def test_auto_picks_the_fork_server_else_bwrap_here() -> None:
    assert get_sandbox("auto").name == ("bwrap" if fork_problem() else "bwrap-fork")
    assert isinstance(get_sandbox("bwrap"), BwrapSandbox)


def test_subprocess_backend_is_used_when_asked() -> None:
    assert get_sandbox("subprocess").name == "subprocess"


@pytest.mark.parametrize(("code", "kernel", "kind", "words"), [
    (-9, None, "crashed", "killed (SIGKILL)"),
    (128 + 11, None, "crashed", "SIGSEGV, a segmentation fault"),  # bwrap's way of reporting a signal
    (-24, None, "cpu_time", "CPU time"),
    (-25, None, "file_size", "wrote a file larger than"),
    (3, 0, "exited", "ended its own process (exit status 0"),
    (3, -11, "crashed", "SIGSEGV"),
    (3, None, "crashed", "kernel died"),
])
def test_a_dead_child_is_said_in_plain_words(code: int, kernel: int | None, kind: str, words: str) -> None:
    stop = exit_stop(code, Limits(), kernel)
    assert stop.kind == kind and words in stop.message


def test_a_terminated_grader_leaves_no_process_behind(tmp_path: Path) -> None:
    submission = tmp_path / "orphans_then_sleeps.py"
    submission.write_text(ORPHANS.replace("print(\"ready\", flush=True)\n", ""))
    grader = subprocess.Popen([sys.executable, "-m", "grader", str(submission), "-a", "conv-arithmetic",
                               "--sandbox", "subprocess"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    for _ in range(1000):
        if len(_live_named("coursegrade-test-orphan")) >= 5:
            break
        time.sleep(0.02)
    assert len(_live_named("coursegrade-test-orphan")) >= 5, grader.stderr
    grader.terminate()
    _, stderr = grader.communicate(timeout=30)
    assert b"interrupted" in stderr
    assert _live_named("coursegrade-test-orphan") == []


FORKS = """
import os, time
made = 0
for _ in range(60):
    try:
        if os.fork() == 0:
            time.sleep(5)
            os._exit(0)
        made += 1
    except OSError:
        break
print("forked", made, "as user", os.getuid())
"""


@needs_bwrap
@pytest.mark.skipif(not users_of_their_own(), reason="needs a grader running as root (and setpriv)")
@pytest.mark.parametrize("sandbox", _isolating(), ids=lambda s: s.name)
def test_bwrap_runs_the_student_as_its_own_user_with_a_process_limit(sandbox: Sandbox, scratch: Path) -> None:
    said = _run(sandbox, FORKS, scratch, Limits(processes=20)).split()
    assert said[0] == "forked" and int(said[1]) < 20
    assert said[-1] == str(student_uid(scratch))


def _one_cell_notebook(path: Path, source: str) -> None:
    path.write_text(json.dumps({"cells": [{"cell_type": "code", "source": source, "metadata": {}, "outputs": [],
                                           "execution_count": None}],
                                "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))


def test_filling_the_disk_stops_the_run(tmp_path: Path) -> None:
    notebook = tmp_path / "fills_disk.ipynb"
    cell = ("import os\nfor i in range(40):\n    with open(f'f{i}', 'wb') as f:\n"
            "        f.write(os.urandom(2**20))\n        f.flush()\n        os.fsync(f.fileno())\n"
            "import time\ntime.sleep(20)")
    _one_cell_notebook(notebook, cell)
    limits = Limits(disk_bytes=16 * 2**20, cell_seconds=30)
    outcome = run_steps(notebook, [Step("f/one", "f")], get_sandbox(), limits, warm_imports=())
    assert "wrote more than" in outcome.problem or "its folder is full" in outcome.problem  # counted, or a tmpfs
    assert outcome.stop is not None and outcome.stop.kind == "disk"


def test_memory_of_all_processes_together_is_limited(tmp_path: Path) -> None:
    notebook = tmp_path / "forks_and_fills.ipynb"
    cell = ("import os, time\nfor _ in range(4):\n    if os.fork() == 0:\n"
            "        block = bytearray(200 * 2**20)\n        time.sleep(20)\n        os._exit(0)\ntime.sleep(20)")
    _one_cell_notebook(notebook, cell)
    limits = Limits(memory_bytes=2**29, cell_seconds=30)
    outcome = run_steps(notebook, [Step("f/one", "f")], get_sandbox(), limits, warm_imports=())
    assert outcome.stop is not None and outcome.stop.kind == "memory"
    assert "used more than 0.5 GiB of memory" in outcome.problem  # counted by the group, or over /proc


def test_hidden_inputs_never_reach_what_the_student_sees() -> None:
    """Hidden steps' inputs reach the sandbox only after every public step has ended, and
    the cells' log is taken before: no channel carries them into public feedback."""
    from grader.assignments import load_assignment
    from grader.grading import grade_file, hidden_only_steps

    hidden = hidden_only_steps(load_assignment("conv-arithmetic").checks)
    report = grade_file(SUBMISSIONS / "hostile" / "leaks_hidden_inputs.py", "conv-arithmetic")
    public_text = "\n".join([report.message, *(c.output + c.error for c in report.cells),
                             *(c.student_message for c in report.checks)])
    assert "LEAK" in public_text and "conv_params/one-filter" in public_text  # the attack ran
    assert not [name for name in hidden if name in public_text]
    hidden_leaks = [c for c in report.checks if c.hidden and c.exercise == "conv_params" and "LEAK" in c.message]
    assert hidden_leaks and all(c.status == "error" for c in hidden_leaks)  # the staff see what happened
    assert {c.exercise for c in report.checks if c.status != "passed"} == {"conv_params"}


def _notebook(path: Path, *sources: str) -> None:
    cells = [{"cell_type": "code", "source": s, "metadata": {}, "outputs": [], "execution_count": None}
             for s in sources]
    path.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))


def test_a_cell_is_stopped_by_its_cpu_time_and_the_others_still_run(tmp_path: Path) -> None:
    """The cell's limit counts CPU seconds (a busy machine does not eat into it): a cell that spins
    is interrupted once it has used them, and a function defined in a later cell is still graded."""
    notebook = tmp_path / "spins.ipynb"
    _notebook(notebook, "while True:\n    pass", "def f():\n    return 7")
    outcome = run_steps(notebook, [Step("f/one", "f")], get_sandbox(), Limits(cell_seconds=2), warm_imports=())
    assert outcome.cells[0].status == "timeout" and "more than 2 s of CPU" in outcome.cells[0].error
    assert outcome.observations["f/one"].value == 7
    assert outcome.limits_hit == ("cell time limit",)


SPINNING_CELL_IN_A_GRADER_IGNORING_SIGINT = """
import json, signal, sys
from pathlib import Path
signal.signal(signal.SIGINT, signal.SIG_IGN)  # as `grade batch ... &` in a script starts it, or a batch's worker
from grader.model import Step
from grader.runner import run_steps
from grader.sandbox import Limits, get_sandbox
outcome = run_steps(Path(sys.argv[1]), [Step("f/one", "f")], get_sandbox(sys.argv[2]), Limits(cell_seconds=2),
                    warm_imports=())
print(json.dumps([[c.status for c in outcome.cells], outcome.observations["f/one"].value]))
"""


@pytest.mark.parametrize("backend", ["bwrap-fork", "bwrap"])
def test_a_spinning_cell_is_stopped_when_the_grader_was_started_ignoring_sigint(tmp_path: Path, backend: str) -> None:
    """The cell watch stops a cell with SIGINT; a grader started with SIGINT ignored handed the
    ignoring down to the forked children, the cell spun on until the grader stopped the whole
    notebook, and the function of the later cell was never graded."""
    _skip_without(backend)
    notebook = tmp_path / "spins.ipynb"
    _notebook(notebook, "while True:\n    pass", "def f():\n    return 7")
    done = subprocess.run([sys.executable, "-c", SPINNING_CELL_IN_A_GRADER_IGNORING_SIGINT, str(notebook), backend],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert json.loads(done.stdout.splitlines()[-1]) == [["timeout", "ok"], 7], done.stderr[-2000:]


def test_the_child_takes_the_signals_it_is_stopped_by_whatever_the_grader_ignored() -> None:
    code = ("import signal\n"
            "for ignored in (signal.SIGINT, signal.SIGXCPU):\n"
            "    signal.signal(ignored, signal.SIG_IGN)\n"
            "from grader.child import interruptible\n"
            "interruptible()\n"
            "print(signal.getsignal(signal.SIGINT) is signal.default_int_handler,"
            " signal.getsignal(signal.SIGXCPU) == signal.SIG_DFL)")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.stdout.split() == ["True", "True"], done.stderr


LIMITS_SEEN_BY_A_GRADER_WITH_OTHER_ULIMITS = """
import resource, sys
from pathlib import Path
stack_hard = resource.getrlimit(resource.RLIMIT_STACK)[1]
resource.setrlimit(resource.RLIMIT_STACK, (stack_hard, stack_hard))  # `ulimit -s unlimited`
resource.setrlimit(resource.RLIMIT_NOFILE, (256, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))  # `ulimit -n 256`
from grader.runner import run_steps
from grader.sandbox import Limits, get_sandbox
outcome = run_steps(Path(sys.argv[1]), [], get_sandbox(sys.argv[2]), Limits(), warm_imports=())
print(outcome.cells[0].output.strip())
"""


@pytest.mark.parametrize("backend", ["bwrap-fork", "bwrap"])
def test_a_submissions_stack_and_open_files_do_not_depend_on_the_graders_ulimits(tmp_path: Path, backend: str) -> None:
    """A deep recursion passed where the grader's shell had `ulimit -s unlimited` and crashed on
    8 MiB: the sandbox's stack and open files are fixed, whatever the grader was started with."""
    _skip_without(backend)
    notebook = tmp_path / "limits.ipynb"
    _notebook(notebook, "import resource\n"
                        "print(resource.getrlimit(resource.RLIMIT_STACK), resource.getrlimit(resource.RLIMIT_NOFILE))")
    done = subprocess.run([sys.executable, "-c", LIMITS_SEEN_BY_A_GRADER_WITH_OTHER_ULIMITS, str(notebook), backend],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.stdout.strip().splitlines()[-1:] == [f"({STACK_BYTES}, {STACK_BYTES}) ({OPEN_FILES}, {OPEN_FILES})"], \
        done.stderr[-2000:]


def test_a_step_is_stopped_by_its_cpu_time_even_when_it_swallows_the_alarm(tmp_path: Path) -> None:
    notebook = tmp_path / "stubborn.ipynb"
    _notebook(notebook, "def f():\n    while True:\n        try:\n            while True:\n                pass\n"
                        "        except BaseException:\n            pass")
    outcome = run_steps(notebook, [Step("f/one", "f", timeout=1)], get_sandbox(), Limits(), warm_imports=())
    observed = outcome.observations["f/one"]
    assert observed.status == "timeout" and "used more than 1 s of CPU in f (its limit)" in observed.error_message


HOLDS_MEMFD = """
import os, time
fd = os.memfd_create("coursegrade-test")
os.posix_fallocate(fd, 0, 200 * 2**20)  # charged now; no process maps it
print("ready", flush=True)
time.sleep(30)
"""


def _groups_of(pid: int) -> set[str]:
    """The control group paths of `pid` (hierarchy lines of /proc/PID/cgroup, named=systemd left out)."""
    lines = Path(f"/proc/{pid}/cgroup").read_text().splitlines()
    return {line.split(":", 2)[2] for line in lines if "name=" not in line and line.split(":", 2)[1]}


@needs_groups
@pytest.mark.parametrize("sandbox", [*_backends(), PlainSandbox()], ids=lambda s: s.name)
def test_every_process_of_a_sandbox_is_in_its_own_group(sandbox: Sandbox, scratch: Path) -> None:
    with open(scratch / "stderr.txt", "wb") as stderr:
        process = sandbox.start([sys.executable, "-c", HOLDS_MEMFD], scratch, Limits(), stderr)
        try:
            assert process.stdout is not None and process.stdout.readline().strip() == b"ready"
            inside = submission_processes(process.pid, str(scratch))
            assert len(inside) >= (3 if sandbox.name == "bwrap" else 1)  # bwrap, its init, python
            groups = {path for pid in inside for path in _groups_of(pid) if "/coursegrade-" in path}
            assert groups and all(_groups_of(pid) >= groups for pid in inside), groups
            assert not _groups_of(os.getpid()) & groups
            usage = sandbox.usage(process)
            assert usage is not None and usage.processes >= len(inside) and usage.memory_bytes >= 200 * 2**20
            assert memory_used(process, str(scratch)) >= 200 * 2**20  # the memfd no process maps
            group = group_of(process)
            assert group is not None and all(os.path.isdir(folder) for folder in group.folders.values())
        finally:
            sandbox.stop(process)
    assert not [folder for folder in group.folders.values() if os.path.exists(folder)]
    after = sandbox.usage(process)
    assert after is not None and after.cpu_seconds > 0  # kept once the group is gone


@needs_groups
def test_where_groups_can_be_made_the_sandbox_has_no_note() -> None:
    assert get_sandbox("subprocess").note == ""
    assert bwrap_problem() or get_sandbox("bwrap").note == ""


def test_the_hidden_data_notice_ships_with_the_grader() -> None:
    import gzip

    from grader.sandbox import HIDDEN_NOTICE, NOTICE_FILE

    assert gzip.decompress(NOTICE_FILE.read_bytes()) == HIDDEN_NOTICE


COLLIDING = (Path("/tmp/coursegrade-collide-241"), Path("/tmp/coursegrade-collide-283"))  # one hash of their names


@pytest.mark.skipif(not users_of_their_own(), reason="needs a grader running as root (and setpriv)")
def test_two_live_sandboxes_never_share_a_user() -> None:
    """Two scratch folders whose names hash to one user id, one of them in another grader (a
    process of its own): the second gets the next free id while the first holds its own, so
    nothing the kernel counts per user (processes, inotify instances) is shared; released, the id
    is free again."""
    from grader.sandbox import release_user

    first, second = COLLIDING
    try:
        held = student_uid(first)
        other = subprocess.run([sys.executable, "-c", f"from pathlib import Path; from grader.sandbox import "
                                f"student_uid; print(student_uid(Path('{second}')))"],
                               capture_output=True, text=True, timeout=60, cwd=ROOT)
        assert held is not None and other.stdout.split() not in ([], [str(held)]), other.stderr
        assert student_uid(second) not in (None, held) and student_uid(first) == held  # asked again: the same
        release_user(first)
        other = subprocess.run([sys.executable, "-c", f"from pathlib import Path; from grader.sandbox import "
                                f"student_uid; print(student_uid(Path('{second}')))"],
                               capture_output=True, text=True, timeout=60, cwd=ROOT)
        assert other.stdout.split() == [str(held)], other.stderr  # free again once its holder let it go
    finally:
        for scratch in COLLIDING:
            release_user(scratch)
