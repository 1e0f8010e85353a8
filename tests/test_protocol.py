"""The wire module is all the untrusted side needs: the child imports nothing of the grader's own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from grader import protocol

from .conftest import ROOT, SUBMISSIONS, check_count

CHILD_SIDE = {"grader", "grader.child", "grader.probe", "grader.protocol", "grader.codec",
              "grader.errors", "grader.model",  # the last two: plain value types the package exports
              "grader.export", "grader.families"}  # imported when a step needs them: standard library at the top


def test_the_child_side_imports_only_the_wire_and_value_types() -> None:
    code = ("import sys, grader.child, grader.probe, grader.export, grader.families; "
            "print(sorted(m for m in sys.modules if m.startswith('grader')))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert set(eval(done.stdout)) == CHILD_SIDE  # noqa: S307 - our own output


def test_messages_and_events_are_one_json_line_each() -> None:
    message = protocol.message(protocol.PART, part={"steps": [], "note": "a\nb"})
    assert message.count(b"\n") == 1 and json.loads(message)["kind"] == protocol.PART
    event = protocol.event_line(protocol.START, step="x\ny")
    assert event.count("\n") == 1 and json.loads(event) == {"event": "start", "step": "x\ny"}


def test_events_are_read_a_chunk_at_a_time_as_they_are_taken(tmp_path: Path) -> None:
    """However much the child wrote, the grader holds one chunk of it, and reads no further than
    the lines it takes (it stops taking them once the conversation is over)."""
    from grader.runner import READ_CHUNK, _Lines

    one = protocol.event_line(protocol.KERNEL_EXIT, returncode=1).encode()
    count = 3 * READ_CHUNK // len(one)
    events = tmp_path / protocol.EVENTS
    events.write_bytes(one * count + b'{"event": "done"')
    fd = os.open(events, os.O_RDONLY)
    try:
        reader = _Lines(fd)
        lines = reader.read(lambda: protocol.MAX_EVENTS_BYTES - reader.offset)
        assert next(lines) == one.rstrip(b"\n") and reader.offset == READ_CHUNK
        assert len(list(lines)) == count - 1 and reader.partial == b'{"event": "done"'
        with events.open("ab") as more:
            more.write(b"}\n" + one)
        assert list(reader.read(lambda: 0)) == []  # no room left: nothing read
        assert list(reader.read(lambda: 1 << 30)) == [b'{"event": "done"}', one.rstrip(b"\n")]
    finally:
        os.close(fd)


def test_forged_answers_still_give_json_and_an_exit_code(run_grade) -> None:
    """`grade FILE --format json` on answers that used to raise in the grader: a complete result."""
    done = run_grade(str(SUBMISSIONS / "hostile" / "forges_malformed_answers.py"), "--format", "json")
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "graded" and len(result["checks"]) == check_count("conv-arithmetic")
    unreadable = [c["id"] for c in result["checks"] if "could not be read back" in c["message"]]
    assert {"pool_output_size/slides-2x2", "conv_params/one-filter", "conv_params/no-bias",
            "shared_weights_params/slides-one-filter", "shared_weights_params/slides-ten-filters"} <= set(unreadable)


def test_each_step_starts_from_the_random_state_torch_manual_seed_gives() -> None:
    import random

    import numpy as np
    import torch

    from grader.probe import _seed

    def draws() -> tuple[float, float, list[float]]:
        return random.random(), float(np.random.rand()), torch.randn(3).tolist()

    _seed(7)
    ours = draws()
    random.seed(7), np.random.seed(7), torch.manual_seed(7)
    assert ours == draws()
