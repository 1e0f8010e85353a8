"""What no code may do anywhere in the notebook, whatever the ruled function reaches.

Tamper with the grader's probe or torch's dispatch switches; run code the reader cannot see (magics,
shell commands, get_ipython(), code or objects made from text, introspection, modules it does not know);
hand a forbidden object on, change it, or hand it to hooks; replace what torch calls on its modules.

Source, the reader's whole view of a notebook, is the last of its layers, each a class over the one
before: Notebook (names, grader/forbidden/notebook.py) < ModelClasses < Hazards < Libraries < ValueUses
< Source. grader/forbidden/__init__.py runs these checks over every node, and the rule's own over what the ruled
function reaches.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterator

from .hazards import FUNCTION, FUNCTIONS, HOLDER, HOLDERS, INSTANCE, INSTANCES
from .libraries import LIBRARY_ROOTS, library_import
from .models import module_methods
from .rule import Rule, lookup
from .syntax import Scope, getattr_literal, quote
from .tables import (
    ALLOWED_MODULES,
    CALLING_ATTRIBUTES,
    CLASS_HOOKS,
    COMPUTED_ACCESS,
    DISPATCH_LEAVES,
    HOLDER_METHODS,
    HOOKING_METHODS,
    INTROSPECTING_NAMES,
    INTROSPECTION,
    OUTPUT_CACHE,
    SAFE_IPYTHON,
    SAFE_SYS,
    SELF_CHECK,
    TORCH_HOOKS,
    UNCHECKABLE_CALLS,
    UNCHECKABLE_PATHS,
    VALUE_BUILTINS,
)
from .uses import ValueUses


class Source(ValueUses):
    """The notebook's source as the rule reads it: every layer's readings, and the checks that hold anywhere."""

    def tampering(self) -> list[str]:
        """Uses, anywhere, of the grader's probe or of torch's function-dispatch switches."""
        found: dict[str, str] = {}  # path -> as written
        for tree in self.trees:
            for node in ast.walk(tree):
                if isinstance(node, ast.Name) and node.id.startswith("__coursegrade"):
                    found.setdefault(node.id, node.id)
                if isinstance(node, ast.Attribute) and node.attr in DISPATCH_LEAVES:
                    found.setdefault(quote(node), quote(node))
                defined = _defined_name(node)
                if defined in TORCH_HOOKS:
                    found.setdefault(defined, defined)
                if isinstance(node, ast.Name | ast.Attribute) and not self._self_check(node):
                    for path in self.paths(node, {}):
                        if path.split(".")[0] == "grader" or _dispatch_switch(path):
                            found.setdefault(path, quote(node))
        outermost = [p for p in found if not any(other.startswith(f"{p}.") for other in found)]
        return [f"`{found[p]}`" + (f" ({p})" if p != found[p] else "") for p in outermost]

    def _self_check(self, node: ast.AST) -> bool:
        """`grader.check` itself, or the `grader` it is taken from."""
        if isinstance(node, ast.Name):
            node = self.parents.get(id(node), node)
        return isinstance(node, ast.Attribute) and bool(self.paths(node, {}) & SELF_CHECK)

    def unreadable(self) -> list[tuple[str, str]]:
        """Magics and shell commands whose code cannot be read, and get_ipython() used otherwise than by them."""
        found = list(self.magic_problems)
        for tree in self.trees:
            for node in ast.walk(tree):
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "get_ipython" \
                        and id(node) not in self.magic_calls and "get_ipython" not in self.bindings:
                    found.append(("get_ipython()", "get_ipython(): IPython's shell, which can run code unseen"))
                elif isinstance(node, ast.Name) and node.id in INTROSPECTING_NAMES:
                    found.append((node.id, f"{node.id}: introspection, which can reach any function unseen"))
        return found

    def handed_on(self, node: ast.AST, scope: Scope, rule: Rule) -> Iterator[tuple[str, str]]:
        """(what, message) for what no code may do anywhere in the notebook: code or objects from text,
        introspection, a module the reader does not know, a pattern reading attributes, a process, or a
        forbidden function, class or module handed on as a value."""
        if isinstance(node, ast.Call):
            yield from _uncheckable_call(node)
        if isinstance(node, ast.Name) and node.id in VALUE_BUILTINS and node.id not in scope \
                and node.id not in self.bindings and not self._called(node):
            yield node.id, f"{node.id} handed on as a value (`{self._text_around(node)}`), which cannot be checked"
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id not in scope \
                and OUTPUT_CACHE.fullmatch(node.id):
            yield node.id, f"`{node.id}`: IPython's cache of the cells' results, which keeps any value unseen"
        if _defined_name(node) in CLASS_HOOKS:
            yield f"def {_defined_name(node)}", (f"`{_defined_name(node)}`: it is handed the classes isinstance and "
                                                "issubclass look at, which can reach any class unseen")
        in_model = id(node) in self.model_nodes  # a model's methods: their grammar says where values go
        if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store | ast.Del) and not in_model:
            yield from self._patching(node, node.value, node.attr, scope, rule)
        if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Store | ast.Del) and not in_model:
            changed = self.hazard(node.value, scope, rule)  # seq[0] = MyModule(): a module of the notebook's in it
            if changed is not None:
                yield changed, f"{changed} changed (`{self._text_around(node)}`): what it then does cannot be followed"
        if isinstance(node, ast.Call) and not in_model:
            yield from self._hooking(node, scope, rule)
        if isinstance(node, ast.MatchClass) and node.kwd_attrs:
            yield quote(node), f"`case {quote(node)}`: a pattern that reads attributes, which cannot be checked"
        if isinstance(node, ast.Import | ast.ImportFrom):
            for module in _imported(node):
                if module.split(".")[0] in LIBRARY_ROOTS:
                    yield from library_import(node, module)
                elif module.split(".")[0] not in ALLOWED_MODULES or module.startswith(("matplotlib.pylab", "pylab")):
                    yield f"import {module}", (f"import {module}: a module the rule's reader does not know, which can "
                                               "reach any function unseen")
        attribute = node.attr if isinstance(node, ast.Attribute) else (getattr_literal(node) or (None, ""))[1]
        if attribute.startswith("register_module_"):
            yield quote(node), f"`{quote(node)}`: a hook every module is handed to, unseen"
        if attribute in INTROSPECTION:
            yield quote(node), f"`{quote(node)}`: introspection, which can reach any function unseen"
        if isinstance(node, ast.Name | ast.Attribute):
            for path in self.paths(node, scope):
                if path.split(".")[0] in LIBRARY_ROOTS:
                    yield from self._library_use(path, node, scope)
                else:
                    yield from _unchecked_path(path, node)
        if (isinstance(node, ast.Call) or (isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load))) \
                and self._table(node, scope) and not self._shown(node):
            yield quote(node), (f"`{quote(node)}`, a pandas object, used otherwise than shown: pandas runs text "
                                "as code (df.eval, df.query), which cannot be checked")
        loaded = isinstance(node, ast.Call) or isinstance(getattr(node, "ctx", None), ast.Load)
        if loaded and not in_model and isinstance(node, ast.Name | ast.Attribute | ast.Call | ast.Subscript):
            held = self._hazard(node, scope, rule, 0)
            name = held[0] if held is not None and self._handed_on(node, data_when_called=held[1] in (
                FUNCTION, INSTANCE, HOLDER, FUNCTIONS, INSTANCES)) else None
            if name is not None:
                yield name, (f"{name} handed on as a value (`{self._text_around(node)}`): where it goes and "
                             "when it runs cannot be followed")

    def _patching(self, node: ast.AST, base: ast.AST, attribute: str | None, scope: Scope,
                  rule: Rule) -> Iterator[tuple[str, str]]:
        """(what, message) when `base.attribute` is written: a forbidden object changed, a method torch calls
        on modules replaced (it would be handed them), or a class of torch's changed."""
        held = self.hazard(base, scope, rule)
        if held is not None:
            yield held, f"{held} changed (`{self._text_around(node)}`): what it then does cannot be followed"
        elif attribute is None or _patched_name(attribute, isinstance(base, ast.Name) and base.id == "self") or any(
                p.split(".")[0] == "torch" and isinstance(lookup(p), type) for p in self.paths(base, scope)):
            text = self._text_around(node)
            yield text, (f"`{text}`: an attribute torch's modules are called through, replaced: the function that "
                         "replaces it is handed them unseen")

    def _hooking(self, call: ast.Call, scope: Scope, rule: Rule) -> Iterator[tuple[str, str]]:
        """(what, message) for a call that hands a forbidden module to a function or container of the
        notebook's: its hooks, apply(), named_modules(memo); setattr on it."""
        func = call.func
        held = self._hazard(func.value, scope, rule, 0) if isinstance(func, ast.Attribute) else None
        if held is not None and isinstance(func, ast.Attribute):
            if func.attr in HOOKING_METHODS or "hook" in func.attr or (
                    func.attr.startswith("_") and func.attr not in CALLING_ATTRIBUTES):  # _named_members(fn)...
                yield held[0], (f"{held[0]} handed to a function through `{quote(func)}`: where it goes and when "
                                "it runs cannot be followed")
            elif held[1] in HOLDERS and func.attr not in HOLDER_METHODS \
                    and func.attr not in self.model_methods:
                yield held[0], (f"`{quote(call)}`: a method of what holds {held[0]}, which can compare it with, "
                                "or hand it to, an object of the notebook's")
        if self._builtin(func, scope) in ("setattr", "delattr") and call.args:
            name = call.args[1] if len(call.args) > 1 else None
            literal = name.value if isinstance(name, ast.Constant) and isinstance(name.value, str) else None
            yield from self._patching(call, call.args[0], literal, scope, rule)


