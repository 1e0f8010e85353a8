"""Every assignment is well-formed: hidden listing up to date, template and reference agree."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from grader.assignments import hidden_listing, known_assignments, load_assignment
from grader.submission import load_submission

ASSIGNMENTS = known_assignments()
REPO = Path(__file__).resolve().parents[1]


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


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root to own files as another user")
def test_checks_planted_beside_a_submission_by_another_user_are_not_loaded(tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """A packaged grader (no checkout) looks above the submission for `assignments/`; run as root on a
    student's folder it takes only a folder root owns, never one the student made or linked."""
    import grader.assignments as assignments

    monkeypatch.delenv("COURSEGRADE_ROOT", raising=False)
    monkeypatch.setattr(assignments, "GRADER_PACKAGE", tmp_path / "site-packages" / "grader")
    student = tmp_path / "home" / "alice"
    planted = student / "assignments" / "conv-arithmetic"
    planted.mkdir(parents=True)
    (planted / "checks.py").write_text("import os\nos.system('touch /tmp/owned')\n")
    for path in (student, student / "assignments", planted, planted / "checks.py"):
        os.chown(path, 12345, 12345)
    work = student / "hw.ipynb"
    assert assignments.course_root(work) != student
    shutil.rmtree(student / "assignments")
    (student / "assignments").symlink_to(REPO / "assignments")
    os.lchown(student / "assignments", 12345, 12345)
    assert assignments.course_root(work) != student
    (student / "assignments").unlink()
    (student / "assignments").mkdir()  # root's own folder there is trusted (a release root unpacked)
    assert assignments.course_root(work) == student
