"""JUnit XML and Gradescope results.json, from real gradings, validated against their schemas."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import xmlschema

from grader.formats import to_gradescope, to_junit
from grader.grading import grade_file
from grader.model import GradeReport

from .conftest import ROOT, SUBMISSIONS

SCHEMAS = ROOT / "tests" / "schemas"


@pytest.fixture(scope="module")
def reports() -> dict[str, GradeReport]:
    return {
        "reference": grade_file(ROOT / "reference" / "conv-arithmetic" / "solution.ipynb"),
        "failing": grade_file(SUBMISSIONS / "conv-arithmetic" / "floor_not_ceil.py"),
        "student": grade_file(SUBMISSIONS / "conv-arithmetic" / "infinite_loop.py", include_hidden=False),
    }


def test_junit_is_valid_and_counts_match(reports: dict[str, GradeReport]) -> None:
    schema = xmlschema.XMLSchema(SCHEMAS / "junit.xsd")
    for name, report in reports.items():
        xml = to_junit(report)
        schema.validate(xml)
        suite = schema.to_dict(xml)["testsuite"][0]
        assert suite["@tests"] == len(report.checks), name
        failed = sum(c.status == "failed" for c in report.checks)
        assert suite["@failures"] == failed
        assert suite["@errors"] == sum(c.status in ("error", "timeout") for c in report.checks)
    assert schema.to_dict(to_junit(reports["reference"]))["@failures"] == 0
    assert schema.to_dict(to_junit(reports["failing"]))["@failures"] > 0
    assert "<skipped" in to_junit(reports["student"]) and 'type="timeout"' in to_junit(reports["student"])


def test_gradescope_is_valid_and_scores_add_up(reports: dict[str, GradeReport]) -> None:
    schema = json.loads((SCHEMAS / "gradescope.schema.json").read_text())
    for report in reports.values():
        results = to_gradescope(report)
        jsonschema.validate(results, schema)
        assert results["score"] == pytest.approx(sum(t["score"] for t in results["tests"]))
        assert len(results["tests"]) == len(report.checks)
    hidden = [t for t in to_gradescope(reports["failing"])["tests"] if t["visibility"] == "after_published"]
    assert hidden and all(t["name"].endswith("(hidden)") for t in hidden)


def test_hidden_checks_never_show_their_inputs_to_students(reports: dict[str, GradeReport]) -> None:
    report = reports["failing"]
    hidden_failed = [c for c in report.checks if c.hidden and c.status == "failed"]
    assert hidden_failed and all("called" in c.message for c in hidden_failed)
    outputs = to_junit(report) + json.dumps(to_gradescope(report))
    for check in hidden_failed:
        call_line = check.message.splitlines()[0]
        assert call_line not in outputs
    assert "floor instead of ceil" in outputs


def test_output_dir_writes_every_format(run_grade, tmp_path: Path) -> None:
    done = run_grade(str(SUBMISSIONS / "conv-arithmetic" / "floor_not_ceil.py"), "--output-dir", str(tmp_path))
    assert done.returncode == 1
    assert {p.name for p in tmp_path.iterdir()} == {"result.json", "junit.xml", "results.json"}
    assert json.loads((tmp_path / "result.json").read_text())["score"] == json.loads(
        (tmp_path / "results.json").read_text())["score"]
    several = run_grade(str(SUBMISSIONS / "conv-arithmetic" / "correct.ipynb"), "-f", "json", "-f", "junit")
    assert several.returncode == 2 and "--output-dir" in several.stderr
