"""The model as the grader runs it: exported here (grader/export.py, as the probe does in the
sandbox), carried through the real codec, checked against the allowlist and run by grader/graph.py."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from grader import export
from grader.codec import Decoder, Encoder
from grader.export import graph_of
from grader.graph import Graph, GraphError, graph_problem, read_graph, run_graph, structure_change


class FunctionalMLP(nn.Module):
    """A correct MLP whose forward applies F.relu: no nn.ReLU module anywhere."""

    def __init__(self) -> None:
        super().__init__()
        self.first, self.last = nn.Linear(2, 8), nn.Linear(8, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.last(F.relu(self.first(x)))


class FunctionalCNN(nn.Module):
    """Pooling by function, a view that bakes in the batch size, dropout and batch norm."""

    def __init__(self) -> None:
        super().__init__()
        self.conv, self.norm = nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4)
        self.fc, self.drop = nn.Linear(4 * 4 * 4, 10), nn.Dropout(0.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(F.relu(self.norm(self.conv(x))), 2)
        return F.log_softmax(self.fc(self.drop(x.view(x.size(0), -1))), dim=1)


class NearestNeighbour(nn.Module):
    """The training split kept in a buffer, answered by distance: a lookup, not a network."""

    def __init__(self, points: torch.Tensor, labels: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("points", points)
        self.register_buffer("labels", labels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nearest = torch.cdist(x, self.points).argmin(dim=1)
        return F.one_hot(self.labels[nearest], 3).float()


class TableInABuffer(nn.Module):
    """A large table of data used with allowed operators only."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("table", torch.randn(3, 5000))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.sum(dim=1, keepdim=True) * self.table.sum(dim=1)


def through_the_codec(value: object, tmp_path: Path) -> object:
    """What the grader decodes of `value` written by the probe's encoder."""
    encoded = Encoder(tmp_path, prefix="r1").encode(value)
    folder = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        return Decoder(folder).decode(encoded)
    finally:
        os.close(folder)


def exported(model: nn.Module, example: torch.Tensor, tmp_path: Path) -> Graph | str:
    graph = read_graph(through_the_codec(graph_of(model, example), tmp_path))
    return graph if isinstance(graph, str) else graph_problem(graph) or graph


def test_the_grader_runs_the_model_as_the_student_does(tmp_path: Path) -> None:
    model = FunctionalCNN().eval()
    graph = exported(model, torch.randn(16, 1, 8, 8), tmp_path)
    assert isinstance(graph, Graph)
    images = torch.randn(37, 1, 8, 8)  # not a multiple of the exported batch
    assert torch.allclose(run_graph(graph, images), model(images), atol=1e-5)
    assert graph.layers() == ("convolution", "relu", "pooling", "linear")
    assert model.training is False


def test_structure_is_read_from_what_runs(tmp_path: Path) -> None:
    """The false fail of issue 13: F.relu in forward is a ReLU."""
    graph = exported(FunctionalMLP(), torch.randn(8, 2), tmp_path)
    assert isinstance(graph, Graph)
    assert graph.outline() == "linear(2→8) → relu → linear(8→3)"
    assert sum(p.value.numel() for p in graph.parameters) == 3 * 8 + 9 * 3


def test_a_model_of_lazy_modules_is_exported_as_built(tmp_path: Path) -> None:
    """LazyLinear takes its shape from a first forward: the export runs it, so the model as built is graded."""
    model = nn.Sequential(nn.LazyLinear(8), nn.ReLU(), nn.Linear(8, 3))
    graph = exported(model, torch.randn(8, 2), tmp_path)
    assert isinstance(graph, Graph), graph
    assert graph.outline() == "linear(2→8) → relu → linear(8→3)"
    assert torch.allclose(run_graph(graph, torch.ones(5, 2)), model.eval()(torch.ones(5, 2)), atol=1e-6)


def test_export_keeps_the_training_mode_and_frozen_flags(tmp_path: Path) -> None:
    model = FunctionalMLP().train()
    model.first.requires_grad_(False)
    graph = exported(model, torch.randn(4, 2), tmp_path)
    assert isinstance(graph, Graph) and model.training
    assert {p.target: p.requires_grad for p in graph.parameters} == {
        "first.weight": False, "first.bias": False, "last.weight": True, "last.bias": True}


def test_a_lookup_of_the_data_fails_the_allowlist_naming_the_operator(tmp_path: Path) -> None:
    problem = exported(NearestNeighbour(torch.randn(50, 2), torch.randint(0, 3, (50,))), torch.randn(8, 2), tmp_path)
    assert isinstance(problem, str) and "aten.cdist" in problem and "looks data up" in problem
    assert "nn.Linear" in problem  # what to use instead


