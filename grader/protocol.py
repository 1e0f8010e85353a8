"""The wire between the grader and the sandboxed child: every name, message and cap in one place.

Both sides import this module, and it imports nothing but the standard library: the untrusted
side (grader/child.py, grader/probe.py) never imports the grader's own modules.

Channels::

    grader ──stdin pipe (only the grader writes it)──────────────────────► child.py
        one JSON message a line: SUBMISSION (the notebook, part 1 of the plan), then PART
        (part 2: the hidden checks' inputs), sent only when the grader has frozen all the
        student can see
    child.py ──stdout: "ready" once the kernel is warm──────────────────────► grader
    child.py, probe ──SCRATCH/out/events.jsonl──────────────────────────────► grader
        created by the grader before the child starts and read only through the descriptor
        the grader opened then; one JSON event a line; tensors in SCRATCH/out/, by name
    forked chain i (when the plan has chains) ──SCRATCH/out/chain-i.jsonl──────► grader
        the same, one file per chain, start/end of that chain's steps only; the main file
        says when each chain's process ended (chain-exit)

Everything the child side writes is untrusted: the student's code shares the probe's process
and can write any byte into the events file. The grader reads the events through a strict
state machine (grader/conversation.py); a perfectly forged conversation gains nothing, because
verdicts are computed in the grader from decoded plain data, and the hidden part of the plan
exists on the child's side only after the grader froze everything a student is shown::

    CELLS ──cells──► PUBLIC ──start s──► RUNNING s ──end s──► PUBLIC ──(every step of part 1 ended)─┐
                                                                                                    │
      ┌──────────── no hidden part: done ──► DONE ◄──done── HIDDEN ◄──(grader sends PART)── WAITING ◄┘ waiting
      ▼                                                       ▲  │
     DONE                                        start h / end h (each hidden step once, in order)

    a part's forked chains: each file in its own chain's order, chains interleaved; WAITING
    and DONE only once every chain has answered for all its steps or ended (chain-exit)
    any other event, in any state ──► BROKEN: nothing more the child says is used
    kernel-exit (the child's word on why its kernel died) is taken once, in any state but DONE,
    BROKEN (a second one breaks the protocol: an honest child exits after it)
"""

from __future__ import annotations

import json
from typing import IO, Any

# -- the scratch folder (the student's; the grader only reads it, through descriptors) -----------
OUT = "out"  # events and returned tensors
EVENTS = "events.jsonl"
INPUTS = "inputs"  # input tensors, written by child.py from the grader's messages
WORK = "work"  # the notebook's working directory
CONFIG = "config.json"  # written by the grader before the child starts
STDERR = "stderr.txt"  # the child's standard error: the grader reads its tail for start-up failures
SUBFOLDERS = (WORK, OUT, INPUTS, "home", "tmp", "runtime", "ipython", "lib")


MAX_CHAINS = 32  # events files of forked chains, created by the grader before the child starts


def chain_file(index: int) -> str:
    """Where the process forked for chain `index` writes its steps' events (in OUT)."""
    return f"chain-{index}.jsonl"


def chain_process_name(index: int) -> str:
    """The name (/proc/PID/comm) the process forked for chain `index` gives itself, by which the
    grader puts it in a control group of its own (PLAN "placed"): a claim, which only decides
    which of the submission's own steps its CPU is charged to (grader/runner.py)."""
    return f"cgchain-{index}"


def plan_file(part: int) -> str:
    """Where child.py puts part `part` of the plan for the probe to read."""
    return f"plan-{part}.json"


# -- the handshake and the grader's messages ----------------------------------------------------
READY = b"ready"
SUBMISSION = "submission"  # {"kind", "notebook": nbformat-4 dict, "part": PLAN}
PART = "part"  # {"kind", "part": PLAN}
# PLAN = {"part": n, "seed": int, "more": bool, "steps": [STEP...], "tensors": {file name: base64}}
# STEP = {"name", "function", "args", "kwargs", "observe", "call", "timeout", "forbidden"}
# PLAN may also say {"chains": [{"index": i, "steps": [names]}...], "jobs": n}: those steps run in
# processes the probe forks (after the cells ran), at most n at once, each writing chain_file(i);
# with {"placed": true} each such process names itself chain_process_name(i) and waits (at most
# PLACE_SECONDS) until the grader has moved it into a control group of its own
PLACE_SECONDS = 20.0  # an honest chain is placed within a poll of the grader (20 ms); a stalled grader is waited for
KERNEL_DIED = 3  # child.py's exit status when the kernel died under it
CHAIN_GRACE = 2.0  # CPU seconds a forked chain may use beyond its steps' limits, each (RLIMIT_CPU)
WALL_FACTOR, WALL_SLACK = 5.0, 30.0  # limits are CPU seconds; wall clock is only a backstop: 5 x + 30 s (awake time)

# -- events (child → grader) ---------------------------------------------------------------------
CELLS = "cells"  # {"event", "cells": [{"index", "status", "source_head", "error", "output"}]}
START = "start"  # {"event", "step"}
END = "end"  # {"event", "step", "status", "value" | "error_type", "error_bases", "error_message", ...}
WAITING = "waiting"  # part 1 is done and the plan said more: the grader may send PART
DONE = "done"  # the last part is done
KERNEL_EXIT = "kernel-exit"  # {"event", "returncode"}: why child.py is about to exit KERNEL_DIED
CHAIN_EXIT = "chain-exit"  # {"event", "chain", "returncode"}: a forked chain's process ended (main file)

# -- caps ---------------------------------------------------------------------------------------
MAX_MESSAGE_BYTES = 256 * 2**20  # one grader message (the notebook is at most 20 MiB)
MAX_EVENTS_BYTES = 64 * 2**20  # all events of one child
MAX_EVENT_LINE = 8 * 2**20  # one event (the cells' log is the longest)
MAX_JSON_DEPTH = 64  # nesting of any JSON the grader decodes from the child
MAX_CELL_OUTPUT = 16 * 1024  # characters of one cell's output kept
MAX_CELL_ERROR = 4000
MAX_CELLS = 500
MAX_STEP_OUTPUT = 8 * 1024  # characters printed by one step kept
MAX_TEXT = 4000  # an error message
MAX_NAME = 200  # a type or exception name
MAX_REPR = 300
MAX_TENSOR_BYTES = 64 * 2**20  # one tensor file
MAX_TENSOR_REFS = 512  # tensor references in one answer
MAX_STEP_TENSOR_BYTES = 256 * 2**20  # decoded tensor bytes in one answer, each reference counted
MAX_RUN_TENSOR_BYTES = 1024 * 2**20  # tensor files read from one child, each once


def message(kind: str, **fields: Any) -> bytes:
    """One grader message, framed as a line."""
    return json.dumps({"kind": kind, **fields}).encode() + b"\n"


def read_message(stream: IO[bytes], kind: str) -> dict[str, Any] | None:
    """The next grader message of `kind` (child side), or None when the grader closed the pipe."""
    line = stream.readline(MAX_MESSAGE_BYTES)
    if not line:
        return None
    data = json.loads(line)
    if not isinstance(data, dict) or data.get("kind") != kind:
        raise ValueError(f"expected a {kind!r} message from the grader")
    return data


def event_line(kind: str, **fields: Any) -> str:
    """One event, framed as a line (child side)."""
    return json.dumps({"event": kind, **fields}) + "\n"
