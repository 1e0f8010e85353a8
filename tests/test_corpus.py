"""Every sample submission in tests/submissions/<assignment>/ is graded for real and meets
its expected outcome in expected.json: the reference scores full marks, the template zero,
each correct solution full marks, each known mistake loses marks on exactly its exercise.
The vocabulary of expected outcomes is `grader.validate.expectation_problems`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.assignments import known_assignments, load_assignment
from grader.grading import grade_submission
from grader.sandbox import get_sandbox
from grader.submission import load_submission
from grader.validate import expectation_problems, sample_cases

from .conftest import SUBMISSIONS


def _cases() -> list[tuple[str, str, Path, dict]]:
    return [
        (assignment, name, path, expected)
        for assignment in known_assignments()
        for name, path, expected in sample_cases(load_assignment(assignment), SUBMISSIONS)
    ]


@pytest.mark.parametrize(("assignment", "name", "path", "expected"), _cases(),
                         ids=lambda v: v if isinstance(v, str) else "")
def test_sample_submission(assignment: str, name: str, path: Path, expected: dict) -> None:
    spec = load_assignment(assignment)
    report = grade_submission(load_submission(path), spec, get_sandbox())
    assert expectation_problems(report, expected, len(spec.checks)) == []
