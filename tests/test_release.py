"""Releases hold nothing from reference/, and a student with only a release and the grader
package can self-check; `grade validate` finds checks that cannot pass or cannot fail."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from grader.assignments import known_assignments, load_assignment
from grader.release import build_release

from .conftest import ROOT, SUBMISSIONS


def _text_lines(folder: Path) -> set[str]:
    lines: set[str] = set()
    for path in folder.rglob("*"):
        if path.is_file() and "__pycache__" not in path.parts:
            text = path.read_text(errors="replace")
            if path.suffix == ".ipynb":
                text = "\n".join("".join(c["source"]) if isinstance(c["source"], list) else c["source"]
                                 for c in json.loads(text)["cells"])
            lines |= {line.strip() for line in text.splitlines() if len(line.strip()) >= 12}
    return lines


@pytest.mark.parametrize("name", known_assignments())
def test_release_contains_no_reference_artefact(name: str, tmp_path: Path) -> None:
    assignment = load_assignment(name)
    written = build_release(assignment, tmp_path / "release")
    reference = ROOT / "reference" / name
    secret_lines = {line for line in _text_lines(reference) - _text_lines(assignment.folder)
                    if not line.startswith(("from grader", "import grader"))}  # the grader's own names are public
    released = "\n".join(p.read_text(errors="replace") for p in written)
    leaks = [line for line in secret_lines if line in released]
    assert not leaks, leaks[:5]
    released_names = {p.name for p in written}
    assert not released_names & {p.name for p in reference.rglob("*") if p.is_file()} - {"template.ipynb"}
    assert "reference" not in {part for p in written for part in p.relative_to(tmp_path).parts}
    for notebook in (p for p in written if p.suffix == ".ipynb"):
        cells = json.loads(notebook.read_text())["cells"]
        assert all(c.get("outputs", []) == [] for c in cells if c["cell_type"] == "code")


def _installed_grader(tmp_path: Path) -> dict[str, str]:
    """An environment where only the grader package is importable, as after `pip install`."""
    site = tmp_path / "site"
    shutil.copytree(ROOT / "grader", site / "grader", ignore=shutil.ignore_patterns("__pycache__"))
    return {**os.environ, "PYTHONPATH": str(site), "COURSEGRADE_ROOT": ""}


def test_self_check_from_a_release_with_only_the_grader(tmp_path: Path) -> None:
    release = tmp_path / "release"
    build_release(load_assignment("conv-arithmetic"), release)
    shutil.copyfile(ROOT / "reference" / "conv-arithmetic" / "solution.ipynb", release / "mywork.ipynb")
    env = _installed_grader(tmp_path)

    def grade(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "grader", *args], cwd=release, env=env,
                              capture_output=True, text=True, timeout=300)

    done = grade("mywork.ipynb", "--format", "json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    skipped = [c for c in result["checks"] if c["status"] == "skipped"]
    assert skipped and all(c["hidden"] and "runs at grading time" in c["message"] for c in skipped)
    assert all(c["status"] == "passed" for c in result["checks"] if not c["hidden"])
    template = grade("conv-arithmetic.ipynb")
    assert template.returncode == 1 and "run at grading time" in template.stdout


def test_validate_passes_on_a_sound_assignment(run_grade, tmp_path: Path) -> None:
    """The command, on the reference, the template and two samples (tests/test_corpus.py holds
    every sample to its expected outcome)."""
    samples = tmp_path / "conv-arithmetic"
    samples.mkdir()
    expected = json.loads((SUBMISSIONS / "conv-arithmetic" / "expected.json").read_text())
    kept = {name: expected[name] for name in ("correct_module.py", "floor_not_ceil.py")}
    (samples / "expected.json").write_text(json.dumps(kept))
    for name in kept:
        shutil.copyfile(SUBMISSIONS / "conv-arithmetic" / name, samples / name)
    done = run_grade("validate", "conv-arithmetic", "--samples", str(tmp_path), timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "valid" in done.stdout


def test_validate_finds_checks_that_cannot_pass_or_cannot_fail(run_grade, tmp_path: Path) -> None:
    for folder in ("assignments", "reference"):
        shutil.copytree(ROOT / folder / "conv-arithmetic", tmp_path / folder / "conv-arithmetic")
    checks = tmp_path / "assignments" / "conv-arithmetic" / "checks.py"
    checks.write_text(checks.read_text() + "\nCHECKS.append(returns('wrong', 'conv_params', 3, 1, 1, expect=11))\n")
    template = tmp_path / "assignments" / "conv-arithmetic" / "template.ipynb"
    notebook = json.loads(template.read_text())
    for cell in notebook["cells"]:
        source = "".join(cell["source"])
        if "def fully_connected_params" in source:
            cell["source"] = source.replace("raise NotImplementedError", "return n_inputs * n_hidden", 1)
    template.write_text(json.dumps(notebook))
    done = run_grade("validate", "conv-arithmetic", env={**os.environ, "COURSEGRADE_ROOT": str(tmp_path)})
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert any("cannot pass" in line and "conv_params/wrong does not pass" in line for line in lines)
    assert any("cannot fail" in line and "fully_connected_params/slides passes" in line for line in lines)
    assert "hidden.json" not in done.stdout


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _fresh_virtualenv(folder: Path) -> Path:
    """A new virtualenv holding this one's installed packages (hard links where it can, so torch is
    not copied again), so that pip resolves the release's requirements for real against them."""
    subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True)
    ours = sysconfig.get_paths()["purelib"]
    theirs = folder / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
    shutil.copytree(ours, theirs, copy_function=_link_or_copy, dirs_exist_ok=True, symlinks=True,
                    ignore=shutil.ignore_patterns("pip", "pip-*", "__pycache__"))
    return folder / "bin"


