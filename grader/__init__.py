"""coursegrade: grade notebooks for the deep-learning course, judged outside the student's process."""

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
]
__version__ = "0.1.0"
