"""Hostile: tries to starve the classmates graded beside it: 16 processes, each in a session of
its own (setsid: where autogroup applies, a scheduling group of its own each), spinning while
its cell waits.

The CPU they burn is this submission's own: its control group (or, without one, the sum over
its processes) counts it against its budget for the cells, which stops it; the sandboxes'
shares are set by their control groups' weights, not by sessions. A correct classmate graded at
the same time on a machine kept busy keeps its full marks: that is tests/test_load.py, which
grades this beside the reference of a training assignment (graded in seconds, well within the
spinning). Bounded: each process spins 15 s at most, and every one dies with the submission's sandbox.
"""
# %%
import os
import time

for _ in range(16):
    if os.fork() == 0:
        os.setsid()
        end = time.monotonic() + 15
        while time.monotonic() < end:
            pass
        os._exit(0)
time.sleep(15)
