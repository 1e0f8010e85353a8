"""A failed cell in the words a student needs: which cell, which line, what went wrong, and what
it means for the checks (the functions it defines are missing, so their checks fail too)."""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Sequence

from .model import CellLog
from .textsafe import one_line

_CELL_LINE = re.compile(r"Cell In\[\d+\], line (\d+)")
_ARROW = re.compile(r"^\s*-+>\s*(\d+)\s?(.*)$")
_DEF = re.compile(r"^(?:async\s+)?def\s+(\w+)|^class\s+(\w+)", re.MULTILINE)
_MISSING_MODULE = re.compile(r"No module named '([\w.]+)'")
GRADER_PACKAGES = ("torch", "numpy", "scipy", "sklearn", "matplotlib", "pandas")


def failing_line(error: str) -> tuple[int, str] | None:
    """The line number (in its cell) and text of the line that failed, from IPython's traceback."""
    found = list(_CELL_LINE.finditer(error))
    if not found:
        return None
    number, after = int(found[-1].group(1)), error[found[-1].end():].splitlines()[1:]
    arrows = [m for line in after if (m := _ARROW.match(line))]
    text = arrows[-1].group(2) if arrows else next((line for line in after if line.strip()), "")
    return number, text.strip()


def defined_names(source: str) -> list[str]:
    """The functions and classes a cell defines at its top level (read even when it does not parse)."""
    return [a or b for a, b in _DEF.findall(source)]


def installed_packages() -> list[str]:
    """The packages notebooks can import where they are graded (the grader's environment)."""
    return [name for name in GRADER_PACKAGES if importlib.util.find_spec(name) is not None]


def cell_problem(cells: Sequence[CellLog], sources: Sequence[str]) -> str:
    """The first failed cell, described cause first, as one line (the report's message: a cell's
    first line, as the child sent it, could forge more); "" when every cell ran."""
    broken = [c for c in cells if c.status != "ok"]
    if not broken:
        return ""
    first = broken[0]
    error = first.error.strip()
    reason = error.splitlines()[-1] if error else f"stopped ({first.status})"
    where = f"code cell {first.index + 1}"
    line = failing_line(error)
    if line is not None:
        where += f", line {line[0]}" + (f": `{line[1]}`" if line[1] else "")
    else:
        where += f" ({first.source_head.strip()})"
    text = f"{where} failed: {reason}"
    missing = _MISSING_MODULE.search(reason)
    if missing:
        text += (f" (where notebooks are graded there is {', '.join(installed_packages())}; "
                 f"{missing.group(1)} is not installed)")
    names = defined_names(sources[first.index]) if first.index < len(sources) else []
    if names:
        text += f"; fix it first: {', '.join(names)} defined there {'is' if len(names) == 1 else 'are'} missing"
    if len(broken) > 1:
        text += f" ({len(broken) - 1} more cell{'s' * (len(broken) > 2)} failed after it)"
    return one_line(text)
