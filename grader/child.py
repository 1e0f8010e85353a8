"""The sandboxed side: `python -m grader.child SCRATCH` executes one submission.

It starts a Jupyter kernel through nbclient and warms it (imports), says "ready" on stdout,
waits for the grader's SUBMISSION message on stdin (so a warm worker can be started before its
submission is known), executes every cell of the notebook (a failing cell does not stop the
others), sends the cells' log, and runs the probe on part 1 of the plan; when the plan says
more, it says "waiting" and runs part 2 once the grader sends it (grader/protocol.py).
This process and the kernel are untrusted: it imports only the wire modules, and the grader
believes nothing it says.
"""

from __future__ import annotations

import base64
import builtins
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from grader import protocol

if TYPE_CHECKING:
    from nbclient import NotebookClient

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
STARTUP_WAIT = 3600  # nbclient's wall-clock wait for its kernel: the grader's start-up limit (awake time) holds


class CellTimeout(Exception):
    """A cell stopped by nbclient's own wall-clock timeout (none is set: the cell watch keeps it)."""


class KernelDied(Exception):
    """nbclient's kernel process ended (a forked child's end is its supervisor's to say)."""


def _capped_client(notebook: Any, **options: Any) -> NotebookClient:
    """An nbclient that keeps at most MAX_CELL_OUTPUT characters of each cell's output. nbclient is
    imported here: a child forked from the fork server's template runs its cells in IPython's shell,
    so the template never imports it (nor jupyter_client, zmq, nbformat: 0.15 s of its start)."""
    from nbclient import NotebookClient

    class CappedClient(NotebookClient):
        def output(self, outs: list[Any], msg: dict[str, Any], display_id: str | None, cell_index: int) -> Any:
            kept = sum(len(str(o.get("text", ""))) for o in outs)
            if msg["msg_type"] == "stream" and kept >= protocol.MAX_CELL_OUTPUT:
                return None
            if msg["msg_type"] in ("display_data", "execute_result", "update_display_data"):
                return None  # pictures and rich outputs are not needed for grading
            return super().output(outs, msg, display_id, cell_index)

    return CappedClient(notebook, **options)


def cell_log(index: int, cell: Any, status: str, note: str = "") -> dict[str, Any]:
    """How an executed cell went, as CellLog's fields (its error and output capped)."""
    text, error = [], note
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream":
            text.append(str(out.get("text", "")))
        elif out.get("output_type") == "error":
            trace = "\n".join(out.get("traceback", [])) or f"{out.get('ename')}: {out.get('evalue')}"
            error = (f"{note}\n" if note else "") + _ANSI.sub("", trace)[-protocol.MAX_CELL_ERROR:]
            status = "error" if status == "ok" else status
    first_line = next((line for line in cell["source"].splitlines() if line.strip()), "")
    return {
        "index": index,
        "status": status,
        "source_head": first_line[:120],
        "error": error,
        "output": "".join(text)[:protocol.MAX_CELL_OUTPUT],
    }


class RunDelay:
    """Seconds the threads of process `pid` ("self": this one) were runnable but waited for a CPU
    (/proc/PID/task/*/schedstat run_delay), each thread's as last seen, so that the count never goes
    back when one ends. This process cannot read its control group's stall time (the grader's
    measure): its own threads give the same measure for itself (0 where there is no schedstat)."""

    def __init__(self, pid: int | str = "self") -> None:
        self.pid = pid
        self.seen: dict[str, float] = {}

    def __call__(self) -> float:
        folder = f"/proc/{self.pid}/task"
        with contextlib.suppress(OSError):
            for task in os.listdir(folder):
                with contextlib.suppress(OSError, ValueError, IndexError):
                    with open(f"{folder}/{task}/schedstat", "rb") as f:
                        delay = int(f.read().split()[1]) / 1e9
                    self.seen[task] = max(delay, self.seen.get(task, 0.0))
        return sum(self.seen.values())


def cell_wall(cell_seconds: float) -> float:
    """The per-cell backstop, in awake seconds: never less than the grader's for a notebook's cells
    (grader/runner.py), so that the grader's own stop is the one that counts."""
    return protocol.WALL_FACTOR * cell_seconds + protocol.WALL_SLACK


