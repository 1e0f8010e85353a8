"""Where student code runs: a small interface and its backends.

A backend starts `argv` for one submission with the scratch folder as the only place the
student's code is meant to write, applies the resource limits, and can kill everything the
submission started. `subprocess` is a resource-limited child in its own session.
"""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol

GRADER_PACKAGE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Limits:
    """What one submission may use."""

    call_seconds: float = 10.0
    cell_seconds: float = 60.0
    run_seconds: float = 300.0
    startup_seconds: float = 60.0
    memory_bytes: int = 4 * 2**30
    processes: int = 512
    file_bytes: int = 512 * 2**20

    @property
    def memory_text(self) -> str:
        return f"{self.memory_bytes / 2**30:g} GiB"


class Sandbox(Protocol):
    name: str

    def start(self, argv: list[str], scratch: Path, limits: Limits, stderr: IO[bytes]) -> subprocess.Popen[bytes]:
        """Start `argv` confined to `scratch`, with stdin and stdout as pipes."""

    def stop(self, process: subprocess.Popen[bytes]) -> None:
        """Kill `process` and everything it started."""


def child_environment(scratch: Path, python_path: str) -> dict[str, str]:
    """A small, clean environment: nothing of the grader's own is passed on."""
    return {
        "PATH": os.path.dirname(sys.executable) + ":/usr/local/bin:/usr/bin:/bin",
        "HOME": str(scratch / "home"),
        "TMPDIR": str(scratch / "tmp"),
        "PYTHONPATH": python_path,
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
        "JUPYTER_RUNTIME_DIR": str(scratch / "runtime"),
        "JUPYTER_PLATFORM_DIRS": "1",
        "IPYTHONDIR": str(scratch / "ipython"),
        "MPLCONFIGDIR": str(scratch / "tmp"),
        "MPLBACKEND": "Agg",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "LANG": "C.UTF-8",
    }


def _apply_limits(limits: Limits) -> None:
    """Runs in the child between fork and exec."""
    os.setsid()
    resource.setrlimit(resource.RLIMIT_DATA, (limits.memory_bytes, limits.memory_bytes))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_bytes, limits.file_bytes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    cpu = int(limits.run_seconds) + 30
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))


class SubprocessSandbox:
    """A resource-limited child process in its own session: limits, but no isolation."""

    name = "subprocess"

    def start(self, argv: list[str], scratch: Path, limits: Limits, stderr: IO[bytes]) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            argv,
            cwd=scratch / "work",
            env=child_environment(scratch, str(scratch / "lib")),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            preexec_fn=lambda: _apply_limits(limits),
        )

    def stop(self, process: subprocess.Popen[bytes]) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


class PlainSandbox(SubprocessSandbox):
    """A plain child process in its own session, without resource limits (`--sandbox none`)."""

    name = "none"

    def start(self, argv: list[str], scratch: Path, limits: Limits, stderr: IO[bytes]) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            argv, cwd=scratch / "work", env=child_environment(scratch, str(scratch / "lib")),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, start_new_session=True,
        )


def get_sandbox(name: str = "auto") -> Sandbox:
    """The backend called `name` ("auto": the safest one that works here)."""
    if name == "none":
        return PlainSandbox()
    return SubprocessSandbox()
