"""HTML reports through jinja2 templates with autoescaping: one self-contained file each.

Everything a student controls (output, error messages, file names) reaches the page only as
escaped text: every `{{ }}` string goes through `textsafe.visible` (controls and bidi overrides
shown as escapes) and then through autoescaping; pictures are inlined as data: URIs, styles are
inline, there is no script. Files are written into a `files.OutputFolder` opened before the student's
code ran.
Hidden checks show their name, verdict and known-mistake hint, never their inputs.
"""

from __future__ import annotations

import base64
import statistics
from collections.abc import Mapping
from functools import cache
from itertools import groupby
from pathlib import Path
from typing import Any

from .course import Scored
from .errors import UsageError
from .files import OutputFolder
from .model import CellLog, CheckResult, GradeReport
from .text_report import Points, messages_hinting_once
from .textsafe import one_line, visible

MAX_OUTPUT_CHARS = 4000
MAX_ERROR_CHARS = 3000
ISOLATED_SANDBOXES = ("bwrap", "bwrap-fork")
REPORT_SUFFIXES = (".html", ".htm")  # what --report PATH may name: it replaces the file there
STATUS_LABELS = {"passed": "passed", "failed": "failed", "error": "error", "timeout": "timed out",
                 "skipped": "not run here"}


def shown(value: Any) -> Any:
    """A `{{ }}` value as the page shows it: text through `visible`, other values as they are.

    Markup (e.g. from the `join` filter) stays Markup: the escapes `visible` writes hold no
    character HTML treats specially.
    """
    from markupsafe import Markup

    if isinstance(value, Markup):
        return Markup(visible(str(value)))
    return visible(value) if isinstance(value, str) else value


@cache
def _environment() -> Any:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("grader", "templates"),
        autoescape=True,  # every .html.j2 template, whatever its extension says
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=shown,
    )


def truncate(text: str, limit: int) -> str:
    """At most `limit` characters, saying how many were left out."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}\n… ({len(text) - limit} more characters not shown)"


def _percent(got: float, out_of: float) -> int:
    return round(100 * got / out_of) if out_of > 0 else 0


def _check_view(check: CheckResult, message: str) -> dict[str, Any]:
    message = "" if check.status == "passed" else message  # a hidden check: verdict and hint only
    return {"id": check.id, "status": check.status, "label": STATUS_LABELS[check.status], "hidden": check.hidden,
            "points": f"{check.points:g}", "max_points": f"{check.max_points:g}", "message": message,
            "note_only": check.status == "skipped"}


def _exercise_views(report: GradeReport) -> list[dict[str, Any]]:
    order = list(dict.fromkeys(c.exercise for c in report.checks))
    views = []
    for exercise, group in groupby(sorted(report.checks, key=lambda c: order.index(c.exercise)), lambda c: c.exercise):
        checks = list(group)
        ran = [c for c in checks if c.status != "skipped"]
        got, out_of = sum(c.points for c in ran), sum(c.max_points for c in ran)
        state = "none" if not ran else ("full" if got == out_of else ("part" if got > 0 else "zero"))
        messages = messages_hinting_once(ran)
        waiting = [c for c in checks if c.status == "skipped"]
        views.append({"name": exercise, "points": f"{got:g}", "max_points": f"{out_of:g}",
                      "percent": _percent(got, out_of), "state": state,
                      "checks": [_check_view(c, messages[c.id]) for c in ran],
                      "skipped": len(waiting), "skipped_points": f"{sum(c.max_points for c in waiting):g}"})
    return views


def _cell_views(cells: tuple[CellLog, ...]) -> list[dict[str, Any]]:
    return [{"number": c.index + 1, "status": c.status, "head": c.source_head,
             "error": truncate(c.error, MAX_ERROR_CHARS), "output": truncate(c.output, MAX_OUTPUT_CHARS)}
            for c in cells if c.status != "ok" or c.output.strip()]


def _signed(points: float) -> str:
    """A change of points as the table adds it up: +1, −1.5, 0."""
    points = round(points, 6)
    return f"+{points:g}" if points > 0 else f"−{-points:g}" if points < 0 else "0"


def adjustment_context(adjusted: Scored | None) -> dict[str, Any]:
    """The instructor's adjustments and the late penalty, as the report shows them (none: empty)."""
    if adjusted is None or not (adjusted.overrides or adjusted.penalty):
        return {"adjustments": [], "penalty": None, "final": ""}
    overrides = [{"target": a.target, "was": f"{a.was:g}", "now": f"{a.now:g}", "reason": a.reason,
                  "change": _signed(a.now - a.was)} for a in adjusted.overrides]
    penalty = adjusted.penalty and {"percent": f"{adjusted.penalty.percent:g}", "reason": adjusted.penalty.reason,
                                    "points": f"{adjusted.penalty_points:g}", "submitted": adjusted.submitted_at}
    return {"adjustments": overrides, "penalty": penalty, "final": f"{adjusted.final:g}",
            "graded": f"{adjusted.graded:g}", "adjusted": f"{adjusted.adjusted:g}"}


