"""Public checks of toy2d-classifiers. Students may read this file.

The grader makes the toy datasets (grader/datasets.py) from a seed: here the public seed,
in the hidden checks another one. `train` gets a training split; after it, the grader exports
the model to a graph of operators and runs that graph itself on the test split, whose inputs and
labels never enter the student's process (grader/training.py, grader/graph.py). The structure of
a model is read from its graph (what runs), so `F.relu` in forward is a ReLU as much as
`nn.ReLU()` is. The thresholds were calibrated on the reference solution over many seeds
(reference/toy2d-classifiers/CALIBRATION.md): the reference never misses them, a linear model (or
an untrained one) never reaches them.

Each exercise loses marks for its own fault only. When a model misses its threshold, the grader
trains the same model as built with its own trainer: if that reaches the threshold, `train` is
at fault (train/trains-the-models), else the factory is. `train` and `predict` are also tried on
models the grader specifies (grader/given.py): `predict` on a network of the grader's, `train` on
a logistic regression of the grader's (its loss must drop) and on a model whose output cannot
change (it must report the mean cross-entropy of each epoch).
"""

from __future__ import annotations

from typing import Any

from grader.checks import Mistake
from grader.compare import DEFAULT_TOLERANCE
from grader.datasets import toy2d
from grader.given import StillRun, given_run, loss_report_check, predict_given_check, still_run
from grader.graph import Graph
from grader.limits import Limits
from grader.model import Check, Evidence, Figure, Step, Verdict, hint_lines
from grader.trainer import Recipe
from grader.training import (
    Blamer,
    ModelRun,
    accuracy_blame,
    accuracy_check,
    checked_graph,
    example_inputs,
    graph_step,
    idle_train,
    loss_check,
    made_graph,
    model_run,
    numel,
    returns_blame,
    step_problem,
    substituted_accuracy,
    train_blame_check,
    trained_accuracy,
    with_threshold,
)

TITLE = "Logistic regression and one hidden layer on toy 2D datasets"
EXERCISES = ["make_logistic_regression", "make_mlp", "make_random_features", "train", "predict"]
LIMITS = Limits(call_seconds=10, cell_seconds=60, run_seconds=300,
                graph_work=20_000_000_000)  # the reference's models: 0.4 billion (grader/graph_work.py)
# imported before the student's clock starts: every torch.optim optimizer imports dynamo when it is
# made (1 s); the notebook makes its datasets with scikit-learn and draws them
WARM_IMPORTS = ("torch", "torch._dynamo", "sklearn.datasets", "matplotlib.pyplot")
SEED = 0
PUBLIC_SPLIT_SEED = 2024

HIDDEN_WIDTH = 32  # the MLP's hidden layer for moons, circles and XOR
COMPARE_WIDTH = 16  # trained vs random hidden layer, on the 3-arm spiral
THRESHOLDS = {"blobs": 0.95, "moons": 0.94, "circles": 0.90, "xor": 0.90}
BEATS_MARGIN = 0.01  # the trained hidden layer must beat the random one by at least this much accuracy
RECIPE = Recipe(steps=800, lr=0.02, margin=0.02,  # the grader's own trainer when an accuracy check fails
                work=20_000_000_000)  # an MLP of the checks' widths: 0.7 billion
MUTATION_MINIMUM = 0.95  # grade validate --mutants: the share of each exercise's mutants its checks catch


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
    """Logistic regression on blobs; the MLP on moons, circles and XOR; trained beats random. Each fails
    its factory only when the grader's own trainer cannot bring the same model there either."""
    checks = [accuracy_check(f"make_logistic_regression/blobs-accuracy{suffix}", "make_logistic_regression",
                             made["logistic-blobs"], THRESHOLDS["blobs"], 2.0, hidden,
                             with_threshold(THRESHOLDS["blobs"], show_data=not hidden), RECIPE)]
    for name in ("moons", "circles", "xor"):
        checks.append(accuracy_check(f"make_mlp/{name}-accuracy{suffix}", "make_mlp", made[f"mlp-{name}"],
                                     THRESHOLDS[name], 2.0, hidden, with_threshold(THRESHOLDS[name], not hidden),
                                     RECIPE))
    checks.append(trained_beats_random(f"make_random_features/trained-beats-random{suffix}",
                                       made["mlp-spiral"], made["random-spiral"], hidden))
    return checks


