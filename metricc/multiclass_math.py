"""Multi-class and multi-label soft predictions, per-class counts, averages and the pullback, written once for
any NumPy-like array module `xp` (numpy, jax.numpy); the torch kernel has its own copy (torch spells `axis`
as `dim`). Emitted NumPy and JAX modules inline this file.

Soft predictions, from logits z of shape (n, C) (see metricc.torch_multiclass):
* multilabel: yh = sigmoid(L (sigmoid(z) - threshold)) per label;
* multiclass: yh = softmax(L/2 softmax(z)) along the classes.
Every complement (1 - yh, 1 - p) and every slope is computed without cancellation, so that float32 gradients of
confident samples do not round to 0.
"""


def sigmoid_pair(xp, x):
    """sigmoid(x), sigmoid(-x) and their product, from v = sigmoid(-|x|) <= 1/2 (exp never overflows here)."""
    e = xp.exp(-xp.abs(x))
    v = e / (1 + e)
    w = 1 - v
    positive = x >= 0
    return xp.where(positive, w, v), xp.where(positive, v, w), v * w


def softmax_pair(xp, s):
    """softmax(s) along axis 1, its complement and the mask of each row's largest entry. The complement of the
    largest entry is the others' share; every other entry is at most 1/2, so 1 - p is exact enough there."""
    top = xp.arange(s.shape[1])[None, :] == xp.argmax(s, axis=1)[:, None]  # (explicit ranks: JAX may refuse others)
    e = xp.exp(s - xp.max(s, axis=1, keepdims=True))
    total = xp.sum(e, axis=1, keepdims=True)
    p = e / total
    rest = xp.sum(xp.where(top, 0, e), axis=1, keepdims=True) / total
    return p, xp.where(top, rest, 1 - p), top


def softmax_vjp(xp, p, not_p, top, g):
    """J^T g for p = softmax(s): p_k (g_k - sum_j p_j g_j), written for the largest entry as
    p_k (g_k (1 - p_k) - sum_{j != k} p_j g_j), so that it does not cancel to 0 where p_k rounds to 1."""
    pg = p * g
    rest = xp.sum(xp.where(top, 0, pg), axis=1, keepdims=True)
    g_top = xp.sum(xp.where(top, g, 0), axis=1, keepdims=True)
    others = p * (g - xp.sum(xp.where(top, pg, 0), axis=1, keepdims=True) - rest)
    return xp.where(top, p * (g_top * not_p - rest), others)


def farthest_from_one(xp, sums):
    """The entry of `sums` (a batch's row sums) farthest from 1: what the class-probability checks read."""
    return sums[xp.argmax(xp.abs(sums - 1))]


def element_rows(xp, z, y, w, task):
    """Logits (N, C, d1, ..., dk) with the classes along dimension 1 (per-pixel logits) as rows (N d1 ... dk, C),
    their targets (N, d1, ..., dk) (multi-label labels and multi-class probabilities: like the logits) and weights
    (N, d1, ..., dk) (or None) alike."""
    rows = xp.moveaxis(z, 1, -1).reshape(-1, z.shape[1])
    y = xp.moveaxis(y, 1, -1).reshape(rows.shape) if y.ndim == z.ndim else y.reshape(-1)
    return rows, y, None if w is None else w.reshape(-1)


def element_layout(xp, rows, shape):
    """Rows (N d1 ... dk, C) of element_rows back in the per-element layout `shape` (N, C, d1, ..., dk)."""
    return xp.moveaxis(rows.reshape(shape[0], *shape[2:], shape[1]), -1, 1)


def soft_predictions(xp, z, task, L, threshold):
    """yh, 1 - yh (each without cancellation) and what the pullback needs."""
    if task == "multilabel":
        p, _, p_slope = sigmoid_pair(xp, z)
        yh, not_yh, yh_slope = sigmoid_pair(xp, (p - threshold) * L)
        return yh, not_yh, (yh_slope, p_slope)
    p, not_p, top_p = softmax_pair(xp, z)
    yh, not_yh, top_yh = softmax_pair(xp, p * (L / 2))
    return yh, not_yh, (p, not_p, top_p, top_yh)


