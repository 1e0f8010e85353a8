"""Hostile: allocates 2.5 GiB on disk in its folder, in conv_output_size (the free space of a
shared filesystem was once the disk budget: this made a classmate graded beside it score 0).

Its folder is a space of its own, limited to 2 GiB: the allocation fails there (or, where the
grader cannot mount one, the grader stops it), conv_output_size loses its marks, and nobody
else's files or budget move. Bounded: five files, removed at once.
"""
# %%
import math
import os


def _fill(files=5, size=500 * 2**20):
    """2.5 GiB in five files (one file may not pass 512 MiB)."""
    paths = [os.path.join(os.getcwd(), f"filler-{i}.bin") for i in range(files)]
    try:
        for path in paths:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
            try:
                os.posix_fallocate(fd, 0, size)
            finally:
                os.close(fd)
    finally:
        for path in paths:
            if os.path.exists(path):
                os.unlink(path)


def conv_params(n, c_in, c_out, bias=True):
    if min(n, c_in, c_out) < 1:
        raise ValueError("sizes must be >= 1")
    return n * n * c_in * c_out + (c_out if bias else 0)


def conv_output_size(w, n, stride=1, padding=0):
    _fill()
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