def student_context(report: GradeReport, student: str, title: str = "",
                    adjusted: Scored | None = None) -> dict[str, Any]:
    """What the student's page shows, as plain values."""
    passed = sum(c.status == "passed" for c in report.checks)
    ran = sum(c.status != "skipped" for c in report.checks)
    points = Points.of(report)
    return {
        "title": title or report.assignment,
        "assignment": report.assignment,
        "student": student,
        "submission": report.submission,
        "status": report.status,
        "score": f"{report.score:g}",
        "max_score": f"{points.ran_max:g}",
        "waiting_checks": points.waiting_checks,
        "waiting_points": f"{points.waiting_points:g}",
        "percent": _percent(report.score, points.ran_max),
        "passed": passed,
        "ran": ran,
        "message": report.message,
        "sandbox": report.sandbox,
        "isolated": report.sandbox in ISOLATED_SANDBOXES,
        "exercises": _exercise_views(report),
        "figures": [{"title": f.title, "caption": f.caption,
                     "src": "data:image/png;base64," + base64.b64encode(f.png).decode("ascii")}
                    for f in report.figures],
        "cells": _cell_views(report.cells),
        "cells_failed": sum(c.status != "ok" for c in report.cells),
        **adjustment_context(adjusted),
    }


def render_student(report: GradeReport, student: str, title: str = "", adjusted: Scored | None = None) -> str:
    """The student's report as one HTML page that opens offline."""
    context = student_context(report, student, title, adjusted)
    return str(_environment().get_template("student.html.j2").render(**context))


def render_summary(summary: Mapping[str, Any]) -> str:
    """The class summary page (see gradebook.write_class_outputs for what `summary` holds)."""
    students = [{"name": "", "note": "", "report": True, **s} for s in summary["students"]]
    graded = [s for s in students if s["status"] == "graded"]
    scores = [s["score"] for s in graded]
    median = statistics.median(scores) if scores else 0.0
    context = {
        "unmatched": [], "notes": [],
        **summary,
        "students": students,
        "count": len(students),
        "graded": len(graded),
        "graded_students": graded,
        "ungraded": [s for s in students if s["status"] != "graded"],
        "mean": f"{sum(scores) / len(scores):.1f}" if scores else "–",
        "median": f"{median:g}" if scores else "–",
        "full_marks": sum(s["score"] == s["max_score"] for s in graded),
        "max_score": f"{summary['max_score']:g}",
        "limited": [s for s in students if s["limits"]],
        "unisolated": sorted({s["sandbox"] for s in students if s["sandbox"] and
                              s["sandbox"] not in ISOLATED_SANDBOXES}),
    }
    return str(_environment().get_template("summary.html.j2").render(**context))


def open_report_folder(submission: Path, where: Path) -> tuple[OutputFolder, str]:
    """The student's report's folder, opened (before the student's code runs), and its file name;
    `where` is a file, a folder, or empty (beside the submission)."""
    if where == Path():
        folder, name = submission.parent, report_file_name(submission)
    elif where.is_dir() or where.suffix == "":
        folder, name = where, report_file_name(submission)
    elif where.suffix.lower() in REPORT_SUFFIXES:
        folder, name = where.parent, where.name
    else:  # `grade hw.ipynb --report hw.ipynb` would replace the notebook with its report
        raise UsageError(f"--report {where}: give an .html file or a folder ({where.name} is left as it is)")
    return OutputFolder.open(folder), name


def report_file_name(submission: Path) -> str:
    """The report's name for the submission's: its stem, each character `one_line` would show as
    an escape (a line break, a control, a bidi override) as "_", then ".html". The student chose the
    stem, and `grade` prints where the report went: a line break there would draw lines after the
    report's own ("59 of 59 checks passed")."""
    return "".join(c if one_line(c) == c else "_" for c in submission.stem) + ".html"


def write_report(report: GradeReport, submission: Path, folder: OutputFolder, name: str) -> Path:
    """Write the student's HTML report as `name` into `folder`; its path."""
    return folder.write(name, render_student(report, submission.stem))
