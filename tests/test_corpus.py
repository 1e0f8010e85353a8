"""Every sample submission in tests/submissions/<assignment>/ is graded for real and meets
its expected outcome in expected.json: the reference scores full marks, the template zero,
each correct solution full marks, each known mistake loses marks on exactly its exercise.
The vocabulary of expected outcomes is `grader.validate.expectation_problems`.

tests/submissions/hostile/ holds attacks rather than mistakes, graded in one batch against the
assignment each names ("assignment"); "sandbox": "bwrap" marks an attack that only isolation
stops (it is run only there); "max_seconds" bounds its grading time.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from grader.assignments import known_assignments, load_assignment
from grader.grading import grade_submission
from grader.sandbox import get_sandbox
from grader.submission import load_submission
from grader.validate import expectation_problems, sample_cases

from .conftest import SUBMISSIONS, leftover_processes, sentinel_snapshot


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


def test_hostile_corpus_in_one_batch() -> None:
    """Every hostile submission graded in one run: the grader never crashes, each gets a complete
    result meeting its expectations, nothing outside the scratch folders changes, no process is left."""
    sandbox = get_sandbox()
    before = sentinel_snapshot()
    problems: list[str] = []
    for name, expected in json.loads((SUBMISSIONS / "hostile" / "expected.json").read_text()).items():
        if expected.get("sandbox", sandbox.name) != sandbox.name:
            continue  # an attack only isolation stops: not run where it would succeed
        spec = load_assignment(expected["assignment"])
        started = time.monotonic()
        report = grade_submission(load_submission(SUBMISSIONS / "hostile" / name), spec, sandbox)
        seconds = time.monotonic() - started
        found = expectation_problems(report, expected, len(spec.checks))
        if seconds > expected.get("max_seconds", 600):
            found.append(f"took {seconds:.1f} s")
        if len(report.dumps()) > 256 * 1024:
            found.append(f"the report has {len(report.dumps())} characters")
        problems += [f"{name}: {p}" for p in found]
    assert problems == []
    assert sentinel_snapshot() == before
    assert leftover_processes() == []
