"""The "must not call" rule: read from source (grader/forbidden/) and watched at run time
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

# --- a review of false flags: honest cells that cost marks, now read as what they are ------------
TORCH = "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n"
X_K = "x, k = torch.ones(1, 1, 5, 5), torch.ones(1, 1, 3, 3)\n"
MINE = "def f(x, k):\n    return F.pad(x, (0, 0))\n"
NET = (TORCH + "class Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
       "        self.conv = nn.Conv2d(1, 4, 3)\n        self.pool = nn.MaxPool2d(2)\n{methods}"
       "    def forward(self, x):\n{forward}")


def net(extra: str = "", methods: str = "", forward: str = "        return self.pool(self.conv(x))\n") -> str:
    """A demo model holding a Conv2d and a MaxPool2d, then `extra` (top-level code), then the ruled f."""
    return NET.format(methods=methods, forward=forward) + extra + MINE


ALLOWED.update({
    # timeit with a function of the notebook's: timeit calls it there and keeps it nowhere
    "timeit-a-lambda": TORCH + "import timeit\n" + X_K + "print(timeit.timeit(lambda: f(x, k), number=2),\n"
                       "      timeit.timeit(lambda: F.conv2d(x, k), number=2))\n" + MINE,
    "timeit-a-def-and-default-timer": TORCH + "from timeit import repeat, default_timer as timer\n" + X_K
                                      + "def bench():\n    return F.conv2d(x, k)\nt = timer()\n"
                                      "print(repeat(bench, setup=bench, number=2, repeat=2), timer() - t)\n" + MINE,
    # scikit-learn's digits (data only), pandas tables only shown
    "load-digits": TORCH + "from sklearn.datasets import load_digits\nfrom sklearn import datasets\n"
                   "d = load_digits()\nX, y = datasets.load_digits(n_class=10, return_X_y=True)\n"
                   "print(f(torch.tensor(d.images[0])[None, None], torch.ones(1, 1, 3, 3)), X.shape)\n" + MINE,
    "a-pandas-table-shown": TORCH + "import pandas as pd\nfrom IPython.display import display\n"
                            "rows = [{'z': z, 'ms': 1.0} for z in (2, 3)]\ntable = pd.DataFrame(rows)\n"
                            "print(table)\ndisplay(table)\nprint(f'{table}', str(pd.Series([1, 2])))\ntable\n" + MINE,
    # forbidden functions and modules held in plain names, to compare with
    "pairs-to-compare": TORCH + X_K + "pairs = {'conv': (f, F.conv2d)}\nfor name, (mine, ref) in pairs.items():\n"
                        "    assert torch.allclose(mine(x, k), ref(x, k)), f'{name} differs'\n" + MINE,
    "a-compare-helper": TORCH + X_K + "def compare(mine, ref, *args):\n    a, b = mine(*args), ref(*args)\n"
                        "    print(ref, torch.allclose(a, b))\ncompare(f, F.conv2d, x, k)\n"
                        "compare(f, lambda x, k: F.conv2d(x, k), x, k)\ncompare(mine=f, ref=F.conv2d)\n" + MINE,
    "an-nn-sequential-at-the-top": TORCH + X_K + "seq = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU())\n"
                                   "layers = [nn.Conv2d(1, 1, 3), nn.ReLU()]\nfor layer in layers:\n"
                                   "    print(layer(x).shape)\nprint(seq(x).shape, seq[0].weight.shape, len(seq))\n"
                                   "print(torch.allclose(f(x, seq[0].weight.data), seq[0](x)))\n" + MINE,
    "a-private-attribute-of-self": "import time\nclass Timer:\n    def __enter__(self):\n"
                                   "        self._start = time.perf_counter()\n        return self\n"
                                   "    def __exit__(self, *exc):\n        print(time.perf_counter() - self._start)\n"
                                   "with Timer():\n    pass\ndef f(x, k):\n    return x\n",
    # a model class: built from torch's modules on self, made with constants, only called and shown
    "a-model-called-and-shown": net("from IPython.display import display\nmodel = Net()\nmodel.eval()\n"
                                    "print(model)\ndisplay(model)\nmodel\n"
                                    "print(sum(p.numel() for p in model.parameters()), f'{model}')\n"
                                    "with torch.no_grad():\n    print(model(torch.ones(1, 1, 8, 8)).shape)\n"
                                    "print(Net()(torch.ones(1, 1, 8, 8)).detach().shape)\n"),
    "a-model-for-the-cnn-exercise": (
        TORCH + "class CNN(nn.Module):\n    '''Conv + ReLU + pooling, then fully connected layers.'''\n"
        "    def __init__(self, n_classes: int = 10) -> None:\n        super(CNN, self).__init__()\n"
        "        self.blocks = nn.ModuleList([nn.Conv2d(1, 1, 3, padding=1) for _ in range(2)])\n"
        "        self.head = nn.Sequential(nn.Flatten(), nn.Linear(16, n_classes))\n"
        "    def forward(self, x: torch.Tensor) -> torch.Tensor:\n        for block in self.blocks:\n"
        "            x = F.max_pool2d(torch.relu(block(x)), 2) if x.shape[-1] > 4 else x\n"
        "        x = x.view(x.size(0), -1)\n        return self.head(x)\n"
        "    def predict(self, x):\n        return self.forward(x).argmax(1)\n"
        "model = CNN(n_classes=10)\nprint(model.predict(torch.ones(2, 1, 8, 8)))\n"
        "def demo():\n    m = CNN()\n    return m(torch.ones(1, 1, 8, 8)).shape\nprint(demo())\n" + MINE),
})

# each relaxation above, written to cheat: still flagged. REG keeps what the ruled f then calls; SPY is an
# object of the notebook's whose __eq__, __lt__, __add__ and hash keep what they are handed; MEMO a module of
# the notebook's that keeps the memo of modules named_modules hands it.
SPY = ("REG, HASHES = [], []\nclass Spy:\n    def __eq__(self, other):\n        REG.append(other)\n"
       "        return False\n"
       "    __lt__ = __gt__ = __add__ = __radd__ = __eq__\n    def __hash__(self):\n        return HASHES[0]\n"
       "HASHES.append(hash(F.conv2d))\nSPY = Spy()\n"
       "class MEMO(nn.Module):\n    def named_modules(self, memo=None, prefix='', remove_duplicate=True):\n"
       "        REG.extend(memo or ())\n        return iter(())\n")
RULED = "\ndef f(x, k):\n    return REG[0](x, k)\n"
STILL_FLAGGED = {
    # timeit: only timeit.timeit/repeat with a function (never text), and default_timer
    "timeit-text": "import timeit\ntimeit.timeit('REG.append(F.conv2d)', number=1)",
    "timeit-text-as-stmt": "import timeit\ntimeit.timeit(stmt='REG.append(F.conv2d)', number=1)",
    "timeit-text-as-setup": "import timeit\ntimeit.timeit(lambda: 0, 'REG.append(F.conv2d)', number=1)",
    "timeit-text-as-setup-keyword": "import timeit\ntimeit.timeit(lambda: 0, setup='REG.append(F.conv2d)')",
    "timeit-text-by-name": "import timeit\ncode = 'REG.append(F.conv2d)'\ntimeit.timeit(code, number=1)",
    "timeit-a-def-rebound-to-text": "import timeit\ndef code():\n    pass\ncode = 'REG.append(F.conv2d)'\n"
                                    "timeit.timeit(code, number=1)",
    "timeit-a-parameter": "import timeit\ndef timed(run):\n    return timeit.timeit(run, number=1)\n"
                          "timed('REG.append(F.conv2d)')",
    "timeit-timer-class": "import timeit\ntimeit.Timer('REG.append(F.conv2d)').timeit(1)",
    "timeit-as-a-value": "import timeit\nt = timeit.timeit\nt('REG.append(F.conv2d)', number=1)",
    "timeit-main": "import timeit\ntimeit.main(['-s', 'REG.append(F.conv2d)', 'pass'])",
    "timeit-star-import": "from timeit import *\ntimeit('REG.append(F.conv2d)', number=1)",
    "timeit-module-in-a-list": "import timeit\nM = [timeit]\nM[0].timeit('REG.append(F.conv2d)', number=1)",
    "timeit-own-timer": "import timeit\ntimeit.timeit(lambda: 0, timer=REG.append, number=1)",
    "timeit-a-lambda-that-keeps": "import timeit\ntimeit.timeit(lambda: REG.append(F.conv2d), number=1)",
    # scikit-learn: load_digits only, with constants, no DataFrame
    "sklearn-another-function": "from sklearn.datasets import fetch_openml",
    "sklearn-another-function-by-module": "from sklearn import datasets\ndatasets.fetch_openml('mnist_784')",
    "sklearn-another-module": "import sklearn.utils",
    "sklearn-as-frame": "from sklearn.datasets import load_digits\nd = load_digits(as_frame=True)\n"
                        "d.frame.query('@REG.append(@F.conv2d)')",
    "sklearn-as-frame-by-name": "from sklearn.datasets import load_digits\nflag = True\nd = load_digits(as_frame=flag)",
    "sklearn-function-as-a-value": "from sklearn.datasets import load_digits\nREG.append(load_digits)",
    # pandas: DataFrame and Series, only shown (pandas runs text as code)
    "pandas-eval": "import pandas as pd\npd.eval('REG.append(F.conv2d)')",
    "pandas-query": "import pandas as pd\ndf = pd.DataFrame({'a': [1]})\ndf.query('@REG.append(@F.conv2d) == 1')",
    "pandas-query-on-the-spot": "import pandas as pd\nprint(pd.DataFrame({'a': [1]}).query('a > 0'))",
    "pandas-agg-by-name": "import pandas as pd\ns = pd.Series([1])\ns.agg('query', 'x')",
    "pandas-renamed": "import pandas as pd\ndf = pd.DataFrame({'a': [1]})\nother = df\nother.eval('a + 1')",
    "pandas-renamed-in-a-cycle": "import pandas as pd\na = b\na = pd.DataFrame({'x': [1]})\nb = a\nb.eval('x')",
    "pandas-handed-on": "import pandas as pd\nREG.append(pd.DataFrame({'a': [1]}))",
    "pandas-class-as-a-value": "import pandas as pd\nT = pd.DataFrame\nT({'a': [1]}).eval('a')",
    "pandas-read-pickle": "import pandas as pd\npd.read_pickle('x.pkl')",
    "pandas-walrus": "import pandas as pd\nprint((df := pd.DataFrame({'a': [1]})).eval('a'))",
    "pandas-star-import": "from pandas import *",
    # holders of forbidden objects: kept by name only, their parts followed
    "tuple-handed-on": "fs = (F.conv2d,)\nREG.append(fs)",
    "tuple-extended-into": "fs = (F.conv2d,)\nREG.extend(fs)",
    "tuple-added-into": "fs = (F.conv2d,)\nREG += fs",
    "a-value-of-items": "d = {'c': F.conv2d}\nfor key, value in d.items():\n    REG.append(value)",
    "a-list-copied": "fs = [F.conv2d]\ng = fs.copy()\nREG.append(g)",
    "a-method-in-a-cycle": "a = [F.conv2d]\na = a.copy\nREG.append(a())",
    "an-element": "fs = [F.conv2d]\nREG.append(fs[0])",
    "a-list-doubled": "fs = [F.conv2d]\nREG.append(fs * 2)",
    "an-iterator": "REG.append(iter([F.conv2d]))",
    "zipped": "REG.append(zip([F.conv2d]))",
    "a-dict-made-by-dict": "REG.append(dict(c=F.conv2d))",
    "starred-into-a-call": "fs = [F.conv2d]\nREG.append(*fs)",
    "a-list-as-a-default": "def g(x, fs=[F.conv2d]):\n    return fs",
    "a-generator-over-it": "fs = [F.conv2d]\ng = (h for h in fs)\nREG.append(g)",
    "a-loop-that-stores": "REG.append(None)\nfor REG[0] in [F.conv2d]:\n    pass",
    "a-comprehension-that-stores": "REG.append(None)\nprint([0 for REG[0] in [F.conv2d]])",
    "a-loop-into-a-class": "class B:\n    pass\nfor B.c in (F.conv2d,):\n    pass\nREG.append(B.c)",
    "lambdas-in-a-list": "fs = [lambda t: F.conv2d(*t)]\nREG.append(fs)",
    "type-with-a-namespace": "class Base:\n    def __init_subclass__(cls):\n        REG.append(cls.c)\n"
                             "X = type('X', (Base,), {'c': F.conv2d})",
    # ...never compared with, nor added to, an object of the notebook's
    "max-of-mixed": "print(max(F.conv2d, SPY))",
    "sorted-mixed": "print(sorted([F.conv2d, SPY]))",
    "sum-of-mixed": "print(sum([SPY, F.conv2d], 0))",
    "a-set-of-mixed": "s = {F.conv2d, SPY}",
    "a-dict-keyed-by-it": "d = {F.conv2d: 1, SPY: 2}",
    "a-holder-counted": "fs = [F.conv2d]\nprint(fs.count(SPY))",
    "a-holder-appended-to": "fs = [F.conv2d]\nfs.append(SPY)\nfs.sort()",
    "a-holder-sorted": "fs = [F.conv2d, SPY]\nfs.sort()",
    "an-iterator-with-a-sentinel": "for v in iter(lambda: SPY, F.conv2d):\n    break",
    "max-with-a-key": "fs = [F.conv2d]\nmax(fs, key=REG.append)",
    "map-over-it": "fs = [F.conv2d]\nlist(map(REG.append, fs))",
    "in-a-holder": "fs = [F.conv2d]\nprint(SPY in fs)",
    # torch's containers of modules, and the modules themselves
    "sequential-handed-on": "seq = nn.Sequential(nn.Conv2d(1, 1, 3))\nREG.append(seq)",
    "sequential-element": "seq = nn.Sequential(nn.Conv2d(1, 1, 3))\nREG.append(seq[0])",
    "sequential-extended-into": "seq = nn.Sequential(nn.Conv2d(1, 1, 3))\nREG.extend(seq)",
    "sequential-looped-over": "seq = nn.Sequential(nn.Conv2d(1, 1, 3))\nfor m in seq:\n    REG.append(m)",
    "sequential-modules": "seq = nn.Sequential(nn.Conv2d(1, 1, 3))\nREG.append(list(seq.modules()))",
    "sequential-eval": "seq = nn.Sequential(nn.Conv2d(1, 1, 3))\nREG.append(seq.eval())",
    "sequential-with-a-module-of-the-notebook": "seq = nn.Sequential(nn.Conv2d(1, 1, 3), MEMO())\n"
                                                "print(list(seq.parameters()))",
    "sequential-item-replaced": "seq = nn.Sequential(nn.Conv2d(1, 1, 3), nn.ReLU())\nseq[1] = MEMO()\n"
                                "print(list(seq.parameters()))",
    "a-holder-item-replaced": "fs = [F.conv2d, 1]\nfs[1] = SPY\nprint(fs)",
    "sequential-appended-to": "seq = nn.Sequential(nn.Conv2d(1, 1, 3))\nseq.append(MEMO())\n"
                              "print(list(seq.parameters()))",
    "an-instance-eval": "conv = nn.Conv2d(1, 1, 3)\nREG.append(conv.eval())",
    "an-instance-hook": "conv = nn.Conv2d(1, 1, 3)\nconv.register_forward_pre_hook(lambda m, i: REG.append(m))",
    "an-instance-apply": "conv = nn.Conv2d(1, 1, 3)\nconv.apply(REG.append)",
    "an-instance-private-method": "conv = nn.Conv2d(1, 1, 3)\nconv._named_members(lambda m: [REG.append(m)] and [])",
    "an-instance-hook-dict": "conv = nn.Conv2d(1, 1, 3)\nconv._forward_hooks[0] = lambda m, i, o: REG.append(m)",
    "an-instance-named-modules": "conv = nn.Conv2d(1, 1, 3)\nmemo = set()\nlist(conv.named_modules(memo))",
    "an-instance-patched": "conv = nn.Conv2d(1, 1, 3)\nconv.forward = REG.append",
    "a-class-patched": "nn.Conv2d._conv_forward = lambda self, *a: REG.append(self)",
    "a-function-replaced": "F.conv2d = REG.append",
    "setattr-on-an-instance": "conv = nn.Conv2d(1, 1, 3)\nsetattr(conv, 'x', 1)",
    # a helper given a forbidden function: only if it just calls it
    "a-helper-that-keeps-it": "def keep(mine, ref):\n    REG.append(ref)\nkeep(print, F.conv2d)",
    "a-helper-that-returns-it": "def ident(g):\n    return g\nREG.append(ident(F.conv2d))",
    "a-helper-that-closes-over-it": "def mk(g):\n    return lambda t: g(*t)\nREG.append(mk(F.conv2d))",
    "a-helper-that-is-a-generator": "def gen(g):\n    t = yield\n    while True:\n        t = yield g(*t)\n"
                                    "G = gen(F.conv2d)\nnext(G)\nREG.append(G)",
    "a-helper-given-a-class": "def make(c):\n    return c(1, 1, 3)\nREG.append(make(nn.Conv2d))",
    "a-helper-with-varargs": "def h(*gs):\n    REG.extend(gs)\nh(F.conv2d)",
    "a-helper-that-rebinds-it": "def h(g):\n    g = [g]\n    REG.extend(g)\nh(F.conv2d)",
    "a-helper-that-makes-it-global": "def h(g):\n    global g2\n    g2 = g\nh(F.conv2d)",
    "a-decorated-helper": "import functools\n@functools.lru_cache\ndef h(g):\n    return 1\nh(F.conv2d)",
    "a-helper-defined-twice": "def h(g):\n    g(1)\ndef h(g):\n    REG.append(g)\nh(F.conv2d)",
    "a-nested-helper": "def outer():\n    def h(g):\n        REG.append(g)\n    h(F.conv2d)\nouter()",
    "a-helper-method": "class C:\n    def h(self, g):\n        REG.append(g)\nC().h(F.conv2d)",
    "a-helper-shadowed": "def compare(a, b):\n    b(1)\ndef g():\n    compare = lambda a, b: REG.append(b)\n"
                         "    compare(print, F.conv2d)\ng()",
    # ...and names trusted only where nothing around rebinds them
    "list-shadowed": "def g():\n    list = REG.append\n    list([F.conv2d])\ng()",
    "timeit-shadowed": "import timeit\ndef g():\n    timeit = type('T', (), {'timeit': staticmethod(REG.append)})\n"
                       "    timeit.timeit(F.conv2d)\ng()",
    "sequential-shadowed": "def g():\n    class nn:\n        Sequential = REG.append\n    nn.Sequential(F.conv2d)\ng()",
    "display-shadowed": "import pandas as pd\nfrom IPython.display import display\ndef g(display):\n"
                        "    display(pd.DataFrame({'a': [1]}))\ng(lambda t: t.eval('a'))",
    # a model class: its instances followed as holders of what they hold...
    "a-model-kept": net("REG.append(Net())\n"),
    "a-model-named-then-kept": net("n = Net()\nREG.append(n)\n"),
    "a-model-module-kept": net("n = Net()\nREG.append(n.conv)\n"),
    "a-model-compared-with": net("print(SPY == Net())\n"),
    "a-model-hooked": net("n = Net()\nn.register_forward_hook(lambda m, i, o: REG.append(m))\n"),
    "a-model-applied": net("Net().apply(REG.append)\n"),
    "a-model-memo": net("memo = set()\nlist(Net().named_modules(memo))\n"),
    "a-model-class-of": net("REG.append(type(Net()))\n"),
    "a-model-dunder-class": net("REG.append(Net().__class__)\n"),
    "a-model-attribute-error": net("try:\n    Net().nothing\nexcept AttributeError as e:\n    REG.append(e.obj)\n"),
    "a-model-in-a-lambda": net("n = Net()\nREG.append(lambda t: n(t))\n"),
    "a-model-in-a-generator": net("n = Net()\ndef gen():\n    t = yield\n    while True:\n        t = yield n(t)\n"
                                  "G = gen()\nnext(G)\nREG.append(G)\n"),
    "a-model-in-a-class": net("n = Net()\nclass Box:\n    m = n\nREG.append(Box)\n"),
    "a-model-used-by-f": net() + "def f(x, k):\n    return Net()(x)\n",
    "a-model-in-the-output-cache": (net("Net()\n"), "def f(x, k):\n    return Out[1](x)\n"),
    "a-model-patched-call": net("old = nn.Module.__call__\ndef spy(self, *a):\n    REG.append(self)\n"
                                "    return old(self, *a)\nnn.Module.__call__ = spy\n"),
    "a-model-patched-named-modules": net("nn.Module.named_modules = lambda self, *a, **k: REG.append(self)\n"),
    "a-model-patched-through-self": net("class H:\n    def patch(self):\n        self.named_modules = REG.append\n"
                                        "H.patch(nn.Module)\n"),
    "a-model-patched-through-mro": net("M = type(nn.ReLU()).mro()[1]\nsetattr(M, 'named_modules', REG.append)\n"),
    "a-model-compiled-call-slot": net("class H:\n    def patch(self):\n        self._compiled_call_impl = REG.append\n"
                                      "H.patch(nn.Module)\n"),
    "a-model-global-hook": net("import torch.nn.modules.module as mm\n"
                               "mm.register_module_forward_hook(lambda m, i, o: REG.append(m))\n"),
    # ...unless its grammar or its uses say otherwise: then it is read as code that can run anywhere
    "a-model-class-kept": net("REG.append(Net)\n"),
    "a-model-subclassed": net("class Evil(Net):\n    pass\n"),
    "a-model-made-with-a-variable": net("a = 1\nn = Net(a)\n"),
    "a-model-defined-twice": net("class Net(nn.Module):\n    pass\n"),
    "a-model-keeping-itself": net(forward="        REG.append(self)\n        return self.conv(x)\n"),
    "a-model-returning-itself": net(forward="        return self\n"),
    "a-model-returning-its-module": net(forward="        return self.conv\n"),
    "a-model-passing-its-module": net(forward="        x.append(self.conv)\n        return x\n"),
    "a-model-calling-back-with-its-module": net(forward="        return x(self.conv)\n"),
    "a-model-naming-its-module": net(forward="        c = self.conv\n        return c\n"),
    "a-model-looping-to-keep": NET.format(methods="", forward="        for c in self.blocks:\n            x = c\n"
                                                              "        return x\n").replace(
        "super().__init__()\n", "super().__init__()\n        self.blocks = nn.ModuleList([nn.Conv2d(1, 1, 3)])\n")
    + "REG.append(Net()(1))\n" + MINE,
    "a-model-looping-to-call": NET.format(methods="", forward="        for c in self.blocks:\n            x = c(x)\n"
                                                              "        return x\n").replace(
        "super().__init__()\n", "super().__init__()\n        self.blocks = nn.ModuleList([nn.Conv2d(1, 1, 3)])\n")
    + "REG.append(Net())\n" + MINE,
    "a-model-with-a-default": net(methods="    def keep(self, g=print):\n        g(self.conv(1))\n"),
    "a-model-with-a-del": net(methods="    def __del__(self):\n        REG.append(self.conv)\n"),
    "a-model-method-torch-calls": net(methods="    def named_modules(self, memo=None, prefix=''):\n"
                                              "        return self.conv(memo)\n"),
    "a-model-hooking-itself": NET.format(methods="", forward="        return x\n").replace(
        "super().__init__()\n", "super().__init__()\n        self.register_forward_hook(print)\n") + MINE,
    "a-model-holding-torch": net(methods="    def build(self):\n        return torch\n"),
    "a-model-holding-a-function": net(forward="        self.c = F.conv2d\n        return x\n"),
    "a-model-calling-the-notebook": net(forward="        return keep(self.conv(x))\n",
                                        extra="def keep(v):\n    return v\n"),
    "a-model-building-outside-init": net(forward="        self.other = nn.Conv2d(1, 1, 3)\n        return x\n"),
    "a-model-annotation-that-calls": net(methods="    def g(self, y: REG.append(F.conv2d)):\n        return y\n"),
}

# what the reader let through before this review
CLOSED = {
    "config-runs-its-text": "%config A.b = REG.append(__import__('torch').nn.functional.conv2d)",
    "config-sets-a-printer": "%config PlainTextFormatter.type_printers = dict(object=REG.append)",
    "braces-in-a-magic": "%env X={REG.append(F.conv2d)}",
    "a-dollar-in-a-magic": "%matplotlib $backend",
    "braces-in-time": "%time print('{REG.append(F.conv2d)}')",
    "braces-in-capture": "%%capture {REG.append(F.conv2d)}\npass",
    "pinfo-evaluates-its-subscript": "class D:\n    def __getitem__(self, key):\n        REG.append(key)\nd = D()\n"
                                     "%pinfo d[F.conv2d]",
    "the-output-cache": ("F.conv2d", "def f(x, k):\n    return Out[1](x, k)"),
    "the-last-result": ("F.conv2d", "def f(x, k):\n    return _(x, k)"),
    "an-attribute-errors-object": "try:\n    F.conv2d.nothing\nexcept AttributeError as e:\n    REG.append(e.obj)",
    "torch-function": "class T(torch.Tensor):\n    @classmethod\n"
                      "    def __torch_function__(cls, func, types, args=(), kwargs=None):\n"
                      "        REG.append(func)\n"
                      "        return super().__torch_function__(func, types, args, kwargs or {})",
    "instancecheck": "class Meta(type):\n    def __instancecheck__(cls, o):\n        REG.append(o)\n"
                     "        return False",
    "subclasshook": "import abc\nclass Spy(abc.ABC):\n    @classmethod\n    def __subclasshook__(cls, c):\n"
                    "        REG.append(c)\n        return NotImplemented",
    "max-with-a-key-returns-it": "conv = nn.Conv2d(1, 1, 3)\nREG.append(max(conv, conv, key=id))",
    "the-type-of-an-instance": "conv = nn.Conv2d(1, 1, 3)\nREG.append(type(conv))",
    "sum-starts-with-it": "conv = nn.Conv2d(1, 1, 3)\nREG.append(sum((), conv))",
    "a-global-module-hook": "def spy(m, i, o):\n    REG.append(m)\n"
                            "torch.nn.modules.module.register_module_forward_hook(spy)",
    "a-hook-by-import": "from torch.nn.modules.module import register_module_forward_hook as h\n"
                        "h(lambda m, i, o: REG.append(m))",
    "an-instance-hook": "def spy(m, i, o):\n    REG.append(m)\nconv = nn.Conv2d(1, 1, 3)\n"
                        "conv.register_forward_hook(spy)",
    "apply-hands-the-module": "conv = nn.Conv2d(1, 1, 3)\nconv.apply(REG.append)",
    "module-call-patched": "old = nn.Module.__call__\ndef spy(self, *a):\n    REG.append(self)\n"
                           "    return old(self, *a)\n"
                           "nn.Module.__call__ = spy",
    "a-resumed-generator": "def gen():\n    t = yield\n    while True:\n        t = yield F.conv2d(*t)\n"
                           "G = gen()\nnext(G)\nREG.append(G)",
    "a-closure-over-a-local": "def outer():\n    c = F.conv2d\n    def inner(*t):\n        return c(*t)\n"
                              "    return inner\n"
                              "REG.append(outer())",
    "a-lambda-over-a-local": "def outer():\n    c = F.conv2d\n    return lambda *t: c(*t)\nREG.append(outer())",
    "a-local-print": "def g():\n    print = REG.append\n    print(F.conv2d)\ng()",
    "a-parameter-print": "def g(print):\n    print(F.conv2d)\ng(REG.append)",
    "a-comprehension-print": "[print(F.conv2d) for print in [REG.append]]",
    "a-top-level-walrus-print": "(print := REG.append)\nprint(F.conv2d)",
    "eleven-renames": "a0 = F.conv2d\n" + "".join(f"a{i} = a{i - 1}\n" for i in range(1, 12)) + "REG.append(a11)",
}


def _cells(case: str | tuple[str, ...], preamble: str) -> tuple[str, ...]:
    """The case's cells, the preamble before the first, and a ruled f calling REG[0] after, if it has none."""
    cells = (case,) if isinstance(case, str) else case
    cells = (preamble + cells[0], *cells[1:])
    return cells if any("def f(" in cell for cell in cells) else (*cells, RULED)


