"""The grader's side of the protocol (grader/protocol.py draws it): a strict state machine.

`Conversation` takes the child's event lines one at a time and accepts them only in protocol
order: the cells' log first, then each step of the part of the plan that has been sent, once,
its end right after its own start, then "waiting" or "done"; "kernel-exit" once, at any time.
Anything else breaks the conversation for good: nothing the child says after that is used.
Accepted answers become `Observation`s at once, decoded totally: any bytes become an observation
or an "unreadable answer" error on that step, never an exception in the grader.

A part's steps may run in lanes (grader/plan.py `Lanes`): the inline ones in the main events
file, each forked chain in its own file. Each lane is its own strict sequence (a step's start
only when it is that lane's next, its end right after); lanes interleave freely, since they run
at once. A chain's process may end early ("chain-exit" in the main file): its running step is
then the runner's to judge, and its steps not begun stay unobserved. "waiting" and "done" are
believed only once every lane has answered for every step or has ended. Which file a line came
from is all the grader knows of its lane: any of the student's processes can write any file,
which gains nothing a forged answer in its own lane could not.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from . import protocol
from .codec import CodecError, Decoder, valid_text
from .model import CellLog, CellStatus, Observation, StepStatus, StopKind
from .textsafe import one_line

Phase = Literal["cells", "public", "waiting", "hidden", "done", "broken"]
BROKE_PROTOCOL = "the submission's process broke the grading protocol"
UNREADABLE = "its answer could not be read back"


Chains = Sequence[tuple[int, Sequence[str]]]  # (chain file index, its steps in order)


@dataclass
class Lane:
    """A forked chain of the part being run: its steps still to start, the one running, its end."""

    todo: list[str]
    answered: list[str] = field(default_factory=list)
    running: str | None = None
    running_since: float = 0.0
    exit_code: int | None = None  # its process's returncode, said in the main file
    ended: bool = False  # taken by the runner: nothing more is read from its file

    @property
    def finished(self) -> bool:
        return self.running is None and not self.todo


@dataclass
class Conversation:
    """What one child has said so far, as far as the protocol allows it to be believed."""

    decoder: Decoder
    public: Sequence[str]  # the inline steps of part 1, in the order the probe runs them
    hidden: Sequence[str] = ()  # of part 2 (sent only once part 1 is done); empty: no part 2
    memory_text: str = "the memory limit"
    public_chains: Chains = ()  # part 1's forked chains
    hidden_chains: Chains = ()
    phase: Phase = "cells"
    running: str | None = None
    running_since: float = 0.0
    last_event: float = 0.0
    cells_at: float | None = None  # when the cells' log came: the notebook ran until then
    observations: dict[str, Observation] = field(default_factory=dict)
    cells: tuple[CellLog, ...] | None = None
    kernel_exit: int | None = None
    violation: str = ""
    hidden_given: bool = False  # part 2 was sent: from now on nothing reaches what a student sees
    lanes: dict[int, Lane] = field(default_factory=dict)  # the forked chains of the part being run
    spans: dict[str, tuple[float, float]] = field(default_factory=dict)  # when each answered step began and ended
    _todo: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._todo = list(self.public)
        self.lanes = _lanes(self.public_chains)

    @property
    def over(self) -> bool:
        return self.phase in ("done", "broken")

    @property
    def hidden_steps(self) -> set[str]:
        """Every step of part 2, inline or in a forked chain."""
        return {*self.hidden, *(s for _, chain in self.hidden_chains for s in chain)}

    def running_steps(self) -> list[tuple[str, float]]:
        """Every step running now, in any lane, with when it started."""
        found = [(self.running, self.running_since)] if self.running is not None else []
        return found + [(lane.running, lane.running_since) for lane in self.lanes.values()
                        if lane.running is not None and lane.exit_code is None]

    def take(self, line: bytes, now: float, chain: int | None = None) -> None:
        """One event line from the child: from the main events file, or from chain `chain`'s."""
        if self.over:
            return
        if chain is not None:
            self._take_chain(chain, line, now)
            return
        event = _parse(line)
        if event is None and self.running is not None:  # the running step's answer, unreadable
            self._ended(self.running, Observation(self.running, "crashed", error_message=UNREADABLE))
            return
        if event is None:
            self._break("an unreadable event")
            return
        self.last_event = now
        kind = event.get("event")
        if kind == protocol.KERNEL_EXIT:
            self._kernel_exit(event.get("returncode"))
        elif self.phase == "cells" and kind == protocol.CELLS:
            self.cells = parse_cells(event.get("cells"))
            self.phase, self.cells_at = "public", now
        elif self.phase in ("public", "hidden") and kind == protocol.CHAIN_EXIT:
            self._chain_exit(event)
        elif self.phase in ("public", "hidden"):
            self._step_event(kind, event, now)
        else:
            self._break(f"{self._name(kind)} event while {self.phase}")

    def _kernel_exit(self, code: Any) -> None:
        """The child's word on its kernel's end: said once (an honest child then exits), with its returncode."""
        if self.kernel_exit is not None or type(code) is not int:
            self._break("a 'kernel-exit' event after one, or without a returncode")
            return
        self.kernel_exit = code

    def hidden_sent(self) -> None:
        """The grader has sent part 2: its steps are expected now."""
        assert self.phase == "waiting"
        self.phase, self._todo, self.hidden_given = "hidden", list(self.hidden), True
        self.lanes = _lanes(self.hidden_chains)

    def _take_chain(self, chain: int, line: bytes, now: float) -> None:
        lane = self.lanes.get(chain)
        if lane is None or lane.ended or self.phase not in ("public", "waiting", "hidden"):
            self._break("an event in the file of no running chain")
            return
        event = _parse(line)
        if event is None and lane.running is not None:
            self._lane_ended(lane, lane.running, Observation(lane.running, "crashed", error_message=UNREADABLE))
            return
        if event is None:
            self._break("an unreadable event")
            return
        self.last_event = now
        kind, step = event.get("event"), event.get("step")
        if lane.running is None and lane.todo and kind == protocol.START and step == lane.todo[0]:
            lane.running, lane.running_since = step, now
        elif lane.running is not None and kind == protocol.END and step == lane.running:
            self._lane_ended(lane, step, observe(step, event, self.decoder, self.memory_text))
        else:
            about = f" for {self._step_name(step)}" if step is not None else ""
            self._break(f"{self._name(kind)} event{about} in chain {chain}")

    def _lane_ended(self, lane: Lane, step: str, observed: Observation) -> None:
        self.observations[step] = observed
        self.spans[step] = (lane.running_since, self.last_event)
        lane.answered.append(lane.todo.pop(0))
        lane.running = None

    def _chain_exit(self, event: dict[str, Any]) -> None:
        index, code = event.get("chain"), event.get("returncode")
        lane = self.lanes.get(index) if type(index) is int else None
        if lane is None or lane.exit_code is not None or type(code) is not int:
            self._break("a 'chain-exit' event for no running chain")
            return
        lane.exit_code = code

    def exited_early(self) -> list[tuple[int, Lane]]:
        """Chains whose process ended with steps unanswered, not taken before (the runner reads
        every chain's file after the main one, so each has said all it wrote before its end)."""
        found = []
        for index, lane in self.lanes.items():
            if lane.exit_code is not None and not lane.ended:
                lane.ended = True
                if not lane.finished:
                    found.append((index, lane))
        return found

    def unfinished(self) -> bool:
        """A chain of the part ended before it answered for all its steps."""
        return any(lane.ended and not lane.finished for lane in self.lanes.values())

    def lanes_done(self) -> bool:
        return all(lane.finished or lane.exit_code is not None for lane in self.lanes.values())

    def _step_event(self, kind: Any, event: dict[str, Any], now: float) -> None:
        step = event.get("step")
        if self.running is None and self._todo and kind == protocol.START and step == self._todo[0]:
            self.running, self.running_since = step, now
        elif self.running is not None and kind == protocol.END and step == self.running:
            self._ended(step, observe(step, event, self.decoder, self.memory_text))
        elif self._part_over and kind == protocol.WAITING and self._more:
            self.phase = "waiting"
        elif self._part_over and kind == protocol.DONE and not self._more:
            self.phase = "done"
        else:
            about = f" for {self._step_name(step)}" if step is not None else ""
            self._break(f"{self._name(kind)} event{about} while {self._expecting}")

    def _ended(self, step: str, observed: Observation) -> None:
        self.observations[step] = observed
        self.spans[step] = (self.running_since, self.last_event)
        self._todo.pop(0)
        self.running = None

    @property
    def _part_over(self) -> bool:
        return self.running is None and not self._todo and self.lanes_done()

    @property
    def _more(self) -> bool:
        return self.phase == "public" and bool(self.hidden or self.hidden_chains)

    @property
    def _expecting(self) -> str:
        if self.running is not None:
            return f"{self.running} was running"
        return f"{self._todo[0]} was next" if self._todo else "the part was over"

    def _name(self, kind: Any) -> str:
        """An event kind in the grader's words (never the child's text: after the hidden part is
        sent, nothing the child chose may reach what a student sees)."""
        return f"a {kind!r}" if kind in _KINDS else "an unknown"

    def _step_name(self, step: Any) -> str:
        known = [*self.public, *self.hidden, *(s for _, c in (*self.public_chains, *self.hidden_chains) for s in c)]
        return repr(step) if step in known else "an unknown step"

    def _break(self, what: str) -> None:
        self.violation = f"{BROKE_PROTOCOL} ({what})"
        self.phase, self.running = "broken", None


