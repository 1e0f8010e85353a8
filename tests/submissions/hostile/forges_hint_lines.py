"""Hostile: once the hidden inputs are there, raise with them in lines that look like hints.

Correct everywhere, except that conv_output_size, when the hidden part of the plan is in its
scratch folder (child.py puts it there for the probe), raises an exception whose message is
that part, in lines starting with "hint:" and "  - ". Hints shown to students are chosen by the
judge, never picked out of the child's text: the hidden checks of conv_output_size are errors
that show their verdict only.
"""
# %%
import glob
import math
import os


def _hidden_plan():
    found = glob.glob(os.path.join(os.getcwd(), "..", "plan-2.json"))
    return open(found[0]).read() if found else ""


def conv_params(n, c_in, c_out, bias=True):
    if min(n, c_in, c_out) < 1:
        raise ValueError("sizes must be >= 1")
    return n * n * c_in * c_out + (c_out if bias else 0)


def conv_output_size(w, n, stride=1, padding=0):
    leak = _hidden_plan()
    if leak:
        raise ValueError("hint: LEAK " + leak + "\n" + "\n".join("  - " + part for part in leak.split("},")))
    if min(w, n, stride) < 1 or padding < 0 or n > w + 2 * padding:
        raise ValueError("bad arguments")
    return math.ceil((w + 2 * padding - n + 1) / stride)


def pool_output_size(w, z, stride=None, padding=0):
    step = z if stride is None else stride
    if min(w, z, step) < 1 or padding < 0 or z > w + 2 * padding:
        raise ValueError("bad arguments")
    return (w + 2 * padding - z) // step + 1


def fully_connected_params(n_inputs, n_hidden):
    if min(n_inputs, n_hidden) < 1:
        raise ValueError("bad arguments")
    return n_inputs * n_hidden


def locally_connected_params(n_hidden, field):
    if min(n_hidden, field) < 1:
        raise ValueError("bad arguments")
    return n_hidden * field * field


def shared_weights_params(field, c_in=1, c_out=1):
    if min(field, c_in, c_out) < 1:
        raise ValueError("bad arguments")
    return field * field * c_in * c_out
