"""Finding and loading assignments.

    <course>/assignments/<name>/template.ipynb   what students start from
    <course>/assignments/<name>/checks.py        public checks: TITLE, EXERCISES, CHECKS, LIMITS
    <course>/assignments/<name>/hidden.json      the hidden checks' ids and points (no inputs)
    <course>/reference/<name>/solution.ipynb     the reference solution (instructor only)
    <course>/reference/<name>/hidden_checks.py   hidden checks: CHECKS, and the hidden SEED

The course folder is $COURSEGRADE_ROOT, else the checkout the grader runs from, else the
current folder. Hidden checks are graded only where the reference folder is present.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import gc
import hashlib
import importlib.util
import json
import os
import stat
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from types import ModuleType
from typing import Any

from .errors import AssignmentError
from .limits import Limits
from .model import Check
from .submission import Submission

GRADER_PACKAGE = Path(__file__).resolve().parent  # the engine (sandbox.GRADER_PACKAGE: the same)


@dataclass(frozen=True)
class ListedCheck:
    """A hidden check as students may know it: its id, exercise and points."""

    id: str
    exercise: str
    points: float


def course_root(near: Path | None = None) -> Path:
    """The folder that holds `assignments/` (and, for instructors, `reference/`).

    $COURSEGRADE_ROOT, else the checkout the grader runs from; else (a grader installed from a
    package, as students have it) the nearest folder above `near` or the current folder that
    holds `assignments/` and is owned by whoever runs the grader (or root), e.g. a student release.
    The checkout comes first so that an instructor never loads checks found beside a student's
    file, and an `assignments/` folder another user owns (or a link) is passed by: root grading a
    student's folder with a packaged grader must not run checks the student planted there.
    """
    if os.environ.get("COURSEGRADE_ROOT"):
        return Path(os.environ["COURSEGRADE_ROOT"]).resolve()
    checkout = GRADER_PACKAGE.parent
    if (checkout / "assignments").is_dir():
        return checkout
    start = (near or Path.cwd()).resolve()
    for folder in (start, *start.parents):
        if _own_folder(folder / "assignments"):
            return folder
    return Path.cwd()


def _own_folder(path: Path) -> bool:
    """A real folder (not a link) that whoever runs the grader, or root, owns: checks found beside a
    submission are code the grader runs, and root grading a student's folder must not run theirs."""
    try:
        status = path.lstat()
    except OSError:
        return False
    owners = {0, os.geteuid()} if hasattr(os, "geteuid") else {status.st_uid}
    return stat.S_ISDIR(status.st_mode) and status.st_uid in owners


def known_assignments(root: Path | None = None) -> list[str]:
    folder = (root or course_root()) / "assignments"
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if (p / "checks.py").is_file())


