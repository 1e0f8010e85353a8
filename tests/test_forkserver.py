"""The fork server (`--sandbox bwrap-fork`) for real: children forked from one template cannot see
or touch each other, what a child does costs only itself, a dead template is started again, and
the cells run in the child's own IPython shell give what nbclient's kernel gives."""

from __future__ import annotations

import ast
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from grader import fontlist, isolate
from grader.assignments import known_assignments, load_assignment
from grader.forkserver import KEPT_FOLDER, ForkSandbox, fork_problem, kept_address, template_arguments
from grader.model import CellLog
from grader.runner import run_steps
from grader.sandbox import INSIDE_LIB, Limits, bwrap_problem, get_sandbox, start_early
from grader.submission import load_submission
from grader.validate import sample_cases

from .conftest import ROOT, SUBMISSIONS, leading_to_python

HOSTILE = SUBMISSIONS / "hostile"

pytestmark = pytest.mark.skipif(bool(bwrap_problem() or fork_problem()),
                                reason=f"the fork server cannot run here: {bwrap_problem() or fork_problem()}")


@pytest.fixture(scope="module")
def sandbox() -> Iterator[ForkSandbox]:
    made = get_sandbox("bwrap-fork")
    assert isinstance(made, ForkSandbox)
    yield made


def _scratch() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="coursegrade-test-"))
    for sub in ("work", "home", "tmp", "lib"):
        (folder / sub).mkdir()
    return folder


@pytest.fixture
def two_scratches() -> Iterator[tuple[Path, Path]]:
    folders = _scratch(), _scratch()
    yield folders
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)


def _start(sandbox: ForkSandbox, script: str, scratch: Path, limits: Limits | None = None) -> Any:
    stderr = open(scratch / "stderr.txt", "wb")  # noqa: SIM115  (closed with the scratch folder)
    return sandbox.start([sys.executable, "-c", script], scratch, limits or Limits(), stderr)


def _said(process: Any) -> str:
    line: bytes = process.stdout.readline()
    return line.decode().strip()


HOLDER = """
import ctypes, mmap, os, socket, sys, time
secret = b"coursegrade-secret-" + b"%d" % os.getpid()
open("SECRET.txt", "wb").write(secret)
try:
    open("/dev/shm/coursegrade-secret", "wb").write(secret)  # the student's user may not (as under bwrap)
except OSError:
    pass
held = mmap.mmap(-1, 4096)
held.write(secret)
server = socket.socket()
server.bind(("127.0.0.1", 0))
server.listen(5)
print("ready", server.getsockname()[1], os.getcwd(), flush=True)
time.sleep(60)
"""

PEEKER = """
import glob, json, os, signal, socket
seen = {}
seen["other_scratch"] = os.path.exists(OTHER)
seen["tmp"] = sorted(os.listdir("/tmp"))
seen["shm"] = sorted(os.listdir("/dev/shm"))
seen["pids"] = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
seen["secret_in_proc"] = any(b"coursegrade-" + b"secret" in open(p, "rb").read()
                             for p in glob.glob("/proc/[0-9]*/cmdline") + glob.glob("/proc/[0-9]*/environ")
                             if os.access(p, os.R_OK))
try:
    socket.create_connection(("127.0.0.1", PORT), timeout=2).close()
    seen["port"] = True
except OSError:
    seen["port"] = False
seen["signals"] = []
for pid in (HOST_PID, 1, os.getppid()):
    try:
        os.kill(pid, signal.SIGKILL)
        seen["signals"].append(pid)
    except OSError:
        pass
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
seen["ptrace"] = libc.ptrace(16, HOST_PID, 0, 0)  # PTRACE_ATTACH
seen["sysvipc"] = open("/proc/sysvipc/shm").read().count("\\n")
print(json.dumps(seen), flush=True)
"""


def test_two_children_cannot_see_or_touch_each_other(sandbox: ForkSandbox, two_scratches: tuple[Path, Path]) -> None:
    first, second = two_scratches
    holder = _start(sandbox, HOLDER, first)
    try:
        ready = _said(holder).split()
        assert ready[0] == "ready" and ready[2] == str(first / "work")
        script = f"OTHER, PORT, HOST_PID = {str(first)!r}, {int(ready[1])}, {holder.pid}\n" + PEEKER
        peeker = _start(sandbox, script, second)
        out, _ = peeker.communicate(timeout=120)
        sandbox.stop(peeker)
        seen = json.loads(out.decode().splitlines()[-1])
        assert seen["other_scratch"] is False
        assert seen["tmp"] == sorted({second.name} | leading_to_python("/tmp")), \
            "another child's scratch or the template's /tmp is seen"
        assert seen["shm"] == [], "/dev/shm is shared between children"
        assert max(seen["pids"]) <= 3, f"processes outside its own namespace are visible: {seen['pids']}"
        assert seen["secret_in_proc"] is False
        assert seen["port"] is False, "a loopback socket of another child is reachable"
        assert seen["ptrace"] == -1 and seen["sysvipc"] <= 1
        assert holder.poll() is None, "the other child was killed"
        assert (first / "work" / "SECRET.txt").read_bytes().startswith(b"coursegrade-secret-")
    finally:
        sandbox.stop(holder)
    assert holder.returncode is not None


