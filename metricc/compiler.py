"""`compile_metric`: formula text -> an immutable, cached `CompiledMetric` that hands out every backend."""

from __future__ import annotations

import contextlib
import difflib
import functools
import importlib
import math
import numbers
import sys
import threading
import warnings
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Callable, Mapping, NamedTuple

import numpy as np
import sympy as sp

from . import catalog, numpy_kernel, numpy_multiclass
from .multiclass_math import element_rows
from .backends import TRAINING_DEFAULTS, booster_defaults, training_defaults
from .backends import backend as backend_named
from .derive import Derivation, curvatures, derive, floats_hold, loss_of
from .errors import MetriccError, MetriccWarning
from .checks import caller_level, check_settings, class_index_message, describe, first_place, flag, integer
from .checks import first_non_number, float_index_hint, nan_place, narrow_float_message, one_hot_rows, part_of
from .checks import two_column_message
from .checks import CLASS_NAMES_HINT, count_limit, eps_past_limit, real_number, weight_range_message
from .lrange import default_accuracy, dtype_name, validate_L
from .printing import curvatures_source, scalars_source
from .vocabulary import AVERAGES, COUNTS, TASKS

DEFAULT_EPS = 1e-6
DEFAULT_L = 73.0  # the paper's amplifying scale: full-batch losses, boosters and torch's pure=True
# the range of the total sample weight that score() and tune_threshold() take (its top is the losses' MAX_COUNT)
WEIGHT_TOTAL = (1e-100, 1e100)
# tune_threshold for micro-averaged labels: at most this many rounds of moving each label's cut-off in turn
MAX_TUNING_ROUNDS = 50


class _Default:
    """The default of an argument whose None has a meaning of its own: average=None asks for one value per class,
    as in scikit-learn and torchmetrics, so the default average (macro) cannot be None."""

    def __init__(self, value):
        self.value = value

    def __repr__(self):
        return f"{self.value!r} (the default)"


DEFAULT_AVERAGE = _Default("macro")


