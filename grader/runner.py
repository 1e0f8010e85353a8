"""Running one submission's steps in a sandboxed child, with deadlines, and reading back data.

A `Worker` is one child process for one submission: it can be started (kernel up, torch
imported) before the submission is known, and is thrown away after it. The grader watches
the child's event file; a step that passes its deadline gets the child killed, and a new
child carries on with the steps still to run.
"""

from __future__ import annotations

import json
import os
import selectors
import shutil
import signal
import stat
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from .codec import CodecError, Encoder, decode, encode_input
from .model import CellLog, CellStatus, Observation, Step, StepStatus
from .sandbox import GRADER_PACKAGE, Limits, Sandbox, memory_used

MAX_EVENTS_BYTES = 64 * 2**20
MAX_EVENT_LINE = 2 * 2**20
GRACE_SECONDS = 2.0
POLL_SECONDS = 0.02
KERNEL_DIED = 3  # the child's exit status when the kernel died under it
MEMORY_EVERY = 0.5  # seconds between two measures of a submission's total memory
MAX_CRASHES = 2  # a function that ended its process this often is not called again


@dataclass(frozen=True)
class RunOutcome:
    """What came back from running a submission's steps."""

    observations: dict[str, Observation]
    cells: tuple[CellLog, ...]
    timings: dict[str, float]
    problem: str = ""
    restarts: int = 0


@dataclass
class _Attempt:
    """The progress of one child process."""

    ended: dict[str, dict[str, Any]] = field(default_factory=dict)
    running: str | None = None
    running_since: float = 0.0
    done: bool = False
    offset: int = 0
    buffer: bytes = b""
    first_event: float | None = None
    last_event: float = 0.0
    probing: bool = False  # the notebook has run; from now on the probe never rests between steps
    waiting: bool = False  # the probe asks for the next part of the plan
    cells: tuple[CellLog, ...] | None = None  # the notebook's cells as they were when probing began


def _free_bytes(folder: Path) -> int:
    info = os.statvfs(folder)
    return info.f_bavail * info.f_frsize


def _make_scratch() -> Path:
    scratch = Path(tempfile.mkdtemp(prefix="coursegrade-"))
    for sub in ("work", "out", "inputs", "home", "tmp", "runtime", "ipython", "lib"):
        (scratch / sub).mkdir()
    (scratch / "lib" / "grader").symlink_to(GRADER_PACKAGE, target_is_directory=True)
    return scratch


class Worker:
    """One sandboxed child for one submission."""

    def __init__(self, sandbox: Sandbox, limits: Limits, warm_imports: Sequence[str] = ("torch",)) -> None:
        self.sandbox = sandbox
        self.limits = limits
        self.scratch = _make_scratch()
        config = {"warm_imports": list(warm_imports), "cell_seconds": limits.cell_seconds}
        (self.scratch / "config.json").write_text(json.dumps(config))
        self.stderr = open(self.scratch / "child-stderr.txt", "wb")  # noqa: SIM115
        self.started = time.monotonic()
        self.free_at_start = _free_bytes(self.scratch)
        self.next_memory_check = 0.0
        self.process = sandbox.start(
            [sys.executable, "-m", "grader.child", str(self.scratch)], self.scratch, limits, self.stderr
        )
        self.ready_after: float | None = None

    def wait_ready(self) -> bool:
        """Wait until the kernel is up; False if the child died or took too long."""
        if self.ready_after is not None:
            return True
        deadline = self.started + self.limits.startup_seconds
        assert self.process.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stdout, selectors.EVENT_READ)
            while True:  # look at least once: a warm worker may have been ready for long
                if not selector.select(timeout=max(0.0, deadline - time.monotonic())):
                    return False
                line = self.process.stdout.readline()
                if line.strip() == b"ready":
                    self.ready_after = time.monotonic() - self.started
                    return True
                if not line:
                    return False

    def over_budget(self, now: float) -> str:
        """What this child's processes use together beyond its limits ("" when nothing): memory
        (measured every MEMORY_EVERY s; RLIMIT_DATA is per process) and disk (no rlimit counts it)."""
        limits = self.limits
        if now >= self.next_memory_check:
            self.next_memory_check = now + MEMORY_EVERY
            if memory_used(self.process, str(self.scratch)) > limits.memory_bytes:
                return f"stopped: used more than {limits.memory_text} of memory (all its processes together)"
        if self.free_at_start - _free_bytes(self.scratch) > limits.disk_bytes:
            return f"stopped: wrote more than {limits.disk_bytes / 2**30:g} GiB to disk"
        return ""

    def close(self) -> None:
        self.sandbox.stop(self.process)
        self.stderr.close()
        shutil.rmtree(self.scratch, ignore_errors=True)


