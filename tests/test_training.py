"""Judging trained models from literals: no process is started."""

from __future__ import annotations

import pytest
import torch

from grader.datasets import toy2d
from grader.export import graph_of
from grader.model import Evidence, Observation
from grader.training import (
    accuracy_check,
    classes_problem,
    loss_check,
    losses_problem,
    model_run,
    predict_check,
    with_threshold,
)


def _oracle(split_X: torch.Tensor, split_y: torch.Tensor, n_classes: int) -> torch.nn.Module:
    """A "model" that knows the answers: a lookup of the given points (refused by the allowlist)."""

    class Lookup(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("points", split_X)
            self.register_buffer("labels", split_y)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.nn.functional.one_hot(self.labels[torch.cdist(x, self.points).argmin(1)], n_classes).float()

    return Lookup()


def _trained_linear(X: torch.Tensor, y: torch.Tensor, n_classes: int, steps: int = 200) -> torch.nn.Module:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(X.shape[1], 32), torch.nn.ReLU(), torch.nn.Linear(32, n_classes))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.03)
    for _ in range(steps):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(X), y).backward()
        optimizer.step()
    return model


def _observations(run, before, after, losses, predicted) -> dict[str, Observation]:  # type: ignore[no-untyped-def]
    example = run.split.X_train[:64]
    return {run.make.name: Observation(run.make.name, "returned", None, "__main__.Net"),
            run.initial.name: Observation(run.initial.name, "returned", graph_of(before, example), "dict"),
            run.train.name: Observation(run.train.name, "returned", losses, "list"),
            run.graph.name: Observation(run.graph.name, "returned", graph_of(after, example), "dict"),
            run.predict.name: Observation(run.predict.name, "returned", predicted, "torch.Tensor")}


def test_classes_problem_names_probabilities_and_shapes() -> None:
    assert classes_problem(torch.tensor([0, 2, 1]), 3, 3) is None
    assert "argmax" in (classes_problem(torch.rand(3, 3), 3, 3) or "")
    assert "shape" in (classes_problem(torch.tensor([0, 1]), 3, 3) or "")
    assert "outside" in (classes_problem(torch.tensor([0, 1, 5]), 3, 3) or "")
    assert "LongTensor" in (classes_problem([0, 1, 2], 3, 3) or "")


def test_losses_must_be_plain_numbers() -> None:
    assert losses_problem([1.0, 0.5]) is None
    assert "loss.item()" in (losses_problem([torch.tensor(1.0)]) or "")
    assert losses_problem([]) is not None
    assert "beyond any float" in (losses_problem([1.0, 10**400]) or "")  # hostile/huge_int_loss.py
    assert "not a number" in (losses_problem([1.0, float("nan")]) or "")
    assert losses_problem([2, 10**300]) is None  # large, but a float holds it


def test_accuracy_is_measured_by_the_grader_on_data_the_student_never_sees() -> None:
    split = toy2d("moons", 0)
    run = model_run("t/moons.mlp", "make_mlp", (2, 32, 2), split, "moons")
    check = accuracy_check("make_mlp/moons", "make_mlp", run, 0.9, pictures=with_threshold(0.9))
    sent = [arg for step in run.steps for arg in step.args]
    assert all(split.X_test is not arg and split.y_test is not arg for arg in sent)
    assert not any(isinstance(a, torch.Tensor) and len(a) == len(split.X_test) and torch.equal(a, split.X_test)
                   for a in sent)
    untrained = _trained_linear(split.X_train, split.y_train, 2, steps=0)
    trained = _trained_linear(split.X_train, split.y_train, 2)
    observed = _observations(run, untrained, trained, [0.7, 0.1], split.y_train.clone())
    verdict = check.judge(Evidence(observed))
    assert verdict.passed and "test accuracy on moons" in verdict.message and len(verdict.figures) == 1
    observed = _observations(run, untrained, _trained_linear(split.X_train, split.y_train, 2, steps=0), [0.7, 0.1],
                             split.y_train.clone())
    verdict = check.judge(Evidence(observed))  # the model can learn: the grader's own trainer shows it
    assert verdict.passed and "0.7 to 0.1" in verdict.message and "train is at fault" in verdict.message
    linear = torch.nn.Sequential(torch.nn.Linear(2, 2))  # no hidden layer: moons are beyond it, whoever trains it
    observed = _observations(run, linear, linear, [0.7, 0.6], split.y_train.clone())
    verdict = check.judge(Evidence(observed))
    assert not verdict.passed and "the model itself falls short" in verdict.message


