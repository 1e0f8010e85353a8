"""The "must not call" rule: read from source (grader/forbidden.py) and watched at run time
(grader/probe.py's guard, run here on real torch calls). Sources are literals; no process."""

from __future__ import annotations

import concurrent.futures
import functools
import os
import threading
from collections.abc import Callable

import pytest
import torch
import torch.nn.functional as F

from grader.families import with_families
from grader.forbidden import family_names, violations
from grader.probe import ProcessRefused, _ForbiddenCalls

CONV = with_families(("torch.nn.functional.conv2d", "torch.nn.functional.unfold", "torch.conv2d", "torch.nn.Conv2d",
                      "aten.convolution", "aten.im2col"))
POOL = with_families(("torch.nn.functional.max_pool2d", "torch.nn.MaxPool2d", "aten.max_pool2d_with_indices"))

CAUGHT = {
    "renamed-import": "from torch.nn.functional import conv2d as c\ndef f(x, k):\n    return c(x, k)",
    "module-alias": "import torch.nn.functional as F\ndef f(x, k):\n    return F.conv2d(x, k)",
    "torch-alias": "import torch as t\ndef f(x, k):\n    return t.nn.Conv2d(1, 1, 3)(x)",
    "from-torch-import-nn": "from torch import nn\ndef f(x, k):\n    return nn.Conv2d(1, 1, 3)(x)",
    "top-level-alias": "import torch\nG = torch.nn.functional\nH = G\ndef f(x, k):\n    return H.conv2d(x, k)",
    "local-alias": "import torch\ndef f(x, k):\n    G = torch.nn.functional\n    return G.conv2d(x, k)",
    "function-alias": "import torch.nn.functional as F\nc = F.conv2d\ndef f(x, k):\n    return c(x, k)",
    "getattr-literal": "import torch\ndef f(x, k):\n    return getattr(torch.nn.functional, 'conv2d')(x, k)",
    "through-a-helper": "import torch\ndef g(x, k):\n    return torch.conv2d(x, k)\ndef f(x, k):\n    return g(x, k)",
    "other-module-path": "import torch\ndef f(x, k):\n    return torch.nn.modules.conv.F.conv2d(x, k)",
    "star-import": "from torch.nn.functional import *\ndef f(x, k):\n    return unfold(x, 3)",
    "import-inside": "def f(x, k):\n    import torch.nn.functional as Q\n    return Q.unfold(x, 3)",
    "ipython-magic": "%time 1\nimport torch.nn.functional as F\ndef f(x, k):\n    return F.conv2d(x, k)",
    "nn-grad": "import torch\ndef f(x, k):\n    return torch.nn.grad.conv2d_weight(x, k.shape, x)",
    "mkldnn": "import torch\ndef f(x, k):\n    return torch.mkldnn_convolution(x, k, None, [0, 0], [1, 1], [1, 1], 1)",
    "numpy-convolve": "import numpy as np\ndef f(x, k):\n    return np.convolve(x, k)",
    "scipy-correlate2d": "from scipy import signal\ndef f(x, k):\n    return signal.correlate2d(x, k)",
    "scipy-ndimage": "from scipy.ndimage import correlate as c\ndef f(x, k):\n    return c(x, k)",
    "lazy-conv": "import torch\ndef f(x, k):\n    return torch.nn.LazyConv2d(1, 3)(x)",
    "fold": "import torch.nn.functional as F\ndef f(x, k):\n    return F.fold(x, (4, 4), 2)",
}
CAUGHT_POOL = {
    "mkldnn-max-pool": "import torch\ndef f(x):\n    return torch.mkldnn_max_pool2d(x.to_mkldnn(), [2, 2])",
    "maximum-filter": "import scipy.ndimage as nd\ndef f(x):\n    return nd.maximum_filter(x, 2)[::2, ::2]",
    "uniform-filter": "from scipy import ndimage\ndef f(x):\n    return ndimage.uniform_filter(x, 2)",
}
UNCHECKABLE = {
    "getattr-computed": "import torch.nn.functional as F\ndef f(x, k):\n    return getattr(F, 'conv' + '2d')(x, k)",
    "eval": "def f(x, k):\n    return eval('F.conv2d')(x, k)",
    "torch-internals": "import torch\ndef f(x, k):\n    return torch.ops.aten.convolution(x, k)",
    "sys-modules": "import sys\ndef f(x, k):\n    return sys.modules['torch.nn.functional'].conv2d(x, k)",
    "vars": "import torch\ndef f(x, k):\n    return vars(torch.nn.functional)['conv2d'](x, k)",
    "reduce-getattr": "import functools\nimport torch.nn.functional as F\ndef f(x, k):\n"
                      "    return functools.reduce(getattr, ['conv2d'], F)(x, k)",
    "attrgetter": "from operator import attrgetter\nimport torch.nn.functional as F\ndef f(x, k):\n"
                  "    return attrgetter('conv2d')(F)(x, k)",
    "attrgetter-as-value": "import operator\ng = operator.attrgetter\ndef f(x, k):\n    return g",
    "thread-starter": "import _thread\ndef f(x, k):\n    return _thread.start_new_thread(print, ())",
}
TAMPERING = {
    "patches-the-probe": "__coursegrade_probe._ForbiddenCalls.__enter__ = lambda self: self",
    "imports-the-grader": "import grader.probe as p\np._ForbiddenCalls = None",
    "disables-torch-function": "import torch\ntorch._C._DisableTorchFunction().__enter__()",
    "patches-dispatch-modes": "from torch.utils import _python_dispatch as d\nd.TorchDispatchMode.__enter__ = None",
}
ALLOWED = {
    "unfold-and-pad": "import torch.nn.functional as F\ndef f(x, k):\n    return F.pad(x, (1, 1)).unfold(0, 3, 1)",
    "torch-in-a-try-cell": (
        "import torch\nimport torch.nn.functional as F\ndef f(x, k):\n    return (x * k).sum()\n"
        "conv = torch.nn.Conv2d(1, 1, 3)\nk = conv.weight\nx = torch.randn(1, 5, 5)\nprint(F.conv2d(x, k), f(x, k))"
    ),
    "printing-to-stderr": "import sys\ndef f(x, k):\n    print(x, file=sys.stderr)\n    return x",
    "parameter-named-like-a-module": "import torch.nn.functional as F\ndef f(F, k):\n    return F.conv2d(k)",
    "sliding-window-view": "from numpy.lib.stride_tricks import sliding_window_view as v\ndef f(x, k):\n"
                           "    return v(x, 3)",
    "numpy-arithmetic": "import numpy as np\ndef f(x, k):\n    return np.einsum('ij,ij->', x, k) + np.sum(x)",
}


