"""Checks on models the student builds and trains: make → train → predict, judged here.

A `ModelRun` is the chain of steps for one model on one dataset split: the student's
factory builds it (observed as plain data: layers and parameters), `train` gets the
training split, `predict` gets the test inputs only. The test labels stay in this process,
in the judge's closure; accuracy is computed here. Checks that look at the same model share
the same steps, so each model is built and trained once per grading.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .compare import show
from .datasets import Split
from .model import Check, Evidence, Figure, Observation, Ref, Step, Verdict

CONTAINERS = frozenset({"Sequential", "ModuleList", "ModuleDict"})
Pictures = Callable[["ModelRun", Evidence, float], tuple[Figure, ...]]


@dataclass(frozen=True)
class ModelRun:
    """The steps that build, train and query one model on one split (shared between checks)."""

    key: str
    label: str
    split: Split
    make: Step
    train: Step
    predict: Step
    grid: Step | None = None
    extent: tuple[float, float, float, float] | None = None

    @property
    def steps(self) -> tuple[Step, ...]:
        return (self.make, self.train, self.predict)


def model_run(key: str, factory: str, args: tuple[Any, ...], split: Split, label: str,
              train_timeout: float | None = None, with_grid: bool = False) -> ModelRun:
    """make → train → predict for `factory(*args)` on `split`; the model is named after the key's last part."""
    from .datasets import grid

    make = Step(key, factory, args, observe="module")
    train = Step(f"{key}.train", "train", (Ref(make.name), split.X_train, split.y_train), timeout=train_timeout)
    predict = Step(f"{key}.predict", "predict", (Ref(make.name), split.X_test))
    if not with_grid:
        return ModelRun(key, label, split, make, train, predict)
    points, extent = grid(split.X_test)
    on_grid = Step(f"{key}.grid", "predict", (Ref(make.name), points))
    return ModelRun(key, label, split, make, train, predict, on_grid, extent)


@dataclass(frozen=True)
class Parameter:
    name: str
    shape: tuple[int, ...]
    requires_grad: bool
    numel: int


@dataclass(frozen=True)
class ModuleFacts:
    """An nn.Module as the probe described it: its layers in registration order and its parameters."""

    type: str
    layers: tuple[tuple[str, str, str], ...]
    parameters: tuple[Parameter, ...]
    state: Mapping[str, Any]

    @property
    def total(self) -> int:
        return sum(p.numel for p in self.parameters)

    @property
    def trainable(self) -> int:
        return sum(p.numel for p in self.parameters if p.requires_grad)

    @property
    def frozen(self) -> tuple[Parameter, ...]:
        return tuple(p for p in self.parameters if not p.requires_grad)

    def torch_layers(self) -> list[tuple[str, str]]:
        """(name, type) of each torch.nn layer that is not a container, in registration order."""
        return [(name, kind) for name, kind, module in self.layers
                if module.startswith("torch.nn.") and kind not in CONTAINERS]

    def count(self, kind: str) -> int:
        return sum(1 for _, k in self.torch_layers() if k == kind)

    def layer_params(self, layer: str) -> int:
        return sum(p.numel for p in self.parameters if p.name.startswith(layer + "."))

    def layer_text(self, name: str, kind: str) -> str:
        """One layer as a student would write it: "Linear(2→32)", "Conv2d(1→16, 3×3)", "ReLU"."""
        weight = next((p for p in self.parameters if p.name == f"{name}.weight"), None)
        if kind == "Linear" and weight is not None and len(weight.shape) == 2:
            return f"Linear({weight.shape[1]}→{weight.shape[0]})"
        if kind == "Conv2d" and weight is not None and len(weight.shape) == 4:
            return f"Conv2d({weight.shape[1]}→{weight.shape[0]}, {weight.shape[2]}×{weight.shape[3]})"
        return kind

    def outline(self) -> str:
        """The layers in order: "Linear(2→32) → ReLU → Linear(32→2)"."""
        parts = [self.layer_text(name, kind) for name, kind in self.torch_layers()]
        return " → ".join(parts) or "no torch.nn layers"


def module_facts(observed: Observation) -> ModuleFacts | str:
    """The facts of an observed module, or why the observation is not a module."""
    value = observed.value
    if not isinstance(value, dict) or observed.type_name == "dict" or "parameters" not in value:
        return f"returned {show(value)} ({observed.type_name or 'unknown type'}), not a torch.nn.Module"
    try:
        layers = tuple((str(x["name"]), str(x["type"]), str(x["module"])) for x in value["layers"])
        parameters = tuple(
            Parameter(str(p["name"]), tuple(int(d) for d in p["shape"]), bool(p["requires_grad"]), int(p["numel"]))
            for p in value["parameters"]
        )
        state = dict(value["state"])
    except (KeyError, TypeError, ValueError):
        return "the module's description could not be read"
    return ModuleFacts(str(value.get("type", "")), layers, parameters, state)


