"""Loading submissions: a malformed notebook or an odd file is a one-line usage error (exit 2)
through the real `grade` command and an error row in a batch, never a traceback or a hang;
notebooks as Jupyter writes them, of every nbformat 4 minor version, keep loading."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest

from grader.errors import SubmissionError
from grader.submission import MAX_NESTING, Submission, load_submission, nesting_depth

from .conftest import ROOT, SUBMISSIONS

GOOD: dict[str, Any] = {
    "nbformat": 4, "nbformat_minor": 5, "metadata": {"coursegrade": {"assignment": "conv-arithmetic"}},
    "cells": [
        {"cell_type": "markdown", "id": "m", "metadata": {}, "source": "# Work"},
        {"cell_type": "code", "id": "c", "metadata": {}, "execution_count": None, "outputs": [],
         "source": ["def f(x):\n", "    return x\n"]},
    ],
}


def _notebook(change: Any) -> str:
    data = copy.deepcopy(GOOD)
    change(data)
    return json.dumps(data)


def _deep(levels: int) -> str:
    return json.dumps({**GOOD, "metadata": {}})[:-1] + ', "x": ' + "[" * levels + "]" * levels + "}"


MALFORMED: dict[str, tuple[str | bytes, str]] = {
    "deep_for_json": (_deep(5000), f"nested more than {MAX_NESTING} levels deep"),
    "deep": (_deep(MAX_NESTING + 5), f"nested more than {MAX_NESTING} levels deep"),
    "top_level_list": (json.dumps([GOOD]), "the top level holds a list, not an object"),
    "top_level_text": (json.dumps("notebook"), "the top level holds text, not an object"),
    "nbformat_3": (_notebook(lambda d: d.update(nbformat=3)), "nbformat 3; version 4 is needed"),
    "nbformat_text": (_notebook(lambda d: d.update(nbformat="4")), "nbformat '4'; version 4 is needed"),
    "no_cells": (_notebook(lambda d: d.pop("cells")), "no list of cells"),
    "cells_object": (_notebook(lambda d: d.update(cells={"0": {}})), "cells holds an object, not a list"),
    "cell_text": (_notebook(lambda d: d["cells"].append("print(1)")), "cell 3 holds text, not an object"),
    "cell_type_number": (_notebook(lambda d: d["cells"][1].update(cell_type=1)),
                         "cell 2: cell_type holds a number, not text"),
    "cell_type_missing": (_notebook(lambda d: d["cells"][0].pop("cell_type")),
                          "cell 1: cell_type holds null, not text"),
    "source_number": (_notebook(lambda d: d["cells"][1].update(source=3)), "cell 2: source holds a number, not text"),
    "markdown_source_object": (_notebook(lambda d: d["cells"][0].update(source={"a": 1})),
                               "cell 1: source holds an object, not text"),
    "source_list_of_numbers": (_notebook(lambda d: d["cells"][1].update(source=["x = 1\n", 2])),
                               "cell 2: source is a list holding a number, not only text"),
    "source_list_with_null": (_notebook(lambda d: d["cells"][1].update(source=[None])),
                              "cell 2: source is a list holding null, not only text"),
    "source_nul": (_notebook(lambda d: d["cells"][1].update(source="x = 1\0")), "cell 2: source holds a NUL"),
    "source_surrogate": (_notebook(lambda d: d["cells"][1].update(source="x = '\ud800'")),
                         "cell 2: source holds a lone surrogate"),
    "metadata_list": (_notebook(lambda d: d.update(metadata=[])), "metadata holds a list, not an object"),
    "cell_metadata_text": (_notebook(lambda d: d["cells"][1].update(metadata="x")),
                           "cell 2: metadata holds text, not an object"),
    "not_json": ("{'cells': []}", "not valid JSON"),
    "nul_bytes": (b'{"nbformat": 4,\0 "cells": []}', "holds NUL bytes"),
    "latin1": ('{"nbformat": 4, "cells": [], "x": "café"}'.encode("latin-1"), "is not UTF-8 text"),
}


def _write(folder: Path, name: str, content: str | bytes) -> Path:
    path = folder / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def _one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("grade: error: "), done.stderr
    return lines[0]


@pytest.mark.parametrize("kind", sorted(MALFORMED))
def test_malformed_notebook_raises_a_submission_error_naming_the_problem(kind: str, tmp_path: Path) -> None:
    content, problem = MALFORMED[kind]
    with pytest.raises(SubmissionError, match=problem.replace("(", r"\(")):
        load_submission(_write(tmp_path, f"{kind}.ipynb", content))


@pytest.mark.parametrize("kind", sorted(MALFORMED))
def test_malformed_notebook_is_a_one_line_usage_error_through_the_cli(kind: str, run_grade, tmp_path: Path) -> None:
    content, problem = MALFORMED[kind]
    path = _write(tmp_path, f"{kind}.ipynb", content)
    line = _one_error_line(run_grade(str(path), timeout=120))
    assert str(path) in line and problem in line


def test_a_python_module_python_cannot_read_loads_with_nothing_to_run_and_the_reason(tmp_path: Path) -> None:
    """NUL bytes or bytes that are not UTF-8 are the student's code being broken (`python nul.py` says
    SyntaxError): the module is graded with no cell and the reason (tests/test_bad_input.py, for real)."""
    nul = load_submission(_write(tmp_path, "nul.py", b"def f():\n    return 1\0\n"))
    assert nul.cells == () and "line 2 holds a NUL byte" in nul.compile_problem
    latin = load_submission(_write(tmp_path, "latin.py", "s = 'café'\n".encode("latin-1")))
    assert latin.cells == () and "line 1 is not UTF-8 text (byte 0xe9)" in latin.compile_problem


def test_a_fifo_is_refused_without_hanging(run_grade, tmp_path: Path) -> None:
    fifo = tmp_path / "work.ipynb"
    os.mkfifo(fifo)
    line = _one_error_line(run_grade(str(fifo), timeout=60))
    assert "is not a regular file (a FIFO)" in line
    with pytest.raises(SubmissionError, match="a FIFO"):
        load_submission(fifo)


def test_a_device_is_refused_and_a_link_to_a_notebook_is_followed(tmp_path: Path) -> None:
    device = tmp_path / "null.py"
    device.symlink_to("/dev/null")
    with pytest.raises(SubmissionError, match="not a regular file .a character device"):
        load_submission(device)
    link = tmp_path / "link.ipynb"
    link.symlink_to(SUBMISSIONS / "conv-arithmetic" / "correct.ipynb")
    assert load_submission(link).declared_assignment == "conv-arithmetic"


OTHER_UID = 54321  # a student: neither root nor the user running the tests


def _classmates(tmp_path: Path) -> tuple[Path, Path]:
    """class/alice (Alice's folder, hers) and class/bob/hw.ipynb (Bob's work, 0o600: his and root's)."""
    alice, bob = tmp_path / "class" / "alice", tmp_path / "class" / "bob"
    alice.mkdir(parents=True)
    bob.mkdir()
    os.chown(alice, OTHER_UID, OTHER_UID)
    (bob / "hw.ipynb").write_text(json.dumps(GOOD))
    os.chmod(bob / "hw.ipynb", 0o600)
    return alice, bob


def _students_link(link: Path, target: Path) -> Path:
    link.symlink_to(target)
    os.lchown(link, OTHER_UID, OTHER_UID)
    return link


@pytest.mark.skipif(os.geteuid() != 0, reason="a link another user owns needs root to make")
def test_a_students_link_to_a_classmates_work_is_not_followed(run_grade, tmp_path: Path) -> None:
    """Graded as root, Alice's file is a link to Bob's work (or her folder, to his): the grader
    follows only its own and root's links, so it reads neither Bob's work nor his grade for her."""
    alice, bob = _classmates(tmp_path)
    as_file = _students_link(alice / "hw.ipynb", bob / "hw.ipynb")
    with pytest.raises(SubmissionError, match=f"hw.ipynb is a link another user \\(uid {OTHER_UID}\\) owns"):
        load_submission(as_file)
    line = _one_error_line(run_grade(str(as_file), timeout=120))
    assert f"a link another user (uid {OTHER_UID}) owns" in line
    as_folder = _students_link(alice / "work", bob)
    with pytest.raises(SubmissionError, match="work is a link another user"):
        load_submission(as_folder / "hw.ipynb")


@pytest.mark.skipif(os.geteuid() != 0, reason="a link another user owns needs root to make")
def test_a_file_swapped_for_a_link_after_the_batch_listed_it_is_not_followed(tmp_path: Path) -> None:
    """The batch lists Alice's file, then she swaps it for a link to Bob's (a shared folder, a
    student still logged in): the file is read by the same rule when it is graded."""
    from grader.assignments import load_assignment
    from grader.intake import read_export
    from grader.pool import load_file

    alice, bob = _classmates(tmp_path)
    (alice / "hw.ipynb").write_text(json.dumps(GOOD))
    listed = {e.student: e for e in read_export(tmp_path / "class").entries}["alice"]
    assert not listed.problem
    (alice / "hw.ipynb").unlink()
    _students_link(alice / "hw.ipynb", bob / "hw.ipynb")
    report = load_file(listed.files[0], load_assignment("conv-arithmetic", ROOT, include_hidden=False))
    assert not isinstance(report, Submission) and "a link another user" in report.checks[0].message
    assert {e.student: e for e in read_export(tmp_path / "class").entries}["alice"].problem == (
        f"hw.ipynb is a symbolic link another user (uid {OTHER_UID}) made; submit the file itself")


def test_a_hostile_file_name_stays_one_visible_line(run_grade, tmp_path: Path) -> None:
    path = _write(tmp_path, "bad\nname\x1b]0;pwned\x07.ipynb", "[]")
    line = _one_error_line(run_grade(str(path), timeout=120))
    assert "bad\\nname\\x1b]0;pwned\\x07.ipynb" in line and "\x1b" not in line


def test_nesting_depth_is_measured_without_recursion() -> None:
    assert nesting_depth(1, 10) == 0 and nesting_depth([], 10) == 1 and nesting_depth({"a": [1, {}]}, 10) == 3
    deep: list[Any] = []
    for _ in range(100_000):
        deep = [deep]
    assert nesting_depth(deep, 100) == 101


def _jupyter_notebook(minor: int) -> str:
    """A notebook as Jupyter writes it: every cell kind, outputs of many shapes, attachments."""
    v4 = nbformat.v4
    code = v4.new_code_cell("import math\n\ndef f(x):\n    return math.floor(x)\n", execution_count=1, outputs=[
        v4.new_output("stream", name="stdout", text="hello\n"),
        v4.new_output("display_data", data={"image/png": "iVBORw0KGgo=", "text/plain": ["<Figure>"]},
                      metadata={"image/png": {"width": 10}}),
        v4.new_output("execute_result", data={"application/json": {"a": [[[1]]]}}, execution_count=1),
        v4.new_output("error", ename="ValueError", evalue="x", traceback=["\x1b[31mValueError\x1b[0m"]),
    ])
    markdown = v4.new_markdown_cell("![a](attachment:a.png)",
                                    attachments={"a.png": {"image/png": "iVBORw0KGgo="}})
    notebook = v4.new_notebook(cells=[markdown, code, v4.new_raw_cell("raw"), v4.new_code_cell("")],
                               metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                        "language": "python"},
                                         "widgets": {"state": {"k": {"deep": [[[[[[1]]]]]]}}}})
    data = json.loads(nbformat.writes(notebook))
    data["nbformat_minor"] = minor
    if minor < 5:
        for cell in data["cells"]:
            cell.pop("id", None)
    data["cells"][1]["outputs"].append({"output_type": "made_up", "anything": [1, "two", None]})
    return json.dumps(data, indent=1, ensure_ascii=False)


