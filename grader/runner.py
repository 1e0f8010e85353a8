"""Running one submission's steps in a sandboxed child, with deadlines, and reading back data.

A `Worker` is one child process for one submission: it can be started (kernel up, torch
imported) before the submission is known, and is thrown away after it. The grader talks to
it as grader/protocol.py draws: its messages go down the child's stdin (a pipe only the
grader writes: after the scratch folder is handed to the student's user, the grader never
writes into it), the child's events are read through a descriptor the grader opened before
any student code ran, and grader/conversation.py believes them only in protocol order.
A step that passes its deadline gets the child killed, and a new child carries on with the
steps still to run.

Hidden steps come last: their inputs are sent only once the cells' log and every public
step's answer are taken (decoded, tensors read) and frozen, and nothing that happens after
that reaches what a student sees but the verdicts (a stop then is not the report's message).
"""

from __future__ import annotations

import base64
import functools
import json
import os
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any

from . import protocol
from .awake import AwakeClock, StallSource, no_stall
from .cgroups import ControlGroup, stall_problem
from .charges import Charges, samples
from .codec import Decoder
from .conversation import Conversation, Lane, observe
from .errors import KernelStartError
from .model import LIMIT_NAMES, CellLog, Observation, Step, StepStatus, Stop
from .plan import Lanes, cross_part_keep, lanes, plan_part
from .sandbox import GRADER_PACKAGE, Limits, Sandbox, group_of, memory_used, release_user, submission_processes
from .scratchfs import ScratchSpace, sweep_stale

GRACE_SECONDS = 2.0
ASLEEP_CPU = 0.01  # "almost": below this share of one core (a busy machine still gives a runnable cell far more)
POLL_SECONDS = 0.02
MEMORY_EVERY = 0.5  # seconds between two measures of a submission's total memory
CHAIN_EXIT_SECONDS = 2.0  # a chain the grader killed is said to have ended within this, or the child is stopped
CPU_EVERY = 0.1  # seconds between two measures of its CPU time (from its control group, or /proc)
READ_CHUNK = 2**20  # bytes of an events file read at a time


@functools.cache
def _say_once(text: str) -> None:
    if text:
        print(f"grade: note: {text}; each submission's folder is counted by the grader instead", file=sys.stderr)


def backstop(cpu_seconds: float) -> float:
    """The awake time (grader/awake.py: wall clock less the time the submission's processes waited
    for a CPU) after which a budget of `cpu_seconds` is given up on: generous, so that a busy machine
    never costs a student marks; limits are counted in CPU seconds."""
    return protocol.WALL_FACTOR * cpu_seconds + protocol.WALL_SLACK


STARTUP_TRIES = 2  # a kernel that does not come up is the grader's failure: started again once, then KernelStartError
STARTUP_POLL = 0.5  # seconds between two looks at a start-up's awake time


@functools.cache
def _wall_note_once(why: str) -> None:
    print(f"grade: note: wall-clock backstops count plain wall time here, a busy machine's waits "
          f"included: {why}", file=sys.stderr)


def _stall_source(process: subprocess.Popen[bytes]) -> StallSource:
    """How long the submission's processes waited for a CPU: its control group's count (PSI); where
    there is none, nothing (plain wall time, said once)."""
    group = group_of(process)
    why = stall_problem() if group is not None else "the sandbox has no control group"
    if why or group is None:
        _wall_note_once(why)
        return no_stall
    return group.stall_seconds


MAX_CRASHES = 2  # a function that ended its process this often is not called again
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class RunOutcome:
    """What came back from running a submission's steps.

    `stop` is the first stop before the hidden inputs were sent (students see it); `stops` are
    all of them, for the staff; `limits_hit` names the sandbox limits the submission ran into.
    """

    observations: dict[str, Observation]
    cells: tuple[CellLog, ...]
    timings: dict[str, float]
    stop: Stop | None = None
    stops: tuple[Stop, ...] = ()
    restarts: int = 0
    spans: dict[str, tuple[float, float]] = field(default_factory=dict)  # step: (start, end) as the grader saw them

    @property
    def problem(self) -> str:
        return self.stop.message if self.stop else ""

    @property
    def limits_hit(self) -> tuple[str, ...]:
        kinds = [s.kind for s in self.stops] + [o.stop for o in self.observations.values() if o.stop]
        if any(c.status == "timeout" for c in self.cells):
            kinds.append("cell_time")
        return tuple(dict.fromkeys(LIMIT_NAMES[k] for k in kinds if k in LIMIT_NAMES))


@functools.cache
def _sweep_once() -> None:
    """Scratch spaces a grader that was killed left mounted: gone before this grader adds its own."""
    sweep_stale()


def _make_scratch(space: ScratchSpace, config: dict[str, Any]) -> Path:
    """The scratch folder as the child finds it; the grader writes nothing into it later."""
    scratch = space.path
    for sub in protocol.SUBFOLDERS:
        (scratch / sub).mkdir()
    (scratch / "lib" / "grader").symlink_to(GRADER_PACKAGE, target_is_directory=True)
    (scratch / protocol.CONFIG).write_text(json.dumps(config))
    (scratch / protocol.OUT / protocol.EVENTS).touch()
    for index in range(protocol.MAX_CHAINS):
        (scratch / protocol.OUT / protocol.chain_file(index)).touch()
    return scratch


