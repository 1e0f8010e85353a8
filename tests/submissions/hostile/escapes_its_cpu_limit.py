"""Hostile: uses more CPU in a call than its limit allows, where a forked chain's own process
limit (RLIMIT_CPU, set by the probe in the student's own process) and the probe's CPU timer for
the call do not count it: in a process it forks (whose count starts at zero), by raising that
limit first, or in a process it leaves running after the call returned; and, with
`hide_from_the_grader()` run in a cell first, with its chains' processes unnamed, so that the
grader cannot tell them apart.

Each chain of steps runs in a control group of its own, placed by the grader, whose count the
kernel keeps: the first two cost their own call its marks ("used more than 1 s of CPU in ...")
and nothing else; the third is CPU used after the call, which costs that call ("processes ...
left running used more than 1 s of CPU after it returned"); unnamed chains share one count,
which is charged to each of their running calls. tests/test_chains.py grades it with steps of
its own (1 s of CPU each), two chains at once; a chain beside it that only waits keeps its
answers. Bounded: each spinner spins 6 s of CPU at most, and every one dies with the sandbox.
"""# %%
import os
import resource
import signal
import time


def make():
    return [0, 1]


def use(x):
    return len(x)


def _spin(seconds):
    signal.setitimer(signal.ITIMER_PROF, 0)  # the probe's timer for the call
    signal.signal(signal.SIGXCPU, signal.SIG_IGN)  # its soft limit's warning: on to the hard one
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


def in_a_child(x):
    pid = os.fork()
    if pid == 0:
        _spin(5)
        os._exit(0)
    os.waitpid(pid, 0)
    return len(x)


def raising_its_limit(x):
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    resource.setrlimit(resource.RLIMIT_CPU, (hard, hard))
    _spin(5)
    return len(x)


def leaving_a_spinner(x):
    pid = os.fork()
    if pid == 0:
        _spin(6)
        os._exit(0)
    with open("/tmp/spinner.new", "w") as f:  # renamed whole: never read half-written
        f.write(str(pid))
    os.replace("/tmp/spinner.new", "/tmp/spinner")
    return len(x)


def wait_a_while(x):
    time.sleep(1)
    return len(x)


def _spinning():
    """Whether the spinner still runs, or is still to come (its file is read once: made between
    two looks, it would seem to have come and gone)."""
    try:
        with open("/tmp/spinner") as f:
            pid = f.read()
    except FileNotFoundError:
        return True
    try:
        with open("/proc/" + pid + "/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return False


def wait_for_the_spinner(x):
    """In a forked chain beside the spinner's: keeps the child running while the spinner spins
    (the child is then stopped with it). Called again, in a new child's kernel process (the only
    chain left is not forked), it returns at once."""
    with open("/proc/self/comm") as f:
        forked = f.read().startswith("cgchain-")
    deadline = time.monotonic() + 120
    while forked and _spinning() and time.monotonic() < deadline:
        time.sleep(0.05)
    return len(x)


def hide_from_the_grader():
    """Called in a cell: the chains' processes no longer name themselves, so the grader cannot
    put each in a group of its own."""
    import grader.probe

    grader.probe._await_placing = lambda index, group: None
