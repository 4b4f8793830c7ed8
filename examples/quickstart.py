"""Train the same small model on imbalanced data with BCE and with metricc's F1 loss, and compare F1 on
held-out data (mean over a few random splits and initialisations); BCE also with its decision threshold tuned
for F1 on the training set, the honest baseline.

    python examples/quickstart.py [--epochs 300] [--repeats 3]
"""

import argparse
import statistics

import torch
from sklearn.datasets import make_classification
from sklearn.metrics import f1_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from metricc import compile_metric


def data(seed):
    """A 9:1 imbalanced binary problem, split 70/30 with stratification and standardised on the train part."""
    X, y = make_classification(n_samples=4000, n_features=10, n_informative=4, weights=[0.9, 0.1],
                               class_sep=0.8, flip_y=0.02, random_state=seed)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, stratify=y, random_state=seed)
    scaler = StandardScaler().fit(X_train)
    as_tensor = lambda a: torch.tensor(a, dtype=torch.float32)  # noqa: E731
    return (as_tensor(scaler.transform(X_train)), as_tensor(y_train), as_tensor(scaler.transform(X_test)),
            y_test)


def train(loss_fn, X, y, epochs, seed):
    """A fresh two-layer network, trained full-batch with Adam; returns it in eval mode."""
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(X.shape[1], 16), torch.nn.ReLU(), torch.nn.Linear(16, 1))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.003)
    for _ in range(epochs):
        optimizer.zero_grad()
        loss = loss_fn(model(X).squeeze(1), y)
        loss.backward()
        optimizer.step()
    return model.eval()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=300, help="training epochs (default: 300)")
    parser.add_argument("--repeats", type=int, default=3, help="random splits and initialisations")
    args = parser.parse_args()
    for option, least in (("epochs", 1), ("repeats", 1)):
        if getattr(args, option.replace("-", "_")) < least:
            parser.error(f"--{option} must be at least {least}")

    f1 = compile_metric("f1")
    losses = {"BCE": torch.nn.BCEWithLogitsLoss(), "metricc F1": f1.to_torch()}
    scores = {"BCE": [], "BCE + tuned threshold": [], "metricc F1": []}
    for seed in range(args.repeats):
        X_train, y_train, X_test, y_test = data(seed)
        for name, loss_fn in losses.items():
            model = train(loss_fn, X_train, y_train, args.epochs, seed)
            with torch.no_grad():
                test_logits = model(X_test).squeeze(1).numpy()
                train_logits = model(X_train).squeeze(1).numpy()
            scores[name].append(f1_score(y_test, test_logits >= 0))
            if name == "BCE":  # what one would do instead of metricc: the F1-best cut-off on the training set
                threshold, _ = f1.tune_threshold(train_logits, y_train.numpy())
                scores["BCE + tuned threshold"].append(f1_score(y_test, test_logits >= threshold))
    print(f"9:1 imbalanced data, {len(y_train)} training and {len(y_test)} test samples, {args.repeats} repeats")
    for name, values in scores.items():
        print(f"{name:>21}: test F1 = {statistics.mean(values):.3f} "
              f"(per repeat: {', '.join(f'{v:.3f}' for v in values)})")


if __name__ == "__main__":
    main()
