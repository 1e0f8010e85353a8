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
  implicitly) but model classes (below), lambdas, generators and generator functions (resumed from
  anywhere), decorated functions, and every function handed on as a value (a thread's target, a
  callback, an entry of a registry), each read with the functions around it (a closure's names);
- anywhere in the notebook, a forbidden function, class or module, or what holds one (a tuple or
  dict of them, an nn.Sequential of torch's own modules, a model, an element, a method's result), is
  only called on the spot (`seq(x)`, a helper that only calls its parameter: `compare(f, F.conv2d, x)`),
  shown (print, f-strings), iterated, or named (`c = F.conv2d`, then followed through `c`), never
  handed on as a value (`REG["f"] = F.conv2d`, `functools.partial(F.conv2d)`, `Thread(target=...)`,
  `max(F.conv2d, spy)`, a set or a dict's key, `SPY == net`, `fs.count(spy)`, `fs.append(spy)`: these
  hand it to an object's __eq__ or __lt__), never changed (`nn.Conv2d.forward = spy`), never given to
  hooks (`register_forward_hook`, `apply`, `named_modules(memo)`); and nothing replaces what torch calls
  on its modules (`nn.Module.__call__ = spy`), nor defines __torch_function__ or __instancecheck__;
- anywhere in the notebook, nothing that makes code or objects out of strings or bytes, or reaches
  objects behind the reader's back, or runs code the reader cannot see: eval, exec, compile,
  __import__, computed getattr, `getattr` as a value, globals/locals/vars, importlib, pickle and its
  kin, pydoc.locate, inspect, gc, frames and code objects (`__globals__`, `f_back`), an
  AttributeError's object (`e.obj`), `sys` beyond its streams and version, processes and shell
  commands, IPython's cache of results (`Out`, `_`), IPython magics that run code given as text
  (`%time`, `%timeit` and `%config`'s value are read as code; `{...}` and `$name` in a magic's line are
  evaluated by IPython), torch's loaders, compilers and internals, and the grader's probe or torch's
  dispatch switches, which could switch the runtime guard off.

A name is forbidden when it resolves to the same object as a forbidden one, so `torch.conv2d`,
`F.conv2d` and `torch.nn.modules.conv.F.conv2d` are one. Forbidden names are dotted paths from
`torch` ("torch.nn.functional.conv2d", "torch.nn.Conv2d"), aten operators ("aten.convolution"),
which only the runtime guard can see being called, or a family ("family.convolution",
grader/families.py): a rule on one name of a family covers all of it, torch's functions of that
family in every namespace (`torch.nn.grad.conv2d_weight`, `torch.mkldnn_convolution`) and numpy's
and scipy's routines that compute it (`numpy.convolve`, `scipy.signal.correlate2d`,
`scipy.ndimage.maximum_filter`).

What is deliberately allowed: a forbidden function called in a cell to compare with (`print(F.conv2d(x, k))`),
or in another exercise's function that the ruled one does not reach (cross_correlation2d has no rule);
a model class (`class Net(nn.Module)` building nn.Conv2d on `self`, see Source._model_class); a few names
of libraries the reader does not know, each for one use (LIBRARY_NAMES: timeit.timeit given a function,
sklearn.datasets.load_digits, a pandas table only shown).
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
    "torch.nn.modules.module.register_module_*",  # hooks every module is handed to, wherever it is called
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
    "obj",  # an AttributeError's object: `try: F.conv2d.x` / `except AttributeError as e: e.obj` is F.conv2d
})
INTROSPECTING_NAMES = frozenset({"__builtins__", "__loader__", "__spec__", "__build_class__"})
OUTPUT_CACHE = re.compile(r"Out|_oh|_{1,3}|_\d+")  # IPython keeps each cell's result there (Out[3], _, _3)
TORCH_HOOKS = frozenset({"__torch_function__", "__torch_dispatch__"})  # handed every torch function called
CLASS_HOOKS = frozenset({"__instancecheck__", "__subclasscheck__", "__subclasshook__"})  # handed what isinstance sees
DISPATCH_LEAVES = frozenset({  # torch's switches of the modes the runtime guard stands on, by name
    "_C", "_python_dispatch", "_disable_current_modes", "DisableTorchFunction", "DisableTorchFunctionSubclass",
    "_DisableTorchDispatch", "overrides", "_ops", "_pop_mode", "_push_mode", "_pop_torch_function_stack",
    "_push_on_torch_function_stack", "_get_current_function_mode_stack", "_set_torch_function_mode",
    *TORCH_HOOKS,
})
NON_RETAINING = frozenset({  # builtins that use their arguments on the spot and keep none of them
    "print", "repr", "str", "len", "help", "id", "format", "all", "any", "display", "hash", "bool", "callable",
    "isinstance", "issubclass"})  # these two only with torch's or Python's own classes (their __instancecheck__)
