"""The steps that make a forked child as isolated as a fresh bubblewrap sandbox, as plain system
calls (ctypes: Python 3.11 has no unshare, mount or seccomp of its own).

Run by grader/zygote.py in the child it forks, before any student code: namespaces, mounts,
the loopback interface, the user, no_new_privs and the system-call filter. Every function
raises OSError when the kernel refuses.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import os
import socket
import struct

CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS = 0x0002_0000, 0x0200_0000, 0x0400_0000
CLONE_NEWIPC, CLONE_NEWPID, CLONE_NEWNET = 0x0800_0000, 0x2000_0000, 0x4000_0000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
PR_SET_DUMPABLE = 4
PR_SET_PDEATHSIG, PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 1, 38, 22, 2
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
PROC_READ_ONLY = ("sys", "sysrq-trigger", "irq", "bus")  # as bwrap leaves them

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
_libc.unshare.argtypes = [ctypes.c_int]
_libc.setns.argtypes = [ctypes.c_int, ctypes.c_int]
_libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p, ctypes.c_ulong, ctypes.c_ulong]


OPEN_TREE_CLONE, OPEN_TREE_CLOEXEC, AT_RECURSIVE, MOVE_MOUNT_F_EMPTY_PATH = 1, 0o2000000, 0x8000, 0x4
AT_FDCWD = -100
SYS_OPEN_TREE, SYS_MOVE_MOUNT = 428, 429  # the same number on every architecture (since Linux 5.2)
_libc.syscall.restype = ctypes.c_long


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def _check(result: int, what: str) -> None:
    if result != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"{what}: {os.strerror(code)}")


def peer(sock: socket.socket) -> tuple[int, int, int]:
    """The (pid, uid, gid) of the process at the other end of a Unix socket, as the kernel says."""
    credentials = struct.Struct("3i")
    return credentials.unpack(sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, credentials.size))


def unshare(flags: int) -> None:
    _check(_libc.unshare(flags), "unshare")


def setns(fd: int, kind: int) -> None:
    _check(_libc.setns(fd, kind), "setns")


def mount(source: str, target: str, fstype: str | None, flags: int, data: str = "") -> None:
    _check(_libc.mount(source.encode(), target.encode(), fstype.encode() if fstype else None, flags,
                       data.encode() if data else None), f"mount {target}")


def bind(source: str, target: str, read_only: bool = False) -> None:
    mount(source, target, None, MS_BIND | MS_REC)
    if read_only:
        mount("none", target, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)


def open_tree(path: str) -> int:
    """A detached copy of the mount at `path` (and those below it), as a descriptor: the
    grader's side of handing one folder to a child in another mount namespace."""
    fd = _libc.syscall(SYS_OPEN_TREE, ctypes.c_int(AT_FDCWD), path.encode(),
                       ctypes.c_uint(OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE))
    if fd < 0:
        code = ctypes.get_errno()
        raise OSError(code, f"open_tree {path}: {os.strerror(code)}")
    return int(fd)


def attach(tree: int, target: str) -> None:
    """Mount a tree `open_tree` made at `target` (in the caller's mount namespace)."""
    result = _libc.syscall(SYS_MOVE_MOUNT, ctypes.c_int(tree), b"", ctypes.c_int(AT_FDCWD), target.encode(),
                           ctypes.c_uint(MOVE_MOUNT_F_EMPTY_PATH))
    _check(int(result), f"move_mount {target}")


def tmpfs(target: str, size: int, mode: int = 0o755) -> None:
    mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, f"size={size},mode={mode:04o}")


def private_mounts() -> None:
    """Nothing mounted from now on travels back to the template or to another child."""
    mount("none", "/", None, MS_REC | MS_PRIVATE)


def fresh_proc() -> None:
    """/proc of the current pid namespace (the caller must be in it: its first process)."""
    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    for name in PROC_READ_ONLY:
        path = f"/proc/{name}"
        if os.path.exists(path):
            bind(path, path, read_only=True)


def fresh_devpts() -> None:
    """Pseudo-terminals of the caller's own on /dev/pts (where /dev/ptmx points), as bwrap's --dev
    mounts them for each sandbox: the ones another child opens are neither listed nor reachable."""
    mount("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=620")


def loopback_up() -> None:
    """Bring `lo` up in a new network namespace (it starts down), as bwrap does."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(sock, SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | IFF_UP))


def become(uid: int) -> None:
    """Drop root for `uid` (every capability goes with it)."""
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)


def die_with_parent(sig: int) -> None:
    _check(_libc.prctl(PR_SET_PDEATHSIG, sig, None, 0, 0), "prctl(PR_SET_PDEATHSIG)")


def dumpable() -> None:
    """As after an exec: the process's /proc files are its user's (a change of user made them root's)."""
    _check(_libc.prctl(PR_SET_DUMPABLE, 1, None, 0, 0), "prctl(PR_SET_DUMPABLE)")


def no_new_privs() -> None:
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, None, 0, 0), "prctl(PR_SET_NO_NEW_PRIVS)")


def install_filter(program: bytes) -> None:
    """Install a classic-BPF seccomp program (as grader/syscall_filter.py exports it); needs
    no_new_privs (or CAP_SYS_ADMIN). Inherited by every process started afterwards."""
    if not program or len(program) % 8:
        raise OSError(22, "a seccomp program is a whole number of 8-byte instructions")
    buffer = ctypes.create_string_buffer(program, len(program))
    fprog = _SockFprog(len(program) // 8, ctypes.cast(buffer, ctypes.c_void_p))
    _check(_libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.cast(ctypes.pointer(fprog), ctypes.c_void_p), 0, 0),
           "prctl(PR_SET_SECCOMP)")


def close_all_but(keep: set[int]) -> None:
    """Close every descriptor of this process but `keep`."""
    try:
        fds = [int(name) for name in os.listdir("/proc/self/fd")]
    except OSError:
        fds = list(range(3, 1024))
    for fd in fds:
        if fd not in keep:
            with contextlib.suppress(OSError):
                os.close(fd)
