"""The course database: its tables, and opening it (created and migrated on first use).

SQLite by default (`reports/course.sqlite`, no server), any SQLAlchemy URL otherwise (a
department's PostgreSQL). The schema changes only through Alembic: the scripts ship in
grader/migrations/, and `open_db` upgrades to head before anything is read or written.

    students ─< submissions, gradings ─< check_results
    assignments ─< runs ─< gradings           overrides, score_changes (the history)

Nothing here grades: course_book.py reconciles the database with a batch's files.
"""

from __future__ import annotations

import atexit
import contextlib
import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine, ForeignKey, String, UniqueConstraint, create_engine, event
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship

from .errors import UsageError, reason

DEFAULT_DB = Path("reports") / "course.sqlite"
MIGRATIONS = Path(__file__).parent / "migrations"


class Base(DeclarativeBase):
    pass


class Student(Base):
    """A student as the roster knows them; `key` is the id of their files (results/<key>.json)."""

    __tablename__ = "students"
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    name: Mapped[str] = mapped_column(String(300), default="")
    lms_id: Mapped[str] = mapped_column(String(100), default="")
    sis_id: Mapped[str] = mapped_column(String(100), default="")
    login: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str] = mapped_column(String(300), default="")
    section: Mapped[str] = mapped_column(String(200), default="")

    @property
    def identifiers(self) -> tuple[str, ...]:
        local = self.email.split("@")[0] if "@" in self.email else ""
        return tuple(i for i in (self.key, self.login, self.sis_id, self.email, local, self.lms_id) if i)


class Assignment(Base):
    __tablename__ = "assignments"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    title: Mapped[str] = mapped_column(String(300), default="")
    max_score: Mapped[float] = mapped_column(default=0.0)
    canvas: Mapped[str] = mapped_column(String(300), default="")


class Run(Base):
    """One `grade batch` that recorded gradings."""

    __tablename__ = "runs"
    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id"))
    recorded_at: Mapped[datetime]
    machine: Mapped[str] = mapped_column(String(200))
    output: Mapped[str] = mapped_column(String(1000))


class Submission(Base):
    """A file a student submitted: its hash, its LMS time and order, whether it counted."""

    __tablename__ = "submissions"
    __table_args__ = (UniqueConstraint("student_id", "assignment_id", "file", "sha256"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"))
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id"))
    file: Mapped[str] = mapped_column(String(1000))
    sha256: Mapped[str] = mapped_column(String(100))
    lms_time: Mapped[datetime | None]
    attempt: Mapped[int] = mapped_column(default=0)  # 0: the latest of the export, 1 the one before...
    late: Mapped[bool | None]
    counted: Mapped[bool] = mapped_column(default=False)


class Grading(Base):
    """One grading of one student's work, and the score that counts for it."""

    __tablename__ = "gradings"
    id: Mapped[int] = mapped_column(primary_key=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"), index=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id"), index=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"))
    submission_id: Mapped[int | None] = mapped_column(ForeignKey("submissions.id"))
    key: Mapped[str] = mapped_column(String(100))  # the batch's grading key (details/<id>.json)
    status: Mapped[str] = mapped_column(String(20))
    score: Mapped[float]  # as graded
    max_score: Mapped[float]
    adjustment: Mapped[float] = mapped_column(default=0.0)  # overrides
    penalty_percent: Mapped[float] = mapped_column(default=0.0)
    penalty_points: Mapped[float] = mapped_column(default=0.0)
    penalty_reason: Mapped[str] = mapped_column(String(500), default="")
    final: Mapped[float | None]  # what counts; None: nothing graded
    graded_at: Mapped[datetime]
    machine: Mapped[str] = mapped_column(String(200))
    grader_version: Mapped[str] = mapped_column(String(50))
    assignment_version: Mapped[str] = mapped_column(String(50))
    current: Mapped[bool] = mapped_column(default=True, index=True)
    checks: Mapped[list[CheckRow]] = relationship(back_populates="grading", order_by="CheckRow.id")


class CheckRow(Base):
    __tablename__ = "check_results"
    id: Mapped[int] = mapped_column(primary_key=True)
    grading_id: Mapped[int] = mapped_column(ForeignKey("gradings.id"), index=True)
    check_id: Mapped[str] = mapped_column(String(200))
    exercise: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20))
    points: Mapped[float]
    max_points: Mapped[float]
    hidden: Mapped[bool]
    grading: Mapped[Grading] = relationship(back_populates="checks")


