"""`grade batch` on exports as Canvas and Moodle hand them out, and on names chosen to hurt:
one gradebook row per roster student, the latest file counted, names as the roster has them;
hostile names never overwrite, merge, abort or leak anything, and a correct classmate keeps
full marks."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unicodedata
import zipfile
from pathlib import Path

from .conftest import ROOT, SUBMISSIONS, full_marks
from .test_intake import SAMPLES, export

ASSIGNMENT = "conv-arithmetic"
FULL = full_marks("conv-arithmetic")


def batch(source: Path, output: Path, *extra: str,
          env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "grader", "batch", str(source), "-a", ASSIGNMENT, "-o", str(output),
                           *extra], cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env={**os.environ, **(env or {})})


def gradebook(output: Path) -> dict[str, dict[str, str]]:
    with open(output / "gradebook.csv", newline="", encoding="utf-8") as f:
        return {row["student"]: row for row in csv.DictReader(f)}


def test_canvas_zip_with_a_roster(tmp_path: Path) -> None:
    folder = export("canvas", tmp_path)
    archive = tmp_path / "submissions.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for path in sorted(folder.iterdir()):
            zipped.write(path, path.name)
    done = batch(archive, tmp_path / "out", "--roster", str(SAMPLES / "canvas" / "roster.csv"))
    assert done.returncode == 0, done.stderr
    assert "4 students: 4 graded now" in done.stdout and "1 on the roster submitted nothing" in done.stdout
    assert "1 file matched no student" in done.stdout
    book = gradebook(tmp_path / "out")
    assert list(book) == ["jmuller", "jsmith", "zng", "zng2", "aabsent"]  # one row per roster student
    assert {s: r["name"] for s, r in book.items()}["jmuller"] == "Müller, Jörg"
    assert book["jsmith"]["total"] == str(FULL)  # the resubmission (-1) counts, not the first try
    assert book["jmuller"]["total"] == str(FULL) and float(book["zng"]["total"]) < FULL and book["zng2"]["total"]
    assert book["aabsent"]["status"] == "missing" and book["aabsent"]["total"] == ""
    details = json.loads((tmp_path / "out" / "details" / "jsmith.json").read_text())
    assert [(f["file"], f["counted"]) for f in details["files"]] == [
        ("smithjohn_12345_67899_conv_arithmetic-1.py", True), ("smithjohn_12345_67890_conv_arithmetic.py", False)]
    assert json.loads((tmp_path / "out" / "details" / "jmuller.json").read_text())["files"][0]["late"] is True
    intake = json.loads((tmp_path / "out" / "intake.json").read_text())
    assert intake["layout"] == "canvas" and len(intake["unmatched"]) == 1 and "strangerdan" in intake["unmatched"][0]
    summary = (tmp_path / "out" / "summary.html").read_text()
    assert "strangerdan" in summary and "Absent, Alex" in summary


def test_moodle_folders_with_a_roster(tmp_path: Path) -> None:
    folder = export("moodle", tmp_path)
    done = batch(folder, tmp_path / "out", "--roster", str(SAMPLES / "moodle" / "roster.csv"))
    assert done.returncode == 0, done.stderr
    book = gradebook(tmp_path / "out")
    assert [r["name"] for r in book.values()] == ["Ann Lee", "Ben Ode", "Jörg Müller", "Cy Dell"]
    jorg = book["jorg.muller@uni.example"]
    assert jorg["total"] == str(FULL)  # conv.py, newer than its "(copy)": not an error row
    assert book["ann.lee@uni.example"]["total"] == str(FULL) and float(book["ben.ode@uni.example"]["total"]) < FULL
    assert book["cy.dell@uni.example"]["status"] == "missing"


HOSTILE_NAMES = ("bob..py", "Zoë/hw.py", "Zoé/hw.py", f"{unicodedata.normalize('NFD', 'Zoë')}/hw.py",
                 "summary.py", "gradebook.py", "@SUM(A1).py", "=1+1.py", "-rf.py", "+cmd.py", "a" * 245 + ".py")


def test_hostile_names_in_one_batch_with_a_correct_classmate(tmp_path: Path) -> None:
    folder = tmp_path / "class"
    folder.mkdir()
    (folder / "bob.py").write_bytes((SUBMISSIONS / ASSIGNMENT / "correct_module.py").read_bytes())
    for name in HOSTILE_NAMES:
        (folder / name).parent.mkdir(exist_ok=True)
        (folder / name).write_text("x = 1\n")
    (folder / "mallory.py").symlink_to(folder / "bob.py")  # a classmate's work
    (folder / "eve.ipynb").symlink_to(ROOT / "reference" / ASSIGNMENT / "solution.ipynb")
    (folder / "unreadable.ipynb").write_text("{ not a notebook")
    scratch = Path(tempfile.mkdtemp(prefix="lms-batch-"))  # the grader's temporary folders: kernels' scratch
    scratch.chmod(0o755)  # spaces (a sandboxed kernel's user must reach them; pytest's tmp_path is private)
    try:
        done = batch(folder, tmp_path / "out", env={"TMPDIR": str(scratch)})
        left, running = list(scratch.iterdir()), _processes_with_scratch_in(scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    assert done.returncode == 1, done.stderr  # the links and the unreadable notebook are error rows
    out = tmp_path / "out"
    results = {p.stem: json.loads(p.read_text()) for p in (out / "results").glob("*.json")}
    assert len(results) == len(HOSTILE_NAMES) + 4  # no two students merged, none lost
    assert {p.stem for p in (out / "reports").glob("*.html")} == set(results)
    assert results["bob"]["score"] == FULL and results["bob"]["submission"] == "bob.py"
    for student in ("mallory", "eve"):
        assert results[student]["status"] == "error" and "symbolic link" in results[student]["message"]
    assert results["unreadable"]["status"] == "error"
    assert "class summary" in (out / "summary.html").read_text()  # not a student's report
    assert (out / "gradebook.csv").read_text().startswith("student,name,")
    book = gradebook(out)
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in book.values() for cell in row.values() if cell)
    assert all(len(s) <= 64 for s in book)
    assert left == [] and running == []  # every kernel stopped, every scratch space removed


def _processes_with_scratch_in(folder: Path) -> list[str]:
    found = []
    for pid in (p for p in os.listdir("/proc") if p.isdigit()):
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes()
        except OSError:
            continue
        if str(folder).encode() in environ:
            found.append(pid)
    return found


def test_a_student_whose_files_cannot_be_written_costs_that_student_only(tmp_path: Path) -> None:
    folder = tmp_path / "class"
    folder.mkdir()
    for student in ("ann", "ben"):
        (folder / f"{student}.py").write_bytes((SUBMISSIONS / ASSIGNMENT / "correct_module.py").read_bytes())
    out = tmp_path / "out"
    (out / "reports" / "ben.html").mkdir(parents=True)  # ben's report cannot be written there
    done = batch(folder, out)
    assert done.returncode == 1 and "1 could not be saved (rerun)" in done.stdout, done.stdout
    book = gradebook(out)
    assert book["ann"]["total"] == str(FULL) and book["ben"]["status"] == "unsaved" and book["ben"]["total"] == ""
    (out / "reports" / "ben.html").rmdir()
    again = batch(folder, out)
    assert "1 graded now, 1 unchanged" in again.stdout and gradebook(out)["ben"]["total"] == str(FULL)
