"""Notebook cells executed in this very process with IPython's shell, as ipykernel executes them.

Runs on the untrusted side (a child forked by grader/zygote.py): magics, `display`, rich outputs
and tracebacks as Jupyter has them. Each cell's outputs come back as nbformat output dicts (the
streams, and an error with ename, evalue and the traceback lines ipykernel would send), so that
grader/child.py logs them as it logs nbclient's. Rich outputs are computed and dropped (the
grader keeps only streams); `input()` fails as in a kernel that allows no stdin.
"""

from __future__ import annotations

import builtins
import contextlib
import ctypes
import io
import os
import sys
import threading
from typing import Any

from IPython.core.displayhook import DisplayHook
from IPython.core.displaypub import DisplayPublisher
from IPython.core.error import StdinNotImplementedError
from IPython.core.interactiveshell import InteractiveShell
from traitlets.config import Config

from grader import protocol

NO_STDIN = "raw_input was called, but this frontend does not support input requests."


class _Quiet(DisplayPublisher):
    """display(): computed by the caller, shown nowhere (nbclient's outputs would drop it)."""

    def publish(self, *args: Any, **kwargs: Any) -> None:
        return None

    def clear_output(self, wait: bool = False) -> None:
        return None


class _QuietHook(DisplayHook):
    """A cell's last value: formatted (its repr runs, as in a kernel), not printed."""

    def write_output_prompt(self) -> None:
        return None

    def write_format_data(self, format_dict: Any, md_dict: Any = None) -> None:
        return None

    def finish_displayhook(self) -> None:
        return None


class _Stream(io.TextIOBase):
    """sys.stdout or sys.stderr during a cell: stream outputs, at most MAX_CELL_OUTPUT characters."""

    def __init__(self, name: str, outputs: list[dict[str, Any]], room: list[int], lock: threading.Lock) -> None:
        self.name, self.outputs, self.room, self.lock = name, outputs, room, lock

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def write(self, text: Any) -> int:
        text = str(text)
        with self.lock:
            self._keep(text)
        return len(text)

    def _keep(self, text: str) -> None:
        kept = text[:max(0, self.room[0])]
        if kept:
            self.room[0] -= len(kept)
            last = self.outputs[-1] if self.outputs else None
            if last is not None and last.get("output_type") == "stream" and last.get("name") == self.name:
                last["text"] += kept
            else:
                self.outputs.append({"output_type": "stream", "name": self.name, "text": kept})

    def flush(self) -> None:
        return None


class _NoStdin(io.TextIOBase):
    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> str:
        raise StdinNotImplementedError(NO_STDIN)

    def readline(self, size: int | None = -1) -> str:  # type: ignore[override]
        raise StdinNotImplementedError(NO_STDIN)


def _no_input(prompt: object = "") -> str:
    raise StdinNotImplementedError(NO_STDIN)


class _FdCapture:
    """What is written to file descriptor `fd` during a cell (C libraries, child processes), into
    `stream`, as ipykernel captures it; the descriptor is put back afterwards."""

    def __init__(self, fd: int, stream: _Stream) -> None:
        self.fd, self.stream = fd, stream
        self.saved = os.dup(fd)
        read, write = os.pipe()
        os.dup2(write, fd)
        os.close(write)
        self.read = read
        self.thread = threading.Thread(target=self._pump, daemon=True)
        self.thread.start()

    def _pump(self) -> None:
        while True:
            try:
                data = os.read(self.read, 65536)
            except OSError:
                return
            if not data:
                return
            self.stream.write(data.decode(errors="replace"))

    def close(self) -> None:
        with contextlib.suppress(Exception):
            _libc.fflush(None)
        os.dup2(self.saved, self.fd)
        os.close(self.saved)
        self.thread.join(timeout=1.0)  # a process the cell left running may keep the pipe open
        if not self.thread.is_alive():
            os.close(self.read)


_libc = ctypes.CDLL(None)


class Shell:
    """One IPython shell; `execute` runs a cell's source and returns its outputs."""

    def __init__(self) -> None:
        config = Config()
        config.HistoryManager.enabled = False
        config.InteractiveShell.colors = "nocolor"
        self.ip = InteractiveShell.instance(config=config)
        self.ip.display_pub = _Quiet(shell=self.ip)
        self.ip.displayhook = _QuietHook(shell=self.ip, cache_size=self.ip.cache_size)
        self.ip.display_trap.hook = self.ip.displayhook
        self.ip._showtraceback = self._showtraceback  # type: ignore[method-assign]
        self.outputs: list[dict[str, Any]] = []
        self.capture_fds = True

    def _showtraceback(self, etype: Any, evalue: Any, stb: list[str]) -> None:
        """What ipykernel sends as the error output (its own override of this method)."""
        self.outputs.append({"output_type": "error", "ename": getattr(etype, "__name__", str(etype)),
                             "evalue": str(evalue), "traceback": list(stb)})

    def execute(self, source: str) -> list[dict[str, Any]]:
        """Run one cell; its outputs (streams and error) in order."""
        outputs: list[dict[str, Any]] = []
        self.outputs = outputs
        room, lock = [protocol.MAX_CELL_OUTPUT], threading.Lock()
        saved = sys.stdout, sys.stderr, sys.stdin, builtins.input
        sys.stdout, sys.stderr = _Stream("stdout", outputs, room, lock), _Stream("stderr", outputs, room, lock)
        sys.stdin, builtins.input = _NoStdin(), _no_input
        captures = [_FdCapture(1, sys.stdout), _FdCapture(2, sys.stderr)] if self.capture_fds else []
        try:
            self.ip.run_cell(source, store_history=True)
        finally:
            for capture in captures:
                capture.close()
            sys.stdout, sys.stderr, sys.stdin, builtins.input = saved
        return outputs
