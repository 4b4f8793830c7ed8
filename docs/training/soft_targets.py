"""Class-probability targets with a multi-class metric loss: label smoothing and mixup, with cross-entropy and
with metricc's macro-F1 loss, on the 4-class imbalanced problem of examples/multiclass.py, trained in
minibatches (where both are used). Prints the held-out macro-F1, mean and standard error over the seeds.

    python docs/training/soft_targets.py [--seeds 8]
"""

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import f1_score

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples"))
from multiclass import CLASSES, data  # noqa: E402  (the example's data: 75/15/7/3 %)

from metricc import compile_metric  # noqa: E402

SMOOTHING, MIXUP_ALPHA = 0.1, 0.4


def soft(labels, smoothing):
    """One-hot rows of the class indices, smoothed: 1 - smoothing + smoothing / C on the class."""
    return torch.nn.functional.one_hot(labels, CLASSES).float() * (1 - smoothing) + smoothing / CLASSES


def train(loss_name, targets, X, y, seed, epochs=40, batch=128):
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(X.shape[1], 32), torch.nn.ReLU(), torch.nn.Linear(32, CLASSES))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    loss_fn = (torch.nn.CrossEntropyLoss() if loss_name == "cross-entropy" else
               compile_metric("f1", task="multiclass", num_classes=CLASSES).to_torch())
    beta = torch.distributions.Beta(MIXUP_ALPHA, MIXUP_ALPHA)
    for _ in range(epochs):
        for rows in torch.randperm(len(X)).split(batch):
            x, target = X[rows], y[rows]
            if targets == "label smoothing":
                target = soft(target, SMOOTHING)
            elif targets == "mixup":
                lam, other = float(beta.sample()), torch.randperm(len(rows))
                x = lam * x + (1 - lam) * x[other]
                target = lam * soft(target, 0) + (1 - lam) * soft(target[other], 0)
            optimizer.zero_grad()
            loss_fn(model(x), target).backward()
            optimizer.step()
    return model.eval()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=8)
    args = parser.parse_args()
    torch.set_num_threads(1)
    runs = [(loss, targets) for loss in ("cross-entropy", "metricc macro-F1")
            for targets in ("class indices", "label smoothing", "mixup")]
    scores = {run: [] for run in runs}
    for seed in range(args.seeds):
        X_train, y_train, X_test, y_test = data(seed, 4000)
        for run in runs:
            model = train(*run, X_train, y_train, seed)
            with torch.no_grad():
                scores[run].append(f1_score(y_test, model(X_test).argmax(1).numpy(), average="macro"))
    print(f"| loss | targets | test macro-F1 ({args.seeds} seeds, mean ± s.e.) | vs class indices (paired) |")
    print("|---|---|---|---|")
    for loss, targets in runs:
        values = np.array(scores[loss, targets])
        difference = values - np.array(scores[loss, "class indices"])
        paired = "–" if targets == "class indices" else \
            f"{difference.mean():+.4f} ± {difference.std(ddof=1) / np.sqrt(len(values)):.4f}"
        print(f"| {loss} | {targets} | {values.mean():.4f} ± {values.std(ddof=1) / np.sqrt(len(values)):.4f} | "
              f"{paired} |")
    print(f"(label smoothing {SMOOTHING}, mixup alpha {MIXUP_ALPHA}; per seed: "
          + "; ".join(f"{loss} {targets}: " + ", ".join(f"{v:.3f}" for v in scores[loss, targets])
                      for loss, targets in runs) + ")")


if __name__ == "__main__":
    main()