def classes_problem(value: Any, n_rows: int, n_classes: int) -> str | None:
    """Why `value` is not predicted classes for `n_rows` inputs (a LongTensor (N,) in range), or None."""
    import torch

    if type(value) is not torch.Tensor:
        return f"predict returned {show(value)}; it must return a torch.LongTensor of class indices"
    if value.dtype != torch.int64:
        hint = " (probabilities or scores? take the argmax over the classes)" if value.is_floating_point() else ""
        return f"predict returned a {str(value.dtype).replace('torch.', '')} tensor{hint}; it must return int64 classes"
    if tuple(value.shape) != (n_rows,):
        return f"predict returned shape {tuple(value.shape)} for {n_rows} inputs; expected ({n_rows},)"
    if n_rows and (int(value.min()) < 0 or int(value.max()) >= n_classes):
        return f"predict returned classes outside 0..{n_classes - 1}"
    return None


def accuracy(predicted: Any, labels: Any) -> float:
    return float((predicted == labels).double().mean())


def losses_problem(value: Any) -> str | None:
    """Why `value` is not a list of per-epoch losses (plain floats), or None."""
    if type(value) is not list or not value:
        return f"train returned {show(value)}; it must return a list with the training loss of each epoch"
    bad = next((v for v in value if type(v) not in (float, int)), None)
    if bad is not None:
        return f"train's list holds {show(bad)}; append plain numbers (loss.item())"
    return None


def _percent(value: float) -> str:
    return f"{100 * value:.1f}%"


def accuracy_check(
    id: str,
    exercise: str,
    run: ModelRun,
    threshold: float,
    points: float = 1.0,
    hidden: bool = False,
    pictures: Pictures | None = None,
) -> Check:
    """The model of `run`, trained by the student's `train`, must reach `threshold` accuracy on the test split."""
    split = run.split

    def judge(evidence: Evidence) -> Verdict:
        predicted = evidence[run.predict.name].value
        problem = classes_problem(predicted, len(split.y_test), split.n_classes)
        if problem:
            return Verdict(False, f"called {run.predict.call_text()}\n{problem}")
        score = accuracy(predicted, split.y_test)
        verdict = f"test accuracy on {run.label}: {_percent(score)} (threshold {_percent(threshold)})"
        pics = pictures(run, evidence, score) if pictures else ()
        if score >= threshold:
            return Verdict(True, verdict, pics)
        return Verdict(False, verdict + _loss_note(evidence[run.train.name]), pics)

    return Check(id=id, exercise=exercise, steps=run.steps, judge=judge, points=points, hidden=hidden,
                 description=f"reaches {_percent(threshold)} test accuracy on {run.label}",
                 extra_steps=(run.grid,) if run.grid else ())


def _loss_note(trained: Observation) -> str:
    if losses_problem(trained.value) is not None:
        return ""
    losses = trained.value
    return f"\ntrain's loss went from {losses[0]:.4g} to {losses[-1]:.4g} over {len(losses)} epoch(s)"


def boundary_picture(run: ModelRun, evidence: Evidence, score: float, threshold: float,
                     caption: str = "", show_data: bool = True) -> tuple[Figure, ...]:
    """The decision boundary of `run`'s model, from its predictions on the grid (none if they are unusable).

    `show_data=False` (hidden checks) leaves out the test points: with their true classes they
    would tell a student the hidden split's labels.
    """
    from .figures import decision_boundary

    split = run.split
    grid_classes = None
    if run.grid is not None and run.extent is not None:
        observed = evidence.observations.get(run.grid.name)
        value = observed.value if observed is not None and observed.status == "returned" else None
        if classes_problem(value, int(run.grid.args[1].shape[0]), split.n_classes) is None:
            grid_classes = value
    assert run.extent is not None
    caption = caption or f"accuracy {_percent(score)} · threshold {_percent(threshold)}"
    if not show_data:
        caption += " · test points not shown"
    return (decision_boundary(run.label, caption, grid_classes, run.extent, split.X_test if show_data else None,
                              split.y_test, evidence[run.predict.name].value, split.n_classes),)


def with_threshold(threshold: float, show_data: bool = True) -> Pictures:
    """Decision-boundary pictures whose captions name `threshold` (without the test points if not `show_data`)."""
    return lambda run, evidence, score: boundary_picture(run, evidence, score, threshold, show_data=show_data)


def trained_accuracies(runs: Sequence[ModelRun], evidence: Evidence) -> list[float] | str:
    """The test accuracy of each run, or the first reason one cannot be measured."""
    scores = []
    for run in runs:
        predicted = evidence[run.predict.name].value
        problem = classes_problem(predicted, len(run.split.y_test), run.split.n_classes)
        if problem:
            return f"called {run.predict.call_text()}\n{problem}"
        scores.append(accuracy(predicted, run.split.y_test))
    return scores
