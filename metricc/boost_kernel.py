"""A soft-confusion-matrix loss as a custom objective for gradient-boosted trees (XGBoost, LightGBM): margins in,
the derived gradient and the diagonal of the Hessian out, one pass over the data.

The objective is the loss times S, the total sample weight W for a ratio such as F1 (1 for a cost that grows like
a sum, such as FP + 5*FN). The "batch" is the whole training set, so the metric is exact, and the per-sample
gradient is of order 1, as a logistic objective's is, so that the boosters' regularisation defaults
(min_child_weight, lambda) mean what they usually mean. With yh_i = sigmoid(L (sigmoid(z_i) - t)):

    g_i = S w_i c_i yh_i'                          c_i = a for a positive sample, b for a negative one
    h_i = S (w_i^2 q_i yh_i'^2 + w_i c_i yh_i'')   q_i = q_a or q_b, the curvatures of a and b

This module imports only NumPy: metricc copies it into the modules it emits.
"""

import numpy

HESSIANS = ("exact", "abs", "clip", "gauss-newton", "bound")
# "clip": the exact diagonal, raised to at least this share of the largest |h_i| (so no leaf divides by ~0)
CLIP_FLOOR = 1e-3


def extensive(curvatures):
    """Whether the loss grows like a sum of the counts (doubling them doubles it: a cost such as FP + 5*FN),
    rather than staying the same (a ratio such as F1 or (FP + 5*FN)/N)."""
    counts = (7.0, 2.5, 1.25, 30.0)
    with numpy.errstate(all="ignore"):
        one, two = float(curvatures(*counts)[0]), float(curvatures(*(2 * c for c in counts))[0])
    return one != 0 and abs(two - 2 * one) <= 1e-9 * abs(one)


def _sigmoid_pair(x):
    """sigmoid(x) and sigmoid(-x), each from one exponential of -|x| (no overflow, no rounding to 0 or 1 that
    the other could keep)."""
    e = numpy.exp(-numpy.abs(x))
    small = e / (1 + e)
    large = 1 / (1 + e)
    positive = x >= 0
    return numpy.where(positive, large, small), numpy.where(positive, small, large)


