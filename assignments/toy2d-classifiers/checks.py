"""Public checks of toy2d-classifiers. Students may read this file.

The grader makes the toy datasets (grader/datasets.py) from a seed: here the public seed,
in the hidden checks another one. `train` gets a training split; after it, the grader exports
the model to a graph of operators and runs that graph itself on the test split, whose inputs and
labels never enter the student's process (grader/training.py, grader/graph.py). `predict` is
called on the training inputs only and must agree with the model. The structure of a model is
read from its graph (what runs), so `F.relu` in forward is a ReLU as much as `nn.ReLU()` is. The
thresholds were calibrated on the reference solution over many seeds
(reference/toy2d-classifiers/CALIBRATION.md): the reference never misses them, a linear model (or
an untrained one) never reaches them.
"""

from __future__ import annotations

from grader.datasets import toy2d
from grader.graph import Graph
from grader.limits import Limits
from grader.model import Check, Evidence, Step, Verdict, hint_lines
from grader.training import (
    ModelRun,
    accuracy_check,
    checked_graph,
    example_inputs,
    graph_step,
    loss_check,
    made_graph,
    model_run,
    numel,
    predict_check,
    trained_accuracies,
    with_threshold,
)

TITLE = "Logistic regression and one hidden layer on toy 2D datasets"
EXERCISES = ["make_logistic_regression", "make_mlp", "make_random_features", "train", "predict"]
LIMITS = Limits(call_seconds=10, cell_seconds=60, run_seconds=300)
WARM_IMPORTS = ("torch", "torch._dynamo")  # torch.export needs dynamo: imported before the student's clock starts
SEED = 0
PUBLIC_SPLIT_SEED = 2024

HIDDEN_WIDTH = 32  # the MLP's hidden layer for moons, circles and XOR
COMPARE_WIDTH = 16  # trained vs random hidden layer, on the 3-arm spiral
THRESHOLDS = {"blobs": 0.95, "moons": 0.94, "circles": 0.90, "xor": 0.90}
BEATS_MARGIN = 0.01  # the trained hidden layer must beat the random one by at least this much accuracy


def _percent(value: float) -> str:
    return f"{100 * value:.1f}%"


def _label(dataset: str, split: str) -> str:
    return f"{dataset} ({split} split)"


def runs(seed: int, split: str) -> dict[str, ModelRun]:
    """Every model trained for one split: one logistic regression, four MLPs, one random-feature model."""
    data = {name: toy2d(name, seed) for name in ("blobs", "moons", "circles", "xor", "spiral")}
    made = {
        "logistic-blobs": model_run(f"{split}/blobs.logistic", "make_logistic_regression", (2, 3),
                                    data["blobs"], _label("blobs", split)),
    }
    for name in ("moons", "circles", "xor"):
        made[f"mlp-{name}"] = model_run(f"{split}/{name}.mlp", "make_mlp", (2, HIDDEN_WIDTH, 2), data[name],
                                        _label(name, split))
    for kind, factory in (("mlp", "make_mlp"), ("random", "make_random_features")):
        made[f"{kind}-spiral"] = model_run(f"{split}/spiral.{kind}", factory, (2, COMPARE_WIDTH, 3), data["spiral"],
                                           _label("spiral", split) + f", {kind} hidden layer")
    return made


def accuracy_checks(made: dict[str, ModelRun], suffix: str = "", hidden: bool = False) -> list[Check]:
    """Logistic regression on blobs; the MLP on moons, circles and XOR; trained beats random."""
    checks = [accuracy_check(f"make_logistic_regression/blobs-accuracy{suffix}", "make_logistic_regression",
                             made["logistic-blobs"], THRESHOLDS["blobs"], 2.0, hidden,
                             with_threshold(THRESHOLDS["blobs"], show_data=not hidden))]
    for name in ("moons", "circles", "xor"):
        checks.append(accuracy_check(f"make_mlp/{name}-accuracy{suffix}", "make_mlp", made[f"mlp-{name}"],
                                     THRESHOLDS[name], 2.0, hidden, with_threshold(THRESHOLDS[name], not hidden)))
    checks.append(trained_beats_random(f"make_random_features/trained-beats-random{suffix}",
                                       made["mlp-spiral"], made["random-spiral"], hidden))
    return checks