def test_the_release_workflow_installs_and_grades_as_written(tmp_path: Path) -> None:
    """The workflow's own commands, run in a fresh virtualenv: `pip install -r requirements.txt`
    installs the grader the release pins (here: this checkout), then the Grade step fails on the
    template and passes on the reference. PyTorch's CPU index is unreachable here (PIP_RETRIES=0
    makes pip give up on it at once); torch 2.13.0+cpu is taken as installed."""
    import yaml

    repo = tmp_path / "repo"
    build_release(load_assignment("conv-arithmetic"), repo, grader_spec=f"coursegrade @ {ROOT.as_uri()}")
    job = yaml.safe_load((repo / ".github" / "workflows" / "grade.yml").read_text())["jobs"]["grade"]
    steps = {step.get("name"): step["run"] for step in job["steps"] if "run" in step}
    env = {**os.environ, "NOTEBOOK": job["env"]["NOTEBOOK"], "PIP_RETRIES": "0",
           "PATH": f"{_fresh_virtualenv(tmp_path / 'venv')}:{os.environ['PATH']}"}
    env.pop("PYTHONPATH", None)

    def run_step(name: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["bash", "-e", "-c", steps[name]], cwd=repo, env=env,
                              capture_output=True, text=True, timeout=600)

    installed = run_step("Install the grader")
    assert installed.returncode == 0, installed.stdout[-2000:] + installed.stderr[-2000:]
    where = subprocess.run(["python", "-c", "import grader; print(grader.__file__)"], cwd=repo, env=env,
                           capture_output=True, text=True, check=True).stdout
    assert where.startswith(str(tmp_path / "venv")), where  # the grader pip installed, not this checkout
    untouched = run_step("Grade")
    assert untouched.returncode == 1, untouched.stderr
    written = {p.name for p in (repo / "grade-results").iterdir()}
    assert {"result.json", "junit.xml", "results.json", "report.html"} <= written
    shutil.copyfile(ROOT / "reference" / "conv-arithmetic" / "solution.ipynb", repo / job["env"]["NOTEBOOK"])
    solved = run_step("Grade")
    assert solved.returncode == 0, solved.stdout + solved.stderr
    assert json.loads((repo / "grade-results" / "result.json").read_text())["status"] == "graded"


def test_a_release_is_a_ready_repository(tmp_path: Path) -> None:
    """The workflow as hosted runners run it: pip's cache keyed on a requirements file that
    exists, the grader pinned, torch's CPU build from PyTorch's CPU index, results not committed."""
    import yaml
    from packaging.requirements import Requirement

    repo = tmp_path / "repo"
    spec = "coursegrade @ git+https://git.example.edu/dnn/coursegrade@v0.1.0"
    build_release(load_assignment("conv-pooling"), repo, grader_spec=spec)
    steps = yaml.safe_load((repo / ".github" / "workflows" / "grade.yml").read_text())["jobs"]["grade"]["steps"]
    python = next(s for s in steps if str(s.get("uses", "")).startswith("actions/setup-python"))
    assert python["with"]["cache"] == "pip" and (repo / python["with"]["cache-dependency-path"]).is_file()
    install = next(s for s in steps if s.get("name") == "Install the grader")["run"]
    assert "-r requirements.txt" in install and "COURSEGRADE_SPEC" not in install
    lines = [line for line in (repo / "requirements.txt").read_text().splitlines() if line and line[0] != "#"]
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in lines
    requirements = [Requirement(line) for line in lines if not line.startswith("--")]
    torch = {str(r.marker): str(r.specifier) for r in requirements if r.name == "torch"}
    assert torch == {'sys_platform != "darwin"': "==2.13.0+cpu", 'sys_platform == "darwin"': "==2.13.0"}
    assert [str(r) for r in requirements if r.name == "coursegrade"] == [spec]
    ignored = (repo / ".gitignore").read_text().splitlines()
    assert "grade-results/" in ignored and "*.html" in ignored
    assert "grader.check()" in (repo / "README.md").read_text()
