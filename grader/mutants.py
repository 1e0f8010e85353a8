"""First-order mutants of a reference solution, for `grade validate NAME --mutants`.

A mutant is the reference with one small change in the code that one exercise runs: the
exercise's own function, or a function it reaches (a helper, or another exercise's function it
calls). A change in the exercise's own function is seen by every caller, as when a student gets
it wrong; a change in a function it reaches is made to a private copy that only this exercise
calls (`_positive__mutant`), so that the other exercises keep the reference's. The mutants are
built from the reference's cells tagged "solution" (what `Assignment.reference` runs), are
never run here, and are graded as students' modules in the sandbox (grader/validate.py).

The operators, one small function each in OPERATORS (each gets one node of the syntax tree and
yields what replaces it; None removes a statement):

| operator | change |
|---|---|
| arithmetic | `+` ↔ `-`, `*` → `/`, `/` → `*`, `//` → `/`, `%` → `//`, `**` → `*` (also in `+=`); `-x` → `x` |
| operand | `a + b`, `a - b` → `a`; `a * b` → `a`, `b` (a term or a factor forgotten) |
| constant | an int ±1; a float ×10 and ÷10 (a hyper-parameter off by a factor of ten) |
| comparison | `<` ↔ `<=`, `>` ↔ `>=` (the boundary moved); `==` ↔ `!=`, `in` ↔ `not in`, `is` ↔ `is not` |
| boolean | `and` ↔ `or`; `not x` → `x`; `True` ↔ `False`; one operand of `a or b or c` dropped |
| raise | a `raise` removed (validation dropped) |
| step | `optimizer.step()`, `zero_grad()`, `backward()` removed |
| statement | a call, `+=`, store into an element or attribute, `if`, `for`, `with` or `assert` removed |
| | (not an `if` that only raises and tests no call: that is the `raise` mutant) |
| argument | a keyword argument dropped; the last of two or more positional arguments dropped |
| swap | two neighbouring positional arguments of a call swapped |
| slice | a slice's bound ±1; `range`'s stop ±1, its start +1 (off by one) |
| confusion | a call replaced by its common confusion (CONFUSIONS): floor ↔ ceil, mean ↔ sum, max ↔ min, |
| | amax ↔ amin, argmax ↔ argmin, zeros ↔ ones, Adam ↔ SGD, softmax ↔ log_softmax |
| flip | `x.flip(...)`, `torch.flip(x, ...)` → `x` (the flip removed) |
| activation | `relu(x)`, `torch.sigmoid(x)`, `x.tanh()`... → `x`; `nn.ReLU()`... → `nn.Identity()` |
| freeze | `nn.Linear(...)`, `nn.Conv2d(...)` → `.requires_grad_(False)` (frozen); |
| | `m.requires_grad_(...)` → `m` (unfrozen) |

Not mutated: docstrings, f-strings and the message of a raise (text), annotations, names
assigned and later read (removing `y = ...` is a NameError, caught by any check), string
constants. Changes that give the same code (two operators, one change) are one mutant, graded
once, named by the first operator in the table; a change that leaves the code as it was is none.

A mutant's id is stable while the mutated function is: `exercise/function/operator/hash`, the
hash over the mutated function's code (reference/NAME/equivalent_mutants.toml names mutants by it).
"""

from __future__ import annotations

import ast
import copy
import difflib
import hashlib
import json
import random
import tomllib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

Unit = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef
Replacement = ast.AST | None  # None: the statement is removed
Operator = Callable[[ast.AST], Iterator[Replacement]]
Site = tuple[tuple[str, int | None], ...]  # the fields (and list indices) from a function to a node

SUFFIX = "__mutant"  # the private copies an exercise's mutant calls


# ---------------------------------------------------------------- the operators


def _copy(node: ast.AST) -> ast.AST:
    return copy.deepcopy(node)


