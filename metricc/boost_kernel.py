"""A soft-confusion-matrix loss as a custom objective for gradient-boosted trees (XGBoost, LightGBM): margins in,
the derived gradient and the diagonal of the Hessian out, in two passes over the data (the soft counts, then the
outputs), a block of rows at a time.

The objective is the loss times S, the total sample weight W for a ratio such as F1 (1 for a cost that grows like
a sum, such as FP + 5*FN), so that per-sample gradients do not shrink like 1/n. The "batch" is the whole training
set, so the metric is exact. With yh_i = sigmoid(L (sigmoid(z_i) - t)):

    g_i = S w_i c_i yh_i'                          c_i = a for a positive sample, b for a negative one
    h_i = S (w_i^2 q_i yh_i'^2 + w_i c_i yh_i'')   q_i = q_a or q_b, the curvatures of a and b

Each call then rescales g and h by one factor so that h averages `mean_hessian` per unit weight: the Newton
steps stay the same and the boosters' regularisation defaults (lambda, min_child_weight) weigh as they do with a
logistic objective. This module imports only NumPy (and metricc.checks and metricc.booster_context, which import
nothing of metricc): metricc copies all three into the modules it emits.
"""

import math
import sys
import threading
import warnings
import weakref

import numpy

from metricc.checks import caller_level, class_index_hint, class_names_hint  # emitted modules inline this import
from metricc.checks import masked_message, nonfinite_message, weight_range_message  # emitted modules inline this import
from metricc.checks import MISSING_LABEL, nonfinite_input_message  # emitted modules inline this import
from metricc.checks import class_nonfinite_message, extension_numbers  # emitted modules inline this import
from metricc.checks import describe, underflow_ignored  # emitted modules inline this import
from metricc.booster_context import BOOSTER_OBJECTIVES, MODEL_MARK  # emitted modules inline this import
from metricc.booster_context import RAW_PROBABILITIES, Agreement  # emitted modules inline this import
from metricc.booster_context import all_reduced, communicator  # emitted modules inline this import
from metricc.booster_context import booster_scores, ignored_class_weights  # emitted modules inline this import
from metricc.booster_context import lightgbm_machines, misread_metrics  # emitted modules inline this import
from metricc.booster_context import raw_score_classifier, training_booster  # emitted modules inline this import

HESSIANS = ("exact", "abs", "clip", "gauss-newton", "bound")
# the default Hessian form: the bound for sigmoid amplifiers; for the softmax one (task="multiclass", where no
# bound is derived) the form that trained best (docs/boosting.md, "Multi-class")
DEFAULT_HESSIAN = {"binary": "bound", "multilabel": "bound", "multiclass": "gauss-newton"}
# "clip": the exact diagonal, raised to at least this share of the largest |h_i| (so no leaf divides by ~0)
CLIP_FLOOR = 1e-3
# a booster's call whose raw scores are all one value where the amplifier's slope is below this share of its
# peak warns (_flat_start): the booster started them there (XGBoost's base_score), and the objective cannot learn
FLAT_START = 1e-2
# ... and so does a training's first round whose raw scores lie there in more than this share (a model continued
# from another objective's margins: the objective cannot move them). Later rounds may well put most there: a
# trained model's confident rows (98-100 % of them after 1,000 rounds on three data sets)
FLAT_SHARE = 0.5
# sample weights above this are refused: the Hessian squares them (with the slopes and the counts' partials)
MAX_WEIGHT = 1e100
# float64 numbers per block of rows (twice as many float32): a block's twelve buffers (1.5 MiB) stay in a core's
# own (L2) cache; blocks four times this size, which spill out of it, make the booster's float32 call 17 % slower
BLOCK = 1 << 14
# float64 numbers per block of rows in a multi-class call, whose blocks pass over their rows some 90 times, most
# with a new temporary array: four times BLOCK (the call 13 % and 26 % faster at C = 3 and 10 than with BLOCK,
# timed alternating in one process on an AMD EPYC VM; with twice this, 10-12 % slower again)
CLASS_BLOCK = 1 << 16
# rows per dot product (outer_dots): OpenBLAS computes a dot of more than 10,000 numbers (or a matrix product of more
# than 262,144 multiplications) with its worker threads; float32 dot products are shorter (DOT // 4), so that each
# sums few enough numbers in float32 before float64 takes over
DOT = 4096
# the booster's call computes in float32 with the bound Hessian when every sample weight lies in this range
FLOAT32_WEIGHTS = (1e-15, 1e15)
# the most the sample weights may add up to in a booster's call: its float32 outputs add up to about
# mean_hessian times that
FLOAT32_TOTAL_WEIGHT = 1e30
# ... and when some row near the amplifier's steep point carries the gradient: float32's slopes are exact to
# ~3e-7 of their peak, so with every margin far out they would be mostly rounding (up to wholly wrong, relative
# to the largest output). The largest gradient must reach this / L of the one at the peak (_float32_suffices),
# else the call computes in float64
FLOAT32_STEEPEST = 2.0
# the float32 call's counts are exact to about this times L in relative terms (measured: at most 1.5e-8 L); a
# coefficient whose sensitivity to them, sum_k |d c / d log k|, exceeds this many times what its outputs allow
# (_float32_counts_suffice) would carry their rounding past the tolerance, and the call computes in float64
FLOAT32_COUNT_ERROR = 2e-8
FLOAT32_CONDITION = 10.0  # half an output's budget, 2e-7 L, over FLOAT32_COUNT_ERROR L
# the relative step of the forward differences that measure those sensitivities
SENSITIVITY_STEP = 1e-6
# the points of those differences, as factors of the counts TP, FP, FN, TN (rows): the counts, then each one larger
_STEPS = (1 + SENSITIVITY_STEP * numpy.eye(4, 5, 1))[:, :, None]
# the kernel's products of the coefficients (_products) stay below these in its arithmetic's type: the rescaling
# caps its factor there; at the fixed scale (mean_hessian None) larger ones compute in float64
LARGEST_PRODUCT = {numpy.float32: 1e30, numpy.float64: 1e300}
# a rescaled gradient or Hessian element stays below this (float32 holds 3.4e38, and a booster sums them over a
# leaf's rows): the factor is capped there where the Hessian is near 0 on rows whose gradient is not
OUTPUT_LARGEST = 1e30
# the largest mean_hessian taken (about the largest Hessian element at unit weight: within OUTPUT_LARGEST)
MAX_MEAN_HESSIAN = 1e20
# the float32 call's amplifier clips its argument here: exp stays finite (float32 overflows past 88.7), and
# sigmoid(-80) = 1.8e-35 is still a normal float32 number
FLOAT32_EXP_CLIP = 80.0
# ... and its probability the margin: 4 p (1 - p) is then at least 4 exp(-18) = 6e-8, or within that of its value,
# as exact as float32's 1 - tanh(z / 2)^2 (1 ulp of 1), whose products with the amplifier's slope stay normal
FLOAT32_PROBABILITY_CLIP = 18.0
# the float32 call adds this to its slopes d (before the weights), so that each is at least this: far out, the
# amplifier's slope and the probability's are both tiny, and d^2 (or the Hessian's q d^2) fell below float32's
# smallest normal number, where each operation costs ten to twenty normal ones (the call took 2-4 times as long on
# margins spread over +-10). It is 1.5e-11 of d's peak (1/16; a d above 2^-16 does not change): far below the
# call's tolerance, and d^2 times the curvature's coefficient (1e-5 at n = 1e6: it falls like 1/n) stays normal
# up to n ~ 1e12
FLOAT32_SLOPE_FLOOR = 2.0 ** -40

# whether float32 tanh is cheaper than exp here (None: not yet asked; tests set it to run either form)
TANH_IS_CHEAPER = None


def _tanh_is_cheaper():
    """Whether NumPy's float32 tanh runs an AVX-512 loop on this machine, where it costs less than its exp (0.8x
    on an AMD EPYC; its AVX2 loop costs twice exp): then the float32 call takes its probability from tanh, else from
    exp (also where NumPy, before 2.0, cannot say: numpy.lib.introspect). Asked once."""
    global TANH_IS_CHEAPER
    if TANH_IS_CHEAPER is None:
        try:
            from numpy.lib.introspect import opt_func_info
            current = opt_func_info(func_name="^tanh$", signature="float32")["tanh"]["ff"]["current"]
            TANH_IS_CHEAPER = "AVX512" in current or current == "X86_V4"
        except (ImportError, AttributeError, KeyError, TypeError, ValueError):  # another NumPy's answer
            TANH_IS_CHEAPER = False
    return TANH_IS_CHEAPER


def flat_bounds(L, threshold, offset):
    """The raw scores below and above which the amplifier's slope 4 e^-u / (1 + e^-u)^2, u = L |p - threshold|
    with p = sigmoid(raw score + offset), is less than FLAT_START of its peak (-inf, inf where p cannot lie that
    far from the threshold on that side)."""
    b = 4 - 2 * FLAT_START  # e^-u solves FLAT_START x^2 - b x + FLAT_START = 0 there (the smaller root)
    reach = -math.log((b - math.sqrt(b * b - 4 * FLAT_START ** 2)) / (2 * FLAT_START)) / L  # in p
    low, high = threshold - reach, threshold + reach
    return (math.log(low / (1 - low)) - offset if low > 0 else -math.inf,
            math.log(high / (1 - high)) - offset if high < 1 else math.inf)


def extensive(curvatures):
    """Whether the loss grows like a sum of the counts (doubling them doubles it: a cost such as FP + 5*FN),
    rather than staying the same (a ratio such as F1 or (FP + 5*FN)/N): probed at the first of a few sets of
    counts where the formula is finite (none: not a cost)."""
    with numpy.errstate(all="ignore"):
        for counts in ((7.0, 2.5, 1.25, 30.0), (31.0, 17.5, 9.25, 113.0), (0.375, 0.625, 0.875, 1.125)):
            counts = [numpy.float64(c) for c in counts]  # NumPy's inf and NaN where Python's floats would raise
            one, two = float(curvatures(*counts)[0]), float(curvatures(*(2 * c for c in counts))[0])
            if numpy.isfinite(one) and numpy.isfinite(two):
                return one != 0 and abs(two - 2 * one) <= 1e-9 * abs(one)
    return False


def sigmoids(x, out=None, scale=1.0, shift=0.0, probability=False):
    """sigmoid(v), sigmoid(-v) and their product for v = scale (x - shift), in float64, into the three arrays of
    `out` (new ones by default): E = exp(v), sigmoid(-v) = 1 / (1 + E), sigmoid(v) = E sigmoid(-v). v is clipped
    to +-700 so that E is finite, unless x is a `probability` (in [0, 1]) and v cannot pass that. Each result is
    exact to a few ulps in relative terms for |v| up to the clip, so no slope or complement rounds to 0 (beyond,
    they are off by less than 1e-304 in absolute terms). One exponential, six passes (seven with a scale or a
    shift)."""
    first, second, product = out if out is not None else (numpy.empty(numpy.shape(x)) for _ in range(3))
    dtype, limit = first.dtype, 700.0
    v = x  # x may be of another type: the first pass converts it
    if scale != 1:
        v = numpy.multiply(x, scale, out=first, dtype=dtype)
    if shift:
        v = numpy.subtract(v, scale * shift, out=first, dtype=dtype)
    if not (probability and abs(scale) * max(abs(shift), abs(1 - shift)) <= limit):
        v = numpy.clip(v, -limit, limit, out=first, dtype=dtype)
    elif v is x:
        numpy.copyto(first, x)
        v = first
    numpy.exp(v, out=first)
    numpy.add(first, 1, out=second)
    numpy.divide(1.0, second, out=second)  # 1 / x: twice numpy.reciprocal's speed
    first *= second  # sigmoid(v)
    numpy.multiply(first, second, out=product)
    return first, second, product


def outer_dots(a, b):
    """The sums over the rows of a_i * b_j for each pair of a's arrays a_i and b's b_j, column by column: for a of
    shape (k, rows, C) and b (m, rows, C), an array (k, m, C), float64. Dot products over DOT rows at a time (DOT //
    4 in float32, whose sums run in float32; the runs' results are then summed in float64), all of a block's in one
    broadcast numpy.vecdot call, each short enough for OpenBLAS to compute on the calling thread (a longer one wakes
    its worker threads, which then spin on the cores the booster's own threads need). One call costs what one
    batched matrix product (k x DOT by DOT x m per run) costs in Python, and its dot products cost less than the
    small matrix products (the binary call 10-13 % faster on an AMD EPYC machine), which NumPy 1 (no vecdot) uses."""
    count, write = products(a, b)
    partial = numpy.empty((count, a.shape[2], a.shape[0], b.shape[0]), numpy.result_type(a, b))
    write(partial)
    return partial.sum(axis=0, dtype=numpy.float64).transpose(1, 2, 0)


