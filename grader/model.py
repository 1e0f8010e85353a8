"""The plain values that flow through the grader.

    Check ──(steps: inputs only)──► sandbox ──► Observation ──judge──► CheckResult ──► GradeReport

Checks hold inputs and a judge; only the steps' inputs ever reach the student's process.
Observations are what came back, decoded from JSON and safely loaded tensors.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

CheckStatus = Literal["passed", "failed", "error", "timeout", "skipped"]
CHECK_STATUSES: tuple[CheckStatus, ...] = ("passed", "failed", "error", "timeout", "skipped")
StepStatus = Literal["returned", "raised", "timeout", "crashed", "not_run"]
CellStatus = Literal["ok", "error", "timeout"]
StopKind = Literal[
    "call_time", "cell_time", "run_time", "idle", "memory", "cpu_time", "file_size", "disk",
    "crashed", "exited", "protocol",
]
LIMIT_NAMES: dict[StopKind, str] = {  # the stops that mean a limit of the sandbox, and its name
    "call_time": "call time limit", "cell_time": "cell time limit", "run_time": "run time limit",
    "memory": "memory", "cpu_time": "CPU time", "file_size": "file size limit", "disk": "disk",
}


@dataclass(frozen=True)
class Stop:
    """Why the grader stopped the student's process, or why it ended: a kind and plain words."""

    kind: StopKind
    message: str

    @property
    def limit(self) -> str:
        """The sandbox limit this stop means ("" when it is not a limit)."""
        return LIMIT_NAMES.get(self.kind, "")


@dataclass(frozen=True)
class Ref:
    """An argument that stands for what an earlier step returned (e.g. a model)."""

    step: str


@dataclass(frozen=True)
class Step:
    """One call made inside the student's process: `function(*args, **kwargs)`.

    `function=None` calls nothing and observes `args[0]` (an inspection of an earlier result);
    with `call=True` it calls `args[0](*args[1:], **kwargs)` instead (e.g. a model's forward).
    `observe` says how the result comes back: "value" (plain data, tensors), or
    "graph" (with `function=None`, args `(Ref(model), example inputs)`): the model exported in eval
    mode to a graph of ATen operators and its tensors, which the grader runs (grader/graph.py);
    "model" (with `function=None`, args `(spec,)`): a model the grader specifies, built from plain
    data in the student's process (grader/export.py `model_of`), to try `train` or `predict` on.
    `forbidden` names what the function must not call (dotted torch paths, "aten.<op>", or a whole
    family, "family.convolution": grader/families.py):
    watched at run time in the sandbox and read from the submitted source in the grader
    (grader/forbidden/).
    """

    name: str
    function: str | None
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    observe: Literal["value", "graph", "model"] = "value"
    timeout: float | None = None
    forbidden: tuple[str, ...] = ()
    call: bool = False

    def refs(self) -> list[str]:
        values = [*self.args, *self.kwargs.values()]
        return [v.step for v in values if isinstance(v, Ref)]

    def call_text(self) -> str:
        """The call as a student would write it, for feedback."""
        parts = [_short_repr(a) for a in self.args]
        parts += [f"{k}={_short_repr(v)}" for k, v in self.kwargs.items()]
        if self.function is None:
            if self.call and parts:
                return f"{parts[0]}({', '.join(parts[1:])})"
            return parts[0] if parts else "?"
        return f"{self.function}({', '.join(parts)})"


    def reproduce(self) -> str:
        """Python a student can paste to make this call again: its tensors written out when they
        are small, "" when there is nothing to add to `call_text` or a value cannot be written."""
        if self.function is None:
            return ""
        names, lines = [], []
        for i, value in enumerate([*self.args, *self.kwargs.values()]):
            code = _as_code(value)
            if code is None:
                return ""
            if code.startswith("torch."):
                name = f"x{i + 1}"
                lines.append(f"{name} = {code}")
                names.append(name)
            else:
                names.append(code)
        if not lines:
            return ""
        keys = [f"{k}=" for k in self.kwargs]
        positional = names[:len(self.args)]
        keyword = [k + n for k, n in zip(keys, names[len(self.args):], strict=True)]
        call = f"{self.function}({', '.join(positional + keyword)})"
        return "\n".join(["to reproduce:", "import torch", *lines, call])


MAX_REPRODUCED_ELEMENTS = 256


def _as_code(value: Any) -> str | None:
    """`value` as Python source, or None when it is not one that can be written out."""
    if type(value) in (int, float, bool, str, type(None)):
        return repr(value)
    if type(value) in (tuple, list) and all(type(v) in (int, float, bool, str) for v in value):
        return repr(value)
    if type(value).__module__ == "torch" and type(value).__name__ == "Tensor":
        if value.numel() > MAX_REPRODUCED_ELEMENTS or value.is_complex():
            return None
        return f"torch.tensor({_nested(value.tolist())}, dtype={value.dtype})"
    return None


def _nested(value: Any) -> str:
    """A tensor's values as a Python literal; floats with 9 significant digits (a float32 exactly)."""
    if isinstance(value, list):
        return "[" + ", ".join(_nested(v) for v in value) + "]"
    return f"{value:.9g}" if isinstance(value, float) else repr(value)


def _short_repr(value: Any) -> str:
    if isinstance(value, Ref):
        return value.step.rsplit(".", 1)[-1]
    shape = getattr(value, "shape", None)
    if shape is not None:
        dtype = str(getattr(value, "dtype", "")).replace("torch.", "")
        return f"<tensor {tuple(shape)} {dtype}>"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


