"""The HTML report from literal reports: escaped, self-contained, hidden checks kept quiet;
the student-id rule of a batch; the class tables; and `grade FILE --report` for real."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest

from grader.course import Applied, Scored
from grader.gradebook import histogram
from grader.html_report import MAX_OUTPUT_CHARS, adjustment_context, render_student, render_summary, truncate
from grader.model import CellLog, CheckResult, Figure, GradeReport

from .conftest import SUBMISSIONS, full_marks
from .test_textsafe import HOSTILE, SHOWN, hostile_report, raw_controls

PAYLOAD = '<script>alert("x")</script><img src=x onerror=alert(1)>'
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")


def _report(**changes) -> GradeReport:
    checks = (
        CheckResult("f/one", "f", "passed", 1.0, 1.0, False, ""),
        CheckResult("f/two", "f", "failed", 0.0, 2.0, False, f"called f(1)\nreturned {PAYLOAD}"),
        CheckResult("g/secret", "g", "failed", 0.0, 1.0, True, "called g(123456789)\nreturned 0\nhint: off by one",
                    ("off by one",)),
        CheckResult("g/later", "g", "skipped", 0.0, 1.0, True, "hidden check: runs at grading time"),
        CheckResult("g/slow", "g", "timeout", 0.0, 1.0, False, "called g(0)\nstopped: no answer after 2 s"),
    )
    values = dict(assignment="demo", submission=f"{PAYLOAD}.py", status="graded", score=1.0, max_score=6.0,
                  checks=checks, message=f"1 code cell(s) failed: {PAYLOAD}",
                  cells=(CellLog(0, "error", PAYLOAD, error=f"RuntimeError: {PAYLOAD}", output=PAYLOAD * 500),),
                  figures=(Figure(f"boundary {PAYLOAD}", PNG, "moons"),), sandbox="bwrap")
    values.update(changes)
    return GradeReport(**values)  # type: ignore[arg-type]


def test_student_text_is_escaped_everywhere() -> None:
    html = render_student(_report(), PAYLOAD, "Demo")
    assert "<script" not in html.lower() and "<img src=x" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert html.count("onerror=alert(1)") == html.count("&lt;img src=x onerror=alert(1)&gt;")


def test_report_is_self_contained() -> None:
    html = render_student(_report(), "alice", "Demo")
    assert not re.search(r"(src|href)=\"(https?:|//)", html) and "<link" not in html
    assert f'src="data:image/png;base64,{base64.b64encode(PNG).decode()}"' in html
    assert "<style>" in html and "Content-Security-Policy" in html


def test_hidden_checks_show_name_and_verdict_only() -> None:
    html = render_student(_report(), "alice", "Demo")
    assert "g/secret" in html and "123456789" not in html and "returned 0" not in html
    assert "hidden check: failed\nhint: off by one" in html
    assert "1 hidden check (1 point) run at grading time" in html and "g/later" not in html  # one line, no row
    assert 'id="waiting"' in html and "1 hidden points" not in html
    assert "stopped: no answer after 2 s" in html  # a public check's message is shown


def test_scores_at_a_glance_and_output_truncated() -> None:
    html = render_student(_report(), "alice", "Demo")
    assert 'id="score">1 <small>/ 5</small>' in html  # the public points; 1 hidden point waits
    assert "more characters not shown" in html
    assert len(html) < 3 * MAX_OUTPUT_CHARS * 6 + 40_000
    assert truncate("abcdef", 3).startswith("abc\n…")


def test_sandbox_is_visible_and_unisolated_said_loudly() -> None:
    assert 'id="sandbox-note"' not in render_student(_report(), "alice")
    html = render_student(_report(sandbox="subprocess"), "alice")
    assert 'id="sandbox-note"' in html and "does not isolate" in html


def test_summary_escapes_and_links() -> None:
    summary = {"assignment": "demo", "title": PAYLOAD, "max_score": 6.0,
               "students": [{"id": "a", "score": 1.0, "max_score": 6.0, "status": "graded",
                             "limits": ["call time limit (1 check)"], "sandbox": "bwrap"}],
               "histogram": histogram([1.0], 6.0), "pass_rates": [], "exercises": [],
               "failures": [{"ids": ["f/two"], "message": PAYLOAD, "count": 1, "students": ["a"]}],
               "slowest": [{"id": "a", "seconds": 1.5}]}
    html = render_summary(summary)
    assert "<script" not in html.lower() and 'href="reports/a.html"' in html and 'id="limits"' in html


def test_grade_file_report_writes_html_and_says_where(run_grade, tmp_path: Path) -> None:
    target = tmp_path / "out" / "mine.html"
    done = run_grade(str(SUBMISSIONS / "conv-arithmetic" / "floor_not_ceil.py"), "--report", str(target),
                     "--format", "json")
    assert done.returncode == 1
    assert json.loads(done.stdout)["score"] < full_marks("conv-arithmetic")
    assert f"HTML report written to {target}" in done.stderr
    html = target.read_text()
    assert "floor instead of ceil" in html and "floor_not_ceil" in html


@pytest.mark.parametrize("argument", ["", "folder"])
def test_report_default_places(run_grade, tmp_path: Path, argument: str) -> None:
    submission = tmp_path / "mywork.py"
    submission.write_text((SUBMISSIONS / "conv-arithmetic" / "correct_module.py").read_text())
    args = ["--report"] + ([str(tmp_path / argument)] if argument else [])
    done = run_grade(str(submission), *args, "--no-hidden")
    expected = tmp_path / argument / "mywork.html" if argument else tmp_path / "mywork.html"
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"HTML report written to {expected}" in done.stdout and expected.is_file()


def test_hostile_text_reaches_the_page_only_as_visible_escapes() -> None:
    html = render_student(hostile_report(), f"alice{HOSTILE}", "Demo")
    assert not raw_controls(html), raw_controls(html)
    assert "\u202e" not in html and "\x1b" not in html and "\r" not in html
    assert f"<code id=\"submission\">{SHOWN}.ipynb</code>" in html
    assert f"returned {SHOWN}" in html and f"RuntimeError: {SHOWN}" in html
    html.encode("utf-8")


def test_markup_and_pictures_pass_unchanged() -> None:
    from markupsafe import Markup

    from grader.html_report import shown

    assert shown(Markup("<b>x\x1b</b>")) == Markup("<b>x\\x1b</b>")
    assert shown(3) == 3 and shown(1.5) == 1.5 and shown(None) is None
    html = render_student(_report(), "alice", "Demo")
    assert f'src="data:image/png;base64,{base64.b64encode(PNG).decode()}"' in html


def test_summary_shows_hostile_text_escaped() -> None:
    summary = {"assignment": "demo", "title": HOSTILE, "max_score": 6.0,
               "students": [{"id": "a", "score": 1.0, "max_score": 6.0, "status": "graded",
                             "limits": [HOSTILE], "sandbox": "bwrap"}],
               "histogram": histogram([1.0], 6.0), "pass_rates": [], "exercises": [],
               "failures": [{"ids": [HOSTILE], "message": HOSTILE, "count": 1, "students": ["a"]}],
               "slowest": [{"id": "a", "seconds": 1.5}]}
    html = render_summary(summary)
    assert not raw_controls(html), raw_controls(html)
    assert SHOWN in html



def test_a_self_check_reads_as_public_points_and_a_hint_is_said_once() -> None:
    from grader.model import CheckResult
    from grader.text_report import render

    report = _report()
    assert render(report).splitlines()[0].endswith("1 / 5 public points · 1 hidden point at grading time")
    hinted = tuple(CheckResult(f"f/{n}", "f", "failed", 0.0, 1.0, False, f"called f({n})\nhint: bias forgotten",
                               ("bias forgotten",)) for n in range(3))
    text = render(_report(checks=hinted, score=0.0, max_score=3.0))
    assert text.count("hint: bias forgotten") == 1 and text.count("hint: the same as above") == 2
    assert text.splitlines()[0].endswith("score 0 / 3")
    html = render_student(_report(checks=hinted, score=0.0, max_score=3.0), "alice")
    assert html.count("hint: bias forgotten") == 1


def test_the_score_that_counts_adds_up_each_adjustment_as_a_change() -> None:
    """An override's row carries the change it made (7 → 6 points: −1), so that the table's column
    adds up to the score that counts, as the gradebook's adjustment column does."""
    scored = Scored(graded=58, overrides=(Applied("shared_weights_params", 7, 6, "typo"),
                                          Applied("conv_params", 0, 2.5, "oral exam")), adjusted=59.5, final=59.5)
    context = adjustment_context(scored)
    assert [a["change"] for a in context["adjustments"]] == ["−1", "+2.5"]
    assert 58 + sum(float(a["change"].replace("−", "-")) for a in context["adjustments"]) == float(context["final"])
