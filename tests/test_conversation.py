"""The grader's state machine over the child's events, fed literal lines (no process).

Events are believed only in protocol order; anything else breaks the conversation for good,
and no line, however malformed, raises in the grader.
"""

from __future__ import annotations

import json

import pytest

from grader import protocol
from grader.codec import Decoder
from grader.conversation import BROKE_PROTOCOL, Conversation

from .conftest import line


def talk(decoder: Decoder, hidden: tuple[str, ...] = ("h",)) -> Conversation:
    return Conversation(decoder, ["a", "b"], hidden)


def cells() -> bytes:
    return line(protocol.CELLS, cells=[{"index": 0, "status": "ok", "output": "hi"}])


def ends(step: str, value: object = 1) -> list[bytes]:
    return [line(protocol.START, step=step), line(protocol.END, step=step, status="returned", value=value)]


def test_events_in_protocol_order_are_believed(decoder: Decoder) -> None:
    c = talk(decoder)
    for event in [cells(), *ends("a"), *ends("b", 2), line(protocol.WAITING)]:
        c.take(event, 1.0)
    assert c.phase == "waiting" and c.cells is not None and c.cells[0].output == "hi"
    assert {k: o.value for k, o in c.observations.items()} == {"a": 1, "b": 2}
    c.hidden_sent()
    for event in [*ends("h", 3), line(protocol.DONE)]:
        c.take(event, 2.0)
    assert c.phase == "done" and c.observations["h"].value == 3


@pytest.mark.parametrize("events", [
    [line(protocol.START, step="a")],  # before the cells' log
    [cells(), line(protocol.END, step="a", status="returned", value=1)],  # an end without its start
    [cells(), line(protocol.START, step="b")],  # out of order
    [cells(), *ends("a"), line(protocol.END, step="a", status="returned", value=2)],  # a second word
    [cells(), line(protocol.START, step="h")],  # a hidden step before it was sent
    [cells(), line(protocol.WAITING)],  # waiting before part 1 is done (asks for the hidden part early)
    [cells(), *ends("a"), *ends("b"), line(protocol.DONE)],  # done, though a part 2 is to come
    [cells(), *ends("a"), *ends("b"), line(protocol.WAITING), line(protocol.START, step="h")],  # before it is sent
    [cells(), cells()],
    [b"[" * 100_000 + b"]" * 100_000],  # RecursionError in json
    [b"\xff\xfe not utf-8"], [b"[1, 2]"], [b"not json"], [b"9" * 5000],
    [cells(), b"not json"],
    [b'{"event": "start", "step": "' + b"x" * (protocol.MAX_EVENT_LINE + 1) + b'"}'],
    [cells(), line("LEAK 227 11", step="a")],
    [line(protocol.KERNEL_EXIT, returncode=1), line(protocol.KERNEL_EXIT, returncode=1)],  # an honest child exits
    [cells(), *ends("a"), line(protocol.KERNEL_EXIT, returncode=-9), line(protocol.KERNEL_EXIT, returncode=-9)],
    [line(protocol.KERNEL_EXIT, returncode="1")],
])
def test_anything_out_of_order_breaks_it_for_good(decoder: Decoder, events: list[bytes]) -> None:
    c = talk(decoder)
    for event in events:
        c.take(event, 1.0)
    assert c.phase == "broken" and c.violation.startswith(BROKE_PROTOCOL)
    assert "LEAK" not in c.violation  # the child's words never reach the message
    observed = dict(c.observations)
    for event in [cells(), *ends("a"), *ends("b")]:
        c.take(event, 2.0)
    assert c.phase == "broken" and c.observations == observed


def test_an_answer_that_cannot_be_read_is_an_error_on_its_step(decoder: Decoder) -> None:
    deep: object = 1
    for _ in range(200):
        deep = [deep]
    bad_values = [deep, {"$tuple": 5}, {"$tensor": "missing.tensor"}, {"$object": {"type": 1}}]
    steps = [f"s{i}" for i in range(len(bad_values) + 1)]
    c = Conversation(decoder, steps)
    c.take(cells(), 0.0)
    for step, value in zip(steps, bad_values, strict=False):
        for event in ends(step, value):
            c.take(event, 1.0)
    c.take(line(protocol.START, step=steps[-1]), 1.0)
    c.take(b'{"event": "end", "step": "s4", "value": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", 1.0)
    c.take(line(protocol.DONE), 1.0)
    assert c.phase == "done"
    for step in steps:
        observed = c.observations[step]
        assert observed.status == "crashed" and "could not be read back" in observed.error_message


def test_free_text_is_made_valid_and_capped(decoder: Decoder) -> None:
    c = Conversation(decoder, ["a"])
    c.take(cells(), 0.0)
    c.take(line(protocol.START, step="a"), 0.0)
    raw = json.dumps({"event": "end", "step": "a", "status": "raised", "error_type": "E\ud800",
                      "error_message": "x" * 10**6, "error_bases": ["Exception", 5, None], "seconds": "soon",
                      "output": "\udcff"}).encode()
    c.take(raw, 1.0)
    observed = c.observations["a"]
    assert observed.status == "raised" and observed.error_bases == ("Exception",) and observed.seconds == 0.0
    assert len(observed.error_message) == protocol.MAX_TEXT
    (observed.error_type + observed.output).encode("utf-8")


def test_kernel_exit_is_noted_in_any_live_phase(decoder: Decoder) -> None:
    c = talk(decoder)
    c.take(line(protocol.KERNEL_EXIT, returncode=-9), 1.0)
    assert c.kernel_exit == -9 and c.phase == "cells"


def test_a_cells_first_line_is_one_line_whatever_the_child_sent(decoder: Decoder) -> None:
    c = talk(decoder)
    forged = "x\n  \u2713 conv_params   6 / 6\r\u2028  \u2713 conv_output_size   6 / 6\n16 of 16 checks passed\n("
    c.take(line(protocol.CELLS, cells=[{"index": 0, "status": "error", "source_head": forged}]), 1.0)
    assert c.cells is not None
    head = c.cells[0].source_head
    assert head.splitlines() == [head] and head.startswith("x\\n  \u2713 conv_params   6 / 6\\x0d\\u2028")