def _dataset(key: str) -> str:
    return key.split("-")[1]


def train_checks(made: dict[str, ModelRun], still: StillRun, suffix: str = "", hidden: bool = False) -> Check:
    """train loses these points where a model of the student's missed its mark because of train: the grader's
    own trainer brings the same model there (and train must return on the grader's still model)."""
    blames: list[Blamer] = [accuracy_blame(made[key], THRESHOLDS[_dataset(key)], RECIPE)
                            for key in ("logistic-blobs", "mlp-moons", "mlp-circles", "mlp-xor")]
    blames += [beats_blame(made["mlp-spiral"], made["random-spiral"]), returns_blame(still.train)]
    steps = [step for run in made.values() for step in run.steps[:4]] + list(still.steps)
    return train_blame_check(f"train/trains-the-models{suffix}", blames, steps, points=3.0, hidden=hidden)


def _beats_text(trained: ModelRun, mlp: float, rnd: float) -> str:
    return (f"{trained.split.name}, hidden width {COMPARE_WIDTH}: trained hidden layer {_percent(mlp)}, "
            f"random frozen hidden layer {_percent(rnd)} (the trained one must be ahead by "
            f"{_percent(BEATS_MARGIN)} or more)")


def _substituted_gap(trained: ModelRun, random: ModelRun, evidence: Evidence) -> tuple[float, float] | str:
    """Both models as built, trained by the grader's own trainer: their test accuracies, or why not."""
    mlp, rnd = substituted_accuracy(trained, evidence, RECIPE), substituted_accuracy(random, evidence, RECIPE)
    if isinstance(mlp, str) or isinstance(rnd, str):
        return mlp if isinstance(mlp, str) else str(rnd)
    return mlp, rnd


def _against_grader_mlp(random: ModelRun, evidence: Evidence) -> tuple[float, float] | str:
    """An MLP of the grader's (the same width, never in the sandbox) and the student's random-features model,
    both trained by the grader's own trainer: their test accuracies, or why not."""
    from grader.given import mlp_spec
    from grader.trainer import grader_trained
    from grader.training import logits

    rnd = substituted_accuracy(random, evidence, RECIPE)
    if isinstance(rnd, str):
        return rnd
    split = random.split
    spec = mlp_spec(split.in_features, COMPARE_WIDTH, split.n_classes, SEED)
    graph = grader_trained(_grader_mlp(spec, random.initial.args[1].shape), split, RECIPE)
    if isinstance(graph, str):
        return graph
    return float((logits(graph, split.X_test).argmax(dim=1) == split.y_test).double().mean()), rnd


_MLPS: dict[tuple[int, ...], Graph] = {}


def _grader_mlp(spec: dict[str, Any], shape: tuple[int, ...]) -> Graph:
    """The grader's MLP as a graph, one object per input shape (the trainer caches by graph)."""
    from grader.given import spec_graph

    key = (*shape, *spec["layers"][2]["weight"].shape)
    if key not in _MLPS:
        _MLPS[key] = spec_graph(spec, tuple(shape))
    return _MLPS[key]


def _grader_beats(gap: tuple[float, float] | str, idle: str | None = None) -> bool:
    """The grader-trained lead is enough: BEATS_MARGIN, plus half the trainer's margin unless train is known
    not to train (`idle`: then train is at fault whatever the models, and they need only the lead itself)."""
    return not isinstance(gap, str) and gap[0] >= gap[1] + BEATS_MARGIN + (0.0 if idle else RECIPE.margin / 2)


def _idle(trained: ModelRun, random: ModelRun, evidence: Evidence) -> str | None:
    """Why train did not train one of the two spiral models at all (grader/training.py `idle_train`), or None."""
    return idle_train(trained, evidence, RECIPE) or idle_train(random, evidence, RECIPE)


