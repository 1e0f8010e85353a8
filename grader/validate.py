"""`grade validate NAME`: is an assignment's set of checks right?

The reference must score full marks (else a check cannot pass), the untouched template must
score zero (else a check cannot fail), and every sample submission in
tests/submissions/<name>/expected.json must meet its expected outcome (each known mistake
loses marks on exactly its exercise). The same expectations drive tests/test_corpus.py.
"""

from __future__ import annotations

import io
import json
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .assignments import Assignment, hidden_listing
from .errors import UsageError, reason
from .model import GradeReport


def expectation_problems(report: GradeReport, expected: Mapping[str, Any], n_checks: int) -> list[str]:
    """How `report` falls short of an expected outcome (see tests/submissions/*/expected.json).

    Keys: "outcome": "full" | "zero"; "loses": the exercises that lose marks, no more, no less;
    "hint" / "message": text in some failed check's message; "statuses": {check id: status};
    "report_message": text in the report's message; "passes": check ids that must pass;
    "fails": the check ids that do not pass, no more, no less;
    "status": the report's status when it is not "graded" (nothing could be graded);
    "public": "full": every public check passes.
    """
    problems = []
    not_passed = [c for c in report.checks if c.status != "passed"]
    if report.status != expected.get("status", "graded"):
        problems.append(f"status {report.status}, expected {expected.get('status', 'graded')}: {report.message}")
    if len(report.checks) != n_checks:
        problems.append(f"{len(report.checks)} checks in the result, {n_checks} in the assignment")
    if expected.get("outcome") == "full" and report.score != report.max_score:
        problems += [f"{c.id} does not pass ({c.status}): {c.message}" for c in not_passed]
    if expected.get("public") == "full":
        problems += [f"public check {c.id} does not pass ({c.status})" for c in not_passed if not c.hidden]
    if expected.get("outcome") == "zero" and report.score != 0:
        problems += [f"{c.id} passes" for c in report.checks if c.status == "passed"]
    failing = sorted(c.id for c in not_passed)
    if "fails" in expected and set(failing) != set(expected["fails"]):
        problems.append(f"does not pass {failing}, expected exactly {sorted(expected['fails'])}")
    if "loses" in expected:
        losing = {c.exercise for c in not_passed}
        if losing != set(expected["loses"]):
            problems.append(f"loses marks on {sorted(losing)}, expected exactly {sorted(expected['loses'])}")
    messages = "\n".join(c.message for c in not_passed)
    problems += [f"no failed check says {expected[k]!r}" for k in ("hint", "message")
                 if k in expected and expected[k] not in messages]
    by_id = {c.id: c for c in report.checks}
    for check_id, status in expected.get("statuses", {}).items():
        found = by_id[check_id].status if check_id in by_id else "missing"
        if found != status:
            problems.append(f"{check_id} is {found}, expected {status}")
    problems += [f"{check_id} should pass" for check_id in expected.get("passes", [])
                 if check_id not in by_id or by_id[check_id].status != "passed"]
    if "report_message" in expected and expected["report_message"] not in report.message:
        problems.append(f"the report's message does not say {expected['report_message']!r}")
    return problems


@dataclass(frozen=True)
class Finding:
    """One thing wrong with an assignment's checks."""

    subject: str
    problem: str


def sample_cases(assignment: Assignment, samples: Path) -> Iterator[tuple[str, Path, dict[str, Any]]]:
    """(name, path, expected outcome) for the reference, the template and each sample submission."""
    expected_file = samples / assignment.name / "expected.json"
    expected_all = _expected_outcomes(expected_file) if expected_file.is_file() else {}
    expected_all.setdefault("@reference", {"outcome": "full"})
    expected_all.setdefault("@template", {"outcome": "zero"})
    for name, expected in expected_all.items():
        if name == "@reference":
            if assignment.solution is not None:
                yield name, assignment.solution, expected
        elif name == "@template":
            yield name, assignment.template, expected
        else:
            yield name, samples / assignment.name / name, expected


def _expected_outcomes(path: Path) -> dict[str, Any]:
    """expected.json: each sample's expected outcome, by its file name; a UsageError that says what is wrong."""
    try:
        outcomes = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise UsageError(f"cannot read the expected outcomes {path}: {reason(error)}") from None
    if not isinstance(outcomes, dict) or not all(isinstance(v, dict) for v in outcomes.values()):
        raise UsageError(f"{path} must hold an object: each sample's file name, then its expected outcome (an object)")
    return outcomes


def grade_cases(assignment: Assignment, cases: Iterable[tuple[str, Path]], sandbox_name: str = "auto",
                jobs: int | None = None) -> dict[str, GradeReport]:
    """Grade each (name, file) as one `grade batch` does (warm sandboxes, in parallel); each
    name's report, hidden checks' full messages included."""
    from .batch import BatchConfig, default_jobs, run_batch
    from .gradebook import load_results

    with tempfile.TemporaryDirectory(prefix="coursegrade-validate-") as folder:
        submissions, output = Path(folder) / "class", Path(folder) / "out"
        submissions.mkdir()
        names = {}
        for i, (name, path) in enumerate(cases):
            names[f"case{i:03d}"] = name
            shutil.copyfile(path, submissions / f"case{i:03d}{path.suffix}")
        run_batch(BatchConfig(submissions, assignment, output, jobs or default_jobs(), sandbox_name),
                  stream=io.StringIO())
        return {names[student]: report for student, report in load_results(output, list(names)).items()}


def validate(assignment: Assignment, sandbox_name: str, samples: Path) -> list[Finding]:
    """Grade the reference, the template and the samples; everything that is not as it must be."""
    findings = []
    listed = [{"id": c.id, "exercise": c.exercise, "points": c.points} for c in assignment.listed_hidden]
    if assignment.has_reference and listed != hidden_listing(assignment.checks):
        findings.append(Finding("hidden.json", "out of date: run `grade validate NAME --write-listing`"))
    named = list(sample_cases(assignment, samples))
    cases = [(name, path, expected) for name, path, expected in named if path.is_file()]
    findings += [Finding(name, f"named in expected.json, but {path} is not there")
                 for name, path, _ in named if not path.is_file()]
    reports = grade_cases(assignment, [(name, path) for name, path, _ in cases], sandbox_name)
    for name, _, expected in cases:
        subject = SUBJECTS.get(name, name)
        if name not in reports:
            findings.append(Finding(subject, "was not graded"))
            continue
        problems = expectation_problems(reports[name], expected, len(assignment.checks))
        findings += [Finding(subject, p) for p in problems]
    return findings


SUBJECTS = {
    "@reference": "reference (a check that does not pass here cannot pass)",
    "@template": "template (a check that passes here cannot fail)",
}
