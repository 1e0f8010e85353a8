"""`grade batch`: grade a folder of submissions in parallel, resumably, and write the reports.

    DIR ─► find submissions (one per student) ─► skip those already graded (same content,
    same assignment version) ─► pool of worker processes, each with warm sandboxed kernels
    ─► per student, as soon as known: results/<id>.json, <id>.html, details/<id>.json
    ─► gradebook.csv and summary.html for the whole class

Every file is written atomically (a temporary file, then `os.replace`), and a student's
`details/<id>.json`, which holds the key of what was graded, is written last: a student counts
as done only when all their files are there. Timings live in `details/` only, so the results,
the students' reports and the gradebook of a resumed batch are the same as one uninterrupted run.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import json
import multiprocessing
import os
import re
import selectors
import signal
import sys
import time
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import IO, Any

from .assignments import Assignment
from .errors import GraderError, UsageError
from .files import write_atomic
from .model import CheckResult, GradeReport
from .runner import Worker
from .sandbox import Sandbox, get_sandbox
from .textsafe import visible

FORMAT_VERSION = "2"
SUFFIXES = (".ipynb", ".py")
IGNORED_FOLDERS = {"__pycache__", ".ipynb_checkpoints"}
WARM_AHEAD = 3  # per worker process; more start-ups overlap, each costs a kernel's memory
WARM_PATIENCE = 20.0  # seconds from a warm worker's start; past it, a fresh one is quicker
LONG_CALL_SECONDS = 5.0  # above this call limit, start-ups ahead would eat into students' time

_UNSAFE = re.compile(r"[^A-Za-z0-9._@-]+")

STUDENT_ID_RULE = """\
student ids: a file directly in DIR is the student named by the file (alice.ipynb -> alice);
a file inside a folder belongs to the student named by the top folder under DIR
(DIR/alice/hw1.ipynb -> alice), as in an LMS export with one folder per student. A folder with
several files is graded from its only .ipynb, else its only .py; otherwise that student gets an
error result. Characters other than letters, digits and . _ @ - become _ in ids. Files and
folders whose names start with . or _ are ignored."""


@dataclass(frozen=True)
class Entry:
    """One student's submission in the batch."""

    student: str
    path: Path
    problem: str = ""

    def relative(self, folder: Path) -> str:
        return self.path.relative_to(folder).as_posix() if self.path.is_relative_to(folder) else self.path.name


@dataclass(frozen=True)
class BatchConfig:
    """What a batch grades and where its outputs go."""

    folder: Path
    assignment: Assignment
    output: Path
    jobs: int
    sandbox_name: str = "auto"
    warm_ahead: int | None = None  # None: warm_ahead_for(assignment)


@dataclass
class BatchOutcome:
    """What a batch run did, for the final summary line."""

    total: int = 0
    graded: int = 0
    unchanged: int = 0
    errors: int = 0
    seconds: float = 0.0
    scores: list[float] = field(default_factory=list)


def default_jobs() -> int:
    """The number of CPU cores this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


# ---------------------------------------------------------------- finding submissions


def _visible(path: Path, folder: Path) -> bool:
    parts = path.relative_to(folder).parts
    return not any(p.startswith((".", "_")) or p in IGNORED_FOLDERS for p in parts)


def safe_id(name: str) -> str:
    """A student id that is safe as a file name and in a link."""
    return _UNSAFE.sub("_", name).strip(".") or "_"


def _pick(student: str, files: list[Path]) -> Entry:
    notebooks = [f for f in files if f.suffix == ".ipynb"]
    modules = [f for f in files if f.suffix == ".py"]
    chosen = notebooks if notebooks else modules
    if len(chosen) == 1:
        return Entry(student, chosen[0])
    names = ", ".join(f.name for f in chosen)
    return Entry(student, chosen[0], f"several submissions for {student}: {names}; keep one")


def find_submissions(folder: Path) -> list[Entry]:
    """Every student's submission under `folder`, by STUDENT_ID_RULE, sorted by id."""
    if not folder.is_dir():
        raise UsageError(f"{folder} is not a folder of submissions")
    by_student: dict[str, list[Path]] = {}
    for path in sorted(folder.rglob("*")):
        if path.suffix in SUFFIXES and path.is_file() and _visible(path, folder):
            parts = path.relative_to(folder).parts
            student = safe_id(path.stem if len(parts) == 1 else parts[0])
            by_student.setdefault(student, []).append(path)
    return [_pick(student, files) for student, files in sorted(by_student.items())]


