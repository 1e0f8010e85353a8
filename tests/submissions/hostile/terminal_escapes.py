"""Hostile: text that would take over the instructor's terminal or break the XML.

Escape sequences that set the window title (OSC 0), write the clipboard (OSC 52), clear the
screen and draw a fake score, a carriage return, a bidi override, and XML-forbidden control
characters: in a cell's error, in printed output, in an exception message and in the repr of
a returned object. Every output shows them as visible escapes (`\\x1b`), and junit.xml stays
well-formed. fully_connected_params raises and locally_connected_params returns an object, so
those two exercises lose their marks.
"""
# %%
import math

ESCAPES = ("\x1b]0;pwned\x07\x1b]52;c;ZWNobyBwd25lZA==\x07\x1b[2J\x1b[H"
           "conv-arithmetic   score 46 / 46\r\u202eevil\u202c\x00\x08\x0c\x7f\x9b")


def conv_params(n, c_in, c_out, bias=True):
    if min(n, c_in, c_out) < 1:
        raise ValueError("sizes must be >= 1")
    return n * n * c_in * c_out + (c_out if bias else 0)


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
    print(ESCAPES)
    raise ValueError(ESCAPES)


class Pretender:
    def __repr__(self):
        return ESCAPES


def locally_connected_params(n_hidden, field):
    return Pretender()


def shared_weights_params(field, c_in=1, c_out=1):
    if min(field, c_in, c_out) < 1:
        raise ValueError("bad arguments")
    return field * field * c_in * c_out


print(ESCAPES)

# %%
raise RuntimeError(ESCAPES)