class _CellWatch(threading.Thread):
    """Interrupts the kernel when the running cell has used `seconds` of CPU, or, a backstop for a
    cell that sleeps or waits, when it has been awake `wall` seconds: the wall-clock time less the
    time the kernel's threads waited for a CPU, so that a busy machine, which is not the student's
    fault, never fires it. The grader keeps its own backstop over all the cells: this one lets the
    cells after a sleeping one run (`wall_fired`: the cell was interrupted by it)."""

    def __init__(self, kernel: Any, seconds: float, wall: float | None) -> None:
        super().__init__(daemon=True)
        self.kernel, self.seconds, self.wall = kernel, seconds, wall
        self.began: tuple[float, float, float] | None = None  # the cell's start: CPU, wall clock, stall
        self.fired = self.wall_fired = False

    def cell(self, running: bool) -> None:
        self.fired = self.wall_fired = False
        self.began = (self.kernel.cpu(), time.monotonic(), self.kernel.stalled()) if running else None

    def awake(self, start: tuple[float, float, float]) -> float:
        return time.monotonic() - start[1] - (self.kernel.stalled() - start[2])

    def run(self) -> None:
        while True:
            time.sleep(0.1)
            start = self.began
            if start is not None and self.kernel.cpu() - start[0] > self.seconds:
                self.began, self.fired = None, True
                self.kernel.interrupt()
            elif start is not None and self.wall is not None and self.awake(start) > self.wall:
                self.began, self.wall_fired = None, True
                self.kernel.interrupt()


def _kernel_process(client: NotebookClient) -> Any:
    return getattr(getattr(client.km, "provisioner", None), "process", None)


def _interrupt(client: NotebookClient) -> None:
    """SIGINT to the kernel's process group, as jupyter_client's interrupt does (callable from
    this thread, unlike the manager's own method)."""
    process = _kernel_process(client)
    with contextlib.suppress(OSError, AttributeError):
        os.killpg(os.getpgid(process.pid), signal.SIGINT)


def _kernel_cpu(client: NotebookClient) -> float:
    """CPU seconds of the kernel process and the children it waited for."""
    process = _kernel_process(client)
    try:
        with open(f"/proc/{process.pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        return sum(int(v) for v in fields[11:15]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, AttributeError):
        return 0.0


def _kernel_returncode(client: NotebookClient) -> int | None:
    process = getattr(getattr(client.km, "provisioner", None), "process", None)
    return process.wait(timeout=5) if process is not None else None


def _code_cell(source: str) -> dict[str, Any]:
    """A code cell as plain data, made without nbformat's validation: in a forked child it is made
    after the student's code ran, which may have patched what the validation calls (builtins.any)."""
    return {"cell_type": "code", "source": source, "metadata": {}, "outputs": [], "execution_count": None}


def _code_cells(notebook: dict[str, Any]) -> list[dict[str, Any]]:
    """The notebook's code cells, their source as one string (the grader's JSON, as nbformat's)."""
    sources = [c.get("source", "") for c in notebook.get("cells", []) if c.get("cell_type") == "code"]
    return [_code_cell("".join(s) if isinstance(s, list) else str(s)) for s in sources]


class _Events:
    """child.py's own events (the probe, in the kernel, appends its own to the same file)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def emit(self, kind: str, **fields: Any) -> None:
        with open(self.path, "a", encoding="utf-8") as events:
            events.write(protocol.event_line(kind, **fields))


def _write_new(path: Path, data: bytes) -> None:
    """Write a new file at `path`, replacing whatever the student's code put there (a planted
    link is removed, never followed)."""
    if os.path.lexists(path):
        os.unlink(path)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as file:
        file.write(data)


def _unpack_part(scratch: Path, plan: dict[str, Any]) -> int:
    """Put a part of the plan where the probe reads it: its tensors in inputs/, the rest as JSON."""
    for name, data in plan.pop("tensors", {}).items():
        _write_new(scratch / protocol.INPUTS / name, base64.b64decode(data))
    part = int(plan["part"])
    _write_new(scratch / protocol.plan_file(part), json.dumps(plan).encode())
    return part


def _probe_cell(scratch: Path, part: int) -> Any:
    return _code_cell(f"__coursegrade_probe.run({str(scratch)!r}, {part})")


class _NbKernel:
    """Cells executed by a Jupyter kernel through nbclient (a process of its own)."""

    def __init__(self, client: NotebookClient) -> None:
        self.client = client
        self.run_delay: RunDelay | None = None

    def execute(self, cell: dict[str, Any]) -> None:
        import nbformat
        from nbclient.exceptions import CellTimeoutError, DeadKernelError

        node = nbformat.from_dict(cell)
        self.client.nb.cells.append(node)
        try:
            self.client.execute_cell(node, len(self.client.nb.cells) - 1)
        except CellTimeoutError as error:
            raise CellTimeout(str(error)) from error
        except DeadKernelError as error:
            raise KernelDied(str(error)) from error
        finally:
            cell["outputs"] = node.outputs

    def returncode(self) -> int | None:
        return _kernel_returncode(self.client)

    def cpu(self) -> float:
        return _kernel_cpu(self.client)

    def stalled(self) -> float:
        if self.run_delay is None:
            process = _kernel_process(self.client)
            if process is None:
                return 0.0
            self.run_delay = RunDelay(process.pid)
        return self.run_delay()

    def interrupt(self) -> None:
        _interrupt(self.client)

    def unlimited(self) -> None:
        self.client.timeout = None  # the probe keeps its own deadlines, the grader its own


def _serve(kernel: Any, scratch: Path, config: dict[str, Any], events: _Events, grader_in: Any,
           on_cell: Any = None) -> int:
    """Say "ready", take the submission, run its cells then the probe's parts (protocol.py)."""
    cell_seconds = float(config.get("cell_seconds", 60))
    sys.stdout.buffer.write(protocol.READY + b"\n")
    sys.stdout.flush()
    given = protocol.read_message(grader_in, protocol.SUBMISSION)
    if given is None:
        return 0
    code_cells = _code_cells(given["notebook"])
    plan = given["part"]
    logs: list[dict[str, Any]] = []
    cells_sent = False
    watch = _CellWatch(kernel, cell_seconds, cell_wall(cell_seconds))
    watch.start()
    try:
        for index, cell in enumerate(code_cells):
            watch.cell(running=True)
            try:
                kernel.execute(cell)
                logs.append(cell_log(index, cell, "timeout" if watch.fired or watch.wall_fired else "ok",
                                     f"the cell used more than {cell_seconds:g} s of CPU" if watch.fired else
                                     "the cell did not finish (wall-clock backstop)" if watch.wall_fired else ""))
            except CellTimeout:
                logs.append(cell_log(index, cell, "timeout", "the cell did not finish (wall-clock backstop)"))
            watch.cell(running=False)
            if on_cell is not None:
                on_cell(logs[-1])
        events.emit(protocol.CELLS, cells=logs)
        cells_sent = True
        if on_cell is not None:
            on_cell(None)
        kernel.unlimited()
        while plan is not None:
            part = _unpack_part(scratch, plan)
            kernel.execute(_probe_cell(scratch, part))
            if not plan.get("more"):
                break
            events.emit(protocol.WAITING)
            given = protocol.read_message(grader_in, protocol.PART)
            plan = given["part"] if given is not None else None
        events.emit(protocol.DONE)
    except KernelDied:
        if not cells_sent:
            events.emit(protocol.CELLS, cells=logs)
        events.emit(protocol.KERNEL_EXIT, returncode=kernel.returncode())
        return protocol.KERNEL_DIED
    return 0


