"""Public checks of cnn-digits. Students may read this file.

The grader splits scikit-learn's 1,797 8×8 digits (shipped with it, no download) from a
seed: 1,500 images for `train`, the rest for `predict`, whose labels stay in the grader.
The architecture is read from the module's structure (its layers as plain data), not from
anything the student's code says about itself. The accuracy threshold was calibrated on
the reference over many seeds (reference/cnn-digits/CALIBRATION.md).
"""

from __future__ import annotations

from typing import Any

from grader.datasets import Split, digits
from grader.model import Check, Evidence, Figure, Ref, Step, Verdict
from grader.sandbox import Limits
from grader.training import (
    ModelRun,
    ModuleFacts,
    accuracy_check,
    classes_problem,
    losses_problem,
    model_run,
    module_facts,
)

TITLE = "All concepts together: a small CNN on 8×8 handwritten digits"
EXERCISES = ["make_cnn", "train", "predict"]
LIMITS = Limits(call_seconds=60, cell_seconds=60, run_seconds=400)
WARM_IMPORTS = ("torch",)
SEED = 0
PUBLIC_SPLIT_SEED = 2024

THRESHOLD = 0.94
TRAIN_SECONDS = 60.0
POOLING = frozenset({"MaxPool2d", "AvgPool2d", "AdaptiveMaxPool2d", "AdaptiveAvgPool2d", "LPPool2d",
                     "FractionalMaxPool2d"})
MISCLASSIFIED_SHOWN = 16


def _percent(value: float) -> str:
    return f"{100 * value:.1f}%"


def digits_run(seed: int, split: str) -> ModelRun:
    return model_run(f"{split}/digits.cnn", "make_cnn", (), digits(seed), f"digits ({split} split)",
                     train_timeout=TRAIN_SECONDS)


def digits_pictures(run: ModelRun, evidence: Evidence, score: float, show_data: bool = True) -> tuple[Figure, ...]:
    """The confusion matrix and the first misclassified test digits, captioned with accuracy and threshold.

    `show_data=False` (hidden checks): the confusion matrix only, no image with its true label.
    """
    from grader.figures import confusion_matrix, image_grid

    split: Split = run.split
    predicted = evidence[run.predict.name].value
    caption = f"accuracy {_percent(score)} · threshold {_percent(THRESHOLD)}"
    wrong = (predicted != split.y_test).nonzero().flatten()[:MISCLASSIFIED_SHOWN].tolist()
    pictures = [confusion_matrix(f"confusion matrix, {run.label}", caption, split.y_test, predicted, 10)]
    if wrong and show_data:
        labels = [f"{int(split.y_test[i])} → {int(predicted[i])}" for i in wrong]
        pictures.append(image_grid(f"misclassified digits (true → predicted), {run.label}",
                                   f"{int((predicted != split.y_test).sum())} of {len(split.y_test)} test digits "
                                   f"misclassified; the first {len(wrong)} shown", [split.X_test[i] for i in wrong],
                                   labels))
    return tuple(pictures)


def forward_step(make: Step, images: Any) -> Step:
    """The model called on a few images, with the order in which its layers ran."""
    return Step(f"{make.name}.forward", None, (Ref(make.name), images), observe="trace", call=True)


def _layers_in_run_order(facts: ModuleFacts, traced: Any) -> list[str]:
    """The torch.nn layers (types) in the order the forward pass ran them."""
    kinds = dict(facts.torch_layers())
    called = traced.get("called") if isinstance(traced, dict) else None
    if not isinstance(called, list):
        return []
    return [kinds[name] for name in called if isinstance(name, str) and name in kinds]


def architecture_check(id: str, make: Step, forward: Step, hidden: bool = False) -> Check:
    """Conv2d and pooling run before the fully connected part: read from the module's layers and a traced call."""

    def judge(evidence: Evidence) -> Verdict:
        facts = module_facts(evidence[make.name])
        if isinstance(facts, str):
            return Verdict(False, f"called {make.call_text()}\n{facts}")
        kinds = _layers_in_run_order(facts, evidence[forward.name].value)
        first_fc = kinds.index("Linear") if "Linear" in kinds else None
        before = kinds[:first_fc] if first_fc is not None else kinds
        text = f"{make.call_text()}: {facts.outline()}\nlayers in the order they ran: {' → '.join(kinds) or 'none'}"
        problems = []
        if "Conv2d" not in before:
            problems.append("no nn.Conv2d layer runs before the fully connected part")
        if not POOLING & set(before):
            problems.append("no pooling layer runs before the fully connected part (use a module such as "
                            "nn.MaxPool2d: pooling done with a function inside forward is not part of the structure)")
        if first_fc is None:
            problems.append("no fully connected part (nn.Linear) after the convolutions")
        if problems:
            return Verdict(False, "\n".join([text, *problems,
                                             "expected Conv2d + ReLU + pooling (repeated), then Linear layers"]))
        return Verdict(True, text)

    return Check(id, "make_cnn", (make, forward), judge, points=2.0, hidden=hidden,
                 description="Conv2d and pooling before the fully connected layers")