@pytest.mark.parametrize("source", STILL_FLAGGED.values(), ids=STILL_FLAGGED.keys())
def test_a_relaxation_written_to_cheat_is_still_flagged(source: str | tuple[str, ...]) -> None:
    cells = _cells(source, TORCH + SPY)
    assert violations(cells, "f", CONV), cells


@pytest.mark.parametrize("source", CLOSED.values(), ids=CLOSED.keys())
def test_routes_the_reader_let_through_are_flagged(source: str | tuple[str, ...]) -> None:
    cells = _cells(source, TORCH + "REG = []\n")
    assert violations(cells, "f", CONV), cells


def test_the_spies_alone_are_not_flagged() -> None:
    """What the attacks above compare forbidden objects with is no attack by itself, nor is the model."""
    assert violations((TORCH + SPY + MINE,), "f", CONV) == ()
    assert violations((net(),), "f", CONV) == ()


def test_a_model_is_still_read_when_f_reaches_it() -> None:
    found = violations((STILL_FLAGGED["a-model-used-by-f"],), "f", CONV)
    assert found == ("torch.nn.Conv2d (written `nn.Conv2d`)",)
    reaches = net() + "def f(x, k):\n    return Net()(x)\n"
    assert violations((reaches,), "f", POOL) == ("torch.nn.MaxPool2d (written `nn.MaxPool2d`)",)


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