def trained_beats_random(id: str, trained: ModelRun, random: ModelRun, hidden: bool = False) -> Check:
    """The same width, the same data: training the hidden layer must give a clearly better accuracy. When the
    student's train does not show it, the grader's own trainer decides whether the models or train are at fault."""
    from grader.training import boundary_picture

    def judge(evidence: Evidence) -> Verdict:
        mlp, rnd = trained_accuracy(trained, evidence), trained_accuracy(random, evidence)
        pictures: tuple[Figure, ...] = ()
        text = ""
        if isinstance(mlp, str) or isinstance(rnd, str):
            text = mlp if isinstance(mlp, str) else str(rnd)
        else:
            need = f"needs {_percent(rnd + BEATS_MARGIN)} (random layer's {_percent(rnd)} + {_percent(BEATS_MARGIN)})"
            pictures = (*boundary_picture(trained, evidence, mlp, 0.0, f"accuracy {_percent(mlp)} · {need}",
                                          show_data=not hidden),
                        *boundary_picture(random, evidence, rnd, 0.0, f"accuracy {_percent(rnd)} · the random "
                                          "frozen hidden layer to beat", show_data=not hidden))
            text = _beats_text(trained, mlp, rnd)
            if mlp >= rnd + BEATS_MARGIN:
                return Verdict(True, text, pictures)
        idle = _idle(trained, random, evidence)
        text += f"\n{idle}" if idle else ""
        gap = _substituted_gap(trained, random, evidence)
        if _grader_beats(gap, idle):
            assert not isinstance(gap, str)
            return Verdict(True, f"{text}\nthe same two models as built, trained by the grader's own trainer "
                                 f"({RECIPE.describe()}) instead of train: {_percent(gap[0])} against "
                                 f"{_percent(gap[1])}: make_random_features is right; train is at fault "
                                 "(see train's checks)", pictures)
        grader = gap if isinstance(gap, str) else (f"trained by the grader's own trainer, the same models reach "
                                                   f"{_percent(gap[0])} and {_percent(gap[1])}")
        against = _against_grader_mlp(random, evidence)
        if _grader_beats(against, idle):
            assert not isinstance(against, str)
            return Verdict(True, f"{text}\n{grader}\nan MLP of the grader's of the same width, trained the same "
                                 f"way, reaches {_percent(against[0])} against your random-features model's "
                                 f"{_percent(against[1])}: make_random_features is right; your make_mlp is at fault "
                                 "(see make_mlp's checks)", pictures)
        hints = (RANDOM_TRAINED_HINT,) if not isinstance(against, str) and against[0] - against[1] < BEATS_MARGIN \
            else ()
        return Verdict(False, "\n".join([text, grader, *hint_lines(hints)]), pictures, hints)

    return Check(id, "make_random_features", (*trained.steps[:2], *random.steps[:2]), judge, points=2.0,
                 hidden=hidden, extra_steps=(*trained.steps[2:4], *random.steps[2:4]),
                 description="a trained hidden layer beats a random frozen one of the same width")


RANDOM_TRAINED_HINT = ("when the two are equal, the random layer is probably being trained too (requires_grad=False "
                       "on the first Linear, and an optimizer over the parameters that require grad)")


def beats_blame(trained: ModelRun, random: ModelRun) -> Blamer:
    """train is at fault on the spiral when it did not return, did not train one of the two models at all
    (`idle_train`), or when the grader's trainer shows the trained layer ahead where the student's train
    does not."""

    def fault(evidence: Evidence) -> str | None:
        if any(step_problem(evidence, s) for run in (trained, random) for s in run.steps[:2]):
            return None
        problem = step_problem(evidence, trained.train) or step_problem(evidence, random.train)
        if problem:
            return problem
        mlp, rnd = trained_accuracy(trained, evidence), trained_accuracy(random, evidence)
        if not isinstance(mlp, str) and not isinstance(rnd, str) and mlp >= rnd + BEATS_MARGIN:
            return None
        idle = _idle(trained, random, evidence)
        if idle:
            return idle
        gap = _substituted_gap(trained, random, evidence)
        if not _grader_beats(gap) or isinstance(gap, str):
            return None
        got = (mlp if isinstance(mlp, str) else str(rnd)) if isinstance(mlp, str) or isinstance(rnd, str) else \
            f"{_percent(mlp)} against {_percent(rnd)}"
        return (f"{trained.split.name}: the trained and the random hidden layer, trained by train: {got}; trained "
                f"by the grader's own trainer: {_percent(gap[0])} against {_percent(gap[1])}")

    return fault


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