def trained_beats_random(id: str, trained: ModelRun, random: ModelRun, hidden: bool = False) -> Check:
    """The same width, the same data: training the hidden layer must give a clearly better accuracy."""
    from grader.training import boundary_picture

    def judge(evidence: Evidence) -> Verdict:
        scores = trained_accuracies((trained, random), evidence)
        if isinstance(scores, str):
            return Verdict(False, scores)
        mlp, rnd = scores
        need = f"needs {_percent(rnd + BEATS_MARGIN)} (random layer's {_percent(rnd)} + {_percent(BEATS_MARGIN)})"
        pictures = (*boundary_picture(trained, evidence, mlp, 0.0, f"accuracy {_percent(mlp)} · {need}",
                                      show_data=not hidden),
                    *boundary_picture(random, evidence, rnd, 0.0, f"accuracy {_percent(rnd)} · the random "
                                      "frozen hidden layer to beat", show_data=not hidden))
        text = (f"{trained.split.name}, hidden width {COMPARE_WIDTH}: trained hidden layer {_percent(mlp)}, "
                f"random frozen hidden layer {_percent(rnd)} (the trained one must be ahead by "
                f"{_percent(BEATS_MARGIN)} or more)")
        if mlp >= rnd + BEATS_MARGIN:
            return Verdict(True, text, pictures)
        hints = (("when the two are equal, the random layer is probably being trained too (requires_grad=False "
                  "on the first Linear, and an optimizer over the parameters that require grad)",)
                 if abs(mlp - rnd) < 1e-9 else ())
        return Verdict(False, "\n".join([text, *hint_lines(hints)]), pictures, hints)

    return Check(id, "make_random_features", (*trained.steps[:4], *random.steps[:4]), judge, points=2.0,
                 hidden=hidden, description="a trained hidden layer beats a random frozen one of the same width")


def made_model(id_: str, factory: str, args: tuple[int, ...], in_features: int) -> tuple[Step, Step]:
    """A model built by `factory(*args)` and its graph as built (on public example inputs)."""
    make = Step(id_, factory, args)
    return make, graph_step(f"{id_}.initial", make, example_inputs(8, in_features))


def logistic_size_check(id: str, make: Step, initial: Step, in_features: int, n_classes: int,
                        hidden: bool = False) -> Check:
    """Exactly (in_features+1)*n_classes parameters, all trained: one Linear and nothing else."""
    want = (in_features + 1) * n_classes

    def judge(evidence: Evidence) -> Verdict:
        graph = made_graph(evidence, make, initial)
        if isinstance(graph, Verdict):
            return graph
        total, trained = numel(graph.parameters), numel([p for p in graph.parameters if p.requires_grad])
        text = f"{make.call_text()}: {graph.outline()}, {total} parameters ({trained} trained)"
        if total == want and trained == want and graph.layers().count("linear") == 1:
            return Verdict(True, text)
        return Verdict(False, f"{text}\nexpected exactly (in_features+1)*n_classes = {want}, all trained: "
                              f"one nn.Linear({in_features}, {n_classes}) with its bias, and nothing else")

    return Check(id, "make_logistic_regression", (make, initial), judge, hidden=hidden,
                 description="one Linear layer: (in_features+1)*n_classes parameters")


