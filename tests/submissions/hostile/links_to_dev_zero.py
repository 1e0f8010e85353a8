"""Attack: replace the files the grader reads with endless or blocking ones: cells.json becomes a
link to /dev/zero (endless), a FIFO appears as a tensor file, and a link points at the course.

The grader reads no link, FIFO or device, and never more than it asked for, so it neither hangs
nor fills its memory. Bounded: three links and one FIFO in its own scratch folder.
"""
import os
from pathlib import Path

_out = Path.cwd().parent / "out"
for _name, _target in (("cells.json", "/dev/zero"), ("r-1.tensor", "/work/main/reference")):
    try:
        (_out / _name).unlink(missing_ok=True)
        (_out / _name).symlink_to(_target)
    except OSError:
        pass
try:
    os.mkfifo(_out / "r-2.tensor")
except OSError:
    pass


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
    return (w + 2 * padding - n) // stride + 1


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

