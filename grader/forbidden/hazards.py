"""What a value holds of what the rule forbids, as the "must not call" reader follows it.

A value may be a forbidden function or class, an instance of a forbidden class, or hold one: a tuple
of them, an nn.Sequential of torch's modules, a model of the notebook's, a module such as
torch.nn.functional, a method's or an element's result, a name bound to any of these. Its kind says
what calling it, indexing it or asking it an attribute gives; what is then done with it is judged by
the layers above (grader/forbidden/uses.py, grader/forbidden/anywhere.py).
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from typing import Any

from .models import ModelClasses, module_methods
from .rule import Rule, lookup
from .syntax import NO_SCOPE, Scope, bind
from .tables import CALLING_ATTRIBUTES, DATA_METHODS, PASS_THROUGH

# What a value that holds a forbidden object is, for what is done with it (Hazards.hazard): calling a forbidden
# function gives data, calling a class an instance; calling an instance (forward) gives data, but some of its
# methods give the module back (eval(), modules()); a holder (a tuple of functions, an nn.Sequential of modules)
# gives data when called and holders when indexed or asked through a method; a maker may give anything back.
# A module holding forbidden names is judged by its attributes' paths.
# A model class (ModelClasses.models) gives a holder when called. A holder of forbidden functions only, or of
# forbidden modules only (nn.Sequential(nn.Conv2d(...), nn.ReLU())), gives exactly those as its items.
FUNCTION, CLASS, INSTANCE, HOLDER, MEMBER, MAKER = "function", "class", "instance", "holder", "member", "maker"
MODULE, MODEL, FUNCTIONS, INSTANCES = "module", "model", "functions", "instances"
_CALLED = {FUNCTION: None, CLASS: INSTANCE, INSTANCE: None, HOLDER: None, MEMBER: HOLDER, MAKER: MAKER, MODULE: None,
           MODEL: HOLDER, FUNCTIONS: None, INSTANCES: None}
_ITEM = {HOLDER: HOLDER, MEMBER: HOLDER, MAKER: MAKER, FUNCTIONS: FUNCTION, INSTANCES: INSTANCE}
HOLDERS = (HOLDER, MEMBER, MAKER, MODEL, FUNCTIONS, INSTANCES)  # asked HOLDER_METHODS or a model's (Source._hooking)
_MAKERS = frozenset({CLASS, MEMBER, MAKER})  # a holder of one of these gives a forbidden object back when called


class Hazards(ModelClasses):
    """The forbidden name each value of the notebook is or holds, and of what kind."""

    def __init__(self, cells: Sequence[str]) -> None:
        super().__init__(cells)
        self.hazards: dict[Any, tuple[Scope, Any]] = {}  # Hazards._hazard's memo
        self.comprehension_scopes: dict[int, Scope] = {}

    def hazard(self, node: ast.AST, scope: Scope, rule: Rule) -> str | None:
        """The forbidden name `node`'s value is, or holds: a forbidden function or class, an instance of
        a forbidden class, a container or module holding one, or what a name is bound to; None else."""
        found = self._hazard(node, scope, rule, 0)
        return found[0] if found else None

    def _hazard(self, node: ast.AST, scope: Scope, rule: Rule, depth: int) -> tuple[str, str] | None:
        """(forbidden name, kind) for `node`'s value (kinds: see FUNCTION)."""
        def widen(found: tuple[str, str] | None) -> tuple[str, str] | None:
            return (found[0], MAKER) if found else None
        return self._settled(self.hazards, ("hazard", id(node), id(scope)), scope,
                             lambda: self._hazard_of(node, scope, rule, depth + 1), None, widen)

    def _hazard_of(self, node: ast.AST, scope: Scope, rule: Rule, depth: int) -> tuple[str, str] | None:
        if depth > 200:
            raise RecursionError  # read as too deep, never as harmless
        for path in self.paths(node, scope):
            name = rule.name_of(path)
            if name is not None:
                return name, CLASS if _is_class(path) else FUNCTION
            name = rule.holder(path)
            if name is not None:
                return name, MODULE
        leaf = rule.leaf(node) if not self._own_method(node) else None
        if leaf is not None:  # a forbidden name on a base the reader cannot follow: a class by its name, or not
            return leaf, CLASS if _is_class(leaf.split(",")[0]) else FUNCTION
        if isinstance(node, ast.Call):
            return self._call_hazard(node, scope, rule, depth)
        if isinstance(node, ast.Attribute):
            base = self._hazard(node.value, scope, rule, depth)
            kind = _member(base[1], node.attr) if base else None
            return (base[0], kind) if base and kind else None
        if isinstance(node, ast.Subscript):
            base = self._hazard(node.value, scope, rule, depth)
            return (base[0], _ITEM[base[1]]) if base and base[1] in _ITEM else None
        if isinstance(node, ast.Name):
            return self._name_hazard(node, scope, rule, depth)
        if isinstance(node, ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp):
            inner: Scope = {}
            for generator in node.generators:
                bind(inner, generator, self.stars)
            scope = self.comprehension_scopes.setdefault(id(node), {**scope, **inner})
            parts = [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]
            return self._holding(parts, scope, rule, depth)
        return self._holding(_held(node), scope, rule, depth) if _held(node) else None

    def _holding(self, parts: Sequence[ast.AST], scope: Scope, rule: Rule, depth: int) -> tuple[str, str] | None:
        """What a value made of `parts` (a tuple's elements, a Sequential's modules) holds."""
        found = [h for h in (self._hazard(p, scope, rule, depth) for p in parts) if h is not None]
        if not found:
            return None
        kinds = {kind for _, kind in found}
        if kinds & _MAKERS:
            return found[0][0], MAKER
        return found[0][0], {frozenset({FUNCTION}): FUNCTIONS, frozenset({INSTANCE}): INSTANCES}.get(
            frozenset(kinds), HOLDER)

    def _call_hazard(self, node: ast.Call, scope: Scope, rule: Rule, depth: int) -> tuple[str, str] | None:
        called = self._hazard(node.func, scope, rule, depth)
        if called is not None:
            kind = _CALLED[called[1]]
            return (called[0], kind) if kind else None
        given = [*node.args, *(k.value for k in node.keywords)]
        arguments = [a.value if isinstance(a, ast.Starred) else a for a in given]
        if self._builtin(node.func, scope) in PASS_THROUGH:
            found = self._holding(arguments, scope, rule, depth)
            return (found[0], MAKER) if found else None
        if self._holding_class(node.func, scope):
            return self._holding(arguments, scope, rule, depth)
        return None

    def _name_hazard(self, node: ast.Name, scope: Scope, rule: Rule, depth: int) -> tuple[str, str] | None:
        local = node.id in scope
        found: list[tuple[str, str]] = []
        for binding in scope[node.id] if local else self.bindings.get(node.id, []):
            if isinstance(binding, ast.ClassDef) and id(binding) in self.models:
                holds = self._model_holds(binding, rule)
                if holds is not None:
                    found.append((holds, MODEL))
            if not isinstance(binding, ast.expr):
                continue
            held = self._hazard(binding, scope if local else NO_SCOPE, rule, depth)
            parent = self.parents.get(id(binding))
            if held is not None and isinstance(parent, ast.For | ast.AsyncFor | ast.comprehension) \
                    and binding is parent.iter:  # `for f in fs`: f is an element of fs
                held = (held[0], _ITEM.get(held[1], MAKER))
            if held is not None:
                found.append(held)
        return next((h for h in found if h[1] in _MAKERS), found[0] if found else None)


