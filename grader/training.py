"""Checks on models the student builds and trains: make → train → export, judged and run here.

A `ModelRun` is the chain of steps for one model on one dataset split: the student's factory
builds it, the model is exported to a graph of ATen operators as built (`initial`), `train` gets
the training split, the trained model is exported again (`graph`), and `predict` gets public
inputs only (the training inputs, which the student's code already has). The test split never
enters the student's process, inputs or labels: the grader runs the exported graph on it
(grader/graph.py) and computes accuracy here. `predict` is checked against the argmax of the
graph's logits on the same public inputs. Checks that look at the same model share the same
steps, so each model is built, exported and trained once per grading.

Blame goes to the exercise at fault: an accuracy check belongs to the factory, but when the
student's `train` misses the threshold and the grader's own trainer (grader/trainer.py) brings
the same model as built there, the factory's check passes and `train_blame_check` (exercise
`train`) loses instead. A `train` that did not train the model at all (its loss on the training
split, measured here, did not drop where the grader's trainer makes it drop: `idle_train`) is at
fault whatever the model, and the model is then judged at the threshold itself, without the
margin that otherwise keeps a weak `train` from passing for a weak model. `train` and `predict`
are also tried on models the grader specifies (grader/given.py), apart from the student's factories.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .compare import show
from .datasets import Split
from .graph import Graph, GraphError, graph_problem, read_graph, run_graph, structure_change
from .graph_work import charge, work_problem
from .model import Check, Evidence, Figure, Observation, Ref, Step, Verdict
from .trainer import Recipe, grader_trained, logits_problem

Pictures = Callable[["ModelRun", Evidence, float], tuple[Figure, ...]]
Blamer = Callable[[Evidence], "str | None"]  # why train is at fault on one model, or None
EXPORT_ROWS = 64  # the example batch a model is exported with; the grader runs it in batches of this size
AGREEMENT = 0.98  # predict must give the graph's argmax on this share of the public inputs (float ties aside)
LOSS_DROP = 0.9  # the trained model's loss on the training split, at most this share of the untrained one's


@dataclass(frozen=True)
class ModelRun:
    """The steps that build, export, train, export again and query one model on one split."""

    key: str
    label: str
    split: Split
    make: Step
    initial: Step
    train: Step
    graph: Step
    predict: Step

    @property
    def steps(self) -> tuple[Step, ...]:
        return (self.make, self.initial, self.train, self.graph, self.predict)

    @property
    def public_inputs(self) -> Any:
        return self.predict.args[1]


def graph_step(name: str, make: Step, example: Any) -> Step:
    """The model `make` returned (as it is when this step runs), exported on `example` inputs."""
    return Step(name, None, (Ref(make.name), example), observe="graph")


def example_inputs(rows: int, *shape: int, seed: int = 0) -> Any:
    """Public example inputs of `shape` for exporting a model no split goes with."""
    import torch

    return torch.randn((rows, *shape), generator=torch.Generator().manual_seed(seed))


def model_run(key: str, factory: str, args: tuple[Any, ...], split: Split, label: str,
              train_timeout: float | None = None, kwargs: dict[str, Any] | None = None) -> ModelRun:
    """make → export → train → export → predict for `factory(*args)` on `split`."""
    make = Step(key, factory, args, kwargs or {})
    example = split.X_train[:EXPORT_ROWS]
    initial = graph_step(f"{key}.initial", make, example)
    train = Step(f"{key}.train", "train", (Ref(make.name), split.X_train, split.y_train), timeout=train_timeout)
    graph = graph_step(f"{key}.graph", make, example)
    predict = Step(f"{key}.predict", "predict", (Ref(make.name), split.X_train))
    return ModelRun(key, label, split, make, initial, train, graph, predict)


# -- the graph, checked and run ---------------------------------------------------------------------

_GRAPHS: dict[int, tuple[Observation, Graph | str]] = {}


def checked_graph(evidence: Evidence, export: Step) -> Graph | str:
    """The graph that `export` (a `graph_step`) returned, allowed to run, or why not (the same answer for
    each check): its input shape must be that of the example batch the grader sent for the export."""
    observed = evidence[export.name]
    known = _GRAPHS.get(id(observed))
    if known is not None and known[0] is observed:
        return known[1]
    graph = read_graph(observed.value, tuple(export.args[1].shape))
    if not isinstance(graph, str):
        graph = graph_problem(graph) or work_problem(graph) or graph
    if len(_GRAPHS) > 256:
        _GRAPHS.clear()
    _GRAPHS[id(observed)] = (observed, graph)
    return graph


SAME_STRUCTURE = ("train may change the values of the model's parameters (and of buffers such as batch norm's "
                  "running statistics), nothing else: the model it leaves must have the operators and the tensors "
                  "(names, shapes, dtypes, requires_grad) it was built with")


def trained_graph(run: ModelRun, evidence: Evidence) -> Graph | str:
    """The graph of the model after the student's train, allowed to run and built as the model as built
    was (train changed values only), or why not: else a train could make any model a lookup of its data."""
    graph = checked_graph(evidence, run.graph)
    if isinstance(graph, str):
        return graph
    initial = checked_graph(evidence, run.initial)
    if isinstance(initial, str):
        return (f"the model as built could not be run, so the trained one cannot be checked against it "
                f"(train may change its values only):\n{initial}")
    change = structure_change(initial, graph)
    return f"train changed the model's structure, not only its values: {change}\n{SAME_STRUCTURE}" if change \
        else graph


_LOGITS: dict[tuple[int, int], tuple[Graph, Any, Any]] = {}


def logits(graph: Graph, inputs: Any) -> Any:
    """The graph's output on `inputs`, computed once per graph and inputs, its work charged at every
    use (grader/graph_work.py); raises GraphError."""
    charge(graph, len(inputs))
    key = (id(graph), id(inputs))
    known = _LOGITS.get(key)
    if known is not None and known[0] is graph and known[1] is inputs:
        return known[2]
    output = run_graph(graph, inputs)
    if len(_LOGITS) > 256:
        _LOGITS.clear()
    _LOGITS[key] = (graph, inputs, output)
    return output


def trained_predictions(run: ModelRun, evidence: Evidence, inputs: Any) -> Any:
    """The classes the trained model gives `inputs`, run by the grader; a str says why there are none."""
    graph = trained_graph(run, evidence)
    if isinstance(graph, str):
        return graph
    try:
        output = logits(graph, inputs)
    except GraphError as error:
        return str(error)
    problem = logits_problem(output, run.split.n_classes)
    if problem:
        return problem
    return output.argmax(dim=1)


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
    huge = next((v for v in value if type(v) is int and not _fits_a_float(v)), None)
    if huge is not None:
        return (f"train's list holds an int of {huge.bit_length():,} bits, beyond any float: a loss is the mean "
                "cross-entropy of the epoch, a float (loss.item())")
    if not all(math.isfinite(v) for v in value):
        return (f"train's list holds {next(v for v in value if not math.isfinite(v))}: a loss that is not a number "
                "(the mean of an empty mini-batch? a learning rate so large that training diverged?)")
    return None


def _fits_a_float(value: int) -> bool:
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


def _percent(value: float) -> str:
    return f"{100 * value:.1f}%"


def step_problem(evidence: Evidence, step: Step) -> str | None:
    """Why `step` did not return (raised, timed out, crashed, not run), in a student's words; None if it did."""
    observed = evidence.observations.get(step.name)
    if observed is not None and observed.status == "returned":
        return None
    if observed is None or observed.status == "not_run":
        why = observed.error_message if observed is not None else ""
        return f"{step.call_text()} was not run{': ' + why if why else ''}"
    if observed.status == "raised":
        return f"called {step.call_text()}\nraised {observed.error_type}: {observed.error_message}"
    return f"called {step.call_text()}\n{observed.error_message or observed.status}"


