"""Output files are written whole, with mode 0o644, and never through a planted link (real files):
not at their name, not at any folder on their path, even one swapped for a link after the
grader opened the folder (as a student can, while their code runs, with the folder they own)."""

from __future__ import annotations

import os
import pickle
import stat
from pathlib import Path

import pytest

from grader import files
from grader.errors import OutputError
from grader.files import OutputFolder, write_atomic

from .conftest import ROOT

OTHER_UID = 54321  # a user who is neither root nor the one running the tests


def _plant(link: Path, elsewhere: Path) -> Path:
    sentinel = elsewhere / "sentinel.txt"
    sentinel.write_text("precious")
    link.symlink_to(sentinel)
    return sentinel


def test_writes_text_as_utf8_with_mode_644(tmp_path: Path) -> None:
    path = tmp_path / "deeper" / "report.html"
    write_atomic(path, "café ✓ 漢")
    assert path.read_bytes() == "café ✓ 漢".encode()
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_writes_bytes_and_replaces_an_old_file(tmp_path: Path) -> None:
    path = tmp_path / "out.bin"
    path.write_text("old")
    write_atomic(path, b"\x00\xffnew")
    assert path.read_bytes() == b"\x00\xffnew"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


def test_a_link_planted_at_the_path_is_replaced_not_followed(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    reports = tmp_path / "reports"
    reports.mkdir()
    sentinel = _plant(reports / "alice.html", elsewhere)
    write_atomic(reports / "alice.html", "<p>new</p>")
    assert sentinel.read_text() == "precious"
    assert not (reports / "alice.html").is_symlink() and (reports / "alice.html").is_file()
    assert (reports / "alice.html").read_text() == "<p>new</p>"


def test_links_planted_at_the_old_predictable_temporary_names_are_not_followed(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    sentinel = _plant(tmp_path / f".report.html.{os.getpid()}.tmp", elsewhere)
    write_atomic(tmp_path / "report.html", "new")
    assert sentinel.read_text() == "precious"
    assert (tmp_path / "report.html").read_text() == "new"


def test_a_lone_surrogate_is_written_as_a_replacement_character(tmp_path: Path) -> None:
    write_atomic(tmp_path / "a.txt", "x\ud800y")
    assert (tmp_path / "a.txt").read_text(encoding="utf-8") == "x\ufffdy"


def test_a_failed_write_leaves_no_temporary_file_and_the_old_content(tmp_path: Path) -> None:
    target = tmp_path / "a_folder"
    (target / "inside").mkdir(parents=True)
    with pytest.raises(OutputError, match="Is a directory"):  # one line for the user, not an OSError's traceback
        write_atomic(target, "cannot replace a folder with a file")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_folder"]
    assert (target / "inside").is_dir()


def test_a_long_name_still_gets_a_temporary_file(tmp_path: Path) -> None:
    path = tmp_path / ("s" * 250 + ".html")
    write_atomic(path, "ok")
    assert path.read_text() == "ok"


def _class(tmp_path: Path) -> tuple[Path, Path]:
    """home_alice/hw (Alice's folder, her submission in it) and victim/ (root's, 0o700)."""
    hw, victim = tmp_path / "home_alice" / "hw", tmp_path / "victim"
    hw.mkdir(parents=True)
    victim.mkdir(mode=0o700)
    (hw / "evil.ipynb").write_text("{}")
    return hw, victim


def _swap_for_link(folder: Path, target: str) -> Path:
    """What the student does while their code runs: their folder renamed, a link in its place."""
    moved = folder.with_name(folder.name + ".orig")
    folder.rename(moved)
    folder.symlink_to(target)
    return moved


def test_the_folder_swapped_for_a_link_after_it_was_opened_is_refused(tmp_path: Path) -> None:
    """The review's attack, deterministically: opened at the start, swapped, then written."""
    hw, victim = _class(tmp_path)
    with OutputFolder.open(hw) as folder:
        moved = _swap_for_link(hw, "../victim")
        with pytest.raises(OutputError, match="was moved or replaced"):
            folder.write("evil.html", "<p>report</p>")
    assert list(victim.iterdir()) == []
    assert sorted(p.name for p in moved.iterdir()) == ["evil.ipynb"]  # nothing written anywhere


def test_a_folder_higher_up_swapped_for_a_link_is_refused(tmp_path: Path) -> None:
    hw, victim = _class(tmp_path)
    (victim / "hw").mkdir()  # the same names under the link: only the folder's identity tells
    with OutputFolder.open(hw) as folder:
        _swap_for_link(hw.parent, str(victim))
        with pytest.raises(OutputError, match="was moved or replaced"):
            folder.write("evil.html", "<p>report</p>")
    assert list((victim / "hw").iterdir()) == []


def test_a_link_planted_where_a_missing_folder_is_to_be_made_is_refused(tmp_path: Path) -> None:
    out, victim = tmp_path / "out", tmp_path / "victim"
    victim.mkdir()
    with OutputFolder.open(out / "reports") as folder:  # neither is there yet: made at the first write
        out.symlink_to(victim)
        with pytest.raises(OutputError, match="is not a folder"):
            folder.write("alice.html", "x")
    assert list(victim.iterdir()) == []


def test_a_link_planted_at_a_subfolder_is_refused_and_not_listed_or_emptied(tmp_path: Path) -> None:
    out, victim = tmp_path / "out", tmp_path / "victim"
    out.mkdir()
    victim.mkdir()
    (victim / "alice.json").write_text("precious")
    (victim / ".x.tmp").write_text("precious")
    with OutputFolder.open(out) as folder:
        (out / "results").symlink_to(victim)
        with pytest.raises(OutputError, match="is not a folder"):
            folder.write("results/bob.json", "{}")
        with pytest.raises(OutputError):
            folder.names("results")
        with pytest.raises(OutputError):
            folder.remove("results/alice.json")
    assert sorted(p.name for p in victim.iterdir()) == [".x.tmp", "alice.json"]


def test_subfolders_are_made_and_files_removed_and_listed_within_the_folder(tmp_path: Path) -> None:
    with OutputFolder.open(tmp_path / "out") as folder:
        assert folder.names() == [] and folder.names("results") == []
        assert folder.write("results/alice.json", "{}") == tmp_path / "out" / "results" / "alice.json"
        assert folder.names("results") == ["alice.json"]
        folder.remove("results/alice.json")
        folder.remove("results/alice.json")  # not there: nothing to do
    assert list((tmp_path / "out" / "results").iterdir()) == []


def test_the_folder_moved_while_the_file_was_written_is_said(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Swapped between the check before writing and the rename: the file stays in the folder
    opened (now hw.orig, Alice's), never in victim/, and the grader does not say it is at hw/."""
    hw, victim = _class(tmp_path)
    write_in = files._write_in

    def swapped_midway(fd: int, name: str, content: bytes) -> tuple[int, int]:
        _swap_for_link(hw, "../victim")
        return write_in(fd, name, content)

    monkeypatch.setattr(files, "_write_in", swapped_midway)
    with OutputFolder.open(hw) as folder, pytest.raises(OutputError, match="the file is not where it was to be"):
        folder.write("evil.html", "<p>report</p>")
    assert list(victim.iterdir()) == []
    assert (tmp_path / "home_alice" / "hw.orig" / "evil.html").read_text() == "<p>report</p>"


def test_a_spawned_process_reopens_the_same_folder_or_refuses(tmp_path: Path) -> None:
    hw, victim = _class(tmp_path)
    with OutputFolder.open(hw) as folder:
        copy = pickle.loads(pickle.dumps(folder))
        copy.write("a.html", "same folder")
        copy.close()
        _swap_for_link(hw, "../victim")
        with pytest.raises(OutputError, match="was moved or replaced"):
            pickle.loads(pickle.dumps(folder)).write("b.html", "x")
    assert (tmp_path / "home_alice" / "hw.orig" / "a.html").read_text() == "same folder"
    assert list(victim.iterdir()) == []


def test_links_of_root_or_of_this_user_on_the_path_are_followed(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "mine").symlink_to("real")
    with OutputFolder.open(tmp_path / "mine" / "out") as folder:
        assert folder.write("a.txt", "ok") == tmp_path / "mine" / "out" / "a.txt"
    assert (tmp_path / "real" / "out" / "a.txt").read_text() == "ok"


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a link to another user needs root")
def test_a_link_another_user_owns_on_the_path_is_refused(tmp_path: Path) -> None:
    """Alice's link, there before grading starts: the grader (root) does not follow it."""
    hw, victim = _class(tmp_path)
    os.lchown(tmp_path / "home_alice", OTHER_UID, OTHER_UID)
    (hw / "reports").symlink_to(victim)
    os.lchown(hw / "reports", OTHER_UID, OTHER_UID)
    with pytest.raises(OutputError, match=f"a link another user \\(uid {OTHER_UID}\\) owns"):
        OutputFolder.open(hw / "reports")
    assert list(victim.iterdir()) == []


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a folder to another user needs root")
def test_a_folder_another_user_owns_is_written_into(tmp_path: Path) -> None:
    """A student's folder (or a shared course folder a colleague owns): the file lands there."""
    hw, _ = _class(tmp_path)
    os.chown(hw, OTHER_UID, OTHER_UID)
    with OutputFolder.open(hw) as folder:
        folder.write("evil.html", "report")
    assert (hw / "evil.html").stat().st_uid == 0 and stat.S_IMODE((hw / "evil.html").stat().st_mode) == 0o644


def test_the_batch_and_the_reports_write_only_into_output_folders() -> None:
    """`write_atomic` opens its folder as it writes: only for a command that runs no one's code."""
    for module in ("batch", "outputs", "gradebook", "html_report", "pool", "distributed"):
        source = (ROOT / "grader" / f"{module}.py").read_text()
        assert "write_atomic" not in source and "os.replace" not in source, module


def test_a_batch_whose_output_folder_was_swapped_saves_that_student_nowhere(tmp_path: Path) -> None:
    """A batch's workers write into OUT as it was opened when the batch started: swapped for a
    link since, the student is unsaved (a rerun grades them again) and nothing lands elsewhere."""
    from grader.assignments import load_assignment
    from grader.intake import Entry, SubmittedFile
    from grader.pool import PoolConfig, save_lost

    out, victim = tmp_path / "out", tmp_path / "victim"
    out.mkdir()
    victim.mkdir(mode=0o700)
    (tmp_path / "bob.py").write_text("")
    entry = Entry("bob", (SubmittedFile(tmp_path / "bob.py", "bob.py"),))
    with OutputFolder.open(out) as folder:
        _swap_for_link(out, "victim")
        graded = save_lost(entry, PoolConfig(load_assignment("conv-arithmetic"), folder, 1), "lost")
    assert graded.status == "unsaved" and "was moved or replaced" in graded.problem
    assert list(victim.iterdir()) == [] and list((tmp_path / "out.orig").iterdir()) == []
