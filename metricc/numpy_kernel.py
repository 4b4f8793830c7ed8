"""Soft-confusion-matrix loss on NumPy arrays: one pass for the four counts, one for the gradient.

This module imports only NumPy (and the import-free metricc.checks): metricc copies both into the
modules it emits.
"""

import warnings

import numpy

from metricc.checks import PROBABILITY_HINT, ProbabilityHint  # emitted modules inline this import
from metricc.checks import TWO_CLASS_HINT, one_hot_rows  # emitted modules inline this import
from metricc.checks import FLOAT32_MAX, light_weights, nonfinite_message  # emitted modules inline this import
from metricc.checks import class_names_hint, masked_message, shape_message  # emitted modules inline this import
from metricc.checks import caller_level, target_range_message  # emitted modules inline this import
from metricc.checks import weight_range_message  # emitted modules inline this import
from metricc.checks import heavy_counts, scalars_count_limit  # emitted modules inline this import
from metricc.checks import probability_range_message  # emitted modules inline this import
from metricc.checks import extension_numbers, nonfinite_input_message  # emitted modules inline this import
from metricc.checks import underflow_ignored  # emitted modules inline this import


def sigmoid_into(x, out, negated=False):
    """out <- sigmoid(x), or sigmoid(-x) if `negated` (exp may overflow to inf, which gives the right limit 0)."""
    if negated:
        numpy.copyto(out, x)
    else:
        numpy.negative(x, out=out)
    with numpy.errstate(over="ignore"):
        numpy.exp(out, out=out)
    out += 1
    return numpy.divide(1.0, out, out=out)


def small_sigmoid(x, out):
    """out <- sigmoid(-|x|) <= 1/2; with v = small_sigmoid(x), sigmoid(x) * sigmoid(-x) = v * (1 - v) does not
    round to 0 where sigmoid(x) rounds to 1."""
    numpy.abs(x, out=out)
    with numpy.errstate(over="ignore"):
        numpy.exp(out, out=out)
    out += 1
    return numpy.divide(1.0, out, out=out)


def ignored_elements(target, ignore_index):
    """Where `target` equals the int `ignore_index`, exactly (NumPy compares a Python int with any integer type
    without wrapping it; float16 targets are compared in float32, where 2049 does not round to 2048)."""
    return (target.astype(numpy.float32) if target.dtype == numpy.float16 else target) == ignore_index


def as_array(value, name, error):
    """`value` as a NumPy array (a SciPy sparse matrix made dense), or `error` saying why not: it does not convert
    (a torch tensor that requires grad), or it is a masked array with masked entries (masked_message)."""
    message = masked_message(value, name)
    if message:
        raise error(message)
    if hasattr(value, "toarray") and hasattr(value, "nnz"):  # a SciPy sparse matrix (multi-label indicators)
        value = value.toarray()
    try:
        return extension_numbers(numpy, numpy.asarray(value))
    except (TypeError, ValueError, RuntimeError) as failure:
        hint = ("; for torch tensors use the torch loss (to_torch()), which runs with autograd, or pass "
                "tensor.detach().cpu().float().numpy()" if type(value).__module__ == "torch" else "")
        raise error(f"Expected `{name}` to be an array of numbers, but converting it failed: {failure}{hint}") from None


# bytes per array of a block of elements: the kernel's five block buffers (640 KiB) stay in the cores' caches
BLOCK_BYTES = 1 << 17


