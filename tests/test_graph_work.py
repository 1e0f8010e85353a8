"""What running a student's graph costs the grader (grader/graph_work.py): counted from shapes before
it runs, refused when one batch makes too large a tensor, and charged to a budget per grading that
the reference's models use a small part of. The attack it answers is
tests/submissions/hostile/graph_work_bomb.py (graded for real by tests/test_integrity.py)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from grader.assignments import load_assignment
from grader.calibration import hidden_module
from grader.export import graph_of
from grader.grading import plan_steps
from grader.graph import Graph, GraphError, read_graph, run_graph
from grader.graph_work import CALL_WORK, MAX_VALUES, Work, charge, graph_budget, work_of, work_problem
from grader.judge import judge_all
from grader.runner import run_in_process


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


def test_an_mlps_work_is_its_products_the_values_it_touches_and_its_calls() -> None:
    graph = _graph(nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Linear(32, 2)), 64, 2)
    first = 64 * 32 + 64 * 32 * 2  # makes (64, 32), each value a product of 2
    relu = 64 * 32
    last = (64 * 32 + 32 * 2 + 2) + 64 * 2 * 32  # reads (64, 32) and its weights, each output a product of 32
    assert work_of(graph) == Work(per_batch=first + relu + last + 3 * CALL_WORK, largest=64 * 32)


def test_a_convolution_counts_each_output_value_times_its_kernel() -> None:
    graph = _graph(nn.Sequential(nn.Conv2d(1, 4, 3, padding=1)), 64, 1, 8, 8)
    work = work_of(graph)
    assert isinstance(work, Work) and work.per_batch == 64 * 4 * 8 * 8 * 9 + CALL_WORK


def test_a_chain_of_tiny_operators_is_charged_for_each_call() -> None:
    work = work_of(_graph(Chain(1000), 64, 2))
    assert isinstance(work, Work) and work.per_batch > 1000 * CALL_WORK


def test_one_batch_with_a_tensor_too_large_is_refused_before_anything_runs() -> None:
    class Huge(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x + 0.0 * torch.tanh(x.unsqueeze(2).expand(-1, 2, MAX_VALUES // 2 + 1)).mean(dim=2)

    graph = _graph(Huge(), 1, 2)  # one row: 64 MiB here, once
    assert f"tensor of {MAX_VALUES + 2:,} values" in (work_problem(graph) or "")
    assert work_problem(_graph(nn.Linear(2, 3), 64, 2)) is None


def test_a_budget_is_spent_by_running_graphs_and_refuses_what_it_cannot_pay() -> None:
    graph = _graph(Chain(10), 64, 2)
    work = work_of(graph)
    assert isinstance(work, Work)
    inputs = torch.randn(640, 2)  # 10 batches
    with graph_budget(25 * work.per_batch):
        run_graph(graph, inputs)
        run_graph(graph, inputs)
        with pytest.raises(GraphError, match="the grader does not run this model"):
            run_graph(graph, inputs)  # 10 more would need 30: nothing is spent
        charge(graph, 5)
        with pytest.raises(GraphError):
            charge(graph, 1)
    run_graph(graph, inputs)  # outside a grading (a student's own grader.check()), nothing is counted


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
