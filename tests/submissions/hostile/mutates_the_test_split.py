"""toy2d-classifiers: honest models and training, but each model's forward, in eval mode only (as the grader
exports it and runs it), first zeroes its input in place (`x.mul_(0.0)`, recorded as aten.mul_). The grader
runs the exported graph itself, on the rows of its own splits: a full batch was a view of the split (the same
tensors for every submission one process grades, kept by grader/datasets.py), so the operator zeroed the
grader's test split, and the training inputs it sends, for every classmate graded after it in that process
(an honest classmate fell from 37/37 to 20/37). The graph now runs on a copy of its inputs: this submission
loses the accuracy of its own models (they see zeros, whatever the grader sends), and a classmate graded right
after it, in the same process, keeps full marks (tests/test_forgery_review.py grades the two in turn)."""
# assignment: toy2d-classifiers
import torch
from torch import nn


class Zeroing(nn.Module):
    """The identity while training; in eval mode, the input zeroed where it lies."""

    def forward(self, x):
        if not self.training:
            x.mul_(0.0)
        return x


def make_logistic_regression(in_features, n_classes):
    return nn.Sequential(Zeroing(), nn.Linear(in_features, n_classes))


def make_mlp(in_features, hidden, n_classes):
    return nn.Sequential(Zeroing(), nn.Linear(in_features, hidden), nn.ReLU(), nn.Linear(hidden, n_classes))


def make_random_features(in_features, hidden, n_classes):
    model = make_mlp(in_features, hidden, n_classes)
    model[1].requires_grad_(False)
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
