"""The student's model as plain data: its graph of ATen operators and its tensors (child side).

Runs in the sandbox, after the student's `train`: the model runs in eval mode on an example batch
of public inputs while each ATen operator is recorded as torch.export records it (`Recorder`;
torch.export itself where this torch lacks the hooks), and the graph becomes names, numbers and
tensors that grader/codec.py carries back (never pickle). The grader checks the operators against
its allowlist and runs the graph itself, on test inputs that never enter this process
(grader/graph.py). Nothing here is trusted: the student's code shares this process, and
whatever it makes this function return is only a graph that the grader will run as it is.
Standard library at the top; torch is the student's process's own.
"""

from __future__ import annotations

import operator
import sys
from typing import Any

GRAPH_VERSION = 1
_TENSOR_KINDS = {"PARAMETER": "parameter", "BUFFER": "buffer", "CONSTANT_TENSOR": "constant"}


def graph_of(model: Any, example: Any) -> dict[str, Any]:
    """`model` traced in eval mode on `example` as plain data; {"error": why} when it cannot be."""
    torch = sys.modules["torch"]
    if not isinstance(model, torch.nn.Module):
        return {"error": f"the model is a {type(model).__name__}, not a torch.nn.Module"}
    was_training = model.training
    model.eval()
    try:
        if any(torch.nn.parameter.is_lazy(p) for p in model.parameters()):
            with torch.no_grad():  # lazy modules take their shapes from a first forward, as in the student's own use
                model(example)
        recorder = _recorder(torch)
        if recorder is None:  # a torch without the pre-dispatch hooks: export (the same operators, slower)
            return _program(torch.export.export(model, (example,), strict=False), example)
        return _recorded(torch, recorder, model, example)
    except Exception as error:  # the student's forward: any error at all is the reason
        first = str(error).strip().splitlines()
        return {"error": f"{type(error).__name__}: {first[0] if first else ''}"[:600]}
    finally:
        model.train(was_training)


# -- the operators as they run: torch.export's, without its set-up ---------------------------------------
# torch.export (non-strict) runs forward under a dispatch mode at the PreDispatch key, where ATen's
# operators arrive before autograd decomposes them (aten.linear, not t and addmm), and records them.
# `Recorder` is such a mode, on real tensors: the same operators, in 0.6 ms instead of 12.5 ms for a small
# MLP, and without importing torch._dynamo and torch._inductor as export's tracer does (1 s, once).
# Unlike export it runs the student's forward on real tensors: an operator that hands a tensor's value
# to Python (a branch on the data), or an output that does not come from the input through operators
# (x.numpy() and back), is refused, as export refuses them; operators whose result nothing uses and
# that change nothing in place (a print in forward) are left out.

_MODE: list[Any] = []  # the recorder's class, made once; [None]: this torch has no pre-dispatch hooks


def _recorder(torch: Any) -> Any:
    """The recorder's class, once it recorded a Linear as export would; else None."""
    if not _MODE:
        try:
            recorder = _recorder_class(torch)
            linear = torch.nn.Linear(2, 1)
            ops = [n["op"] for n in _recorded(torch, recorder, linear, torch.zeros(1, 2))["nodes"]]
            _MODE.append(recorder if ops == ["aten.linear.default"] else None)
        except Exception:  # noqa: BLE001 (whatever this torch lacks, export still works)
            _MODE.append(None)
    return _MODE[0]


def _recorder_class(torch: Any) -> Any:
    from torch.fx.experimental.proxy_tensor import ProxyTorchDispatchMode
    from torch.utils._python_dispatch import TorchDispatchMode

    pre_dispatch, proxy_key = torch._C.DispatchKey.PreDispatch, torch._C._TorchDispatchModeKey.PROXY
    lift_fresh = torch.ops.aten.lift_fresh.default
    torch._C._EnablePythonDispatcher  # noqa: B018 (checked here: the recording needs it)

    class Recorder(ProxyTorchDispatchMode):  # type: ignore[misc, valid-type]
        """The PreDispatch slot takes only a proxy mode; this one records and runs each operator."""

        @classmethod
        def _should_skip_dynamo(cls) -> bool:  # else torch wraps the hook, importing dynamo
            return False

        def __init__(self, trace: _Trace) -> None:
            TorchDispatchMode.__init__(self, pre_dispatch)
            self._mode_key = proxy_key
            self.enter_stack: list[Any] = []
            self.trace = trace

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
            kwargs = kwargs or {}
            plain_args, plain_kwargs = self.trace.arg(args), {str(k): self.trace.arg(v) for k, v in kwargs.items()}
            out = func(*args, **kwargs)
            op = "aten.lift_fresh_copy.default" if func is lift_fresh else str(func)
            if isinstance(out, bool | int | float | complex):
                raise DataDependentError(f"forward reads a tensor's value into Python ({op}: an if, a loop or "
                                         ".item() on the data?), so its graph would hold the example's way only")
            self.trace.node(op, plain_args, plain_kwargs, out)
            return out

    return Recorder


