"""The "must not call" rule, read from the submitted source, in the grader.

The rule is the grader's own reading of the source: the runtime guard in probe.py runs in the
student's process, so what it reports (or does not) is the student's word, and a rule whose
evidence the student can forge is no rule. So the source must show, to a reader who follows
names, that no forbidden computation can run while a check calls the exercise's function:

- the function, and everything it reaches through names (helpers, aliases, `getattr(F, "conv2d")`,
  default arguments, `global` rebindings), must not name a forbidden function, class or routine,
  by any path (`F.conv2d`, `torch.nn.modules.conv.F.conv2d`) nor by its own name on a base the
  reader cannot follow (`Box.t.nn.functional.conv2d`, `make()().conv2d`);
- neither may any code that can run from somewhere else later: classes (their methods run
  implicitly), lambdas, generators, decorated functions, and every function handed on as a value
  (a thread's target, a callback, an entry of a registry);
- anywhere in the notebook, a forbidden function or class is only called on the spot, or named
  (`c = F.conv2d`, then followed through `c`), never handed on as a value (`REG["f"] = F.conv2d`,
  `functools.partial(F.conv2d)`, `Thread(target=F.conv2d)`);
- anywhere in the notebook, nothing that makes code or objects out of strings or bytes, or reaches
  objects behind the reader's back, or runs code the reader cannot see: eval, exec, compile,
  __import__, computed getattr, `getattr` as a value, globals/locals/vars, importlib, pickle and its
  kin, pydoc.locate, inspect, gc, frames and code objects (`__globals__`, `f_back`), `sys`
  beyond its streams and version, processes and shell commands, IPython magics that run code
  given as text (`%time` and `%timeit` are read as code), torch's loaders, compilers and internals,
  and the grader's probe or torch's dispatch switches, which could switch the runtime guard off.

A name is forbidden when it resolves to the same object as a forbidden one, so `torch.conv2d`,
`F.conv2d` and `torch.nn.modules.conv.F.conv2d` are one. Forbidden names are dotted paths from
`torch` ("torch.nn.functional.conv2d", "torch.nn.Conv2d"), aten operators ("aten.convolution"),
which only the runtime guard can see being called, or a family ("family.convolution",
grader/families.py): a rule on one name of a family covers all of it, torch's functions of that
family in every namespace (`torch.nn.grad.conv2d_weight`, `torch.mkldnn_convolution`) and numpy's
and scipy's routines that compute it (`numpy.convolve`, `scipy.signal.correlate2d`,
`scipy.ndimage.maximum_filter`).

What is deliberately allowed: a forbidden function called in a cell to compare with (`print(F.conv2d(x, k))`),
or in another exercise's function that the ruled one does not reach (cross_correlation2d has no rule).
"""

from __future__ import annotations

import ast
import functools
import re
from collections.abc import Iterator, Sequence
from typing import Any