def _expr(node: ast.AST) -> ast.expr:
    assert isinstance(node, ast.expr)
    return node


ARITHMETIC: dict[type[ast.operator], type[ast.operator]] = {
    ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult,
    ast.FloorDiv: ast.Div, ast.Mod: ast.FloorDiv, ast.Pow: ast.Mult, ast.MatMult: ast.Mult,
}


def arithmetic(node: ast.AST) -> Iterator[Replacement]:
    if isinstance(node, ast.BinOp | ast.AugAssign) and type(node.op) in ARITHMETIC:
        new = _copy(node)
        new.op = ARITHMETIC[type(node.op)]()  # type: ignore[attr-defined]
        yield new
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        yield _copy(node.operand)


def operand(node: ast.AST) -> Iterator[Replacement]:
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Sub | ast.Mult):
        yield _copy(node.left)
        if isinstance(node.op, ast.Mult):
            yield _copy(node.right)


def constant(node: ast.AST) -> Iterator[Replacement]:
    if not isinstance(node, ast.Constant) or isinstance(node.value, bool):
        return
    if isinstance(node.value, int):
        yield ast.Constant(node.value + 1)
        yield ast.Constant(node.value - 1)
    elif isinstance(node.value, float):
        yield ast.Constant(node.value * 10)
        yield ast.Constant(node.value / 10)


COMPARISON: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq, ast.In: ast.NotIn, ast.NotIn: ast.In, ast.Is: ast.IsNot, ast.IsNot: ast.Is,
}


def comparison(node: ast.AST) -> Iterator[Replacement]:
    if isinstance(node, ast.Compare):
        for i, op in enumerate(node.ops):
            new = _copy(node)
            assert isinstance(new, ast.Compare)
            new.ops[i] = COMPARISON[type(op)]()
            yield new


def boolean(node: ast.AST) -> Iterator[Replacement]:
    if isinstance(node, ast.BoolOp):
        yield ast.BoolOp(ast.Or() if isinstance(node.op, ast.And) else ast.And(), _copy(node).values)  # type: ignore[attr-defined]
        for i in range(len(node.values)):
            rest = [_expr(_copy(v)) for j, v in enumerate(node.values) if j != i]
            yield rest[0] if len(rest) == 1 else ast.BoolOp(_copy(node.op), rest)  # type: ignore[arg-type]
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        yield _copy(node.operand)
    elif isinstance(node, ast.Constant) and isinstance(node.value, bool):
        yield ast.Constant(not node.value)


def remove_raise(node: ast.AST) -> Iterator[Replacement]:
    if isinstance(node, ast.Raise):
        yield None


OPTIMIZER_CALLS = {"step", "zero_grad", "backward"}


def remove_step(node: ast.AST) -> Iterator[Replacement]:
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call) and _called(node.value) in OPTIMIZER_CALLS:
        yield None


def _only_raises(node: ast.AST) -> bool:
    """`if <no call>: raise ...` with no else: removing it is removing its raise (operator "raise")."""
    return (isinstance(node, ast.If) and not node.orelse and len(node.body) == 1
            and isinstance(node.body[0], ast.Raise) and not any(isinstance(n, ast.Call) for n in ast.walk(node.test)))


def remove_statement(node: ast.AST) -> Iterator[Replacement]:
    removable = ast.Expr | ast.AugAssign | ast.If | ast.For | ast.While | ast.With | ast.Assert
    if isinstance(node, removable) and not _only_raises(node):
        yield None
    elif isinstance(node, ast.Assign) and all(isinstance(t, ast.Subscript | ast.Attribute) for t in node.targets):
        yield None  # a store into an element or an attribute (a plain name would be a NameError)


def argument(node: ast.AST) -> Iterator[Replacement]:
    if not isinstance(node, ast.Call):
        return
    for i in range(len(node.keywords)):
        new = _copy(node)
        assert isinstance(new, ast.Call)
        del new.keywords[i]
        yield new
    if len(node.args) >= 2 and not isinstance(node.args[-1], ast.Starred):
        new = _copy(node)
        assert isinstance(new, ast.Call)
        del new.args[-1]
        yield new


