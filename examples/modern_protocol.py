"""Metric losses on a modern training recipe: an MLP with two hidden layers of 64 ReLU units, Adam (lr 1e-3),
batches of 256, 30 epochs, 5 stratified folds, on the 24 synthetic sets of reproduce_paper.py --suite (and
diabetes with --data-dir). Losses: BCE (at 0.5, and with a threshold tuned on the training fold's own
predictions for each metric) and metricc's F1, G-mean and balanced-accuracy losses, with their defaults and with
the paper's pure loss (`pure=True`). A fold is "collapsed" when ≥ 99 % of its test predictions are one class.

    python examples/modern_protocol.py                        # the 24 synthetic sets
    python examples/modern_protocol.py --data-dir ../shared/data --out docs/training
    python examples/modern_protocol.py --quick                # 2 sets, 2 folds, 3 epochs (CI)
    python examples/modern_protocol.py --lr 1e-2 --blend 0.1  # ten times the learning rate, and a BCE blend
"""

import argparse
import csv
import sys
import time
from pathlib import Path

import numpy as np
import torch
from sklearn import metrics as skm
from sklearn.model_selection import StratifiedKFold
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reproduce_paper import read_csv, suite_datasets  # noqa: E402

from metricc import compile_metric  # noqa: E402

METRICS = {"F1": lambda y, p: skm.f1_score(y, p, zero_division=0),
           "G-mean": lambda y, p: float(np.sqrt(skm.recall_score(y, p, zero_division=0)
                                                * skm.recall_score(y, p, pos_label=0, zero_division=0))),
           "BA": skm.balanced_accuracy_score}
FORMULAS = {"F1": "f1", "G-mean": "gmean", "BA": "balanced_accuracy"}
KINDS = {"default": {}, "pure": {"pure": True}}  # the metric losses' settings; --blend adds "blend"


def mlp(features):
    return torch.nn.Sequential(torch.nn.Linear(features, 64), torch.nn.ReLU(), torch.nn.Linear(64, 64),
                               torch.nn.ReLU(), torch.nn.Linear(64, 1))


def fit(X, y, loss_fn, epochs, seed, lr=1e-3):
    """A fresh MLP trained on (X, y) with Adam at `lr`; returns its logits function."""
    torch.manual_seed(seed)
    model = mlp(X.shape[1])
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    X_t, y_t = torch.tensor(X, dtype=torch.float32), torch.tensor(y, dtype=torch.float32)
    generator = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        order = torch.randperm(len(y), generator=generator)
        for start in range(0, len(y), 256):
            index = order[start:start + 256]
            optimizer.zero_grad()
            loss_fn(model(X_t[index]).squeeze(1), y_t[index]).backward()
            optimizer.step()
    model.eval()

    def logits(X_new):
        with torch.no_grad():
            return model(torch.tensor(X_new, dtype=torch.float32)).squeeze(1).numpy()
    return logits


def loss_function(name):
    if name == "BCE":
        return torch.nn.BCEWithLogitsLoss()
    metric, kind = name.split()
    return compile_metric(FORMULAS[metric]).to_torch(**KINDS[kind])


def run_dataset(name, X, y, folds, epochs, lr=1e-3):
    """Rows: (dataset, fold, method, metric, value, collapsed)."""
    rows = []
    for fold, (train, test) in enumerate(StratifiedKFold(folds, shuffle=True, random_state=0).split(X, y)):
        scaler = StandardScaler().fit(X[train])
        X_train, X_test = scaler.transform(X[train]), scaler.transform(X[test])
        for loss in ["BCE", *(f"{metric} {kind}" for metric in FORMULAS for kind in KINDS)]:
            logits = fit(X_train, y[train], loss_function(loss), epochs, fold, lr)
            test_logits = logits(X_test)
            predicted = (test_logits >= 0).astype(int)
            collapsed = max(predicted.mean(), 1 - predicted.mean()) >= 0.99
            if loss == "BCE":
                train_logits = logits(X_train)
                for metric, score in METRICS.items():
                    rows.append((name, fold, "BCE @ 0.5", metric, score(y[test], predicted), collapsed))
                    cut = compile_metric(FORMULAS[metric]).tune_threshold(train_logits, y[train])[0]
                    tuned = (test_logits >= cut).astype(int)
                    rows.append((name, fold, "BCE + tuned", metric, score(y[test], tuned),
                                 max(tuned.mean(), 1 - tuned.mean()) >= 0.99))
            else:
                metric = loss.split()[0]
                rows.append((name, fold, loss, metric, METRICS[metric](y[test], predicted), collapsed))
    return rows