@pytest.mark.parametrize("attack", [
    "import os, signal\nfor pid in range(1, 64):\n    try: os.kill(pid, signal.SIGKILL)\n    except OSError: pass\n",
    "import os\nwhile True:\n    try: os.fork()\n    except OSError: pass\n",
    "import sys\nsys.stdout.write('x' * (1 << 22))\n",
    "import sys\nsys.exit(7)\n",
    "import time\ntime.sleep(3600)\n",
    "import os\nos.kill(os.getppid(), 9)\nos.kill(1, 9)\n",
], ids=["kills-everything-it-sees", "fork-bomb", "floods", "sys-exit", "sleeps", "kills-parent-and-init"])
def test_what_a_child_does_costs_only_itself(sandbox: ForkSandbox, two_scratches: tuple[Path, Path],
                                             attack: str) -> None:
    first, second = two_scratches
    bystander = _start(sandbox, "import time\nprint('ready', flush=True)\ntime.sleep(60)\n", second)
    assert _said(bystander) == "ready"
    template = sandbox.template
    assert template is not None
    attacker = _start(sandbox, attack, first, Limits(processes=64))
    try:
        for _ in range(50):  # a moment for the attack (the sleeper and the bomb go on until stopped)
            if attacker.poll() is not None:
                break
            time.sleep(0.1)
    finally:
        sandbox.stop(attacker)
    assert bystander.poll() is None, "the bystander died"
    assert sandbox.template is template and template.alive(), "the template died"
    after = _start(sandbox, "print('fine', flush=True)", first)
    out, _ = after.communicate(timeout=120)
    sandbox.stop(after)
    sandbox.stop(bystander)
    assert out.strip() == b"fine"


def test_a_dead_template_is_started_again(sandbox: ForkSandbox, two_scratches: tuple[Path, Path]) -> None:
    first, second = two_scratches
    warm = _start(sandbox, "print('before', flush=True)", first)
    warm.communicate(timeout=120)
    sandbox.stop(warm)
    template = sandbox.template
    assert template is not None
    os.killpg(template.process.pid, signal.SIGKILL)
    template.process.wait()
    again = _start(sandbox, "print('after', flush=True)", second)
    out, _ = again.communicate(timeout=180)
    sandbox.stop(again)
    assert out.strip() == b"after" and sandbox.template is not template


def _fork_from_shared(sandbox: ForkSandbox, scratch: Path) -> int:
    """In a forked grader process (as a batch's worker is): one child from the shared template."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            child = _start(sandbox, "print('forked', flush=True)", scratch)
            out, _ = child.communicate(timeout=120)
            sandbox.stop(child)
            code = 0 if out.strip() == b"forked" and sandbox.templates[()].owner != os.getpid() else 2
            sandbox.close()  # closes only what this process started: nothing
        finally:
            os._exit(code)
    return pid


def test_grader_processes_forked_from_the_owner_share_its_template(two_scratches: tuple[Path, Path]) -> None:
    """A batch's workers fork their children from the batch process's template, at once; closing
    a worker's copy of the backend leaves the template to its owner."""
    sandbox = ForkSandbox(shutil.which("bwrap") or "bwrap")
    try:
        sandbox.prepare(())
        template = sandbox.templates[()]
        pids = [_fork_from_shared(sandbox, scratch) for scratch in two_scratches]
        assert [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in pids] == [0, 0]
        assert template.alive()  # each child used it (not one of its own) and left it running
    finally:
        sandbox.close()
    assert not template.alive()


def test_the_template_the_grading_wants_starts_before_the_self_tests_child() -> None:
    """`grade batch` starts the self-test before it loads the checks, with the assignment's template
    importing beside it (`grade FILE` asks get_sandbox at once); the backend get_sandbox returns
    then holds that very template (the grading forks from it), started before it was asked for."""
    start_early("bwrap-fork", ("json",))
    asked = time.monotonic()
    sandbox = get_sandbox("bwrap-fork", warm=("json",))
    try:
        assert list(sandbox.templates)[:1] == [("json",)]
        template = sandbox.templates[("json",)]
        assert template.alive() and template.started < asked
    finally:
        sandbox.close()


