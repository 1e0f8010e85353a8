"""Independent chains of steps (a model made, exported, trained, exported, queried) run in
processes of their own, at most `jobs` at once: the plan's cut into chains, the grader's
conversation with interleaved lanes, and real sandboxed runs (no wall-clock asserts)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from grader import protocol
from grader.codec import Decoder
from grader.conversation import BROKE_PROTOCOL, Conversation
from grader.model import Ref, Step
from grader.plan import chains, cross_part_keep, lanes, plan_part
from grader.progress import step_texts
from grader.runner import RunOutcome, run_steps
from grader.sandbox import Limits, bwrap_problem, get_sandbox

from .conftest import SUBMISSIONS, line


def model_chain(key: str) -> list[Step]:
    make = Step(key, "make")
    return [make, Step(f"{key}.train", "train", (Ref(key), [1, 2])),
            Step(f"{key}.graph", None, (Ref(key),), observe="graph"),
            Step(f"{key}.predict", "predict", ((Ref(key), 3),))]


# -- the plan ----------------------------------------------------------------------------------------

def test_steps_that_refer_to_each_other_are_one_chain_in_plan_order() -> None:
    a, b = model_chain("a"), model_chain("b")
    single = Step("single", "f", (1,))
    cut = chains([a[0], b[0], single, a[1], b[1], a[2], a[3], b[2], b[3]])
    assert [[s.name for s in c] for c in cut] == [[s.name for s in a], [s.name for s in b], ["single"]]


def test_chains_are_forked_only_with_jobs_and_two_of_them() -> None:
    a, b, single = model_chain("a"), model_chain("b"), Step("single", "f")
    assert lanes([*a, *b, single], 1).forked == ()
    assert lanes([*a, single], 2).forked == ()  # one chain: nothing to run beside it
    both = lanes([*a, *b, single], 2, first_chain=3)
    assert both.inline == ("single",) and both.jobs == 2
    assert both.forked == ((3, tuple(s.name for s in a)), (4, tuple(s.name for s in b)))
    c = model_chain("c")
    kept = lanes([*a, *b, *c], 2, keep=frozenset({"a"}))  # part 2 refers to a's model: a stays in the kernel
    assert kept.inline == tuple(s.name for s in a) and [i for i, _ in kept.forked] == [0, 1]
    assert lanes([*a, *b], 2, keep=frozenset({"a"})).forked == ()


def test_chains_share_one_process_per_job_the_longest_placed_first() -> None:
    many = [s for k in range(7) for s in model_chain(f"m{k}")]
    short = [Step("s", "make"), Step("s.use", "use", (Ref("s"),))]
    forked = lanes([*short, *many], 3).forked
    assert [i for i, _ in forked] == [0, 1, 2]
    assert sorted(s for _, names in forked for s in names) == sorted(s.name for s in [*short, *many])
    sizes = sorted(len(names) for _, names in forked)
    assert sizes[-1] - sizes[0] <= len(model_chain("x"))  # balanced: no process a whole chain ahead of another
    assert [names[-2:] for _, names in forked].count(("s", "s.use")) == 1  # the short chain placed last
    huge = lanes(many, protocol.MAX_CHAINS + 5, first_chain=protocol.MAX_CHAINS - 4).forked
    assert len(huge) == 4  # no more processes than events files left


def test_a_hidden_step_that_refers_to_a_public_one_keeps_that_chain_inline() -> None:
    public = model_chain("p")
    assert cross_part_keep(public, [Step("h", "predict", (Ref("p"), 1))]) == frozenset({"p"})


def test_the_plan_names_the_chains() -> None:
    part = plan_part([*model_chain("a"), *model_chain("b")], 1, 0, Limits(), False,
                     lanes([*model_chain("a"), *model_chain("b")], 2))
    assert part["jobs"] == 2 and [c["index"] for c in part["chains"]] == [0, 1]
    assert part["chains"][1]["steps"][0] == "b"


def test_progress_names_the_step_waited_for_from_the_plan() -> None:
    texts = step_texts([*model_chain("public/moons.mlp"), *model_chain("public/xor.mlp"), Step("single", "f")])
    assert texts["public/xor.mlp.train"] == "training public/xor.mlp (2/3)"
    assert texts["public/moons.mlp.graph"] == "exporting public/moons.mlp (1/3)"
    assert texts["single"] == "checking single (3/3)"


# -- the conversation with lanes -------------------------------------------------------------------------

def start(step: str) -> bytes:
    return line(protocol.START, step=step)


def end(step: str, value: object = 1) -> bytes:
    return line(protocol.END, step=step, status="returned", value=value)


def cells() -> bytes:
    return line(protocol.CELLS, cells=[])


def laned(decoder: Decoder) -> Conversation:
    return Conversation(decoder, ["i"], (), public_chains=((0, ("a", "a.t")), (1, ("b", "b.t"))),
                        hidden_chains=())


def test_answers_of_chains_interleave_each_in_its_order(decoder: Decoder) -> None:
    c = laned(decoder)
    events: list[tuple[bytes, int | None]] = [
        (cells(), None), (start("i"), None), (end("i"), None), (start("a"), 0), (start("b"), 1), (end("b", 2), 1),
        (end("a"), 0), (start("b.t"), 1), (start("a.t"), 0)]
    for event, chain in events:
        c.take(event, 1.0, chain)
    assert sorted(step for step, _ in c.running_steps()) == ["a.t", "b.t"]
    for event, chain in [(end("a.t", 3), 0), (end("b.t", 4), 1),
                         (line(protocol.CHAIN_EXIT, chain=0, returncode=0), None),
                         (line(protocol.CHAIN_EXIT, chain=1, returncode=0), None), (line(protocol.DONE), None)]:
        c.take(event, 2.0, chain)
    assert c.phase == "done" and c.exited_early() == []
    assert {k: o.value for k, o in c.observations.items()} == {"i": 1, "a": 1, "b": 2, "a.t": 3, "b.t": 4}


@pytest.mark.parametrize("events", [
    [(start("a"), 0)],  # before the cells' log
    [(cells(), None), (start("a.t"), 0)],  # out of order within its chain
    [(cells(), None), (start("b"), 0)],  # another chain's step in this chain's file
    [(cells(), None), (start("a"), 2)],  # a file no chain of this part writes
    [(cells(), None), (start("a"), None)],  # a chain's step in the main file
    [(cells(), None), (end("i"), None), (start("a"), 0), (end("a"), 0), (end("a"), 0)],  # a second word
    [(cells(), None), (line(protocol.CHAIN_EXIT, chain=7, returncode=0), None)],
    [(cells(), None), (line(protocol.CHAIN_EXIT, chain=0, returncode="x"), None)],
    [(cells(), None), (line(protocol.CHAIN_EXIT, chain=0, returncode=0), None),
     (line(protocol.CHAIN_EXIT, chain=0, returncode=0), None)],
    [(cells(), None), (start("i"), None), (end("i"), None), (line(protocol.DONE), None)],  # chains not done
])
def test_anything_out_of_order_in_any_lane_breaks_it(decoder: Decoder, events: list[tuple[bytes, int | None]]) -> None:
    c = laned(decoder)
    for event, chain in events:
        c.take(event, 1.0, chain)
    assert c.phase == "broken" and c.violation.startswith(BROKE_PROTOCOL)


def test_a_chain_that_ended_early_leaves_its_steps_to_the_runner(decoder: Decoder) -> None:
    c = laned(decoder)
    for event, chain in [(cells(), None), (start("i"), None), (end("i"), None), (start("a"), 0), (end("a"), 0),
                         (start("a.t"), 0), (start("b"), 1), (end("b"), 1), (start("b.t"), 1), (end("b.t"), 1),
                         (line(protocol.CHAIN_EXIT, chain=1, returncode=0), None),
                         (line(protocol.CHAIN_EXIT, chain=0, returncode=-24), None), (line(protocol.DONE), None)]:
        c.take(event, 1.0, chain)
    early = c.exited_early()
    assert [(index, lane.running, lane.exit_code) for index, lane in early] == [(0, "a.t", -24)]
    assert c.phase == "done" and c.unfinished() and "a.t" not in c.observations


def test_a_chain_heard_out_after_its_exit_was_read_still_counts(decoder: Decoder) -> None:
    """The runner reads every chain's file before each main line; a conversation fed the main file's
    'chain-exit' and 'waiting' first still takes the chain's last words, until the runner ends it."""
    c = Conversation(decoder, [], ("h",), public_chains=((0, ("a",)), (1, ("b",))))
    for event, chain in [(cells(), None), (start("a"), 0), (start("b"), 1), (end("b"), 1),
                         (line(protocol.CHAIN_EXIT, chain=1, returncode=0), None),
                         (line(protocol.CHAIN_EXIT, chain=0, returncode=0), None), (line(protocol.WAITING), None),
                         (end("a", 5), 0)]:
        c.take(event, 1.0, chain)
    assert c.phase == "waiting" and c.observations["a"].value == 5
    assert c.exited_early() == [] and not c.unfinished()