def _between_linears(layers: list[str]) -> list[str]:
    """What runs between the first two linear layers (all that follows the first, if there is one only)."""
    first = layers.index("linear") if "linear" in layers else len(layers)
    second = layers.index("linear", first + 1) if layers.count("linear") > 1 else len(layers)
    return layers[first + 1:second]


NO_ACTIVATION = Mistake(
    "no activation between the two Linear layers: two linear maps in a row are one linear map, so the MLP draws "
    "straight decision boundaries, as logistic regression does (nn.ReLU() between them)",
    lambda layers: layers.count("linear") == 2 and not _between_linears(layers))
STRUCTURE_MISTAKES = (NO_ACTIVATION,)


def _mlp_problems(graph: Graph, in_features: int, width: int, n_classes: int, frozen_first: bool) -> list[str]:
    first, last = (in_features + 1) * width, (width + 1) * n_classes
    layers = [layer for layer in graph.layers() if layer != "pooling"]
    problems = []
    if layers.count("linear") != 2 or numel(graph.parameters) != first + last:
        problems.append(f"expected Linear({in_features}→{width}) → ReLU → Linear({width}→{n_classes}): "
                        f"two Linear layers, {first + last} parameters")
    elif "relu" not in _between_linears(layers):
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
            layers = [layer for layer in graph.layers() if layer != "pooling"]
            hints = tuple(m.hint for m in STRUCTURE_MISTAKES if m.explains(True, (layers,), {}, DEFAULT_TOLERANCE))
            return Verdict(False, "\n".join([text, *problems, *hint_lines(hints)]), hints=hints)
        return Verdict(True, text)

    return Check(id, exercise, (make, initial), judge, hidden=hidden,
                 description="Linear → ReLU → Linear" + (", the first Linear frozen" if frozen_first else ""))


def random_layer_unchanged(id: str, run: ModelRun, hidden: bool = False) -> Check:
    """The frozen parameters of the graph after `train` are bit-for-bit those of the graph before it."""

    def judge(evidence: Evidence) -> Verdict:
        if step_problem(evidence, run.train) or step_problem(evidence, run.graph):
            return Verdict(True, "train did not return a trained model (train's checks say why): nothing changed "
                                 "the random layer")
        before, now = checked_graph(evidence, run.initial), checked_graph(evidence, run.graph)
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

    return Check(id, "make_random_features", run.steps[:2], judge, hidden=hidden, extra_steps=run.steps[2:4],
                 description="train leaves the random layer unchanged")


def still(seed: int, split: str) -> StillRun:
    """The grader's still model for 2D inputs and 3 classes (grader/given.py): what train reports."""
    return still_run(f"{split}/loss", (2,), 3, seed)


def public_checks() -> list[Check]:
    made = runs(PUBLIC_SPLIT_SEED, "public")
    blobs, *mlps, beats = accuracy_checks(made)
    logistic, moons, spiral = made["logistic-blobs"], made["mlp-moons"], made["random-spiral"]
    reports = still(PUBLIC_SPLIT_SEED, "public")
    return [
        logistic_size_check("make_logistic_regression/parameter-count", logistic.make, logistic.initial, 2, 3),
        blobs,
        mlp_shape_check("make_mlp/structure", moons.make, moons.initial, 2, HIDDEN_WIDTH, 2, frozen_first=False),
        *mlps,
        beats,
        mlp_shape_check("make_random_features/frozen", spiral.make, spiral.initial, 2, COMPARE_WIDTH, 3,
                        frozen_first=True),
        random_layer_unchanged("make_random_features/unchanged-by-train", spiral),
        train_checks(made, reports),
        loss_check("train/loss-goes-down", given_run("public/blobs", logistic.split, PUBLIC_SPLIT_SEED)),
        loss_report_check("train/epoch-mean-loss", reports),
        predict_given_check("predict/long-tensor", "public/moons", moons.split.X_train, 2, PUBLIC_SPLIT_SEED),
    ]


CHECKS = public_checks()
