"""toy2d-classifiers: honest models, but the module replaces the probe's export (grader.export.graph_of, in
its own process) by one that rewrites each graph's input_shape: [2**27, 2] for the exports on a batch of 64
(the grader once zeroed a batch of that shape before any bound: 2.9 GB of its own memory) and
[float("inf"), 2] for those on a batch of 8 (an OverflowError: "the grader could not judge this check").
The grader knows the example batch it sent for each export: a graph claiming another input shape (or one
that is not exact ints) is refused before anything of that shape is made. The models lose their marks, and
so does train/loss-goes-down (the grader's logistic regression comes back forged too)."""
# assignment: toy2d-classifiers
import importlib

import torch
from torch import nn

_export = importlib.import_module("grader.export")
_real_graph_of = _export.graph_of


def _forged_graph_of(model, example):
    graph = _real_graph_of(model, example)
    if isinstance(graph, dict) and "input_shape" in graph:
        rows, *rest = graph["input_shape"]
        graph["input_shape"] = [float("inf") if rows == 8 else 2**27, *rest]
    return graph


_export.graph_of = _forged_graph_of


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
