"""coursegrade: grade notebooks for the deep-learning course, judged outside the student's process."""

from typing import Any

from .errors import AssignmentError, GraderError, SandboxError, SubmissionError, UsageError
from .model import Check, CheckResult, GradeReport, Observation, Step

__all__ = [
    "AssignmentError",
    "Check",
    "CheckResult",
    "GradeReport",
    "GraderError",
    "Observation",
    "SandboxError",
    "Step",
    "SubmissionError",
    "UsageError",
    "check",
]
__version__ = "0.1.0"


def check(exercise: str | None = None, assignment: str | None = None) -> Any:
    """In a notebook: `grader.check()` runs the public checks against the functions defined in the
    running kernel (or `grader.check("conv_layer")`, one exercise) and shows the feedback."""
    from .notebook import check as run_check

    return run_check(exercise, assignment)