@dataclass(frozen=True)
class Observation:
    """What happened when one step ran in the student's process."""

    step: str
    status: StepStatus
    value: Any = None
    type_name: str = ""
    error_type: str = ""
    error_bases: tuple[str, ...] = ()
    error_message: str = ""
    seconds: float = 0.0
    output: str = ""
    forbidden_calls: tuple[str, ...] = ()
    stop: StopKind | None = None  # the limit or stop that ended this step, when one did

    def raised(self, exception_name: str) -> bool:
        return self.status == "raised" and exception_name in (self.error_type, *self.error_bases)


@dataclass(frozen=True)
class Figure:
    """A picture for the report, e.g. a decision boundary: PNG bytes, or how to draw them from data
    the grader computed, drawn when first asked for (a summary on the terminal draws none)."""

    title: str
    source: bytes | Callable[[], bytes] = field(repr=False)
    caption: str = ""

    @functools.cached_property
    def png(self) -> bytes:
        return self.source if isinstance(self.source, bytes) else self.source()


@dataclass(frozen=True)
class Verdict:
    """A judge's decision on one check."""

    passed: bool
    message: str = ""
    figures: tuple[Figure, ...] = ()
    hints: tuple[str, ...] = ()
    """Known mistakes that explain a failure, in the course's words: chosen by the judge, so a
    hidden check may show them to the student (its message, with the inputs, it may not)."""


@dataclass(frozen=True)
class Evidence:
    """What a judge may look at: the observations of its steps, the trusted reference, and the
    submission's code cells as text (for rules read from the source, never executed here)."""

    observations: Mapping[str, Observation]
    reference: Mapping[str, Callable[..., Any]] | None = None
    source: tuple[str, ...] = ()

    def __getitem__(self, step: str) -> Observation:
        return self.observations[step]


Judge = Callable[[Evidence], Verdict]


@dataclass(frozen=True)
class Check:
    """One graded check: steps to run in the sandbox and a judge that runs in the grader."""

    id: str
    exercise: str
    steps: tuple[Step, ...]
    judge: Judge
    points: float = 1.0
    hidden: bool = False
    description: str = ""
    expects_raise: bool = False
    needs_reference: bool = False
    extra_steps: tuple[Step, ...] = ()
    """Steps run only for the judge's pictures (e.g. predictions on a grid): they cost no points."""


@dataclass(frozen=True)
class CheckResult:
    """The verdict on one check, as the result format of EXERCISES.md has it."""

    id: str
    exercise: str
    status: CheckStatus
    points: float
    max_points: float
    hidden: bool
    message: str = ""
    hints: tuple[str, ...] = ()

    @property
    def student_message(self) -> str:
        """The message as a student may see it: a hidden check shows the grader's verdict word and
        the judge's hints, never its inputs nor anything the student's process said."""
        if not self.hidden:
            return self.message
        verdict = {"skipped": "runs at grading time"}.get(self.status, self.status)
        return "\n".join([f"hidden check: {verdict}", *hint_lines(self.hints)])

    def to_json(self) -> dict[str, Any]:
        """The contract's result format, which students see: a hidden check's message is its
        student message (the staff's copy is `message`, kept in the batch's details)."""
        return {
            "id": self.id,
            "exercise": self.exercise,
            "status": self.status,
            "points": self.points,
            "max_points": self.max_points,
            "hidden": self.hidden,
            "message": self.student_message,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CheckResult:
        return cls(
            id=str(data["id"]),
            exercise=str(data["exercise"]),
            status=data["status"],
            points=float(data["points"]),
            max_points=float(data["max_points"]),
            hidden=bool(data["hidden"]),
            message=str(data.get("message", "")),
        )


def hint_lines(hints: tuple[str, ...]) -> list[str]:
    """Hints as the feedback shows them."""
    if len(hints) > 1:
        return ["hint: one of these known mistakes gives this answer:", *(f"  - {h}" for h in hints)]
    return [f"hint: {h}" for h in hints]


@dataclass(frozen=True)
class CellLog:
    """How one cell of the submission went when it was executed."""

    index: int
    status: CellStatus
    source_head: str = ""
    error: str = ""
    output: str = ""


@dataclass(frozen=True)
class GradeReport:
    """Everything one grading produced; `to_json` is exactly the contract's result format."""

    assignment: str
    submission: str
    status: Literal["graded", "error"]
    score: float
    max_score: float
    checks: tuple[CheckResult, ...]
    message: str = ""
    cells: tuple[CellLog, ...] = ()
    figures: tuple[Figure, ...] = ()
    timings: Mapping[str, float] = field(default_factory=dict)
    sandbox: str = ""
    limits_hit: tuple[str, ...] = ()
    retry: bool = False  # the grader failed, not the submission: a batch never counts it done (not in to_json)

    @property
    def all_passed(self) -> bool:
        ran = [c for c in self.checks if c.status != "skipped"]
        return self.status == "graded" and all(c.status == "passed" for c in ran)

    def to_json(self) -> dict[str, Any]:
        return {
            "assignment": self.assignment,
            "submission": self.submission,
            "status": self.status,
            "score": self.score,
            "max_score": self.max_score,
            "message": self.message,
            "checks": [c.to_json() for c in self.checks],
        }

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> GradeReport:
        return cls(
            assignment=str(data["assignment"]),
            submission=str(data["submission"]),
            status=data["status"],
            score=float(data["score"]),
            max_score=float(data["max_score"]),
            message=str(data.get("message", "")),
            checks=tuple(CheckResult.from_json(c) for c in data["checks"]),
        )
