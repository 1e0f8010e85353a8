"""The course gradebook kept in the database: what a batch records, and what instructors ask.

    before grading: course.toml + the database's overrides ─► StudentTerms per student
    after grading:  the batch's files (details/, results/) ─► reconcile ─► gradings, history

The per-student files are the batch's source of truth. `reconcile` records each student whose
current grading in the database is not the one their files were made from, in one transaction,
so it can be run again at any time (the end of every batch does): a batch killed anywhere,
then rerun, records each grading once.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from . import __version__
from .assignments import Assignment
from .course import Course, Override, Scored, StudentTerms, apply_overrides, late_penalty
from .course_db import (
    Assignment as AssignmentRow,
)
from .course_db import (
    CheckRow,
    Grading,
    OverrideRow,
    Run,
    ScoreChange,
    Student,
    Submission,
    session,
)
from .errors import UsageError
from .intake import Intake
from .model import CheckResult, GradeReport
from .outputs import details_path, result_path
from .roster import RosterStudent

# ---------------------------------------------------------------- before a batch


def batch_terms(engine: Engine, course: Course, assignment: str, intake: Intake) -> dict[str, StudentTerms]:
    """Each student's terms for this assignment: the deadline (with their extension) and their overrides."""
    terms = course.terms_of(assignment)
    with session(engine) as db:
        overrides = _overrides_by_key(db, assignment)
    result = {}
    for entry in intake.entries:
        identifiers = (entry.student, *(entry.listed.identifiers if entry.listed else ()))
        result[entry.student] = StudentTerms(terms.extended(course.extension(assignment, identifiers)),
                                             tuple(overrides.get(entry.student, ())))
    return result


def _overrides_by_key(db: Session, assignment: str) -> dict[str, list[Override]]:
    rows = db.execute(select(Student.key, OverrideRow).join(OverrideRow, OverrideRow.student_id == Student.id)
                      .join(AssignmentRow, OverrideRow.assignment_id == AssignmentRow.id)
                      .where(AssignmentRow.name == assignment).order_by(OverrideRow.id)).all()
    found: dict[str, list[Override]] = {}
    for key, row in rows:
        found.setdefault(key, []).append(_override(row))
    return found


def _override(row: OverrideRow) -> Override:
    return Override(row.target, "exercise" if row.kind == "exercise" else "check", row.points, row.reason,
                    row.created_at.isoformat(timespec="seconds"))


# ---------------------------------------------------------------- after a batch: reconcile


@dataclass(frozen=True)
class Recorded:
    """What one reconcile wrote: how many gradings were new, how many scores moved."""

    gradings: int
    moved: int


def reconcile(engine: Engine, output: Path, intake: Intake, assignment: Assignment, canvas: str = "") -> Recorded:
    """Make the database agree with the batch's files in `output` (idempotent)."""
    with session(engine) as db, db.begin():
        row = _assignment_row(db, assignment, canvas)
        students = _student_rows(db, intake)
        run: Run | None = None
        new = moved = 0
        currents = {g.student_id: g for g in db.scalars(select(Grading).where(Grading.assignment_id == row.id,
                                                                             Grading.current))}
        for entry in intake.entries:
            files = _read_files(output, entry.student)
            if files is None:
                continue  # not whole (unsaved, or killed mid-write): the next batch grades it
            details, report = files
            student = students[entry.student]
            current = currents.get(student.id)
            if current is not None and current.key == details.get("key"):
                continue
            run = run or _run(db, row, output)
            if current is not None:
                current.current = False
            grading = _grading(db, student, row, run, details, report, assignment.version)
            new += 1
            moved += _changed(db, current, grading, "grading", _checks_changed(current, grading))
    return Recorded(new, moved)


def _read_files(output: Path, student: str) -> tuple[dict[str, Any], GradeReport] | None:
    try:
        details = json.loads(details_path(output, student).read_text())
        report = GradeReport.from_json(json.loads(result_path(output, student).read_text()))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return (details, report) if isinstance(details, dict) and details.get("key") else None


