"""Tamper: patch Python's builtins (isinstance, issubclass, all, any say yes), then answer 0 everywhere.

This wedges the notebook's own kernel; the grader stops it after the cells' time limit, and
every check still appears, without a mark. Under the fork server (`bwrap-fork`) the cells run in
IPython's shell, which the patch does not wedge: the probe's answers, made with the patched
isinstance, break the grading protocol instead, and every check still appears, without a mark.
"""
import builtins
import math

import torch

builtins.isinstance = lambda obj, kind: True
builtins.issubclass = lambda cls, kind: True
torch.equal = lambda *args, **kwargs: True
torch.isclose = lambda a, b, *args, **kwargs: torch.ones_like(torch.as_tensor(a), dtype=torch.bool)
torch.Tensor.__eq__ = lambda self, other: True
math.isclose = lambda *args, **kwargs: True
builtins.all = lambda iterable: True
builtins.any = lambda iterable: True


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
