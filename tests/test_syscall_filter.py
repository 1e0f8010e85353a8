"""The seccomp filter for real: bubblewrap installs it, the kernel applies it. Each refused call
fails with its errno; ordinary work (processes, threads, torch, a Jupyter kernel) still runs."""

from __future__ import annotations

import errno
import functools
import json
import os
import platform
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from grader import syscall_filter
from grader.sandbox import python_roots
from grader.syscall_filter import availability, bwrap_seccomp_args, compiled_filter, filter_file

BWRAP = shutil.which("bwrap")
X86_64 = platform.machine() == "x86_64"
ENV = {
    "PATH": os.path.dirname(sys.executable) + ":/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": "/tmp",
    "PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1", "JUPYTER_RUNTIME_DIR": "/tmp/runtime",
    "JUPYTER_PLATFORM_DIRS": "1", "IPYTHONDIR": "/tmp/ipython", "MPLCONFIGDIR": "/tmp", "MPLBACKEND": "Agg",
}

_KEPT = sorted({*python_roots(), str(Path(__file__).resolve().parent.parent)})  # they may live under /tmp
_BASE = [str(BWRAP), "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp",
         *(arg for path in _KEPT for arg in ("--ro-bind", path, path)), "--unshare-pid", "--die-with-parent"]


@functools.cache
def _bwrap_problem() -> str:
    if BWRAP is None:
        return "the bwrap command is not installed"
    try:
        done = subprocess.run([BWRAP, *_BASE[1:], "--", "true"], capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"bwrap did not start: {error}"
    return f"bwrap cannot run here: {done.stderr.decode(errors='replace').strip()}" if done.returncode else ""


needs_filter = pytest.mark.skipif(bool(availability()), reason=f"no seccomp filter here: {availability()}")
needs_bwrap = pytest.mark.skipif(bool(_bwrap_problem()), reason=_bwrap_problem() or "bwrap runs")
needs_x86_64 = pytest.mark.skipif(not X86_64, reason="the scripts use x86_64 system-call numbers")


def _run(script: str, timeout: float, seccomp: bool = True) -> dict[str, object]:
    """Run `script` in bwrap (with the filter unless told not to); the JSON of its last line."""
    fd = filter_file() if seccomp else -1
    command = [*_BASE, *(bwrap_seccomp_args(fd) if seccomp else []), "--", sys.executable, "-c", script]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=ENV,
                              pass_fds=(fd,) if seccomp else ())
    finally:
        if seccomp:
            os.close(fd)
    lines = done.stdout.strip().splitlines()
    assert done.returncode == 0 and lines, f"exit {done.returncode}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    result: dict[str, object] = json.loads(lines[-1])
    return result


CALLS = textwrap.dedent("""
    import ctypes, json, os
    libc = ctypes.CDLL(None, use_errno=True)

    def call(number, *args):
        ctypes.set_errno(0)
        result = libc.syscall(ctypes.c_long(number), *(ctypes.c_long(a) for a in args))
        if result == 0 and number == 56:  # a clone that was not refused: the child leaves at once
            os._exit(0)
        return ctypes.get_errno() if result == -1 else f"ok:{result}"

    print(json.dumps({name: call(*numbers) for name, numbers in CALLS.items()}))
""")