def _patched_name(attribute: str, on_self: bool = False) -> bool:
    """Would writing `attribute` of an object of the notebook's choosing replace what torch calls on its
    modules when they are made, called, shown or asked their parameters? That is nn.Module's methods,
    forward, dunders and private names (nn.Sequential's _get_item_by_idx, nn.Module's _compiled_call_impl)
    but `self._x` of the notebook's: `self` may be any object (`Helper.patch(nn.Module)`), so those only
    where torch's modules have no such name."""
    if attribute == "__doc__":
        return False
    if attribute.startswith("__") or attribute in CALLING_ATTRIBUTES or attribute in module_methods():
        return True
    return attribute.startswith("_") and (not on_self or attribute in _private_module_names())


@functools.cache
def _private_module_names() -> frozenset[str]:
    """The private names of torch's module classes' attributes (nn.Sequential's _get_item_by_idx...)."""
    import torch

    names: set[str] = set()
    for name in dir(torch.nn):
        target = getattr(torch.nn, name, None)
        if isinstance(target, type) and issubclass(target, torch.nn.Module):
            names.update(n for n in dir(target) if n.startswith("_"))
    return frozenset(names)


def _defined_name(node: ast.AST) -> str | None:
    """The name a function definition or a plain assignment target defines, else None."""
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        return node.name
    return node.id if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store) else None


