"""`grade batch`: grade an LMS export in parallel, resumably, and write the reports.

    DIR or .zip ─► intake: one entry per student (layout, roster, the counted file; intake.py)
    ─► skip those already graded (same files, same assignment version; outputs.py)
    ─► worker processes, each with warm sandboxed kernels (pool.py)
    ─► per student, as soon as known: results/<id>.json, reports/<id>.html, details/<id>.json
    ─► gradebook.csv, summary.html and intake.json for the whole class (gradebook.py)

Timings live in `details/` only, so the results, the students' reports and the gradebook of a
resumed batch are the same as one uninterrupted run.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING

from .archive import opened_export
from .assignments import Assignment
from .errors import UsageError
from .files import OutputFolder
from .intake import STUDENT_ID_RULE, Entry, Intake, read_export
from .outputs import is_done, remove_stale
from .pool import Graded, PoolConfig, run_pool
from .roster import Roster
from .textsafe import visible

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from .course import StudentTerms

__all__ = ["STUDENT_ID_RULE", "BatchConfig", "BatchOutcome", "default_jobs", "run_batch", "summary_line"]

FORMAT_VERSION = "3"


@dataclass(frozen=True)
class BatchConfig:
    """What a batch grades, how its files are read, and where its outputs go."""

    folder: Path  # a folder, or a .zip as downloaded
    assignment: Assignment
    output: Path
    jobs: int
    sandbox_name: str = "auto"
    warm_ahead: int | None = None  # None: pool.warm_ahead_for(assignment)
    layout: str = "auto"
    roster: Roster | None = None
    pick: str = "latest"
    deadline: datetime | None = None
    db: str | None = None  # the course database's URL (course_db.py); None: nothing recorded, no penalties
    terms: Mapping[str, StudentTerms] = field(default_factory=dict)  # per student, from course.toml and the db
    scheduler: str | None = None  # a Dask scheduler's address, or local:N; None: this machine's worker processes

    def pool(self, output: OutputFolder) -> PoolConfig:
        """The workers' config, writing into `output` (this config's output folder, opened)."""
        return PoolConfig(self.assignment, output, self.jobs, self.sandbox_name, self.warm_ahead, self.terms)


@dataclass
class BatchOutcome:
    """What a batch run did, for the final summary line."""

    total: int = 0
    graded: int = 0
    unchanged: int = 0
    errors: int = 0
    unsaved: int = 0
    missing: int = 0
    unmatched: int = 0
    seconds: float = 0.0
    scores: list[float] = field(default_factory=list)
    recorded: str = ""  # what the course database got, in words


def default_jobs() -> int:
    """The number of CPU cores this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


