"""Hostile: a message as long as the terminal is wide, so that the terminal's own wrapping draws
a passing report at its left edge.

conv_params raises with a message that fills an 80-column terminal's row exactly after
"          raised ValueError: " (29 columns), then holds rows of 80 columns each: an exercise
passing ("  ✓ conv_params   9 / 9") and the report's last line ("59 of 59 checks passed").
A terminal breaks a line longer than itself at its last column, and its next row starts at the
left edge, where a report's exercise lines are. On a terminal the text report folds every long
line itself, each further row indented under its line, so none starts where a line of the report
could. Everything else is correct: only conv_params loses marks (its bad-arguments check passes:
it raises a ValueError).
"""
# %%
import math

TERMINAL = 80
PREFIX = "          raised ValueError: "
ROWS = ("  \u2713 conv_params                      9 / 9", "59 of 59 checks passed")
FORGED = "x" * (TERMINAL - len(PREFIX)) + "".join(row.ljust(TERMINAL) for row in ROWS)


def conv_params(n, c_in, c_out, bias=True):
    raise ValueError(FORGED)


def conv_output_size(w, n, stride=1, padding=0):
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
