"""The class's tables from literal reports: gradebook, pass rates, common failures, histogram."""

from __future__ import annotations

from grader.gradebook import check_table, common_failures, exercise_table, gradebook, histogram, pass_rates

from .test_html_report import _report


def test_class_tables_from_literals() -> None:
    results = {"a": _report(), "b": _report(score=6.0)}
    book = gradebook(results, ["f", "g"])
    assert list(book.columns) == ["student", "f", "g", "total", "max_score", "status"]
    assert book["f"].tolist() == [1.0, 1.0] and book["total"].tolist() == [1.0, 6.0]
    checks = check_table(results)
    rates = {r["id"]: r for r in pass_rates(checks)}
    assert rates["f/one"]["rate"] == 100 and rates["f/two"]["passed"] == 0 and "g/later" not in rates
    top = common_failures(checks)
    assert top[0]["count"] == 2 and top[0]["students"] == ["a", "b"] and top[0]["ids"] == ["f/two"]
    bins = histogram([0.0, 3.0, 6.0, 6.0], 6.0, bins=3)
    assert [b["count"] for b in bins] == [1, 1, 2]
    exercises = {e["name"]: e for e in exercise_table(checks, ["f", "g"])}
    assert exercises["f"]["mean"] == "1.0" and exercises["f"]["max_points"] == "3" and exercises["f"]["full"] == 0