def test_what_train_and_predict_say_is_checked_against_the_model() -> None:
    """Invented losses and answers that do not come from the model lose train's and predict's marks."""
    split = toy2d("blobs", 0)
    run = model_run("t/blobs.mlp", "make_mlp", (2, 32, 3), split, "blobs")
    untrained = _trained_linear(split.X_train, split.y_train, 3, steps=0)
    invented = _observations(run, untrained, untrained, [2.0, 1.0, 0.5], split.y_train.clone())
    loss = loss_check("train/loss", run).judge(Evidence(invented))
    assert not loss.passed and "run by the grader" in loss.message
    predict = predict_check("predict/classes", run).judge(Evidence(invented))
    assert not predict.passed and "the argmax of model(X)" in predict.message
    trained = _trained_linear(split.X_train, split.y_train, 3)
    honest = _observations(run, untrained, trained, [1.0, 0.2], trained(split.X_train).argmax(1))
    assert loss_check("train/loss", run).judge(Evidence(honest)).passed
    assert predict_check("predict/classes", run).judge(Evidence(honest)).passed


def test_a_lookup_model_gets_no_accuracy() -> None:
    split = toy2d("blobs", 0)
    run = model_run("t/blobs.mlp", "make_mlp", (2, 32, 3), split, "blobs")
    lookup = _oracle(split.X_train, split.y_train, 3)
    observed = _observations(run, lookup, lookup, [1.0, 0.2], split.y_train.clone())
    verdict = accuracy_check("make_mlp/blobs", "make_mlp", run, 0.9).judge(Evidence(observed))
    assert not verdict.passed and "aten.cdist" in verdict.message


