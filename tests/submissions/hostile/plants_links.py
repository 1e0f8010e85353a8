"""Hostile: plants symbolic links wherever the grader (often root) used to write into the
scratch folder after the student's code had started, all pointing at a file outside the
sandbox: the hidden part of the plan and its temporary name, the hidden inputs' tensor files,
the cells' log, the kernel's exit note and the child's stderr.

The grader now writes nothing into the scratch folder once the student's code can run (its
messages go down a pipe), and child.py, on the student's side, replaces a planted link instead
of following it: the target is never written, and the submission, otherwise correct, keeps
full marks. Bounded: the target is a file the test itself made (/tmp/coursegrade-hostile-sentinel/).
"""
# %%
import math
import os

TARGET = "/tmp/coursegrade-hostile-sentinel/target.txt"
SCRATCH = os.path.dirname(os.getcwd())
NAMES = ["plan.json", "plan-1.json", "plan-2.json", ".plan-2.json.tmp", "child-stderr.txt", "out/cells.json",
         "out/kernel-exit.json", *(f"inputs/in{part}-{i}.tensor" for part in (1, 2) for i in range(1, 10))]
for name in NAMES:
    path = os.path.join(SCRATCH, name)
    try:
        if os.path.lexists(path):
            os.unlink(path)
        os.symlink(TARGET, path)
    except OSError:
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