class DataDependentError(RuntimeError):
    """What export says of a forward that branches on the data, said by the recorder."""


class DetachedOutput(RuntimeError):
    """What export says of a forward that leaves the operators (x.numpy()), said by the recorder."""


class _Trace:
    """The nodes and tensors of one recording; tensors are known by identity (all kept alive meanwhile)."""

    def __init__(self, torch: Any, model: Any, example: Any) -> None:
        self.torch = torch
        self.names: dict[int, str] = {id(example): "x"}
        self.alive: list[Any] = [example]
        self.nodes: list[dict[str, Any]] = []
        self.tensors: list[dict[str, Any]] = []
        self.counts: dict[str, int] = {}
        self.held: list[tuple[Any, Any]] = []  # the model's parameters and buffers, and their values before forward
        self.attributes: dict[int, str] = {}  # plain tensor attributes of the model's modules: constants
        for prefix, module in model.named_modules():
            for key, value in vars(module).items():
                if isinstance(value, torch.Tensor):
                    self.attributes.setdefault(id(value), f"{prefix}.{key}" if prefix else key)
        kinds = [("p", "parameter", model.named_parameters()), ("b", "buffer", model.named_buffers())]
        for letter, kind, named in kinds:
            for target, value in named:
                self.hold(value, f"{letter}_{target.replace('.', '_')}", kind, target)
                self.held.append((value, self.tensors[-1]["value"]))

    def hold(self, value: Any, name: str, kind: str, target: str) -> str:
        self.names[id(value)] = name
        self.alive.append(value)
        self.tensors.append({"name": name, "kind": kind, "target": target,
                             "requires_grad": bool(value.requires_grad), "value": value.detach().clone()})
        return name

    def restore(self) -> None:
        """The model's tensors as they were before forward (one may change them in place)."""
        with self.torch.no_grad():
            for tensor, value in self.held:
                if not self.torch.equal(tensor, value):
                    tensor.copy_(value)

    def ref(self, value: Any) -> dict[str, str]:
        name = self.names.get(id(value))
        if name is None:  # made in forward outside the operators (torch.tensor, a plain attribute): a constant
            target = self.attributes.get(id(value)) or f"lifted_tensor_{self._count('lifted')}"
            name = self.hold(value, f"c_{target.replace('.', '_')}", "constant", target)
        return {"node": name}

    def arg(self, value: Any) -> Any:
        if isinstance(value, self.torch.Tensor):
            return self.ref(value)
        if isinstance(value, list | tuple):
            return [self.arg(v) for v in value]
        return _arg(value)

    def node(self, op: str, args: Any, kwargs: dict[str, Any], out: Any) -> None:
        name = self._name(op.split(".")[1] if op.count(".") == 2 else op.rsplit(".", 1)[-1])
        self.nodes.append({"name": name, "op": op, "args": args, "kwargs": kwargs})
        if isinstance(out, self.torch.Tensor):
            self.names[id(out)] = name
            self.alive.append(out)
        elif isinstance(out, list | tuple):
            for index, element in enumerate(out):
                if isinstance(element, self.torch.Tensor):
                    self.node("getitem", [{"node": name}, index], {}, element)

    def _name(self, base: str) -> str:
        count = self._count(base)
        return f"{base}_{count}" if count else base

    def _count(self, what: str) -> int:
        count = self.counts[what] = self.counts.get(what, -1) + 1
        return count

    def sources(self, outputs: list[Any]) -> set[str]:
        """The names the outputs are computed from: nodes, tensors and the input."""
        found, todo = set(), _node_refs(outputs)
        by_name = {n["name"]: n for n in self.nodes}
        while todo:
            name = todo.pop()
            if name not in found:
                found.add(name)
                node = by_name.get(name)
                if node is not None:
                    todo.extend(_node_refs([node["args"], list(node["kwargs"].values())]))
        return found

    def used(self, outputs: list[Any]) -> list[dict[str, Any]]:
        """The nodes the outputs depend on, and those that change a tensor in place (and theirs)."""
        needed = self.sources([*outputs, *({"node": n["name"]} for n in self.nodes if _in_place(n["op"]))])
        return [n for n in self.nodes if n["name"] in needed]


def _in_place(op: str) -> bool:
    """aten.relu_.default, aten.add_.Tensor: the operator changes its first argument."""
    parts = op.split(".")
    return len(parts) == 3 and parts[1].endswith("_")


def _node_refs(value: Any) -> list[str]:
    """The node names {"node": name} in `value`. (graph.py reads them the same way, on the grader's
    side; the child side imports none of the grader's modules: tests/test_protocol.py.)"""
    if isinstance(value, dict):
        return [value["node"]] if isinstance(value.get("node"), str) else []
    if isinstance(value, list | tuple):
        return [name for v in value for name in _node_refs(v)]
    return []


