"""A mark rests on work the grader verified (issue 13), graded for real in the sandbox.

The cheats of tests/submissions/hostile/expected.json that name this file ("batch") lose marks on
exactly the exercise that cheats, and an honest student who writes forward with F.relu and
F.max_pool2d keeps full marks. The test split never enters the student's process, and
scikit-learn's digits cannot be read there.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
import torch

from grader.assignments import load_assignment
from grader.batch import BatchConfig, run_batch
from grader.grading import grade_submission
from grader.model import GradeReport
from grader.sandbox import ISOLATED, Limits, get_sandbox
from grader.submission import load_submission
from grader.validate import expectation_problems

from .conftest import SUBMISSIONS

HOSTILE = SUBMISSIONS / "hostile"


def _cases() -> list[tuple[str, dict[str, Any]]]:
    cases = json.loads((HOSTILE / "expected.json").read_text())
    return [(name, e) for name, e in cases.items() if e.get("batch") == "tests/test_integrity.py"]


@pytest.mark.parametrize(("name", "expected"), _cases(), ids=[n for n, _ in _cases()])
def test_a_cheat_loses_exactly_its_exercise(name: str, expected: dict[str, Any]) -> None:
    sandbox = get_sandbox()
    if expected.get("sandbox") == "bwrap" and sandbox.name not in ISOLATED:  # needs isolation
        pytest.skip(f"needs the {expected['sandbox']} sandbox")
    spec = load_assignment(expected["assignment"])
    report = grade_submission(load_submission(HOSTILE / name), spec, sandbox)
    assert expectation_problems(report, expected, len(spec.checks)) == []


BESIDE = {  # attacks graded by `grade batch` beside an honest classmate of their assignment, who keeps full marks
    "toy2d-classifiers": (SUBMISSIONS / "hostile" / "honest_functional_mlp.py", (
        "forward_through_numpy.py", "graph_work_bomb.py", "lookup_installed_by_train.py",
        "lookup_carries_a_linear_mlp.py", "huge_int_loss.py")),  # on the recorder, the grader's work, train
    "conv-pooling": (SUBMISSIONS / "conv-pooling" / "correct_slicing.py", (
        "conv_through_a_server_thread.py", "pickled_names.py", "conv_through_a_class_attribute.py",
        "code_from_text_by_libraries.py", "routines_under_other_names.py")),  # on the must-not-call rule
}


@pytest.mark.parametrize("assignment", BESIDE)
def test_attacks_are_graded_beside_an_honest_classmate(assignment: str, tmp_path: Path) -> None:
    """`grade batch`, two at once: each attack loses what it is expected to lose, and the honest
    student beside them keeps full marks."""
    honest, attacks = BESIDE[assignment]
    cases = {**json.loads((HOSTILE / "expected.json").read_text()), honest.name: {"outcome": "full"}}
    folder = tmp_path / "submissions"
    folder.mkdir()
    for path in (honest, *(HOSTILE / name for name in attacks)):
        shutil.copyfile(path, folder / path.name)
    spec = load_assignment(assignment)
    run_batch(BatchConfig(folder, spec, tmp_path / "out", jobs=2, sandbox_name="auto"))
    for name in (honest.name, *attacks):
        result = json.loads((tmp_path / "out" / "results" / f"{Path(name).stem}.json").read_text())
        assert expectation_problems(GradeReport.from_json(result), cases[name], len(spec.checks)) == [], name


def _tensors(value: Any) -> list[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, list | tuple):
        return [t for v in value for t in _tensors(v)]
    if isinstance(value, dict):
        return [t for v in value.values() for t in _tensors(v)]
    return []


def _rows(tensor: torch.Tensor) -> set[bytes]:
    if tensor.numel() == 0:  # an empty input (a model of the grader's, built with no data) has no rows
        return set()
    return {row.numpy().tobytes() for row in tensor.reshape(len(tensor), -1)}


@pytest.mark.parametrize("name", ["toy2d-classifiers", "cnn-digits"])
def test_no_test_input_is_sent_to_the_student(name: str) -> None:
    """For each model, no input sent to its steps is a test input of its split (digits has a few
    identical images in both parts; those are the training split's too)."""
    runs = {run.key: run for check in load_assignment(name).checks for run in _runs_of(check)}
    assert len(runs) >= 2
    for run in runs.values():
        only_test = _rows(run.split.X_test) - _rows(run.split.X_train)
        sent = [t for step in run.steps for t in _tensors([step.args, dict(step.kwargs)])]
        assert sent and all(not (_rows(t) & only_test) for t in sent if t.dim() >= 2)


def _runs_of(check: Any) -> list[Any]:
    """The ModelRuns a check's judge closes over (their splits hold the test data)."""
    cells = getattr(check.judge, "__closure__", None) or ()
    found = []
    for cell in cells:
        value = cell.cell_contents
        if hasattr(value, "split") and hasattr(value, "graph"):
            found.append(value)
    return found


def test_scikit_learn_digits_cannot_be_read_in_the_sandbox() -> None:
    sandbox = get_sandbox()
    if sandbox.name not in ISOLATED:
        pytest.skip("only bwrap hides files")
    code = ("from sklearn.datasets import load_digits\n"
            "try:\n    load_digits()\nexcept ValueError as error:\n    print(error)\n")
    with tempfile.TemporaryDirectory() as folder, tempfile.TemporaryFile() as stderr:
        scratch = Path(folder)
        for sub in ("work", "tmp", "home", "out"):
            (scratch / sub).mkdir()
        process = sandbox.start([sys.executable, "-c", code], scratch, Limits(), stderr)
        try:
            out, _ = process.communicate(timeout=120)
        finally:
            sandbox.stop(process)
    assert b"load_digits is hidden while grading: the grader passes the data to train" in out
    from sklearn.datasets import load_digits

    assert len(load_digits().target) == 1797  # the grader itself still has them
