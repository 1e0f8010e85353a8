"""Bad input, as a new user or an instructor meets it, through the real `grade` command: a clear
one-line message on stderr and exit code 2 (a usage or input error), never a traceback and never a
silent success; a student's broken code is graded (a report), not refused; and an interrupted batch
loses nothing already graded: a rerun resumes."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import ROOT, SUBMISSIONS, process_runs, waited_for

ASSIGNMENT = "conv-arithmetic"  # the quick one
CORRECT_NOTEBOOK = SUBMISSIONS / ASSIGNMENT / "correct.ipynb"
CORRECT_MODULE = SUBMISSIONS / ASSIGNMENT / "correct_module.py"
WRONG_MODULE = SUBMISSIONS / ASSIGNMENT / "floor_not_ceil.py"
WAITING = f"cg-bad-{os.getpid() % 100000}"  # the name a waiting notebook's process takes
ROSTER = ("Student,ID,SIS User ID,SIS Login ID,Section\n"
          "Alice A,1,S1,alice,X\nBob B,2,S2,bob,X\n")


def one_error_line(done: subprocess.CompletedProcess[str], *words: str) -> str:
    """The one line a usage or input error is (exit 2), which says `words`."""
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("grade") and "error: " in lines[0], done.stderr
    for word in words:
        assert word in lines[0], (word, lines[0])
    return lines[0]


def waiting_notebook(seconds: int = 60) -> dict:
    """correct.ipynb whose first cell names its process WAITING, then sleeps."""
    notebook = json.loads(CORRECT_NOTEBOOK.read_text())
    notebook["cells"].insert(0, {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
                                 "source": f"import time\nwith open('/proc/self/comm', 'w') as f:\n"
                                           f"    f.write({WAITING!r})\ntime.sleep({seconds})"})
    return notebook


def started(*args: str, **kwargs) -> subprocess.Popen[str]:
    """`grade ARGS` started with Ctrl-C's default meaning, as in a terminal."""
    return subprocess.Popen([sys.executable, "-m", "grader", *args], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL), **kwargs)


# ---------------------------------------------------------------- the student's code is broken: a report


def test_a_module_python_cannot_read_is_graded_and_says_why(run_grade, tmp_path: Path) -> None:
    """`python nul.py` is a SyntaxError: the student's code is broken, the grader read it well."""
    nul = tmp_path / "nul.py"
    nul.write_bytes(CORRECT_MODULE.read_bytes().replace(b"import math\n", b"import math\0\n", 1))
    latin = tmp_path / "latin.py"
    latin.write_bytes(CORRECT_MODULE.read_bytes() + "\nname = 'Jörg'\n".encode("latin-1"))
    for path, why in ((nul, "holds a NUL byte"), (latin, "is not UTF-8 text (byte 0xf6)")):
        done = run_grade(str(path), "-a", ASSIGNMENT, "--no-hidden", "--format", "json")
        assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
        result = json.loads(done.stdout)
        assert result["status"] == "graded" and result["score"] == 0
        assert "Python cannot read this module, so none of it ran" in result["message"] and why in result["message"]


def test_a_module_with_a_bom_or_a_coding_line_is_read_as_python_reads_it(run_grade, tmp_path: Path) -> None:
    """Windows' Notepad saves UTF-8 with a BOM; PEP 263 lets a module declare its encoding."""
    from grader.submission import load_submission

    bom = tmp_path / "bom.py"
    bom.write_bytes(b"\xef\xbb\xbf" + CORRECT_MODULE.read_bytes())
    declared = tmp_path / "declared.py"
    declared.write_bytes(b"# -*- coding: latin-1 -*-\n" + CORRECT_MODULE.read_bytes()
                         + "s = 'Jörg'\n".encode("latin-1"))
    assert not load_submission(bom).cells[0].startswith("\ufeff")
    assert "s = 'Jörg'" in load_submission(declared).source
    done = run_grade(str(bom), "-a", ASSIGNMENT, "--no-hidden")
    assert done.returncode == 0 and "16 of 16 checks passed" in done.stdout, done.stdout + done.stderr


