"""Reading a submission: a notebook, or a module that becomes one (one path for both).

The file is the student's and may be anything: a FIFO or a device (checked before it is
opened, and opened without blocking), binary, or JSON shaped to break a reader. Whatever is
wrong with it becomes a `SubmissionError` that says what, never another exception. Only what
the grader reads is validated (nbformat, the cells, their types and sources, the metadata):
outputs, attachments and cell ids may have any shape, so real notebooks keep loading.

A module is read as Python reads a file (a UTF-8 BOM, a PEP 263 coding line, else UTF-8). One that
Python itself cannot read (NUL bytes, bytes its encoding does not have) is the student's code being
broken, not the grader being unable to read it: it is graded, none of it runs, and the report says
why (`Submission.compile_problem`), as `python module.py` would.
"""

from __future__ import annotations

import ast
import io
import json
import os
import re
import stat
import tokenize
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .cell_errors import defined_names
from .errors import SubmissionError, reason
from .files import LinkRefused, open_to_read
from .textsafe import valid_unicode

MAX_SUBMISSION_BYTES = 20 * 2**20
MAX_NESTING = 100
_CELL_MARKER = re.compile(r"^# ?%%.*$", re.MULTILINE)
_ASSIGNMENT_COMMENT = re.compile(r"^#\s*(?:coursegrade\s*:\s*)?assignment\s*[:=]\s*([\w-]+)", re.MULTILINE)


@dataclass(frozen=True)
class Submission:
    """A student's work as code cells, whichever form it came in."""

    path: Path
    cells: tuple[str, ...]
    declared_assignment: str | None
    compile_problem: str = ""  # why Python refuses the whole module before any line runs ("": it does not)

    @property
    def source(self) -> str:
        return "\n\n".join(self.cells)

    def top_level_names(self) -> set[str]:
        """Functions and names defined at the top of any cell; in a cell that does not parse, the
        functions and classes its `def` and `class` lines name."""
        names: set[str] = set()
        for cell in self.cells:
            try:
                tree = ast.parse(cell)
            except SyntaxError:
                names.update(defined_names(cell))
                continue
            for node in tree.body:
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                    names.add(node.name)
                elif isinstance(node, ast.Assign):
                    names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        return names

    def as_notebook(self) -> dict[str, Any]:
        """A plain nbformat-4 notebook with just the code cells, to execute."""
        return {
            "nbformat": 4,
            "nbformat_minor": 5,
            "metadata": {},
            "cells": [
                {"cell_type": "code", "id": f"cell-{i}", "metadata": {}, "execution_count": None,
                 "outputs": [], "source": source}
                for i, source in enumerate(self.cells)
            ],
        }

    def write_notebook(self, path: Path) -> None:
        path.write_text(json.dumps(self.as_notebook()))


def load_submission(path: Path) -> Submission:
    """The submission at `path`, or a SubmissionError that says what is wrong with it."""
    _check_file(path)
    data = _read(path)
    if path.suffix == ".py":
        return _module(path, data)
    return _notebook(path, _decode(path, data))


def _check_file(path: Path) -> None:
    """A regular file of a kind and size we grade (told before it is opened: opening a device may
    do something)."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise SubmissionError.missing(path) from None
    except (OSError, ValueError) as error:
        raise SubmissionError(f"cannot read {path}: {reason(error)}") from None
    if stat.S_ISDIR(info.st_mode):
        raise SubmissionError(f"{path} is a folder; give a notebook or a .py file (or use 'grade batch')")
    if path.suffix not in (".ipynb", ".py"):
        raise SubmissionError.unsupported(path)
    if not stat.S_ISREG(info.st_mode):
        raise SubmissionError(f"{path} is not a regular file ({_kind(info.st_mode)})")
    if info.st_size > MAX_SUBMISSION_BYTES:
        raise SubmissionError(f"{path} is larger than {MAX_SUBMISSION_BYTES // 2**20} MiB")


def _read(path: Path) -> bytes:
    """The file's bytes, opened without blocking and checked again once open (it may have changed).
    A link on its path is followed only when root or the user grading made it (grader/files.py): a
    student's link to a classmate's file, or to one only the grader may read, is refused."""
    try:
        fd = open_to_read(path)
    except LinkRefused as refused:
        raise SubmissionError(f"cannot read {path}: {refused}") from None
    except OSError as error:
        raise SubmissionError(f"cannot read {path}: {reason(error)}") from None
    with open(fd, "rb") as file:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise SubmissionError(f"{path} is not a regular file ({_kind(mode)})")
        try:
            data = file.read(MAX_SUBMISSION_BYTES + 1)
        except OSError as error:
            raise SubmissionError(f"cannot read {path}: {reason(error)}") from None
    if len(data) > MAX_SUBMISSION_BYTES:
        raise SubmissionError(f"{path} is larger than {MAX_SUBMISSION_BYTES // 2**20} MiB")
    return data


def _decode(path: Path, data: bytes) -> str:
    if b"\0" in data:
        raise SubmissionError(f"{path} holds NUL bytes; a notebook is text")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise SubmissionError(f"{path} is not UTF-8 text") from None


def _kind(mode: int) -> str:
    kinds = ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
             (stat.S_ISBLK, "a block device"))
    return next((name for test, name in kinds if test(mode)), "not a plain file")


def _module(path: Path, data: bytes) -> Submission:
    text, problem = python_source(data)
    if problem:  # nothing of it runs; the `# assignment:` comment is the grader's, read all the same
        return Submission(path, (), _declared(data.decode("utf-8", errors="replace")),
                          f"Python cannot read this module, so none of it ran: {problem}")
    cells = [c.strip("\n") for c in _CELL_MARKER.split(text)]
    cells = [c for c in cells if c.strip()] or [""]
    return Submission(path, tuple(cells), _declared(text))


def _declared(text: str) -> str | None:
    found = _ASSIGNMENT_COMMENT.search(text)
    return found.group(1) if found else None


def python_source(data: bytes) -> tuple[str, str]:
    """A module's text as Python reads a file: a UTF-8 BOM, else the encoding its PEP 263 coding line
    declares, else UTF-8; and "" or why Python cannot read it (it would raise a SyntaxError before
    running any line)."""
    try:
        encoding, declared = tokenize.detect_encoding(io.BytesIO(data).readline)[0], ""
    except SyntaxError as error:  # an unknown encoding declared, or first lines that are not UTF-8
        encoding, declared = "utf-8", error.msg
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        byte = data[error.start:error.start + 1].hex()
        shown = encoding.removesuffix("-sig").upper()
        return "", f"line {line} is not {shown} text (byte 0x{byte}); save the file as UTF-8"
    if declared:
        return "", f"{declared}; save the file as UTF-8"
    if "\0" in text:
        line = text[: text.index("\0")].count("\n") + 1
        return "", f"line {line} holds a NUL byte: source code cannot contain null bytes"
    return text, ""


def _notebook(path: Path, text: str) -> Submission:
    try:
        return _read_notebook(path, _parse(text))
    except _Malformed as problem:
        raise SubmissionError.not_a_notebook(path, str(problem)) from None


class _Malformed(Exception):
    """What is wrong with a notebook's JSON, in words (becomes a SubmissionError)."""


