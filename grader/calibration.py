"""Instructor tools for thresholds: measure trusted code over many seeds, grade the reference often.

Used by `reference/<name>/calibrate.py`. The reference and its broken variants are trusted
code: they run in this process, through the probe's own path (same plan, seeding, encoding
and decoding as in the sandbox), on one thread.
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from types import ModuleType
from typing import Any

from .assignments import course_root, load_assignment
from .grading import grade_submission
from .model import Evidence
from .runner import run_in_process
from .sandbox import Limits, get_sandbox
from .submission import load_submission
from .training import ModelRun, trained_accuracies


def hidden_module(name: str, root: Path | None = None) -> ModuleType:
    """The hidden checks module of `name`, loaded fresh (it offers `checks_for(split_seed)`)."""
    path = (root or course_root()) / "reference" / name / "hidden_checks.py"
    spec = importlib.util.spec_from_file_location(f"coursegrade_calibration_{name.replace('-', '_')}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def measure_accuracies(namespace: Mapping[str, Any], runs: Mapping[str, ModelRun], limits: Limits,
                    seed: int) -> dict[str, float]:
    """The test accuracy of each run's model when `namespace` (trusted code) builds and trains it; NaN if none."""
    import torch

    torch.set_num_threads(1)
    steps = [step for run in runs.values() for step in run.steps]
    evidence = Evidence(run_in_process(steps, dict(namespace), limits, seed))
    result: dict[str, float] = {}
    for key, run in runs.items():
        scores = trained_accuracies((run,), evidence)
        result[key] = scores[0] if isinstance(scores, list) else float("nan")
    return result


def grade_reference(name: str, gradings: int, root: Path | None = None) -> int:
    """Grade the reference in the sandbox once per hidden split seed 1..gradings; how many got full marks."""
    assignment = load_assignment(name, root)
    hidden = hidden_module(name, root)
    public = [c for c in assignment.checks if not c.hidden]
    assert assignment.solution is not None, f"{name} has no reference solution here"
    submission = load_submission(assignment.solution)
    sandbox = get_sandbox()
    full = 0
    for seed in range(1, gradings + 1):
        spec = replace(assignment, checks=(*public, *hidden.checks_for(seed)), seed=seed)
        started = time.monotonic()
        report = grade_submission(submission, spec, sandbox)
        full += report.score == report.max_score
        missed = [c.id for c in report.checks if c.status != "passed"]
        print(f"hidden split seed {seed:>2}: {report.score:g} / {report.max_score:g} "
              f"in {time.monotonic() - started:.1f} s {missed or ''}", flush=True)
    print(f"full marks in {full} of {gradings} gradings")
    return full
