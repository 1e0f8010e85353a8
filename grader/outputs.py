"""A batch's output folder: where each student's files go, when a student counts as done, and
writing them whole.

    OUT/results/<id>.json    the course's result format (the student's)
    OUT/reports/<id>.html    the student's report
    OUT/details/<id>.json    for staff: what was graded (its key), timings, hidden messages,
                             which files were submitted and which one counted; written last
    OUT/gradebook.csv, OUT/summary.html, OUT/intake.json   the class's

Students' files live in folders of their own, so no student id can name a class file.
OUT is opened once, when the batch starts (`files.OutputFolder`), and every file is written
into it atomically, `details/<id>.json` last: a student counts as done only when all their
files are there and were made from the same key.
"""

from __future__ import annotations

import hashlib
import json
import socket
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from .assignments import Assignment
from .course import Scored, StudentTerms, adjust
from .files import OutputFolder
from .intake import Entry
from .model import CheckResult, GradeReport

__all__ = ["result_name", "details_name", "report_name", "result_path", "details_path",
           "report_path", "is_done", "write_student", "remove_stale", "error_report", "limits_hit"]


def result_name(student: str) -> str:
    return f"results/{student}.json"


def details_name(student: str) -> str:
    return f"details/{student}.json"


def report_name(student: str) -> str:
    return f"reports/{student}.html"


def result_path(output: Path, student: str) -> Path:
    return output / result_name(student)


def details_path(output: Path, student: str) -> Path:
    return output / details_name(student)


def report_path(output: Path, student: str) -> Path:
    return output / report_name(student)


def is_done(output: Path, student: str, key: str) -> bool:
    """True when every file of this student is there and was made from the same key."""
    try:
        details = json.loads(details_path(output, student).read_text())
        json.loads(result_path(output, student).read_text())
        return bool(details.get("key") == key and report_path(output, student).stat().st_size > 0)
    except (OSError, ValueError, AttributeError):
        return False


def remove_stale(output: OutputFolder, students: set[str]) -> None:
    """Drop the files of students no longer in the batch, and half-written files of a killed run."""
    for sub in ("", "results", "details", "reports"):
        for name in output.names(sub):
            if name.startswith(".") and name.endswith(".tmp"):
                output.remove(f"{sub}/{name}" if sub else name)
    for name in output.names("details"):
        student = name.removesuffix(".json")
        if name.endswith(".json") and student not in students:
            for stale in (result_name(student), report_name(student), details_name(student)):
                output.remove(stale)


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


def _files(entry: Entry, report: GradeReport, scores: dict[str, float]) -> list[dict[str, Any]]:
    """Every file the student submitted: which one counted, the score of each graded, why the
    others did not count, and (for the course database) its hash and time."""
    return [{"file": f.name, "counted": f.name == report.submission, "score": scores.get(f.name), "late": f.late,
             "problem": f.problem, "sha256": _sha256(f.path), "time": _time(f.path)}
            for f in (*entry.files, *entry.others)]


def _sha256(path: Path) -> str:
    try:
        with open(path, "rb") as f:
            return hashlib.file_digest(f, "sha256").hexdigest()
    except OSError:
        return ""


def _time(path: Path) -> str:
    """The file's time as the export gives it (its modification time), local, to the second."""
    try:
        return datetime.fromtimestamp(path.stat().st_mtime).isoformat(timespec="seconds")
    except (OSError, ValueError):
        return ""


def scored(entry: Entry, report: GradeReport, terms: StudentTerms) -> Scored:
    """The report's score with the student's overrides and late penalty (by the counted file's time)."""
    counted = next((f for f in (*entry.files, *entry.others) if f.name == report.submission), None)
    when = _time(counted.path) if counted else ""
    return adjust(report, datetime.fromisoformat(when) if when else None, terms)


def write_student(entry: Entry, assignment: Assignment, output: OutputFolder, report: GradeReport, key: str,
                  timings: dict[str, float], scores: dict[str, float] | None = None,
                  terms: StudentTerms | None = None) -> None:
    """All of one student's files; the details file, which marks the student done, last. With
    the course's `terms`, the report and the details show the overrides and late penalty."""
    from .html_report import render_student

    started = time.monotonic()
    adjusted = scored(entry, report, terms) if terms is not None else None
    output.write(result_name(entry.student), report.dumps() + "\n")
    output.write(report_name(entry.student), render_student(report, entry.student, assignment.title, adjusted))
    timings = {**timings, "report": time.monotonic() - started}
    details = {
        "key": key,
        "student": entry.student,
        "name": entry.name,
        "submission": report.submission,
        "files": _files(entry, report, scores or {}),
        "sandbox": report.sandbox,
        "limits_hit": limits_hit(report),
        "timings": {k: round(v, 4) for k, v in timings.items()},
        "cells": [{"index": c.index, "status": c.status, "error": c.error[-2000:]} for c in report.cells],
        "figures": [f.title for f in report.figures],
        "hidden_messages": {c.id: c.message for c in report.checks if c.hidden},  # staff only
        "graded_at": datetime.now().isoformat(timespec="seconds"),
        "machine": socket.gethostname(),
        "adjusted": adjusted.to_json() if adjusted else None,
    }
    output.write(details_name(entry.student), json.dumps(details, indent=1) + "\n")
