"""Is the F1 objective's shortfall on diabetes real? The comparison of examples/boosting.py (5 stratified folds,
depth 6 / 31 leaves, learning rate 0.1, 200 rounds), F1 objective against binary:logistic at 0.5 only, repeated
with other fold assignments: per seed the mean test F1 of each, then the paired difference over all folds (mean
and its standard error). From the repository root (needs .[boost], about 10 minutes on 2 cores):

    python docs/quality/booster_repeats.py --data-dir ../shared/data
    python docs/quality/booster_repeats.py --data synthetic --seeds 0 1 2
"""

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedKFold

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples"))
from boosting import BOOSTERS  # noqa: E402
from reproduce_paper import read_csv, synthetic  # noqa: E402

from metricc import compile_metric  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", choices=("diabetes", "synthetic"), default="diabetes")
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="fold assignments (0: the example's)")
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    warnings.filterwarnings("ignore", category=UserWarning)
    X, y = (synthetic(10_000) if args.data == "synthetic"
            else read_csv(args.data_dir / "diabetes_prediction_dataset.csv", "diabetes"))
    print(f"| {args.data} | seed | binary:logistic @ 0.5 | metricc F1 | difference |\n|---|---|---|---|---|")
    for booster, fit in BOOSTERS.items():
        differences = []
        for seed in args.seeds:
            scores = {"logistic": [], "f1": []}
            for train, test in StratifiedKFold(5, shuffle=True, random_state=seed).split(X, y):
                objective = getattr(compile_metric("f1"), f"to_{booster.lower()}")()
                for name, custom in (("logistic", None), ("f1", objective)):
                    margins = fit(X[train], y[train], X[test], custom, 1.0, args.rounds, 0)
                    predicted = margins >= 0 if custom is None else objective.predict(margins) == 1
                    scores[name].append(f1_score(y[test], predicted))
            differences += list(np.subtract(scores["f1"], scores["logistic"]))
            logistic, f1 = np.mean(scores["logistic"]), np.mean(scores["f1"])
            print(f"| {booster} | {seed} | {logistic:.4f} | {f1:.4f} | {f1 - logistic:+.4f} |", flush=True)
        error = np.std(differences, ddof=1) / np.sqrt(len(differences))
        print(f"| {booster} | all ({len(differences)} folds) | | | {np.mean(differences):+.4f} ± {error:.4f} |",
              flush=True)


if __name__ == "__main__":
    main()
