"""Multi-class and multi-label losses in NumPy, with the same shape, checks and numerics as the binary kernel:
per-class (one-vs-rest) soft counts, averaged scores and the derived backward pass (the array code is shared
with the JAX kernel: metricc.multiclass_math). Computed in float64; the gradient comes back in the input's
dtype.

This module imports only NumPy: metricc copies it into the modules it emits.
"""

import warnings
from fractions import Fraction

import numpy

from metricc.multiclass_math import average, element_weights, per_class_counts  # emitted modules inline this import
from metricc.multiclass_math import element_rows, pullback, soft_predictions  # emitted modules inline this import
from metricc.multiclass_math import element_layout  # emitted modules inline this import
from metricc.multiclass_math import farthest_from_one, first_nonfinite_class  # emitted modules inline this import
from metricc.numpy_kernel import as_array, ignored_elements  # emitted modules inline this import
from metricc.checks import heavy_counts, scalars_count_limit  # emitted modules inline this import
from metricc.checks import FLOAT32_MAX, light_weights, nonfinite_message  # emitted modules inline this import
from metricc.checks import class_nonfinite_message  # emitted modules inline this import
from metricc.checks import class_names_hint, per_element_message, target_hint  # emitted modules inline this import
from metricc.checks import probabilities_ignore_message  # emitted modules inline this import
from metricc.checks import probability_rows_message  # emitted modules inline this import
from metricc.checks import SIGMOID_HINT, SOFTMAX_HINT, ProbabilityHint  # emitted modules inline this import
from metricc.checks import caller_level, softmax_rows  # emitted modules inline this import
from metricc.checks import class_index_message, target_range_message  # emitted modules inline this import
from metricc.checks import class_input_hint, float_index_hint  # emitted modules inline this import
from metricc.checks import nonfinite_input_message, weight_range_message  # emitted modules inline this import
from metricc.checks import underflow_ignored  # emitted modules inline this import

# a warning names at most this many classes (then how many there are)
LISTED = 10


def one_hot(indices, num_classes):
    """(n, num_classes) float64 rows with a 1 at each index: O(n C) memory, never a C x C identity."""
    hot = numpy.zeros((len(indices), num_classes))
    hot[numpy.arange(len(indices)), indices] = 1
    return hot


