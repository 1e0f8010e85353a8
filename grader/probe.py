"""Runs inside the student's kernel: call the named functions on the plan's inputs.

It knows inputs only, never expected answers. Each step's start and outcome are appended to
`out/events.jsonl` as soon as they are known (grader/protocol.py), so the grader sees
progress, and a step that never returns costs that step alone. Everything written here is
untrusted by the grader: the student's code shares this process.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import math
import os
import random
import signal
import sys
import time
from pathlib import Path
from typing import Any

from . import protocol
from .codec import Encoder, decode_input


class StepTimeout(BaseException):
    """Raised in the student's code when a step has used its CPU time (ITIMER_PROF counts the
    CPU of every thread of the process, so a busy machine does not eat into the budget; a step
    that sleeps is stopped by the grader's wall-clock backstop)."""


class _CappedText(io.TextIOBase):
    """A stdout stand-in that keeps the first `limit` characters and counts the rest."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.parts: list[str] = []
        self.kept = 0
        self.dropped = 0

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        text = str(text)
        room = self.limit - self.kept
        self.parts.append(text[:room])
        self.kept += min(room, len(text))
        self.dropped += max(0, len(text) - room)
        return len(text)

    def text(self) -> str:
        tail = f"\n... ({self.dropped} more characters not kept)" if self.dropped else ""
        return "".join(self.parts) + tail


def _user_namespace() -> dict[str, Any]:
    try:
        shell = get_ipython()  # type: ignore[name-defined]  # noqa: F821
        return shell.user_ns  # type: ignore[no-any-return]
    except NameError:
        return vars(sys.modules["__main__"])


def _on_alarm(signum: int, frame: Any) -> None:
    raise StepTimeout()


@contextlib.contextmanager
def _deadline(seconds: float | None) -> Any:
    try:
        signal.signal(signal.SIGPROF, _on_alarm)
        signal.setitimer(signal.ITIMER_PROF, seconds or 0)
    except (ValueError, AttributeError):  # not the main thread (the grader's own deadline still
        pass  # applies), or no CPU timer (Windows: grader.check() in a notebook runs unbounded)
    try:
        yield
    finally:
        with contextlib.suppress(ValueError, AttributeError):
            signal.setitimer(signal.ITIMER_PROF, 0)


def _seed(seed: int) -> None:
    random.seed(seed)
    if "numpy" in sys.modules:
        sys.modules["numpy"].random.seed(seed)
    torch = sys.modules.get("torch")
    if torch is not None:
        (torch.manual_seed if _has_accelerator(torch) else torch.default_generator.manual_seed)(seed)


@functools.cache
def _has_accelerator(torch: Any) -> bool:
    """Is there a device besides the CPU? Without one, seeding the CPU's generator is all that
    torch.manual_seed does, less its calls for the devices that are not there (each queues a seed
    with a stack trace for a device that may start later: 0.3 ms, on every step)."""
    try:
        return bool(torch.cuda.is_available() or torch.backends.mps.is_available() or torch.xpu.is_available())
    except Exception:  # a torch without one of them (the student's own, for grader.check()): seed them all
        return True


def _forbidden_target(name: str) -> Any:
    """The object a forbidden name denotes here: a torch function or class, or an aten operator."""
    torch = sys.modules["torch"]
    value: Any = torch.ops if name.startswith("aten.") else torch
    for part in name.split(".")[1:] if not name.startswith("aten.") else name.split("."):
        try:
            value = getattr(value, part)
        except Exception:  # not in this torch: it cannot be called either
            return None
    return value


class ProcessRefused(RuntimeError):
    """Raised in the student's code that starts a process while a "must not call" rule is watched."""


def _refuse_processes(*args: Any, **kwargs: Any) -> Any:
    raise ProcessRefused("this function must not start processes: the grader watches what it calls, "
                         "and a process of its own would be out of sight")


