"""The class's tables from literal reports: gradebook, pass rates, common failures, histogram."""

from __future__ import annotations

from pathlib import Path

from grader.gradebook import (
    book_rows,
    check_table,
    common_failures,
    exercise_table,
    gradebook_csv,
    histogram,
    pass_rates,
)
from grader.intake import Absent, Entry, Intake, SubmittedFile

from .test_html_report import _report


def test_class_tables_from_literals() -> None:
    results = {"a": _report(), "b": _report(score=6.0)}
    checks = check_table(results)
    rates = {r["id"]: r for r in pass_rates(checks)}
    assert rates["f/one"]["rate"] == 100 and rates["f/two"]["passed"] == 0 and "g/later" not in rates
    top = common_failures(checks)
    assert top[0]["count"] == 2 and top[0]["students"] == ["a", "b"] and top[0]["ids"] == ["f/two"]
    bins = histogram([0.0, 3.0, 6.0, 6.0], 6.0, bins=3)
    assert [b["count"] for b in bins] == [1, 1, 2]
    exercises = {e["name"]: e for e in exercise_table(checks, ["f", "g"])}
    assert exercises["f"]["mean"] == "1.0" and exercises["f"]["max_points"] == "3" and exercises["f"]["full"] == 0


class _Spec:
    """What book_rows needs of an assignment."""

    exercises = ("f", "g")
    max_score = 6.0


def _entry(student: str, name: str = "") -> Entry:
    return Entry(student, (SubmittedFile(Path(f"{student}.py"), f"{student}.py"),), name=name)


def test_gradebook_rows_leave_ungraded_students_empty_and_cells_safe() -> None:
    from grader.model import GradeReport

    broken = GradeReport("x", "c.py", "error", 0.0, 6.0, (), "not a Jupyter notebook")
    results = {"a": _report(), "=cmd": _report(score=6.0), "c": broken}
    intake = Intake("plain", (_entry("a", "Ann"), _entry("=cmd", "@SUM(A1)"), _entry("c"), _entry("gone")),
                    missing=(Absent("zoe", "Zoë Ng"),))
    rows = {r.student: r for r in book_rows(intake, results, _Spec())}  # type: ignore[arg-type]
    assert rows["a"].points == {"f": 1.0, "g": 0.0} and rows["a"].total == 1.0
    assert rows["c"].points == {} and rows["c"].total is None and rows["c"].note == "not a Jupyter notebook"
    assert rows["gone"].status == "unsaved" and rows["zoe"].status == "missing"
    lines = gradebook_csv(list(rows.values()), ["f", "g"]).splitlines()
    assert lines[0] == "student,name,f,g,total,adjustment,late_penalty,final,max_score,status,note"
    assert lines[1] == "a,Ann,1,0,1,,,1,6,graded,"
    assert lines[2].startswith("'=cmd,'@SUM(A1),")
    assert lines[3] == "c,,,,,,,,6,error,not a Jupyter notebook"
    assert lines[5] == "zoe,Zoë Ng,,,,,,,6,missing,no submission in the export"
