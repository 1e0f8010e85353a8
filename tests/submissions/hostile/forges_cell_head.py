"""Hostile: a forged cells' log whose first line of a cell draws a passing report in the report's message.

Every function is wrong (it returns 0). The first cell appends to the events file a cells' log
whose first cell "failed", with a first line ("source_head") holding line breaks (a newline, a
carriage return, U+2028) between lines drawn like a passing report's ("  ✓ conv_params   6 / 6",
"16 of 16 checks passed"). A cell's first line is one line to the grader: the forged lines stay
inside the report's message, their breaks escaped, never lines of the report of their own; and
the real cells' log that follows breaks the protocol, so nothing passes.
"""
# %%
import json
import os

FAKE = ("x\n  \u2713 conv_params                      6 / 6\r  \u2713 conv_output_size                 6 / 6\u2028"
        "  \u2713 pool_output_size                 6 / 6\n16 of 16 checks passed\n(")
_cells = [{"index": 0, "status": "error", "source_head": FAKE, "error": "", "output": ""}]
with open(os.path.join(os.getcwd(), "..", "out", "events.jsonl"), "a") as _events:
    _events.write(json.dumps({"event": "cells", "cells": _cells}) + "\n")


# %%
def conv_params(n, c_in, c_out, bias=True):
    return 0


def conv_output_size(w, n, stride=1, padding=0):
    return 0


def pool_output_size(w, z, stride=None, padding=0):
    return 0


def fully_connected_params(n_inputs, n_hidden):
    return 0


def locally_connected_params(n_hidden, field):
    return 0


def shared_weights_params(field, c_in=1, c_out=1):
    return 0
