"""Gradient-boosted trees trained on a metric: XGBoost and LightGBM with metricc's F1, MCC and balanced-accuracy
objectives, against binary:logistic at 0.5, binary:logistic with a tuned threshold and scale_pos_weight.

    python examples/boosting.py                              # the paper's synthetic set, 5 folds
    python examples/boosting.py --data-dir ../shared/data     # also diabetes_prediction_dataset.csv
    python examples/boosting.py --quick                      # 2,000 samples, 3 folds (CI)
    python examples/boosting.py --compare-hessians           # the F1 objective with each Hessian form
    python examples/boosting.py --multilabel                 # one XGBoost model for 5 labels, macro-F1
    python examples/boosting.py --multiclass                 # softmax objectives against macro-F1, 4 classes
    python examples/boosting.py --multiclass --scan-L        # the macro-F1 objective at L = 5 ... 73

Every fold fits fresh boosters with the same trees (depth, rounds, learning rate); the tuned threshold is chosen
on out-of-fold predictions of the training fold (3-fold inner CV), never on the test fold.
"""

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np
from sklearn.metrics import balanced_accuracy_score, f1_score, matthews_corrcoef
from sklearn.model_selection import StratifiedKFold

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reproduce_paper import read_csv, synthetic  # noqa: E402

from metricc import compile_metric  # noqa: E402

METRICS = {"F1": f1_score, "MCC": matthews_corrcoef, "BA": balanced_accuracy_score}
OBJECTIVES = {"metricc F1": "f1", "metricc MCC": "mcc", "metricc BA": "balanced_accuracy"}


def xgboost_margins(X, y, X_test, objective, spw, rounds, seed):
    import xgboost as xgb

    params = {"max_depth": 6, "eta": 0.1, "nthread": 2, "seed": seed, "scale_pos_weight": spw}
    if objective is None:
        params.update(objective="binary:logistic")
        booster = xgb.train(params, xgb.DMatrix(X, y), rounds)
    else:
        params.update(objective.params)
        booster = xgb.train(params, xgb.DMatrix(X, y), rounds, obj=objective)
    return booster.predict(xgb.DMatrix(X_test), output_margin=True)


def lightgbm_margins(X, y, X_test, objective, spw, rounds, seed):
    import lightgbm as lgb

    params = {"num_leaves": 31, "learning_rate": 0.1, "num_threads": 2, "seed": seed, "verbose": -1,
              "scale_pos_weight": spw}
    if objective is None:
        params.update(objective="binary")
    else:
        params.update(objective=objective, **objective.params)
    booster = lgb.train(params, lgb.Dataset(X, y), rounds)
    return booster.predict(X_test, raw_score=True)


BOOSTERS = {"XGBoost": xgboost_margins, "LightGBM": lightgbm_margins}


def tuned_threshold(fit, X, y, rounds, seed):
    """The margin cut-off that maximises F1 on out-of-fold predictions of (X, y)."""
    margins = np.empty(len(y))
    for train, held in StratifiedKFold(3, shuffle=True, random_state=seed).split(X, y):
        margins[held] = fit(X[train], y[train], X[held], None, 1.0, rounds, seed)
    return compile_metric("f1").tune_threshold(margins, y)[0]


def evaluate(name, X, y, folds, rounds, seed=0):
    """Mean test metrics per (booster, method) over the folds."""
    results = {}
    splits = StratifiedKFold(folds, shuffle=True, random_state=seed).split(X, y)
    for fold, (train, test) in enumerate(splits):
        Xtr, ytr, Xte, yte = X[train], y[train], X[test], y[test]
        spw = float((ytr == 0).sum() / max((ytr == 1).sum(), 1))
        for booster, fit in BOOSTERS.items():
            predictions = {
                "binary:logistic @ 0.5": fit(Xtr, ytr, Xte, None, 1.0, rounds, seed) >= 0,
                "binary:logistic + tuned threshold":
                    fit(Xtr, ytr, Xte, None, 1.0, rounds, seed) >= tuned_threshold(fit, Xtr, ytr, rounds, seed),
                "scale_pos_weight": fit(Xtr, ytr, Xte, None, spw, rounds, seed) >= 0,
            }
            for label, formula in OBJECTIVES.items():
                objective = getattr(compile_metric(formula), f"to_{booster.lower()}")()
                predictions[label] = objective.predict(fit(Xtr, ytr, Xte, objective, 1.0, rounds, seed)) == 1
            for method, predicted in predictions.items():
                row = results.setdefault((booster, method), {m: [] for m in METRICS})
                for metric, score in METRICS.items():
                    row[metric].append(score(yte, predicted.astype(int)))
        print(f"  {name}: fold {fold + 1}/{folds} done", file=sys.stderr, flush=True)
    return {key: {m: float(np.mean(v)) for m, v in row.items()} for key, row in results.items()}


