"""toy2d-classifiers, honest models and training, but train's list of losses ends with 10**400: an int that
JSON carries and no float holds (math.isfinite, float() and :.4g formatting raise OverflowError on it, which
once made train's loss checks "could not judge"). A loss that is not a finite number is train's error: the two
checks that read the losses (train/loss-goes-down, train/epoch-mean-loss) fail, saying so; nothing else does."""
# assignment: toy2d-classifiers
import torch
import torch.nn.functional as F


class LogisticRegression(torch.nn.Module):
    def __init__(self, in_features, n_classes):
        super().__init__()
        self.linear = torch.nn.Linear(in_features, n_classes)

    def forward(self, x):
        return self.linear(x)


class OneHiddenLayer(torch.nn.Module):
    def __init__(self, in_features, hidden, n_classes, freeze_hidden=False):
        super().__init__()
        self.hidden = torch.nn.Linear(in_features, hidden)
        self.act = torch.nn.ReLU()
        self.out = torch.nn.Linear(hidden, n_classes)
        for p in self.hidden.parameters():
            p.requires_grad = not freeze_hidden

    def forward(self, x):
        return self.out(self.act(self.hidden(x)))


def make_logistic_regression(in_features, n_classes):
    return LogisticRegression(in_features, n_classes)


def make_mlp(in_features, hidden, n_classes):
    return OneHiddenLayer(in_features, hidden, n_classes)


def make_random_features(in_features, hidden, n_classes):
    return OneHiddenLayer(in_features, hidden, n_classes, freeze_hidden=True)


def train(model, X, y, epochs=120, batch_size=32, lr=0.1):
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.SGD(params, lr=lr, momentum=0.9)
    history = []
    n = len(X)
    for epoch in range(epochs):
        order = torch.randperm(n)
        total = 0.0
        for start in range(0, n, batch_size):
            idx = order[start:start + batch_size]
            loss = F.cross_entropy(model(X[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        history.append(total / n)
    history.append(10 ** 400)  # one epoch "loss" that is a 401-digit int: JSON carries it, float() cannot
    return history


@torch.no_grad()
def predict(model, X):
    return torch.argmax(model(X), dim=-1).long()