def _load_module(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_public_modules: dict[tuple[Path, str], ModuleType] = {}


def public_checks(name: str, root: Path | None = None) -> ModuleType:
    """The public `checks.py` of an assignment, loaded once (hidden checks reuse its mistakes)."""
    key = ((root or course_root()).resolve(), name)
    if key not in _public_modules:
        path = key[0] / "assignments" / name / "checks.py"
        _public_modules[key] = _load_module(path, f"coursegrade_checks_{name.replace('-', '_')}")
    return _public_modules[key]


@dataclass(frozen=True)
class Assignment:
    """An assignment's checks and settings, with its hidden part when the reference is here."""

    name: str
    title: str
    folder: Path
    exercises: tuple[str, ...]
    checks: tuple[Check, ...]
    listed_hidden: tuple[ListedCheck, ...]
    limits: Limits
    seed: int
    warm_imports: tuple[str, ...]
    reference_folder: Path | None = None
    version: str = ""

    @property
    def has_reference(self) -> bool:
        return self.reference_folder is not None

    @property
    def template(self) -> Path:
        return self.folder / "template.ipynb"

    @property
    def solution(self) -> Path | None:
        return self.reference_folder / "solution.ipynb" if self.reference_folder else None

    @cached_property
    def reference(self) -> Mapping[str, Callable[..., Any]] | None:
        """The reference solution's functions: its cells tagged "solution", run here (trusted code)."""
        if self.solution is None:
            return None
        notebook = json.loads(self.solution.read_text())
        namespace: dict[str, Any] = {"__name__": f"coursegrade_reference_{self.name.replace('-', '_')}"}
        for cell in notebook["cells"]:
            if cell["cell_type"] == "code" and "solution" in cell.get("metadata", {}).get("tags", []):
                source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
                exec(compile(source, str(self.solution), "exec"), namespace)  # noqa: S102 - instructor code
        return namespace

    @property
    def max_score(self) -> float:
        graded = sum(c.points for c in self.checks)
        if not self.has_reference:
            graded += sum(c.points for c in self.listed_hidden)
        return graded


def load_assignment(name: str, root: Path | None = None, include_hidden: bool = True) -> Assignment:
    """The assignment called `name`; hidden checks only when asked and the reference is here."""
    with _collector_paused():
        return _load_assignment(name, root or course_root(), include_hidden)


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Loading checks imports torch and its kin: millions of objects and few cycles, which the cyclic
    collector would walk again and again (a tenth of the loading). It runs again afterwards. The
    first loading in a process also freezes what the imports made: the collector's first run would
    walk all of it at once (70 ms), and every full collection after it again (0.15-0.2 s each);
    frozen, it is never walked (nor written by a walk, in the workers forked later). Only the first:
    a later freeze would keep forever whatever garbage waits then (a test process loads many times)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        _freeze_once()
        if was_enabled:
            gc.enable()


@functools.cache
def _freeze_once() -> None:
    gc.freeze()


def _load_assignment(name: str, root: Path, include_hidden: bool) -> Assignment:
    known = known_assignments(root)
    if name not in known:
        raise AssignmentError.unknown(name, known)
    folder = root / "assignments" / name
    public = public_checks(name, root)
    reference_folder = root / "reference" / name
    hidden_file = reference_folder / "hidden_checks.py"
    checks: list[Check] = list(public.CHECKS)
    seed = int(getattr(public, "SEED", 0))
    if include_hidden and hidden_file.is_file():
        hidden = _load_module(hidden_file, f"coursegrade_hidden_{name.replace('-', '_')}")
        checks += [c for c in hidden.CHECKS]
        seed = int(getattr(hidden, "SEED", seed))
    else:
        reference_folder = None  # type: ignore[assignment]
    _validate(name, checks)
    listed = _listed_hidden(folder / "hidden.json")
    files = [folder / "checks.py", folder / "hidden.json", hidden_file, folder / "template.ipynb"]
    return Assignment(
        name=name,
        title=str(getattr(public, "TITLE", name)),
        folder=folder,
        exercises=tuple(public.EXERCISES),
        checks=tuple(checks),
        listed_hidden=listed,
        limits=getattr(public, "LIMITS", Limits()),
        seed=seed,
        warm_imports=tuple(getattr(public, "WARM_IMPORTS", ("torch",))),
        reference_folder=reference_folder,
        version=_version(files),
    )


def _validate(name: str, checks: list[Check]) -> None:
    ids = [c.id for c in checks]
    duplicates = {i for i in ids if ids.count(i) > 1}
    if duplicates:
        raise AssignmentError(f"{name}: check ids used twice: {sorted(duplicates)}")
    public_needing_reference = [c.id for c in checks if c.needs_reference and not c.hidden]
    if public_needing_reference:
        raise AssignmentError(f"{name}: public checks cannot use the reference: {public_needing_reference}")


def _listed_hidden(path: Path) -> tuple[ListedCheck, ...]:
    if not path.is_file():
        return ()
    listed = json.loads(path.read_text())
    return tuple(ListedCheck(str(c["id"]), str(c["exercise"]), float(c["points"])) for c in listed)


def hidden_listing(checks: tuple[Check, ...]) -> list[dict[str, Any]]:
    """What `hidden.json` must say for these checks (written by `grade validate --write-listing`)."""
    return [{"id": c.id, "exercise": c.exercise, "points": c.points} for c in checks if c.hidden]


def _version(files: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in files:
        if path.is_file():
            digest.update(path.read_bytes())
    for path in sorted(GRADER_PACKAGE.glob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _assigned(root: Path, name: str, variable: str) -> ast.expr | None:
    """The expression a checks.py assigns to `variable`, read without running it (it may import torch)."""
    tree = ast.parse((root / "assignments" / name / "checks.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == variable for t in node.targets):
            return node.value
    return None


def _exercise_names(root: Path, name: str) -> set[str]:
    """EXERCISES of a checks.py, read without running it."""
    value = _assigned(root, name, "EXERCISES")
    return set(ast.literal_eval(value)) if value is not None else set()


def sandbox_settings(root: Path, name: str) -> tuple[Limits, tuple[str, ...]] | None:
    """LIMITS and WARM_IMPORTS of a checks.py, read without running it, so that the student's
    sandbox can start while the checks load; None when they are not written as plain literals
    (`Limits(call_seconds=2, ...)` and a tuple of names)."""
    try:
        limits, warm = _assigned(root, name, "LIMITS"), _assigned(root, name, "WARM_IMPORTS")
        if not isinstance(limits, ast.Call) or getattr(limits.func, "id", "") != "Limits" or limits.args:
            return None
        values = {k.arg: ast.literal_eval(k.value) for k in limits.keywords if k.arg is not None}
        imports = tuple(ast.literal_eval(warm)) if warm is not None else ("torch",)
        return Limits(**values), imports
    except (OSError, SyntaxError, ValueError, TypeError):
        return None


def detect_assignment(submission: Submission, root: Path | None = None) -> str:
    """The assignment a submission declares, or the one whose function names it defines."""
    known = known_assignments(root)
    if submission.declared_assignment:
        if submission.declared_assignment not in known:
            raise AssignmentError.unknown(submission.declared_assignment, known)
        return submission.declared_assignment
    defined = submission.top_level_names()
    scores = {name: len(defined & _exercise_names(root or course_root(), name)) for name in known}
    best = max(scores.values(), default=0)
    winners = [n for n, s in scores.items() if s == best]
    if best == 0 or len(winners) != 1:
        raise AssignmentError.undetected(submission.path, known, submission.compile_problem)
    return winners[0]
