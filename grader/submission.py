"""Reading a submission: a notebook, or a module that becomes one (one path for both)."""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import SubmissionError

MAX_SUBMISSION_BYTES = 20 * 2**20
_CELL_MARKER = re.compile(r"^# ?%%.*$", re.MULTILINE)
_ASSIGNMENT_COMMENT = re.compile(r"^#\s*(?:coursegrade\s*:\s*)?assignment\s*[:=]\s*([\w-]+)", re.MULTILINE)


@dataclass(frozen=True)
class Submission:
    """A student's work as code cells, whichever form it came in."""

    path: Path
    cells: tuple[str, ...]
    declared_assignment: str | None

    @property
    def source(self) -> str:
        return "\n\n".join(self.cells)

    def top_level_names(self) -> set[str]:
        """Functions and names defined at the top of any cell that parses."""
        names: set[str] = set()
        for cell in self.cells:
            try:
                tree = ast.parse(cell)
            except SyntaxError:
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
    if not path.exists():
        raise SubmissionError.missing(path)
    if path.is_dir():
        raise SubmissionError(f"{path} is a folder; give a notebook or a .py file (or use 'grade batch')")
    if path.suffix not in (".ipynb", ".py"):
        raise SubmissionError.unsupported(path)
    if path.stat().st_size > MAX_SUBMISSION_BYTES:
        raise SubmissionError(f"{path} is larger than {MAX_SUBMISSION_BYTES // 2**20} MiB")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise SubmissionError(f"{path} is not UTF-8 text") from None
    if path.suffix == ".py":
        return _module(path, text)
    return _notebook(path, text)


def _module(path: Path, text: str) -> Submission:
    cells = [c.strip("\n") for c in _CELL_MARKER.split(text)]
    cells = [c for c in cells if c.strip()] or [""]
    found = _ASSIGNMENT_COMMENT.search(text)
    return Submission(path, tuple(cells), found.group(1) if found else None)


def _notebook(path: Path, text: str) -> Submission:
    try:
        data = json.loads(text)
    except ValueError as error:
        raise SubmissionError.not_a_notebook(path, f"not valid JSON: {error}") from None
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        raise SubmissionError.not_a_notebook(path, "no list of cells")
    if data.get("nbformat") != 4:
        raise SubmissionError.not_a_notebook(path, f"nbformat {data.get('nbformat')!r}; version 4 is needed")
    cells = []
    for cell in data["cells"]:
        if isinstance(cell, dict) and cell.get("cell_type") == "code":
            source = cell.get("source", "")
            cells.append("".join(source) if isinstance(source, list) else str(source))
    metadata = data.get("metadata")
    ours = metadata.get("coursegrade") if isinstance(metadata, dict) else None
    declared = ours.get("assignment") if isinstance(ours, dict) else None
    return Submission(path, tuple(cells), declared if isinstance(declared, str) else None)