class BoostObjective:
    """`objective(y_true, y_pred, sample_weight=None) -> (grad, hess)`, also callable as `objective(margins,
    data)` with an XGBoost DMatrix or a LightGBM Dataset (labels and weights are read from it), so one object
    serves xgboost.train(obj=...), XGBClassifier(objective=...), lightgbm.train(params={"objective": ...}) and
    LGBMClassifier(objective=...). `curvatures(TP, FP, FN, TN)` returns (loss, a, b, q_a, q_b).

    `hessian`: "bound" (the default: |S w_i^2 q_i yh_i'^2| + S w_i |c_i| M, with M the largest |yh''| over all
    margins; it majorises the loss along each margin, so that no Newton step overshoots, and it stays positive
    where the exact diagonal passes 0 at yh = 1/2, where every margin starts), "exact" (the exact diagonal, may
    be negative), "abs" (its absolute value), "clip" (the exact diagonal raised to CLIP_FLOOR times its largest
    magnitude) or "gauss-newton" (both terms made non-negative). A prediction is positive when its margin is at least
    `decision_margin` = logit(threshold).
    """

    def __init__(self, curvatures, *, L=73.0, threshold=0.5, eps=1e-6, hessian="bound", booster="xgboost",
                 minimize=False, check_inputs=True, name="metric", error=ValueError):
        if hessian not in HESSIANS:
            raise error(f"Expected argument `hessian` to be one of {list(HESSIANS)}, but got {hessian!r}.")
        if booster not in ("xgboost", "lightgbm"):
            raise error(f"Expected argument `booster` to be 'xgboost' or 'lightgbm', but got {booster!r}.")
        self.curvatures = curvatures
        self.L, self.threshold, self.eps = float(L), float(threshold), float(eps)
        self.hessian, self.booster, self.minimize = hessian, booster, bool(minimize)
        self.check_inputs, self.name, self.error = check_inputs, name, error
        self.decision_margin = float(numpy.log(self.threshold / (1 - self.threshold)))
        self.extensive = extensive(curvatures)
        self.__name__ = f"metricc_{booster}_objective"  # boosters print the objective's name

    def __repr__(self):
        return (f"{type(self).__name__}({self.name!r}, L={self.L}, threshold={self.threshold}, "
                f"hessian={self.hessian!r}, booster={self.booster!r})")

    def __call__(self, y_true, y_pred, sample_weight=None):
        margins, labels, weight = self._arguments(y_true, y_pred, sample_weight)
        grad, hess = self.gradient_and_hessian(margins, labels, weight)
        return grad, hess

    def loss(self, margins, labels, sample_weight=None):
        """The soft loss (not scaled by the total weight) at the margins."""
        z, y, w = self._arrays(margins, labels, sample_weight)
        counts = self._counts(z, y, w)[0]
        return float(self._scalars(counts)[0])

    def gradient_and_hessian(self, margins, labels, sample_weight=None, hessian=None):
        """The objective's gradient and Hessian diagonal (the mode `hessian`, default this objective's) with
        respect to the margins, as float64 arrays of the margins' shape."""
        z, y, w = self._arrays(margins, labels, sample_weight)
        counts, p, not_p, yh, not_yh = self._counts(z, y, w)
        _, a, b, q_a, q_b = self._scalars(counts)
        total = 1.0 if self.extensive else float(w.sum())
        slope_p, slope_u = p * not_p, yh * not_yh
        d_yh = self.L * slope_u * slope_p  # d yh / d z
        # d^2 yh / d z^2 = d_yh (L (1 - 2 yh) p (1 - p) + 1 - 2 p), with 1 - 2s = sigmoid(-x) - sigmoid(x)
        dd_yh = d_yh * (self.L * (not_yh - yh) * slope_p + (not_p - p))
        c = y * a + (1 - y) * b
        q = y * q_a + (1 - y) * q_b
        grad = total * w * c * d_yh
        curvature, bend = total * w * w * q * d_yh * d_yh, total * w * c * dd_yh
        mode = self.hessian if hessian is None else hessian
        if mode == "gauss-newton":
            hess = numpy.abs(curvature) + numpy.abs(bend)
        elif mode == "bound":
            hess = numpy.abs(curvature) + total * w * numpy.abs(c) * self._bend_bound()
        else:
            hess = curvature + bend
            if mode == "abs":
                hess = numpy.abs(hess)
            elif mode == "clip":
                hess = numpy.maximum(hess, CLIP_FLOOR * numpy.abs(hess).max())
        shape = numpy.shape(margins)
        return grad.reshape(shape), hess.reshape(shape)

    def _bend_bound(self):
        """The largest |d^2 yh / d z^2| over all margins (measured on a fine grid, once): a Hessian that uses it
        majorises the loss along each margin, so a Newton step of the booster cannot overshoot."""
        if getattr(self, "_bound", None) is None:
            z = numpy.linspace(-40, 40, 400_001)
            p, not_p = _sigmoid_pair(z)
            yh, not_yh = _sigmoid_pair((p - self.threshold) * self.L)
            d_yh = self.L * yh * not_yh * p * not_p
            self._bound = float(numpy.abs(d_yh * (self.L * (not_yh - yh) * p * not_p + (not_p - p))).max())
        return self._bound

    def evaluate(self, margins, labels, sample_weight=None):
        """The formula on hard predictions (margin >= decision_margin), as the loss: 1 - score, or the cost."""
        z, y, w = self._arrays(margins, labels, sample_weight)
        predicted = z >= self.decision_margin
        actual = y >= 0.5
        counts = [float(numpy.sum(w * (predicted == p) * (actual == t))) for p, t in
                  ((True, True), (True, False), (False, True), (False, False))]
        with numpy.errstate(all="ignore"):
            return float(self.curvatures(*counts)[0])

    def eval_metric(self, y_true, y_pred, sample_weight=None):
        """For early stopping, in the booster's convention: XGBoost (name, value); LightGBM (name, value,
        is_higher_better). The value is the loss on hard predictions (1 - score, or the cost): lower is better."""
        margins, labels, weight = self._arguments(y_true, y_pred, sample_weight)
        value = self.evaluate(margins, labels, weight)
        name = "metricc-cost" if self.minimize else "metricc-1-score"  # one token: XGBoost splits on spaces
        return (name, value) if self.booster == "xgboost" else (name, value, False)

    @property
    def params(self):
        """Parameters the booster needs with this objective: every margin starts at 0 (p = 1/2, where the
        amplifier has its largest slope) and the booster's own metric, meaningless here, is off. For
        XGBClassifier, whose base_score is a probability, pass base_score=0.5 instead."""
        if self.booster == "xgboost":
            return {"base_score": 0.0, "disable_default_eval_metric": 1}
        return {"boost_from_average": False}

    def predict(self, margins):
        """Hard 0/1 predictions from margins, at the decision threshold."""
        return (numpy.asarray(margins) >= self.decision_margin).astype(numpy.int64)

    def _arguments(self, y_true, y_pred, sample_weight):
        """(margins, labels, weights) from either calling convention."""
        if hasattr(y_pred, "get_label"):  # (margins, DMatrix or Dataset)
            data = y_pred
            weight = data.get_weight()
            weight = None if weight is None or numpy.size(weight) == 0 else weight
            return y_true, data.get_label(), weight
        return y_pred, y_true, sample_weight

    def _arrays(self, margins, labels, sample_weight):
        z = numpy.asarray(margins, dtype=numpy.float64).reshape(-1)
        y = numpy.asarray(labels, dtype=numpy.float64).reshape(-1)
        if z.shape != y.shape or z.size == 0:
            raise self.error(f"Expected as many margins as labels (and at least one), but got {numpy.shape(margins)} "
                             f"and {numpy.shape(labels)}.")
        w = numpy.ones_like(z) if sample_weight is None else numpy.asarray(sample_weight, numpy.float64).reshape(-1)
        if w.shape != z.shape:
            raise self.error(f"Expected {z.size} sample weights, but got {w.size}.")
        if self.check_inputs:
            if not numpy.isfinite(z).all():
                raise self.error("Expected finite margins, but they contain NaN or infinity.")
            if not ((y >= 0) & (y <= 1)).all():
                raise self.error("Expected labels in [0, 1].")
            if not (numpy.isfinite(w).all() and (w >= 0).all() and w.max() > 0):
                raise self.error("Expected finite, non-negative sample weights with a positive entry.")
        return z, y, w

    def _counts(self, z, y, w):
        p, not_p = _sigmoid_pair(z)
        yh, not_yh = _sigmoid_pair((p - self.threshold) * self.L)
        wy, wn = w * y, w * (1 - y)
        counts = [float(numpy.dot(wy, yh)), float(numpy.dot(wn, yh)), float(numpy.dot(wy, not_yh)),
                  float(numpy.dot(wn, not_yh))]
        return counts, p, not_p, yh, not_yh

    def _scalars(self, counts):
        with numpy.errstate(all="ignore"):
            values = [float(v) for v in self.curvatures(*(c + self.eps for c in counts))]
        if not all(numpy.isfinite(v) for v in values):
            raise self.error(f"the {self.name} objective is not finite at the counts TP, FP, FN, TN = "
                             f"{', '.join(f'{c:.6g}' for c in counts)} (a denominator of the formula vanishes)")
        return values
