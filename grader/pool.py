"""The batch's worker processes: each grades the students it is sent, one at a time, with
sandboxed kernels started ahead of need, and writes that student's files.

A worker closes every sandboxed kernel it started on every path: a submission that cannot be
read never takes one, and a grading that fails in any way closes the one it took. A worker
process that dies costs the student it was grading (an error result), never the batch.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import signal
import sys
import time
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection, wait
from typing import Any

from .assignments import Assignment
from .awake import readable_within
from .course import StudentTerms
from .errors import GraderError, OutputError, SandboxError, reason
from .files import OutputFolder
from .forkserver import ForkSandbox
from .intake import Entry, SubmittedFile
from .model import GradeReport
from .outputs import details_name, error_report, write_student
from .runner import Worker
from .sandbox import Sandbox, get_sandbox
from .submission import Submission
from .textsafe import one_line

WARM_AHEAD = 3  # per worker process; more start-ups overlap, each costs a kernel's memory
WARM_PATIENCE = 20.0  # awake seconds from a warm worker's start; past it, a fresh one is quicker
WARM_WALL_BOUND = 200.0  # and wall seconds, however busy the machine
FORKED_AHEAD = 1  # with the fork server: one child ahead hides its start-up, more only hold memory
LONG_CALL_SECONDS = 5.0  # above this call limit, start-ups ahead would eat into students' time


@dataclass(frozen=True)
class PoolConfig:
    """What the worker processes need: the assignment, where outputs go, how many at once."""

    assignment: Assignment
    output: OutputFolder  # opened when the batch started
    jobs: int
    sandbox_name: str = "auto"
    warm_ahead: int | None = None  # None: warm_ahead_for(assignment)
    terms: Mapping[str, StudentTerms] = field(default_factory=dict)  # per student: penalties, overrides


@dataclass(frozen=True)
class Graded:
    """What a worker process tells the batch about one student."""

    student: str
    status: str  # graded, error, or "unsaved" when the student's files could not be written
    score: float
    seconds: float
    problem: str = ""


def warm_ahead_for(assignment: Assignment) -> int:
    """How many workers to start ahead: few where long calls (training) race wall-clock limits."""
    return WARM_AHEAD if assignment.limits.call_seconds <= LONG_CALL_SECONDS else 1


class WarmPool:
    """Sandboxed children started ahead of need; each is used for one submission, then thrown away."""

    def __init__(self, sandbox: Sandbox, assignment: Assignment, ahead: int) -> None:
        if sandbox.name == "bwrap-fork":  # a forked child is ready in a fraction of a second
            ahead = min(ahead, FORKED_AHEAD)
        self.sandbox, self.assignment, self.ahead = sandbox, assignment, ahead
        self.ready: deque[Worker] = deque()
        self.fill(ahead)

    def fill(self, wanted: int) -> None:
        """Have `wanted` workers started (at most `ahead`): no start-up is wasted at a batch's end."""
        wanted = min(wanted, self.ahead)
        while len(self.ready) > wanted:
            self.ready.pop().close()  # the youngest first: it has done the least
        while len(self.ready) < wanted:
            try:
                self.ready.append(Worker(self.sandbox, self.assignment.limits, self.assignment.warm_imports))
            except (GraderError, OSError):  # the grading itself will start one and say what is wrong
                return

    def take(self, still_to_come: int) -> Worker | None:
        """A started worker that is ready, or None: the grading then starts its own, as without a pool."""
        worker = self.ready.popleft() if self.ready else None
        self.fill(still_to_come)
        if worker is not None and not _ready_soon(worker):
            worker.close()  # e.g. a kernel that did not come up: not the student's fault, try afresh
            return None
        return worker

    def close(self) -> None:
        while self.ready:
            self.ready.popleft().close()


def _ready_soon(worker: Worker) -> bool:
    """Whether a warm worker is ready within WARM_PATIENCE of its start in awake time (its waits
    for a CPU not counted, grader/awake.py); a rare one hangs there."""
    assert worker.process.stdout is not None
    if worker.ready_after is None:
        now = time.monotonic()
        patience = WARM_PATIENCE - (worker.awake(now) - worker.started_awake)
        bound = WARM_WALL_BOUND - (now - worker.started)
        if not readable_within(worker.process.stdout.fileno(), patience, bound, worker.clock.stalled):
            return False
    return worker.wait_ready()


# ---------------------------------------------------------------- grading one student