def _open_grader_view(scratch: Path) -> tuple[int, int]:
    """Descriptors of the output folder and the events file, opened before any student code runs."""
    out = os.open(scratch / protocol.OUT, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    events = os.open(protocol.EVENTS, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=out)
    return out, events


def _stderr_file(scratch: Path) -> IO[bytes]:
    """The child's standard error: a new file in its scratch folder (made before any student code
    runs), so that whatever its code writes there counts against that sandbox's own room (a tmpfs's
    size), never the grader's disk."""
    fd = os.open(scratch / protocol.STDERR, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    return os.fdopen(fd, "w+b")


def _open_chain_files(out: int) -> list[int]:
    """Descriptors of the forked chains' events files, opened (like the main one) before any student code runs."""
    return [os.open(protocol.chain_file(index), os.O_RDONLY | os.O_NOFOLLOW, dir_fd=out)
            for index in range(protocol.MAX_CHAINS)]


class _Lines:
    """The complete lines appended to one events file since the last read, through its descriptor."""

    def __init__(self, fd: int) -> None:
        self.fd, self.offset, self.partial = fd, 0, b""

    def read(self, room: Callable[[], int]) -> Iterator[bytes]:
        """New lines, read READ_CHUNK bytes at a time while `room()` allows, so that the grader holds
        little of them whatever the child wrote (a too long line is passed on for the conversation
        to refuse). Lines of a chunk not taken are lost: stop taking only when nothing more is used."""
        while (size := min(room(), READ_CHUNK)) > 0:
            try:
                chunk = os.pread(self.fd, size, self.offset)
            except OSError:
                chunk = b""
            self.offset += len(chunk)
            *lines, self.partial = (self.partial + chunk).split(b"\n")
            if len(self.partial) > protocol.MAX_EVENT_LINE:
                lines.append(self.partial)
                self.partial = b""
            yield from lines
            if len(chunk) < size:  # the end of what it has written so far
                return


class Worker:
    """One sandboxed child for one submission."""

    def __init__(self, sandbox: Sandbox, limits: Limits, warm_imports: Sequence[str] = ("torch",)) -> None:
        self.sandbox = sandbox
        self.limits = limits
        self.warm_imports = tuple(warm_imports)
        self.closed = False
        _sweep_once()
        self.space = ScratchSpace.create(limits.disk_bytes, limits.disk_files)
        _say_once(self.space.why_not)
        self.scratch = _make_scratch(self.space, {"warm_imports": list(warm_imports),
                                                  "cell_seconds": limits.cell_seconds})
        self.out_fd, self.events_fd = _open_grader_view(self.scratch)
        self.chain_fds = _open_chain_files(self.out_fd)
        self.events = _Lines(self.events_fd)
        self.chains = [_Lines(fd) for fd in self.chain_fds]
        self.decoder = Decoder(self.out_fd)
        self.stderr = _stderr_file(self.scratch)
        self.next_memory_check = 0.0
        self.cpu_sample = (-1.0, 0.0)  # (when, CPU seconds)
        self.chain_groups: dict[int, ControlGroup] = {}  # the forked chains' own groups (grader/charges.py)
        self.chain_cpu: dict[int, float] = {}  # their counts, sampled with cpu_sample
        self.blamed_kills = 0  # the kernel's kills for memory already blamed on a forked chain
        self.outbox = b""
        try:
            self.process = sandbox.start(
                [sys.executable, "-m", "grader.child", str(self.scratch)], self.scratch, limits, self.stderr
            )
        except BaseException:  # nothing started (e.g. a Python this user may not run): its scratch space goes now
            self._release()
            raise
        self.started = time.monotonic()  # after `start`, which may wait for a fork server's template
        self.clock = AwakeClock(_stall_source(self.process))
        self.awake_at = (self.started, self.clock.read(self.started))  # the last reading: (wall, awake)
        self.started_awake = self.awake_at[1]
        self.ready_after: float | None = None

    def awake(self, now: float) -> float:
        """Its awake clock at wall time `now` (grader/awake.py): every backstop compares two readings."""
        if now != self.awake_at[0]:
            self.awake_at = (now, self.clock.read(now))
        return self.awake_at[1]

    def wait_ready(self) -> bool:
        """Wait until the kernel is up; False if the child died, or took longer than the start-up
        limit in awake time (a busy machine's waits for a CPU are not counted)."""
        if self.ready_after is not None:
            return True
        assert self.process.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stdout, selectors.EVENT_READ)
            while True:  # look at least once: a warm worker may have been ready for long
                left = self.limits.startup_seconds - (self.awake(time.monotonic()) - self.started_awake)
                if not selector.select(timeout=min(STARTUP_POLL, max(0.0, left))):
                    if left <= 0:
                        return False
                    continue
                line = self.process.stdout.readline(64)
                if line.strip() == protocol.READY:
                    self.ready_after = time.monotonic() - self.started
                    assert self.process.stdin is not None
                    os.set_blocking(self.process.stdin.fileno(), False)
                    return True
                if not line:
                    return False

    def send(self, data: bytes) -> None:
        """Queue a message for the child; `flush` writes it as the pipe takes it (never blocking)."""
        self.outbox += data
        self.flush()

    def flush(self) -> None:
        assert self.process.stdin is not None
        while self.outbox:
            try:
                written = os.write(self.process.stdin.fileno(), self.outbox[:2**16])
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # the child is gone: its exit is seen by the watch
                self.outbox = b""
                return
            self.outbox = self.outbox[written:]

    def _room(self) -> int:
        return protocol.MAX_EVENTS_BYTES - self.events.offset - sum(c.offset for c in self.chains)

    def new_events(self) -> Iterator[bytes]:
        """Complete event lines of the main file written since the last call (at most
        MAX_EVENTS_BYTES in all files together), read as they are taken."""
        return self.events.read(self._room)

    def new_chain_events(self, indices: Sequence[int]) -> Iterator[tuple[int, bytes]]:
        """Complete event lines of the chains `indices`' files written since the last call."""
        return ((index, line) for index in indices if 0 <= index < len(self.chains)
                for line in self.chains[index].read(self._room))

    def over_budget(self, now: float) -> Stop | None:
        """What this child's processes use together beyond its limits, where the kernel does not
        hold them: memory without a control group (measured every MEMORY_EVERY s; RLIMIT_DATA is
        per process), and its folder where it is not a space of its own."""
        if now >= self.next_memory_check:
            self.next_memory_check = now + MEMORY_EVERY
            memory = self.memory_stop(self.blamed_kills)
            if memory is not None:
                return memory
        too_much = self.space.over_limit()  # "" where the kernel holds the folder's limits
        return Stop("disk", too_much) if too_much else None

    def full_stop(self) -> Stop | None:
        """Its folder is full: the kernel refused its writes there (the probe's too)."""
        full = self.space.full()
        return Stop("disk", f"stopped: {full}") if full else None

    def memory_stop(self, blamed_kills: int = 0) -> Stop | None:
        """Its processes together used more than the memory limit: told by its control group (the
        kernel killed one for it; shared memory counted), or by a sum over /proc without one.
        The first `blamed_kills` of the kernel's kills were already blamed on forked chains (each
        the process the kernel killed): the group is over its limit again only by a new one."""
        if memory_used(self.process, str(self.scratch)) <= self.limits.memory_bytes:
            return None
        usage = _group_usage(self.sandbox, self.process)
        if (usage is not None and blamed_kills and usage.oom_kills <= blamed_kills
                and usage.memory_bytes <= self.limits.memory_bytes):
            return None
        grouped = usage is not None
        how = "shared memory included" if grouped else "all its processes together"
        return Stop("memory", f"stopped: used more than {self.limits.memory_text} of memory ({how})")

    def cpu_seconds(self, now: float, fresh: bool = False) -> float:
        """CPU seconds all the submission's processes have used (sampled every CPU_EVERY s, each
        forked chain's own count in `chain_cpu` just before)."""
        when, used = self.cpu_sample
        if fresh or now - when >= CPU_EVERY:
            self.chain_cpu = {index: group.cpu_seconds() for index, group in self.chain_groups.items()}
            used = max(used, cpu_used(self.sandbox, self.process, str(self.scratch)))
            self.cpu_sample = (now, used)
        return used

    @property
    def places_chains(self) -> bool:
        """Whether each forked chain's process gets a control group of its own here."""
        return group_of(self.process) is not None

    def place_chains(self, indices: Sequence[int]) -> None:
        """Move the process of each chain of `indices` not placed yet, found by the name it gave
        itself (protocol.chain_process_name), from the submission's group into one of its own."""
        group = group_of(self.process)
        waiting = {protocol.chain_process_name(i): i for i in indices if i not in self.chain_groups}
        if group is None or not waiting:
            return
        for pid in group.own_pids():
            index = waiting.pop(_process_name(pid), None)
            if index is None:
                continue
            try:
                chain = group.subgroup(f"chain-{index}")
                chain.join(pid)
            except OSError:
                continue  # gone already: its CPU stays with the rest of the group's
            self.chain_groups[index] = chain

    def stderr_tail(self) -> str:
        """The last line the child wrote on stderr (before any student code: start-up failures)."""
        self.stderr.flush()
        size = os.fstat(self.stderr.fileno()).st_size
        text = os.pread(self.stderr.fileno(), 2000, max(0, size - 2000)).decode(errors="replace").strip()
        return text.splitlines()[-1] if text else "no message"

    def close(self) -> None:
        """Stop the child and remove its scratch space; closing twice does nothing more."""
        if self.closed:
            return
        self.closed = True
        self.sandbox.stop(self.process)
        self._release()

    def _release(self) -> None:
        """Give back its user id, what the grader holds open in its scratch space, and the space."""
        release_user(self.scratch)
        self.stderr.close()
        for fd in (*self.chain_fds, self.events_fd, self.out_fd):
            os.close(fd)
        self.space.remove()


def cpu_used(sandbox: Sandbox, process: subprocess.Popen[bytes], scratch: str) -> float:
    """CPU seconds of a submission's processes: its control group's count where it has one, else
    the sum over its live processes in /proc (their waited-for children included)."""
    counted = _group_usage(sandbox, process)
    if counted is not None:
        return float(counted.cpu_seconds)
    root = process.pid if process.returncode is None else None
    return sum(_proc_cpu(pid) for pid in submission_processes(root, scratch))


def _group_usage(sandbox: Sandbox, process: subprocess.Popen[bytes]) -> Any:
    """What the submission's control group counted, or None (no group, or a fake sandbox in tests)."""
    usage = getattr(sandbox, "usage", None)
    return usage(process) if usage is not None else None


def _process_name(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm", "rb") as f:
            return f.read(64).decode(errors="replace").strip()
    except OSError:
        return ""


def _proc_cpu(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        return sum(int(v) for v in fields[11:15]) / CLOCK_TICKS  # utime stime cutime cstime
    except (OSError, ValueError, IndexError):
        return 0.0


SIGNAL_TEXTS = {
    "SIGKILL": "killed (SIGKILL): by its own code, or by the system for using too much memory",
    "SIGSEGV": "crashed (SIGSEGV, a segmentation fault: memory that is not its own was touched)",
    "SIGBUS": "crashed (SIGBUS: a bad memory access)",
    "SIGABRT": "crashed (SIGABRT: the process aborted)",
    "SIGFPE": "crashed (SIGFPE: an arithmetic fault)",
    "SIGILL": "crashed (SIGILL: an illegal instruction)",
}


def _signal_stop(number: int, limits: Limits) -> Stop:
    try:
        sig = signal.Signals(number)
    except ValueError:
        return Stop("crashed", f"stopped: killed by signal {number}")
    if sig == signal.SIGXCPU:
        return Stop("cpu_time", f"stopped: used more than {limits.cpu_seconds} s of CPU time")
    if sig == signal.SIGXFSZ:
        return Stop("file_size", f"stopped: wrote a file larger than {limits.file_bytes / 2**20:g} MiB")
    return Stop("crashed", "stopped: " + SIGNAL_TEXTS.get(sig.name, f"killed by {sig.name}"))


def exit_stop(code: int | None, limits: Limits, kernel_exit: int | None) -> Stop:
    """Why the child ended, in plain words; `kernel_exit`: the child's word on its kernel's end."""
    if code is None:
        return Stop("crashed", "stopped")
    if code == protocol.KERNEL_DIED:
        if kernel_exit is None:
            return Stop("crashed", "stopped: the notebook's kernel died")
        if kernel_exit >= 0:
            return Stop("exited", f"stopped: the code ended its own process (exit status {kernel_exit}, e.g. os._exit)")
        code = kernel_exit
    if code < 0:
        return _signal_stop(-code, limits)
    if code > 128:  # bwrap reports a child killed by signal N as 128 + N
        return _signal_stop(code - 128, limits)
    return Stop("exited", f"stopped: the process exited with status {code}")


@dataclass
class _Attempt:
    """One child's run: the steps it is given, and what the grader sends it when."""

    worker: Worker
    conversation: Conversation
    hidden_message: bytes | None  # part 2, sent when the child is waiting for it
    cells_seconds: float  # the notebook's cells may run this long (each also has its own limit)
    cells_deadline: float  # backstops, on the worker's awake clock (Worker.awake)
    deadline: float
    cells: int
    by_name: dict[str, Step]
    cpu_at_go: float = 0.0  # the worker's start-up (kernel, imports) is not the student's
    cpu_before: float = 0.0  # what earlier children of the same submission used
    charges: Charges = field(default_factory=Charges)  # the CPU each step used, as the kernel counted it
    chain_kills: dict[int, tuple[Stop, float]] = field(default_factory=dict)  # chains the grader stopped: why, when
    blamed: str | None = None  # the step a stop of the whole child is about (else: every running one)
    withdrawn: str | None = None  # a step whose answer the stop takes back (its processes used CPU after it)
    chain_stops: list[tuple[str | None, Stop]] = field(default_factory=list)  # forked chains that ended early
    progress: Callable[[str | None], None] = lambda step: None

    awake_cpu: float = 0.0  # the CPU count when the cells were last seen using some, and when (awake clock; 0: not yet)
    awake_at: float = 0.0

    def follow_steps(self, now: float) -> None:
        """Charge the CPU counted since the last sample to the steps that used it (grader/charges.py):
        each forked chain placed in a group of its own by its group's count, the rest by what the
        submission's group holds outside them."""
        worker, talk = self.worker, self.conversation
        if talk.phase in ("public", "hidden"):
            worker.place_chains([i for i, lane in talk.lanes.items() if lane.exit_code is None])
        total = worker.cpu_seconds(now)
        self.charges.take(samples(talk, total, worker.chain_cpu), after_cells=talk.phase != "cells")
        steps = [step for step, _ in talk.running_steps()]
        self.progress(steps[0] if steps else None)

    marks: dict[float, float] = field(default_factory=dict)  # wall times the watch saw -> the awake clock then

    def awake_since(self, since: float, now: float) -> float:
        """Awake seconds from wall time `since` (a step's start, an event: a `now` of this attempt's
        watch, whose awake reading is kept when first asked for) to `now`."""
        awake = self.worker.awake(now)
        return awake - self.marks.setdefault(since, awake - (now - since))

    def asleep(self, cpu: float, now: float) -> bool:
        """Have the cells used (almost) no CPU for the limits' asleep_seconds? Told only where the kernel counts
        the CPU (a control group): a waiting process uses none, one a busy machine delays still some
        (the time is awake time: the waits for a CPU are not counted)."""
        now = self.worker.awake(now)
        if self.awake_at == 0.0 or cpu - self.awake_cpu > ASLEEP_CPU * (now - self.awake_at):
            self.awake_cpu, self.awake_at = cpu, now
            return False
        if now - self.awake_at <= self.worker.limits.asleep_seconds:
            return False
        return _group_usage(self.worker.sandbox, self.worker.process) is not None  # read only once asleep that long

    def stop_chain(self, step: str, stop: Stop, now: float) -> bool:
        """Stop the forked chain running `step` alone, killing its own group (the other chains go
        on), where it has one; False where the whole child must stop instead, or where the chain
        was killed CHAIN_EXIT_SECONDS ago and the kernel's process has still not said so."""
        index = next((i for i, lane in self.conversation.lanes.items() if lane.running == step), None)
        group = self.worker.chain_groups.get(index) if index is not None else None
        if index is None or group is None:
            return False
        if index not in self.chain_kills:
            self.chain_kills[index] = (stop, now)
            group.kill()
        return now - self.chain_kills[index][1] < CHAIN_EXIT_SECONDS

    def chain_ended(self, index: int, lane: Lane) -> None:
        """A forked chain's process ended before it answered for all its steps: why, in the words
        a stop of the whole child would have used, its running step blamed (the others go on)."""
        running, code, limits = lane.running, lane.exit_code, self.worker.limits
        if index in self.chain_kills:
            stop = self.chain_kills[index][0]
        elif running is not None and code == -signal.SIGXCPU:
            step = self.by_name[running]
            allowed = step.timeout or limits.call_seconds
            stop = Stop("call_time", f"stopped: used more than {allowed:g} s of CPU in "
                                     f"{step.function or running} (its limit)")
        else:
            stop = (self.worker.memory_stop(self.worker.blamed_kills) or self.worker.full_stop()
                    or exit_stop(protocol.KERNEL_DIED, limits, code if code is not None else -signal.SIGKILL))
        usage = _group_usage(self.worker.sandbox, self.worker.process)
        if stop.kind == "memory" and usage is not None:
            self.worker.blamed_kills = usage.oom_kills  # this chain's process was the one killed
        self.chain_stops.append((running, stop))


def _read_events(attempt: _Attempt, now: float) -> None:
    """The main file's new lines, each after every chain's lines written so far (so that a chain
    said to have ended, or a part said to be over, has been heard out), then the chains that ended early."""
    worker, talk = attempt.worker, attempt.conversation

    def chains() -> None:  # chains are forked once the cells' log is written: their lines come after it
        if talk.phase in ("public", "waiting", "hidden"):
            for index, line in worker.new_chain_events(list(talk.lanes)):
                talk.take(line, now, chain=index)
                if talk.over:  # nothing more is used: the rest is not even read
                    return
    for line in worker.new_events():
        chains()
        talk.take(line, now)
        if talk.over:
            break
    chains()
    for index, lane in talk.exited_early():
        attempt.chain_ended(index, lane)


def _watch(attempt: _Attempt) -> Stop | None:
    """Follow one child until it is done, dies, breaks the protocol or passes a deadline."""
    worker, talk = attempt.worker, attempt.conversation
    while True:
        worker.flush()
        now = time.monotonic()
        _read_events(attempt, now)
        attempt.follow_steps(now)
        if talk.phase == "waiting" and attempt.hidden_message is not None and not talk.unfinished():
            talk.hidden_sent()  # everything a student sees was taken as the events came in
            worker.send(attempt.hidden_message)
        stop = _stop_now(attempt, now)
        if stop is not None or talk.phase == "done" or (talk.phase == "waiting" and talk.unfinished()):
            return stop
        time.sleep(POLL_SECONDS)


def _stop_now(attempt: _Attempt, now: float) -> Stop | None:
    """The reason to stop watching this child now, if there is one."""
    worker, talk, limits = attempt.worker, attempt.conversation, attempt.worker.limits
    if talk.phase == "broken":
        return Stop("protocol", talk.violation)
    if talk.phase == "done":
        return None
    if worker.process.poll() is not None:
        time.sleep(POLL_SECONDS)  # its last words
        _read_events(attempt, now)
        if talk.phase in ("done", "broken"):
            return _stop_now(attempt, now)
        code = worker.process.poll()
        return (worker.memory_stop(worker.blamed_kills) or worker.full_stop()
                or exit_stop(code, limits, talk.kernel_exit))
    return _over_time(attempt, now) or worker.over_budget(now)


def _step_over_time(attempt: _Attempt, name: str, since: float, now: float) -> Stop | None:
    """A running step past its CPU limit (as charged: grader/charges.py) or its backstop (awake time)."""
    step, limits = attempt.by_name[name], attempt.worker.limits
    allowed = step.timeout or limits.call_seconds
    stop = None
    if attempt.charges.charged.get(name, 0.0) > allowed + GRACE_SECONDS:
        stop = Stop("call_time", f"stopped: used more than {allowed:g} s of CPU in {step.function or name} (its limit)")
    elif attempt.awake_since(since, now) > backstop(allowed):
        stop = Stop("call_time", f"stopped: no answer after {backstop(allowed):g} s, though it had not used "
                                 f"its {allowed:g} s of CPU (waiting or sleeping?)")
    return stop


def _over_time(attempt: _Attempt, now: float) -> Stop | None:
    """A budget of CPU seconds used up, or its backstop (awake time) passed."""
    worker, talk, limits = attempt.worker, attempt.conversation, attempt.worker.limits
    cpu, awake = worker.cpu_seconds(now), worker.awake(now)
    running = talk.running_steps()
    for name, since in running:
        stop = _step_over_time(attempt, name, since, now)
        if stop is not None and not attempt.stop_chain(name, stop, now):
            attempt.blamed = name
            return stop
    if (not running and talk.phase != "cells"
            and attempt.awake_since(talk.last_event, now) > backstop(limits.call_seconds)):
        return Stop("idle", "stopped: the notebook's kernel stopped answering between checks")
    if attempt.charges.between > limits.call_seconds + GRACE_SECONDS:
        return _outside_steps(attempt)
    if talk.phase == "cells":
        used = cpu - attempt.cpu_at_go
        if used > attempt.cells_seconds or awake > attempt.cells_deadline:
            return Stop("cell_time", f"stopped: the notebook's {attempt.cells} code cell(s) did not finish "
                                     f"within {attempt.cells_seconds:g} s of CPU")
        if attempt.asleep(cpu, now):
            return Stop("cell_time", f"stopped: the notebook's {attempt.cells} code cell(s) did not finish: they "
                                     f"used no CPU for {limits.asleep_seconds:g} s (waiting or sleeping?)")
    if attempt.cpu_before + cpu - attempt.cpu_at_go > limits.run_seconds or awake > attempt.deadline:
        return Stop("run_time", f"stopped: the whole run used more than {limits.run_seconds:g} s of CPU")
    return None


def _outside_steps(attempt: _Attempt) -> Stop:
    """Too much CPU used outside every step after the cells: the step whose processes left running
    used it takes the stop (its answer withdrawn), else the steps running now."""
    allowed, step, talk = attempt.worker.limits.call_seconds, attempt.charges.left_by, attempt.conversation
    if talk.hidden_given and step not in talk.hidden_steps:
        step = None  # a public step's answer was frozen when the hidden part was sent: what its processes do
        # after that (the submission's choice, its inputs at hand) must not reach its check (its verdict, its message)
    if step is None:
        return Stop("run_time", f"stopped: used more than {allowed:g} s of CPU outside its checks")
    attempt.blamed = attempt.withdrawn = step
    function = attempt.by_name[step].function or step
    return Stop("call_time", f"stopped: processes {function} left running used more than {allowed:g} s of CPU "
                             f"after it returned (its limit)")


def _code_cells(notebook: dict[str, Any]) -> int:
    return sum(1 for c in notebook.get("cells", []) if isinstance(c, dict) and c.get("cell_type") == "code")


class _Run:
    """The attempts at one submission: what is known so far, and what is still to run."""

    def __init__(self, notebook: Path, steps: Sequence[Step], hidden: frozenset[str], limits: Limits,
                 seed: int, jobs: int = 1, progress: Callable[[str | None], None] = lambda step: None) -> None:
        self.notebook = json.loads(notebook.read_text())
        self.steps, self.limits, self.seed, self.jobs, self.progress = list(steps), limits, seed, jobs, progress
        self.by_name = {s.name: s for s in steps}
        self.public = [s for s in steps if s.name not in hidden]
        self.hidden = [s for s in steps if s.name in hidden]
        self.observations: dict[str, Observation] = {}
        self.cells: tuple[CellLog, ...] | None = None
        self.timings: dict[str, float] = {}
        self.stops: list[Stop] = []
        self.public_stop: Stop | None = None
        self.frozen = False  # the hidden part has been sent: what a student sees is fixed
        self.crashes: dict[str, list[str]] = {}
        self.awake_left = backstop(limits.run_seconds)  # the whole run's backstop, in awake time, as children use it
        self.cpu_spent = 0.0
        self.spans: dict[str, tuple[float, float]] = {}

    def todo(self, steps: Sequence[Step]) -> list[Step]:
        return [s for s in steps if s.name not in self.observations]

    def _messages(self, public: list[Step], hidden: list[Step],
                  placed: bool) -> tuple[Lanes, Lanes, bytes, bytes | None]:
        """How each part's steps run (forked chains where `jobs` allows, `placed` in groups of their
        own), and the two parts' messages."""
        first = lanes(public, self.jobs, 0, cross_part_keep(public, hidden))
        second = lanes(hidden, self.jobs, len(first.forked))
        message = protocol.message(protocol.SUBMISSION, notebook=self.notebook,
                                   part=plan_part(public, 1, self.seed, self.limits, bool(hidden), first, placed))
        hidden_message = (protocol.message(protocol.PART, part=plan_part(hidden, 2, self.seed, self.limits,
                                                                           False, second, placed)) if hidden else None)
        return first, second, message, hidden_message

    def attempt(self, worker: Worker) -> Stop | None:
        """One child: send it the submission, watch it, keep what it said; why it stopped."""
        public, hidden = self.todo(self.public), self.todo(self.hidden)
        first, second, message, hidden_message = self._messages(public, hidden, worker.places_chains)
        worker.send(message)
        talk = Conversation(worker.decoder, first.inline, second.inline, memory_text=self.limits.memory_text,
                            public_chains=first.forked, hidden_chains=second.forked)
        cells = _code_cells(self.notebook)
        allowed_cells = cells * (self.limits.cell_seconds + GRACE_SECONDS) + GRACE_SECONDS
        go = time.monotonic()
        awake_go = worker.awake(go)
        attempt = _Attempt(worker, talk, hidden_message, allowed_cells, awake_go + backstop(allowed_cells),
                           awake_go + self.awake_left, cells, self.by_name, worker.cpu_seconds(go, fresh=True),
                           self.cpu_spent, Charges(strict=worker.places_chains), progress=self.progress)
        stop = _watch(attempt)
        self.awake_left -= worker.awake(time.monotonic()) - awake_go
        self.cpu_spent += worker.cpu_seconds(time.monotonic(), fresh=True) - attempt.cpu_at_go
        worker.sandbox.stop(worker.process)
        self._time(go, talk.cells_at, time.monotonic())
        self._keep(talk, stop, attempt)
        if stop is None and attempt.chain_stops and self.todo(self.steps):
            return attempt.chain_stops[0][1]  # a forked chain ended early: its steps left go to a new child
        return stop

    def _time(self, go: float, cells_at: float | None, end: float) -> None:
        self.timings.setdefault("execution", (cells_at or end) - go)
        self.timings["checks"] = self.timings.get("checks", 0.0) + end - (cells_at or end)

    def _keep(self, talk: Conversation, stop: Stop | None, attempt: _Attempt) -> None:
        if self.cells is None and talk.cells is not None:
            self.cells = talk.cells
        self.frozen = self.frozen or talk.hidden_given
        self.spans.update(talk.spans)
        observations = _seconds_counted(talk.observations, attempt.charges.charged)
        for running, chain_stop in attempt.chain_stops:
            self.note_stop(chain_stop)
            self._blame(running, chain_stop, observations)
        if stop is not None and stop.kind != "protocol":
            for lane in talk.lanes.values():  # begun, cut short with the whole child: run again whole, as it
                if _cut_short(lane, attempt.blamed):  # would have been in turn, had chains run one by one
                    for name in lane.answered:
                        observations.pop(name, None)
        if attempt.withdrawn is not None:
            observations.pop(attempt.withdrawn, None)
        self.observations.update(observations)
        if stop is None:
            return
        self.note_stop(stop)
        if stop.kind == "protocol":
            for step in self.todo(self.steps):
                self.observations[step.name] = Observation(step.name, "crashed", error_message=stop.message)
            return
        blamed = [attempt.blamed] if attempt.blamed else [name for name, _ in talk.running_steps()]
        for running in blamed:
            self._blame(running, stop, self.observations)

    def _blame(self, running: str | None, stop: Stop, observations: dict[str, Observation]) -> None:
        """The step that was running when its process stopped gets the stop as its answer."""
        if running is None or running in observations:
            return
        status: StepStatus = "timeout" if stop.kind == "call_time" else "crashed"
        observations[running] = Observation(running, status, error_message=stop.message, stop=stop.kind)
        if status == "crashed" and self.by_name[running].function:
            self.crashes.setdefault(self.by_name[running].function or "", []).append(stop.message)

    def note_stop(self, stop: Stop) -> None:
        """Keep why a child stopped; students see only a stop from before the hidden part was sent."""
        self.stops.append(stop)
        if not self.frozen and self.public_stop is None:
            self.public_stop = stop

    def give_up_on_crashers(self) -> None:
        """The steps still to run of a function that ended its process MAX_CRASHES times: not run,
        so one crashing function cannot cost a restart per check."""
        for step in self.todo(self.steps):
            seen = self.crashes.get(step.function or "", [])
            if len(seen) >= MAX_CRASHES:
                why = f"{seen[-1]} (not called again: {step.function} ended its process {len(seen)} times)"
                self.observations[step.name] = Observation(step.name, "crashed", error_message=why)

    def outcome(self, restarts: int) -> RunOutcome:
        why = self.stops[-1].message if self.stops else "not run"
        for step in self.todo(self.steps):
            self.observations[step.name] = Observation(step.name, "not_run", error_message=why)
        return RunOutcome(self.observations, self.cells or (), self.timings, self.public_stop, tuple(self.stops),
                          restarts, self.spans)


def _seconds_counted(observations: dict[str, Observation], charged: dict[str, float]) -> dict[str, Observation]:
    """The answers, each with the CPU seconds its step used as the kernel counted them (grader/charges.py)
    where that is more than the child said: its word is the probe's clock, which the student's code shares
    (time.process_time replaced, the event rewritten), so a call over its budget cannot say it was within
    it (cnn-digits' train/time-budget reads `seconds`)."""
    return {name: replace(o, seconds=charged[name]) if charged.get(name, 0.0) > o.seconds else o
            for name, o in observations.items()}


def _cut_short(lane: Lane, blamed: str | None) -> bool:
    """A chain stopped with the whole child for another's sake: it had begun, not ended, and the
    stop blames one step of another chain, or it was between two steps."""
    if lane.ended or not lane.todo or not lane.answered:
        return False
    return lane.running is None or (blamed is not None and lane.running != blamed)


def _ready_worker(worker: Worker | None, sandbox: Sandbox, limits: Limits, warm_imports: Sequence[str]) -> Worker:
    """A worker whose kernel is up: `worker` (started ahead) or a new one. A kernel that does not
    come up (no student code has run yet) is the grader's failure, not the student's: another is
    started, STARTUP_TRIES in all, then KernelStartError says that the submission could not be graded."""
    why = ""
    for _ in range(STARTUP_TRIES):
        worker = worker or Worker(sandbox, limits, warm_imports)
        try:
            ready = worker.wait_ready()
            why = "" if ready else worker.stderr_tail()
        except BaseException:
            worker.close()
            raise
        if ready:
            return worker
        worker.close()
        worker = None
    raise KernelStartError(f"the grader could not start the notebook's kernel ({STARTUP_TRIES} tries of "
                       f"{limits.startup_seconds:g} s awake each; the last said: {why}); not graded: "
                       f"a rerun grades it again")


def run_steps(
    notebook: Path,
    steps: Sequence[Step],
    sandbox: Sandbox,
    limits: Limits,
    seed: int = 0,
    hidden: frozenset[str] = frozenset(),
    warm_imports: Sequence[str] = ("torch",),
    worker: Worker | None = None,
    jobs: int = 1,
    progress: Callable[[str | None], None] = lambda step: None,
) -> RunOutcome:
    """Execute `notebook` in the sandbox, then each step, the `hidden` ones last; restart past
    steps that hang or crash. With `jobs` > 1, independent chains of steps (grader/plan.py) run in
    processes of their own, that many at once. `progress` is told the step the grader waits for."""
    run = _Run(notebook, steps, hidden, limits, seed, jobs, progress)
    attempts = 0
    while True:
        attempts += 1
        worker = _ready_worker(worker, sandbox, limits, warm_imports)
        known = len(run.observations)
        try:
            run.timings.setdefault("startup", worker.ready_after or 0.0)
            stop = run.attempt(worker)
        finally:
            worker.close()
            worker = None
        if stop is None or stop.kind == "protocol":
            break
        run.give_up_on_crashers()
        if not run.todo(steps) or len(run.observations) == known or run.awake_left <= 0:
            break
    return run.outcome(attempts - 1)


def run_in_process(
    steps: Sequence[Step], namespace: dict[str, Any], limits: Limits, seed: int = 0
) -> dict[str, Observation]:
    """Run `steps` on TRUSTED code in this very process, through the probe's own path.

    For instructors' tools only (calibrating thresholds on the reference over many seeds):
    the same plan, seeding, encoding and decoding as in the sandbox, without a kernel.
    """
    from . import probe

    space = ScratchSpace.create(limits.disk_bytes, limits.disk_files, mount=False)
    scratch = _make_scratch(space, {})
    out_fd, events_fd = _open_grader_view(scratch)
    try:
        plan = plan_part(steps, 1, seed, limits, more=False)
        for name, data in plan.pop("tensors").items():
            (scratch / protocol.INPUTS / name).write_bytes(base64.b64decode(data))
        (scratch / protocol.plan_file(1)).write_text(json.dumps(plan))
        probe.run(str(scratch), 1, namespace)
        decoder = Decoder(out_fd)
        observations: dict[str, Observation] = {}
        for line in os.pread(events_fd, protocol.MAX_EVENTS_BYTES, 0).splitlines():
            event = json.loads(line)
            if event.get("event") == protocol.END:
                observations[event["step"]] = observe(event["step"], event, decoder, limits.memory_text)
    finally:
        os.close(events_fd)
        os.close(out_fd)
        space.remove()
    for step in steps:
        observations.setdefault(step.name, Observation(step.name, "not_run", error_message="not run"))
    return observations
