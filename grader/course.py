"""The course's terms and what they do to a score: deadlines, late penalties, extensions, overrides.

    course.toml (beside assignments/) ─► Course: per assignment a deadline and a late policy;
    per student extensions ─► StudentTerms (one student, one assignment, with the overrides
    from the course database) ─► adjust(report, submitted_at, terms) ─► Scored

Everything here is plain values and functions: the database and the files are at the edges
(course_db.py, course_book.py, outputs.py). Order: an instructor's override replaces the points
of a check, or an exercise's total; the late penalty then takes its percentage of that score.

    [assignments.conv-arithmetic]
    deadline = 2026-03-01T23:59:00
    late = "per-day"            # or "zero" (nothing after the deadline) or "none"
    percent_per_day = 10        # per day started
    cap = 50                    # percent, at most
    cutoff = 2026-03-08T23:59:00  # nothing after it
    canvas = "Conv arithmetic (1234)"  # the column Canvas knows the assignment by

    [extensions]
    jsmith = { conv-arithmetic = 2026-03-04T23:59:00 }   # any roster identifier
"""

from __future__ import annotations

import hashlib
import json
import math
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from .errors import UsageError
from .model import CheckResult, GradeReport

COURSE_FILE = "course.toml"
LATE_POLICIES = ("none", "per-day", "zero")
DAY = timedelta(days=1)


@dataclass(frozen=True)
class Terms:
    """One assignment's deadline and late policy."""

    deadline: datetime | None = None
    late: Literal["none", "per-day", "zero"] = "none"
    percent_per_day: float = 0.0
    cap: float = 100.0
    cutoff: datetime | None = None
    canvas: str = ""  # the Canvas column, e.g. "Conv arithmetic (1234)"; default: the title

    def extended(self, until: datetime | None) -> Terms:
        """These terms with the deadline moved to `until` (the cutoff moves by as much)."""
        if until is None or self.deadline is None or until <= self.deadline:
            return self
        shift = until - self.deadline
        return replace(self, deadline=until, cutoff=self.cutoff + shift if self.cutoff else None)


@dataclass(frozen=True)
class Course:
    """course.toml: terms per assignment, extensions per student identifier."""

    terms: Mapping[str, Terms] = field(default_factory=dict)
    extensions: Mapping[str, Mapping[str, datetime]] = field(default_factory=dict)  # identifier -> assignment

    def terms_of(self, assignment: str) -> Terms:
        return self.terms.get(assignment, Terms())

    def extension(self, assignment: str, identifiers: Iterable[str]) -> datetime | None:
        """The extension given to a student under any of their identifiers (case-insensitive)."""
        wanted = {i.casefold() for i in identifiers if i}
        found = [e[assignment] for key, e in self.extensions.items() if key.casefold() in wanted and assignment in e]
        return max(found) if found else None


@dataclass(frozen=True)
class Override:
    """An instructor's points for one check, or one exercise's total."""

    target: str  # a check id or an exercise name
    kind: Literal["check", "exercise"]
    points: float
    reason: str
    when: str = ""


