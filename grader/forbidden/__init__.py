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
a model class (`class Net(nn.Module)` building nn.Conv2d on `self`, see grader/forbidden/models.py); a few
names of libraries the reader does not know, each for one use (grader/forbidden/libraries.py: timeit.timeit
given a function, sklearn.datasets.load_digits, a pandas table only shown).

This package's entry point is `violations`, here. The reader is in modules by concern, which import
only the standard library and grader/families.py at their top (torch and IPython are imported inside
the functions that ask them):
- tables.py: the names of Python's, IPython's, torch's and libraries' things it judges by;
- syntax.py: what each statement binds, and the scope in force at each node;
- rule.py: what one rule forbids, as the grader's own torch answers it;
- magics.py: the cells parsed, IPython's magics and shell commands among them;
- notebook.py, models.py, hazards.py, libraries.py, uses.py, anywhere.py: the layers of the reader's
  view of the notebook (Source), each a class over the one before: its names; its model classes; what
  a value holds; the libraries it may use; where a value goes; and what no code may do anywhere.
"""

from __future__ import annotations

import functools

from ..families import FAMILY_PREFIX, family_of
from .anywhere import Source
from .rule import Rule, family_names

__all__ = ["TOO_DEEP", "family_names", "violations"]

TOO_DEEP = "the notebook's source is nested too deeply for the grader to read, so the rule cannot be checked"


@functools.lru_cache(maxsize=64)
def violations(cells: tuple[str, ...], function: str, forbidden: tuple[str, ...]) -> tuple[str, ...]:
    """What `function` (and what it reaches) uses that `forbidden` rules out, in words; () if nothing."""
    names = tuple(n for n in forbidden if not n.startswith(("aten.", FAMILY_PREFIX)))
    families = frozenset(filter(None, map(family_of, forbidden)))
    if not names and not families:
        return ()
    try:
        return _violations(cells, function, Rule(names, families))
    except (RecursionError, MemoryError):  # a source built to exhaust the reader is not read
        return (TOO_DEEP,)


def _violations(cells: tuple[str, ...], function: str, rule: Rule) -> tuple[str, ...]:
    source = Source(cells)
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
