"""`grade release NAME -o DIR`: what students receive, and nothing from `reference/`.

    DIR/README.md                       how to work and self-check
    DIR/<name>.ipynb                    the notebook to fill in (outputs cleared)
    DIR/assignments/<name>/checks.py    the public checks, so `grade` works from the release
    DIR/assignments/<name>/hidden.json  the hidden checks' ids and points (no inputs)
    DIR/assignments/<name>/template.ipynb
    DIR/.github/workflows/grade.yml     CI: grades the notebook on every push (assignments/ci/)
    DIR/requirements.txt                the grader, pinned, and torch's CPU build (CI and students)
    DIR/.gitignore                      reports and results are not committed
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from . import __version__
from .assignments import Assignment
from .errors import UsageError
from .files import OutputFolder

TORCH = "2.13.0"
CPU_WHEELS = "https://download.pytorch.org/whl/cpu"
REQUIREMENTS = """\
# What `grade` needs: `python -m pip install -r requirements.txt` (CI does the same).
# torch's CPU build: the default Linux build pulls several GB of CUDA libraries no check uses.
--extra-index-url {cpu_wheels}
torch=={torch}+cpu ; sys_platform != "darwin"
torch=={torch} ; sys_platform == "darwin"
{grader}
"""
GITIGNORE = """\
# written by `grade` and its CI: not part of your work
grade-results/
*.html
__pycache__/
.ipynb_checkpoints/
.venv/
"""

STUDENT_README = """\
# {title} (`{name}`)

Fill in `{name}.ipynb`: every function that says `raise NotImplementedError`. Keep the
function names and signatures exactly as they are — the grader calls them by name.

## Check your work

Install the grader once, in this folder (a virtual environment is a good idea):

```
python -m pip install -r requirements.txt
grade {name}.ipynb
```

Or, inside the notebook, in a cell of its own: `import grader; grader.check()` (all the public
checks, in about a second) or `grader.check("{first}")` (one exercise).

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


def grader_requirement(spec: str | None) -> str:
    """The pip requirement the release installs the grader from: `spec`, else this version."""
    return spec or f"coursegrade=={__version__}"


def build_release(assignment: Assignment, output: Path, grader_spec: str | None = None) -> list[Path]:
    """Write the student release of `assignment` into `output` (a new or empty folder); the files written."""
    with OutputFolder.open(output) as folder:
        if folder.names():
            raise UsageError(f"{output} is not empty; give a new folder for the release")
        return sorted(folder.write(name, data) for name, data in release_files(assignment, grader_spec).items())


def release_files(assignment: Assignment, grader_spec: str | None = None) -> dict[str, str | bytes]:
    """Each file of the release, by its name in the release's folder."""
    notebook = json.dumps(clean_notebook(assignment.template), indent=1, ensure_ascii=False) + "\n"
    public = f"assignments/{assignment.name}"
    files: dict[str, str | bytes] = {f"{assignment.name}.ipynb": notebook, f"{public}/template.ipynb": notebook}
    for name in ("checks.py", "hidden.json"):
        if (assignment.folder / name).is_file():
            files[f"{public}/{name}"] = (assignment.folder / name).read_bytes()
    workflow = assignment.folder.parent / "ci" / "grade.yml"
    if workflow.is_file():
        files[".github/workflows/grade.yml"] = workflow.read_text().replace("ASSIGNMENT.ipynb",
                                                                            f"{assignment.name}.ipynb")
    files["README.md"] = STUDENT_README.format(
        title=assignment.title, name=assignment.name, hidden=len(assignment.listed_hidden),
        hidden_points=sum(c.points for c in assignment.listed_hidden), first=assignment.exercises[0],
    )
    files["requirements.txt"] = REQUIREMENTS.format(cpu_wheels=CPU_WHEELS, torch=TORCH,
                                                    grader=grader_requirement(grader_spec))
    files[".gitignore"] = GITIGNORE
    return files