def trained_accuracy(run: ModelRun, evidence: Evidence) -> float | str:
    """The test accuracy of the model the student's train trained, run by the grader; a str says why none."""
    problem = step_problem(evidence, run.train) or step_problem(evidence, run.graph)
    if problem:
        return problem
    predicted = trained_predictions(run, evidence, run.split.X_test)
    return predicted if isinstance(predicted, str) else accuracy(predicted, run.split.y_test)


def substituted_accuracy(run: ModelRun, evidence: Evidence, recipe: Recipe) -> float | str:
    """The test accuracy of the student's model as built, trained by the grader's own trainer
    (grader/trainer.py) instead of the student's train; a str says why there is none."""
    output = _grader_logits(run, evidence, recipe, run.split.X_test)
    return output if isinstance(output, str) else accuracy(output.argmax(dim=1), run.split.y_test)


def _grader_logits(run: ModelRun, evidence: Evidence, recipe: Recipe, inputs: Any) -> Any:
    """The logits on `inputs` of the student's model as built, trained by the grader's own trainer;
    a str says why there are none."""
    initial = checked_graph(evidence, run.initial)
    if isinstance(initial, str):
        return initial
    trained = grader_trained(initial, run.split, recipe)
    if isinstance(trained, str):
        return trained
    try:
        output = logits(trained, inputs)
    except GraphError as error:
        return str(error)
    problem = logits_problem(output, run.split.n_classes)
    if problem:
        return problem
    return output


