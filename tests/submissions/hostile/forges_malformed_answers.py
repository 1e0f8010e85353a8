"""Hostile: answers, in protocol order, that used to take the grader down.

A cell replaces the probe's `grader.protocol.event_line` (the student's code shares the probe's
process) so that the end events of some public steps carry, instead of the real answer:
a value nested 100,000 deep (RecursionError), malformed codec tags (TypeError), a tensor file
that is a pickle (torch.save of an object of its own: the grader unpickles nothing), a tensor
file whose bool elements are bytes other than 0 and 1 (a bool that is neither True nor False), one
whose first line promises more elements than follow, an error message holding a lone surrogate
(UnicodeEncodeError when written), and one 16 MiB tensor file referenced 160 times (2.5 GiB if
each reference were loaded). Each becomes an "its answer could not be read back" error on its
own step; the grader reads each tensor file once, within its caps, and finishes every output.
Bounded: one 16 MiB file in the scratch folder.
"""
# %%
import json
import math
import os

import grader.protocol
import torch
from grader.codec import tensor_bytes

OUT = os.path.join(os.getcwd(), "..", "out")


class Refused:
    pass


torch.save(Refused(), os.path.join(OUT, "refused.tensor"))
with open(os.path.join(OUT, "big.tensor"), "wb") as big:
    big.write(tensor_bytes(torch.zeros(4 * 2**20)))  # 16 MiB
with open(os.path.join(OUT, "odd-bools.tensor"), "wb") as odd:
    odd.write(b"coursegrade-tensor bool 3\n\x01\x02\xff")
with open(os.path.join(OUT, "short.tensor"), "wb") as short:
    short.write(tensor_bytes(torch.ones(100))[:-4])

DEEP = "[" * 100_000 + "]" * 100_000
FORGED = {  # step: the raw JSON of its "value", or a whole event
    "conv_params/one-filter": DEEP,
    "conv_params/vgg-first-layer": json.dumps({"$tuple": 5}),
    "conv_params/no-bias": json.dumps({"$tensor": "refused.tensor"}),
    "pool_output_size/slides-2x2": json.dumps([{"$tensor": "big.tensor"}] * 160),
    "fully_connected_params/slides": json.dumps({"$float": ["nan"]}),
    "locally_connected_params/slides": json.dumps({"$dict": [1, 2]}),
    "shared_weights_params/slides-one-filter": json.dumps({"$tensor": "odd-bools.tensor"}),
    "shared_weights_params/slides-ten-filters": json.dumps({"$tensor": "short.tensor"}),
}
_real_event_line = grader.protocol.event_line


def _forged_event_line(kind, **fields):
    step = fields.get("step")
    if kind == "end" and step in FORGED:
        return f'{{"event": "end", "step": {json.dumps(step)}, "status": "returned", "value": {FORGED[step]}}}\n'
    if kind == "end" and step == "conv_output_size/lenet":
        fields = {**fields, "status": "raised", "error_type": "ValueError\ud800", "error_message": "lone \udc80"}
    return _real_event_line(kind, **fields)


grader.protocol.event_line = _forged_event_line


# %%
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
