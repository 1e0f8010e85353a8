"""`grade batch --scheduler`: a batch's gradings on dask.distributed workers, its outputs here.

    this process (the client)                       each Dask worker process
    intake, keys, resume (batch.py)
    per student: the files loaded (load_file) ───► grade_job: GradingPlugin's thread grades them
                                                    (grade_loaded) with its WarmPool of sandboxed
                                                    kernels, as a local pool worker process does
    save_entry writes the student's files ◄─────── Answer: the reports as JSON text

Only data crosses: the assignment as its files' bytes (loaded by each worker, which must make
the client's version of it: the same grader and the same files), a submission as its cells,
the reports as JSON that the client decodes totally. Student code runs only in a worker's
sandbox. The client writes every output, so workers need no shared folder, and an interrupted
client's rerun resumes as a local batch does (outputs.py).

A worker that dies mid-grading costs nothing: Dask runs its task on another. A task whose
worker died `allowed-failures + 1` times (2 with `local:N`, or a scheduler started with
DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES=1) is an error result that says so; a rerun
tries it again. Imported only when `--scheduler` is given: `dask` and `distributed` are the
optional extra `coursegrade[distributed]`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

import dask
from dask.utils import parse_timedelta
from distributed import Client, Future, LocalCluster, as_completed, get_worker
from distributed.comm import get_address_host_port
from distributed.diagnostics.plugin import WorkerPlugin
from distributed.scheduler import KilledWorker

from .assignments import Assignment, load_assignment
from .errors import UsageError
from .intake import Entry
from .model import CellLog, CellStatus, CheckResult, CheckStatus, Figure, GradeReport
from .outputs import error_report
from .pool import Graded, PoolConfig, WarmPool, grade_loaded, load_file, save_entry, save_lost, warm_ahead_for
from .sandbox import ISOLATED, Sandbox, get_sandbox
from .submission import Submission

__all__ = ["Answer", "GradingPlugin", "Job", "ShippedAssignment", "grade_job", "run_distributed", "ship"]

LOCAL = "local:"
_ROOT_LOCK = threading.Lock()  # COURSEGRADE_ROOT is the process's: one assignment loads at a time


# ---------------------------------------------------------------- the assignment, as data


@dataclass(frozen=True)
class ShippedAssignment:
    """An assignment as its files' bytes, for a worker to load: the public folder, and the
    reference folder when the client grades with it."""

    name: str
    files: tuple[tuple[str, bytes], ...]  # (path under the course folder, its bytes)
    include_hidden: bool
    version: str  # the client's: a worker with another grader makes another

    @property
    def digest(self) -> str:
        digest = hashlib.sha256(f"{self.name}\0{self.include_hidden}\0{self.version}".encode())
        for name, data in self.files:
            digest.update(f"\0{name}\0{len(data)}\0".encode() + data)
        return digest.hexdigest()[:16]


def ship(assignment: Assignment) -> ShippedAssignment:
    """The files the assignment is loaded from (no caches, no hidden files)."""
    root = assignment.folder.parent.parent
    folders = [assignment.folder, *([assignment.reference_folder] if assignment.reference_folder else [])]
    files = tuple((path.relative_to(root).as_posix(), path.read_bytes()) for folder in folders
                  for path in sorted(folder.rglob("*")) if path.is_file() and _shipped(path.relative_to(folder)))
    return ShippedAssignment(assignment.name, files, assignment.has_reference, assignment.version)


def _shipped(relative: Path) -> bool:
    return not any(part.startswith(".") or part == "__pycache__" for part in relative.parts)


def unship(shipped: ShippedAssignment) -> Assignment:
    """The assignment loaded from its shipped files (its reference solution read at once: the
    files are gone afterwards); a UsageError when this grader makes another version of it."""
    with tempfile.TemporaryDirectory(prefix="coursegrade-course-") as folder, _course_root(Path(folder)) as root:
        for name, data in shipped.files:
            if Path(name).is_absolute() or ".." in Path(name).parts:
                raise UsageError(f"a shipped assignment file outside the course folder: {name!r}")
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_bytes(data)
        assignment = load_assignment(shipped.name, root, shipped.include_hidden)
        _ = assignment.reference
    if assignment.version != shipped.version:
        raise UsageError(f"this Dask worker makes version {assignment.version} of {shipped.name}, the client "
                         f"{shipped.version}: install the same coursegrade on the workers as on the client")
    return assignment


@contextlib.contextmanager
def _course_root(root: Path) -> Iterator[Path]:
    """`root` as the course folder while an assignment loads (hidden checks find their public
    checks through it)."""
    with _ROOT_LOCK:
        before = os.environ.get("COURSEGRADE_ROOT")
        os.environ["COURSEGRADE_ROOT"] = str(root)
        try:
            yield root
        finally:
            if before is None:
                os.environ.pop("COURSEGRADE_ROOT", None)
            else:
                os.environ["COURSEGRADE_ROOT"] = before


# ---------------------------------------------------------------- the wire: reports as JSON


def report_to_wire(report: GradeReport) -> dict[str, Any]:
    """Everything the client's files need, staff-only messages and pictures included (the
    course's result format, `GradeReport.to_json`, keeps only what students see)."""
    return {
        "assignment": report.assignment, "submission": report.submission, "status": report.status,
        "score": report.score, "max_score": report.max_score, "message": report.message,
        "checks": [{"id": c.id, "exercise": c.exercise, "status": c.status, "points": c.points,
                    "max_points": c.max_points, "hidden": c.hidden, "message": c.message, "hints": list(c.hints)}
                   for c in report.checks],
        "cells": [{"index": c.index, "status": c.status, "source_head": c.source_head, "error": c.error,
                   "output": c.output} for c in report.cells],
        "figures": [{"title": f.title, "png": base64.b64encode(f.png).decode(), "caption": f.caption}
                    for f in report.figures],
        "timings": dict(report.timings), "sandbox": report.sandbox, "limits_hit": list(report.limits_hit),
        "retry": report.retry,
    }


