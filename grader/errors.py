"""The grader's exceptions, all in one tree.

    GraderError                 anything the grader cannot do; its message says what to do
    ├── UsageError              bad command-line use or input (exit code 2)
    │   ├── SubmissionError     missing file, not a notebook, not Python, not readable
    │   └── AssignmentError     unknown assignment, or one that cannot be told
    ├── SandboxError            the sandbox could not start a student process
    │   └── KernelStartError    a sandbox started, but its kernel did not come up (twice): the grader's
    │                           failure on this submission (exit code 1), which a batch rerun retries
    └── OutputError             an output folder cannot be opened, or was moved or replaced (by a
                                link?) after the grader opened it: nothing is written elsewhere

A student's failure is never an exception here: it is data, a `CheckResult`.
"""

from __future__ import annotations

import difflib
from pathlib import Path


def reason(error: BaseException) -> str:
    """What went wrong, in words: an OS error's own ("Permission denied"), else the exception's."""
    return str(error.strerror or error) if isinstance(error, OSError) else str(error)


def did_you_mean(wanted: str, choices: list[str]) -> str:
    """"; did you mean 'x'?" for the closest choice (case, - and _ forgiven), else ""."""
    def key(text: str) -> str:
        return text.casefold().replace("_", "-")

    by_key = {key(c): c for c in choices}
    close = difflib.get_close_matches(key(wanted), list(by_key), n=1, cutoff=0.75)
    return f"; did you mean {by_key[close[0]]!r}?" if close else ""


class GraderError(Exception):
    """Something the grader itself cannot do."""


class UsageError(GraderError):
    """The command line or its input is wrong; the user can fix it."""


class SubmissionError(UsageError):
    """The submission file cannot be read as a notebook or a Python module."""

    @classmethod
    def missing(cls, path: object) -> SubmissionError:
        where = Path(str(path))
        try:
            near = [p.name for p in where.parent.iterdir() if p.suffix in (".ipynb", ".py")]
        except OSError:
            near = []
        return cls(f"no such file: {path}{did_you_mean(where.name, near)}")

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
        return cls(f"unknown assignment {name!r}{did_you_mean(name, known) or ';'} the assignments are: "
                   f"{', '.join(known)}")

    @classmethod
    def undetected(cls, path: object, known: list[str], why: str = "") -> AssignmentError:
        return cls(
            f"cannot tell which assignment {path} is for{f' ({why})' if why else ''}; "
            f"name it with --assignment, one of: {', '.join(known)}"
        )


class SandboxError(GraderError):
    """The sandbox backend cannot start or run a student process."""


class KernelStartError(SandboxError):
    """A submission's kernel did not come up, started twice: the grader's failure, not the student's."""


class OutputError(GraderError):
    """An output folder the grader must not or cannot write into (files.py)."""
