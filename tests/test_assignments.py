"""Every assignment is well-formed: hidden listing up to date, template and reference agree."""

from __future__ import annotations

import json

import pytest

from grader.assignments import hidden_listing, known_assignments, load_assignment
from grader.submission import load_submission

ASSIGNMENTS = known_assignments()


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_hidden_listing_matches_the_hidden_checks(name: str) -> None:
    assignment = load_assignment(name)
    listed = json.loads((assignment.folder / "hidden.json").read_text())
    assert listed == hidden_listing(assignment.checks), f"rewrite assignments/{name}/hidden.json"


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_template_and_reference_define_every_exercise(name: str) -> None:
    assignment = load_assignment(name)
    assert assignment.solution is not None
    for path in (assignment.template, assignment.solution):
        submission = load_submission(path)
        assert submission.declared_assignment == name
        assert set(assignment.exercises) <= submission.top_level_names(), path
    assert {c.exercise for c in assignment.checks} <= set(assignment.exercises)


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_every_exercise_has_public_and_hidden_checks(name: str) -> None:
    assignment = load_assignment(name)
    for exercise in assignment.exercises:
        checks = [c for c in assignment.checks if c.exercise == exercise]
        assert any(not c.hidden for c in checks), exercise
        assert any(c.hidden for c in checks), exercise


def test_student_view_has_no_hidden_checks_but_lists_them() -> None:
    for name in ASSIGNMENTS:
        student = load_assignment(name, include_hidden=False)
        assert not student.has_reference and not any(c.hidden for c in student.checks)
        assert student.max_score == load_assignment(name).max_score


def test_sandbox_settings_are_read_without_loading_the_checks() -> None:
    from grader.assignments import course_root, known_assignments, load_assignment, sandbox_settings

    for name in known_assignments():
        settings = sandbox_settings(course_root(), name)
        spec = load_assignment(name, include_hidden=False)
        assert settings == (spec.limits, spec.warm_imports), name