def _assignment_row(db: Session, assignment: Assignment, canvas: str) -> AssignmentRow:
    row = db.scalar(select(AssignmentRow).where(AssignmentRow.name == assignment.name))
    if row is None:
        row = AssignmentRow(name=assignment.name)
        db.add(row)
    row.title, row.max_score, row.canvas = assignment.title, assignment.max_score, canvas
    db.flush()
    return row


def _student_rows(db: Session, intake: Intake) -> dict[str, Student]:
    """The batch's students (and the roster's), added or updated by their file id, each with what the
    roster says of them (the student an entry was matched to: its id may be theirs made safe)."""
    known = {s.key: s for s in db.scalars(select(Student))}
    for key, name, listed in [*((e.student, e.name, e.listed) for e in intake.entries),
                              *((a.student, a.name, a.listed) for a in intake.missing)]:
        student = known.get(key) or Student(key=key, name=name)
        if key not in known:
            db.add(student)
            known[key] = student
        if listed is not None:
            _copy_roster(student, listed)
        elif name:
            student.name = name
    db.flush()
    return known


def _copy_roster(student: Student, listed: RosterStudent) -> None:
    student.name, student.lms_id, student.sis_id = listed.name, listed.lms_id, listed.sis_id
    student.login, student.email, student.section = listed.login, listed.email, listed.section


def _current(db: Session, student_id: int, assignment_id: int) -> Grading | None:
    return db.scalar(select(Grading).where(Grading.student_id == student_id, Grading.assignment_id == assignment_id,
                                           Grading.current))


def _run(db: Session, assignment: AssignmentRow, output: Path) -> Run:
    run = Run(assignment_id=assignment.id, recorded_at=datetime.now(), machine=socket.gethostname(),
              output=str(output.resolve()))
    db.add(run)
    db.flush()
    return run


def _grading(db: Session, student: Student, assignment: AssignmentRow, run: Run, details: dict[str, Any],
             report: GradeReport, version: str) -> Grading:
    submission = _submissions(db, student, assignment, details)
    adjusted = Scored.from_json(details["adjusted"]) if details.get("adjusted") else None
    penalty = adjusted.penalty if adjusted else None
    final = adjusted.final if adjusted else report.score
    grading = Grading(
        student_id=student.id, assignment_id=assignment.id, run_id=run.id, submission_id=submission,
        key=str(details["key"]), status=report.status, score=report.score, max_score=report.max_score,
        adjustment=adjusted.adjustment if adjusted else 0.0, penalty_percent=penalty.percent if penalty else 0.0,
        penalty_points=adjusted.penalty_points if adjusted else 0.0, penalty_reason=penalty.reason if penalty else "",
        final=final if report.status == "graded" or (adjusted and adjusted.overrides) else None,
        graded_at=_parse_time(details.get("graded_at")) or datetime.now(), machine=str(details.get("machine", "")),
        grader_version=__version__, assignment_version=version, current=True,
        checks=[CheckRow(check_id=c.id, exercise=c.exercise, status=c.status, points=c.points,
                         max_points=c.max_points, hidden=c.hidden) for c in report.checks])
    db.add(grading)
    db.flush()
    return grading


def _submissions(db: Session, student: Student, assignment: AssignmentRow, details: dict[str, Any]) -> int | None:
    """Every file of the student's details, recorded once; the id of the one that counted."""
    counted = None
    for attempt, listed in enumerate(details.get("files", [])):
        file, digest = str(listed.get("file", "")), str(listed.get("sha256", ""))
        row = db.scalar(select(Submission).where(Submission.student_id == student.id,
                                                 Submission.assignment_id == assignment.id,
                                                 Submission.file == file, Submission.sha256 == digest))
        if row is None:
            row = Submission(student_id=student.id, assignment_id=assignment.id, file=file, sha256=digest)
            db.add(row)
        row.lms_time, row.attempt = _parse_time(listed.get("time")), attempt
        row.late, row.counted = listed.get("late"), bool(listed.get("counted"))
        db.flush()
        counted = row.id if row.counted else counted
    return counted


