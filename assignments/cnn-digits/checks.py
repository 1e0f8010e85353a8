"""Public checks of cnn-digits. Students may read this file.

The grader splits scikit-learn's 1,797 8×8 digits (shipped with it, no download) from a
seed: 1,500 images for `train`, the rest for testing, which never enter the student's process
(nor does scikit-learn's digits file: the grader passes the data to `train`). After `train`, the
model is exported to a graph of operators and the grader runs that graph itself on the test
images (grader/training.py, grader/graph.py). The architecture is read from the same graph, the
order in which convolution, pooling and linear operators run, not from anything the student's
code says about itself; `F.max_pool2d` in forward is pooling as much as `nn.MaxPool2d` is; a ReLU
must run after each convolution and between fully connected layers. The accuracy threshold was
calibrated on the reference over many seeds (reference/cnn-digits/CALIBRATION.md). The CNN as built,
before `train`, must score near chance on the test images (at most `AS_BUILT_BOUND`): a network as
built knows nothing of the data, its weights are learned by `train`, not written in by `make_cnn`.

Each exercise loses marks for its own fault only: when the CNN misses the threshold, the grader
trains the same CNN as built with its own trainer; if that reaches it, `train` is at fault
(train/trains-the-model), else `make_cnn` is. `train` and `predict` are also tried on models the
grader specifies (grader/given.py).
"""

from __future__ import annotations

from typing import Any

from grader.checks import Mistake
from grader.compare import DEFAULT_TOLERANCE
from grader.datasets import Split, digits
from grader.given import StillRun, given_run, loss_report_check, predict_given_check, still_run
from grader.graph import GraphError
from grader.limits import Limits
from grader.model import Check, Evidence, Figure, Step, Verdict, hint_lines
from grader.trainer import Recipe
from grader.training import (
    ModelRun,
    accuracy_blame,
    accuracy_check,
    graph_step,
    logits,
    loss_check,
    made_graph,
    model_run,
    numel,
    returns_blame,
    train_blame_check,
    trained_predictions,
)

TITLE = "All concepts together: a small CNN on 8×8 handwritten digits"
EXERCISES = ["make_cnn", "train", "predict"]
LIMITS = Limits(call_seconds=60, cell_seconds=60, run_seconds=400)
WARM_IMPORTS = ("torch", "torch._dynamo")  # torch.optim's optimizers import dynamo when made: imported ahead
SEED = 0
PUBLIC_SPLIT_SEED = 2024

THRESHOLD = 0.94
TRAIN_SECONDS = 60.0
MISCLASSIFIED_SHOWN = 16
RECIPE = Recipe(steps=800, lr=0.005, margin=0.02)  # the grader's own trainer when the accuracy check fails
AS_BUILT_BOUND = 0.5  # the CNN as built, before train, scores at most this on the test split (chance: 0.1; honest
# CNNs as built: at most 0.246 in 11,000; reference/cnn-digits/CALIBRATION.md): more is data written in by make_cnn
MUTATION_MINIMUM = 0.95  # grade validate --mutants: the share of each exercise's mutants its checks catch


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
    predicted = trained_predictions(run, evidence, split.X_test)
    if isinstance(predicted, str):
        return ()
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


def _relu_problems(layers: tuple[str, ...]) -> list[str]:
    """A ReLU must run after each convolution (before the next convolution or linear layer) and between
    two linear layers; pooling may come before or after it."""
    problems = []
    weighted = [i for i, layer in enumerate(layers) if layer in ("convolution", "linear")]
    for here, after in zip(weighted, [*weighted[1:], len(layers)], strict=True):
        between = layers[here + 1:after]
        if layers[here] == "convolution" and "relu" not in between:
            problems.append(f"no ReLU after convolution {layers[:here + 1].count('convolution')}")
        elif layers[here] == "linear" and after < len(layers) and "relu" not in between:
            problems.append(f"no ReLU between fully connected layers {layers[:here + 1].count('linear')} and "
                            f"{layers[:here + 1].count('linear') + 1}")
    return problems


