"""Models the grader specifies: `train` and `predict` tried apart from the student's own models.

A model's accuracy rests on three exercises, the factory that builds it, `train` and `predict`;
to blame the one at fault, each is also tried where the other two are the grader's. Here the
grader writes a model down as plain data (layers and their tensors, `Spec`); the probe builds it
in the student's process (grader/export.py `model_of`, observe "model"), and the student's
`train` or `predict` gets it:

* **the still model** (`StillRun`): a fixed linear layer plus a trainable number multiplied by 0.
  `train` has a parameter to optimize, and the model's output never changes: the loss of every
  epoch is the mean cross-entropy of the same predictions, which the grader computes. What train
  returns must be that, epoch after epoch: not the last mini-batch's loss, not a sum, not the loss
  of softmax probabilities (`loss_report_check`).
* **a plain model** (`given_run`): a logistic regression the grader initializes, trained by the
  student's `train` and exported back (grader/training.py `loss_check`: the loss the grader
  measures must drop).
* **a predict model** (`predict_given_check`): a small network of the grader's, never trained;
  `predict` must return the argmax of the logits the grader computes for it.

The inputs are public: random points of the grader's, or a split's training inputs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .checks import Mistake
from .compare import Tolerance
from .datasets import Split
from .graph import Graph, GraphTensor, Node
from .model import Check, Evidence, Ref, Step, Verdict, hint_lines
from .training import AGREEMENT, EXPORT_ROWS, ModelRun, accuracy, classes_problem, graph_step, losses_problem

Spec = dict[str, Any]
STILL_ROWS = 1_600  # mini-batches of 16, 32, 50, 64, 100, 200 or 400 all have the same size
STILL_SCALE = 2.0  # the logits' spread: the per-example losses vary (σ ≈ 0.8 × mean), softmax's loss differs
REPORT_TOLERANCE = Tolerance(rtol=0.01, atol=1e-4)  # each epoch's loss against the mean the grader computes


def _generator(seed: int) -> Any:
    import torch

    return torch.Generator().manual_seed(seed)


def linear_layer(in_features: int, out_features: int, seed: int, scale: float = 1.0,
                 trainable: bool = True) -> dict[str, Any]:
    """A Linear layer's spec with weights drawn as nn.Linear does (uniform, ±scale/√in), seeded."""
    import torch

    bound = scale / in_features ** 0.5
    weight = (torch.rand((out_features, in_features), generator=_generator(seed)) * 2 - 1) * bound
    bias = (torch.rand((out_features,), generator=_generator(seed + 1)) * 2 - 1) * bound
    return {"kind": "linear", "weight": weight, "bias": bias, "trainable": trainable}


def spec_logits(spec: Spec, inputs: Any) -> Any:
    """What the model of `spec` computes on `inputs`, in float64, in the grader."""
    import torch

    out = inputs.double()
    for layer in spec["layers"]:
        kind = layer["kind"]
        if kind == "flatten":
            out = out.flatten(1)
        elif kind == "relu":
            out = torch.relu(out)
        elif kind == "linear":
            out = torch.nn.functional.linear(out, layer["weight"].double(), layer["bias"].double())
    return out


def build_step(name: str, spec: Spec) -> Step:
    """The model of `spec`, built in the student's process."""
    return Step(name, None, (spec,), observe="model")


# -- the still model: what train reports -----------------------------------------------------------

@dataclass(frozen=True)
class StillRun:
    """The still model, its data, and the student's train on it."""

    spec: Spec
    X: Any
    y: Any
    build: Step
    train: Step

    @property
    def steps(self) -> tuple[Step, ...]:
        return (self.build, self.train)

    def per_example(self) -> Any:
        """The cross-entropy of each training example (the model never changes)."""
        import torch

        return torch.nn.functional.cross_entropy(spec_logits(self.spec, self.X), self.y, reduction="none")


def still_run(key: str, shape: tuple[int, ...], n_classes: int, seed: int,
              train_timeout: float | None = None) -> StillRun:
    """The still model for inputs of `shape` and its data: random inputs, labels drawn from its own
    probabilities (a calibrated model: the examples' losses differ, none is extreme)."""
    import torch

    in_features = 1
    for size in shape:
        in_features *= size
    X = torch.randn((STILL_ROWS, *shape), generator=_generator(seed))
    spec: Spec = {"layers": [{"kind": "flatten"},
                             linear_layer(in_features, n_classes, seed + 1, STILL_SCALE * 3 ** 0.5, trainable=False),
                             {"kind": "still"}]}
    probabilities = torch.softmax(spec_logits(spec, X), dim=1)
    y = torch.multinomial(probabilities, 1, generator=_generator(seed + 3)).squeeze(1)
    build = build_step(f"{key}.still_model", spec)
    train = Step(f"{key}.still_model.train", "train", (Ref(build.name), X, y), timeout=train_timeout)
    return StillRun(spec, X, y, build, train)


