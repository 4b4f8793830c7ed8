"""Which soft one-hot for multi-class losses? Trains the examples/multiclass.py model with a macro-F1 loss built
on three soft one-hots (autograd through a plain implementation, so that only the soft one-hot differs) and
prints held-out macro-F1, mean over 5 splits.

    python docs/soft_onehot_experiment.py
"""

import statistics
import sys
from pathlib import Path

import torch
from sklearn.metrics import f1_score

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))
from multiclass import CLASSES, data  # noqa: E402

L = 73.0
SOFT_ONE_HOTS = {
    "softmax(z) (no amplifier)": lambda z: torch.softmax(z, 1),
    "softmax(L/4 * z) (sharpened logits)": lambda z: torch.softmax(z * L / 4, 1),
    "softmax(L/2 * softmax(z)) (metricc)": lambda z: torch.softmax(torch.softmax(z, 1) * L / 2, 1),
}


def macro_f1_loss(soft_one_hot):
    def loss(z, y):
        yh = soft_one_hot(z)
        Y = torch.nn.functional.one_hot(y, CLASSES).float()
        TP, FP, FN = (Y * yh).sum(0), ((1 - Y) * yh).sum(0), (Y * (1 - yh)).sum(0)
        return 1 - (2 * TP / (2 * TP + FP + FN + 1e-6)).mean()
    return loss


def main():
    results = {name: [] for name in SOFT_ONE_HOTS}
    for seed in range(5):
        X_train, y_train, X_test, y_test = data(seed, 4000)
        for name, soft_one_hot in SOFT_ONE_HOTS.items():
            torch.manual_seed(seed)
            model = torch.nn.Linear(X_train.shape[1], CLASSES)
            optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
            loss_fn = macro_f1_loss(soft_one_hot)
            for _ in range(300):
                optimizer.zero_grad()
                loss_fn(model(X_train), y_train).backward()
                optimizer.step()
            with torch.no_grad():
                results[name].append(f1_score(y_test, model(X_test).argmax(1).numpy(), average="macro"))
    for name, values in results.items():
        print(f"{name:<40} macro-F1 = {statistics.mean(values):.3f} ({', '.join(f'{v:.3f}' for v in values)})")


if __name__ == "__main__":
    main()
