"""Wait: a cell that sleeps, or waits for what never comes (input, a lock, a socket), uses no CPU.

No CPU budget stops it, and a wall-clock limit generous enough for a busy machine would hold the
grading for minutes: the grader stops cells that used no CPU for a minute (the limits'
asleep_seconds; 15 s in the hostile corpus's batch; counted by the sandbox's control group, which
a busy machine slows but never stops), and every check still appears, without a mark.
"""
import threading


def conv_params(n, c_in, c_out, bias=True):
    return n * n * c_in * c_out + (c_out if bias else 0)


threading.Event().wait()  # forever, asleep
