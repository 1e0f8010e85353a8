"""Every sample submission in tests/submissions/<assignment>/ is graded for real and meets
its expected outcome in expected.json: the reference scores full marks, the template zero,
each correct solution full marks, each known mistake loses marks on exactly its exercise.
The vocabulary of expected outcomes is `grader.validate.expectation_problems`.

tests/submissions/hostile/ holds attacks rather than mistakes, graded by `grade batch` against
the assignment each names ("assignment"); "sandbox": "bwrap" marks an attack that only isolation
stops (it is run only there); "max_seconds" bounds its grading time; "batch": another test grades
it (e.g. beside a training assignment's reference); "under": {backend: {key: value}} replaces keys
for one sandbox backend, where the attack ends differently there (said in the attack's docstring).
"""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path

import pytest

from grader.assignments import Assignment, known_assignments, load_assignment
from grader.batch import BatchConfig, run_batch
from grader.checks import REFERENCE, returns
from grader.formats import render
from grader.grading import grade_submission
from grader.html_report import render_student
from grader.model import GradeReport
from grader.sandbox import ISOLATED, get_sandbox
from grader.submission import load_submission
from grader.validate import expectation_problems, grade_cases, sample_cases

from .conftest import SUBMISSIONS, leftover_processes, sentinel_snapshot
from .test_textsafe import raw_controls

MARKER = "7340033"  # an input only a hidden check carries: no output a student sees may hold it
LEAKERS = ("forges_conversation.py", "forges_hint_lines.py", "leaks_hidden_inputs.py")


def with_marker(spec: Assignment) -> Assignment:
    """conv-arithmetic plus one hidden check whose input is the marker."""
    marker = returns("marker", "conv_output_size", int(MARKER), 3, stride=2, expect=REFERENCE, hidden=True)
    return replace(spec, checks=(*spec.checks, marker))


def student_outputs(report: GradeReport) -> dict[str, str]:
    """Everything a student (or their CI log) is shown of a grading."""
    return {fmt: render(report, fmt) for fmt in ("text", "json", "junit", "gradescope")} | {
        "html": render_student(report, "student")}


def output_problems(name: str, outputs: dict[str, str]) -> list[str]:
    """A hidden input, or a raw control character, in what a student sees; junit.xml not well-formed."""
    problems = [f"{name}: the hidden marker is in its {fmt}" for fmt, text in outputs.items() if MARKER in text]
    problems += [f"{name}: raw {sorted(raw_controls(text))!r} in its {fmt}" for fmt, text in outputs.items()
                 if fmt in ("text", "junit") and raw_controls(text.replace("\t", ""))]
    if "junit" in outputs:
        try:
            ET.fromstring(outputs["junit"])
        except ET.ParseError as error:
            problems.append(f"{name}: junit.xml is not well-formed: {error}")
    return problems


def _cases() -> list[tuple[str, str, Path, dict]]:
    return [
        (assignment, name, path, expected)
        for assignment in known_assignments()
        for name, path, expected in sample_cases(load_assignment(assignment), SUBMISSIONS)
    ]


_GRADED: dict[str, dict[str, GradeReport]] = {}
# Samples that loop until a limit stops them are stopped all the same, sooner: toy2d's
# train_until_tiny_loss.py runs two calls to its call limit (10 CPU-s each), where an honest call
# of that assignment uses a few tenths of a CPU second (limits count CPU, whatever the load).
SOONER = {"toy2d-classifiers": {"call_seconds": 4.0}}


def _graded(assignment: str) -> dict[str, GradeReport]:
    """Every sample of an assignment graded in one batch, as `grade validate` does, the first
    time one of them is asked for (a batch's warm sandboxes: the corpus in minutes, not ten)."""
    if assignment not in _GRADED:
        spec = load_assignment(assignment)
        spec = replace(spec, limits=replace(spec.limits, **SOONER.get(assignment, {})))
        cases = [(name, path) for name, path, _ in sample_cases(spec, SUBMISSIONS)]
        _GRADED[assignment] = grade_cases(spec, cases)
    return _GRADED[assignment]


@pytest.mark.parametrize(("assignment", "name", "path", "expected"), _cases(),
                         ids=lambda v: v if isinstance(v, str) else "")
def test_sample_submission(assignment: str, name: str, path: Path, expected: dict) -> None:
    spec = load_assignment(assignment)
    report = _graded(assignment)[name]
    assert expectation_problems(report, expected, len(spec.checks)) == []


@pytest.mark.whole_machine  # nothing else may run while it checks that nothing outside changed
def test_hostile_corpus_in_one_batch(tmp_path: Path, link_target: Path) -> None:
    """The hostile corpus graded by `grade batch`, in parallel: the grader never crashes, every
    submission gets a complete result that meets its expectations, a correct submission beside
    the attacks keeps full marks, no hidden input and no raw control character reaches a
    student's files, nothing outside the scratch folders changes (a file the sandbox cannot
    see included), and no process is left behind."""
    sandbox = get_sandbox()
    cases = json.loads((SUBMISSIONS / "hostile" / "expected.json").read_text())
    cases = {n: e for n, e in cases.items()
             if (e.get("sandbox") != "bwrap" or sandbox.name in ISOLATED)  # others need isolation
             and "batch" not in e}  # graded by the test it names
    folder = tmp_path / "submissions"
    folder.mkdir()
    for name in cases:
        shutil.copyfile(SUBMISSIONS / "hostile" / name, folder / name)
    spec = with_marker(load_assignment("conv-arithmetic"))
    spec = replace(spec, limits=replace(spec.limits, asleep_seconds=15))  # the sleeper is stopped all the same, sooner
    assert {e["assignment"] for e in cases.values()} == {spec.name}
    before = sentinel_snapshot()
    run_batch(BatchConfig(folder, spec, tmp_path / "out", jobs=2, sandbox_name="auto"))
    problems: list[str] = []
    for name, case in cases.items():
        expected = {**case, **case.get("under", {}).get(sandbox.name, {})}
        student = Path(name).stem
        result = (tmp_path / "out" / "results" / f"{student}.json").read_text()
        report = GradeReport.from_json(json.loads(result))
        problems += [f"{name}: {p}" for p in expectation_problems(report, expected, len(spec.checks))]
        details = json.loads((tmp_path / "out" / "details" / f"{student}.json").read_text())
        if details["timings"].get("grading", 0) > expected.get("max_seconds", 600):
            problems.append(f"{name}: took {details['timings']['grading']:.1f} s")
        if len(result) > 256 * 1024:
            problems.append(f"{name}: the result has {len(result)} characters")
        html = (tmp_path / "out" / "reports" / f"{student}.html").read_text()
        problems += output_problems(name, {"json": result, "html": html, **student_outputs(report)})
    assert (tmp_path / "out" / "summary.html").stat().st_size > 0
    assert problems == []
    assert sentinel_snapshot() == before
    assert link_target.read_text() == "untouched\n"
    assert leftover_processes() == []


@pytest.mark.parametrize("name", LEAKERS)
def test_no_hidden_input_reaches_what_a_student_sees(name: str) -> None:
    """The attacks that try to carry hidden inputs out, graded in memory (where hidden checks'
    full messages still are): every student-facing rendering is free of the marker."""
    spec = with_marker(load_assignment("conv-arithmetic"))
    report = grade_submission(load_submission(SUBMISSIONS / "hostile" / name), spec, get_sandbox())
    marker = next(c for c in report.checks if c.id == "conv_output_size/marker")
    assert marker.status == "passed" or MARKER in marker.message  # the staff's message keeps the inputs
    assert output_problems(name, student_outputs(report)) == []