def load_file(file: SubmittedFile, assignment: Assignment) -> Submission | GradeReport:
    """The file's submission, or the error report that says why it cannot be graded."""
    from .submission import load_submission

    if file.problem:
        return error_report(assignment, file.name, file.problem)
    try:
        return load_submission(file.path)
    except GraderError as error:
        return error_report(assignment, file.name, str(error))
    except Exception as error:  # a grader bug on one submission must not stop the batch
        return error_report(assignment, file.name, f"the grader failed on this submission: {error!r}")


def grade_loaded(name: str, submission: Submission, assignment: Assignment, sandbox: Sandbox,
                 pool: WarmPool | None, still_to_come: int) -> GradeReport:
    """Grade a loaded file; whatever goes wrong becomes an error report, never an exception. A warm
    worker is taken only now, and is closed whatever happens."""
    from .grading import grade_submission

    worker = None
    try:
        worker = pool.take(still_to_come) if pool is not None else None
        report = grade_submission(submission, assignment, sandbox, worker)
    except SandboxError as error:  # the grader's failure (e.g. a kernel that did not start): a rerun tries again
        return replace(error_report(assignment, name, str(error)), retry=True)
    except GraderError as error:
        return error_report(assignment, name, str(error))
    except Exception as error:  # a grader bug on one submission must not stop the batch
        return error_report(assignment, name, f"the grader failed on this submission: {error!r}")
    finally:
        if worker is not None:
            worker.close()  # grade_submission closes it too; closing twice is nothing
    return replace(report, submission=name)


def grade_file(file: SubmittedFile, config: PoolConfig, sandbox: Sandbox, pool: WarmPool | None,
               still_to_come: int) -> GradeReport:
    """Grade one file: loaded here, then graded with a warm worker from `pool`."""
    loaded = load_file(file, config.assignment)
    if isinstance(loaded, GradeReport):
        return loaded
    return grade_loaded(file.name, loaded, config.assignment, sandbox, pool, still_to_come)


def grade_entry(entry: Entry, key: str, config: PoolConfig, sandbox: Sandbox, pool: WarmPool | None,
                still_to_come: int) -> Graded:
    """Grade a student's file(s) and write their files."""
    started = time.monotonic()
    if entry.problem:
        reports = [error_report(config.assignment, entry.submission, entry.problem)]
    else:
        reports = [grade_file(f, config, sandbox, pool, still_to_come) for f in entry.files]
    return save_entry(entry, key, config, reports, time.monotonic() - started)


def save_entry(entry: Entry, key: str, config: PoolConfig, reports: Sequence[GradeReport], seconds: float) -> Graded:
    """Write a student's files from the reports of their file(s), graded in `seconds`: the best
    counts when several were graded. Where the grader failed on one (`retry`), the files say so and
    have no key, so that a rerun grades the student again."""
    started = time.monotonic() - seconds
    best = max(reports, key=lambda r: (r.status == "graded", r.score))  # ties: the first, the latest file
    scores = {r.submission: r.score for r in reports} if len(reports) > 1 else {}
    timings = {**best.timings, "grading": seconds}
    done_key = "" if any(r.retry for r in reports) else key
    try:
        write_student(entry, config.assignment, config.output, best, done_key, timings, scores,
                      config.terms.get(entry.student))
    except (OSError, OutputError) as error:  # this student's files only: the batch goes on, a rerun tries again
        with contextlib.suppress(OSError, OutputError):  # not done: its files may disagree
            config.output.remove(details_name(entry.student))
        return Graded(entry.student, "unsaved", best.score, time.monotonic() - started,
                      f"could not write this student's files: {reason(error)}")
    return Graded(entry.student, best.status, best.score, time.monotonic() - started)


def save_lost(entry: Entry, config: PoolConfig, problem: str) -> Graded:
    """An error result for a student whose grading was lost with its worker process; with no
    key, so that a rerun grades them again."""
    report = error_report(config.assignment, entry.submission, problem)
    try:
        write_student(entry, config.assignment, config.output, report, "", {})
    except (OSError, OutputError) as error:
        return Graded(entry.student, "unsaved", 0.0, 0.0, one_line(f"{problem}; its files: {reason(error)}"))
    return Graded(entry.student, "error", 0.0, 0.0, problem)


# ---------------------------------------------------------------- the worker processes


