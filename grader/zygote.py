"""The template: `python -m grader.zygote SOCKET_FD FILTER_FD FONTS WARM,IMPORTS [KEEP]` runs inside one
bubblewrap sandbox (grader/forkserver.py starts it) and forks one child per submission. With KEEP (seconds:
`grade FILE --keep-warm`) it outlives the grader that started it: SOCKET_FD listens, and each
grader that connects is served by a fork of the template (`keep`).

It imports the interpreter machinery once (IPython's shell, the probe and the codec, and the
assignment's warm imports: torch with one thread, numpy; and, where the assignment exports models,
a first export of a model of its own) and never runs student code. Per
request (one message on its socket: a JSON head and, by SCM_RIGHTS, the child's stdin, stdout,
stderr, its scratch folder as a detached mount (open_tree) and one end of a control socket) it
forks a child into a new pid namespace:

    template ─fork─► B: pid 1 of its own namespaces (trusted, root). Says "joined?" on the
                     control socket (the grader learns its pid from the socket's credentials and
                     puts it into the submission's control group), waits for "g", then: its own
                     mount, network (loopback up), ipc, uts and cgroup namespaces, a fresh /proc,
                     the scratch folder bound where the grader sees it (and its tmp/ as /tmp), a
                     fresh /dev/shm and /dev/pts (the template's /dev is every child's: terminals
                     opened there would be shared). It reaps orphans, and when C ends sends C's wait
                     status on the control socket and exits (the kernel then kills what is left).
      B ─fork─► C:  rlimits, the student's user, no_new_privs, the system-call filter, the clean
                     environment, only its three standard descriptors; then exec of the command,
                     or, for `-m grader.child`, grader/child.py's supervisor in this very process,
                     which forks D: the notebook's "kernel" (cells in IPython's shell, the probe).

A dead template is started again by the grader; its children die with it (PR_SET_PDEATHSIG of each
first process), and the runner retries their steps as after any crash.
"""

from __future__ import annotations

import array
import contextlib
import gc
import json
import os
import select
import signal
import socket
import struct
import sys
import time
from typing import Any

from grader import fontlist, isolate

REQUEST_BYTES = 1 << 20
FDS = ("stdin", "stdout", "stderr", "scratch", "control")
STATUS = struct.Struct("=i")
TMPFS_BYTES = 64 * 2**20
WARM = ("IPython.core.interactiveshell", "grader.probe", "grader.codec", "grader.shell", "grader.child",
        "grader.sandbox")  # and the assignment's own warm imports (torch, numpy, ...)


def _warm_up(extra: list[str]) -> None:
    """Import what every child needs; start no thread pool (a fork keeps only the calling thread).
    The collector is off meanwhile (imports make millions of objects and few cycles: it would walk
    them again and again, a sixth of the time), and what was made is frozen, not collected: no child
    ever walks or writes those pages, so they stay shared however much of it is garbage. With no
    warm imports at all nothing is imported: that is the fork server's self-test, whose child execs
    a command (an assignment without WARM_IMPORTS gets such a template too; its children import)."""
    if not extra:
        return
    gc.disable()
    for name in (*extra, *WARM):
        __import__(name)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(1)
        torch.set_num_interop_threads(1)
    if "torch._dynamo" in extra:  # the assignment exports models: every child's first export is warm
        from grader.probe import warm_export

        warm_export()
    from grader.shell import Shell

    Shell()  # the shell itself: each child takes it as it is (grader/shell.py's Shell() finds it)
    gc.freeze()
    gc.enable()


def _take_font_list(handed: str) -> None:
    """matplotlib's font list as the grader built it (grader/fontlist.py), handed over as FD:NAME:
    copied where matplotlib looks for it, so that its fonts are not listed again here; the
    descriptor closed before any child is forked."""
    if handed == "-":
        return
    fd, _, name = handed.partition(":")
    with contextlib.suppress(OSError, ValueError, KeyError):  # without it, matplotlib lists the fonts
        with open(int(fd), "rb") as handed_over:
            data = handed_over.read()
        if fontlist.NAME.match(name):
            with open(os.path.join(os.environ["MPLCONFIGDIR"], name), "wb") as copy:
                copy.write(data)