@functools.cache
def _templates_digest() -> str:  # read once a run, not once a student
    digest = hashlib.sha256()
    for path in sorted((Path(__file__).parent / "templates").glob("*.j2")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _digest(path: Path) -> str:
    try:
        with open(path, "rb") as f:
            return hashlib.file_digest(f, "sha256").hexdigest()
    except OSError as error:  # graded as an error, like any other unreadable submission
        return f"unreadable: {error.strerror}"


def grading_key(entry: Entry, config: BatchConfig) -> str:
    """What a student's results depend on: their files (names and bytes), which one counts, and
    the assignment's version."""
    files = [f"{f.name}\0{f.late}\0{f.problem}\0{'' if f.problem else _digest(f.path)}" for f in entry.files]
    parts = [FORMAT_VERSION, config.assignment.version, str(config.assignment.has_reference), _templates_digest(),
             config.pick, entry.problem, *files, "others", *(f"{f.name}\0{f.late}" for f in entry.others)]
    if entry.student in config.terms:  # a new override, deadline or extension: the student's files are redone
        parts += ["terms", config.terms[entry.student].digest()]
    return hashlib.sha256("\n".join(parts).encode("utf-8", "surrogateescape")).hexdigest()


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

    def update(self, result: Graded) -> None:
        self.done += 1
        self.errors += result.status != "graded"
        errors = f" · {self.errors} error{'s' * (self.errors != 1)}" if self.errors else ""
        if self.tty:
            filled = self.width * self.done // max(1, self.total)
            bar = "█" * filled + "░" * (self.width - filled)
            self.stream.write(f"\r{bar} {self.done}/{self.total}{errors} · ETA {self.eta()} ")
        else:
            score = f"{result.score:g}" if result.status == "graded" else result.status
            student = visible(result.student)
            self.stream.write(f"[{self.done}/{self.total}] {student}: {score}{errors} · ETA {self.eta()}\n")
        self.stream.flush()

    def finish(self) -> None:
        if self.tty and self.total:
            self.stream.write("\n")
            self.stream.flush()


# ---------------------------------------------------------------- the batch


def read_intake(config: BatchConfig, folder: Path) -> Intake:
    """The export's entries; a UsageError when it holds nothing to grade."""
    intake = read_export(folder, config.layout, config.roster, config.pick, config.deadline)
    if not intake.entries and not intake.missing and intake.unmatched:
        raise UsageError(f"none of the {len(intake.unmatched)} files under {config.folder} can be told a student's "
                         f"(e.g. {intake.unmatched[0]}): see --layout{' and --roster' if config.roster else ''}")
    if not intake.entries and not intake.missing:
        raise UsageError(f"no .ipynb or .py submissions under {config.folder}")
    return intake


def run_batch(config: BatchConfig, stream: IO[str] | None = None) -> BatchOutcome:
    """Grade every student not graded yet, then write the gradebook and the class summary."""
    from .gradebook import write_class_outputs

    started = time.monotonic()
    if config.scheduler is not None:
        _check_scheduler(config.scheduler)
    with OutputFolder.open(config.output) as output:  # before any student's code runs
        with opened_export(config.folder) as folder:
            intake = read_intake(config, folder)
            engine = _open_course_db(config)  # once the export is known good: bad input makes no database
            config = _with_terms(config, intake, engine)
            remove_stale(output, set(intake.students))
            keyed = [(e, grading_key(e, config)) for e in intake.entries]
            todo = [(e, k) for e, k in keyed if not is_done(config.output, e.student, k)]
            outcome = BatchOutcome(total=len(intake.entries), unchanged=len(keyed) - len(todo),
                                   missing=len(intake.missing), unmatched=len(intake.unmatched))
            _grade_all(config, output, todo, outcome, Progress(len(todo), stream))
        output.write("intake.json", intake_json(intake, config) + "\n")
        book = write_class_outputs(output, intake, config.assignment)
    outcome.errors = sum(row.status == "error" for row in book)
    outcome.scores = [row.total for row in book if row.total is not None]
    if engine is not None:
        outcome.recorded = _record(engine, config, intake)
    outcome.seconds = time.monotonic() - started
    return outcome


def _open_course_db(config: BatchConfig) -> Engine | None:
    from .course_db import open_db

    return open_db(config.db) if config.db else None


def _with_terms(config: BatchConfig, intake: Intake, engine: Engine | None) -> BatchConfig:
    """The config with each student's deadline, extension and overrides (none without a database)."""
    from .course import load_course
    from .course_book import batch_terms

    if engine is None:
        return config
    course = load_course(config.assignment.folder.parent.parent)
    return replace(config, terms=batch_terms(engine, course, config.assignment.name, intake))


def _record(engine: Engine, config: BatchConfig, intake: Intake) -> str:
    """Reconcile the course database with the batch's files: every grading counted once."""
    from .course import load_course
    from .course_book import reconcile

    canvas = load_course(config.assignment.folder.parent.parent).terms_of(config.assignment.name).canvas
    try:
        done = reconcile(engine, config.output, intake, config.assignment, canvas)
    except Exception as error:  # e.g. a database locked too long: the files stand, a rerun records them
        raise UsageError(f"the files are written but the course database could not record them ({error}); "
                         "run the same command again to record them") from None
    return f"{_count(done.gradings, 'grading')} recorded, {done.moved} score{'s' * (done.moved != 1)} moved"


def _grade_all(config: BatchConfig, output: OutputFolder, todo: list[tuple[Entry, str]], outcome: BatchOutcome,
               progress: Progress) -> None:
    try:
        for graded in _graded(config.pool(output), config.scheduler, todo):
            progress.update(graded)
            outcome.graded += 1
            outcome.unsaved += graded.status == "unsaved"
    except KeyboardInterrupt:
        saved = outcome.unchanged + outcome.graded - outcome.unsaved
        progress.stream.write(f"\ninterrupted: {saved} of {outcome.total} students are saved in {config.output}/; "
                              "the same command grades the rest\n")
        raise
    finally:
        progress.finish()


def _graded(config: PoolConfig, scheduler: str | None, todo: list[tuple[Entry, str]]) -> Iterator[Graded]:
    """Each student's outcome: from this machine's worker processes, or from a Dask cluster's."""
    if scheduler is None:
        return run_pool(config, todo)
    from .distributed import run_distributed

    return run_distributed(config, scheduler, todo)


def _check_scheduler(scheduler: str) -> None:
    """Before anything is read: dask.distributed is there, and `local:N` has its N."""
    try:
        from .distributed import local_workers
    except ImportError as error:
        raise UsageError(f"--scheduler needs dask.distributed ({error.msg}): "
                         "pip install 'coursegrade[distributed]'") from None
    local_workers(scheduler)


def intake_json(intake: Intake, config: BatchConfig) -> str:
    """What the batch read: the layout, the roster, the policy, and every file it did not grade."""
    return json.dumps({
        "layout": intake.layout,
        "roster": str(config.roster.source) if config.roster and config.roster.source else None,
        "pick": config.pick,
        "deadline": config.deadline.isoformat() if config.deadline else None,
        "students": len(intake.entries),
        "missing": [{"student": a.student, "name": a.name} for a in intake.missing],
        "unmatched": list(intake.unmatched),
        "notes": list(intake.notes),
    }, indent=1, ensure_ascii=False)


def summary_line(outcome: BatchOutcome, config: BatchConfig) -> str:
    """The one line printed when a batch ends (then the intake's lists, one line each)."""
    mean = sum(outcome.scores) / len(outcome.scores) if outcome.scores else 0.0
    apart = [f"{outcome.errors} could not be graded"]
    apart += [f"{outcome.unsaved} could not be saved (rerun)"] * bool(outcome.unsaved)
    apart += [f"{outcome.missing} on the roster submitted nothing"] * bool(outcome.missing)
    apart += [f"{_count(outcome.unmatched, 'file')} matched no student (intake.json)"] * bool(outcome.unmatched)
    return (f"{_count(outcome.total, 'student')}: {outcome.graded} graded now, {outcome.unchanged} unchanged, "
            f"{', '.join(apart)}; mean score of the {len(outcome.scores)} graded {mean:.1f} / "
            f"{config.assignment.max_score:g}; {outcome.seconds:.1f} s; "
            f"reports in {config.output}/ (summary.html, gradebook.csv)"
            + (f"; course database: {outcome.recorded}" if outcome.recorded else ""))


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'s' * (number != 1)}"
