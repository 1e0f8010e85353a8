"""toy2d-classifiers' checks, public and hidden, as nbgrader test cells, and the time its own training takes.

The port (used by nbgrader_port.py): a locked setup cell makes the datasets as grader/datasets.py
makes them (its generators' own source, the same seeds, 400 training and 400 test points) and the
grader's own models (grader/given.py's seeded layers); then one autograded test cell per check of
the assignment, hidden checks included, worth the check's points: the same factory calls, the same
trainings by the notebook's `train` on the same splits, the same thresholds, as plain asserts.
Each model is trained once, in the first cell that needs it (as the grader trains each once).

`own_training_seconds()`: the CPU seconds of the reference's own functions on the checks' inputs
(make, train and predict of every model the checks train: the grader's models too) in a plain
process, no grader: the work a grading cannot avoid.
"""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from grader import datasets, given  # noqa: E402
from grader.assignments import Assignment, public_checks  # noqa: E402
from grader.submission import load_submission  # noqa: E402
from grader.training import AGREEMENT, LOSS_DROP  # noqa: E402

NAME = "toy2d-classifiers"


def _hidden_seed() -> int:
    from grader.assignments import _load_module, course_root

    module = _load_module(course_root() / "reference" / NAME / "hidden_checks.py", "coursegrade_bench_toy2d_hidden")
    return int(module.HIDDEN_SPLIT_SEED)


def setup_source() -> str:
    """The setup cell: datasets and the grader's models, as the grader makes them, and the runs of each split."""
    toy = public_checks(NAME)
    sources = [inspect.getsource(f) for f in (datasets._blobs, datasets._moons, datasets._circles, datasets._xor,
                                             datasets._spiral, datasets._random_state, datasets._toy2d_arrays,
                                             given._generator, given.linear_layer, given.spec_logits)]
    head = f"""import numpy as np
import torch
from typing import Any
from torch import nn

Spec = dict[str, Any]

BLOB_CENTERS = {datasets.BLOB_CENTERS!r}
SPLIT_SEEDS = {{"public": {toy.PUBLIC_SPLIT_SEED}, "hidden": {_hidden_seed()}}}
THRESHOLDS = {toy.THRESHOLDS!r}
HIDDEN_WIDTH, COMPARE_WIDTH, BEATS_MARGIN = {toy.HIDDEN_WIDTH}, {toy.COMPARE_WIDTH}, {toy.BEATS_MARGIN}
STILL_ROWS, STILL_SCALE = {given.STILL_ROWS}, {given.STILL_SCALE}
AGREEMENT, LOSS_DROP = {AGREEMENT}, {LOSS_DROP}
"""
    return head + "\n\n".join(sources) + '''

GENERATORS = {"blobs": (_blobs, 3), "moons": (_moons, 2), "circles": (_circles, 2), "xor": (_xor, 2),
              "spiral": (_spiral, 3)}
_DATA = {}


def toy2d(name, split, n_train=400, n_test=400):
    """(X_train, y_train, X_test, y_test) of dataset `name` for a split, as grader/datasets.py makes it."""
    if (name, split) not in _DATA:
        X, y = _toy2d_arrays(name, SPLIT_SEEDS[split], n_train + n_test)
        X, y = torch.tensor(X), torch.tensor(y)
        _DATA[name, split] = (X[:n_train], y[:n_train], X[n_train:], y[n_train:])
    return _DATA[name, split]


class Still(nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(()))

    def forward(self, x):
        return x + 0.0 * self.weight


def spec_model(spec):
    """The grader's model of `spec` as an nn.Sequential (grader/export.py model_of)."""
    layers = []
    for layer in spec["layers"]:
        if layer["kind"] == "linear":
            linear = nn.Linear(layer["weight"].shape[1], layer["weight"].shape[0])
            with torch.no_grad():
                linear.weight.copy_(layer["weight"])
                linear.bias.copy_(layer["bias"])
            linear.requires_grad_(layer["trainable"])
            layers.append(linear)
        else:
            layers.append({"relu": nn.ReLU, "flatten": nn.Flatten, "still": Still}[layer["kind"]]())
    return nn.Sequential(*layers)


def still_spec_data(seed, in_features=2, n_classes=3):
    X = torch.randn((STILL_ROWS, in_features), generator=_generator(seed))
    spec = {"layers": [{"kind": "flatten"},
                       linear_layer(in_features, n_classes, seed + 1, STILL_SCALE * 3 ** 0.5, trainable=False),
                       {"kind": "still"}]}
    y = torch.multinomial(torch.softmax(spec_logits(spec, X), dim=1), 1, generator=_generator(seed + 3)).squeeze(1)
    return spec, X, y


def runs(split):
    """key: (factory, args, dataset) of every model trained on a split (checks.py runs())."""
    made = {"logistic-blobs": ("make_logistic_regression", (2, 3), "blobs")}
    for name in ("moons", "circles", "xor"):
        made[f"mlp-{name}"] = ("make_mlp", (2, HIDDEN_WIDTH, 2), name)
    made["mlp-spiral"] = ("make_mlp", (2, COMPARE_WIDTH, 3), "spiral")
    made["random-spiral"] = ("make_random_features", (2, COMPARE_WIDTH, 3), "spiral")
    return made


_RUNS = {}


def trained(split, key):
    """(model, its parameters before train, train's losses, test accuracy): trained once per split."""
    if (split, key) not in _RUNS:
        factory, args, name = runs(split)[key]
        X, y, X_test, y_test = toy2d(name, split)
        model = globals()[factory](*args)
        before = {n: p.detach().clone() for n, p in model.named_parameters()}
        losses = train(model, X, y)
        accuracy = float((predict(model, X_test) == y_test).double().mean())
        _RUNS[split, key] = (model, before, losses, accuracy)
    return _RUNS[split, key]


def still_losses():
    if "still" not in _RUNS:
        spec, X, y = still_spec_data(SPLIT_SEEDS["public"])
        losses = train(spec_model(spec), X, y)
        per_example = torch.nn.functional.cross_entropy(spec_logits(spec, X), y, reduction="none")
        _RUNS["still"] = (losses, float(per_example.mean()))
    return _RUNS["still"]


def leaves(model):
    return [type(m).__name__ for m in model.modules() if not list(m.children())]


def numel(parameters):
    return sum(p.numel() for p in parameters)


def check_mlp(model, in_features, width, n_classes, frozen_first):
    first, last = (in_features + 1) * width, (width + 1) * n_classes
    kinds = [k for k in leaves(model) if k in ("Linear", "ReLU")]
    assert kinds == ["Linear", "ReLU", "Linear"], kinds
    assert numel(model.parameters()) == first + last
    frozen = numel(p for p in model.parameters() if not p.requires_grad)
    assert frozen == (first if frozen_first else 0), frozen
'''