def _ce_of_softmax(logits: Any, y: Any) -> float:
    import torch

    return float(torch.nn.functional.cross_entropy(torch.softmax(logits, dim=1), y))


def _nll_of_logits(logits: Any, y: Any) -> float:
    import torch

    return float(torch.nn.functional.nll_loss(logits, y))


REPORT_MISTAKES = (
    Mistake("softmax before nn.CrossEntropyLoss: the loss applies log-softmax itself, so it must get the model's "
            "logits (softmax first computes the loss of probabilities, which trains slowly and never gets small)",
            _ce_of_softmax),
    Mistake("nn.NLLLoss on logits: NLLLoss expects log-probabilities (log_softmax first), or use "
            "nn.CrossEntropyLoss on the logits", _nll_of_logits),
    Mistake("the epoch's loss summed over its examples: divide by the number of examples "
            "(loss.item() * len(batch) summed, then / len(X))",
            lambda logits, y: len(y) * float(__import__("torch").nn.functional.cross_entropy(logits, y))),
)
LAST_BATCH_HINT = ("the loss of the last mini-batch rather than the epoch's mean: add up loss.item() * len(batch) "
                   "over the epoch's mini-batches and divide by len(X)")
PER_BATCH_SUM_HINT = ("the epoch's mini-batch losses added up but not averaged: divide by the number of "
                      "mini-batches (or weigh each by its size and divide by len(X))")


def loss_report_check(id: str, run: StillRun, points: float = 1.0, hidden: bool = False) -> Check:
    """train(still model, X, y) must return, each epoch, the mean cross-entropy over the epoch's examples:
    the model never changes, so that is the same number every epoch, which the grader computes."""

    def judge(evidence: Evidence) -> Verdict:
        losses = evidence[run.train.name].value
        call = run.train.call_text()
        problem = losses_problem(losses)
        if problem:
            return Verdict(False, f"called {call}\n{problem}")
        mean = float(run.per_example().mean())
        shown = ", ".join(f"{v:.4g}" for v in losses[:4]) + (f", … ({len(losses)} epochs)" if len(losses) > 4 else "")
        text = (f"called {call}: a model whose output cannot change (a fixed Linear layer plus 0 × its only "
                f"trainable parameter), so every epoch's loss is the mean cross-entropy of the same predictions\n"
                f"returned {shown}\nexpected {mean:.4g} each epoch (within {100 * REPORT_TOLERANCE.rtol:g}%)")
        off = [v for v in losses if abs(v - mean) > REPORT_TOLERANCE.atol + REPORT_TOLERANCE.rtol * mean]
        if not off:
            return Verdict(True, f"{call} returned {mean:.4g} for each of its {len(losses)} epoch(s): the mean "
                                 "cross-entropy of the epoch, as the grader computes it")
        hints = _report_hints(losses, run, mean)
        return Verdict(False, "\n".join([text, *hint_lines(hints)]), hints=hints)

    return Check(id, "train", run.steps, judge, points=points, hidden=hidden,
                 description="train returns the mean cross-entropy of each epoch")


def _report_hints(losses: Sequence[float], run: StillRun, mean: float) -> tuple[str, ...]:
    """The known mistakes whose loss train returned every epoch, else the shape of what it returned."""
    import statistics

    logits = spec_logits(run.spec, run.X)
    typical = statistics.median(losses)
    tolerance = Tolerance(rtol=REPORT_TOLERANCE.rtol, atol=REPORT_TOLERANCE.atol)
    hints = tuple(m.hint for m in REPORT_MISTAKES if m.explains(typical, (logits, run.y), {}, tolerance))
    if hints:
        return hints
    spread = max(losses) - min(losses)
    ratio = typical / mean if mean else 0.0
    if spread > 0.05 * mean and 0.5 < ratio < 1.5:
        return (LAST_BATCH_HINT,)
    if spread <= 0.01 * typical and ratio > 1.5 and abs(ratio - round(ratio)) < 0.02 * ratio:
        return (PER_BATCH_SUM_HINT,)
    return ()


# -- a plain model the grader initializes, trained by the student's train ----------------------------------

