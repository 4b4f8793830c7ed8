"""Per-fold test scores of the paper's MLP protocol (synthetic set, or diabetes with a CSV path) for settings of
the F1 or balanced-accuracy loss: which mechanism prevents the collapse. From the repository root:

    python docs/training/paper_folds.py                    # F1 loss, synthetic set
    python docs/training/paper_folds.py --metric balanced_accuracy
    python docs/training/paper_folds.py --csv ../shared/data/diabetes_prediction_dataset.csv
"""

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import balanced_accuracy_score, f1_score
from sklearn.model_selection import StratifiedKFold
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples"))
from reproduce_paper import mlp_fit, mlp_scores, read_csv, synthetic  # noqa: E402

from metricc import compile_metric  # noqa: E402

SETTINGS = {
    "pure (the paper's loss, L = 73)": {"pure": True},
    "defaults (L = 15, running counts 0.9)": {},
    "L = 15 only": {"pure": True, "L": 15.0},
    "running counts 0.9 only (L = 73)": {"pure": True, "momentum": 0.9},
    "earlier defaults (L = 73, warm-up 1,000, BCE 0.1, running 0.9)": {"L": 73.0, "warmup": 1000,
                                                                       "bce_weight": 0.1},
}
SCORES = {"f1": f1_score, "balanced_accuracy": balanced_accuracy_score}


class _Options:
    """What mlp_fit calls: `to_torch(pure=...)`, here with the options of one setting."""

    def __init__(self, metric, options):
        self.metric, self.options = metric, options

    def to_torch(self, pure=False):
        return self.metric.to_torch(**self.options)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--metric", choices=sorted(SCORES), default="f1")
    parser.add_argument("--csv", type=Path, help="diabetes_prediction_dataset.csv (default: the synthetic set)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    X, y = synthetic() if args.csv is None else read_csv(args.csv, "diabetes")[:2]
    # the learning rates of reproduce_paper.py: 1e-3 for the F1 loss on the synthetic set, else 0.01
    lr = 1e-3 if args.metric == "f1" and args.csv is None else 0.01
    print(f"| setting | mean {args.metric} | lowest fold | folds |\n|---|---|---|---|")
    for name, options in SETTINGS.items():
        values = []
        for fold, (train, test) in enumerate(StratifiedKFold(10, shuffle=True, random_state=0).split(X, y)):
            scaler = StandardScaler().fit(X[train])
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # an L below the amplifier's bound during a warm-up
                model, _ = mlp_fit(scaler.transform(X[train]), y[train],
                                   _Options(compile_metric(args.metric), options), lr, 100, 0.05, fold)
            predicted = (mlp_scores(model, scaler.transform(X[test])) >= 0).astype(int)
            values.append(SCORES[args.metric](y[test], predicted))
        print(f"| {name} | {np.mean(values):.3f} | {min(values):.3f} | {' '.join(f'{v:.2f}' for v in values)} |",
              flush=True)


if __name__ == "__main__":
    main()
