"""Public checks of toy2d-classifiers. Students may read this file.

The grader makes the toy datasets (grader/datasets.py) from a seed: here the public seed,
in the hidden checks another one. `train` gets a training split, `predict` only the test
inputs; accuracy is measured here, in the grader, against test labels the student's code
never receives. The thresholds were calibrated on the reference solution over many seeds
(reference/toy2d-classifiers/CALIBRATION.md): the reference never misses them, a linear
model (or an untrained one) never reaches them.
"""

from __future__ import annotations

from grader.datasets import toy2d
from grader.model import Check, Evidence, Ref, Step, Verdict, hint_lines
from grader.sandbox import Limits
from grader.training import (
    ModelRun,
    accuracy_check,
    classes_problem,
    losses_problem,
    model_run,
    module_facts,
    trained_accuracies,
    with_threshold,
)

TITLE = "Logistic regression and one hidden layer on toy 2D datasets"
EXERCISES = ["make_logistic_regression", "make_mlp", "make_random_features", "train", "predict"]
LIMITS = Limits(call_seconds=10, cell_seconds=60, run_seconds=300)
WARM_IMPORTS = ("torch",)
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
                                    data["blobs"], _label("blobs", split), with_grid=True),
    }
    for name in ("moons", "circles", "xor"):
        made[f"mlp-{name}"] = model_run(f"{split}/{name}.mlp", "make_mlp", (2, HIDDEN_WIDTH, 2), data[name],
                                        _label(name, split), with_grid=True)
    for kind, factory in (("mlp", "make_mlp"), ("random", "make_random_features")):
        made[f"{kind}-spiral"] = model_run(f"{split}/spiral.{kind}", factory, (2, COMPARE_WIDTH, 3), data["spiral"],
                                           _label("spiral", split) + f", {kind} hidden layer", with_grid=True)
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

    return Check(id, "make_random_features", (*trained.steps, *random.steps), judge, points=2.0, hidden=hidden,
                 description="a trained hidden layer beats a random frozen one of the same width",
                 extra_steps=tuple(s for s in (trained.grid, random.grid) if s is not None))


def logistic_size_check(id: str, make: Step, in_features: int, n_classes: int, hidden: bool = False) -> Check:
    """Exactly (in_features+1)*n_classes parameters, all trained: one Linear and nothing else."""
    want = (in_features + 1) * n_classes

    def judge(evidence: Evidence) -> Verdict:
        facts = module_facts(evidence[make.name])
        if isinstance(facts, str):
            return Verdict(False, f"called {make.call_text()}\n{facts}")
        text = f"{make.call_text()}: {facts.outline()}, {facts.total} parameters ({facts.trainable} trained)"
        if facts.total == want and facts.trainable == want:
            return Verdict(True, text)
        return Verdict(False, f"{text}\nexpected exactly (in_features+1)*n_classes = {want}, all trained: "
                              f"one nn.Linear({in_features}, {n_classes}) with its bias, and nothing else")

    return Check(id, "make_logistic_regression", (make,), judge, hidden=hidden,
                 description="one Linear layer: (in_features+1)*n_classes parameters")


def mlp_shape_check(id: str, make: Step, in_features: int, width: int, n_classes: int, frozen_first: bool,
                    hidden: bool = False) -> Check:
    """Linear → ReLU → Linear; all trained (make_mlp) or the first Linear frozen (make_random_features)."""
    first, last = (in_features + 1) * width, (width + 1) * n_classes
    exercise = "make_random_features" if frozen_first else "make_mlp"

    def judge(evidence: Evidence) -> Verdict:
        facts = module_facts(evidence[make.name])
        if isinstance(facts, str):
            return Verdict(False, f"called {make.call_text()}\n{facts}")
        frozen = sum(p.numel for p in facts.frozen)
        text = f"{make.call_text()}: {facts.outline()}, {facts.total} parameters, {frozen} frozen"
        problems = []
        if facts.count("Linear") != 2 or facts.total != first + last:
            problems.append(f"expected Linear({in_features}→{width}) → ReLU → Linear({width}→{n_classes}): "
                            f"two Linear layers, {first + last} parameters")
        if facts.count("ReLU") < 1:
            problems.append("expected a ReLU between the two Linear layers")
        want_frozen = first if frozen_first else 0
        if not problems and frozen != want_frozen:
            problems.append(f"expected the first Linear's {first} parameters frozen (requires_grad=False) "
                            "and the last layer trained" if frozen_first else "expected every parameter trained")
        if problems:
            return Verdict(False, "\n".join([text, *problems]))
        return Verdict(True, text)

    return Check(id, exercise, (make,), judge, hidden=hidden,
                 description="Linear → ReLU → Linear" + (", the first Linear frozen" if frozen_first else ""))


