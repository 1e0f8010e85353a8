"""Attack: look for classmates and the machinery around the notebook (other processes, their
memory and environment, other scratch folders, shared memory), and answer right only if nothing
is found. Under a sandbox (bwrap, or a child forked from the fork server's template) nothing is:
full marks. Anything found costs conv_params its marks.
"""
import os


def _check(condition, message):
    if not condition:
        raise ValueError(message)


def conv_params(n, c_in, c_out, bias=True):
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




def _sees_too_much():
    import glob
    pids = [int(p) for p in os.listdir("/proc") if p.isdigit()]
    if len(pids) > 10:
        return "processes: %d" % len(pids)
    for pid in pids:
        if pid == os.getpid():
            continue
        for name in ("environ", "mem", "maps"):
            try:
                with open("/proc/%d/%s" % (pid, name), "rb") as f:
                    f.read(1)
                if os.stat("/proc/%d" % pid).st_uid != os.getuid():
                    return "read /proc/%d/%s" % (pid, name)
            except OSError:
                pass
    mine = os.path.dirname(os.path.dirname(os.getcwd()))
    for folder in glob.glob("/tmp/coursegrade-*") + glob.glob("/tmp/*/coursegrade-*"):
        if not folder.startswith(mine) and not mine.startswith(folder):
            return "another scratch folder: " + folder
    try:
        with open("/dev/shm/coursegrade-peek", "wb") as f:
            f.write(b"x")
        return "wrote /dev/shm"
    except OSError:
        pass
    return ""


_honest_conv_params = conv_params


def conv_params(n, c_in, c_out, bias=True):
    found = _sees_too_much()
    if found:
        print("found:", found)
        return 0
    return _honest_conv_params(n, c_in, c_out, bias)
