"""Mutation testing of the checks (`grade validate NAME --mutants`, issue 17).

The generator's operators are tested on small functions, in milliseconds; then conv-arithmetic's
reference is mutated in full and every mutant graded for real, so that a check removed later
(a mutant it alone killed now survives) fails the suite.
"""

from __future__ import annotations

import ast
import time
from pathlib import Path

import pytest

from grader.assignments import load_assignment
from grader.model import CheckResult, GradeReport
from grader.mutants import (
    OPERATORS,
    Equivalent,
    generate,
    load_equivalents,
    module_text,
    mutants_of,
    sample,
    units,
)
from grader.mutation_report import _judge, _stale, fate, render, run_mutants, settings


def changes(source: str, operator: str) -> list[str]:
    """The code of every mutant `operator` makes of the one function in `source` (its body only)."""
    (unit,) = units([source]).values()
    return [ast.unparse(m.body) for op, _, m in mutants_of(unit) if op == operator]  # type: ignore[arg-type]


@pytest.mark.parametrize(("operator", "source", "expected"), [
    ("arithmetic", "def f(a, b):\n    return a + b", ["return a - b"]),
    ("arithmetic", "def f(a, b):\n    return a // b", ["return a / b"]),
    ("arithmetic", "def f(y, a):\n    y += a", ["y -= a"]),
    ("operand", "def f(a, b):\n    return a * b", ["return a", "return b"]),
    ("constant", "def f(a):\n    return a + 2", ["return a + 3", "return a + 1"]),
    ("constant", "def f(x):\n    return x * 0.5", ["return x * 5.0", "return x * 0.05"]),
    ("comparison", "def f(a, b):\n    return a < b", ["return a <= b"]),
    ("comparison", "def f(a):\n    return a is None", ["return a is not None"]),
    ("boolean", "def f(a, b, c):\n    return a or b or c",
     ["return a and b and c", "return b or c", "return a or c", "return a or b"]),
    ("boolean", "def f(a):\n    return not a", ["return a"]),
    ("raise", "def f(a):\n    if a < 1:\n        raise ValueError(f'{a} too small')\n    return a",
     ["if a < 1:\n    pass\nreturn a"]),
    ("step", "def f(opt, loss):\n    loss.backward()\n    opt.step()", ["opt.step()", "loss.backward()"]),
    ("statement", "def f(y, x):\n    y[0] = x\n    return y", ["return y"]),
    ("statement", "def f(a):\n    if a < 1:\n        raise ValueError\n    return a", []),  # the raise mutant
    ("statement", "def f(a):\n    if a.dim() < 1:\n        raise ValueError\n    return a", ["return a"]),
    ("argument", "def f(g, a, b):\n    return g(a, b, c=1)", ["return g(a, b)", "return g(a, c=1)"]),
    ("swap", "def f(g, a, b):\n    return g(a, b)", ["return g(b, a)"]),
    ("slice", "def f(x, n):\n    return x[:n]", ["return x[:n + 1]", "return x[:n - 1]"]),
    ("slice", "def f(n):\n    return range(n)", ["return range(n + 1)", "return range(n - 1)"]),
    ("confusion", "def f(x):\n    return math.floor(x)", ["return math.ceil(x)"]),
    ("confusion", "def f(x):\n    return x.mean(dim=-1)", ["return x.sum(dim=-1)"]),
    ("confusion", "def f(x):\n    return x.amax(dim=-1)", ["return x.amin(dim=-1)"]),
    ("flip", "def f(k):\n    return k.flip(0, 1)", ["return k"]),
    ("flip", "def f(k):\n    return torch.flip(k, (0,))", ["return k"]),
    ("activation", "def f(x):\n    return F.relu(x)", ["return x"]),
    ("activation", "def f():\n    return nn.Sequential(nn.ReLU())", ["return nn.Sequential(nn.Identity())"]),
    ("freeze", "def f():\n    return nn.Linear(2, 3)", ["return nn.Linear(2, 3).requires_grad_(False)"]),
    ("freeze", "def f(m):\n    m.requires_grad_(False)", ["m"]),
])
def test_each_operator_makes_what_it_says(operator: str, source: str, expected: list[str]) -> None:
    assert changes(source, operator) == expected


def test_defaults_are_mutated_docstrings_and_messages_are_not() -> None:
    source = 'def f(stride=1):\n    """Say 1."""\n    raise ValueError(f"not {1}")'
    (unit,) = units([source]).values()
    found = [(op, change) for op, change, _ in mutants_of(unit)]
    assert ("constant", "`stride=1` → `stride=2`") in found
    assert ("raise", "`raise ValueError(f'not {1}')` removed") in found
    assert all("Say" not in change and "not {2}" not in change for _, change in found)
    assert set(OPERATORS) >= {op for op, _ in found}


def test_identical_mutants_are_one_and_no_change_is_none() -> None:
    mutants = generate("x", ["def f(n):\n    return n * n\n\n\ndef g(a):\n    return max(a, a)\n"], ["f", "g"])
    codes = [(m.exercise, m.mutated) for m in mutants]
    assert len(codes) == len(set(codes))
    assert [m.change for m in mutants if m.exercise == "f" and m.operator == "operand"] == ["`n * n` → `n`"]
    assert not [m for m in mutants if m.exercise == "g" and m.operator == "swap"]  # max(a, a) swapped is itself