def test_a_module_with_a_syntax_error_is_graded_without_naming_its_assignment(run_grade, tmp_path: Path) -> None:
    broken = tmp_path / "broken.py"
    broken.write_text(CORRECT_MODULE.read_text().replace("def conv_params(n, c_in, c_out, bias=True):",
                                                         "def conv_params(n, c_in, c_out, bias=True)"))
    done = run_grade(str(broken), "--no-hidden")
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert done.stdout.startswith(f"{ASSIGNMENT} · ") and "SyntaxError" in done.stdout


# ---------------------------------------------------------------- the grader cannot read it: one line, exit 2


def _notebook_without_source() -> str:
    notebook = json.loads(CORRECT_NOTEBOOK.read_text())
    del notebook["cells"][1]["source"]
    return json.dumps(notebook)


@pytest.mark.parametrize(("content", "words"), [
    ("", ("is not a Jupyter notebook (the file is empty)",)),
    (_notebook_without_source(), ("is not a Jupyter notebook (cell 2 has no source)",)),
    (bytes(range(256)) * 4, ("holds NUL bytes",)),
    ('{"nbformat": 4, "cells": [', ("not valid JSON",)),
    ('{"nbformat": 3, "cells": []}', ("nbformat 3; version 4 is needed",)),
    ('{"nbformat": 4, "cells": [{"cell_type": "code", "source": 7}]}', ("cell 1: source holds a number",)),
], ids=["empty", "cell_without_source", "binary", "invalid_json", "nbformat_3", "source_number"])
def test_a_notebook_the_grader_cannot_read_is_one_line(run_grade, tmp_path: Path, content: str | bytes,
                                                       words: tuple[str, ...]) -> None:
    path = tmp_path / "work.ipynb"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    one_error_line(run_grade(str(path), "-a", ASSIGNMENT), str(path), *words)


def test_paths_and_names_that_are_wrong_are_one_line(run_grade, tmp_path: Path) -> None:
    unrelated = tmp_path / "unrelated.py"
    unrelated.write_text("def f():\n    return 1\n")
    cases = {
        (str(tmp_path / "missing.ipynb"),): "no such file",
        (str(tmp_path),): "is a folder",
        (str(CORRECT_NOTEBOOK), "-a", "nope"): "unknown assignment 'nope'",
        (str(unrelated),): "cannot tell which assignment",
        ("batch", str(tmp_path / "missing"), "-a", ASSIGNMENT, "-o", str(tmp_path / "out")): "there is no such",
        ("batch", str(tmp_path), "-a", "nope"): "unknown assignment 'nope'",
        ("batch", str(tmp_path), "-a", ASSIGNMENT, "--scheduler", "grading-head"): "missing port number",
        ("release", "nope", "-o", str(tmp_path / "release")): "unknown assignment 'nope'",
    }
    for args, words in cases.items():
        one_error_line(run_grade(*args, timeout=120), words)


@pytest.mark.parametrize("args", [
    ("FILE", "-j", "0"), ("FILE", "-j", "x"), ("FILE", "--keep-warm", "-1"), ("FILE", "-f", "xml"), (),
    ("batch", "DIR", "-a", ASSIGNMENT, "-j", "-1"), ("batch", "DIR", "-a", ASSIGNMENT, "--pick", "x"),
    ("batch", "DIR", "-a", ASSIGNMENT, "--layout", "x"), ("batch", "DIR", "-a", ASSIGNMENT, "--deadline", "x"),
    ("demo", "-j", "0", "-a", ASSIGNMENT, "-o", "OUT"), ("validate", ASSIGNMENT, "--mutants", "--sample", "-1"),
    ("override", "alice", ASSIGNMENT, "conv_params", "x"), ("export", "--format", "csv"),
], ids=lambda args: " ".join(args) or "nothing")
def test_usage_errors_are_one_line_before_anything_runs(run_grade, tmp_path: Path, args: tuple[str, ...]) -> None:
    """argparse's errors too: one line (`--help` has the usage); `-j 0` would grade nothing, forever."""
    given = {"FILE": str(CORRECT_NOTEBOOK), "DIR": str(tmp_path), "OUT": str(tmp_path / "out")}
    done = run_grade(*(given.get(a, a) for a in args), timeout=120)
    line = one_error_line(done)
    assert "usage:" not in done.stderr and "--help" in line
    assert not (tmp_path / "out").exists()


