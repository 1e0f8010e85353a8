"""toy2d-classifiers end to end: the reference earns full marks whatever the hidden split,
and the same submission gets the same report every run."""

from __future__ import annotations

from dataclasses import replace

import pytest

from grader.assignments import load_assignment
from grader.calibration import hidden_module
from grader.grading import grade_submission, plan_steps
from grader.graph_work import graph_budget
from grader.judge import judge_all
from grader.runner import run_in_process
from grader.sandbox import get_sandbox
from grader.submission import load_submission

NAME = "toy2d-classifiers"


HIDDEN_SEEDS = (1, 4, 8, 13, 17, 20)  # a spread of 1..20; CALIBRATION.md covers 100 seeds


def test_reference_full_marks_on_hidden_splits_through_the_real_judge() -> None:
    """The reference (trusted, in this process, through the probe's own path) on hidden seeds
    spread over 1..20 (reference/toy2d-classifiers/calibrate.py runs 100 for the table)."""
    import torch

    torch.set_num_threads(1)
    assignment = load_assignment(NAME)
    hidden = hidden_module(NAME)
    reference = dict(assignment.reference or {})
    for seed in HIDDEN_SEEDS:
        checks = hidden.checks_for(seed)
        observations = run_in_process(plan_steps(checks), reference, assignment.limits, seed)
        results, figures = judge_all(checks, observations)
        assert [r for r in results if r.status != "passed"] == [], seed
        assert len(figures) == 6


@pytest.fixture(scope="module")
def reference_reports() -> list:
    """The reference graded in the sandbox: hidden seed 11 twice, hidden seed 12 once."""
    assignment = load_assignment(NAME)
    hidden = hidden_module(NAME)
    public = [c for c in assignment.checks if not c.hidden]
    assert assignment.solution is not None
    submission = load_submission(assignment.solution)
    reports = []
    for seed in (11, 11, 12):
        spec = replace(assignment, checks=(*public, *hidden.checks_for(seed)), seed=seed)
        reports.append(grade_submission(submission, spec, get_sandbox()))
    return reports


def test_reference_full_marks_in_the_sandbox_on_other_hidden_splits(reference_reports: list) -> None:
    for report in reference_reports:
        assert report.score == report.max_score, [c for c in report.checks if c.status != "passed"]


def test_the_same_submission_gets_the_same_report(reference_reports: list) -> None:
    first, again, other = reference_reports
    assert first.to_json() == again.to_json()
    assert [f.png for f in first.figures] == [f.png for f in again.figures]
    assert first.to_json() != other.to_json()  # the hidden split did change


def test_decision_boundaries_are_in_the_report_with_accuracy_and_threshold(reference_reports: list) -> None:
    report = reference_reports[0]
    titles = [f.title for f in report.figures]
    assert len(titles) == 12 and "moons (public split)" in titles and "moons (hidden split)" in titles
    moons = next(f for f in report.figures if f.title == "moons (hidden split)")
    assert moons.png.startswith(b"\x89PNG") and "threshold 94.0%" in moons.caption and "accuracy" in moons.caption
    hidden = [f for f in report.figures if "hidden split" in f.title]
    assert len(hidden) == 6 and all("test points not shown" in f.caption for f in hidden)


def test_what_train_reports_on_the_still_model_is_judged_from_literals() -> None:
    """train/epoch-mean-loss without a process: what correct and mistaken trains would return on the still
    model (its output never changes), each named by its known mistake."""
    import torch

    from grader.assignments import public_checks
    from grader.given import spec_logits
    from grader.judge import judge_check
    from grader.model import Observation

    toy = public_checks(NAME)
    still = toy.still(toy.PUBLIC_SPLIT_SEED, "public")
    check = toy.loss_report_check("train/epoch-mean-loss", still)
    logits, y = spec_logits(still.spec, still.X).float(), still.y
    per_example = torch.nn.functional.cross_entropy(logits, y, reduction="none")

    def epochs(batch: int, report: str) -> list[float]:
        losses = []
        for epoch in range(12):
            order = torch.randperm(len(y), generator=torch.Generator().manual_seed(epoch))
            parts = [order[i:i + batch] for i in range(0, len(y), batch)]
            means = [float(per_example[p].mean()) for p in parts]
            losses.append({"weighted": sum(m * len(p) for m, p in zip(means, parts, strict=True)) / len(y),
                           "batch means": sum(means) / len(means), "last batch": means[-1],
                           "sum": sum(m * len(p) for m, p in zip(means, parts, strict=True)),
                           "batch sum": sum(means)}[report])
        return losses

    def verdict(losses: list[float]):  # type: ignore[no-untyped-def]
        observed = {still.build.name: Observation(still.build.name, "returned", None, "torch.nn.Sequential"),
                    still.train.name: Observation(still.train.name, "returned", losses, "list")}
        return judge_check(check, observed)[0]

    full = float(torch.nn.functional.cross_entropy(logits, y))
    for losses in ([full] * 300, epochs(32, "weighted"), epochs(50, "batch means"), epochs(64, "batch means")):
        assert verdict(losses).status == "passed"
    softmaxed = float(torch.nn.functional.cross_entropy(torch.softmax(logits, 1), y))
    nll = float(torch.nn.functional.nll_loss(logits, y))
    for losses, hint in (([softmaxed] * 5, "softmax before nn.CrossEntropyLoss"), ([nll] * 5, "nn.NLLLoss on logits"),
                         (epochs(64, "last batch"), "the last mini-batch"), (epochs(64, "sum"), "summed over its"),
                         (epochs(64, "batch sum"), "added up but not averaged")):
        result = verdict(losses)
        assert result.status == "failed" and hint in result.message, (hint, result.message)


