"""Output files are written whole, with mode 0o644, and never through a planted link (real files)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from grader.files import write_atomic


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
    with pytest.raises(OSError):
        write_atomic(target, "cannot replace a folder with a file")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_folder"]
    assert (target / "inside").is_dir()


def test_a_long_name_still_gets_a_temporary_file(tmp_path: Path) -> None:
    path = tmp_path / ("s" * 250 + ".html")
    write_atomic(path, "ok")
    assert path.read_text() == "ok"


def test_batch_still_offers_write_atomic() -> None:
    from grader import batch, files

    assert batch.write_atomic is files.write_atomic