def _receive(sock: socket.socket) -> tuple[dict[str, Any] | None, list[int]]:
    fds = array.array("i")
    data, ancillary, _, _ = sock.recvmsg(REQUEST_BYTES, socket.CMSG_SPACE(len(FDS) * fds.itemsize))
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(payload[:len(payload) - len(payload) % fds.itemsize])
    if not data:
        return None, list(fds)
    return json.loads(data), list(fds)


def _reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def serve(sock: socket.socket, program: bytes | None) -> None:
    """Fork a child per request until the grader closes the socket."""
    own_pid_ns = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
    sock.sendall(b"R")
    while True:
        _reap()
        if not select.select([sock], [], [], 1.0)[0]:
            continue
        request, fds = _receive(sock)
        if request is None or len(fds) != len(FDS):
            for fd in fds:
                os.close(fd)
            if request is None:
                return
            continue
        isolate.unshare(isolate.CLONE_NEWPID)
        pid = os.fork()
        if pid == 0:
            code = 127
            try:
                _pid_one(request, dict(zip(FDS, fds, strict=True)), program)
            except BaseException as error:  # noqa: BLE001  (said on the child's stderr)
                with open(2, "w", closefd=False) as err:
                    print(f"grader.zygote: the sandbox could not be made: {error!r}", file=err)
            os._exit(code)
        isolate.setns(own_pid_ns, isolate.CLONE_NEWPID)  # the next request's child: a new namespace again
        for fd in fds:
            os.close(fd)


def _mount_point(path: str) -> None:
    """The folders of `path`, made in the submission's tmp/ (now /tmp), none of them through a link
    (the folder outlives a kernel that its runner restarts: a student may have left one there)."""
    current = "/tmp"
    for part in path.removeprefix("/tmp/").split("/"):
        current += "/" + part
        with contextlib.suppress(FileExistsError):
            os.mkdir(current, 0o755)
        if os.path.islink(current) or not os.path.isdir(current):
            raise OSError(f"{current} is not a folder: a link or a file in the submission's tmp folder")


def _mount_scratch(scratch: str, fd: int) -> None:
    """The scratch folder at `scratch`, its tmp/ as /tmp (as bwrap binds them), nothing else of
    the grader's temporary folder, but the Python environment where it lives under /tmp (a checkout
    in /tmp/...: read-only, on top, as bwrap binds it); a fresh /dev/shm and /dev/pts."""
    from grader.sandbox import python_roots

    python = {path: isolate.open_tree(path) for path in python_roots() if path.startswith("/tmp/")}
    isolate.tmpfs("/tmp", TMPFS_BYTES)
    os.mkdir("/tmp/.scratch", 0o700)
    isolate.attach(fd, "/tmp/.scratch")
    root = os.open("/tmp/.scratch", os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW)
    isolate.bind("/tmp/.scratch/tmp", "/tmp")
    for path, tree in python.items():
        _mount_point(path)
        isolate.attach(tree, path)
        os.close(tree)
    parent = os.path.dirname(scratch)
    if not (parent + "/").startswith("/tmp/"):
        isolate.tmpfs(parent, TMPFS_BYTES)
    os.makedirs(scratch, 0o755, exist_ok=True)
    isolate.bind(f"/proc/self/fd/{root}", scratch)
    os.close(root)
    isolate.tmpfs("/dev/shm", TMPFS_BYTES, 0o755)  # as bwrap's: the student's user cannot write there
    isolate.fresh_devpts()  # as bwrap's: another child's terminals are not in this one's /dev/pts