def knows_the_data(run: ModelRun, evidence: Evidence, bound: float | None) -> str | None:
    """Why the model as built (its graph before train) already knows `run`'s data, or None: it scores above
    `bound` on the test split, where a network as built, its weights random, scores near chance (the factory
    wrote the data in: the test split is the part of a public dataset that train was not given)."""
    if bound is None:
        return None
    initial = checked_graph(evidence, run.initial)
    if isinstance(initial, str):
        return None  # the factory's other checks say why
    try:
        output = logits(initial, run.split.X_test)
    except GraphError:
        return None
    if logits_problem(output, run.split.n_classes):
        return None
    score = accuracy(output.argmax(dim=1), run.split.y_test)
    if score <= bound:
        return None
    return (f"{run.make.call_text()} as built, before train, already reaches {_percent(score)} test accuracy on "
            f"{run.label} (chance: {_percent(1 / run.split.n_classes)}; a network as built, its weights random, "
            f"stays below {_percent(bound)}): a network as built knows nothing of the data, its weights must be "
            f"learned by train, not written in by {run.make.function}")


def idle_train(run: ModelRun, evidence: Evidence, recipe: Recipe) -> str | None:
    """Why the student's `train` demonstrably did not train `run`'s model, or None: train returned, and the
    model's cross-entropy on the training split (computed here from the graphs before and after train) did not
    fall to LOSS_DROP of the untrained model's, while the grader's own trainer brings the same model below it.
    A train that leaves a model it could train as it was (or makes it worse) is at fault whatever the model."""
    if step_problem(evidence, run.train) or step_problem(evidence, run.graph):
        return None
    measured = _measured_losses(run, evidence)
    if isinstance(measured, str):
        return None
    before, after = measured
    if after <= LOSS_DROP * before:
        return None
    theirs = _grader_loss(run, evidence, recipe)
    if theirs is None or theirs > LOSS_DROP * before:
        return None
    return (f"train did not train {run.make.call_text()} on {run.label}: its loss on the training split, computed "
            f"by the grader, went from {before:.4g} (as built) to {after:.4g}; the same model trained by the grader's "
            f"own trainer ({recipe.describe()}): {theirs:.4g}")