def products(a, b):
    """outer_dots(a, b) in parts, for arrays a and b whose contents change between calls (a block's buffers, block
    after block; the views BLAS reads are made once): (count, write), where write(out) puts the sums of the rows'
    products over each run of DOT rows (DOT // 4 in float32) into out[:count], of shape (count, C, k, m) and the
    arrays' type, for the caller to add up in float64 (once for all blocks, so that the result does not depend on
    how the rows were split into blocks)."""
    a, b = a.transpose(2, 0, 1), b.transpose(2, 0, 1)  # (C, count, rows)
    if a.strides[-1] != a.itemsize or b.strides[-1] != b.itemsize:  # several columns: each array's rows are copied
        count, _ = _chunked(a, b)  # adjacent, at each call
        return count, lambda out: _chunked(numpy.ascontiguousarray(a), numpy.ascontiguousarray(b))[1](out)
    return _chunked(a, b)


def _chunked(a, b):
    """products() for arrays (C, count, rows) whose rows are adjacent in memory, as BLAS reads them."""
    rows = a.shape[-1]
    size = DOT if a.dtype == numpy.float64 or b.dtype == numpy.float64 else DOT // 4
    full = rows - rows % size

    def chunks(v):  # (chunks, C, count, size)
        return v[..., :full].reshape(v.shape[:2] + (full // size, size)).transpose(2, 0, 1, 3)

    product = getattr(numpy, "vecdot", None)  # NumPy 2
    if product is not None:  # (.., k, 1, size) against (.., 1, m, size): every pair's dot product of each run
        a_full, b_full = chunks(a)[..., None, :], chunks(b)[..., None, :, :]
        a_tail, b_tail = a[..., None, full:], b[..., None, :, full:]
    else:  # NumPy 1: the same sums as batched matrix products, (.., k, size) by (.., size, m)
        product = numpy.matmul
        a_full, b_full = chunks(a), chunks(b).swapaxes(-1, -2)
        a_tail, b_tail = a[..., full:], b[..., full:].swapaxes(-1, -2)
    count = full // size

    def write(out):
        if full:
            product(a_full, b_full, out=out[:count])
        if full < rows:
            product(a_tail, b_tail, out=out[count])

    return count + (full < rows), write


def softmax(x, out=None):
    """softmax of each column of a class-major x (C, n) (each sample's classes down a column), in float64, into
    `out` (a new array by default)."""
    x = numpy.asarray(x)
    e = numpy.subtract(x, x.max(axis=0), out=out, dtype=numpy.float64)
    numpy.exp(e, out=e)
    e /= e.sum(axis=0)
    return e


def _first_largest(x):
    """A float64 mask of x's shape (C, n), 1 at the first largest entry of each column and 0 elsewhere (one a
    column, ties included), in a few passes a class (numpy.argmax along the classes took 17 times a pass), and
    the columns' largest entries (1, n)."""
    values = x.max(axis=0, keepdims=True)
    largest = x == values
    seen = largest[0].copy()
    for row in largest[1:]:
        row &= ~seen
        seen |= row
    return largest.astype(numpy.float64), values


def _pooled(counts):
    """The sum of an array of counts as a NumPy float64 (its one element as it is: no reduction's call)."""
    return counts[0] if counts.size == 1 else numpy.float64(counts.sum())


def _typed(x, buffer):
    """x itself if it is of the buffer's type, else x copied into `buffer` (of x's shape)."""
    if x.dtype == buffer.dtype:
        return x
    numpy.copyto(buffer, x)
    return buffer


def label_plan(if_positive, if_negative, dtype=numpy.float64):
    """How a per-row number y * if_positive + (1 - y) * if_negative (of two float64 numbers, or rows of one per
    label) is computed, for _by_label: where the smaller in magnitude is on the same side for every label, as that
    one plus the label's share of the difference (two passes; a hard label's value is then within 1.5 ulps of its
    number). Never the larger plus a share: that loses the smaller when the two lie far apart (b can be ~1/eps).
    Otherwise as both products (three passes)."""
    if isinstance(if_positive, float) and isinstance(if_negative, float):  # one label: no array's calls
        every = some = abs(if_positive) <= abs(if_negative)
    else:
        smaller = numpy.abs(if_positive) <= numpy.abs(if_negative)
        every, some = smaller.all(), smaller.any()
    if every:
        share, first, second = "not_y", if_negative - if_positive, if_positive
    elif not some:
        share, first, second = "y", if_positive - if_negative, if_negative
    else:
        share, first, second = None, if_positive, if_negative
    return share, numpy.asarray(first, dtype), numpy.asarray(second, dtype)


def _by_label(y, not_y, plan, scratch, out=None):
    """The rows' numbers that `plan` (from label_plan) describes, for labels y and 1 - y (not_y), into `out` (a new
    float64 array of y's shape by default; `scratch` may be overwritten)."""
    share, first, second = plan
    out = numpy.empty(numpy.shape(y)) if out is None else out
    if share is None:
        numpy.multiply(y, first, out=out)
        out += numpy.multiply(not_y, second, out=scratch)
    else:
        numpy.multiply(y if share == "y" else not_y, first, out=out)
        out += second
    return out


class EvalMetric:
    """An objective's `eval_metric`, for early stopping: the loss on hard predictions (1 - score, or the cost;
    lower is better), in the caller's convention: XGBoost's train(custom_metric=...) (margins, DMatrix) -> (name,
    value); XGBClassifier's eval_metric (labels, margins) -> value, as scikit-learn's metrics; LightGBM, both APIs
    -> (name, value, is_higher_better). Its __name__, under which XGBClassifier records it, and the name it
    returns are the formula's ("1-f1"). It reads what the calling booster passes (booster_scores()): the raw
    scores of metricc's objective (or another custom one), or the predictions of the booster's own objective
    (binary:logistic's probabilities, positive from the threshold)."""

    def __init__(self, objective):
        self.objective = objective
        self.__name__ = objective._eval_name()

    def __repr__(self):
        return f"<eval_metric {self.__name__} of {self.objective!r}>"

    def __call__(self, y_true, y_pred, sample_weight=None):
        with numpy.errstate(under="ignore"):  # as underflow_ignored has it (which would add a frame)
            return self.objective._evaluation(y_true, y_pred, sample_weight, booster_scores(sys._getframe(1)))


class BoostObjective:
    """`objective(y_true, y_pred, sample_weight=None) -> (grad, hess)`, also callable as `objective(margins,
    data)` with an XGBoost DMatrix or a LightGBM Dataset (labels and weights are read from it), so one object
    serves xgboost.train(obj=...), XGBClassifier(objective=...), lightgbm.train(params={"objective": ...}) and
    LGBMClassifier(objective=...). `curvatures(TP, FP, FN, TN)` returns (loss, a, b, q_a, q_b).

    `hessian`: "bound" (the default: |S w_i^2 q_i yh_i'^2| + S w_i |c_i| M, with M the largest |yh''| over all
    margins; it majorises the loss along each margin, so that no Newton step overshoots, and it stays positive
    where the exact diagonal passes 0 at yh = 1/2, where every raw score starts), "exact" (the exact diagonal, may
    be negative), "abs" (its absolute value), "clip" (the exact diagonal raised to CLIP_FLOOR times its largest
    magnitude) or "gauss-newton" (both terms made non-negative).

    Arithmetic: a call (float32 outputs, the type both boosters keep) with the bound Hessian computes in float32
    (the probability from tanh or exp, the amplifier from exp: _amplified_float32), its sums and coefficients in
    float64: each output within 4e-7 L of the float64 value, or within 1e-7 L of the largest output (where p - t
    cancels for a threshold t other than 1/2). The other forms (whose bend 1 - 2 yh cancels near the threshold),
    soft labels (each row's coefficient y a + (1 - y) b can cancel, on every row where the labels lie near one
    value), sample weights outside FLOAT32_WEIGHTS, calls whose margins all lie far out on the amplifier
    (FLOAT32_STEEPEST) or whose coefficients are small differences of large counts (FLOAT32_CONDITION) and
    `gradient_and_hessian()` compute in float64.

    Raw scores: the booster's score r stands for the margin z = r + `offset`, offset = logit(threshold), so that
    every booster starts at r = 0 (`params`), where the amplifier is steepest, and a prediction is positive for
    r >= 0, as the boosters' own predict() has it (for threshold 0.5, r is the margin).

    Multi-class (`task="multiclass"`, both boosters' multi-class mode): margins (n, C), labels the class indices
    (n,), yh = softmax(L/2 softmax(z)), the loss averaged over the classes ("macro", optionally with
    `class_weight`, or "weighted" by support); the prediction is the arg-max. No bound is derived for the softmax
    amplifier: its default Hessian is "gauss-newton".

    Multi-label (`task="multilabel"`, XGBoost's multi-output mode): margins and labels of shape (n, C), the loss
    averaged over the labels as `average` says ("macro", optionally with `class_weight`; "weighted" by support;
    "micro" over the pooled counts); each label's gradient and Hessian are the binary ones with its own
    coefficients, times its weight in the average.

    Distributed XGBoost (communicator()): in the booster's calls (the objective and eval_metric, which every
    worker makes in step), the counts, the total weight, the Hessian's size and the evaluation's counts are summed
    over the workers, so that each worker's call gives the whole training set's gradient and Hessian on its rows.
    loss(), evaluate() and gradient_and_hessian() stay local (a worker may call them alone).

    `mean_hessian`: each call rescales the gradient and the Hessian together so that the Hessian's magnitude
    averages this much per unit of sample weight (the default 0.1; a logistic objective's p (1 - p) starts at
    0.25 and falls as the fit sharpens). The Newton step -G / H of a leaf does not change; the boosters'
    regularisation (lambda, min_child_weight) then weighs as much as it does with a logistic objective, where
    at the fixed scale S it would weigh almost nothing. None keeps the fixed scale.
    """

    def __init__(self, curvatures, *, L=73.0, threshold=0.5, eps=1e-6, hessian=None, mean_hessian=0.1,
                 booster="xgboost", task="binary", num_classes=None, average="macro", class_weight=None,
                 minimize=False, check_inputs=True, name="metric", error=ValueError, warning=UserWarning):
        hessian = DEFAULT_HESSIAN.get(task, "bound") if hessian is None else hessian
        if not isinstance(hessian, str) or hessian not in HESSIANS:
            raise error(f"Expected argument `hessian` to be one of {list(HESSIANS)}, but got {describe(hessian)}.")
        if task == "multiclass" and hessian == "bound":
            raise error("the 'bound' Hessian is derived for sigmoid amplifiers only: a multi-class objective takes "
                        "hessian='gauss-newton' (its default), 'abs', 'clip' or 'exact'")
        if mean_hessian is not None and (isinstance(mean_hessian, bool)
                                         or not isinstance(mean_hessian, (int, float))
                                         or not 0 < mean_hessian < numpy.inf):
            raise error(f"Expected argument `mean_hessian` to be a positive number or None, but got {mean_hessian!r}.")
        if mean_hessian is not None and mean_hessian > MAX_MEAN_HESSIAN:
            raise error(f"Expected argument `mean_hessian` to be a positive number up to {MAX_MEAN_HESSIAN:g} (the "
                        f"boosters keep the gradient and Hessian in float32), or None, but got {mean_hessian!r}.")
        if booster not in ("xgboost", "lightgbm"):
            raise error(f"Expected argument `booster` to be 'xgboost' or 'lightgbm', but got {booster!r}.")
        if task == "multilabel" and booster == "lightgbm":
            raise error(f"LightGBM has no multi-output mode for a multi-label objective: train one booster per label "
                        f"with the binary {name} objective (compile_metric without task=...), for example "
                        f"sklearn.multioutput.MultiOutputClassifier(metricc.lightgbm_sklearn.LGBMClassifier("
                        f"objective=objective, **objective.params)). "
                        + {"micro": "Micro-averaging pools the labels' counts, which boosters of one label each do "
                                    "not see: XGBoost's multi-output mode trains it",
                           "none": "average='none' keeps each label's loss: each booster trains its own"}.get(
                            average, f"The {average} average weighs each label's loss by a constant, so the boosters "
                                     f"together train it"))
        if task not in ("binary", "multilabel", "multiclass") or task == "multilabel" and average == "none":
            raise error(f"a booster objective supports task='binary', task='multiclass' and task='multilabel' with "
                        f"XGBoost's multi-output mode and one loss (average 'macro', 'micro' or 'weighted'); got "
                        f"task={task!r}, average={average!r} for {booster}")
        if task == "multiclass" and average not in ("macro", "weighted"):
            why = ("'none' keeps one loss per class" if average == "none" else
                   "micro-averaging one-hot predictions scores accuracy")
            raise error(f"a multi-class booster objective averages the classes' losses into one: average 'macro' or "
                        f"'weighted', not {average!r} ({why})")
        self.curvatures = curvatures
        self.L, self.threshold, self.eps = float(L), float(threshold), float(eps)
        self.hessian, self.booster, self.minimize = hessian, booster, bool(minimize)
        self.mean_hessian = None if mean_hessian is None else float(mean_hessian)
        self.task, self.num_classes, self.average = task, num_classes, average
        self.class_weight = None if class_weight is None else numpy.asarray(class_weight, dtype=numpy.float64)
        self.check_inputs, self.name, self.error, self.warning = check_inputs, name, error, warning
        # softmax ignores a shift of all margins: multi-class raw scores are the margins
        self.offset = 0.0 if task == "multiclass" else float(numpy.log(self.threshold / (1 - self.threshold)))
        self._flat_bounds = flat_bounds(self.L, self.threshold, self.offset)
        self.extensive = extensive(curvatures)
        self.__name__ = f"metricc_{booster}_objective"  # boosters print the objective's name
        self.eval_metric = EvalMetric(self)

    def __repr__(self):
        return (f"{type(self).__name__}({self.name!r}, L={self.L}, threshold={self.threshold}, "
                f"hessian={self.hessian!r}, mean_hessian={self.mean_hessian}, booster={self.booster!r})")

    def __getstate__(self):
        """Pickled (scikit-learn's clone, joblib, a pickled model that holds the objective) without the buffers
        a call keeps for the next one (and the float32 numbers it makes once)."""
        return {k: v for k, v in self.__dict__.items() if k not in ("_local", "_numbers32", "_started")}

    def _scratch(self):
        """This thread's buffers, kept between its calls (a booster calls from one thread; boosters trained in
        threads on one objective each have their own)."""
        local = self.__dict__.get("_local")
        return local if local is not None else self.__dict__.setdefault("_local", threading.local())

    def __call__(self, y_true, y_pred, sample_weight=None):
        """The gradient and Hessian diagonal for the booster, rescaled (`mean_hessian`), as float32 arrays of the
        margins' shape (computed in float32 for the bound Hessian, see the class): both boosters keep them in
        float32. `gradient_and_hessian()` gives the unscaled float64 values."""
        agreement = Agreement(communicator(self.booster), self.error)
        with agreement, numpy.errstate(under="ignore"):  # as underflow_ignored has it (which would add a frame)
            return self._call(y_true, y_pred, sample_weight, agreement.collective)

    def _call(self, y_true, y_pred, sample_weight, collective):
        """__call__ with the workers' `collective` (an Agreement's, or None)."""
        margins, labels, weight = self._arguments(y_true, y_pred, sample_weight)
        z, y, w = self._arrays(margins, labels, weight, values=False)
        # once per training set (LightGBM passes the same Dataset, or its labels, at every call: 15 us a walk)
        if self.booster == "lightgbm" and self.__dict__.get("_machines_checked") not in ("warned", id(y_true)):
            self._machines_checked = id(y_true)
            machines = lightgbm_machines(sys._getframe(2))
            if machines > 1:
                self._machines_checked = "warned"
                warnings.warn(f"LightGBM trains on {machines} machines, and gives each machine's objective its own "
                              f"rows only, with nothing to sum the counts over: each machine trains on (and "
                              f"evaluates) its own rows' {self.name}, not the whole training set's; for the exact "
                              f"metric train on one machine, or with XGBoost, whose objectives sum them over its "
                              f"workers", self.warning, stacklevel=caller_level())
        training = training_booster(sys._getframe(2))
        first_round = self._first_round(training, sys._getframe(2))
        if self.task != "multiclass":
            self._warn_if_flat(z, first_round, later=training is not None and not first_round)
        grad, hess = numpy.empty(z.shape, numpy.float32), numpy.empty(z.shape, numpy.float32)
        with numpy.errstate(over="ignore", invalid="ignore"):  # outputs beyond float32 are refused below
            counts, unsure = self._derivatives(z, y, w, self.hessian, grad, hess, self.mean_hessian, collective)
        if first_round:
            self._warn_if_one_class(counts)
        if self.hessian != "bound" and not hess.any() and grad.any():  # (the bound is positive where g is not 0)
            warnings.warn(f"the {self.hessian!r} Hessian is 0 on every row, where the gradient is not (or below "
                          f"float32's range beside it; a metric linear in the counts has no curvature, and the "
                          f"amplifier does not bend at the raw score 0, where training starts): no leaf reaches "
                          f"the booster's least Hessian sum "
                          f"(min_child_weight, min_sum_hessian_in_leaf), and the model does not learn; train with "
                          f"hessian='bound', the default, which majorises the loss and is positive",
                          self.warning, stacklevel=caller_level())
        if unsure and not (numpy.isfinite(grad).all() and numpy.isfinite(hess).all()):
            bad = ~(numpy.isfinite(grad) & numpy.isfinite(hess))  # (rescaled outputs stay far inside)
            raise self.error(self._nonfinite(counts, bad.reshape(len(bad), -1).any(axis=0), dtype="float32",
                                             overflow="the boosters keep them in float32; keep the rescaling "
                                             "(mean_hessian), or change the formula" if self.mean_hessian is None
                                             else "its curvatures' products with L^2 pass float64 there, which "
                                             "no rescaling brings back: change the formula"))
        shape = numpy.shape(margins)
        return grad.reshape(shape), hess.reshape(shape)

    @staticmethod
    def _all_equal(z):
        """Whether every element of z is its first: 17 spread out ones first (a tree's raw scores share values;
        late in training the first may well lie far out), then all."""
        first, spread = z.flat[0], z.reshape(-1)[::max(1, z.size // 16)]
        return bool((spread == first).all() and (z == first).all())

    def _probability(self, raw):
        """p = sigmoid(margin) at the raw score `raw` (margin = raw + offset)."""
        return 0.5 * (1 + math.tanh(0.5 * (raw + self.offset)))

    def _first_round(self, training, frame):
        """Whether this call (from `frame`) is the first round of a `training` (its booster; None for a call from
        elsewhere); the first round also warns of the booster's class weights that it ignores with a custom
        objective, and of its metrics that it computes wrong on the raw scores."""
        if training is None or training in self.__dict__.setdefault("_started", weakref.WeakSet()):
            return False
        self._started.add(training)
        if self.booster == "xgboost":
            training.set_attr(**{MODEL_MARK: self.name})
        booster = "XGBoost" if self.booster == "xgboost" else "LightGBM"
        ignored = ignored_class_weights(training)
        if ignored:
            weights = ("xgboost.DMatrix(weight=...), or fit(sample_weight=...)" if self.booster == "xgboost" else
                       "lightgbm.Dataset(weight=...), or fit(sample_weight=...) or class_weight=")
            it = "it" if len(ignored) == 1 else "them"
            warnings.warn(f"{', '.join(f'{k}={v}' for k, v in ignored.items())}: {booster} applies {it} in its own "
                          f"binary objective only, and ignores {it} with a custom one: metricc's {self.name} "
                          f"objective trains without {it}. The objective weighs the classes as the metric does; to "
                          f"weigh samples, pass sample weights ({weights}), which it takes", self.warning,
                          stacklevel=caller_level())
        if self.booster == "lightgbm" and raw_score_classifier(frame):
            warnings.warn(f"lightgbm.LGBMClassifier's predict() and predict_proba() return the raw scores of a "
                          f"custom objective, not classes or probabilities: scikit-learn's scorers (cross_val_score, "
                          f"GridSearchCV) score them as NaN, and a cut-off at 0.5 reads them wrong. Fit "
                          f"metricc.lightgbm_sklearn.LGBMClassifier instead (the same classifier, predicting the "
                          f"classes of metricc's {self.name} objective), or take the classes as "
                          f"objective.predict(model.predict(X, raw_score=True))", self.warning,
                          stacklevel=caller_level())
        misread = misread_metrics(training, frame)
        if misread:
            warnings.warn(f"{booster} computes the metric {', '.join(misread)} on a custom objective's raw scores as "
                          f"if they were its own objective's probabilities: with metricc's {self.name} objective it "
                          f"reads wrong (an error rate counts a raw score above 0.5 as positive), and early stopping "
                          f"on it stops at the wrong round. Watch objective.eval_metric (the hard {self.name} at the "
                          f"decision threshold), a rank metric such as auc, which raw scores leave unchanged, or "
                          f"XGBoost's error@0",
                          self.warning, stacklevel=caller_level())
        return True

    def _warn_if_one_class(self, counts):
        """A warning where the training set's soft `counts` (every worker's) hold one class only: every label 0 or
        every label 1 (in each column), or every row of one class. LightGBM fills a Dataset built without labels
        with zeros."""
        tp, fp, fn, tn = numpy.reshape(counts, (4, -1))
        positives, negatives = tp + fn, fp + tn
        if self.task == "multiclass":
            present = numpy.flatnonzero(positives > 0)
            if len(present) != 1:
                return
            only, message = int(present[0]), f"every row of this training set is of class {present[0]}"
        elif not (positives == 0).all() and not (negatives == 0).all():
            return
        else:
            only = 0 if (positives == 0).all() else 1
            message = f"every label of this training set is {only}"
        message += (f": with one class there is nothing for the {self.name} objective to tell apart, and every "
                    f"model scores alike on its metric")
        if self.booster == "lightgbm" and only == 0:
            message += ("; a lightgbm.Dataset built without labels holds zeros: build it with them, "
                        "lightgbm.Dataset(X, label=y)")
        warnings.warn(message, self.warning, stacklevel=caller_level())

    def _warn_if_flat(self, z, first_round, later=False):
        """A warning where the raw scores z lie where the amplifier is flat: every one of them at one such value
        (a booster's start, _flat_start, or, `later` in a training, where a step sent them), or, in the
        `first_round` of a training, more than FLAT_SHARE of them (a model continued from another objective's
        margins)."""
        first = float(z.flat[0])
        if self._flat(first) and self._all_equal(z):
            warnings.warn(self._flat_start(first, later), self.warning, stacklevel=caller_level())
            return
        if not first_round:
            return
        share = float(numpy.mean(self._flat(z)))
        if share > FLAT_SHARE:
            warnings.warn(self._flat_rows_message(share), self.warning, stacklevel=caller_level())

    def _flat(self, raw):
        """Whether the amplifier's slope at the raw score `raw` (a number or an array: each) is below FLAT_START
        of its peak (a comparison or two: every call checks its first raw score)."""
        below, above = self._flat_bounds
        return (raw < below) | (raw > above)

    def _flat_rows_message(self, share):
        """What to do when a training's first round has this share of its raw scores where the amplifier is flat."""
        message = (f"{100 * share:.0f} % of the raw scores lie where the amplifier is flat (its slope below "
                   f"{FLAT_START:.0%} of its peak at L = {self.L:g}) in this training's first round: the objective "
                   f"cannot move them, and learns from the other rows only. ")
        if self.booster == "lightgbm":
            return message + ("A model continued with init_model= (or an init_score)? Its margins come from another "
                              "objective: train from the start, or compile with a smaller L")
        return message + ("A model continued with xgb_model=? Its margins come from another objective: train from the "
                          "start, or compile with a smaller L; and leave base_score out of the parameters when "
                          "continuing: XGBoost makes objective.params' base_score (0.5, the raw score 0) the "
                          "continued model's own, which moves every margin by the difference")

    def _flat_start(self, raw, later=False):
        """What to do when every raw score is `raw`, where the amplifier is flat: a booster's first round, or
        `later` in a training, where a round's step sent them."""
        p = self._probability(raw)
        if later:
            return (f"every raw score is {raw:.4g} (p = {p:.2g}) after this training's first round: a round's Newton "
                    f"step sent every sample there at once, far from the amplifier's steep point at "
                    f"{self.threshold:g} (L = {self.L:g}), where the objective cannot learn; " + (
                        f"the {self.hessian!r} Hessian can be about 0 or negative near the raw score 0, where "
                        f"training starts, so that a step overshoots: train with hessian='bound', the default, "
                        f"which majorises the loss" if self.hessian != "bound" else
                        "lower the learning rate (eta, learning_rate), or raise mean_hessian"))
        message = (f"every raw score is {raw:.4g} (p = {p:.2g}), far from the amplifier's steep point at "
                   f"{self.threshold:g} (L = {self.L:g}), where the objective cannot learn; start at 0: ")
        if self.booster == "lightgbm":
            return message + "pass objective.params (boost_from_average False) and no init_score, or init_score 0"
        return message + ("base_score 0.5 under binary:logistic: pass {**objective.params, ...} to xgboost.train "
                          "(without them it starts at the raw score 0.5), base_score=0.5 to XGBClassifier (a "
                          "probability there: 0 starts at p = 1e-6)")

    @underflow_ignored(numpy)
    def loss(self, margins, labels, sample_weight=None):
        """The soft loss (not scaled by the total weight) at the margins."""
        z, y, w = self._arrays(margins, labels, sample_weight, values=False)
        return self._coefficients(self._count_sums(z, y, w)[0])[0]

    @underflow_ignored(numpy)
    def gradient_and_hessian(self, margins, labels, sample_weight=None, hessian=None):
        """The objective's gradient and Hessian diagonal (the mode `hessian`, default this objective's) with
        respect to the margins, as float64 arrays of the margins' shape, at the fixed scale S (no
        `mean_hessian` rescaling)."""
        z, y, w = self._arrays(margins, labels, sample_weight, values=False)
        mode = self.hessian if hessian is None else hessian
        grad, hess = numpy.empty(z.shape), numpy.empty(z.shape)
        self._derivatives(z, y, w, mode, grad, hess)
        shape = numpy.shape(margins)
        return grad.reshape(shape), hess.reshape(shape)

    def _derivatives(self, z, y, w, mode, grad, hess, mean_hessian=None, collective=None):
        """The gradient and Hessian diagonal (the mode `mode`) into `grad` and `hess` (of z's shape, float32 or
        float64), a block of rows at a time after a first pass for the counts, which also keeps each row's slope
        (and, except for the bound, its bend), in the type _arithmetic() picks. With `mean_hessian`, both are
        multiplied by the one factor that makes the Hessian's magnitudes average that much per unit weight: it
        goes into the coefficients a, b, q_a, q_b (g and h are linear in them), so that no output is rounded
        twice. With a `collective` (communicator(): only the booster's own calls, which every worker makes in
        step), the sums are those of every worker's rows. Returns the soft counts, and whether the outputs may be
        past the range of their type (the rescaled binary outputs stay far inside where the Hessian's size is
        finite)."""
        if self.task == "multiclass":
            return self._softmax_derivatives(z, y, w, mode, grad, hess, mean_hessian, collective)
        heaviest = None if w is None else float(w.max())
        dtype = self._arithmetic(mode, grad.dtype, heaviest)
        slopes, bends = self._row_buffers(z.shape, 1 if mode == "bound" else 2, dtype)
        local = self._count_sums(z, y, w, slopes, bends, dtype)

        def in_float64():  # the first pass again, in float64 (which keeps no bends: they are recomputed)
            slopes, bends = self._row_buffers(z.shape, 1, numpy.float64)
            return numpy.float64, slopes, bends, self._count_sums(z, y, w, slopes, bends, numpy.float64)

        # every worker's call in one type (each worker's weights decide it, as its labels do); in float64 where
        # some worker's labels are soft: each row's coefficient y a + (1 - y) b can be a small difference, which
        # float32's counts and coefficients would swamp on every row where the labels lie near one value
        if self._arithmetic(mode, grad.dtype, None) == numpy.float32 and all_reduced(
                collective, [float(local is None or dtype == numpy.float64)], "MAX")[0] and dtype == numpy.float32:
            dtype, slopes, bends, local = in_float64()
        weight, counts, sums = self._summed(collective, self._total_weight(w, len(z)), *local)
        self._check_total_weight(weight, grad.dtype)
        total = 1.0 if self.extensive else weight
        weight *= z.shape[1]  # per label and unit weight
        coefficients = self._coefficients(counts)[1:]
        needs_float64 = dtype == numpy.float32 and not (
            (mean_hessian is not None or self._products(coefficients, total) <= LARGEST_PRODUCT[numpy.float32])
            and self._float32_counts_suffice(counts, heaviest)
            and self._float32_suffices(coefficients, sums, y, heaviest, slopes))
        if all_reduced(collective, [float(needs_float64)], "MAX")[0]:  # every worker, where one needs it
            # coefficients whose products pass float32's range (at the fixed scale), that cancel, or every margin
            # far out on the amplifier: in float64
            if dtype == numpy.float32:
                dtype, slopes, bends, local = in_float64()
            counts, sums = self._summed(collective, None, *local)[1:]
            coefficients = self._coefficients(counts)[1:]

        def blocks(coefficients, outputs=None):  # into outputs (grad, hess), else into work buffers
            plans = self._label_plans(mode, coefficients, total, dtype)
            for rows, work in self._blocks(z, dtype):
                out = (work[8], work[9]) if outputs is None else (outputs[0][rows], outputs[1][rows])
                yield self._block_derivatives(y[rows], None if w is None else w[rows], mode, plans, work,
                                              slopes[rows], None if bends is None else bends[rows], out)

        unsure = mean_hessian is None  # whether the outputs may pass their type's range
        if mean_hessian is not None:
            target = mean_hessian * weight  # what the Hessian's |h| are to add up to
            if mode == "bound":  # sum h = L^2 S (|q_a| sum y d^2 + |q_b| sum (1-y) d^2) + M S (|a| sum wy + ...)
                a, b, q_a, q_b = (numpy.abs(v) for v in coefficients)
                size = largest = float(numpy.sum(self.L * self.L * total * (q_a * sums[0] + q_b * sums[1])
                                                 + self._bend_bound() * total * (a * sums[2] + b * sums[3])))
                # (the largest h is at most the size, and each |g_i| at most 2.6 h_i: _bend_bound)
            else:  # a pass that only sums (no exponentials: slopes and bends are kept)
                size, largest_g, largest_h = self._sizes(blocks(coefficients), collective)
                largest = max(largest_g, largest_h)
                if mode == "clip":  # first to a scale float32 holds, the largest |h| 1: the floor and the target below
                    size, target = largest_h, 1.0
            # products past float64 (a size that is NaN or inf, or coefficients whose products with L^2 S are: the
            # bound's size can be 0 where inf * 0 makes NaN): _call checks the outputs
            unsure = not (size < numpy.inf and self._products(coefficients, total) < numpy.inf)
            if not unsure:  # (a size of 0, a Hessian of zeros: the fixed scale, within what the kernel's type holds)
                factor = self._rescaling(target / size if size > 0 else 1.0, coefficients, total, dtype, largest)
                factor = all_reduced(collective, [factor], "MIN")[0]  # one scale (each worker's type caps it)
                coefficients = tuple(v * factor for v in coefficients)
        for _ in blocks(coefficients, (grad, hess)):
            pass
        if mode == "clip":  # the floor is a share of the largest |h_i| over all rows; then the rescaling
            largest = all_reduced(collective, [float(numpy.abs(hess).max())], "MAX")[0]
            numpy.maximum(hess, CLIP_FLOOR * largest, out=hess)
            size = all_reduced(collective, [float(hess.sum(dtype=numpy.float64))])[0]
            unsure = unsure or not size < numpy.inf
            if mean_hessian is not None and 0 < size < numpy.inf:
                peak = max(largest, all_reduced(collective, [float(numpy.abs(grad).max(initial=0))], "MAX")[0])
                factor = min(mean_hessian * weight / size, OUTPUT_LARGEST / peak if peak > 0 else numpy.inf)
                grad *= factor
                hess *= factor
        return counts, unsure

    def _float32_suffices(self, coefficients, sums, y, heaviest, slopes):
        """Whether float32's slopes (exact to ~3e-7 of their peak) keep the call's tolerance: for some side of some
        label (y = 1 or y = 0), its coefficient |a| or |b| times the largest d of its rows reaches FLOAT32_STEEPEST
        / L of the largest coefficient of a side with rows, times the heaviest weight `heaviest` (None without
        weights; d peaks at w / 16). First from a lower bound of each side's largest d that the first pass's sums
        give (without weights the root mean square, sqrt(sum y d^2 / sum y); with them sum y d^2 / sum y d), else
        from the largest y d and (1 - y) d themselves (one more pass)."""
        squares, weights, slope_sums = numpy.array(sums[:2]), numpy.array(sums[2:4]), sums[4:]  # (2, C): the sides
        c = numpy.empty(weights.shape)  # |a|, |b|
        c[0], c[1] = coefficients[:2]
        numpy.abs(c, out=c)
        needed = float((c * (weights > 0)).max())
        needed *= FLOAT32_STEEPEST / self.L * (1.0 if heaviest is None else heaviest) / 16
        with numpy.errstate(divide="ignore", invalid="ignore"):
            if heaviest is None:  # the root mean square of d over the side's rows
                least = numpy.sqrt(squares / weights)
            else:  # sum d^2 <= (largest d) sum d
                least = squares / numpy.array(slope_sums)
            if float(numpy.fmax(c * least, 0).max()) >= needed:
                return True  # (fmax: a side without rows, 0 / 0, counts as 0)
        largest = [numpy.ascontiguousarray((side * slopes).T).max(axis=1) for side in (y, 1 - y)]  # per label
        return max(float(numpy.max(side * m)) for side, m in zip(c, largest)) >= needed

    def _float32_counts_suffice(self, counts, heaviest):
        """Whether the float32 counts' rounding (FLOAT32_COUNT_ERROR L of each count) keeps the call's tolerance
        through the coefficients, label by label: it moves a and b by at most half the budget of their own
        outputs, 4e-7 L of them, so that their sensitivities to the counts, sum_k |d c / d log k|, may reach
        FLOAT32_CONDITION |c|; and q_a, q_b by at most half the Hessian's, which the bend term S M |c| w bounds
        from below, while d^2 <= w^2 / 256 in the curvature term S L^2 |q| d^2: FLOAT32_CONDITION (|q| + 256 M
        |c| / (L^2 w)) for the heaviest weight w (`heaviest`, None without weights). The sensitivities come from
        forward differences of the curvatures, one count at a time (tens of microseconds: the generated function
        on five points); a coefficient that is a small difference of large counts (TP - FN at TP ~ FN) fails."""
        pooled = self.task == "binary" or self.average == "micro"
        counts = numpy.array([_pooled(c) if pooled else c for c in counts], dtype=numpy.float64).reshape(4, 1, -1)
        points = (counts + self.eps) * _STEPS  # (4, 5, labels): the counts, then each in turn one step larger
        values = numpy.empty((4, *points.shape[1:]))  # a, b, q_a, q_b
        with numpy.errstate(all="ignore"):
            if pooled:  # NumPy's scalars: the generated function takes them several times as fast as arrays
                for k, point in enumerate(points.reshape(4, 5).T):  # a row's elements are NumPy float64s
                    values[:, k, 0] = self.curvatures(*point)[1:]
            else:
                for row, value in zip(values, self.curvatures(*points)[1:]):
                    row[...] = value  # a number, where the coefficient does not depend on the counts
            sensitivity = numpy.abs(values[:, 1:] - values[:, :1]).sum(axis=1)
            # (NumPy's division: L^2 underflows to 0 below L ~ 1e-154, and the float64 call takes over)
            c = numpy.abs(values[:, 0])
            bend = 256 * self._bend_bound() / numpy.float64(self.L * self.L * (heaviest or 1.0))
            c[2:] += bend * c[:2]
            return bool((sensitivity <= FLOAT32_CONDITION * SENSITIVITY_STEP * c).all())  # NaN fails

    def _summed(self, collective, weight, counts, sums):
        """The total weight (a number or None), the counts and the sums of _count_sums (None or a list of arrays)
        over all workers (all_reduced)."""
        sizes = None if sums is None else len(sums)
        weight, *reduced = all_reduced(collective, [weight, *counts, *(sums or [])])
        return weight, reduced[:4], None if sizes is None else reduced[4:]

    @staticmethod
    def _total_weight(w, n):
        """The sum of the sample weights (n without them)."""
        return float(w.sum(dtype=numpy.float64)) if w is not None else float(n)

    def _check_total_weight(self, weight, out):
        """Refuses a total sample weight above FLOAT32_TOTAL_WEIGHT for float32 outputs (`out`)."""
        if out == numpy.float32 and weight > FLOAT32_TOTAL_WEIGHT:
            raise self.error(f"the sample weights add up to {weight:.3g}, beyond {FLOAT32_TOTAL_WEIGHT:g}, where the "
                             f"booster's float32 gradient and Hessian may overflow: rescale them (a ratio such as F1 "
                             f"does not change)")
        return weight

    def _products(self, coefficients, total):
        """The largest of the kernel's products of the coefficients, at most L^2 S times them."""
        largest = max(abs(v) if isinstance(v, float) else float(numpy.abs(v).max()) for v in coefficients)
        return largest * max(self.L, 1.0) ** 2 * total

    def _rescaling(self, factor, coefficients, total, dtype=numpy.float64, largest=0.0):
        """The factor, capped where it would overflow the kernel's products of the coefficients in the
        arithmetic's type (LARGEST_PRODUCT): with every margin saturated, the slopes and so the Hessian's sum are
        ~1e-300, and an infinite coefficient would make 0 * inf = NaN. Capped, the outputs are merely small. Also
        capped where it would take an output past OUTPUT_LARGEST, `largest` being the largest unscaled |g| or |h|
        (or a bound of it): a Hessian near 0 on the rows whose gradient is not. Never above float64's largest
        number, which the factor and the caps pass where the Hessian's sum is subnormal (coefficients of ~1e-301
        at eps = 1e300)."""
        products = self._products(coefficients, total)
        factor = min(factor, LARGEST_PRODUCT[numpy.dtype(dtype).type] / products) if products > 0 else factor
        factor = min(factor, OUTPUT_LARGEST / largest) if largest > 0 else factor
        return min(factor, sys.float_info.max)

    @staticmethod
    def _sizes(blocks, collective):
        """The sum of |h| and the largest |g| and |h| over the blocks' pairs (g, h) and every worker's rows."""
        size = largest_g = largest_h = 0.0
        for g, h in blocks:
            magnitude = numpy.abs(h)
            size += float(magnitude.sum())
            largest_h = max(largest_h, float(magnitude.max(initial=0)))
            largest_g = max(largest_g, float(numpy.abs(g).max(initial=0)))
        size, = all_reduced(collective, [size])
        largest_g, largest_h = all_reduced(collective, [largest_g, largest_h], "MAX")
        return size, largest_g, largest_h

    @staticmethod
    def _arithmetic(mode, out, heaviest):
        """The type the kernel computes in: float32 for a booster's call (float32 outputs, `out`) with the bound
        Hessian, whose every term is a product of factors without cancellation (each output within 4e-7 L of the
        float64 value, or 1e-7 L of the largest output where p - t cancels), unless a sample weight (the heaviest,
        `heaviest`; None without weights) lies outside FLOAT32_WEIGHTS; float64 otherwise (also for soft labels,
        which the count pass finds: _derivatives)."""
        if out != numpy.float32 or mode != "bound":
            return numpy.float64
        if heaviest is not None and not FLOAT32_WEIGHTS[0] <= heaviest <= FLOAT32_WEIGHTS[1]:
            return numpy.float64
        return numpy.float32

    def _label_plans(self, mode, coefficients, total, dtype):
        """label_plan()'s plans, in the kernel's type `dtype`, for the per-row numbers of _block_derivatives: S c_i,
        the curvature term's factor and (for the bound) the bend term's."""
        a, b, q_a, q_b = coefficients
        step = self.L * total
        if mode == "bound":  # |y q_a + (1-y) q_b| <= y |q_a| + (1-y) |q_b|, and so for c: it still majorises
            bound = self._bend_bound() * total
            pairs = [(a * step, b * step), (numpy.abs(q_a) * self.L * step, numpy.abs(q_b) * self.L * step),
                     (numpy.abs(a) * bound, numpy.abs(b) * bound)]
        else:
            pairs = [(a * step, b * step), (q_a * self.L * step, q_b * self.L * step)]
        return [label_plan(*pair, dtype) for pair in pairs]

    def _block_derivatives(self, y, w, mode, plans, work, d_yh, bends, out):
        """The unscaled gradient and Hessian diagonal of one block of rows into out = (grad, hess) (float32 or
        float64), computed in the type of the buffers `work` (from float64, each output is rounded once), from
        the rows' slopes d_yh = w d yh / d z / L and bends (d^2 yh / d z^2 = d yh / d z * bend; None for the
        bound), with the per-row numbers that `plans` (_label_plans) describe."""
        y = _typed(y, work[0])
        not_y = None if all(plan[0] == "y" for plan in plans) else numpy.subtract(1, y, out=work[1])
        grad, hess = out
        c, q, *bound_bend = (_by_label(y, not_y, plan, work[5], out=work[2 + k]) for k, plan in enumerate(plans))
        square = numpy.multiply(d_yh, d_yh, out=work[5])  # the scratch rows are spent
        square *= q  # the curvature term
        if mode == "bound":
            bend = bound_bend[0]
            if w is not None:
                bend *= _typed(w, work[10][:, :1])
        else:
            bend = numpy.multiply(bends, d_yh, out=work[6])
            bend *= c  # S c_i w_i yh_i''
            if mode == "gauss-newton":
                numpy.abs(square, out=square)
                numpy.abs(bend, out=bend)
        if mode == "abs":
            numpy.abs(numpy.add(square, bend, out=square), out=hess, casting="same_kind")
        else:
            numpy.add(square, bend, out=hess, casting="same_kind")
        numpy.multiply(c, d_yh, out=grad, casting="same_kind")
        return grad, hess

    def _softmax_derivatives(self, z, y, w, mode, grad, hess, mean_hessian=None, collective=None):
        """_derivatives for task="multiclass": the gradient and Hessian diagonal of a block of rows at a time,
        rescaled after all rows (and after the clip's floor), in float64; sums over the workers of a `collective`
        (communicator())."""
        w = None if w is None else w.astype(numpy.float64, copy=False)
        *kept, g_all, h_all = self._row_buffers(z.shape[::-1], 4)  # class-major p, yh; unscaled g, h
        weight, counts, _ = self._summed(collective, self._total_weight(w, len(z)),
                                         self._class_counts(z, y, w, kept), None)
        self._check_total_weight(weight, grad.dtype)
        coefficients = self._coefficients(counts)[1:]
        total = 1.0 if self.extensive else weight
        weight *= z.shape[1]  # per class and unit weight
        size = largest = peak = 0.0  # the sum and largest of |h|, the largest |g| or |h|, block by block
        coefficients = [numpy.reshape(v, (-1, 1)) for v in coefficients]  # one row per class
        for rows in self._row_slices(len(z), z.shape[1], block=CLASS_BLOCK):
            # class-major (C, rows): a row's sums broadcast along the rows, not across a few columns (5x faster)
            g, h = self._softmax_block(kept[0][:, rows], kept[1][:, rows], self._one_hot(y[rows]),
                                       None if w is None else w[rows].T, mode, coefficients, total,
                                       (g_all[:, rows], h_all[:, rows]))
            magnitude = h if mode in ("gauss-newton", "abs") else numpy.abs(h)  # those are not negative
            size += float(magnitude.sum())
            largest = max(largest, float(magnitude.max(initial=0)))
            peak = max(peak, largest, float(numpy.abs(g).max(initial=0)))
        size, = all_reduced(collective, [size])
        largest, peak = all_reduced(collective, [largest, peak], "MAX")  # (the clip's floor keeps them)
        if mode == "clip":
            numpy.maximum(h_all, CLIP_FLOOR * largest, out=h_all)
            size, = all_reduced(collective, [float(h_all.sum())])
        factor = 1.0  # (capped as the binary objective's is: _rescaling)
        if mean_hessian is not None and 0 < size < numpy.inf:
            factor = min(mean_hessian * weight / size, OUTPUT_LARGEST / peak if peak > 0 else numpy.inf,
                         sys.float_info.max)
        numpy.multiply(g_all.T, factor, out=grad, casting="same_kind")
        numpy.multiply(h_all.T, factor, out=hess, casting="same_kind")
        return counts, True

    def _softmax_block(self, p, yh, y, w, mode, coefficients, total, out):
        """The unscaled gradient and Hessian diagonal (C, n) of rows with p = softmax(z) and yh = softmax(h p)
        (each class-major, (C, n)), one-hot labels y (C, n), weights w (1, n) or None, coefficients of shape
        (C, 1), in O(C) per row, into out = (gradient, Hessian), two (C, n) arrays. With h = L/2, s = sum_m yh_m p_m
        and t_k = yh_k - s, the derivative of yh_j along margin k is D_kj = h yh_j e_kj, e_kj = p_j [j = k] - p_k (p_j
        + t_k); per sample and margin k, with G_j = S w c_j and v_j = S w^2 q_j as in the binary objective,

            g_k = sum_j G_j D_kj,   h_k = sum_j v_j D_kj^2 + sum_j G_j d^2 yh_j / d z_k^2

        (the classes' losses are separate functions of their own counts, so no cross term enters). Each sum over
        j reduces to a few sums over the row (docs/boosting.md, "Multi-class"), taken relative to the row's top
        entry T (the same in p and yh): G_j - G_T in place of G_j (sum_j D_kj = 0), and 1 - p_T - t_T, t_T = yh_T -
        s and p_T - s as sums of the other entries' terms, so that nothing cancels where p_T or yh_T rounds to 1."""
        a, b, q_a, q_b = coefficients
        h = self.L / 2
        top, p_top = _first_largest(p)  # 1 at the top, else 0 (masks as numbers: where, copyto(where=) took 4-10x)
        others = 1 - top

        def class_sums(x):  # the sums over each sample's classes, (1, n)
            return x.sum(axis=0, keepdims=True)

        def dots(x, v):  # class_sums(x * v) in one pass, without the product's array
            return numpy.einsum("ij,ij->j", x, v)[None]

        def at_top(x):
            return dots(x, top)

        def put_top(x, value):  # value (1, n) into x's top entries
            x *= others
            x += value * top

        not_y, scratch = 1 - y, numpy.empty_like(y)
        scale = total if w is None else w * total  # S w
        r = _by_label(y, not_y, label_plan(a, b), scratch)
        r *= scale
        r -= at_top(r)  # G_j - G_T
        r *= yh  # (G_j - G_T) yh_j, 0 at the top
        u = _by_label(y, not_y, label_plan(q_a, q_b), scratch)
        u *= scale if w is None else scale * w
        u *= yh
        u *= yh  # v_j yh_j^2
        u_top = at_top(u)
        u *= others
        # the rows' moments about the top entry, each a sum of the other entries' terms
        yh_top = yh.max(axis=0, keepdims=True)  # at p's top: yh keeps p's order
        p_rest, yh_rest = p * others, yh * others
        share = class_sums(p_rest)  # 1 - p_T
        gap = p_top - p_rest  # p_T - p_m
        rest = dots(p_rest, yh_rest)
        weighted_gap = yh_rest * gap
        lead = class_sums(weighted_gap)  # p_T - s
        variance = dots(weighted_gap, gap) - lead * lead  # sum_m yh_m (p_m - s)^2
        spare = class_sums(yh_rest)  # 1 - yh_T
        not_t = share * spare + rest  # 1 - p_T - t_T
        s = dots(yh, p)
        t = yh - s
        put_top(t, yh_top * share - rest)  # t_T = sum_m p_m (yh_T - yh_m)
        p2 = p * p
        mix = p + t
        mix *= -2
        mix += 1  # 1 - 2 (p + t)
        tt = t * t

        def squares(u):  # sum_j u_j e_kj^2 = p2 (sum u p2 + 2 t sum u p + t^2 sum u + u (1 - 2 (p + t))), u_T = 0
            summed = u * mix
            summed += t * (2 * dots(u, p))
            summed += tt * class_sums(u)
            summed += dots(u, p2)
            summed *= p2
            return summed

        r0, r1 = class_sums(r), dots(r, p)
        d_p = yh * r0
        numpy.subtract(r, d_p, out=d_p)  # yh_j (G_j - sum_m yh_m G_m)
        d_p -= at_top(d_p)
        grad = numpy.subtract(d_p, dots(p, d_p), out=out[0])
        grad *= p
        grad *= h  # h p_k (dp_k - sum_j p_j dp_j)
        curvature = squares(u)
        e_top = yh + lead  # e_kT / p_k: p_T + t_k for k != T, 1 - p_T - t_T for k = T
        put_top(e_top, not_t)
        e_top *= e_top
        e_top *= u_top
        e_top *= p2
        curvature += e_top
        curvature *= h * h
        tilt = p * -2
        tilt += 1
        tilt *= p  # p_k (1 - 2 p_k): d^2 p_j / d z_k^2 = tilt_k ([j = k] - p_j)
        d_mean = mix + t
        d_mean += s  # 1 - 2 p - t + s
        d_mean *= yh
        d_mean += variance  # yh (1 - 2 p - t + s) + var = yh (1 - 2 p - t) + sum yh p2 + t s
        # ... which at the top is sum_m yh_m x_m^2 - (sum_m yh_m x_m)^2, x_m = 1 - p_T + p_m (its O(1) terms cancel):
        # each sum of terms of one sign, their difference at least yh_T times the first
        put_top(d_mean, share * (share * spare + 2 * rest) + dots(yh_rest, p2) - (share * spare + rest) ** 2)
        d_mean *= p2
        d_mean *= h * h
        tilt_t = tilt * t
        tilt_t *= h
        d_mean += tilt_t  # of sum_m yh_m du_m
        bend = squares(r)
        bend *= h * h
        spread = r - r1
        spread *= tilt
        spread *= h
        bend += spread  # + h tilt (r - r1)
        d_mean *= r0
        bend -= d_mean
        if mode == "gauss-newton":
            numpy.abs(curvature, out=curvature)
            return grad, numpy.add(curvature, numpy.abs(bend, out=bend), out=out[1])
        curvature = numpy.add(curvature, bend, out=out[1])
        return grad, numpy.abs(curvature, out=curvature) if mode == "abs" else curvature

    def _bend_bound(self):
        """The largest |d^2 yh / d z^2| over all margins (measured on a fine grid, once): a Hessian that uses it
        majorises the loss along each margin, so a Newton step of the booster cannot overshoot."""
        if getattr(self, "_bound", None) is None:
            z = numpy.linspace(-40, 40, 400_001)
            p, not_p, _ = sigmoids(z)
            yh, not_yh, _ = sigmoids((p - self.threshold) * self.L)
            d_yh = self.L * yh * not_yh * p * not_p
            self._bound = float(numpy.abs(d_yh * (self.L * (not_yh - yh) * p * not_p + (not_p - p))).max())
        return self._bound

    @underflow_ignored(numpy)
    def evaluate(self, margins, labels, sample_weight=None, collective=None, scores="raw"):
        """The formula on hard predictions (raw score >= 0) and hard labels (a soft one positive from 0.5), as
        the loss: 1 - score, or the cost (with a `collective`, as eval_metric passes it in a distributed XGBoost
        training, of every worker's rows) (averaged over the labels as the soft loss is). `scores`: what
        `margins` hold, the objective's "raw" scores, their sigmoid ("raw probabilities": positive from 1/2), a
        booster's "margins" (logits: positive from logit(threshold)) or "probabilities" (positive from the
        threshold); the arg-max class for task="multiclass"."""
        z, y, w = self._arrays(margins, labels, sample_weight)
        w = None if w is None else w.astype(numpy.float64, copy=False)
        if self.task == "multiclass":  # the arg-max class, one-hot
            predicted = numpy.arange(z.shape[1]) == numpy.argmax(z, axis=1)[:, None]
        else:
            predicted = z >= {"raw": 0.0, "margins": self.offset, "probabilities": self.threshold,
                              "raw probabilities": 0.5}[scores]
        actual = numpy.arange(z.shape[1]) == y[:, None] if self.task == "multiclass" else y >= 0.5
        if w is None:  # counts of booleans, exact in integers: TP, then FP, FN, TN from the margins' totals
            hits = numpy.count_nonzero(predicted & actual, axis=0)
            called, present = numpy.count_nonzero(predicted, axis=0), numpy.count_nonzero(actual, axis=0)
            counts = [numpy.asarray(c, dtype=numpy.float64) for c in
                      (hits, called - hits, present - hits, len(z) - called - present + hits)]
        else:
            counts = [numpy.sum(w * ((predicted == p) & (actual == t)), axis=0) for p, t in
                      ((True, True), (True, False), (False, True), (False, False))]
        counts = all_reduced(collective, counts)  # (arrays of shape (C,) stay arrays)
        if self.task == "binary" or self.average == "micro":
            counts = [numpy.float64(c.sum()) for c in counts]  # not Python floats: 0/0 is NaN, not an exception
        return float(numpy.sum(self._hard_losses(counts) * self._label_weights(counts)))

    def _hard_losses(self, counts):
        """The loss at hard counts, one per label; where the formula is undefined there (0/0: no positive to
        count, or MCC with no predicted negative, as when every raw score is 0), at the counts smoothed by eps, as
        the soft loss takes them."""
        def loss_at(shift):
            with numpy.errstate(all="ignore"):
                loss = self.curvatures(*(c + shift for c in counts))[0]
            return numpy.broadcast_to(numpy.asarray(loss, dtype=numpy.float64), numpy.shape(counts[0]))

        losses = loss_at(0.0)
        if not numpy.isfinite(losses).all():
            losses = numpy.where(numpy.isfinite(losses), losses, loss_at(self.eps))
        if not numpy.isfinite(losses).all():
            raise self.error(f"the {self.name} objective is undefined at the hard counts TP, FP, FN, TN = "
                             f"{', '.join(numpy.array2string(numpy.asarray(c), precision=6) for c in counts)}, "
                             f"even smoothed by eps = {self.eps}")
        return losses

    def _evaluation(self, y_true, y_pred, sample_weight=None, objective=None):
        """eval_metric's value (see EvalMetric), for the predictions of the booster's own `objective` (a name of
        BOOSTER_OBJECTIVES, as booster_scores() finds it; None: raw scores)."""
        kind, task = {None: ("raw", None), RAW_PROBABILITIES: ("raw probabilities", None)}.get(
            objective, BOOSTER_OBJECTIVES.get(objective, ("other", None)))
        if task is not None and (task == "multiclass") != (self.task == "multiclass"):
            wanted = "task='multiclass', num_classes=C" if task == "multiclass" else "task='binary'"
            raise self.error(f"eval_metric is a {self.task} metric, but this model trains with the booster's "
                             f"{'multi-class' if task == 'multiclass' else 'binary'} objective {objective!r}: "
                             f"compile the metric with {wanted}")
        if kind == "other":
            own = {"xgboost": "'multi:softprob'", "lightgbm": "'multiclass'"} if self.task == "multiclass" else \
                {"xgboost": "'binary:logistic'", "lightgbm": "'binary'"}
            own, ours = own[self.booster], ("xgboost.train(params, data, obj=objective)" if self.booster == "xgboost"
                                            else "params={'objective': objective, **objective.params}")
            default = (" (the booster's default, where the parameters name no objective)"
                       if objective in ("reg:squarederror", "regression") else "")
            raise self.error(f"eval_metric scores a classifier's predictions, but this model trains with the "
                             f"booster's objective {objective!r}, which is no binary or multi-class classifier"
                             f"{default}: train with {own}, or with metricc's objective, {ours}")
        agreement = Agreement(communicator(self.booster), self.error)
        with agreement:
            margins, labels, weight = self._arguments(y_true, y_pred, sample_weight)
            if kind == "classes":  # one class index a row: one-hot rows, whose arg-max it is
                margins = self._one_hot(numpy.asarray(margins).reshape(-1)).T
                kind = "probabilities"
            value = self.evaluate(margins, labels, weight, agreement.collective, kind)
        name = self._eval_name()
        if self.booster == "lightgbm":
            return name, value, False
        return (name, value) if hasattr(y_pred, "get_label") else value

    def _eval_name(self):
        """The evaluation metric's name: the formula without spaces (XGBoost splits names on them), as "1-f1" for
        a score, as itself ("FP+5*FN") for a cost; so that metrics recorded side by side keep their own names."""
        text = "".join(self.name.split())
        for direction in ("minimize:", "maximize:"):
            text = text[len(direction):] if text.startswith(direction) else text
        if not self.minimize:
            text = f"1-{text}" if text.isidentifier() else f"1-({text})"
        return text

    @property
    def params(self):
        """Parameters the booster needs with this objective: every raw score starts at 0 (p = threshold, where the
        amplifier has its largest slope) and the booster's own metric, meaningless here, is off. XGBoost's binary
        and multi-label models are configured as binary:logistic (as XGBClassifier configures any custom
        objective; base_score 0.5 is the raw score 0), so that predict() gives sigmoid(r), positive from 0.5 where
        the objective calls r positive, in any runtime that loads the saved model; multi-class ones as
        multi:softmax (predict() gives the arg-max class). XGBClassifier, whose objective= is the objective, takes
        base_score=0.5 (binary) or these params less "objective"."""
        classes = {"num_class": self.num_classes} if self.task == "multiclass" else {}
        if self.booster == "xgboost":
            start = {"base_score": 0.0} if self.task == "multiclass" else {"objective": "binary:logistic",
                                                                          "base_score": 0.5}
            return {**start, "disable_default_eval_metric": 1, **classes,
                    **({"multi_strategy": "one_output_per_tree"} if self.task == "multilabel" else {})}
        return {"boost_from_average": False, "metric": "None", **classes}

    @underflow_ignored(numpy)
    def predict(self, margins):
        """Hard 0/1 predictions from raw scores (1 where r >= 0: the margin reaches logit(threshold)); for
        task="multiclass", the arg-max class of each row of margins (n, C). Scores that all lie in [0, 1], not all
        one value (probabilities, as XGBoost's predict() gives them without output_margin=True), are all
        positive, which it warns of."""
        z = self._numbers(margins, "margins")
        if self.check_inputs and numpy.isnan(z).any():
            raise self.error(nonfinite_input_message("margins", z))
        if self.task == "multiclass":
            if z.ndim > 2 or z.size % self.num_classes or z.ndim == 2 and z.shape[1] != self.num_classes:
                raise self.error(f"Expected margins of shape (n, {self.num_classes}), but got {z.shape}.")
            return numpy.argmax(z.reshape(-1, self.num_classes), axis=1)
        if z.size and 0 <= z.min() < z.max() <= 1:
            warnings.warn("every score lies in [0, 1], and so is positive (a raw score r is positive from 0): if "
                          "these are probabilities (XGBoost's booster.predict() without output_margin=True), pass the "
                          "raw scores: booster.predict(data, output_margin=True), LightGBM's booster.predict(X, "
                          "raw_score=True)", self.warning, stacklevel=caller_level())
        return (z >= 0).astype(numpy.int64)

    def _arguments(self, y_true, y_pred, sample_weight):
        """(margins, labels, weights) from either calling convention."""
        if hasattr(y_pred, "get_label"):  # (margins, DMatrix or Dataset)
            data = y_pred
            weight = data.get_weight()
            weight = None if weight is None or numpy.size(weight) == 0 else weight
            return y_true, data.get_label(), weight
        return y_pred, y_true, sample_weight

    def _arrays(self, margins, labels, sample_weight, values=True):
        """Margins and labels as arrays of shape (n, C) (C = 1 for a binary objective), float32 or float64 as
        given (other types become float64: XGBoost's float32 arrays are read a block at a time, never copied
        whole), the weights as float64 (n, 1) or None. With check_inputs, the weights are checked, and with
        `values` the labels (in [0, 1]) and the margins (finite); without, for a caller whose count pass
        (_count_sums) checks them a block at a time, where they are in the cache (multi-class: always here)."""
        columns = 1 if self.task == "binary" else self.num_classes
        if hasattr(labels, "get_label"):
            raise self.error(f"Expected labels, but got the booster's data ({type(labels).__name__}): evaluate(), "
                             f"loss() and gradient_and_hessian() take (margins, labels, sample_weight=None); for "
                             f"XGBoost's custom_metric or LightGBM's feval, which pass (margins, data), use "
                             f"objective.eval_metric")
        z, y = self._numbers(margins, "margins"), self._numbers(labels, "labels")
        if y.size == 0 and z.size:
            raise self.error(f"Expected labels for the {len(z) if z.ndim else 1} rows of margins, but got none" + (
                ": a DMatrix built without them? build it with its labels, xgboost.DMatrix(X, label=y)"
                if self.booster == "xgboost" else ""))
        if self.task == "multiclass":
            return self._class_arrays(z, y, sample_weight)
        if z.size != y.size or z.size == 0 or z.size % columns or self.task != "binary" and (
                numpy.ndim(z) != 2 or z.shape[1] != columns):
            shape = "n" if self.task == "binary" else f"(n, {columns})"
            raise self.error(f"Expected margins and labels of the same shape {shape} (at least one sample), but got "
                             f"{numpy.shape(margins)} and {numpy.shape(labels)}{self._class_margins_hint(z, y)}")
        z, y = z.reshape(-1, columns), y.reshape(-1, columns)
        if self.check_inputs and values and not (y.min() >= 0 and y.max() <= 1):
            raise self.error(self._label_message(y, z))
        return z, y, self._weights(z, sample_weight, values)

    def _class_margins_hint(self, z, y):
        """What to append to the shape error: where the booster passed a binary objective one margin column per
        class for n class indices (its scikit-learn classifiers do so for labels 0, 1, 2), or a multi-label one
        another number of labels than compiled, the fix; else "."."""
        if self.task == "multilabel" and z.shape == y.shape and z.ndim == 2 and z.shape[1] > 1:
            return f": {z.shape[1]} labels? compile with num_classes={z.shape[1]}."
        classes = z.size // y.size if self.task == "binary" and y.ndim == 1 and y.size else 0
        if classes < 2 or z.size != classes * y.size or not ((y >= 0) & (y < classes) & (y == numpy.round(y))).all():
            return "."
        return f": {classes} classes? compile with task='multiclass', num_classes={classes}."

    def _label_message(self, y, margins):
        """What is wrong with labels y (n, C) of which some lie outside [0, 1] (or are NaN), and where; with the
        margins, whether the two look swapped: margins of 0s and 1s, not all one number (a booster's first round
        passes every row the same raw score)."""
        bad = ~((y >= 0) & (y <= 1))
        row, column = divmod(int(numpy.argmax(bad)), y.shape[1])
        value = y[row, column].item()
        where = f"row {row}" if y.shape[1] == 1 else f"row {row}, label {column}"
        if value != value:  # (no hint: a NaN is no class, nor a swapped margin)
            return f"Expected labels in [0, 1], but {where} holds NaN, {MISSING_LABEL}."
        message = f"Expected labels in [0, 1], but {where} holds {value:g}"
        if ((margins == 0) | (margins == 1)).all() and not self._all_equal(margins):
            return message + (": arguments swapped? objective(labels, margins) takes the boosters' scikit-learn "
                              "order, labels first; loss(), gradient_and_hessian() and evaluate() take (margins, "
                              "labels)")
        finite = y[numpy.isfinite(y)]
        values = set(numpy.unique(finite).tolist())
        if finite.size and values <= {-1.0, 1.0}:
            return message + ": for -1/1 labels pass (y + 1) / 2"
        if finite.size and values <= {1.0, 2.0}:
            return message + ": for 1/2 labels pass y - 1"
        if self.task == "binary" and finite.size and (finite == numpy.round(finite)).all() and finite.min() >= 0:
            return message + f": for class indices, compile with task='multiclass', num_classes={finite.max() + 1:g}"
        return message + "."

    def _numbers(self, values, name):
        """`values` as an array of float32 or float64 (as given) numbers, other real types as float64; anything
        else (strings, complex numbers, objects) is refused."""
        message = masked_message(values, name)
        if message:
            raise self.error(message)
        try:
            values = extension_numbers(numpy, numpy.asarray(values))
        except (TypeError, ValueError, RuntimeError) as failure:  # a torch tensor that requires grad, or bfloat16
            hint = "; pass tensor.detach().cpu().float().numpy()" if type(values).__module__ == "torch" else ""
            raise self.error(f"Expected {name} to be an array of numbers, but converting it failed: {failure}"
                             f"{hint}") from None
        if values.dtype.kind not in "biuf":
            hint = class_names_hint(values, self.task) if name == "labels" else ""
            raise self.error(f"Expected {name} to hold numbers, but got dtype {values.dtype}{hint}.")
        return values if values.dtype in (numpy.float32, numpy.float64) else values.astype(numpy.float64)

    def _weights(self, z, sample_weight, margins=True):
        """The sample weights as an array (n, 1), float32 as a booster gives them (read a block at a time, never
        copied whole) or else float64, or None; with check_inputs, the weights are checked (their extremes), and
        with `margins` the margins z (n, C) too (finite: _finite_margins)."""
        w = None if sample_weight is None else self._numbers(sample_weight, "weights").reshape(-1, 1)
        if w is not None and len(w) != len(z):
            raise self.error(f"Expected {len(z)} sample weights (one per row), but got {len(w)}.")
        if self.check_inputs:
            if margins:
                with numpy.errstate(over="ignore", invalid="ignore"):
                    self._finite_margins(z.sum(), z)
            largest = None if w is None else float(w.max())
            if w is not None and not (w.min() >= 0 and largest < numpy.inf):  # NaN fails both
                raise self.error(weight_range_message(w.min(), largest, "sample weights", w[:, 0]))
            if w is not None and not largest > 0:
                raise self.error("Expected sample weights with a positive entry, but all are zero.")
            if w is not None and largest > MAX_WEIGHT:  # squared in the Hessian: larger ones overflow
                raise self.error(f"Expected sample weights of at most {MAX_WEIGHT:.0e}, but the largest is "
                                 f"{largest:.3g}: rescale them (a ratio such as F1 does not change).")
        return w

    def _finite_margins(self, sums, z):
        """Refuses margins z with NaN or infinity, given sums of them (times other numbers) that are finite unless
        a margin is not or they overflow: z itself is looked at only where the sums are not finite."""
        if not numpy.isfinite(sums).all() and not numpy.isfinite(z).all():
            raise self.error(nonfinite_input_message("margins", z[:, 0] if z.shape[1] == 1 else z))  # a row's index

    def _class_arrays(self, z, y, sample_weight):
        """_arrays for task="multiclass": margins (n, C) (or n C of them, row by row), the class indices (n,)
        (one-hot a block at a time: _one_hot), weights (n, 1) float64 or None."""
        columns = self.num_classes
        if y.ndim != 1 or z.size != y.size * columns or y.size == 0:
            raise self.error(f"Expected margins of shape (n, {columns}) and n class indices (at least one sample), "
                             f"but got {z.shape} and {y.shape}{self._one_margin_hint(z, y)}")
        z = z.reshape(-1, columns)
        valid = (y >= 0) & (y < columns) & (y == numpy.floor(y))
        if not valid.all():
            raise self.error(self._class_label_message(y, valid))
        return z, y, self._weights(z, sample_weight)

    def _one_margin_hint(self, z, y):
        """What to append to the multi-class objective's shape error: where the booster passed one margin per row
        (not told num_class, or a scikit-learn classifier that saw two classes), the cause; else "."."""
        if y.ndim != 1 or z.size != y.size or y.size == 0:
            return "."
        if ((y == 0) | (y == 1)).all():
            return ": one margin per row and labels 0 and 1 only: a binary problem? compile without task='multiclass'."
        return f": one margin per row; pass num_class={self.num_classes} to the booster (objective.params holds it)."

    def _class_label_message(self, y, valid):
        """What is wrong with the class indices y (n,), of which those not `valid` are no class, and where."""
        row = int(numpy.argmin(valid))
        if y[row] != y[row]:
            return (f"Expected class indices 0, 1, ..., {self.num_classes - 1} as labels, but row {row} holds NaN, "
                    f"{MISSING_LABEL}.")
        message = (f"Expected class indices 0, 1, ..., {self.num_classes - 1} as labels, but row {row} holds "
                   f"{y[row].item():g}")
        whole = numpy.isfinite(y).all() and (y == numpy.floor(y)).all()
        return message + (class_index_hint(y.min(), y.max(), self.num_classes) if whole else ".")

    def _one_hot(self, labels):
        """Class indices (n,) as class-major one-hot columns (C, n), float64."""
        return (numpy.arange(self.num_classes)[:, None] == labels).astype(numpy.float64)

    def _blocks(self, z, dtype=numpy.float64):
        """(rows, buffers) for each block of rows of z: the rows' slice and twelve buffers (of `dtype`) of the
        block's shape. A block holds BLOCK float64 numbers' bytes, so its buffers stay in a core's cache while a
        dozen passes go over them (over whole arrays, each pass would go to memory); the buffers are kept between
        calls."""
        step = self._block_rows(z.shape[1], dtype)
        work = self._scratch().work = self._kept("work", (12, step, z.shape[1]), dtype)
        for rows in self._row_slices(len(z), z.shape[1], dtype):
            yield rows, work if rows.stop - rows.start == step else work[:, :rows.stop - rows.start]

    @classmethod
    def _runs(cls, n, per_row, dtype=numpy.float64):
        """The number of runs of rows whose products products() sums apart, over the blocks of n rows."""
        size = DOT if dtype == numpy.float64 else DOT // 4
        step = cls._block_rows(per_row, dtype)
        blocks, last = divmod(n, step)
        return blocks * -(-step // size) + -(-last // size)

    @staticmethod
    def _block_rows(per_row, dtype=numpy.float64, block=None):
        """The rows of a block (`block` float64 numbers' bytes, BLOCK by default: read at each call, so that tests
        may patch it) when a row holds `per_row` numbers of `dtype`."""
        return max(1, (BLOCK if block is None else block) * 8 // numpy.dtype(dtype).itemsize // per_row)

    @classmethod
    def _row_slices(cls, n, per_row, dtype=numpy.float64, block=None):
        """Slices of n rows, a block's (_block_rows; of `block` float64 numbers' bytes, BLOCK by default) each."""
        step = cls._block_rows(per_row, dtype, block)
        for start in range(0, n, step):
            yield slice(start, min(start + step, n))

    def _row_buffers(self, shape, count, dtype=numpy.float64):
        """`count` arrays of the `shape` and `dtype`, and None up to two of them, kept between calls: a booster
        calls the objective every round with the same data, and fresh arrays would page-fault."""
        return [self._kept(f"rows{k}", shape, dtype) for k in range(count)] + [None] * (2 - count)

    def _kept(self, name, shape, dtype):
        """This thread's array `name` of the `shape` and `dtype`, kept between calls (one of each type: a call
        may change its arithmetic's type, see FLOAT32_STEEPEST)."""
        kept = self._scratch().__dict__.setdefault("kept", {})
        array = kept.get((name, dtype))
        if array is None or array.shape != shape:
            array = kept[name, dtype] = numpy.empty(shape, dtype)
        return array

    def _count_sums(self, z, y, w, slopes=None, bends=None, dtype=numpy.float64):
        """TP, FP, FN, TN (arrays of shape (C,)), block by block, each the sum of its own products (none the rest
        of a total, which could come out slightly negative where it is 0). Into `slopes` (an array of z's shape,
        or None) goes d = w d yh / d z / L; into `bends`, L (1 - 2 yh) p (1 - p) + 1 - 2 p, with d^2 yh / d z^2 =
        d yh / d z * bend. With slopes and no bends (the bound's Hessian sum needs them), also the sums of y d^2,
        (1 - y) d^2, w y and w (1 - y), the last two as TP + FN and FP + TN, and in float32 with weights those of
        y d and (1 - y) d (for _float32_suffices). Computed in `dtype` (float64: each yh and 1 - yh exact in
        relative terms; float32: see _amplified_float32), summed in float64. With check_inputs, the labels are
        checked (y and 1 - y both at least 0) a block at a time, and the margins (finite: their sums of products
        with y and 1 - y, which the counts' dot products give, are). In float32, None at the first soft label (y
        strictly between 0 and 1), for which the call computes in float64."""
        if self.task == "multiclass":
            return self._class_counts(z, y, w), None
        # each block's products' partial sums (runs of DOT rows), added up in float64 after the last block
        runs = self._runs(len(z), z.shape[1], dtype)
        partial = self._kept("partial", (runs, z.shape[1], 2, 4), dtype)
        # with weights, the unweighted labels' products with d^2 and (float32) d: [[y d^2, y d], [(1-y) d^2, ...]]
        extra = None if w is None or slopes is None or bends is not None else \
            self._kept("extra", (runs, z.shape[1], 2, 2), dtype)
        filled, made_for = 0, None
        numbers = self._float32_numbers() if dtype == numpy.float32 else None
        one = numpy.array(1, dtype)
        with numpy.errstate(over="ignore", invalid="ignore"):  # bad margins' sums, refused below
            for rows, work in self._blocks(z, dtype):
                # yh, 1 - yh, d^2 (or the float64 amplifier's slope) and the margins (scaled in float32) side by
                # side, as y and 1 - y (times the weights): one call for all their products
                soft, margins, pairs = work[3:5], work[6], work[7:9]
                if dtype == numpy.float32:  # 4 p (1 - p), yh (1 - yh) / 4
                    slope_p, slope_u = self._amplified_float32(z[rows], work, soft, margins, numbers)
                else:
                    numpy.copyto(margins, z[rows])
                    p, not_p, slope_p = sigmoids(margins, work[0:3], shift=-self.offset)  # of r + offset
                    *_, slope_u = sigmoids(p, work[3:6], scale=self.L, shift=self.threshold, probability=True)
                labels = pairs if w is None else work[9:11]
                numpy.copyto(labels[0], y[rows])
                numpy.subtract(one, labels[0], out=labels[1])
                # y (1 - y) in float32: below 0 outside [0, 1] (NaN fails too), above 0 for a soft label
                spread = labels if numpy.float32 != dtype else numpy.multiply(labels[0], labels[1], out=work[5])
                if self.check_inputs and not spread.min() >= 0:
                    raise self.error(self._label_message(numpy.asarray(y, dtype=numpy.float64), z))
                if numpy.float32 == dtype and spread.max() > 0:
                    return None  # soft labels: the call computes in float64 (_derivatives)
                w_rows = None if w is None else _typed(w[rows], work[11][:, :1])
                if w is not None:
                    numpy.multiply(labels, w_rows, out=pairs)
                if slopes is not None:
                    d = numpy.multiply(slope_u, slope_p, out=slopes[rows])
                    if dtype == numpy.float32:  # no subnormal numbers further on (an add: half a maximum's cost)
                        d += numbers[5]
                    if w is not None:
                        d *= w_rows
                    if bends is None:
                        numpy.multiply(d, d, out=work[5])  # slope_u is spent
                if work is not made_for:  # the same buffers for every full block
                    made_for, (count, write) = work, products(pairs, work[3:7])
                    write_extra = None if extra is None else products(labels, work[5:7])[1]
                write(partial[filled:])
                if extra is not None:
                    if dtype == numpy.float32:  # for _float32_suffices
                        numpy.copyto(work[6], d)  # the margins are summed: d beside d^2
                    write_extra(extra[filled:])
                filled += count
                if bends is not None:  # 1 - 2 s = sigmoid(-x) - sigmoid(x)
                    bend = numpy.subtract(soft[1], soft[0], out=bends[rows])
                    bend *= slope_p
                    bend *= self.L
                    bend += numpy.subtract(not_p, p, out=not_p)
            sums = partial[:filled].sum(axis=0, dtype=numpy.float64).transpose(1, 2, 0)  # [[TP, FN, ., margins],
            counts, margin_sums = sums[:, :2], sums[:, 3]                                  # [FP, TN, ., margins]]
            squares = sums[:, 2]  # the sums of y d^2 and (1 - y) d^2 (without weights, column 2 holds d^2)
            if extra is not None:
                squares, slope_sums = extra[:filled].sum(axis=0, dtype=numpy.float64).transpose(2, 1, 0)
        if self.check_inputs:
            self._finite_margins(margin_sums, z)
        (tp, fn), (fp, tn) = counts * 2 if dtype == numpy.float32 else counts  # of yh / 2 and (1 - yh) / 2
        sums = None if slopes is None or bends is not None else [*squares, tp + fn, fp + tn]
        if sums is not None and dtype == numpy.float32 and w is not None:
            sums += [*slope_sums]
        return [tp, fp, fn, tn], sums

    def _amplified_float32(self, x, work, soft, margins, numbers):
        """For a block of margins x, in float32: x + offset (negated, or halved from tanh) into `margins`, yh / 2
        and (1 - yh) / 2 into soft[0] and soft[1] (halved: their product is the amplifier's slope over 4, as the
        kernel's d needs it, without a pass that scales it; the counts are their sums times 2), and 4 p (1 - p) and
        yh (1 - yh) / 4 (returned). The amplifier's argument u = L (p - threshold) = L/2 (2 p - 1) + L (1/2 -
        threshold) needs 2 p - 1 exact in absolute terms (it must not cancel at the usual threshold 1/2, as
        L (p - 1/2) from a rounded 1 - p would); it comes from the cheaper of two forms on this machine
        (_tanh_is_cheaper): tanh((x + offset) / 2) itself, with 4 p (1 - p) = 1 - tanh^2 (exact in absolute terms:
        slopes below ~1e-7 of the peak round to 0, which the floor then lifts), or E = exp(-(x + offset)), its
        argument clipped to +-FLOAT32_PROBABILITY_CLIP: 2 p = 2 / (1 + E) and 2 (1 - p) = E 2 p, each exact in
        relative terms, and so their product 4 p (1 - p) (beyond the clip, within 6e-8 of it), and 2 (2 p - 1) =
        (1 - E) 2 p (1 - E does not round near the centre, where 2 p - 1 from 2 p would). The amplifier from E' =
        exp(u): 1 - yh = 1 / (1 + E') and yh = E' (1 - yh), each exact in relative terms, as the counts need: TP
        and FP can be sums of tens of thousands of yh near 1e-7, which (1 + tanh(u / 2)) / 2 rounded to multiples
        of 3e-8."""
        half, one, scale, negated_offset, step, _, two, lowest, highest, half_offset, half_scale = numbers
        from_tanh = _tanh_is_cheaper()
        if from_tanh:
            numpy.multiply(x, half, out=margins, dtype=numpy.float32)  # kept: the count pass checks the margins
            if self.offset:
                margins += half_offset
            slope_p = numpy.tanh(margins, out=work[0])  # 2 p - 1, made 4 p (1 - p) below
            u = numpy.multiply(slope_p, half_scale, out=work[1])  # L (p - 1/2)
        else:
            if self.offset:
                numpy.subtract(negated_offset, x, out=margins, dtype=numpy.float32)
            else:
                numpy.negative(x, out=margins, dtype=numpy.float32)
            e = numpy.exp(numpy.clip(margins, lowest, highest, out=work[0]), out=work[0])
            twice_p = numpy.add(e, one, out=work[1])
            numpy.divide(two, twice_p, out=twice_p)
            u = numpy.subtract(one, e, out=soft[0])
            slope_p = numpy.multiply(twice_p, numpy.multiply(e, twice_p, out=e), out=work[2])  # 4 p (1 - p)
            u = numpy.multiply(u, twice_p, out=twice_p)  # (1 - E) 2 p = 2 (2 p - 1)
            u *= scale  # L (p - 1/2)
        if self.threshold != 0.5:
            u += step
        if self.L * max(self.threshold, 1 - self.threshold) > FLOAT32_EXP_CLIP:  # |u| can pass it: exp overflows
            numpy.clip(u, -FLOAT32_EXP_CLIP, FLOAT32_EXP_CLIP, out=u)
        numpy.exp(u, out=u)
        not_yh = numpy.add(u, one, out=soft[1])
        numpy.divide(half, not_yh, out=not_yh)  # (1 - yh) / 2
        yh = numpy.multiply(u, not_yh, out=soft[0])
        numpy.multiply(yh, not_yh, out=u)  # yh (1 - yh) / 4
        if from_tanh:  # 1 - tanh^2
            numpy.multiply(slope_p, slope_p, out=slope_p)
            numpy.subtract(one, slope_p, out=slope_p)
        return slope_p, u

    def _float32_numbers(self):
        """The float32 amplifier's numbers 1/2, 1, L / 4, -offset, L (1/2 - threshold), the slopes' floor
        (FLOAT32_SLOPE_FLOOR), 2, -+FLOAT32_PROBABILITY_CLIP, offset / 2 and L / 2 as 0-d float32 arrays: NumPy
        takes those as fast as arrays, where a Python number costs a conversion at each call (on a block, half a
        call's time); made once (no ufunc writes them)."""
        numbers = self.__dict__.get("_numbers32")
        if numbers is None:
            numbers = self._numbers32 = tuple(numpy.array(v, numpy.float32) for v in (
                0.5, 1.0, self.L / 4, -self.offset, self.L * (0.5 - self.threshold), FLOAT32_SLOPE_FLOOR, 2.0,
                -FLOAT32_PROBABILITY_CLIP, FLOAT32_PROBABILITY_CLIP, self.offset / 2, self.L / 2))
        return numbers

    def _class_counts(self, z, y, w, kept=None):
        """_count_sums for task="multiclass", with yh = softmax(L/2 softmax(z)); into `kept` (two class-major
        arrays (C, n), or None) go p = softmax(z) and yh."""
        counts, h = 0.0, self.L / 2
        for rows in self._row_slices(len(z), z.shape[1], block=CLASS_BLOCK):
            # class-major (C, rows): each sample's sums run along the rows, not across a few columns
            p = softmax(numpy.ascontiguousarray(z[rows].T), out=None if kept is None else kept[0][:, rows])
            yh = numpy.multiply(p, h, out=None if kept is None else kept[1][:, rows])
            if h <= 700:  # h p in [0, h]: exp(h p) is finite without a shift
                numpy.exp(yh, out=yh)
                yh /= yh.sum(axis=0)
            else:
                softmax(yh, out=yh)
            soft = numpy.stack([yh, 1 - yh]).swapaxes(1, 2)  # (2, rows, C) views for outer_dots
            wy = self._one_hot(y[rows])
            weighted = numpy.stack([wy, 1 - wy]).swapaxes(1, 2)
            if w is not None:
                weighted *= w[rows]
            counts = counts + outer_dots(weighted, soft)  # [[TP, FN], [FP, TN]]
        (tp, fn), (fp, tn) = counts
        return [tp, fp, fn, tn]

    def _nonfinite(self, counts, bad, **options):
        """The error message (nonfinite_message's `options`) for a gradient or Hessian that is not finite: at the
        pooled counts of a binary or micro-averaged objective (`bad` unread), else at those of the first class (or
        label) whose entry of `bad` (C,) is set."""
        if self.task == "binary" or self.average == "micro":
            return nonfinite_message(self.name, [float(numpy.sum(c)) for c in counts],
                                     derivatives="gradient or Hessian", **options)
        k = int(numpy.argmax(bad)) if numpy.any(bad) else None
        return class_nonfinite_message(self.name, self.task, counts, k, derivatives="gradient or Hessian", **options)

    def _coefficients(self, counts):
        """The averaged loss and the gradient coefficients a, b and curvatures q_a, q_b at the counts (each an
        array of shape (C,), or one number for a binary or micro-averaged objective), weighted as the average
        weighs each label."""
        pooled = self.task == "binary" or self.average == "micro"
        points = [_pooled(c) + self.eps for c in counts] if pooled else [c + self.eps for c in counts]
        with numpy.errstate(all="ignore"):
            values = self.curvatures(*points)
        if pooled:  # numbers: checked without NumPy's per-call costs
            values = tuple(float(v) for v in values)
            if not all(math.isfinite(v) for v in values):
                raise self.error(self._nonfinite(counts, None))
            return values
        # a label the average weighs 0 counts for nothing, also where its own values are not finite
        weights = self._label_weights(counts)
        used = weights > 0
        values = [numpy.where(used, numpy.asarray(v, dtype=numpy.float64), 0.0) for v in values]
        bad = ~numpy.logical_and.reduce([numpy.isfinite(v) for v in values])
        if bad.any():
            raise self.error(self._nonfinite(counts, bad))
        loss, *rest = (v * weights for v in values)
        return (float(loss.sum()), *rest)

    def _label_weights(self, counts):
        """Each label's weight in the average: 1 for one pooled loss; macro 1/C or class_weight normalised;
        weighted by support TP + FN (a label without support weighs 0)."""
        if self.task == "binary" or self.average == "micro":
            return 1.0
        if self.average == "weighted":
            weights = numpy.asarray(counts[0] + counts[2], dtype=numpy.float64)
        elif self.class_weight is not None:
            weights = self.class_weight
        else:
            weights = numpy.ones(numpy.shape(counts[0]))
        total = weights.sum()
        return weights / total if total > 0 else numpy.zeros_like(weights)