_KINDS = (protocol.CELLS, protocol.START, protocol.END, protocol.WAITING, protocol.DONE, protocol.KERNEL_EXIT,
          protocol.CHAIN_EXIT)


def _lanes(chains: Chains) -> dict[int, Lane]:
    return {index: Lane(list(steps)) for index, steps in chains}


def _parse(line: bytes) -> dict[str, Any] | None:
    """An event as a JSON object, or None: too long, too deep, not JSON, not an object (while a
    step runs, such a line is that step's answer, unreadable; otherwise it breaks the protocol)."""
    if len(line) > protocol.MAX_EVENT_LINE:
        return None
    try:
        event = json.loads(line)
    except (ValueError, RecursionError):
        return None
    return event if isinstance(event, dict) else None


# -- answers ---------------------------------------------------------------------------------------

def _text(event: dict[str, Any], key: str, limit: int = protocol.MAX_TEXT) -> str:
    value = event.get(key, "")
    return valid_text(value, limit) if isinstance(value, str) else ""


def _names(event: dict[str, Any], key: str) -> tuple[str, ...]:
    values = event.get(key, [])
    if not isinstance(values, list):
        return ()
    return tuple(valid_text(v, protocol.MAX_NAME) for v in values[:20] if isinstance(v, str))


def _out_of_memory(error_type: str, message: str) -> bool:
    return error_type == "MemoryError" or (error_type == "RuntimeError" and "can't allocate memory" in message)