_PROCESS_STARTERS = (("os", "fork"), ("os", "forkpty"), ("os", "posix_spawn"), ("os", "posix_spawnp"),
                     ("_posixsubprocess", "fork_exec"))
_THREAD_STARTERS = (("_thread", "start_new_thread"), ("_thread", "start_new"), ("threading", "_start_new_thread"),
                    ("_thread", "start_joinable_thread"), ("threading", "_start_joinable_thread"))


class _Patched:
    """Attributes of modules replaced for the length of a watched step, then put back."""

    def __init__(self) -> None:
        self.saved: list[tuple[Any, str, Any]] = []

    def replace(self, module_name: str, attribute: str, make: Any) -> None:
        module = sys.modules.get(module_name) or __import__(module_name)
        original = getattr(module, attribute, None)
        if original is not None:
            self.saved.append((module, attribute, original))
            setattr(module, attribute, make(original))

    def restore(self) -> None:
        for module, attribute, original in reversed(self.saved):
            setattr(module, attribute, original)
        self.saved.clear()


class _ForbiddenCalls:
    """Records calls to forbidden torch functions, however they were imported or named, in
    every thread the step starts.

    Two watchers: a TorchFunctionMode sees torch's Python functions (so the message can name
    `torch.nn.functional.conv2d`), matched by identity, so any alias is the same function; a
    TorchDispatchMode sees the aten operators underneath (`aten.convolution`), which every path
    to a convolution or a pooling ends in, whatever Python route was taken to reach it. A rule's
    family ("family.convolution", grader/families.py) covers every aten operator of the family:
    backward, mkldnn and slow variants, im2col. Both modes live in a thread's own state, so a
    thread started during the step enters them too; a process started during the step is refused.
    """

    def __init__(self, names: list[str]) -> None:
        self.names = names
        self.seen: list[str] = []
        self.modes: list[Any] = []
        self.patched = _Patched()
        self.kinds: tuple[Any, Any] | None = None

    def __enter__(self) -> _ForbiddenCalls:
        if not self.names or "torch" not in sys.modules:
            return self
        self.kinds = self._mode_classes()
        self.modes = self._enter_modes()
        for module, attribute in _THREAD_STARTERS:
            self.patched.replace(module, attribute, self._watched_starter)
        for module, attribute in _PROCESS_STARTERS:
            self.patched.replace(module, attribute, lambda original: _refuse_processes)
        return self

    def _mode_classes(self) -> tuple[Any, Any]:
        from torch.overrides import TorchFunctionMode
        from torch.utils._python_dispatch import TorchDispatchMode

        from .families import FAMILY_PREFIX, operator_family

        functions: dict[int, str] = {}
        operators: dict[Any, str] = {}
        families = {n.removeprefix(FAMILY_PREFIX) for n in self.names if n.startswith(FAMILY_PREFIX)}
        for name in self.names:
            target = None if name.startswith(FAMILY_PREFIX) else _forbidden_target(name)
            if target is not None:
                (operators if name.startswith("aten.") else functions).setdefault(
                    target if name.startswith("aten.") else id(target), name)
        seen = self.seen

        class WatchFunctions(TorchFunctionMode):
            def __torch_function__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
                if id(func) in functions:
                    seen.append(functions[id(func)])
                return func(*args, **(kwargs or {}))

        class WatchOperators(TorchDispatchMode):
            @classmethod
            def _should_skip_dynamo(cls) -> bool:  # else torch wraps the hook, importing dynamo (~2 s)
                return False

            def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
                packet = getattr(func, "overloadpacket", None)
                name = str(getattr(packet, "__name__", ""))
                if packet in operators:
                    seen.append(operators[packet])
                elif families and operator_family(name, families):
                    seen.append(f"aten.{name}")
                return func(*args, **(kwargs or {}))

        return WatchOperators, WatchFunctions

    def _enter_modes(self) -> list[Any]:
        assert self.kinds is not None
        modes = [kind() for kind in self.kinds]
        for mode in modes:
            mode.__enter__()
        return modes

    def _watched_starter(self, start: Any) -> Any:
        """`start` (a thread starter of _thread or threading) whose new thread enters the watch first."""
        def watched_start(function: Any, *args: Any, **kwargs: Any) -> Any:
            def watched(*inner: Any, **named: Any) -> Any:
                modes = self._enter_modes()
                try:
                    return function(*inner, **named)
                finally:
                    for mode in reversed(modes):
                        mode.__exit__(None, None, None)
            return start(watched, *args, **kwargs)
        return watched_start

    def __exit__(self, *exc: Any) -> None:
        self.patched.restore()
        for mode in reversed(self.modes):
            mode.__exit__(*exc)

    def calls(self) -> list[str]:
        """The forbidden calls seen: torch's names when known, else the aten operators."""
        named = sorted({n for n in self.seen if not n.startswith("aten.")})
        return named or sorted(set(self.seen))


