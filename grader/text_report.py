"""The short, readable summary `grade FILE` prints on the terminal.

Ids, names, messages and the file name may come from the student: the whole text is passed
through `textsafe.visible`, so no escape sequence, carriage return or bidi override reaches
the terminal raw.
"""

from __future__ import annotations

from itertools import groupby

from .model import CheckResult, GradeReport
from .textsafe import visible

MARKS = {"passed": "✓", "failed": "✗", "error": "!", "timeout": "⏱", "skipped": "·"}


def _points(value: float) -> str:
    return f"{value:g}"


def _exercise_line(exercise: str, results: list[CheckResult]) -> str:
    ran = [r for r in results if r.status != "skipped"]
    got = sum(r.points for r in ran)
    out_of = sum(r.max_points for r in ran)
    mark = "✓" if ran and all(r.status == "passed" for r in ran) else ("✗" if ran else "·")
    skipped = len(results) - len(ran)
    hidden = f"  (+{skipped} hidden, run at grading time)" if skipped else ""
    return f"  {mark} {exercise:<28} {_points(got):>5} / {_points(out_of)}{hidden}"


def _failure_lines(result: CheckResult) -> list[str]:
    label = "hidden check " if result.hidden else ""
    lines = [f"      {MARKS[result.status]} {label}{result.id} ({result.status})"]
    lines += [f"          {line}" for line in visible(result.student_message).splitlines()]
    return lines


def render(report: GradeReport, verbose: bool = False) -> str:
    """The report as text: a line per exercise, and what went wrong under each failure."""
    title = f"{report.assignment} · {report.submission}"
    lines = [f"{title}   score {_points(report.score)} / {_points(report.max_score)}"]
    if report.status == "error":
        lines.append(f"  nothing could be graded: {report.message}")
    by_exercise = groupby(sorted(report.checks, key=lambda r: _order(report, r)), key=lambda r: r.exercise)
    for exercise, group in by_exercise:
        results = list(group)
        lines.append(_exercise_line(exercise, results))
        for result in results:
            if result.status not in ("passed", "skipped"):
                lines += _failure_lines(result)
    if report.status != "error" and report.message:
        lines.append(f"  note: {report.message}")
    if verbose:
        lines.append(_timing_line(report))
    if "NOT ISOLATED" in report.sandbox:  # a fallback is said every time, not only with --verbose
        lines.append(f"  warning: sandbox {report.sandbox}")
    passed = sum(r.status == "passed" for r in report.checks)
    ran = sum(r.status != "skipped" for r in report.checks)
    lines.append(f"{passed} of {ran} checks passed" + (f" (sandbox: {report.sandbox})" if verbose else ""))
    return visible("\n".join(lines))


def _order(report: GradeReport, result: CheckResult) -> int:
    exercises = list(dict.fromkeys(r.exercise for r in report.checks))
    return exercises.index(result.exercise)


def _timing_line(report: GradeReport) -> str:
    parts = [f"{name} {seconds:.2f} s" for name, seconds in report.timings.items()]
    return "  time: " + ", ".join(parts)
