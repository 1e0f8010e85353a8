"""Forgery review: what a submission could make the grader believe, or change for the next one graded.

Each attack is a sample of tests/submissions/hostile/ whose entry in expected.json names this file ("batch"):

* mutates_the_test_split.py: a graph operator in place (aten.mul_) on the input zeroed the grader's own split,
  kept for every submission its process grades (grader/graph.py now runs a graph on a copy of its inputs);
* poisons_shared_work_counts.py: a graph's refusal, kept by its shape alone, was every later graph's of that
  shape (grader/graph_work.py now keys a count by the whole graph);
* forges_its_call_time.py: a call said it took less CPU than it used (grader/runner.py now takes the more of
  what the child said and what the kernel counted);
* public_verdict_from_hidden_inputs.py: CPU spent after the hidden inputs arrived took a public answer back
  (grader/runner.py now leaves public answers as they were when the hidden part was sent).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from grader.assignments import load_assignment
from grader.export import graph_of
from grader.grading import grade_submission
from grader.graph import Graph, read_graph, run_graph
from grader.graph_work import Work, work_of
from grader.model import Step
from grader.runner import run_steps
from grader.sandbox import Limits, get_sandbox
from grader.submission import load_submission
from grader.validate import expectation_problems

from .conftest import SUBMISSIONS

HOSTILE = SUBMISSIONS / "hostile"
EXPECTED = json.loads((HOSTILE / "expected.json").read_text())
HONEST = {"toy2d-classifiers": Path(__file__).parent.parent / "reference" / "toy2d-classifiers" / "solution.ipynb"}


def _mine() -> dict[str, dict[str, Any]]:
    return {name: e for name, e in EXPECTED.items() if e.get("batch") == "tests/test_forgery_review.py"}


def test_every_sample_of_this_review_has_its_file_and_its_docstring() -> None:
    assert len(_mine()) == 4
    for name in _mine():
        text = (HOSTILE / name).read_text()
        assert text.startswith('"""') and "tests/test_forgery_review.py" in text, name


# -- a graph that writes into its input --------------------------------------------------------------------

class ZeroesItsInput(nn.Module):
    """A Linear whose forward first zeroes its input where it lies (in eval mode, as the grader runs it)."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(2, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            x.mul_(0.0)
        return self.linear(x)


def test_a_graph_that_writes_into_its_input_leaves_the_graders_rows_as_they_were() -> None:
    graph = read_graph(graph_of(ZeroesItsInput().eval(), torch.randn(64, 2)))
    assert isinstance(graph, Graph) and any(node.kernel == "mul_" for node in graph.nodes)
    rows = torch.randn(200, 2) + 5  # a split the grader keeps: full batches of it were views
    kept = rows.clone()
    output = run_graph(graph, rows)
    assert torch.equal(rows, kept)
    assert torch.equal(output, run_graph(graph, torch.zeros(200, 2)))  # the graph itself still sees zeros


# -- a work count kept for another graph -------------------------------------------------------------------

def _mlp_graph(dtype: torch.dtype) -> Graph:
    torch.manual_seed(0)
    exported = graph_of(nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 3)).eval(), torch.randn(64, 2))
    for tensor in exported["tensors"]:
        tensor["value"] = tensor["value"].to(dtype)
    graph = read_graph(exported, (64, 2))
    assert isinstance(graph, Graph)
    return graph


def test_a_graph_refused_for_its_own_tensors_refuses_no_other_graph_of_its_shape() -> None:
    poisoned = work_of(_mlp_graph(torch.float64))  # float64 weights beside float32 inputs: it cannot run
    assert isinstance(poisoned, str) and "aten.linear" in poisoned
    assert isinstance(work_of(_mlp_graph(torch.float32)), Work)  # a classmate's, of the same shape
    assert work_of(_mlp_graph(torch.float64)) == poisoned  # the same graph again: the same answer


# -- the CPU a call says it used -----------------------------------------------------------------------------

def _notebook(tmp_path: Path, source: str) -> Path:
    notebook = tmp_path / "student.ipynb"
    cell = {"cell_type": "code", "source": source, "metadata": {}, "outputs": [], "execution_count": None}
    notebook.write_text(json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    return notebook


def test_a_call_cannot_say_it_used_less_cpu_than_the_kernel_counted(tmp_path: Path) -> None:
    notebook = _notebook(tmp_path, (HOSTILE / "forges_its_call_time.py").read_text())
    outcome = run_steps(notebook, [Step("s", "slow", (3,), timeout=1)], get_sandbox(), Limits(), warm_imports=())
    observed = outcome.observations["s"]
    assert observed.status == "returned" and observed.value == 3  # within its limit's grace: it returned
    assert observed.seconds > 2.0, observed  # it said 0.25 s


# -- what a student sees is fixed when the hidden part is sent -------------------------------------------------

def test_a_public_verdict_stands_whatever_the_code_does_once_the_hidden_inputs_are_there() -> None:
    name = "public_verdict_from_hidden_inputs.py"
    expected = EXPECTED[name]
    spec = load_assignment(expected["assignment"])
    report = grade_submission(load_submission(HOSTILE / name), spec, get_sandbox())
    assert expectation_problems(report, expected, len(spec.checks)) == []
    last = next(c for c in report.checks if c.id == "shared_weights_params/slides-ten-in-ten-out")
    assert last.status == "passed" and last.message == "shared_weights_params(10, 10, 10) returned 10000"
    assert report.message == ""  # the stop came after the hidden part was sent: not the report's message


# -- a classmate graded after an attack, in the same process ----------------------------------------------------

@pytest.mark.parametrize("name", ["mutates_the_test_split.py", "poisons_shared_work_counts.py"])
def test_a_classmate_graded_after_the_attack_in_the_same_process_keeps_full_marks(name: str) -> None:
    """As a batch's worker process grades its students, one after another, with one loaded assignment."""
    expected = EXPECTED[name]
    spec = load_assignment(expected["assignment"])
    sandbox = get_sandbox()
    attack = grade_submission(load_submission(HOSTILE / name), spec, sandbox)
    assert expectation_problems(attack, expected, len(spec.checks)) == []
    classmate = grade_submission(load_submission(HONEST[spec.name]), spec, sandbox)
    assert classmate.score == classmate.max_score, [c.id for c in classmate.checks if c.status != "passed"]