def compare_hessians(X, y, folds, rounds, seed=0):
    """Mean test F1 of the metricc F1 objective per booster and Hessian form."""
    from metricc.boost_kernel import HESSIANS

    results = {}
    for train, test in StratifiedKFold(folds, shuffle=True, random_state=seed).split(X, y):
        for booster, fit in BOOSTERS.items():
            for hessian in HESSIANS:
                objective = getattr(compile_metric("f1"), f"to_{booster.lower()}")(hessian=hessian)
                margins = fit(X[train], y[train], X[test], objective, 1.0, rounds, seed)
                results.setdefault((booster, hessian), []).append(f1_score(y[test], objective.predict(margins)))
    lines = ["| booster | hessian | F1 |", "|---|---|---|"]
    lines += [f"| {booster} | {hessian} | {np.mean(v):.3f} |" for (booster, hessian), v in results.items()]
    return "\n".join(lines)


def multilabel(folds, rounds, seed=0):
    """XGBoost's multi-output mode on 5 imbalanced labels: binary:logistic per label (at 0.5, and with a
    threshold per label tuned on out-of-fold margins) against metricc's macro-F1 objective."""
    import xgboost as xgb
    from sklearn.datasets import make_multilabel_classification
    from sklearn.model_selection import KFold

    X, Y = make_multilabel_classification(4000, 20, n_classes=5, n_labels=1, allow_unlabeled=True,
                                          random_state=seed)
    metric = compile_metric("f1", task="multilabel", num_classes=5)
    objective = metric.to_xgboost()

    def fit(X_fit, Y_fit, X_new, custom):
        params = {"max_depth": 6, "eta": 0.1, "nthread": 2, "seed": seed}
        params.update(objective.params if custom else {"objective": "binary:logistic"})
        booster = xgb.train(params, xgb.DMatrix(X_fit, Y_fit), rounds, obj=objective if custom else None)
        return booster.predict(xgb.DMatrix(X_new), output_margin=True)

    scores = {"binary:logistic @ 0.5": [], "binary:logistic + tuned thresholds": [], "metricc macro-F1": []}
    for train, test in KFold(folds, shuffle=True, random_state=seed).split(X):
        out_of_fold = np.empty((len(train), 5))
        for inner, held in KFold(3, shuffle=True, random_state=seed).split(train):
            out_of_fold[held] = fit(X[train[inner]], Y[train[inner]], X[train[held]], False)
        thresholds = metric.tune_threshold(out_of_fold, Y[train])[0]
        logistic = fit(X[train], Y[train], X[test], False)
        scores["binary:logistic @ 0.5"].append(metric.score(logistic >= 0, Y[test]))
        scores["binary:logistic + tuned thresholds"].append(metric.score(logistic >= thresholds, Y[test]))
        scores["metricc macro-F1"].append(metric.score(objective.predict(fit(X[train], Y[train], X[test], True)),
                                                       Y[test]))
    lines = [f"\nmulti-label (4000 samples, 5 labels, {Y.mean(0).round(2).tolist()} positive, {folds} folds, "
             f"{rounds} rounds): mean test macro-F1\n", "| method | macro-F1 |", "|---|---|"]
    lines += [f"| {name} | {np.mean(v):.3f} |" for name, v in scores.items()]
    return "\n".join(lines)


def multiclass_scores(X, y, folds, rounds, seed=0, variants=None):
    """Each booster with its softmax objective (predicting the arg-max), the softmax objective with balanced
    class weights (each class weighs as much in total), and metricc's macro-F1 objective (by default with its
    defaults; `variants` maps a row's name to the options of to_xgboost() / to_lightgbm()): mean test macro-F1
    over stratified folds, keyed (booster, method)."""
    import lightgbm as lgb
    import xgboost as xgb

    classes = int(y.max()) + 1
    metric = compile_metric("f1", task="multiclass", num_classes=classes)

    def fit(booster, X_fit, y_fit, X_new, objective, weight):
        if booster == "XGBoost":
            params = {"max_depth": 6, "eta": 0.1, "nthread": 2, "seed": seed,
                      **(objective.params if objective else {"objective": "multi:softprob", "num_class": classes})}
            model = xgb.train(params, xgb.DMatrix(X_fit, y_fit, weight=weight), rounds, obj=objective)
            return model.predict(xgb.DMatrix(X_new), output_margin=True)
        params = {"num_leaves": 31, "learning_rate": 0.1, "num_threads": 2, "seed": seed, "verbose": -1,
                  **({"objective": objective, **objective.params} if objective
                     else {"objective": "multiclass", "num_class": classes})}
        return lgb.train(params, lgb.Dataset(X_fit, y_fit, weight=weight), rounds).predict(X_new, raw_score=True)

    methods = {"softmax": (None, False), "softmax, balanced weights": (None, True)}
    methods.update((name, (options, False)) for name, options in (variants or {"metricc macro-F1": {}}).items())
    scores = {}
    for train, test in StratifiedKFold(folds, shuffle=True, random_state=seed).split(X, y):
        balanced = (len(train) / classes / np.bincount(y[train], minlength=classes))[y[train]]
        for booster in BOOSTERS:
            for method, (options, weighted) in methods.items():
                objective = None if options is None else getattr(metric, f"to_{booster.lower()}")(**options)
                margins = fit(booster, X[train], y[train], X[test], objective, balanced if weighted else None)
                scores.setdefault((booster, method), []).append(
                    f1_score(y[test], margins.argmax(axis=1), average="macro"))
    return {key: float(np.mean(v)) for key, v in scores.items()}