@pytest.mark.parametrize("source", CAUGHT.values(), ids=CAUGHT.keys())
def test_forbidden_names_are_found_however_written(source: str) -> None:
    found = violations((source,), "f", CONV)
    assert len(found) == 1 and (found[0].split(" ")[0] in CONV or "convolution" in found[0]
                                or found[0].split(" ")[0] in family_names(frozenset({"convolution"}))), found


@pytest.mark.parametrize("source", CAUGHT_POOL.values(), ids=CAUGHT_POOL.keys())
def test_a_pooling_rule_covers_its_family(source: str) -> None:
    found = violations((source,), "f", POOL)
    assert len(found) == 1 and ("pooling" in found[0] or "mkldnn_max_pool2d" in found[0]), found


def test_a_family_is_its_own_rule() -> None:
    """A convolution rule says nothing of pooling, and the other way round."""
    assert violations((CAUGHT_POOL["maximum-filter"],), "f", CONV) == ()
    assert violations((CAUGHT["numpy-convolve"],), "f", POOL) == ()


@pytest.mark.parametrize("source", UNCHECKABLE.values(), ids=UNCHECKABLE.keys())
def test_what_cannot_be_read_is_flagged(source: str) -> None:
    found = violations((source,), "f", CONV)
    assert found and all("cannot be checked" in v or "unseen" in v for v in found), found


@pytest.mark.parametrize("source", TAMPERING.values(), ids=TAMPERING.keys())
def test_reaching_the_watch_anywhere_is_flagged(source: str) -> None:
    found = violations(("def f(x):\n    return x", source), "f", CONV)
    assert len(found) == 1 and "can hide calls" in found[0], found


@pytest.mark.parametrize("source", ALLOWED.values(), ids=ALLOWED.keys())
def test_allowed_code_is_not_flagged(source: str) -> None:
    assert violations((source,), "f", CONV) == ()


def test_a_missing_definition_cannot_be_checked() -> None:
    assert "no definition of f" in violations(("g = 1",), "f", CONV)[0]