def test_a_helper_is_mutated_for_one_exercise_only() -> None:
    cells = ["def _h(x):\n    return x + 1\n\n\ndef a(x):\n    return _h(x)\n\n\ndef b(x):\n    return 2 * _h(x)\n"]
    mutant = next(m for m in generate("x", cells, ["a", "b"])
                  if m.exercise == "a" and m.function == "_h" and m.operator == "arithmetic")
    namespace: dict[str, object] = {}
    exec(compile(mutant.module, "mutant", "exec"), namespace)  # noqa: S102 - our own test code
    assert (namespace["a"](1), namespace["b"](1), namespace["_h"](1)) == (0, 4, 2)  # type: ignore[operator]
    assert mutant.where == "_h, as a calls it"
    assert "-    return x + 1\n+    return x - 1" in mutant.diff()


def test_sample_is_seeded_and_stable() -> None:
    mutants = generate("x", ["def f(a, b, c):\n    return a * b + c - 3\n"], ["f"])
    assert len(mutants) > 6
    assert sample(mutants, 5, seed=1) == sample(list(reversed(mutants)), 5, seed=1)
    assert len(sample(mutants, 5, seed=1)) == 5
    assert sample(mutants, 5, seed=1) != sample(mutants, 5, seed=2)
    assert len(sample(mutants, 0, seed=1)) == len(mutants)


def _report(failing: dict[str, str]) -> GradeReport:
    checks = tuple(CheckResult(f"{e}/c", e, "failed" if e in failing else "passed", 0.0, 1.0, False)
                   for e in ("f", "g"))
    return GradeReport("x", "m.py", "graded", float(sum(c.status == "passed" for c in checks)), 2.0, checks)


def test_fates_and_the_equivalents_file(tmp_path: Path) -> None:
    killed, elsewhere, survived, equivalent, wrongly = generate("x", [
        "def f(a, b):\n    return a + b - 1\n\n\ndef g(a):\n    return f(a, 2)\n"], ["f"])[:5]
    toml = tmp_path / "equivalent_mutants.toml"
    toml.write_text(f'[[mutant]]\nid = "{equivalent.id}"\nreason = "same sum"\n\n'
                    f'[[mutant]]\nid = "{wrongly.id}"\nreason = "wrong"\n\n'
                    '[[mutant]]\nid = "f/f/constant/00000000"\nreason = "stale"\n')
    declared = load_equivalents(toml)
    reports = {"@reference": _report({}), killed.id: _report({"f": "x"}), elsewhere.id: _report({"g": "x"}),
               survived.id: _report({}), equivalent.id: _report({}), wrongly.id: _report({"f": "x"})}
    outcomes, problems = _judge([killed, elsewhere, survived, equivalent, wrongly], reports, declared)
    assert [o.fate for o in outcomes] == ["killed", "elsewhere", "survived", "equivalent", "killed"]
    assert outcomes[3].equivalent == Equivalent(equivalent.id, "same sum")
    assert len(problems) == 1 and wrongly.id in problems[0] and "not equivalent" in problems[0]
    stale = _stale([killed, elsewhere, survived, equivalent, wrongly], declared)
    assert len(stale) == 1 and "f/f/constant/00000000" in stale[0]
    toml.write_text('[[mutant]]\nid = "f/f/x/1"\n')
    with pytest.raises(ValueError, match="no reason"):
        load_equivalents(toml)


def test_a_reference_that_fails_judges_nothing() -> None:
    (mutant,) = generate("x", ["def f(a):\n    return -a\n"], ["f"])[:1]
    _, problems = _judge([mutant], {"@reference": _report({"f": "x"}), mutant.id: _report({"f": "x"})}, {})
    assert "does not score full marks" in problems[0]
    assert fate(mutant, _report({"g": "x"})) == ("elsewhere", ("g",))


def test_the_module_is_the_solution_cells_then_the_mutant() -> None:
    text = module_text("conv-arithmetic", ["import math", "def f():\n    pass"], "def f():\n    return 1")
    assert text.startswith("# assignment: conv-arithmetic\n")
    assert text.count("# %%") == 3 and text.rstrip().endswith("return 1")


def test_conv_arithmetic_kills_its_mutants_on_their_own_exercise() -> None:
    """Every mutant of conv-arithmetic's reference, graded as instructors grade: each exercise at
    its declared minimum, none caught only on another exercise."""
    assignment = load_assignment("conv-arithmetic")
    assert settings(assignment).minimum == 0.95 and settings(assignment).sample == 0
    started = time.monotonic()
    run = run_mutants(assignment)
    seconds = time.monotonic() - started
    print(render(run), f"\n{len(run.outcomes)} mutants in {seconds:.0f} s")
    assert len(run.outcomes) == run.generated > 150
    assert not run.problems, run.problems
    assert not run.below_minimum(), render(run)
    assert not [o.mutant.id for o in run.outcomes if o.fate == "elsewhere"]
