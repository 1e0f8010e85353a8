"""What one submission may use: plain values, importable anywhere (grader.check() on Windows
and macOS included), applied by the sandbox (grader/sandbox.py) where there is one."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """What one submission may use."""

    call_seconds: float = 10.0  # CPU seconds of one call (all the submission's processes)
    cell_seconds: float = 60.0  # CPU seconds of one cell
    run_seconds: float = 300.0  # CPU seconds of the whole run (start-up not counted)
    startup_seconds: float = 60.0  # awake time (grader/awake.py) for a kernel to start (before any student code)
    asleep_seconds: float = 60.0  # awake time: cells that used (almost) no CPU this long wait for what never comes
    memory_bytes: int = 4 * 2**30
    processes: int = 512
    file_bytes: int = 512 * 2**20
    disk_bytes: int = 2 * 2**30  # all files together (its scratch space's size, else counted)
    disk_files: int = 20_000  # files and folders in the scratch folder (its tmpfs's inodes, else counted)
    graph_work: int = 200_000_000_000  # multiply-adds the grader spends running its exported models (graph_work.py)

    @property
    def memory_text(self) -> str:
        return f"{self.memory_bytes / 2**30:g} GiB"

    @property
    def cpu_seconds(self) -> int:
        """CPU time for the whole child; the wall-clock deadlines normally stop it first."""
        return int(self.run_seconds + self.startup_seconds) + 30