def _run_step(step: dict[str, Any], namespace: dict[str, Any], kept: dict[str, Any],
              inputs: Path, encoder: Encoder) -> dict[str, Any]:
    name = step["name"]
    missing = [r for r in _refs(step) if r not in kept]
    if missing:
        return {"status": "not_run", "error_message": f"needs the result of {missing[0]}, which did not return"}
    try:
        args = decode_input(step["args"], inputs, kept)
        kwargs = decode_input(step["kwargs"], inputs, kept)
    except Exception as error:  # the student's notebook broke the probe's own tools
        return {"status": "not_run", "error_message": f"inputs could not be loaded: {error}"}
    function = step["function"]
    target: Any = None
    if function is not None:
        target = namespace.get(function)
        if target is None:
            return _raised(NameError(f"name '{function}' is not defined"))
        if not callable(target):
            return _raised(TypeError(f"{function} is a {type(target).__name__}, not a function"))
    captured = _CappedText(protocol.MAX_STEP_OUTPUT)
    outcome: dict[str, Any]
    guard = _ForbiddenCalls(step.get("forbidden", []))
    started = time.process_time()
    try:
        with _deadline(step.get("timeout")), contextlib.redirect_stdout(captured), \
                contextlib.redirect_stderr(captured):
            with guard:
                result = target(*args, **kwargs) if function is not None else _inspect(step, args, kwargs)
            kept[name] = result
            outcome = _returned(result, encoder)
    except StepTimeout:
        outcome = {"status": "timeout", "error_message": f"stopped: used {step.get('timeout'):g} s of CPU, its limit"}
    except BaseException as error:  # SystemExit and KeyboardInterrupt are the student's too
        outcome = _raised(error)
    outcome["seconds"] = time.process_time() - started  # CPU seconds, as the limit counts them
    outcome["output"] = captured.text()
    if guard.seen:
        outcome["forbidden_calls"] = guard.calls()
    return outcome


def _inspect(step: dict[str, Any], args: list[Any], kwargs: dict[str, Any]) -> Any:
    """A step without a function: an earlier result itself, or (with "call") what calling it returns, or
    (observe "graph") the model it names exported on the example inputs, or (observe "model") a model
    the grader specifies, built from its plain data (grader/export.py)."""
    if step.get("observe") == "graph":
        from .export import graph_of

        return graph_of(args[0], args[1])
    if step.get("observe") == "model":
        from .export import model_of

        return model_of(args[0])
    if not step.get("call"):
        return args[0]
    return args[0](*args[1:], **kwargs)


def _refs(step: dict[str, Any]) -> list[str]:
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            if "$ref" in value:
                found.append(value["$ref"])
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    walk([step["args"], step["kwargs"]])
    return found


def _returned(result: Any, encoder: Encoder) -> dict[str, Any]:
    kind = type(result)
    return {
        "status": "returned",
        "type": f"{kind.__module__}.{kind.__qualname__}".removeprefix("builtins."),
        "value": encoder.encode(result),
    }