def _cell_for(check_id: str, hidden_seed: int) -> str:
    """The test cell of one check (its id decides which)."""
    hidden = check_id.endswith("-hidden-split")
    base = check_id.removesuffix("-hidden-split")
    split = "hidden" if hidden else "public"
    exercise, _, what = base.partition("/")
    sizes = what.rsplit("-", 3)
    if base.startswith("make_logistic_regression/parameter-count"):
        i, n = (5, 4) if base.endswith("-5-4") else (2, 3)
        return (f"model = make_logistic_regression({i}, {n})\n"
                f"assert numel(model.parameters()) == {(i + 1) * n}\n"
                "assert all(p.requires_grad for p in model.parameters())\n"
                "assert leaves(model).count('Linear') == 1")
    if what.startswith("structure") or what.startswith("frozen"):
        i, w, n = (int(s) for s in sizes[1:]) if len(sizes) == 4 and sizes[1].isdigit() else (
            (2, "HIDDEN_WIDTH", 2) if exercise == "make_mlp" else (2, "COMPARE_WIDTH", 3))
        return f"check_mlp({exercise}({i}, {w}, {n}), {i}, {w}, {n}, frozen_first={exercise != 'make_mlp'})"
    if what.endswith("-accuracy"):
        name = what.removesuffix("-accuracy")
        key = "logistic-blobs" if name == "blobs" else f"mlp-{name}"
        return (f"model, before, losses, accuracy = trained({split!r}, {key!r})\n"
                f"assert accuracy >= THRESHOLDS[{name!r}], accuracy")
    if what == "trained-beats-random":
        return (f"mlp, rnd = trained({split!r}, 'mlp-spiral')[3], trained({split!r}, 'random-spiral')[3]\n"
                "assert mlp >= rnd + BEATS_MARGIN, (mlp, rnd)")
    if what == "unchanged-by-train":
        return (f"model, before, losses, accuracy = trained({split!r}, 'random-spiral')\n"
                "frozen = [n for n, p in model.named_parameters() if not p.requires_grad]\n"
                "assert frozen\n"
                "assert all(torch.equal(dict(model.named_parameters())[n], before[n]) for n in frozen)")
    if what == "trains-the-models":
        return (f"for key in runs({split!r}):\n"
                f"    model, before, losses, accuracy = trained({split!r}, key)\n"
                "    assert len(losses) >= 1 and all(float(v) == float(v) for v in losses)\n"
                "    if key != 'mlp-spiral' and key != 'random-spiral':\n"
                "        assert accuracy >= THRESHOLDS[key.split('-')[1]]\n"
                f"assert trained({split!r}, 'mlp-spiral')[3] >= trained({split!r}, 'random-spiral')[3] + BEATS_MARGIN\n"
                "assert len(still_losses()[0]) >= 1")
    if what == "loss-goes-down":
        return ("X, y, _, _ = toy2d('blobs', 'public')\n"
                "spec = {'layers': [{'kind': 'flatten'}, linear_layer(2, 3, SPLIT_SEEDS['public'])]}\n"
                "model = spec_model(spec)\n"
                "ce = lambda: float(torch.nn.functional.cross_entropy(model(X), y).detach())\n"
                "start = ce()\n"
                "losses = train(model, X, y)\n"
                "assert len(losses) >= 2 and losses[-1] <= 0.9 * losses[0]\n"
                "assert ce() <= LOSS_DROP * start")
    if what == "epoch-mean-loss":
        return ("losses, mean = still_losses()\n"
                "assert losses and all(abs(v - mean) <= 1e-4 + 0.01 * mean for v in losses), (losses[:3], mean)")
    if what == "long-tensor":
        name, rows, n, seed = (("spiral", "hidden", 3, hidden_seed % 2**31) if hidden
                               else ("moons", "public", 2, "SPLIT_SEEDS['public']"))
        return (f"X = toy2d({name!r}, {rows!r})[0]\n"
                f"spec = {{'layers': [{{'kind': 'flatten'}}, linear_layer(2, 16, {seed}, 3.0), {{'kind': 'relu'}},\n"
                f"                   linear_layer(16, {n}, {seed} + 2, 3.0)]}}\n"
                "out = predict(spec_model(spec), X)\n"
                "assert isinstance(out, torch.Tensor) and out.dtype == torch.int64 and out.shape == (len(X),)\n"
                "assert float((out == spec_logits(spec, X).argmax(dim=1)).double().mean()) >= AGREEMENT")
    raise SystemExit(f"{NAME}: check {check_id} has no port")


