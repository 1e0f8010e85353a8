"""A seccomp filter for bubblewrap (`bwrap --seccomp FD`): the system calls student code never
needs fail, everything else is allowed.

    DENIED          refused whatever the arguments: EPERM (clone3: ENOSYS, so glibc falls back
                    to clone, whose flags the filter can read)
    RESTRICTED      refused for some arguments only: clone with any CLONE_NEW* flag, personality
                    with anything but the default (PER_LINUX) or the query (0xffffffff), socket
                    with any address family but AF_UNIX, AF_INET, AF_INET6 and AF_NETLINK (the
                    ones network namespaces hold: AF_VSOCK, for one, ignores them, and reaches the
                    host of a virtual machine and every other sandbox on it)

A refused call returns an error; the process is not killed, so a library that probes a call
keeps working. The filter covers every ABI the kernel offers on the machine: on x86_64 the
32-bit one too (`int 0x80`), and x32 system calls fail with ENOSYS; on arm64 the 32-bit ARM
one. Names libseccomp does not know for an ABI are skipped. On 32-bit x86, socket is reached
through the socketcall multiplexer too, whose arguments are in memory where no filter reads them:
libseccomp files socket's rules under both, so there socketcall(SYS_SOCKET) is refused whatever
the family.

The filter is built with libseccomp through pyseccomp (imported only when a filter is built,
so the grader imports without them); `availability()` says why it cannot be built.

    fd = filter_file()
    command = [bwrap, *bwrap_seccomp_args(fd), ...]
    subprocess.Popen(command, pass_fds=(fd,), ...)
    os.close(fd)
"""

from __future__ import annotations

import errno
import fcntl
import functools
import os
import tempfile
from dataclasses import dataclass
from typing import Any

from .errors import SandboxError

DENIED: tuple[str, ...] = (
    # new namespaces, mounts, another root
    "unshare", "setns", "mount", "umount", "umount2", "pivot_root", "chroot", "move_mount", "open_tree",
    "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr", "clone3",
    # other processes' memory and descriptors
    "ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd",
    # the kernel's keyrings, BPF, performance counters, page-fault handling, io_uring
    "keyctl", "add_key", "request_key", "bpf", "perf_event_open", "userfaultfd",
    "io_uring_setup", "io_uring_enter", "io_uring_register",
    # the machine: kernels, modules, swap, accounting, clocks, the kernel log
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module", "reboot",
    "swapon", "swapoff", "acct", "settimeofday", "stime", "clock_settime", "clock_settime64",
    "adjtimex", "clock_adjtime", "clock_adjtime64", "syslog",
    # file handles, quotas, and old or hardware-level calls
    "open_by_handle_at", "name_to_handle_at", "quotactl", "quotactl_fd", "lookup_dcookie", "vhangup",
    "iopl", "ioperm", "modify_ldt", "uselib", "nfsservctl", "fanotify_init",
)
RESTRICTED: tuple[str, ...] = ("clone", "personality", "socket")

ERRNO_OF = {"clone3": errno.ENOSYS}  # every other refused call: EPERM
CLONE_NEW_FLAGS = {  # CLONE_NEWTIME (0x80) is not a clone() flag: those bits are the exit signal
    "CLONE_NEWNS": 0x0002_0000, "CLONE_NEWCGROUP": 0x0200_0000, "CLONE_NEWUTS": 0x0400_0000,
    "CLONE_NEWIPC": 0x0800_0000, "CLONE_NEWUSER": 0x1000_0000, "CLONE_NEWPID": 0x2000_0000,
    "CLONE_NEWNET": 0x4000_0000,
}
PERSONALITY_QUERY = 0xFFFF_FFFF  # personality(0xffffffff) reads the personality, changes nothing
SOCKET_FAMILIES = {"AF_UNIX": 1, "AF_INET": 2, "AF_INET6": 10, "AF_NETLINK": 16}  # the only ones socket() makes
MULTIPLEXED = ("socket",)  # on 32-bit x86: a pseudo number to libseccomp, which files it under socketcall too


@dataclass(frozen=True)
class Rule:
    """Refuse `call` with `errno`; only when (first argument & mask) == value, if `when` is given."""

    call: str
    errno: int = errno.EPERM
    when: tuple[int, int] | None = None


def _personality_rules() -> list[Rule]:
    """personality(p) is refused unless p's low 32 bits (all the kernel reads) are 0 or all ones.
    A 32-bit value that is neither has a bit set whose next bit (round the word) is clear, so one
    rule per bit says it with the single masked comparison libseccomp allows per argument."""
    pairs = ((1 << bit, 1 << (bit + 1) % 32) for bit in range(32))
    return [Rule("personality", when=(this | following, this)) for this, following in pairs]


def _outside(allowed: set[int], bits: int = 32) -> list[tuple[int, int]]:
    """(mask, value) pairs that match exactly the `bits`-bit values not in `allowed` (an int argument:
    the kernel reads its low 32 bits only): the largest aligned blocks of values holding none of them,
    one masked comparison each, found by halving each block that holds one."""
    full = (1 << bits) - 1
    pairs: list[tuple[int, int]] = []
    blocks = [(0, bits)]  # (first value, free low bits)
    while blocks:
        first, free = blocks.pop()
        inside = [value for value in allowed if first <= value < first + (1 << free)]
        if not inside:
            pairs.append((full & ~((1 << free) - 1), first))
        elif free:
            blocks += [(first + (1 << (free - 1)), free - 1), (first, free - 1)]
    return sorted(pairs, key=lambda pair: pair[1])


