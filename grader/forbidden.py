"""The "must not call" rule, read from the submitted source, in the grader.

The runtime guard in probe.py sees what a function really called on the checks' inputs; this
reads what it could call: the exercise's function, the top-level functions, classes and names
it reaches, and the imports they use, with aliases followed (`from torch.nn.functional import
conv2d as c`, `G = F`, `getattr(F, "conv2d")`). A name is forbidden when it resolves to the
same object as a forbidden one, so `torch.conv2d`, `F.conv2d` and `torch.nn.modules.conv.F.conv2d`
are one. What cannot be read statically (a computed getattr, eval, exec, __import__, globals,
torch internals, `getattr` passed as a value as in `functools.reduce(getattr, ["conv2d"], F)`,
`operator.attrgetter`, the thread and process starters underneath `threading`) is flagged too: a
rule that can be dodged by spelling is no rule. So is any use, anywhere in the notebook, of the
grader's probe or torch's dispatch switches, which could switch the runtime guard off.

Forbidden names are dotted paths from `torch` ("torch.nn.functional.conv2d", "torch.nn.Conv2d"),
aten operators ("aten.convolution"), which only the runtime guard can see being called, or a
family ("family.convolution", grader/families.py): a rule on one name of a family covers all of
it, torch's functions of that family in every namespace (`torch.nn.grad.conv2d_weight`,
`torch.mkldnn_convolution`) and numpy's and scipy's routines that compute it
(`numpy.convolve`, `scipy.signal.correlate2d`, `scipy.ndimage.maximum_filter`).
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterator, Sequence
from typing import Any

from .families import (
    FAMILY_PREFIX,
    OPERATORS,
    PYTHON_EXTRAS,
    PYTHON_NAMESPACES,
    array_routine_family,
    family_of,
)

UNCHECKABLE_CALLS = {
    "eval": "eval(...)",
    "exec": "exec(...)",
    "compile": "compile(...)",
    "__import__": "__import__(...)",
    "globals": "globals()",
    "locals": "locals()",
    "vars": "vars(...)",
}
UNCHECKABLE_PATHS = ("importlib", "sys.modules", "builtins", "ctypes",  # and whatever is under them
                     "_thread", "_posixsubprocess", "threading._")  # a thread or process out of the watch
COMPUTED_ACCESS = ("operator.attrgetter", "operator.methodcaller")

# The student's own self-check cell (`import grader; grader.check()`, grader/notebook.py): it runs
# public checks in their kernel and does nothing while the notebook is graded; it is not tampering.
SELF_CHECK = frozenset({"grader.check"})


@functools.lru_cache(maxsize=64)
def violations(cells: tuple[str, ...], function: str, forbidden: tuple[str, ...]) -> tuple[str, ...]:
    """What `function` (and what it reaches) uses that `forbidden` rules out, in words; () if nothing."""
    names = tuple(n for n in forbidden if not n.startswith(("aten.", FAMILY_PREFIX)))
    families = frozenset(filter(None, map(family_of, forbidden)))
    if not names and not families:
        return ()
    source = _Source([tree for cell in cells if (tree := _parse(cell)) is not None])
    if function not in source.bindings:
        return (f"no definition of {function} could be read in the source, so the rule cannot be checked",)
    targets = _forbidden_objects((*names, *family_names(families)))
    found = {what: f"{what} in the notebook: the grader's probe or torch's dispatch switches can hide calls"
             for what in source.tampering()}
    for node, scope in source.reachable(function):
        for what, message in source.problems(node, scope, targets, families):
            if not any(known.startswith(f"{what}.") for known in found):  # torch.ops after torch.ops.aten
                found.setdefault(what, message)
    return tuple(found.values())


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


def _forbidden_objects(names: Sequence[str]) -> dict[int, str]:
    """id of each forbidden object -> the first name that denotes it."""
    found: dict[int, str] = {}
    for name in names:
        target = _lookup(name)
        if target is not None:
            found.setdefault(id(target), name)
    return found


@functools.lru_cache(maxsize=8)
def family_names(families: frozenset[str]) -> tuple[str, ...]:
    """torch's public functions and classes of `families`, by name, in every namespace that has them."""
    found = [name for family in sorted(families) for name in PYTHON_EXTRAS[family]]
    for namespace in PYTHON_NAMESPACES:
        value = _lookup(namespace)
        for attribute in dir(value) if value is not None else ():
            if not attribute.startswith("_") and any(OPERATORS[f].search(attribute.lower()) for f in families):
                found.append(f"{namespace}.{attribute}")
    return tuple(found)


