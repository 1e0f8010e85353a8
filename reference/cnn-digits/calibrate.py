"""Calibrate and verify the accuracy threshold of cnn-digits (instructors only).

    python reference/cnn-digits/calibrate.py --seeds 30      # the table of CALIBRATION.md
    python reference/cnn-digits/calibrate.py --gradings 10   # the reference, graded for real
    python reference/cnn-digits/calibrate.py --blame 30      # the grader's own trainer, for blame
    python reference/cnn-digits/calibrate.py --as-built 200  # honest CNNs before train: AS_BUILT_BOUND

`--seeds`: the reference CNN (trusted, run in this process through the probe's own path, one
thread) trains on the split of each seed; so do an MLP on the flattened pixels (the reference's
own train and predict) and an untrained CNN. The threshold is sound when every reference run
reaches it and the untrained CNN never does; the MLP is measured for the record (it fails the
architecture check, not necessarily the accuracy one).

`--gradings`: grades the reference solution in the sandbox once per hidden split seed 1..N.

`--blame N`: the grader's own trainer (grader/trainer.py, which decides whether a missed threshold is
make_cnn's fault or train's) on the reference CNN as built over split seeds 1..N.
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

NAME = "cnn-digits"
CNN = public_checks(NAME, ROOT)


def variants(reference: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The reference, an MLP on flattened pixels, and a CNN that is never trained."""
    from torch import nn

    mlp = dict(reference)
    mlp["make_cnn"] = lambda n_classes=10: nn.Sequential(nn.Flatten(), nn.Linear(64, 128), nn.ReLU(),
                                                         nn.Linear(128, n_classes))
    untrained = dict(reference)
    untrained["train"] = lambda model, X, y: [1.0]
    return {"reference CNN": reference, "MLP on flattened pixels": mlp, "untrained CNN": untrained}


def calibrate(n_seeds: int) -> str:
    reference = dict(load_assignment(NAME, ROOT).reference or {})
    measured: dict[str, list[float]] = {}
    seconds: list[float] = []
    for seed in range(1, n_seeds + 1):
        for name, namespace in variants(reference).items():
            started = time.monotonic()
            score = measure_accuracies(namespace, {"cnn": CNN.digits_run(seed, "calibration")}, CNN.LIMITS, seed)
            if name == "reference CNN":
                seconds.append(time.monotonic() - started)
            measured.setdefault(name, []).append(score["cnn"])
    lines = [f"Split seeds 1..{n_seeds}, 1,500 training and 297 test digits, one thread; the reference's "
             f"make+train+predict took {min(seconds):.1f}–{max(seconds):.1f} s (median "
             f"{statistics.median(seconds):.1f} s).", "",
             "| model | min | median | max | threshold | reaches it |", "|---|---|---|---|---|---|"]
    for name, scores in measured.items():
        reached = sum(s >= CNN.THRESHOLD for s in scores)
        lines.append(f"| {name} | {min(scores):.3f} | {statistics.median(scores):.3f} | {max(scores):.3f} | "
                     f"{CNN.THRESHOLD:.2f} | {reached} of {len(scores)} |")
    return "\n".join(lines)


def blame(n_seeds: int) -> str:
    """The grader's own trainer (grader/trainer.py) on the reference CNN as built over seeds 1..n_seeds: train is
    blamed for a missed threshold only when the grader's trainer clears threshold + margin, so the reference's
    CNN must always clear it."""
    import torch

    from grader.model import Evidence
    from grader.runner import run_in_process
    from grader.training import substituted_accuracy

    torch.set_num_threads(1)
    reference = dict(load_assignment(NAME, ROOT).reference or {})
    scores, seconds = [], []
    for seed in range(1, n_seeds + 1):
        run = CNN.digits_run(seed, "calibration")
        evidence = Evidence(run_in_process(list(run.steps[:2]), reference, CNN.LIMITS, seed))
        started = time.process_time()
        score = substituted_accuracy(run, evidence, CNN.RECIPE)
        seconds.append(time.process_time() - started)
        scores.append(score if isinstance(score, float) else float("nan"))
    needed = CNN.THRESHOLD + CNN.RECIPE.margin
    return (f"The grader's own trainer ({CNN.RECIPE.describe()}) on the reference CNN as built, split seeds "
            f"1..{n_seeds}: min {min(scores):.3f}, median {statistics.median(scores):.3f}, max {max(scores):.3f}; "
            f"train is blamed from {needed:.2f}: {'sound' if min(scores) >= needed else 'NOT sound'}; "
            f"{min(seconds):.1f}–{max(seconds):.1f} s of CPU each.")


def as_built(n_inits: int) -> str:
    """The test accuracy of honest CNNs as built (random weights, before train) over `n_inits` torch seeds on split
    seeds 1..5: the reference's, each sample's in tests/submissions (their make_cnn, whatever their mistake) and
    the MLP variant. `AS_BUILT_BOUND` (checks.py) must be far above every one: a model as built above it wrote the
    data in (tests/submissions/hostile/digits_written_into_weights.py)."""
    import runpy

    import torch

    from grader.datasets import digits

    torch.set_num_threads(1)
    reference = dict(load_assignment(NAME, ROOT).reference or {})
    makers = {"reference CNN": reference["make_cnn"], "MLP on flattened pixels": variants(reference)[
        "MLP on flattened pixels"]["make_cnn"]}
    samples = [*sorted((ROOT / "tests/submissions/cnn-digits").glob("*.py")),
               ROOT / "tests/submissions/hostile/honest_functional_cnn.py"]
    makers |= {path.name: runpy.run_path(str(path))["make_cnn"] for path in samples}
    splits = [digits(seed) for seed in range(1, 6)]
    lines = ["| make_cnn | min | median | max |", "|---|---|---|---|"]
    everything = []
    for name, make in makers.items():
        scores = []
        for init in range(n_inits):
            torch.manual_seed(init)
            model = make().eval()
            with torch.no_grad():
                scores += [float((model(s.X_test).argmax(1) == s.y_test).double().mean()) for s in splits]
        everything += scores
        lines.append(f"| {name} | {min(scores):.3f} | {statistics.median(scores):.3f} | {max(scores):.3f} |")
    verdict = "sound" if max(everything) < CNN.AS_BUILT_BOUND / 1.5 else "NOT sound"
    return "\n".join([*lines, "", f"{len(everything)} models as built: at most {max(everything):.3f}; the bound "
                                   f"{CNN.AS_BUILT_BOUND:.2f} is {verdict} (every one below two thirds of it)"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=0, help="calibrate over this many split seeds (>= 20)")
    parser.add_argument("--gradings", type=int, default=0, help="grade the reference this many times in the sandbox")
    parser.add_argument("--blame", type=int, default=0, help="the grader's own trainer over this many split seeds")
    parser.add_argument("--as-built", type=int, default=0, help="honest CNNs as built over this many torch seeds")
    args = parser.parse_args()
    if args.seeds:
        print(calibrate(args.seeds))
    if args.blame:
        print(blame(args.blame))
    if args.gradings:
        grade_reference(NAME, args.gradings, ROOT)
    if args.as_built:
        print(as_built(args.as_built))
    if not (args.seeds or args.gradings or args.blame or args.as_built):
        parser.print_help()


if __name__ == "__main__":
    main()
