"""From an LMS export to one entry per student, without grading: layouts, rosters, which file
counts, ids that never collide, links never followed, archives unpacked safely."""

from __future__ import annotations

import os
import shutil
import unicodedata
import zipfile
from pathlib import Path

import pytest

from grader.archive import opened_export
from grader.errors import UsageError
from grader.intake import MAX_ID_LENGTH, detect_layout, read_export, student_id
from grader.roster import read_roster

from .conftest import ROOT

SAMPLES = ROOT / "tests" / "batch_samples"


def export(name: str, tmp_path: Path) -> Path:
    """A copy of a sample export, its files dated as the LMS would have them (git keeps no dates)."""
    folder = tmp_path / name
    shutil.copytree(SAMPLES / name, folder, ignore=shutil.ignore_patterns("roster.csv"))
    for age, path in enumerate(sorted(folder.rglob("*"), key=lambda p: "copy" in p.name)):
        os.utime(path, (1.8e9 - age * 60, 1.8e9 - age * 60))  # a "(copy)" is older than the original
    return folder


def test_canvas_export_one_entry_per_student_latest_counts(tmp_path: Path) -> None:
    folder = export("canvas", tmp_path)
    roster = read_roster(SAMPLES / "canvas" / "roster.csv")
    assert [s.name for s in roster.students][:2] == ["Smith, John", "Müller, Jörg"]  # "Points Possible" skipped
    intake = read_export(folder, roster=roster)
    entries = {e.student: e for e in intake.entries}
    assert intake.layout == "canvas" and sorted(entries) == ["jmuller", "jsmith", "zng", "zng2"]
    smith = entries["jsmith"]
    assert smith.name == "Smith, John" and smith.submission == "smithjohn_12345_67899_conv_arithmetic-1.py"
    assert [f.name for f in smith.others] == ["smithjohn_12345_67890_conv_arithmetic.py"]
    assert entries["jmuller"].files[0].late is True and entries["zng"].files[0].late is False
    assert [(a.student, a.name) for a in intake.missing] == [("aabsent", "Absent, Alex")]
    assert intake.unmatched == ("strangerdan_99999_67904_conv_arithmetic.py: matches no student of the roster",)


def test_canvas_without_roster_groups_by_user_and_keeps_letters(tmp_path: Path) -> None:
    intake = read_export(export("canvas", tmp_path))
    assert [e.student for e in intake.entries] == ["müllerjörg", "ngzoé", "ngzoë", "smithjohn", "strangerdan"]
    assert len(intake.entries[3].files) == 1 and len(intake.entries[3].others) == 1


def test_pick_policies(tmp_path: Path) -> None:
    folder = export("canvas", tmp_path)
    (folder / "müllerjörg_23456_67800_conv_arithmetic.py").write_text("# an early, on-time try\n")
    on_time = {e.student: e for e in read_export(folder, policy="latest-before-deadline").entries}
    assert on_time["müllerjörg"].submission == "müllerjörg_23456_67800_conv_arithmetic.py"
    assert on_time["smithjohn"].submission == "smithjohn_12345_67899_conv_arithmetic-1.py"
    best = {e.student: e for e in read_export(folder, policy="best").entries}
    assert len(best["smithjohn"].files) == 2 and best["smithjohn"].others == ()


def test_moodle_export_folders_names_and_copies(tmp_path: Path) -> None:
    folder = export("moodle", tmp_path)
    assert detect_layout(folder) == "moodle"
    no_roster = {e.student: e for e in read_export(folder).entries}
    assert sorted(no_roster) == ["Ann_Lee", "Ben_Ode", "Jörg_Müller"]
    roster = read_roster(SAMPLES / "moodle" / "roster.csv")
    intake = read_export(folder, roster=roster)
    entries = {e.student: e for e in intake.entries}
    jorg = entries["jorg.muller@uni.example"]
    assert jorg.name == "Jörg Müller" and jorg.submission.endswith("/conv.py")
    assert [f.name.rsplit("/", 1)[1] for f in jorg.others] == ["conv (copy).py"]
    assert entries["ann.lee@uni.example"].submission.endswith("Ann's notebook.ipynb")
    assert [a.name for a in intake.missing] == ["Cy Dell"] and intake.unmatched == ()


