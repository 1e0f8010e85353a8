"""The same grading, in the formats CI systems and LMSs read: JSON, JUnit XML, Gradescope.

JUnit and Gradescope outputs are what students and CI logs show, so hidden checks appear
there with their verdict only (`CheckResult.student_message`), never their inputs.

Ids, names, messages and the file name may come from the student. Every string put into the
XML goes through `textsafe.visible`, so the XML is always well-formed (no character XML 1.0
forbids) and no control or bidi character reaches a log raw; Gradescope's strings too (the JSON
is escaped anyway, and no lone surrogate is left to trouble a strict reader).
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable
from typing import Any

from .model import GradeReport
from .textsafe import visible

FILE_NAMES = {"json": "result.json", "junit": "junit.xml", "gradescope": "results.json", "text": "summary.txt"}
MACHINE_FORMATS = ("json", "junit", "gradescope")


def _seconds(report: GradeReport) -> str:
    return f"{report.timings.get('total', sum(report.timings.values())):.3f}"


def to_junit(report: GradeReport) -> str:
    """JUnit XML: one testsuite per grading, one testcase per check."""
    counts = Counter(c.status for c in report.checks)
    failures, errors = counts["failed"], counts["error"] + counts["timeout"]
    totals = {"tests": str(len(report.checks)), "failures": str(failures), "errors": str(errors),
              "time": _seconds(report)}
    root = ET.Element("testsuites", {"name": "coursegrade", **totals})
    suite = ET.SubElement(root, "testsuite", {"name": visible(report.assignment), "skipped": str(counts["skipped"]),
                                              **totals})
    properties = ET.SubElement(suite, "properties")
    for name, value in (("submission", report.submission), ("score", f"{report.score:g}"),
                        ("max_score", f"{report.max_score:g}"), ("status", report.status)):
        ET.SubElement(properties, "property", name=name, value=visible(value))
    for check in report.checks:
        case = ET.SubElement(suite, "testcase", name=visible(check.id),
                             classname=visible(f"{report.assignment}.{check.exercise}"))
        text = visible(check.student_message)
        first_line = text.splitlines()[0] if text else check.status
        if check.status == "failed":
            ET.SubElement(case, "failure", type="failed", message=first_line).text = text
        elif check.status in ("error", "timeout"):
            ET.SubElement(case, "error", type=check.status, message=first_line).text = text
        elif check.status == "skipped":
            ET.SubElement(case, "skipped", message=first_line)
    if report.message:
        ET.SubElement(suite, "system-out").text = visible(report.message)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def to_gradescope(report: GradeReport) -> dict[str, Any]:
    """Gradescope's results.json: hidden checks become visible once grades are published."""
    return {
        "score": report.score,
        "execution_time": round(float(_seconds(report)), 3),
        "output": visible(report.message or f"{report.assignment}: {report.score:g} / {report.max_score:g}"),
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": [
            {
                "name": visible(f"{check.id} (hidden)" if check.hidden else check.id),
                "number": str(number),
                "score": check.points,
                "max_score": check.max_points,
                "status": "passed" if check.status == "passed" else "failed",
                "output": visible(check.student_message),
                "tags": [visible(check.exercise)],
                "visibility": "after_published" if check.hidden else "visible",
            }
            for number, check in enumerate(report.checks, start=1)
        ],
    }


def render(report: GradeReport, fmt: str) -> str:
    """The report in format `fmt` (json, junit, gradescope or text)."""
    from .text_report import render as render_text

    renderers: dict[str, Callable[[GradeReport], str]] = {
        "json": GradeReport.dumps,
        "junit": to_junit,
        "gradescope": lambda r: json.dumps(to_gradescope(r), indent=2),
        "text": render_text,
    }
    return renderers[fmt](report)