from .families import (
    ARRAY_LIBRARIES,
    ARRAY_ROUTINES,
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
    "breakpoint": "breakpoint()",
}
VALUE_BUILTINS = frozenset({*UNCHECKABLE_CALLS, "getattr", "__getattribute__"})  # not to be handed on either
UNCHECKABLE_PATHS = (  # and whatever is under them; a trailing * matches any name that starts so
    "importlib", "sys.modules", "builtins", "ctypes", "__main__", "site", "imp", "zipimport",
    "_thread", "_posixsubprocess", "threading._*",  # a thread or process out of the watch
    # objects or code made from strings and bytes
    "pickle", "_pickle", "copyreg", "marshal", "shelve", "dill", "cloudpickle", "joblib", "pkgutil", "pydoc",
    "runpy", "code", "codeop", "timeit", "cProfile", "profile", "pdb", "bdb", "doctest", "trace", "inspect",
    "types.FunctionType", "types.LambdaType", "types.CodeType", "gc", "string.Formatter", "logging.config",
    "unittest.mock", "typing.get_type_hints",
    "typing.ForwardRef", "functools.singledispatch", "functools.singledispatchmethod", "jinja2", "sympy",
    # processes, whose code the grader cannot read
    "subprocess", "multiprocessing", "concurrent.futures.process", "concurrent.futures.ProcessPoolExecutor",
    "pty", "os.system", "os.popen", "os.fork*", "os.exec*", "os.spawn*", "os.posix_spawn*", "os.register_at_fork",
    # torch's and numpy's loaders, compilers and registries
    "torch.load", "torch.serialization", "torch.hub", "torch.package", "torch.library", "torch.classes",
    "torch.utils.cpp_extension", "torch.utils.benchmark", "torch.multiprocessing", "torch.fx", "torch.jit",
    "torch.export", "torch.compile",
    "numpy.load", "numpy.lib.npyio", "numpy.lib.format", "pandas.read_pickle",
)
SAFE_SYS = frozenset({"stdout", "stderr", "stdin", "version", "version_info", "platform", "byteorder", "maxsize",
                      "float_info", "int_info", "exit", "getrecursionlimit", "setrecursionlimit", "getsizeof"})
SAFE_IPYTHON = ("IPython.display", "IPython.core.display")
COMPUTED_ACCESS = ("operator.attrgetter", "operator.methodcaller")
INTROSPECTION = frozenset({  # attributes that reach objects behind the reader's back
    "__globals__", "__builtins__", "__code__", "__closure__", "__dict__", "__getattribute__", "__getattr__",
    "__reduce__", "__reduce_ex__", "__self__", "__func__", "__wrapped__", "__subclasses__", "__mro__",
    "__bases__", "__base__", "__loader__", "__spec__", "__import__", "__defaults__", "__kwdefaults__",
    "__traceback__", "__objclass__", "__all__", "__annotations__", "__setattr__", "__delattr__", "__module__",
    "f_globals", "f_locals", "f_builtins", "f_back", "f_code", "tb_frame", "tb_next", "gi_frame", "gi_code",
    "cr_frame", "cr_code", "ag_frame", "ag_code", "co_consts", "co_code", "co_names",
    "user_ns", "user_global_ns", "user_module",  # IPython's namespace of the notebook
})
INTROSPECTING_NAMES = frozenset({"__builtins__", "__loader__", "__spec__", "__build_class__"})
DISPATCH_LEAVES = frozenset({  # torch's switches of the modes the runtime guard stands on, by name
    "_C", "_python_dispatch", "_disable_current_modes", "DisableTorchFunction", "DisableTorchFunctionSubclass",
    "_DisableTorchDispatch", "overrides", "_ops", "_pop_mode", "_push_mode", "_pop_torch_function_stack",
    "_push_on_torch_function_stack", "_get_current_function_mode_stack", "_set_torch_function_mode",
})
NON_RETAINING = frozenset({  # builtins that use their arguments on the spot and keep none of them
    "print", "repr", "str", "len", "help", "type", "isinstance", "id", "format", "all", "any", "sum", "list", "tuple",
    "sorted", "min", "max", "enumerate", "zip", "display"})
SAFE_DECORATORS = frozenset({  # they wrap a function for its own calls, and keep it nowhere else
    "torch.no_grad", "torch.inference_mode", "torch.enable_grad", "functools.wraps", "functools.cache",
    "functools.lru_cache", "dataclasses.dataclass", "staticmethod", "classmethod"})
ALLOWED_MODULES = frozenset({  # what a notebook with a rule may import; anything else cannot be read
    "torch", "numpy", "scipy", "skimage", "math", "cmath", "random", "time", "typing", "dataclasses", "functools",
    "itertools", "collections", "operator", "matplotlib", "IPython", "grader", "statistics", "fractions", "decimal",
    "copy", "warnings", "abc", "enum", "numbers", "re", "json", "os", "sys", "pathlib", "contextlib", "threading",
    "queue", "textwrap", "pprint", "string", "datetime", "heapq", "bisect", "array", "__future__", "tqdm"})
