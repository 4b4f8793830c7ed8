"""A 4-class imbalanced problem: the same multinomial logistic regression trained with cross-entropy and with
metricc's macro-F1 loss, compared on held-out macro-F1 (mean over a few splits).

    python examples/multiclass.py [--quick]
"""

import argparse
import statistics

import torch
from sklearn.datasets import make_classification
from sklearn.metrics import f1_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from metricc import compile_metric

CLASSES = 4


def data(seed, n_samples):
    X, y = make_classification(n_samples=n_samples, n_features=12, n_informative=6, n_classes=CLASSES,
                               n_clusters_per_class=1, weights=[0.75, 0.15, 0.07, 0.03], class_sep=1.0,
                               flip_y=0.01, random_state=seed)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, stratify=y, random_state=seed)
    scaler = StandardScaler().fit(X_train)
    return (torch.tensor(scaler.transform(X_train), dtype=torch.float32), torch.tensor(y_train),
            torch.tensor(scaler.transform(X_test), dtype=torch.float32), y_test)


def train(loss_fn, X, y, epochs, seed):
    torch.manual_seed(seed)
    model = torch.nn.Linear(X.shape[1], CLASSES)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
    for _ in range(epochs):
        optimizer.zero_grad()
        loss_fn(model(X), y).backward()
        optimizer.step()
    return model.eval()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="one repeat, fewer samples and epochs (CI)")
    args = parser.parse_args()
    repeats, n_samples, epochs = (1, 2000, 150) if args.quick else (5, 4000, 300)
    losses = {"cross-entropy": torch.nn.CrossEntropyLoss(),
              "metricc macro-F1": compile_metric("f1", task="multiclass", num_classes=CLASSES,
                                                 average="macro").to_torch(pure=True)}  # full batch: the exact loss
    scores = {name: [] for name in losses}
    for seed in range(repeats):
        X_train, y_train, X_test, y_test = data(seed, n_samples)
        for name, loss_fn in losses.items():
            model = train(loss_fn, X_train, y_train, epochs, seed)
            with torch.no_grad():
                predicted = model(X_test).argmax(1).numpy()
            scores[name].append(f1_score(y_test, predicted, average="macro"))
    print(f"{CLASSES} classes (75/15/7/3 %), {n_samples} samples, {repeats} repeat(s)")
    for name, values in scores.items():
        print(f"{name:>16} loss: test macro-F1 = {statistics.mean(values):.3f} "
              f"(per repeat: {', '.join(f'{v:.3f}' for v in values)})")


if __name__ == "__main__":
    main()
