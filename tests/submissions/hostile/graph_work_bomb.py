"""toy2d-classifiers: honest networks that train and predict as they should, but whose forward, in
eval mode only (as the grader exports it), adds zero times work the grader would do for it: a
chain of large matrix products (the MLPs), or one tensor of 67 million values (logistic
regression). The student's process runs it once per export, on a batch of 64; the grader runs
the exported graph itself on thousands of rows (a decision-boundary picture alone is 6,400), in
its own process, outside the sandbox's limits: unbounded, one such submission cost it a minute
of CPU. The grader counts a graph's work from its shapes before running it (grader/graph_work.py):
the tensor is refused outright, the chain once the grading's budget is spent, and the grader's
own trainer does not train either. The models lose their marks; train and predict keep theirs."""
# assignment: toy2d-classifiers
import torch
from torch import nn

DEPTH = 20


class WithProducts(nn.Module):
    def __init__(self, inner, in_features):
        super().__init__()
        self.inner = inner
        self.up = nn.Parameter(torch.randn(in_features, 1024) * 0.1, requires_grad=False)
        self.square = nn.Parameter(torch.randn(1024, 1024) * 0.03, requires_grad=False)

    def forward(self, x):
        out = self.inner(x)
        if self.training:
            return out
        z = torch.tanh(x @ self.up)
        for _ in range(DEPTH):
            z = torch.tanh(z @ self.square)
        return out + 0.0 * z.sum(dim=1, keepdim=True)


class WithHugeTensor(nn.Module):
    def __init__(self, inner, in_features):
        super().__init__()
        self.inner = inner
        self.wide = nn.Parameter(torch.randn(in_features, 1024), requires_grad=False)

    def forward(self, x):
        out = self.inner(x)
        if self.training:
            return out
        huge = torch.tanh((x @ self.wide).unsqueeze(2).expand(-1, 1024, 1024))
        return out + 0.0 * huge.mean(dim=(1, 2)).unsqueeze(1)


def make_logistic_regression(in_features, n_classes):
    return WithHugeTensor(nn.Linear(in_features, n_classes), in_features)


def make_mlp(in_features, hidden, n_classes):
    return WithProducts(nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU(), nn.Linear(hidden, n_classes)),
                        in_features)


def make_random_features(in_features, hidden, n_classes):
    model = make_mlp(in_features, hidden, n_classes)
    model.inner[0].requires_grad_(False)
    return model


def train(model, X, y, epochs=300, lr=0.03):
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(trainable, lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    losses = []
    model.train()
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