def test_a_closed_standard_output_is_said_not_a_traceback() -> None:
    done = subprocess.run([sys.executable, "-m", "grader", str(CORRECT_NOTEBOOK), "--no-hidden"], cwd=ROOT,
                          stderr=subprocess.PIPE, text=True, timeout=120, preexec_fn=lambda: os.close(1))
    one_error_line(done, "the standard output is closed")


# ---------------------------------------------------------------- where the grader writes


def test_a_report_path_that_is_the_notebook_leaves_the_notebook(run_grade, tmp_path: Path) -> None:
    notebook = tmp_path / "hw.ipynb"
    shutil.copyfile(CORRECT_NOTEBOOK, notebook)
    one_error_line(run_grade(str(notebook), "--report", str(notebook), timeout=120), "give an .html file or a folder")
    assert notebook.read_bytes() == CORRECT_NOTEBOOK.read_bytes()


def test_an_output_path_that_is_a_file_is_one_line(run_grade, tmp_path: Path) -> None:
    a_file = tmp_path / "a_file"
    a_file.write_text("kept")
    one_error_line(run_grade(str(CORRECT_NOTEBOOK), "-o", str(a_file), timeout=120), "is not a folder")
    one_error_line(run_grade(str(CORRECT_NOTEBOOK), "--report", str(a_file / "r.html"), timeout=120),
                   "is not a folder")
    one_error_line(run_grade("release", ASSIGNMENT, "-o", str(a_file), timeout=120), "is not a folder")
    assert a_file.read_text() == "kept"


def test_a_reader_that_goes_away_costs_no_file(tmp_path: Path) -> None:
    """`grade hw.ipynb --report | head -1`: the report is written before the summary is printed."""
    report = tmp_path / "hw.html"
    reader, writer = os.pipe()
    os.close(reader)  # the reader is gone before anything is printed
    try:
        done = subprocess.run([sys.executable, "-m", "grader", str(CORRECT_NOTEBOOK), "--no-hidden", "--report",
                               str(report)], cwd=ROOT, stdout=writer, stderr=subprocess.PIPE, text=True, timeout=300)
    finally:
        os.close(writer)
    assert done.returncode != 0 and "Traceback" not in done.stderr, done.stderr
    assert report.is_file() and "<!DOCTYPE html>" in report.read_text()


@pytest.fixture
def shared_tmp() -> Iterator[Path]:
    """A temporary folder every user may enter (pytest's are the user's own), removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="coursegrade-bad-input-"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _as_nobody() -> list[str]:
    """The command prefix that runs as an unprivileged user, or a skip where there is none."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv to run as an unprivileged user")
    prefix = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    if subprocess.run([*prefix, sys.executable, "-c", "import grader"], cwd=ROOT, capture_output=True,
                      timeout=60).returncode != 0:
        pytest.skip("the unprivileged user cannot run this Python")
    return prefix


