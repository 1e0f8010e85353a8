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

import multiprocessing
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from .datasets import Split
from .graph import Graph, GraphError, forward
from .graph_work import charge, work_of


@dataclass(frozen=True)
class Recipe:
    """How the grader trains: Adam at `lr` for about `steps` mini-batches of the graph's exported size."""

    steps: int = 1500
    lr: float = 0.01
    margin: float = 0.02  # train is at fault when the grader's training clears the threshold by this much
    work: int = 500_000_000_000  # a model whose training needs more multiply-adds is not judged by substitution
    cpu_seconds: float = 30.0  # nor one that takes longer than this to train (a backstop: the work is counted first)
    seed: int = 0

    def describe(self) -> str:
        return f"Adam, lr {self.lr:g}, {self.steps} mini-batches"


T = TypeVar("T")
Training = tuple[Graph, Split, Recipe]
_TRAINED: dict[tuple[int, int, Recipe], tuple[Graph, Split, Graph | str]] = {}
_NOTED: list[list[Training]] = []  # while trainings_noted() runs: the trainings asked for, not run
MOST_KEPT = 64


def grader_trained(graph: Graph, split: Split, recipe: Recipe) -> Graph | str:
    """`graph` with its trainable parameters trained here on `split`'s training part; a str says why not.
    Computed once per graph, split and recipe; a training beyond `recipe.work` refused before it starts."""
    key = (id(graph), id(split), recipe)
    known = _TRAINED.get(key)
    if known is not None and known[0] is graph and known[1] is split:
        return known[2]
    refused = _training_problem(graph, split, recipe)
    if refused:
        return refused
    if _NOTED:
        _NOTED[-1].append((graph, split, recipe))
        return "not trained yet"
    trained = _trained_or_why(graph, split, recipe)
    _keep(graph, split, recipe, trained)
    return trained


def _training_problem(graph: Graph, split: Split, recipe: Recipe) -> str | None:
    """Why the grader will not train `graph` by `recipe`: it cannot run it, or the training would need more
    than `recipe.work` multiply-adds (forward, and backward at twice forward's; grader/graph_work.py)."""
    work = work_of(graph)
    if isinstance(work, str):
        return work
    batch = graph.input_shape[0]
    if len(split.X_train) < batch:
        return f"the model was exported for batches of {batch}, more than the {len(split.X_train)} training rows"
    steps = _steps(len(split.X_train) // batch, recipe)
    if 3 * work.per_batch * steps > recipe.work:
        return (f"the model is too large for the grader to train: {steps} steps would need "
                f"{3 * work.per_batch * steps:,} multiply-adds, more than {recipe.work:,}")
    return None


def _steps(per_epoch: int, recipe: Recipe) -> int:
    return per_epoch * max(1, round(recipe.steps / per_epoch))


def _trained_or_why(graph: Graph, split: Split, recipe: Recipe) -> Graph | str:
    """Total: whatever the student's graph does to the grader's torch is a reason, never an exception
    (which would end a forked pool's map, or the judging of every check that asked)."""
    try:
        with _one_thread():
            return _train(graph, split, recipe)
    except GraphError as error:
        return str(error)
    except Exception as error:  # autograd refused the graph (an operator without a gradient), or worse
        first = (str(error) or type(error).__name__).splitlines()
        return f"the grader could not train the model: {first[0][:200] if first else type(error).__name__}"


def _keep(graph: Graph, split: Split, recipe: Recipe, trained: Graph | str) -> None:
    if len(_TRAINED) >= MOST_KEPT:
        _TRAINED.clear()
    _TRAINED[(id(graph), id(split), recipe)] = (graph, split, trained)


@contextmanager
def trainings_noted() -> Iterator[list[Training]]:
    """Meanwhile, a training not done yet is noted in the list given, and not run: grader_trained says
    "not trained yet" instead (what is computed meanwhile is for finding the trainings, then dropped)."""
    noted: list[Training] = []
    _NOTED.append(noted)
    try:
        yield noted
    finally:
        _NOTED.pop()


def judged_with_trainings_ahead(judge: Callable[[], T], jobs: int) -> T:
    """judge()'s verdicts, its trainings run on `jobs` cores at once: a first judge() notes the trainings
    it asks for; they run in up to `jobs` processes at once (_train_ahead); judge() then finds them
    done. A first judge() that asked for none is the verdict: a passing submission pays nothing more."""
    if jobs < 2 or "fork" not in multiprocessing.get_all_start_methods():
        return judge()
    with trainings_noted() as trainings:
        judged = judge()
    if not trainings:
        return judged
    _train_ahead(trainings, jobs)
    return judge()


def _train_ahead(trainings: list[Training], jobs: int) -> None:
    """Run `trainings` in up to `jobs` forked processes at once (this process's torch and data, no
    student code), each with one thread and its own CPU budget as here; grader_trained then finds
    them done. The same results as one after another (the same seeds, one thread each)."""
    unique = list({(id(g), id(s), r): (g, s, r) for g, s, r in trainings}.values())[:MOST_KEPT]
    processes = min(jobs, len(unique))  # a SIGTERM ends one quietly (grade's own handler is not theirs)
    with multiprocessing.get_context("fork").Pool(processes, signal.signal, (signal.SIGTERM, signal.SIG_DFL)) as pool:
        done = pool.starmap(_trained_or_why, unique, chunksize=1)
    if len(_TRAINED) + len(unique) > MOST_KEPT:
        _TRAINED.clear()
    for (graph, split, recipe), trained in zip(unique, done, strict=True):
        _keep(graph, split, recipe, trained)


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
    per_epoch = len(X) // batch
    epochs = _steps(per_epoch, recipe) // per_epoch
    optimizer = Adam(trainable, lr=recipe.lr)
    generator = torch.Generator().manual_seed(recipe.seed)
    deadline = time.process_time() + recipe.cpu_seconds
    for _ in range(epochs):
        order = torch.randperm(len(X), generator=generator)
        for start in range(0, per_epoch * batch, batch):
            rows = order[start:start + batch]
            output = forward(graph, X[rows], values)
            problem = logits_problem(output, split.n_classes)
            if problem:
                return problem
            loss = torch.nn.functional.cross_entropy(output, y[rows])
            optimizer.step(torch.autograd.grad(loss, trainable, allow_unused=True))
        if time.process_time() > deadline:
            return f"the model is too large for the grader to train in {recipe.cpu_seconds:g} s"
    return replace(graph, tensors=tuple(replace(t, value=values[t.name].detach()) for t in graph.tensors))


def logits_problem(output: Any, n_classes: int) -> str | None:
    """What is wrong with a model's output where logits (N, n_classes) are due; None when nothing is."""
    if output.dim() == 2 and output.shape[1] == n_classes:
        return None
    shape = tuple(output.shape)
    rows = shape[0] if shape else 0
    width = f"{shape[1]} logit(s) per input" if len(shape) == 2 else f"an output of shape {shape}"
    return (f"the model returns {width} for {rows} inputs; expected logits ({rows}, {n_classes}): one score per "
            f"class, {n_classes} classes here (the last layer must have out_features = n_classes; the loss is "
            f"nn.CrossEntropyLoss on those logits)")


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

    charge(graph, len(inputs))
    return float((run_graph(graph, inputs).argmax(dim=1) == labels).double().mean())
