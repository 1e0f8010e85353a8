"""Hostile: creates 150,000 empty files in its folder, in pool_output_size (files were counted in
bytes only: they were never stopped).

Its folder is limited in files too (20,000): creating them fails there (or, where the grader
cannot mount a space of its own, the grader stops it), and pool_output_size loses its marks.
Bounded: empty files in its own folder, gone with it.
"""
# %%
import math
import os


def _many_files(count=150_000):
    folder = os.path.join(os.getcwd(), "many")
    os.makedirs(folder, exist_ok=True)
    for i in range(count):
        with open(os.path.join(folder, str(i)), "w"):
            pass


def conv_params(n, c_in, c_out, bias=True):
    if min(n, c_in, c_out) < 1:
        raise ValueError("sizes must be >= 1")
    return n * n * c_in * c_out + (c_out if bias else 0)


def conv_output_size(w, n, stride=1, padding=0):
    if min(w, n, stride) < 1 or padding < 0 or n > w + 2 * padding:
        raise ValueError("bad arguments")
    return math.ceil((w + 2 * padding - n + 1) / stride)


def pool_output_size(w, z, stride=None, padding=0):
    _many_files()
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
