"""Attack: network namespaces hold loopback-only networks, but not every socket family: AF_VSOCK
(virtio-vsock, Hyper-V sockets, VMware's VMCI) is the machine's own, whatever the namespace. A
sandbox that can make one reaches the host of the virtual machine the grader runs in (port after
port of its services), listens where that host can connect, and shares one port space with every
other sandbox graded beside it: two submissions graded at once see each other's ports (a bind
fails as "in use"). It tries the same through the 32-bit system calls (`int 0x80`: socket, and
socketcall, whose arguments are in memory where no filter reads them).

Under a sandbox, socket() makes sockets of the families a network namespace holds only (unix,
inet, inet6, netlink): nothing is made, full marks. Anything made costs conv_params its marks.
Bounded: nothing is connected to; a port is only bound, and held for a few seconds.
"""
# %%
import ctypes
import errno
import mmap
import os
import platform
import socket
import struct
import time

AF_VSOCK, SOCK_STREAM, PORT = 40, 1, 47_011
FOUND = []


def _int80(number, *args):
    """A 32-bit system call (eax=number, ebx/ecx/edx=args) from this 64-bit process; what eax says."""
    a, b, c = (list(args) + [0, 0, 0])[:3]
    code = (b"\x53\xb8" + struct.pack("<I", number) + b"\xbb" + struct.pack("<I", a & 0xFFFFFFFF)
            + b"\xb9" + struct.pack("<I", b & 0xFFFFFFFF) + b"\xba" + struct.pack("<I", c & 0xFFFFFFFF)
            + b"\x31\xf6\x31\xff\xcd\x80\x5b\xc3")
    memory = mmap.mmap(-1, mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    memory.write(code)
    return ctypes.CFUNCTYPE(ctypes.c_int)(ctypes.addressof(ctypes.c_char.from_buffer(memory)))()


def _low_memory(size=4096):
    """Memory below 4 GiB (MAP_32BIT), where a 32-bit pointer reaches."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
    address = libc.mmap(None, size, 3, 0x22 | 0x40, -1, 0)  # PROT_READ|WRITE, MAP_PRIVATE|ANONYMOUS|MAP_32BIT
    return None if address in (None, ctypes.c_void_p(-1).value) else address


def _through_32_bit_calls():
    """What the 32-bit system calls make; run in a child of its own (a kernel without them may
    answer `int 0x80` with a segmentation fault)."""
    found = []
    if _int80(20) > 0:  # getpid: the 32-bit calls exist here
        if _int80(359, AF_VSOCK, SOCK_STREAM, 0) >= 0:
            found.append("an AF_VSOCK socket through int 0x80")
        args = _low_memory()
        if args is not None:
            ctypes.memmove(args, struct.pack("<III", AF_VSOCK, SOCK_STREAM, 0), 12)
            if _int80(102, 1, args) >= 0:  # socketcall(SYS_SOCKET, args)
                found.append("an AF_VSOCK socket through socketcall")
    return found


def _in_a_child(function):
    """function()'s list of strings, as a forked child returned it (nothing if it died)."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(read)
            os.write(write, "\n".join(function()).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as answer:
        said = answer.read().decode()
    os.waitpid(pid, 0)
    return [line for line in said.splitlines() if line]


def _try_vsock():
    held = []
    try:
        sock = socket.socket(AF_VSOCK, socket.SOCK_STREAM)
        FOUND.append("an AF_VSOCK socket")
        try:
            sock.bind((0xFFFFFFFF, PORT))  # VMADDR_CID_ANY
            held.append(sock)
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                FOUND.append("another sandbox's vsock port")
    except OSError:
        pass
    if platform.machine() == "x86_64":
        FOUND.extend(_in_a_child(_through_32_bit_calls))
    if held:
        time.sleep(4)  # long enough for a submission graded beside it to meet the port
    return held


HELD = _try_vsock()
print("found:", FOUND)


def _check(condition, message):
    if not condition:
        raise ValueError(message)


def conv_params(n, c_in, c_out, bias=True):
    if FOUND:
        return 0
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

