"""A notebook as the "must not call" reader sees it: its syntax trees, top-level names, and what a name denotes.

The base layer of the reader (grader/forbidden/anywhere.py's Source is built on it): what each top-level
name is bound to (`global name` in a function rebinds one, `(x := ...)` at the top level binds one), the
parent of every node, the dotted paths a name or an attribute may denote, whether a builtin's name is the
builtin where it is written, what code a function reaches through names, and the memo that lets the
layers above follow names bound to each other (`x = x + 1`) without going round for ever.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Sequence
from typing import Any

from .magics import ParsedCells
from .rule import Rule
from .syntax import (
    SCOPES,
    Binding,
    Scope,
    add_binding,
    bind,
    declared_global,
    getattr_literal,
    locals_of,
    own_nodes,
    quote,
    scoped_walk,
    top_statements,
)


class Notebook:
    """The submission's cells, and its top-level names and what they are bound to."""

    def __init__(self, cells: Sequence[str]) -> None:
        parsed = ParsedCells(cells)
        self.trees = parsed.trees
        self.magic_problems = parsed.magic_problems  # magics and shell commands whose code cannot be read
        self.magic_calls = parsed.magic_calls
        self.bindings: Scope = {}
        self.stars: list[str] = []
        self.pending: dict[Any, tuple[int, Any]] = {}  # what Notebook._settled is computing: its place, so far
        self.touched = 1 << 30  # the first unfinished computation the current one leaned on
        self.scope_names: dict[int, set[str]] = {}  # Notebook._names_of's memo
        self.parents = {id(child): parent for tree in self.trees for parent in ast.walk(tree)
                        for child in ast.iter_child_nodes(parent)}
        self.functions = {node.name for tree in self.trees for node in ast.walk(tree)
                          if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)}
        for tree in self.trees:
            for node in own_nodes(tree):  # `(print := spy)` at the top level binds a global name
                if isinstance(node, ast.NamedExpr):
                    bind(self.bindings, node, self.stars)
            for statement in top_statements(tree.body):
                bind(self.bindings, statement, self.stars)
                if isinstance(statement, ast.With | ast.AsyncWith):
                    for item in statement.items:
                        bind(self.bindings, item, self.stars)
            for function in ast.walk(tree):  # `global name` in a function rebinds a top-level name
                if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef) and declared_global(function):
                    inner: Scope = {}
                    for node in own_nodes(function):
                        bind(inner, node, self.stars)
                    for name in declared_global(function) & inner.keys():
                        for binding in inner[name]:
                            add_binding(self.bindings, name, binding)

    def everywhere(self) -> Iterator[tuple[ast.AST, Scope]]:
        """Every node of every cell, with the local names in force there."""
        for tree in self.trees:
            yield from scoped_walk(tree, {}, self.stars)

    def reachable(self, roots: Sequence[Binding]) -> list[tuple[ast.AST, Scope]]:
        """Every node `roots` can reach through top-level names, with its local scope."""
        seen: set[int] = set()
        found: list[tuple[ast.AST, Scope]] = []
        todo: list[Binding] = list(roots)
        while todo:
            binding = todo.pop()
            if isinstance(binding, str) or id(binding) in seen:
                continue
            seen.add(id(binding))
            for node, scope in scoped_walk(binding, {}, self.stars):
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
        literal = getattr_literal(node)
        if literal is not None:
            return {f"{base}.{literal[1]}" for base in self.paths(literal[0], scope, depth + 1)}
        if isinstance(node, ast.NamedExpr):
            return self.paths(node.value, scope, depth + 1)
        return set()

    def problems(self, node: ast.AST, scope: Scope, rule: Rule) -> Iterator[tuple[str, str]]:
        """(what, message) for a forbidden use at one node of code the ruled function can reach."""
        if not isinstance(node, ast.Name | ast.Attribute | ast.Call):
            return
        names = {name for path in self.paths(node, scope) if (name := rule.name_of(path)) is not None}
        for name in sorted(names):
            yield name, name if quote(node) == name else f"{name} (written `{quote(node)}`)"
        leaf = rule.leaf(node) if not names and not self._own_method(node) else None
        if leaf is not None:
            yield leaf, f"{leaf} (written `{quote(node)}`: called by its name, whatever it is reached through)"

    def _own_method(self, node: ast.AST) -> bool:
        """`self.name` or `cls.name` where the notebook defines a function of that name (in a class)."""
        return (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                and node.value.id in ("self", "cls") and node.attr in self.functions)

    def _called(self, node: ast.AST) -> bool:
        parent = self.parents.get(id(node))
        return isinstance(parent, ast.Call) and node is parent.func

    def _text_around(self, node: ast.AST) -> str:
        parent = self.parents.get(id(node))
        return quote(parent) if isinstance(parent, ast.expr | ast.stmt) and not isinstance(parent, ast.Expr) \
            else quote(node)

    def _builtin(self, node: ast.AST, scope: Scope) -> str | None:
        """The name of the Python builtin `node` is, when it is one the notebook does not rebind: not at the
        top level, not in any function, lambda, comprehension or class body around it, by no star import."""
        if isinstance(node, ast.Name) and node.id not in scope and node.id not in self.bindings \
                and not self.stars and not self._local_around(node, node.id):
            return node.id
        return None

    def _trusted(self, node: ast.AST) -> bool:
        """Does `node` (a name, or attributes of one) denote what its top-level binding says, wherever it is?
        Not when a function, comprehension or class around it binds that name, nor with a star import."""
        while isinstance(node, ast.Attribute):
            node = node.value
        return isinstance(node, ast.Name) and not self.stars and not self._local_around(node, node.id)

    def _local_around(self, node: ast.AST, name: str) -> bool:
        """Is `name` bound, where `node` is, by a function, lambda, comprehension or class body around it?"""
        in_function = False
        parent = self.parents.get(id(node))
        while parent is not None:
            scope = isinstance(parent, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ListComp
                               | ast.SetComp | ast.DictComp | ast.GeneratorExp)
            if (scope or (isinstance(parent, ast.ClassDef) and not in_function)) and name in self._names_of(parent):
                return True
            in_function = in_function or isinstance(parent, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            parent = self.parents.get(id(parent))
        return False

    def _names_of(self, scope: ast.AST) -> set[str]:
        """The names a function, lambda, comprehension or class body binds for itself."""
        if id(scope) not in self.scope_names:
            names: Scope = {}
            if isinstance(scope, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                names = locals_of(scope, self.stars)
            elif isinstance(scope, ast.ClassDef):
                for statement in scope.body:
                    for node in [statement, *own_nodes(statement)]:
                        bind(names, node, self.stars)
            else:
                for generator in scope.generators:  # type: ignore[attr-defined]
                    bind(names, generator, self.stars)
            self.scope_names[id(scope)] = set(names)
        return self.scope_names[id(scope)]

    def _in_a_scope(self, node: ast.AST) -> bool:
        """Is `node` inside a function, a lambda, a class or a comprehension (where names may be local)?"""
        parent = self.parents.get(id(node))
        while parent is not None:
            if isinstance(parent, (*SCOPES, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
                return True
            parent = self.parents.get(id(parent))
        return False

    def _settled(self, memo: dict[Any, tuple[Scope, Any]], key: Any, scope: Scope, compute: Any, bottom: Any,
                 widen: Any) -> Any:
        """compute(), memoised by key. Names bound to each other (x = x + 1; a = b, b = a) make cycles: a value
        met again while it is being computed is taken as found so far, and computed again until it settles
        (widened after a few rounds); a result that leaned on an unfinished caller's is not kept."""
        if key in memo:
            return memo[key][1]
        if key in self.pending:
            index, so_far = self.pending[key]
            self.touched = min(self.touched, index)
            return so_far
        index, outer, found = len(self.pending), self.touched, bottom
        touched = index + 1
        for _ in range(4):
            self.pending[key] = (index, found)
            self.touched = index + 1  # nothing unfinished met yet
            again = compute()
            touched = min(touched, self.touched)
            if self.touched > index or again == found:  # met no cycle through itself, or settled
                found = again
                break
            found = again
        else:
            found = widen(found)
        del self.pending[key]
        if touched >= index:
            memo[key] = (scope, found)  # the scope kept alive, so that its id is not reused
        self.touched = min(outer, touched)
        return found
