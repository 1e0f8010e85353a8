"""toy2d-classifiers: honest models and training, written as the reference writes them (nn.Sequential), but
the module replaces the probe's export (grader.export.graph_of, in its own process) by one that turns every
tensor of every graph into float64: the graphs have the operators, names and shapes of any classmate's
nn.Sequential, and of the grader's own models (its logistic regression, its still model), which are the same
in every submission. The grader counts the work of a graph before it runs it (grader/graph_work.py) and kept
that count, or the refusal, by the graph's shape alone: this graph's refusal ("the model's graph failed at
aten.linear.default", float64 weights beside float32 inputs) was then every later graph's of that shape, so
that every classmate graded after it in the same process lost their models and train/loss-goes-down (an
honest classmate fell from 37/37 to 9/37). A count is now kept by the whole graph, dtypes and values too:
this submission loses what its own graphs cannot run (every model check but train/epoch-mean-loss' and
predict's), and a classmate graded right after it, in the same process, keeps full marks
(tests/test_forgery_review.py grades the two in turn)."""
# assignment: toy2d-classifiers
import importlib

import torch
from torch import nn

_export = importlib.import_module("grader.export")
_real_graph_of = _export.graph_of


def _float64_graph_of(model, example):
    graph = _real_graph_of(model, example)
    for tensor in graph.get("tensors", []) if isinstance(graph, dict) else []:
        tensor["value"] = tensor["value"].double()
    return graph


_export.graph_of = _float64_graph_of


def make_logistic_regression(in_features, n_classes):
    return nn.Sequential(nn.Linear(in_features, n_classes))


def make_mlp(in_features, hidden, n_classes):
    return nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU(), nn.Linear(hidden, n_classes))


def make_random_features(in_features, hidden, n_classes):
    model = make_mlp(in_features, hidden, n_classes)
    model[0].requires_grad_(False)
    return model


def train(model, X, y, epochs=300, lr=0.03):
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(trainable, lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    losses = []
    for _ in range(epochs):
        optimizer.zero_grad()
        loss = loss_fn(model(X), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def predict(model, X):
    with torch.no_grad():
        return model(X).argmax(dim=1)
