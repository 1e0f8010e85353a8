"""`grade demo`: grade the bundled example submissions of every assignment as a batch.

Each assignment's reference, template and sample submissions are graded with the batch
machinery, so reports/demo/<assignment>/ holds what an instructor gets from `grade batch`:
a report per student (HTML), results/<student>.json, gradebook.csv and summary.html.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from .assignments import course_root, known_assignments, load_assignment
from .batch import BatchConfig, default_jobs, run_batch, summary_line
from .errors import AssignmentError, UsageError


def example_submissions(root: Path, assignment: str) -> list[Path]:
    """The reference, the template and the sample submissions kept in tests/submissions."""
    spec = load_assignment(assignment, root)
    samples = sorted((root / "tests" / "submissions" / assignment).glob("*.ipynb"))
    samples += sorted((root / "tests" / "submissions" / assignment).glob("*.py"))[:3]
    return [p for p in (spec.solution, spec.template, *samples) if p is not None and p.is_file()]


def _stage(paths: list[Path], folder: Path) -> None:
    """Copy the examples into a class folder, named as students would be."""
    for path in paths:
        stem = {"solution": "reference", "template": "template"}.get(path.stem, path.stem)
        shutil.copy(path, folder / f"{stem}{path.suffix}")


def run_demo(output: Path, sandbox_name: str = "auto", jobs: int | None = None,
             only: list[str] | None = None) -> int:
    root = course_root()
    assignments = known_assignments(root)
    if not assignments:
        raise UsageError(f"no assignments under {root / 'assignments'}")
    for name in only or ():
        if name not in assignments:
            raise AssignmentError.unknown(name, assignments)
    assignments = only or assignments
    jobs = jobs or default_jobs()
    for name in assignments:
        with tempfile.TemporaryDirectory(prefix="coursegrade-demo-") as staging:
            _stage(example_submissions(root, name), Path(staging))
            config = BatchConfig(Path(staging), load_assignment(name, root), output / name, jobs, sandbox_name)
            print(f"{name}: {summary_line(run_batch(config), config)}")
    print(f"open {output}/<assignment>/summary.html for each class summary")
    return 0