def test_unreadable_and_unwritable_paths_are_one_line_before_grading(shared_tmp: Path) -> None:
    """As an unprivileged user: a submission it may not read, output folders it may not write into."""
    prefix = _as_nobody()
    tmp_path = shared_tmp
    locked = tmp_path / "locked.py"
    shutil.copyfile(CORRECT_MODULE, locked)
    locked.chmod(0o000)
    readable = tmp_path / "hw.py"
    shutil.copyfile(CORRECT_MODULE, readable)
    readable.chmod(0o644)
    closed = tmp_path / "closed"
    closed.mkdir(mode=0o555)
    cases = {
        (str(locked), "-a", ASSIGNMENT): "cannot read",
        (str(readable), "-o", str(closed / "out")): "cannot write into the output folder",
        (str(readable), "--report", str(closed)): "cannot write into the output folder",
        ("release", ASSIGNMENT, "-o", str(closed / "release")): "cannot write into the output folder",
    }
    for args, words in cases.items():
        done = subprocess.run([*prefix, sys.executable, "-m", "grader", *args], cwd=ROOT, capture_output=True,
                              text=True, timeout=120)
        one_error_line(done, words)
    assert list(closed.iterdir()) == []


def test_a_sandbox_that_cannot_start_says_so_and_leaves_no_scratch_folder(shared_tmp: Path) -> None:
    """As an unprivileged user, where the system may refuse it the Python the sandbox runs (here it
    does: the grader's Python lives in root's home); where it does not, the grading just works."""
    prefix = _as_nobody()
    scratch = shared_tmp / "scratch"
    scratch.mkdir(mode=0o777)
    scratch.chmod(0o777)
    work = shared_tmp / "hw.py"
    shutil.copyfile(CORRECT_MODULE, work)
    work.chmod(0o644)
    done = subprocess.run([*prefix, sys.executable, "-m", "grader", str(work), "-a", ASSIGNMENT, "--no-hidden",
                           "--sandbox", "subprocess"], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "TMPDIR": str(scratch)})
    assert "Traceback" not in done.stderr, done.stderr
    if done.returncode == 2:
        assert done.stderr.strip().splitlines()[-1].startswith("grade: error: cannot start the submission's process")
    else:
        assert done.returncode == 0, done.stdout + done.stderr
    assert list(scratch.iterdir()) == []


# ---------------------------------------------------------------- a class: exports, rosters, archives


def _class(folder: Path) -> Path:
    folder.mkdir(parents=True)
    shutil.copyfile(CORRECT_NOTEBOOK, folder / "alice.ipynb")
    shutil.copyfile(WRONG_MODULE, folder / "bob.py")
    return folder


@pytest.mark.parametrize(("roster", "words"), [
    ("", "is empty"),
    ("alice,1\nbob,2\n", "has no column of names or ids"),
    ("Student,ID,SIS User ID,SIS Login ID,Section\n", "lists no students, only its header"),
    (ROSTER + "Carol C,2,S3,carol,X\n", "gives the LMS id '2' to two students (lines 3 and 4)"),
], ids=["empty", "no_header", "header_only", "duplicate_ids"])
def test_a_roster_that_cannot_be_used_is_one_line(run_grade, tmp_path: Path, roster: str, words: str) -> None:
    folder = _class(tmp_path / "class")
    (tmp_path / "roster.csv").write_text(roster)
    done = run_grade("batch", str(folder), "-a", ASSIGNMENT, "-o", str(tmp_path / "out" / "hw"),
                     "--roster", str(tmp_path / "roster.csv"), timeout=120)
    one_error_line(done, words)
    assert not (tmp_path / "out").exists()  # nothing made for bad input: no output folder, no course database


