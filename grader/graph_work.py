"""What running a student's graph costs the grader, known before it costs much, and the most one grading spends.

The grader runs the exported graph itself, in its own process, on its own inputs (grader/graph.py),
on many more rows than the student's process ever ran it on: one decision-boundary picture alone is
6,400 points, exported from a batch of 64. A forward that does needless work only when exported
(zero times a chain of large products, in eval mode) would cost the grader a minute for every
second it cost the student, outside every limit the kernel holds for the sandbox.

So the work of one batch is counted once per graph (`work_of`), by running one batch of zeros with
each operator's cost bounded from its inputs' shapes before it runs (`_bound`: a product or a
convolution its multiply-adds, anything else the values it makes, every call a fixed
`CALL_WORK`): no more than one batch, which the student's own export already ran twice, and
stopped as soon as it makes more than `MAX_BATCH_VALUES` values or needs more than `MAX_BATCH_WORK`
(`work_problem` refuses such a graph). Then judging runs graphs (`charge`) for at most its
assignment's `Limits.graph_work` (`graph_budget`), and the grader's own trainer refuses a training
beyond its recipe's work (grader/trainer.py). All of it is decided from shapes: the same
submission gets the same verdicts on any machine, at any load.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from .codec import tensor_bytes
from .graph import SKIPPED, Graph, GraphError, Node, operator_for, resolve

MAX_BATCH_VALUES = 2**25  # values one batch makes in all its operators (128 MiB of float32); a course network: millions
MAX_BATCH_WORK = 10_000_000_000  # multiply-adds of one batch; a course network: at most a few hundred million
CALL_WORK = 100_000  # what one operator call costs beyond its arithmetic (dispatch, the interpreter), as multiply-adds


@dataclass(frozen=True)
class Work:
    """One batch of the graph's exported size: its multiply-adds (and other operations), and the values it makes."""

    per_batch: int
    values: int


_WORK: dict[str, Work | str] = {}  # by the whole graph: operators, arguments, tensors (dtypes and values too)
_BUDGETS: list[list[int]] = []  # each open graph_budget's [work left, work given], innermost last


def work_of(graph: Graph) -> Work | str:
    """The work of one batch through `graph`, or why the grader will not run it: counted once per graph
    (the grader's own models as built, the same in every submission; a graph looked at by several checks).
    The key is the whole graph, its tensors' dtypes and values too: a count or a refusal made from one graph
    is never another's (a graph the shape of a classmate's, with a float64 weight, once had the grader refuse
    every graph of that shape in the batch's process: "the model's graph failed at aten.linear")."""
    key = hashlib.sha256(repr((graph.input_shape, graph.nodes, graph.outputs)).encode())
    for tensor in graph.tensors:
        data = b"" if tensor.value is None else _tensor_bytes(tensor.value)
        if data is None:  # a tensor that cannot be written out: counted, never shared
            return _counted(graph)
        key.update(repr((tensor.name, tensor.value is None, len(data))).encode())
        key.update(data)
    digest = key.hexdigest()
    work = _WORK.get(digest)
    if work is None:
        if len(_WORK) > 256:
            _WORK.clear()
        work = _WORK[digest] = _counted(graph)
    return work


def _tensor_bytes(value: Any) -> bytes | None:
    """A tensor's dtype, shape and elements as the codec writes them (every tensor of a student's graph
    crossed it), or None."""
    try:
        return tensor_bytes(value)
    except Exception:  # a dtype the codec does not carry, a tensor with no data: not a student's
        return None


def work_problem(graph: Graph) -> str | None:
    """Why the grader will not run `graph` at all (one batch makes too much or needs too much), or None."""
    work = work_of(graph)
    return work if isinstance(work, str) else None


@contextmanager
def graph_budget(work: int) -> Iterator[None]:
    """Within this, running graphs (`charge`) spends at most `work` multiply-adds in all. Every use is
    charged, a result kept from before included: the same sum, and the same verdicts, however the
    judging was split up (grader/trainer.py)."""
    _BUDGETS.append([work, work])
    try:
        yield
    finally:
        _BUDGETS.pop()


