"""Text that came from a student's process, made safe to show and to store.

Student code is an adversary: anything it prints, returns or raises may hold characters that
fool a terminal (ESC sequences that retitle the window or write the clipboard, "\\r" that
overwrites a line), a reader (bidi overrides that reverse what is shown) or a file format
(XML 1.0 forbids most control characters; a lone surrogate cannot be encoded as UTF-8).

    valid_unicode(text)   lone surrogates become U+FFFD: any string can then be encoded as UTF-8
    visible(text)         every such character shown as an escape ("\\x1b", "\\u202e"); the result
                          is also valid UTF-8 and valid XML 1.0 character data
    one_line(text)        `visible`, with line breaks shown too ("\\n", "\\u2028"): for a one-line message
"""

from __future__ import annotations

import re

_SURROGATE = re.compile("[\ud800-\udfff]")

# C0 controls but "\t" and "\n", DEL, C1 controls, bidi embeddings/overrides/isolates/marks,
# the non-characters U+FFFE and U+FFFF, and lone surrogates.
_HIDDEN = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f"
    "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
    "\ufffe\uffff\ud800-\udfff]"
)


def _escape(found: re.Match[str]) -> str:
    code = ord(found.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: str) -> str:
    """`text` with every control, bidi-control, non-character and lone surrogate as an escape."""
    if _HIDDEN.search(text) is None:
        return text
    return _HIDDEN.sub(_escape, text)


def valid_unicode(text: str) -> str:
    """`text` with each lone surrogate replaced by U+FFFD, so that it encodes as UTF-8."""
    if _SURROGATE.search(text) is None:
        return text
    return _SURROGATE.sub("\ufffd", text)


_BREAKS = str.maketrans({"\n": "\\n", "\u2028": "\\u2028", "\u2029": "\\u2029"})  # those `visible` keeps


def one_line(text: str) -> str:
    """`visible(text)` on one line: each line break `str.splitlines` knows shown as an escape, "\\n"
    too (e.g. a file name in an error, a cell's first line in the report's message)."""
    return visible(text).translate(_BREAKS)
