"""One worker of a distributed XGBoost run (tests/test_distributed.py): joins the tracker, takes every
world_size-th row from its rank on, and saves its metricc objectives' gradients, Hessians and evaluations on
those rows, and the history and margins of a short training with early stopping.

    python xgboost_worker.py DATA.npz OUT.npz TRACKER_ARGS_JSON EMITTED_F1_OBJECTIVE.py
"""

import importlib.util
import json
import sys

import numpy as np
import xgboost as xgb
from xgboost import collective

from metricc import compile_metric

# name: (formula, compile_metric options, to_xgboost options, margins and labels of the data file)
CASES = {
    "f1": ("f1", {}, {}, "binary"),  # the bound Hessian, in float32
    "mcc_exact": ("mcc", {}, {"hessian": "exact"}, "binary"),  # float64, the Hessian's size summed
    "fbeta_clip": ("fbeta", {"beta": 2.0}, {"hessian": "clip"}, "binary"),  # the clip's largest |h| too
    "cost_fixed": ("minimize: FP + 5*FN", {}, {"mean_hessian": None}, "binary"),
    "far": ("f1", {}, {}, "far"),  # one worker's rows all far out: float64 there, then on both
    "soft": ("f1", {}, {}, "soft"),  # the first worker's labels soft: float64 there, then on both
    "tiny_weights": ("f1", {}, {}, "tiny"),  # the first worker's weights below FLOAT32_WEIGHTS: float64 on both
    "multiclass": ("f1", {"task": "multiclass", "num_classes": 3}, {}, "multiclass"),
    "multilabel": ("f1", {"task": "multilabel", "num_classes": 3, "average": "micro"}, {}, "multilabel"),
}


def case_data(data, kind):
    """Margins, labels and weights of a case."""
    if kind in ("binary", "far"):  # without weights for "far": its steep rows' share decides
        return data[f"z_{kind}"], data["y"], None if kind == "far" else data["w"]
    if kind in ("soft", "tiny"):
        return data["z_binary"], data["y_soft" if kind == "soft" else "y"], data["w_tiny" if kind == "tiny" else "w"]
    return data[f"z_{kind}"], data[f"y_{kind}"], data["w"]


def main(data_path, out_path, tracker_args, emitted_path):
    data = dict(np.load(data_path))
    spec = importlib.util.spec_from_file_location("emitted_objective", emitted_path)
    emitted = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(emitted)
    results = {}
    with collective.CommunicatorContext(**json.loads(tracker_args)):
        rank, world = collective.get_rank(), collective.get_world_size()
        rows = np.arange(len(data["y"]))[rank::world]
        results["rows"] = rows
        for name, (formula, compile_options, options, kind) in CASES.items():
            objective = compile_metric(formula, **compile_options).to_xgboost(**options)
            z, y, w = case_data(data, kind)
            shard = xgb.DMatrix(np.zeros((len(rows), 1)), label=y[rows], weight=None if w is None else w[rows])
            results[f"{name}_grad"], results[f"{name}_hess"] = objective(z[rows], shard)
            results[f"{name}_eval"] = objective.eval_metric(z[rows], shard)[1]
            if name == "f1":  # the standalone module of `metricc compile f1 --backend xgboost` too
                emitted_objective = emitted.MetricLoss()
                results["emitted_grad"], results["emitted_hess"] = emitted_objective(z[rows], shard)
                results["emitted_eval"] = emitted_objective.eval_metric(z[rows], shard)[1]
        objective = compile_metric("f1").to_xgboost()
        if rank == 0:  # one worker alone: loss() and evaluate() are its rows' (an all-reduce would wait forever)
            z, y, w = case_data(data, "binary")
            results["local"] = [objective.loss(z[rows], y[rows], w[rows]), objective.evaluate(z[rows], y[rows])]
        X, y, X_val, y_val = data["X"], data["y_train"], data["X_val"], data["y_val"]
        history = {}
        booster = xgb.train({**objective.params, "nthread": 1, "max_depth": 3}, xgb.DMatrix(X[rank::world],
                            y[rank::world]), 60, obj=objective, custom_metric=objective.eval_metric,
                            evals=[(xgb.DMatrix(X_val[rank::world], y_val[rank::world]), "val")],
                            early_stopping_rounds=5, evals_result=history, verbose_eval=False)
        results["history"] = np.array(history["val"]["1-f1"])
        results["best_iteration"] = booster.best_iteration
        results["margins"] = booster.predict(xgb.DMatrix(X_val), output_margin=True,
                                             iteration_range=(0, booster.best_iteration + 1))
    np.savez(out_path, **results)


if __name__ == "__main__":
    main(*sys.argv[1:])