ARCHITECTURE_MISTAKES = (
    Mistake("no ReLU after a convolution: without an activation, stacked convolutions compute one larger linear "
            "filter (max-pooling aside) and the network loses most of its power; Conv2d → ReLU → pooling, each time",
            lambda problems: any("after convolution" in p for p in problems)),
    Mistake("no ReLU between the fully connected layers: two Linear layers in a row compute one linear map, so the "
            "second adds nothing; Linear → ReLU → Linear",
            lambda problems: any("fully connected" in p for p in problems)),
)


def architecture_check(id: str, make: Step, initial: Step, hidden: bool = False) -> Check:
    """A convolution and a pooling run before the first linear operator, a ReLU after each convolution and
    between linear layers: read from the model's graph."""

    def judge(evidence: Evidence) -> Verdict:
        graph = made_graph(evidence, make, initial)
        if isinstance(graph, Verdict):
            return graph
        layers = graph.layers()
        first_fc = layers.index("linear") if "linear" in layers else None
        before = layers[:first_fc] if first_fc is not None else layers
        text = f"{make.call_text()}: {graph.outline()} (the operators that run, in order)"
        problems = []
        if "convolution" not in before:
            problems.append("no convolution (nn.Conv2d) runs before the fully connected part")
        if "pooling" not in before:
            problems.append("no pooling (nn.MaxPool2d or F.max_pool2d) runs before the fully connected part")
        if first_fc is None:
            problems.append("no fully connected part (nn.Linear) after the convolutions")
        relu = _relu_problems(layers)
        problems += relu
        if problems:
            hints = tuple(m.hint for m in ARCHITECTURE_MISTAKES if m.explains(True, (relu,), {}, DEFAULT_TOLERANCE))
            return Verdict(False, "\n".join([text, *problems, "expected Conv2d + ReLU + pooling (repeated), then "
                                                              "Linear layers with a ReLU between them",
                                             *hint_lines(hints)]), hints=hints)
        return Verdict(True, text)

    return Check(id, "make_cnn", (make, initial), judge, points=2.0, hidden=hidden,
                 description="convolution, ReLU and pooling before the fully connected layers, ReLU between those")


def output_shape_check(id: str, make: Step, initial: Step, n_classes: int, hidden: bool = False) -> Check:
    """The model, run by the grader on a batch of N public images, gives logits (N, n_classes)."""
    images = initial.args[1]
    rows = int(images.shape[0])

    def judge(evidence: Evidence) -> Verdict:
        graph = made_graph(evidence, make, initial)
        if isinstance(graph, Verdict):
            return graph
        try:
            value = logits(graph, images)
        except GraphError as error:
            return Verdict(False, f"called {make.call_text()}\n{error}")
        shape = tuple(value.shape)
        if shape == (rows, n_classes):
            return Verdict(True, f"{make.call_text()}, run on {rows} images, returned logits of shape {shape}")
        return Verdict(False, f"called {make.call_text()}\nrun on {rows} images, the model returned shape {shape}; "
                              f"expected float logits of shape ({rows}, {n_classes})")

    return Check(id, "make_cnn", (make, initial), judge, hidden=hidden,
                 description=f"the model's output has shape (N, {n_classes})")


def parameter_count_check(id: str, make: Step, initial: Step) -> Check:
    """Reports the parameters of each layer (what conv-arithmetic's formulas give); it needs some to train."""

    def judge(evidence: Evidence) -> Verdict:
        graph = made_graph(evidence, make, initial)
        if isinstance(graph, Verdict):
            return graph
        per_layer = []
        for node in graph.used():
            weight = graph.weight_of(node) if node.family in ("convolution", "linear") else None
            if weight is not None:
                layer = weight.target.rsplit(".", 1)[0]
                count = numel([p for p in graph.parameters if p.target.rsplit(".", 1)[0] == layer])
                per_layer.append(f"{graph.layer_text(node)} {count:,}")
        total, trained = numel(graph.parameters), numel([p for p in graph.parameters if p.requires_grad])
        text = f"{total:,} parameters ({trained:,} trained)" + (": " + " + ".join(per_layer) if per_layer else "")
        if trained == total and trained:
            return Verdict(True, text)
        frozen = [p.target for p in graph.parameters if not p.requires_grad]
        why = "nothing to train" if not trained else f"frozen (requires_grad=False): {', '.join(frozen)}"
        hints = (FROZEN_HINT,) if trained else ()
        return Verdict(False, "\n".join([text, why, "expected every layer trained", *hint_lines(hints)]), hints=hints)

    return Check(id, "make_cnn", (make, initial), judge, description="the parameter count, layer by layer; all trained")


