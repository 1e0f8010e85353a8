"""Calibrate and verify the accuracy thresholds of toy2d-classifiers (instructors only).

    python reference/toy2d-classifiers/calibrate.py --seeds 40      # the table of CALIBRATION.md
    python reference/toy2d-classifiers/calibrate.py --gradings 20   # the reference, graded for real
    python reference/toy2d-classifiers/calibrate.py --blame 30      # the grader's own trainer, for blame
    python reference/toy2d-classifiers/calibrate.py --idle 30       # a train that never trains: who is blamed

`--seeds`: the reference solution (trusted, run in this process through the probe's own path,
one thread) and two broken variants train on the splits of many seeds; for each dataset the
table gives the reference's min and median test accuracy, the best accuracy a broken model
reached, and the threshold in checks.py. A threshold is sound when every reference run reaches
it and no broken run does.

`--gradings`: grades the reference solution in the sandbox, as `grade` does, once per hidden
split seed 1..N (the probe's seed changes too), and prints each score and time.

`--blame N`: the grader's own trainer (grader/trainer.py, which decides whether a missed threshold is
the factory's fault or train's) on the reference's models as built over split seeds 1..N.

`--idle N`: the checks' verdicts, over split seeds 1..N, for the reference's factories with a `train` that
returns without training (train must lose, every factory keep its points), and for a linear `make_mlp` with
it (make_mlp and train must both lose).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from grader.assignments import load_assignment, public_checks  # noqa: E402
from grader.calibration import grade_reference, measure_accuracies  # noqa: E402

NAME = "toy2d-classifiers"
TOY2D = public_checks(NAME, ROOT)
ROWS = [("blobs", "logistic-blobs"), ("moons", "mlp-moons"), ("circles", "mlp-circles"), ("xor", "mlp-xor")]


def broken_variants(reference: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Models that must fail: no hidden layer (a linear model everywhere), and no training at all."""
    linear = dict(reference)
    make_linear = reference["make_logistic_regression"]
    linear["make_mlp"] = lambda d, hidden, c: make_linear(d, c)
    linear["make_random_features"] = linear["make_mlp"]
    untrained = dict(reference)
    untrained["train"] = lambda model, X, y: [1.0]
    return {"no hidden layer": linear, "untrained": untrained}


def accuracies(namespace: dict[str, Any], seed: int) -> dict[str, float]:
    """Test accuracy of every model of one split (and the trained-minus-random gap on the spiral)."""
    result = measure_accuracies(namespace, TOY2D.runs(seed, "calibration"), TOY2D.LIMITS, seed)
    result["gap"] = result["mlp-spiral"] - result["random-spiral"]
    return result


def calibrate(n_seeds: int) -> str:
    """Measure the reference and the broken variants over seeds 1..n_seeds; the Markdown table."""
    reference = dict(load_assignment(NAME, ROOT).reference or {})
    measured: dict[str, list[dict[str, float]]] = {"reference": []}
    variants = broken_variants(reference)
    for name in variants:
        measured[name] = []
    started = time.monotonic()
    for seed in range(1, n_seeds + 1):
        measured["reference"].append(accuracies(reference, seed))
        for name, namespace in variants.items():
            measured[name].append(accuracies(namespace, seed))
    lines = [f"Reference over split seeds 1..{n_seeds} (one thread, {time.monotonic() - started:.0f} s in all).",
             "",
             "| dataset | checked model | reference min | reference median | best broken model | threshold | sound |",
             "|---|---|---|---|---|---|---|"]
    for dataset, key in ROWS:
        lines.append(_row(dataset, key, measured, TOY2D.THRESHOLDS[dataset]))
    lines.append(_gap_row(measured))
    return "\n".join(lines)


def _row(dataset: str, key: str, measured: dict[str, list[dict[str, float]]], threshold: float) -> str:
    ref = [m[key] for m in measured["reference"]]
    broken = {name: max(m[key] for m in runs) for name, runs in measured.items()
              if name != "reference" and not (name == "no hidden layer" and key.startswith("logistic"))}
    worst_name, worst = max(broken.items(), key=lambda item: item[1])
    sound = min(ref) >= threshold > worst
    return (f"| {dataset} | {key.split('-')[0]} | {min(ref):.3f} | {statistics.median(ref):.3f} | "
            f"{worst:.3f} ({worst_name}) | {threshold:.2f} | {'yes' if sound else 'NO'} |")


def _gap_row(measured: dict[str, list[dict[str, float]]]) -> str:
    gaps = [m["gap"] for m in measured["reference"]]
    margin = TOY2D.BEATS_MARGIN
    sound = min(gaps) >= margin
    return (f"| spiral | trained − random hidden layer (width {TOY2D.COMPARE_WIDTH}) | {min(gaps):+.3f} | "
            f"{statistics.median(gaps):+.3f} | +0.000 (random layer not frozen: the same model twice) | "
            f"+{margin:.2f} | {'yes' if sound else 'NO'} |")