def test_nothing_more_is_read_from_a_chain_taken_as_ended(decoder: Decoder) -> None:
    c = laned(decoder)
    for event, chain in [(cells(), None), (start("a"), 0), (line(protocol.CHAIN_EXIT, chain=0, returncode=-9), None)]:
        c.take(event, 1.0, chain)
    assert [index for index, _ in c.exited_early()] == [0]
    c.take(end("a"), 2.0, 0)
    assert c.phase == "broken"


# -- real sandboxed runs -------------------------------------------------------------------------------------

def _spy_outcomes(monkeypatch: pytest.MonkeyPatch) -> list[RunOutcome]:
    from grader import grading

    seen: list[RunOutcome] = []

    def spy(*args: Any, **kwargs: Any) -> RunOutcome:
        outcome = run_steps(*args, **kwargs)
        seen.append(outcome)
        return outcome
    monkeypatch.setattr(grading, "run_steps", spy)
    return seen


def _verdicts(report: Any) -> list[tuple[str, str, float, str, tuple[str, ...]]]:
    return [(c.id, c.status, c.points, c.message, c.hints) for c in report.checks]


def _overlapping_chains(outcome: RunOutcome, names: list[list[str]]) -> bool:
    spans = [(min(outcome.spans[s][0] for s in chain), max(outcome.spans[s][1] for s in chain)) for chain in names]
    return any(a[0] < b[1] and b[0] < a[1] for i, a in enumerate(spans) for b in spans[i + 1:])