def _grader_loss(run: ModelRun, evidence: Evidence, recipe: Recipe) -> float | None:
    """The cross-entropy on the training split of the student's model as built, trained by the grader."""
    import torch

    output = _grader_logits(run, evidence, recipe, run.split.X_train)
    if isinstance(output, str):
        return None
    return float(torch.nn.functional.cross_entropy(output.double(), run.split.y_train))


def _substitution_text(run: ModelRun, recipe: Recipe, theirs: float | str, needed: float) -> str:
    trainer = f"the grader's own trainer ({recipe.describe()}, no code of yours running)"
    if isinstance(theirs, str):
        return f"the grader could not train the model as built with {trainer} either:\n{theirs}"
    if theirs >= needed:
        return (f"the same model as built, trained by {trainer} instead of train, reaches {_percent(theirs)}: "
                f"{run.make.function} is right; train is at fault (see train's checks)")
    return (f"the same model as built, trained by {trainer}, reaches {_percent(theirs)} (train would be at "
            f"fault at {_percent(needed)}): the model itself falls short: its layers, their sizes, which of "
            "them train, or its initial weights")


DEFAULT_RECIPE = Recipe()


def accuracy_check(
    id: str,
    exercise: str,
    run: ModelRun,
    threshold: float,
    points: float = 1.0,
    hidden: bool = False,
    pictures: Pictures | None = None,
    recipe: Recipe = DEFAULT_RECIPE,
    as_built_bound: float | None = None,
) -> Check:
    """The model of `run`, trained by the student's `train`, must reach `threshold` accuracy on the test split,
    run by the grader from its exported graph. When it does not, the factory is at fault only if the grader's
    own trainer cannot bring the same model (as built) to threshold + margin either: else train is
    (`train_blame_check` takes its points), and this check passes, saying so. When train did not train the
    model at all (`idle_train`), train is at fault anyway and the model needs only the threshold itself.
    With `as_built_bound`, the model as built must score at most that (`knows_the_data`), whatever train did."""
    needed = threshold + recipe.margin

    def judge(evidence: Evidence) -> Verdict:
        known = knows_the_data(run, evidence, as_built_bound)
        if known:
            return Verdict(False, known)
        score = trained_accuracy(run, evidence)
        pics: tuple[Figure, ...] = ()
        if isinstance(score, str):
            text = f"{run.make.call_text()}, trained by train:\n{score}"
        else:
            text = f"test accuracy on {run.label}: {_percent(score)} (threshold {_percent(threshold)})"
            pics = pictures(run, evidence, score) if pictures else ()
            if score >= threshold:
                return Verdict(True, text, pics)
            text += _loss_note(evidence[run.train.name])
        theirs = substituted_accuracy(run, evidence, recipe)
        idle = idle_train(run, evidence, recipe)
        mark = threshold if idle else needed  # train known at fault: the model is judged at the threshold itself
        blamed_train = not isinstance(theirs, str) and theirs >= mark
        why = f"\n{idle}" if idle else ""
        return Verdict(blamed_train, f"{text}{why}\n{_substitution_text(run, recipe, theirs, mark)}", pics)

    return Check(id=id, exercise=exercise, steps=run.steps[:2], judge=judge, points=points, hidden=hidden,
                 description=f"reaches {_percent(threshold)} test accuracy on {run.label}",
                 extra_steps=run.steps[2:4])


def accuracy_blame(run: ModelRun, threshold: float, recipe: Recipe = DEFAULT_RECIPE,
                   as_built_bound: float | None = None) -> Blamer:
    """Why train is at fault on `run` (it did not return, it did not train the model (`idle_train`), or the
    grader's trainer brings the student's model to the threshold where train does not), or None (train did
    well, or the model is at fault, as when it knows the data as built: `knows_the_data`)."""
    needed = threshold + recipe.margin

    def fault(evidence: Evidence) -> str | None:
        if step_problem(evidence, run.make) or step_problem(evidence, run.initial):
            return None  # no model to train: the factory's checks say why
        if knows_the_data(run, evidence, as_built_bound):
            return None
        score = trained_accuracy(run, evidence)
        if not isinstance(score, str) and score >= threshold:
            return None
        if isinstance(score, str) and step_problem(evidence, run.train):
            return score
        idle = idle_train(run, evidence, recipe)
        if idle:
            return idle
        theirs = substituted_accuracy(run, evidence, recipe)
        if isinstance(theirs, str) or theirs < needed:
            return None
        got = score if isinstance(score, str) else f"{_percent(score)} test accuracy"
        return (f"{run.label}: {run.make.call_text()} trained by {run.train.call_text()}: {got} (threshold "
                f"{_percent(threshold)}); the same model trained by the grader's own trainer ({recipe.describe()}): "
                f"{_percent(theirs)}")

    return fault