def _setup_source(config: dict[str, Any]) -> str:
    """The kernel's first cell, before any student code: the probe and the warm imports, with the
    cyclic collector off meanwhile (it would walk torch's millions of new objects again and again:
    a sixth of the imports) and then frozen out of its way, as the fork server's template does."""
    warm = "\n".join(f"import {m}" for m in config.get("warm_imports", []))
    setup = f"__import__('gc').disable()\nimport grader.probe as __coursegrade_probe\n{warm}\n"
    if "torch" in config.get("warm_imports", []):
        setup += "torch.set_num_threads(1)\n"
    return setup + "__import__('gc').freeze()\n__import__('gc').enable()\n"


def interruptible() -> None:
    """SIGINT raises KeyboardInterrupt here, as in a Jupyter kernel: the cell watch stops a cell with
    it; and SIGXCPU ends a process past its CPU limit (RLIMIT_CPU), as the runner reads it. A grader
    started with a signal ignored (`grade batch ... &` in a script ignores SIGINT; a batch's workers
    do too) hands the ignoring down through fork and exec, and Python keeps it: a spinning cell
    would run on until the grader stopped the whole notebook, every later cell's function lost with
    it, and a chain past its CPU would end killed at its hard limit, its timeout told as a crash."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGXCPU, signal.SIG_DFL)


def main(scratch: Path) -> int:
    import nbformat

    interruptible()  # the kernel it starts then starts with SIGINT's default, not an ignoring
    config = json.loads((scratch / protocol.CONFIG).read_text())
    events = _Events(scratch / protocol.OUT / protocol.EVENTS)
    client = _capped_client(
        nbformat.v4.new_notebook(cells=[nbformat.from_dict(_code_cell(_setup_source(config)))]),
        timeout=None,  # wall clock, which a busy machine stretches: the cell watch and the grader keep the backstops
        startup_timeout=STARTUP_WAIT,
        kernel_name="python3",
        allow_errors=True,
        interrupt_on_timeout=True,
        resources={"metadata": {"path": str(scratch / protocol.WORK)}},
    )
    with client.setup_kernel(stdout=subprocess.DEVNULL):  # raw fd 1 writes: not into the pipe to the grader
        client.execute_cell(client.nb.cells[0], 0)
        client.nb.cells = []
        return _serve(_NbKernel(client), scratch, config, events, sys.stdin.buffer)


# -- in a child forked by grader/zygote.py: the cells in this process --------------------------

class _ShellKernel:
    """Cells executed in this very process by IPython's shell (grader/shell.py)."""

    def __init__(self) -> None:
        from grader.shell import Shell

        self.shell = Shell()
        self.stalled = RunDelay("self")
        self.pristine = dict(vars(builtins))  # for this module's own code between cells
        self.students: dict[str, Any] | None = None  # the builtins as the student's cells left them

    def execute(self, cell: Any) -> None:
        """Run a cell with the builtins as the cells left them, then put the pristine ones back
        for the code between cells (json, the logs: a student may have patched isinstance)."""
        source = str(cell["source"])
        if self.students is not None:
            _set_builtins(self.students)
        try:
            outputs = self.shell.execute(source)
        finally:
            self.students = dict(vars(builtins))
            _set_builtins(self.pristine)
        cell["outputs"] = outputs

    def cpu(self) -> float:
        times = os.times()
        return times.user + times.system + times.children_user + times.children_system

    def interrupt(self) -> None:
        os.kill(os.getpid(), signal.SIGINT)

    def unlimited(self) -> None:
        pass  # the watch runs only during the cells; the probe keeps its own deadlines


