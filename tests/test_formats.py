"""JUnit XML and Gradescope results.json, from real gradings, validated against their schemas."""

from __future__ import annotations

import json
import unicodedata
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest
import xmlschema

from grader.formats import render, to_gradescope, to_junit
from grader.grading import grade_file
from grader.model import GradeReport

from .conftest import ROOT, SUBMISSIONS
from .test_textsafe import SHOWN, hostile_report, raw_controls

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


def test_text_summary_shows_hostile_text_escaped() -> None:
    text = render(hostile_report(), "text")
    assert not raw_controls(text), raw_controls(text)
    assert all(unicodedata.category(c) != "Cc" for c in text.replace("\n", ""))
    assert SHOWN in text
    assert "\\x1b]0;pwned\\x07" in text and "\\x1b]52;c;ZWNobyBoaQ==\\x07" in text and "\\x1b[2J" in text
    assert f"{SHOWN}.ipynb" in text.splitlines()[0]  # the file name, on the title line
    assert f"returned {SHOWN}" in text and f"f/{SHOWN}" in text and f"f{SHOWN}" in text


def test_junit_of_hostile_text_is_well_formed_and_valid() -> None:
    xml = to_junit(hostile_report())
    root = ET.fromstring(xml)
    assert not raw_controls(xml.replace("\t", ""))
    xmlschema.XMLSchema(SCHEMAS / "junit.xsd").validate(xml)
    case = root.find("testsuite/testcase")
    assert case is not None and case.get("name") == f"f/{SHOWN}"
    failure = case.find("failure")
    assert failure is not None and failure.text == f"called f(1)\nreturned {SHOWN}"
    properties = {p.get("name"): p.get("value") for p in root.iter("property")}
    assert properties["submission"] == f"{SHOWN}.ipynb"
    assert root.findtext("testsuite/system-out") == f"1 cell failed: {SHOWN}"


def test_gradescope_of_hostile_text_is_valid_json_without_raw_controls() -> None:
    results = to_gradescope(hostile_report())
    text = json.dumps(results, indent=2)
    text.encode("utf-8")
    json.dumps(results, ensure_ascii=False).encode("utf-8")  # no lone surrogate left in any string
    assert not raw_controls(text)
    jsonschema.validate(results, json.loads((SCHEMAS / "gradescope.schema.json").read_text()))
    assert results["tests"][0]["output"] == f"called f(1)\nreturned {SHOWN}"
    assert results["output"] == f"1 cell failed: {SHOWN}"
