"""The course gradebook: a term of three assignments graded into one database, then a check
fixed and the batch rerun (overrides survive, the late student alone is penalised, `grade
changes` names exactly who moved, Canvas and Moodle files as they import them); a batch killed
by SIGKILL and rerun records every grading once; penalties and overrides as plain functions.

The test course (tmp_path/course, COURSEGRADE_ROOT) holds copies of conv-arithmetic (its
`stride` check first expecting floor's answer, 2, then fixed to 3), conv-pooling, and
conv-arithmetic again as a third assignment, `conv-quiz`; no reference/, so public checks only.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

from grader.course import Override, StudentTerms, Terms, adjust, apply_overrides, late_penalty
from grader.model import CheckResult, GradeReport

from .conftest import ROOT, SUBMISSIONS

ARITHMETIC = SUBMISSIONS / "conv-arithmetic"
POOLING = SUBMISSIONS / "conv-pooling"
DEADLINE = datetime(2026, 3, 1, 23, 59)
POOLING_TITLE = "Convolution, cross-correlation and pooling by hand"
BUGGY, FIXED = "stride=2, expect=2,", "stride=2, expect=3,"
ROSTER = """Student,ID,SIS User ID,SIS Login ID,Section,Email
"Adams, Alice",101,S001,alice,DNN A,alice@uni.example
"Brown, Bob",102,S002,bob,DNN A,bob@uni.example
"Clark, Carol",103,S003,carol,DNN B,carol@uni.example
"Doe, Dan",104,S004,dan,DNN B,dan@uni.example
"Evans, Erin",105,S005,erin,DNN A,erin@uni.example
"Ford, Frank",106,S006,frank,DNN B,frank@uni.example
"""
COURSE_TOML = """
[assignments.conv-arithmetic]
deadline = 2026-03-01T23:59:00
late = "per-day"
percent_per_day = 10
cap = 50
cutoff = 2026-03-08T23:59:00
canvas = "Conv arithmetic (1234)"

[assignments.conv-pooling]
deadline = 2026-03-15T23:59:00
late = "zero"