def _get(data: Mapping[str, Any], key: str, kind: type | tuple[type, ...]) -> Any:
    value = data[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind in (float, (int, float))):
        raise ValueError(f"{key}: {type(value).__name__} where {kind} was expected")
    return value


def _number(data: Mapping[str, Any], key: str) -> float:
    return float(_get(data, key, (int, float)))


def _one_of(data: Mapping[str, Any], key: str, allowed: tuple[str, ...]) -> Any:
    value = _get(data, key, str)
    if value not in allowed:
        raise ValueError(f"{key}: {value!r} is not one of {allowed}")
    return value


def _strings(data: Mapping[str, Any], key: str) -> tuple[str, ...]:
    values = _get(data, key, list)
    if not all(isinstance(v, str) for v in values):
        raise ValueError(f"{key}: not a list of strings")
    return tuple(values)


def _check(data: Mapping[str, Any]) -> CheckResult:
    return CheckResult(_get(data, "id", str), _get(data, "exercise", str),
                       _one_of(data, "status", get_args(CheckStatus)), _number(data, "points"),
                       _number(data, "max_points"), _get(data, "hidden", bool), _get(data, "message", str),
                       _strings(data, "hints"))


def _cell(data: Mapping[str, Any]) -> CellLog:
    return CellLog(_get(data, "index", int), _one_of(data, "status", get_args(CellStatus)),
                   _get(data, "source_head", str), _get(data, "error", str), _get(data, "output", str))


def _figure(data: Mapping[str, Any]) -> Figure:
    return Figure(_get(data, "title", str), base64.b64decode(_get(data, "png", str), validate=True),
                  _get(data, "caption", str))


