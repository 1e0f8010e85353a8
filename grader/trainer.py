"""The grader's own trainer: a student's model as built, trained here, with no student code running.

When a model that the student's `train` trained misses its accuracy threshold, either the model
(its factory) or `train` is at fault. The grader tells them apart by substituting its own
trainer for the student's: the graph exported before `train` (the architecture and the
initial parameters, grader/export.py) is trained here by plain Adam on mini-batches of the
same training split, its frozen parameters left as they are, then run on the test split like
any trained graph. If it clears the threshold with room to spare (`margin`), the model can
learn the task and `train` is at fault; if not, the model is. It runs only when an accuracy
check fails, so a correct submission costs nothing more.

The graph is the one the allowlist passed (grader/graph.py): operators of torch, run by the
grader's torch, differentiated by autograd. Nothing of the student's process is called.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

from .datasets import Split
from .graph import Graph, GraphError, forward


@dataclass(frozen=True)
class Recipe:
    """How the grader trains: Adam at `lr` for about `steps` mini-batches of the graph's exported size."""

    steps: int = 1500
    lr: float = 0.01
    margin: float = 0.02  # train is at fault when the grader's training clears the threshold by this much
    cpu_seconds: float = 30.0  # a model too large to train in this time is not judged by substitution
    seed: int = 0

    def describe(self) -> str:
        return f"Adam, lr {self.lr:g}, {self.steps} mini-batches"


_TRAINED: dict[tuple[int, int, Recipe], tuple[Graph, Split, Graph | str]] = {}


def grader_trained(graph: Graph, split: Split, recipe: Recipe) -> Graph | str:
    """`graph` with its trainable parameters trained here on `split`'s training part; a str says why not.
    Computed once per graph, split and recipe."""
    key = (id(graph), id(split), recipe)
    known = _TRAINED.get(key)
    if known is not None and known[0] is graph and known[1] is split:
        return known[2]
    try:
        with _one_thread():
            trained: Graph | str = _train(graph, split, recipe)
    except GraphError as error:
        trained = str(error)
    except RuntimeError as error:  # autograd refused the graph (an operator without a gradient)
        trained = f"the grader could not train the model: {str(error).splitlines()[0][:200]}"
    if len(_TRAINED) > 64:
        _TRAINED.clear()
    _TRAINED[key] = (graph, split, trained)
    return trained


@contextmanager
def _one_thread() -> Iterator[None]:
    """One thread, as the student's process has: the same result on every machine and load."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _train(graph: Graph, split: Split, recipe: Recipe) -> Graph | str:
    import torch

    values = {t.name: t.value.detach().clone().requires_grad_(t.kind == "parameter" and t.requires_grad)
              for t in graph.tensors}
    trainable = [values[t.name] for t in graph.parameters if t.requires_grad]
    if not trainable:
        return "the model has no parameter to train"
    X, y = split.X_train, split.y_train
    batch = graph.input_shape[0]
    if len(X) < batch:
        return f"the model was exported for batches of {batch}, more than the {len(X)} training rows"
    per_epoch = len(X) // batch
    epochs = max(1, round(recipe.steps / per_epoch))
    optimizer = Adam(trainable, lr=recipe.lr)
    generator = torch.Generator().manual_seed(recipe.seed)
    deadline = time.process_time() + recipe.cpu_seconds
    for _ in range(epochs):
        order = torch.randperm(len(X), generator=generator)
        for start in range(0, per_epoch * batch, batch):
            rows = order[start:start + batch]
            loss = torch.nn.functional.cross_entropy(forward(graph, X[rows], values), y[rows])
            optimizer.step(torch.autograd.grad(loss, trainable, allow_unused=True))
        if time.process_time() > deadline:
            return f"the model is too large for the grader to train in {recipe.cpu_seconds:g} s"
    return replace(graph, tensors=tuple(replace(t, value=values[t.name].detach()) for t in graph.tensors))


@dataclass
class _Moments:
    """What Adam keeps for one parameter: its steps so far and its two moving averages."""

    steps: int
    average: Any
    square: Any


class Adam:
    """torch.optim.Adam's arithmetic with its defaults (betas 0.9 and 0.999, eps 1e-8: its single-tensor
    path on the CPU), bit for bit, without the optimizer's machinery around each step (its profiler
    records, dynamo guards, the gradients kept on each parameter): a third of a small model's step.
    A parameter without a gradient is left as it is, its step count too, as torch's Adam does."""

    def __init__(self, parameters: list[Any], lr: float, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8) -> None:
        self.parameters, self.lr, self.betas, self.eps = parameters, lr, betas, eps
        self.moments: list[_Moments | None] = [None] * len(parameters)

    def step(self, gradients: tuple[Any, ...]) -> None:
        import torch

        beta1, beta2 = self.betas
        with torch.no_grad():
            for i, (parameter, gradient) in enumerate(zip(self.parameters, gradients, strict=True)):
                if gradient is None:
                    continue
                if torch.is_complex(parameter):  # as torch's Adam: each part a real number of its own
                    parameter, gradient = torch.view_as_real(parameter), torch.view_as_real(gradient)
                moments = self.moments[i]
                if moments is None:
                    moments = self.moments[i] = _Moments(0, torch.zeros_like(parameter), torch.zeros_like(parameter))
                moments.steps += 1
                moments.average.lerp_(gradient, 1 - beta1)
                moments.square.mul_(beta2).addcmul_(gradient, gradient, value=1 - beta2)
                step_size = self.lr / (1 - beta1 ** moments.steps)
                denominator = (moments.square.sqrt() / (1 - beta2 ** moments.steps) ** 0.5).add_(self.eps)
                parameter.addcdiv_(moments.average, denominator, value=-step_size)


def graph_accuracy(graph: Graph, inputs: Any, labels: Any) -> float:
    """The share of `inputs` whose argmax of the graph's output is the label."""
    from .graph import run_graph

    return float((run_graph(graph, inputs).argmax(dim=1) == labels).double().mean())