def test_a_table_in_a_buffer_fails_the_allowlist(tmp_path: Path) -> None:
    problem = exported(TableInABuffer(), torch.randn(8, 2), tmp_path)
    assert isinstance(problem, str) and "buffer table of 15,000 values" in problem


def test_a_model_that_cannot_be_exported_is_told_why(tmp_path: Path) -> None:
    class DataDependent(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x if x.sum() > 0 else -x

    problem = exported(DataDependent(), torch.randn(4, 2), tmp_path)
    assert isinstance(problem, str) and "could not be exported" in problem
    assert "not a torch.nn.Module" in str(exported([1, 2], torch.randn(4, 2), tmp_path))  # type: ignore[arg-type]


class EverythingAtOnce(nn.Module):
    """In-place activations and sums, a registered buffer, a plain tensor attribute, a constant made in
    forward, slicing, a tuple-returning operator and a view: what export's bookkeeping must get right."""

    def __init__(self) -> None:
        super().__init__()
        self.conv, self.norm, self.fc = nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.Linear(64, 6)
        self.register_buffer("scale", torch.tensor(2.0))
        self.shift = torch.randn(3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(F.relu(self.norm(self.conv(x)), inplace=True), 2)
        x += x * self.scale
        low, high = self.fc(x.view(x.size(0), -1)).chunk(2, dim=1)
        return torch.max(low, high)[:, :3] + torch.tensor([0.5]) + self.shift


MODELS = [(FunctionalMLP, (8, 2)), (FunctionalCNN, (16, 1, 8, 8)), (EverythingAtOnce, (5, 1, 8, 8))]


@pytest.mark.parametrize(("make", "shape"), MODELS, ids=[m.__name__ for m, _ in MODELS])
def test_the_recorder_gives_torch_exports_graph(make: type[nn.Module], shape: tuple[int, ...], tmp_path: Path) -> None:
    """The recorder (graph_of) against torch.export's own program of the same model: the operators
    that run, the tensors with their kinds, names and values, and what the grader computes."""
    torch.manual_seed(0)
    model, example = make().eval(), torch.randn(*shape)
    ours = read_graph(through_the_codec(graph_of(model, example), tmp_path))
    theirs = read_graph(export._program(torch.export.export(model, (example,), strict=False), example))
    assert isinstance(ours, Graph) and isinstance(theirs, Graph)
    assert [n.op for n in ours.used()] == [n.op for n in theirs.used()]
    assert [(t.name, t.kind, t.target, t.requires_grad) for t in ours.tensors] == \
        [(t.name, t.kind, t.target, t.requires_grad) for t in theirs.tensors]
    assert all(torch.equal(a.value, b.value) for a, b in zip(ours.tensors, theirs.tensors, strict=True))
    inputs = torch.randn(2 * shape[0], *shape[1:])
    assert torch.allclose(run_graph(ours, inputs), run_graph(theirs, inputs))
    assert torch.allclose(run_graph(ours, inputs), model(inputs), atol=1e-5)


def test_recording_leaves_the_model_and_the_example_as_they_were(tmp_path: Path) -> None:
    """Real tensors run through forward: one that changes its weights and its input in place changes
    neither the student's model nor the example (export's fake tensors change nothing either); a print
    in forward adds nothing to the graph."""

    class Meddles(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(2, 3)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            print(x[:1])
            self.fc.bias.data.add_(1.0)
            return self.fc(x.mul_(2))

    model, example = Meddles(), torch.ones(4, 2)
    weights = [p.detach().clone() for p in model.parameters()]
    graph = exported(model, example, tmp_path)
    assert isinstance(graph, Graph) and graph.outline() == "linear(2→3)"
    assert all(torch.equal(p, w) for p, w in zip(model.parameters(), weights, strict=True))
    assert torch.equal(example, torch.ones(4, 2))
    assert torch.allclose(run_graph(graph, torch.ones(4, 2)), nn.functional.linear(torch.full((4, 2), 2.0), *weights))


def test_exporting_imports_neither_dynamo_nor_inductor() -> None:
    """The recorder's point: torch.export imports torch._dynamo and torch._inductor (1 s) on its first use."""
    script = ("import sys, torch\nfrom grader.export import graph_of\n"
              "graph = graph_of(torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU()), torch.zeros(4, 2))\n"
              "print([n['op'] for n in graph['nodes']], sorted(m for m in sys.modules if m in "
              "('torch._dynamo', 'torch._inductor')))")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.strip() == "['aten.linear.default', 'aten.relu.default'] []"


def test_dropout_forced_on_is_refused(tmp_path: Path) -> None:
    class AlwaysDropping(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return F.dropout(x, 0.5, training=True)

    problem = exported(AlwaysDropping(), torch.randn(4, 2), tmp_path)
    assert isinstance(problem, str) and "dropout in eval mode" in problem


@pytest.mark.parametrize("op", ["aten.index.Tensor", "aten.embedding.default", "builtins.eval", "call_module",
                                "aten.add.out"])
def test_operators_outside_the_allowlist_are_named(op: str) -> None:
    value = {"inputs": ["x"], "input_shape": [2, 2], "tensors": [], "outputs": [{"node": "y"}],
             "nodes": [{"name": "y", "op": op, "args": [{"node": "x"}], "kwargs": {}}]}
    graph = read_graph(value)
    assert isinstance(graph, Graph)
    assert op in (graph_problem(graph) or "")


def test_malformed_graphs_are_reasons_not_exceptions() -> None:
    for value in (None, {"inputs": "x"}, {"inputs": ["x", "y"], "nodes": []}, [1]):
        assert isinstance(read_graph(value), str)
    odd = read_graph({"inputs": ["x"], "input_shape": [2, 2], "tensors": [], "outputs": [{"node": "y"}],
                      "nodes": [{"name": "y", "op": "aten.relu.default", "args": [{"other": "x"}], "kwargs": {}}]})
    assert isinstance(odd, Graph) and "cannot be read" in (graph_problem(odd) or "")


def test_a_graph_that_fails_on_the_grader_inputs_says_where() -> None:
    graph = read_graph({"inputs": ["x"], "input_shape": [2, 3], "tensors": [], "outputs": [{"node": "y"}],
                        "nodes": [{"name": "y", "op": "aten.view.default", "args": [{"node": "x"}, [5, 7]],
                                   "kwargs": {}}]})
    assert isinstance(graph, Graph) and graph_problem(graph) is None
    with pytest.raises(GraphError, match="failed at aten.view.default"):
        run_graph(graph, torch.randn(4, 3))
    with pytest.raises(GraphError, match="exported for inputs of shape"):
        run_graph(graph, torch.randn(4, 2))


def _relu_graph(input_shape: object, output: str = "y") -> dict:
    return {"inputs": ["x"], "input_shape": input_shape, "tensors": [], "outputs": [{"node": output}],
            "nodes": [{"name": "y", "op": "aten.relu.default", "args": [{"node": "x"}], "kwargs": {}}]}


def test_a_forged_input_shape_is_refused_before_anything_of_it_is_made() -> None:
    """hostile/forges_input_shape.py: the grader knows the example batch it sent for the export."""
    assert isinstance(read_graph(_relu_graph([64, 2]), (64, 2)), Graph)
    for forged in ([2**27, 2], [10**4000, 2], [64] * 10**5):
        problem = read_graph(_relu_graph(forged), (64, 2))
        assert isinstance(problem, str) and "did not come from that export" in problem and len(problem) < 300
    for odd in ([float("inf"), 2], [64.0, 2], [True, 2], "64", 64):
        assert read_graph(_relu_graph(odd), (64, 2)) == "the model's graph could not be read", odd


def test_an_output_that_names_no_operator_is_a_graph_error() -> None:
    graph = read_graph(_relu_graph([2, 2], output="nowhere"), (2, 2))
    assert isinstance(graph, Graph) and graph_problem(graph) is None
    with pytest.raises(GraphError, match="names an output that no operator computes"):
        run_graph(graph, torch.randn(3, 2))


def test_train_may_change_values_only(tmp_path: Path) -> None:
    """The graph after train has the structure of the graph as built (grader/graph.py structure_change): values
    of parameters and of batch norm's running statistics change, nothing else may (lookup_installed_by_train.py)."""
    example = torch.randn(16, 1, 8, 8)
    model = FunctionalCNN()
    before = exported(model.eval(), example, tmp_path)
    model.train()(torch.randn(32, 1, 8, 8) * 3 + 1).sum().backward()  # running statistics move
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(parameter.grad)
    after = exported(model.eval(), example, tmp_path)
    assert isinstance(before, Graph) and isinstance(after, Graph)
    assert not torch.equal(before.tensor("b_norm_running_mean").value, after.tensor("b_norm_running_mean").value)
    assert structure_change(before, after) is None
    model.register_buffer("memory", torch.randn(40, 64))
    original = model.forward
    model.forward = lambda x: original(x) + (x.flatten(1) @ model.memory.t()).sum(1, keepdim=True)  # type: ignore
    wrapped = exported(model.eval(), example, tmp_path)
    assert isinstance(wrapped, Graph)
    change = structure_change(before, wrapped) or ""
    assert "added buffer memory (40×64 float32)" in change and "operators as built" in change
    model.fc.requires_grad_(False)
    del model.forward
    frozen = exported(model.eval(), example, tmp_path)
    assert isinstance(frozen, Graph)
    assert "changed parameter fc.weight (10×64 float32) to parameter fc.weight (10×64 float32 frozen)" in \
        (structure_change(before, frozen) or "")