REFUSED = {  # x86_64 numbers and harmless arguments (nothing happens even where a call is allowed)
    "unshare(CLONE_NEWUSER)": (272, 0x1000_0000), "unshare(0)": (272, 0), "setns": (308, -1, 0),
    "clone(CLONE_NEWUSER|SIGCHLD)": (56, 0x1000_0000 | 17, 0, 0, 0, 0),
    "clone(CLONE_NEWNET|SIGCHLD)": (56, 0x4000_0000 | 17, 0, 0, 0, 0),
    "clone(CLONE_NEWNS|CLONE_NEWPID|SIGCHLD)": (56, 0x2002_0000 | 17, 0, 0, 0, 0),
    "mount": (165, 0, 0, 0, 0, 0), "umount2": (166, 0, 0), "pivot_root": (155, 0, 0), "chroot": (161, 0),
    "move_mount": (429, -1, 0, -1, 0, 0), "open_tree": (428, -1, 0, 0), "fsopen": (430, 0, 0),
    "fsconfig": (431, -1, 0, 0, 0, 0), "fsmount": (432, -1, 0, 0), "fspick": (433, -1, 0, 0),
    "mount_setattr": (442, -1, 0, 0, 0, 0),
    "ptrace(PTRACE_ATTACH, 1)": (101, 16, 1, 0, 0), "ptrace(PTRACE_TRACEME)": (101, 0, 0, 0, 0),
    "process_vm_readv": (310, 1, 0, 0, 0, 0, 0), "process_vm_writev": (311, 1, 0, 0, 0, 0, 0),
    "kcmp": (312, 1, 1, 0, 0, 0), "pidfd_getfd": (438, -1, 0, 0),
    "keyctl": (250, 0, 0, 0, 0, 0), "add_key": (248, 0, 0, 0, 0, 0), "request_key": (249, 0, 0, 0, 0),
    "bpf": (321, 0, 0, 0), "perf_event_open": (298, 0, 0, -1, -1, 0), "userfaultfd": (323, 0),
    "io_uring_setup": (425, 1, 0), "io_uring_enter": (426, -1, 0, 0, 0, 0, 0), "io_uring_register": (427, -1, 0, 0, 0),
    "kexec_load": (246, 0, 0, 0, 0), "kexec_file_load": (320, -1, -1, 0, 0, 0), "init_module": (175, 0, 0, 0),
    "finit_module": (313, -1, 0, 0), "delete_module": (176, 0, 0), "reboot": (169, 0, 0, 0, 0),
    "swapon": (167, 0, 0), "swapoff": (168, 0), "acct": (163, 0), "settimeofday": (164, 0, 0),
    "clock_settime": (227, 0, 0), "adjtimex": (159, 0), "clock_adjtime": (305, 0, 0), "syslog": (103, 10, 0, 0),
    "open_by_handle_at": (304, -1, 0, 0), "name_to_handle_at": (303, -100, 0, 0, 0, 0),
    "quotactl": (179, 0, 0, 0, 0), "quotactl_fd": (443, -1, 0, 0, 0), "lookup_dcookie": (212, 0, 0, 0),
    "vhangup": (153,), "iopl": (172, 0), "ioperm": (173, 0, 0, 0), "modify_ldt": (154, 0, 0, 0),
    "uselib": (134, 0), "nfsservctl": (180, 0, 0, 0), "fanotify_init": (300, 0, 0),
    "personality(ADDR_NO_RANDOMIZE)": (135, 0x0004_0000), "personality(PER_LINUX32)": (135, 0x8),
    "personality(READ_IMPLIES_EXEC, high bits set)": (135, 0x1_0040_0000),
    "clone3": (435, 0, 0),
}
ALLOWED = {  # still answered by the kernel under the filter
    "personality(query)": (135, 0xFFFF_FFFF), "personality(PER_LINUX)": (135, 0),
    "prctl(PR_GET_SECCOMP)": (157, 21), "seccomp(GET_ACTION_AVAIL) (no pointer)": (317, 2, 0, 0),
    "getpid": (39,),
}


@needs_filter
@needs_bwrap
@needs_x86_64
def test_each_refused_call_fails_with_its_errno_and_the_process_goes_on() -> None:
    answers = _run(f"CALLS = {REFUSED | ALLOWED!r}\n{CALLS}", timeout=60)
    expected = {name: errno.ENOSYS if name == "clone3" else errno.EPERM for name in REFUSED}
    wrong = {name: answers[name] for name in REFUSED if answers[name] != expected[name]}
    assert not wrong, f"not refused as they should be (name: errno or 'ok'): {wrong}"
    answered = ("personality(query)", "personality(PER_LINUX)", "getpid")
    assert all(str(answers[name]).startswith("ok:") for name in answered), answers
    assert answers["prctl(PR_GET_SECCOMP)"] == "ok:2", answers  # SECCOMP_MODE_FILTER
    assert answers["seccomp(GET_ACTION_AVAIL) (no pointer)"] == errno.EFAULT  # reached the kernel