def _mlp_problems(graph: Graph, in_features: int, width: int, n_classes: int, frozen_first: bool) -> list[str]:
    first, last = (in_features + 1) * width, (width + 1) * n_classes
    layers = [layer for layer in graph.layers() if layer != "pooling"]
    problems = []
    if layers.count("linear") != 2 or numel(graph.parameters) != first + last:
        problems.append(f"expected Linear({in_features}→{width}) → ReLU → Linear({width}→{n_classes}): "
                        f"two Linear layers, {first + last} parameters")
    elif "relu" not in layers[layers.index("linear") + 1:layers.index("linear", layers.index("linear") + 1)]:
        problems.append("expected a ReLU between the two Linear layers")
    frozen = numel([p for p in graph.parameters if not p.requires_grad])
    if not problems and frozen != (first if frozen_first else 0):
        problems.append(f"expected the first Linear's {first} parameters frozen (requires_grad=False) "
                        "and the last layer trained" if frozen_first else "expected every parameter trained")
    return problems


def mlp_shape_check(id: str, make: Step, initial: Step, in_features: int, width: int, n_classes: int,
                    frozen_first: bool, hidden: bool = False) -> Check:
    """Linear → ReLU → Linear as the graph runs it; all trained (make_mlp) or the first Linear frozen
    (make_random_features)."""
    exercise = "make_random_features" if frozen_first else "make_mlp"

    def judge(evidence: Evidence) -> Verdict:
        graph = made_graph(evidence, make, initial)
        if isinstance(graph, Verdict):
            return graph
        frozen = numel([p for p in graph.parameters if not p.requires_grad])
        text = f"{make.call_text()}: {graph.outline()}, {numel(graph.parameters)} parameters, {frozen} frozen"
        problems = _mlp_problems(graph, in_features, width, n_classes, frozen_first)
        if problems:
            return Verdict(False, "\n".join([text, *problems]))
        return Verdict(True, text)

    return Check(id, exercise, (make, initial), judge, hidden=hidden,
                 description="Linear → ReLU → Linear" + (", the first Linear frozen" if frozen_first else ""))


def random_layer_unchanged(id: str, run: ModelRun, hidden: bool = False) -> Check:
    """The frozen parameters of the graph after `train` are bit-for-bit those of the graph before it."""

    def judge(evidence: Evidence) -> Verdict:
        before, now = checked_graph(evidence[run.initial.name]), checked_graph(evidence[run.graph.name])
        if isinstance(before, str) or isinstance(now, str):
            return Verdict(False, before if isinstance(before, str) else str(now))
        frozen = [p for p in before.parameters if not p.requires_grad]
        if not frozen:
            return Verdict(False, f"{run.make.call_text()} has no frozen parameter (requires_grad=False), "
                                  "so nothing stays random")
        after = {p.target: p.value for p in now.parameters}
        changed = [p.target for p in frozen if p.target not in after or after[p.target].shape != p.value.shape
                   or not bool((after[p.target] == p.value).all())]
        names = ", ".join(p.target for p in frozen)
        if changed:
            return Verdict(False, f"train changed the frozen parameter(s) {', '.join(changed)}: "
                                  "the random layer must stay as it was")
        return Verdict(True, f"the frozen parameters ({names}) of the model the grader runs are unchanged by train")

    return Check(id, "make_random_features", run.steps[:4], judge, hidden=hidden,
                 description="train leaves the random layer unchanged")


def public_checks() -> list[Check]:
    made = runs(PUBLIC_SPLIT_SEED, "public")
    blobs, *mlps, beats = accuracy_checks(made)
    logistic, moons, spiral = made["logistic-blobs"], made["mlp-moons"], made["random-spiral"]
    return [
        logistic_size_check("make_logistic_regression/parameter-count", logistic.make, logistic.initial, 2, 3),
        blobs,
        mlp_shape_check("make_mlp/structure", moons.make, moons.initial, 2, HIDDEN_WIDTH, 2, frozen_first=False),
        *mlps,
        beats,
        mlp_shape_check("make_random_features/frozen", spiral.make, spiral.initial, 2, COMPARE_WIDTH, 3,
                        frozen_first=True),
        random_layer_unchanged("make_random_features/unchanged-by-train", spiral),
        loss_check("train/loss-goes-down", moons),
        predict_check("predict/long-tensor", moons),
    ]


CHECKS = public_checks()
