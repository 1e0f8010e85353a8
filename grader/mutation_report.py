"""`grade validate NAME --mutants`: does every wrong variant of the reference lose marks on its
own exercise?

The mutants of grader/mutants.py are graded as instructors grade (hidden checks included), all
in one batch (`grade batch`'s warm sandboxes, in parallel), beside the unmutated reference
written the same way (it must score full marks, else no mutant can be judged). A mutant is

    killed     its exercise loses marks
    elsewhere  only other exercises lose marks (the student would be told the wrong exercise is wrong)
    survived   no check loses marks: a gap, unless reference/NAME/equivalent_mutants.toml
               declares it equivalent (it computes what the reference does), with the reason

An exercise's score is killed / (mutants - equivalent); the assignment declares its minimum in
its checks.py (`MUTATION_MINIMUM = 0.95`), met by every exercise or the exit code is 1. Training
assignments grade a seeded sample (`MUTATION_SAMPLE`, default DEFAULT_SAMPLE where an exercise is
`train`; `--sample N --seed S` on the command line, 0 for all).
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from .assignments import Assignment, public_checks
from .model import GradeReport
from .mutants import Equivalent, Mutant, generate, load_equivalents, module_text, sample, solution_cells

DEFAULT_SAMPLE = 25  # mutants of an assignment that trains, unless its checks.py says MUTATION_SAMPLE
Fate = Literal["killed", "elsewhere", "survived", "equivalent"]
REFERENCE = "@reference"


@dataclass(frozen=True)
class Settings:
    """What an assignment's checks.py declares: the minimum score, and how many mutants to grade."""

    minimum: float | None  # None: not declared
    sample: int  # 0: every mutant


def settings(assignment: Assignment) -> Settings:
    """MUTATION_MINIMUM and MUTATION_SAMPLE of the assignment's checks.py (by default a sample
    where the student trains a model, an exercise `train`: each mutant then trains)."""
    public = public_checks(assignment.name, assignment.folder.parent.parent)
    trains = "train" in assignment.exercises
    minimum = getattr(public, "MUTATION_MINIMUM", None)
    size = getattr(public, "MUTATION_SAMPLE", DEFAULT_SAMPLE if trains else 0)
    return Settings(None if minimum is None else float(minimum), int(size or 0))


@dataclass(frozen=True)
class Outcome:
    """What the checks did to one mutant."""

    mutant: Mutant
    fate: Fate
    losing: tuple[str, ...] = ()  # the exercises that lost marks
    equivalent: Equivalent | None = None


@dataclass(frozen=True)
class Tally:
    """One exercise's mutants by fate."""

    exercise: str
    counts: Mapping[Fate, int]

    @property
    def mutants(self) -> int:
        return sum(self.counts.values())

    @property
    def score(self) -> float:
        judged = self.mutants - self.counts.get("equivalent", 0)
        return self.counts.get("killed", 0) / judged if judged else 1.0


@dataclass(frozen=True)
class MutationRun:
    """A whole `--mutants` run: every outcome, what went wrong with the run itself, and its cost."""

    assignment: str
    outcomes: tuple[Outcome, ...]
    exercises: tuple[str, ...]
    settings: Settings
    generated: int  # before sampling
    seconds: float
    jobs: int
    problems: tuple[str, ...] = field(default=())

    def tallies(self) -> list[Tally]:
        rows = []
        for exercise in (*self.exercises, ""):
            mine = [o for o in self.outcomes if exercise in ("", o.mutant.exercise)]
            counts: dict[Fate, int] = {}
            for outcome in mine:
                counts[outcome.fate] = counts.get(outcome.fate, 0) + 1
            rows.append(Tally(exercise or "all", counts))
        return rows

    def below_minimum(self) -> list[Tally]:
        if self.settings.minimum is None:
            return []
        return [t for t in self.tallies()[:-1] if t.mutants and t.score < self.settings.minimum - 1e-9]

    @property
    def failed(self) -> bool:
        return bool(self.problems or self.below_minimum())


def fate(mutant: Mutant, report: GradeReport) -> tuple[Fate, tuple[str, ...]]:
    """Killed when its exercise loses marks, elsewhere when only others do, else survived."""
    losing = tuple(sorted({c.exercise for c in report.checks if c.status != "passed"}))
    if report.status != "graded" or mutant.exercise in losing:
        return "killed", losing
    return ("elsewhere" if losing else "survived"), losing


def run_mutants(assignment: Assignment, sandbox_name: str = "auto", jobs: int | None = None,
                sample_size: int | None = None, seed: int = 0) -> MutationRun:
    """Generate, sample, grade in one batch, and judge every mutant of the assignment's reference."""
    from .batch import default_jobs
    from .validate import grade_cases

    assert assignment.solution is not None and assignment.reference_folder is not None
    chosen = settings(assignment)
    size = chosen.sample if sample_size is None else sample_size
    cells = solution_cells(assignment.solution)
    every = generate(assignment.name, cells, assignment.exercises)
    mutants = sample(every, size, seed)
    equivalents = load_equivalents(assignment.reference_folder / "equivalent_mutants.toml")
    jobs = jobs or default_jobs()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="coursegrade-mutants-") as folder:
        files = {REFERENCE: Path(folder) / "reference.py"}
        files[REFERENCE].write_text(module_text(assignment.name, cells, ""))
        for i, mutant in enumerate(mutants):
            files[mutant.id] = Path(folder) / f"mutant{i:04d}.py"
            files[mutant.id].write_text(mutant.module)
        reports = grade_cases(assignment, list(files.items()), sandbox_name, jobs)
    seconds = time.monotonic() - started
    outcomes, problems = _judge(mutants, reports, equivalents)
    problems += _stale(every, equivalents)
    return MutationRun(assignment.name, tuple(outcomes), assignment.exercises, replace(chosen, sample=size),
                       len(every), seconds, jobs, tuple(problems))