def test_cells(assignment: Assignment) -> list[tuple[str, str, float]]:
    """(grade id, source, points) of one test cell per check, hidden ones included."""
    seed = _hidden_seed()
    return [(c.id.replace("/", "__").replace("-", "_"), _cell_for(c.id, seed), c.points) for c in assignment.checks]


OWN_TRAINING = '''
import json, sys, time
import torch, torch._dynamo, sklearn.datasets, matplotlib  # what the grader's template imports ahead
matplotlib.use("Agg")
import matplotlib.pyplot
namespace = {"__name__": "__reference__"}
exec(compile(sys.stdin.read(), "setup", "exec"), namespace)
started = time.process_time()
exec(compile(sys.argv[1], "reference", "exec"), namespace)  # the notebook's own cells: its demo trainings, its plot
notebook = time.process_time() - started
runs, toy2d, spec_model = namespace["runs"], namespace["toy2d"], namespace["spec_model"]
jobs = []  # (factory or None, args or spec, X, y): every model the checks train
for split in ("public", "hidden"):
    for key, (factory, args, name) in runs(split).items():
        X, y, _, _ = toy2d(name, split)
        jobs.append((namespace[factory], args, X, y))
X, y, _, _ = toy2d("blobs", "public")
jobs.append((spec_model, ({"layers": [{"kind": "flatten"}, namespace["linear_layer"](2, 3, 2024)]},), X, y))
spec, X, y = namespace["still_spec_data"](namespace["SPLIT_SEEDS"]["public"])
jobs.append((spec_model, (spec,), X, y))
started = time.process_time()
for make, args, X, y in jobs:
    model = make(*args)
    namespace["train"](model, X, y)
    namespace["predict"](model, X)
print(json.dumps({"cpu": time.process_time() - started, "notebook": notebook, "models": len(jobs),
                  "threads": torch.get_num_threads()}))
'''


def own_training_seconds(assignment: Assignment, python: str = sys.executable) -> dict[str, Any]:
    """CPU seconds of the reference's make/train/predict for every model the checks train (`cpu`), and of
    its own cells (`notebook`: its demo trainings and plot), in a plain process (torch with one thread,
    as each training runs in the grader: no spinning pool counted; the imports the grader's template
    makes ahead made ahead here too)."""
    solution = load_submission(assignment.solution).source  # type: ignore[arg-type]
    done = subprocess.run([python, "-c", OWN_TRAINING, solution], input=setup_source(), capture_output=True,
                          text=True, env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"}, check=True)
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))
