"""`grade batch` for real: 40 mixed submissions (correct, wrong, broken) graded with one command;
every report is there, the gradebook matches the JSON results, and a batch killed midway
(SIGKILL) then run again ends with the same outputs as one uninterrupted run."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from grader.assignments import load_assignment
from grader.intake import read_export, student_id
from grader.model import CHECK_STATUSES
from grader.outputs import error_report, limits_hit

from .conftest import ROOT, SUBMISSIONS, full_marks
from .test_html_report import _report

ASSIGNMENT = "conv-arithmetic"
CORPUS = SUBMISSIONS / ASSIGNMENT
SAMPLES = ROOT / "tests" / "batch_samples"
SIZE = 40
QUICK = ("correct.ipynb", "correct_module.py", "floor_not_ceil.py", "bias_forgotten.py", "padding_once.py",
         "float_output_size.py", "pool_stride_one.py", "syntax_error_cell.ipynb")
RESULT_KEYS = {"assignment", "submission", "status", "score", "max_score", "message", "checks"}
CHECK_KEYS = {"id", "exercise", "status", "points", "max_points", "hidden", "message"}


def make_class(folder: Path) -> Path:
    """40 submissions: the whole corpus, the reference and template, broken files, per-student folders."""
    spec = load_assignment(ASSIGNMENT)
    folder.mkdir(parents=True)
    for path in sorted(CORPUS.glob("*.py")) + sorted(CORPUS.glob("*.ipynb")):
        shutil.copy(path, folder / path.name)
    assert spec.solution is not None
    shutil.copy(spec.solution, folder / "reference.ipynb")
    shutil.copy(spec.template, folder / "template.ipynb")
    for path in (p for p in SAMPLES.iterdir() if p.is_file()):
        shutil.copy(path, folder / path.name)
    for student, files in {"dana": {"work.ipynb": "correct.ipynb"},
                           "erin": {"hw.py": "correct_module.py", "notes.py": "floor_not_ceil.py"},
                           "finn": {"solution.ipynb": "correct.ipynb", "helper.py": "padding_once.py"}}.items():
        (folder / student).mkdir()
        for age, (name, source) in enumerate(files.items()):
            shutil.copy(CORPUS / source, folder / student / name)
            os.utime(folder / student / name, (2e9 - age, 2e9 - age))  # the first listed is the latest
    count = len({p.stem for p in folder.glob("*.*")}) + 3
    for i in range(SIZE - count):
        source = CORPUS / QUICK[i % len(QUICK)]
        shutil.copy(source, folder / f"student{i:02d}{source.suffix}")
    return folder


def batch(folder: Path, output: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "grader", "batch", str(folder), "-a", ASSIGNMENT, "-o", str(output),
                           *extra], cwd=ROOT, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, subprocess.CompletedProcess[str]]:
    """The class, graded by one uninterrupted command."""
    base = tmp_path_factory.mktemp("batch")
    folder = make_class(base / "class")
    output = base / "reports"
    return folder, output, batch(folder, output)


def outputs(output: Path) -> dict[str, str]:
    """Every file that must be the same whatever interruptions happened (the summary without timings)."""
    files = {p.relative_to(output).as_posix(): p.read_text() for p in output.rglob("*")
             if p.is_file() and not p.relative_to(output).as_posix().startswith("details/")}
    files["summary.html"] = re.sub(r'<section id="slowest">.*?</section>', "", files["summary.html"], flags=re.S)
    return files


def test_one_command_grades_forty_mixed_submissions(graded) -> None:
    folder, output, done = graded
    assert done.returncode == 1, done.stderr  # one submission cannot be graded at all
    assert f"{SIZE} students: {SIZE} graded now, 0 unchanged, 1 could not be graded" in done.stdout
    assert f"[{SIZE}/{SIZE}]" in done.stderr  # the progress, one plain line each when not on a terminal
    students = sorted(p.stem for p in (output / "results").glob("*.json"))
    assert len(students) == SIZE
    assert sorted(p.stem for p in (output / "reports").glob("*.html")) == students
    assert sorted(p.name for p in output.iterdir()) == ["details", "gradebook.csv", "intake.json", "reports",
                                                         "results", "summary.html"]
    assert sorted(p.stem for p in (output / "details").glob("*.json")) == students
    assert (output / "summary.html").is_file() and (output / "gradebook.csv").is_file()
    assert not list(output.rglob("*.tmp"))


def test_results_are_the_contract_format(graded) -> None:
    _, output, _ = graded
    spec = load_assignment(ASSIGNMENT)
    for path in (output / "results").glob("*.json"):
        result = json.loads(path.read_text())
        assert set(result) == RESULT_KEYS
        assert result["status"] in ("graded", "error")
        assert [c["id"] for c in result["checks"]] == [c.id for c in spec.checks]
        for check in result["checks"]:
            assert set(check) == CHECK_KEYS and check["status"] in CHECK_STATUSES


def test_verdicts_of_the_mixed_class(graded) -> None:
    _, output, _ = graded

    def result(student: str) -> dict:
        return json.loads((output / "results" / f"{student}.json").read_text())

    for student in ("correct", "reference", "dana", "erin", "finn", "student00", "student01"):
        assert result(student)["score"] == result(student)["max_score"] == full_marks("conv-arithmetic"), student
    assert result("template")["score"] == 0
    assert result("finn")["submission"] == "finn/solution.ipynb"
    assert result("not_a_notebook")["status"] == "error"
    assert "not a Jupyter notebook" in result("not_a_notebook")["message"]
    erin = json.loads((output / "details" / "erin.json").read_text())
    assert result("erin")["submission"] == "erin/hw.py"  # the latest of two; the other is listed, not counted
    assert [(f["file"], f["counted"]) for f in erin["files"]] == [("erin/hw.py", True), ("erin/notes.py", False)]
    assert 0 < result("floor_not_ceil")["score"] < full_marks("conv-arithmetic")
    details = json.loads((output / "details" / "infinite_loop.json").read_text())
    assert details["limits_hit"] and "call time limit" in details["limits_hit"][0]
    assert "infinite_loop" in (output / "summary.html").read_text()


def test_gradebook_matches_the_results(graded) -> None:
    _, output, _ = graded
    book = pd.read_csv(output / "gradebook.csv")
    spec = load_assignment(ASSIGNMENT)
    assert list(book.columns) == ["student", "name", *spec.exercises, "total", "adjustment", "late_penalty", "final",
                                 "max_score", "status", "note"]
    assert len(book) == SIZE and book["student"].is_unique
    for row in book.itertuples(index=False):
        result = json.loads((output / "results" / f"{row.student}.json").read_text())
        assert row.status == result["status"]
        if row.status != "graded":  # nothing graded: empty cells, not zeros
            assert pd.isna(row.total) and all(pd.isna(getattr(row, e)) for e in spec.exercises)
            continue
        assert row.total == pytest.approx(result["score"])
        for exercise in spec.exercises:
            points = sum(c["points"] for c in result["checks"] if c["exercise"] == exercise)
            assert getattr(row, exercise) == pytest.approx(points)


def test_rerun_grades_nothing_and_changes_nothing(graded) -> None:
    folder, output, _ = graded
    before = outputs(output)
    again = batch(folder, output)
    assert f"0 graded now, {SIZE} unchanged" in again.stdout
    assert outputs(output) == before


def _wait_for(condition, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def _processes_mentioning(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and text in (entry / "cmdline").read_text():
                found.append(int(entry.name))
        except OSError:
            pass
    return found


def test_killed_midway_then_rerun_gives_the_same_outputs(graded, tmp_path: Path) -> None:
    folder, complete, _ = graded
    output = tmp_path / "killed"
    command = [sys.executable, "-m", "grader", "batch", str(folder), "-a", ASSIGNMENT, "-o", str(output)]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait_for(lambda: len(list((output / "details").glob("*.json"))) >= 12, 300)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    _wait_for(lambda: not _processes_mentioning(str(output)), 30)  # the worker processes die with it
    finished = len(list((output / "details").glob("*.json")))
    assert finished < SIZE and not (output / "gradebook.csv").exists()
    resumed = batch(folder, output)
    assert f"{SIZE - finished} graded now, {finished} unchanged" in resumed.stdout, resumed.stdout
    assert outputs(output) == outputs(complete)


def test_a_changed_submission_is_graded_again(graded, tmp_path: Path) -> None:
    folder, complete, _ = graded
    output = tmp_path / "reports"
    shutil.copytree(complete, output)
    changed = tmp_path / "class"
    shutil.copytree(folder, changed)
    shutil.copy(CORPUS / "correct_module.py", changed / "floor_not_ceil.py")
    (changed / "empty.py").unlink()
    done = batch(changed, output)
    assert f"{SIZE - 1} students: 1 graded now, {SIZE - 2} unchanged" in done.stdout, done.stdout
    regraded = json.loads((output / "results" / "floor_not_ceil.json").read_text())
    assert regraded["score"] == full_marks("conv-arithmetic")
    assert not (output / "reports" / "empty.html").exists() and not (output / "results" / "empty.json").exists()
    assert len(pd.read_csv(output / "gradebook.csv")) == SIZE - 1


def test_help_documents_the_student_id_rule(run_grade) -> None:
    shown = run_grade("batch", "--help", timeout=30)
    assert shown.returncode == 0
    assert "alice/hw1.ipynb ->" in shown.stdout and "--roster" in shown.stdout and "--pick" in shown.stdout


def test_demo_writes_html_reports_gradebook_and_summary(run_grade, tmp_path: Path) -> None:
    done = run_grade("demo", "-o", str(tmp_path), "-a", ASSIGNMENT)
    assert done.returncode == 0, done.stderr
    folder = tmp_path / ASSIGNMENT
    pages = {p.name for p in (folder / "reports").glob("*.html")}
    assert {"reference.html", "template.html", "correct.html"} <= pages and (folder / "summary.html").is_file()
    book = pd.read_csv(folder / "gradebook.csv")
    assert dict(zip(book["student"], book["total"], strict=True))["reference"] == full_marks("conv-arithmetic")
    assert f"reports in {folder}/" in done.stdout


def test_bad_usage_exits_2(run_grade, tmp_path: Path) -> None:
    missing = run_grade("batch", str(tmp_path / "nope"), "-a", ASSIGNMENT, "-o", str(tmp_path / "out"), timeout=60)
    assert missing.returncode == 2 and "is not a folder" in missing.stderr
    (tmp_path / "empty").mkdir()
    empty = run_grade("batch", str(tmp_path / "empty"), "-a", ASSIGNMENT, "-o", str(tmp_path / "out"), timeout=60)
    assert empty.returncode == 2 and "no .ipynb or .py submissions" in empty.stderr
    unknown = run_grade("batch", str(tmp_path / "empty"), "-a", "no-such-thing", timeout=60)
    assert unknown.returncode == 2 and "unknown assignment" in unknown.stderr


def test_error_report_lists_every_check() -> None:
    from grader.assignments import load_assignment

    spec = load_assignment("conv-arithmetic")
    report = error_report(spec, "x.ipynb", "not a notebook")
    assert report.status == "error" and len(report.checks) == len(spec.checks)
    assert {c.status for c in report.checks} == {"error"} and report.max_score == spec.max_score


def test_limits_hit_are_typed_stops_not_words() -> None:
    from grader.model import CellLog, Observation, Stop
    from grader.runner import RunOutcome

    observations = {"a": Observation("a", "timeout", stop="call_time"), "b": Observation("b", "crashed", stop="memory")}
    stops = (Stop("disk", "stopped: wrote more than 2 GiB to disk"), Stop("crashed", "stopped: of memory, CPU time"))
    outcome = RunOutcome(observations, (CellLog(0, "timeout"),), {}, stops=stops)
    assert outcome.limits_hit == ("disk", "call time limit", "memory", "cell time limit")
    assert limits_hit(_report(limits_hit=("call time limit", "memory"))) == ["call time limit (1 check)", "memory"]
    assert limits_hit(_report(message="stopped: used more than 4 GiB of memory")) == []  # words are not read


def test_student_ids_from_file_or_folder(tmp_path: Path) -> None:
    for name in ("alice.ipynb", "bob.py", "carol/hw1.ipynb", "carol/util.py", "dave/a.py", "dave/b.py",
                 "eve/sub/deep.py", ".hidden.py", "_private/x.py", "frank/.ipynb_checkpoints/x.ipynb",
                 "notes.txt", "o'brien j.py"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("")
    os.utime(tmp_path / "dave" / "a.py", (2e9, 2e9))
    intake = read_export(tmp_path)
    entries = {e.student: e for e in intake.entries}
    assert intake.layout == "plain" and sorted(entries) == ["alice", "bob", "carol", "dave", "eve", "o_brien_j"]
    assert entries["carol"].submission == "carol/hw1.ipynb" and [f.name for f in entries["carol"].others] == [
        "carol/util.py"]
    assert entries["dave"].submission == "dave/a.py" and [f.name for f in entries["dave"].others] == ["dave/b.py"]
    assert entries["eve"].submission == "eve/sub/deep.py"
    assert student_id("../../etc/passwd") == "_.._etc_passwd" and student_id("...") == "_"


class _SilentSandbox:
    """A sandbox whose children never say "ready": a kernel that hangs at start-up."""

    name = "silent"

    def start(self, argv, scratch, limits, stderr):
        import subprocess

        return subprocess.Popen(["sleep", "60"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr)

    def stop(self, process) -> None:
        process.kill()
        process.wait()


def test_a_warm_worker_that_hangs_is_dropped(monkeypatch: pytest.MonkeyPatch) -> None:

    import grader.pool
    from grader.assignments import load_assignment

    monkeypatch.setattr(grader.pool, "WARM_PATIENCE", 0.5)
    pool = grader.pool.WarmPool(_SilentSandbox(), load_assignment("conv-arithmetic"), ahead=2)
    try:
        assert pool.take(still_to_come=0) is None  # the grading then starts a worker of its own
        assert len(pool.ready) == 0  # nothing more is started when nothing more will come
    finally:
        pool.close()