def _socket_rules() -> list[Rule]:
    """socket(family, ...) is refused for every family but SOCKET_FAMILIES."""
    return [Rule("socket", when=pair) for pair in _outside(set(SOCKET_FAMILIES.values()))]


def rules() -> tuple[Rule, ...]:
    """Every rule of the filter, in order."""
    plain = [Rule(call, ERRNO_OF.get(call, errno.EPERM)) for call in DENIED]
    clone = [Rule("clone", when=(flag, flag)) for flag in CLONE_NEW_FLAGS.values()]
    return (*plain, *clone, *_personality_rules(), *_socket_rules())


# -- pyseccomp (untyped) stays below this line ---------------------------------------------------

def _pyseccomp() -> Any:
    """The pyseccomp module; SandboxError saying why when it cannot be loaded."""
    try:
        import pyseccomp
    except ImportError as error:
        raise SandboxError("pyseccomp is not installed (pip install pyseccomp)") from error
    except (RuntimeError, OSError) as error:  # pyseccomp raises RuntimeError without libseccomp
        raise SandboxError(f"libseccomp cannot be loaded ({error}; Debian/Ubuntu: apt-get install libseccomp2)") \
            from error
    return pyseccomp


def native_arches() -> tuple[int, ...]:
    """The ABIs (libseccomp's architecture tokens) a process can call the kernel with here."""
    seccomp = _pyseccomp()
    native = int(seccomp.system_arch())
    extra = {seccomp.Arch.X86_64: (seccomp.Arch.X86,), seccomp.Arch.AARCH64: (seccomp.Arch.ARM,)}
    return (native, *extra.get(native, ()))


def _known(seccomp: Any, arch: int, call: str) -> bool:
    """Whether `call` is a system call of this ABI (socket on 32-bit x86: under socketcall too)."""
    if seccomp.resolve_syscall(arch, call) >= 0:
        return True
    return call in MULTIPLEXED and seccomp.resolve_syscall(arch, "socketcall") >= 0


def _add_rule(seccomp: Any, arch_filter: Any, arch: int, rule: Rule) -> None:
    if not _known(seccomp, arch, rule.call):  # not a system call of this ABI
        return
    args = [] if rule.when is None else [seccomp.Arg(0, seccomp.MASKED_EQ, *rule.when)]
    arch_filter.add_rule(seccomp.ERRNO(rule.errno), rule.call, *args)


def _arch_filter(seccomp: Any, arch: int) -> Any:
    """A filter for one ABI (foreign ABIs: ENOSYS) holding every rule its system calls allow."""
    arch_filter = seccomp.SyscallFilter(seccomp.ALLOW)
    arch_filter.set_attr(seccomp.Attr.ACT_BADARCH, seccomp.ERRNO(errno.ENOSYS))
    if arch != seccomp.system_arch():
        arch_filter.add_arch(arch)
        arch_filter.remove_arch(seccomp.Arch.NATIVE)
    for rule in rules():
        _add_rule(seccomp, arch_filter, arch, rule)
    return arch_filter


def _export(seccomp_filter: Any) -> bytes:
    with tempfile.TemporaryFile() as file:
        seccomp_filter.export_bpf(file)
        file.seek(0)
        program = file.read()
    if not program or len(program) % 8:  # struct sock_filter: 8 bytes an instruction
        raise SandboxError(f"libseccomp wrote a malformed filter ({len(program)} bytes)")
    return program


def build_filter(arches: tuple[int, ...]) -> bytes:
    """The classic-BPF program for these ABIs (the first is the filter's own)."""
    seccomp = _pyseccomp()
    try:
        whole = _arch_filter(seccomp, arches[0])
        for arch in arches[1:]:
            whole.merge(_arch_filter(seccomp, arch))
        return _export(whole)
    except (OSError, ValueError) as error:
        raise SandboxError(f"libseccomp could not build the system-call filter: {error}") from error


# -- typed API ------------------------------------------------------------------------------------

@functools.cache
def compiled_filter() -> bytes:
    """The filter for this machine, as `seccomp_export_bpf` writes it (built once)."""
    return build_filter(native_arches())


def availability() -> str:
    """"" when the filter can be built here, else why not."""
    try:
        compiled_filter()
    except SandboxError as error:
        return str(error)
    return ""


SEALS = fcntl.F_SEAL_SEAL | fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_WRITE


def _memory_file() -> tuple[int, bool]:
    """A fresh close-on-exec descriptor (a memfd, else an unlinked temporary file); can it be sealed."""
    try:
        return os.memfd_create("coursegrade-seccomp", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING), True
    except OSError:
        fd, path = tempfile.mkstemp(prefix="coursegrade-seccomp-")
        os.unlink(path)
        return fd, False


def filter_file() -> int:
    """A new descriptor holding the filter, at offset 0, for one bwrap start: pass it with
    `pass_fds` and `bwrap_seccomp_args`, close it after the start (bwrap reads and closes its copy)."""
    program = compiled_filter()
    fd, sealable = _memory_file()
    try:
        view = memoryview(program)
        while view:
            view = view[os.write(fd, view):]
        if sealable:  # nobody can change the program between here and bwrap's read
            fcntl.fcntl(fd, fcntl.F_ADD_SEALS, SEALS)
        os.lseek(fd, 0, os.SEEK_SET)
    except BaseException:
        os.close(fd)
        raise
    return fd


def bwrap_seccomp_args(fd: int) -> list[str]:
    """bwrap's options that install the filter held by `fd` (before the `--` of its command line)."""
    return ["--seccomp", str(fd)]