class MultiSoftConfusionLoss:
    """`1 - metric` averaged over classes (or labels), with its gradient from the derived formulas.

    multiclass: logits (n, C), target (n,) class indices (`ignore_index` rows are left out) or (n, C) class
    probabilities (float rows summing to 1: label smoothing, mixup);
    multilabel: logits (n, C), target (n, C) of 0/1 labels (`ignore_index` elements are left out). Per-element
    logits (N, C, d1, ..., dk), with targets and weights (N, d1, ..., dk) (multi-label targets like the logits),
    count each element as a row. `average`: "macro" (mean of the per-class scores, or weighted by
    `class_weight`), "weighted" (by support), "micro" (pooled counts) or "none" (a (C,) loss).
    `check_dtype`, if given, is called with each new input dtype (metricc checks there that L suits it).
    """

    def __init__(self, scalars, *, task, num_classes, average="macro", L=73.0, threshold=0.5, eps=1e-6,
                 ignore_index=None, class_weight=None, check_inputs=True, name="metric", error=ValueError,
                 warning=UserWarning, check_dtype=None):
        self.scalars, self.task, self.num_classes, self.average = scalars, task, num_classes, average
        self.L, self.threshold, self.eps = float(L), float(threshold), float(eps)
        self.ignore_index, self.class_weight = ignore_index, class_weight
        self.check_inputs, self.name, self.error, self.warning = check_inputs, name, error, warning
        self.check_dtype = check_dtype
        self._checked_dtypes = set()
        self._hint, self._rows_seen = ProbabilityHint(), False

    def __repr__(self):
        return (f"{type(self).__name__}({self.name!r}, task={self.task!r}, num_classes={self.num_classes}, "
                f"average={self.average!r}, L={self.L})")

    def __call__(self, input, target, sample_weight=None):
        """The loss (a float, or a (C,) array for average="none")."""
        z, y, w = self._arrays(*self._rows(input, target, sample_weight))
        yh, not_yh, _ = self._soft_predictions(z)
        return self._evaluate(per_class_counts(numpy, yh, not_yh, y, w))[0]

    @underflow_ignored(numpy)
    def counts(self, input, target, sample_weight=None):
        """The soft counts TP, FP, FN, TN per class, each of shape (C,), before smoothing."""
        z, y, w = self._arrays(*self._rows(input, target, sample_weight))
        yh, not_yh, _ = self._soft_predictions(z)
        return per_class_counts(numpy, yh, not_yh, y, w)

    @underflow_ignored(numpy)
    def loss_and_grad(self, input, target, sample_weight=None, check_inputs=None):
        """The loss and its gradient w.r.t. the logits (n, C) (with average="none": of the sum of the losses)."""
        input, target, sample_weight, dense = self._rows(input, target, sample_weight)
        z, y, w = self._arrays(input, target, sample_weight, dense, check_inputs)
        yh, not_yh, saved = self._soft_predictions(z)
        counts = per_class_counts(numpy, yh, not_yh, y, w)
        loss, a, b = self._evaluate(counts)
        grad = pullback(numpy, yh, not_yh, saved, (y * a + (1 - y) * b) * element_weights(w), self.task, self.L)
        dtype = self._dtype(input)
        if dtype == numpy.float32 and not numpy.abs(grad).max() <= FLOAT32_MAX:  # computed in float64
            raise self.error(nonfinite_message(self.name, [c.sum() for c in counts], dtype="float32",
                                               overflow=True))
        grad = grad.astype(dtype)
        if dense is not None:  # back to (N, C, d1, ..., dk)
            grad = element_layout(numpy, grad, dense)
        return loss, grad

    def _rows(self, input, target, sample_weight):
        """(input, target, sample_weight, shape): per-element logits (N, C, d1, ..., dk) as rows (element_rows),
        with their shape; other input as given, with None."""
        z = self._array(input, "input")
        if z.ndim <= 2 or z.dtype.kind not in "biuf":
            return input, target, sample_weight, None
        y = self._array(target, "target")
        w = None if sample_weight is None else self._array(sample_weight, "sample_weight")
        message = per_element_message(self.task, self.num_classes, z.shape, y.shape, None if w is None else w.shape)
        if message:
            raise self.error(message)
        return (*element_rows(numpy, z, y, w, self.task), z.shape)

    def _soft_predictions(self, z):
        """soft_predictions() of finite logits z: a softmax's z - max(z) may pass -1.8e308 (-inf, then exp 0, as
        it should be) without a warning."""
        with numpy.errstate(over="ignore"):
            return soft_predictions(numpy, z, self.task, self.L, self.threshold)

    def labels(self, target, n, sample_weight=None, dense=None, logits=None):
        """One-hot (multiclass; class probabilities as given) or multi-hot (multilabel) labels (n, C), float64, and
        the row weights (ignored rows 0), or for multi-label targets with an ignore label, element weights (n, C)
        (ignored elements 0, label 0). `dense`: the per-element input's shape (_rows), where an error places a
        missing label; `logits`, where given, tell the error of targets outside [0, 1] whether they look swapped."""
        w = self._weights(sample_weight, n, dense)
        target = self._array(target, "target")
        if self.task == "multilabel":
            if target.shape != (n, self.num_classes) or target.dtype.kind not in "biuf":
                raise self.error(f"Expected multi-label targets of shape ({n}, {self.num_classes}), but got "
                                 f"{target.dtype} {target.shape}{class_names_hint(target, self.task)}"
                                 f"{target_hint(self.task, n, self.num_classes, target.shape)}.")
            ignored = None
            if self.ignore_index is not None:
                ignored = ignored_elements(target, self.ignore_index)
                target = numpy.where(ignored, 0, target)
            if not ((target >= 0) & (target <= 1)).all():
                given = target if dense is None else element_layout(numpy, target, dense)
                raise self.error(target_range_message(target.min(), target.max(), multilabel=True, values=given,
                                                      input_range=None if logits is None else
                                                      (logits.min(), logits.max())))
            return target.astype(numpy.float64), w if ignored is None else w[:, None] * ~ignored
        if target.shape == (n, self.num_classes) and target.dtype.kind == "f":  # class probabilities
            if self.ignore_index is not None:
                raise self.error(probabilities_ignore_message(self.ignore_index))
            target = target.astype(numpy.float64)
            sums = target.sum(axis=1)
            message = probability_rows_message(target.min(), target.max(), farthest_from_one(numpy, sums))
            if message:
                raise self.error(message)
            return target, w
        if target.shape != (n,) or target.dtype.kind not in "iu":
            floats = target.shape == (n,) and target.dtype.kind == "f"
            hint = (float_index_hint(target, "target.astype(int)") if floats else
                    class_names_hint(target, self.task) or target_hint(self.task, n, self.num_classes, target.shape))
            raise self.error(f"Expected `target` to be integer class indices of shape ({n},) or class probabilities "
                             f"({n}, {self.num_classes}), but got {target.dtype} {target.shape}{hint}.")
        ignored = (ignored_elements(target, self.ignore_index) if self.ignore_index is not None
                   else numpy.zeros(n, dtype=bool))
        kept = target[~ignored]
        if kept.size and (kept.min() < 0 or kept.max() >= self.num_classes):
            raise self.error(class_index_message(kept.min(), kept.max(), self.num_classes))
        return one_hot(numpy.where(ignored, 0, target), self.num_classes), w * ~ignored

    def _arrays(self, input, target, sample_weight, dense=None, check_inputs=None):
        """The logits, labels and weights as arrays, checked; `dense`: the per-element input's shape (_rows)."""
        z = self._array(input, "input")
        if z.dtype.kind not in "biuf":
            raise self.error(f"Expected `input` to hold numbers, but got dtype {z.dtype}.")
        if z.dtype.kind == "b":  # the numbers 0 and 1 (NumPy subtracts no booleans)
            z = z.astype(numpy.float64)
        if z.ndim != 2 or z.shape[1] != self.num_classes or z.shape[0] == 0:
            raise self.error(f"Expected `input` of shape (n, {self.num_classes}) with n > 0, but got {z.shape}"
                             f"{class_input_hint(self.task, self.num_classes, z.shape)}.")
        if self.check_inputs if check_inputs is None else check_inputs:
            if not numpy.isfinite(z).all():
                given = z if dense is None else element_layout(numpy, z, dense)  # placed in the input as given
                raise self.error(nonfinite_input_message(values=given))
            self._hint_probabilities(z)
        if self.check_dtype is not None and z.dtype not in self._checked_dtypes:
            self._checked_dtypes.add(z.dtype)
            self.check_dtype(self._dtype(z))
        y, w = self.labels(target, len(z), sample_weight, dense, logits=z)
        return z.astype(numpy.float64), y, w

    def _hint_probabilities(self, z):
        """A warning where the logits look like probabilities: a multi-class batch's rows on the first call
        (softmax_rows), a multi-label batch's elements as ProbabilityHint tells."""
        if self.task == "multilabel":
            if self._hint.observe(z.min(), z.max(), z.size):
                warnings.warn(SIGMOID_HINT, self.warning, stacklevel=caller_level())
        elif not self._rows_seen:
            self._rows_seen = True
            sums = z.sum(axis=1, dtype=numpy.float64)
            if softmax_rows(z.min(), z.max(), farthest_from_one(numpy, sums), z.size):
                warnings.warn(SOFTMAX_HINT, self.warning, stacklevel=caller_level())

    @staticmethod
    def _dtype(input):
        """float32 for float32 input (in either byte order), else float64 (the gradient's dtype)."""
        dtype = numpy.asarray(input).dtype
        return numpy.float32 if dtype.kind == "f" and dtype.itemsize == 4 else numpy.float64

    def _weights(self, sample_weight, n, dense=None):
        """Row weights (n,), float64, checked; `dense`: the per-element input's shape, where an error places one."""
        if sample_weight is None:
            return numpy.ones(n)
        w = self._array(sample_weight, "sample_weight")
        if w.dtype.kind not in "biuf":
            raise self.error(f"Expected `sample_weight` to hold numbers, but got dtype {w.dtype}.")
        if w.shape != (n,):
            raise self.error(f"Expected `sample_weight` of shape ({n},), but got {w.dtype} {w.shape}.")
        w = w.astype(numpy.float64)
        if not (numpy.isfinite(w).all() and (w >= 0).all()):
            given = w if dense is None else w.reshape(dense[0], *dense[2:])
            raise self.error(weight_range_message(w.min(), w.max(), values=given))
        if not w.max() > 0:
            raise self.error("Expected `sample_weight` to have a positive entry, but all are zero.")
        return w

    def _array(self, value, name):
        return as_array(value, name, self.error)

    def _evaluate(self, counts):
        largest = max(float(c.max()) for c in counts)
        message = heavy_counts(largest, self.name, scalars_count_limit(self.scalars))
        if message:  # (NaN counts: below)
            raise self.error(message)
        with numpy.errstate(all="ignore"):
            loss, a, b = average(numpy, self.scalars, counts, self.eps, self.average, self.class_weight)
        loss = loss if self.average == "none" else float(loss)
        if not (numpy.isfinite(loss).all() and numpy.isfinite(a).all() and numpy.isfinite(b).all()):
            raise self.error(self._nonfinite(counts))
        message = light_weights(float(sum(counts).max()), self.eps)  # each class's counts add up to the total
        if message:
            warnings.warn(message, self.warning, stacklevel=caller_level())
        return loss, a, b

    def _nonfinite(self, counts):
        """The error message for a loss or gradient that is not finite: at the pooled counts (micro), else at
        those of the first class whose own loss or coefficients are not."""
        if self.average == "micro":
            return nonfinite_message(self.name, [c.sum() for c in counts])
        with numpy.errstate(all="ignore"):
            k = first_nonfinite_class(numpy, self.scalars, counts, self.eps, self.average, self.class_weight)
        return class_nonfinite_message(self.name, self.task, counts, k)


