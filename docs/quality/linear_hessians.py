"""Each Hessian form on metrics linear in the counts, where the curvature q is 0 and every form but the bound is
the bend term alone (about 0 at the raw score 0, where boosting starts), against F1: test F1 of XGBoost and
LightGBM on one split of an imbalanced synthetic set (make_classification, 5,000 rows, 10 % positive; 100 rounds,
depth 4 / 31 leaves, learning rate 0.1 for XGBoost, the boosters' other defaults).

From the repository root (needs .[boost] and scikit-learn):

    python docs/quality/linear_hessians.py
"""

import lightgbm
import xgboost
from sklearn.datasets import make_classification
from sklearn.metrics import f1_score
from sklearn.model_selection import train_test_split

from metricc import compile_metric

FORMULAS = ["f1", "minimize: FP + 5*FN", "accuracy"]
HESSIANS = ["bound", "exact", "abs", "gauss-newton", "clip"]


def main() -> None:
    X, y = make_classification(5000, 20, weights=[0.9], random_state=0)
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    print("| formula | hessian | XGBoost F1 | LightGBM F1 |\n|---|---|---|---|")
    for formula in FORMULAS:
        metric = compile_metric(formula)
        for hessian in HESSIANS:
            objective = metric.to_xgboost(hessian=hessian)
            booster = xgboost.train({"max_depth": 4, "eta": 0.1, **objective.params},
                                    xgboost.DMatrix(X_train, y_train), 100, obj=objective)
            xgb_f1 = f1_score(y_test, booster.predict(xgboost.DMatrix(X_test), output_margin=True) >= 0)
            model = lightgbm.train({"objective": metric.to_lightgbm(hessian=hessian), "verbose": -1},
                                   lightgbm.Dataset(X_train, y_train), 100)
            lgb_f1 = f1_score(y_test, model.predict(X_test, raw_score=True) >= 0)
            print(f"| `{formula}` | {hessian} | {xgb_f1:.3f} | {lgb_f1:.3f} |")


if __name__ == "__main__":
    main()