_FAMILY_NAME = re.compile(r"^[A-Z]\w*(Conv|Pool)|(conv|pool)\w*\dd(_|$)|^(LP|Lp)Pool")  # ConvReLU2d, max_pool2d
CALLING_ATTRIBUTES = frozenset({"forward", "__call__", "_conv_forward", "_call_impl", "_wrapped_call_impl"})

# IPython magics as IPython turns them into Python: those that run code given as text are read as code
CODE_MAGICS = frozenset({"time", "timeit", "prun", "capture"})
SAFE_MAGICS = frozenset({"matplotlib", "config", "autoreload", "env", "pinfo", "pinfo2", "pwd", "who", "whos",
                         "precision", "pdoc", "pdef"})
_MAGIC_OPTIONS = re.compile(r"^(?:\s*-(?:[nrp]\s+\S+|\w+))*")  # %timeit -n 10 -q
_PLAIN_INSTALL = re.compile(r"\s*(?:pip3?|conda)\s+install(?:\s+(?:-i|--(?:extra-)?index-url)\s+\S+|\s+-[-\w]+)*"
                            r"(?:\s+[A-Za-z0-9_.\[\]=<>~,-]+)+(?:\s+(?:-i|--(?:extra-)?index-url)\s+\S+|\s+-[-\w]+)*\s*")

# The student's own self-check cell (`import grader; grader.check()`, grader/notebook.py): it runs
# public checks in their kernel and does nothing while the notebook is graded; it is not tampering.
SELF_CHECK = frozenset({"grader.check"})
TOO_DEEP = "the notebook's source is nested too deeply for the grader to read, so the rule cannot be checked"


@functools.lru_cache(maxsize=64)
def violations(cells: tuple[str, ...], function: str, forbidden: tuple[str, ...]) -> tuple[str, ...]:
    """What `function` (and what it reaches) uses that `forbidden` rules out, in words; () if nothing."""
    names = tuple(n for n in forbidden if not n.startswith(("aten.", FAMILY_PREFIX)))
    families = frozenset(filter(None, map(family_of, forbidden)))
    if not names and not families:
        return ()
    try:
        return _violations(cells, function, _Rule(names, families))
    except (RecursionError, MemoryError):  # a source built to exhaust the reader is not read
        return (TOO_DEEP,)


def _violations(cells: tuple[str, ...], function: str, rule: _Rule) -> tuple[str, ...]:
    source = _Source(cells)
    if function not in source.bindings:
        return (f"no definition of {function} could be read in the source, so the rule cannot be checked",)
    found: dict[str, str] = {}

    def add(what: str, message: str) -> None:
        if not any(known.startswith(f"{what}.") for known in found):  # torch.ops after torch.ops.aten
            found.setdefault(what, message)
    for what in source.tampering():
        add(what, f"{what} in the notebook: the grader's probe or torch's dispatch switches can hide calls")
    for what, message in source.unreadable():
        add(what, message)
    for node, scope in source.everywhere():
        for what, message in source.handed_on(node, scope, rule):
            add(what, message)
    for node, scope in source.reachable([*source.bindings[function], *source.escaped()]):
        for what, message in source.problems(node, scope, rule):
            add(what, message)
    return tuple(found.values())