def _lookup(path: str) -> Any:
    """The object a dotted path from `torch` denotes in the grader's own torch, else None."""
    parts = path.split(".")
    if parts[0] != "torch":
        return None
    import torch

    value: Any = torch
    for part in parts[1:]:
        try:
            value = getattr(value, part)
        except Exception:  # an attribute torch does not have cannot be called either
            return None
    return value


def _top_statements(body: Sequence[ast.stmt]) -> Iterator[ast.stmt]:
    """Statements run at the top level of a cell, including inside if/try/with/for blocks."""
    for statement in body:
        yield statement
        if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            continue
        for field in ("body", "orelse", "finalbody"):
            yield from _top_statements(getattr(statement, field, []))
        for handler in getattr(statement, "handlers", []):
            yield from _top_statements(handler.body)


Binding = ast.AST | str  # a definition or assigned expression, or the dotted path an import binds
Scope = dict[str, list[Binding]]


def _add(into: Scope, name: str, binding: Binding) -> None:
    known = into.setdefault(name, [])
    if binding not in known:
        known.append(binding)


def _bind(into: Scope, node: ast.AST, stars: list[str]) -> None:
    """Record what `node` binds (a definition, an assignment, an import), if anything."""
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        _add(into, node.name, node)
    elif isinstance(node, ast.Import | ast.ImportFrom):
        _bind_import(into, node, stars)
    elif isinstance(node, ast.Assign):
        for target in node.targets:
            _bind_target(into, target, node.value)
    elif isinstance(node, ast.AnnAssign | ast.AugAssign | ast.NamedExpr) and node.value is not None:
        _bind_target(into, node.target, node.value)
    elif isinstance(node, ast.For | ast.AsyncFor | ast.comprehension):
        _bind_target(into, node.target, node.iter)
    elif isinstance(node, ast.withitem) and node.optional_vars is not None:
        _bind_target(into, node.optional_vars, node.context_expr)
    elif isinstance(node, ast.ExceptHandler) and node.name:
        _add(into, node.name, node)


def _bind_target(into: Scope, target: ast.expr, value: ast.expr) -> None:
    if isinstance(target, ast.Name):
        _add(into, target.id, value)
    elif isinstance(target, ast.Tuple | ast.List):
        values = value.elts if isinstance(value, ast.Tuple | ast.List) else None
        for i, element in enumerate(target.elts):
            paired = values[i] if values is not None and len(values) == len(target.elts) else value
            _bind_target(into, element, paired)
    elif isinstance(target, ast.Starred):
        _bind_target(into, target.value, value)


def _bind_import(into: Scope, node: ast.Import | ast.ImportFrom, stars: list[str]) -> None:
    if isinstance(node, ast.Import):
        for alias in node.names:
            root = alias.name.split(".")[0]
            _add(into, alias.asname or root, alias.name if alias.asname else root)
        return
    if node.level or not node.module:
        return
    for alias in node.names:
        if alias.name == "*":
            stars.append(node.module)
        else:
            _add(into, alias.asname or alias.name, f"{node.module}.{alias.name}")


_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)


def _own_nodes(node: ast.AST) -> Iterator[ast.AST]:
    """The nodes of a function's body that belong to its own scope (not to nested functions)."""
    for child in ast.iter_child_nodes(node):
        yield child
        if not isinstance(child, _SCOPES):
            yield from _own_nodes(child)


