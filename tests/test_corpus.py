"""Every sample submission in tests/submissions/<assignment>/ is graded for real and meets
its expected outcome (expected.json): the reference scores full marks, the template zero,
each correct solution full marks, each known mistake loses marks on exactly its exercise.

Expected outcome keys: "outcome": "full" | "zero"; "loses": the exercises that must lose
marks (and no other); "hint" / "message": text that must appear in a failed check's message;
"statuses": {check id: status}; "report_message": text in the report's message;
"assignment": the assignment to grade against (default: the folder's name); "status": the
report's status (default "graded"); "sandbox": the expectations hold only in this sandbox
(e.g. "bwrap" for attacks that need isolation; skipped elsewhere); "max_seconds": the most
the grading may take. The folders in BATCH_FOLDERS are graded in one run instead.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from grader.assignments import load_assignment
from grader.grading import grade_file
from grader.model import CHECK_STATUSES, GradeReport
from grader.sandbox import get_sandbox

from .conftest import SUBMISSIONS, leftover_processes, sentinel_snapshot

BATCH_FOLDERS = ("hostile",)  # graded in one run, with the run's invariants checked after it


def _cases() -> list[tuple[str, str, dict]]:
    cases = []
    for expected_file in sorted(SUBMISSIONS.glob("*/expected.json")):
        for name, expected in json.loads(expected_file.read_text()).items():
            cases.append((expected_file.parent.name, name, expected))
    return cases


def _path(folder: str, assignment: str, name: str) -> Path:
    spec = load_assignment(assignment)
    if name == "@reference":
        assert spec.solution is not None
        return spec.solution
    if name == "@template":
        return spec.template
    return SUBMISSIONS / folder / name


def _losing_exercises(report: GradeReport) -> set[str]:
    return {c.exercise for c in report.checks if c.status != "passed"}


@pytest.mark.parametrize(("folder", "name", "expected"), [c for c in _cases() if c[0] not in BATCH_FOLDERS],
                         ids=lambda v: v if isinstance(v, str) else "")
def test_sample_submission(folder: str, name: str, expected: dict) -> None:
    sandbox = get_sandbox()
    if expected.get("sandbox", sandbox.name) != sandbox.name:
        pytest.skip(f"needs the {expected['sandbox']} sandbox; this machine has {sandbox.name}")
    assignment = expected.get("assignment", folder)
    started = time.monotonic()
    report = grade_file(_path(folder, assignment, name), assignment, sandbox=sandbox)
    assert time.monotonic() - started <= expected.get("max_seconds", 600)
    check_expected(report, assignment, expected)


def test_hostile_corpus_in_one_batch() -> None:
    """Every hostile submission graded in one run: the grader never crashes, each gets a complete
    result meeting its expectations, nothing outside the scratch folders changes, no process is left."""
    sandbox = get_sandbox()
    before = sentinel_snapshot()
    failures: list[str] = []
    for folder, name, expected in [c for c in _cases() if c[0] in BATCH_FOLDERS]:
        assignment = expected.get("assignment", folder)
        started = time.monotonic()
        report = grade_file(_path(folder, assignment, name), assignment, sandbox=sandbox)
        seconds = time.monotonic() - started
        try:
            assert len(report.dumps()) < 256 * 1024, "the report is too large"
            assert seconds <= expected.get("max_seconds", 600), f"took {seconds:.1f} s"
            if expected.get("sandbox", sandbox.name) == sandbox.name:
                check_expected(report, assignment, expected)
            else:
                assert len(report.checks) == len(load_assignment(assignment).checks)
        except AssertionError as error:
            failures.append(f"{name}: {error}")
    assert not failures, "\n".join(failures)
    assert sentinel_snapshot() == before
    assert leftover_processes() == []


def check_expected(report: GradeReport, assignment: str, expected: dict) -> None:
    """The report meets `expected` (the vocabulary in this module's docstring)."""
    exercises = {c.exercise for c in report.checks}
    assert report.status == expected.get("status", "graded"), report.message
    assert len(report.checks) == len(load_assignment(assignment).checks)
    assert all(c.status in CHECK_STATUSES for c in report.checks)
    if expected.get("outcome") == "full":
        assert report.score == report.max_score, [c for c in report.checks if c.status != "passed"]
    if expected.get("outcome") == "zero":
        assert report.score == 0, [c.id for c in report.checks if c.status == "passed"]
    if "loses" in expected:
        assert _losing_exercises(report) == set(expected["loses"]), [
            (c.id, c.status, c.message) for c in report.checks if c.status != "passed"
        ]
        assert exercises >= set(expected["loses"])
    failed_messages = "\n".join(c.message for c in report.checks if c.status != "passed")
    for key in ("hint", "message"):
        if key in expected:
            assert expected[key] in failed_messages, failed_messages[:2000]
    by_id = {c.id: c for c in report.checks}
    for check_id, status in expected.get("statuses", {}).items():
        assert by_id[check_id].status == status, by_id[check_id]
    if "report_message" in expected:
        assert expected["report_message"] in report.message