def exact_losses(scalars, rational=True):
    """`scalars` for score() and tune_threshold(): the loss at counts (numbers or arrays) and no coefficients (0).
    float64 rounds differences that cancel: Cohen's kappa at TP = FP = 0, whose (po - pe) / (1 - pe) divides two
    differences near 0, came out 0.0086 for 0 at counts of 6.6e-11 and 5e3. For a `rational` formula (a ratio of
    polynomials in the counts), a float64 value that is not finite or differs from NumPy's longdouble one (wider
    on x86; 30 times float64's cost) is worked out again in exact rational arithmetic; other formulas (a root, a
    log) keep their float64 values."""
    def losses(*counts):
        arrays = [a.reshape(-1) for a in numpy.broadcast_arrays(*(numpy.asarray(c, numpy.float64) for c in counts))]
        with numpy.errstate(all="ignore"):
            out = numpy.array(numpy.broadcast_to(scalars(*arrays)[0], arrays[0].shape), dtype=numpy.float64)
            if not rational:
                return out.reshape(numpy.shape(counts[0])), 0.0, 0.0
            wide = numpy.broadcast_to(scalars(*(a.astype(numpy.longdouble) for a in arrays))[0], out.shape)
            unsure = ~(numpy.abs(out - wide) <= 1e-12 * numpy.maximum(1, numpy.abs(wide)))  # NaN too
        for k in numpy.flatnonzero(unsure).tolist():
            try:
                out[k] = float(scalars(*(Fraction(float(a[k])) for a in arrays))[0])
            except (TypeError, ValueError, ZeroDivisionError, OverflowError):  # 0/0, or past float64: as it was
                pass
        return out.reshape(numpy.shape(counts[0])), 0.0, 0.0
    return losses


