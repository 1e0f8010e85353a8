"""The pipeline for one submission: load, plan, run in the sandbox, judge, score."""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from .assignments import (
    Assignment,
    course_root,
    detect_assignment,
    known_assignments,
    load_assignment,
    sandbox_settings,
)
from .cell_errors import cell_problem
from .errors import AssignmentError, GraderError
from .judge import judge_all, skipped_hidden, total
from .model import CheckResult, Figure, GradeReport
from .plan import hidden_only_steps, plan_steps
from .progress import step_progress
from .runner import RunOutcome, Worker, run_steps
from .sandbox import Sandbox, get_sandbox
from .submission import Submission, load_submission


def _summary(outcome: RunOutcome, submission: Submission) -> str:
    """What went wrong with the notebook itself, cause first: a module Python cannot read, its first
    failed cell, then the run."""
    problems = (submission.compile_problem, cell_problem(outcome.cells, submission.cells), outcome.problem)
    return "; ".join(p for p in problems if p)


def grade_submission(
    submission: Submission,
    assignment: Assignment,
    sandbox: Sandbox,
    worker: Worker | None = None,
    jobs: int = 1,
    progress: Callable[[str], None] | None = None,
) -> GradeReport:
    """Grade one submission of `assignment`; student failures are in the report, not raised.
    `jobs`: independent chains of steps run at once; `progress` is told which check is waited for."""
    steps = plan_steps(assignment.checks)
    told = step_progress(steps, progress, f"{assignment.name}: ") if progress is not None else None
    with tempfile.TemporaryDirectory(prefix="coursegrade-nb-") as folder:
        notebook = Path(folder) / "submission.ipynb"
        submission.write_notebook(notebook)
        outcome = run_steps(notebook, steps, sandbox, assignment.limits, assignment.seed,
                            hidden=hidden_only_steps(assignment.checks),
                            warm_imports=assignment.warm_imports, worker=worker, jobs=jobs,
                            **({"progress": told} if told is not None else {}))
    started = time.monotonic()
    results, figures = _judged(assignment, outcome, submission, jobs)
    if not assignment.has_reference:
        results += skipped_hidden(assignment.listed_hidden)
    score, max_score = total(results)
    ran = any(o.status != "not_run" for o in outcome.observations.values())
    timings = {**outcome.timings, "judging": time.monotonic() - started}
    return GradeReport(
        assignment=assignment.name,
        submission=submission.path.name,
        status="graded" if ran or not steps else "error",
        score=score,
        max_score=max_score,
        checks=tuple(results),
        message=_summary(outcome, submission),
        cells=outcome.cells,
        figures=tuple(figures),
        timings=timings,
        limits_hit=outcome.limits_hit,
        sandbox=f"{sandbox.name} ({sandbox.note})" if getattr(sandbox, "note", "") else sandbox.name,
    )


def _judged(assignment: Assignment, outcome: RunOutcome, submission: Submission,
            jobs: int) -> tuple[list[CheckResult], list[Figure]]:
    """The checks' verdicts. Where checks fail, judging trains the student's models with the grader's
    own trainer; with `jobs` > 1 (a self-check's cores) those trainings run at once (grader/trainer.py)."""
    from .graph_work import graph_budget
    from .trainer import judged_with_trainings_ahead

    reference = assignment.reference if any(c.needs_reference for c in assignment.checks) else None

    def judge() -> tuple[list[CheckResult], list[Figure]]:
        with graph_budget(assignment.limits.graph_work):  # each pass its own: every use is charged
            return judge_all(assignment.checks, outcome.observations, reference, submission.cells)
    return judged_with_trainings_ahead(judge, jobs)


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _early_worker(sandbox: Sandbox, root: Path, name: str) -> Worker | None:
    """A sandboxed child started before the assignment's checks are loaded (both import torch:
    on two cores, at once), when its settings can be read without loading them."""
    settings = sandbox_settings(root, name)
    if settings is None:
        return None
    prepare = getattr(sandbox, "prepare", None)
    if prepare is not None:  # a fork server: its template imports, the worker forks once the checks are loaded
        prepare(settings[1])
        return None
    try:
        return Worker(sandbox, *settings)
    except (GraderError, OSError):  # the grading starts its own and says what is wrong
        return None


def template_imports(path: Path, assignment_name: str | None = None) -> tuple[str, ...]:
    """The warm imports of the sandbox that grading `path` will want, read without loading the
    checks (so that the sandbox's self-test can run while they import); () when they cannot be read
    so. Bad input (a submission that cannot be read, an assignment that is unknown or cannot be told)
    is a UsageError here, said before any sandbox is looked for."""
    root, submission = course_root(path.parent), load_submission(path)
    name = assignment_name or detect_assignment(submission, root)
    known = known_assignments(root)
    if name not in known:
        raise AssignmentError.unknown(name, known)
    settings = sandbox_settings(root, name)
    return settings[1] if settings is not None else ()


def grade_file(
    path: Path,
    assignment_name: str | None = None,
    sandbox: Sandbox | None = None,
    include_hidden: bool = True,
    root: Path | None = None,
    progress: Callable[[str], None] = lambda text: None,
    jobs: int | None = None,
) -> GradeReport:
    """Grade the notebook or module at `path`; raises UsageError for bad input only. `progress`
    is told, in a few words, what the grading is waiting for; `jobs` independent chains of checks
    (trainings) run at once (default: the cores there are)."""
    started = time.monotonic()
    submission = load_submission(path)
    root = root or course_root(path.parent)
    name = assignment_name or detect_assignment(submission, root)
    sandbox = sandbox or get_sandbox()
    progress(f"{name}: starting the sandbox and loading the checks")
    worker = _early_worker(sandbox, root, name)  # its kernel starts while the checks load
    try:
        assignment = load_assignment(name, root, include_hidden)
    except BaseException:
        if worker is not None:
            worker.close()
        raise
    if worker is not None and (worker.limits, worker.warm_imports) != (assignment.limits, assignment.warm_imports):
        worker.close()  # the checks set it up otherwise than they read: start as they say
        worker = None
    loaded = time.monotonic()
    progress(f"{name}: running the notebook and the {'' if include_hidden else 'public '}checks "
             f"({len(assignment.checks)})")
    report = grade_submission(submission, assignment, sandbox, worker, jobs or _cores(), progress)
    timings = {"loading": loaded - started, **report.timings, "total": time.monotonic() - started}
    return replace(report, submission=str(path), timings=timings)