@dataclass(frozen=True, eq=False, repr=False)
class CompiledMetric:
    """A metric compiled into a loss: its score, its derived gradient and every backend for it."""

    formula: str
    expr: sp.Expr
    minimize: bool
    params: Mapping[str, float]
    L: float
    threshold: float
    from_logits: bool
    eps: float
    derivation: Derivation = field(compare=False)
    task: str = "binary"
    num_classes: int | None = None
    average: str = "macro"
    ignore_index: int | None = None
    class_weight: tuple[float, ...] | None = None
    L_given: bool = True  # False: compile_metric chose L, and a torch loss trains at TRAINING_L instead
    key: Any = field(default=(), compare=False, repr=False)  # the arguments that compiled it (a _Key)

    def __repr__(self) -> str:
        params = "".join(f", {k}={v!r}" for k, v in self.params.items())
        task = "" if self.task == "binary" else (f", task={self.task!r}, num_classes={self.num_classes}, "
                                                 f"average={self.average!r}")
        ignore = "" if self.ignore_index is None else f", ignore_index={self.ignore_index}"
        return (f"CompiledMetric({self.formula!r}{params}, L={self.L}, threshold={self.threshold}, "
                f"from_logits={self.from_logits}, eps={self.eps}{task}{ignore})")

    @property
    def loss(self) -> sp.Expr:
        """The loss in TP, FP, FN, TN: `1 - expr`, or `expr` itself for a cost (`minimize`)."""
        return self.derivation.loss

    @functools.cached_property
    def _rational(self) -> bool:
        """Whether the loss is a ratio of polynomials in the counts, which score() and tune_threshold() can
        evaluate in exact rational arithmetic (numpy_multiclass.exact_losses)."""
        return bool(self.derivation.loss.is_rational_function())

    @property
    def partials(self) -> Mapping[str, sp.Expr]:
        """d loss / d count for each of "TP", "FP", "FN", "TN"."""
        return MappingProxyType(dict(zip(COUNTS, self.derivation.partials)))

    @property
    def coefficients(self) -> Mapping[str, sp.Expr]:
        """The per-sample gradient coefficients: "a" = d_TP - d_FN for a positive sample, "b" = d_FP - d_TN for a
        negative one."""
        return MappingProxyType(dict(zip("ab", self.derivation.coefficients)))

    def loss_and_grad(self, logits: Any, target: Any, sample_weight: Any = None, *,
                      check_inputs: bool = True, **others: Any) -> tuple[float, np.ndarray]:
        """NumPy: the loss and its gradient w.r.t. each logit (each probability when `from_logits=False`).

        `check_inputs=False` skips the checks for NaN or infinite input and for targets outside [0, 1].
        Multi-class and multi-label: logits (n, C); with average="none" the loss is per class and the gradient
        is that of their sum."""
        _refuse_others("loss_and_grad", others, ("sample_weight", "check_inputs"))
        check_inputs = flag("check_inputs", check_inputs, MetriccError)
        return self._numpy_loss.loss_and_grad(logits, target, sample_weight, check_inputs=check_inputs)

    def predict(self, input: Any) -> np.ndarray:
        """Hard predictions as the loss counts them, for score(): 1 where the probability reaches the threshold
        (logits >= logit(threshold); probabilities >= threshold with from_logits=False), element by element; for
        task="multiclass" the arg-max class along dimension 1 of logits (n, C) or (N, C, d1, ..., dk). Takes NumPy
        arrays and torch tensors (their values); returns a NumPy int64 array. (A booster trained with to_xgboost()
        or to_lightgbm() has raw scores shifted by logit(threshold): its objective's predict() cuts them at 0.)"""
        values = _numbers(input, "input")
        if values.dtype == bool:
            raise MetriccError("Expected `input` to hold logits, but got bool: predictions already (score() takes "
                               "them as they are)")
        if np.isnan(values).any():
            raise MetriccError(f"Expected `input` without NaN, but it holds NaN{nan_place(values)}, a missing value: "
                               f"drop or fill the missing entries first.")
        if self.task == "multiclass":
            if values.ndim < 2 or values.shape[1] != self.num_classes:
                raise MetriccError(f"Expected `input` of shape (n, {self.num_classes}) or (N, {self.num_classes}, d1, "
                                   f"..., dk), but got {values.shape}.")
            return np.argmax(values, axis=1)
        cut = math.log(self.threshold / (1 - self.threshold)) if self.from_logits else self.threshold
        return (values.astype(np.float64, copy=False) >= cut).astype(np.int64)

    def score(self, predictions: Any, target: Any, sample_weight: Any = None, *,
              zero_division: float | str | None = None, **others: Any) -> float:
        """The formula's exact value on hard 0/1 predictions (no amplifier, no smoothing); multi-class: class
        indices, multi-label: (n, C) 0/1, averaged as `average` says (an array for "none"). Where the formula is
        undefined (0/0; for a class, before the average), the value is `zero_division` as in scikit-learn: a
        number; "warn", 0 with a MetriccWarning; NaN, which the macro and weighted averages leave out. By default
        (None) the result is NaN with a MetriccWarning."""
        _refuse_others("score", others, ("sample_weight", "zero_division"))
        warn = zero_division is None or isinstance(zero_division, str) and zero_division == "warn"
        if warn and zero_division is not None:
            zero_division = 0.0
        elif zero_division is not None and (isinstance(zero_division, bool)
                                            or not isinstance(zero_division, numbers.Real)
                                            or math.isinf(zero_division)):
            raise MetriccError(f"Expected argument `zero_division` to be a finite number (such as 0 or 1), \"warn\", "
                               f"NaN or None, but got {describe(zero_division)}.")
        target = _numbers(target, "target")
        if target.size == 0:  # (all ignored is not empty: undefined, as any 0/0)
            raise MetriccError("Expected a non-empty batch, but `target` has no elements.")
        if self.task != "binary":
            return self._multi_score(predictions, target, sample_weight, zero_division, warn)
        predictions, target, sample_weight = self._without_ignored(predictions, "predictions", target, sample_weight)
        predictions = _zero_one(predictions, "predictions")
        target = _zero_one(target, "target", swapped=(predictions, "score() takes (predictions, target), as "
                                                      "torchmetrics does (metric.scorer() for scikit-learn)"))
        if predictions.shape != target.shape:
            column = ("predictions" if predictions.shape == target.shape + (1,) else
                      "target" if target.shape == predictions.shape + (1,) else None)
            hint = f": one column? pass {column}[:, 0]" if column and min(predictions.ndim, target.ndim) == 1 else ""
            raise MetriccError(f"Expected `predictions` and `target` to have the same shape, but got "
                               f"{predictions.shape} and {target.shape}{hint}.")
        _warn_if_two_classes(target, "score", "predictions")
        weight = _weights(sample_weight, target.shape)
        predicted, actual = predictions == 1, target == 1
        counts = [np.sum(weight * (predicted == p) * (actual == a)) for p, a in ((1, 1), (1, 0), (0, 1), (0, 0))]
        loss = float(numpy_multiclass.exact_losses(self._scalars("numpy"), self._rational)(*counts)[0])
        value = loss if self.minimize else 1 - loss
        if not math.isfinite(value):
            value = math.nan if zero_division is None else float(zero_division)
            if warn:
                shown = ", ".join(f"{float(c):g}" for c in counts)
                warnings.warn(f"{self.formula!r} is undefined at TP, FP, FN, TN = {shown}; returning {value}",
                              MetriccWarning, stacklevel=caller_level())
        return value

    def _without_ignored(self, values: Any, name: str, target: Any, sample_weight: Any) -> tuple:
        """`values` (called `name`), `target` and `sample_weight` without the elements whose target is the binary
        task's ignore_index (as they are without one; where their shapes differ, the caller refuses them, and the
        ignore label, read as 0 here, is not refused as a label first)."""
        if self.task != "binary" or self.ignore_index is None:
            return values, target, sample_weight
        values, target = _numbers(values, name), _numbers(target, "target")
        weight = None if sample_weight is None else _numbers(sample_weight, "sample_weight")
        ignored = numpy_kernel.ignored_elements(target, self.ignore_index)
        if values.shape != target.shape or weight is not None and weight.shape != target.shape:
            return values, np.where(ignored, 0, target), sample_weight
        return values[~ignored], target[~ignored], None if weight is None else weight[~ignored]

    def _multi_score(self, predictions, target, sample_weight, zero_division, warn):
        target = _numbers(target, "target")
        if self.task == "multiclass" and target.dtype.kind == "f" and target.ndim == 2 and \
                target.shape[1] == self.num_classes:
            raise MetriccError(f"score() counts hard labels: pass class indices (target.argmax(1) of class "
                               f"probabilities), not {target.dtype} {target.shape}.")
        if self.task == "multiclass":
            for name, values in (("target", target), ("predictions", _numbers(predictions, "predictions"))):
                if values.ndim == 2 and values.shape[1] == self.num_classes and values.dtype.kind in "biu" and \
                        one_hot_rows(np, values):  # (per-element class indices would hold other values)
                    raise MetriccError(f"`{name}` holds one-hot rows {values.shape}: score() takes class indices: "
                                       f"pass {name}.argmax(1)")
            target = _whole(target, "target")
        if target.ndim > (2 if self.task == "multilabel" else 1):  # per element: each a row, as the losses take it
            predictions, target, sample_weight = _element_rows(predictions, target, sample_weight, self.task)
        n = len(target) if target.ndim else 0
        y, weight = self._numpy_loss.labels(target, n, sample_weight)
        if sample_weight is not None:
            _weight_total(weight)
        if self.ignore_index is not None:  # what is predicted where the target is ignored counts nowhere
            predictions = _numbers(predictions, "predictions")
            ignored = numpy_kernel.ignored_elements(target, self.ignore_index)
            if predictions.shape == ignored.shape:
                predictions = np.where(ignored, predictions.dtype.type(0), predictions)
        if self.task == "multilabel":
            predicted = _zero_one(predictions, "predictions").astype(np.float64)
            if predicted.shape != y.shape:
                raise MetriccError(f"Expected `predictions` of shape {y.shape}, but got {predicted.shape}.")
        else:
            indices = _class_indices(predictions, n, self.num_classes, self.ignore_index)
            predicted = numpy_multiclass.one_hot(indices, self.num_classes)
        return numpy_multiclass.score(self._scalars("numpy"), predicted, y, weight, self.average, self.class_weight,
                                      self.minimize, self.formula, MetriccWarning, zero_division, warn,
                                      part_of(self.task), self._rational)

    def to_torch(self, *, pure: bool = False, **options: Any):
        """A `torch.nn.Module`: `loss(logits, target, sample_weight=None) -> 0-dim tensor`.

        Options override the compiled L, threshold, from_logits and eps, and set check_inputs, compile (run the
        forward and backward passes as fused torch.compile kernels), and sync / process_group (sum the counts
        over the processes of a torch.distributed group; left unset, a loss under torch.distributed with several
        processes warns once; see README, "Distributed training"). Losses
        train robustly on minibatches by default (README, "Training with a metric loss"): at L = TRAINING_L (15)
        unless an L was given, with the partials taken at running estimates of the counts (`momentum` 0.9), and
        for multi-class losses 0.1 times cross-entropy added (`bce_weight`). Options: L rising from L_start over
        the first `warmup` training steps, and `bce_weight` times BCE added (cross-entropy for multi-class).
        `pure=True` is the paper's loss (the compiled L, no state, no blend); each option can be set on its own.
        """
        try:
            from . import torch_kernel, torch_multiclass
        except ModuleNotFoundError as error:
            if error.name != "torch":
                raise
            raise MetriccError("to_torch() needs PyTorch, which is not installed: pip install torch "
                               "(or pip install 'metricc[torch]')") from None
        extra = {"check_inputs", "sync", "process_group", *TRAINING_DEFAULTS}
        defaults = {"L": self.L, **training_defaults(self.task, self.L_given, flag("pure", pure, MetriccError))}
        training = {name: options[name] for name in ("L", *TRAINING_DEFAULTS) if name in options}
        options = {**options, **torch_kernel.training_settings(training, defaults)}
        if self.task != "binary":
            return self._kernel(torch_multiclass.MultiSoftConfusionLoss, "torch", options, extra | {"compile"})
        return self._kernel(torch_kernel.SoftConfusionLoss, "torch", options, extra | {"compile"},
                            host_scalars=self._scalars("math"))

    def to_jax(self, **options: Any):
        """A callable `loss(logits, target, sample_weight=None) -> 0-dim array` for JAX whose gradient is the
        derived one (jax.custom_jvp); it works under jax.jit, jax.grad and jax.jvp, in float32 and (x64) float64.

        Options override the compiled L, threshold, from_logits and eps, and set check_inputs (value checks run
        when the loss is called eagerly; under jax.jit, where values cannot be read, a value the eager loss refuses
        makes the loss and its gradient NaN), axis_name (jax.pmap or shard_map: the counts and the derivative are
        summed over that axis's devices, so that the loss is the whole batch's and the usual data-parallel step
        gives its gradient) and bce_weight (that times cross-entropy added, as to_torch(bce_weight=...) adds it;
        to_torch()'s running counts and warm-up are state, which a JAX loss does not keep)."""
        try:
            from . import jax_kernel
        except ModuleNotFoundError as error:
            if error.name not in ("jax", "jaxlib"):
                raise
            raise MetriccError("to_jax() needs JAX, which is not installed: pip install jax "
                               "(or pip install 'metricc[jax]')") from None
        kernel = jax_kernel.SoftConfusionLoss if self.task == "binary" else jax_kernel.MultiSoftConfusionLoss
        return self._kernel(kernel, "jax", options, {"check_inputs", "axis_name", "bce_weight"})

    @property
    def hessians(self) -> Mapping[str, sp.Expr]:
        """The curvatures of the gradient coefficients that a per-sample Hessian needs: "a" = (d/dTP - d/dFN) a
        for a positive sample, "b" = (d/dFP - d/dTN) b for a negative one (derived on first use)."""
        return MappingProxyType(dict(zip("ab", curvatures(self.derivation).curvatures)))

    def to_xgboost(self, **options: Any):
        """A custom objective for XGBoost: `xgboost.train(params, dtrain, obj=objective)` or
        `XGBClassifier(objective=objective)`; margins in, gradient and Hessian diagonal out (see README,
        "Gradient boosting"; task="multiclass": margins (n, C), class indices, the arg-max predicts, L = 15
        unless given). Options override L, threshold and eps, and set hessian ("bound", the default, or
        "gauss-newton", the multi-class default; "abs", "exact", "clip"), mean_hessian (0.1: the Hessian's average
        per unit weight after each call's rescaling; None for the fixed scale) and check_inputs.
        `objective.eval_metric` is the hard metric for early stopping; `objective.params` the booster parameters
        it needs."""
        return self._booster("xgboost", options)

    def to_lightgbm(self, **options: Any):
        """A custom objective for LightGBM: `lightgbm.train({"objective": objective, ...}, data)` or
        `metricc.lightgbm_sklearn.LGBMClassifier(objective=objective)` (LightGBM's own LGBMClassifier predicts raw
        scores for a custom objective); as to_xgboost()."""
        return self._booster("lightgbm", options)

    def _booster(self, booster: str, options: Mapping[str, Any]):
        from . import boost_kernel

        settings = self._settings({**booster_defaults(self.task, self.L_given), **options}, f"to_{booster}()",
                                  {"hessian", "mean_hessian", "check_inputs"})
        if not settings.pop("from_logits"):
            raise MetriccError(f"to_{booster}() works on the booster's margins (logits): from_logits=False does not "
                               "apply")
        if self.ignore_index is not None:
            raise MetriccError(f"to_{booster}() takes no ignore_index (a booster has no rows to ignore): drop those "
                               "rows from the training data, or give them sample weight 0")
        if self.task != "binary":  # the objective refuses what it does not support
            settings.update(task=self.task, num_classes=self.num_classes, average=self.average,
                            class_weight=self.class_weight)
        return boost_kernel.BoostObjective(self._scalars("numpy", order=2), booster=booster, minimize=self.minimize,
                                           name=self.formula, error=MetriccError, warning=MetriccWarning,
                                           **settings)

    def scorer(self, *, pos_label: Any = 1, labels: Any = None, **score_options: Any):
        """A scikit-learn scorer of this metric (for cross_val_score, GridSearchCV): score() on the estimator's
        predict(), called in scikit-learn's order (y_true, y_pred), where score() itself takes (predictions,
        target) as torchmetrics does (make_scorer(metric.score) would swap FP and FN); greater is better unless
        the formula is a `minimize:` cost. A binary metric counts the class `pos_label` as positive (1 by
        default, as in scikit-learn; "yes" for classes "no"/"yes"). A multi-class metric takes the classes 0..C-1
        as they are, and other class names ("a"/"b"/"c", 1..C) in sorted order, as an estimator's classes_, or
        in the order of `labels` (the C class names; class_weight needs it). `score_options` (zero_division) go
        to score(); as scikit-learn's scorers, a score (not a cost) that is 0/0 counts as 0 with a warning unless
        zero_division says otherwise (NaN broke TunedThresholdClassifierCV's choice). Needs scikit-learn."""
        if self.average == "none":
            raise MetriccError("a scikit-learn scorer returns one number, and average='none' gives one per class: "
                               "compile with average='macro', 'micro' or 'weighted'")
        if labels is not None:
            if self.task != "multiclass":
                raise MetriccError("labels=[...] names a multi-class metric's classes; a binary metric takes "
                                   "pos_label=..., a multi-label one 0/1 columns")
            labels = np.asarray(labels).ravel().tolist()
            if len(labels) != self.num_classes or len(set(labels)) != len(labels):
                raise MetriccError(f"labels=[...] names {len(labels)} classes, but the metric has num_classes="
                                   f"{self.num_classes}: give each class once, in the metric's order")
        unknown = sorted(set(score_options) - {"zero_division"})  # score()'s one option
        if unknown:
            raise MetriccError(_SCORER_OPTIONS.get(unknown[0], f"`{unknown[0]}` is no option of scorer(): it takes "
                                                               f"pos_label, labels and zero_division; a formula's "
                                                               f"parameters and the task's settings go to "
                                                               f"compile_metric()"))
        try:
            from sklearn.metrics import make_scorer
        except ModuleNotFoundError as error:
            if (error.name or "").partition(".")[0] != "sklearn":
                raise
            raise MetriccError("scorer() needs scikit-learn, which is not installed: pip install scikit-learn") \
                from None
        if not self.minimize:  # (a cost's 0/0 stays NaN: 0 would be its best value)
            score_options.setdefault("zero_division", "warn")
        return make_scorer(_InScikitLearnOrder(self, pos_label, labels), greater_is_better=not self.minimize,
                           **score_options)

    def tune_threshold(self, scores: Any, target: Any, sample_weight: Any = None, **others: Any) -> tuple:
        """The cut-off on `scores` (logits, probabilities or any monotone score) that gives the best value of the
        formula on the hard predictions `scores >= threshold`, and that value: the largest score, or the
        smallest cost for a `minimize:` formula. Exact over all cut-offs in O(n log n); equal scores always fall
        on the same side; cut-offs where the formula is undefined (0/0) are skipped. Predicting no positive at all
        is the candidate `threshold = inf` (unless some score is +inf, which `scores >= inf` predicts positive).
        Multi-label: one cut-off per label, as two arrays of shape (C,) (each label's value); with average="micro",
        whose counts are pooled over the labels, the cut-offs (C,) and the pooled value: the best shared cut-off,
        then each label's in turn with the others' counts fixed, until none improves (each step exact; a cut-off
        no single label can improve on, not always the best combination)."""
        _refuse_others("tune_threshold", others, ("sample_weight",))
        if self.task == "multiclass":
            raise MetriccError("tune_threshold() needs binary or multi-label scores; a multi-class prediction is "
                               "the arg-max, which has no threshold")
        if self.ignore_index is not None:
            given = _numbers(target, "target")
            if given.size and numpy_kernel.ignored_elements(given, self.ignore_index).all():
                raise MetriccError(f"every element of `target` is the ignore label {self.ignore_index}: no cut-off "
                                   f"to tune")
        scores, target, sample_weight = self._without_ignored(scores, "scores", target, sample_weight)
        scores = _numbers(scores, "scores").astype(np.float64)
        ignored = None
        if self.task == "multilabel" and self.ignore_index is not None:  # weight 0 and label 0
            target = _numbers(target, "target")
            ignored = numpy_kernel.ignored_elements(target, self.ignore_index)
            target = np.where(ignored, 0, target)
        target = _zero_one(target, "target", swapped=(scores, "tune_threshold() takes (scores, target)"))
        if scores.shape != target.shape or scores.size == 0:
            binary = self.task == "binary" and scores.ndim == 2 and scores.shape[:1] == target.shape
            columns = scores.shape[1] if binary else None
            hint = {1: ": one column? pass scores[:, 0]",
                    2: ": the two columns of predict_proba? pass scores[:, 1], the positive class's"}.get(columns, "")
            raise MetriccError(f"Expected non-empty `scores` and `target` of the same shape, but got {scores.shape} "
                               f"and {target.shape}{hint}.")
        if self.task == "binary":
            _warn_if_two_classes(target, "tune_threshold", "scores")
        if self.task == "multilabel" and scores.shape[1:] != (self.num_classes,):
            raise MetriccError(f"Expected multi-label `scores` and `target` of shape (n, {self.num_classes}), but got "
                               f"{scores.shape}.")
        if ignored is not None:  # a score where the target is ignored counts nowhere: it joins its label's lowest
            lowest = np.where(ignored, np.inf, scores).min(axis=0)  # (weight 0 in a tie: no cut-off of its own)
            scores = np.where(ignored, np.where(lowest < np.inf, lowest, 0.0), scores)
        if np.isnan(scores).any():
            raise MetriccError(f"Expected `scores` without NaN, but it holds NaN{nan_place(scores)}, a missing value: "
                               f"drop or fill the missing entries first.")
        weight = _weights(sample_weight, target.shape if self.task == "binary" else target.shape[:1])
        if self.task == "multilabel":
            weight = np.broadcast_to(weight[:, None], target.shape)
            weight = weight if ignored is None else np.where(ignored, 0.0, weight)
            if self.average == "micro":
                return self._tune_pooled(scores, target, weight)
            best = [self._tune(scores[:, k], target[:, k], weight[:, k], label=k) for k in range(target.shape[1])]
            return np.array([b[0] for b in best]), np.array([b[1] for b in best])
        return self._tune(scores.reshape(-1), target.reshape(-1), weight.reshape(-1))

    def _tune_pooled(self, scores: np.ndarray, target: np.ndarray, weight: np.ndarray) -> tuple[np.ndarray, float]:
        """tune_threshold for micro-averaged labels (n, C): coordinate ascent from the best shared cut-off."""
        threshold, value = self._tune(scores.reshape(-1), target.reshape(-1), weight.reshape(-1))
        thresholds = np.full(target.shape[1], threshold)
        positive, negative = weight * (target == 1), weight * (target != 1)

        def counts(k):  # TP, FP, FN, TN of label k at its cut-off
            predicted = scores[:, k] >= thresholds[k]
            return np.array([positive[predicted, k].sum(), negative[predicted, k].sum(),
                             positive[~predicted, k].sum(), negative[~predicted, k].sum()])

        def improves(new, old):  # by more than rounding: the ascent stops
            return new < old - 1e-12 if self.minimize else new > old + 1e-12

        labels = np.arange(target.shape[1])
        by_label = np.array([counts(k) for k in labels])  # (C, 4)
        for _ in range(MAX_TUNING_ROUNDS):
            improved = False
            for k in labels:
                cut, candidate = self._tune(scores[:, k], target[:, k], weight[:, k], by_label[labels != k].sum(0),
                                            warn=False)
                if improves(candidate, value):
                    thresholds[k], value, improved = cut, candidate, True
                    by_label[k] = counts(k)
            if not improved:
                break
        return thresholds, value

    def _tune(self, scores: np.ndarray, target: np.ndarray, weight: np.ndarray,
              others: Any = (0.0, 0.0, 0.0, 0.0), label: int | None = None, warn: bool = True) -> tuple[float, float]:
        """The best cut-off of one score column (a multi-label target's `label`) and its value, the counts
        `others` added to its own; with `warn`, a warning where every cut-off gives the same value."""
        order = np.argsort(-scores, kind="stable")
        scores, positive = scores[order], weight[order] * (target[order] == 1)
        negative = weight[order] - positive
        last_of_tie = np.flatnonzero(np.append(scores[1:] != scores[:-1], True))  # cut after a whole tie group
        tp = np.concatenate([[0.0], np.cumsum(positive)[last_of_tie]])
        fp = np.concatenate([[0.0], np.cumsum(negative)[last_of_tie]])
        cutoffs = np.concatenate([[np.inf], scores[last_of_tie]])
        # what each cut-off leaves negative, summed from the end: exactly 0 below the lowest score (a total minus
        # a prefix sum leaves a rounding residue there, which made 0/0 look defined)
        left = np.concatenate([[0], last_of_tie + 1])
        fn, tn = (np.append(np.cumsum(v[::-1])[::-1], 0.0)[left] for v in (positive, negative))
        exact = numpy_multiclass.exact_losses(self._scalars("numpy"), self._rational)  # (score()'s)
        loss = np.broadcast_to(exact(*(c + o for c, o in zip((tp, fp, fn, tn), others)))[0], tp.shape)
        value = loss if self.minimize else 1 - loss
        defined = np.isfinite(value)
        defined[0] &= scores[0] < np.inf  # a score of +inf: scores >= inf predicts it, no cut-off predicts none
        whose = "these scores" if label is None else f"label {label}'s scores"
        weighs = (f"their targets weigh {tp[-1] + others[0] + others[2]:g} positive, "
                  f"{fp[-1] + others[1] + others[3]:g} negative")
        if not defined.any():
            raise MetriccError(f"{self.formula!r} is undefined at every cut-off of {whose} ({weighs})")
        if warn and np.ptp(value[defined]) == 0 and defined.sum() > 1:
            warnings.warn(f"{self.formula!r} is {value[defined][0]:g} at every cut-off of {whose} ({weighs}): the "
                          f"threshold returned is as good as any other", MetriccWarning, stacklevel=caller_level())
        candidates = np.where(defined, value, np.inf if self.minimize else -np.inf)
        best = int(np.argmin(candidates) if self.minimize else np.argmax(candidates))
        return float(cutoffs[best]), float(value[best])

    def latex(self, hessians: bool = False) -> str:
        """The score, the loss, the four partials and the per-sample gradient, in LaTeX; with `hessians`, also
        the second derivatives and the Hessian diagonal that the booster objectives use."""
        from .latex import document

        return document(self, hessians=flag("hessians", hessians, MetriccError))

    def emit(self, backend: str = "torch") -> str:
        """The source of a standalone module for this loss that imports only `backend` ("torch", "numpy", "jax"), or
        a booster objective's that imports only NumPy ("xgboost", "lightgbm"); its MetricLoss(...) takes the
        options of to_torch(), to_xgboost() and so on, with this metric's settings as defaults."""
        from .emit import module_source

        return module_source(self, backend)

    def scalars_source(self, backend: str) -> str:
        """The generated function `(TP, FP, FN, TN) -> (loss, a, b)` for `backend`, where a = d_TP - d_FN and
        b = d_FP - d_TN are the per-sample gradient coefficients of a positive and of a negative sample."""
        return scalars_source(self.derivation, backend)

    @functools.cached_property
    def _numpy_loss(self):
        kernel = numpy_kernel.SoftConfusionLoss if self.task == "binary" else numpy_multiclass.MultiSoftConfusionLoss
        return self._kernel(kernel, "numpy", {}, set())

    def _kernel(self, kernel: Callable, backend: str, options: Mapping[str, Any], extra: set[str], **more: Any):
        """`kernel` (a backend's binary or multi-class loss class) with this metric's scalars and settings,
        `options` overriding them."""
        settings = self._settings(options, f"to_{backend}()", extra)
        settings["ignore_index"] = self.ignore_index
        if self.task != "binary":
            _check_multi_settings(self.formula, self.task, self.num_classes, self.average, settings)
            del settings["from_logits"]
            settings.update(task=self.task, num_classes=self.num_classes, average=self.average,
                            class_weight=self.class_weight)
        return kernel(self._scalars(backend), name=self.formula, error=MetriccError, warning=MetriccWarning,
                      check_dtype=_L_checker(settings, backend), **settings, **more)

    def _scalars(self, backend: str, order: int = 1) -> Callable:
        """The generated `(TP, FP, FN, TN) -> (loss, a, b)` for `backend`; with order 2, `-> (loss, a, b, q_a,
        q_b)`."""
        return _Scalars(self, backend, order, _scalars_function(self.derivation, backend, order))

    def __reduce__(self):
        """Pickled as the arguments that compiled it (plain values), so the generated code is rebuilt, never
        stored, and unpickling in the same process gives the same object."""
        return _compiled, (self.key,)

    def _settings(self, options: Mapping[str, Any], caller: str, extra: set[str]) -> dict[str, Any]:
        allowed = {"L", "threshold", "from_logits", "eps"} | extra
        unknown = sorted(set(options) - allowed)
        compiled_in = [name for name in unknown if name in _COMPILED_IN or name in self.params]
        if compiled_in:
            name = compiled_in[0]
            raise MetriccError(f"`{name}` is an argument of compile_metric(), not of {caller}: "
                               f"compile_metric(..., {name}={options[name]!r}).{caller[:-2]}(...)")
        elsewhere = [name for name in unknown if name in _OTHER_LOSSES_OPTIONS]
        if elsewhere:
            name = elsewhere[0]
            booster = name == "weight" and caller in ("to_xgboost()", "to_lightgbm()")
            classes = name == "weight" and self.task != "binary"  # CrossEntropyLoss(weight=...): one per class
            raise MetriccError(f"unknown option `{name}`" + (": sample weights come from the booster's data, "
                               "DMatrix(X, y, weight=w) or Dataset(X, y, weight=w)" if booster
                               else f": {catalog.CLASS_WEIGHT_HINT}" if classes else _OTHER_LOSSES_OPTIONS[name]))
        stateful = [name for name in unknown if name in TRAINING_DEFAULTS and name != "bce_weight"]
        if stateful and caller == "to_jax()":
            raise MetriccError(f"`{stateful[0]}` is an option of to_torch(), whose module keeps the training state "
                               f"(running counts, the warm-up's steps); a JAX loss keeps no state: for minibatches "
                               f"pass to_jax(L=15, bce_weight=0.1), the stateless recipe of docs/quality.md")
        if unknown:
            close = difflib.get_close_matches(unknown[0], sorted(allowed), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise MetriccError(f"unknown option {', '.join(map(repr, unknown))}{hint} (expected some of "
                               f"{sorted(allowed)})")
        settings = {"L": self.L, "threshold": self.threshold, "from_logits": self.from_logits, "eps": self.eps}
        settings.update(options)
        check_settings(settings, MetriccError, lambda: _count_limit(self.derivation))
        return settings


# compile_metric's arguments that a compiled metric keeps for every backend (and the formula's parameters)
_COMPILED_IN = {"task", "num_classes", "average", "ignore_index", "class_weight", "minimize"}
_CLASS_WEIGHT = (": a metric loss weighs the classes through its formula (fbeta's beta, a cost such as "
                 "'minimize: FP + 5*FN') or through sample weights")
# options of BCE and of the boosters' logistic objectives that users carry over: what metricc does instead
_OTHER_LOSSES_OPTIONS = {
    "pos_weight": " (`pos_weight` is BCEWithLogitsLoss's weight of the positive class" + _CLASS_WEIGHT + ")",
    **{name: f" (`{name}` is the booster's weight of the positive class for its own objectives" + _CLASS_WEIGHT
       + " in the booster's data)" for name in ("scale_pos_weight", "is_unbalance")},
    "reduction": ": the loss is one number for the whole batch (its confusion matrix's metric), nothing to reduce",
    "weight": ": per-element weights go to the call, loss(input, target, sample_weight=...)",
    "label_smoothing": ": smooth the targets themselves: soft labels in [0, 1] (class probabilities for a "
                       "multi-class metric) count fractionally",
    **dict.fromkeys(("device", "dtype"), ": the loss computes on its inputs' device and in their floating-point "
                                         "type (a booster's objective with NumPy, on the CPU)"),
}


def _warn_if_two_classes(target: np.ndarray, caller: str, values: str) -> None:
    """A binary metric's `caller` (score or tune_threshold) warns on a two-class output: (n, 2) one-hot targets."""
    if target.ndim == 2 and target.shape[1] == 2 and one_hot_rows(np, target):
        warnings.warn(two_column_message(caller, values), MetriccWarning, stacklevel=caller_level())


def _values_of(values: Any) -> Any:
    """A torch tensor (a network's output, which may require grad, lie on a GPU or be of a type NumPy lacks, such
    as bfloat16) as a CPU tensor of its values that NumPy takes; anything else as it is. For score() and
    tune_threshold(), which read values only (loss_and_grad() refuses such a tensor: its gradient would not reach
    autograd)."""
    torch = sys.modules.get("torch")
    if torch is None or not isinstance(values, torch.Tensor):
        return values
    try:
        values = values.detach().cpu()
    except RuntimeError:  # no values (the meta device): NumPy's conversion then says so
        return values
    exact = values.is_floating_point() and values.dtype not in (torch.float16, torch.float32, torch.float64)
    return values.double() if exact else values


def _numbers(values: Any, name: str) -> np.ndarray:
    """`values` (a torch tensor's values too) as a NumPy array of bool, int or float, or a MetriccError that says
    why not."""
    array = numpy_kernel.as_array(_values_of(values), name, MetriccError)  # numbers in an object array as numbers
    if array.dtype.kind == "O":  # something else in an object array: say what and where
        other, value = first_non_number(array)
        hint = (", a missing value: drop or fill the missing entries first" if value is None else
                _CLASS_NAMES if isinstance(value, str) and name in ("predictions", "target") else "")
        raise MetriccError(f"Expected `{name}` to hold numbers, but got an object array holding "
                           f"{describe(value)} (at index {other}){hint}.")
    if array.dtype.kind not in "biuf":
        hint = _CLASS_NAMES if array.dtype.kind in "US" and name in ("predictions", "target") else ""
        raise MetriccError(f"Expected `{name}` to hold numbers, but got dtype {array.dtype}{hint}.")
    return array


_CLASS_NAMES = (CLASS_NAMES_HINT + " or class indices, or score through "
                "metric.scorer(pos_label=...) in scikit-learn, which takes the names")


def _refuse_others(method: str, others: Mapping[str, Any], takes: tuple[str, ...]) -> None:
    """A MetriccError for keyword arguments that `method` does not take (scikit-learn's, mostly): where they go,
    or which of its own keywords, `takes`, a misspelt one means."""
    if others:
        name = sorted(others)[0]
        close = difflib.get_close_matches(name, takes, n=1)
        hint = catalog.argument_hint(name) or (
            "; the average is set when compiling: compile_metric(..., task=..., num_classes=..., average=...)"
            if name == "average" else f"; did you mean `{close[0]}`?" if close else "")
        raise MetriccError(f"{method}() takes no argument `{name}`{hint}")


def _zero_one(values: Any, name: str, swapped: tuple | None = None) -> np.ndarray:
    """Hard 0/1 labels (bool, int or float), refusing anything else instead of casting it. `swapped`: the
    other argument (an array) and the call's order, for the hint where that one holds 0/1 labels and these
    values fractions (scores: the arguments in scikit-learn's order, labels first)."""
    array = _numbers(values, name)
    outside = (array != 0) & (array != 1)
    bad = array[outside]
    if bad.size:
        if np.isnan(bad).any():  # (pandas' missing values come as NaN)
            raise MetriccError(f"Expected `{name}` to hold hard 0/1 labels, but it holds NaN{nan_place(array)}, a "
                               f"missing value: drop or fill the missing entries first.")
        hint = "; threshold probabilities first, e.g. p >= 0.5" if name == "predictions" else ""
        fractions = (np.isfinite(bad) & (bad != np.floor(bad))).any()
        if swapped is not None and fractions and np.isin(swapped[0], (0, 1)).all():
            hint = f"; arguments swapped? {swapped[1]}"
        elif np.isin(array, (-1, 1)).all():
            hint = f"; labels -1/+1? pass ({name} + 1) / 2"
        elif np.isin(array, (1, 2)).all():
            hint = f"; labels 1/2? pass {name} - 1"
        raise MetriccError(f"Expected `{name}` to hold hard 0/1 labels, but it holds {bad.flat[0].item()!r}"
                           f"{first_place(outside)}{hint}.")
    return array


def _whole(array: np.ndarray, name: str) -> np.ndarray:
    """Floats that are all whole numbers (class indices stored as floats, as scikit-learn takes them) as int64;
    NaN refused as a missing value; anything else as it is."""
    if array.dtype.kind == "f" and np.isnan(array).any():  # (pandas' missing values come as NaN)
        raise MetriccError(f"Expected `{name}` to hold class indices, but it holds NaN{nan_place(array)}, a missing "
                           f"value: drop or fill the missing entries first.")
    # (2**53 as a float64 scalar: a Python float would be cast to the array's type, and overflow float16)
    if array.dtype.kind == "f" and (np.abs(array) < np.float64(2.0**53)).all() and (array == np.round(array)).all():
        return array.astype(np.int64)
    return array


def _class_indices(values: Any, n: int, num_classes: int, ignore_index: int | None = None) -> np.ndarray:
    """Integer class indices in [0, num_classes) of shape (n,) (whole floats too); `ignore_index`, the compiled
    ignore label, is not suggested for one (those where the target holds it were replaced already)."""
    array = _whole(_numbers(values, "predictions"), "predictions")
    if array.dtype.kind not in "iu" or array.shape != (n,):
        hint = (" (take the arg-max of the scores first)" if array.ndim == 2 else  # (whole floats: int64 by now)
                float_index_hint(array, "") if array.dtype.kind == "f" and array.shape == (n,) else "")
        raise MetriccError(f"Expected `predictions` to be integer class indices of shape ({n},), but got "
                           f"{array.dtype} {array.shape}{hint}.")
    if array.size and (array.min() < 0 or array.max() >= num_classes):
        hint = "." if array.min() == ignore_index else None
        raise MetriccError(class_index_message(array.min(), array.max(), num_classes,
                                               "`predictions` to be class indices", hint))
    return array


def _element_rows(predictions: Any, target: np.ndarray, sample_weight: Any, task: str) -> tuple:
    """Per-element predictions and targets, (N, d1, ..., dk) class indices or (N, C, d1, ..., dk) multi-label
    0/1, and weights (N, d1, ..., dk), as rows."""
    predictions = _numbers(predictions, "predictions")
    if predictions.shape != target.shape:
        raise MetriccError(f"Expected `predictions` of the target's shape {target.shape}, but got "
                           f"{predictions.shape}.")
    elements = target.shape if task == "multiclass" else (target.shape[0], *target.shape[2:])
    weight = None if sample_weight is None else _numbers(sample_weight, "sample_weight")
    if weight is not None and weight.shape != elements:
        raise MetriccError(f"Expected `sample_weight` of shape {elements}, but got {weight.shape}.")
    if task == "multiclass":
        return predictions.reshape(-1), target.reshape(-1), None if weight is None else weight.reshape(-1)
    return element_rows(np, predictions, target, weight, task)


def _weights(sample_weight: Any, shape: tuple) -> np.ndarray:
    """Sample weights as float64 of `shape`, finite and non-negative, not all zero, adding up to a total that
    _weight_total() takes."""
    if sample_weight is None:
        return np.ones(shape)
    weight = _numbers(sample_weight, "sample_weight").astype(np.float64)
    if weight.shape != shape:
        raise MetriccError(f"Expected `sample_weight` of shape {shape}, but got {weight.shape}.")
    if not (np.isfinite(weight).all() and (weight >= 0).all()):
        raise MetriccError(weight_range_message(weight.min(), weight.max(), values=weight))
    if weight.size and not weight.max() > 0:
        raise MetriccError("Expected `sample_weight` to have a positive entry, but all are zero.")
    return _weight_total(weight)


def _weight_total(weight: np.ndarray) -> np.ndarray:
    """The weights, whose total must lie in WEIGHT_TOTAL: score() and tune_threshold() evaluate the formula at
    the weighted counts themselves, where products of counts beyond it overflow or underflow float64 (weights of
    1e308 made every cut-off past the first look undefined, and MCC at weights of 1e-200 scored 0)."""
    with np.errstate(over="ignore"):
        total = float(weight.sum())
    low, high = WEIGHT_TOTAL
    if weight.size and not low <= total <= high:
        raise MetriccError(f"the sample weights add up to {total:.3g}, outside [{low:g}, {high:g}], where the "
                           f"metric's products of counts may overflow or underflow float64: rescale them (a ratio "
                           f"such as F1 does not change)")
    return weight


def _compiled(key: _Key) -> CompiledMetric:
    with _key_lock(key):
        return _compile(key)


_HARD_LABELS = ("the scorer scores predict()'s hard labels, as score() does; for the best cut-off on probabilities "
                "use tune_threshold(), or scikit-learn's TunedThresholdClassifierCV with this scorer")
_SCORER_OPTIONS = {"greater_is_better": "greater_is_better follows the formula: a `minimize:` cost is lower-is-better, "
                                        "any other formula greater-is-better",
                   **dict.fromkeys(("response_method", "needs_proba", "needs_threshold"), _HARD_LABELS)}


def _refuse_scores(y_true: Any, y_pred: Any) -> None:
    """For predictions with more classes than the metric has: refuses them where they are scores rather than
    classes, non-integer numbers that are not among the true classes (a regressor's, or the raw scores of
    LightGBM's LGBMClassifier with a custom objective), which the scorer would take for hundreds of classes."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_pred.dtype.kind != "f" or y_true.dtype.kind not in "iubf":
        return
    extra = np.setdiff1d(y_pred, y_true)
    extra = extra[np.isfinite(extra) & (extra != np.round(extra))]  # NaN: score() names missing values
    if extra.size:
        shown = ", ".join(f"{v:.4g}" for v in extra[:3].tolist()) + (", ..." if extra.size > 3 else "")
        raise MetriccError(f"predict() gave values that are not classes ({shown}): the scorer scores an "
                           f"estimator's classes. LightGBM's LGBMClassifier returns raw scores from predict() with a "
                           f"custom objective; metricc.lightgbm_sklearn.LGBMClassifier predicts classes with "
                           f"metricc's objectives")


class _InScikitLearnOrder:
    """metric.score as scikit-learn calls a metric: (y_true, y_pred, sample_weight=None, **options)."""

    def __init__(self, metric: CompiledMetric, pos_label: Any = 1, labels: list | None = None):
        self.metric, self.pos_label, self.labels = metric, pos_label, labels
        self.__name__ = "metricc_score"  # scikit-learn's scorer prints it

    def __call__(self, y_true: Any, y_pred: Any, sample_weight: Any = None, **options: Any):
        if self.metric.task == "binary":
            y_true, y_pred = self._positive(y_true, y_pred)
        elif self.metric.task == "multiclass":
            y_true, y_pred = self._class_indices(y_true, y_pred)
        return self.metric.score(y_pred, y_true, sample_weight, **options)

    def _class_indices(self, y_true: Any, y_pred: Any) -> tuple:
        """The classes of a multi-class problem as the metric's indices 0..C-1: as they are if they are such
        indices (the metric's ignore_index passes too), else their places in `labels`, or without it in the
        sorted classes present (only the order of class_weight depends on which class is which)."""
        y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
        metric, ignored = self.metric, self.metric.ignore_index
        kept = y_true if ignored is None else y_true[y_true != ignored]
        present = np.unique(np.concatenate([kept.ravel(), y_pred.ravel()]))
        if self.labels is None:
            indices = present.dtype.kind in "iub" and (not present.size or 0 <= present[0])
            if indices and (not present.size or present[-1] < metric.num_classes):
                return y_true, y_pred
            if len(present) > metric.num_classes:
                _refuse_scores(y_true, y_pred)
                shown = ", ".join(describe(c) for c in present[:5].tolist()) + (", ..." if len(present) > 5 else "")
                raise MetriccError(f"the scorer got {len(present)} classes ({shown}), but the metric has num_classes="
                                   f"{metric.num_classes}: compile it with num_classes={len(present)}")
            if metric.class_weight is not None:
                raise MetriccError("class_weight follows the order of the classes: pass scorer(labels=[...]), the "
                                   "class names in that order")
            labels = present.tolist()
        else:
            labels = self.labels
            unknown = [c for c in present.tolist() if c not in labels]
            if unknown:
                raise MetriccError(f"the scorer got the class {describe(unknown[0])}, which is not one of the "
                                   f"classes labels={labels}")
        index = {c: k for k, c in enumerate(labels)}
        truth = np.array([index.get(c, ignored) for c in y_true.tolist()], dtype=np.int64).reshape(y_true.shape)
        return truth, np.array([index[c] for c in y_pred.tolist()], dtype=np.int64).reshape(y_pred.shape)

    def _positive(self, y_true: Any, y_pred: Any) -> tuple:
        """The classes of a binary problem as 1 (pos_label) and 0, as scikit-learn's binary metrics take them:
        pos_label must be one of two classes present; 0/1 labels and the metric's ignore_index pass as they are."""
        y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
        ignored = self.metric.ignore_index
        kept = y_true if ignored is None else y_true[y_true != ignored]
        present = np.unique(np.concatenate([kept.ravel(), y_pred.ravel()]))
        if len(present) > 2:
            _refuse_scores(y_true, y_pred)
            shown = ", ".join(describe(c) for c in present[:5].tolist()) + (", ..." if len(present) > 5 else "")
            raise MetriccError(f"a binary metric's scorer got {len(present)} classes ({shown}): compile with "
                               f"task='multiclass', num_classes={len(present)}")
        if len(present) == 2 and self.pos_label not in present.tolist():
            raise MetriccError(f"pos_label={describe(self.pos_label)} is not one of the classes "
                               f"{present.tolist()}: pass scorer(pos_label=...), the class that counts as positive")
        if set(present.tolist()) <= {0, 1} and self.pos_label == 1:
            return y_true, y_pred
        truth = (y_true == self.pos_label).astype(np.float64)
        if ignored is not None:
            truth[y_true == ignored] = ignored
        return truth, (y_pred == self.pos_label).astype(np.float64)


@dataclass(frozen=True)
class _Scalars:
    """The generated scalar function of a compiled metric for one backend; pickles as (metric, backend), so
    that a module holding it (a torch loss inside a saved model) can be saved and loaded."""

    metric: CompiledMetric
    backend: str
    order: int
    function: Callable = field(compare=False)

    def __call__(self, *counts):
        return self.function(*counts)

    def __reduce__(self):
        return _scalars_of, (self.metric, self.backend, self.order)

    @functools.cached_property
    def count_limit(self) -> float:
        """The total sample weight the losses of this formula take: checks.count_limit of its NumPy code."""
        return _count_limit(self.metric.derivation)


@functools.lru_cache(maxsize=256)
def _count_limit(derivation: Derivation) -> float:
    return count_limit(np, _scalars_function(derivation, "numpy"))


def _scalars_of(metric: CompiledMetric, backend: str, order: int = 1) -> _Scalars:
    return metric._scalars(backend, order)


@dataclass(frozen=True)
class _LChecker:
    """Warns once per dtype when L is outside its valid range for metricc's kernel on `backend`."""

    L: float
    threshold: float
    backend: str

    def __call__(self, dtype) -> None:
        try:
            dtype_name(dtype)
        except MetriccError:  # (the input's type: the user gave no dtype argument)
            raise MetriccError(narrow_float_message(dtype)) from None
        validate_L(self.L, dtype, accuracy=default_accuracy(self.threshold), threshold=self.threshold, kernel="metricc",
                   backend=self.backend)


def _L_checker(settings: Mapping[str, Any], backend: str) -> _LChecker:
    return _LChecker(settings["L"], settings["threshold"], backend)


@functools.lru_cache(maxsize=256)
def _scalars_function(derivation: Derivation, backend: str, order: int = 1) -> Callable:
    """Executes the printed scalar code (built by metricc's printer from whitelisted tokens, never user text)."""
    source = scalars_source(derivation, backend) if order == 1 else curvatures_source(curvatures(derivation), backend)
    namespace = {name: importlib.import_module(module) for name, module in backend_named(backend).namespace.items()}
    exec(compile(source, f"<metricc {backend} scalars>", "exec"), namespace)
    return namespace["metric_scalars" if order == 1 else "metric_curvatures"]


def compile_metric(formula: str, *, L: float | None = None, threshold: float = 0.5, from_logits: bool = True,
                   eps: float = DEFAULT_EPS, minimize: bool = False, task: str = "binary",
                   num_classes: int | None = None, average: str | None = DEFAULT_AVERAGE,
                   ignore_index: int | None = None, class_weight: Any = None, **params: float) -> CompiledMetric:
    """Compile a confusion-matrix metric (a formula or a catalog name such as "f1") into a loss.

    `params` bind named parameters of the formula (`beta=2` for "fbeta"). The loss is `1 - score`, or the
    formula itself when it starts with `minimize:` or `minimize=True`. `task="multiclass"` or `"multilabel"`
    (with `num_classes`) applies the formula to each class's one-vs-rest counts and averages as `average`
    says ("macro", the default, "micro", "weighted" by support, or "none" or None: one value per class, as
    scikit-learn has it; its "binary", the positive class's score, is the binary task). `ignore_index` leaves
    out the elements (binary, multi-label) or rows (multiclass) whose target is that value. `L` is the amplifying
    scale: 73 (the paper's) unless given, except that a torch loss with the training defaults then uses
    TRAINING_L (15: README, "Training with a metric loss"). Equal arguments return the same object.
    """
    for name, value in params.items():  # another library's argument (not a parameter the formula names)
        if name in catalog.LIBRARY_ARGUMENTS and (not isinstance(value, numbers.Real) or isinstance(value, bool)
                                                  or not isinstance(formula, str) or name not in formula):
            raise MetriccError(f"unknown argument `{name}`{catalog.argument_hint(name, value)}")
        if name == "weight" and not isinstance(value, numbers.Real):  # CrossEntropyLoss(weight=...)
            raise MetriccError(f"unknown argument `weight`; `weight` is an argument of PyTorch's losses: "
                               f"{catalog.CLASS_WEIGHT_HINT}")
    settings = {"L": DEFAULT_L if L is None else L, "threshold": threshold, "from_logits": from_logits, "eps": eps}
    check_settings(settings, MetriccError)
    minimize = flag("minimize", minimize, MetriccError)
    multi = _check_task(task, num_classes, average, ignore_index, class_weight)
    _check_multi_settings(formula, multi.task, multi.num_classes, multi.average, settings)
    if not isinstance(formula, str):
        raise MetriccError(f"Expected the formula to be a str, but got {type(formula).__name__}.")
    formula = str.__add__("", formula)  # a plain str: a subclass's methods never run again
    params = {name: real_number(f"parameter `{name}`", value, "a finite number", MetriccError)
              for name, value in params.items()}
    key = _Key(formula, settings["L"], settings["threshold"], settings["from_logits"], settings["eps"], minimize,
               tuple(sorted(params.items())), multi, L is not None)
    return _compiled(key)


def _check_task(task, num_classes, average, ignore_index, class_weight) -> tuple:
    if not isinstance(task, str) or task not in TASKS:
        raise MetriccError(f"Expected argument `task` to be one of {list(TASKS)}, but got {describe(task)}.")
    if ignore_index is not None:
        ignore_index = _ignore_label(ignore_index, task)
    if task == "binary":
        if num_classes is not None or class_weight is not None:
            raise MetriccError("`num_classes` and `class_weight` need task='multiclass' or 'multilabel'.")
        if average is not DEFAULT_AVERAGE and not (isinstance(average, str) and average == "binary"):
            spelled = "none" if average is None else average
            raise MetriccError(f"`average` needs task='multiclass' or 'multilabel' (got {describe(average)} with "
                               f"task='binary', whose formula scores the positive class); scikit-learn's "
                               f"average={describe(average)} over both classes of a binary problem is "
                               f"task='multiclass', num_classes=2, average={describe(spelled)}")
        return _Task("binary", None, "macro", ignore_index, None)
    average = DEFAULT_AVERAGE.value if average is DEFAULT_AVERAGE else "none" if average is None else average
    given = num_classes
    num_classes = integer(given)
    if num_classes is None or num_classes < 2:
        hint = "." if num_classes != 1 else (
            ": one label is the binary task (the default), which takes logits and labels of any shape"
            if task == "multilabel" else
            ": two classes are the least: for one positive class against the rest, the binary task")
        raise MetriccError(f"Expected argument `num_classes` to be an int of at least 2, but got "
                           f"{describe(given)}{hint}")
    if isinstance(average, str) and average == "binary":
        raise MetriccError("average='binary' is scikit-learn's score of the positive class of a binary problem: "
                           "task='binary' (the default)")
    if isinstance(average, str) and average == "samples":
        raise MetriccError("average='samples' (scikit-learn's mean over each sample's labels) is not one metricc "
                           "computes: 'macro', 'micro', 'weighted' or 'none'")
    if not isinstance(average, str) or average not in AVERAGES:
        raise MetriccError(f"Expected argument `average` to be one of {list(AVERAGES)}, but got "
                           f"{describe(average)}.")
    if class_weight is not None:
        expected = f"Expected argument `class_weight` to be {num_classes} finite, non-negative numbers (not all zero)"
        if average != "macro":
            raise MetriccError(f"{expected}, with average='macro', not {average!r}.")
        try:
            array = np.asarray(class_weight, dtype=np.float64)
        except (TypeError, ValueError, OverflowError):
            raise MetriccError(f"{expected}, but got {describe(class_weight)}.") from None
        if array.ndim != 1:
            raise MetriccError(f"{expected}, but got an array of shape {array.shape}.")
        weights = tuple(float(w) for w in array)
        finite = all(map(math.isfinite, weights))
        if len(weights) != num_classes or not finite or min(weights) < 0 or not sum(weights) > 0:
            raise MetriccError(f"{expected}, but got {list(weights)}.")
        class_weight = weights
    return _Task(task, num_classes, average, ignore_index, class_weight)


def _ignore_label(given: Any, task: str) -> int:
    """The target value whose elements (binary, multi-label) or rows (multiclass) the losses and scores leave
    out."""
    ignore_index = integer(given)
    if ignore_index is None:
        raise MetriccError(f"Expected argument `ignore_index` to be an int, but got {describe(given)}.")
    if task != "multiclass" and ignore_index in (0, 1):
        raise MetriccError(f"ignore_index={ignore_index} is a label of the {task} task: the ignore label marks "
                           f"elements to leave out, such as 255 in a segmentation mask or -1")
    return ignore_index


# Named multi-class scores that scikit-learn does not define as the mean of their one-vs-rest values, refused
# rather than silently averaged: what to write instead, for C classes. For two classes each is the same for
# either class (swapping them changes none), so its macro and weighted means are scikit-learn's score; pooled
# ("micro") counts are not, but for accuracy
_K_BY_K = ("is a statistic of the K x K confusion matrix, not the mean of one-vs-rest values, and metricc does not "
           "compute it; for the mean of one-vs-rest values write the formula out (for MCC: "
           "(TP*TN - FP*FN)/sqrt(PP*POS*NEG*PN))")
_NOT_ONE_VS_REST = {
    "mcc": lambda C: _K_BY_K, "matthews_corrcoef": lambda C: _K_BY_K, "cohen_kappa": lambda C: _K_BY_K,
    "accuracy": lambda C: (f"is scikit-learn's accuracy_score, the share of correct predictions, not the mean of "
                           f"one-vs-rest accuracies (1 - 2 (1 - accuracy)/{C}): it is the micro-averaged recall, "
                           f"compile_metric(\"recall\", task=\"multiclass\", num_classes={C}, average=\"micro\"); "
                           f"for the one-vs-rest mean write (TP + TN)/N"),
    "balanced_accuracy": lambda C: (f"is scikit-learn's balanced_accuracy_score, the mean of the classes' recalls, "
                                    f"not the mean of one-vs-rest (TPR + TNR)/2: it is the macro-averaged recall, "
                                    f"compile_metric(\"recall\", task=\"multiclass\", num_classes={C}); for the "
                                    f"one-vs-rest mean write (TPR + TNR)/2"),
    "informedness": lambda C: (f"is scikit-learn's balanced_accuracy_score(adjusted=True), not the mean of "
                               f"one-vs-rest TPR + TNR - 1: it is the macro average of ({C}*TPR - 1)/{C - 1}, "
                               f"compile_metric(\"({C}*TPR - 1)/{C - 1}\", task=\"multiclass\", "
                               f"num_classes={C}); for the one-vs-rest mean write TPR + TNR - 1"),
}


def _check_multi_settings(formula: Any, task: str, num_classes: int | None, average: str,
                          settings: Mapping[str, Any]) -> None:
    """Refuse settings that a multi-class or multi-label loss would silently ignore."""
    if task == "binary":
        return
    if not settings["from_logits"]:
        hint = ("pass the logits, or log-probabilities, which give the same softmax" if task == "multiclass" else
                "pass each label's logit, log(p) - log(1 - p) of its probability p")
        raise MetriccError(f"task={task!r} takes logits: from_logits=False is not supported ({hint})")
    if task == "multiclass" and settings["threshold"] != 0.5:
        raise MetriccError("task='multiclass' has no threshold (the prediction is the arg-max): leave `threshold` "
                           "at 0.5, or use task='multilabel' for one threshold per label")
    name = formula.strip() if isinstance(formula, str) else None
    two = num_classes == 2 and (average != "micro" or name == "accuracy")
    if task == "multiclass" and name in _NOT_ONE_VS_REST and not two:
        raise MetriccError(f"multi-class {name} {_NOT_ONE_VS_REST[name](num_classes)}")


_LOCKS_LOCK = threading.Lock()
_KEY_LOCKS: dict[tuple, list] = {}  # key -> [lock, number of threads holding or waiting for it]


@contextlib.contextmanager
def _key_lock(key: tuple):
    """A lock for one compilation key, dropped when no thread needs it any more."""
    with _LOCKS_LOCK:
        entry = _KEY_LOCKS.setdefault(key, [threading.Lock(), 0])
        entry[1] += 1
    try:
        with entry[0]:
            yield
    finally:
        with _LOCKS_LOCK:
            entry[1] -= 1
            if entry[1] == 0:
                del _KEY_LOCKS[key]


class _Task(NamedTuple):
    task: str
    num_classes: int | None
    average: str
    ignore_index: int | None
    class_weight: tuple[float, ...] | None


class _Key(NamedTuple):
    """The checked arguments of compile_metric, in plain values: what a compilation is cached and pickled by."""

    formula: str
    L: float
    threshold: float
    from_logits: bool
    eps: float
    minimize: bool
    params: tuple[tuple[str, float], ...]
    multi: _Task
    L_given: bool


@functools.lru_cache(maxsize=512)
def _compile(key: _Key) -> CompiledMetric:
    """Compile one key of compile_metric (one compilation per key and process: see _compiled)."""
    from .parse import parse  # the only stage that needs lark, loaded on the first compilation

    parsed = parse(key.formula, dict(key.params), key.minimize)
    minimize = parsed.minimize or key.minimize
    try:
        derivation = derive(loss_of(parsed.expr, minimize))
    except RecursionError:
        raise MetriccError("the formula nests too deeply for SymPy to differentiate; simplify it") from None
    printed = (*derivation.reduced, *(value for _, value in derivation.shared))  # what the backends' code holds
    if any(e.has(sp.I) for e in printed):
        raise MetriccError(f"the formula {key.formula.strip()!r} is not real-valued for any counts (a log or root of "
                           "a negative number? log(-exp(TP)) is TP + i pi)")
    beyond = [r for e in printed for r in e.atoms(sp.Rational) if not floats_hold(r)]
    if beyond:
        bound = ", ".join(f"{name} = {value:g}" for name, value in parsed.params.items())
        large = abs(beyond[0]) > 1
        raise MetriccError(f"the formula {key.formula.strip()!r}{' with ' + bound if bound else ''}: its gradient "
                           f"holds a constant {'beyond' if large else 'below'} float64's {'' if large else 'normal '}"
                           f"range ({sp.Abs(beyond[0]).evalf(3)}); make its constants "
                           f"{'smaller' if large else 'larger'}")
    if all(c == 0 for c in derivation.coefficients):  # a = d_TP - d_FN and b = d_FP - d_TN
        raise MetriccError(f"the formula {key.formula.strip()!r} depends on the predictions through none of its "
                           "counts: only through N, POS and NEG, which the labels fix, so its gradient is zero and "
                           "it cannot be trained on", text=key.formula, line=1, column=1)
    message = eps_past_limit(key.eps, lambda: _count_limit(derivation))
    if message:
        raise MetriccError(message)
    return CompiledMetric(key.formula, parsed.expr, minimize, MappingProxyType(dict(parsed.params)), key.L,
                          key.threshold, key.from_logits, key.eps, derivation, *key.multi, L_given=key.L_given,
                          key=key)