def test_an_export_with_nothing_to_grade_or_nothing_matching_is_one_line(run_grade, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty.zip").write_bytes(b"")
    with zipfile.ZipFile(tmp_path / "notes.zip", "w") as archive:
        archive.writestr("notes.txt", "no submissions here")
    folder = _class(tmp_path / "class")
    cases = {
        (str(tmp_path / "empty"),): "no .ipynb or .py submissions",
        (str(tmp_path / "empty.zip"),): "as a .zip",
        (str(tmp_path / "notes.zip"),): "no .ipynb or .py submissions",
        (str(folder), "--layout", "canvas"): "none of the 2 files under",
    }
    for args, words in cases.items():
        done = run_grade("batch", *args, "-a", ASSIGNMENT, "-o", str(tmp_path / "out" / "hw"), timeout=120)
        one_error_line(done, words)
    assert not (tmp_path / "out").exists()


def _damaged_zip(path: Path, method: int) -> Path:
    """alice.ipynb and bob.py, alice's bytes damaged inside the archive (its directory intact)."""
    with zipfile.ZipFile(path, "w", method) as archive:
        archive.write(CORRECT_NOTEBOOK, "alice.ipynb")
        archive.write(WRONG_MODULE, "bob.py")
    data = bytearray(path.read_bytes())
    start = data.index(b"alice.ipynb") + len("alice.ipynb") + 50  # inside alice's data
    data[start:start + 40] = bytes(b ^ 0x55 for b in data[start:start + 40])
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("method", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED], ids=["bad_crc", "bad_data"])
def test_a_damaged_file_in_a_zip_is_said_not_dropped(run_grade, tmp_path: Path, method: int) -> None:
    """Skipped, alice would be missing from the gradebook without a word (or a traceback)."""
    archive = _damaged_zip(tmp_path / "hw.zip", method)
    done = run_grade("batch", str(archive), "-a", ASSIGNMENT, "-o", str(tmp_path / "out" / "hw"), timeout=120)
    one_error_line(done, f"cannot read {archive} as a .zip: alice.ipynb cannot be unpacked")
    assert not (tmp_path / "out").exists()


def test_validate_with_samples_that_are_not_there_is_one_line(run_grade, tmp_path: Path) -> None:
    one_error_line(run_grade("validate", ASSIGNMENT, "--samples", str(tmp_path / "nope"), timeout=120),
                   "no such folder")
    (tmp_path / ASSIGNMENT).mkdir()
    (tmp_path / ASSIGNMENT / "expected.json").write_text("{'not': json}")
    one_error_line(run_grade("validate", ASSIGNMENT, "--samples", str(tmp_path), timeout=120),
                   "cannot read the expected outcomes")


def test_a_sandbox_that_cannot_start_is_a_sandbox_error(tmp_path: Path) -> None:
    from grader.errors import SandboxError
    from grader.limits import Limits
    from grader.sandbox import SubprocessSandbox

    (tmp_path / "work").mkdir()
    with open(tmp_path / "stderr", "wb") as stderr, pytest.raises(SandboxError, match="No such file or directory"):
        SubprocessSandbox().start([str(tmp_path / "no-python"), "-c", "pass"], tmp_path, Limits(), stderr)


# ---------------------------------------------------------------- the course database


