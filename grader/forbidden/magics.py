"""A notebook's cells parsed for the "must not call" reader, IPython's magics and shell commands included.

IPython turns `%line` and `%%cell` magics and `!commands` into calls of get_ipython() before it runs a
cell. The code a magic is given as text (`%time f(x)`, `%timeit`, `%config`'s value, `%pinfo`'s
expression) is parsed as a cell of its own, so that it is read like the rest; a magic or a shell command
whose code cannot be read is kept as a problem for the rule to report.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Sequence

# IPython magics as IPython turns them into Python: those that run code given as text are read as code
CODE_MAGICS = frozenset({"time", "timeit", "prun", "capture"})
SAFE_MAGICS = frozenset({"matplotlib", "autoreload", "env", "pwd", "who", "whos", "precision"})
# IPython evaluates what names or expressions an object (`%pinfo d[F.conv2d]` calls d.__getitem__ with F.conv2d)
NAMING_MAGICS = frozenset({"pinfo", "pinfo2", "pdoc", "pdef"})
# every other magic has `$name` and `{expression}` in its line evaluated by IPython (var_expand) before it runs
NO_VAR_EXPAND = frozenset({"timeit", "prun"})
# `%config Class.trait = value` runs `cfg.` + its text as Python in the notebook's namespace; these traits only
SAFE_CONFIG = re.compile(r"\s*(?:InlineBackend\.figure_formats?|(?:IP)?Completer\.use_jedi)\s*=.*")
_MAGIC_OPTIONS = re.compile(r"^(?:\s*-(?:[nrp]\s+\S+|\w+))*")  # %timeit -n 10 -q
_PLAIN_INSTALL = re.compile(r"\s*(?:pip3?|conda)\s+install(?:\s+(?:-i|--(?:extra-)?index-url)\s+\S+|\s+-[-\w]+)*"
                            r"(?:\s+[A-Za-z0-9_.\[\]=<>~,-]+)+(?:\s+(?:-i|--(?:extra-)?index-url)\s+\S+|\s+-[-\w]+)*\s*")


def _parse(cell: str) -> ast.Module | None:
    """A cell's syntax tree; IPython magics are turned into Python first when plain parsing fails."""
    try:
        return ast.parse(cell)
    except SyntaxError:
        pass
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        return ast.parse(TransformerManager().transform_cell(cell))
    except Exception:  # a cell that does not parse cannot define anything either
        return None


def _magic(node: ast.AST) -> tuple[str, str, list[str]] | None:
    """("magic", name, texts) for `get_ipython().run_line_magic(name, ...)`/`run_cell_magic`, ("system", "",
    [command]) for a shell command; None for anything else."""
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Call) and isinstance(node.func.value.func, ast.Name)
            and node.func.value.func.id == "get_ipython"):
        return None
    texts = [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
    if len(texts) != len(node.args):
        return "magic", "(computed)", []
    if node.func.attr in ("run_line_magic", "run_cell_magic") and texts:
        return "magic", texts[0], texts[1:]
    if node.func.attr in ("system", "getoutput"):
        return "system", "", texts
    return None  # any other use of the shell: Source.unreadable() tells it


class ParsedCells:
    """The cells' syntax trees, the code their magics give as text among them, and what could not be read."""

    def __init__(self, cells: Sequence[str]) -> None:
        self.trees: list[ast.Module] = []
        self.magic_problems: list[tuple[str, str]] = []
        self.magic_calls: set[int] = set()  # ids of the get_ipython() calls of the magics read here
        for cell in cells:
            self._read(cell)

    def _read(self, cell: str) -> bool:
        """Parse a cell (False if it does not parse) and the code its magics give as text."""
        tree = _parse(cell)
        if tree is None:
            return False
        self.trees.append(tree)
        for node in ast.walk(tree):
            magic = _magic(node)
            if magic is not None:
                self.magic_calls.add(id(node.func.value))  # type: ignore[attr-defined]
                problem = self._read_magic(*magic)
                if problem is not None:
                    self.magic_problems.append(problem)
        return True

    def _read_magic(self, kind: str, name: str, texts: list[str]) -> tuple[str, str] | None:
        """Read the code a magic runs; (what, message) for one whose code cannot be read."""
        if kind == "system":
            command = texts[0][:40] if texts else ""
            if _PLAIN_INSTALL.fullmatch(texts[0] if texts else ""):
                return None
            return f"!{command}", f"the shell command `!{command}`, which can run code unseen"
        if name not in NO_VAR_EXPAND and any(c in (texts or [""])[0] for c in "{$"):
            return f"%{name}", (f"the magic %{name} with `{{...}}` or `$` in its line, which IPython evaluates as "
                                "code unseen")
        if name in SAFE_MAGICS or (name == "load_ext" and [t.strip() for t in texts] == ["autoreload"]) or (
                name in ("pip", "conda") and _PLAIN_INSTALL.fullmatch(" ".join([name, *texts[:1]]))):
            return None
        if name == "config" and len(texts) == 1 and ("=" not in texts[0] or SAFE_CONFIG.fullmatch(texts[0])):
            return None if "=" not in texts[0] or self._read(f"cfg.{texts[0].strip()}") else (
                "%config", "the magic %config, which can run code unseen")
        if name in NAMING_MAGICS and len(texts) == 1 and self._read(texts[0]):
            return None
        if name in CODE_MAGICS:
            codes = texts[-1:] if name == "capture" else [_MAGIC_OPTIONS.sub("", t, count=1) for t in texts]
            if all(self._read(code) for code in codes if code.strip()):
                return None
        return f"%{name}", f"the magic %{name}, which can run code unseen"