def test_a_toy2d_self_check_runs_two_chains_at_once_with_the_verdicts_of_one_at_a_time(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from grader.assignments import load_assignment
    from grader.grading import grade_file
    from grader.plan import hidden_only_steps, plan_steps

    seen = _spy_outcomes(monkeypatch)
    path = SUBMISSIONS / "toy2d-classifiers" / "correct_module.py"
    said: list[str] = []
    parallel = grade_file(path, "toy2d-classifiers", include_hidden=False, jobs=2, progress=said.append)
    one_by_one = grade_file(path, "toy2d-classifiers", include_hidden=False, jobs=1)
    assert _verdicts(parallel) == _verdicts(one_by_one) and parallel.message == one_by_one.message
    assert all(c.status == "passed" for c in parallel.checks if not c.hidden)
    spec = load_assignment("toy2d-classifiers", include_hidden=False)
    steps = plan_steps(spec.checks)
    forked = lanes(steps, 2, 0, cross_part_keep(steps, [])).forked
    hidden = hidden_only_steps(spec.checks)
    assert len(forked) >= 2 and not hidden
    assert _overlapping_chains(seen[0], [list(names) for _, names in forked])
    assert seen[0].restarts == 0
    assert any(text.startswith("toy2d-classifiers: training public/") for text in said)  # from the plan


STUDENT = '''
import os, signal, time

SPINNER = "/tmp/spinner"


def make():
    return [0, 1]


def use(x):
    return len(x)


def spin(x):
    """Swallows its CPU alarm and spins on: only the kernel's limit on its process stops it."""
    signal.setitimer(signal.ITIMER_PROF, 0)
    with open(SPINNER, "w") as f:
        f.write(str(os.getpid()))
    while True:
        try:
            while True:
                pass
        except BaseException:
            pass


def hog(x):
    """Asks for ever more memory, until the kernel kills its process (or refuses it)."""
    with open(SPINNER, "w") as f:
        f.write(str(os.getpid()))
    blocks = []
    while True:
        blocks.append(bytearray(64 * 2**20))


def wait_for_spinner(x):
    """Keeps this chain running until the spinner's process is gone (at most a minute)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            os.kill(int(open(SPINNER).read()), 0)
        except (OSError, ValueError):
            if os.path.exists(SPINNER):
                return len(x)
        time.sleep(0.05)
    return -1
'''


def _student_notebook(tmp_path: Path) -> Path:
    notebook = tmp_path / "student.ipynb"
    cell: dict[str, Any] = {"cell_type": "code", "source": STUDENT, "metadata": {}, "outputs": [],
                            "execution_count": None}
    notebook.write_text(json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    return notebook


def test_a_chain_stopped_for_its_memory_costs_only_its_own_checks(tmp_path: Path) -> None:
    steps = [Step("a", "make"), Step("a.hog", "hog", (Ref("a"),)), Step("a.after", "use", (Ref("a"),)),
             Step("b", "make"), Step("b.wait", "wait_for_spinner", (Ref("b"),)), Step("b.after", "use", (Ref("b"),))]
    outcome = run_steps(_student_notebook(tmp_path), steps, get_sandbox(), Limits(memory_bytes=2**29),
                        warm_imports=(), jobs=2)
    observed = outcome.observations
    assert observed["a.hog"].status == "crashed" and "of memory" in observed["a.hog"].error_message
    assert observed["a.after"].status in ("not_run", "returned")  # its process killed, or refused memory
    assert [observed[s].value for s in ("a", "b", "b.wait", "b.after")] == [[0, 1], [0, 1], 2, 2]


def test_a_chain_stopped_for_its_cpu_limit_costs_only_its_own_checks(tmp_path: Path) -> None:
    notebook = _student_notebook(tmp_path)
    steps = [Step("a", "make", timeout=1), Step("a.spin", "spin", (Ref("a"),), timeout=1),
             Step("a.after", "use", (Ref("a"),), timeout=1),
             Step("b", "make", timeout=1), Step("b.wait", "wait_for_spinner", (Ref("b"),), timeout=1),
             Step("b.after", "use", (Ref("b"),), timeout=1)]
    outcome = run_steps(notebook, steps, get_sandbox(), Limits(), warm_imports=(), jobs=2)
    observed = outcome.observations
    assert observed["a.spin"].status == "timeout"
    assert "used more than 1 s of CPU in spin (its limit)" in observed["a.spin"].error_message
    assert observed["a.after"].status == "not_run" and "needs the result of a" in observed["a.after"].error_message
    assert [observed[s].value for s in ("a", "b", "b.wait", "b.after")] == [[0, 1], [0, 1], 2, 2]
    assert outcome.stop is not None and outcome.stop.kind == "call_time"


# -- a chain's CPU, counted by the kernel in a group of its own ------------------------------------------

ESCAPES = SUBMISSIONS / "hostile" / "escapes_its_cpu_limit.py"
EXPECTED = json.loads((SUBMISSIONS / "hostile" / "expected.json").read_text())[ESCAPES.name]


def _lost(observed: dict[str, Any], step: str, function: str) -> bool:
    """The step of `function` lost its marks as the hostile corpus expects, for its CPU."""
    return (function in EXPECTED["loses"] and observed[step].status == "timeout"
            and EXPECTED["message"] in observed[step].error_message)


def _escapes_notebook(tmp_path: Path, *more: str) -> Path:
    notebook = tmp_path / "escapes.ipynb"
    cells: list[dict[str, Any]] = [{"cell_type": "code", "source": source, "metadata": {}, "outputs": [],
                                    "execution_count": None} for source in (ESCAPES.read_text(), *more)]
    notebook.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    return notebook


def _needs_groups() -> None:
    from grader.cgroups import availability

    if availability():
        pytest.skip(f"needs control groups: {availability()}")


@pytest.mark.parametrize("backend", ["auto", "bwrap"])
def test_cpu_a_call_hides_from_its_process_limit_still_counts_against_it(tmp_path: Path, backend: str) -> None:
    """In a process it forks, or after raising its own RLIMIT_CPU: its chain's group counts it,
    on every backend with control groups."""
    _needs_groups()
    if backend == "bwrap" and bwrap_problem():
        pytest.skip(bwrap_problem())
    steps = [Step("a", "make"), Step("a.child", "in_a_child", (Ref("a"),)), Step("a.after", "use", (Ref("a"),)),
             Step("b", "make"), Step("b.raise", "raising_its_limit", (Ref("b"),)), Step("b.after", "use", (Ref("b"),)),
             Step("w", "make"), Step("w.wait", "wait_a_while", (Ref("w"),))]
    outcome = run_steps(_escapes_notebook(tmp_path), steps, get_sandbox(backend), Limits(call_seconds=1),
                        warm_imports=(), jobs=2)
    observed = outcome.observations
    for step, function in (("a.child", "in_a_child"), ("b.raise", "raising_its_limit")):
        assert _lost(observed, step, function), observed[step]
        assert f"used more than 1 s of CPU in {function} (its limit)" in observed[step].error_message
        assert observed[step.split(".")[0] + ".after"].status == "not_run"
    assert [observed[s].value for s in ("a", "b", "w", "w.wait")] == [[0, 1], [0, 1], [0, 1], 2]
    assert all(stop.kind == "call_time" for stop in outcome.stops)


def test_cpu_used_after_a_call_returned_costs_that_call(tmp_path: Path) -> None:
    """A process a call leaves running spins on after it returned, while another chain waits: that
    CPU is outside every step, and the call that left it loses its answer."""
    _needs_groups()
    steps = [Step("c", "make"), Step("c.leave", "leaving_a_spinner", (Ref("c"),)),
             Step("w", "make"), Step("w.wait", "wait_for_the_spinner", (Ref("w"),))]
    outcome = run_steps(_escapes_notebook(tmp_path), steps, get_sandbox(), Limits(call_seconds=1),
                        warm_imports=(), jobs=2)
    observed = outcome.observations
    assert _lost(observed, "c.leave", "leaving_a_spinner"), (observed["c.leave"], observed["w.wait"], outcome.stops)
    assert ("processes leaving_a_spinner left running used more than 1 s of CPU after it returned"
            in observed["c.leave"].error_message)
    assert [observed[s].value for s in ("c", "w", "w.wait")] == [[0, 1], [0, 1], 2]  # w's chain ran again


def test_chains_that_hide_from_the_grader_are_each_charged_all_their_shared_cpu(tmp_path: Path) -> None:
    """Unnamed, the chains' processes stay in the submission's group, one count for both: each
    running call is charged all of it, so neither gets more than its limit."""
    _needs_groups()
    steps = [Step("a", "make"), Step("a.child", "in_a_child", (Ref("a"),)),
             Step("b", "make"), Step("b.child", "in_a_child", (Ref("b"),))]
    outcome = run_steps(_escapes_notebook(tmp_path, "hide_from_the_grader()"), steps, get_sandbox(),
                        Limits(call_seconds=1), warm_imports=(), jobs=2)
    observed = outcome.observations
    assert _lost(observed, "a.child", "in_a_child") and _lost(observed, "b.child", "in_a_child")
    assert [observed[s].value for s in ("a", "b")] == [[0, 1], [0, 1]]