def random_layer_unchanged(id: str, run: ModelRun, hidden: bool = False) -> Check:
    """The frozen parameters are bit-for-bit what they were before `train`."""
    after = Step(f"{run.key}.after-train", None, (Ref(run.make.name),), observe="module")

    def judge(evidence: Evidence) -> Verdict:
        before, now = module_facts(evidence[run.make.name]), module_facts(evidence[after.name])
        if isinstance(before, str) or isinstance(now, str):
            return Verdict(False, before if isinstance(before, str) else str(now))
        if not before.frozen:
            return Verdict(False, f"{run.make.call_text()} has no frozen parameter (requires_grad=False), "
                                  "so nothing stays random")
        changed = [p.name for p in before.frozen
                   if p.name not in now.state or not bool((now.state[p.name] == before.state[p.name]).all())]
        names = ", ".join(p.name for p in before.frozen)
        if changed:
            return Verdict(False, f"train changed the frozen parameter(s) {', '.join(changed)}: "
                                  "the random layer must stay as it was")
        return Verdict(True, f"the frozen parameters ({names}) are unchanged by train")

    return Check(id, "make_random_features", (*run.steps[:2], after), judge, hidden=hidden,
                 description="train leaves the random layer unchanged")


def loss_goes_down(id: str, run: ModelRun) -> Check:
    """The losses `train` returns: one per epoch, the last clearly below the first."""

    def judge(evidence: Evidence) -> Verdict:
        losses = evidence[run.train.name].value
        problem = losses_problem(losses)
        if problem:
            return Verdict(False, f"called {run.train.call_text()}\n{problem}")
        text = f"{run.train.call_text()}: loss {losses[0]:.4g} → {losses[-1]:.4g} over {len(losses)} epoch(s)"
        if len(losses) >= 2 and losses[-1] <= 0.9 * losses[0]:
            return Verdict(True, text)
        return Verdict(False, text + "\nexpected the last epoch's loss at least 10% below the first's "
                                     "(does train step the optimizer? is the loss recorded each epoch?)")

    return Check(id, "train", run.steps[:2], judge, description="the training loss goes down")


def predict_returns_classes(id: str, run: ModelRun) -> Check:
    """predict(model, X) is a LongTensor (N,) of class indices."""

    def judge(evidence: Evidence) -> Verdict:
        value = evidence[run.predict.name].value
        problem = classes_problem(value, len(run.split.y_test), run.split.n_classes)
        if problem:
            return Verdict(False, f"called {run.predict.call_text()}\n{problem}")
        return Verdict(True, f"{run.predict.call_text()} returned an int64 tensor of shape {tuple(value.shape)}")

    return Check(id, "predict", run.steps, judge, description="predict returns a LongTensor (N,)")


def public_checks() -> list[Check]:
    made = runs(PUBLIC_SPLIT_SEED, "public")
    blobs, *mlps, beats = accuracy_checks(made)
    return [
        logistic_size_check("make_logistic_regression/parameter-count", made["logistic-blobs"].make, 2, 3),
        blobs,
        mlp_shape_check("make_mlp/structure", made["mlp-moons"].make, 2, HIDDEN_WIDTH, 2, frozen_first=False),
        *mlps,
        beats,
        mlp_shape_check("make_random_features/frozen", made["random-spiral"].make, 2, COMPARE_WIDTH, 3,
                        frozen_first=True),
        random_layer_unchanged("make_random_features/unchanged-by-train", made["random-spiral"]),
        loss_goes_down("train/loss-goes-down", made["mlp-moons"]),
        predict_returns_classes("predict/long-tensor", made["mlp-moons"]),
    ]


CHECKS = public_checks()