class _Rule:
    """What one rule forbids: objects by identity (id -> first name), families, and the names they go by."""

    def __init__(self, names: tuple[str, ...], families: frozenset[str]) -> None:
        self.families = families
        every = (*names, *family_names(families))
        self.targets = _forbidden_objects(every)
        self.leaves = _leaves(every)
        self.classes = tuple(t for t in map(_lookup, every) if isinstance(t, type))
        self.holders = {".".join(n.split(".")[:i]) for n in every for i in range(1, n.count(".") + 1)}  # torch.nn

    def holder(self, path: str) -> str | None:
        """`path` as a module that holds forbidden names (torch.nn.functional, numpy, scipy.signal), or None."""
        parts = path.split(".")
        if path in self.holders or (parts[0] in ARRAY_LIBRARIES and (len(parts) == 1 or parts[-1] in _SUBMODULES)):
            return f"{path} (a module that holds what the rule forbids)"
        return None

    def name_of(self, path: str) -> str | None:
        """The forbidden name `path` denotes (a torch object or a routine of a family), or None."""
        routine = array_routine_family(path, set(self.families))
        if routine is not None:
            return f"{path}, a routine that computes the {routine} itself"
        target = _lookup(path)
        if target is None:
            return None
        if id(target) in self.targets:
            return self.targets[id(target)]
        if isinstance(target, type) and any(issubclass(target, forbidden) for forbidden in self.classes):
            return f"{path}, a kind of {self.targets[id(next(c for c in self.classes if issubclass(target, c)))]}"
        last = path.rsplit(".", 1)[-1]
        family = next((f for f in self.families if OPERATORS[f].search(last.lower())), None)
        return f"{path}, a {family} by its name" if family and _FAMILY_NAME.search(last) else None

    def leaf(self, node: ast.AST) -> str | None:
        """The forbidden name an attribute (or a literal getattr) is called by, whatever it is attached to."""
        name = node.attr if isinstance(node, ast.Attribute) else (_getattr_literal(node) or (None, ""))[1]
        if not name:
            return None
        family = next((f for f in self.families if ARRAY_ROUTINES[f].match(name.lower())), None)
        if family is None and _FAMILY_NAME.search(name):
            family = next((f for f in self.families if OPERATORS[f].search(name.lower())), None)
        return self.leaves.get(name) or (f"{name}, a {family} by its name" if family else None)


_SUBMODULES = frozenset({"signal", "ndimage", "lib", "stride_tricks", "filters", "pylab", "pyplot", "io"})


def _leaves(names: Sequence[str]) -> dict[str, str]:
    """Each forbidden name's last part -> the name; not the parts that are also allowed Tensor methods (unfold)."""
    import torch

    found: dict[str, str] = {}
    for name in names:
        leaf = name.rsplit(".", 1)[-1]
        if not hasattr(torch.Tensor, leaf):
            found.setdefault(leaf, name)
    return found


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


def _is_class(name: str) -> bool:
    target = _lookup(name)
    return isinstance(target, type) if target is not None else name.rsplit(".", 1)[-1][:1].isupper()


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
    todo = list(ast.iter_child_nodes(node))
    while todo:
        child = todo.pop()
        yield child
        if not isinstance(child, _SCOPES):
            todo += ast.iter_child_nodes(child)


def _locals(function: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda, stars: list[str]) -> Scope:
    """The names local to a function: its parameters (bound to nothing known) and what it assigns."""
    scope: Scope = {}
    arguments = function.args
    for arg in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs,
                *filter(None, [arguments.vararg, arguments.kwarg])]:
        scope[arg.arg] = []
    body = function.body if isinstance(function.body, list) else [function.body]
    for statement in body:
        for node in [statement, *_own_nodes(statement)]:
            _bind(scope, node, stars)
    for name in _declared_global(function):
        scope.pop(name, None)
    return scope


def _declared_global(function: ast.AST) -> set[str]:
    return {name for node in _own_nodes(function) if isinstance(node, ast.Global | ast.Nonlocal) for name in node.names}


def _scoped_walk(node: ast.AST, scope: Scope, stars: list[str]) -> Iterator[tuple[ast.AST, Scope]]:
    """Every node under `node`, with the local names in force there."""
    todo = [(node, scope)]
    while todo:
        node, scope = todo.pop()
        yield node, scope
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            scope = {**scope, **_locals(node, stars)}
        elif isinstance(node, ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp):
            inner: Scope = {}
            for generator in node.generators:
                _bind(inner, generator, stars)
            scope = {**scope, **inner}
        todo += [(child, scope) for child in reversed(list(ast.iter_child_nodes(node)))]