# -- the in-process shell against nbclient's kernel ------------------------------------------------

def _cells(path: Path, assignment: Any, sandbox: Any) -> tuple[CellLog, ...]:
    with tempfile.TemporaryDirectory(prefix="coursegrade-nb-") as folder:
        notebook = Path(folder) / "submission.ipynb"
        load_submission(path).write_notebook(notebook)
        return run_steps(notebook, [], sandbox, assignment.limits, warm_imports=assignment.warm_imports).cells


def _comparable(cell: CellLog) -> tuple[str, str, str]:
    """Status, output, and the error's last line (its name and message)."""
    lines = [line for line in cell.error.splitlines() if line.strip()]
    return cell.status, cell.output, lines[-1].strip() if lines else ""


def _does_more_than_define(path: Path) -> bool:
    """A module with top-level code other than imports, definitions and plain assignments."""
    quiet = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef, ast.Assign, ast.AnnAssign)
    body = ast.parse(path.read_text()).body
    return any(not isinstance(node, quiet) and not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant))
               for node in body)


@pytest.mark.parametrize("name", known_assignments())
def test_the_shell_runs_cells_as_nbclient_does(name: str) -> None:
    """Every sample notebook of the assignment (its reference and template included) and the sample
    modules of conv-arithmetic that do more than define (a module is one cell: one assignment's set
    covers what modules do to cells; one that only defines functions is covered by the correct
    module): the same status, output and error for every cell, by IPython's shell in a forked child
    and by nbclient."""
    assignment = load_assignment(name)
    forked, bwrap = get_sandbox("bwrap-fork"), get_sandbox("bwrap")
    differences = []
    for sample, path, _ in sample_cases(assignment, SUBMISSIONS):
        if path.suffix != ".ipynb" and (name != "conv-arithmetic" or
                                        not (sample == "correct_module.py" or _does_more_than_define(path))):
            continue
        by_shell, by_kernel = _cells(path, assignment, forked), _cells(path, assignment, bwrap)
        assert by_kernel, f"{sample}: no cell ran"
        if [_comparable(c) for c in by_shell] != [_comparable(c) for c in by_kernel]:
            differences.append((sample, [_comparable(c) for c in by_shell], [_comparable(c) for c in by_kernel]))
    assert not differences, differences


COLLECTOR = """import gc, weakref
class Node: pass
node = Node(); node.me = node; alive = weakref.ref(node); del node
gc.collect()
print(gc.isenabled(), alive() is None)
"""


@pytest.mark.parametrize("backend", ["bwrap-fork", "bwrap"])
def test_the_students_code_has_the_collector_its_imports_went_without(backend: str, tmp_path: Path) -> None:
    """The template and the kernel's set-up cell import with the collector off: the student's cells
    find it on, and it collects the cycles they make."""
    module = tmp_path / "cycles.py"
    module.write_text(COLLECTOR)
    cells = _cells(module, load_assignment("toy2d-classifiers"), get_sandbox(backend))
    assert [(c.status, c.output) for c in cells] == [("ok", "True True\n")]


FONTS_IN_THE_TEMPLATE = """
import glob, io, logging, sys
from grader.zygote import _take_font_list
_take_font_list(sys.argv[1])
taken = bool(glob.glob("/tmp/fontlist-v*.json"))
said = io.StringIO()
logging.basicConfig(stream=said, level=logging.INFO)
import matplotlib.font_manager
print("taken" if taken else "none", "listed" if "generated new fontManager" in said.getvalue() else "loaded")
"""

FONTS_FROM_A_CELL = """
import glob, os
def target(fd):
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:  # the listing's own descriptor, closed by now
        return ""
own = os.path.dirname(os.getcwd()) + os.sep  # the submission's folder (its stderr.txt is open)
opened = [path for path in map(target, os.listdir("/proc/self/fd")) if not path.startswith(own)]
print([path for path in glob.glob("/run/*") + opened if "font" in path or "coursegrade" in path])
"""


