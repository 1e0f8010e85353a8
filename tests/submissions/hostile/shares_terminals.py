"""Attack: open a pseudo-terminal and look, for a few seconds, for the ones other sandboxes open:
/dev/pts lists every terminal of its devpts instance, and a terminal of another submission's
(its owner's user, or one that happens to share it) can be opened and written to, or read. The
fork server's children see the template's /dev: unless each gets a devpts of its own (as bwrap's
--dev gives each sandbox), two submissions graded at once share one.

Under a sandbox, /dev/pts holds its own terminal only: nothing is found, full marks. Anything
found costs conv_params its marks. Bounded: one terminal, held six seconds at most.
"""
# %%
import os
import time

FOUND = []


def _others(mine):
    try:
        return sorted(name for name in os.listdir("/dev/pts") if name not in ("ptmx", mine))
    except OSError:
        return []


def _look_for_classmates(seconds=6.0):
    try:
        master, slave = os.openpty()
    except OSError:
        return None
    mine = os.path.basename(os.ttyname(slave))
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not FOUND:
        for name in _others(mine):
            FOUND.append("/dev/pts/" + name)
            try:
                os.close(os.open("/dev/pts/" + name, os.O_RDWR | os.O_NOCTTY))
                FOUND.append("opened /dev/pts/" + name)
            except OSError:
                pass
        time.sleep(0.2)
    return master, slave


HELD = _look_for_classmates()
print("found:", FOUND)


def _check(condition, message):
    if not condition:
        raise ValueError(message)


def conv_params(n, c_in, c_out, bias=True):
    if FOUND or _others(os.path.basename(os.ttyname(HELD[1])) if HELD else ""):
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