def score(scalars, predicted, y, w, average_, class_weight, minimize, name, warning, zero_division=None,
          warn=True, part="class", rational=True):
    """The formula's exact value on hard one-hot (or multi-hot) predictions, averaged as `average_` says; where
    it is undefined (0/0, or a count divided by 0) for a class, `zero_division` is that class's value (NaN: left
    out of the macro and weighted averages, as scikit-learn does), or (None) the result is NaN. `warn`: a warning
    where it is undefined, which names each `part` ("class", or "label" for multi-label targets) by its index."""
    counts = per_class_counts(numpy, predicted, 1 - predicted, y, w)
    scalars = exact_losses(scalars, rational)
    undefined = None if zero_division is None else zero_division if minimize else 1 - zero_division
    if average_ == "weighted" and not numpy.sum(counts[0] + counts[2]) > 0:
        average_ = "macro"  # no support at all, so no weights: scikit-learn then gives the classes equal weights
    with numpy.errstate(all="ignore"):
        loss = raw = average(numpy, scalars, counts, 0.0, average_, class_weight)[0]  # NaN where 0/0 counts
        if undefined is not None and numpy.isnan(undefined) and average_ in ("macro", "weighted"):
            loss = _nan_average(average(numpy, scalars, counts, 0.0, "none", None)[0], counts, average_,
                                class_weight)
        elif undefined is not None:
            loss = average(numpy, scalars, counts, 0.0, average_, class_weight, undefined)[0]
        else:  # NaN, as the warning says, also where a count other than 0 is divided by 0 (inf)
            loss = numpy.where(numpy.isfinite(loss), loss, numpy.nan)
    loss = loss if average_ == "none" else float(loss)
    if warn and not numpy.isfinite(raw).all():
        with numpy.errstate(all="ignore"):
            per_class = average(numpy, scalars, counts, 0.0, "none", None)[0]
        classes = numpy.flatnonzero(~numpy.isfinite(per_class)).tolist()
        named = ", ".join(map(str, classes[:LISTED])) + (f", ... ({len(classes)} in all)"
                                                         if len(classes) > LISTED else "")
        where = ("the pooled counts (average='micro')" if average_ == "micro" or not classes else
                 f"{part}{('es' if part == 'class' else 's') if len(classes) > 1 else ''} {named}")
        warnings.warn(f"{name!r} is undefined for {where} at these predictions; it counts as "
                      f"{'nan' if zero_division is None else zero_division} there", warning,
                      stacklevel=caller_level())
    return loss if minimize else 1 - loss


def _nan_average(losses, counts, average_, class_weight):
    """The classes' losses averaged without those that are not finite (the weights of the others renormalised;
    equal weights where those add up to 0), as scikit-learn averages with zero_division=NaN; NaN if none is."""
    defined = numpy.isfinite(losses)
    if not defined.any():
        return numpy.nan
    weight = (counts[0] + counts[2] if average_ == "weighted"
              else numpy.ones_like(losses) if class_weight is None else numpy.asarray(class_weight, dtype=float))
    weight = weight[defined]
    if not weight.sum() > 0:
        weight = numpy.ones_like(weight)
    return float(numpy.sum(weight * losses[defined]) / weight.sum())
