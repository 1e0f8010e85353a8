"""The course gradebook as files an LMS imports: Canvas's gradebook CSV, Moodle's grading
worksheet, and a plain course CSV. Ids come from the roster; a student without a grade gets an
empty cell, never 0 (an LMS would record the 0).

Canvas: `Student, ID, SIS User ID, SIS Login ID, Section`, then one column per assignment named
as Canvas names it ("Title (assignment id)"; a name without an id makes Canvas create the
assignment), and the "Points Possible" row Canvas's own export has.
Moodle: one assignment's grading worksheet (Assignment → "Upload grading worksheet"):
`Identifier` ("Participant <id>"), `Full name`, `Email address`, `Status`, `Grade`,
`Maximum Grade`, `Grade can be changed`, `Last modified (submission)`, `Last modified (grade)`,
`Feedback comments`.

Every text cell a student can set (a name; an email address: Moodle lets students edit theirs,
and `=1+2@uni.example` is a valid one) goes through `gradebook.spreadsheet_safe`, so that no
spreadsheet runs it as a formula: the course CSV's every text cell, Moodle's name and email (its
upload matches rows by `Identifier`), Canvas's name. Canvas's ids and section (the institution's,
and the columns Canvas matches its rows by) are written as the roster has them.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from .course_book import BookAssignment, BookStudent
from .errors import UsageError
from .gradebook import spreadsheet_safe

FORMATS = ("canvas", "moodle", "csv")
CANVAS_HEADER = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
MOODLE_HEADER = ["Identifier", "Full name", "Email address", "Status", "Grade", "Maximum Grade",
                 "Grade can be changed", "Last modified (submission)", "Last modified (grade)", "Feedback comments"]


def _points(value: float | None, decimals: int | None = None) -> str:
    if value is None:
        return ""
    return f"{value:.{decimals}f}" if decimals is not None else f"{round(value, 6):g}"


def canvas_column(assignment: BookAssignment) -> str:
    """The assignment's column as Canvas names it: course.toml's `canvas`, else its title."""
    return assignment.canvas or assignment.title or assignment.name


def canvas_csv(assignments: Sequence[BookAssignment], students: Sequence[BookStudent]) -> str:
    rows = [CANVAS_HEADER + [canvas_column(a) for a in assignments],
            ["    Points Possible", "", "", "", "", *(_points(a.max_score, 2) for a in assignments)]]
    rows += [[spreadsheet_safe(s.name or s.key), s.lms_id, s.sis_id, s.login, s.section,
              *(_points(s.finals.get(a.name)) for a in assignments)] for s in students]
    return _csv(rows)


def moodle_csv(assignments: Sequence[BookAssignment], students: Sequence[BookStudent]) -> str:
    if len(assignments) != 1:
        raise UsageError("a Moodle grading worksheet holds one assignment: give exactly one --assignment")
    assignment = assignments[0]
    rows = [MOODLE_HEADER]
    for s in students:
        final = s.finals.get(assignment.name)
        graded = s.graded_at.get(assignment.name)
        rows.append([f"Participant {s.lms_id}" if s.lms_id else "", spreadsheet_safe(s.name or s.key),
                     spreadsheet_safe(s.email),
                     "Submitted for grading" if final is not None else "No submission", _points(final, 2),
                     _points(assignment.max_score, 2), "Yes", "",
                     graded.strftime("%A, %d %B %Y, %I:%M %p") if graded else "", ""])
    return _csv(rows)


def course_csv(assignments: Sequence[BookAssignment], students: Sequence[BookStudent]) -> str:
    """One row per student, one column per assignment (the score that counts), the total."""
    rows = [["student", "name", "sis_id", "login", "email", "section", *(a.name for a in assignments), "total",
             "max_total"]]
    most = sum(a.max_score for a in assignments)
    for s in students:
        got = [s.finals.get(a.name) for a in assignments]
        total = sum(g for g in got if g is not None) if any(g is not None for g in got) else None
        rows.append([*map(spreadsheet_safe, (s.key, s.name, s.sis_id, s.login, s.email, s.section)),
                     *(_points(g) for g in got), _points(total), _points(most)])
    return _csv(rows)


def _csv(rows: list[list[str]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue()


def render_export(fmt: str, assignments: Sequence[BookAssignment], students: Sequence[BookStudent]) -> str:
    return {"canvas": canvas_csv, "moodle": moodle_csv, "csv": course_csv}[fmt](assignments, students)