def _pid_one(request: dict[str, Any], fds: dict[str, int], program: bytes | None) -> None:
    """B: the first process of the child's pid namespace (see the module's docstring)."""
    isolate.close_all_but(set(fds.values()))
    for name, target in (("stdin", 0), ("stdout", 1), ("stderr", 2)):  # a failure below is said on its stderr
        source = fds.pop(name)
        os.dup2(source, target)
        os.close(source)
    isolate.die_with_parent(signal.SIGKILL)  # a template that dies takes its children's namespaces along
    os.setsid()
    control = socket.socket(fileno=fds["control"])
    control.sendall(b"j")
    if control.recv(1) != b"g":
        os._exit(1)
    isolate.unshare(isolate.CLONE_NEWNS | isolate.CLONE_NEWNET | isolate.CLONE_NEWIPC | isolate.CLONE_NEWUTS
                    | isolate.CLONE_NEWCGROUP)
    isolate.private_mounts()
    isolate.fresh_proc()
    isolate.loopback_up()
    os.umask(0o022)
    _mount_scratch(request["scratch"], fds["scratch"])
    os.close(fds["scratch"])
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    child = os.fork()
    if child == 0:
        control.close()
        _child(request, program)
    for fd in (0, 1, 2):
        os.close(fd)
    while True:
        pid, status = os.waitpid(-1, 0)
        if pid == child:
            break
    try:
        control.sendall(STATUS.pack(status))
    finally:
        os._exit(0)


def _child(request: dict[str, Any], program: bytes | None) -> None:
    """C: the student's side from here on. Never returns."""
    from grader.limits import Limits
    from grader.sandbox import _apply_limits

    code = 127
    try:
        _apply_limits(Limits(**request["limits"]), int(request.get("processes") or 0))
        if request.get("uid") is not None:
            isolate.become(int(request["uid"]))
            isolate.dumpable()
        isolate.no_new_privs()
        if program is not None:
            isolate.install_filter(program)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        argv = request["argv"]
        if request.get("in_process"):
            from grader import child

            code = child.supervise(request["scratch"])
        else:
            os.execve(argv[0], argv, request["env"])
    except BaseException as error:  # noqa: BLE001
        with contextlib.suppress(BaseException):
            print(f"grader.zygote: {error!r}", file=sys.stderr, flush=True)
    os._exit(code)


def keep(listener: socket.socket, program: bytes | None, idle: float) -> None:
    """A kept template: each grader that connects (root only: it can reach the folder the socket
    is in) is served by a copy of this template (a fork, warm as it is), until no grader has been
    connected for `idle` seconds (the last grader's word: its first message)."""
    servers: set[int] = set()
    quiet_since = time.monotonic()
    while True:
        for pid in list(servers):
            with contextlib.suppress(ChildProcessError):
                if not os.waitpid(pid, os.WNOHANG)[0]:
                    continue
            servers.discard(pid)
        if servers:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since > idle:
            return
        if not select.select([listener], [], [], 1.0)[0]:
            continue
        try:
            conn, _ = listener.accept()
        except OSError:  # the grader gave up connecting
            continue
        told = _seconds(conn) if _peer_uid(conn) == os.geteuid() else None
        if told is None:
            conn.close()
            continue
        idle = told
        pid = os.fork()
        if pid == 0:
            try:
                listener.close()
                serve(conn, program)
            finally:
                os._exit(0)  # never back into this loop: one template listens
        conn.close()
        servers.add(pid)


def _peer_uid(conn: socket.socket) -> int | None:
    try:
        return isolate.peer(conn)[1]
    except OSError:
        return None


def _seconds(conn: socket.socket) -> float | None:
    """The seconds a connecting grader asks this template to stay after it, or None."""
    if not select.select([conn], [], [], 5.0)[0]:
        return None
    try:
        value = float(conn.recv(32).decode("ascii"))
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    return value if 0 < value < 1e7 else None


def main(argv: list[str]) -> int:
    """SOCKET_FD FILTER_FD FONTS WARM [KEEP]: serve the grader on the socket, or, with KEEP
    (seconds), listen on it for graders (`keep`). FILTER_FD and FONTS (FD:NAME, grader/fontlist.py)
    may be "-"."""
    sock = socket.socket(fileno=int(argv[1]))
    program = None
    if argv[2] != "-":
        with open(int(argv[2]), "rb") as file:
            program = file.read()
    _take_font_list(argv[3])
    _warm_up([name for name in argv[4].split(",") if name])
    if len(argv) > 5:
        keep(sock, program, float(argv[5]))
    else:
        serve(sock, program)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
