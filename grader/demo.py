"""`grade demo`: grade the bundled example submissions of every assignment, write reports."""

from __future__ import annotations

from pathlib import Path

from .assignments import course_root, known_assignments, load_assignment
from .errors import UsageError
from .grading import grade_file
from .sandbox import get_sandbox
from .text_report import render


def example_submissions(root: Path, assignment: str) -> list[Path]:
    """The reference, the template and the sample submissions kept in tests/submissions."""
    spec = load_assignment(assignment, root)
    samples = sorted((root / "tests" / "submissions" / assignment).glob("*.ipynb"))
    samples += sorted((root / "tests" / "submissions" / assignment).glob("*.py"))[:3]
    return [p for p in (spec.solution, spec.template, *samples) if p is not None and p.is_file()]


def run_demo(output: Path, sandbox_name: str = "auto") -> int:
    root = course_root()
    sandbox = get_sandbox(sandbox_name)
    assignments = known_assignments(root)
    if not assignments:
        raise UsageError(f"no assignments under {root / 'assignments'}")
    for assignment in assignments:
        folder = output / assignment
        folder.mkdir(parents=True, exist_ok=True)
        for path in example_submissions(root, assignment):
            report = grade_file(path, assignment, sandbox=sandbox, root=root)
            stem = {"solution": "reference", "template": "template"}.get(path.stem, path.stem)
            (folder / f"{stem}.json").write_text(report.dumps() + "\n")
            (folder / f"{stem}.txt").write_text(render(report) + "\n")
            print(f"{assignment:<20} {path.name:<28} {report.score:g} / {report.max_score:g}")
    print(f"reports written to {output}/")
    return 0