def test_a_train_that_does_not_train_is_at_fault_whatever_the_model() -> None:
    """idle_train (grader/training.py): a train that returns without training is blamed on train even where the
    grader's trainer would not clear threshold + margin (a margin of 0.5 here: nothing clears it), and the model
    is then judged at the threshold itself; a model nothing can train (all frozen) stays its factory's fault."""
    import torch

    from grader.assignments import public_checks
    from grader.trainer import Recipe
    from grader.training import accuracy_blame, accuracy_check, train_blame_check

    torch.set_num_threads(1)
    toy = public_checks(NAME)
    assignment = load_assignment(NAME)
    made = toy.runs(toy.PUBLIC_SPLIT_SEED, "public")
    blobs, spiral, random = made["logistic-blobs"], made["mlp-spiral"], made["random-spiral"]
    wide = Recipe(steps=800, lr=0.02, margin=0.5)
    checks = [accuracy_check("make_logistic_regression/blobs-accuracy", "make_logistic_regression", blobs, 0.95,
                             recipe=wide),
              toy.trained_beats_random("make_random_features/trained-beats-random", spiral, random),
              train_blame_check("train/trains-the-models", [accuracy_blame(blobs, 0.95, wide),
                                                            toy.beats_blame(spiral, random)],
                                [s for run in (blobs, spiral, random) for s in run.steps[:4]])]
    reference = dict(assignment.reference or {})

    def idle(model, X, y):  # type: ignore[no-untyped-def]
        return [1.0, 0.5]

    def frozen(in_features, n_classes):  # type: ignore[no-untyped-def]
        return torch.nn.Linear(in_features, n_classes).requires_grad_(False)

    def statuses(namespace: dict) -> dict[str, tuple[str, str]]:  # type: ignore[type-arg]
        observed = run_in_process(plan_steps(checks), namespace, assignment.limits, 0)
        return {r.id: (r.status, r.message) for r in judge_all(checks, observed)[0]}

    results = statuses({**reference, "train": idle})
    assert [s for s, _ in results.values()] == ["passed", "passed", "failed"], results
    assert "the model itself" not in results["make_logistic_regression/blobs-accuracy"][1]
    assert results["train/trains-the-models"][1].count("train did not train make_") == 2
    results = statuses({**reference, "train": idle, "make_logistic_regression": frozen})
    assert results["make_logistic_regression/blobs-accuracy"][0] == "failed"
    assert "blobs" not in results["train/trains-the-models"][1]


def test_the_graders_own_trainings_on_two_cores_give_the_verdicts_of_one_after_another() -> None:
    """A make_mlp without its activation misses every MLP threshold, so judging trains each model with the
    grader's own trainer (grader/trainer.py). Run in two processes at once, as a self-check does on two
    cores, those trainings give the very verdicts and messages that one after another give."""
    import torch

    from grader import trainer, training

    torch.set_num_threads(1)
    assignment = load_assignment(NAME)
    checks = list(assignment.checks)

    def linear_mlp(in_features, hidden, n_classes):  # type: ignore[no-untyped-def]
        return torch.nn.Sequential(torch.nn.Linear(in_features, hidden), torch.nn.Linear(hidden, n_classes))

    namespace = {**(assignment.reference or {}), "make_mlp": linear_mlp}
    observed = run_in_process(plan_steps(checks), namespace, assignment.limits, 0)

    budget = [assignment.limits.graph_work]

    def verdicts() -> list[tuple[str, str, float, str]]:
        with graph_budget(budget[0]):  # as grading judges: each pass with a budget of its own
            results, _ = judge_all(checks, observed)
        return [(r.id, r.status, r.points, r.message) for r in results]

    trainer._TRAINED.clear()
    with trainer.trainings_noted() as asked:
        verdicts()
    assert len(asked) >= 6  # the MLPs of both splits, at least
    one_after_another = verdicts()
    trainer._TRAINED.clear()
    at_once = trainer.judged_with_trainings_ahead(verdicts, 2)
    assert at_once == one_after_another
    failed = {i for i, status, _, _ in at_once if status != "passed"}
    assert failed and all(i.startswith("make_mlp/") for i in failed), failed

    budget[0] = 10_000_000  # spent half-way through judging (grader/graph_work.py)
    for kept in (trainer._TRAINED, training._LOGITS):  # computed anew: each charged as it is used
        kept.clear()
    one_after_another = verdicts()
    for kept in (trainer._TRAINED, training._LOGITS):
        kept.clear()
    assert trainer.judged_with_trainings_ahead(verdicts, 2) == one_after_another
    assert any("the grader does not run this model" in message for *_, message in one_after_another)
