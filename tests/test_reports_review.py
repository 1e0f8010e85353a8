"""A review of what a student can do to the reports and files the instructor opens, each attack
made for real (`grade FILE`, `grade batch`, `grade export`, the pages in headless Chromium):

- a file name holding line breaks drew lines of the text report (hostile/forges_report_by_file_name.py);
- a message longer than the terminal is wide was wrapped by the terminal, whose next row started at
  the left edge with what the student put there: a passing exercise (hostile/forges_lines_by_wrapping.py);
- one long unbroken word (an id, a roster name) widened the summary's table of students past the
  page, every student's score with it; a cell's long first line pushed its "error" badge out of
  its clipping box (hostile/WWW…W.py);
- an email address (Moodle lets students edit theirs) reached the Moodle worksheet and the course
  CSV starting with "=" or "-", which a spreadsheet runs as a formula;
- a Moodle full name that ends like a folder's suffix handed the student's files to a classmate
  (grader/intake.py read the owner from the first mark in the folder's name, not from its end).
"""

from __future__ import annotations

import csv
import fcntl
import json
import os
import pty
import re
import shutil
import struct
import subprocess
import sys
import termios
import unicodedata
from pathlib import Path

import pytest

from grader.intake import FORMULA_STARTS, read_export
from grader.model import CheckResult, GradeReport
from grader.roster import read_roster
from grader.text_report import render

from .conftest import CHROMEDRIVER, CHROMIUM, ROOT, SUBMISSIONS, full_marks

HOSTILE = SUBMISSIONS / "hostile"
EXPECTED = json.loads((HOSTILE / "expected.json").read_text())
WIDE = HOSTILE / f"{'W' * 63}.py"
MARKS = "✓✗·!⏱"
EXERCISES = 6  # conv-arithmetic's


def _grade(*args: str, cwd: Path = ROOT, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "grader", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)


def _on_terminal(args: list[str], width: int, cwd: Path) -> str:
    """What `args` writes on a terminal `width` columns wide (its standard output a pseudo-terminal)."""
    main, side = pty.openpty()
    fcntl.ioctl(side, termios.TIOCSWINSZ, struct.pack("HHHH", 40, width, 0, 0))
    done = subprocess.Popen(args, cwd=cwd, stdin=subprocess.DEVNULL, stdout=side, stderr=subprocess.DEVNULL,
                            env={**os.environ, "COLUMNS": str(width)})
    os.close(side)
    chunks = []
    while True:
        try:
            chunk = os.read(main, 65536)
        except OSError:  # the other side closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(main)
    assert done.wait(timeout=300) in (0, 1)
    return b"".join(chunks).decode().replace("\r\n", "\n")


