"""The class's tables, built from the per-student results: the gradebook and the summary.

One gradebook row per student of the batch (and per roster student with nothing submitted):
a student with nothing graded has empty exercise cells and a status that says why. Class
statistics count graded students only; the others are counted and listed apart.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .assignments import Assignment
from .course import Scored
from .files import OutputFolder
from .intake import FORMULA_STARTS, Intake
from .model import GradeReport
from .outputs import details_path, result_path
from .textsafe import one_line

if TYPE_CHECKING:
    import pandas as pd

TOP_MESSAGES = 10
SLOWEST = 5


NOT_SAVED = "unsaved"  # a student whose files could not be written: a rerun grades them again
MISSING = "missing"  # a roster student with nothing in the export


@dataclass(frozen=True)
class BookRow:
    """One student's line of the gradebook; `points` is empty when nothing was graded."""

    student: str
    name: str
    points: dict[str, float]
    total: float | None
    max_score: float
    status: str  # graded, error, unsaved, missing
    note: str = ""
    adjusted: Scored | None = None  # the instructor's overrides and the late penalty, when any

    @property
    def final(self) -> float | None:
        """The score that counts: the total with the adjustments."""
        return self.adjusted.final if self.adjusted is not None else self.total


def load_results(output: Path, students: Sequence[str]) -> dict[str, GradeReport]:
    """Each student's report, read back from results/<id>.json, with the hidden checks' messages
    (which the result, a student's file, does not hold) from details/<id>.json, for the staff.
    A student whose files are not all there (they could not be written) is left out."""
    details = load_details(output, students)
    results = {}
    for student in students:
        if not details[student]:  # written last: without it, the student's files are not whole
            continue
        try:
            report = GradeReport.from_json(json.loads(result_path(output, student).read_text()))
        except (OSError, ValueError, KeyError, TypeError):
            continue
        results[student] = _with_hidden_messages(report, details[student].get("hidden_messages", {}))
    return results


def _with_hidden_messages(report: GradeReport, messages: dict[str, str]) -> GradeReport:
    checks = tuple(replace(c, message=str(messages.get(c.id, c.message))) for c in report.checks)
    return replace(report, checks=checks)


def load_details(output: Path, students: Sequence[str]) -> dict[str, dict[str, Any]]:
    details = {}
    for student in students:
        try:
            details[student] = json.loads(details_path(output, student).read_text())
        except (OSError, ValueError):
            details[student] = {}
    return details


def book_rows(intake: Intake, results: dict[str, GradeReport], assignment: Assignment,
              details: dict[str, dict[str, Any]] | None = None) -> list[BookRow]:
    """The gradebook's rows: every student of the batch, then every roster student with nothing.
    A student's adjustments (overrides, late penalty) come from their details file."""
    rows = []
    for entry in intake.entries:
        report = results.get(entry.student)
        adjusted = _adjusted((details or {}).get(entry.student, {}))
        if report is None:
            rows.append(BookRow(entry.student, entry.name, {}, None, assignment.max_score, NOT_SAVED,
                                "its files could not be written; run the batch again"))
        elif report.status != "graded":
            rows.append(BookRow(entry.student, entry.name, {}, None, report.max_score, report.status,
                                one_line(report.message)[:300], adjusted if adjusted and adjusted.overrides else None))
        else:
            points = {e: sum(c.points for c in report.checks if c.exercise == e) for e in assignment.exercises}
            rows.append(BookRow(entry.student, entry.name, points, report.score, report.max_score, "graded",
                                adjusted.reasons() if adjusted else "", adjusted))
    rows += [BookRow(a.student, a.name, {}, None, assignment.max_score, MISSING, "no submission in the export")
             for a in intake.missing]
    return rows


def _adjusted(details: dict[str, Any]) -> Scored | None:
    try:
        adjusted = Scored.from_json(details["adjusted"]) if details.get("adjusted") else None
    except (KeyError, TypeError, ValueError):
        return None
    return adjusted if adjusted and (adjusted.overrides or adjusted.penalty) else None


def spreadsheet_safe(text: str) -> str:
    """A text cell no spreadsheet runs as a formula (OWASP's CSV injection advice: a leading ')."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def gradebook_csv(rows: Sequence[BookRow], exercises: Sequence[str]) -> str:
    """gradebook.csv: student, name, one column per exercise, total (as graded), the instructor's
    adjustment, the late penalty (points), final (what counts), max_score, status, note (why)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["student", "name", *exercises, "total", "adjustment", "late_penalty", "final", "max_score",
                     "status", "note"])
    for row in rows:
        cells = [f"{row.points[e]:g}" if e in row.points else "" for e in exercises]
        adjustment = f"{row.adjusted.adjustment:g}" if row.adjusted and row.adjusted.overrides else ""
        penalty = f"{row.adjusted.penalty_points:g}" if row.adjusted and row.adjusted.penalty else ""
        writer.writerow([spreadsheet_safe(row.student), spreadsheet_safe(row.name), *cells, _number(row.total),
                         adjustment, penalty, _number(row.final), f"{row.max_score:g}", row.status,
                         spreadsheet_safe(row.note)])
    return buffer.getvalue()


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def check_table(results: dict[str, GradeReport]) -> pd.DataFrame:
    """One row per (student, check): the long table the summary's statistics come from."""
    import pandas as pd

    rows = [
        {"student": student, "id": c.id, "exercise": c.exercise, "hidden": c.hidden, "status": c.status,
         "message": c.message, "points": c.points, "max_points": c.max_points}
        for student, report in results.items() for c in report.checks
    ]
    columns = ["student", "id", "exercise", "hidden", "status", "message", "points", "max_points"]
    return pd.DataFrame(rows, columns=columns)


