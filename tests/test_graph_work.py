"""What running a student's graph costs the grader (grader/graph_work.py): bounded from shapes before
each operator runs, refused when one batch would make too many values or need too much work, and
charged to a budget per grading that the references use a small part of. The attack it answers is
tests/submissions/hostile/graph_work_bomb.py (graded for real by tests/test_integrity.py)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from grader.assignments import load_assignment
from grader.calibration import hidden_module
from grader.datasets import toy2d
from grader.export import graph_of
from grader.grading import plan_steps
from grader.graph import MAX_NODES, Graph, GraphError, graph_problem, read_graph
from grader.graph_work import CALL_WORK, MAX_BATCH_VALUES, Work, charge, graph_budget, work_of, work_problem
from grader.judge import judge_all
from grader.runner import run_in_process
from grader.trainer import Recipe, grader_trained
from grader.training import logits


def _graph(model: nn.Module, *shape: int) -> Graph:
    graph = read_graph(graph_of(model.eval(), torch.randn(*shape)))
    assert isinstance(graph, Graph), graph
    return graph


class Chain(nn.Module):
    """`length` ReLUs, one after another, on whatever comes in."""

    def __init__(self, length: int) -> None:
        super().__init__()
        self.length, self.first = length, nn.Linear(2, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.first(x)
        for _ in range(self.length):
            x = torch.relu(x)
        return x


def test_an_mlps_work_is_its_products_the_values_it_makes_and_its_calls() -> None:
    graph = _graph(nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Linear(32, 2)), 64, 2)
    first, relu, last = 64 * 32 * 2, 64 * 32, 64 * 2 * 32  # (64, 32) products of 2; (64, 32); (64, 2) of 32
    assert work_of(graph) == Work(per_batch=first + relu + last + 3 * CALL_WORK, values=64 * 32 + 64 * 32 + 64 * 2)


def test_a_convolutions_bound_counts_each_output_value_times_its_kernel() -> None:
    graph = _graph(nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.MaxPool2d(2)), 64, 1, 8, 8)
    work = work_of(graph)
    conv = 64 * 4 * 11 * 11  # at most (8 + 2 + 1) per side before the stride is known
    pool = 64 * 4 * 9 * 9
    assert work == Work(per_batch=conv * 9 + pool * 4 + 2 * CALL_WORK, values=conv + 2 * pool)


def test_a_chain_of_tiny_operators_is_charged_for_each_call_and_a_longer_one_refused() -> None:
    work = work_of(_graph(Chain(MAX_NODES - 1), 64, 2))
    assert isinstance(work, Work) and work.per_batch > MAX_NODES * CALL_WORK
    assert graph_problem(_graph(Chain(MAX_NODES - 1), 64, 2)) is None
    exported = graph_of(Chain(MAX_NODES).eval(), torch.randn(64, 2))
    assert f"runs {MAX_NODES + 1:,} operators" in str(read_graph(exported))  # refused before it is built


def test_one_batch_that_makes_too_many_values_is_refused_before_they_are_made() -> None:
    class Huge(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x + 0.0 * torch.tanh(x.unsqueeze(2).expand(-1, 2, MAX_BATCH_VALUES)).mean(dim=2)

    graph = _graph(Huge(), 1, 2)  # the export here makes them (256 MiB, once); the grader does not
    refused = work_problem(graph) or ""
    assert f"makes more than {MAX_BATCH_VALUES:,} values for a batch of 1 inputs (at aten.expand" in refused
    assert work_problem(_graph(nn.Linear(2, 3), 64, 2)) is None


def test_an_input_batch_too_large_is_refused_before_it_is_made() -> None:
    """A graph claiming an input of 2**40 rows (hostile/forges_input_shape.py; read_graph refuses any shape but
    the example's first, this is the second guard) is refused without zeroing that input."""
    from dataclasses import replace

    graph = replace(_graph(nn.Linear(2, 3), 64, 2), input_shape=(2**40, 2))
    assert "claims a batch of 2,199,023,255,552 input values" in (work_problem(graph) or "")


def test_one_batch_that_needs_too_much_work_is_refused_before_it_runs() -> None:
    class Products(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.square = nn.Parameter(torch.zeros(1024, 1024))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            for _ in range(150):  # 64 × 1024 × 1024 multiply-adds each
                x = x @ self.square
            return x.sum(dim=1, keepdim=True)

    graph = _graph(Products(), 64, 1024)
    assert "needs more than 10,000,000,000 multiply-adds" in (work_problem(graph) or "")


def test_a_budget_is_spent_at_every_use_and_refuses_what_it_cannot_pay() -> None:
    graph = _graph(Chain(10), 64, 2)
    work = work_of(graph)
    assert isinstance(work, Work)
    inputs = torch.randn(640, 2)  # 10 batches
    with graph_budget(25 * work.per_batch):
        first = logits(graph, inputs)
        assert logits(graph, inputs) is first  # computed once, charged again: 20 spent
        with pytest.raises(GraphError, match="the grader does not run this model"):
            logits(graph, inputs)  # 10 more would make 30: nothing is spent
        charge(graph, 5 * 64)
        with pytest.raises(GraphError):
            charge(graph, 1)
    logits(graph, inputs)  # outside judging (a student's own grader.check()), nothing is counted


def test_the_graders_training_beyond_its_recipes_work_is_refused_before_it_starts() -> None:
    graph = _graph(nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 2)), 64, 2)
    work = work_of(graph)
    assert isinstance(work, Work)
    split = toy2d("moons", 0)
    steps = len(split.X_train) // 64 * max(1, round(100 / (len(split.X_train) // 64)))
    assert isinstance(grader_trained(graph, split, Recipe(steps=100, work=3 * work.per_batch * steps)), Graph)
    small = Recipe(steps=100, work=3 * work.per_batch * steps - 1)
    assert "too large for the grader to train" in str(grader_trained(graph, split, small))


@pytest.mark.parametrize("name", ["toy2d-classifiers", "cnn-digits"])
def test_the_reference_passes_with_a_twentieth_of_its_assignments_budget(name: str) -> None:
    """All checks, hidden ones included, judged as a grading judges them: the budget is far above
    what a network of the course needs."""
    torch.set_num_threads(1)
    assignment = load_assignment(name)
    checks = (*[c for c in assignment.checks if not c.hidden], *hidden_module(name).checks_for(3))
    observations = run_in_process(plan_steps(checks), dict(assignment.reference or {}), assignment.limits, 3)
    with graph_budget(assignment.limits.graph_work // 20):
        results, _ = judge_all(checks, observations)
    assert [(r.id, r.message) for r in results if r.status != "passed"] == []