def _write_plan(scratch: Path, steps: Sequence[Step], skip: set[str], seed: int, limits: Limits,
                part: int = 1, more: bool = False) -> None:
    """Write part `part` of the plan (plan.json, then plan-2.json); `more`: another part follows."""
    encoder = Encoder(scratch / "inputs", prefix=f"in{part}")
    plan = {
        "seed": seed,
        "skip": sorted(skip),
        "more": more,
        "steps": [
            {
                "name": s.name,
                "function": s.function,
                "args": [encode_input(a, encoder) for a in s.args],
                "kwargs": {"$dict": {k: encode_input(v, encoder) for k, v in s.kwargs.items()}},
                "observe": s.observe,
                "call": s.call,
                "timeout": s.timeout or limits.call_seconds,
                "forbidden": list(s.forbidden),
            }
            for s in steps
        ],
    }
    name = "plan.json" if part == 1 else f"plan-{part}.json"
    (scratch / f".{name}.tmp").write_text(json.dumps(plan))
    os.replace(scratch / f".{name}.tmp", scratch / name)


def read_capped(path: Path, limit: int, offset: int = 0) -> bytes:
    """At most `limit` bytes of a regular file the student could have replaced: no symlink,
    FIFO or device is followed or waited on (b"" instead)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return b""
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return b""
        start = offset if offset >= 0 else max(0, info.st_size + offset)
        return os.pread(fd, max(0, limit), start)
    except OSError:
        return b""
    finally:
        os.close(fd)


def _read_events(scratch: Path, attempt: _Attempt) -> None:
    if attempt.offset >= MAX_EVENTS_BYTES:
        return
    chunk = read_capped(scratch / "out" / "events.jsonl", MAX_EVENTS_BYTES - attempt.offset, attempt.offset)
    attempt.offset += len(chunk)
    data = attempt.buffer + chunk
    *lines, attempt.buffer = data.split(b"\n")
    if len(attempt.buffer) > MAX_EVENT_LINE:
        attempt.buffer = b""
    for line in lines:
        _take_event(line, attempt)


def _take_event(line: bytes, attempt: _Attempt) -> None:
    if len(line) > MAX_EVENT_LINE:
        return
    try:
        event = json.loads(line)
    except ValueError:
        return
    if not isinstance(event, dict):
        return
    now = time.monotonic()
    if attempt.first_event is None:
        attempt.first_event = now
    attempt.last_event = now
    kind, step = event.get("event"), event.get("step")
    if kind == "start" and isinstance(step, str):
        attempt.running, attempt.running_since = step, now
    elif kind == "end" and isinstance(step, str):
        attempt.ended.setdefault(step, event)  # the first word on a step stands
        attempt.running = None
    elif kind == "waiting":
        attempt.waiting = True
    elif kind == "done":
        attempt.done = True
    elif kind == "probe":
        attempt.probing = True


SIGNAL_TEXTS = {
    "SIGKILL": "killed (SIGKILL): by its own code, or by the system for using too much memory",
    "SIGSEGV": "crashed (SIGSEGV, a segmentation fault: memory that is not its own was touched)",
    "SIGBUS": "crashed (SIGBUS: a bad memory access)",
    "SIGABRT": "crashed (SIGABRT: the process aborted)",
    "SIGFPE": "crashed (SIGFPE: an arithmetic fault)",
    "SIGILL": "crashed (SIGILL: an illegal instruction)",
}


def _signal_text(number: int, limits: Limits) -> str:
    try:
        sig = signal.Signals(number)
    except ValueError:
        return f"stopped: killed by signal {number}"
    if sig == signal.SIGXCPU:
        return f"stopped: used more than {limits.cpu_seconds} s of CPU time"
    if sig == signal.SIGXFSZ:
        return f"stopped: wrote a file larger than {limits.file_bytes / 2**20:g} MiB"
    return "stopped: " + SIGNAL_TEXTS.get(sig.name, f"killed by {sig.name}")


def _kernel_exit(scratch: Path) -> int | None:
    try:
        kernel = json.loads(read_capped(scratch / "out" / "kernel-exit.json", 4096)).get("returncode")
    except (ValueError, AttributeError):
        return None
    return kernel if type(kernel) is int else None


def _exit_text(code: int | None, limits: Limits, scratch: Path) -> str:
    """Why the child ended, in plain words."""
    if code is None:
        return "stopped"
    if code == KERNEL_DIED:
        kernel = _kernel_exit(scratch)
        if kernel is None:
            return "stopped: the notebook's kernel died"
        if kernel >= 0:
            return f"stopped: the code ended its own process (exit status {kernel}, e.g. os._exit)"
        code = kernel
    if code < 0:
        return _signal_text(-code, limits)
    if code > 128:  # bwrap reports a child killed by signal N as 128 + N
        return _signal_text(code - 128, limits)
    return f"stopped: the process exited with status {code}"


def _out_of_memory(error_type: str, message: str) -> bool:
    return error_type == "MemoryError" or (error_type == "RuntimeError" and "can't allocate memory" in message)


def _observation(name: str, event: dict[str, Any], out: Path, limits: Limits) -> Observation:
    """An `end` event as an Observation; nothing in it is trusted to be well-formed."""

    def text(key: str, limit: int = 4000) -> str:
        value = event.get(key, "")
        return value[:limit] if isinstance(value, str) else ""

    status: StepStatus = event["status"] if event.get("status") in ("returned", "raised", "timeout") else "not_run"
    value: Any = None
    if status == "returned":
        try:
            value = decode(event.get("value"), out)
        except (CodecError, RuntimeError, OSError, ValueError, KeyError, AttributeError) as error:
            value = {"$object": {"type": "unreadable", "repr": f"the value could not be read back: {error}"}}
    bases = event.get("error_bases", [])
    forbidden = event.get("forbidden_calls", [])
    seconds = event.get("seconds", 0.0)
    error_type, error_message = text("error_type", 200), text("error_message")
    if status == "raised" and _out_of_memory(error_type, error_message):
        status, error_message = "crashed", f"stopped: used more than {limits.memory_text} of memory ({error_type})"
    return Observation(
        step=name,
        status=status,
        value=value,
        type_name=text("type", 200),
        error_type=error_type,
        error_bases=tuple(b for b in bases if isinstance(b, str))[:20] if isinstance(bases, list) else (),
        error_message=error_message,
        seconds=float(seconds) if type(seconds) in (int, float) else 0.0,
        output=text("output", 10_000),
        forbidden_calls=tuple(f for f in forbidden if isinstance(f, str))[:20] if isinstance(forbidden, list) else (),
    )


def _read_cells(scratch: Path) -> tuple[CellLog, ...]:
    try:
        raw = json.loads(read_capped(scratch / "out" / "cells.json", 4 * 2**20) or b"[]")
    except ValueError:
        return ()
    cells: list[CellLog] = []
    for item in raw if isinstance(raw, list) else []:
        if not isinstance(item, dict):
            continue
        status: CellStatus = item["status"] if item.get("status") in ("ok", "timeout") else "error"
        cells.append(CellLog(
            index=int(item["index"]) if type(item.get("index")) is int else len(cells),
            status=status,
            source_head=str(item.get("source_head", ""))[:200],
            error=str(item.get("error", ""))[:4000],
            output=str(item.get("output", ""))[:16_000],
        ))
    return tuple(cells)


def _code_cells(notebook: Path) -> int:
    try:
        cells = json.loads(notebook.read_text()).get("cells", [])
        return sum(1 for c in cells if isinstance(c, dict) and c.get("cell_type") == "code")
    except (OSError, ValueError, AttributeError):
        return 1


def _watch(worker: Worker, steps: dict[str, Step], deadline: float, cells: int = 1,
           next_part: Callable[[], None] | None = None) -> tuple[_Attempt, str]:
    """Follow one child until it finishes, dies, or passes a deadline; why it stopped.

    The cells' log is read when probing begins, and the next part of the plan (the hidden
    steps' inputs) is written only when the probe asks for it: what the student's code leaves
    in its outputs or messages before then cannot hold hidden inputs.
    """
    attempt = _Attempt()
    limits = worker.limits
    allowed_cells = cells * (limits.cell_seconds + GRACE_SECONDS) + GRACE_SECONDS
    cells_deadline = time.monotonic() + allowed_cells  # each cell has its own limit in the child too
    while True:
        _read_events(worker.scratch, attempt)
        if attempt.probing and attempt.cells is None:
            attempt.cells = _read_cells(worker.scratch)
        if attempt.waiting and next_part is not None:
            next_part()
            next_part = None
        now = time.monotonic()
        if attempt.done or worker.process.poll() is not None:
            time.sleep(POLL_SECONDS)
            _read_events(worker.scratch, attempt)
            return attempt, "" if attempt.done else _exit_text(worker.process.poll(), limits, worker.scratch)
        if attempt.running is not None:
            allowed = steps[attempt.running].timeout or limits.call_seconds
            if now - attempt.running_since > allowed + GRACE_SECONDS:
                worker.sandbox.stop(worker.process)
                return attempt, f"stopped: no answer after {allowed:g} s"
        idle = now - attempt.last_event
        if attempt.probing and attempt.running is None and idle > limits.call_seconds + GRACE_SECONDS:
            worker.sandbox.stop(worker.process)
            return attempt, "stopped: the notebook's kernel stopped answering between checks"
        too_much = worker.over_budget(now)
        if too_much:
            worker.sandbox.stop(worker.process)
            return attempt, too_much
        if not attempt.probing and now > cells_deadline:
            worker.sandbox.stop(worker.process)
            return attempt, f"stopped: the notebook's {cells} code cell(s) did not finish in {allowed_cells:g} s"
        if now > deadline:
            worker.sandbox.stop(worker.process)
            return attempt, f"stopped: the whole run took more than {limits.run_seconds:g} s"
        time.sleep(POLL_SECONDS)


def run_steps(
    notebook: Path,
    steps: Sequence[Step],
    sandbox: Sandbox,
    limits: Limits,
    seed: int = 0,
    hidden: frozenset[str] = frozenset(),
    warm_imports: Sequence[str] = ("torch",),
    worker: Worker | None = None,
) -> RunOutcome:
    """Execute `notebook` in the sandbox, then each step, the `hidden` ones last; restart past
    steps that hang or crash."""
    by_name = {s.name: s for s in steps}
    first = [s for s in steps if s.name not in hidden]
    last = [s for s in steps if s.name in hidden]
    observations: dict[str, Observation] = {}
    cells: tuple[CellLog, ...] = ()
    timings: dict[str, float] = {}
    problem = ""
    crashes: dict[str, list[str]] = {}
    deadline = time.monotonic() + limits.run_seconds
    attempts = 0
    while True:
        attempts += 1
        worker = worker or Worker(sandbox, limits, warm_imports)
        try:
            if not worker.wait_ready():
                problem = problem or "the notebook's kernel did not start: " + _stderr_tail(worker)
                break
            timings.setdefault("startup", worker.ready_after or 0.0)
            shutil.copyfile(notebook, worker.scratch / "submission.ipynb")
            done, scratch = set(observations), worker.scratch
            _write_plan(scratch, first, done, seed, limits, more=bool(last))
            go = time.monotonic()
            assert worker.process.stdin is not None
            worker.process.stdin.write(b"go\n")
            worker.process.stdin.flush()
            hidden_part = partial(_write_plan, scratch, last, done, seed, limits, part=2)
            attempt, stopped = _watch(worker, by_name, deadline, _code_cells(notebook), hidden_part)
            worker.sandbox.stop(worker.process)  # nothing of the student's runs while we read
            if not _genuine_folder(worker.scratch / "out"):
                attempt, stopped = _Attempt(), "stopped: the code replaced the grader's output folder"
            timings.setdefault("execution", (attempt.first_event or time.monotonic()) - go)
            timings["checks"] = timings.get("checks", 0.0) + time.monotonic() - (attempt.first_event or go)
            cells = cells or (attempt.cells if attempt.cells is not None else _read_cells(worker.scratch))
            for name, event in attempt.ended.items():
                observations[name] = _observation(name, event, worker.scratch / "out", limits)
            if attempt.running is not None and attempt.running not in observations:
                status: StepStatus = "timeout" if "no answer" in stopped else "crashed"
                observations[attempt.running] = Observation(attempt.running, status, error_message=stopped)
                if status == "crashed" and by_name[attempt.running].function:
                    crashes.setdefault(by_name[attempt.running].function or "", []).append(stopped)
        except OSError as error:  # a broken pipe to a child that died on its own
            stopped = f"stopped: {error}"
            attempt = _Attempt()
        finally:
            worker.close()
            worker = None
        if not stopped:
            break
        problem = problem or stopped
        _give_up_on_crashers(steps, observations, crashes)
        remaining = [s for s in steps if s.name not in observations]
        if not remaining or not (attempt.ended or attempt.running) or time.monotonic() > deadline:
            break
    for step in steps:
        if step.name not in observations:
            observations[step.name] = Observation(step.name, "not_run", error_message=problem or "not run")
    return RunOutcome(observations, cells, timings, problem, restarts=attempts - 1)


def run_in_process(
    steps: Sequence[Step], namespace: dict[str, Any], limits: Limits, seed: int = 0
) -> dict[str, Observation]:
    """Run `steps` on TRUSTED code in this very process, through the probe's own path.

    For instructors' tools only (calibrating thresholds on the reference over many seeds):
    the same plan, seeding, encoding and decoding as in the sandbox, without a kernel.
    """
    from . import probe

    scratch = _make_scratch()
    try:
        _write_plan(scratch, steps, set(), seed, limits)
        probe.run(str(scratch), namespace)
        attempt = _Attempt()
        _read_events(scratch, attempt)
        observations = {name: _observation(name, event, scratch / "out", limits)
                        for name, event in attempt.ended.items()}
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    for step in steps:
        observations.setdefault(step.name, Observation(step.name, "not_run", error_message="not run"))
    return observations


def _give_up_on_crashers(steps: Sequence[Step], observations: dict[str, Observation],
                         crashes: dict[str, list[str]]) -> None:
    """The steps still to run of a function that ended its process MAX_CRASHES times: not run,
    so one crashing function cannot cost a restart per check."""
    for step in steps:
        seen = crashes.get(step.function or "", [])
        if step.name not in observations and len(seen) >= MAX_CRASHES:
            why = f"{seen[-1]} (not called again: {step.function} ended its process {len(seen)} times)"
            observations[step.name] = Observation(step.name, "crashed", error_message=why)


def _genuine_folder(folder: Path) -> bool:
    """The folder is the grader's own, not a symlink the student put in its place."""
    return not folder.is_symlink() and folder.is_dir() and folder.resolve() == folder.absolute()


def _stderr_tail(worker: Worker) -> str:
    worker.stderr.flush()
    text = read_capped(worker.scratch / "child-stderr.txt", 2000, -2000).decode(errors="replace").strip()
    return text.splitlines()[-1] if text else "no message"
