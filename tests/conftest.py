"""Shared fixtures: the project's folders and a way to run the real `grade` command."""

from __future__ import annotations

import fcntl
import functools
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from grader import protocol
from grader.codec import Decoder
from grader.sandbox import python_roots

ROOT = Path(__file__).resolve().parent.parent
SUBMISSIONS = ROOT / "tests" / "submissions"


MACHINE_LOCK = Path("/tmp/coursegrade-tests.lock")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[object]:
    """Tests run two at a time (pytest-xdist, README's test command), each holding a shared lock on
    the machine from its fixtures' set-up to their teardown (module fixtures included); a test
    marked `whole_machine` holds it alone: it asserts what no other test may change meanwhile
    (no process left behind, no file changed outside the sandboxes) or loads every core itself.
    The lock is per machine, so two checkouts' suites keep out of each other's way as well."""
    with open(MACHINE_LOCK, "a") as lock:
        alone = item.get_closest_marker("whole_machine") is not None
        fcntl.flock(lock, fcntl.LOCK_EX if alone else fcntl.LOCK_SH)
        return (yield)


@pytest.fixture
def run_grade():
    """Run `python -m grader ARGS` in a real subprocess; returns the CompletedProcess."""

    def run(*args: str, timeout: float = 300, **kwargs) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "grader", *args],
            cwd=kwargs.pop("cwd", ROOT), capture_output=True, text=True, timeout=timeout, **kwargs,
        )

    return run


HOSTILE_NAMES = ("coursegrade-orphan-sleeper", "coursegrade-fork-bomb")
HOSTILE_FILE = "HOSTILE_WAS_HERE.txt"
LINK_TARGET = Path("/tmp/coursegrade-hostile-sentinel/target.txt")  # plants_links.py points at it


@pytest.fixture
def link_target() -> Iterator[Path]:
    """The file the hostile corpus plants links to: outside every sandbox, made by the test. Its
    path is written in the sample, so every checkout on the machine shares it: a suite holds a
    lock on it while it uses it (another suite waits instead of rewriting it midway)."""
    LINK_TARGET.parent.mkdir(exist_ok=True)
    with open(LINK_TARGET.parent / "lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        LINK_TARGET.write_text("untouched\n")
        yield LINK_TARGET


def _live(pid: str) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return False
    return stat[stat.rindex(b")") + 2:][:1] not in (b"Z", b"X")


def process_runs(name: str) -> bool:
    """Some process is called `name` (/proc/PID/comm): e.g. a notebook's cell that named its own."""
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            if Path(f"/proc/{entry}/comm").read_text().strip() == name:
                return True
        except OSError:
            continue
    return False


def waited_for(condition: Callable[[], bool], seconds: float = 240, every: float = 0.05) -> bool:
    """A generous bound on a wait for something that does happen, never an assertion about time."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(every)
    return False


def leftover_processes() -> list[str]:
    """Live processes of a finished submission: marked with a scratch folder that is gone, or
    named like the hostile corpus's sleepers."""
    left = []
    for pid in (p for p in os.listdir("/proc") if p.isdigit()):
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        scratch = [e.split(b"=", 1)[1] for e in environ if e.startswith(b"COURSEGRADE_RUN=")]
        gone = bool(scratch) and not os.path.exists(scratch[0])
        if (gone or command.startswith(HOSTILE_NAMES)) and _live(pid):
            left.append(f"{pid}: {command[:120]}")
    return left


def sentinel_snapshot() -> dict[str, object]:
    """What a submission must never change: the course's folders, the Python environment, the
    home folder, and the places the hostile corpus tries to write to."""
    folders = [ROOT, ROOT / "grader", ROOT / "reference", ROOT / "assignments", ROOT / "reports", Path(sys.prefix)]
    caches = ("__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache")
    snapshot: dict[str, object] = {
        str(f): sorted(p.name for p in f.iterdir() if p.name not in caches) for f in folders if f.is_dir()
    }
    for place in [*folders, Path.home(), Path("/tmp"), Path("/work")]:  # others may write there: only ours
        snapshot[str(place / HOSTILE_FILE)] = (place / HOSTILE_FILE).exists()
    target = os.lstat(LINK_TARGET) if LINK_TARGET.exists() else None
    snapshot[str(LINK_TARGET)] = (target.st_mode, target.st_size, target.st_mtime_ns) if target else None
    return snapshot


@functools.cache
def full_marks(assignment: str) -> float | int:
    """The assignment's points with its hidden checks (as instructors grade): checks change, tests follow."""
    from grader.assignments import load_assignment

    points = sum(c.points for c in load_assignment(assignment).checks)
    return int(points) if points == int(points) else points  # as the gradebook writes it: 59, not 59.0


def check_count(assignment: str) -> int:
    from grader.assignments import load_assignment

    return len(load_assignment(assignment).checks)


@pytest.fixture
def decoder(tmp_path: Path) -> Iterator[Decoder]:
    """A decoder over an empty output folder, for conversations fed literal lines."""
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    yield Decoder(fd)
    os.close(fd)


def line(kind: str, **fields: object) -> bytes:
    """One event line as the probe writes it."""
    return protocol.event_line(kind, **fields).encode()


def leading_to_python(folder: str) -> set[str]:
    """The names in `folder` that only lead to the Python environment (what a sandbox mounts there)."""
    return {Path(r).relative_to(folder).parts[0] for r in python_roots() if r.startswith(folder + "/")}


# -- a headless Chromium, for the pages (tests/test_browser.py, tests/test_reports_review.py) --------

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--window-size=1100,1400")


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()
