"""Distributed XGBoost on one machine: a tracker and worker processes, each holding its share of the rows (as
xgboost.dask and xgboost.spark run them), train one model with metricc's F1 objective. The objective sums its
counts over the workers with XGBoost's collective all-reduce, so the model is trained on the F1 of the whole
training set; the same objective in one process on all rows is printed beside it (README, "Gradient boosting").

    python examples/xgboost_distributed.py [--workers 2] [--rounds 100]
"""

import argparse
import multiprocessing

from sklearn.datasets import make_classification
from sklearn.metrics import f1_score
from sklearn.model_selection import train_test_split


def split():
    """A 9:1 imbalanced set: training and test rows."""
    X, y = make_classification(n_samples=6000, n_features=10, n_informative=5, weights=[0.9], flip_y=0.02,
                               random_state=0)
    return train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)


def train_and_score(X, y, X_test, y_test, rounds):
    """Train with metricc's F1 objective; the test F1 of its hard predictions."""
    import xgboost as xgb

    from metricc import compile_metric

    objective = compile_metric("f1").to_xgboost()
    booster = xgb.train({**objective.params, "max_depth": 4, "nthread": 1}, xgb.DMatrix(X, y), rounds,
                        obj=objective)
    return f1_score(y_test, objective.predict(booster.predict(xgb.DMatrix(X_test), output_margin=True)))


def worker(tracker_args, workers, rounds, results):
    """One worker: joins the tracker, trains on every `workers`-th row from its rank on."""
    from xgboost import collective

    X, X_test, y, y_test = split()
    with collective.CommunicatorContext(**tracker_args):
        rank = collective.get_rank()
        score = train_and_score(X[rank::workers], y[rank::workers], X_test, y_test, rounds)
    results.put((rank, score))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=2, help="local workers (default: 2)")
    parser.add_argument("--rounds", type=int, default=100, help="boosting rounds (default: 100)")
    args = parser.parse_args()
    if args.workers < 2:
        parser.error("--workers must be at least 2")
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    from xgboost.tracker import RabitTracker

    tracker = RabitTracker(host_ip="127.0.0.1", n_workers=args.workers)
    tracker.start()
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    processes = [context.Process(target=worker, args=(tracker.worker_args(), args.workers, args.rounds, results))
                 for _ in range(args.workers)]
    for process in processes:
        process.start()
    scores = dict(results.get(timeout=600) for _ in processes)
    for process in processes:
        process.join()
    tracker.wait_for()
    X, X_test, y, y_test = split()
    print(f"{args.workers} workers, each with 1/{args.workers} of the rows: test F1 = {scores[0]:.3f} "
          f"(every worker's model: {', '.join(f'{scores[k]:.3f}' for k in sorted(scores))})")
    print(f"1 process with all rows:{' ' * 14}test F1 = {train_and_score(X, y, X_test, y_test, args.rounds):.3f}")


if __name__ == "__main__":
    main()