def _locals(function: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda, stars: list[str]) -> Scope:
    """The names local to a function: its parameters (bound to nothing known) and what it assigns."""
    scope: Scope = {}
    arguments = function.args
    for arg in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs,
                *filter(None, [arguments.vararg, arguments.kwarg])]:
        scope[arg.arg] = []
    body = function.body if isinstance(function.body, list) else [function.body]
    declared_global: set[str] = set()
    for statement in body:
        for node in [statement, *_own_nodes(statement)]:
            _bind(scope, node, stars)
            if isinstance(node, ast.Global | ast.Nonlocal):
                declared_global.update(node.names)
    for name in declared_global:
        scope.pop(name, None)
    return scope


def _scoped_walk(node: ast.AST, scope: Scope, stars: list[str]) -> Iterator[tuple[ast.AST, Scope]]:
    """Every node under `node`, with the local names in force there."""
    yield node, scope
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
        scope = {**scope, **_locals(node, stars)}
    elif isinstance(node, ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp):
        inner: Scope = {}
        for generator in node.generators:
            _bind(inner, generator, stars)
        scope = {**scope, **inner}
    for child in ast.iter_child_nodes(node):
        yield from _scoped_walk(child, scope, stars)


class _Source:
    """The submission's top-level names and what they are bound to, read from every cell."""

    def __init__(self, trees: list[ast.Module]) -> None:
        self.bindings: Scope = {}
        self.stars: list[str] = []
        self.trees = trees
        for tree in trees:
            for statement in _top_statements(tree.body):
                _bind(self.bindings, statement, self.stars)
                if isinstance(statement, ast.With | ast.AsyncWith):
                    for item in statement.items:
                        _bind(self.bindings, item, self.stars)

    def tampering(self) -> list[str]:
        """Uses, anywhere, of the grader's probe or of torch's function-dispatch switches."""
        found: dict[str, str] = {}  # path -> as written
        for tree in self.trees:
            for node in ast.walk(tree):
                if isinstance(node, ast.Name) and node.id.startswith("__coursegrade"):
                    found.setdefault(node.id, node.id)
                if isinstance(node, ast.Name | ast.Attribute):
                    for path in self.paths(node, {}):
                        if path.split(".")[0] == "grader" or _dispatch_switch(path):
                            found.setdefault(path, _text(node))
        outermost = [p for p in found if not any(other.startswith(f"{p}.") for other in found)]
        return [f"`{found[p]}`" + (f" ({p})" if p != found[p] else "") for p in outermost if p not in SELF_CHECK]

    def reachable(self, function: str) -> list[tuple[ast.AST, Scope]]:
        """Every node `function` can reach through top-level names, with its local scope."""
        seen: set[int] = set()
        found: list[tuple[ast.AST, Scope]] = []
        todo: list[Binding] = list(self.bindings[function])
        while todo:
            binding = todo.pop()
            if isinstance(binding, str) or id(binding) in seen:
                continue
            seen.add(id(binding))
            for node, scope in _scoped_walk(binding, {}, self.stars):
                found.append((node, scope))
                if isinstance(node, ast.Name) and node.id not in scope:
                    todo += self.bindings.get(node.id, [])
        return found

    def paths(self, node: ast.AST, scope: Scope, depth: int = 0) -> set[str]:
        """The dotted paths an expression may denote (empty when it is not a module attribute)."""
        if depth > 30:
            return set()
        if isinstance(node, ast.Name):
            local = node.id in scope
            bindings = scope[node.id] if local else self.bindings.get(node.id, [])
            found: set[str] = set()
            for binding in bindings:
                if isinstance(binding, str):
                    found.add(binding)
                elif isinstance(binding, ast.expr):
                    found |= self.paths(binding, scope if local else {}, depth + 1)
            if not local and not bindings:
                found |= {f"{module}.{node.id}" for module in self.stars}
            return found
        if isinstance(node, ast.Attribute):
            return {f"{base}.{node.attr}" for base in self.paths(node.value, scope, depth + 1)}
        literal = _getattr_literal(node)
        if literal is not None:
            return {f"{base}.{literal[1]}" for base in self.paths(literal[0], scope, depth + 1)}
        if isinstance(node, ast.NamedExpr):
            return self.paths(node.value, scope, depth + 1)
        return set()

    def problems(self, node: ast.AST, scope: Scope, targets: dict[int, str],
                 families: frozenset[str] = frozenset()) -> Iterator[tuple[str, str]]:
        """(what, message) for a forbidden or uncheckable use at one reachable node."""
        if isinstance(node, ast.Call):
            yield from _uncheckable_call(node)
            yield from _getattr_as_value(node, scope)
        if isinstance(node, ast.Name | ast.Attribute | ast.Call):
            written = _text(node)
            for path in self.paths(node, scope):
                yield from _judge_path(path, written, targets, families)


