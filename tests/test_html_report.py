"""The HTML report from literal reports: escaped, self-contained, hidden checks kept quiet;
the student-id rule of a batch; the class tables; and `grade FILE --report` for real."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest

from grader.batch import error_report, find_submissions, limits_hit, safe_id
from grader.gradebook import check_table, common_failures, gradebook, histogram, pass_rates
from grader.html_report import MAX_OUTPUT_CHARS, render_student, render_summary, truncate
from grader.model import CellLog, CheckResult, Figure, GradeReport

from .conftest import SUBMISSIONS

PAYLOAD = '<script>alert("x")</script><img src=x onerror=alert(1)>'
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")


def _report(**changes) -> GradeReport:
    checks = (
        CheckResult("f/one", "f", "passed", 1.0, 1.0, False, ""),
        CheckResult("f/two", "f", "failed", 0.0, 2.0, False, f"called f(1)\nreturned {PAYLOAD}"),
        CheckResult("g/secret", "g", "failed", 0.0, 1.0, True, "called g(123456789)\nreturned 0\nhint: off by one"),
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
    assert "runs at grading time" in html
    assert "stopped: no answer after 2 s" in html  # a public check's message is shown


def test_scores_at_a_glance_and_output_truncated() -> None:
    html = render_student(_report(), "alice", "Demo")
    assert 'id="score">1 <small>/ 6</small>' in html
    assert "more characters not shown" in html
    assert len(html) < 3 * MAX_OUTPUT_CHARS * 6 + 40_000
    assert truncate("abcdef", 3).startswith("abc\n…")


def test_sandbox_is_visible_and_unisolated_said_loudly() -> None:
    assert 'id="sandbox-note"' not in render_student(_report(), "alice")
    html = render_student(_report(sandbox="subprocess"), "alice")
    assert 'id="sandbox-note"' in html and "does not isolate" in html


def test_error_report_lists_every_check() -> None:
    from grader.assignments import load_assignment

    spec = load_assignment("conv-arithmetic")
    report = error_report(spec, "x.ipynb", "not a notebook")
    assert report.status == "error" and len(report.checks) == len(spec.checks)
    assert {c.status for c in report.checks} == {"error"} and report.max_score == spec.max_score


def test_limits_hit() -> None:
    assert limits_hit(_report()) == ["call time limit (1 check)"]
    killed = _report(message="stopped: killed (SIGKILL), perhaps for using more than 4 GiB", checks=())
    assert limits_hit(killed) == ["memory"]
    cells = _report(message="stopped: the notebook's 3 code cell(s) did not finish in 30 s", checks=(), cells=())
    assert limits_hit(cells) == ["cell time limit"]


def test_student_ids_from_file_or_folder(tmp_path: Path) -> None:
    for name in ("alice.ipynb", "bob.py", "carol/hw1.ipynb", "carol/util.py", "dave/a.py", "dave/b.py",
                 "eve/sub/deep.py", ".hidden.py", "_private/x.py", "frank/.ipynb_checkpoints/x.ipynb",
                 "notes.txt", "o'brien j.py"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("")
    entries = {e.student: e for e in find_submissions(tmp_path)}
    assert sorted(entries) == ["alice", "bob", "carol", "dave", "eve", "o_brien_j"]
    assert entries["carol"].path.name == "hw1.ipynb" and not entries["carol"].problem
    assert "several submissions" in entries["dave"].problem
    assert entries["eve"].relative(tmp_path) == "eve/sub/deep.py"
    assert safe_id("../../etc/passwd") == "_.._etc_passwd" and safe_id("...") == "_"


def test_class_tables_from_literals() -> None:
    results = {"a": _report(), "b": _report(score=6.0)}
    book = gradebook(results, ["f", "g"])
    assert list(book.columns) == ["student", "f", "g", "total", "max_score", "status"]
    assert book["f"].tolist() == [1.0, 1.0] and book["total"].tolist() == [1.0, 6.0]
    checks = check_table(results)
    rates = {r["id"]: r for r in pass_rates(checks)}
    assert rates["f/one"]["rate"] == 100 and rates["f/two"]["passed"] == 0 and "g/later" not in rates
    top = common_failures(checks)
    assert top[0]["count"] == 2 and top[0]["students"] == ["a", "b"] and top[0]["ids"] == ["f/two"]
    bins = histogram([0.0, 3.0, 6.0, 6.0], 6.0, bins=3)
    assert [b["count"] for b in bins] == [1, 1, 2]


def test_summary_escapes_and_links() -> None:
    summary = {"assignment": "demo", "title": PAYLOAD, "max_score": 6.0,
               "students": [{"id": "a", "score": 1.0, "max_score": 6.0, "status": "graded",
                             "limits": ["call time limit (1 check)"], "sandbox": "bwrap"}],
               "histogram": histogram([1.0], 6.0), "pass_rates": [],
               "failures": [{"ids": ["f/two"], "message": PAYLOAD, "count": 1, "students": ["a"]}],
               "slowest": [{"id": "a", "seconds": 1.5}]}
    html = render_summary(summary)
    assert "<script" not in html.lower() and 'href="a.html"' in html and 'id="limits"' in html


def test_grade_file_report_writes_html_and_says_where(run_grade, tmp_path: Path) -> None:
    target = tmp_path / "out" / "mine.html"
    done = run_grade(str(SUBMISSIONS / "conv-arithmetic" / "floor_not_ceil.py"), "--report", str(target),
                     "--format", "json")
    assert done.returncode == 1
    assert json.loads(done.stdout)["score"] < 46
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
