"""Where a value goes, as the "must not call" reader follows it: used on the spot, or handed on.

A forbidden function called, shown, named, iterated, or given to a helper that only calls it, stays
where the reader can see it run; kept in a container, passed to a function, or compared, it goes where
the reader cannot follow. Code goes the same ways: a lambda or a generator handed on, a decorated or a
generator function, a class (not a model class) can run from anywhere, later, so such code is read as if
the ruled function reached it (escaped).
"""

from __future__ import annotations

import ast
from collections.abc import Sequence

from .libraries import Libraries
from .rule import lookup
from .syntax import SCOPES, declared_global, getattr_literal, own_nodes, top_statements
from .tables import EAGER, NON_RETAINING, PASS_THROUGH, PLAIN_TYPES, SAFE_DECORATORS


class ValueUses(Libraries):
    """Whether a value is handed on or used on the spot, and the code that escapes so."""

    def __init__(self, cells: Sequence[str]) -> None:
        super().__init__(cells)
        self.inert: dict[str, bool] = {}  # ValueUses._inert's memo of top-level names

    def _handed_on(self, node: ast.AST, holding: bool = True, data_when_called: bool = False) -> bool:
        """Is `node`'s value kept or passed on, rather than called on the spot, named, or dropped? With
        `holding`, a value kept in a tuple, an nn.Sequential... is judged as that holder is; code (a
        lambda, a generator) is not: wherever it is kept, it can be run from there. `data_when_called`: the
        value gives data when called (a function, not a class), so a helper may call it (_only_called_by)."""
        parent = self.parents.get(id(node))
        if self._called(node):
            return False
        if isinstance(parent, ast.Attribute | ast.Expr) or getattr_literal(parent) is not None:
            return False  # an attribute of it is judged itself; a value dropped goes nowhere (IPython's Out: unread)
        if holding and isinstance(parent, ast.Subscript) and node is parent.value:
            return False  # an element of it is judged itself
        if holding and isinstance(parent, ast.For | ast.AsyncFor | ast.comprehension) and node is parent.iter \
                and _plain(parent.target):
            return False  # iterated on the spot: its elements, bound to the loop's names, are judged themselves
        if holding and isinstance(parent, ast.FormattedValue) and node is parent.value:
            return False  # f"{m}": formatted by its own class, kept nowhere
        if isinstance(parent, ast.Assign | ast.AnnAssign | ast.NamedExpr) and node is parent.value:
            targets = parent.targets if isinstance(parent, ast.Assign) else [parent.target]
            return not all(_plain(target) for target in targets)
        keeper = self._kept_by(node) if holding else None
        if keeper is not None:
            return self._handed_on(keeper)
        if holding and data_when_called and self._only_called_by(node):
            return False  # a forbidden function given to a helper that calls it: like calling it here
        return not self._used_on_the_spot(node, code=not holding)

    def _only_called_by(self, node: ast.AST) -> bool:
        """Is `node` an argument of a function of the notebook's (`compare(mine, F.max_pool2d, x)`) that only
        calls that parameter, there and then? It is then used on the spot, as by print. (The function: defined
        once at the top level, undecorated, no generator; the parameter: never rebound, never declared global,
        named by no function, lambda or generator inside; only called, or given to print and its kin.)"""
        parent = self.parents.get(id(node))
        keyword = parent.arg if isinstance(parent, ast.keyword) else None
        call = self.parents.get(id(parent)) if isinstance(parent, ast.keyword) else parent
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and node is not call.func
                and self._trusted(call.func)):
            return False
        bindings = self.bindings.get(call.func.id, [])
        function = bindings[0] if len(bindings) == 1 else None
        if not isinstance(function, ast.FunctionDef) or function.decorator_list or _resumable(function) \
                or not any(function is s for tree in self.trees for s in top_statements(tree.body)):
            return False
        arguments = function.args
        positional = [*arguments.posonlyargs, *arguments.args]
        if keyword is not None:
            names = [a.arg for a in [*arguments.args, *arguments.kwonlyargs]]
            parameter = keyword if keyword in names else None
        elif isinstance(parent, ast.Call) and node in parent.args and not any(
                isinstance(a, ast.Starred) for a in parent.args[:parent.args.index(node) + 1]):
            index = parent.args.index(node)
            parameter = positional[index].arg if index < len(positional) else None
        else:
            parameter = None
        if parameter is None or parameter in declared_global(function):
            return False
        nested = {id(d) for n in ast.walk(function) if n is not function
                  and isinstance(n, (*SCOPES, ast.GeneratorExp)) for d in ast.walk(n)}  # code kept for later
        for inner in ast.walk(function):
            if not isinstance(inner, ast.Name) or inner.id != parameter:
                continue
            where = self.parents.get(id(inner))
            if id(inner) in nested or not isinstance(inner.ctx, ast.Load) or not (
                    self._called(inner) or (isinstance(where, ast.Call) and self._builtin(where.func, {})
                                            in NON_RETAINING - {"isinstance", "issubclass"})):
                return False
        return True

    def _used_on_the_spot(self, node: ast.AST, code: bool = False) -> bool:
        """An argument of a builtin that uses it and keeps nothing (`print(m)`, `all(... for ...)`)."""
        parent = self.parents.get(id(node))
        if isinstance(parent, ast.keyword):
            parent = self.parents.get(id(parent))
        if self._timing(node) or (code and self._only_called_by(node)):
            return True  # called there and then, kept nowhere
        builtins = NON_RETAINING | EAGER if code else NON_RETAINING  # code is run there; a value may be given back
        if isinstance(parent, ast.Call) and node is not parent.func and self._trusted(parent.func) \
                and self.paths(parent.func, {}) == {"IPython.display.display"}:
            return True  # formatted and published there, kept nowhere
        if not (isinstance(parent, ast.Call) and node is not parent.func
                and self._builtin(parent.func, {}) in builtins):
            return False
        if self._builtin(parent.func, {}) in ("isinstance", "issubclass"):  # a class of the notebook's is handed it
            kinds = parent.args[1:2]
            kinds = list(kinds[0].elts) if kinds and isinstance(kinds[0], ast.Tuple) else kinds
            return bool(kinds) and all(self._plain_type(k) for k in kinds)
        return True

    def _plain_type(self, node: ast.AST) -> bool:
        """One of Python's own types (unbound `int`) or one of torch's (`torch.Tensor`, `nn.Module`)."""
        if self._builtin(node, {}) in PLAIN_TYPES:
            return True
        paths = self.paths(node, {}) if self._trusted(node) else set()
        return bool(paths) and all(p.split(".")[0] == "torch" and isinstance(lookup(p), type) for p in paths)

    def _kept_by(self, node: ast.AST) -> ast.AST | None:
        """The value that keeps `node`'s (a tuple it is an element of, the nn.Sequential it is given to),
        judged in its place; None when `node` is not so kept."""
        parent = self.parents.get(id(node))
        if isinstance(parent, ast.Starred):
            node, parent = parent, self.parents.get(id(parent))
        # a set's elements and a dict's keys are hashed and compared (spy.__eq__ would be handed F.conv2d)
        if isinstance(parent, ast.Tuple | ast.List) and isinstance(parent.ctx, ast.Load):
            return parent
        if (isinstance(parent, ast.Dict) and node in parent.values) or (isinstance(parent, ast.DictComp)
                                                                         and node is parent.value):
            return parent
        if isinstance(parent, ast.ListComp | ast.GeneratorExp) and node is parent.elt:
            return parent
        if isinstance(parent, ast.keyword):
            node, parent = parent, self.parents.get(id(parent))
        if isinstance(parent, ast.Call) and node is not parent.func:
            builtin = self._builtin(parent.func, {})
            if builtin in PASS_THROUGH and not (builtin in ("iter", "type") and len(parent.args) > 1):
                return parent  # iter(f, sentinel) compares the sentinel; type(name, bases, namespace) makes a class
            if self._trusted(parent.func) and self._holding_class(parent.func, {}) and all(
                    self._inert(a) for a in [*parent.args, *parent.keywords] if a is not node):
                return parent
        return None

    def _inert(self, node: ast.AST) -> bool:
        """Made of constants and torch's own modules only (`nn.ReLU()`, `[nn.Conv2d(1, 8, 3)]`, `16 * 4`), at
        the top level: no object of the notebook's, which a torch module holding forbidden ones would hand
        them to (a module of the notebook's is given named_modules' memo, holding them all)."""
        if isinstance(node, ast.Constant):
            return True
        if isinstance(node, ast.Starred | ast.keyword):
            return self._inert(node.value)
        if isinstance(node, ast.Tuple | ast.List):
            return all(self._inert(e) for e in node.elts)
        if isinstance(node, ast.BinOp):
            return self._inert(node.left) and self._inert(node.right)
        if isinstance(node, ast.UnaryOp):
            return self._inert(node.operand)
        if isinstance(node, ast.Call):
            return self._holding_class(node.func, {}) and all(
                self._inert(a) for a in [*node.args, *node.keywords])
        if isinstance(node, ast.Name) and not self._in_a_scope(node):
            if node.id not in self.inert:
                self.inert[node.id] = False  # a name bound to itself: read as not inert (never too kind)
                bindings = self.bindings.get(node.id, [])
                self.inert[node.id] = bool(bindings) and all(isinstance(b, ast.expr) and self._inert(b)
                                                             for b in bindings)
            return self.inert[node.id]
        return False

    def escaped(self) -> list[ast.AST]:
        """Code that can run from somewhere else than where it is written, later: classes (their
        methods run implicitly), lambdas, generators, decorated functions and functions handed on."""
        defined: dict[str, list[ast.AST]] = {}
        found: list[ast.AST] = []
        named: set[str] = set()
        for tree in self.trees:
            for node in ast.walk(tree):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    defined.setdefault(node.name, []).append(node)
                    if any(not self._safe_decorator(d) for d in node.decorator_list) or _resumable(node):
                        found.append(node)  # a generator's or coroutine's body runs whenever it is resumed
                elif (isinstance(node, ast.ClassDef) and id(node) not in self.models) or (
                        isinstance(node, ast.Lambda | ast.GeneratorExp) and self._handed_on(node, holding=False)):
                    found.append(node)
                elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Lambda | ast.GeneratorExp):
                    for target in node.targets:  # a lambda named, then handed on by that name
                        if isinstance(target, ast.Name):
                            defined.setdefault(target.id, []).append(node.value)
                elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and not self._called(node) \
                        and not self._used_on_the_spot(node, code=True):
                    named.add(node.id)
        escaping = found + [d for name in sorted(named & defined.keys()) for d in defined[name]]
        return [self._outermost(node) for node in escaping]

    def _outermost(self, node: ast.AST) -> ast.AST:
        """The outermost function or class `node` is in (itself if none): a closure escaping runs with what
        the functions around it bound (`c = F.conv2d`, then `return lambda t: c(*t)`), so they are read whole."""
        outer, parent = node, self.parents.get(id(node))
        while parent is not None:
            if isinstance(parent, SCOPES):
                outer = parent
            parent = self.parents.get(id(parent))
        return outer

    def _safe_decorator(self, decorator: ast.expr) -> bool:
        """`@torch.no_grad()`, `@functools.cache` and the like: they keep the function for its own calls only."""
        function = decorator.func if isinstance(decorator, ast.Call) else decorator
        if isinstance(function, ast.Name) and function.id in SAFE_DECORATORS and function.id not in self.bindings:
            return True
        return bool(self.paths(function, {}) & SAFE_DECORATORS)


def _resumable(function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """A generator function or a coroutine: what it returns runs its body later, wherever it is resumed."""
    return isinstance(function, ast.AsyncFunctionDef) or any(
        isinstance(node, ast.Yield | ast.YieldFrom) for node in own_nodes(function))


def _plain(target: ast.expr) -> bool:
    """A target that only names (`c = ...`, `a, b = ...`), so the reader can follow the value."""
    if isinstance(target, ast.Tuple | ast.List):
        return all(_plain(t) for t in target.elts)
    return isinstance(target, ast.Name | ast.Starred) and (not isinstance(target, ast.Starred)
                                                           or isinstance(target.value, ast.Name))