class _Source:
    """The submission's cells, and its top-level names and what they are bound to."""

    def __init__(self, cells: Sequence[str]) -> None:
        self.bindings: Scope = {}
        self.stars: list[str] = []
        self.trees: list[ast.Module] = []
        self.magic_problems: list[tuple[str, str]] = []
        self.magic_calls: set[int] = set()  # ids of the get_ipython() calls of magics read above
        for cell in cells:
            self._read(cell)
        self.parents = {id(child): parent for tree in self.trees for parent in ast.walk(tree)
                        for child in ast.iter_child_nodes(parent)}
        self.functions = {node.name for tree in self.trees for node in ast.walk(tree)
                          if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)}
        for tree in self.trees:
            for statement in _top_statements(tree.body):
                _bind(self.bindings, statement, self.stars)
                if isinstance(statement, ast.With | ast.AsyncWith):
                    for item in statement.items:
                        _bind(self.bindings, item, self.stars)
            for function in ast.walk(tree):  # `global name` in a function rebinds a top-level name
                if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef) and _declared_global(function):
                    inner: Scope = {}
                    for node in _own_nodes(function):
                        _bind(inner, node, self.stars)
                    for name in _declared_global(function) & inner.keys():
                        for binding in inner[name]:
                            _add(self.bindings, name, binding)

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
        if name in SAFE_MAGICS or (name == "load_ext" and [t.strip() for t in texts] == ["autoreload"]) or (
                name in ("pip", "conda") and _PLAIN_INSTALL.fullmatch(" ".join([name, *texts[:1]]))):
            return None
        if name in CODE_MAGICS:
            codes = texts[-1:] if name == "capture" else [_MAGIC_OPTIONS.sub("", t, count=1) for t in texts]
            if all(self._read(code) for code in codes if code.strip()):
                return None
        return f"%{name}", f"the magic %{name}, which can run code unseen"

    def tampering(self) -> list[str]:
        """Uses, anywhere, of the grader's probe or of torch's function-dispatch switches."""
        found: dict[str, str] = {}  # path -> as written
        for tree in self.trees:
            for node in ast.walk(tree):
                if isinstance(node, ast.Name) and node.id.startswith("__coursegrade"):
                    found.setdefault(node.id, node.id)
                if isinstance(node, ast.Attribute) and node.attr in DISPATCH_LEAVES:
                    found.setdefault(_text(node), _text(node))
                if isinstance(node, ast.Name | ast.Attribute) and not self._self_check(node):
                    for path in self.paths(node, {}):
                        if path.split(".")[0] == "grader" or _dispatch_switch(path):
                            found.setdefault(path, _text(node))
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

    def everywhere(self) -> Iterator[tuple[ast.AST, Scope]]:
        for tree in self.trees:
            yield from _scoped_walk(tree, {}, self.stars)

    def handed_on(self, node: ast.AST, scope: Scope, rule: _Rule) -> Iterator[tuple[str, str]]:
        """(what, message) for what no code may do anywhere in the notebook: code or objects from text,
        introspection, a module the reader does not know, a pattern reading attributes, a process, or a
        forbidden function, class or module handed on as a value."""
        if isinstance(node, ast.Call):
            yield from _uncheckable_call(node)
        if isinstance(node, ast.Name) and node.id in VALUE_BUILTINS and node.id not in scope \
                and node.id not in self.bindings and not self._called(node):
            yield node.id, f"{node.id} handed on as a value (`{self._text_around(node)}`), which cannot be checked"
        if isinstance(node, ast.MatchClass) and node.kwd_attrs:
            yield _text(node), f"`case {_text(node)}`: a pattern that reads attributes, which cannot be checked"
        if isinstance(node, ast.Import | ast.ImportFrom):
            for module in _imported(node):
                if module.split(".")[0] not in ALLOWED_MODULES or module.startswith(("matplotlib.pylab", "pylab")):
                    yield f"import {module}", (f"import {module}: a module the rule's reader does not know, which can "
                                               "reach any function unseen")
        attribute = node.attr if isinstance(node, ast.Attribute) else (_getattr_literal(node) or (None, ""))[1]
        if attribute in INTROSPECTION:
            yield _text(node), f"`{_text(node)}`: introspection, which can reach any function unseen"
        if isinstance(node, ast.Name | ast.Attribute):
            for path in self.paths(node, scope):
                yield from _unchecked_path(path, node)
        loaded = isinstance(node, ast.Call) or isinstance(getattr(node, "ctx", None), ast.Load)
        if loaded and isinstance(node, ast.Name | ast.Attribute | ast.Call) and self._handed_on(node):
            name = self.hazard(node, scope, rule)
            if name is not None:
                yield name, (f"{name} handed on as a value (`{self._text_around(node)}`): where it goes and "
                             "when it runs cannot be followed")

    def _own_method(self, node: ast.AST) -> bool:
        """`self.name` or `cls.name` where the notebook defines a function of that name (in a class)."""
        return (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                and node.value.id in ("self", "cls") and node.attr in self.functions)

    def _called(self, node: ast.AST) -> bool:
        parent = self.parents.get(id(node))
        return isinstance(parent, ast.Call) and node is parent.func

    def _handed_on(self, node: ast.AST) -> bool:
        """Is `node`'s value kept or passed on, rather than called on the spot, named, or dropped?"""
        parent = self.parents.get(id(node))
        if self._called(node):
            return False
        if isinstance(parent, ast.Attribute | ast.Expr) or _getattr_literal(parent) is not None:
            return False  # an attribute of it is judged itself; a value dropped goes nowhere
        if isinstance(parent, ast.Assign | ast.AnnAssign | ast.NamedExpr) and node is parent.value:
            targets = parent.targets if isinstance(parent, ast.Assign) else [parent.target]
            return not all(_plain(target) for target in targets)
        return not self._used_on_the_spot(node)

    def _used_on_the_spot(self, node: ast.AST) -> bool:
        """An argument of a builtin that uses it and keeps nothing (`print(m)`, `all(... for ...)`)."""
        parent = self.parents.get(id(node))
        if isinstance(parent, ast.keyword):
            parent = self.parents.get(id(parent))
        return (isinstance(parent, ast.Call) and node is not parent.func and isinstance(parent.func, ast.Name)
                and parent.func.id in NON_RETAINING and parent.func.id not in self.bindings)

    def _text_around(self, node: ast.AST) -> str:
        parent = self.parents.get(id(node))
        return _text(parent) if isinstance(parent, ast.expr | ast.stmt) and not isinstance(parent, ast.Expr) \
            else _text(node)

    def hazard(self, node: ast.AST, scope: Scope, rule: _Rule, depth: int = 0) -> str | None:
        """The forbidden name `node`'s value is: a forbidden function or class, an instance of a
        forbidden class, or what a name is bound to; None for anything else."""
        if depth > 10:
            return None
        for path in self.paths(node, scope):
            name = rule.name_of(path) or rule.holder(path)
            if name is not None:
                return name
        leaf = rule.leaf(node)
        if leaf is not None:
            return leaf
        if isinstance(node, ast.Call):  # an instance, when what is called is the forbidden class itself
            names = {rule.name_of(path) for path in self.paths(node.func, scope)} | {rule.leaf(node.func)}
            return next((name for name in sorted(filter(None, names)) if _is_class(name)), None)
        if isinstance(node, ast.Attribute) and node.attr in CALLING_ATTRIBUTES:
            return self.hazard(node.value, scope, rule, depth + 1)
        if isinstance(node, ast.Name):
            local = node.id in scope
            for binding in scope[node.id] if local else self.bindings.get(node.id, []):
                if isinstance(binding, ast.expr):
                    name = self.hazard(binding, scope if local else {}, rule, depth + 1)
                    if name is not None:
                        return name
        return None

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
                    if any(not self._safe_decorator(d) for d in node.decorator_list):
                        found.append(node)
                elif isinstance(node, ast.ClassDef) or (isinstance(node, ast.Lambda | ast.GeneratorExp)
                                                        and self._handed_on(node)):
                    found.append(node)
                elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Lambda | ast.GeneratorExp):
                    for target in node.targets:  # a lambda named, then handed on by that name
                        if isinstance(target, ast.Name):
                            defined.setdefault(target.id, []).append(node.value)
                elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and not self._called(node) \
                        and not self._used_on_the_spot(node):
                    named.add(node.id)
        return found + [d for name in sorted(named & defined.keys()) for d in defined[name]]

    def _safe_decorator(self, decorator: ast.expr) -> bool:
        """`@torch.no_grad()`, `@functools.cache` and the like: they keep the function for its own calls only."""
        function = decorator.func if isinstance(decorator, ast.Call) else decorator
        if isinstance(function, ast.Name) and function.id in SAFE_DECORATORS and function.id not in self.bindings:
            return True
        return bool(self.paths(function, {}) & SAFE_DECORATORS)

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

    def problems(self, node: ast.AST, scope: Scope, rule: _Rule) -> Iterator[tuple[str, str]]:
        """(what, message) for a forbidden use at one node of code the ruled function can reach."""
        if not isinstance(node, ast.Name | ast.Attribute | ast.Call):
            return
        names = {name for path in self.paths(node, scope) if (name := rule.name_of(path)) is not None}
        for name in sorted(names):
            yield name, name if _text(node) == name else f"{name} (written `{_text(node)}`)"
        leaf = rule.leaf(node) if not names and not self._own_method(node) else None
        if leaf is not None:
            yield leaf, f"{leaf} (written `{_text(node)}`: called by its name, whatever it is reached through)"


