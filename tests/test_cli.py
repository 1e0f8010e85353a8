"""The `grade` command as a user runs it: real subprocesses, real kernel, real exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from grader.model import CHECK_STATUSES

from .conftest import ROOT, process_runs, waited_for

REFERENCE = ROOT / "reference" / "conv-arithmetic" / "solution.ipynb"
TEMPLATE = ROOT / "assignments" / "conv-arithmetic" / "template.ipynb"


def test_help_answers_at_once_without_heavy_imports() -> None:
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "grader", "--help"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "exit codes" in done.stdout
    imported = {line.rsplit("|", 1)[-1].strip().split(".")[0] for line in done.stderr.splitlines()}
    assert not imported & {"torch", "pandas", "nbclient", "numpy", "jinja2"}


def test_reference_full_marks_exit_0_and_json_contract(run_grade) -> None:
    done = run_grade(str(REFERENCE), "--format", "json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert set(result) == {"assignment", "submission", "status", "score", "max_score", "message", "checks"}
    assert result["status"] == "graded" and result["score"] == result["max_score"] > 0
    for check in result["checks"]:
        assert set(check) == {"id", "exercise", "status", "points", "max_points", "hidden", "message"}
        assert check["status"] in CHECK_STATUSES
        assert isinstance(check["points"], float) and isinstance(check["hidden"], bool)


def test_template_scores_zero_exit_1(run_grade) -> None:
    done = run_grade(str(TEMPLATE))
    assert done.returncode == 1
    assert "score 0 /" in done.stdout and "not implemented yet" in done.stdout


def test_bad_input_exit_2_with_one_line(run_grade, tmp_path: Path) -> None:
    text = tmp_path / "essay.ipynb"
    text.write_text("this is not a notebook")
    other = tmp_path / "work.py"
    other.write_text("def unrelated():\n    pass\n")
    cases = {
        (str(tmp_path / "missing.ipynb"),): "no such file",
        (str(text),): "is not a Jupyter notebook",
        (str(REFERENCE), "--assignment", "nope"): "unknown assignment 'nope'",
        (str(other),): "cannot tell which assignment",
        (str(tmp_path),): "is a folder",
    }
    for args, message in cases.items():
        done = run_grade(*args)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert message in done.stderr and "Traceback" not in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1


def test_student_view_lists_hidden_checks_as_skipped(run_grade) -> None:
    done = run_grade(str(REFERENCE), "--no-hidden", "--format", "json")
    result = json.loads(done.stdout)
    skipped = [c for c in result["checks"] if c["status"] == "skipped"]
    assert skipped and all(c["hidden"] for c in skipped)
    assert done.returncode == 0


def test_verbose_prints_the_time_breakdown(run_grade) -> None:
    done = run_grade(str(REFERENCE), "--verbose")
    assert "startup" in done.stdout and "execution" in done.stdout and "checks" in done.stdout


def test_batch_of_a_torch_assignment_does_not_deadlock(run_grade, tmp_path: Path) -> None:
    """cnn-digits' checks run torch in the grader before `grade batch` forks its workers; with
    several OpenMP threads asked for, the forked workers used to hang forever."""
    import os
    import shutil

    from .conftest import SUBMISSIONS

    folder = tmp_path / "class"
    folder.mkdir()
    for name in ("correct_cnn.py", "mlp_flattened.py", "never_trains.py"):  # three of the samples are enough
        shutil.copyfile(SUBMISSIONS / "cnn-digits" / name, folder / name)
    done = run_grade("batch", str(folder), "-a", "cnn-digits", "-o", str(tmp_path / "out"),
                     timeout=300, env={**os.environ, "OMP_NUM_THREADS": "4"})
    assert done.returncode == 0, done.stderr
    assert len(list((tmp_path / "out" / "results").glob("*.json"))) == 3


def test_report_replaces_a_link_planted_at_its_path(run_grade, tmp_path: Path) -> None:
    work, elsewhere = tmp_path / "work", tmp_path / "elsewhere"
    work.mkdir()
    elsewhere.mkdir()
    submission = work / "mine.ipynb"
    submission.write_bytes((ROOT / "tests" / "submissions" / "conv-arithmetic" / "correct.ipynb").read_bytes())
    sentinel = elsewhere / "sentinel.txt"
    sentinel.write_text("precious")
    (work / "mine.html").symlink_to(sentinel)
    done = run_grade(str(submission), "--report", "--no-hidden")
    assert done.returncode == 0, done.stdout + done.stderr
    assert sentinel.read_text() == "precious"
    report = work / "mine.html"
    assert report.is_file() and not report.is_symlink() and "<!DOCTYPE html>" in report.read_text()
    assert f"HTML report written to {report}" in done.stdout


def _holds_open(pid: int, folder: Path) -> bool:
    """Process `pid` holds `folder` open (a descriptor of it in /proc/PID/fd)."""
    try:
        return str(folder) in {os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")}
    except OSError:  # a descriptor closed while it was read
        return False


def _swap_for_link(folder: Path, target: str) -> Path:
    moved = folder.with_name(folder.name + ".orig")
    folder.rename(moved)
    folder.symlink_to(target)
    return moved


WAITING = f"cg-wait-{os.getpid() % 100000}"  # the name the attacked notebook's process takes


def _attacked_class(tmp_path: Path) -> tuple[Path, Path]:
    """home_alice/hw/evil.ipynb, a correct notebook whose first cell names its process (WAITING) and
    waits 3 s; victim/, root-only."""
    hw, victim = tmp_path / "home_alice" / "hw", tmp_path / "victim"
    hw.mkdir(parents=True)
    victim.mkdir(mode=0o700)
    notebook = json.loads((ROOT / "tests" / "submissions" / "conv-arithmetic" / "correct.ipynb").read_text())
    notebook["cells"].insert(0, {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
                                 "source": f"import time\nwith open('/proc/self/comm', 'w') as f:\n"
                                           f"    f.write({WAITING!r})\ntime.sleep(3)"})
    (hw / "evil.ipynb").write_text(json.dumps(notebook))
    return hw, victim


def _grading(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "grader", *args], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _refused(grading: subprocess.Popen[str], folder: Path) -> tuple[str, str]:
    """The grading's output, once it ended refusing to write into `folder`, as one line says."""
    out, err = grading.communicate(timeout=300)
    assert grading.returncode == 2, out + err
    assert "16 of 16 checks passed" in out and "HTML report written" not in out, out + err
    assert err.strip().splitlines()[-1].startswith(f"grade: error: the output folder {folder} was moved"), err
    return out, err