PASS_THROUGH = frozenset({  # builtins whose result holds their arguments (type(m) is m's class, list(t) t's items),
    "type", "list", "tuple", "enumerate", "zip", "iter", "next", "reversed"})  # which they neither compare nor add:
# max(F.conv2d, spy), sorted, sum, set and dict hand each argument to the other's __lt__, __add__, __eq__
EAGER = frozenset({  # builtins that run a generator (or a key function) they are given there and then, and drop it
    "sum", "list", "tuple", "set", "frozenset", "sorted", "min", "max", "dict", "next"})
PLAIN_TYPES = frozenset({"int", "float", "complex", "bool", "str", "bytes", "list", "tuple", "dict", "set", "frozenset",
                         "type", "object", "slice", "range", "Exception", "ValueError", "TypeError"})
SAFE_DECORATORS = frozenset({  # they wrap a function for its own calls, and keep it nowhere else
    "torch.no_grad", "torch.inference_mode", "torch.enable_grad", "functools.wraps", "functools.cache",
    "functools.lru_cache", "dataclasses.dataclass", "staticmethod", "classmethod"})
ALLOWED_MODULES = frozenset({  # what a notebook with a rule may import; anything else cannot be read
    "torch", "numpy", "scipy", "skimage", "math", "cmath", "random", "time", "typing", "dataclasses", "functools",
    "itertools", "collections", "operator", "matplotlib", "IPython", "grader", "statistics", "fractions", "decimal",
    "copy", "warnings", "abc", "enum", "numbers", "re", "json", "os", "sys", "pathlib", "contextlib", "threading",
    "queue", "textwrap", "pprint", "string", "datetime", "heapq", "bisect", "array", "__future__", "tqdm"})
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
_FAMILY_NAME = re.compile(r"^[A-Z]\w*(Conv|Pool)|(conv|pool)\w*\dd(_|$)|^(LP|Lp)Pool")  # ConvReLU2d, max_pool2d
CALLING_ATTRIBUTES = frozenset({"forward", "__call__", "_conv_forward", "_call_impl", "_wrapped_call_impl",
                                "_compiled_call_impl"})
# What a value that holds a forbidden object is, for what is done with it (Source.hazard): calling a forbidden
# function gives data, calling a class an instance; calling an instance (forward) gives data, but some of its
# methods give the module back (eval(), modules()); a holder (a tuple of functions, an nn.Sequential of modules)
# gives data when called and holders when indexed or asked through a method; a maker may give anything back.
# A module holding forbidden names is judged by its attributes' paths.
# A model class (Source.models) gives a holder when called. A holder of forbidden functions only, or of
# forbidden modules only (nn.Sequential(nn.Conv2d(...), nn.ReLU())), gives exactly those as its items.
FUNCTION, CLASS, INSTANCE, HOLDER, MEMBER, MAKER = "function", "class", "instance", "holder", "member", "maker"
MODULE, MODEL, FUNCTIONS, INSTANCES = "module", "model", "functions", "instances"
_CALLED = {FUNCTION: None, CLASS: INSTANCE, INSTANCE: None, HOLDER: None, MEMBER: HOLDER, MAKER: MAKER, MODULE: None,
           MODEL: HOLDER, FUNCTIONS: None, INSTANCES: None}
