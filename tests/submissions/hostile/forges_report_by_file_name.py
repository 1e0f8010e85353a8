"""Hostile: the file's name draws lines of the text report (the attack is its name, which a test
gives it: `grade FILE` prints the name on the report's first line).

Its code takes floor instead of ceil in conv_output_size, which loses marks there. Graded under a
name holding line breaks between lines drawn like a passing report's ("  ✓ conv_output_size
17 ∕ 17", with a division slash: a file name cannot hold "/"), the report's first line would end
the name's first line, and the others would be lines of the report of their own. The file name
is one line in the report: its breaks are shown as escapes ("\\n").
"""
# %%
import math


def conv_params(n, c_in, c_out, bias=True):
    if min(n, c_in, c_out) < 1:
        raise ValueError("sizes must be >= 1")
    return n * n * c_in * c_out + (c_out if bias else 0)


def conv_output_size(w, n, stride=1, padding=0):
    if min(w, n, stride) < 1 or padding < 0 or n > w + 2 * padding:
        raise ValueError("bad arguments")
    return math.floor((w + 2 * padding - n + 1) / stride)  # the mistake: floor, not ceil


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