def pullback(xp, yh, not_yh, saved, grad_yh, task, L):
    """d loss / d z from d loss / d yh."""
    if task == "multilabel":
        yh_slope, p_slope = saved
        return grad_yh * yh_slope * p_slope * L
    p, not_p, top_p, top_yh = saved
    return softmax_vjp(xp, p, not_p, top_p, softmax_vjp(xp, yh, not_yh, top_yh, grad_yh) * (L / 2))


def pushforward(xp, yh, not_yh, saved, z_dot, task, L):
    """d yh from d z (forward mode): the pullback's linear map transposed. Multi-label it acts element by element;
    multi-class a softmax's Jacobian diag(s) - s s^T is symmetric, so its vector-Jacobian product is also its
    Jacobian-vector product, and the two softmaxes apply in the forward order."""
    if task == "multilabel":
        return pullback(xp, yh, not_yh, saved, z_dot, task, L)
    p, not_p, top_p, top_yh = saved
    return softmax_vjp(xp, yh, not_yh, top_yh, softmax_vjp(xp, p, not_p, top_p, z_dot) * (L / 2))


def per_class_counts(xp, yh, not_yh, y, w):
    """TP, FP, FN, TN per class (arrays of shape (C,)) from yh, 1 - yh, labels (n, C) and row weights (n,) or
    element weights (n, C) (a multi-label sample whose label is ignored weighs 0 there)."""
    w = element_weights(w)
    wy, wn = w * y, w * (1 - y)
    return (xp.sum(wy * yh, axis=0), xp.sum(wn * yh, axis=0), xp.sum(wy * not_yh, axis=0),
            xp.sum(wn * not_yh, axis=0))


def element_weights(w):
    """Row weights (n,) as a column (n, 1); element weights (n, C) as they are."""
    return w[:, None] if w.ndim == 1 else w


def average(xp, scalars, counts, eps, average_, class_weight, undefined=None):
    """The loss (0-dim, or (C,) for "none") and the gradient coefficients a, b per class, each (C,), with the
    average's class weights folded in. "weighted" weighs by support (TP + FN) as scikit-learn does: a class
    without support counts 0, and with no support at all the loss is 0 with a zero gradient. `undefined`
    (a number, or None) stands in for a class's loss that is not finite (0/0), before the average."""
    like = counts[0]
    if average_ == "micro":
        loss, a, b = scalars(*(xp.sum(c) + eps for c in counts))
        loss = xp.asarray(loss, dtype=like.dtype)
        return (loss if undefined is None else xp.where(xp.isfinite(loss), loss, undefined),
                *(xp.broadcast_to(xp.asarray(v, dtype=like.dtype), like.shape) for v in (a, b)))
    loss, a, b = (xp.broadcast_to(xp.asarray(v, dtype=like.dtype), like.shape)
                  for v in scalars(*(c + eps for c in counts)))
    if undefined is not None:
        loss = xp.where(xp.isfinite(loss), loss, undefined)
    if average_ == "none":
        return loss, a, b
    weight = _class_weights(xp, counts, average_, class_weight)
    total = xp.sum(weight)
    weight = xp.where(total > 0, weight / xp.where(total > 0, total, 1), 0)
    used = weight > 0
    return (xp.sum(xp.where(used, weight * loss, 0)), xp.where(used, weight * a, 0),
            xp.where(used, weight * b, 0))


def _class_weights(xp, counts, average_, class_weight):
    """Each class's weight in the average, before normalising: its support TP + FN ("weighted", as scikit-learn
    has it), `class_weight`, or 1."""
    if average_ == "weighted":
        return counts[0] + counts[2]
    if class_weight is not None:
        return xp.asarray(class_weight, dtype=counts[0].dtype)
    return xp.ones_like(counts[0])


def first_nonfinite_class(xp, scalars, counts, eps, average_, class_weight, L=1.0):
    """The first class (an int) that the average counts (a positive weight) whose own loss, or whose gradient
    coefficients in the average times L (as a backward pass scales them), are not finite at its `counts`, in
    their type; None where there is none (an average of finite values that is not, as inf - inf). Not for
    "micro", whose counts are pooled."""
    loss = average(xp, scalars, counts, eps, "none", None)[0]
    _, a, b = average(xp, scalars, counts, eps, average_, class_weight)
    bad = (_class_weights(xp, counts, average_, class_weight) > 0) & ~(
        xp.isfinite(loss) & xp.isfinite(a * L) & xp.isfinite(b * L))
    return int(xp.argmax(bad)) if bool(xp.any(bad)) else None