@needs_filter
@needs_bwrap
@needs_x86_64
def test_without_the_filter_the_kernel_answers_otherwise() -> None:
    """The control: the same bwrap without --seccomp; the refusals above are the filter's."""
    probes = {name: REFUSED[name] for name in ("add_key", "personality(ADDR_NO_RANDOMIZE)", "clock_settime")}
    script = f"CALLS = {probes!r}\n{CALLS}"
    assert _run(script, timeout=60, seccomp=False) == {"add_key": errno.EFAULT, "clock_settime": errno.EFAULT,
                                                       "personality(ADDR_NO_RANDOMIZE)": "ok:0"}
    assert set(_run(script, timeout=60).values()) == {errno.EPERM}


INT80 = textwrap.dedent("""
    import ctypes, json, mmap, struct
    def int80(number, arg):
        # push rbx; mov eax, number; mov ebx, arg; xor ecx, edx, esi, edi; int 0x80; pop rbx; ret
        code = (b"\\x53\\xb8" + struct.pack("<I", number) + b"\\xbb" + struct.pack("<I", arg)
                + b"\\x31\\xc9\\x31\\xd2\\x31\\xf6\\x31\\xff\\xcd\\x80\\x5b\\xc3")
        memory = mmap.mmap(-1, mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
        memory.write(code)
        address = ctypes.addressof(ctypes.c_char.from_buffer(memory))
        result = ctypes.CFUNCTYPE(ctypes.c_int)(address)()
        return result
    libc = ctypes.CDLL(None, use_errno=True)
    ctypes.set_errno(0)
    x32 = libc.syscall(ctypes.c_long(0x40000000 | 248), *(ctypes.c_long(0) for _ in range(5)))
    print(json.dumps({"getpid": int80(20, 0), "add_key": int80(286, 0), "mount": int80(21, 0),
                      "unshare(CLONE_NEWUSER)": int80(310, 0x10000000), "x32 add_key": ctypes.get_errno()}))
""")


@needs_filter
@needs_bwrap
@needs_x86_64
def test_the_32_bit_abi_is_filtered_too() -> None:
    """`int 0x80` reaches the kernel's i386 table: the filter holds rules for it; x32 calls fail."""
    control = _run(INT80, timeout=60, seccomp=False)
    if control["getpid"] == -errno.ENOSYS:
        pytest.skip("this kernel has no 32-bit x86 system calls (IA32 emulation off)")
    assert control["add_key"] == -errno.EFAULT
    answers = _run(INT80, timeout=60)
    assert isinstance(answers["getpid"], int) and answers["getpid"] > 0
    assert answers["add_key"] == answers["mount"] == answers["unshare(CLONE_NEWUSER)"] == -errno.EPERM, answers
    assert answers["x32 add_key"] == errno.ENOSYS, answers  # a foreign ABI: refused whatever the call


PROCESSES = textwrap.dedent("""
    import json, math, multiprocessing, os, subprocess, threading

    if __name__ == "__main__":
        pid = os.fork()
        if pid == 0:
            os._exit(7)
        forked = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
        results = []
        threads = [threading.Thread(target=results.append, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        true = subprocess.run(["true"]).returncode
        echo = subprocess.run(["sh", "-c", "echo $((6 * 7))"], capture_output=True, text=True).stdout.strip()
        pools = {}
        for method in ("fork", "spawn"):
            with multiprocessing.get_context(method).Pool(2) as pool:
                pools[method] = pool.map_async(math.factorial, range(6)).get(timeout=60)
        print(json.dumps({"fork": forked, "threads": sorted(results), "true": true, "echo": echo, "pools": pools}))
""")


@needs_filter
@needs_bwrap
def test_processes_threads_and_pools_still_run() -> None:
    answers = _run(PROCESSES, timeout=180)
    factorials = [1, 1, 2, 6, 24, 120]  # a function of the standard library: spawn's workers import it
    assert answers == {"fork": 7, "threads": list(range(8)), "true": 0, "echo": "42",
                       "pools": {"fork": factorials, "spawn": factorials}}