def charge(graph: Graph, rows: int) -> None:
    """Spend the work of running `graph` on `rows` inputs from the open budget, if there is one;
    raises GraphError, spending nothing, when it is not there to spend."""
    work = work_of(graph)
    if isinstance(work, str):
        raise GraphError(work)
    if not _BUDGETS:
        return
    budget, batch = _BUDGETS[-1], graph.input_shape[0]
    needed = work.per_batch * -(-rows // batch)
    if needed > budget[0]:
        raise GraphError(f"the grader does not run this model: its forward needs {work.per_batch // batch:,} "
                         f"multiply-adds per input, and the grader runs a submission's models for at most "
                         f"{budget[1]:,} in all (its inputs are thousands of rows); a network of this course "
                         f"needs far fewer")
    budget[0] -= needed


def _counted(graph: Graph) -> Work | str:
    """One batch of zeros through `graph`, each operator bounded before it runs; why not, if it fails or
    would make or need too much."""
    import torch

    if not graph.input_shape or graph.input_shape[0] < 1:
        return "the model's graph has no input shape"
    if math.prod(graph.input_shape) > MAX_BATCH_VALUES:  # checked against the grader's example (graph.read_graph)
        return (f"the model's graph claims a batch of {math.prod(graph.input_shape):,} input values, more than the "
                f"{MAX_BATCH_VALUES:,} the grader runs at once")
    total = made = 0
    where = "its input"
    try:
        with torch.no_grad():
            values: dict[str, Any] = {t.name: t.value.clone() for t in graph.tensors}  # in-place operators
            values[graph.input] = torch.zeros(graph.input_shape)
            for node in graph.nodes:
                if node.kernel in SKIPPED:
                    continue
                where = node.op
                args = resolve(node.args, values)
                kwargs = {k: resolve(v, values) for k, v in node.kwargs.items()}
                bound_values, bound_work = _bound(node, args, kwargs)
                made, total = made + bound_values, total + CALL_WORK + bound_work
                if made > MAX_BATCH_VALUES:
                    return (f"the model's forward makes more than {MAX_BATCH_VALUES:,} values for a batch of "
                            f"{graph.input_shape[0]} inputs (at {node.op}); a network of this course makes a "
                            f"few million at most")
                if total > MAX_BATCH_WORK:
                    return (f"the model's forward needs more than {MAX_BATCH_WORK:,} multiply-adds for a batch of "
                            f"{graph.input_shape[0]} inputs (at {node.op}); a network of this course needs a few "
                            f"hundred million at most")
                values[node.name] = operator_for(node.op)(*args, **kwargs)
    except Exception as error:  # shapes, tensors or arguments the child sent that torch refuses
        return f"the model's graph failed at {where}: {(str(error) or type(error).__name__).splitlines()[0][:300]}"
    return Work(total, made)


def _bound(node: Node, args: list[Any], kwargs: dict[str, Any]) -> tuple[int, int]:
    """At most the values `node`'s operator makes and the multiply-adds it needs, from its inputs' shapes,
    before it runs; raises when they cannot be told (the graph is then not run)."""
    import torch

    tensors = [a for a in (*args, *kwargs.values()) if isinstance(a, torch.Tensor)]
    if node.family == "getitem" or not tensors:
        return 0, 0
    first = tensors[0]
    if node.family == "linear":
        return _product(node.kernel, args)
    if node.family == "convolution":
        return _convolution(node.kernel, args, kwargs)
    if node.family == "pooling":
        return _pooling(node.kernel, args)
    if node.family == "shape":
        if node.kernel == "expand":  # a view, but what reads it reads every value
            sizes = [int(s) for s in args[1]]
            lead = len(sizes) - first.dim()
            return math.prod(first.shape[i - lead] if s == -1 and i >= lead else max(s, 0)
                             for i, s in enumerate(sizes)), 0
        return first.numel(), first.numel()  # a view or a copy of what it was given
    if node.family == "arithmetic":  # elementwise over its inputs' broadcast, or a reduction of one
        values = math.prod(_broadcast(*(t.shape for t in tensors)))
        return values, values
    return first.numel(), first.numel()  # activation, dropout, softmax, normalization: their input's shape


def _product(kernel: str, args: list[Any]) -> tuple[int, int]:
    """The values of a matrix product (batched and broadcast as matmul) and its multiply-adds."""
    left, right = args[1:3] if kernel == "addmm" else args[:2]
    a, b = list(left.shape), list(right.shape)
    if kernel == "linear":  # x @ weight.T
        b = b[::-1]
    a, b = ([1, *a] if len(a) == 1 else a), ([*b, 1] if len(b) == 1 else b)
    out = math.prod(_broadcast(a[:-2], b[:-2])) * a[-2] * b[-1]
    return out, out * a[-1]


def _convolution(kernel: str, args: list[Any], kwargs: dict[str, Any]) -> tuple[int, int]:
    names = ("input", "weight", "bias", "stride", "padding", "dilation", "transposed", "output_padding", "groups")
    given = {**dict(zip(names, args, strict=False)), **kwargs}
    if kernel in ("conv1d", "conv2d"):  # (..., stride, padding, dilation, groups)
        given = {**dict(zip((*names[:6], "groups"), args, strict=False)), **kwargs}
    x, weight = given["input"], given["weight"]
    dims = weight.dim() - 2
    stride, dilation = _each(given.get("stride", 1), dims, 1), _each(given.get("dilation", 1), dims, 1)
    padding = given.get("padding", 0)
    kernel_size = list(weight.shape[2:])
    pads = [d * (k - 1) for d, k in zip(dilation, kernel_size, strict=True)] if isinstance(padding, str) \
        else _each(padding, dims)
    spatial = list(x.shape[-dims:]) if dims else []
    transposed = bool(given.get("transposed"))
    if transposed:  # weight (in, out / groups, ...)
        extra = _each(given.get("output_padding", 0), dims)
        channels = weight.shape[1] * int(given.get("groups", 1))
        sizes = [i * s + d * k + e for i, s, d, k, e in zip(spatial, stride, dilation, kernel_size, extra, strict=True)]
    else:  # weight (out, in / groups, ...)
        channels = weight.shape[0]
        sizes = [i + 2 * p + 1 for i, p in zip(spatial, pads, strict=True)]
    out = math.prod(x.shape[:-dims - 1]) * channels * math.prod(sizes)
    return out, out * (weight.numel() // max(1, weight.shape[1 if transposed else 0]))


def _pooling(kernel: str, args: list[Any]) -> tuple[int, int]:
    x, dims = args[0], 2 if "2d" in kernel else 1
    if "adaptive" in kernel:
        size = _each(args[1], dims)
        out = math.prod(x.shape[:-dims]) * math.prod(size)
        windows = math.prod(i // max(o, 1) + 2 for i, o in zip(x.shape[-dims:], size, strict=True))
        return 2 * out, out * windows
    window = _each(args[1], dims)
    pads = _each(args[3], dims) if len(args) > 3 else [0] * dims
    out = math.prod(x.shape[:-dims]) * math.prod(i + 2 * p + 1 for i, p in zip(x.shape[-dims:], pads, strict=True))
    return 2 * out, out * math.prod(window)


def _each(value: Any, dims: int, unset: int = 0) -> list[int]:
    """An int or a list of ints (empty: `unset`) as one int per dimension."""
    values = [int(v) for v in value] if isinstance(value, list | tuple) else [int(value)]
    values = values or [unset]
    return values * dims if len(values) == 1 else values


def _broadcast(*shapes: Any) -> list[int]:
    """The shape that `shapes` broadcast to (torch.broadcast_shapes imports sympy: half a second, once)."""
    out = []
    for i in range(1, max(map(len, shapes), default=0) + 1):
        sizes = {int(shape[-i]) for shape in shapes if len(shape) >= i} - {1}
        if len(sizes) > 1:
            raise ValueError(f"shapes {[tuple(s) for s in shapes]} do not broadcast")
        out.append(sizes.pop() if sizes else 1)
    return out[::-1]