def given_run(key: str, split: Split, seed: int, rows: int | None = None,
              train_timeout: float | None = None) -> ModelRun:
    """A logistic regression (Flatten → Linear) of the grader's, built, exported, trained by the student's
    train on `split`'s training part (its first `rows`), exported again: grader/training.py's checks apply."""
    X, y = split.X_train[:rows], split.y_train[:rows]
    spec: Spec = {"layers": [{"kind": "flatten"}, linear_layer(split.in_features, split.n_classes, seed)]}
    build = build_step(f"{key}.grader_model", spec)
    data = Split(split.name, X, y, split.X_test[:0], split.y_test[:0], split.n_classes)
    example = X[:EXPORT_ROWS]
    train = Step(f"{build.name}.train", "train", (Ref(build.name), X, y), timeout=train_timeout)
    predict = Step(f"{build.name}.predict", "predict", (Ref(build.name), X))
    return ModelRun(build.name, f"{split.name}, the grader's logistic regression", data, build,
                    graph_step(f"{build.name}.initial", build, example), train,
                    graph_step(f"{build.name}.graph", build, example), predict)


# -- predict on a model of the grader's ---------------------------------------------------------------

def predict_given_check(id: str, key: str, inputs: Any, n_classes: int, seed: int, hidden_width: int = 16,
                        hidden: bool = False) -> Check:
    """predict(model, X) on a small network of the grader's (Flatten → Linear → ReLU → Linear, never
    trained): a LongTensor (N,) that is the argmax of the logits the grader computes."""
    in_features = int(inputs[0].numel())
    spec: Spec = {"layers": [{"kind": "flatten"}, linear_layer(in_features, hidden_width, seed, 3.0),
                             {"kind": "relu"}, linear_layer(hidden_width, n_classes, seed + 2, 3.0)]}
    build = build_step(f"{key}.predict_model", spec)
    step = Step(f"{key}.predict_model.predict", "predict", (Ref(build.name), inputs))

    def judge(evidence: Evidence) -> Verdict:
        value = evidence[step.name].value
        problem = classes_problem(value, len(inputs), n_classes)
        if problem:
            return Verdict(False, f"called {step.call_text()} on a network of the grader's\n{problem}")
        expected = spec_logits(spec, inputs).argmax(dim=1)
        agree = accuracy(value, expected)
        text = (f"called {step.call_text()} on a network of the grader's ({n_classes} classes): an int64 tensor "
                f"of shape {tuple(value.shape)}, the argmax of its logits on {100 * agree:.1f}% of the inputs")
        if agree >= AGREEMENT:
            return Verdict(True, text)
        hint = _predict_hint(value, spec, inputs)
        return Verdict(False, "\n".join([text, f"expected the argmax of model(X) over the classes (dim=1) on at "
                                               f"least {100 * AGREEMENT:.0f}% of the inputs", *hint_lines(hint)]),
                       hints=hint)

    return Check(id, "predict", (build, step), judge, hidden=hidden,
                 description="predict returns the argmax of the model's logits")


PREDICT_MISTAKES = {"argmin": "argmin instead of argmax: the predicted class is the one with the largest logit"}


def _predict_hint(value: Any, spec: Spec, inputs: Any) -> tuple[str, ...]:
    if accuracy(value, spec_logits(spec, inputs).argmin(dim=1)) >= AGREEMENT:
        return (PREDICT_MISTAKES["argmin"],)
    return ()


# -- a model of the grader's that never enters the sandbox -----------------------------------------------

def spec_graph(spec: Spec, input_shape: tuple[int, ...]) -> Graph:
    """The model of `spec` as a graph the grader runs and trains itself (grader/trainer.py), e.g. the
    network a student's model is compared with when the student's other model is at fault."""
    nodes, tensors, last = [], [], "x"
    for i, layer in enumerate(spec["layers"]):
        kind = layer["kind"]
        if kind == "linear":
            for part in ("weight", "bias"):
                tensors.append(GraphTensor(f"p_{i}_{part}", "parameter", f"{i}.{part}", bool(layer["trainable"]),
                                           layer[part].clone()))
            args: tuple[Any, ...] = ({"node": last}, {"node": f"p_{i}_weight"}, {"node": f"p_{i}_bias"})
            op = "aten.linear.default"
        elif kind in ("relu", "flatten"):
            args, op = ({"node": last},), "aten.relu.default" if kind == "relu" else "aten.flatten.using_ints"
            args = args if kind == "relu" else (*args, 1, -1)
        else:
            raise ValueError(f"the grader does not run {kind!r} layers itself")
        nodes.append(Node(f"n{i}", op, args, {}))
        last = f"n{i}"
    return Graph("x", input_shape, tuple(nodes), tuple(tensors), ({"node": last},))


def mlp_spec(in_features: int, width: int, n_classes: int, seed: int) -> Spec:
    """Linear → ReLU → Linear, all trained, initialized as nn.Linear would be (seeded)."""
    return {"layers": [linear_layer(in_features, width, seed), {"kind": "relu"},
                       linear_layer(width, n_classes, seed + 2)]}