def swap(node: ast.AST) -> Iterator[Replacement]:
    if not isinstance(node, ast.Call):
        return
    for i in range(len(node.args) - 1):
        new = _copy(node)
        assert isinstance(new, ast.Call)
        new.args[i], new.args[i + 1] = new.args[i + 1], new.args[i]
        yield new


def _plus(expr: ast.expr | None, delta: int) -> ast.expr:
    """`expr + 1`, `expr - 1` (a bound that is None stays None: it is not moved)."""
    assert expr is not None
    op: ast.operator = ast.Add() if delta > 0 else ast.Sub()
    return ast.BinOp(_expr(_copy(expr)), op, ast.Constant(abs(delta)))


def off_by_one(node: ast.AST) -> Iterator[Replacement]:
    if isinstance(node, ast.Slice):
        for bound in ("lower", "upper"):
            if getattr(node, bound) is not None:
                for delta in (1, -1):
                    new = _copy(node)
                    setattr(new, bound, _plus(getattr(node, bound), delta))
                    yield new
    elif isinstance(node, ast.Call) and _called(node) == "range" and node.args and not node.keywords:
        stop = 0 if len(node.args) == 1 else 1
        for index, delta in ((stop, 1), (stop, -1), *([(0, 1)] if len(node.args) > 1 else [])):
            new = _copy(node)
            assert isinstance(new, ast.Call)
            new.args[index] = _plus(node.args[index], delta)
            yield new


CONFUSIONS = {
    "floor": "ceil", "ceil": "floor", "mean": "sum", "sum": "mean", "max": "min", "min": "max",
    "amax": "amin", "amin": "amax", "argmax": "argmin", "argmin": "argmax", "zeros": "ones",
    "ones": "zeros", "new_zeros": "new_ones", "new_ones": "new_zeros", "zeros_like": "ones_like",
    "ones_like": "zeros_like", "Adam": "SGD", "SGD": "Adam", "softmax": "log_softmax",
    "log_softmax": "softmax",
}


def confusion(node: ast.AST) -> Iterator[Replacement]:
    if isinstance(node, ast.Call) and _called(node) in CONFUSIONS:
        new = _copy(node)
        assert isinstance(new, ast.Call)
        if isinstance(new.func, ast.Attribute):
            new.func.attr = CONFUSIONS[new.func.attr]
        elif isinstance(new.func, ast.Name):
            new.func.id = CONFUSIONS[new.func.id]
        yield new


def _receiver_or_first(node: ast.Call) -> ast.expr | None:
    """What a one-argument transformation applies to: `x` in `x.f(...)` or in `torch.f(x, ...)`."""
    func = node.func
    if isinstance(func, ast.Attribute) and not _is_module(func.value):
        return func.value
    return node.args[0] if node.args else None


def _is_module(expr: ast.expr) -> bool:
    """`torch`, `F`, `nn`, `torch.nn.functional`: a namespace rather than a value."""
    name = ast.unparse(expr)
    return name in {"torch", "F", "nn", "np", "numpy", "math"} or name.startswith(("torch.", "np.", "numpy."))


def flip(node: ast.AST) -> Iterator[Replacement]:
    if isinstance(node, ast.Call) and _called(node) in {"flip", "fliplr", "flipud"}:
        target = _receiver_or_first(node)
        if target is not None:
            yield _copy(target)


ACTIVATIONS = {"relu", "sigmoid", "tanh", "softmax", "log_softmax", "gelu", "leaky_relu", "elu", "relu_"}
ACTIVATION_LAYERS = {"ReLU", "Sigmoid", "Tanh", "Softmax", "LogSoftmax", "GELU", "LeakyReLU", "ELU"}


