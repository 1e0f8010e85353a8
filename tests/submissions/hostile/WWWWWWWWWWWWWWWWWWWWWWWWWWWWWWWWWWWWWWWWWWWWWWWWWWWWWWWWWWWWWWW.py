"""Hostile: a correct solution whose file name, its student id in a batch (a plain export: the
file's name; Moodle's folder: the student's name), is one word 63 letters wide (an id keeps 64),
and whose last cell, which fails, starts with a line of 119 letters (a cell's first line, as the
report heads the cell with it, keeps 120 characters).

Unbroken, the id made the summary's table of students wider than the page: every student's status,
score and bar went past the window's right edge (a table's column is never narrower than its
longest word; a long name in the roster did the same), and the first line pushed the failed cell's
"error" badge out of its box, which clips it. The pages wrap a word that would not fit
(`overflow-wrap: anywhere`): no table is wider than the page, no badge leaves its box. Full marks:
the functions are defined before the failing cell.
"""
# %%
import math


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


# %%
#WWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWW
raise RuntimeError("the last cell fails")