def _raised(error: BaseException) -> dict[str, Any]:
    kind = type(error)
    try:
        message = str(error)[:2000]
    except Exception:
        message = "<the exception's message could not be read>"
    return {
        "status": "raised",
        "error_type": kind.__name__,
        "error_bases": [k.__name__ for k in kind.__mro__[1:]],
        "error_message": message,
    }


_KEPT: dict[str, Any] = {}  # what each step returned, across the parts of the plan (Refs)
_FORK, _WAITPID, _EXIT = os.fork, os.waitpid, os._exit  # taken before any cell runs (a cell may replace them)
CHAIN_POLL = 0.01


def _run_steps(steps: list[dict[str, Any]], seed: int, namespace: dict[str, Any], root: Path,
               encoder: Encoder, events: Any, limit: _CpuLimit | None = None) -> None:
    """Run `steps` in order here, each seeded alike, writing each start and end to `events`."""
    for step in steps:
        if limit is not None:
            limit.step(step)
        events.write(protocol.event_line(protocol.START, step=step["name"]))
        events.flush()
        _seed(seed)
        outcome = _run_step(step, namespace, _KEPT, root / protocol.INPUTS, encoder)
        try:
            line = protocol.event_line(protocol.END, step=step["name"], **outcome)
        except (TypeError, ValueError):
            line = protocol.event_line(protocol.END, step=step["name"], status="not_run",
                                       error_message="the result could not be written")
        events.write(line)
        events.flush()


class _CpuLimit:
    """A forked chain's CPU, as this process limits it (RLIMIT_CPU counts this process alone): its
    steps' limits together as the hard limit (SIGKILL), and each step's own limit as the soft one,
    set as it starts (SIGXCPU). The student's code can get round it (a process of its own, the
    limit raised): what holds is the chain's control group, counted by the grader
    (grader/charges.py); this only stops an honest overrun sooner."""

    def __init__(self, steps: list[dict[str, Any]]) -> None:
        try:
            import resource
        except ImportError:  # no rlimits here (Windows): the grader's own watch still applies
            self.resource: Any = None
            return
        self.resource = resource
        self.hard = self._now() + math.ceil(sum(self._allowed(s) for s in steps)) + 1
        _, hard = resource.getrlimit(resource.RLIMIT_CPU)
        if hard != resource.RLIM_INFINITY:
            self.hard = min(self.hard, hard)
        self._set(self.hard - 1)

    @staticmethod
    def _allowed(step: dict[str, Any]) -> float:
        return float(step.get("timeout") or 10) + protocol.CHAIN_GRACE

    @staticmethod
    def _now() -> int:
        return math.ceil(time.process_time())

    def _set(self, soft: int) -> None:
        with contextlib.suppress(ValueError, OSError):
            self.resource.setrlimit(self.resource.RLIMIT_CPU, (min(soft, self.hard), self.hard))

    def step(self, step: dict[str, Any]) -> None:
        if self.resource is not None:
            self._set(self._now() + math.ceil(self._allowed(step)))


def _own_group() -> str:
    try:
        with open("/proc/self/cgroup", encoding="utf-8") as f:
            return f.read()
    except OSError:
        return ""


def _await_placing(index: int, before: str) -> None:
    """Name this process for the grader, then wait until it has moved it into a control group of
    its own (its line in /proc/self/cgroup changes), so that all its steps' CPU, and its own
    processes', is counted there."""
    with contextlib.suppress(OSError), open("/proc/self/comm", "w", encoding="utf-8") as f:
        f.write(protocol.chain_process_name(index))
    deadline = time.monotonic() + protocol.PLACE_SECONDS
    while _own_group() == before and time.monotonic() < deadline:
        time.sleep(0.002)