def _getattr_as_value(call: ast.Call, scope: Scope) -> Iterator[tuple[str, str]]:
    """`getattr` handed to another function (`functools.reduce(getattr, ["conv2d"], F)`, `map(getattr, ...)`):
    an attribute access whose name the source does not show."""
    for value in (*call.args, *(k.value for k in call.keywords)):
        if isinstance(value, ast.Name) and value.id in ("getattr", "__getattribute__") and value.id not in scope:
            written = _text(call)
            yield written, (f"getattr passed as a value (`{written}`): a computed attribute access, "
                            "which cannot be checked")


def _getattr_literal(node: ast.AST) -> tuple[ast.expr, str] | None:
    """(object, name) for `getattr(object, "name")`, else None."""
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr"
            and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, str)):
        return node.args[0], node.args[1].value
    return None


def _uncheckable_call(call: ast.Call) -> Iterator[tuple[str, str]]:
    func = call.func
    name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
    written = _text(call)
    if name in ("getattr", "__getattribute__", "attrgetter", "methodcaller") and _getattr_literal(call) is None:
        if name != "getattr" or len(call.args) >= 2:
            yield written, f"{name} with a computed name (`{written}`), which cannot be checked"
    elif isinstance(func, ast.Name) and name in UNCHECKABLE_CALLS:
        yield written, f"{UNCHECKABLE_CALLS[name]} (`{written}`), whose code cannot be checked"


def _judge_path(path: str, written: str, targets: dict[int, str],
                families: frozenset[str] = frozenset()) -> Iterator[tuple[str, str]]:
    parts = path.split(".")
    unseen = f"{path} (`{written}`), which can reach any function unseen"
    routine = array_routine_family(path, set(families))
    if any(path.startswith(p if p.endswith("_") else f"{p}.") for p in UNCHECKABLE_PATHS) or path == "sys.modules":
        yield path, unseen
    elif path in COMPUTED_ACCESS:
        yield path, f"{path} (`{written}`): a computed attribute access, which cannot be checked"
    elif routine is not None:
        yield path, f"{path} (written `{written}`), a routine that computes the {routine} itself"
    elif parts[0] != "torch":
        return
    elif any(_internal(part) for part in parts[1:]):
        yield path, f"torch internals: {unseen}"
    else:
        target = _lookup(path)
        if target is not None and id(target) in targets:
            name = targets[id(target)]
            yield name, name if written == name else f"{name} (written `{written}`)"


def _dispatch_switch(path: str) -> bool:
    """torch's machinery that the runtime guard stands on: modes, and switches to disable them."""
    parts = path.split(".")
    return parts[0] == "torch" and any(
        part in ("overrides", "_python_dispatch", "_C", "_ops") or "Disable" in part for part in parts[1:])


def _internal(part: str) -> bool:
    """A private or dispatch-level part of torch, or a module's namespace dict."""
    if part == "__dict__":
        return True
    return (part.startswith("_") and not part.startswith("__")) or part in ("ops", "overrides")


def _text(node: ast.AST) -> str:
    text = ast.unparse(node)
    return text if len(text) <= 60 else text[:57] + "..."