def _parse_time(text: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(text)) if text else None
    except ValueError:
        return None


def _checks_changed(before: Grading | None, after: Grading) -> str:
    """Which checks changed between two gradings, in words."""
    if before is None:
        return ""
    old = {c.check_id: c for c in before.checks}
    words = []
    for check in after.checks:
        was = old.get(check.check_id)
        if was is None or (was.status, was.points) != (check.status, check.points):
            was_text = f"{was.status} {was.points:g}" if was else "new"
            words.append(f"{check.check_id}: {was_text} → {check.status} {check.points:g}")
    return "; ".join(words)


def _changed(db: Session, before: Grading | None, after: Grading, cause: str, detail: str) -> int:
    """Add a history line when the score that counts moved (or first appears)."""
    old = before.final if before else None
    if before is not None and old == after.final:
        return 0
    reasons = [f"late −{after.penalty_percent:g} %: {after.penalty_reason}"] if after.penalty_reason else []
    db.add(ScoreChange(student_id=after.student_id, assignment_id=after.assignment_id, grading_id=after.id,
                       at=datetime.now(), cause=cause, old=old, new=after.final,
                       detail="; ".join([*reasons, detail] if detail else reasons)))
    return int(before is not None)


# ---------------------------------------------------------------- overrides


def find_student(db: Session, identifier: str) -> Student:
    """The one student any of whose identifiers is `identifier` (case-insensitive)."""
    wanted = identifier.casefold()
    found = [s for s in db.scalars(select(Student)) if wanted in {i.casefold() for i in s.identifiers}]
    if len(found) != 1:
        problem = "no student" if not found else f"{len(found)} students ({', '.join(s.key for s in found)})"
        verb = "goes" if len(found) < 2 else "go"
        raise UsageError(f"{problem} of the course database {verb} by {identifier!r}: give their login, SIS id, "
                         "email or LMS id as the roster has it")
    return found[0]


def find_assignment(db: Session, name: str) -> AssignmentRow:
    row = db.scalar(select(AssignmentRow).where(AssignmentRow.name == name))
    if row is None:
        known = ", ".join(db.scalars(select(AssignmentRow.name))) or "none yet: run grade batch first"
        raise UsageError(f"the course database has no assignment {name!r} (it has: {known})")
    return row


@dataclass(frozen=True)
class OverrideRequest:
    student: str
    assignment: str
    target: str
    points: float
    reason: str
    where: str = ""  # where it was asked, for messages ("overrides.csv line 3"); "" for the command line


def add_overrides(engine: Engine, requests: Sequence[OverrideRequest], author: str) -> list[str]:
    """Record the overrides and apply each to its current grading now, all of them or none (one
    transaction: a CSV with a bad line changes nothing); what happened, in words."""
    with session(engine) as db, db.begin():
        return [_add_override(db, request, author) for request in requests]


def _add_override(db: Session, request: OverrideRequest, author: str) -> str:
    try:
        return _record_override(db, request, author)
    except UsageError as error:
        raise UsageError(f"{request.where}: {error}" if request.where else str(error)) from None


