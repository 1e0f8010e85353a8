"""`grader.check()` inside the student's own notebook: the public checks, in a second.

    import grader; grader.check()              every public check of the assignment
    grader.check("conv_layer")                 one exercise

The functions are called as they are defined in the running kernel, with the public checks'
inputs, the same way the sandboxed probe calls them (grader/probe.py), and their answers go
through the same encoding and decoding before the same judge: the feedback is what `grade`
prints. No sandbox: only public checks run here (hidden ones are never on a student's
machine), so a student can only fool themselves. Works in Jupyter, VS Code and Colab, where the
notebook is not a file on disk: the assignment is told by the functions the kernel defines.
"""

from __future__ import annotations

import base64
import difflib
import html
import os
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .assignments import Assignment, course_root, known_assignments, load_assignment
from .codec import Decoder, Encoder
from .conversation import observe
from .errors import AssignmentError, UsageError
from .judge import judge_all, skipped_hidden, total
from .model import GradeReport, Observation
from .plan import plan_part, plan_steps


@dataclass(frozen=True)
class SelfCheck:
    """What `check()` returns: shown as text in a terminal, as the HTML report in Jupyter."""

    report: GradeReport
    title: str

    def __repr__(self) -> str:
        from .text_report import render

        return render(self.report)

    def _repr_html_(self) -> str:
        from .html_report import render_student

        page = render_student(self.report, "your notebook", self.title)
        return (f'<iframe srcdoc="{html.escape(page, quote=True)}" title="{html.escape(self.title)}" '
                'style="width:100%;height:640px;border:1px solid #ddd;border-radius:6px"></iframe>')

    @property
    def passed(self) -> bool:
        return self.report.all_passed


GRADING_MARKER = "COURSEGRADE_RUN"  # sandbox.MARKER: set in every process of a submission being graded


class WhileGraded:
    """What `check()` returns inside the grader's sandbox: nothing runs there."""

    def __repr__(self) -> str:
        return "grader.check(): skipped while the notebook is being graded"


def check(exercise: str | None = None, assignment: str | None = None) -> SelfCheck | WhileGraded:
    """Run the public checks (of one exercise, or all) against the functions defined in the
    running kernel, and return the feedback; nothing while the grader runs the notebook."""
    if os.environ.get(GRADING_MARKER):
        return WhileGraded()
    started = time.monotonic()
    namespace = _user_namespace()
    root = course_root()
    spec = load_assignment(assignment or _detect(namespace, root), root, include_hidden=False)
    checks = [c for c in spec.checks if exercise is None or c.exercise == exercise]
    if exercise is not None and not checks:
        raise UsageError(_unknown_exercise(exercise, spec))
    observations = _run(spec, checks, namespace)
    results, figures = judge_all(checks, observations, None, _cells(namespace))
    results += [r for r in skipped_hidden(spec.listed_hidden) if exercise is None or r.exercise == exercise]
    score, max_score = total(results)
    report = GradeReport(spec.name, "the running notebook", "graded", score, max_score, tuple(results),
                         figures=tuple(figures), timings={"check": time.monotonic() - started}, sandbox="none")
    return SelfCheck(replace(report, sandbox="none (your own kernel: public checks only)"), spec.title)


def _user_namespace() -> dict[str, Any]:
    """The notebook's variables: IPython's user namespace, else __main__'s."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None  # type: ignore[attr-defined]
    if shell is not None:
        return dict(shell.user_ns)
    return dict(vars(sys.modules["__main__"]))


def _cells(namespace: dict[str, Any]) -> tuple[str, ...]:
    """The source the student ran (IPython's input history), for the checks that read it."""
    history = namespace.get("In")
    return tuple(c for c in history if isinstance(c, str)) if isinstance(history, list) else ()


def _detect(namespace: dict[str, Any], root: Path) -> str:
    from .assignments import _exercise_names

    known = known_assignments(root)
    if not known:
        raise UsageError(f"no assignments/ folder found from {Path.cwd()}: open the notebook in the folder of "
                         "your assignment's release (or pass assignment=...)")
    defined = {name for name, value in namespace.items() if callable(value)}
    scores = {name: len(defined & _exercise_names(root, name)) for name in known}
    best = max(scores.values())
    winners = [n for n, s in scores.items() if s == best]
    if best == 0 or len(winners) != 1:
        raise AssignmentError(f"cannot tell the assignment from the functions this notebook defines; "
                              f"say it: grader.check(assignment=...) with one of {', '.join(known)}")
    return winners[0]


def _unknown_exercise(exercise: str, spec: Assignment) -> str:
    close = difflib.get_close_matches(exercise, spec.exercises, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else f"; its exercises: {', '.join(spec.exercises)}"
    return f"{spec.name} has no exercise {exercise!r}{hint}"


def _run(spec: Assignment, checks: list[Any], namespace: dict[str, Any]) -> dict[str, Observation]:
    """Each step called in this process, as the probe calls it, its answer encoded and decoded."""
    from .probe import _run_step, _seed

    steps = plan_steps(checks)
    plan = plan_part(steps, 1, spec.seed, spec.limits, more=False)
    with tempfile.TemporaryDirectory(prefix="coursegrade-check-") as folder:
        inputs, out = Path(folder) / "inputs", Path(folder) / "out"
        inputs.mkdir()
        out.mkdir()
        for name, data in plan["tensors"].items():
            (inputs / name).write_bytes(base64.b64decode(data))
        encoder, kept = Encoder(out, prefix="r1"), {}  # type: ignore[var-annotated]
        fd = os.open(out, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            decoder, observations = Decoder(fd), {}
            for step in plan["steps"]:
                _seed(int(plan["seed"]))
                outcome = _run_step(step, namespace, kept, inputs, encoder)
                observations[step["name"]] = observe(step["name"], outcome, decoder, "the memory there is")
        finally:
            os.close(fd)
    return observations