def _records(data: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    records = _get(data, key, list)
    if not all(isinstance(r, dict) for r in records):
        raise ValueError(f"{key}: not a list of objects")
    return records


def report_from_wire(data: Mapping[str, Any]) -> GradeReport:
    """A report from a worker's JSON; a ValueError (or KeyError) for anything not as written."""
    timings = _get(data, "timings", dict)
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in timings.values()):
        raise ValueError("timings: not numbers")
    return GradeReport(
        _get(data, "assignment", str), _get(data, "submission", str), _one_of(data, "status", ("graded", "error")),
        _number(data, "score"), _number(data, "max_score"), tuple(_check(c) for c in _records(data, "checks")),
        _get(data, "message", str), tuple(_cell(c) for c in _records(data, "cells")),
        tuple(_figure(f) for f in _records(data, "figures")), {str(k): float(v) for k, v in timings.items()},
        _get(data, "sandbox", str), _strings(data, "limits_hit"), _get(data, "retry", bool))


@dataclass(frozen=True)
class Answer:
    """What a worker returns for one job: a report per file, in order; or why it cannot grade
    at all (then the batch stops: every student would get the same error)."""

    reports: tuple[GradeReport, ...] = ()
    seconds: float = 0.0
    problem: str = ""

    def dumps(self) -> str:
        return json.dumps({"reports": [report_to_wire(r) for r in self.reports], "seconds": self.seconds,
                           "problem": self.problem})

    @classmethod
    def loads(cls, text: object, files: int) -> Answer:
        """The answer to a job of `files` files; a ValueError for anything else."""
        if not isinstance(text, str):
            raise ValueError(f"an answer of type {type(text).__name__}")
        try:
            data = json.loads(text)
            if not isinstance(data, dict):
                raise ValueError("not an object")
            answer = cls(tuple(report_from_wire(r) for r in _records(data, "reports")), _number(data, "seconds"),
                         _get(data, "problem", str))
        except (KeyError, TypeError, ValueError) as error:  # binascii.Error is a ValueError
            raise ValueError(f"{type(error).__name__}: {error}") from None
        if not answer.problem and len(answer.reports) != files:
            raise ValueError(f"{len(answer.reports)} reports for {files} files")
        return answer


# ---------------------------------------------------------------- on a worker


@dataclass(frozen=True)
class Job:
    """One student's loaded files for a worker to grade: names and cells, no path to read."""

    files: tuple[tuple[str, Submission], ...]
    still_to_come: int  # this worker's share of the batch after this job: how many kernels to keep warm


class GradingPlugin(WorkerPlugin):  # type: ignore[misc]
    """On each Dask worker: the assignment, loaded from its files, and sandboxed kernels started
    ahead of need, all on one thread of the plugin's own (the kernels' parent, which must live
    as long as they do), one grading at a time as in a local pool worker process."""

    def __init__(self, shipped: ShippedAssignment, sandbox_name: str, ahead: int) -> None:
        self.__setstate__((shipped, sandbox_name, ahead))

    def __getstate__(self) -> tuple[ShippedAssignment, str, int]:  # what travels to the workers: data, no thread
        return self.shipped, self.sandbox_name, self.ahead

    def __setstate__(self, state: tuple[ShippedAssignment, str, int]) -> None:
        self.shipped, self.sandbox_name, self.ahead = state
        self.name = f"coursegrade-{self.shipped.name}-{self.shipped.digest}"
        self._thread: ThreadPoolExecutor | None = None
        self._state: tuple[Assignment, Sandbox, WarmPool] | None = None
        self._problem = ""

    async def setup(self, worker: Any) -> None:
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="coursegrade")
        await asyncio.wrap_future(self._thread.submit(self._start, worker.address))

    def _start(self, address: str) -> None:
        try:
            assignment = unship(self.shipped)
            sandbox = get_sandbox(self.sandbox_name)
            if self.sandbox_name == "auto" and sandbox.name not in ISOLATED:
                raise UsageError(f"no bubblewrap there ({sandbox.note}), so a student's code could reach the network "
                                 "and through it the Dask scheduler; install bubblewrap on the workers, or pass "
                                 "--sandbox subprocess to grade without isolation all the same")
            self._state = assignment, sandbox, WarmPool(sandbox, assignment, self.ahead)
        except Exception as error:  # said by every task of this worker: the client stops the batch
            self._problem = f"the Dask worker {address} cannot grade {self.shipped.name}: {error}"

    def teardown(self, worker: Any) -> None:
        """Close the kernels once the grading under way (if any) is done; the worker goes on."""
        if self._thread is not None:
            self._thread.submit(self._close)
            self._thread.shutdown(wait=False)

    def _close(self) -> None:
        if self._state is not None:
            self._state[2].close()

    def grade(self, job: Job) -> str:
        """The job's Answer as JSON text, graded on the plugin's thread."""
        if self._thread is None:
            return Answer(problem="a grading plugin that was not set up").dumps()
        return self._thread.submit(self._grade, job).result()

    def _grade(self, job: Job) -> str:
        started = time.monotonic()
        if self._state is None:
            return Answer(problem=self._problem).dumps()
        assignment, sandbox, pool = self._state
        reports = [grade_loaded(name, submission, assignment, sandbox, pool, job.still_to_come)
                   for name, submission in job.files]
        return Answer(tuple(reports), time.monotonic() - started).dumps()