def observe(step: str, event: dict[str, Any], decoder: Decoder, memory_text: str) -> Observation:
    """An accepted `end` event as an Observation; nothing in it is trusted to be well-formed."""
    status: StepStatus = event["status"] if event.get("status") in ("returned", "raised", "timeout") else "not_run"
    value: Any = None
    if status == "returned":
        try:
            value = decoder.decode(event.get("value"))
        except (CodecError, RecursionError) as error:
            return Observation(step, "crashed", error_message=f"{UNREADABLE}: {error}")
    seconds = event.get("seconds", 0.0)
    error_type, error_message = _text(event, "error_type", protocol.MAX_NAME), _text(event, "error_message")
    stop: StopKind | None = "call_time" if status == "timeout" else None
    if status == "raised" and _out_of_memory(error_type, error_message):
        status, error_message = "crashed", f"stopped: used more than {memory_text} of memory ({error_type})"
        stop = "memory"
    return Observation(
        step=step,
        status=status,
        value=value,
        type_name=_text(event, "type", protocol.MAX_NAME),
        error_type=error_type,
        error_bases=_names(event, "error_bases"),
        error_message=error_message,
        seconds=float(seconds) if type(seconds) in (int, float) and 0 <= seconds < 1e9 else 0.0,
        output=_text(event, "output", protocol.MAX_STEP_OUTPUT + 100),
        forbidden_calls=_names(event, "forbidden_calls"),
        stop=stop,
    )


def parse_cells(raw: Any) -> tuple[CellLog, ...]:
    """The cells' log the child sent, made well-formed."""
    cells: list[CellLog] = []
    for item in raw[:protocol.MAX_CELLS] if isinstance(raw, list) else []:
        if not isinstance(item, dict):
            continue
        status: CellStatus = item["status"] if item.get("status") in ("ok", "timeout") else "error"
        index = item.get("index")
        cells.append(CellLog(
            index=index if type(index) is int and 0 <= index < protocol.MAX_CELLS else len(cells),
            status=status,
            source_head=one_line(_text(item, "source_head", protocol.MAX_NAME)),  # the cell's first line
            error=_text(item, "error", protocol.MAX_CELL_ERROR),
            output=_text(item, "output", protocol.MAX_CELL_OUTPUT),
        ))
    return tuple(cells)
