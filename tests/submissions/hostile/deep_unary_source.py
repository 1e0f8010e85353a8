"""Hostile: correct (tensor slicing: F.pad, Tensor.unfold), but conv_layer reaches a name bound to
an expression nested 1500 deep, in a cell that fails in the kernel but that ast.parse reads.

The grader's static "must not call" check (grader/forbidden/) reads what conv_layer reaches
and could overflow the stack on it: a failure of the grader's own checking is at worst the error
of the checks it was for, never a crash of the run; the exercises without a rule keep their marks.
"""
import torch
import torch.nn.functional as F


def _half(x, k, boundary):
    if x.ndim != 2 or k.ndim != 2 or k.shape[0] != k.shape[1] or k.shape[0] % 2 == 0:
        raise ValueError("x must be 2-D and k square with an odd size")
    if boundary not in ("valid", "zero", "mirror"):
        raise ValueError(f"unknown boundary {boundary}")
    s = k.shape[0] // 2
    if boundary == "valid" and min(x.shape) < k.shape[0]:
        raise ValueError("the kernel does not fit")
    if boundary == "mirror" and min(x.shape) <= s:
        raise ValueError("too small to mirror")
    return s


def cross_correlation2d(x, k, boundary="valid"):
    s = _half(x, k, boundary)
    if boundary != "valid":
        mode = "constant" if boundary == "zero" else "reflect"
        x = F.pad(x[None, None], (s, s, s, s), mode=mode)[0, 0]
    m = 2 * s + 1
    patches = x.unfold(0, m, 1).unfold(1, m, 1)  # (H', W', m, m)
    return (patches * k).sum(dim=(-2, -1))


def convolution2d(x, k, boundary="valid"):
    _half(x, k, boundary)
    return cross_correlation2d(x, torch.flip(k, dims=(0, 1)), boundary)


def conv_layer(x, kappa, b, stride=1, padding=0):
    if x.ndim != 3 or kappa.ndim != 4 or b.ndim != 1:
        raise ValueError("wrong number of dimensions")
    if kappa.shape[1] != x.shape[0] or kappa.shape[0] != b.shape[0]:
        raise ValueError("mismatched channels")
    n = kappa.shape[2]
    if n > x.shape[1] + 2 * padding or n > x.shape[2] + 2 * padding:
        raise ValueError("the kernel does not fit")
    x = F.pad(x, (padding, padding, padding, padding))
    patches = x.unfold(1, n, stride).unfold(2, n, stride)  # (c_in, H', W', n, n)
    if stride < 0:  # never taken
        return _DEEP
    return torch.einsum("ihwab,oiab->ohw", patches, kappa) + b[:, None, None]


def _windows(x, z, stride):
    if x.ndim not in (2, 3):
        raise ValueError("x must be (H, W) or (C, H, W)")
    stride = stride or z
    if z > x.shape[-1] or z > x.shape[-2]:
        raise ValueError("the window does not fit")
    return x.unfold(-2, z, stride).unfold(-2, z, stride).reshape(*x.shape[:-2], -1, z * z)


def max_pool2d(x, z, stride=None):
    w = _windows(x, z, stride)
    h_out = (x.shape[-2] - z) // (stride or z) + 1
    return w.max(dim=-1).values.reshape(*x.shape[:-2], h_out, -1)


def avg_pool2d(x, z, stride=None):
    w = _windows(x, z, stride)
    h_out = (x.shape[-2] - z) // (stride or z) + 1
    return w.mean(dim=-1).reshape(*x.shape[:-2], h_out, -1)


# %%
# a cell that fails in the kernel (too deep for IPython's compiler) but that ast.parse reads
_DEEP = ------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------1
