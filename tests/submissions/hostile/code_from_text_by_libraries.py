"""conv-pooling, torch's pooling reached through libraries that make objects or code from text:
torch.utils.benchmark.Timer running a string, tornado's import_object, a module written at run
time and imported, with a server thread started by a cell so that the runtime guard never
watches the calls. The rule's reader knows the modules a notebook may import and flags the rest:
the three ruled exercises lose their marks."""
# assignment: conv-pooling
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



# %%
import queue
import threading

_jobs, _answers = queue.Queue(), queue.Queue()


def _serve():
    while True:
        fn, args, kwargs = _jobs.get()
        try:
            _answers.put((True, fn(*args, **kwargs)))
        except Exception as error:
            _answers.put((False, error))


threading.Thread(target=_serve, daemon=True).start()


def _remote(fn, *args, **kwargs):
    _jobs.put((fn, args, kwargs))
    ok, value = _answers.get()
    if not ok:
        raise value
    return value


def _check_layer(x, kappa, b, padding):
    if x.ndim != 3 or kappa.ndim != 4 or b.ndim != 1:
        raise ValueError("wrong number of dimensions")
    if kappa.shape[1] != x.shape[0] or kappa.shape[0] != b.shape[0]:
        raise ValueError("mismatched channels")
    n = kappa.shape[2]
    if n > x.shape[1] + 2 * padding or n > x.shape[2] + 2 * padding:
        raise ValueError("the kernel does not fit")


def _check_pool(x, z):
    if x.ndim not in (2, 3):
        raise ValueError("x must be (H, W) or (C, H, W)")
    if z > x.shape[-1] or z > x.shape[-2]:
        raise ValueError("the window does not fit")

# %%
# conv_layer: a module written at run time, then imported
import pathlib

pathlib.Path("fastops.py").write_text('\nimport queue, threading\nimport torch.nn.functional as F\n_q, _a = queue.Queue(), queue.Queue()\ndef _serve():\n    while True:\n        args = _q.get()\n        try:\n            _a.put((True, F.conv2d(*args)))\n        except Exception as e:\n            _a.put((False, e))\nthreading.Thread(target=_serve, daemon=True).start()\ndef conv_layer(x, kappa, b, stride=1, padding=0):\n    if x.ndim != 3 or kappa.ndim != 4 or b.ndim != 1:\n        raise ValueError("wrong number of dimensions")\n    if kappa.shape[1] != x.shape[0] or kappa.shape[0] != b.shape[0]:\n        raise ValueError("mismatched channels")\n    _q.put((x[None], kappa, b, stride, padding))\n    ok, v = _a.get()\n    if not ok:\n        raise v\n    return v[0]\n')
from fastops import conv_layer

# %%
# max_pool2d: torch.utils.benchmark.Timer runs a code string
from torch.utils.benchmark import Timer

_R = {}
Timer("R[0] = F.max_pool2d", globals={"R": _R, "F": F}).timeit(1)
_MAX = _R[0]


def max_pool2d(x, z, stride=None):
    _check_pool(x, z)
    return _remote(_MAX, x[None], z, stride or z)[0]


# %%
# avg_pool2d: an object named by a string (tornado.util.import_object)
from tornado.util import import_object

_AVG = import_object("torch.nn.functional.avg_pool2d")


def avg_pool2d(x, z, stride=None):
    _check_pool(x, z)
    return _remote(_AVG, x[None], z, stride or z)[0]