def pass_rates(checks: pd.DataFrame) -> list[dict[str, Any]]:
    """Per check, in the assignment's order: how many of those that ran passed."""
    ran = checks[checks["status"] != "skipped"]
    order = list(dict.fromkeys(checks["id"]))
    table = ran.groupby("id", sort=False).agg(
        exercise=("exercise", "first"), hidden=("hidden", "first"),
        ran=("status", "size"), passed=("status", lambda s: int((s == "passed").sum())),
    )
    rows = []
    for check_id in order:
        if check_id in table.index:
            row = table.loc[check_id]
            rate = float(row["passed"]) / float(row["ran"]) if row["ran"] else 0.0
            rows.append({"id": check_id, "exercise": row["exercise"], "hidden": bool(row["hidden"]),
                         "passed": int(row["passed"]), "ran": int(row["ran"]), "rate": round(100 * rate)})
    return rows


def common_failures(checks: pd.DataFrame, top: int = TOP_MESSAGES) -> list[dict[str, Any]]:
    """The most frequent messages of checks that did not pass: how many students, which checks."""
    failed = checks[~checks["status"].isin(["passed", "skipped"])]
    if failed.empty:
        return []
    groups = failed.groupby("message", sort=False).agg(
        students=("student", lambda s: sorted(set(s))), ids=("id", lambda s: list(dict.fromkeys(s))))
    groups["count"] = groups["students"].map(len)
    groups["first"] = groups["ids"].map(lambda ids: ids[0])
    groups = groups.reset_index().sort_values(["count", "first", "message"], ascending=[False, True, True],
                                              kind="stable")
    return [{"ids": r.ids, "message": r.message, "count": int(r.count), "students": r.students}
            for r in groups.head(top).itertuples()]


def histogram(scores: Sequence[float], max_score: float, bins: int = 10) -> list[dict[str, Any]]:
    """Counts of scores in `bins` equal ranges of 0..max_score (the last range includes the max)."""
    width = max_score / bins if max_score > 0 else 1.0
    counts = [0] * bins
    for score in scores:
        counts[min(bins - 1, max(0, int(score // width)))] += 1
    tallest = max(counts) or 1
    return [{"low": round(i * width, 2), "high": round((i + 1) * width, 2), "count": n,
             "height": round(100 * n / tallest)} for i, n in enumerate(counts)]


def exercise_table(checks: pd.DataFrame, exercises: Sequence[str]) -> list[dict[str, Any]]:
    """Per exercise: the class's mean points and how many students got all of them."""
    import pandas as pd

    rows = []
    for exercise in exercises:
        mine = checks[checks["exercise"] == exercise]
        if mine.empty:
            continue
        per_student = mine.groupby("student", sort=False)[["points", "max_points"]].sum()
        full = int((per_student["points"] >= per_student["max_points"]).sum())
        most = float(per_student["max_points"].max())
        mean = float(pd.to_numeric(per_student["points"]).mean())
        rows.append({"name": exercise, "mean": f"{mean:.1f}", "max_points": f"{most:g}", "full": full,
                     "students": len(per_student), "percent": round(100 * mean / most) if most else 0})
    return rows


def write_class_outputs(output: OutputFolder, intake: Intake, assignment: Assignment) -> list[BookRow]:
    """gradebook.csv and summary.html for the batch's students; the gradebook's rows are returned."""
    from .html_report import render_summary

    students = intake.students
    results = load_results(output.path, students)
    details = load_details(output.path, students)
    rows = book_rows(intake, results, assignment, details)
    output.write("gradebook.csv", gradebook_csv(rows, assignment.exercises))
    graded = {s: r for s, r in results.items() if r.status == "graded"}
    checks = check_table(graded)
    summary = {
        "assignment": assignment.name,
        "title": assignment.title,
        "max_score": assignment.max_score,
        "students": [
            {"id": row.student, "name": row.name, "score": row.total or 0.0, "max_score": row.max_score,
             "status": row.status, "note": row.note, "limits": details.get(row.student, {}).get("limits_hit", []),
             "sandbox": details.get(row.student, {}).get("sandbox", ""), "report": row.student in results}
            for row in rows
        ],
        "histogram": histogram([r.score for r in graded.values()], assignment.max_score),
        "exercises": exercise_table(checks, assignment.exercises),
        "pass_rates": pass_rates(checks),
        "failures": common_failures(checks),
        "slowest": slowest(details),
        "unmatched": list(intake.unmatched),
        "notes": list(intake.notes),
    }
    output.write("summary.html", render_summary(summary))
    return rows


def slowest(details: dict[str, dict[str, Any]], top: int = SLOWEST) -> list[dict[str, Any]]:
    """The submissions that took longest to grade (their timings vary from run to run)."""
    timed = [(float(d.get("timings", {}).get("grading", 0.0)), s) for s, d in details.items() if d]
    timed.sort(key=lambda t: (-t[0], t[1]))
    return [{"id": s, "seconds": round(t, 2)} for t, s in timed[:top]]
