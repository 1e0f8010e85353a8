"""Every sample submission in tests/submissions/<assignment>/ is graded for real and meets
its expected outcome in expected.json: the reference scores full marks, the template zero,
each correct solution full marks, each known mistake loses marks on exactly its exercise.
The vocabulary of expected outcomes is `grader.validate.expectation_problems`.

tests/submissions/hostile/ holds attacks rather than mistakes, graded by `grade batch` against
the assignment each names ("assignment"); "sandbox": "bwrap" marks an attack that only isolation
stops (it is run only there); "max_seconds" bounds its grading time.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from grader.assignments import known_assignments, load_assignment
from grader.batch import BatchConfig, run_batch
from grader.grading import grade_submission
from grader.model import GradeReport
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


def test_hostile_corpus_in_one_batch(tmp_path: Path) -> None:
    """The hostile corpus graded by `grade batch`, in parallel: the grader never crashes, every
    submission gets a complete result that meets its expectations, nothing outside the scratch
    folders changes, and no process is left behind."""
    sandbox = get_sandbox()
    cases = json.loads((SUBMISSIONS / "hostile" / "expected.json").read_text())
    cases = {n: e for n, e in cases.items() if e.get("sandbox", sandbox.name) == sandbox.name}  # others need isolation
    folder = tmp_path / "submissions"
    folder.mkdir()
    for name in cases:
        shutil.copyfile(SUBMISSIONS / "hostile" / name, folder / name)
    spec = load_assignment("conv-arithmetic")
    assert {e["assignment"] for e in cases.values()} == {spec.name}
    before = sentinel_snapshot()
    run_batch(BatchConfig(folder, spec, tmp_path / "out", jobs=2, sandbox_name="auto"))
    problems: list[str] = []
    for name, expected in cases.items():
        student = Path(name).stem
        result = (tmp_path / "out" / "results" / f"{student}.json").read_text()
        report = GradeReport.from_json(json.loads(result))
        problems += [f"{name}: {p}" for p in expectation_problems(report, expected, len(spec.checks))]
        details = json.loads((tmp_path / "out" / "details" / f"{student}.json").read_text())
        if details["timings"].get("grading", 0) > expected.get("max_seconds", 600):
            problems.append(f"{name}: took {details['timings']['grading']:.1f} s")
        if len(result) > 256 * 1024:
            problems.append(f"{name}: the result has {len(result)} characters")
    assert problems == []
    assert sentinel_snapshot() == before
    assert leftover_processes() == []
