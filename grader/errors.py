"""The grader's exceptions, all in one tree.

    GraderError                 anything the grader cannot do; its message says what to do
    ├── UsageError              bad command-line use or input (exit code 2)
    │   ├── SubmissionError     missing file, not a notebook, not Python, not readable
    │   └── AssignmentError     unknown assignment, or one that cannot be told
    └── SandboxError            the sandbox could not start a student process

A student's failure is never an exception here: it is data, a `CheckResult`.
"""

from __future__ import annotations


class GraderError(Exception):
    """Something the grader itself cannot do."""


class UsageError(GraderError):
    """The command line or its input is wrong; the user can fix it."""


class SubmissionError(UsageError):
    """The submission file cannot be read as a notebook or a Python module."""

    @classmethod
    def missing(cls, path: object) -> SubmissionError:
        return cls(f"no such file: {path}")

    @classmethod
    def not_a_notebook(cls, path: object, reason: str) -> SubmissionError:
        return cls(f"{path} is not a Jupyter notebook ({reason})")

    @classmethod
    def unsupported(cls, path: object) -> SubmissionError:
        return cls(f"{path}: only .ipynb notebooks and .py modules can be graded")


class AssignmentError(UsageError):
    """The assignment is unknown or cannot be told from the submission."""

    @classmethod
    def unknown(cls, name: str, known: list[str]) -> AssignmentError:
        return cls(f"unknown assignment {name!r}; the assignments are: {', '.join(known)}")

    @classmethod
    def undetected(cls, path: object, known: list[str]) -> AssignmentError:
        return cls(
            f"cannot tell which assignment {path} is for; "
            f"name it with --assignment, one of: {', '.join(known)}"
        )


class SandboxError(GraderError):
    """The sandbox backend cannot start or run a student process."""