def _chain_process(chain: dict[str, Any], steps: list[dict[str, Any]], plan: dict[str, Any],
                   namespace: dict[str, Any], root: Path, group: str) -> None:
    """The body of a forked chain's process: its steps, then exit (never back into the kernel)."""
    try:
        if plan.get("placed"):
            _await_placing(int(chain["index"]), group)
        limit = _CpuLimit(steps)
        encoder = Encoder(root / protocol.OUT, prefix=f"r{plan['part']}c{int(chain['index'])}")
        with open(root / protocol.OUT / protocol.chain_file(int(chain["index"])), "a", encoding="utf-8") as events:
            _run_steps(steps, int(plan.get("seed", 0)), namespace, root, encoder, events, limit)
    finally:
        _EXIT(0)


_warmed = False  # warm_export has run in this process, or in the template it was forked from


def warm_export() -> None:
    """The first export (the recorder's set-up and self-check; torch.export's set-up, 0.5 s, where the
    recorder cannot run) and a first backward pass, on a model of the grader's: done once, then
    inherited warm by forked processes (the fork server's template does it before any child; else
    the kernel before its chains)."""
    global _warmed
    torch = sys.modules["torch"]
    from .export import graph_of

    model = torch.nn.Sequential(torch.nn.Linear(2, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    graph_of(model, torch.zeros(3, 2))
    model(torch.zeros(3, 2)).sum().backward()
    _warmed = True


def _warm_up(steps: list[dict[str, Any]]) -> None:
    """What every forked chain would otherwise do once on its own (`warm_export`), done here once."""
    if _warmed or "torch" not in sys.modules or not any(s.get("observe") == "graph" for s in steps):
        return
    with contextlib.suppress(Exception):  # a cell may have broken torch: the chains will say so
        warm_export()


def _run_chains(plan: dict[str, Any], namespace: dict[str, Any], root: Path, events: Any) -> None:
    """Fork a process per chain of the plan, at most plan["jobs"] at once, and say in the main
    events file when each has ended (its returncode: negative for a signal)."""
    by_name = {s["name"]: s for s in plan["steps"]}
    _warm_up(plan["steps"])
    pending = list(plan.get("chains", []))
    running: dict[int, int] = {}
    jobs = max(1, int(plan.get("jobs", 1)))
    group = _own_group()
    while pending or running:
        while pending and len(running) < jobs:
            chain = pending.pop(0)
            steps = [by_name[name] for name in chain["steps"]]
            sys.stdout.flush()
            pid = _FORK()
            if pid == 0:
                _chain_process(chain, steps, plan, namespace, root, group)
            running[pid] = int(chain["index"])
        for pid in list(running):
            done, status = _WAITPID(pid, os.WNOHANG)
            if done:
                code = os.waitstatus_to_exitcode(status)
                events.write(protocol.event_line(protocol.CHAIN_EXIT, chain=running.pop(pid), returncode=code))
                events.flush()
        time.sleep(CHAIN_POLL)


def run(scratch: str, part: int = 1, namespace: dict[str, Any] | None = None) -> None:
    """Run every step of part `part` of the plan in this (the student's) namespace, or in
    `namespace`; child.py puts each part in SCRATCH/plan-N.json when the grader sends it. Steps of
    the plan's chains run in processes forked from this one, after the others."""
    root = Path(scratch)
    plan = json.loads((root / protocol.plan_file(part)).read_text())
    encoder = Encoder(root / protocol.OUT, prefix=f"r{part}")
    namespace = _user_namespace() if namespace is None else namespace
    if part == 1:
        _KEPT.clear()
    chained = {name for chain in plan.get("chains", []) for name in chain["steps"]}
    inline = [s for s in plan["steps"] if s["name"] not in chained]
    with open(root / protocol.OUT / protocol.EVENTS, "a", encoding="utf-8") as events:
        _run_steps(inline, int(plan.get("seed", 0)), namespace, root, encoder, events)
        if chained:
            _run_chains(plan, namespace, root, events)