def activation(node: ast.AST) -> Iterator[Replacement]:
    if not isinstance(node, ast.Call):
        return
    name = _called(node)
    if name in ACTIVATION_LAYERS and isinstance(node.func, ast.Attribute):
        yield ast.Call(ast.Attribute(_expr(_copy(node.func.value)), "Identity", ast.Load()), [], [])
    elif name in ACTIVATIONS:
        target = _receiver_or_first(node)
        if target is not None:
            yield _copy(target)


LAYERS = {"Linear", "Conv2d", "Conv1d", "Bilinear", "LazyLinear"}


def freeze(node: ast.AST) -> Iterator[Replacement]:
    if not isinstance(node, ast.Call):
        return
    if _called(node) in LAYERS:
        method = ast.Attribute(_expr(_copy(node)), "requires_grad_", ast.Load())
        yield ast.Call(method, [ast.Constant(False)], [])
    elif _called(node) == "requires_grad_" and isinstance(node.func, ast.Attribute):
        yield _copy(node.func.value)


def _called(call: ast.Call) -> str:
    """The name a call calls: `f` in `f(...)`, `x.f(...)` and `torch.nn.f(...)`."""
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


OPERATORS: dict[str, Operator] = {  # in order: of two giving the same code, the first names it
    "raise": remove_raise,
    "step": remove_step,
    "flip": flip,
    "activation": activation,
    "freeze": freeze,
    "confusion": confusion,
    "comparison": comparison,
    "boolean": boolean,
    "arithmetic": arithmetic,
    "operand": operand,
    "constant": constant,
    "slice": off_by_one,
    "argument": argument,
    "swap": swap,
    "statement": remove_statement,
}

CATCH = {  # how a check catches what survives each operator
    "raise": "a raises() check whose arguments reach this raise and no other check before it",
    "step": "a check that the model learns (its loss goes down, its accuracy)",
    "flip": "an input that is not symmetric, so that the flip changes the answer",
    "activation": "a check that needs the non-linearity (a dataset a linear model cannot fit, or the structure)",
    "freeze": "a check of which parameters train (requires_grad, weights changed by train)",
    "confusion": "an input where the two functions differ (values that are not all equal)",
    "comparison": "an input exactly at the boundary, where the two sides are equal",
    "boolean": "an input where only this condition is true: one bad argument at a time",
    "arithmetic": "an input where the two operations give different results (not 0, 1 or 2)",
    "operand": "an input where the dropped term or factor is neither 0 nor 1",
    "constant": "an input at the edge this constant sets",
    "slice": "an input where the first or last row, column or step matters",
    "argument": "a check where this argument alone makes the difference (a non-default value)",
    "swap": "an input whose two arguments differ (not square, not equal)",
    "statement": "a check whose answer needs this statement",
}


# ---------------------------------------------------------------- where the operators apply


def _skipped(parent: ast.AST, field: str, index: int | None, node: ast.AST) -> bool:
    """Text and types: docstrings, f-strings, a raise's message, annotations, decorators."""
    if field in ("annotation", "returns", "decorator_list", "type_comment", "bases", "keywords") \
            and isinstance(parent, ast.ClassDef | ast.arg | ast.FunctionDef | ast.AsyncFunctionDef | ast.AnnAssign):
        return True
    if isinstance(parent, ast.Raise) and field in ("exc", "cause"):
        return True
    if isinstance(node, ast.JoinedStr):
        return True
    text = isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
    return field == "body" and index == 0 and text


def sites(node: ast.AST, path: Site = ()) -> Iterator[tuple[Site, ast.AST]]:
    """Every node of a function or class where an operator may apply, with the way to it."""
    for field, value in ast.iter_fields(node):
        items = list(enumerate(value)) if isinstance(value, list) else [(None, value)]
        for index, item in items:
            if isinstance(item, ast.AST) and not _skipped(node, field, index, item):
                where = (*path, (field, index))
                yield where, item
                yield from sites(item, where)


