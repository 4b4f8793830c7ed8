"""Soft-confusion-matrix loss on NumPy arrays: one pass for the four counts, one for the gradient.

This module imports only NumPy: metricc copies it verbatim into the modules it emits.
"""

import numpy


def sigmoid_pair(x):
    """sigmoid(x) and sigmoid(-x), without overflow, and without computing 1 - sigmoid(x) by subtraction."""
    e = numpy.exp(-numpy.abs(x))
    r = 1 / (1 + e)
    er = e * r
    positive = x >= 0
    return numpy.where(positive, r, er), numpy.where(positive, er, r)


class SoftConfusionLoss:
    """`1 - metric` (or a cost) of the soft confusion matrix, with its gradient from the derived formulas.

    `scalars(TP, FP, FN, TN)` returns the loss and its four partials; each prediction is amplified as
    `yh = sigmoid(L * (p - threshold))`, where `p = sigmoid(logit)` unless `from_logits` is False, and every
    count is smoothed by `eps` so that no batch divides by zero. `check_dtype`, if given, is called with each
    new input dtype (metricc checks there that L suits it).
    """

    def __init__(self, scalars, *, L=73.0, threshold=0.5, from_logits=True, eps=1e-6, check_inputs=True,
                 name="metric", error=ValueError, check_dtype=None):
        self.scalars = scalars
        self.L = float(L)
        self.threshold = float(threshold)
        self.from_logits = bool(from_logits)
        self.eps = float(eps)
        self.check_inputs = check_inputs
        self.name = name
        self.error = error
        self.check_dtype = check_dtype
        self._checked_dtypes = set()

    def __repr__(self):
        return (f"{type(self).__name__}({self.name!r}, L={self.L}, threshold={self.threshold}, "
                f"from_logits={self.from_logits}, eps={self.eps})")

    def __call__(self, input, target, sample_weight=None):
        """The loss (a float)."""
        x, y, w = self._arrays(input, target, sample_weight)
        return float(self._evaluate(self._counts(x, y, w)[0])[0])

    def counts(self, input, target, sample_weight=None):
        """The soft counts (TP, FP, FN, TN) as floats, before smoothing."""
        x, y, w = self._arrays(input, target, sample_weight)
        return tuple(float(c) for c in self._counts(x, y, w)[0])

    def loss_and_grad(self, input, target, sample_weight=None):
        """The loss (a float) and its gradient with respect to `input` (an array of the input's dtype)."""
        x, y, w = self._arrays(input, target, sample_weight)
        counts, s, sbar, q, qbar = self._counts(x, y, w)
        loss, a, b = self._evaluate(counts)
        coefficient = y * (a - b)
        coefficient += b
        coefficient *= (self.L * s) * sbar
        if self.from_logits:
            coefficient *= q * qbar
        if w is not None:
            coefficient *= w
        return float(loss), coefficient.astype(x.dtype, copy=False).reshape(numpy.shape(input))

    def _counts(self, x, y, w):
        if self.from_logits:
            q, qbar = sigmoid_pair(x)
            u = q - self.threshold
        else:
            q = qbar = None
            u = x - self.threshold
        u *= self.L
        s, sbar = sigmoid_pair(u)
        positive = y if w is None else w * y
        negative = 1 - y if w is None else w - positive
        counts = (numpy.dot(positive, s), numpy.dot(negative, s), numpy.dot(positive, sbar),
                  numpy.dot(negative, sbar))
        return counts, s, sbar, q, qbar

    def _evaluate(self, counts):
        with numpy.errstate(all="ignore"):
            loss, d_tp, d_fp, d_fn, d_tn = self.scalars(*(numpy.float64(c) + self.eps for c in counts))
        if not all(numpy.isfinite(v) for v in (loss, d_tp, d_fp, d_fn, d_tn)):
            raise self.error(f"the {self.name} loss is not finite at the counts TP, FP, FN, TN = "
                             f"{', '.join(f'{float(c):.6g}' for c in counts)} (a denominator of the formula "
                             "vanishes; raise eps or change the formula)")
        return float(loss), float(d_tp - d_fn), float(d_fp - d_tn)

    def _arrays(self, input, target, sample_weight):
        x = numpy.asarray(input)
        if x.dtype not in (numpy.float32, numpy.float64):
            if x.dtype.kind not in "biuf":
                raise self.error(f"Expected `input` to hold numbers, but got dtype {x.dtype}.")
            x = x.astype(numpy.float64)
        y = numpy.asarray(target)
        if y.dtype.kind not in "biuf":
            raise self.error(f"Expected `target` to hold 0/1 labels, but got dtype {y.dtype}.")
        if x.shape != y.shape:
            raise self.error(f"Expected `input` and `target` to have the same shape, but got {x.shape} and "
                             f"{y.shape}.")
        if x.size == 0:
            raise self.error("Expected a non-empty batch, but `input` has no elements.")
        x = x.reshape(-1)
        y = y.reshape(-1).astype(x.dtype)
        w = None
        if sample_weight is not None:
            w = numpy.asarray(sample_weight)
            if w.shape != numpy.shape(input):
                raise self.error(f"Expected `sample_weight` of shape {numpy.shape(input)}, but got {w.shape}.")
            w = w.reshape(-1).astype(x.dtype)
        if self.check_inputs:
            self._check_values(x, y, w)
        if self.check_dtype is not None and x.dtype not in self._checked_dtypes:
            self._checked_dtypes.add(x.dtype)
            self.check_dtype(x.dtype)
        return x, y, w

    def _check_values(self, x, y, w):
        if not numpy.isfinite(x).all():
            raise self.error("Expected finite `input`, but it contains NaN or infinity.")
        if not self.from_logits and ((x < 0) | (x > 1)).any():
            raise self.error("Expected probabilities in [0, 1] as `input` (from_logits=False).")
        if ((y < 0) | (y > 1)).any() or not numpy.isfinite(y).all():
            raise self.error("Expected `target` values in [0, 1].")
        if w is not None:
            if not numpy.isfinite(w).all() or (w < 0).any():
                raise self.error("Expected `sample_weight` to be finite and non-negative.")
            if not w.any():
                raise self.error("Expected `sample_weight` to have a positive entry, but all are zero.")