def _set_builtins(values: dict[str, Any]) -> None:
    names = vars(builtins)
    names.update(values)
    for name in [n for n in names if n not in values]:
        del names[name]


def _reseed() -> None:
    """A forked child starts with its template's random state: draw new seeds."""
    seed = int.from_bytes(os.urandom(4), "little")
    if "numpy" in sys.modules:
        sys.modules["numpy"].random.seed(seed)
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(seed)


def in_process(scratch: Path, report: int) -> int:
    """D: the notebook's cells and the probe in this process; each cell's log also goes to the
    supervisor through `report`, which tells how this process ended."""
    interruptible()
    config = json.loads((scratch / protocol.CONFIG).read_text())
    events = _Events(scratch / protocol.OUT / protocol.EVENTS)
    _reseed()
    kernel = _ShellKernel()
    kernel.execute(_code_cell(_setup_source(config)))
    grader_in = os.fdopen(os.dup(0), "rb")
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)

    def on_cell(log: dict[str, Any] | None) -> None:
        line = b"sent\n" if log is None else b"cell " + json.dumps(log).encode() + b"\n"
        with contextlib.suppress(OSError):
            os.write(report, line)

    class _Ready:  # "ready" on the pipe to the grader, then fd 1 goes nowhere (as a kernel's)
        def __init__(self) -> None:
            self.buffer = self

        def write(self, data: bytes) -> None:
            os.write(1, data)

        def flush(self) -> None:
            os.dup2(null, 1)

    saved = sys.stdout
    sys.stdout = _Ready()  # type: ignore[assignment]
    try:
        return _serve(kernel, scratch, config, events, grader_in, on_cell)
    finally:
        sys.stdout = saved
        with contextlib.suppress(OSError):
            os.write(report, b"clean\n")


def supervise(scratch: str) -> int:
    """C: fork D, which runs the notebook; when D dies before it is done (os._exit, a signal),
    say so as child.py says a dead kernel (the cells' log so far, then kernel-exit)."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        pristine = dict(vars(builtins))
        code = 1
        try:
            code = in_process(Path(scratch), write)
        except BaseException:  # noqa: BLE001
            vars(builtins).update(pristine)  # the student's code may have broken what the report uses
            with contextlib.suppress(BaseException):
                import traceback

                traceback.print_exc()
        os._exit(code)
    os.close(write)
    logs, sent, clean = _listen(read, pid)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if clean:
        return code
    events = _Events(Path(scratch) / protocol.OUT / protocol.EVENTS)
    if not sent:
        events.emit(protocol.CELLS, cells=logs)
    events.emit(protocol.KERNEL_EXIT, returncode=code)
    return protocol.KERNEL_DIED


def _listen(read: int, pid: int) -> tuple[list[Any], bool, bool]:
    """D's reports until it ends (its pipe may outlive it in processes it forked)."""
    import select

    logs: list[Any] = []
    sent = clean = False
    pending = b""
    pidfd = os.pidfd_open(pid)
    os.set_blocking(read, False)
    while True:
        ready = select.select([fd for fd in (read, pidfd) if fd >= 0], [], [])[0]
        chunk = b""
        if read >= 0 and (read in ready or pidfd in ready):
            with contextlib.suppress(BlockingIOError):
                chunk = os.read(read, 1 << 20)
                if not chunk:
                    os.close(read)
                    read = -1
        *lines, pending = (pending + chunk).split(b"\n")
        for line in lines:
            if line == b"sent":
                sent = True
            elif line == b"clean":
                clean = True
            elif line.startswith(b"cell ") and len(logs) < protocol.MAX_CELLS:
                with contextlib.suppress(ValueError):
                    logs.append(json.loads(line[5:]))
        if pidfd in ready and not chunk:
            os.close(pidfd)
            if read >= 0:
                os.close(read)
            return logs, sent, clean


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
