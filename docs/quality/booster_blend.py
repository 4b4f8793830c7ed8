"""The F1 booster objective plus beta times the logistic objective (gradient p - y, Hessian p (1 - p)) on the
paper's synthetic set or on diabetes, 5 folds, 200 rounds, against binary:logistic at 0.5: mean test F1 at
margin 0. From the repository root (needs .[boost]):

    python docs/quality/booster_blend.py synthetic
    python docs/quality/booster_blend.py diabetes --data-dir ../shared/data
"""

import argparse
import sys
import warnings
from pathlib import Path

import lightgbm as lgb
import numpy as np
import xgboost as xgb
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedKFold

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples"))
from reproduce_paper import read_csv, synthetic  # noqa: E402

from metricc import compile_metric  # noqa: E402

BETAS = {"binary:logistic": None, "F1": 0.0, "F1 + 0.05 logistic": 0.05, "F1 + 0.2 logistic": 0.2}


class Blend:
    """A metricc objective (rescaled as it rescales itself) plus beta times the logistic objective."""

    def __init__(self, objective, beta):
        self.objective, self.beta, self.__name__ = objective, beta, "blend"

    def __call__(self, margins, data):
        grad, hess = self.objective(margins, data)
        p = 1 / (1 + np.exp(-np.asarray(margins, dtype=np.float64)))
        return grad + self.beta * (p - data.get_label()), hess + self.beta * p * (1 - p)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", choices=("synthetic", "diabetes"))
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    X, y = (synthetic(10_000) if args.data == "synthetic"
            else read_csv(args.data_dir / "diabetes_prediction_dataset.csv", "diabetes"))
    scores = {}
    for train, test in StratifiedKFold(5, shuffle=True, random_state=0).split(X, y):
        for name, beta in BETAS.items():
            params = {"max_depth": 6, "eta": 0.1, "nthread": 2, "seed": 0}
            objective = None
            if beta is None:
                params["objective"] = "binary:logistic"
            else:
                metric = compile_metric("f1").to_xgboost()
                params.update(metric.params)
                objective = Blend(metric, beta)
            booster = xgb.train(params, xgb.DMatrix(X[train], y[train]), 200, obj=objective)
            margins = booster.predict(xgb.DMatrix(X[test]), output_margin=True)
            scores.setdefault(("XGBoost", name), []).append(f1_score(y[test], margins >= 0))
            params = {"num_leaves": 31, "learning_rate": 0.1, "num_threads": 2, "seed": 0, "verbose": -1}
            if beta is None:
                params["objective"] = "binary"
            else:
                metric = compile_metric("f1").to_lightgbm()
                params.update(objective=Blend(metric, beta), **metric.params)
            booster = lgb.train(params, lgb.Dataset(X[train], y[train]), 200)
            margins = booster.predict(X[test], raw_score=True)
            scores.setdefault(("LightGBM", name), []).append(f1_score(y[test], margins >= 0))
    print(f"| {args.data} | objective | mean F1 |\n|---|---|---|")
    for (booster, name), values in sorted(scores.items()):
        print(f"| {booster} | {name} | {np.mean(values):.4f} |")


if __name__ == "__main__":
    main()