[extensions]
S003 = { conv-arithmetic = 2026-03-05T23:59:00 }
"""


# ---------------------------------------------------------------- plain functions


def _checks() -> tuple[CheckResult, ...]:
    return (CheckResult("f/a", "f", "passed", 1.0, 1.0, False), CheckResult("f/b", "f", "failed", 0.0, 2.0, False),
            CheckResult("g/a", "g", "passed", 3.0, 3.0, False))


def test_late_penalty_per_day_started_capped_and_cutoff() -> None:
    terms = Terms(DEADLINE, "per-day", 10, 30, datetime(2026, 3, 8, 23, 59))
    assert late_penalty(terms, datetime(2026, 3, 1, 23, 0)) is None
    one = late_penalty(terms, datetime(2026, 3, 2, 0, 30))
    assert one is not None and one.percent == 10 and "1 day started" in one.reason
    assert late_penalty(terms, datetime(2026, 3, 3, 1, 0)).percent == 20  # type: ignore[union-attr]
    capped = late_penalty(terms, datetime(2026, 3, 7, 1, 0))
    assert capped is not None and capped.percent == 30 and "capped" in capped.reason
    after = late_penalty(terms, datetime(2026, 3, 9, 0, 0))
    assert after is not None and after.percent == 100 and "cutoff" in after.reason
    assert late_penalty(Terms(DEADLINE, "zero"), datetime(2026, 3, 2)).percent == 100  # type: ignore[union-attr]
    assert late_penalty(terms.extended(datetime(2026, 3, 4, 23, 59)), datetime(2026, 3, 3)) is None


def test_overrides_replace_a_check_or_an_exercise_total_then_the_penalty_applies() -> None:
    score, applied = apply_overrides(_checks(), [Override("f/b", "check", 2.0, "rubric")])
    assert score == 6.0 and applied[0].was == 0.0 and applied[0].now == 2.0
    score, _ = apply_overrides(_checks(), [Override("f", "exercise", 0.5, "copied"), Override("nope", "check", 9, "")])
    assert score == 3.5
    report = GradeReport("a", "x.py", "graded", 4.0, 6.0, _checks())
    late = StudentTerms(Terms(DEADLINE, "per-day", 10), (Override("f/b", "check", 2.0, "rubric"),))
    scored = adjust(report, datetime(2026, 3, 3, 12, 0), late)
    assert (scored.graded, scored.adjusted, scored.penalty_points, scored.final) == (4.0, 6.0, 1.2, 4.8)
    assert "rubric" in scored.reasons() and "−20 %" in scored.reasons()
    assert adjust(report, datetime(2026, 3, 1), StudentTerms()).final == 4.0


# ---------------------------------------------------------------- the test course


def make_course(where: Path) -> Path:
    course = where / "course"
    for name, source in (("conv-arithmetic", "conv-arithmetic"), ("conv-pooling", "conv-pooling"),
                         ("conv-quiz", "conv-arithmetic")):
        shutil.copytree(ROOT / "assignments" / source, course / "assignments" / name)
    checks = course / "assignments" / "conv-arithmetic" / "checks.py"
    assert FIXED in checks.read_text()
    checks.write_text(checks.read_text().replace(FIXED, BUGGY))
    quiz = course / "assignments" / "conv-quiz" / "checks.py"
    quiz.write_text(quiz.read_text().replace('TITLE = "Counting parameters and output sizes"', 'TITLE = "Conv quiz"'))
    (course / "course.toml").write_text(COURSE_TOML)
    (course / "roster.csv").write_text(ROSTER)
    return course


def submissions(folder: Path, files: dict[str, Path], late: dict[str, float] | None = None) -> Path:
    """A plain export: STUDENT.py each, dated a day before the deadline (or `late` hours after)."""
    folder.mkdir(parents=True)
    for student, source in files.items():
        shutil.copy(source, folder / f"{student}.py")
        hours = (late or {}).get(student, -24.0)
        stamp = DEADLINE.timestamp() + hours * 3600
        os.utime(folder / f"{student}.py", (stamp, stamp))
    return folder


def grade(course: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "grader", *args], cwd=course, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "COURSEGRADE_ROOT": str(course)})


def batch(course: Path, folder: Path, assignment: str) -> subprocess.CompletedProcess[str]:
    return grade(course, "batch", str(folder), "-a", assignment, "--roster", str(course / "roster.csv"), "-j", "2")


def book(course: Path, assignment: str) -> dict[str, dict[str, str]]:
    with open(course / "reports" / assignment / "gradebook.csv", newline="", encoding="utf-8") as f:
        return {row["student"]: row for row in csv.DictReader(f)}


def read_csv(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def current_finals(db: Path, assignment: str) -> dict[str, float | None]:
    with sqlite3.connect(db) as connection:
        rows = connection.execute(
            "select s.key, g.final from gradings g join students s on s.id = g.student_id "
            "join assignments a on a.id = g.assignment_id where a.name = ? and g.current", (assignment,)).fetchall()
    return dict(rows)


def test_a_term_graded_overridden_penalised_regraded_and_exported(tmp_path: Path) -> None:
    course = make_course(tmp_path)
    hw1 = submissions(tmp_path / "hw1", {"alice": ARITHMETIC / "correct_module.py", "bob": ARITHMETIC /
                                         "floor_not_ceil.py", "carol": ARITHMETIC / "bias_forgotten.py",
                                         "dan": ARITHMETIC / "correct_module.py",
                                         "erin": ROOT / "tests" / "batch_samples" / "empty.py"},
                      late={"carol": 50.0, "dan": 26.0})  # carol has an extension; dan: 2 days started
    hw2 = submissions(tmp_path / "hw2", {"alice": POOLING / "correct_loops.py",
                                         "bob": POOLING / "kernel_not_flipped.py"})
    quiz = submissions(tmp_path / "quiz", {"alice": ARITHMETIC / "correct_module.py",
                                           "carol": ARITHMETIC / "field_not_squared.py"})
    for folder, name in ((hw1, "conv-arithmetic"), (hw2, "conv-pooling"), (quiz, "conv-quiz")):
        done = batch(course, folder, name)
        assert done.returncode in (0, 1) and "course database:" in done.stdout, done.stderr + done.stdout
    db = course / "reports" / "course.sqlite"
    first = book(course, "conv-arithmetic")
    top = float(first["alice"]["max_score"])  # hidden checks included (listed, not run here)
    alice = json.loads((course / "reports" / "conv-arithmetic" / "results" / "alice.json").read_text())
    full = sum(c["max_points"] for c in alice["checks"] if c["status"] != "skipped")
    assert float(first["alice"]["total"]) == full - 1  # the buggy check fails the correct answer
    assert first["dan"]["late_penalty"] and "2 days started" in first["dan"]["note"]
    assert [s for s, r in first.items() if r["late_penalty"]] == ["dan"]  # carol is late within her extension
    assert float(first["dan"]["final"]) == round((full - 1) * 0.8, 6)

    # an override by the SIS id, one from a CSV by email; both listed
    done = grade(course, "override", "S001", "conv-arithmetic", "conv_output_size/stride", "1",
                 "--reason", "the check expected floor's answer")
    assert done.returncode == 0 and f"score {full - 1:g} → {full:g}" in done.stdout, done.stderr + done.stdout
    (tmp_path / "overrides.csv").write_text("student,assignment,target,points,reason\n"
                                            "carol@uni.example,conv-quiz,locally_connected_params,1,oral exam\n")
    assert grade(course, "override", "--from-csv", str(tmp_path / "overrides.csv")).returncode == 0
    listed = grade(course, "override", "--list").stdout
    assert "alice  conv-arithmetic  conv_output_size/stride (check) → 1" in listed and "oral exam" in listed
    assert grade(course, "override", "nobody", "conv-arithmetic", "x", "1", "--reason", "r").returncode == 2

    # the check is fixed, the batch rerun
    checks = course / "assignments" / "conv-arithmetic" / "checks.py"
    checks.write_text(checks.read_text().replace(BUGGY, FIXED))
    done = batch(course, hw1, "conv-arithmetic")
    assert "5 graded now" in done.stdout, done.stderr + done.stdout
    after = book(course, "conv-arithmetic")
    assert float(after["alice"]["final"]) == full and after["alice"]["adjustment"] == "0"  # held at 1, now earned
    assert float(after["bob"]["total"]) == float(first["bob"]["total"]) - 1
    assert float(after["carol"]["final"]) == float(first["carol"]["final"]) + 1
    assert float(after["dan"]["final"]) == round(full * 0.8, 6) and after["dan"]["late_penalty"]
    assert [s for s, r in after.items() if r["late_penalty"]] == ["dan"]
    report = (course / "reports" / "conv-arithmetic" / "reports" / "alice.html").read_text()
    assert "instructor's adjustment" in report and "the check expected floor&#39;s answer" in report
    assert 'id="penalty"' in (course / "reports" / "conv-arithmetic" / "reports" / "dan.html").read_text()
    assert 'id="penalty"' not in (course / "reports" / "conv-arithmetic" / "reports" / "carol.html").read_text()
    assert current_finals(db, "conv-arithmetic") == {s: float(r["final"]) if r["final"] else None
                                                     for s, r in after.items() if r["status"] != "missing"}

    moved = grade(course, "changes", "conv-arithmetic").stdout.splitlines()
    assert sorted(line.split(" ")[0] for line in moved[:-1]) == ["bob", "carol", "dan"], moved
    assert "conv_output_size/stride: passed 1 → failed 0" in next(line for line in moved if line.startswith("bob"))
    assert moved[-1] == "3 students moved in the latest regrade of conv-arithmetic"

    # exports, from the course folder's default database
    assert grade(course, "export", "--format", "canvas", "-o", str(tmp_path / "canvas.csv")).returncode == 0
    rows = read_csv(tmp_path / "canvas.csv")
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Conv arithmetic (1234)",
                       POOLING_TITLE, "Conv quiz"]
    assert rows[1][0].strip() == "Points Possible" and rows[1][5] == f"{top:.2f}"
    by_name = {r[0]: r for r in rows[2:]}
    assert by_name["Adams, Alice"][:6] == ["Adams, Alice", "101", "S001", "alice", "DNN A", f"{full:g}"]
    assert by_name["Doe, Dan"][5] == f"{full * 0.8:g}" and by_name["Doe, Dan"][6:] == ["", ""]
    assert by_name["Ford, Frank"][5:] == ["", "", ""]  # no grade: empty, not 0
    carol_quiz = float(book(course, "conv-quiz")["carol"]["total"])  # graded before her override
    assert by_name["Evans, Erin"][5] == "0" and by_name["Clark, Carol"][7] == f"{carol_quiz + 1:g}"
    done = grade(course, "export", "--format", "moodle", "-a", "conv-arithmetic", "-o", str(tmp_path / "m.csv"))
    assert done.returncode == 0, done.stderr
    rows = read_csv(tmp_path / "m.csv")
    assert rows[0] == ["Identifier", "Full name", "Email address", "Status", "Grade", "Maximum Grade",
                       "Grade can be changed", "Last modified (submission)", "Last modified (grade)",
                       "Feedback comments"]
    moodle = {r[1]: r for r in rows[1:]}
    assert moodle["Adams, Alice"][:7] == ["Participant 101", "Adams, Alice", "alice@uni.example",
                                         "Submitted for grading", f"{full:.2f}", f"{top:.2f}", "Yes"]
    assert moodle["Ford, Frank"][3:5] == ["No submission", ""]
    assert grade(course, "export", "--format", "moodle", "-o", str(tmp_path / "x.csv")).returncode == 2

    lines = grade(course, "history", "alice@uni.example").stdout
    assert lines.count("conv-arithmetic  graded") == 2 and "override conv_output_size/stride → 1" in lines
    assert "conv-pooling  graded" in lines and "conv-quiz  graded" in lines

    # the next batch of the quiz shows carol's override in her files: only she is redone
    done = batch(course, quiz, "conv-quiz")
    assert "1 graded now, 1 unchanged" in done.stdout and "0 scores moved" in done.stdout, done.stdout
    assert book(course, "conv-quiz")["carol"]["final"] == f"{carol_quiz + 1:g}"
    assert current_finals(db, "conv-quiz") == {"alice": full, "carol": carol_quiz + 1}


def test_a_batch_killed_mid_way_and_rerun_counts_every_grading_once(tmp_path: Path) -> None:
    course = make_course(tmp_path)
    names = ["correct_module", "floor_not_ceil", "bias_forgotten", "padding_once", "pool_stride_one", "fc_with_bias",
             "field_not_squared", "shared_channels_forgotten"]
    folder = submissions(tmp_path / "hw", {f"s{i}": ARITHMETIC / f"{n}.py" for i, n in enumerate(names[:3])})
    assert grade(course, "batch", str(folder), "-a", "conv-arithmetic", "-j", "2").returncode == 0  # three recorded
    for i, name in enumerate(names[3:], start=3):
        shutil.copy(ARITHMETIC / f"{name}.py", folder / f"s{i}.py")
        os.utime(folder / f"s{i}.py", ns=((folder / "s0.py").stat().st_mtime_ns,) * 2)
    checks = course / "assignments" / "conv-arithmetic" / "checks.py"
    checks.write_text(checks.read_text().replace(BUGGY, FIXED))  # all eight to grade
    output = course / "reports" / "conv-arithmetic"
    before = {p.name: p.stat().st_mtime_ns for p in (output / "details").iterdir()}
    process = subprocess.Popen([sys.executable, "-m", "grader", "batch", str(folder), "-a", "conv-arithmetic",
                                "-j", "2"], cwd=course, env={**os.environ, "COURSEGRADE_ROOT": str(course)},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and process.poll() is None:
        fresh = [p for p in (output / "details").iterdir() if before.get(p.name) != p.stat().st_mtime_ns]
        if len(fresh) >= 2:
            break
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    killed_mid_way = len([p for p in (output / "details").iterdir() if before.get(p.name) != p.stat().st_mtime_ns])
    done = grade(course, "batch", str(folder), "-a", "conv-arithmetic", "-j", "2")
    assert done.returncode == 0, done.stderr + done.stdout
    assert grade(course, "batch", str(folder), "-a", "conv-arithmetic").stdout.count("0 gradings recorded") == 1
    db = course / "reports" / "course.sqlite"
    with sqlite3.connect(db) as connection:
        keys = connection.execute("select s.key, g.key, g.current from gradings g join students s "
                                  "on s.id = g.student_id").fetchall()
        changes = connection.execute("select count(*) from score_changes").fetchone()[0]
    assert len(keys) == len(set(keys)) == 3 + 8  # three before the fix, eight after: none twice
    for student in (f"s{i}" for i in range(8)):
        details = json.loads((output / "details" / f"{student}.json").read_text())
        result = json.loads((output / "results" / f"{student}.json").read_text())
        assert [k for s, k, current in keys if s == student and current] == [details["key"]]
        assert current_finals(db, "conv-arithmetic")[student] == result["score"] == details["adjusted"]["final"]
    assert changes == 8 + 3  # each student's first score, and the three whose stride check moved
    assert 2 <= killed_mid_way < 8  # killed mid-way: the rerun graded the rest


def test_a_student_whose_id_was_made_safe_keeps_their_extension_and_lms_id(tmp_path: Path) -> None:
    """Gina's login, "g+h", is not a safe file name: her id is "g_h". The roster student her file
    was matched to carries her extension (given under her SIS id) and her LMS id into the course
    database, whatever her id became (they were looked up again by the id, and lost)."""
    from grader.course import Course
    from grader.course_book import _student_rows, batch_terms
    from grader.course_db import open_db, session
    from grader.intake import read_export
    from grader.roster import read_roster

    roster = tmp_path / "roster.csv"
    roster.write_text("Student,ID,SIS User ID,SIS Login ID,Section,Email\n"
                      '"Hill, Gina",107,S007,g+h,DNN A,gina@uni.example\n')
    folder = submissions(tmp_path / "hw1", {"g+h": ARITHMETIC / "correct_module.py"})
    intake = read_export(folder, roster=read_roster(roster))
    assert intake.students == ["g_h"]
    extended = datetime(2026, 3, 5, 23, 59)
    course = Course({"conv-arithmetic": Terms(DEADLINE)}, {"S007": {"conv-arithmetic": extended}})
    engine = open_db(f"sqlite:///{tmp_path / 'course.db'}")
    assert batch_terms(engine, course, "conv-arithmetic", intake)["g_h"].terms.deadline == extended
    with session(engine) as db, db.begin():
        gina = _student_rows(db, intake)["g_h"]
        assert (gina.lms_id, gina.sis_id, gina.email) == ("107", "S007", "gina@uni.example")
