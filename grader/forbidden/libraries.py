"""The few names of libraries the "must not call" reader does not know, each allowed for one use.

timeit's timers given a function of the notebook's, scikit-learn's load_digits given constants, a
pandas table only shown: common in honest demo cells, and, used so, they run no code the reader cannot
see. Anything else of those libraries can run code given as text (`df.eval`, `timeit.timeit("...")`)
and is reported as a route the reader cannot follow (grader/forbidden/anywhere.py).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Sequence
from typing import Any

from .hazards import Hazards
from .syntax import NO_SCOPE, Scope

# Libraries the reader does not know, of which it knows these names only, each for one use:
# "timer": called on the spot with a function of the notebook's (a lambda, a def, functools.partial), which it
#     calls there and keeps nowhere (timeit.timeit(stmt) with stmt not text: its own template, compiled by
#     timeit, calls it); "value": used in any way (timeit.default_timer is time.perf_counter); "data": called
#     with constants, giving arrays and text (load_digits reads the digits shipped with scikit-learn, no
#     DataFrame without as_frame); "shown": called, and the table only shown (printed, displayed, named for
#     that): a pandas object runs text as code (df.eval, df.query, df.agg("query", ...)).
LIBRARY_NAMES = {
    "timeit.timeit": "timer", "timeit.repeat": "timer", "timeit.default_timer": "value",
    "sklearn.datasets.load_digits": "data",
    "pandas.DataFrame": "shown", "pandas.Series": "shown",
}
LIBRARY_ROOTS = frozenset(name.split(".")[0] for name in LIBRARY_NAMES)
TIMER_KEYWORDS = frozenset({"stmt", "setup", "number", "repeat"})
DIGITS_KEYWORDS = frozenset({"n_class", "return_X_y", "as_frame"})
SHOWING = frozenset({"print", "str", "repr", "display"})


class Libraries(Hazards):
    """Uses of LIBRARY_NAMES: each as its one use allows, or not."""

    def __init__(self, cells: Sequence[str]) -> None:
        super().__init__(cells)
        self.tables: dict[Any, tuple[Scope, Any]] = {}  # Libraries._table's memo, scopes kept alive

    def _library_use(self, path: str, node: ast.AST, scope: Scope) -> Iterator[tuple[str, str]]:
        """(what, message) when a library the reader does not know is used otherwise than LIBRARY_NAMES says."""
        use = LIBRARY_NAMES.get(path)
        parent = self.parents.get(id(node))
        if use is None and isinstance(parent, ast.Attribute) and node is parent.value \
                and any(name.startswith(f"{path}.") for name in LIBRARY_NAMES):
            return  # `pd` in `pd.DataFrame`: the attribute is judged itself
        if use == "value" or (use is not None and self._called(node) and isinstance(parent, ast.Call)
                              and self._library_arguments(use, parent, scope)):
            return
        root = path.split(".")[0]
        known = ", ".join(n for n in LIBRARY_NAMES if n.startswith(f"{root}."))
        yield path, (f"{path} (`{self._text_around(node)}`): of {root}, the reader knows only {known}, "
                     "as the grader's documentation says; anything else can reach any function unseen")

    def _library_arguments(self, use: str, call: ast.Call, scope: Scope) -> bool:
        """Are `call`'s arguments what a library name's use allows (see LIBRARY_NAMES)?"""
        named = {k.arg: k.value for k in call.keywords}
        if None in named:
            return False  # **options
        if use == "timer":
            if len(call.args) > 1 or not set(named) <= TIMER_KEYWORDS or (call.args and "stmt" in named):
                return False
            return all(self._known_function(f, scope) for f in [*call.args, named.get("stmt"), named.get("setup")] if f)
        if use == "data":
            values = [*call.args, *named.values()]
            return len(call.args) <= 1 and set(named) <= DIGITS_KEYWORDS and all(
                isinstance(v, ast.Constant) for v in values) and not getattr(named.get("as_frame"), "value", False)
        return True  # "shown": what is done with the table is judged where it is used (Libraries._shown)

    def _known_function(self, node: ast.AST, scope: Scope) -> bool:
        """A function the notebook writes (a lambda, a def, functools.partial(...)): never text."""
        if isinstance(node, ast.Lambda):
            return True
        if isinstance(node, ast.Call):
            return self.paths(node.func, scope) == {"functools.partial"}
        if isinstance(node, ast.Name):
            bindings = scope[node.id] if node.id in scope else self.bindings.get(node.id, [])
            return bool(bindings) and all(isinstance(b, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
                                          for b in bindings)
        return False

    def _timing(self, node: ast.AST) -> bool:
        """The function timeit.timeit or timeit.repeat is given to call on the spot (stmt or setup)?"""
        parent = self.parents.get(id(node))
        if isinstance(parent, ast.keyword):
            if parent.arg not in ("stmt", "setup"):
                return False
            parent = self.parents.get(id(parent))
        elif not (isinstance(parent, ast.Call) and parent.args[:1] == [node]):
            return False
        return isinstance(parent, ast.Call) and node is not parent.func and self._trusted(parent.func) and any(
            LIBRARY_NAMES.get(p) == "timer" for p in self.paths(parent.func, {}))

    def _table(self, node: ast.AST, scope: Scope) -> bool:
        """Is `node`'s value a pandas object (a table LIBRARY_NAMES allows only to be shown)?"""
        if isinstance(node, ast.Call):
            return any(LIBRARY_NAMES.get(p) == "shown" for p in self.paths(node.func, scope))
        if not isinstance(node, ast.Name):
            return False
        local = node.id in scope
        inner = scope if local else NO_SCOPE
        bindings = scope[node.id] if local else self.bindings.get(node.id, [])
        return bool(self._settled(self.tables, ("table", id(inner), node.id), inner, lambda: any(
            isinstance(b, ast.expr) and self._table(b, inner) for b in bindings), False, lambda found: True))

    def _shown(self, node: ast.AST) -> bool:
        """Is a table only shown here: printed, displayed, formatted, a cell's result, or named for that?"""
        parent = self.parents.get(id(node))
        if isinstance(parent, ast.Expr | ast.FormattedValue):
            return True
        if isinstance(parent, ast.Assign | ast.AnnAssign) and node is parent.value:
            targets = parent.targets if isinstance(parent, ast.Assign) else [parent.target]
            return all(isinstance(t, ast.Name) for t in targets)  # the names are judged where they are used
        if isinstance(parent, ast.Call) and node in parent.args:
            return self._builtin(parent.func, {}) in SHOWING or (self._trusted(parent.func) and self.paths(
                parent.func, {}) == {"IPython.display.display"})
        return False


def library_import(node: ast.Import | ast.ImportFrom, module: str) -> Iterator[tuple[str, str]]:
    """(what, message) for an import from a library of LIBRARY_NAMES that binds a name it does not allow."""
    bound = [f"{module}.{a.name}" for a in node.names] if isinstance(node, ast.ImportFrom) else [module]
    for path in [module, *bound]:
        if not any(name == path or name.startswith(f"{path}.") for name in LIBRARY_NAMES):
            root = module.split(".")[0]
            known = ", ".join(n for n in LIBRARY_NAMES if n.startswith(f"{root}."))
            yield f"import {path}", (f"import {path}: of {root}, the reader knows only {known}; anything else "
                                     "can reach any function unseen")
            return