def replaced(unit: Unit, site: Site, new: Replacement) -> Unit:
    """A copy of `unit` with the node at `site` replaced by `new` (removed when None)."""
    tree = copy.deepcopy(unit)
    parent: ast.AST = tree
    for field, index in site[:-1]:
        value = getattr(parent, field)
        parent = value if index is None else value[index]
    field, index = site[-1]
    if index is None:
        setattr(parent, field, new)
    elif new is None:
        del getattr(parent, field)[index]
        if field == "body" and not getattr(parent, field):
            getattr(parent, field).append(ast.Pass())
    else:
        getattr(parent, field)[index] = new
    return ast.fix_missing_locations(tree)


# ---------------------------------------------------------------- the reference and its mutants


@dataclass(frozen=True)
class Mutant:
    """The reference with one change in the code one exercise runs, as a module to grade."""

    exercise: str
    function: str  # where the change is: the exercise's function or one it reaches
    operator: str
    change: str  # the change in a few words: "`a < b` → `a <= b`"
    original: str  # the function's code before and after (unparsed: they differ only there)
    mutated: str
    module: str  # the module a student could have submitted

    @property
    def id(self) -> str:
        digest = hashlib.sha256(self.mutated.encode()).hexdigest()[:8]
        return f"{self.exercise}/{self.function}/{self.operator}/{digest}"

    @property
    def where(self) -> str:
        return self.exercise if self.function == self.exercise else f"{self.function}, as {self.exercise} calls it"

    def diff(self) -> str:
        """The change as a unified diff of the function's code."""
        return "".join(difflib.unified_diff(
            self.original.splitlines(keepends=True), self.mutated.splitlines(keepends=True),
            f"{self.function} (reference)", f"{self.function} (mutant)", n=2))

    @property
    def catch(self) -> str:
        return CATCH[self.operator]