class SoftConfusionLoss:
    """`1 - metric` (or a cost) of the soft confusion matrix, with its gradient from the derived formulas.

    `scalars(TP, FP, FN, TN)` returns the loss and the gradient coefficients a = d_TP - d_FN, b = d_FP - d_TN;
    each prediction is amplified as `yh = sigmoid(L * (p - threshold))`, where `p = sigmoid(logit)` unless
    `from_logits` is False, and every count is smoothed by `eps` so that no batch divides by zero. Elements whose
    target is `ignore_index` are left out (their gradient is 0). `check_dtype`, if given, is called with each new
    input dtype (metricc checks there that L suits it).
    """

    def __init__(self, scalars, *, L=73.0, threshold=0.5, from_logits=True, eps=1e-6, check_inputs=True,
                 ignore_index=None, name="metric", error=ValueError, warning=UserWarning, check_dtype=None):
        self.scalars = scalars
        self.L = float(L)
        self.threshold = float(threshold)
        self.from_logits = bool(from_logits)
        self.eps = float(eps)
        self.check_inputs = check_inputs
        self.ignore_index = ignore_index
        self.name = name
        self.error = error
        self.warning = warning
        self._hint, self._pairs_seen = ProbabilityHint(), False
        self.check_dtype = check_dtype
        self._checked_dtypes = set()

    def __repr__(self):
        return (f"{type(self).__name__}({self.name!r}, L={self.L}, threshold={self.threshold}, "
                f"from_logits={self.from_logits}, eps={self.eps})")

    def __call__(self, input, target, sample_weight=None):
        """The loss (a float)."""
        x, y, w, largest = self._arrays(input, target, sample_weight)
        return self._evaluate(self._counts(x, y, w, largest))[0]

    @underflow_ignored(numpy)
    def counts(self, input, target, sample_weight=None):
        """The soft counts (TP, FP, FN, TN) as floats, before smoothing."""
        x, y, w, largest = self._arrays(input, target, sample_weight)
        return self._counts(x, y, w, largest)

    @underflow_ignored(numpy)
    def loss_and_grad(self, input, target, sample_weight=None, check_inputs=None):
        """The loss (a float) and its gradient with respect to `input` (an array of the input's dtype).
        `check_inputs` overrides the instance's setting for this call."""
        x, y, w, largest = self._arrays(input, target, sample_weight, check_inputs)
        grad = numpy.empty_like(x)
        counts = self._counts(x, y, w, largest, slopes=grad)
        loss, a, b = self._evaluate(counts)
        a, b = a * largest, b * largest  # the per-sample factors use the unit weights
        if x.dtype == numpy.float32 and max(abs(a), abs(b)) * self.L > FLOAT32_MAX:
            # the coefficients pass float32's range: the gradient in float64, rounded once it is small again
            x, y, w = (v if v is None else v.astype(numpy.float64) for v in (x, y, w))
            grad = numpy.empty_like(x)
            self._counts(x, y, w, slopes=grad)
            self._scale(grad, y, w, a, b)
            with numpy.errstate(over="ignore"):
                grad = grad.astype(numpy.float32)
            if not numpy.isfinite(grad).all():
                raise self.error(nonfinite_message(self.name, counts, dtype="float32", overflow=True))
            return loss, grad.reshape(numpy.shape(input))
        return loss, self._scale(grad, y, w, a, b).reshape(numpy.shape(input))

    def _counts(self, x, y, w, largest=1.0, slopes=None):
        """TP, FP, FN, TN as floats, a block of BLOCK_BYTES per array at a time (which stays in the caches), each
        accumulated directly (FP = sum w (1-y) yh, not sum w yh - TP) with 1 - yh computed as sigmoid(-u), u = L
        (p - threshold) and p = sigmoid(x) for logits, so that a small count keeps its digits in float32 at any
        batch size; a block's sums are BLAS dot products (short ones: over a whole batch of 1e7, a float32 dot
        lost 1e-3), added up in float64. Into `slopes` (x's shape and type, or None) goes d yh / d x / L:
        yh (1 - yh), times v (1 - v) for logits, v = sigmoid(-|x|), which does not round to 0 where p rounds to 1."""
        size = BLOCK_BYTES // x.itemsize
        buffers = numpy.empty((5, min(size, len(x))), x.dtype)
        sums = [0.0] * 4
        for start in range(0, len(x), size):
            rows = slice(start, start + size)
            u, yh, not_yh, not_y, scratch = buffers[:, :len(x[rows])]
            if self.from_logits:
                sigmoid_into(x[rows], u)
            else:
                numpy.copyto(u, x[rows])
            u -= self.threshold
            u *= self.L
            sigmoid_into(u, yh)
            sigmoid_into(u, not_yh, negated=True)
            positive = y[rows]
            numpy.subtract(1, positive, out=not_y)
            if w is not None:
                not_y *= w[rows]
                positive = numpy.multiply(positive, w[rows], out=u)  # u is spent
            for index, (a, b) in enumerate(((positive, yh), (not_y, yh), (positive, not_yh), (not_y, not_yh))):
                sums[index] += float(numpy.dot(a, b))
            if slopes is not None:
                slope = numpy.multiply(yh, not_yh, out=slopes[rows])
                if self.from_logits:
                    v = small_sigmoid(x[rows], out=scratch)
                    slope *= v
                    slope *= numpy.subtract(1, v, out=v)
        return tuple(c * largest for c in sums)

    def _scale(self, slopes, y, w, a, b):
        """The gradient, in place of `slopes` (from _counts), from the coefficients a, b scaled to the unit
        weights w, a block at a time."""
        size = BLOCK_BYTES // slopes.itemsize
        buffers = numpy.empty((2, min(size, len(slopes))), slopes.dtype)
        for start in range(0, len(slopes), size):
            rows = slice(start, start + size)
            c, scratch = buffers[:, :len(slopes[rows])]
            # y a + (1 - y) b, never b + y (a - b): with a class absent from the batch b is about 1/eps, and a - b
            # would round a away in float32
            numpy.subtract(1, y[rows], out=c)
            c *= b * self.L
            c += numpy.multiply(y[rows], a * self.L, out=scratch)
            grad = slopes[rows]
            grad *= c
            if w is not None:
                grad *= w[rows]
        return slopes

    def _evaluate(self, counts):
        with numpy.errstate(all="ignore"):
            loss, a, b = self.scalars(*(numpy.float64(c) + self.eps for c in counts))
        message = heavy_counts(max(counts), self.name, scalars_count_limit(self.scalars))
        if message:  # (NaN counts: below)
            raise self.error(message)
        if not all(numpy.isfinite(v) for v in (loss, a, b)):
            raise self.error(nonfinite_message(self.name, counts))
        message = light_weights(sum(counts), self.eps)
        if message:
            warnings.warn(message, self.warning, stacklevel=caller_level())
        return float(loss), float(a), float(b)

    def _arrays(self, input, target, sample_weight, check_inputs=None):
        x, y = self._array(input, "input"), self._array(target, "target")
        if x.dtype not in (numpy.float32, numpy.float64):
            if x.dtype.kind not in "biuf":
                raise self.error(f"Expected `input` to hold numbers, but got dtype {x.dtype}.")
            x = x.astype(numpy.float64)
        if y.dtype.kind not in "biuf":
            raise self.error(f"Expected `target` to hold 0/1 labels, but got dtype {y.dtype}{class_names_hint(y)}.")
        if x.shape != y.shape:
            raise self.error(shape_message(x.shape, y.shape))
        if x.size == 0:
            raise self.error("Expected a non-empty batch, but `input` has no elements.")
        if self.check_inputs if check_inputs is None else check_inputs:
            self._hint_two_classes(y)
        x = x.reshape(-1)
        y, kept = y.reshape(-1), None
        if self.ignore_index is not None:  # compared before y takes x's type
            ignored = ignored_elements(y, self.ignore_index)
            if ignored.any():
                kept = ~ignored
                y = numpy.where(ignored, y.dtype.type(0), y)
        y = y.astype(x.dtype, copy=False)
        w = None
        if sample_weight is not None:
            w = self._array(sample_weight, "sample_weight")
            if w.dtype.kind not in "biuf":
                raise self.error(f"Expected `sample_weight` to hold numbers, but got dtype {w.dtype}.")
            if w.shape != numpy.shape(input):
                raise self.error(f"Expected `sample_weight` of shape {numpy.shape(input)}, but got {w.shape}.")
            w = w.reshape(-1).astype(x.dtype, copy=False)
        if self.check_inputs if check_inputs is None else check_inputs:
            self._check_values(x, y, w, numpy.shape(input))
        if kept is not None:  # the ignored elements weigh 0 (all of them: a loss without gradient)
            w = kept.astype(x.dtype) if w is None else w * kept
        largest = 1.0
        if w is not None:  # unit weights, so that no scale of the weights overflows or underflows a product
            largest = float(w.max())
            largest = largest if largest > 0 else 1.0
            w = w / w.dtype.type(largest)
        if self.check_dtype is not None and x.dtype not in self._checked_dtypes:
            self._checked_dtypes.add(x.dtype)
            self.check_dtype(x.dtype)
        return x, y, w, largest

    def _array(self, value, name):
        return as_array(value, name, self.error)

    def _hint_two_classes(self, y):
        """TWO_CLASS_HINT, on the first batch of two columns where its rows are one-hot."""
        if not self._pairs_seen and y.ndim == 2 and y.shape[1] == 2:
            self._pairs_seen = True
            if one_hot_rows(numpy, y):
                warnings.warn(TWO_CLASS_HINT, self.warning, stacklevel=caller_level())

    def _check_values(self, x, y, w, shape):
        """Reductions only (no n-sized temporaries): a sum is finite unless some element is not (or it
        overflows, which the elementwise check then tells apart). `shape`: the input's as given (x is flat)."""
        if not _finite(x):
            raise self.error(nonfinite_input_message(values=x.reshape(shape)))
        x_min, x_max = x.min(), x.max()
        if not self.from_logits and not (x_min >= 0 and x_max <= 1):
            raise self.error(probability_range_message(values=x.reshape(shape)))
        if self.from_logits and self._hint.observe(x_min, x_max, x.size):
            warnings.warn(PROBABILITY_HINT, self.warning, stacklevel=caller_level())
        if not (y.min() >= 0 and y.max() <= 1):
            raise self.error(target_range_message(y.min(), y.max(), values=y.reshape(shape),
                                                  input_range=(x_min, x_max)))
        if w is not None:
            if not (_finite(w) and w.min() >= 0):
                raise self.error(weight_range_message(w.min(), w.max(), values=w.reshape(shape)))
            if not w.max() > 0:
                raise self.error("Expected `sample_weight` to have a positive entry, but all are zero.")


def _finite(x):
    """Whether every element of x is finite: its sum is unless one is not, or the sum overflows (then each
    element is looked at)."""
    with numpy.errstate(over="ignore", invalid="ignore"):
        return bool(numpy.isfinite(x.sum()) or numpy.isfinite(x).all())
