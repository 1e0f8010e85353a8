"""cnn-digits end to end: the same submission gets the same report (and pictures) every run."""

from __future__ import annotations

from grader.assignments import load_assignment
from grader.grading import grade_file
from grader.model import Observation


def _without_times(report: dict) -> dict:
    """The report but the time train took (the one thing that may change between runs)."""
    checks = [dict(c, message="") if c["id"].startswith("train/time-budget") else c for c in report["checks"]]
    return dict(report, checks=checks)


def test_the_reference_gets_the_same_report_twice_with_its_pictures() -> None:
    solution = load_assignment("cnn-digits").solution
    assert solution is not None
    first, again = grade_file(solution), grade_file(solution)
    assert first.score == first.max_score
    assert _without_times(first.to_json()) == _without_times(again.to_json())
    assert [f.png for f in first.figures] == [f.png for f in again.figures]
    titles = [f.title for f in first.figures]
    assert "confusion matrix, digits (hidden split)" in titles
    assert [t for t in titles if t.startswith("misclassified digits")] == [
        "misclassified digits (true → predicted), digits (public split)"]  # hidden labels are not shown
    confusion = next(f for f in first.figures if f.title.startswith("confusion matrix"))
    assert "threshold 94.0%" in confusion.caption and "accuracy" in confusion.caption


def _graph_of(model: object, images: object) -> Observation:
    from grader.export import graph_of

    return Observation("g", "returned", graph_of(model, images), "dict")


def test_architecture_is_judged_in_the_order_the_operators_run() -> None:
    import torch
    from torch import nn

    from grader.assignments import public_checks
    from grader.judge import judge_check

    cnn = public_checks("cnn-digits")
    run = cnn.digits_run(cnn.PUBLIC_SPLIT_SEED, "public")
    check = cnn.architecture_check("make_cnn/architecture", run.make, run.initial)
    images = run.initial.args[1]  # the example the export step sends: the graph must be exported on it
    made = Observation(run.make.name, "returned", None, "__main__.Net")

    class Declared(nn.Module):
        """Layers declared fc first; forward runs conv, pooling by function, then fc."""

        def __init__(self, pool: bool = True, conv_first: bool = True) -> None:
            super().__init__()
            self.fc, self.conv = nn.Linear(4 * 4 * 4 if pool else 4 * 8 * 8, 10), nn.Conv2d(1, 4, 3, padding=1)
            self.pool, self.conv_first = pool, conv_first

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if not self.conv_first:
                return self.conv(self.fc(x.flatten(1)).view(-1, 1, 2, 5)).flatten(1)[:, :10]
            x = torch.relu(self.conv(x))
            x = nn.functional.max_pool2d(x, 2) if self.pool else x
            return self.fc(x.flatten(1))

    def verdict(model: nn.Module):  # type: ignore[no-untyped-def]
        observed = {run.make.name: made, run.initial.name: _graph_of(model, images)}
        return judge_check(check, observed)[0]

    assert verdict(Declared()).status == "passed"  # declared fc first, but it runs last; pooling by function
    no_pool = verdict(Declared(pool=False))
    assert no_pool.status == "failed" and "no pooling" in no_pool.message
    mlp = verdict(nn.Sequential(nn.Flatten(), nn.Linear(64, 10)))
    assert mlp.status == "failed" and "no convolution (nn.Conv2d) runs before" in mlp.message
    pooled_then_relu = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.MaxPool2d(2), nn.ReLU(), nn.Flatten(),
                                     nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, 10))
    assert verdict(pooled_then_relu).status == "passed"  # ReLU after pooling is the same network
    no_relu = verdict(nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.MaxPool2d(2), nn.Flatten(),
                                    nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, 10)))
    assert no_relu.status == "failed" and "no ReLU after convolution 1" in no_relu.message
    assert no_relu.hints and "no ReLU after a convolution" in no_relu.hints[0]
    fc = verdict(nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                               nn.Linear(64, 16), nn.Linear(16, 10)))
    assert fc.status == "failed" and fc.hints and "between the fully connected layers" in fc.hints[0]


def test_train_past_its_budget_is_a_timeout_with_a_plain_message() -> None:
    from grader.assignments import public_checks
    from grader.judge import judge_check

    cnn = public_checks("cnn-digits")
    run = cnn.digits_run(cnn.PUBLIC_SPLIT_SEED, "public")
    check = cnn.time_budget_check("train/time-budget", run)
    made = {run.make.name: Observation(run.make.name, "returned", None, "__main__.Net"),
            run.initial.name: Observation(run.initial.name, "returned", {}, "dict")}
    late = Observation(run.train.name, "timeout", error_message="no answer after 60 s")
    result = judge_check(check, {**made, run.train.name: late})[0]
    assert result.status == "timeout" and "no answer after 60 s" in result.message
    slow = Observation(run.train.name, "returned", [1.0, 0.5], seconds=61.0)
    assert judge_check(check, {**made, run.train.name: slow})[0].status == "failed"