def _judge(mutants: Sequence[Mutant], reports: Mapping[str, GradeReport],
           equivalents: Mapping[str, Equivalent]) -> tuple[list[Outcome], list[str]]:
    problems = []
    reference = reports.get(REFERENCE)
    if reference is None or reference.score != reference.max_score:
        failing = [c.id for c in reference.checks if c.status != "passed"] if reference else ["not graded"]
        problems.append(f"the reference, written as the mutants are, does not score full marks ({failing}): "
                        "no mutant can be judged")
    outcomes = []
    for mutant in mutants:
        if mutant.id not in reports:
            problems.append(f"{mutant.id} was not graded")
            continue
        how, losing = fate(mutant, reports[mutant.id])
        declared = equivalents.get(mutant.id)
        if declared is not None and how == "survived":
            how = "equivalent"
        elif declared is not None:
            problems.append(f"{mutant.id} is declared equivalent but loses marks on {list(losing)}: "
                            "it is not equivalent, remove it from equivalent_mutants.toml")
        outcomes.append(Outcome(mutant, how, losing, declared))
    return outcomes, problems


def _stale(every: Sequence[Mutant], equivalents: Mapping[str, Equivalent]) -> list[str]:
    known = {m.id for m in every}
    return [f"{e.id} is declared equivalent but no such mutant is generated (the reference changed? "
            "triage it again)" for e in equivalents.values() if e.id not in known]


# ---------------------------------------------------------------- the report


def render(run: MutationRun) -> str:
    """The table per exercise, whether the minimum is met, then every gap with its diff."""
    rate = len(run.outcomes) / run.seconds if run.seconds else 0.0
    sampled = (f", a sample of {len(run.outcomes)} of {run.generated} (seed given)"
               if len(run.outcomes) < run.generated else "")
    lines = [f"{run.assignment}: {len(run.outcomes)} mutants{sampled}, graded in {run.seconds:.0f} s "
             f"({rate:.2f} mutants/s, -j {run.jobs}, load average {os.getloadavg()[0]:.1f})", ""]
    lines.append(f"{'exercise':<28}{'mutants':>8}{'killed':>8}{'elsewhere':>10}{'equivalent':>11}"
                 f"{'survived':>9}{'score':>9}")
    for t in run.tallies():
        c = t.counts
        lines.append(f"{t.exercise:<28}{t.mutants:>8}{c.get('killed', 0):>8}{c.get('elsewhere', 0):>10}"
                     f"{c.get('equivalent', 0):>11}{c.get('survived', 0):>9}{100 * t.score:>8.1f}%")
    lines += ["", _minimum_line(run)]
    lines += [f"✗ {p}" for p in run.problems]
    equivalent = equivalents_listing(run)
    if equivalent:
        lines += ["", f"{len(equivalent)} declared equivalent (equivalent_mutants.toml):", *equivalent]
    gaps = [o for o in run.outcomes if o.fate in ("survived", "elsewhere")]
    if gaps:
        lines += ["", f"{len(gaps)} mutant(s) not caught by their own exercise:"]
    for outcome in gaps:
        lines += ["", *_gap(outcome)]
    return "\n".join(lines)


def _minimum_line(run: MutationRun) -> str:
    if run.settings.minimum is None:
        return "no minimum declared (MUTATION_MINIMUM in the assignment's checks.py)"
    wanted = f"minimum {100 * run.settings.minimum:g} % on every exercise"
    low = run.below_minimum()
    if not low:
        return f"{wanted}: met"
    return f"{wanted}: not met on " + ", ".join(f"{t.exercise} ({100 * t.score:.1f} %)" for t in low)


def _gap(outcome: Outcome) -> list[str]:
    mutant = outcome.mutant
    caught = f" (caught only on {', '.join(outcome.losing)})" if outcome.fate == "elsewhere" else ""
    return [f"{'survived' if outcome.fate == 'survived' else 'elsewhere'}: {mutant.id}{caught}",
            f"  in {mutant.where}: {mutant.change}",
            *("  " + line for line in mutant.diff().splitlines()),
            f"  how to catch it: {mutant.catch}"]


def equivalents_listing(run: MutationRun) -> list[str]:
    """The mutants declared equivalent, with their reasons (for the report's end)."""
    return [f"  {o.mutant.id}: {o.mutant.change} — {o.equivalent.reason}"
            for o in run.outcomes if o.equivalent is not None and o.fate == "equivalent"]