def returns_blame(step: Step) -> Blamer:
    """train must at least return on a model of the grader's (grader/given.py)."""
    return lambda evidence: step_problem(evidence, step)


TRAIN_HINT = ("train must train the model it is given: an optimizer over the parameters that require grad, and for "
              "each mini-batch zero_grad(), the loss of the model's logits (nn.CrossEntropyLoss), backward() and "
              "step(); enough epochs at a learning rate that learns (does train step the optimizer?)")


def train_blame_check(id: str, blames: Sequence[Blamer], steps: Sequence[Step], points: float = 1.0,
                      hidden: bool = False) -> Check:
    """train trains every model that can learn its task: it loses these points where a model missed its
    accuracy threshold because of train (cross-substitution, `accuracy_blame`), never because of the model."""

    def judge(evidence: Evidence) -> Verdict:
        faults = [f for f in (blame(evidence) for blame in blames) if f]
        if not faults:
            return Verdict(True, "train trained each model that can learn its task to its threshold")
        shown = faults[:3] + ([f"… and {len(faults) - 3} more"] if len(faults) > 3 else [])
        header = ("train is at fault here (a model missed its mark where the grader's own trainer brings the same "
                  "model there, or train did not train it):")
        return Verdict(False, "\n".join([header, *shown, TRAIN_HINT]))

    return Check(id, "train", (), judge, points=points, hidden=hidden, extra_steps=tuple(steps),
                 description="train trains the models to their thresholds")


def _loss_note(trained: Observation) -> str:
    if losses_problem(trained.value) is not None:
        return ""
    losses = trained.value
    return f"\ntrain's loss went from {losses[0]:.4g} to {losses[-1]:.4g} over {len(losses)} epoch(s)"


def predict_check(id: str, run: ModelRun) -> Check:
    """predict(model, X) on public inputs: a LongTensor (N,) that is the argmax of the model's logits."""

    def judge(evidence: Evidence) -> Verdict:
        value = evidence[run.predict.name].value
        rows = len(run.public_inputs)
        problem = classes_problem(value, rows, run.split.n_classes)
        if problem:
            return Verdict(False, f"called {run.predict.call_text()}\n{problem}")
        expected = trained_predictions(run, evidence, run.public_inputs)
        if isinstance(expected, str):
            return Verdict(False, f"predict cannot be checked against the model's own logits:\n{expected}")
        agree = accuracy(value, expected)
        text = (f"{run.predict.call_text()} returned an int64 tensor of shape {tuple(value.shape)}, the argmax of "
                f"the model's logits on {_percent(agree)} of the inputs")
        if agree >= AGREEMENT:
            return Verdict(True, text)
        return Verdict(False, f"{text}\npredict must answer with the model: the argmax of model(X) over the classes, "
                              f"in eval mode (at least {_percent(AGREEMENT)} of the inputs)")

    return Check(id, "predict", run.steps, judge, description="predict returns the argmax of the model's logits")


