"""Hostile: tries the system calls a student's code never needs: a new user namespace, a mount,
attaching to another process, the kernel's keyring, BPF, performance counters, userfaultfd,
io_uring, loading a module or a kernel.

Under bubblewrap each is refused (EPERM) by the sandbox's system-call filter; had one worked,
conv_params would answer -1. Bounded: every call gets arguments that do nothing even when the
kernel accepts them (no new process, nothing mounted or loaded); run under bwrap only.
"""
# %%
import ctypes
import errno
import math

_libc = ctypes.CDLL(None, use_errno=True)
CALLS = {  # x86_64 numbers: (number, arguments)
    "unshare(CLONE_NEWUSER)": (272, (0x10000000,)),
    "mount": (165, (None, None, None, 0, None)),
    "ptrace(PTRACE_ATTACH, 1)": (101, (16, 1, 0, 0)),
    "keyctl": (250, (0, 0, 0, 0, 0)),
    "add_key": (248, (None, None, None, 0, 0)),
    "bpf": (321, (0, None, 0)),
    "perf_event_open": (298, (None, 0, -1, -1, 0)),
    "userfaultfd": (323, (0,)),
    "io_uring_setup": (425, (1, None)),
    "init_module": (175, (None, 0, None)),
    "kexec_load": (246, (0, 0, None, 0)),
    "open_by_handle_at": (304, (-1, None, 0)),
}


def _not_refused():
    allowed = []
    for name, (number, args) in CALLS.items():
        ctypes.set_errno(0)
        result = _libc.syscall(number, *args)
        if result != -1 or ctypes.get_errno() != errno.EPERM:
            allowed.append(f"{name}: {result}, errno {ctypes.get_errno()}")
    return allowed


ALLOWED = _not_refused()
print("not refused:", ALLOWED)


def conv_params(n, c_in, c_out, bias=True):
    if ALLOWED:
        return -1
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