def summary(rows, datasets):
    """Per metric loss: mean of its own metric, collapsed folds, and on how many sets it is >= BCE @ 0.5."""
    by = {}
    for dataset, _, method, metric, value, collapsed in rows:
        entry = by.setdefault((dataset, method, metric), [[], 0])
        entry[0].append(value)
        entry[1] += collapsed
    lines = ["| loss | own metric | mean | BCE @ 0.5 | BCE + tuned | sets ≥ BCE @ 0.5 | collapsed folds |",
             "|---|---|---|---|---|---|---|"]
    for metric in FORMULAS:
        for kind in KINDS:
            method = f"{metric} {kind}"
            means = [np.mean(by[(d, method, metric)][0]) for d in datasets]
            bce = [np.mean(by[(d, "BCE @ 0.5", metric)][0]) for d in datasets]
            tuned = [np.mean(by[(d, "BCE + tuned", metric)][0]) for d in datasets]
            wins = sum(m >= b - 1e-12 for m, b in zip(means, bce))
            collapsed = sum(by[(d, method, metric)][1] for d in datasets)
            lines.append(f"| metricc {method} | {metric} | {np.mean(means):.3f} | {np.mean(bce):.3f} | "
                         f"{np.mean(tuned):.3f} | {wins} of {len(datasets)} | {collapsed} |")
    bce_collapsed = sum(by[(d, "BCE @ 0.5", "F1")][1] for d in datasets)
    lines.append(f"\nBCE @ 0.5 collapsed folds: {bce_collapsed}.")
    return "\n".join(lines)


def per_dataset(rows, datasets):
    lines = ["| data set | " + " | ".join(f"{m}: BCE / default / pure" for m in FORMULAS) + " |",
             "|---|" + "---|" * len(FORMULAS)]
    for dataset in datasets:
        cells = []
        for metric in FORMULAS:
            values = [np.mean([r[4] for r in rows if r[0] == dataset and r[2] == method and r[3] == metric])
                      for method in ("BCE @ 0.5", f"{metric} default", f"{metric} pure")]
            cells.append(" / ".join(f"{v:.3f}" for v in values))
        lines.append(f"| {dataset} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(path, rows, datasets):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, len(FORMULAS), figsize=(15, 4.2), sharey=True)
    for axis, metric in zip(axes, FORMULAS):
        for kind, marker in (("default", "o"), ("pure", "x")):
            gains = [np.mean([r[4] for r in rows if r[0] == d and r[2] == f"{metric} {kind}"])
                     - np.mean([r[4] for r in rows if r[0] == d and r[2] == "BCE @ 0.5" and r[3] == metric])
                     for d in datasets]
            axis.plot(range(len(datasets)), gains, marker, label=f"metricc {metric} {kind}")
        axis.axhline(0, color="gray", linewidth=1)
        axis.set(title=f"{metric} loss − BCE @ 0.5 ({metric})", xlabel="data set (suite order)")
        axis.legend(fontsize=8)
    axes[0].set_ylabel("difference in the loss's own metric")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, help="folder holding diabetes_prediction_dataset.csv")
    parser.add_argument("--out", type=Path, help="folder for results.csv and modern.png")
    parser.add_argument("--quick", action="store_true", help="2 sets, 2 folds, 3 epochs (for CI)")
    parser.add_argument("--lr", type=float, default=1e-3, help="Adam's learning rate (default 1e-3)")
    parser.add_argument("--blend", type=float, metavar="W", help="also the defaults with bce_weight=W (\"blend\")")
    args = parser.parse_args(argv)
    if args.blend is not None:
        KINDS["blend"] = {"bce_weight": args.blend}
    if args.data_dir is not None and not (args.data_dir / "diabetes_prediction_dataset.csv").is_file():
        parser.error(f"--data-dir: {args.data_dir / 'diabetes_prediction_dataset.csv'} does not exist")
    torch.set_num_threads(1)
    datasets = [(name, X, y) for name, _, X, y in suite_datasets()]
    if args.quick:
        datasets = datasets[:2]
    if args.data_dir is not None:
        datasets.append(("diabetes", *read_csv(args.data_dir / "diabetes_prediction_dataset.csv", "diabetes")))
    folds, epochs = (2, 3) if args.quick else (5, 30)
    rows = []
    for index, (name, X, y) in enumerate(datasets):
        start = time.perf_counter()
        rows += run_dataset(name, X, y, folds, epochs, args.lr)
        print(f"[{index + 1}/{len(datasets)}] {name}: {time.perf_counter() - start:.0f} s", file=sys.stderr,
              flush=True)
    names = [name for name, *_ in datasets]
    print(f"Modern protocol: {folds} folds, {epochs} epochs, Adam {args.lr:g}, {len(names)} data sets\n")
    print(summary(rows, names))
    print("\nMean test score per data set (BCE @ 0.5 / metricc default / metricc pure):\n")
    print(per_dataset(rows, names))
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        with open(args.out / "results.csv", "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["dataset", "fold", "method", "metric", "value", "collapsed"])
            writer.writerows(rows)
        plot(args.out / "modern.png", rows, names)


if __name__ == "__main__":
    main()
