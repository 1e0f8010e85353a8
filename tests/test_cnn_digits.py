"""cnn-digits end to end: the same submission gets the same report (and pictures) every run."""

from __future__ import annotations

from grader.assignments import load_assignment
from grader.grading import grade_file


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


def _cnn_layers(order: list[tuple[str, str]]) -> dict:
    modules = {"Conv2d": "torch.nn.modules.conv", "MaxPool2d": "torch.nn.modules.pooling",
               "Linear": "torch.nn.modules.linear", "ReLU": "torch.nn.modules.activation"}
    return {"type": "Net", "layers": [{"name": n, "type": t, "module": modules[t]} for n, t in order],
            "parameters": [{"name": "conv.weight", "shape": [4, 1, 3, 3], "requires_grad": True, "numel": 36}],
            "state": {}}


def test_architecture_is_judged_in_the_order_the_layers_ran() -> None:
    from grader.assignments import public_checks
    from grader.judge import judge_check
    from grader.model import Observation

    cnn = public_checks("cnn-digits")
    run = cnn.digits_run(cnn.PUBLIC_SPLIT_SEED, "public")
    forward = cnn.forward_step(run.make, run.split.X_test[:2])
    check = cnn.architecture_check("make_cnn/architecture", run.make, forward)
    declared = [("fc", "Linear"), ("conv", "Conv2d"), ("pool", "MaxPool2d")]
    made = Observation(run.make.name, "returned", _cnn_layers(declared), "__main__.Net")

    def verdict(called: list[str]):
        traced = Observation(forward.name, "returned", {"output": None, "called": called}, "dict")
        return judge_check(check, {run.make.name: made, forward.name: traced})[0]

    assert verdict(["conv", "pool", "fc"]).status == "passed"  # declared fc first, but it runs last
    assert verdict(["fc", "conv", "pool"]).status == "failed"
    no_pool = verdict(["conv", "fc"])  # pooling done with a function inside forward
    assert no_pool.status == "failed" and "no pooling layer runs" in no_pool.message


def test_train_past_its_budget_is_a_timeout_with_a_plain_message() -> None:
    from grader.assignments import public_checks
    from grader.judge import judge_check
    from grader.model import Observation

    cnn = public_checks("cnn-digits")
    run = cnn.digits_run(cnn.PUBLIC_SPLIT_SEED, "public")
    check = cnn.time_budget_check("train/time-budget", run)
    made = Observation(run.make.name, "returned", _cnn_layers([("conv", "Conv2d")]), "__main__.Net")
    late = Observation(run.train.name, "timeout", error_message="no answer after 60 s")
    result = judge_check(check, {run.make.name: made, run.train.name: late})[0]
    assert result.status == "timeout" and "no answer after 60 s" in result.message
    slow = Observation(run.train.name, "returned", [1.0, 0.5], seconds=61.0)
    assert judge_check(check, {run.make.name: made, run.train.name: slow})[0].status == "failed"
