"""The student's model as plain data: its graph of ATen operators and its tensors (child side).

Runs in the sandbox, after the student's `train`: `torch.export` traces the model in eval mode
on an example batch of public inputs, and the program becomes names, numbers and tensors that
grader/codec.py carries back (never pickle). The grader checks the operators against its
allowlist and runs the graph itself, on test inputs that never enter this process
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
    """`model` exported in eval mode on `example` as plain data; {"error": why} when it cannot be."""
    torch = sys.modules["torch"]
    if not isinstance(model, torch.nn.Module):
        return {"error": f"the model is a {type(model).__name__}, not a torch.nn.Module"}
    was_training = model.training
    model.eval()
    try:
        program = torch.export.export(model, (example,), strict=False)
    except Exception as error:  # the student's forward: any error at all is the reason
        first = str(error).strip().splitlines()
        return {"error": f"{type(error).__name__}: {first[0] if first else ''}"[:600]}
    finally:
        model.train(was_training)
    return _program(program, example)


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
