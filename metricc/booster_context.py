"""What a booster's call of a metricc objective happens inside, found among its callers' frames (which objective
the booster's own predictions come from, which parameters it ignores with a custom objective, which of its
metrics misread raw scores, the training round's booster) and the all-reduce of a distributed XGBoost training.
Looked up, never imported: the boosters are imported where they call. This module imports only NumPy: metricc
copies it into the booster modules it emits, with metricc.boost_kernel.
"""

import json
import math
import sys

import numpy


# the boosters' own classification objectives (LightGBM's aliases included): what their predictions, which they
# pass an evaluation function, are (the probability of the positive class, binary:hinge's 0/1 classes alike; a
# multi-class model's class probabilities, whose arg-max is the margins'; logits; class indices), and for which task
BOOSTER_OBJECTIVES = {
    **dict.fromkeys(("binary:logistic", "reg:logistic", "binary:hinge", "binary", "cross_entropy", "xentropy"),
                    ("probabilities", "binary")),
    "binary:logitraw": ("margins", "binary"),
    **dict.fromkeys(("multi:softprob", "multiclass", "softmax", "multiclassova", "multiclass_ova", "ova", "ovr"),
                    ("probabilities", "multiclass")),
    "multi:softmax": ("classes", "multiclass"),
}
# the attribute a metricc objective gives each XGBoost booster it trains (its formula), saved with the model: the
# booster's margins are the objective's raw scores r (positive from 0), whatever objective its configuration names
MODEL_MARK = "metricc_objective"
# what booster_scores() names the predictions of such a booster configured as a binary classifier: sigmoid(r)
RAW_PROBABILITIES = "sigmoid of metricc's raw scores"


def booster_scores(frame):
    """The booster's own objective whose predictions the booster that made this call (found among the callers
    from `frame` on) passes an evaluation function (BOOSTER_OBJECTIVES), or None: a custom objective's raw
    scores, as metricc's own, and where no booster is calling. Neither booster says it in the call (XGBoost
    passes a DMatrix, LightGBM a Dataset or, through its scikit-learn API, labels): XGBoost's Booster.eval_set
    knows whether it predicts margins (in training, with a custom objective; called directly, by default) and its
    booster the objective's name, LightGBM's booster its parameters ("none" for a custom objective)."""
    name = None
    for _ in range(6):  # the booster's evaluation calls eval_metric directly or through a wrapper or two
        if frame is None:
            break
        module, function = frame.f_globals.get("__name__"), frame.f_code.co_name
        if module == "xgboost.core" and function == "eval_set":
            local = frame.f_locals
            margins = local.get("output_margin", True)
            # in training (train's callbacks, cv's folds) XGBoost predicts margins exactly for a custom objective;
            # called directly, eval_set predicts them by default, the logits of a model of the booster's own one
            caller = None if frame.f_back is None else frame.f_back.f_globals.get("__name__")
            if not margins or caller not in ("xgboost.callback", "xgboost.training"):
                booster = local["self"]
                name = json.loads(booster.save_config())["learner"]["objective"]["name"]
                kind, task = BOOSTER_OBJECTIVES.get(name, (None, None))
                if booster.attr(MODEL_MARK) is not None:  # metricc's raw scores, or the configuration's transform
                    name = (None if margins or kind not in ("probabilities", "classes") else
                            RAW_PROBABILITIES if task == "binary" else name)
                elif margins:  # a classifier's logits; else the raw scores of a custom objective (none is named)
                    name = {"binary": "binary:logitraw", "multiclass": "multi:softprob"}.get(task)
            break
        if module == "lightgbm.basic" and function == "__inner_eval":
            name = getattr(frame.f_locals["self"], "params", {}).get("objective") or "regression"  # the default
            name = None if name == "none" or callable(name) else str(name)
            break
        frame = frame.f_back
    return name


def training_booster(frame):
    """The booster (XGBoost's or LightGBM's Booster) whose training round made this call (its update(), found
    among the callers from `frame` on), or None: a call from anything else."""
    for _ in range(6):  # update() calls the objective directly or through a scikit-learn wrapper or two
        if frame is None:
            break
        if frame.f_code.co_name == "update" and frame.f_globals.get("__name__") in ("xgboost.core", "lightgbm.basic"):
            return frame.f_locals.get("self")
        frame = frame.f_back
    return None


# LightGBM's parameters (and aliases) that weigh the positive class in its own binary objective only
_LIGHTGBM_CLASS_WEIGHTS = {"scale_pos_weight": "scale_pos_weight", "is_unbalance": "is_unbalance",
                           "unbalance": "is_unbalance", "unbalanced_sets": "is_unbalance"}


