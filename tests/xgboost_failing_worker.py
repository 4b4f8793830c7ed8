"""One worker of a distributed XGBoost run (tests/test_distributed.py) whose rank 1 holds a bad label: calls the
objective, then its eval_metric, then the objective on good labels, and saves what each call did.

    python xgboost_failing_worker.py OUT.json TRACKER_ARGS_JSON
"""

import json
import sys

import numpy as np
import xgboost as xgb
from xgboost import collective

from metricc import MetriccError, compile_metric


def outcome(call):
    """"ok", or the error's message."""
    try:
        call()
    except MetriccError as error:
        return str(error)
    return "ok"


def main(out_path, tracker_args):
    with collective.CommunicatorContext(**json.loads(tracker_args)):
        rank = collective.get_rank()
        rng = np.random.default_rng(rank)
        z = rng.normal(size=40).astype(np.float32)
        y = (rng.random(40) < 0.3).astype(np.float32)
        bad = y.copy()
        if rank == 1:
            bad[3] = 2.0
        objective = compile_metric("f1").to_xgboost()
        results = {
            "objective": outcome(lambda: objective(z, xgb.DMatrix(np.zeros((40, 1)), label=bad))),
            "eval_metric": outcome(lambda: objective.eval_metric(z, xgb.DMatrix(np.zeros((40, 1)), label=bad))),
            "after": outcome(lambda: objective(z, xgb.DMatrix(np.zeros((40, 1)), label=y))),
        }
    with open(out_path, "w") as out:
        json.dump(results, out)


if __name__ == "__main__":
    main(*sys.argv[1:])