def _imported(node: ast.Import | ast.ImportFrom) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    return [] if node.level else [node.module or ""]


def _plain(target: ast.expr) -> bool:
    """A target that only names (`c = ...`, `a, b = ...`), so the reader can follow the value."""
    if isinstance(target, ast.Tuple | ast.List):
        return all(_plain(t) for t in target.elts)
    return isinstance(target, ast.Name | ast.Starred) and (not isinstance(target, ast.Starred)
                                                           or isinstance(target.value, ast.Name))


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
    return None  # any other use of the shell: unreadable() tells it


def _uncheckable_call(call: ast.Call) -> Iterator[tuple[str, str]]:
    func = call.func
    name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
    if name in ("getattr", "__getattribute__", "attrgetter", "methodcaller") and _getattr_literal(call) is None:
        if name != "getattr" or len(call.args) >= 2:
            yield _text(call), f"{name} with a computed name (`{_text(call)}`), which cannot be checked"
    elif isinstance(func, ast.Name) and name in UNCHECKABLE_CALLS:
        yield _text(call), f"{UNCHECKABLE_CALLS[name]} (`{_text(call)}`), whose code cannot be checked"


def _getattr_literal(node: ast.AST | None) -> tuple[ast.expr, str] | None:
    """(object, name) for `getattr(object, "name")`, else None."""
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr"
            and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, str)):
        return node.args[0], node.args[1].value
    return None


def _unchecked_path(path: str, node: ast.AST) -> Iterator[tuple[str, str]]:
    """(what, message) when `path` (what `node` denotes) leads somewhere the reader cannot follow."""
    parts = path.split(".")
    if parts[0] == "grader" or _dispatch_switch(path):
        return  # tampering: told as such
    unseen = f"{path} (`{_text(node)}`), which can reach any function unseen"
    if _unseen(path):
        yield path, unseen
    elif path in COMPUTED_ACCESS:
        yield path, f"{path} (`{_text(node)}`): a computed attribute access, which cannot be checked"
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


def _text(node: ast.AST) -> str:
    text = ast.unparse(node)
    return text if len(text) <= 60 else text[:57] + "..."