def ignored_class_weights(booster):
    """The parameters of a booster (XGBoost's or LightGBM's Booster) that weigh the positive class, set away from
    their defaults, {name: value}: each booster applies them in its own binary objective only, never to a custom
    objective's gradient (it passes the sample weights, which metricc's objectives take)."""
    if type(booster).__module__.startswith("xgboost"):
        objective = json.loads(booster.save_config())["learner"]["objective"]
        value = objective.get("reg_loss_param", {}).get("scale_pos_weight", "1")
        return {} if _number(value) == 1 else {"scale_pos_weight": value}
    ignored = {}
    for key, value in (getattr(booster, "params", None) or {}).items():
        name = _LIGHTGBM_CLASS_WEIGHTS.get(key)
        if name == "scale_pos_weight" and _number(value) != 1 or name == "is_unbalance" and str(value).lower() in (
                "true", "1", "+"):
            ignored[key] = value
    return ignored


# the boosters' metrics that a custom objective's raw scores leave as they are (ranks, a row's arg-max)
_RAW_SCORE_METRICS = {"xgboost": {"auc", "aucpr", "pre", "ndcg", "map", "merror"},
                      "lightgbm": {"auc", "average_precision", "auc_mu", "multi_error", "map", "mean_average_precision",
                                   "ndcg", "lambdarank", "rank_xendcg", "xendcg", "xe_ndcg", "xe_ndcg_mart",
                                   "xendcg_mart", "none", "null", "custom", "na", ""}}


def misread_metrics(booster, frame):
    """The built-in evaluation metrics of a booster (XGBoost's or LightGBM's Booster, whose training called from
    `frame`) that it computes on a custom objective's raw scores as if they were its own objective's
    probabilities, and so gets wrong (logloss, error at 0.5, ...), where the training evaluates any (validation
    sets: xgboost.train's evals, lightgbm.train's valid_sets, which may hold the training set; cv's folds):
    XGBoost's configured ones (none unless the parameters name them: objective.params disables the default; a
    continued model keeps its own objective's), unless its configuration names a classifier (objective.params'
    binary:logistic, XGBClassifier's), whose transform gives the metrics sigmoid(r) or the softmax, as the model's
    predict() does; LightGBM's (its scikit-learn API names binary_logloss by default)."""
    xgboost = type(booster).__module__.startswith("xgboost")
    module, sets = ("xgboost.training", "evals") if xgboost else ("lightgbm.engine", "valid_sets")
    while frame is not None and not (frame.f_globals.get("__name__") == module
                                     and frame.f_code.co_name in ("train", "cv")):
        frame = frame.f_back
    if frame is None or frame.f_code.co_name == "train" and not frame.f_locals.get(sets):
        return []
    if xgboost:  # (error@0 counts a raw score above 0 as positive: the objective's own rule)
        learner = json.loads(booster.save_config())["learner"]
        if BOOSTER_OBJECTIVES.get(learner["objective"]["name"], (None,))[0] in ("probabilities", "classes"):
            return []  # (error at 0.5 of sigmoid(r) is the objective's rule too)
        names = [m["name"] for m in learner["metrics"]]
        return [n for n in names if n.split("@")[0] not in _RAW_SCORE_METRICS["xgboost"]
                and not (n.startswith("error@") and _number(n[6:]) == 0)]
    params = getattr(booster, "params", None) or {}
    names = []
    for key in ("metric", "metrics", "metric_types"):
        value = params.get(key, [])
        for name in (value.split(",") if isinstance(value, str) else value if isinstance(value, list) else []):
            if str(name).strip().lower() not in _RAW_SCORE_METRICS["lightgbm"]:
                names.append(str(name).strip())
    return names


