"""The names the "must not call" reader judges by: Python's, IPython's, torch's and other libraries'.

Which calls, paths and attributes make code or objects out of text or reach objects behind the reader's
back (so nothing after them can be read), which builtins use their arguments on the spot and which keep
them, which decorators keep a function for its own calls only, which modules a notebook with a rule may
import, and which of torch's module methods give data back, call the module, or hand it on. Kept apart
from the code that reads them (grader/forbidden/anywhere.py and its layers) so that they read whole.
"""

from __future__ import annotations

import re

# What runs code, or reaches objects, that the reader cannot see (grader/forbidden/anywhere.py)
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

# What Python's builtins and decorators do with what they are given (grader/forbidden/uses.py)
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

# torch's module methods: which are the computation, which give data back, which hand the module on
CALLING_ATTRIBUTES = frozenset({"forward", "__call__", "_conv_forward", "_call_impl", "_wrapped_call_impl",
                                "_compiled_call_impl"})
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

# The student's own self-check cell (`import grader; grader.check()`, grader/notebook.py): it runs
# public checks in their kernel and does nothing while the notebook is graded; it is not tampering.
SELF_CHECK = frozenset({"grader.check"})