def _parse(text: str) -> dict[str, Any]:
    if not text.strip():
        raise _Malformed("the file is empty")
    try:
        data = json.loads(text)
    except RecursionError:
        raise _Malformed(f"its JSON is nested more than {MAX_NESTING} levels deep") from None
    except ValueError as error:
        raise _Malformed(f"not valid JSON: {error}") from None
    if nesting_depth(data, MAX_NESTING) > MAX_NESTING:
        raise _Malformed(f"its JSON is nested more than {MAX_NESTING} levels deep")
    if not isinstance(data, dict):
        raise _Malformed(f"the top level holds {_kind_of(data)}, not an object")
    version = data.get("nbformat")
    if type(version) is not int or version != 4:
        raise _Malformed(f"nbformat {version!r}; version 4 is needed")
    return data


def nesting_depth(value: Any, limit: int) -> int:
    """How deeply lists and dicts nest in `value` (a scalar is 0), counted without recursion;
    the count stops as soon as it passes `limit`."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if not isinstance(item, dict | list):
            continue
        deepest = max(deepest, depth)
        if deepest > limit:
            break
        stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def _read_notebook(path: Path, data: dict[str, Any]) -> Submission:
    cells = data.get("cells")
    if not isinstance(cells, list):
        raise _Malformed("no list of cells" if cells is None else f"cells holds {_kind_of(cells)}, not a list")
    metadata = data.get("metadata", {})
    if not isinstance(metadata, dict):
        raise _Malformed(f"metadata holds {_kind_of(metadata)}, not an object")
    read = [_cell(number, cell) for number, cell in enumerate(cells, start=1)]
    code = tuple(source for kind, source in read if kind == "code")
    ours = metadata.get("coursegrade")
    declared = ours.get("assignment") if isinstance(ours, dict) else None
    return Submission(path, code, declared if isinstance(declared, str) else None)


def _cell(number: int, cell: Any) -> tuple[str, str]:
    """A cell's type and its source as one string, once their shapes are checked (cells are
    numbered from 1)."""
    if not isinstance(cell, dict):
        raise _Malformed(f"cell {number} holds {_kind_of(cell)}, not an object")
    kind = cell.get("cell_type")
    if not isinstance(kind, str):
        raise _Malformed(f"cell {number}: cell_type holds {_kind_of(kind)}, not text")
    if not isinstance(cell.get("metadata", {}), dict):
        raise _Malformed(f"cell {number}: metadata holds {_kind_of(cell['metadata'])}, not an object")
    if "source" not in cell:
        raise _Malformed(f"cell {number} has no source")
    source = _source(number, cell["source"])
    if kind == "code":
        _check_code(number, source)
    return kind, source


def _source(number: int, source: Any) -> str:
    """nbformat's multiline string: text, or a list of lines."""
    if isinstance(source, list):
        odd = [line for line in source if not isinstance(line, str)]
        if odd:
            raise _Malformed(f"cell {number}: source is a list holding {_kind_of(odd[0])}, not only text")
        return "".join(source)
    if not isinstance(source, str):
        raise _Malformed(f"cell {number}: source holds {_kind_of(source)}, not text")
    return source


def _check_code(number: int, source: str) -> None:
    """Code the grader parses and runs: no NUL, no lone surrogate (neither is Python)."""
    if "\0" in source:
        raise _Malformed(f"cell {number}: source holds a NUL character")
    if valid_unicode(source) != source:
        raise _Malformed(f"cell {number}: source holds a lone surrogate, which is not text")


def _kind_of(value: Any) -> str:
    """What a JSON value is, in words."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    kinds = ((str, "text"), (int, "a number"), (float, "a number"), (dict, "an object"), (list, "a list"))
    return next((name for kind, name in kinds if isinstance(value, kind)), type(value).__name__)
