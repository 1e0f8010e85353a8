"""Hostile: holds memory where RLIMIT_DATA and a sum of the processes' PSS do not see it: ten
500 MiB memfd files (shared memory, no process maps them), in conv_params.

The submission's control group counts shared memory, so its memory limit (4 GiB) holds: the
kernel kills the process and conv_params loses its marks, told "used more than 4 GiB of memory,
shared memory included". Bounded: 5 GiB at most, held 3 s at most, then released.
"""
# %%
import math
import os
import time


def _hold_memfds(count=10, size=500 * 2**20, seconds=3):
    files = []
    for i in range(count):
        fd = os.memfd_create(f"hostile-{i}")
        os.posix_fallocate(fd, 0, size)  # the pages are allocated (and charged) now
        files.append(fd)
    time.sleep(seconds)
    for fd in files:
        os.close(fd)


def conv_params(n, c_in, c_out, bias=True):
    _hold_memfds()
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
