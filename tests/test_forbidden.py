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
from grader.forbidden import TOO_DEEP, family_names, violations
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
    # torch reached by a route the reader cannot follow: the name called is judged itself
    "class-attribute-route": "import torch\nclass Box:\n    pass\nBox.t = torch\ndef f(x, k):\n"
                             "    return Box.t.nn.functional.conv2d(x, k)",
    "call-result-route": "import torch\ndef _torch():\n    return torch\ndef f(x, k):\n"
                         "    return _torch().nn.functional.conv2d(x, k)",
    "parameter-attribute": "def f(F, k):\n    return F.conv2d(k)",
    "literal-getattr-on-a-parameter": "def f(F, k):\n    return getattr(F, 'conv2d')(k)",
    # found by a second review: a subclass elsewhere in torch, a routine re-exported by another library
    "a-conv2d-subclass-in-torch-ao": "import torch\ndef f(x, k):\n"
                                     "    return torch.ao.nn.intrinsic.qat.ConvReLU2d(1, 1, 3)(x)",
    "pylab-correlate": "from matplotlib.pylab import correlate\ndef f(x, k):\n    return correlate(x, k)",
}
ESCAPING = {  # code that runs during the check without the ruled function naming it
    "server-thread-started-by-a-cell": (
        "import queue\nimport threading\nimport torch.nn.functional as F\n"
        "jobs, answers = queue.Queue(), queue.Queue()\n"
        "def serve():\n    while True:\n        answers.put(F.conv2d(*jobs.get()))\n"
        "threading.Thread(target=serve, daemon=True).start()\n"
        "def f(x, k):\n    jobs.put((x, k))\n    return answers.get()"),
    "registry-of-the-function": "import torch.nn.functional as F\nREG = {}\nREG['c'] = F.conv2d\n"
                                "def f(x, k):\n    return REG['c'](x, k)",
    "registry-of-a-helper": "import torch.nn.functional as F\nREG = {}\ndef cheat(x, k):\n    return F.conv2d(x, k)\n"
                            "REG['c'] = cheat\ndef f(x, k):\n    return REG['c'](x, k)",
    "partial": "import functools\nimport torch.nn.functional as F\ng = functools.partial(F.conv2d)\n"
               "def f(x, k):\n    return g(x, k)",
    "global-rebinding": "import torch.nn.functional as F\nop = None\ndef setup():\n    global op\n    op = F.conv2d\n"
                        "setup()\ndef f(x, k):\n    return op(x, k)",
    "dunder-method": "import torch.nn.functional as F\nclass C:\n    def __eq__(self, other):\n"
                     "        return F.conv2d(*other)\nOBJ = C()\ndef f(x, k):\n    return OBJ == (x, k)",
    "module-in-a-list": "import torch\nREG = [torch.nn.Conv2d(1, 1, 3)]\ndef f(x, k):\n    return REG[0](x)",
    "closure-from-a-factory": "import torch.nn.functional as F\ndef make():\n    def inner(x, k):\n"
                              "        return F.conv2d(x, k)\n    return inner\nREG = [make()]\n"
                              "def f(x, k):\n    return REG[0](x, k)",
}
CAUGHT_POOL = {
    "mkldnn-max-pool": "import torch\ndef f(x):\n    return torch.mkldnn_max_pool2d(x.to_mkldnn(), [2, 2])",
    "maximum-filter": "import scipy.ndimage as nd\ndef f(x):\n    return nd.maximum_filter(x, 2)[::2, ::2]",
    "uniform-filter": "from scipy import ndimage\ndef f(x):\n    return ndimage.uniform_filter(x, 2)",
    "grey-dilation": "from scipy.ndimage import grey_dilation\ndef f(x):\n    return grey_dilation(x, 2)",
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
    "pickle": "import pickle\nc = pickle.loads(b'ctorch.nn.functional\\nconv2d\\n.')\ndef f(x, k):\n    return c(x, k)",
    "pydoc-locate": "import pydoc\ndef f(x, k):\n    return pydoc.locate('torch.nn.functional.conv2d')(x, k)",
    "subclasses": "import torch\nC = [c for c in torch.nn.Module.__subclasses__() if c.__name__ == 'Conv2d'][0]\n"
                  "def f(x, k):\n    return C(1, 1, 3)(x)",
    "frames": "def f(x, k):\n    try:\n        raise ValueError\n    except ValueError as e:\n"
              "        return e.__traceback__.tb_frame.f_globals",
    "getattr-aliased": "import torch.nn.functional as F\ng = getattr\ndef f(x, k):\n"
                       "    return g(F, 'conv' + '2d')(x, k)",
    "sys-path": "import sys\nsys.path.insert(0, '/tmp')\ndef f(x, k):\n    return x",
    "a-process": "import subprocess\nsubprocess.Popen(['python', '-c', 'pass'])\ndef f(x, k):\n    return x",
    "a-shell-command": "!python -c 'pass'\ndef f(x, k):\n    return x",
    "a-magic-that-runs-a-file": "%run cheat.py\ndef f(x, k):\n    return x",
    "ipython-shell": "def f(x, k):\n    return get_ipython().ev('F.conv2d')(x, k)",
    "code-from-text-by-torch-benchmark": "import torch.utils.benchmark as B\ndef f(x, k):\n"
                                         "    return B.Timer('F.conv2d(x, k)').timeit(1)",
    "a-module-the-reader-does-not-know": "import tornado.util\ndef f(x, k):\n"
                                         "    return tornado.util.import_object('torch.nn.functional.conv2d')(x, k)",
    "a-match-pattern": "import torch.nn.functional as F\nmatch F:\n    case object(conv2d=c):\n        pass\n"
                       "def f(x, k):\n    return c(x, k)",
    "a-module-as-a-default": "import torch.nn.functional as F\ndef f(x, k, _ops=F):\n    return _ops.unfold(x, 3)",
    "torch-load": "import io\nimport torch\nc = torch.load(io.BytesIO(b''), weights_only=False)\n"
                  "def f(x, k):\n    return c(x, k)",
}
TAMPERING = {
    "patches-the-probe": "__coursegrade_probe._ForbiddenCalls.__enter__ = lambda self: self",
    "imports-the-grader": "import grader.probe as p\np._ForbiddenCalls = None",
    "disables-torch-function": "import torch\ntorch._C._DisableTorchFunction().__enter__()",
    "patches-dispatch-modes": "from torch.utils import _python_dispatch as d\nd.TorchDispatchMode.__enter__ = None",
    "switch-through-a-class": "import torch\nclass Box:\n    pass\nBox.t = torch\n"
                              "Box.t._C._DisableTorchFunction().__enter__()",
    "grader-handed-on": "import grader\ngrader.check()\nclass Box:\n    pass\nBox.g = grader\nBox.g.probe.x = None",
    "grader-in-a-magic": "%time import grader.probe as p; p._ForbiddenCalls = None",
}
ALLOWED = {
    "unfold-and-pad": "import torch.nn.functional as F\ndef f(x, k):\n    return F.pad(x, (1, 1)).unfold(0, 3, 1)",
    "torch-in-a-try-cell": (
        "import torch\nimport torch.nn.functional as F\ndef f(x, k):\n    return (x * k).sum()\n"
        "conv = torch.nn.Conv2d(1, 1, 3)\nk = conv.weight\nx = torch.randn(1, 5, 5)\nprint(F.conv2d(x, k), f(x, k))"
    ),
    "printing-to-stderr": "import sys\ndef f(x, k):\n    print(x, file=sys.stderr)\n    return x",
    "parameter-named-like-a-module": "import torch.nn.functional as F\ndef f(F, k):\n    return F.relu(k)",
    "sliding-window-view": "from numpy.lib.stride_tricks import sliding_window_view as v\ndef f(x, k):\n"
                           "    return v(x, 3)",
    "numpy-arithmetic": "import numpy as np\ndef f(x, k):\n    return np.einsum('ij,ij->', x, k) + np.sum(x)",
    "compared-with-torch-in-a-cell": (
        "import torch\nimport torch.nn.functional as F\ndef f(x, k):\n    return (x * k).sum()\n"
        "x, k = torch.randn(1, 1, 3, 3), torch.randn(1, 1, 3, 3)\n"
        "assert torch.allclose(f(x, k), F.conv2d(x, k).sum())"),
    "another-exercise-without-the-rule": (
        "import torch\nimport torch.nn.functional as F\ndef g(x, k):\n"
        "    return F.conv2d(x[None, None], k[None, None])[0, 0]\n"
        "def f(x, k):\n    return (x * k).sum()\nprint(g(torch.ones(3, 3), torch.ones(3, 3)))"),
    "magics-that-run-no-code": "%matplotlib inline\n%load_ext autoreload\n!pip install -q torch\n"
                               "def f(x, k):\n    return x",
    "a-timed-cell": "%%time\ndef f(x, k):\n    return x * k",
    "a-key-function": "def key(v):\n    return -v\ndef f(x, k):\n    return sorted(x, key=key)",
    "a-decorated-function": "import torch\n@torch.no_grad()\ndef f(x, k):\n    return x * k",
    "a-module-called-on-the-spot": "import torch\ndef g(x):\n    conv = torch.nn.Conv2d(1, 1, 3)\n"
                                   "    return conv(x[None])[0]\n"
                                   "def f(x, k):\n    return x * k",
    "a-demo-consuming-a-generator": (
        "import torch\nimport torch.nn.functional as F\ndef f(x, k):\n    return x\n"
        "print(all(torch.allclose(f(x, k), F.conv2d(x, k)) for x, k in [(torch.ones(1, 1, 3, 3),) * 2]))"),
    "a-module-printed": "import torch\nconv = torch.nn.Conv2d(1, 1, 3)\nprint(conv)\ndef f(x, k):\n    return x",
    "an-own-method-named-like-a-routine": "class C:\n    def correlate(self, x):\n        return x\n"
                                          "    def g(self, x):\n        return self.correlate(x)\n"
                                          "def f(x, k):\n    return C().g(x)",
    "help-and-pinfo": "import torch.nn.functional as F\nhelp(F.conv2d)\nF.conv2d?\ndef f(x, k):\n    return x",
    "pip-from-an-index": "!pip install -q torch --index-url https://download.pytorch.org/whl/cpu\n"
                         "def f(x, k):\n    return x",
    "a-check-under-no-grad": "import torch\nimport torch.nn.functional as F\n@torch.no_grad()\ndef check(x, k):\n"
                             "    return F.conv2d(x, k)\nprint(check(torch.ones(1, 1, 3, 3), torch.ones(1, 1, 3, 3)))\n"
                             "def f(x, k):\n    return x",
    "paths-and-streams": "import os\nimport sys\ndef f(x, k):\n"
                         "    print(os.path.join('a', 'b'), file=sys.stdout)\n    return x",
}