def _recorded(torch: Any, recorder: Any, model: Any, example: Any) -> dict[str, Any]:
    example = example.clone()  # forward may change its input in place; the caller's stays as it was
    trace = _Trace(torch, model, example)
    try:
        with torch._C._EnablePythonDispatcher(), recorder(trace):
            result = model(example)
    finally:
        trace.restore()
    outputs = [trace.arg(leaf) for leaf in torch.utils._pytree.tree_leaves(result)]
    if outputs and "x" not in trace.sources(outputs[:1]):
        raise DetachedOutput("forward's output does not come from its input through tensor operators (numpy, "
                             "Python numbers or a stored answer on the way?), so its graph would only repeat "
                             "what it gave the example")
    return {"version": GRAPH_VERSION, "inputs": ["x"], "input_shape": list(example.shape), "tensors": trace.tensors,
            "other_inputs": [], "nodes": trace.used(outputs), "outputs": outputs}


# -- torch.export's program, where the recorder cannot run --------------------------------------------

def _program(program: Any, example: Any) -> dict[str, Any]:
    inputs, tensors, other = [], [], []
    for spec in program.graph_signature.input_specs:
        kind, name = spec.kind.name, spec.arg.name
        if kind == "USER_INPUT":
            inputs.append(name)
        elif kind in _TENSOR_KINDS:
            value = program.state_dict.get(spec.target)
            value = program.constants.get(spec.target) if value is None else value
            tensors.append({"name": name, "kind": _TENSOR_KINDS[kind], "target": str(spec.target),
                            "requires_grad": bool(getattr(value, "requires_grad", False)),
                            "value": value.detach() if value is not None else None})
        else:
            other.append(kind.lower())
    nodes, outputs = [], []
    for node in program.graph.nodes:
        if node.op == "call_function":
            nodes.append({"name": node.name, "op": _op_name(node.target), "args": _arg(node.args),
                          "kwargs": {str(k): _arg(v) for k, v in node.kwargs.items()}})
        elif node.op == "output":
            outputs = _arg(node.args[0])
        elif node.op != "placeholder":
            nodes.append({"name": node.name, "op": node.op, "args": [], "kwargs": {}})
    return {"version": GRAPH_VERSION, "inputs": inputs, "input_shape": list(example.shape), "tensors": tensors,
            "other_inputs": other, "nodes": nodes, "outputs": outputs if isinstance(outputs, list) else [outputs]}


def _op_name(target: Any) -> str:
    """"aten.linear.default" for an ATen operator, "getitem" for tuple indexing, else its module and name."""
    if target is operator.getitem:
        return "getitem"
    if type(target).__name__ == "OpOverload":
        return str(target)
    return f"{getattr(target, '__module__', '?')}.{getattr(target, '__name__', type(target).__name__)}"


def _arg(value: Any) -> Any:
    """An argument of a node as plain data: {"node": name} for another node's value."""
    kind = type(value)
    if value is None or kind in (bool, int, float, str):
        return value
    if isinstance(value, list | tuple):  # fx's immutable_list too
        return [_arg(v) for v in value]
    if kind.__name__ == "Node":
        return {"node": str(value.name)}
    if kind.__name__ == "dtype":
        return {"dtype": str(value).removeprefix("torch.")}
    if kind.__name__ == "device":
        return {"device": str(value)}
    return {"other": f"{kind.__module__}.{kind.__name__}"}


# -- models the grader specifies, built here from plain data -----------------------------------------

def model_of(spec: dict[str, Any]) -> Any:
    """A model the grader specifies (grader/given.py), built in the student's process to try `train` or
    `predict` on: `{"layers": [{"kind": "linear", "weight", "bias", "trainable"}, {"kind": "relu"},
    {"kind": "flatten"}, {"kind": "still"}]}` as an nn.Sequential."""
    torch = sys.modules["torch"]
    return torch.nn.Sequential(*(_layer(torch, layer) for layer in spec["layers"]))


def _layer(torch: Any, layer: dict[str, Any]) -> Any:
    kind = layer["kind"]
    if kind == "relu":
        return torch.nn.ReLU()
    if kind == "flatten":
        return torch.nn.Flatten()
    if kind == "still":
        return _Still.make(torch)
    if kind != "linear":
        raise ValueError(f"unknown layer {kind!r}")
    weight, bias = layer["weight"], layer["bias"]
    linear = torch.nn.Linear(weight.shape[1], weight.shape[0])
    with torch.no_grad():
        linear.weight.copy_(weight)
        linear.bias.copy_(bias)
    return linear.requires_grad_(bool(layer["trainable"]))


class _Still:
    """A layer that adds 0 × a trainable number: an optimizer has a parameter to hold, backward a
    gradient (zero) to compute, and the model's output never changes, whatever train does."""

    @staticmethod
    def make(torch: Any) -> Any:
        class Still(torch.nn.Module):  # type: ignore[misc, name-defined]
            def __init__(self) -> None:
                super().__init__()
                self.weight = torch.nn.Parameter(torch.zeros(()))

            def forward(self, x: Any) -> Any:
                return x + 0.0 * self.weight

        return Still()
