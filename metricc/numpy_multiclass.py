"""Multi-class and multi-label losses in NumPy: the same soft predictions, per-class counts, averages and
derived backward pass as metricc.torch_multiclass (see there)."""

import numpy


def _softmax(x):
    e = numpy.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _sigmoid(x):
    with numpy.errstate(over="ignore"):
        return 1 / (1 + numpy.exp(-x))


def one_hot(indices, num_classes):
    """(n, num_classes) float64 rows with a 1 at each index: O(n C) memory, never a C x C identity."""
    hot = numpy.zeros((len(indices), num_classes))
    hot[numpy.arange(len(indices)), indices] = 1
    return hot


def soft_predictions(z, task, L, threshold):
    """yh and 1 - yh; for multi-label 1 - yh is sigmoid(-u), which keeps its digits where yh rounds to 1."""
    if task == "multilabel":
        u = (_sigmoid(z) - threshold) * L
        return _sigmoid(u), _sigmoid(-u)
    yh = _softmax(_softmax(z) * (L / 2))
    return yh, 1 - yh


def pullback(z, yh, grad_yh, task, L, threshold):
    """d loss / d z from d loss / d yh."""
    if task == "multilabel":
        p = _sigmoid(z)
        return grad_yh * L * yh * (1 - yh) * p * (1 - p)
    h = yh * (grad_yh - (yh * grad_yh).sum(axis=1, keepdims=True)) * (L / 2)
    p = _softmax(z)
    return p * (h - (p * h).sum(axis=1, keepdims=True))


def per_class_counts(yh, not_yh, y, w):
    """TP, FP, FN, TN per class (arrays of shape (C,)) from yh, 1 - yh, labels and row weights."""
    wy, wn = w[:, None] * y, w[:, None] * (1 - y)
    return (wy * yh).sum(0), (wn * yh).sum(0), (wy * not_yh).sum(0), (wn * not_yh).sum(0)


def average(scalars, counts, eps, average_, class_weight):
    """The loss (a float, or (C,) for "none") and d loss / d count per class, each of shape (C,)."""
    shape = counts[0].shape
    with numpy.errstate(all="ignore"):
        if average_ == "micro":
            loss, *partials = scalars(*(numpy.float64(c.sum()) + eps for c in counts))
            return float(loss), [numpy.full(shape, float(p)) for p in partials]
        loss, *partials = scalars(*(c + eps for c in counts))
    partials = [numpy.broadcast_to(numpy.asarray(p, dtype=numpy.float64), shape) for p in partials]
    loss = numpy.broadcast_to(numpy.asarray(loss, dtype=numpy.float64), shape)
    if average_ == "none":
        return loss, partials
    if average_ == "weighted":
        weight = counts[0] + counts[2]
    elif class_weight is not None:
        weight = numpy.asarray(class_weight, dtype=numpy.float64)
    else:
        weight = numpy.ones(shape)
    weight = weight / weight.sum()
    return float((weight * loss).sum()), [weight * p for p in partials]


def multi_loss_and_grad(scalars, z, y, w, *, task, L, threshold, eps, average_, class_weight):
    """The loss and d loss / d z for logits z (n, C), one-hot or multi-hot y (n, C) and row weights w (n,)."""
    yh, not_yh = soft_predictions(z, task, L, threshold)
    counts = per_class_counts(yh, not_yh, y, w)
    loss, (d_tp, d_fp, d_fn, d_tn) = average(scalars, counts, eps, average_, class_weight)
    grad_yh = (y * (d_tp - d_fn) + (1 - y) * (d_fp - d_tn)) * w[:, None]
    return loss, pullback(z, yh, grad_yh, task, L, threshold)
