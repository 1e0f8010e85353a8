"""cnn-digits end to end: the same submission gets the same report (and pictures) every run."""

from __future__ import annotations

from grader.assignments import load_assignment
from grader.grading import grade_file


def _without_times(report: dict) -> dict:
    """The report but the time train took (the one thing that may change between runs)."""
    checks = [dict(c, message="") if c["id"].startswith("train/time-budget") else c for c in report["checks"]]
    return dict(report, checks=checks)


def test_the_reference_gets_the_same_report_twice_with_its_pictures() -> None:
    solution = load_assignment("cnn-digits").solution
    assert solution is not None
    first, again = grade_file(solution), grade_file(solution)
    assert first.score == first.max_score
    assert _without_times(first.to_json()) == _without_times(again.to_json())
    assert [f.png for f in first.figures] == [f.png for f in again.figures]
    titles = [f.title for f in first.figures]
    assert "confusion matrix, digits (hidden split)" in titles
    assert any(t.startswith("misclassified digits") for t in titles)
    confusion = next(f for f in first.figures if f.title.startswith("confusion matrix"))
    assert "threshold 94.0%" in confusion.caption and "accuracy" in confusion.caption