def loss_check(id: str, run: ModelRun) -> Check:
    """The losses train returns go down, and the grader sees the model's own loss on the training split drop."""

    def judge(evidence: Evidence) -> Verdict:
        losses = evidence[run.train.name].value
        problem = losses_problem(losses)
        if problem:
            return Verdict(False, f"called {run.train.call_text()}\n{problem}")
        text = f"{run.train.call_text()}: loss {losses[0]:.4g} → {losses[-1]:.4g} over {len(losses)} epoch(s)"
        if len(losses) < 2 or losses[-1] > 0.9 * losses[0]:
            return Verdict(False, text + "\nexpected the last epoch's loss at least 10% below the first's "
                                         "(does train step the optimizer? is the loss recorded each epoch?)")
        measured = _measured_losses(run, evidence)
        if isinstance(measured, str):
            return Verdict(False, f"{text}\nthe grader could not measure the model's loss: {measured}")
        before, after = measured
        text += f"\nthe model's loss on the training split, run by the grader: {before:.4g} → {after:.4g}"
        if after <= LOSS_DROP * before:
            return Verdict(True, text)
        return Verdict(False, f"{text}\nexpected the trained model's own loss at least 10% below the untrained "
                              "one's: train must train the model it is given (does train step the optimizer?)")

    return Check(id, "train", run.steps[:4], judge, description="the training loss goes down")


def _measured_losses(run: ModelRun, evidence: Evidence) -> tuple[float, float] | str:
    """Cross-entropy on the training split of the model as built and as trained, computed here."""
    import torch

    values = []
    for graph in (checked_graph(evidence, run.initial), trained_graph(run, evidence)):
        if isinstance(graph, str):
            return graph
        try:
            output = logits(graph, run.split.X_train)
        except GraphError as error:
            return str(error)
        problem = logits_problem(output, run.split.n_classes)
        if problem:
            return problem
        values.append(float(torch.nn.functional.cross_entropy(output.double(), run.split.y_train)))
    return values[0], values[1]


def boundary_picture(run: ModelRun, evidence: Evidence, score: float, threshold: float,
                     caption: str = "", show_data: bool = True) -> tuple[Figure, ...]:
    """The decision boundary of `run`'s trained model on a grid the grader runs it on (none if unusable).

    `show_data=False` (hidden checks) leaves out the test points: with their true classes they
    would tell a student the hidden split's labels.
    """
    from .datasets import grid
    from .figures import decision_boundary

    split = run.split
    points, extent = grid(split.X_test)
    grid_classes = trained_predictions(run, evidence, points)
    predicted = trained_predictions(run, evidence, split.X_test)
    if isinstance(grid_classes, str) or isinstance(predicted, str):
        return ()
    caption = caption or f"accuracy {_percent(score)} · threshold {_percent(threshold)}"
    if not show_data:
        caption += " · test points not shown"
    return (decision_boundary(run.label, caption, grid_classes, extent, split.X_test if show_data else None,
                              split.y_test, predicted, split.n_classes),)


def with_threshold(threshold: float, show_data: bool = True) -> Pictures:
    """Decision-boundary pictures whose captions name `threshold` (without the test points if not `show_data`)."""
    return lambda run, evidence, score: boundary_picture(run, evidence, score, threshold, show_data=show_data)


def trained_accuracies(runs: Sequence[ModelRun], evidence: Evidence) -> list[float] | str:
    """The test accuracy of each run's trained model, run by the grader, or the first reason one cannot be measured."""
    scores = []
    for run in runs:
        predicted = trained_predictions(run, evidence, run.split.X_test)
        if isinstance(predicted, str):
            return f"{run.make.call_text()}, trained by train:\n{predicted}"
        scores.append(accuracy(predicted, run.split.y_test))
    return scores


def made_graph(evidence: Evidence, make: Step, initial: Step) -> Graph | Verdict:
    """The graph of a model as built, or the failing verdict that says why there is none."""
    graph = checked_graph(evidence, initial)
    if isinstance(graph, str):
        return Verdict(False, f"called {make.call_text()}\n{graph}")
    return graph


def numel(tensors: Sequence[Any]) -> int:
    return sum(int(t.value.numel()) for t in tensors)