def _die_with_parent() -> None:
    """Ask Linux to stop this process when the batch process dies (even by SIGKILL)."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _on_sigterm(signum: int, frame: Any) -> None:
    raise SystemExit(0)


def _no_thread_pool() -> None:
    """A forked worker must not use an OpenMP pool its parent started (torch in a test process, or
    a library grade was called from): its threads were not forked, and the first parallel torch
    operation would wait for them forever. One thread runs inline."""
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(1)


def _serve(config: PoolConfig, connection: Connection, parent: int, ahead: int, shared: Sandbox | None) -> None:
    """A worker process: grade the entries it is sent, one at a time, until told to stop."""
    _die_with_parent()
    _no_thread_pool()
    signal.signal(signal.SIGTERM, _on_sigterm)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the batch process handles Ctrl-C for everyone
    if os.getppid() != parent:
        return
    sandbox = shared or get_sandbox(config.sandbox_name)
    pool = WarmPool(sandbox, config.assignment, ahead)
    try:
        while True:
            message = connection.recv()
            if message is None:
                return
            entry, key, still_to_come = message
            connection.send(grade_entry(entry, key, config, sandbox, pool, still_to_come))
    except (EOFError, OSError):
        return
    finally:
        pool.close()


@dataclass
class _Slot:
    """The batch process's handle on one worker process."""

    process: Any
    connection: Connection
    entry: Entry | None = None


def _start_slot(config: PoolConfig, context: Any, ahead: int, shared: Sandbox | None) -> _Slot:
    mine, theirs = context.Pipe()
    process = context.Process(target=_serve, args=(config, theirs, os.getpid(), ahead, shared), daemon=True)
    process.start()
    theirs.close()
    return _Slot(process, mine)


def _mp_context() -> Any:
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


def _shared_sandbox(config: PoolConfig, context: Any) -> ForkSandbox | None:
    """The fork server, made here when the workers are forked from this process: they all fork
    their children from one template (one template's memory, whatever -j), started now."""
    if context.get_start_method() != "fork" or config.sandbox_name not in ("auto", "bwrap-fork"):
        return None
    try:  # the assignment's template imports while the fork server's self-test runs
        sandbox = get_sandbox(config.sandbox_name, warm=config.assignment.warm_imports)
    except GraderError:
        return None  # each worker says why, on its submissions
    if not isinstance(sandbox, ForkSandbox):
        return None
    sandbox.prepare(config.assignment.warm_imports)
    return sandbox


def run_pool(config: PoolConfig, todo: list[tuple[Entry, str]]) -> Iterator[Graded]:
    """Grade `todo` in parallel; yields each student's outcome as it arrives."""
    context = _mp_context()
    queue = deque(todo)
    count = min(config.jobs, len(todo))
    most = warm_ahead_for(config.assignment) if config.warm_ahead is None else config.warm_ahead
    ahead = min(most, -(-len(todo) // max(1, count)))
    shared = _shared_sandbox(config, context) if todo else None
    slots = [_start_slot(config, context, ahead, shared) for _ in range(count)]
    try:
        for slot in slots:
            _send_next(slot, queue, count)
        import pandas  # noqa: F401 - the class outputs need it; imported while the first kernels start

        while any(s.entry is not None for s in slots):
            busy: dict[Any, _Slot] = {s.connection: s for s in slots if s.entry is not None}
            busy.update({s.process.sentinel: s for s in list(busy.values())})
            for ready in wait(list(busy)):
                slot = busy[ready]
                if slot.entry is None:
                    continue
                yield _receive(slot, config)
                if not slot.process.is_alive():
                    slot.connection.close()
                    index = slots.index(slot)
                    slots[index] = slot = _start_slot(config, context, min(most, len(queue)), shared)
                _send_next(slot, queue, count)
    finally:
        _stop_slots(slots)
        if shared is not None:
            shared.close()


def _receive(slot: _Slot, config: PoolConfig) -> Graded:
    """The outcome from a slot; when its process died, an error result for its student."""
    entry = slot.entry
    assert entry is not None
    slot.entry = None
    try:
        if slot.connection.poll():
            graded: Graded = slot.connection.recv()
            return graded
    except (EOFError, OSError):
        pass
    slot.process.join(timeout=5)
    return save_lost(entry, config, f"the grader's worker process died while grading this submission "
                                    f"(exit {slot.process.exitcode})")


def _send_next(slot: _Slot, queue: deque[tuple[Entry, str]], workers: int) -> None:
    """Send the next entry, with this worker's share of what is left (how many to warm up)."""
    if queue:
        entry, key = queue.popleft()
        slot.entry = entry
        slot.connection.send((entry, key, -(-len(queue) // workers)))


def _stop_slots(slots: Sequence[_Slot]) -> None:
    for slot in slots:
        if slot.process.is_alive():
            with contextlib.suppress(OSError, BrokenPipeError):
                slot.connection.send(None)
    deadline = time.monotonic() + 10
    for slot in slots:
        slot.process.join(timeout=max(0.1, deadline - time.monotonic()) if slot.entry is None else 0)
        if slot.process.is_alive():
            slot.process.terminate()
            slot.process.join(timeout=10)
        slot.connection.close()