def solution_cells(solution: Path) -> list[str]:
    """The reference's code cells tagged "solution": what the grader runs as the reference."""
    notebook = json.loads(solution.read_text())
    cells = []
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code" and "solution" in cell.get("metadata", {}).get("tags", []):
            cells.append("".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"])
    return cells


def units(cells: Sequence[str]) -> dict[str, Unit]:
    """The top-level functions and classes of the cells, by name (the last definition counts)."""
    found: dict[str, Unit] = {}
    for cell in cells:
        for node in ast.parse(cell).body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                found[node.name] = node
    return found


def reached(name: str, defined: dict[str, Unit]) -> set[str]:
    """The functions and classes of `defined` that `name` uses, directly or not (itself excepted)."""
    seen: set[str] = set()
    todo = [name]
    while todo:
        for node in ast.walk(defined[todo.pop()]):
            if isinstance(node, ast.Name) and node.id in defined and node.id not in seen and node.id != name:
                seen.add(node.id)
                todo.append(node.id)
    return seen


class _Renamer(ast.NodeTransformer):
    def __init__(self, names: dict[str, str]) -> None:
        self.names = names

    def visit_Name(self, node: ast.Name) -> ast.Name:
        return ast.Name(self.names.get(node.id, node.id), node.ctx)


def _renamed(unit: Unit, names: dict[str, str]) -> Unit:
    tree = _Renamer(names).visit(copy.deepcopy(unit))
    tree.name = names.get(tree.name, tree.name)
    return ast.fix_missing_locations(tree)  # type: ignore[no-any-return]


def _appended(exercise: str, function: str, mutated: Unit, defined: dict[str, Unit]) -> str:
    """The cell that makes `exercise` run `mutated`: the exercise redefined, and when the change is
    in a function it reaches, private copies of the functions on the way there."""
    if function == exercise:
        return ast.unparse(mutated)
    on_the_way = [p for p in sorted(reached(exercise, defined)) if p == function or function in reached(p, defined)]
    names = {p: p + SUFFIX for p in on_the_way}
    copies = [_renamed(mutated if p == function else defined[p], names) for p in on_the_way]
    return "\n\n\n".join(ast.unparse(u) for u in [*copies, _renamed(defined[exercise], names)])


def module_text(assignment: str, cells: Sequence[str], appended: str) -> str:
    """A module as `grade` reads one: the reference's cells, then the mutant's cell."""
    parts = [f"# assignment: {assignment}", *(f"# %%\n{cell}" for cell in cells), f"# %% the mutant\n{appended}"]
    return "\n\n".join(parts) + "\n"


def _at(unit: ast.AST, site: Site) -> ast.AST:
    node = unit
    for field, index in site:
        value = getattr(node, field)
        node = value if index is None else value[index]
    return node


def _change(unit: Unit, mutated: Unit, site: Site, removed: bool) -> str:
    """The change in a few words; a small node is shown in the expression around it (`0` → `1`
    says little, `padding < 0` → `padding < 1` says where)."""
    before = _at(unit, site)
    if removed:
        return f"`{ast.unparse(before).splitlines()[0]}` removed"
    after = _at(mutated, site)
    while len(ast.unparse(before)) < 16 and len(site) > 1 and not isinstance(_at(unit, site[:-1]), ast.stmt):
        site = site[:-1]
        before, after = _at(unit, site), _at(mutated, site)
    return f"`{ast.unparse(before)}` → `{ast.unparse(after)}`"


def mutants_of(unit: Unit) -> Iterator[tuple[str, str, Unit]]:
    """(operator, change, mutated unit) for every change the operators make to `unit`."""
    for site, node in sites(unit):
        for operator, make in OPERATORS.items():
            for new in make(node):
                mutated = replaced(unit, site, new)
                yield operator, _change(unit, mutated, site, new is None), mutated


def generate(assignment: str, cells: Sequence[str], exercises: Sequence[str]) -> list[Mutant]:
    """Every distinct first-order mutant of each exercise's code, in a stable order."""
    defined = units(cells)
    found: dict[tuple[str, str], Mutant] = {}
    for exercise in exercises:
        if exercise not in defined:
            continue
        for function in [exercise, *sorted(reached(exercise, defined))]:
            original = ast.unparse(defined[function]) + "\n"
            for operator, change, unit in mutants_of(defined[function]):
                code = ast.unparse(unit) + "\n"
                if code == original or (exercise, code) in found:
                    continue  # no change at all, or one an earlier operator made
                module = module_text(assignment, cells, _appended(exercise, function, unit, defined))
                found[exercise, code] = Mutant(exercise, function, operator, change, original, code, module)
    return list(found.values())


def sample(mutants: Sequence[Mutant], size: int, seed: int) -> list[Mutant]:
    """A seeded sample of `size` mutants (all of them when size is 0 or more than there are),
    drawn from the mutants in id order, so the same reference and seed give the same sample."""
    ordered = sorted(mutants, key=lambda m: m.id)
    if size <= 0 or size >= len(ordered):
        return ordered
    return sorted(random.Random(seed).sample(ordered, size), key=lambda m: m.id)


@dataclass(frozen=True)
class Equivalent:
    """A mutant declared equivalent to the reference: no check can kill it, and why."""

    id: str
    reason: str
    change: str = ""


def load_equivalents(path: Path) -> dict[str, Equivalent]:
    """reference/NAME/equivalent_mutants.toml: `[[mutant]]` tables with `id`, `reason` (and `change`)."""
    if not path.is_file():
        return {}
    declared = tomllib.loads(path.read_text()).get("mutant", [])
    found = {}
    for entry in declared:
        if not entry.get("reason"):
            raise ValueError(f"{path}: the equivalent mutant {entry.get('id')!r} has no reason")
        found[str(entry["id"])] = Equivalent(str(entry["id"]), str(entry["reason"]), str(entry.get("change", "")))
    return found