TORCH = textwrap.dedent("""
    import json
    import torch
    torch.manual_seed(0)
    torch.set_num_threads(2)
    x = torch.randn(64, 3)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5]]) + 0.1
    model = torch.nn.Linear(3, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    losses = []
    for _ in range(5):
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    print(json.dumps({"losses": losses}))
""")


@needs_filter
@needs_bwrap
def test_torch_trains_under_the_filter() -> None:
    pytest.importorskip("torch")
    losses = _run(TORCH, timeout=300)["losses"]
    assert isinstance(losses, list) and len(losses) == 5 and losses[-1] < losses[0]


JUPYTER = textwrap.dedent("""
    import json
    from jupyter_client.manager import start_new_kernel
    manager, client = start_new_kernel(kernel_name="python3", startup_timeout=120)
    outputs = []
    try:
        reply = client.execute_interactive("import os; print(6 * 7, os.getpid() > 0)", timeout=60,
                                           output_hook=outputs.append)
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=False)
    text = "".join(m["content"].get("text", "") for m in outputs if m["msg_type"] == "stream")
    print(json.dumps({"status": reply["content"]["status"], "text": text, "alive": manager.is_alive()}))
""")


@needs_filter
@needs_bwrap
def test_a_jupyter_kernel_starts_runs_and_shuts_down_under_the_filter() -> None:
    pytest.importorskip("jupyter_client")
    pytest.importorskip("ipykernel")
    answers = _run(JUPYTER, timeout=240)
    assert answers == {"status": "ok", "text": "42 True\n", "alive": False}


@needs_filter
def test_filter_file_gives_a_fresh_sealed_descriptor_at_the_start() -> None:
    program = compiled_filter()
    assert program and len(program) % 8 == 0
    first, second = filter_file(), filter_file()
    try:
        assert first != second
        for fd in (first, second):
            assert os.lseek(fd, 0, os.SEEK_CUR) == 0
            assert not os.get_inheritable(fd)  # only pass_fds hands it to bwrap
            assert os.read(fd, len(program) + 1) == program
        with pytest.raises(PermissionError):
            os.write(first, b"\0" * 8)  # sealed: nobody changes the program before bwrap reads it
    finally:
        os.close(first)
        os.close(second)
    assert bwrap_seccomp_args(first) == ["--seccomp", str(first)]


@needs_filter
def test_the_arm64_filter_builds_skipping_names_that_abi_lacks() -> None:
    import pyseccomp

    arm64 = syscall_filter.build_filter((pyseccomp.Arch.AARCH64, pyseccomp.Arch.ARM))
    assert arm64 and len(arm64) % 8 == 0 and arm64 != compiled_filter()


def test_the_grader_imports_without_pyseccomp() -> None:
    script = ("import sys; sys.modules['pyseccomp'] = None\n"
              "import grader, grader.syscall_filter as f; print(f.availability())")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                          cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "pyseccomp is not installed (pip install pyseccomp)"


def test_personality_rules_refuse_every_value_but_the_default_and_the_query() -> None:
    masks = [rule.when for rule in syscall_filter.rules() if rule.call == "personality"]

    def refused(value: int) -> bool:
        return any(when is not None and value & when[0] == when[1] for when in masks)

    samples = [0, 0xFFFF_FFFF, 0x8, 0x0004_0000, 0x0040_0000, 0x8000_0000, 0x7FFF_FFFF, 0xFFFF_FFFE, 1 << 31 | 1]
    samples += [(value * 2_654_435_761) & 0xFFFF_FFFF for value in range(1, 5000)]
    assert [value for value in samples if refused(value) != (value not in (0, 0xFFFF_FFFF))] == []


def test_denied_names_are_unique_and_clone3_fails_with_enosys() -> None:
    assert len(set(syscall_filter.DENIED)) == len(syscall_filter.DENIED)
    assert not set(syscall_filter.DENIED) & set(syscall_filter.RESTRICTED)
    errnos = {rule.call: rule.errno for rule in syscall_filter.rules()}
    assert errnos.pop("clone3") == errno.ENOSYS and set(errnos.values()) == {errno.EPERM}