def blame(n_seeds: int) -> str:
    """The grader's own trainer (grader/trainer.py) on the reference's models as built, and on the no-hidden-layer
    variant's, over seeds 1..n_seeds: train is blamed for a missed threshold only when the grader's trainer clears
    threshold + margin, so the reference's models must always clear it and a linear "MLP" never."""
    import torch

    from grader.model import Evidence
    from grader.runner import run_in_process
    from grader.training import substituted_accuracy

    torch.set_num_threads(1)
    reference = dict(load_assignment(NAME, ROOT).reference or {})
    recipe = TOY2D.RECIPE
    measured: dict[str, dict[str, list[float]]] = {"reference": {}, "no hidden layer": {}}
    started = time.monotonic()
    for seed in range(1, n_seeds + 1):
        runs = TOY2D.runs(seed, "calibration")
        linear = broken_variants(reference)["no hidden layer"]
        for name, namespace in (("reference", reference), ("no hidden layer", linear)):
            steps = [step for run in runs.values() for step in run.steps[:2]]
            evidence = Evidence(run_in_process(steps, dict(namespace), TOY2D.LIMITS, seed))
            for key, run in runs.items():
                score = substituted_accuracy(run, evidence, recipe)
                measured[name].setdefault(key, []).append(score if isinstance(score, float) else float("nan"))
            if name == "reference":
                against = TOY2D._against_grader_mlp(runs["random-spiral"], evidence)
                if not isinstance(against, str):
                    measured[name].setdefault("grader-mlp-gap", []).append(against[0] - against[1])
    lines = [f"The grader's own trainer ({recipe.describe()}, margin {recipe.margin:.2f}) over split seeds "
             f"1..{n_seeds} ({time.monotonic() - started:.0f} s in all).", "",
             "| dataset | model | reference, grader-trained: min | median | no hidden layer, grader-trained: max | "
             "train blamed from | sound |", "|---|---|---|---|---|---|---|"]
    for dataset, key in ROWS:
        ref, linear = measured["reference"][key], measured["no hidden layer"][key]
        needed = TOY2D.THRESHOLDS[dataset] + recipe.margin
        sound = min(ref) >= needed and (key.startswith("logistic") or max(linear) < needed)
        lines.append(f"| {dataset} | {key.split('-')[0]} | {min(ref):.3f} | {statistics.median(ref):.3f} | "
                     f"{'—' if key.startswith('logistic') else f'{max(linear):.3f}'} | {needed:.2f} | "
                     f"{'yes' if sound else 'NO'} |")
    ref = measured["reference"]
    gaps = [m - r for m, r in zip(ref["mlp-spiral"], ref["random-spiral"], strict=True)]
    needed = TOY2D.BEATS_MARGIN + recipe.margin / 2
    lines.append(f"| spiral | trained − random hidden layer | {min(gaps):+.3f} | {statistics.median(gaps):+.3f} | — | "
                 f"{needed:+.2f} | {'yes' if min(gaps) >= needed else 'NO'} |")
    mine = ref["grader-mlp-gap"]
    lines.append(f"| spiral | the grader's MLP − random hidden layer | {min(mine):+.3f} | "
                 f"{statistics.median(mine):+.3f} | — | {needed:+.2f} | {'yes' if min(mine) >= needed else 'NO'} |")
    return "\n".join(lines)


def idle(n_seeds: int) -> str:
    """Who loses points, seed by seed, when train never trains: the accuracy, trained-beats-random and
    train checks judged on the reference's factories (and on a linear make_mlp) with such a train."""
    import torch

    from grader.judge import judge_all
    from grader.plan import plan_steps
    from grader.runner import run_in_process

    torch.set_num_threads(1)
    reference = dict(load_assignment(NAME, ROOT).reference or {})
    never = dict(reference, train=lambda model, X, y: [1.0, 0.5])
    linear = dict(broken_variants(reference)["no hidden layer"], train=never["train"])
    wanted = {"reference's factories": {"train"}, "linear make_mlp": {"train", "make_mlp"}}
    right = {name: 0 for name in wanted}
    wrong: list[str] = []
    started = time.monotonic()
    for seed in range(1, n_seeds + 1):
        made = TOY2D.runs(seed, "calibration")
        checks = [*TOY2D.accuracy_checks(made), TOY2D.train_checks(made, TOY2D.still(seed, "calibration"))]
        steps = plan_steps(checks)
        for name, namespace in (("reference's factories", never), ("linear make_mlp", linear)):
            results, _ = judge_all(checks, run_in_process(steps, dict(namespace), TOY2D.LIMITS, seed))
            losing = {r.exercise for r in results if r.status != "passed"}
            if losing == wanted[name]:
                right[name] += 1
            else:
                wrong.append(f"seed {seed}, {name}: {sorted(losing)} lose (expected {sorted(wanted[name])})")
    lines = [f"A train that never trains, split seeds 1..{n_seeds} ({time.monotonic() - started:.0f} s in all):", "",
             "| factories | exercises that must lose | seeds where exactly they lose |", "|---|---|---|"]
    lines += [f"| {name} | {', '.join(sorted(wanted[name]))} | {right[name]} / {n_seeds} |" for name in wanted]
    return "\n".join([*lines, *wrong])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=0, help="calibrate over this many split seeds (>= 20)")
    parser.add_argument("--gradings", type=int, default=0, help="grade the reference this many times in the sandbox")
    parser.add_argument("--blame", type=int, default=0, help="the grader's own trainer over this many split seeds")
    parser.add_argument("--idle", type=int, default=0, help="a train that never trains, over this many split seeds")
    args = parser.parse_args()
    if args.seeds:
        print(calibrate(args.seeds))
    if args.blame:
        print(blame(args.blame))
    if args.idle:
        print(idle(args.idle))
    if args.gradings:
        grade_reference(NAME, args.gradings, ROOT)
    if not (args.seeds or args.gradings or args.blame or args.idle):
        parser.print_help()


if __name__ == "__main__":
    main()