_ITEM = {HOLDER: HOLDER, MEMBER: HOLDER, MAKER: MAKER, FUNCTIONS: FUNCTION, INSTANCES: INSTANCE}
_HOLDERS = (HOLDER, MEMBER, MAKER, MODEL, FUNCTIONS, INSTANCES)
_MAKERS = frozenset({CLASS, MEMBER, MAKER})  # a holder of one of these gives a forbidden object back when called
DATA_METHODS = frozenset({  # methods of modules and containers that give data back (tensors, names, numbers)
    "parameters", "named_parameters", "buffers", "named_buffers", "state_dict", "extra_repr", "get_parameter",
    "get_buffer", "zero_grad", "numel", "size", "dim", "item", "tolist", "numpy", "detach",
    "__len__", "__repr__", "__str__", "__format__"})
# the only methods a holder of forbidden objects (a tuple of them, an nn.Sequential, a model) may be asked: none
# compares what it holds with an argument (count, index, sort, a dict's keys) or takes in one (append, insert)
HOLDER_METHODS = DATA_METHODS | {
    "items", "keys", "values", "copy", "get", "eval", "train", "to", "cpu", "float", "double", "half",
    "requires_grad_", "load_state_dict", "children", "modules", "named_children", "forward", "__call__"}
# methods that hand a module (or what it holds) to a function or a container of the caller's
HOOKING_METHODS = frozenset({"apply", "_apply", "add_module", "register_module", "set_submodule", "named_modules"})

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
        self.hazards: dict[Any, tuple[Scope, Any]] = {}  # Source._hazard's memo
        self.comprehension_scopes: dict[int, Scope] = {}
        self.tables: dict[Any, tuple[Scope, Any]] = {}  # Source._table's memo, scopes kept alive
        self.pending: dict[Any, tuple[int, Any]] = {}  # what Source._settled is computing: its place, so far
        self.touched = 1 << 30  # the first unfinished computation the current one leaned on
        self.inert: dict[str, bool] = {}  # Source._inert's memo of top-level names
        self.scope_names: dict[int, set[str]] = {}  # Source._names_of's memo
        for cell in cells:
            self._read(cell)
        self.parents = {id(child): parent for tree in self.trees for parent in ast.walk(tree)
                        for child in ast.iter_child_nodes(parent)}
        self.functions = {node.name for tree in self.trees for node in ast.walk(tree)
                          if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)}
        self.models: dict[int, ast.ClassDef] = {}
        self.model_methods: set[str] = set()
        self.model_nodes: set[int] = set()
        self.model_holds: dict[int, str | None] = {}
        for tree in self.trees:
            for node in _own_nodes(tree):  # `(print := spy)` at the top level binds a global name
                if isinstance(node, ast.NamedExpr):
                    _bind(self.bindings, node, self.stars)
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

        self.models = {id(c): c for c in self._model_candidates() if self._model_class(c)}
        self.model_methods = {m.name for c in self.models.values() for m in c.body if isinstance(m, ast.FunctionDef)}
        self.model_nodes = {id(node) for c in self.models.values() for m in c.body if isinstance(m, ast.FunctionDef)
                            for statement in m.body for node in ast.walk(statement)}

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

    def tampering(self) -> list[str]:
        """Uses, anywhere, of the grader's probe or of torch's function-dispatch switches."""
        found: dict[str, str] = {}  # path -> as written
        for tree in self.trees:
            for node in ast.walk(tree):
                if isinstance(node, ast.Name) and node.id.startswith("__coursegrade"):
                    found.setdefault(node.id, node.id)
                if isinstance(node, ast.Attribute) and node.attr in DISPATCH_LEAVES:
                    found.setdefault(_text(node), _text(node))
                defined = _defined_name(node)
                if defined in TORCH_HOOKS:
                    found.setdefault(defined, defined)
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
            yield _text(node), f"`case {_text(node)}`: a pattern that reads attributes, which cannot be checked"
        if isinstance(node, ast.Import | ast.ImportFrom):
            for module in _imported(node):
                if module.split(".")[0] in LIBRARY_ROOTS:
                    yield from _library_import(node, module)
                elif module.split(".")[0] not in ALLOWED_MODULES or module.startswith(("matplotlib.pylab", "pylab")):
                    yield f"import {module}", (f"import {module}: a module the rule's reader does not know, which can "
                                               "reach any function unseen")
        attribute = node.attr if isinstance(node, ast.Attribute) else (_getattr_literal(node) or (None, ""))[1]
        if attribute.startswith("register_module_"):
            yield _text(node), f"`{_text(node)}`: a hook every module is handed to, unseen"
        if attribute in INTROSPECTION:
            yield _text(node), f"`{_text(node)}`: introspection, which can reach any function unseen"
        if isinstance(node, ast.Name | ast.Attribute):
            for path in self.paths(node, scope):
                if path.split(".")[0] in LIBRARY_ROOTS:
                    yield from self._library_use(path, node, scope)
                else:
                    yield from _unchecked_path(path, node)
        if (isinstance(node, ast.Call) or (isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load))) \
                and self._table(node, scope) and not self._shown(node):
            yield _text(node), (f"`{_text(node)}`, a pandas object, used otherwise than shown: pandas runs text "
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
                  rule: _Rule) -> Iterator[tuple[str, str]]:
        """(what, message) when `base.attribute` is written: a forbidden object changed, a method torch calls
        on modules replaced (it would be handed them), or a class of torch's changed."""
        held = self.hazard(base, scope, rule)
        if held is not None:
            yield held, f"{held} changed (`{self._text_around(node)}`): what it then does cannot be followed"
        elif attribute is None or _patched_name(attribute, isinstance(base, ast.Name) and base.id == "self") or any(
                p.split(".")[0] == "torch" and isinstance(_lookup(p), type) for p in self.paths(base, scope)):
            text = self._text_around(node)
            yield text, (f"`{text}`: an attribute torch's modules are called through, replaced: the function that "
                         "replaces it is handed them unseen")

    def _hooking(self, call: ast.Call, scope: Scope, rule: _Rule) -> Iterator[tuple[str, str]]:
        """(what, message) for a call that hands a forbidden module to a function or container of the
        notebook's: its hooks, apply(), named_modules(memo); setattr on it."""
        func = call.func
        held = self._hazard(func.value, scope, rule, 0) if isinstance(func, ast.Attribute) else None
        if held is not None and isinstance(func, ast.Attribute):
            if func.attr in HOOKING_METHODS or "hook" in func.attr or (
                    func.attr.startswith("_") and func.attr not in CALLING_ATTRIBUTES):  # _named_members(fn)...
                yield held[0], (f"{held[0]} handed to a function through `{_text(func)}`: where it goes and when "
                                "it runs cannot be followed")
            elif held[1] in _HOLDERS and func.attr not in HOLDER_METHODS \
                    and func.attr not in self.model_methods:
                yield held[0], (f"`{_text(call)}`: a method of what holds {held[0]}, which can compare it with, "
                                "or hand it to, an object of the notebook's")
        if self._builtin(func, scope) in ("setattr", "delattr") and call.args:
            name = call.args[1] if len(call.args) > 1 else None
            literal = name.value if isinstance(name, ast.Constant) and isinstance(name.value, str) else None
            yield from self._patching(call, call.args[0], literal, scope, rule)

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
        return True  # "shown": what is done with the table is judged where it is used (Source._shown)

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
        inner = scope if local else _NO_SCOPE
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

    # --- model classes ----------------------------------------------------------------------------
    # A class of the notebook's is read as code that runs from anywhere (escaped), unless it is a model
    # class: `class Net(nn.Module)` whose methods only build torch modules on `self` and call them, which
    # the notebook only makes with constants (`Net()`, `CNN(10)`), and whose instances are then followed as
    # holders of what they hold (Source.hazard): named, called (forward gives tensors), shown, never handed
    # on. Its methods then run only where the notebook makes or calls a model, which code reached by a
    # ruled function never does (it would reach the class by that name, and read its body).
    #
    # In a model's methods no value can hold the model or its modules: `self` is only written `self.x`
    # (never passed, returned or stored), `self.x` is only called (or indexed, or looped over, to call),
    # torch's module classes are only made into `self.x` or into each other (nn.Sequential(nn.Conv2d(...)));
    # no lambda, nested def or class, generator, yield, try, with, global, import; names from outside are
    # modules and functions of imports, called, constants, or Python builtins, called. So everything the
    # methods pass to any function, store anywhere but `self`, return or raise is data (tensors, numbers);
    # the modules torch calls (forward) are handed data only. Its methods are __init__, forward or names
    # torch's modules do not have (torch never calls them), undecorated, with constant defaults; its only
    # base is torch.nn.Module, and torch itself hands a module to no function of the notebook's: hooks,
    # apply(), named_modules(memo) and patches of nn.Module's methods are read as handing it on.

    def _model_candidates(self) -> list[ast.ClassDef]:
        """Classes defined once at a cell's top level, under a name nothing else binds."""
        return [statement for tree in self.trees for statement in _top_statements(tree.body)
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
                        statement.name.startswith("__") or statement.name in _module_methods()
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
        torch_name = name.startswith("__") or name in _module_methods() or name in CALLING_ATTRIBUTES
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
            for node, scope in _scoped_walk(tree, {}, self.stars):
                if not isinstance(node, ast.Name) or node.id != c.name or node.id in scope or id(node) in inside:
                    continue
                call = self.parents.get(id(node))
                if not (self._called(node) and isinstance(call, ast.Call) and all(
                        isinstance(a, ast.Constant) for a in [*call.args, *(k.value for k in call.keywords)])
                        and all(k.arg is not None for k in call.keywords)):
                    return False
        return True

    def _model_holds(self, c: ast.ClassDef, rule: _Rule) -> str | None:
        """The first forbidden name a model class's body uses ("torch.nn.Conv2d (in Net)"), or None."""
        if id(c) not in self.model_holds:
            self.model_holds[id(c)] = next((f"{what} (in {c.name})" for node, scope in _scoped_walk(c, {}, self.stars)
                                            for what, _ in self.problems(node, scope, rule)), None)
        return self.model_holds[id(c)]

    def _own_method(self, node: ast.AST) -> bool:
        """`self.name` or `cls.name` where the notebook defines a function of that name (in a class)."""
        return (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                and node.value.id in ("self", "cls") and node.attr in self.functions)

    def _called(self, node: ast.AST) -> bool:
        parent = self.parents.get(id(node))
        return isinstance(parent, ast.Call) and node is parent.func

    def _handed_on(self, node: ast.AST, holding: bool = True, data_when_called: bool = False) -> bool:
        """Is `node`'s value kept or passed on, rather than called on the spot, named, or dropped? With
        `holding`, a value kept in a tuple, an nn.Sequential... is judged as that holder is; code (a
        lambda, a generator) is not: wherever it is kept, it can be run from there. `data_when_called`: the
        value gives data when called (a function, not a class), so a helper may call it (_only_called_by)."""
        parent = self.parents.get(id(node))
        if self._called(node):
            return False
        if isinstance(parent, ast.Attribute | ast.Expr) or _getattr_literal(parent) is not None:
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
                or not any(function is s for tree in self.trees for s in _top_statements(tree.body)):
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
        if parameter is None or parameter in _declared_global(function):
            return False
        nested = {id(d) for n in ast.walk(function) if n is not function
                  and isinstance(n, (*_SCOPES, ast.GeneratorExp)) for d in ast.walk(n)}  # code kept for later
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
        return bool(paths) and all(p.split(".")[0] == "torch" and isinstance(_lookup(p), type) for p in paths)

    def _text_around(self, node: ast.AST) -> str:
        parent = self.parents.get(id(node))
        return _text(parent) if isinstance(parent, ast.expr | ast.stmt) and not isinstance(parent, ast.Expr) \
            else _text(node)

    def hazard(self, node: ast.AST, scope: Scope, rule: _Rule) -> str | None:
        """The forbidden name `node`'s value is, or holds: a forbidden function or class, an instance of
        a forbidden class, a container or module holding one, or what a name is bound to; None else."""
        found = self._hazard(node, scope, rule, 0)
        return found[0] if found else None

    def _hazard(self, node: ast.AST, scope: Scope, rule: _Rule, depth: int) -> tuple[str, str] | None:
        """(forbidden name, kind) for `node`'s value (kinds: see FUNCTION)."""
        def widen(found: tuple[str, str] | None) -> tuple[str, str] | None:
            return (found[0], MAKER) if found else None
        return self._settled(self.hazards, ("hazard", id(node), id(scope)), scope,
                             lambda: self._hazard_of(node, scope, rule, depth + 1), None, widen)

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

    def _hazard_of(self, node: ast.AST, scope: Scope, rule: _Rule, depth: int) -> tuple[str, str] | None:
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
                _bind(inner, generator, self.stars)
            scope = self.comprehension_scopes.setdefault(id(node), {**scope, **inner})
            parts = [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]
            return self._holding(parts, scope, rule, depth)
        return self._holding(_held(node), scope, rule, depth) if _held(node) else None

    def _holding(self, parts: Sequence[ast.AST], scope: Scope, rule: _Rule, depth: int) -> tuple[str, str] | None:
        """What a value made of `parts` (a tuple's elements, a Sequential's modules) holds."""
        found = [h for h in (self._hazard(p, scope, rule, depth) for p in parts) if h is not None]
        if not found:
            return None
        kinds = {kind for _, kind in found}
        if kinds & _MAKERS:
            return found[0][0], MAKER
        return found[0][0], {frozenset({FUNCTION}): FUNCTIONS, frozenset({INSTANCE}): INSTANCES}.get(
            frozenset(kinds), HOLDER)

    def _call_hazard(self, node: ast.Call, scope: Scope, rule: _Rule, depth: int) -> tuple[str, str] | None:
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

    def _name_hazard(self, node: ast.Name, scope: Scope, rule: _Rule, depth: int) -> tuple[str, str] | None:
        local = node.id in scope
        found: list[tuple[str, str]] = []
        for binding in scope[node.id] if local else self.bindings.get(node.id, []):
            if isinstance(binding, ast.ClassDef) and id(binding) in self.models:
                holds = self._model_holds(binding, rule)
                if holds is not None:
                    found.append((holds, MODEL))
            if not isinstance(binding, ast.expr):
                continue
            held = self._hazard(binding, scope if local else _NO_SCOPE, rule, depth)
            parent = self.parents.get(id(binding))
            if held is not None and isinstance(parent, ast.For | ast.AsyncFor | ast.comprehension) \
                    and binding is parent.iter:  # `for f in fs`: f is an element of fs
                held = (held[0], _ITEM.get(held[1], MAKER))
            if held is not None:
                found.append(held)
        return next((h for h in found if h[1] in _MAKERS), found[0] if found else None)

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
                names = _locals(scope, self.stars)
            elif isinstance(scope, ast.ClassDef):
                for statement in scope.body:
                    for node in [statement, *_own_nodes(statement)]:
                        _bind(names, node, self.stars)
            else:
                for generator in scope.generators:  # type: ignore[attr-defined]
                    _bind(names, generator, self.stars)
            self.scope_names[id(scope)] = set(names)
        return self.scope_names[id(scope)]

    def _holding_class(self, node: ast.AST, scope: Scope) -> bool:
        """torch's own module classes (nn.Sequential, nn.ModuleList...): they keep the modules they are given."""
        return any(_torch_module_class(path) for path in self.paths(node, scope))

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

    def _in_a_scope(self, node: ast.AST) -> bool:
        """Is `node` inside a function, a lambda, a class or a comprehension (where names may be local)?"""
        parent = self.parents.get(id(node))
        while parent is not None:
            if isinstance(parent, (*_SCOPES, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
                return True
            parent = self.parents.get(id(parent))
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
            if isinstance(parent, _SCOPES):
                outer = parent
            parent = self.parents.get(id(parent))
        return outer

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


_NO_SCOPE: Scope = {}  # the scope of top-level names (never written to: hazards are memoised by its id)


def _member(kind: str, attribute: str) -> str | None:
    """The kind of `value.attribute` for a value of `kind` (see FUNCTION), or None when it holds nothing."""
    if attribute in CALLING_ATTRIBUTES:
        return FUNCTION  # conv.forward, nn.Conv2d._conv_forward: the computation itself
    if kind == INSTANCE:  # its methods giving it back (eval), its private state (_forward_hooks, _modules)
        exposing = attribute.startswith("_") or attribute in _module_methods()
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


@functools.cache
def _module_methods() -> frozenset[str]:
    """The methods torch.nn.Module has (an instance's `eval`, `modules`, `apply`...)."""
    import torch

    return frozenset(n for n in dir(torch.nn.Module) if callable(getattr(torch.nn.Module, n, None)))


MODEL_FORBIDS = (  # in a model's methods: code kept or run elsewhere, names bound out of sight
    ast.Lambda, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Global, ast.Nonlocal, ast.Yield,
    ast.YieldFrom, ast.Await, ast.GeneratorExp, ast.Try, ast.With, ast.AsyncWith, ast.AsyncFor, ast.Import,
    ast.ImportFrom, ast.NamedExpr, ast.Delete, ast.Match, *([ast.TryStar] if hasattr(ast, "TryStar") else []))
CONTAINER_METHODS = frozenset(name for kind in (list, dict, set, tuple, str) for name in dir(kind))
MODEL_BUILTINS = frozenset({  # called (or raised) in a model's methods
    "super", "range", "len", "int", "float", "bool", "min", "max", "abs", "round", "sum", "print", "tuple", "list",
    "zip", "enumerate", "ValueError", "TypeError", "RuntimeError", "NotImplementedError", "AssertionError"})


def _plain_annotation(node: ast.AST | None) -> bool:
    """An annotation that only names things (`torch.Tensor`, `int | None`, `Optional[int]`): it calls nothing."""
    return node is None or all(isinstance(n, ast.Name | ast.Attribute | ast.Constant | ast.Subscript | ast.Tuple
                                          | ast.BinOp | ast.BitOr | ast.expr_context) for n in ast.walk(node))


def _resumable(function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """A generator function or a coroutine: what it returns runs its body later, wherever it is resumed."""
    return isinstance(function, ast.AsyncFunctionDef) or any(
        isinstance(node, ast.Yield | ast.YieldFrom) for node in _own_nodes(function))


def _patched_name(attribute: str, on_self: bool = False) -> bool:
    """Would writing `attribute` of an object of the notebook's choosing replace what torch calls on its
    modules when they are made, called, shown or asked their parameters? That is nn.Module's methods,
    forward, dunders and private names (nn.Sequential's _get_item_by_idx, nn.Module's _compiled_call_impl)
    but `self._x` of the notebook's: `self` may be any object (`Helper.patch(nn.Module)`), so those only
    where torch's modules have no such name."""
    if attribute == "__doc__":
        return False
    if attribute.startswith("__") or attribute in CALLING_ATTRIBUTES or attribute in _module_methods():
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


def _torch_module_class(path: str) -> bool:
    """Is `path` one of torch's own classes of modules (nn.Sequential, nn.ReLU), not one of the notebook's?"""
    import torch

    target = _lookup(path)
    return isinstance(target, type) and issubclass(target, torch.nn.Module) \
        and target.__module__.startswith("torch.nn.")


def _defined_name(node: ast.AST) -> str | None:
    """The name a function definition or a plain assignment target defines, else None."""
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        return node.name
    return node.id if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store) else None


def _library_import(node: ast.Import | ast.ImportFrom, module: str) -> Iterator[tuple[str, str]]:
    """(what, message) for an import from a library of LIBRARY_NAMES that binds a name it does not allow."""
    bound = [f"{module}.{a.name}" for a in node.names] if isinstance(node, ast.ImportFrom) else [module]
    for path in [module, *bound]:
        if not any(name == path or name.startswith(f"{path}.") for name in LIBRARY_NAMES):
            root = module.split(".")[0]
            known = ", ".join(n for n in LIBRARY_NAMES if n.startswith(f"{root}."))
            yield f"import {path}", (f"import {path}: of {root}, the reader knows only {known}; anything else "
                                     "can reach any function unseen")
            return


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