@dataclass(frozen=True)
class StudentTerms:
    """Everything that adjusts one student's score on one assignment, known before grading."""

    terms: Terms = Terms()
    overrides: tuple[Override, ...] = ()

    def digest(self) -> str:
        """What a student's files depend on besides the grading: a change regrades them."""
        return hashlib.sha256(json.dumps(asdict(self), default=str, sort_keys=True).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Penalty:
    """A late penalty: the percentage taken from the score, and why in words."""

    percent: float
    reason: str


@dataclass(frozen=True)
class Applied:
    """An override as applied to one grading: the points it replaced."""

    target: str
    was: float
    now: float
    reason: str


@dataclass(frozen=True)
class Scored:
    """A grading's score, the adjustments on top of it, and the score that counts."""

    graded: float
    overrides: tuple[Applied, ...] = ()
    adjusted: float = 0.0  # after overrides
    penalty: Penalty | None = None
    penalty_points: float = 0.0
    final: float = 0.0
    submitted_at: str = ""

    @property
    def adjustment(self) -> float:
        return round(self.adjusted - self.graded, 6)

    def reasons(self) -> str:
        """One line for a gradebook: each adjustment and its reason."""
        parts = [f"instructor: {a.target} {a.was:g} → {a.now:g} ({a.reason})" for a in self.overrides]
        parts += [f"late: −{self.penalty.percent:g} % ({self.penalty.reason})"] if self.penalty else []
        return "; ".join(parts)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Scored:
        penalty = data.get("penalty")
        return cls(float(data["graded"]), tuple(Applied(**a) for a in data.get("overrides", ())),
                   float(data["adjusted"]), Penalty(**penalty) if penalty else None,
                   float(data.get("penalty_points", 0.0)), float(data["final"]), str(data.get("submitted_at", "")))


# ---------------------------------------------------------------- plain functions on scores


def late_penalty(terms: Terms, submitted: datetime | None) -> Penalty | None:
    """The penalty of a submission at `submitted` under `terms` (already extended); None: on time."""
    if terms.deadline is None or submitted is None or submitted <= terms.deadline or terms.late == "none":
        return None
    late = submitted - terms.deadline
    said = _duration(late)
    if terms.late == "zero":
        return Penalty(100.0, f"submitted {said} after the deadline; nothing counts after it")
    if terms.cutoff is not None and submitted > terms.cutoff:
        return Penalty(100.0, f"submitted {said} after the deadline, after the cutoff {terms.cutoff:%Y-%m-%d %H:%M}")
    days = math.ceil(late / DAY)
    percent = min(terms.cap, days * terms.percent_per_day)
    capped = f", capped at {terms.cap:g} %" if percent < days * terms.percent_per_day else ""
    return Penalty(percent, f"{said} late: {days} day{'s' * (days != 1)} started × {terms.percent_per_day:g} %{capped}")


def _duration(delta: timedelta) -> str:
    hours = int(delta.total_seconds() // 3600)
    minutes = int(delta.total_seconds() // 60) % 60
    return f"{hours // 24} d {hours % 24} h" if hours >= 24 else f"{hours} h {minutes} min"


def apply_overrides(checks: Sequence[CheckResult], overrides: Sequence[Override]) -> tuple[float, tuple[Applied, ...]]:
    """The score with each override in place (the latest wins per target): a check's points
    replaced, or an exercise's total replaced (its checks' points no longer count)."""
    latest = {o.target: o for o in overrides}
    points = {c.id: c.points for c in checks}
    applied = []
    for override in latest.values():
        if override.kind == "exercise":
            mine = [c.id for c in checks if c.exercise == override.target]
            was = sum(points[i] for i in mine)
            for i in mine:
                points[i] = 0.0
            if mine:
                points[mine[0]] = override.points
        elif override.target in points:
            was = points[override.target]
            points[override.target] = override.points
        else:
            continue  # a check the assignment no longer has
        applied.append(Applied(override.target, round(was, 6), override.points, override.reason))
    return round(sum(points.values()), 6), tuple(applied)


def adjust(report: GradeReport, submitted: datetime | None, terms: StudentTerms) -> Scored:
    """A grading's score with the overrides, then the late penalty, applied."""
    adjusted, applied = apply_overrides(report.checks, terms.overrides)
    if report.status != "graded" and not applied:
        adjusted = report.score
    penalty = late_penalty(terms.terms, submitted)
    taken = round(adjusted * penalty.percent / 100, 6) if penalty else 0.0
    return Scored(report.score, applied, adjusted, penalty, taken, round(adjusted - taken, 6),
                  submitted.isoformat(timespec="seconds") if submitted else "")


# ---------------------------------------------------------------- course.toml


def load_course(root: Path) -> Course:
    """The course file beside `assignments/` (none: no deadlines, no extensions)."""
    path = root / COURSE_FILE
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Course()
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise UsageError(f"cannot read the course file {path}: {error}") from None
    terms = {name: _terms(name, table, path) for name, table in data.get("assignments", {}).items()}
    extensions = {str(student): {str(a): _when(w, f"extensions.{student}.{a}", path) for a, w in given.items()}
                  for student, given in data.get("extensions", {}).items()}
    return Course(terms, extensions)


def _terms(name: str, table: Mapping[str, Any], path: Path) -> Terms:
    late = str(table.get("late", "per-day" if "percent_per_day" in table else "none"))
    if late not in LATE_POLICIES:
        raise UsageError(f"{path}: assignments.{name}.late is {late!r}; one of {', '.join(LATE_POLICIES)}")
    deadline = _when(table["deadline"], f"assignments.{name}.deadline", path) if "deadline" in table else None
    cutoff = _when(table["cutoff"], f"assignments.{name}.cutoff", path) if "cutoff" in table else None
    return Terms(deadline, late, float(table.get("percent_per_day", 0.0)),  # type: ignore[arg-type]
                 float(table.get("cap", 100.0)), cutoff, str(table.get("canvas", "")))


def _when(value: Any, where: str, path: Path) -> datetime:
    """A TOML date or date-time (a date means its end, 23:59:59), local time."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=None) if value.tzinfo is None else value.astimezone().replace(tzinfo=None)
    if isinstance(value, date):
        return datetime.combine(value, datetime.max.time()).replace(microsecond=0)
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        raise UsageError(f"{path}: {where} is not a date and time: {value!r} (e.g. 2026-03-01T23:59:00)") from None
