"""Judging trained models from literals: no process is started."""

from __future__ import annotations

import torch

from grader.datasets import toy2d
from grader.model import Evidence, Observation
from grader.training import accuracy_check, classes_problem, losses_problem, model_run, module_facts, with_threshold


def _module(frozen: bool = False) -> dict:
    return {
        "type": "Sequential",
        "layers": [{"name": "0", "type": "Linear", "module": "torch.nn.modules.linear"},
                   {"name": "1", "type": "ReLU", "module": "torch.nn.modules.activation"},
                   {"name": "2", "type": "Linear", "module": "torch.nn.modules.linear"}],
        "parameters": [{"name": "0.weight", "shape": [4, 2], "requires_grad": not frozen, "numel": 8},
                       {"name": "0.bias", "shape": [4], "requires_grad": not frozen, "numel": 4},
                       {"name": "2.weight", "shape": [3, 4], "requires_grad": True, "numel": 12},
                       {"name": "2.bias", "shape": [3], "requires_grad": True, "numel": 3}],
        "state": {},
    }


def test_module_facts_outline_and_counts() -> None:
    facts = module_facts(Observation("m", "returned", _module(frozen=True), "torch.nn.modules.container.Sequential"))
    assert not isinstance(facts, str)
    assert facts.outline() == "Linear(2→4) → ReLU → Linear(4→3)"
    assert (facts.total, facts.trainable, facts.count("Linear")) == (27, 15, 2)


def test_a_plain_dict_is_not_taken_for_a_module() -> None:
    assert isinstance(module_facts(Observation("m", "returned", _module(), "dict")), str)


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


def test_accuracy_is_measured_against_labels_the_student_never_sees() -> None:
    split = toy2d("moons", 0)
    run = model_run("t/moons.mlp", "make_mlp", (2, 8, 2), split, "moons", with_grid=True)
    check = accuracy_check("make_mlp/moons", "make_mlp", run, 0.9, pictures=with_threshold(0.9))
    assert all(split.y_test is not arg for step in check.steps for arg in step.args)
    observed = {run.predict.name: Observation(run.predict.name, "returned", split.y_test.clone()),
                run.train.name: Observation(run.train.name, "returned", [0.7, 0.1])}
    verdict = check.judge(Evidence(observed))
    assert verdict.passed and "100.0%" in verdict.message and len(verdict.figures) == 1
    wrong = 1 - split.y_test
    observed[run.predict.name] = Observation(run.predict.name, "returned", wrong)
    verdict = check.judge(Evidence(observed))
    assert not verdict.passed and "0.7 to 0.1" in verdict.message