def grade_job(plugin_name: str, job: Job) -> str:
    """The Dask task: `job` graded by this worker's plugin, its Answer as JSON text."""
    plugin = get_worker().plugins.get(plugin_name)
    if not isinstance(plugin, GradingPlugin):
        return Answer(problem=f"the Dask worker has no plugin {plugin_name}").dumps()
    return plugin.grade(job)


# ---------------------------------------------------------------- the client


def local_workers(scheduler: str) -> int | None:
    """N of `local:N`; None for a scheduler's address; a UsageError for `local:` without a count, or
    an address without its port (a Client made with one fails, then hangs a minute closing)."""
    if not scheduler.startswith(LOCAL):
        try:
            get_address_host_port(scheduler)
        except ValueError as error:
            raise UsageError(f"--scheduler {scheduler}: {error}; give the scheduler's address (tcp://HOST:PORT) "
                             "or local:N") from None
        return None
    count = scheduler.removeprefix(LOCAL)
    if not count.isdigit() or int(count) < 1:
        raise UsageError(f"--scheduler {scheduler}: local:N wants a number of worker processes, e.g. local:4")
    return int(count)


@contextlib.contextmanager
def connected(scheduler: str) -> Iterator[Client]:
    """A client of the scheduler at `scheduler`, with a worker at least; for `local:N`, of a
    cluster of N worker processes here (a task is given up when it killed 2)."""
    count = local_workers(scheduler)
    if count is not None:
        with dask.config.set({"distributed.scheduler.allowed-failures": 1}), \
                LocalCluster(n_workers=count, threads_per_worker=1, processes=True, dashboard_address=None,
                             scheduler_kwargs={"dashboard_address": ":0"},  # its HTTP server: a free port
                             silence_logs=logging.ERROR) as cluster, Client(cluster, set_as_default=False) as client:
            client.wait_for_workers(count)
            yield client
        return
    timeout = parse_timedelta(dask.config.get("distributed.comm.timeouts.connect"))
    try:
        client = Client(scheduler, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as error:
        raise UsageError(f"cannot reach the Dask scheduler at {scheduler}: {error}") from None
    with client:
        try:
            client.wait_for_workers(1, timeout=timeout)
        except (OSError, TimeoutError) as error:
            raise UsageError(f"the Dask scheduler at {scheduler} has no workers ({error})") from None
        yield client


def run_distributed(config: PoolConfig, scheduler: str, todo: list[tuple[Entry, str]]) -> Iterator[Graded]:
    """Grade `todo` on the cluster's workers; yields each student's outcome as it arrives, their
    files written here."""
    if not todo:
        return
    with connected(scheduler) as client:
        workers = max(1, len(client.nthreads()))
        most = warm_ahead_for(config.assignment) if config.warm_ahead is None else config.warm_ahead
        plugin = GradingPlugin(ship(config.assignment), config.sandbox_name, min(most, -(-len(todo) // workers)))
        client.register_plugin(plugin, name=plugin.name)
        try:
            yield from _stream(client, plugin.name, config, todo, workers)
        except (OSError, TimeoutError) as error:  # e.g. the scheduler stopped: what was written stays
            raise UsageError(f"lost the Dask scheduler at {scheduler} ({error!r}); the students graded so far are "
                             "saved: run the same command again to grade the rest") from None
        finally:
            with contextlib.suppress(Exception):
                client.unregister_worker_plugin(plugin.name)


_Loaded = list[Submission | GradeReport]


def _stream(client: Client, plugin: str, config: PoolConfig, todo: list[tuple[Entry, str]],
            workers: int) -> Iterator[Graded]:
    """Submit a task per student (those with nothing to grade are written at once), then write
    each student's files as their task ends."""
    pending: dict[Future, tuple[Entry, str, _Loaded]] = {}
    try:
        for index, (entry, key) in enumerate(todo):
            loaded = _load(entry, config)
            files = tuple((f.name, s) for f, s in zip(entry.files, loaded, strict=False) if isinstance(s, Submission))
            if not files:
                yield save_entry(entry, key, config, [r for r in loaded if isinstance(r, GradeReport)], 0.0)
                continue
            job = Job(files, -(-(len(todo) - index - 1) // workers))
            pending[client.submit(grade_job, plugin, job, key=_task_key(entry, key), pure=False)] = entry, key, loaded
        import pandas  # noqa: F401 - the class outputs need it; imported while the first kernels start

        for future in as_completed(list(pending), loop=client.loop):
            entry, key, loaded = pending.pop(future)
            yield _collect(future, entry, key, loaded, config)
    finally:
        client.cancel(list(pending))


def _load(entry: Entry, config: PoolConfig) -> _Loaded:
    """Each file loaded here (its errors name it as this machine does), or its error report."""
    if entry.problem:
        return [error_report(config.assignment, entry.submission, entry.problem)]
    return [load_file(f, config.assignment) for f in entry.files]


def _task_key(entry: Entry, key: str) -> str:
    digest = hashlib.sha256(f"{entry.student}\0{key}".encode("utf-8", "surrogateescape"))
    return f"coursegrade-{digest.hexdigest()[:24]}"


def _collect(future: Future, entry: Entry, key: str, loaded: _Loaded, config: PoolConfig) -> Graded:
    """Write the student's files from the task's answer; a lost grading is an error result."""
    if future.status != "finished":
        return save_lost(entry, config, lost_message(future.exception() if future.status == "error" else None))
    try:
        answer = Answer.loads(future.result(), sum(isinstance(s, Submission) for s in loaded))
    except ValueError as error:
        return save_lost(entry, config, f"the grader's answer from a Dask worker could not be read ({error})")
    if answer.problem:
        raise UsageError(answer.problem)
    return save_entry(entry, key, config, merged(loaded, answer.reports), answer.seconds)


def lost_message(error: BaseException | None) -> str:
    """Why a student's task gave no answer, in words for the student's error result."""
    if isinstance(error, KilledWorker):
        return (f"the grader's worker process died while grading this submission, on {error.allowed_failures + 1} "
                "Dask workers in turn; it is not tried again in this run")
    if error is None:
        return "the Dask scheduler dropped the grading of this submission"
    return f"the grader failed on this submission on a Dask worker: {error!r}"


def merged(loaded: Sequence[Submission | GradeReport], reports: Sequence[GradeReport]) -> list[GradeReport]:
    """The reports of a student's files in their order: those made here, and the workers'."""
    answered = iter(reports)
    return [item if isinstance(item, GradeReport) else next(answered) for item in loaded]
