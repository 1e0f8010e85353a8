"""Model classes and torch's module classes, as the "must not call" reader reads them.

A class of the notebook's is read as code that runs from anywhere (escaped), unless it is a model
class: `class Net(nn.Module)` whose methods only build torch modules on `self` and call them, which
the notebook only makes with constants (`Net()`, `CNN(10)`), and whose instances are then followed as
holders of what they hold (grader/forbidden/hazards.py): named, called (forward gives tensors), shown,
never handed on. Its methods then run only where the notebook makes or calls a model, which code reached
by a ruled function never does (it would reach the class by that name, and read its body).

In a model's methods no value can hold the model or its modules: `self` is only written `self.x`
(never passed, returned or stored), `self.x` is only called (or indexed, or looped over, to call),
torch's module classes are only made into `self.x` or into each other (nn.Sequential(nn.Conv2d(...)));
no lambda, nested def or class, generator, yield, try, with, global, import; names from outside are
modules and functions of imports, called, constants, or Python builtins, called. So everything the
methods pass to any function, store anywhere but `self`, return or raise is data (tensors, numbers);
the modules torch calls (forward) are handed data only. Its methods are __init__, forward or names
torch's modules do not have (torch never calls them), undecorated, with constant defaults; its only
base is torch.nn.Module, and torch itself hands a module to no function of the notebook's: hooks,
apply(), named_modules(memo) and patches of nn.Module's methods are read as handing it on
(grader/forbidden/anywhere.py).

torch's own module classes (nn.Sequential, nn.ModuleList, nn.ReLU) are told from the notebook's here
too: they keep the modules they are given, so what one is made of is what it holds.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Sequence

from .notebook import Notebook
from .rule import Rule, lookup
from .syntax import Scope, scoped_walk, top_statements
from .tables import CALLING_ATTRIBUTES

MODEL_FORBIDS = (  # in a model's methods: code kept or run elsewhere, names bound out of sight
    ast.Lambda, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Global, ast.Nonlocal, ast.Yield,
    ast.YieldFrom, ast.Await, ast.GeneratorExp, ast.Try, ast.With, ast.AsyncWith, ast.AsyncFor, ast.Import,
    ast.ImportFrom, ast.NamedExpr, ast.Delete, ast.Match, *([ast.TryStar] if hasattr(ast, "TryStar") else []))
# nor may a model's own methods be named as a container's: code given a model for a list would call them
CONTAINER_METHODS = frozenset(name for kind in (list, dict, set, tuple, str) for name in dir(kind))
MODEL_BUILTINS = frozenset({  # called (or raised) in a model's methods
    "super", "range", "len", "int", "float", "bool", "min", "max", "abs", "round", "sum", "print", "tuple", "list",
    "zip", "enumerate", "ValueError", "TypeError", "RuntimeError", "NotImplementedError", "AssertionError"})


def _plain_annotation(node: ast.AST | None) -> bool:
    """An annotation that only names things (`torch.Tensor`, `int | None`, `Optional[int]`): it calls nothing."""
    return node is None or all(isinstance(n, ast.Name | ast.Attribute | ast.Constant | ast.Subscript | ast.Tuple
                                          | ast.BinOp | ast.BitOr | ast.expr_context) for n in ast.walk(node))


@functools.cache
def module_methods() -> frozenset[str]:
    """The methods torch.nn.Module has (an instance's `eval`, `modules`, `apply`...)."""
    import torch

    return frozenset(n for n in dir(torch.nn.Module) if callable(getattr(torch.nn.Module, n, None)))


def _torch_module_class(path: str) -> bool:
    """Is `path` one of torch's own classes of modules (nn.Sequential, nn.ReLU), not one of the notebook's?"""
    import torch

    target = lookup(path)
    return isinstance(target, type) and issubclass(target, torch.nn.Module) \
        and target.__module__.startswith("torch.nn.")


class ModelClasses(Notebook):
    """The notebook's model classes (see the module's docstring), and torch's module classes among its names."""

    def __init__(self, cells: Sequence[str]) -> None:
        super().__init__(cells)
        self.model_holds: dict[int, str | None] = {}  # ModelClasses._model_holds' memo
        self.models: dict[int, ast.ClassDef] = {id(c): c for c in self._model_candidates() if self._model_class(c)}
        self.model_methods = {m.name for c in self.models.values() for m in c.body if isinstance(m, ast.FunctionDef)}
        self.model_nodes = {id(node) for c in self.models.values() for m in c.body if isinstance(m, ast.FunctionDef)
                            for statement in m.body for node in ast.walk(statement)}

    def _model_candidates(self) -> list[ast.ClassDef]:
        """Classes defined once at a cell's top level, under a name nothing else binds."""
        return [statement for tree in self.trees for statement in top_statements(tree.body)
                if isinstance(statement, ast.ClassDef) and self.bindings.get(statement.name) == [statement]]

    def _model_class(self, c: ast.ClassDef) -> bool:
        if c.decorator_list or c.keywords or not c.bases or any(
                self.paths(base, {}) != {"torch.nn.Module"} for base in c.bases):
            return False
        methods: dict[str, ast.FunctionDef] = {}
        for statement in c.body:
            if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant):
                continue  # a docstring
            if not isinstance(statement, ast.FunctionDef) or statement.decorator_list or statement.name in methods \
                    or (statement.name not in ("__init__", "forward") and (
                        statement.name.startswith("__") or statement.name in module_methods()
                        or statement.name in CONTAINER_METHODS)):
                return False
            methods[statement.name] = statement
        init = methods.get("__init__")
        built = {node.attr for node in ast.walk(init) if isinstance(node, ast.Attribute)
                 and isinstance(node.ctx, ast.Store)} if init else set()
        return all(self._model_method(c, m, methods, built) for m in methods.values()) and self._model_uses(c)

    def _model_method(self, c: ast.ClassDef, method: ast.FunctionDef, methods: dict[str, ast.FunctionDef],
                      built: set[str]) -> bool:
        """Does one method of a model class keep to the grammar above?"""
        arguments = method.args
        positional = [*arguments.posonlyargs, *arguments.args]
        every = [*positional, *arguments.kwonlyargs, *filter(None, [arguments.vararg, arguments.kwarg])]
        if not positional or not all(isinstance(d, ast.Constant) for d in [*arguments.defaults,
                                                                           *filter(None, arguments.kw_defaults)]):
            return False
        if not all(_plain_annotation(a) for a in [method.returns, *(arg.annotation for arg in every)]):
            return False
        me = positional[0].arg
        nodes = [node for statement in method.body for node in ast.walk(statement)]
        local = {arg.arg for arg in every} | {n.id for n in nodes if isinstance(n, ast.Name)
                                              and isinstance(n.ctx, ast.Store)}
        if any(isinstance(n, ast.Name) and n.id == me and not isinstance(n.ctx, ast.Load) for n in nodes):
            return False
        for node in nodes:
            if isinstance(node, MODEL_FORBIDS):
                return False
            if isinstance(node, ast.Name) and not self._model_name(node, c, method, me, local):
                return False
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == me \
                    and not self._model_member(node, method, methods, built, nodes):
                return False
            if isinstance(node, ast.Call) and self._holding_class(node.func, {}) \
                    and not self._module_made(node, method, me):
                return False
        return True

    def _model_name(self, node: ast.Name, c: ast.ClassDef, method: ast.FunctionDef, me: str, local: set[str]) -> bool:
        parent = self.parents.get(id(node))
        if node.id == me:  # `self.x`, or super(Net, self)
            return (isinstance(parent, ast.Attribute) and node is parent.value) or self._super_call(parent, c, me)
        if node.id == c.name:
            return self._super_call(parent, c, me) and parent.args[0] is node  # type: ignore[union-attr]
        if node.id in local:
            return True  # data: what the method was given or computed
        bindings = self.bindings.get(node.id, [])
        if bindings and all(isinstance(b, str) for b in bindings):  # an import: only called (nn.Conv2d(...))
            top: ast.AST = node
            while isinstance(self.parents.get(id(top)), ast.Attribute):
                top = self.parents[id(top)]
            return self._called(top)
        if bindings:
            return all(isinstance(b, ast.Constant) for b in bindings)
        if self.stars or node.id not in MODEL_BUILTINS:
            return False
        if node.id == "super":
            return self._super_call(parent, c, me) and node is parent.func  # type: ignore[union-attr]
        return self._called(node) or isinstance(parent, ast.Raise)

    def _super_call(self, call: ast.AST | None, c: ast.ClassDef, me: str) -> bool:
        """`super().__init__(...)` or `super(Net, self).__init__(...)`, as a whole."""
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "super"
                and not call.keywords):
            return False
        if call.args and [getattr(a, "id", None) for a in call.args] != [c.name, me]:
            return False
        member = self.parents.get(id(call))
        return isinstance(member, ast.Attribute) and member.attr == "__init__" and self._called(member)

    def _model_member(self, node: ast.Attribute, method: ast.FunctionDef, methods: dict[str, ast.FunctionDef],
                      built: set[str], nodes: list[ast.AST]) -> bool:
        """`self.x`: set in __init__ (to a module, or data), else only called, indexed or looped over to call."""
        name = node.attr
        torch_name = name.startswith("__") or name in module_methods() or name in CALLING_ATTRIBUTES
        parent = self.parents.get(id(node))
        if isinstance(node.ctx, ast.Store):
            return method.name == "__init__" and isinstance(parent, ast.Assign) and name not in methods \
                and not torch_name
        if not isinstance(node.ctx, ast.Load) or not (name in methods or (name in built and not torch_name)):
            return False  # its own methods (self.forward too), or what __init__ built
        top: ast.AST = node
        while isinstance(above := self.parents.get(id(top)), ast.Subscript) and top is above.value:
            top = above
        if self._called(top):
            return True
        loop = self.parents.get(id(top))
        if isinstance(loop, ast.For) and top is loop.iter and isinstance(loop.target, ast.Name):
            element = loop.target.id  # `for layer in self.layers: x = layer(x)`
            uses = [n for n in nodes if isinstance(n, ast.Name) and n.id == element]
            return all(self._called(n) for n in uses if isinstance(n.ctx, ast.Load)) and sum(
                isinstance(n.ctx, ast.Store) for n in uses) == 1
        return False

    def _module_made(self, node: ast.Call, method: ast.FunctionDef, me: str) -> bool:
        """A torch module made in a model: called on the spot, made into `self.x`, or into another one."""
        if self._called(node):
            return True
        child: ast.AST = node
        parent = self.parents.get(id(child))
        while isinstance(parent, ast.keyword | ast.Starred | ast.List | ast.Tuple | ast.ListComp):
            if isinstance(parent, ast.ListComp) and child is not parent.elt:
                return False
            child, parent = parent, self.parents.get(id(parent))
        if isinstance(parent, ast.Call) and child is not parent.func and self._holding_class(parent.func, {}):
            return True
        return method.name == "__init__" and isinstance(parent, ast.Assign) and child is parent.value and all(
            isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and t.value.id == me
            for t in parent.targets)

    def _model_uses(self, c: ast.ClassDef) -> bool:
        """Is the class, outside its own body, only called, with constants (`Net()`, `CNN(10)`)?"""
        inside = {id(node) for node in ast.walk(c)}
        for tree in self.trees:
            for node, scope in scoped_walk(tree, {}, self.stars):
                if not isinstance(node, ast.Name) or node.id != c.name or node.id in scope or id(node) in inside:
                    continue
                call = self.parents.get(id(node))
                if not (self._called(node) and isinstance(call, ast.Call) and all(
                        isinstance(a, ast.Constant) for a in [*call.args, *(k.value for k in call.keywords)])
                        and all(k.arg is not None for k in call.keywords)):
                    return False
        return True

    def _model_holds(self, c: ast.ClassDef, rule: Rule) -> str | None:
        """The first forbidden name a model class's body uses ("torch.nn.Conv2d (in Net)"), or None."""
        if id(c) not in self.model_holds:
            self.model_holds[id(c)] = next((f"{what} (in {c.name})" for node, scope in scoped_walk(c, {}, self.stars)
                                            for what, _ in self.problems(node, scope, rule)), None)
        return self.model_holds[id(c)]

    def _holding_class(self, node: ast.AST, scope: Scope) -> bool:
        """torch's own module classes (nn.Sequential, nn.ModuleList...): they keep the modules they are given."""
        return any(_torch_module_class(path) for path in self.paths(node, scope))