def output_shape_check(id: str, make: Step, forward: Step, n_classes: int, hidden: bool = False) -> Check:
    """The model's forward on a batch of N images gives logits (N, n_classes)."""
    rows = int(forward.args[1].shape[0])

    def judge(evidence: Evidence) -> Verdict:
        import torch

        traced = evidence[forward.name].value
        value = traced.get("output") if isinstance(traced, dict) else None
        shape = tuple(value.shape) if type(value) is torch.Tensor else None
        if shape == (rows, n_classes) and value is not None and value.is_floating_point():
            return Verdict(True, f"{forward.call_text()} returned logits of shape {shape}")
        got = f"shape {shape}" if shape is not None else f"{type(value).__name__}"
        return Verdict(False, f"called {forward.call_text()}\nreturned {got}; expected float logits of shape "
                              f"({rows}, {n_classes})")

    return Check(id, "make_cnn", (make, forward), judge, hidden=hidden,
                 description=f"the model's output has shape (N, {n_classes})")


def parameter_count_check(id: str, make: Step) -> Check:
    """Reports the parameters of each layer (what conv-arithmetic's formulas give); it needs some to train."""

    def judge(evidence: Evidence) -> Verdict:
        facts = module_facts(evidence[make.name])
        if isinstance(facts, str):
            return Verdict(False, f"called {make.call_text()}\n{facts}")
        per_layer = [f"{facts.layer_text(name, kind)} {facts.layer_params(name):,}"
                     for name, kind in facts.torch_layers() if facts.layer_params(name)]
        text = f"{facts.total:,} parameters ({facts.trainable:,} trained)" + (
            ": " + " + ".join(per_layer) if per_layer else "")
        return Verdict(facts.trainable > 0, text if facts.trainable else text + "\nnothing to train")

    return Check(id, "make_cnn", (make,), judge, description="the parameter count, layer by layer")


def time_budget_check(id: str, run: ModelRun) -> Check:
    """train finishes within its budget on one CPU thread (a longer one is stopped: "timeout")."""

    def judge(evidence: Evidence) -> Verdict:
        seconds = evidence[run.train.name].seconds
        return Verdict(seconds <= TRAIN_SECONDS, f"train took {seconds:.1f} s on one thread "
                                                 f"(budget {TRAIN_SECONDS:g} s, N = {len(run.split.y_train)})")

    return Check(id, "train", run.steps[:2], judge, description=f"train takes at most {TRAIN_SECONDS:g} s")


def loss_goes_down(id: str, run: ModelRun) -> Check:
    def judge(evidence: Evidence) -> Verdict:
        losses = evidence[run.train.name].value
        problem = losses_problem(losses)
        if problem:
            return Verdict(False, problem)
        text = f"loss {losses[0]:.4g} → {losses[-1]:.4g} over {len(losses)} epoch(s)"
        if len(losses) >= 2 and losses[-1] <= 0.9 * losses[0]:
            return Verdict(True, text)
        return Verdict(False, text + "\nexpected the last epoch's loss at least 10% below the first's "
                                     "(does train step the optimizer?)")

    return Check(id, "train", run.steps[:2], judge, description="the training loss goes down")


def predict_returns_classes(id: str, run: ModelRun) -> Check:
    def judge(evidence: Evidence) -> Verdict:
        value = evidence[run.predict.name].value
        problem = classes_problem(value, len(run.split.y_test), 10)
        if problem:
            return Verdict(False, f"called {run.predict.call_text()}\n{problem}")
        return Verdict(True, f"{run.predict.call_text()} returned an int64 tensor of shape {tuple(value.shape)}")

    return Check(id, "predict", run.steps, judge, description="predict returns a LongTensor (N,)")


def digits_accuracy(id: str, run: ModelRun, hidden: bool = False) -> Check:
    def pictures(run: ModelRun, evidence: Evidence, score: float) -> tuple[Figure, ...]:
        return digits_pictures(run, evidence, score, show_data=not hidden)

    return accuracy_check(id, "make_cnn", run, THRESHOLD, points=3.0, hidden=hidden, pictures=pictures)


def public_checks() -> list[Check]:
    run = digits_run(PUBLIC_SPLIT_SEED, "public")
    forward = forward_step(run.make, run.split.X_test[:7])
    return [
        architecture_check("make_cnn/architecture", run.make, forward),
        output_shape_check("make_cnn/output-shape", run.make, forward, 10),
        parameter_count_check("make_cnn/parameter-count", run.make),
        digits_accuracy("make_cnn/digits-accuracy", run),
        time_budget_check("train/time-budget", run),
        loss_goes_down("train/loss-goes-down", run),
        predict_returns_classes("predict/long-tensor", run),
    ]


CHECKS = public_checks()