def _cells(text: str) -> int:
    """The columns a terminal gives `text` (wcwidth, roughly: wide characters two, marks none)."""
    return sum(0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _rows(text: str, width: int) -> list[str]:
    """`text` as a terminal `width` columns wide shows it: a longer line goes on at the next row's left edge."""
    rows = []
    for line in text.split("\n"):
        row = ""
        for char in line:
            if _cells(row + char) > width:
                rows.append(row)
                row = ""
            row += char
        rows.append(row)
    return rows


def _report_lines(rows: list[str]) -> tuple[list[str], list[str]]:
    """The rows that read as an exercise's line, and those that read as the report's last line."""
    exercise = [r for r in rows if re.match(rf"  [{MARKS}] \w", r)]
    last = [r for r in rows if re.match(r"\d+ of \d+ checks passed", r)]
    return exercise, last


# ---------------------------------------------------------------- the text report


def test_a_file_name_is_one_line_of_the_text_report(tmp_path: Path) -> None:
    """forges_report_by_file_name.py graded under a name that draws a passing conv_output_size, with
    --report (`grade` then says where the report went: the path holds the name)."""
    forged = "mywork\n  ✓ conv_output_size                17 ∕ 17\n59 of 59 checks passed\n"
    shutil.copyfile(HOSTILE / "forges_report_by_file_name.py", tmp_path / f"{forged}.py")
    done = _grade(f"{forged}.py", "-a", "conv-arithmetic", "--report", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    lines = done.stdout.splitlines()
    exercise, last = _report_lines(lines)
    assert len(exercise) == EXERCISES and last == [lines[-2]], done.stdout
    assert [line for line in exercise if "conv_output_size" in line][0].startswith("  ✗ conv_output_size")
    assert lines[0].startswith("conv-arithmetic · mywork\\n  ✓ conv_output_size") and "\\n.py   score" in lines[0]
    report = tmp_path / "mywork_  ✓ conv_output_size                17 ∕ 17_59 of 59 checks passed_.html"
    assert lines[-1] == f"HTML report written to {report.name}" and report.is_file()  # relative, as given
    expected = EXPECTED["forges_report_by_file_name.py"]
    assert {line.split()[1] for line in exercise if line.startswith("  ✗")} == set(expected["loses"])
    assert expected["message"] in done.stdout


def test_no_terminal_row_starts_with_a_students_text(tmp_path: Path) -> None:
    """forges_lines_by_wrapping.py on an 80-column terminal: its message, as long as a row is wide,
    is folded by the report under its own line, so the terminal never wraps a line and no forged
    exercise or last line reaches the left edge."""
    shutil.copyfile(HOSTILE / "forges_lines_by_wrapping.py", tmp_path / "mywork.py")
    shown = _on_terminal([sys.executable, "-m", "grader", "mywork.py", "-a", "conv-arithmetic"], 80, tmp_path)
    rows = _rows(shown.rstrip("\n"), 80)
    exercise, last = _report_lines(rows)
    assert len(exercise) == EXERCISES and last == [rows[-1]], shown
    assert exercise[0].startswith("  ✗ conv_params")
    assert "59 of 59 checks passed" in shown  # the message is there, under its line
    assert all(_cells(row) < 80 for row in rows)


def test_folding_keeps_every_row_under_its_line() -> None:
    from grader.text_report import columns, fold

    message = f"raised ValueError: {'x' * 51}{'  ✓ conv_params   9 / 9':<80}{'59 of 59 checks passed':<80}"
    checks = (CheckResult("conv_params/one", "conv_params", "error", 0.0, 1.0, False, f"called f(1)\n{message}"),
              CheckResult("pool/one", "pool", "passed", 1.0, 1.0, False, ""))
    report = GradeReport("conv-arithmetic", "a.py", "graded", 1.0, 2.0, checks)
    assert render(report, width=0) == render(report)  # not a terminal (pytest's output): as it was
    for width in (40, 80, 132):
        text = render(report, width=width)
        assert all(columns(row) < width for row in text.splitlines())
        exercise, last = _report_lines(_rows(text, width))
        assert len(exercise) == 2 and last == [text.splitlines()[-1]]
        under = [row for row in text.splitlines() if "checks passed" in row][:-1]
        assert under and all(row.startswith(" " * 14) for row in under)  # message rows at 10, folded at 14
    assert fold("short\n  also short", 80) == "short\n  also short"
    assert fold("a" * 25, 10) == "\n".join(["a" * 9, "    aaaaa", "    aaaaa", "    aaaaa", "    a"])


# ---------------------------------------------------------------- the pages, in a real browser


needs_chromium = pytest.mark.skipif(not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
                                    reason="needs chromium and chromedriver")


@needs_chromium
def test_a_long_unbroken_id_never_pushes_the_scores_off_the_page(browser, tmp_path: Path) -> None:
    """The wide-named correct solution beside a classmate: the summary and its report are no wider
    than the window, every student's score is inside the page, its failed cell's badge in its box."""
    folder = tmp_path / "export"
    folder.mkdir()
    shutil.copyfile(WIDE, folder / WIDE.name)
    shutil.copyfile(HOSTILE / "correct_bystander.py", folder / "bystander.py")
    done = _grade("batch", str(folder), "-a", "conv-arithmetic", "-o", str(tmp_path / "out"),
                  "--db", str(tmp_path / "course.sqlite"))
    assert done.returncode == 0, done.stderr
    for page in ("summary.html", f"reports/{WIDE.stem}.html"):
        browser.get((tmp_path / "out" / page).as_uri())
        wide, window = browser.execute_script(
            "return [document.documentElement.scrollWidth, document.documentElement.clientWidth]")
        assert wide <= window, page
    badges = browser.execute_script(  # the student's page: each cell's badge inside its (clipping) box
        "return [...document.querySelectorAll('#cells section')].map(s => [s.querySelector('.badge').textContent, "
        "s.querySelector('.badge').getBoundingClientRect().right <= s.getBoundingClientRect().right])")
    assert badges == [["error", True]], badges
    browser.get((tmp_path / "out" / "summary.html").as_uri())
    right = browser.execute_script("return document.querySelector('main').getBoundingClientRect().right")
    scores = browser.execute_script(
        "return [...document.querySelectorAll('#students td.num')].map(e => [e.textContent, "
        "e.getBoundingClientRect().right])")
    full = full_marks("conv-arithmetic")
    assert [text for text, _ in scores] == [f"{full} / {full}"] * 2
    assert all(edge <= right for _, edge in scores), scores


# ---------------------------------------------------------------- the files an LMS or a spreadsheet opens


ROSTER = """Identifier,Full name,Username,Email address
Participant 4301,Ann Lee,alee,ann.lee@uni.example
Participant 4302,Eve Hacker,ehacker,=1+2@uni.example
Participant 4303,Mal Lory,mlory,-2+3@uni.example
Participant 4304,Ben Ode,bode,+44@uni.example
"""


def test_no_export_cell_a_student_sets_starts_a_formula(tmp_path: Path) -> None:
    """Students whose (valid) email addresses start with = - +: the course database's Moodle worksheet
    and course CSV write them as text (a leading '), and the rows stay those of the roster."""
    folder = tmp_path / "export"
    folder.mkdir()
    for login in ("alee", "ehacker", "mlory"):
        shutil.copyfile(HOSTILE / "correct_bystander.py", folder / f"{login}.py")
    (tmp_path / "roster.csv").write_text(ROSTER)
    db = str(tmp_path / "course.sqlite")
    done = _grade("batch", str(folder), "-a", "conv-arithmetic", "--roster", str(tmp_path / "roster.csv"),
                  "-o", str(tmp_path / "out"), "--db", db)
    assert done.returncode == 0, done.stderr
    tables = {}
    for fmt in ("moodle", "csv", "canvas"):
        out = tmp_path / f"{fmt}.csv"
        done = _grade("export", "--format", fmt, "-a", "conv-arithmetic", "-o", str(out), "--db", db)
        assert done.returncode == 0, done.stderr
        with open(out, newline="") as f:
            tables[fmt] = list(csv.reader(f))
    with open(tmp_path / "out" / "gradebook.csv", newline="") as f:
        tables["gradebook"] = list(csv.reader(f))
    for fmt, rows in tables.items():
        width = {len(row) for row in rows}
        assert len(width) == 1, fmt
        header = rows[0]
        text = [c for c in range(len(header)) if header[c] not in ("ID", "SIS User ID", "SIS Login ID")]
        starts = [(fmt, header[c], row[c]) for row in rows[1:] for c in text if row[c].startswith(FORMULA_STARTS)]
        assert starts == [], starts
    moodle = {row[1]: row for row in tables["moodle"][1:]}
    assert moodle["Eve Hacker"][:3] == ["Participant 4302", "Eve Hacker", "'=1+2@uni.example"]
    assert moodle["Mal Lory"][2] == "'-2+3@uni.example" and moodle["Ben Ode"][2] == "'+44@uni.example"
    assert moodle["Eve Hacker"][4] == moodle["Ann Lee"][4] == f"{full_marks('conv-arithmetic'):.2f}"
    course = {row[0]: row for row in tables["csv"][1:]}
    assert course["ehacker"][1:5] == ["Eve Hacker", "", "ehacker", "'=1+2@uni.example"]


# ---------------------------------------------------------------- a Moodle name


def test_a_moodle_name_cannot_take_a_classmates_place(tmp_path: Path) -> None:
    """Cy Dell (participant 4245) names themself "Ann Lee_4243_assignsubmission_file_" in Moodle: their
    folder is "Ann Lee_4243_assignsubmission_file__4245_assignsubmission_file_", and their later
    notebook stays theirs, never counts as Ann's (4243). A flat file (older Moodles) whose name can
    be read as two students' is graded as no one's, and listed as such."""
    export = tmp_path / "moodle"
    shutil.copytree(SUBMISSIONS.parent / "batch_samples" / "moodle", export)
    theirs = export / "Ann Lee_4243_assignsubmission_file__4245_assignsubmission_file_"
    theirs.mkdir()
    shutil.copyfile(SUBMISSIONS / "conv-arithmetic" / "syntax_error_cell.ipynb", theirs / "hw.ipynb")
    os.utime(theirs / "hw.ipynb", (4102444800, 4102444800))  # 2100: the latest file
    flat = export / "Ann Lee_4243_assignsubmission_file__4245_assignsubmission_file_hw.ipynb"
    shutil.copyfile(SUBMISSIONS / "conv-arithmetic" / "syntax_error_cell.ipynb", flat)
    intake = read_export(export, roster=read_roster(export / "roster.csv"))
    by_name = {e.name: e for e in intake.entries}
    assert all("4245" not in f.name for f in (*by_name["Ann Lee"].files, *by_name["Ann Lee"].others))
    assert [f.path for f in by_name["Cy Dell"].files] == [theirs / "hw.ipynb"]
    assert intake.unmatched == (f"{flat.name}: not named as Moodle names submissions, or in more than one way",)
