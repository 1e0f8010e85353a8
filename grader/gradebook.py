"""The class's tables, built with pandas from the per-student results: the gradebook and the summary."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .assignments import Assignment
from .batch import details_path, result_path, write_atomic
from .model import GradeReport

if TYPE_CHECKING:
    import pandas as pd

TOP_MESSAGES = 10
SLOWEST = 5


def load_results(output: Path, students: Sequence[str]) -> dict[str, GradeReport]:
    """Each student's report, read back from results/<id>.json, with the hidden checks' messages
    (which the result, a student's file, does not hold) from details/<id>.json, for the staff."""
    details = load_details(output, students)
    return {s: _with_hidden_messages(GradeReport.from_json(json.loads(result_path(output, s).read_text())),
                                     details[s].get("hidden_messages", {})) for s in students}


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


def gradebook(results: dict[str, GradeReport], exercises: Sequence[str]) -> pd.DataFrame:
    """One row per student: the points of each exercise, the total, and whether it could be graded."""
    import pandas as pd

    rows = []
    for student, report in results.items():
        row: dict[str, Any] = {"student": student}
        for exercise in exercises:
            row[exercise] = sum(c.points for c in report.checks if c.exercise == exercise)
        row["total"] = report.score
        row["max_score"] = report.max_score
        row["status"] = report.status
        rows.append(row)
    columns = ["student", *exercises, "total", "max_score", "status"]
    return pd.DataFrame(rows, columns=columns)


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


def write_class_outputs(output: Path, students: Sequence[str], assignment: Assignment) -> pd.DataFrame:
    """gradebook.csv and summary.html for these students; the gradebook is returned."""
    from .html_report import render_summary

    results = load_results(output, students)
    details = load_details(output, students)
    book = gradebook(results, assignment.exercises)
    write_atomic(output / "gradebook.csv", book.to_csv(index=False, float_format="%g"))
    checks = check_table(results)
    summary = {
        "assignment": assignment.name,
        "title": assignment.title,
        "max_score": assignment.max_score,
        "students": [
            {"id": s, "score": r.score, "max_score": r.max_score, "status": r.status,
             "limits": details[s].get("limits_hit", []), "sandbox": details[s].get("sandbox", "")}
            for s, r in results.items()
        ],
        "histogram": histogram([r.score for r in results.values()], assignment.max_score),
        "exercises": exercise_table(checks, assignment.exercises),
        "pass_rates": pass_rates(checks),
        "failures": common_failures(checks),
        "slowest": slowest(details),
    }
    write_atomic(output / "summary.html", render_summary(summary))
    return book


def slowest(details: dict[str, dict[str, Any]], top: int = SLOWEST) -> list[dict[str, Any]]:
    """The submissions that took longest to grade (their timings vary from run to run)."""
    timed = [(float(d.get("timings", {}).get("grading", 0.0)), s) for s, d in details.items() if d]
    timed.sort(key=lambda t: (-t[0], t[1]))
    return [{"id": s, "seconds": round(t, 2)} for t, s in timed[:top]]