def _record_override(db: Session, request: OverrideRequest, author: str) -> str:
    """Record one override and apply it to the current grading; what happened, in words."""
    if not request.reason.strip():
        raise UsageError("an override needs a reason (--reason TEXT, or a CSV's reason column): the student's "
                         "report shows it")
    student = find_student(db, request.student)
    assignment = find_assignment(db, request.assignment)
    current = _current(db, student.id, assignment.id)
    if current is None:
        raise UsageError(f"{student.key} has no grading of {assignment.name} yet: grade the batch first")
    kind, most = _target(current, request.target)
    if not 0 <= request.points <= most:
        raise UsageError(f"{request.points:g} points for {request.target}: between 0 and {most:g}")
    db.add(OverrideRow(student_id=student.id, assignment_id=assignment.id, target=request.target, kind=kind,
                       points=request.points, reason=request.reason.strip(), author=author,
                       created_at=datetime.now()))
    db.flush()
    before = current.final
    _refinal(db, current, student.id, assignment.id)
    moved = f"score {_text(before)} → {_text(current.final)}" if before != current.final else "score unchanged"
    db.add(ScoreChange(student_id=student.id, assignment_id=assignment.id, grading_id=current.id,
                       at=datetime.now(), cause="override", old=before, new=current.final,
                       detail=f"{request.target} → {request.points:g}: {request.reason.strip()}"))
    return f"{student.key} · {assignment.name} · {request.target} → {request.points:g} ({moved})"


def _target(grading: Grading, target: str) -> tuple[str, float]:
    """Whether `target` is a check or an exercise of this grading, and its most points."""
    checks = [c for c in grading.checks if c.check_id == target]
    if checks:
        return "check", checks[0].max_points
    mine = [c for c in grading.checks if c.exercise == target]
    if mine:
        return "exercise", sum(c.max_points for c in mine)
    raise UsageError(f"{target!r} is neither a check nor an exercise of this assignment "
                     f"(exercises: {', '.join(dict.fromkeys(c.exercise for c in grading.checks))})")


def _refinal(db: Session, grading: Grading, student_id: int, assignment_id: int) -> None:
    """The grading's score that counts, with every override of the student (the penalty stays)."""
    rows = db.scalars(select(OverrideRow).where(OverrideRow.student_id == student_id,
                                                OverrideRow.assignment_id == assignment_id).order_by(OverrideRow.id))
    checks = [CheckResult(c.check_id, c.exercise, c.status, c.points, c.max_points, c.hidden)  # type: ignore[arg-type]
              for c in grading.checks]
    adjusted, _ = apply_overrides(checks, [_override(r) for r in rows])
    grading.adjustment = round(adjusted - grading.score, 6)
    grading.penalty_points = round(adjusted * grading.penalty_percent / 100, 6)
    grading.final = round(adjusted - grading.penalty_points, 6)


def list_overrides(engine: Engine) -> list[str]:
    with session(engine) as db:
        rows = db.execute(select(OverrideRow, Student.key, AssignmentRow.name)
                          .join(Student, OverrideRow.student_id == Student.id)
                          .join(AssignmentRow, OverrideRow.assignment_id == AssignmentRow.id)
                          .order_by(AssignmentRow.name, Student.key, OverrideRow.id)).all()
    return [f"{when(o.created_at)}  {key}  {name}  {o.target} ({o.kind}) → {o.points:g}  {o.reason}"
            + (f"  [{o.author}]" if o.author else "") for o, key, name in rows]


# ---------------------------------------------------------------- what moved, and a student's history


@dataclass(frozen=True)
class Change:
    student: str
    name: str
    old: float | None
    new: float | None
    checks: str


def changes(engine: Engine, assignment: str) -> list[Change]:
    """The students whose score that counts moved in the latest batch that moved any (a regrade)."""
    with session(engine) as db:
        row = find_assignment(db, assignment)
        moves = (select(ScoreChange, Student, Grading.run_id).join(Student, ScoreChange.student_id == Student.id)
                 .join(Grading, ScoreChange.grading_id == Grading.id)
                 .where(Grading.assignment_id == row.id, ScoreChange.cause == "grading", ScoreChange.old.is_not(None)))
        run = db.scalar(select(Grading.run_id).join(ScoreChange, ScoreChange.grading_id == Grading.id)
                        .where(Grading.assignment_id == row.id, ScoreChange.cause == "grading",
                               ScoreChange.old.is_not(None)).order_by(Grading.run_id.desc()).limit(1))
        found = db.execute(moves.where(Grading.run_id == run).order_by(Student.key)).all()
        return [Change(s.key, s.name, c.old, c.new, c.detail) for c, s, _ in found]