@pytest.mark.parametrize("minor", range(6))
def test_notebooks_as_jupyter_writes_them_load(minor: int, tmp_path: Path) -> None:
    submission = load_submission(_write(tmp_path, f"v4.{minor}.ipynb", _jupyter_notebook(minor)))
    assert len(submission.cells) == 2 and "def f(x)" in submission.cells[0]
    assert submission.top_level_names() == {"f"}


def test_every_notebook_in_the_course_loads() -> None:
    notebooks = [p for p in ROOT.glob("**/*.ipynb")
                 if "not_a_notebook" not in p.name and not {".venv", "hostile"} & set(p.parts)]
    assert len(notebooks) >= 5
    for path in notebooks:
        load_submission(path)


def test_a_batch_makes_a_malformed_notebook_an_error_row(tmp_path: Path) -> None:
    folder, output = tmp_path / "class", tmp_path / "reports"
    folder.mkdir()
    (folder / "correct.ipynb").write_bytes((SUBMISSIONS / "conv-arithmetic" / "correct.ipynb").read_bytes())
    _write(folder, "broken.ipynb", MALFORMED["source_number"][0])
    done = subprocess.run([sys.executable, "-m", "grader", "batch", str(folder), "-a", "conv-arithmetic",
                           "-o", str(output), "-j", "2"],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    broken = json.loads((output / "results" / "broken.json").read_text())
    assert broken["status"] == "error" and broken["score"] == 0
    assert "cell 2: source holds a number, not text" in broken["message"]
    correct = json.loads((output / "results" / "correct.json").read_text())
    assert correct["status"] == "graded" and correct["score"] == correct["max_score"] > 0
