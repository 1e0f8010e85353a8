"""`grade release NAME -o DIR`: what students receive, and nothing from `reference/`.

    DIR/README.md                       how to work and self-check
    DIR/<name>.ipynb                    the notebook to fill in (outputs cleared)
    DIR/assignments/<name>/checks.py    the public checks, so `grade` works from the release
    DIR/assignments/<name>/hidden.json  the hidden checks' ids and points (no inputs)
    DIR/assignments/<name>/template.ipynb
    DIR/.github/workflows/grade.yml     CI: grades the notebook on every push (assignments/ci/)
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from .assignments import Assignment
from .errors import UsageError

STUDENT_README = """\
# {title} (`{name}`)

Fill in `{name}.ipynb`: every function that says `raise NotImplementedError`. Keep the
function names and signatures exactly as they are — the grader calls them by name.

## Check your work

Install the grader once (your instructor tells you from where), then, in this folder:

```
grade {name}.ipynb
```

It runs your notebook in a separate process, calls your functions on the public checks'
inputs and prints, for each exercise, your points and, for each check that did not pass,
what was called, what came back and what was expected. `grade {name}.ipynb --report`
writes the same as an HTML page. Exit code 0 means every check that ran passed.

## Hidden checks

{hidden} more checks ({hidden_points:g} points) are hidden: they run when your work is graded,
on other inputs. They are listed as "runs at grading time". Passing the public checks is a
good sign, not a guarantee: test your functions on your own inputs too.
"""


def clean_notebook(path: Path) -> dict[str, Any]:
    """The notebook with every output and execution count removed."""
    notebook = json.loads(path.read_text())
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
    return notebook


def build_release(assignment: Assignment, output: Path) -> list[Path]:
    """Write the student release of `assignment` into `output`; the files written."""
    if output.exists() and any(output.iterdir()):
        raise UsageError(f"{output} is not empty; give a new folder for the release")
    public = output / "assignments" / assignment.name
    public.mkdir(parents=True)
    notebook = json.dumps(clean_notebook(assignment.template), indent=1, ensure_ascii=False) + "\n"
    (output / f"{assignment.name}.ipynb").write_text(notebook)
    (public / "template.ipynb").write_text(notebook)
    for name in ("checks.py", "hidden.json"):
        if (assignment.folder / name).is_file():
            shutil.copyfile(assignment.folder / name, public / name)
    workflow = assignment.folder.parent / "ci" / "grade.yml"
    if workflow.is_file():
        (output / ".github" / "workflows").mkdir(parents=True)
        text = workflow.read_text().replace("ASSIGNMENT.ipynb", f"{assignment.name}.ipynb")
        (output / ".github" / "workflows" / "grade.yml").write_text(text)
    (output / "README.md").write_text(STUDENT_README.format(
        title=assignment.title, name=assignment.name, hidden=len(assignment.listed_hidden),
        hidden_points=sum(c.points for c in assignment.listed_hidden),
    ))
    return sorted(p for p in output.rglob("*") if p.is_file())
