"""toy2d-classifiers end to end: the reference earns full marks whatever the hidden split,
and the same submission gets the same report every run."""

from __future__ import annotations

from dataclasses import replace

import pytest

from grader.assignments import load_assignment
from grader.calibration import hidden_module
from grader.grading import grade_submission, plan_steps
from grader.judge import judge_all
from grader.runner import run_in_process
from grader.sandbox import get_sandbox
from grader.submission import load_submission

NAME = "toy2d-classifiers"


HIDDEN_SEEDS = (1, 4, 8, 13, 17, 20)  # a spread of 1..20; CALIBRATION.md covers 100 seeds


def test_reference_full_marks_on_hidden_splits_through_the_real_judge() -> None:
    """The reference (trusted, in this process, through the probe's own path) on hidden seeds
    spread over 1..20 (reference/toy2d-classifiers/calibrate.py runs 100 for the table)."""
    import torch

    torch.set_num_threads(1)
    assignment = load_assignment(NAME)
    hidden = hidden_module(NAME)
    reference = dict(assignment.reference or {})
    for seed in HIDDEN_SEEDS:
        checks = hidden.checks_for(seed)
        observations = run_in_process(plan_steps(checks), reference, assignment.limits, seed)
        results, figures = judge_all(checks, observations)
        assert [r for r in results if r.status != "passed"] == [], seed
        assert len(figures) == 6


@pytest.fixture(scope="module")
def reference_reports() -> list:
    """The reference graded in the sandbox: hidden seed 11 twice, hidden seed 12 once."""
    assignment = load_assignment(NAME)
    hidden = hidden_module(NAME)
    public = [c for c in assignment.checks if not c.hidden]
    assert assignment.solution is not None
    submission = load_submission(assignment.solution)
    reports = []
    for seed in (11, 11, 12):
        spec = replace(assignment, checks=(*public, *hidden.checks_for(seed)), seed=seed)
        reports.append(grade_submission(submission, spec, get_sandbox()))
    return reports


def test_reference_full_marks_in_the_sandbox_on_other_hidden_splits(reference_reports: list) -> None:
    for report in reference_reports:
        assert report.score == report.max_score, [c for c in report.checks if c.status != "passed"]


def test_the_same_submission_gets_the_same_report(reference_reports: list) -> None:
    first, again, other = reference_reports
    assert first.to_json() == again.to_json()
    assert [f.png for f in first.figures] == [f.png for f in again.figures]
    assert first.to_json() != other.to_json()  # the hidden split did change


def test_decision_boundaries_are_in_the_report_with_accuracy_and_threshold(reference_reports: list) -> None:
    report = reference_reports[0]
    titles = [f.title for f in report.figures]
    assert len(titles) == 12 and "moons (public split)" in titles and "moons (hidden split)" in titles
    moons = next(f for f in report.figures if f.title == "moons (hidden split)")
    assert moons.png.startswith(b"\x89PNG") and "threshold 94.0%" in moons.caption and "accuracy" in moons.caption
    hidden = [f for f in report.figures if "hidden split" in f.title]
    assert len(hidden) == 6 and all("test points not shown" in f.caption for f in hidden)