@pytest.fixture(scope="module")
def term(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The course database after one batch of alice and bob (each test works on a copy)."""
    base = tmp_path_factory.mktemp("term")
    (base / "roster.csv").write_text(ROSTER)
    done = subprocess.run([sys.executable, "-m", "grader", "batch", str(_class(base / "class")), "-a", ASSIGNMENT,
                           "-o", str(base / "reports" / "hw1"), "--roster", str(base / "roster.csv"), "--no-hidden"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "2 gradings recorded" in done.stdout, done.stdout + done.stderr
    return base / "reports" / "course.sqlite"


@pytest.fixture
def db(term: Path, tmp_path: Path) -> str:
    shutil.copyfile(term, tmp_path / "course.sqlite")
    return str(tmp_path / "course.sqlite")


def test_asking_about_who_or_what_is_not_there_is_one_line(run_grade, db: str, tmp_path: Path) -> None:
    cases = {
        ("history", "nobody"): "no student of the course database goes by 'nobody'",
        ("changes", "conv-pooling"): "the course database has no assignment 'conv-pooling'",
        ("export", "--format", "csv", "-a", "nope", "-o", str(tmp_path / "x.csv")): "has no assignment 'nope'",
        ("override", "nobody", ASSIGNMENT, "conv_params", "1", "--reason", "r"): "goes by 'nobody'",
        ("override", "alice", "nope", "conv_params", "1", "--reason", "r"): "has no assignment 'nope'",
        ("override", "alice", ASSIGNMENT, "nope", "1", "--reason", "r"): "neither a check nor an exercise",
        ("override", "alice", ASSIGNMENT, "conv_params", "99", "--reason", "r"): "between 0 and",
        ("override", "alice", ASSIGNMENT, "conv_params", "1"): "an override needs a reason",
    }
    for args, words in cases.items():
        one_error_line(run_grade(*args, "--db", db, timeout=120), words)
    assert "0 overrides" in run_grade("override", "--list", "--db", db, timeout=120).stdout


@pytest.mark.parametrize(("csv", "words"), [
    ("", "has no column student, assignment, target, points"),
    ("alice,conv-arithmetic,conv_params,3,oral exam\n", "has no column student, assignment, target, points"),
    ("student,assignment,target,points,reason\n", "holds no override, only its header"),
    ("student,assignment,target,points,reason\nalice,conv-arithmetic,conv_params\n", "line 2: points None"),
    ("student,assignment,target,points,reason\nalice,conv-arithmetic,conv_params,4,oral exam\n"
     "nobody,conv-arithmetic,conv_params,3,oral exam\n", "line 3: no student of the course database goes by"),
    ("student,assignment,target,points,reason\nalice,conv-arithmetic,conv_params,4,Jörg\n".encode("latin-1"),
     "cannot read overrides from"),
], ids=["empty", "no_header", "header_only", "short_row", "bad_second_row", "not_utf8"])
def test_overrides_from_a_csv_are_all_recorded_or_none(run_grade, db: str, tmp_path: Path, csv: str | bytes,
                                                       words: str) -> None:
    overrides = tmp_path / "overrides.csv"
    overrides.write_bytes(csv if isinstance(csv, bytes) else csv.encode())
    one_error_line(run_grade("override", "--from-csv", str(overrides), "--db", db, timeout=120), words)
    assert "0 overrides" in run_grade("override", "--list", "--db", db, timeout=120).stdout


def test_exporting_into_a_folder_is_one_line(run_grade, db: str, tmp_path: Path) -> None:
    (tmp_path / "grades").mkdir()
    one_error_line(run_grade("export", "--format", "canvas", "-o", str(tmp_path / "grades"), "--db", db, timeout=120),
                   "Is a directory")
    assert list((tmp_path / "grades").iterdir()) == []
    done = run_grade("export", "--format", "csv", "-o", str(tmp_path / "grades.csv"), "--db", db, timeout=120)
    assert done.returncode == 0 and "2 students" in done.stdout, done.stderr  # and the right one works


def test_a_database_that_is_not_there_is_not_made_by_reading(run_grade, tmp_path: Path) -> None:
    """A mistyped --db (or the wrong folder) must not leave an empty database behind, nor answer from one."""
    typo = tmp_path / "cuorse.sqlite"
    nested = tmp_path / "no" / "such" / "folder" / "course.sqlite"
    for args in (("history", "alice"), ("changes", ASSIGNMENT), ("override", "--list"),
                 ("export", "--format", "csv", "-o", str(tmp_path / "grades.csv"))):
        for url in (str(typo), f"sqlite:///{nested}"):
            one_error_line(run_grade(*args, "--db", url, timeout=120), "no course database at")
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_an_empty_database_exports_nothing_and_says_so(run_grade, tmp_path: Path) -> None:
    from grader.course_db import open_db

    open_db(f"sqlite:///{tmp_path / 'course.sqlite'}").dispose()  # made, as a batch that graded no one leaves it
    done = run_grade("export", "--format", "canvas", "-o", str(tmp_path / "grades.csv"),
                     "--db", str(tmp_path / "course.sqlite"), timeout=120)
    one_error_line(done, "holds no gradings yet")
    assert not (tmp_path / "grades.csv").exists()


def test_a_database_the_user_may_not_write_is_one_line(term: Path, shared_tmp: Path) -> None:
    """As an unprivileged user, on the course's database that only its owner may write."""
    prefix = _as_nobody()
    readonly = shared_tmp / "course.sqlite"
    shutil.copyfile(term, readonly)
    readonly.chmod(0o644)
    done = subprocess.run([*prefix, sys.executable, "-m", "grader", "override", "alice", ASSIGNMENT, "conv_params",
                           "1", "--reason", "oral exam", "--db", str(readonly)], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    one_error_line(done, "refused: attempt to write a readonly database")


def test_a_malformed_database_url_is_one_line(run_grade, tmp_path: Path) -> None:
    one_error_line(run_grade("history", "alice", "--db", "nosuchdialect://x/y", timeout=120),
                   "cannot open the course database")
    one_error_line(run_grade("history", "alice", "--db", str(tmp_path), timeout=120), "no course database at")


# ---------------------------------------------------------------- interrupted


def test_ctrl_c_during_grade_file_stops_it_and_writes_nothing(tmp_path: Path) -> None:
    notebook = tmp_path / "hw.ipynb"
    notebook.write_text(json.dumps(waiting_notebook()))
    grading = started(str(notebook), "--no-hidden", "-o", str(tmp_path / "out"), "--report", str(tmp_path))
    try:
        assert waited_for(lambda: process_runs(WAITING)), "the notebook never ran"
        grading.send_signal(signal.SIGINT)
        out, err = grading.communicate(timeout=120)
    finally:
        grading.kill()
        grading.wait()
    assert grading.returncode == 130 and err.strip().splitlines()[-1] == "grade: interrupted", err
    assert "Traceback" not in err and out == ""
    assert not (tmp_path / "out").exists() and not (tmp_path / "hw.html").exists()
    assert waited_for(lambda: not process_runs(WAITING), 60), "the notebook's process outlived the grading"


def test_a_batch_stopped_midway_keeps_what_was_graded_and_a_rerun_resumes(tmp_path: Path) -> None:
    """SIGTERM (a job scheduler's stop) as Ctrl-C: every saved student is whole and kept; the rerun
    grades only the others."""
    folder, output = tmp_path / "class", tmp_path / "reports" / "hw"
    folder.mkdir()
    shutil.copyfile(CORRECT_NOTEBOOK, folder / "a_first.ipynb")
    for name in ("b_second.ipynb", "c_third.ipynb"):
        (folder / name).write_text(json.dumps(waiting_notebook()))
    grading = started("batch", str(folder), "-a", ASSIGNMENT, "-o", str(output), "-j", "1", "--no-hidden")
    try:
        assert waited_for(lambda: (output / "details" / "a_first.json").exists() and process_runs(WAITING))
        grading.send_signal(signal.SIGTERM)
        _, err = grading.communicate(timeout=120)
    finally:
        grading.kill()
        grading.wait()
    assert grading.returncode == 128 + signal.SIGTERM, err
    assert "students are saved" in err and "Traceback" not in err, err
    assert sorted(p.name for p in (output / "results").iterdir()) == ["a_first.json"]  # whole, and nothing half-made
    assert json.loads((output / "results" / "a_first.json").read_text())["status"] == "graded"
    assert not list(output.rglob("*.tmp")) and not (output / "gradebook.csv").exists()
    assert waited_for(lambda: not process_runs(WAITING), 60), "a notebook's process outlived the batch"
    for name in ("b_second.ipynb", "c_third.ipynb"):  # the students resubmit quick work
        shutil.copyfile(CORRECT_NOTEBOOK, folder / name)
    done = subprocess.run([sys.executable, "-m", "grader", "batch", str(folder), "-a", ASSIGNMENT, "-o", str(output),
                           "--no-hidden"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "3 students: 2 graded now, 1 unchanged" in done.stdout, done.stdout
    assert sorted(p.stem for p in (output / "results").glob("*.json")) == ["a_first", "b_second", "c_third"]