@pytest.mark.parametrize("source", CAUGHT.values(), ids=CAUGHT.keys())
def test_forbidden_names_are_found_however_written(source: str) -> None:
    found = violations((source,), "f", CONV)
    family = family_names(frozenset({"convolution"}))
    assert any(v.split(" ")[0].rstrip(",") in (*CONV, *family) or "convolution" in v or "torch.nn.Conv2d" in v
               for v in found), found


@pytest.mark.parametrize("source", ESCAPING.values(), ids=ESCAPING.keys())
def test_code_that_runs_from_elsewhere_is_read_too(source: str) -> None:
    found = violations((source,), "f", CONV)
    assert found and all(v.startswith(("torch.nn.functional.conv2d", "torch.nn.Conv2d")) for v in found), found


def test_a_source_nested_too_deeply_to_read_is_not_passed() -> None:
    deep = "def f(x, k):\n    return x\nDEEP = " + "-" * 5000 + "1\nprint(DEEP if f else " + "(" * 150 + ")" * 150 + ")"
    assert violations((deep,), "f", CONV) in ((), (TOO_DEEP,))  # read, or refused; never an exception
    assert violations(("def f(x, k):\n    return " + "-" * 50000 + "x",), "f", CONV) in ((), (TOO_DEEP,))


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
    assert found and all(any(why in v for why in ("cannot be checked", "unseen", "by its name", "cannot be followed"))
                         for v in found), found


@pytest.mark.parametrize("source", TAMPERING.values(), ids=TAMPERING.keys())
def test_reaching_the_watch_anywhere_is_flagged(source: str) -> None:
    found = violations(("def f(x):\n    return x", source), "f", CONV)
    assert found and "can hide calls" in found[0], found


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
