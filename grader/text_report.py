"""The short, readable summary `grade FILE` prints on the terminal.

Ids, names, messages and the file name may come from the student: the whole text is passed
through `textsafe.visible`, so no escape sequence, carriage return or bidi override reaches
the terminal raw; the file name is one line (`textsafe.one_line`: a line break in it could
draw lines of the report). Each line the student's text is in stays under its own line,
indented deeper than any line of the report's it could pass for, and on a terminal no line is
longer than the terminal is wide: a longer one is folded here, under itself, never by the terminal,
whose next row would start at the left edge with whatever the student put there (an exercise's
"  ✓ conv_params   9 / 9").
"""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass
from itertools import groupby

from .model import CheckResult, GradeReport, hint_lines
from .textsafe import one_line, visible

MARKS = {"passed": "✓", "failed": "✗", "error": "!", "timeout": "⏱", "skipped": "·"}


def _points(value: float) -> str:
    return f"{value:g}"


@dataclass(frozen=True)
class Points:
    """A report's points as a student reads them: those that ran, and the hidden ones still to
    run at grading time (a self-check's score is not a failing grade)."""

    score: float
    ran_max: float
    waiting_checks: int
    waiting_points: float

    @classmethod
    def of(cls, report: GradeReport) -> Points:
        waiting = [c for c in report.checks if c.status == "skipped"]
        ran_max = sum(c.max_points for c in report.checks if c.status != "skipped")
        return cls(report.score, ran_max, len(waiting), sum(c.max_points for c in waiting))

    def line(self) -> str:
        """"21 / 21 public points · 35 hidden points at grading time", or "score 40 / 46"."""
        if not self.waiting_checks:
            return f"score {_points(self.score)} / {_points(self.ran_max)}"
        hidden = f"{_points(self.waiting_points)} hidden point{'s' * (self.waiting_points != 1)}"
        return f"{_points(self.score)} / {_points(self.ran_max)} public points · {hidden} at grading time"


def messages_hinting_once(results: list[CheckResult]) -> dict[str, str]:
    """Each check's student message, where a hint already shown under an earlier check of the
    same exercise is not repeated (it says "same hint as above" instead)."""
    shown: set[tuple[str, ...]] = set()
    messages = {}
    for result in results:
        message = result.student_message
        lines = hint_lines(result.hints)
        if result.hints and result.hints in shown and message.endswith("\n".join(lines)):
            message = message[: len(message) - len("\n".join(lines))] + "hint: the same as above"
        shown.add(result.hints)
        messages[result.id] = message
    return messages


def _exercise_line(exercise: str, results: list[CheckResult]) -> str:
    ran = [r for r in results if r.status != "skipped"]
    got = sum(r.points for r in ran)
    out_of = sum(r.max_points for r in ran)
    mark = "✓" if ran and all(r.status == "passed" for r in ran) else ("✗" if ran else "·")
    skipped = len(results) - len(ran)
    hidden = f"  (+{skipped} hidden, run at grading time)" if skipped else ""
    return f"  {mark} {exercise:<28} {_points(got):>5} / {_points(out_of)}{hidden}"


def _failure_lines(result: CheckResult, message: str) -> list[str]:
    label = "hidden check " if result.hidden else ""
    lines = [f"      {MARKS[result.status]} {label}{result.id} ({result.status})"]
    lines += [f"          {line}" for line in visible(message).splitlines()]
    return lines


def _under(marker: str, message: str) -> list[str]:
    """`message` after its marker, each further line indented under it by four spaces exactly (its own
    leading spaces dropped): never at an exercise's or a check's indentation, where it could pass for one."""
    first, *rest = visible(message).splitlines() or [""]
    return [marker + first] + [f"    {line.lstrip()}" for line in rest]


def render(report: GradeReport, verbose: bool = False, width: int = 0) -> str:
    """The report as text: a line per exercise, and what went wrong under each failure. Lines longer
    than `width` columns (0: none; a terminal's: `terminal_width()`) are folded under themselves."""
    title = f"{one_line(report.assignment)} · {one_line(report.submission)}"
    lines = [f"{title}   {Points.of(report).line()}"]
    if report.status == "error":
        lines += _under("  nothing could be graded: ", report.message)
    elif report.message:  # the cause first: a broken cell explains the checks that fail below
        lines += _under("  ! ", report.message)
    by_exercise = groupby(sorted(report.checks, key=lambda r: _order(report, r)), key=lambda r: r.exercise)
    for exercise, group in by_exercise:
        results = list(group)
        lines.append(_exercise_line(exercise, results))
        messages = messages_hinting_once(results)
        for result in results:
            if result.status not in ("passed", "skipped"):
                lines += _failure_lines(result, messages[result.id])
    if verbose:
        lines.append(_timing_line(report))
    if "NOT ISOLATED" in report.sandbox:  # a fallback is said every time, not only with --verbose
        lines.append(f"  warning: sandbox {report.sandbox}")
    passed = sum(r.status == "passed" for r in report.checks)
    ran = sum(r.status != "skipped" for r in report.checks)
    lines.append(f"{passed} of {ran} checks passed" + (f" (sandbox: {report.sandbox})" if verbose else ""))
    return fold(visible("\n".join(lines)), width)


def terminal_width() -> int:
    """The columns of the terminal the standard output is, or 0 when it is none (a file, a pipe)."""
    try:
        if not sys.stdout.isatty():
            return 0
    except (AttributeError, ValueError):  # replaced, or closed
        return 0
    return shutil.get_terminal_size().columns


TAB_COLUMNS = 8
HANG = 4  # a folded line's further rows: this much deeper than the line itself


def columns(text: str) -> int:
    """At least as many columns as a terminal gives `text`: an ASCII character one, a tab its
    most, any other character two (wide, ambiguous and emoji alike; a combining mark, nothing in
    truth)."""
    return sum(1 if " " <= c <= "~" else TAB_COLUMNS if c == "\t" else 2 for c in text)


def fold(text: str, width: int) -> str:
    """Each line of `text` in rows shorter than `width` columns (0: as it is): a longer line is
    broken (at a space where one is near) and its further rows are indented HANG spaces deeper than
    it, so that no row starts where a line of the report could."""
    if width <= 0:
        return text
    limit = max(width - 1, 2)  # a row that fills the terminal's last column may wrap early on some
    rows: list[str] = []
    for line in text.split("\n"):
        indent = " " * min(len(line) - len(line.lstrip(" ")) + HANG, limit // 2)
        head, rest, room = "", line, limit
        while columns(rest) > room:
            cut = _cut(rest, room)
            rows.append(head + rest[:cut].rstrip(" "))
            head, rest, room = indent, rest[cut:].lstrip(" "), limit - len(indent)
        if rest or not head:
            rows.append(head + rest)
    return "\n".join(rows)


def _cut(text: str, room: int) -> int:
    """Where to break `text` so that its first part takes at most `room` columns (at least one
    character): after the last space of that part when it is in its second half."""
    used = end = 0
    while end < len(text) and used + columns(text[end]) <= room:
        used += columns(text[end])
        end += 1
    space = text.rfind(" ", 0, end + 1)
    return space + 1 if space > end // 2 else max(end, 1)


def _order(report: GradeReport, result: CheckResult) -> int:
    exercises = list(dict.fromkeys(r.exercise for r in report.checks))
    return exercises.index(result.exercise)


def _timing_line(report: GradeReport) -> str:
    parts = [f"{name} {seconds:.2f} s" for name, seconds in report.timings.items()]
    return "  time: " + ", ".join(parts)