def _is_class(name: str) -> bool:
    target = lookup(name)
    return isinstance(target, type) if target is not None else name.rsplit(".", 1)[-1][:1].isupper()


def _member(kind: str, attribute: str) -> str | None:
    """The kind of `value.attribute` for a value of `kind` (see FUNCTION), or None when it holds nothing."""
    if attribute in CALLING_ATTRIBUTES:
        return FUNCTION  # conv.forward, nn.Conv2d._conv_forward: the computation itself
    if kind == INSTANCE:  # its methods giving it back (eval), its private state (_forward_hooks, _modules)
        exposing = attribute.startswith("_") or attribute in module_methods()
        return MAKER if exposing and attribute not in DATA_METHODS else None
    if kind in (HOLDER, MEMBER, FUNCTIONS, INSTANCES):
        return None if attribute in DATA_METHODS else MEMBER
    if kind == MODEL:
        return MAKER  # its methods, unbound (Net.__init__ makes any module a Net)
    return MAKER if kind == MAKER and attribute not in DATA_METHODS else None


def _held(node: ast.AST) -> list[ast.AST]:
    """The parts a value built from parts is made of (a display's elements, an expression's operands)."""
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return [e.value if isinstance(e, ast.Starred) else e for e in node.elts]
    if isinstance(node, ast.Dict):
        return [*filter(None, node.keys), *node.values]
    if isinstance(node, ast.BinOp):
        return [node.left, node.right]
    if isinstance(node, ast.BoolOp):
        return list(node.values)
    if isinstance(node, ast.IfExp):
        return [node.body, node.orelse]
    if isinstance(node, ast.NamedExpr | ast.Starred | ast.Await):
        return [node.value]
    return []