def test_report_beside_the_notebook_swapped_for_a_link_while_it_runs_is_refused(tmp_path: Path) -> None:
    """The review's attack on `grade FILE --report` (/tmp/review_load/poc_report), from a second
    process: while the notebook runs, the student renames their folder and plants a link to a
    root-only folder at its name. The report goes neither there nor anywhere else."""
    hw, victim = _attacked_class(tmp_path)
    grading = _grading(str(hw / "evil.ipynb"), "--report", "--no-hidden")
    try:
        assert waited_for(lambda: _holds_open(grading.pid, hw), 120, every=0.01), \
            "the grader never opened the report's folder"
        assert waited_for(lambda: process_runs(WAITING), 120, every=0.01), "the notebook never ran"
        moved = _swap_for_link(hw, "../victim")
        _refused(grading, hw)
    finally:
        grading.kill()
        grading.wait()
    assert list(victim.iterdir()) == []
    assert sorted(p.name for p in moved.iterdir()) == ["evil.ipynb"]


def test_report_folder_swapped_for_a_link_after_the_grader_opened_it_is_refused(tmp_path: Path) -> None:
    """`--report DIR`: swapped as soon as the grader holds DIR open (when it starts), for any user and sandbox."""
    hw, victim = _attacked_class(tmp_path)
    reports = hw.parent / "reports"
    reports.mkdir()
    grading = _grading(str(hw / "evil.ipynb"), "--report", str(reports), "--no-hidden")
    try:
        assert waited_for(lambda: _holds_open(grading.pid, reports), 120, every=0.01), \
            "the grader never opened the report's folder"
        moved = _swap_for_link(reports, "../victim")
        _refused(grading, reports)
    finally:
        grading.kill()
        grading.wait()
    assert list(victim.iterdir()) == [] and list(moved.iterdir()) == []


def test_output_dir_replaces_links_planted_at_its_file_names(run_grade, tmp_path: Path) -> None:
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    out.mkdir()
    elsewhere.mkdir()
    sentinel = elsewhere / "sentinel.txt"
    sentinel.write_text("precious")
    for name in ("result.json", "junit.xml", "results.json"):
        (out / name).symlink_to(sentinel)
    done = run_grade(str(ROOT / "tests" / "submissions" / "conv-arithmetic" / "floor_not_ceil.py"),
                     "--output-dir", str(out), "--no-hidden")
    assert done.returncode == 1, done.stderr
    assert sentinel.read_text() == "precious"
    for name in ("result.json", "junit.xml", "results.json"):
        assert (out / name).is_file() and not (out / name).is_symlink()
    assert json.loads((out / "result.json").read_text())["status"] == "graded"


def test_on_a_terminal_grade_says_what_it_waits_for(tmp_path: Path) -> None:
    import os
    import pty
    import subprocess
    import sys

    from .conftest import ROOT

    leader, follower = pty.openpty()
    done = subprocess.run([sys.executable, "-m", "grader", str(TEMPLATE), "--no-hidden"], cwd=ROOT,
                          stdout=subprocess.PIPE, stderr=follower, timeout=300)
    os.close(follower)
    said = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:
            break
        if not chunk:
            break
        said += chunk
    os.close(leader)
    assert done.returncode == 1
    assert b"starting the sandbox and loading the checks" in said and b"running the notebook" in said
    assert b"starting the sandbox" not in done.stdout  # the summary itself stays clean