def test_names_that_would_collide_are_told_apart(tmp_path: Path) -> None:
    nfd = unicodedata.normalize("NFD", "Zoë")
    for name in ("bob.py", "bob..py", "Bob.py", "Zoë/hw.py", "Zoé/hw.py", f"{nfd}/hw.py", "summary.py",
                 "@x.py", "=1+1.py", "-rf.py", "+cmd.py", "a" * 245 + ".py"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text("x = 1\n")
    intake = read_export(tmp_path)
    ids = [e.student for e in intake.entries]
    assert len(ids) == 12 and len({i.casefold() for i in ids}) == 12
    assert "Zoë" in ids and "Zoé" in ids and "summary" in ids  # the exactly named keep their names
    bobs = sorted(i for i in ids if i.casefold().startswith("bob"))  # bob and Bob differ only by case:
    assert len(bobs) == 3 and all(i.startswith(("bob-", "Bob-")) for i in bobs)  # all told apart
    assert all(len(i) <= MAX_ID_LENGTH and not i.startswith(("=", "+", "-", "@", ".")) for i in ids)
    assert {e.submission for e in intake.entries if e.student.startswith(("bob", "Bob"))} == {
        "bob.py", "bob..py", "Bob.py"}
    assert any("told apart" in note for note in intake.notes)


def test_student_ids() -> None:
    assert student_id("Jörg Müller") == "Jörg_Müller" and student_id("o'brien j") == "o_brien_j"
    assert student_id("=HYPERLINK(x)") == "_HYPERLINK_x_" and student_id("-rf") == "_-rf"
    assert student_id("../../etc/passwd") == "_.._etc_passwd" and student_id("...") == "_"
    long = student_id("x" * 300)
    assert len(long) == MAX_ID_LENGTH and long != student_id("x" * 301)


def test_links_out_of_a_students_folder_are_not_followed(tmp_path: Path) -> None:
    folder = tmp_path / "class"
    (folder / "carol").mkdir(parents=True)
    (folder / "bob.py").write_text("x = 1\n")
    (folder / "mallory.py").symlink_to(folder / "bob.py")  # a classmate's file
    (folder / "eve.ipynb").symlink_to(ROOT / "reference" / "conv-arithmetic" / "solution.ipynb")
    (folder / "carol" / "hw.py").symlink_to(folder / "bob.py")
    (folder / "dan").mkdir()
    (folder / "dan" / "hw.py").write_text("x = 2\n")
    (folder / "dan" / "again.py").symlink_to(folder / "dan" / "hw.py")  # inside dan's own folder: fine
    (folder / "frank").symlink_to(folder / "dan")  # a folder that is a link
    entries = {e.student: e for e in read_export(folder).entries}
    for student in ("mallory", "eve", "carol", "frank"):
        assert "symbolic link" in entries[student].problem, student
    assert not entries["bob"].problem and not entries["dan"].problem


def test_roster_errors_are_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "roster.csv"
    bad.write_text("colour,size\nred,1\n")
    with pytest.raises(UsageError, match="no column of names or ids"):
        read_roster(bad)
    bad.write_text("Student,ID\nA,1\nB,1\n")
    with pytest.raises(UsageError, match="gives the LMS id '1' to two students"):
        read_roster(bad)


def test_a_zip_is_unpacked_without_trusting_its_names(tmp_path: Path) -> None:
    archive = tmp_path / "submissions.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for path in sorted((SAMPLES / "canvas").iterdir()):
            zipped.write(path, f"submissions/{path.name}")
        zipped.writestr("../escape.py", "x = 1\n")
        zipped.writestr("/abs.py", "x = 1\n")
        link = zipfile.ZipInfo("submissions/linkedstudent_777_888_hw.py")
        link.external_attr = (0o120777 << 16)
        zipped.writestr(link, "/etc/passwd")
    with opened_export(archive) as folder:
        unpacked = folder
        intake = read_export(folder)
        entries = {e.student: e for e in intake.entries}
        assert intake.layout == "canvas" and "smithjohn" in entries
        assert "symbolic link" in entries["linkedstudent"].problem
        assert not (tmp_path / "escape.py").exists() and not Path("/abs.py").exists()
    assert not unpacked.exists()  # removed after the batch
    archive.write_bytes(b"not a zip")
    with pytest.raises(UsageError, match="cannot read"), opened_export(archive):
        pass
