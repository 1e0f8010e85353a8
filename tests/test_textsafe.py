"""Text from a student's process shown safely: controls, bidi and surrogates as escapes."""

from __future__ import annotations

import unicodedata
import xml.etree.ElementTree as ET
from xml.sax.saxutils import escape

import pytest

from grader.model import CellLog, CheckResult, GradeReport
from grader.textsafe import one_line, valid_unicode, visible

HOSTILE = "a\x1b]0;pwned\x07b\x1b]52;c;ZWNobyBoaQ==\x07\x1b[2J\rover\u202eevil\ud800\x00\x85\ufffe"
SHOWN = "a\\x1b]0;pwned\\x07b\\x1b]52;c;ZWNobyBoaQ==\\x07\\x1b[2J\\x0dover\\u202eevil\\ud800\\x00\\x85\\ufffe"


def hostile_report() -> GradeReport:
    """A report whose every student-influenced string carries terminal, bidi and XML trouble
    (shared with test_formats and test_html_report)."""
    checks = (
        CheckResult(f"f/{HOSTILE}", f"f{HOSTILE}", "failed", 0.0, 2.0, False, f"called f(1)\nreturned {HOSTILE}"),
        CheckResult("f/err", f"f{HOSTILE}", "error", 0.0, 1.0, False, f"{HOSTILE}: raised"),
        CheckResult("g/secret", "g", "failed", 0.0, 1.0, True, f"called g(1)\nhint: {HOSTILE}"),
        CheckResult("g/later", "g", "skipped", 0.0, 1.0, True, "hidden check: runs at grading time"),
        CheckResult("g/ok", "g", "passed", 1.0, 1.0, False, ""),
    )
    return GradeReport(
        "conv-arithmetic", f"{HOSTILE}.ipynb", "graded", 1.0, 6.0, checks, message=f"1 cell failed: {HOSTILE}",
        cells=(CellLog(0, "error", HOSTILE, error=f"RuntimeError: {HOSTILE}", output=f"{HOSTILE}\n" * 3),),
        sandbox="bwrap",
    )


def raw_controls(text: str) -> set[str]:
    """The characters of `text` a terminal or a reader could be fooled by, but "\\n"."""
    return {c for c in text if c != "\n" and (unicodedata.category(c) in ("Cc", "Cs") or visible(c) != c)}


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("\x1b[2J", "\\x1b[2J"),
        ("\x1b]0;pwned\x07", "\\x1b]0;pwned\\x07"),
        ("\r", "\\x0d"),
        ("\x00", "\\x00"),
        ("\x08", "\\x08"),
        ("\x0b\x0c", "\\x0b\\x0c"),
        ("\x7f", "\\x7f"),
        ("\x80\x9b\x9f", "\\x80\\x9b\\x9f"),
        ("\u202a\u202e", "\\u202a\\u202e"),
        ("\u2066\u2069", "\\u2066\\u2069"),
        ("\u200e\u200f\u061c", "\\u200e\\u200f\\u061c"),
        ("\ufffe\uffff", "\\ufffe\\uffff"),
        ("\ud800\udfff", "\\ud800\\udfff"),
    ],
)
def test_visible_escapes_what_could_fool(raw: str, shown: str) -> None:
    assert visible(raw) == shown


def test_visible_keeps_ordinary_text() -> None:
    text = "line 1\n\tcafé 漢字 🙂 ✓ ✗ \u00a0 \\x1b literal"
    assert visible(text) is text


def test_visible_output_has_no_control_and_is_valid_xml_and_utf8() -> None:
    every = "".join(chr(c) for c in range(0x110000))
    shown = visible(every + HOSTILE)
    assert all(c in "\n\t" or unicodedata.category(c) not in ("Cc", "Cs") for c in shown)
    shown.encode("utf-8")
    ET.fromstring(f"<a>{escape(shown)}</a>")


def test_visible_handles_large_text_whole() -> None:
    clean = "é漢 ordinary text\n" * 6000
    dirty = "\x1b[31mred\x1b[0m\r\u202e" * 10000
    assert visible(clean) == clean  # nothing to change: the same text, whatever its size
    shown = visible(dirty)
    assert not raw_controls(shown) and shown.count("red") == 10000


def test_valid_unicode_replaces_lone_surrogates_only() -> None:
    assert valid_unicode("a\ud800b\udfffc") == "a\ufffdb\ufffdc"
    assert valid_unicode("\x1b é 🙂") == "\x1b é 🙂"
    valid_unicode(HOSTILE).encode("utf-8")


def test_the_shared_hostile_text_is_shown_escaped() -> None:
    assert visible(HOSTILE) == SHOWN
    assert raw_controls(HOSTILE) and not raw_controls(SHOWN)


def test_one_line_shows_line_breaks_too() -> None:
    assert one_line("bad\nname\r.ipynb\x1b") == "bad\\nname\\x0d.ipynb\\x1b"
    assert one_line("a\u2028b\u2029c") == "a\\u2028b\\u2029c"
    every = "".join(chr(c) for c in range(0x110000))
    assert len(one_line(every).splitlines()) == 1  # no line break of any kind is left


def test_each_line_of_the_reports_message_is_under_its_marker() -> None:
    from grader.text_report import render

    forged = "cell 1 failed\n  \u2713 conv_params   6 / 6\n\u2028      \u2713 f/one (passed)\n16 of 16 checks passed"
    for status in ("graded", "error"):
        report = GradeReport("conv-arithmetic", "a.py", status, 0.0, 1.0, (), message=forged)
        lines = render(report).splitlines()
        assert lines[1].startswith(("  ! cell 1 failed", "  nothing could be graded: cell 1 failed"))
        assert lines[2:6] == ["    \u2713 conv_params   6 / 6", "    ", "    \u2713 f/one (passed)",
                              "    16 of 16 checks passed"]