def test_the_graders_adam_is_torchs_bit_for_bit() -> None:
    """grader/trainer.py's Adam (without torch.optim's per-step machinery) against torch.optim.Adam:
    the same parameters after 300 steps, to the bit; a parameter with no gradient is left as it is."""
    from grader.trainer import Adam

    def start() -> list[torch.Tensor]:
        generator = torch.Generator().manual_seed(3)
        made = [torch.randn(shape, generator=generator) for shape in ((2, 8), (8,), (8, 3), (5,))]
        made[1] = torch.complex(made[1], -made[1])  # used by its real part, as torch's Adam allows
        return [tensor.requires_grad_() for tensor in made]

    X, y = torch.randn(64, 2, generator=torch.Generator().manual_seed(4)), torch.arange(64) % 3

    def loss(w1: torch.Tensor, b1: torch.Tensor, w2: torch.Tensor, unused: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.cross_entropy(torch.relu(X @ w1 + b1.real) @ w2, y)

    theirs, ours = start(), start()
    optimizer, own = torch.optim.Adam(theirs, lr=0.01), Adam(ours, lr=0.01)
    for _ in range(300):
        optimizer.zero_grad()
        loss(*theirs).backward()
        optimizer.step()
        own.step(torch.autograd.grad(loss(*ours), ours, allow_unused=True))
    assert all(torch.equal(a, b) for a, b in zip(theirs, ours, strict=True))
    assert torch.equal(ours[3], start()[3]) and not torch.equal(ours[0], start()[0])


def _remembering(model: torch.nn.Module, X: torch.Tensor, y: torch.Tensor, n_classes: int) -> torch.nn.Module:
    """What train made of a model in hostile/lookup_installed_by_train.py: a vote of the training points,
    kept in buffers, added to the model's own logits (allowed operators, the same layers)."""
    import copy

    changed = copy.deepcopy(model)
    changed.register_buffer("memory_x", X.clone())
    changed.register_buffer("memory_y", torch.nn.functional.one_hot(y, n_classes).float())
    original = changed.forward

    def forward(x: torch.Tensor) -> torch.Tensor:
        d = ((x.unsqueeze(1) - changed.memory_x.unsqueeze(0)) ** 2).sum(-1)
        return original(x) + 20.0 * (torch.softmax(-20.0 * d, dim=1).unsqueeze(2) * changed.memory_y).sum(1)

    changed.forward = forward  # type: ignore[method-assign]
    return changed


def test_train_that_changes_the_model_loses_train_not_the_model() -> None:
    from grader.training import accuracy_blame

    split = toy2d("moons", 0)
    X, y = split.X_train[:200], split.y_train[:200]  # the buffers stay under the allowlist's table size
    run = model_run("t/moons.mlp", "make_mlp", (2, 32, 2), split, "moons")
    untrained = _trained_linear(split.X_train, split.y_train, 2, steps=0)
    observed = Evidence(_observations(run, untrained, _remembering(untrained, X, y, 2), [0.7, 0.1],
                                      split.y_train.clone()))
    verdict = accuracy_check("make_mlp/moons", "make_mlp", run, 0.9).judge(observed)
    assert verdict.passed and "train changed the model's structure" in verdict.message
    assert "added buffer memory_x (200×2 float32)" in verdict.message and "train is at fault" in verdict.message
    assert "train changed the model's structure" in (accuracy_blame(run, 0.9)(observed) or "")
    loss = loss_check("train/loss", run).judge(observed)
    assert not loss.passed and "train may change the values of the model's parameters" in loss.message


def test_a_model_that_knows_the_data_as_built_loses_its_factorys_marks() -> None:
    """A factory that writes the data in (hostile/digits_written_into_weights.py): the model as built, before
    train, scores far above chance on the test split; with `as_built_bound` its accuracy check fails whatever
    train did, and train is not blamed."""
    from grader.training import accuracy_blame

    split = toy2d("moons", 0)
    run = model_run("t/moons.mlp", "make_mlp", (2, 32, 2), split, "moons")
    trained = _trained_linear(split.X_train, split.y_train, 2)
    observed = Evidence(_observations(run, trained, trained, [0.7, 0.1], split.y_train.clone()))
    assert accuracy_check("make_mlp/moons", "make_mlp", run, 0.9).judge(observed).passed
    verdict = accuracy_check("make_mlp/moons", "make_mlp", run, 0.9, as_built_bound=0.8).judge(observed)
    assert not verdict.passed and "as built, before train, already reaches" in verdict.message
    assert accuracy_blame(run, 0.9, as_built_bound=0.8)(observed) is None
    untrained = _trained_linear(split.X_train, split.y_train, 2, steps=0)
    honest = Evidence(_observations(run, untrained, trained, [0.7, 0.1], split.y_train.clone()))
    assert accuracy_check("make_mlp/moons", "make_mlp", run, 0.9, as_built_bound=0.8).judge(honest).passed


def test_the_graders_trainer_gives_reasons_not_exceptions(monkeypatch: pytest.MonkeyPatch) -> None:
    """toy2d-classifiers/logistic_one_logit.py, an honest mistake: one logit where three classes are due once
    crashed the grader's own trainer (cross_entropy's "Target 1 is out of bounds"); nothing a graph does may."""
    from grader import trainer
    from grader.graph import Graph, read_graph
    from grader.trainer import Recipe, grader_trained

    split = toy2d("blobs", 0)
    example = split.X_train[:64]
    graph = read_graph(graph_of(torch.nn.Linear(2, 1), example), tuple(example.shape))
    assert isinstance(graph, Graph)
    why = grader_trained(graph, split, Recipe(steps=10))
    assert isinstance(why, str) and "returns 1 logit(s) per input" in why and "expected logits (64, 3)" in why

    def broken(*args: object) -> object:
        raise IndexError("anything at all")

    monkeypatch.setattr(trainer, "forward", broken)
    wide = read_graph(graph_of(torch.nn.Linear(2, 3), example), tuple(example.shape))
    assert isinstance(wide, Graph)
    assert grader_trained(wide, split, Recipe(steps=11)) == "the grader could not train the model: anything at all"
