"""The syntax tree alone, as the "must not call" reader reads it: which names are bound, where, to what.

A binding is the definition or expression a name is assigned, or the dotted path an import binds; a
scope maps each name to all its bindings (a name bound twice may be either when it is used). The reader
follows names through these, from the top level of the cells and into each function, lambda and
comprehension; nothing here knows of torch or of the rule. Also two readings of a node that every layer
uses: a getattr with a literal name, and a node's code as quoted in a message.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Sequence


def top_statements(body: Sequence[ast.stmt]) -> Iterator[ast.stmt]:
    """Statements run at the top level of a cell, including inside if/try/with/for blocks."""
    for statement in body:
        yield statement
        if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            continue
        for field in ("body", "orelse", "finalbody"):
            yield from top_statements(getattr(statement, field, []))
        for handler in getattr(statement, "handlers", []):
            yield from top_statements(handler.body)


Binding = ast.AST | str  # a definition or assigned expression, or the dotted path an import binds
Scope = dict[str, list[Binding]]
NO_SCOPE: Scope = {}  # the scope of top-level names (never written to: hazards and tables are memoised by its id)


def add_binding(into: Scope, name: str, binding: Binding) -> None:
    known = into.setdefault(name, [])
    if binding not in known:
        known.append(binding)


def bind(into: Scope, node: ast.AST, stars: list[str]) -> None:
    """Record what `node` binds (a definition, an assignment, an import), if anything."""
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        add_binding(into, node.name, node)
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
        add_binding(into, node.name, node)


def _bind_target(into: Scope, target: ast.expr, value: ast.expr) -> None:
    if isinstance(target, ast.Name):
        add_binding(into, target.id, value)
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
            add_binding(into, alias.asname or root, alias.name if alias.asname else root)
        return
    if node.level or not node.module:
        return
    for alias in node.names:
        if alias.name == "*":
            stars.append(node.module)
        else:
            add_binding(into, alias.asname or alias.name, f"{node.module}.{alias.name}")


SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)


def own_nodes(node: ast.AST) -> Iterator[ast.AST]:
    """The nodes of a function's body that belong to its own scope (not to nested functions)."""
    todo = list(ast.iter_child_nodes(node))
    while todo:
        child = todo.pop()
        yield child
        if not isinstance(child, SCOPES):
            todo += ast.iter_child_nodes(child)


def locals_of(function: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda, stars: list[str]) -> Scope:
    """The names local to a function: its parameters (bound to nothing known) and what it assigns."""
    scope: Scope = {}
    arguments = function.args
    for arg in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs,
                *filter(None, [arguments.vararg, arguments.kwarg])]:
        scope[arg.arg] = []
    body = function.body if isinstance(function.body, list) else [function.body]
    for statement in body:
        for node in [statement, *own_nodes(statement)]:
            bind(scope, node, stars)
    for name in declared_global(function):
        scope.pop(name, None)
    return scope


def declared_global(function: ast.AST) -> set[str]:
    return {name for node in own_nodes(function) if isinstance(node, ast.Global | ast.Nonlocal) for name in node.names}


def scoped_walk(node: ast.AST, scope: Scope, stars: list[str]) -> Iterator[tuple[ast.AST, Scope]]:
    """Every node under `node`, with the local names in force there."""
    todo = [(node, scope)]
    while todo:
        node, scope = todo.pop()
        yield node, scope
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            scope = {**scope, **locals_of(node, stars)}
        elif isinstance(node, ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp):
            inner: Scope = {}
            for generator in node.generators:
                bind(inner, generator, stars)
            scope = {**scope, **inner}
        todo += [(child, scope) for child in reversed(list(ast.iter_child_nodes(node)))]


def getattr_literal(node: ast.AST | None) -> tuple[ast.expr, str] | None:
    """(object, name) for `getattr(object, "name")`, else None."""
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr"
            and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, str)):
        return node.args[0], node.args[1].value
    return None


def quote(node: ast.AST) -> str:
    """`node`'s code, cut short, to quote in a message."""
    text = ast.unparse(node)
    return text if len(text) <= 60 else text[:57] + "..."