def test_the_font_list_the_grader_built_serves_each_template_out_of_the_students_reach(tmp_path: Path) -> None:
    """matplotlib's font list, built once by the grader (grader/fontlist.py), handed to a template
    as an open file: the template takes it and does not list the fonts again (without it, it
    does). Nothing of it reaches a child: no folder shown, no descriptor left open."""
    if not fontlist.built():
        fontlist.build()
    handed = fontlist.opened()
    assert handed is not None
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": INSIDE_LIB, "HOME": "/tmp", "MPLCONFIGDIR": "/tmp", "LANG": "C.UTF-8"}
    view = template_arguments(shutil.which("bwrap") or "bwrap")
    template = [*view, "--", sys.executable, "-c", FONTS_IN_THE_TEMPLATE]
    try:
        said = [subprocess.run([*template, way], env=env, capture_output=True, text=True, timeout=120,
                               pass_fds=(handed[0],)).stdout.strip() for way in (f"{handed[0]}:{handed[1]}", "-")]
    finally:
        os.close(handed[0])
    assert said == ["taken loaded", "none listed"]
    module = tmp_path / "fonts.py"
    module.write_text(FONTS_FROM_A_CELL)
    cells = _cells(module, load_assignment("toy2d-classifiers"), get_sandbox("bwrap-fork"))
    assert [(c.status, c.output) for c in cells] == [("ok", "[]\n")]


UNDER_TMP = sorted(leading_to_python("/tmp"))  # a checkout in /tmp


@pytest.mark.skipif(not UNDER_TMP, reason="the Python environment is not under /tmp: nothing is mounted in a child's")
def test_a_link_planted_where_python_is_mounted_is_not_followed(sandbox: ForkSandbox,
                                                                two_scratches: tuple[Path, Path]) -> None:
    """A checkout under /tmp: each child mounts the Python environment in its own tmp/ (as bwrap
    does). A link a student left there (the folder outlives a kernel its runner restarts) is refused,
    not followed: the child does not start, and says why on its stderr."""
    first, _ = two_scratches
    elsewhere = first / "tmp" / "elsewhere"
    elsewhere.mkdir()
    (first / "tmp" / UNDER_TMP[0]).symlink_to(elsewhere)
    child = _start(sandbox, "print('started', flush=True)", first)
    out, _ = child.communicate(timeout=120)
    sandbox.stop(child)
    assert out == b"" and child.returncode != 0
    assert "is not a folder: a link or a file in the submission's tmp folder" in (first / "stderr.txt").read_text()


# -- a kept template (grade FILE --keep-warm) ------------------------------------------------------

def _grade_kept(path: Path, keep: float) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-m", "grader", str(path), "-a", "conv-arithmetic", "--format", "json",
                           "--sandbox", "bwrap-fork", "--keep-warm", f"{keep:g}"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode in (0, 1) and done.stdout, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def _listener_pid(address: str) -> int:
    """The pid of the grader that made the kept template at `address` listen (its credentials)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as sock:
        sock.connect(address)
        return isolate.peer(sock)[0]


def _kept_templates() -> list[str]:
    """The addresses of this checkout's kept templates for conv-arithmetic: the self-test's and the grading's."""
    bwrap, warm = shutil.which("bwrap") or "bwrap", load_assignment("conv-arithmetic").warm_imports
    return [kept_address(bwrap, ()), kept_address(bwrap, tuple(sorted(warm)))]


def _answering(address: str) -> int | None:
    with contextlib.suppress(OSError):
        return _listener_pid(address)
    return None


def test_a_kept_template_serves_the_next_grader_out_of_the_students_reach() -> None:
    """`--keep-warm`: the second grading forks from the templates the first one left (the same
    listeners), with the same verdicts; a submission that looks for the kept template, through a
    child of that very template, finds nothing."""
    first = _grade_kept(SUBMISSIONS / "conv-arithmetic" / "correct_module.py", 60)
    listeners = [_answering(address) for address in _kept_templates()]
    assert None not in listeners, "no kept template answers after the first grading"
    second = _grade_kept(HOSTILE / "reaches_for_kept_templates.py", 60)
    assert [_answering(address) for address in _kept_templates()] == listeners  # the same templates
    assert first["score"] == second["score"] == first["max_score"], second
    assert os.stat(KEPT_FOLDER).st_mode & 0o777 == 0o700


def test_a_kept_template_ends_when_no_grader_came_for_its_seconds() -> None:
    """The last grader's --keep-warm counts (here 1 s, after the 60 s of a template already kept)."""
    _grade_kept(SUBMISSIONS / "conv-arithmetic" / "correct_module.py", 1)
    deadline = time.monotonic() + 120
    while any(_answering(a) for a in _kept_templates()) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not any(_answering(a) for a in _kept_templates())


def test_keep_warm_without_the_fork_server_says_so_and_grades() -> None:
    done = subprocess.run([sys.executable, "-m", "grader", str(SUBMISSIONS / "conv-arithmetic" / "correct_module.py"),
                           "-a", "conv-arithmetic", "--sandbox", "bwrap", "--keep-warm", "5"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "--keep-warm: nothing to keep with the bwrap sandbox" in done.stderr
    bad = subprocess.run([sys.executable, "-m", "grader", "x.py", "--keep-warm", "-3"], cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "not a number of seconds above 0" in bad.stderr