def _number(value):
    """A parameter's value as a float (NaN where it is none: the booster itself says so)."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def communicator(booster):
    """XGBoost's collective module where this call runs on one of several workers of a distributed XGBoost
    training (xgboost.dask, xgboost.spark, workers that a tracker started), else None. Each worker's call sees its
    own rows only: the objective then sums its counts (and its evaluation's) over the workers, so that every
    worker computes the metric of the whole training set, with the same scale, and the evaluation the whole
    validation set's (XGBoost then averages identical values). Looked up, never imported: a worker has imported
    XGBoost."""
    collective = getattr(sys.modules.get("xgboost"), "collective", None) if booster == "xgboost" else None
    if collective is None or not collective.is_distributed():
        return None
    return collective if collective.get_world_size() > 1 else None


def raw_score_classifier(frame):
    """Whether the call (from `frame`) comes from the fit() of LightGBM's own scikit-learn classifier (or a
    subclass that predicts as LightGBM does), whose predict() and predict_proba() return raw scores for a callable
    objective; False for metricc.lightgbm_sklearn.LGBMClassifier (it has _follows_objective) and other calls."""
    for _ in range(12):  # fit -> train -> Booster.update -> the objective's wrapper -> the objective
        if frame is None:
            break
        if frame.f_globals.get("__name__") == "lightgbm.sklearn" and frame.f_code.co_name == "fit":
            kind = type(frame.f_locals.get("self"))
            return (any(k.__name__ == "LGBMClassifier" for k in kind.__mro__)
                    and not hasattr(kind, "_follows_objective"))
        frame = frame.f_back
    return False


# LightGBM's tree learners (and their aliases) whose machines each hold their own rows
_ROWS_SPLIT = ("data", "data_parallel", "voting", "voting_parallel")


def lightgbm_machines(frame):
    """The number of machines of the data- or voting-parallel LightGBM training whose booster made this call (found
    among the callers from `frame` on: Booster.update), where each machine's objective sees its own rows only and
    LightGBM gives no all-reduce to sum the counts over; 1 for any other call. Looked up, never imported."""
    for _ in range(6):  # LightGBM's update calls the objective directly or through its scikit-learn wrapper
        if frame is None:
            break
        if frame.f_globals.get("__name__") == "lightgbm.basic" and frame.f_code.co_name == "update":
            params = getattr(frame.f_locals.get("self"), "params", None) or {}
            learner = next((params[k] for k in ("tree_learner", "tree", "tree_type", "tree_learner_type")
                            if k in params), "serial")
            machines = next((params[k] for k in ("num_machines", "num_machine") if k in params), 1)
            try:
                return int(machines) if str(learner).lower() in _ROWS_SPLIT else 1
            except (TypeError, ValueError):
                return 1
        frame = frame.f_back
    return 1


class Agreement:
    """A call's agreement, over the workers of a `collective` (communicator(); None: no workers), on whether any
    worker's own checks failed before the first all-reduce of its sums. Used as `with agreement:` around the call,
    whose all-reduces go through `agreement.collective`: at the first one each worker adds its flag in one more
    all-reduce, and raises where another's checks failed; a worker whose checks raised sends its flag on leaving
    the block and raises its own error. Else the others would wait for sums that never come (or fail with a lost
    connection once that worker's process ended), and only one worker would say what was wrong."""

    def __init__(self, collective, error):
        self.error, self.agreed = error, collective is None
        self.collective = None if collective is None else _AgreedCollective(collective, self)

    def agree(self, failed):
        """Whether any worker failed, given whether this one did (one all-reduce, once a call)."""
        self.agreed = True
        return self.collective.module.allreduce(numpy.array([float(failed)]), self.collective.Op.MAX)[0] > 0

    def __enter__(self):
        return self

    def __exit__(self, kind, value, traceback):
        if kind is not None and not self.agreed:
            self.agree(True)
        return False


class _AgreedCollective:
    """XGBoost's collective module as all_reduced() uses it (allreduce, Op), whose first all-reduce agrees first."""

    def __init__(self, module, agreement):
        self.module, self.Op, self.agreement = module, module.Op, agreement

    def allreduce(self, data, op):
        if not self.agreement.agreed and self.agreement.agree(False):
            raise self.agreement.error("the inputs of another worker failed the objective's checks (its error says "
                                       "which)")
        return self.module.allreduce(data, op)


def all_reduced(collective, values, op="SUM"):
    """`values` (a list of numbers, arrays or None) summed (or reduced by `op`, "MAX" or "MIN") over the workers in
    one all-reduce, each in its own shape (numbers as floats, None as None); as they are without a `collective`
    (communicator())."""
    if collective is None:
        return values
    arrays = [None if v is None else numpy.asarray(v, dtype=numpy.float64) for v in values]
    present = [a.reshape(-1) for a in arrays if a is not None]
    reduced = collective.allreduce(numpy.concatenate(present) if present else numpy.zeros(0),
                                   getattr(collective.Op, op))
    out, start = [], 0
    for a in arrays:
        if a is None:
            out.append(None)
            continue
        part = reduced[start:start + a.size].reshape(a.shape)
        out.append(float(part) if a.ndim == 0 else part)
        start += a.size
    return out
