"""Hostile: correct, but its first cell appends 64 MiB of tiny "kernel-exit" events to the events file.

An honest child says "kernel-exit" once, just before it exits: a second one breaks the protocol,
so this loses every mark, and the grader reads the events a chunk at a time, stopping at the
break: it neither parses 1.7 million lines nor holds 64 MiB of them (it did both, for 20 times
the CPU of an honest run, and gave full marks). Bounded: 64 MiB, the cap on a child's events.
"""
# %%
import os

_line = b'{"event":"kernel-exit","returncode":1}\n'
_fd = os.open(os.path.join(os.getcwd(), "..", "out", "events.jsonl"), os.O_WRONLY | os.O_APPEND)
_chunk = _line * 100_000
for _ in range((64 * 2**20) // len(_chunk)):
    os.write(_fd, _chunk)
os.close(_fd)


# %%
def _check(condition, message):
    if not condition:
        raise ValueError(message)


def conv_params(n, c_in, c_out, bias=True):
    _check(min(n, c_in, c_out) >= 1, "sizes must be >= 1")
    weights = n * n * c_in * c_out
    return weights + c_out if bias else weights


def conv_output_size(w, n, stride=1, padding=0):
    _check(w >= 1 and n >= 1 and stride >= 1, "sizes and stride must be >= 1")
    _check(padding >= 0, "padding must be >= 0")
    _check(n <= w + 2 * padding, "kernel larger than the padded input")
    return -(-(w + 2 * padding - n + 1) // stride)


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
