"""Multi-class training defaults over four minibatch protocols on the 4-class imbalanced set of
examples/multiclass.py: cross-entropy, the paper's loss and softer amplifiers with a cross-entropy blend and
running counts; held-out macro-F1 over 16 seeds (docs/training.md, "Multi-class and multi-label").

    python docs/training/multiclass_protocols.py A B C D     # about 4 minutes a protocol
"""

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import f1_score

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples"))
from multiclass import CLASSES, data  # noqa: E402

from metricc import compile_metric  # noqa: E402

# name: (learning rate, epochs, batch, hidden layers)
PROTOCOLS = {"A": (1e-3, 30, 256, (64, 64)), "B": (1e-2, 40, 128, (32,)), "C": (1e-2, 30, 256, (64, 64)),
             "D": (1e-3, 40, 128, (32,))}


def metricc_loss(**options):
    return lambda: compile_metric("f1", task="multiclass", num_classes=CLASSES).to_torch(**options)


LOSSES = {"cross-entropy": torch.nn.CrossEntropyLoss,
          "paper's loss (L 73)": metricc_loss(pure=True),
          "L 73, CE 0.1": metricc_loss(pure=True, bce_weight=0.1),
          "L 30, CE 0.1": metricc_loss(L=30, bce_weight=0.1, momentum=0),
          "L 15, CE 0.1": metricc_loss(L=15, bce_weight=0.1, momentum=0),
          "L 15, CE 0.1, running 0.9 (the default)": metricc_loss()}


def train(make_loss, X, y, seed, lr, epochs, batch, hidden, classes=CLASSES):
    """A ReLU MLP with the `hidden` layers' widths, trained with Adam in shuffled minibatches."""
    torch.manual_seed(seed)
    layers, width = [], X.shape[1]
    for size in hidden:
        layers += [torch.nn.Linear(width, size), torch.nn.ReLU()]
        width = size
    model = torch.nn.Sequential(*layers, torch.nn.Linear(width, classes))
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = make_loss()
    for _ in range(epochs):
        for rows in torch.randperm(len(X)).split(batch):
            optimizer.zero_grad()
            loss_fn(model(X[rows]), y[rows]).backward()
            optimizer.step()
    return model.eval()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("protocols", nargs="*", default=list(PROTOCOLS), choices=list(PROTOCOLS))
    parser.add_argument("--seeds", type=int, default=16)
    args = parser.parse_args()
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")  # (scikit-learn's warning for a class never predicted: its F1 counts as 0)
    for protocol in args.protocols:
        scores = {loss: [] for loss in LOSSES}
        for seed in range(args.seeds):
            X, y, X_test, y_test = data(seed, 4000)
            for loss, make_loss in LOSSES.items():
                model = train(make_loss, X, y, seed, *PROTOCOLS[protocol])
                with torch.no_grad():
                    scores[loss].append(f1_score(y_test, model(X_test).argmax(1).numpy(), average="macro"))
        lr, epochs, batch, hidden = PROTOCOLS[protocol]
        print(f"protocol {protocol}: {'x'.join(map(str, hidden))} ReLU MLP, Adam {lr:g}, batch {batch}, {epochs} "
              f"epochs; test macro-F1 over {args.seeds} seeds")
        for loss, values in scores.items():
            values = np.array(values)
            print(f"  {loss:>40}: {values.mean():.4f} ± {values.std(ddof=1) / np.sqrt(len(values)):.4f} "
                  f"(min {values.min():.3f})", flush=True)


if __name__ == "__main__":
    main()
