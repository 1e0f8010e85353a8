"""Hostile: a public check's verdict chosen after the hidden inputs arrived, from them.

Every function is correct. The module wraps the probe's entry point (grader.probe.run, in its own process):
when part 2 of the plan comes (the hidden checks' inputs, sent once everything a student sees was frozen), it
reads a bit of them (is the first hidden call's first argument odd?) and, when it is set, spends 5 s of CPU
before any hidden step starts. CPU used outside every step is charged to the step whose processes were left
running, the last that ended: a public one (shared_weights_params/slides-ten-in-ten-out), whose answer was
withdrawn and replaced by the stop ("processes shared_weights_params left running used more than 2 s of CPU
after it returned"): a public check that lost its point, in the student's report, iff the hidden bit was set.
After the hidden part is sent, a public step's answer stands: the stop is the run's ("used more than 2 s of CPU
outside its checks"), never a public check's. Public checks: full marks; the hidden checks, which the stop
leaves unanswered, none.
tests/test_forgery_review.py grades it. Bounded: 5 s of CPU per child, two children."""
# assignment: conv-arithmetic
import json
import math
import os
import sys
import time


def _check(condition, message):
    if not condition:
        raise ValueError(message)


def conv_params(n, c_in, c_out, bias=True):
    _check(min(n, c_in, c_out) >= 1, "sizes must be >= 1")
    weights = (n ** 2) * c_in * c_out
    return weights + c_out if bias else weights


def conv_output_size(w, n, stride=1, padding=0):
    _check(w >= 1 and n >= 1 and stride >= 1, "sizes and stride must be >= 1")
    _check(padding >= 0, "padding must be >= 0")
    padded = w + 2 * padding
    _check(n <= padded, "kernel larger than the padded input")
    return math.ceil((padded - n + 1) / stride)


def pool_output_size(w, z, stride=None, padding=0):
    step = z if stride is None else stride
    _check(w >= 1 and z >= 1 and step >= 1, "sizes and stride must be >= 1")
    _check(padding >= 0, "padding must be >= 0")
    _check(z <= w + 2 * padding, "window larger than the padded input")
    return (w + 2 * padding - z) // step + 1


def fully_connected_params(n_inputs, n_hidden):
    _check(n_inputs >= 1 and n_hidden >= 1, "sizes must be >= 1")
    return n_inputs * n_hidden


def locally_connected_params(n_hidden, field):
    _check(n_hidden >= 1 and field >= 1, "sizes must be >= 1")
    return n_hidden * field * field


def shared_weights_params(field, c_in=1, c_out=1):
    _check(min(field, c_in, c_out) >= 1, "sizes must be >= 1")
    return field * field * c_in * c_out


_probe = sys.modules.get("grader.probe")
if _probe is not None:  # graded: the probe is in this process
    _real_run = _probe.run

    def _run(scratch, part=1, namespace=None):
        if part == 2:
            with open(os.path.join(scratch, "plan-2.json")) as f:
                first = json.load(f)["steps"][0]["args"][0]
            if isinstance(first, int) and first % 2:  # the bit, told by a public check's verdict
                end = time.process_time() + 5
                while time.process_time() < end:
                    pass
        return _real_run(scratch, part, namespace)

    _probe.run = _run