def multiclass(folds, rounds, quick=False, compare_hessians=False, scan_L=False, seed=0):
    """An imbalanced 4-class set (75/15/7/3 %, 5 % of labels flipped): the table of multiclass_scores."""
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=1_000 if quick else 4_000, n_features=20, n_informative=8, n_classes=4,
                               n_clusters_per_class=1, weights=[0.75, 0.15, 0.07, 0.03], flip_y=0.05,
                               random_state=seed)
    variants = {"metricc macro-F1": {}}
    if compare_hessians:
        variants = {f"metricc macro-F1 ({h})": {"hessian": h} for h in ("gauss-newton", "abs", "clip", "exact")}
    if scan_L:
        variants = {f"metricc macro-F1 (L = {L:g})": {"L": L} for L in (5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 73.0)}
    results = multiclass_scores(X, y, folds, rounds, seed, variants)
    shares = np.round(np.bincount(y) / len(y), 3).tolist()
    lines = [f"\nmulti-class ({len(y)} samples, 4 classes, {shares} of them, {folds} folds, {rounds} rounds): mean "
             "test macro-F1\n", "| booster | method | macro-F1 |", "|---|---|---|"]
    lines += [f"| {booster} | {method} | {value:.3f} |" for (booster, method), value in results.items()]
    return "\n".join(lines)


def table(name, results):
    lines = [f"\n{name}: mean test score over the folds\n", "| booster | method | F1 | MCC | balanced accuracy |",
             "|---|---|---|---|---|"]
    for (booster, method), row in results.items():
        lines.append(f"| {booster} | {method} | {row['F1']:.3f} | {row['MCC']:.3f} | {row['BA']:.3f} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, help="folder holding diabetes_prediction_dataset.csv")
    parser.add_argument("--folds", type=int, default=5, help="cross-validation folds (default: 5)")
    parser.add_argument("--rounds", type=int, default=200, help="boosting rounds (default: 200)")
    parser.add_argument("--quick", action="store_true", help="2,000 samples, 3 folds, 30 rounds (for CI)")
    parser.add_argument("--compare-hessians", action="store_true",
                        help="train the F1 objective with each Hessian form instead")
    parser.add_argument("--multilabel", action="store_true",
                        help="a multi-label set in XGBoost's multi-output mode instead (macro-F1)")
    parser.add_argument("--multiclass", action="store_true",
                        help="an imbalanced 4-class set instead: softmax objectives against macro-F1 "
                             "(with --compare-hessians: each Hessian form; with --scan-L: L from 5 to 73)")
    parser.add_argument("--scan-L", action="store_true", help="with --multiclass: the macro-F1 objective at each L")
    args = parser.parse_args(argv)
    for option, least in (("folds", 2), ("rounds", 1)):
        if getattr(args, option.replace("-", "_")) < least:
            parser.error(f"--{option} must be at least {least}")
    if args.data_dir is not None and not (args.data_dir / "diabetes_prediction_dataset.csv").is_file():
        parser.error(f"--data-dir: {args.data_dir / 'diabetes_prediction_dataset.csv'} does not exist")
    warnings.filterwarnings("ignore", category=UserWarning)
    datasets = [("synthetic", *synthetic(2_000 if args.quick else 10_000))]
    if args.data_dir is not None:
        datasets.append(("diabetes", *read_csv(args.data_dir / "diabetes_prediction_dataset.csv", "diabetes")))
    folds, rounds = (3, 30) if args.quick else (args.folds, args.rounds)
    if args.multilabel:
        print(multilabel(folds, rounds), flush=True)
        return
    if args.multiclass:
        print(multiclass(folds, rounds, args.quick, args.compare_hessians, args.scan_L), flush=True)
        return
    for name, X, y in datasets:
        if args.compare_hessians:
            print(f"\n{name}: mean test F1 of the metricc F1 objective, {folds} folds, {rounds} rounds\n")
            print(compare_hessians(X, y, folds, rounds), flush=True)
            continue
        print(table(f"{name} ({len(y)} samples, {y.mean():.1%} positive, {folds} folds, {rounds} rounds)",
                    evaluate(name, X, y, folds, rounds)), flush=True)


if __name__ == "__main__":
    main()
