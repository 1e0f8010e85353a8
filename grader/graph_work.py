"""What running a student's graph costs the grader, known before it runs, and the most one grading spends.

The grader runs the exported graph itself, in its own process, on its own inputs (grader/graph.py),
on many more rows than the student's process ever ran it on: one decision-boundary picture alone is
6,400 points, exported from a batch of 64. A forward that does needless work only when exported
(zero times a chain of large products, in eval mode) would cost the grader a minute for every
second it cost the student, outside every limit the kernel holds for the sandbox. So the work is
counted from shapes alone: the graph runs on torch's meta device, where operators make shapes and
no values, and each operator is charged its multiply-adds (a product or a convolution) or the
values it touches (anything else), plus the fixed cost of a call (a chain of thousands of tiny
operators is work too). A graph with a tensor too large for one batch is refused
(`work_problem`), and judging computes with graphs, running them (`charge`) and training them
(`charge_training`, grader/trainer.py), for at most its assignment's `Limits.graph_work`
(`graph_budget`). Both are decided from shapes: the same submission gets the same verdict on any
machine, at any load.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from .graph import Graph, GraphError, Node, forward

MAX_VALUES = 2**24  # values in one tensor an operator makes for one batch (64 MiB of float32)
CALL_WORK = 100_000  # what one operator call costs beyond its arithmetic (dispatch, the interpreter), as multiply-adds


@dataclass(frozen=True)
class Work:
    """One batch of the graph's exported size: its multiply-adds and other operations, and its largest tensor."""

    per_batch: int
    largest: int


_WORK: dict[str, Work | str] = {}  # by the graph's shape: its operators, their arguments, its tensors' shapes
_BUDGETS: list[list[int]] = []  # each open graph_budget's [work left, work given], innermost last


def work_of(graph: Graph) -> Work | str:
    """The work of one batch through `graph`, or why it cannot be counted: counted once per shape of
    graph (a model before and after training, or the same network in a classmate's submission)."""
    shape = hashlib.sha256(repr((graph.input_shape, graph.nodes, graph.outputs, [
        (t.name, None if t.value is None else tuple(t.value.shape)) for t in graph.tensors])).encode()).hexdigest()
    work = _WORK.get(shape)
    if work is None:
        if len(_WORK) > 256:
            _WORK.clear()
        work = _WORK[shape] = _counted(graph)
    return work


def work_problem(graph: Graph) -> str | None:
    """Why the grader will not run `graph` at all (a tensor too large for one batch), or None."""
    work = work_of(graph)
    if isinstance(work, str):
        return work
    if work.largest > MAX_VALUES:
        return (f"the model's forward makes a tensor of {work.largest:,} values for a batch of "
                f"{graph.input_shape[0]} inputs; the grader runs models whose tensors hold at most {MAX_VALUES:,}")
    return None


@contextmanager
def graph_budget(work: int) -> Iterator[None]:
    """Within this, what the grader computes with graphs (`charge`, `charge_training`) spends at most
    `work` multiply-adds in all. Every use is charged, a result kept from before included: the same
    sum, and the same verdicts, however the judging was split up (grader/trainer.py)."""
    _BUDGETS.append([work, work])
    try:
        yield
    finally:
        _BUDGETS.pop()


def charge(graph: Graph, rows: int) -> None:
    """Spend the work of running `graph` on `rows` inputs from the open budget, if there is one;
    raises GraphError, spending nothing, when it is not there to spend."""
    work = work_of(graph)
    if isinstance(work, str):
        raise GraphError(work)
    batch = graph.input_shape[0]
    _spend(work.per_batch * -(-rows // batch), f"its forward needs {work.per_batch // batch:,} multiply-adds per input")


def charge_training(work: int) -> str | None:
    """Spend `work` for one of the grader's own trainings; why not, when it is not there to spend."""
    try:
        _spend(work, f"training it needs {work:,} multiply-adds")
    except GraphError as error:
        return str(error)
    return None


def _spend(work: int, what: str) -> None:
    if not _BUDGETS:
        return
    budget = _BUDGETS[-1]
    if work > budget[0]:
        raise GraphError(f"the grader does not run this model: {what}, and the grader computes with a "
                         f"submission's models for at most {budget[1]:,} in all (its inputs are thousands of "
                         f"rows); a network of this course needs far fewer")
    budget[0] -= work


def _counted(graph: Graph) -> Work | str:
    import torch

    if not graph.input_shape or graph.input_shape[0] < 1:
        return "the model's graph has no input shape"
    total, largest = [0], [0]

    def count(node: Node, args: list[Any], result: Any) -> None:
        made = _tensors(result)
        largest[0] = max([largest[0], *(t.numel() for t in made)])
        total[0] += _node_work(node, args, made)

    try:
        batch = torch.empty(graph.input_shape, device="meta")
        tensors = {t.name: t.value.to("meta") for t in graph.tensors}
        forward(graph, batch, tensors, device="meta", on_node=count)
    except GraphError as error:
        return str(error)
    except Exception:  # shapes or tensors the child sent that torch refuses: nothing to run
        return "the model's graph could not be read"
    return Work(total[0], largest[0])


def _node_work(node: Node, args: list[Any], made: list[Any]) -> int:
    """A call, plus the multiply-adds of a product or a convolution, or the values anything else reads or makes."""
    import torch

    inputs = [a for a in args if isinstance(a, torch.Tensor)]
    out = sum(t.numel() for t in made)
    touched = max(out, sum(t.numel() for t in inputs))
    if node.family == "linear" and inputs:
        first = args[1] if node.kernel == "addmm" and len(args) > 1 else args[0]
        touched += out * (first.shape[-1] if isinstance(first, torch.Tensor) and first.dim() else 1)
    elif node.family == "convolution" and len(inputs) > 1:
        weight = inputs[1]
        touched *= weight.numel() // weight.shape[0] if weight.dim() and weight.shape[0] else 1
    elif node.family == "pooling" and len(args) > 1 and "adaptive" not in node.kernel:
        touched *= math.prod(_ints(args[1]))
    return CALL_WORK + touched


def _ints(value: Any) -> list[int]:
    if isinstance(value, int):
        return [value]
    return [v for v in value if isinstance(v, int)] if isinstance(value, list | tuple) else [1]


def _tensors(value: Any) -> list[Any]:
    import torch

    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, list | tuple):
        return [t for v in value for t in _tensors(v)]
    return []
