"""Hostile: writes to the grader's file for its standard error: the descriptor every child
gets for its start-up failures (during the cells and checks, descriptor 2 is a pipe the shell
reads, but the file stays open under another number). That file was once the grader's own, in
the grader's temporary folder on its disk, outside the submission's 2 GiB folder: a submission
could put 512 MiB there (its file size limit), once per sandbox, on a disk its classmates'
graders share.

Now the file is in the submission's own folder, counted in its room: the flood stays there, and
the sample keeps full marks (it checks where the file is: anywhere else, and conv_params answers
wrong). Bounded: 64 MiB, in 1 MiB writes.
"""
# %%
import math
import os
import stat


def _grader_files():
    """The regular files open here that are not the events file: the standard error's."""
    found = []
    for name in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{name}")
            if stat.S_ISREG(os.fstat(int(name)).st_mode) and not target.endswith(".jsonl"):
                found.append((int(name), target))
        except OSError:
            pass
    return found


def _flood(fd, chunks=64):
    written = 0
    for _ in range(chunks):
        try:
            written += os.write(fd, b"x" * 2**20)
        except OSError:
            break
    return written


FOLDER = os.path.dirname(os.getcwd())  # the notebook runs in its folder's work/
FILES = _grader_files()
WRITTEN = sum(_flood(fd) for fd, _ in FILES)
OWN = bool(FILES) and all(target.startswith(FOLDER + os.sep) for _, target in FILES)
print("files:", FILES, "in its own folder:", OWN, "; bytes written:", WRITTEN)


def _check(condition, message):
    if not condition:
        raise ValueError(message)


def conv_params(n, c_in, c_out, bias=True):
    _check(min(n, c_in, c_out) >= 1, "sizes must be >= 1")
    weights = (n ** 2) * c_in * c_out + (0 if OWN else 1)
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