class OverrideRow(Base):
    __tablename__ = "overrides"
    id: Mapped[int] = mapped_column(primary_key=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"), index=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id"))
    target: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))  # check or exercise
    points: Mapped[float]
    reason: Mapped[str] = mapped_column(String(1000))
    author: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime]


class ScoreChange(Base):
    """The history: every change of the score that counts, and its cause."""

    __tablename__ = "score_changes"
    id: Mapped[int] = mapped_column(primary_key=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"), index=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id"))
    grading_id: Mapped[int | None] = mapped_column(ForeignKey("gradings.id"))
    at: Mapped[datetime]
    cause: Mapped[str] = mapped_column(String(20))  # grading, override
    old: Mapped[float | None]
    new: Mapped[float | None]
    detail: Mapped[str] = mapped_column(String(2000), default="")


# ---------------------------------------------------------------- opening


def database_url(given: str | None, default: Path = DEFAULT_DB) -> str:
    """A SQLAlchemy URL from --db (a URL or a file path), $COURSEGRADE_DB, or the default file."""
    text = given or os.environ.get("COURSEGRADE_DB") or str(default)
    if "://" in text:
        return text
    return f"sqlite:///{Path(text).resolve()}"


def _sqlite_pragmas(connection: object, record: object) -> None:
    cursor = connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def open_db(url: str, create: bool = True) -> Engine:
    """An engine on the course database, its schema upgraded to the newest migration. A SQLite file
    that is not there is made when `create` (a batch records into it), else a UsageError: a command
    that reads the course (history, changes, export, override) has nothing to read in a new one, and
    a mistyped --db must not leave an empty database behind."""
    from alembic import command
    from alembic.config import Config

    try:
        _sqlite_folder(url, create)
        engine = create_engine(url, connect_args={"timeout": 60} if url.startswith("sqlite") else {})
        if url.startswith("sqlite"):
            event.listen(engine, "connect", _sqlite_pragmas)
        atexit.register(engine.dispose)  # its connections closed before `grade` ends (grader/cli.py's run)
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    except UsageError:
        raise
    except Exception as error:  # a bad URL, a missing driver, a server that refuses, a folder not writable
        raise UsageError(f"cannot open the course database {_safe(url)}: {_first_line(reason(error))}") from None
    return engine


def _sqlite_folder(url: str, create: bool) -> None:
    """For a SQLite file: its folder made (`create`), or a UsageError when the file is not there."""
    if not url.startswith("sqlite:///") or url.startswith("sqlite:///:memory:"):
        return
    path = Path(url.removeprefix("sqlite:///").split("?", 1)[0])
    if create:
        path.parent.mkdir(parents=True, exist_ok=True)
    elif not path.is_file():
        raise UsageError(f"no course database at {path}: `grade batch` makes it (--db or $COURSEGRADE_DB "
                         "name another)")


def _first_line(text: str) -> str:
    """A database's message without the pages SQLAlchemy adds after it ("" stays "")."""
    return next(iter(text.splitlines()), "")


def _safe(url: str) -> str:
    """The URL without its password."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "(an unreadable URL)"


@contextlib.contextmanager
def session(engine: Engine) -> Iterator[Session]:
    """A session on the course database; what the database refuses meanwhile (a read-only file, a
    lock held too long, a server gone) is a UsageError that says so in one line."""
    try:
        with Session(engine, expire_on_commit=False) as db:
            yield db
    except SQLAlchemyError as error:
        refusal = _first_line(str(getattr(error, "orig", None) or error))
        raise UsageError(f"the course database {_safe(str(engine.url))} refused: {refusal}") from None
