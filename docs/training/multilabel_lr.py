"""Multi-label training defaults at two learning rates: `make_multilabel_classification` (5 labels, 4,000 rows,
12 seeds, a 70/30 split each), a 2x64 ReLU MLP, Adam, batches of 256, 30 epochs; test macro-F1 of BCE, the
paper's loss, the defaults and the defaults with a 0.1 BCE blend (docs/training.md, "Multi-class and
multi-label").

    python docs/training/multilabel_lr.py --lr 1e-3
    python docs/training/multilabel_lr.py --lr 1e-2
"""

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import make_multilabel_classification
from sklearn.metrics import f1_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, str(Path(__file__).resolve().parent))
import multiclass_protocols  # noqa: E402

from metricc import compile_metric  # noqa: E402

LABELS = 5


def metricc_loss(**options):
    return lambda: compile_metric("f1", task="multilabel", num_classes=LABELS).to_torch(**options)


LOSSES = {"BCE": torch.nn.BCEWithLogitsLoss, "paper's loss": metricc_loss(pure=True), "defaults": metricc_loss(),
          "defaults + BCE 0.1": metricc_loss(bce_weight=0.1)}


def train(make_loss, X, y, seed, lr):
    """The 2x64 MLP of docs/training/multiclass_protocols.py, one output per label, 30 epochs of batches of 256."""
    return multiclass_protocols.train(make_loss, X, y, seed, lr, 30, 256, (64, 64), LABELS)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seeds", type=int, default=12)
    args = parser.parse_args()
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")  # (scikit-learn's warning for a label never predicted: its F1 counts as 0)
    scores = {loss: [] for loss in LOSSES}
    for seed in range(args.seeds):
        X, Y = make_multilabel_classification(n_samples=4000, n_features=20, n_classes=LABELS, n_labels=1,
                                              random_state=seed)
        X_fit, X_test, y_fit, y_test = train_test_split(X, Y, test_size=0.3, random_state=seed)
        scaler = StandardScaler().fit(X_fit)
        X_fit, X_test = (torch.tensor(scaler.transform(v), dtype=torch.float32) for v in (X_fit, X_test))
        for loss, make_loss in LOSSES.items():
            model = train(make_loss, X_fit, torch.tensor(y_fit, dtype=torch.float32), seed, args.lr)
            with torch.no_grad():
                predicted = (model(X_test) >= 0).numpy().astype(int)
            scores[loss].append(f1_score(y_test, predicted, average="macro"))
    print(f"Adam {args.lr:g}, {args.seeds} seeds: test macro-F1, mean ± s.e. (lowest seed)")
    for loss, values in scores.items():
        values = np.array(values)
        print(f"  {loss:>20}: {values.mean():.4f} ± {values.std(ddof=1) / np.sqrt(len(values)):.4f} "
              f"({values.min():.3f})")


if __name__ == "__main__":
    main()