def history(engine: Engine, identifier: str) -> list[str]:
    """Every grading, penalty and override of a student, oldest first."""
    with session(engine) as db:
        student = find_student(db, identifier)
        names = dict(db.execute(select(AssignmentRow.id, AssignmentRow.name)).tuples().all())
        lines = [f"{student.key} · {student.name}"]
        events: list[tuple[datetime, int, str]] = []
        for g in db.scalars(select(Grading).where(Grading.student_id == student.id)):
            penalty = f" · late −{g.penalty_percent:g} % ({g.penalty_reason})" if g.penalty_reason else ""
            events.append((g.graded_at, 0, f"{when(g.graded_at)}  {names[g.assignment_id]}  graded {g.status} "
                           f"{g.score:g} / {g.max_score:g}{penalty} · counts {_text(g.final)} · grader "
                           f"{g.grader_version}, assignment {g.assignment_version}, on {g.machine}"))
        for o in db.scalars(select(OverrideRow).where(OverrideRow.student_id == student.id)):
            events.append((o.created_at, 1, f"{when(o.created_at)}  {names[o.assignment_id]}  override {o.target} "
                           f"→ {o.points:g}: {o.reason}"))
        for c in db.scalars(select(ScoreChange).where(ScoreChange.student_id == student.id)):
            events.append((c.at, 2, f"{when(c.at)}  {names[c.assignment_id]}  score {_text(c.old)} → {_text(c.new)} "
                           f"({c.cause}{': ' + c.detail if c.detail else ''})"))
    return lines + [text for _, _, text in sorted(events, key=lambda e: (e[0], e[1]))]


def when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def _text(score: float | None) -> str:
    return "–" if score is None else f"{score:g}"


# ---------------------------------------------------------------- the whole gradebook


@dataclass(frozen=True)
class BookStudent:
    key: str
    name: str
    lms_id: str
    sis_id: str
    login: str
    email: str
    section: str
    finals: dict[str, float]  # assignment name -> the score that counts (absent: none)
    graded_at: dict[str, datetime]


@dataclass(frozen=True)
class BookAssignment:
    name: str
    title: str
    max_score: float
    canvas: str


def course_table(engine: Engine, assignments: Sequence[str] = ()) -> tuple[list[BookAssignment], list[BookStudent]]:
    """Every student and assignment (or the ones asked for), with the current scores that count."""
    with session(engine) as db:
        rows = list(db.scalars(select(AssignmentRow).order_by(AssignmentRow.id)))
        if not rows:  # an export of no one: say so, never an empty file
            raise UsageError("the course database holds no gradings yet: run grade batch first")
        if assignments:
            by_name = {r.name: r for r in rows}
            rows = [by_name.get(a) or find_assignment(db, a) for a in assignments]
        ids = {r.id: r.name for r in rows}
        current = db.scalars(select(Grading).where(Grading.current)).all()
        finals: dict[int, dict[str, float]] = {}
        times: dict[int, dict[str, datetime]] = {}
        for g in current:
            if g.assignment_id in ids and g.final is not None:
                finals.setdefault(g.student_id, {})[ids[g.assignment_id]] = g.final
                times.setdefault(g.student_id, {})[ids[g.assignment_id]] = g.graded_at
        students = [BookStudent(s.key, s.name, s.lms_id, s.sis_id, s.login, s.email, s.section,
                                finals.get(s.id, {}), times.get(s.id, {}))
                    for s in db.scalars(select(Student).order_by(Student.name, Student.key))]
        return [BookAssignment(r.name, r.title, r.max_score, r.canvas) for r in rows], students


__all__ = ["BookAssignment", "BookStudent", "Change", "OverrideRequest", "Recorded", "add_overrides", "batch_terms",
           "changes", "course_table", "history", "late_penalty", "list_overrides", "reconcile"]