# ---------------------------------------------------------------- files and keys


def _templates_digest() -> str:
    digest = hashlib.sha256()
    for path in sorted((Path(__file__).parent / "templates").glob("*.j2")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def grading_key(entry: Entry, assignment: Assignment) -> tuple[Entry, str]:
    """What a result depends on: the submission's bytes and the assignment's version."""
    try:
        with open(entry.path, "rb") as f:
            digest = hashlib.file_digest(f, "sha256").hexdigest()
    except OSError as error:  # graded as an error, like any other unreadable submission
        entry, digest = replace(entry, problem=f"cannot read {entry.path.name}: {error.strerror}"), ""
    parts = [FORMAT_VERSION, digest, assignment.version, str(assignment.has_reference), _templates_digest(),
             entry.problem]
    return entry, hashlib.sha256("\n".join(parts).encode()).hexdigest()


def result_path(output: Path, student: str) -> Path:
    return output / "results" / f"{student}.json"


def details_path(output: Path, student: str) -> Path:
    return output / "details" / f"{student}.json"


def report_path(output: Path, student: str) -> Path:
    return output / f"{student}.html"


def is_done(output: Path, student: str, key: str) -> bool:
    """True when every file of this student is there and was made from the same key."""
    try:
        details = json.loads(details_path(output, student).read_text())
        json.loads(result_path(output, student).read_text())
        return bool(details.get("key") == key and report_path(output, student).stat().st_size > 0)
    except (OSError, ValueError, AttributeError):
        return False


# ---------------------------------------------------------------- grading one submission


def error_report(assignment: Assignment, submission: str, problem: str) -> GradeReport:
    """A report for a submission that could not be graded at all: every check, as an error."""
    checks = [CheckResult(c.id, c.exercise, "error", 0.0, c.points, c.hidden, problem) for c in assignment.checks]
    if not assignment.has_reference:
        checks += [CheckResult(c.id, c.exercise, "skipped", 0.0, c.points, True, "hidden check: runs at grading time")
                   for c in assignment.listed_hidden]
    max_score = round(sum(c.max_points for c in checks), 6)
    return GradeReport(assignment.name, submission, "error", 0.0, max_score, tuple(checks), problem)


def limits_hit(report: GradeReport) -> list[str]:
    """Which of the sandbox's limits this submission ran into, in words."""
    timeouts = sum(c.status == "timeout" for c in report.checks)
    counted = f" ({timeouts} check{'s' * (timeouts > 1)})" if timeouts else ""
    return [name + counted if name == "call time limit" else name for name in report.limits_hit]


def _grade(entry: Entry, config: BatchConfig, sandbox: Sandbox, worker: Worker | None) -> GradeReport:
    """Grade one entry; whatever goes wrong becomes an error report, never an exception."""
    from .grading import grade_submission
    from .submission import load_submission

    relative = entry.relative(config.folder)
    if entry.problem:
        return error_report(config.assignment, relative, entry.problem)
    try:
        submission = load_submission(entry.path)
        report = grade_submission(submission, config.assignment, sandbox, worker)
    except GraderError as error:
        return error_report(config.assignment, relative, str(error))
    except Exception as error:  # a grader bug on one submission must not stop the batch
        return error_report(config.assignment, relative, f"the grader failed on this submission: {error!r}")
    return replace(report, submission=relative)


def figure_json(report: GradeReport) -> list[dict[str, str]]:
    import base64

    return [{"title": f.title, "caption": f.caption, "png": base64.b64encode(f.png).decode()} for f in report.figures]


def write_student(entry: Entry, config: BatchConfig, report: GradeReport, key: str, timings: dict[str, float]) -> None:
    """All of one student's files; the details file, which marks the student done, last."""
    from .html_report import render_student

    started = time.monotonic()
    write_atomic(result_path(config.output, entry.student), report.dumps() + "\n")
    html = render_student(report, entry.student, config.assignment.title)
    write_atomic(report_path(config.output, entry.student), html)
    timings = {**timings, "report": time.monotonic() - started}
    details = {
        "key": key,
        "student": entry.student,
        "submission": report.submission,
        "sandbox": report.sandbox,
        "limits_hit": limits_hit(report),
        "timings": {k: round(v, 4) for k, v in timings.items()},
        "cells": [{"index": c.index, "status": c.status, "error": c.error[-2000:]} for c in report.cells],
        "figures": [f["title"] for f in figure_json(report)],
        "hidden_messages": {c.id: c.message for c in report.checks if c.hidden},  # staff only
    }
    write_atomic(details_path(config.output, entry.student), json.dumps(details, indent=1) + "\n")


# ---------------------------------------------------------------- the worker processes


def warm_ahead_for(assignment: Assignment) -> int:
    """How many workers to start ahead: few where long calls (training) race wall-clock limits."""
    return WARM_AHEAD if assignment.limits.call_seconds <= LONG_CALL_SECONDS else 1


class WarmPool:
    """Sandboxed children started ahead of need; each is used for one submission, then thrown away."""

    def __init__(self, sandbox: Sandbox, assignment: Assignment, ahead: int) -> None:
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
    """Whether a warm worker is ready within WARM_PATIENCE of its start; a rare one hangs there."""
    assert worker.process.stdout is not None
    if worker.ready_after is None:
        patience = max(0.0, worker.started + WARM_PATIENCE - time.monotonic())
        with selectors.DefaultSelector() as selector:
            selector.register(worker.process.stdout, selectors.EVENT_READ)
            if not selector.select(timeout=patience):
                return False
    return worker.wait_ready()


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


def _serve(config: BatchConfig, connection: Connection, parent: int, ahead: int) -> None:
    """A worker process: grade the entries it is sent, one at a time, until told to stop."""
    _die_with_parent()
    _no_thread_pool()
    signal.signal(signal.SIGTERM, _on_sigterm)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the batch process handles Ctrl-C for everyone
    if os.getppid() != parent:
        return
    sandbox = get_sandbox(config.sandbox_name)
    pool = WarmPool(sandbox, config.assignment, ahead)
    try:
        while True:
            message = connection.recv()
            if message is None:
                return
            entry, key, still_to_come = message
            connection.send(_grade_and_write(entry, key, config, sandbox, pool, still_to_come))
    except (EOFError, OSError):
        return
    finally:
        pool.close()


def _grade_and_write(
    entry: Entry, key: str, config: BatchConfig, sandbox: Sandbox, pool: WarmPool, still_to_come: int
) -> dict[str, Any]:
    started = time.monotonic()
    worker = None if entry.problem else pool.take(still_to_come)
    waited = time.monotonic() - started
    report = _grade(entry, config, sandbox, worker)
    timings = {"wait": waited, **report.timings}
    write_student(entry, config, report, key, {**timings, "grading": time.monotonic() - started})
    return {"student": entry.student, "status": report.status, "score": report.score,
            "seconds": time.monotonic() - started}


@dataclass
class _Slot:
    """The batch process's handle on one worker process."""

    process: Any
    connection: Connection
    entry: Entry | None = None


def _start_slot(config: BatchConfig, context: Any, ahead: int) -> _Slot:
    mine, theirs = context.Pipe()
    process = context.Process(target=_serve, args=(config, theirs, os.getpid(), ahead), daemon=True)
    process.start()
    theirs.close()
    return _Slot(process, mine)


def _mp_context() -> Any:
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


def _run_pool(config: BatchConfig, todo: list[tuple[Entry, str]]) -> Iterator[dict[str, Any]]:
    """Grade `todo` in parallel; yields each result as it arrives."""
    context = _mp_context()
    queue = deque(todo)
    count = min(config.jobs, len(todo))
    most = warm_ahead_for(config.assignment) if config.warm_ahead is None else config.warm_ahead
    ahead = min(most, -(-len(todo) // max(1, count)))
    slots = [_start_slot(config, context, ahead) for _ in range(count)]
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
                    slots[index] = slot = _start_slot(config, context, min(most, len(queue)))
                _send_next(slot, queue, count)
    finally:
        _stop_slots(slots)


def _receive(slot: _Slot, config: BatchConfig) -> dict[str, Any]:
    """The result from a slot; when its process died, an error result for its student."""
    entry = slot.entry
    assert entry is not None
    slot.entry = None
    try:
        if slot.connection.poll():
            result: dict[str, Any] = slot.connection.recv()
            return result
    except (EOFError, OSError):
        pass
    slot.process.join(timeout=5)
    problem = f"the grader's worker process died while grading this submission (exit {slot.process.exitcode})"
    report = error_report(config.assignment, entry.relative(config.folder), problem)
    write_student(entry, config, report, "", {})
    return {"student": entry.student, "status": "error", "score": 0.0, "seconds": 0.0}


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


# ---------------------------------------------------------------- progress


class Progress:
    """A progress bar with counts and an ETA on a terminal; a plain line per submission otherwise."""

    def __init__(self, total: int, stream: IO[str] | None = None, width: int = 30) -> None:
        self.total, self.done, self.errors, self.width = total, 0, 0, width
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.started = time.monotonic()
        if self.tty and total:
            self.stream.write(f"\r{'░' * self.width} 0/{total} · starting ")
            self.stream.flush()

    def eta(self) -> str:
        if not self.done:
            return "--:--"
        left = (time.monotonic() - self.started) / self.done * (self.total - self.done)
        return f"{int(left) // 60}:{int(left) % 60:02d}"

    def update(self, result: dict[str, Any]) -> None:
        self.done += 1
        self.errors += result["status"] == "error"
        errors = f" · {self.errors} error{'s' * (self.errors != 1)}" if self.errors else ""
        if self.tty:
            filled = self.width * self.done // max(1, self.total)
            bar = "█" * filled + "░" * (self.width - filled)
            self.stream.write(f"\r{bar} {self.done}/{self.total}{errors} · ETA {self.eta()} ")
        else:
            score = f"{result['score']:g}" if result["status"] == "graded" else "error"
            student = visible(str(result["student"]))
            self.stream.write(f"[{self.done}/{self.total}] {student}: {score}{errors} · ETA {self.eta()}\n")
        self.stream.flush()

    def finish(self) -> None:
        if self.tty and self.total:
            self.stream.write("\n")
            self.stream.flush()


# ---------------------------------------------------------------- the batch


def remove_stale(output: Path, students: set[str]) -> None:
    """Drop the files of students no longer in the folder, and half-written files of a killed run."""
    for folder in (output, output / "results", output / "details"):
        for tmp in folder.glob(".*.tmp"):
            tmp.unlink(missing_ok=True)
    for details in (output / "details").glob("*.json"):
        student = details.stem
        if student not in students:
            for path in (result_path(output, student), report_path(output, student), details):
                path.unlink(missing_ok=True)


def run_batch(config: BatchConfig, stream: IO[str] | None = None) -> BatchOutcome:
    """Grade every submission not graded yet, then write the gradebook and the class summary."""
    from .gradebook import write_class_outputs

    started = time.monotonic()
    entries = find_submissions(config.folder)
    if not entries:
        raise UsageError(f"no .ipynb or .py submissions under {config.folder}")
    config.output.mkdir(parents=True, exist_ok=True)
    remove_stale(config.output, {e.student for e in entries})
    keyed = [grading_key(e, config.assignment) for e in entries]
    todo = [(e, k) for e, k in keyed if not is_done(config.output, e.student, k)]
    outcome = BatchOutcome(total=len(entries), unchanged=len(entries) - len(todo))
    progress = Progress(len(todo), stream)
    for result in _run_pool(config, todo):
        progress.update(result)
        outcome.graded += 1
    progress.finish()
    frame = write_class_outputs(config.output, [e.student for e in entries], config.assignment)
    outcome.errors = int((frame["status"] == "error").sum())
    outcome.scores = [float(s) for s in frame["total"]]
    outcome.seconds = time.monotonic() - started
    return outcome


def summary_line(outcome: BatchOutcome, config: BatchConfig) -> str:
    """The one line printed when a batch ends."""
    mean = sum(outcome.scores) / len(outcome.scores) if outcome.scores else 0.0
    return (f"{outcome.total} submissions: {outcome.graded} graded now, {outcome.unchanged} unchanged, "
            f"{outcome.errors} could not be graded; mean score {mean:.1f} / {config.assignment.max_score:g}; "
            f"{outcome.seconds:.1f} s; reports in {config.output}/ (summary.html, gradebook.csv)")
