"""Hostile: a call over its CPU budget that says it was within it. `slow` swallows the probe's CPU alarm,
spins 2.5 s of CPU where its limit is 1 s (the grader stops a call at its limit plus 2 s of grace, counted by
the kernel), and replaces time.process_time, the probe's clock (the student's code shares its process), for
the one reading that ends the call: the call's answer says it took 0.25 s. cnn-digits' train/time-budget
passes or fails on that number (train took at most 60 s), so a train of 61 s passed it.

The seconds a step took are now the more of what the child said and what the kernel counted for the step
(grader/charges.py): `slow` returns, and its observation says it used about 2.5 s. tests/test_forgery_review.py
runs it with a step of its own (1 s of CPU). Bounded: 2.5 s of CPU."""
import signal
import time

_clock = time.process_time


def slow(x):
    signal.setitimer(signal.ITIMER_PROF, 0)  # the probe's alarm for the call's limit, swallowed
    start = _clock()
    while _clock() - start < 2.5:
        pass

    def once():  # the probe's next reading (the call's end): 0.25 s after it began
        time.process_time = _clock
        return start + 0.25

    time.process_time = once
    return x