def _imported(node: ast.Import | ast.ImportFrom) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    return [] if node.level else [node.module or ""]


def _uncheckable_call(call: ast.Call) -> Iterator[tuple[str, str]]:
    func = call.func
    name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
    if name in ("getattr", "__getattribute__", "attrgetter", "methodcaller") and getattr_literal(call) is None:
        if name != "getattr" or len(call.args) >= 2:
            yield quote(call), f"{name} with a computed name (`{quote(call)}`), which cannot be checked"
    elif isinstance(func, ast.Name) and name in UNCHECKABLE_CALLS:
        yield quote(call), f"{UNCHECKABLE_CALLS[name]} (`{quote(call)}`), whose code cannot be checked"


def _unchecked_path(path: str, node: ast.AST) -> Iterator[tuple[str, str]]:
    """(what, message) when `path` (what `node` denotes) leads somewhere the reader cannot follow."""
    parts = path.split(".")
    if parts[0] == "grader" or _dispatch_switch(path):
        return  # tampering: told as such
    unseen = f"{path} (`{quote(node)}`), which can reach any function unseen"
    if _unseen(path):
        yield path, unseen
    elif path in COMPUTED_ACCESS:
        yield path, f"{path} (`{quote(node)}`): a computed attribute access, which cannot be checked"
    elif parts[0] != "grader" and any(_internal(part) for part in parts[1:]):
        yield path, f"{'torch ' if parts[0] == 'torch' else ''}internals: {unseen}"


def _unseen(path: str) -> bool:
    """Does `path` make code or objects from text, start a process, or reach past its streams (sys)?"""
    parts = path.split(".")
    if parts[0] == "sys" and len(parts) > 1:
        return parts[1] not in SAFE_SYS
    if parts[0] == "IPython" and len(parts) > 1:
        return not path.startswith(SAFE_IPYTHON)
    return any(path == p or path.startswith(p[:-1] if p.endswith("*") else f"{p}.") for p in UNCHECKABLE_PATHS)


def _dispatch_switch(path: str) -> bool:
    """torch's machinery that the runtime guard stands on: modes, and switches to disable them."""
    parts = path.split(".")
    return parts[0] == "torch" and any(
        part in ("overrides", "_python_dispatch", "_C", "_ops") or "Disable" in part for part in parts[1:])


def _internal(part: str) -> bool:
    """A private or dispatch-level part of a library, or a module's namespace dict."""
    if part == "__dict__":
        return True
    return (part.startswith("_") and not part.startswith("__")) or part in ("ops", "overrides")
