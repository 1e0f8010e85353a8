"""The sandboxed side: `python -m grader.child SCRATCH` executes one submission.

It starts a Jupyter kernel through nbclient and warms it (imports), says "ready" on stdout,
waits for "go" on stdin (so a warm worker can be started before its submission is known),
then executes every cell of `SCRATCH/submission.ipynb` (a failing cell does not stop the
others) and finally runs the probe. Everything it writes goes to `SCRATCH/out/`.
This process and the kernel are untrusted: the grader believes nothing it says, and only
reads its files as data.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError

from grader.runner import KERNEL_DIED

MAX_CELL_OUTPUT = 16 * 1024
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class _CappedClient(NotebookClient):
    """An nbclient that keeps at most MAX_CELL_OUTPUT characters of each cell's output."""

    def output(self, outs: list[Any], msg: dict[str, Any], display_id: str | None, cell_index: int) -> Any:
        kept = sum(len(str(o.get("text", ""))) for o in outs)
        if msg["msg_type"] == "stream" and kept >= MAX_CELL_OUTPUT:
            self.dropped = getattr(self, "dropped", 0) + len(msg["content"].get("text", ""))
            return None
        if msg["msg_type"] in ("display_data", "execute_result", "update_display_data"):
            return None  # pictures and rich outputs are not needed for grading
        return super().output(outs, msg, display_id, cell_index)


def _cell_log(index: int, cell: Any, status: str, note: str = "") -> dict[str, Any]:
    text, error = [], note
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream":
            text.append(str(out.get("text", "")))
        elif out.get("output_type") == "error":
            trace = "\n".join(out.get("traceback", [])) or f"{out.get('ename')}: {out.get('evalue')}"
            error = _ANSI.sub("", trace)[-4000:]
            status = "error"
    first_line = next((line for line in cell.source.splitlines() if line.strip()), "")
    return {
        "index": index,
        "status": status,
        "source_head": first_line[:120],
        "error": error,
        "output": "".join(text)[:MAX_CELL_OUTPUT],
    }


def _kernel_returncode(client: NotebookClient) -> int | None:
    process = getattr(getattr(client.km, "provisioner", None), "process", None)
    return process.wait(timeout=5) if process is not None else None


def _code_cell(source: str) -> Any:
    return nbformat.v4.new_code_cell(source)


def main(scratch: Path) -> int:
    config = json.loads((scratch / "config.json").read_text())
    out = scratch / "out"
    warm = "\n".join(f"import {m}" for m in config.get("warm_imports", []))
    setup = f"import grader.probe as __coursegrade_probe\n{warm}\n"
    if "torch" in config.get("warm_imports", []):
        setup += "torch.set_num_threads(1)\n"
    client = _CappedClient(
        nbformat.v4.new_notebook(cells=[_code_cell(setup)]),
        timeout=config.get("cell_seconds", 60),
        kernel_name="python3",
        allow_errors=True,
        interrupt_on_timeout=True,
        resources={"metadata": {"path": str(scratch / "work")}},
    )
    logs: list[dict[str, Any]] = []
    with client.setup_kernel(stdout=subprocess.DEVNULL):  # raw fd 1 writes: not into the pipe to the grader
        client.execute_cell(client.nb.cells[0], 0)
        print("ready", flush=True)
        if sys.stdin.readline().strip() != "go":
            return 0
        nb = nbformat.read(scratch / "submission.ipynb", as_version=4)
        code_cells = [c for c in nb.cells if c.cell_type == "code"]
        probe = _code_cell(f"__coursegrade_probe.run({str(scratch)!r})")
        client.nb = nbformat.v4.new_notebook(cells=[*code_cells, probe])
        try:
            for index, cell in enumerate(code_cells):
                try:
                    client.execute_cell(cell, index)
                    logs.append(_cell_log(index, cell, "ok"))
                except CellTimeoutError:
                    logs.append(_cell_log(index, cell, "timeout", "the cell ran past its time limit"))
                (out / "cells.json").write_text(json.dumps(logs))
            client.timeout = None  # the probe keeps its own deadlines, the grader its own
            with open(out / "events.jsonl", "a") as events:  # the grader's watch on a stuck probe
                events.write(json.dumps({"event": "probe"}) + "\n")
            client.execute_cell(probe, len(code_cells))
        except DeadKernelError:
            (out / "cells.json").write_text(json.dumps(logs))
            (out / "kernel-exit.json").write_text(json.dumps({"returncode": _kernel_returncode(client)}))
            return KERNEL_DIED
    (out / "cells.json").write_text(json.dumps(logs))
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