def test_cells_that_do_not_parse_are_skipped() -> None:
    cells = ("def broken(:", "import torch.nn.functional as F\ndef f(x):\n    return F.conv2d(x, x)")
    assert violations(cells, "f", CONV) == ("torch.nn.functional.conv2d (written `F.conv2d`)",)


def _calls(names: tuple[str, ...], run: object) -> list[str]:
    with _ForbiddenCalls(list(names)) as guard:
        run()  # type: ignore[operator]
    return guard.calls()


X, K = torch.randn(1, 2, 8, 8), torch.randn(3, 2, 3, 3)
RUNTIME = {
    "renamed": (CONV, lambda: __import__("torch.nn.functional", fromlist=["conv2d"]).conv2d(X, K),
                ["torch.nn.functional.conv2d"]),
    "getattr-computed": (CONV, lambda: getattr(F, "conv" + "2d")(X, K), ["torch.nn.functional.conv2d"]),
    "nn-module": (CONV, lambda: torch.nn.Conv2d(2, 3, 3)(X), ["torch.nn.functional.conv2d"]),
    "conv1d-route": (CONV, lambda: F.conv1d(torch.randn(2, 8), K[:, :, 0]), ["aten.convolution"]),
    "aten-directly": (CONV, lambda: torch.ops.aten.convolution(X, K, None, [1, 1], [0, 0], [1, 1], False, [0, 0], 1),
                      ["aten.convolution"]),
    "torch-function-disabled": (CONV, lambda: _without_torch_function(lambda: F.conv2d(X, K)), ["aten.convolution"]),
    "F.unfold": (CONV, lambda: F.unfold(X, 3), ["torch.nn.functional.unfold"]),
    "max-pool": (POOL, lambda: F.max_pool2d(X, 2), ["torch.nn.functional.max_pool2d"]),
    "max-pool-module": (POOL, lambda: torch.nn.MaxPool2d(3, 2)(X), ["torch.nn.functional.max_pool2d"]),
    "tensor-unfold-is-allowed": (CONV, lambda: X.unfold(2, 3, 1).sum(), []),
    "amax-is-allowed": (POOL, lambda: X.unfold(2, 2, 2).unfold(3, 2, 2).amax(dim=(-2, -1)), []),
    "nn-grad-backward": (CONV, lambda: torch.nn.grad.conv2d_weight(X, K.shape, torch.randn(1, 3, 6, 6)),
                         ["aten.convolution_backward"]),
    "mkldnn-convolution": (CONV, lambda: torch.mkldnn_convolution(X, K, None, [0, 0], [1, 1], [1, 1], 1),
                           ["aten.mkldnn_convolution"]),
    "mkldnn-max-pool": (POOL, lambda: torch.mkldnn_max_pool2d(X.to_mkldnn(), [2, 2]).to_dense(),
                        ["aten.mkldnn_max_pool2d"]),
    "reduce-getattr": (CONV, lambda: functools.reduce(getattr, ["conv2d"], F)(X, K), ["torch.nn.functional.conv2d"]),
    "from-a-thread": (CONV, lambda: _in_a_thread(lambda: F.conv2d(X, K)), ["torch.nn.functional.conv2d"]),
    "from-a-thread-pool": (POOL, lambda: _in_a_pool(lambda: F.max_pool2d(X, 2)), ["torch.nn.functional.max_pool2d"]),
}


def _in_a_thread(run: Callable[[], object]) -> None:
    thread = threading.Thread(target=run)
    thread.start()
    thread.join()


def _in_a_pool(run: Callable[[], object]) -> None:
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        pool.submit(run).result()


def _without_torch_function(run: object) -> None:
    with torch._C.DisableTorchFunction():
        run()  # type: ignore[operator]


@pytest.mark.parametrize(("names", "run", "expected"), RUNTIME.values(), ids=RUNTIME.keys())
def test_the_runtime_guard_sees_every_route(names: tuple[str, ...], run: object, expected: list[str]) -> None:
    assert _calls(names, run) == expected


def test_a_process_started_during_a_watched_step_is_refused() -> None:
    with pytest.raises(ProcessRefused), _ForbiddenCalls(list(CONV)):
        os.fork()
    assert os.fork is not None and threading._start_new_thread.__name__ == "start_new_thread"  # put back


def test_threads_after_the_step_are_not_watched() -> None:
    with _ForbiddenCalls(list(CONV)):
        pass
    assert _calls((), lambda: _in_a_thread(lambda: F.conv2d(X, K))) == []