FROZEN_HINT = ("a layer frozen (requires_grad=False): all the layers of a CNN are trained together by "
               "back-propagation; only a random-features model keeps a layer random")


def time_budget_check(id: str, run: ModelRun) -> Check:
    """train finishes within its budget on one CPU thread (a longer one is stopped: "timeout")."""

    def judge(evidence: Evidence) -> Verdict:
        seconds = evidence[run.train.name].seconds
        return Verdict(seconds <= TRAIN_SECONDS, f"train took {seconds:.1f} s on one thread "
                                                 f"(budget {TRAIN_SECONDS:g} s, N = {len(run.split.y_train)})")

    return Check(id, "train", run.steps[:3], judge, description=f"train takes at most {TRAIN_SECONDS:g} s")


def digits_accuracy(id: str, run: ModelRun, hidden: bool = False) -> Check:
    def pictures(run: ModelRun, evidence: Evidence, score: float) -> tuple[Figure, ...]:
        return digits_pictures(run, evidence, score, show_data=not hidden)

    return accuracy_check(id, "make_cnn", run, THRESHOLD, points=3.0, hidden=hidden, pictures=pictures, recipe=RECIPE,
                          as_built_bound=AS_BUILT_BOUND)


def still(seed: int) -> StillRun:
    """The grader's still model for 8×8 images and 10 classes (grader/given.py): what train reports."""
    return still_run("public/loss", (1, 8, 8), 10, seed, train_timeout=TRAIN_SECONDS)


def train_checks(run: ModelRun, reports: StillRun, suffix: str = "", hidden: bool = False) -> Check:
    """train loses these points where the CNN missed its mark because of train (the grader's own trainer
    brings the same CNN there), or where train did not return on the grader's still model."""
    return train_blame_check(f"train/trains-the-model{suffix}",
                             [accuracy_blame(run, THRESHOLD, RECIPE, AS_BUILT_BOUND), returns_blame(reports.train)],
                             [*run.steps[:4], *reports.steps], points=3.0, hidden=hidden)


def made_cnn(name: str, images: Any, **kwargs: Any) -> tuple[Step, Step]:
    """make_cnn(**kwargs) and its graph as built, exported on public `images`."""
    make = Step(name, "make_cnn", (), kwargs)
    return make, graph_step(f"{name}.initial", make, images)


def public_checks() -> list[Check]:
    run = digits_run(PUBLIC_SPLIT_SEED, "public")
    reports = still(PUBLIC_SPLIT_SEED)
    plain = given_run("public/digits", run.split, PUBLIC_SPLIT_SEED, rows=512, train_timeout=TRAIN_SECONDS)
    return [
        architecture_check("make_cnn/architecture", run.make, run.initial),
        output_shape_check("make_cnn/output-shape", run.make, run.initial, 10),
        parameter_count_check("make_cnn/parameter-count", run.make, run.initial),
        digits_accuracy("make_cnn/digits-accuracy", run),
        time_budget_check("train/time-budget", run),
        train_checks(run, reports),
        loss_check("train/loss-goes-down", plain),
        loss_report_check("train/epoch-mean-loss", reports),
        predict_given_check("predict/long-tensor", "public/digits", run.split.X_train[:300], 10, PUBLIC_SPLIT_SEED),
    ]


CHECKS = public_checks()
