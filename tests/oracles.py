"""Independent implementations the tests compare metricc against: the metrics written by hand, plain soft
counts with torch autograd, and central finite differences."""

import math
import time

import numpy as np
import torch

sqrt = torch.sqrt


def _rates(TP, FP, FN, TN):
    return TP / (TP + FN), TN / (TN + FP), TP / (TP + FP), TN / (TN + FN)


def _kappa(TP, FP, FN, TN):
    n = TP + FP + FN + TN
    po = (TP + TN) / n
    pe = ((TP + FP) * (TP + FN) + (TN + FN) * (TN + FP)) / n**2
    return (po - pe) / (1 - pe)


def _mcc(TP, FP, FN, TN):
    return (TP * TN - FP * FN) / sqrt((TP + FP) * (TP + FN) * (TN + FP) * (TN + FN))


# Catalog name -> (params, score as a function of torch counts), written without metricc.
CATALOG_SCORES = {
    "accuracy": ({}, lambda TP, FP, FN, TN: (TP + TN) / (TP + FP + FN + TN)),
    "balanced_accuracy": ({}, lambda *c: (_rates(*c)[0] + _rates(*c)[1]) / 2),
    "f1": ({}, lambda TP, FP, FN, TN: 2 * TP / (2 * TP + FP + FN)),
    "fbeta": ({"beta": 2.0}, lambda TP, FP, FN, TN: 5 * TP / (5 * TP + 4 * FN + FP)),
    "precision": ({}, lambda *c: _rates(*c)[2]),
    "recall": ({}, lambda *c: _rates(*c)[0]),
    "specificity": ({}, lambda *c: _rates(*c)[1]),
    "npv": ({}, lambda *c: _rates(*c)[3]),
    "gmean": ({}, lambda *c: sqrt(_rates(*c)[0] * _rates(*c)[1])),
    "mcc": ({}, _mcc),
    "matthews_corrcoef": ({}, _mcc),
    "jaccard": ({}, lambda TP, FP, FN, TN: TP / (TP + FP + FN)),
    "iou": ({}, lambda TP, FP, FN, TN: TP / (TP + FP + FN)),
    "cohen_kappa": ({}, _kappa),
    "informedness": ({}, lambda *c: _rates(*c)[0] + _rates(*c)[1] - 1),
    "markedness": ({}, lambda *c: _rates(*c)[2] + _rates(*c)[3] - 1),
    "fowlkes_mallows": ({}, lambda *c: sqrt(_rates(*c)[2] * _rates(*c)[0])),
    "tversky": ({"alpha": 0.3, "beta": 0.7}, lambda TP, FP, FN, TN: TP / (TP + 0.3 * FP + 0.7 * FN)),
    "dice": ({}, lambda TP, FP, FN, TN: 2 * TP / (2 * TP + FP + FN)),
}

# Hand-written formulas: (formula, params, minimize, loss as a function of torch counts).
FORMULAS = [
    ("2*TP/(2*TP+FP+FN)", {}, False, lambda TP, FP, FN, TN: 1 - 2 * TP / (2 * TP + FP + FN)),
    ("prec = TP/(TP+FP); rec = TP/(TP+FN); 2*prec*rec/(prec+rec)", {}, False,
     lambda TP, FP, FN, TN: 1 - 2 * (TP / (TP + FP)) * (TP / (TP + FN)) / (TP / (TP + FP) + TP / (TP + FN))),
    ("sqrt(TPR*TNR)", {}, False, lambda TP, FP, FN, TN: 1 - sqrt(TP / (TP + FN) * TN / (TN + FP))),
    ("(1+beta^2)*PPV*TPR/(beta^2*PPV+TPR)", {"beta": 2.0}, False,
     lambda TP, FP, FN, TN: 1 - 5 * (TP / (TP + FP)) * (TP / (TP + FN)) / (4 * TP / (TP + FP) + TP / (TP + FN))),
    ("minimize: (FP + 5*FN)/N", {}, True, lambda TP, FP, FN, TN: (FP + 5 * FN) / (TP + FP + FN + TN)),
    ("PPV**2 * TPR^3", {}, False, lambda TP, FP, FN, TN: 1 - (TP / (TP + FP)) ** 2 * (TP / (TP + FN)) ** 3),
    ("log(1 + TP)/log(1 + POS)", {}, False, lambda TP, FP, FN, TN: 1 - torch.log(1 + TP) / torch.log(1 + TP + FN)),
    ("exp(-FN/POS) * TNR", {}, False, lambda TP, FP, FN, TN: 1 - torch.exp(-FN / (TP + FN)) * TN / (TN + FP)),
    ("0.5*f1 + 0.5*balanced_accuracy", {}, False,
     lambda TP, FP, FN, TN: 1 - TP / (2 * TP + FP + FN) - (TP / (TP + FN) + TN / (TN + FP)) / 4),
    ("alpha*TPR + (1 - alpha)*TNR", {"alpha": 0.7}, False,
     lambda TP, FP, FN, TN: 1 - 0.7 * TP / (TP + FN) - 0.3 * TN / (TN + FP)),
    ("(TP*TN - FP*FN)/(PP*PN*POS*NEG)^0.5", {}, False, lambda *c: 1 - _mcc(*c)),
    ("minimize: -2^2*FN/N + abs(FP - 3*FN)/N", {}, True,
     lambda TP, FP, FN, TN: (-4 * FN + torch.abs(FP - 3 * FN)) / (TP + FP + FN + TN)),
    ("minimize: max(FPR, FNR) + min(FP, 2*FN)/N", {}, True,
     lambda TP, FP, FN, TN: torch.maximum(FP / (FP + TN), FN / (FN + TP)) + torch.minimum(FP, 2 * FN)
     / (TP + FP + FN + TN)),
    # abs of a term SymPy cannot prove real (a square root of counts): its derivative came out in re() and im(),
    # or in atan2 of the counts' polar forms, which no backend prints
    ("minimize: abs(sqrt(FP) - sqrt(FN))/N", {}, True,
     lambda TP, FP, FN, TN: torch.abs(sqrt(FP) - sqrt(FN)) / (TP + FP + FN + TN)),
    ("abs(accuracy + mcc)", {}, False, lambda *c: 1 - torch.abs((c[0] + c[3]) / sum(c) + _mcc(*c))),
    # three arguments: each one's derivative is 1 where it is below (above) the extremum of both others
    ("min(TPR, TNR, PPV) - max(FDR, FOR, FPR)", {}, False,
     lambda TP, FP, FN, TN: 1 - torch.min(torch.stack([TP / (TP + FN), TN / (TN + FP), TP / (TP + FP)]))
     + torch.max(torch.stack([FP / (TP + FP), FN / (TN + FN), FP / (FP + TN)]))),
]


def soft_counts(z, y, w=None, *, L=73.0, threshold=0.5, from_logits=True, eps=1e-6):
    """The soft confusion matrix written plainly, so that torch autograd can differentiate through it."""
    p = torch.sigmoid(z) if from_logits else z
    yh = torch.sigmoid(L * (p - threshold))
    w = torch.ones_like(z) if w is None else w
    return ((w * y * yh).sum() + eps, (w * (1 - y) * yh).sum() + eps, (w * y * (1 - yh)).sum() + eps,
            (w * (1 - y) * (1 - yh)).sum() + eps)


def autograd_loss_and_grad(loss_of_counts, z, y, w=None, **settings):
    """The loss and d loss / d z by torch autograd through `soft_counts` (float64)."""
    z = torch.as_tensor(np.asarray(z, dtype=np.float64)).requires_grad_(True)
    y = torch.as_tensor(np.asarray(y, dtype=np.float64))
    w = None if w is None else torch.as_tensor(np.asarray(w, dtype=np.float64))
    loss = loss_of_counts(*soft_counts(z, y, w, **settings))
    loss.backward()
    return loss.item(), z.grad.numpy()


def central_differences(f, z, h=1e-6):
    """d f / d z by central differences, one coordinate at a time."""
    z = np.array(z, dtype=np.float64)
    grad = np.empty_like(z)
    for i in range(z.size):
        up, down = z.copy(), z.copy()
        up[i] += h
        down[i] -= h
        grad[i] = (f(up) - f(down)) / (2 * h)
    return grad


def multiclass_f1_gradient_60_digits(z, labels, L, eps=1e-6, order=1):
    """The gradient of the macro-F1 loss of task="multiclass" (yh = softmax(L/2 softmax(z)), counts smoothed by
    eps) at logits z (n, C), in 60-digit arithmetic (mpmath): the loss written out, differentiated numerically at
    that precision. Exact to double precision even where float64 cancels (1 - yh of a confident class). With
    order=2, the Hessian's diagonal (the second derivatives along each logit) instead."""
    import mpmath

    with mpmath.workdps(60):
        n, C = np.shape(z)
        rows, half, eps = [[mpmath.mpf(float(v)) for v in row] for row in z], mpmath.mpf(L) / 2, mpmath.mpf(eps)

        def softmax(values):
            e = [mpmath.exp(v) for v in values]
            return [v / sum(e) for v in e]

        def loss(rows):
            counts = [[eps] * 3 for _ in range(C)]  # TP, FP, FN
            for row, label in zip(rows, labels):
                for k, yh in enumerate(softmax([half * p for p in softmax(row)])):
                    counts[k][0 if k == label else 1] += yh
                    counts[k][2] += (1 - yh) if k == label else 0
            return 1 - sum(2 * tp / (2 * tp + fp + fn) for tp, fp, fn in counts) / C

        def moved(i, k, t):
            return [[t if (r, c) == (i, k) else v for c, v in enumerate(row)] for r, row in enumerate(rows)]

        return np.array([[float(mpmath.diff(lambda t: loss(moved(i, k, t)), rows[i][k], order)) for k in range(C)]
                         for i in range(n)])


def assert_close(actual, expected, rtol):
    """Every component within `rtol` of the largest component of `expected`."""
    actual, expected = np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    scale = max(np.max(np.abs(expected)), math.ulp(1.0))
    error = np.max(np.abs(actual - expected))
    assert error <= rtol * scale, f"max error {error:.3g} > {rtol:g} * {scale:.3g}"


def load_emitted(source):
    """The namespace of an emitted module (metricc's own generated source, never user text), run in-process."""
    namespace = {}
    exec(compile(source, "emitted", "exec"), namespace)
    return namespace


def _cold_caches():
    """SymPy's cache and metricc's compilation caches emptied, so that a compilation runs again in full."""
    import sympy

    from metricc import compiler, derive

    sympy.core.cache.clear_cache()
    for cached in (compiler._compile, compiler._scalars_function, derive.derive, derive.curvatures):
        cached.cache_clear()


def answers_within(seconds, call, attempts=3):
    """Whether `call` (a compilation) returns within `seconds` of CPU time in one of `attempts` runs, each from
    cold caches after the first. One run would do, but the same compilation, with the same hash seed, took 0.3 s
    and 12.5 s of user time in two runs (most likely SymPy's factoring, which drew its evaluation points at random
    then: it draws them from fixed seeds now, derive._factored). A compilation that blows up exceeds the bound
    every time."""
    for _ in range(attempts):
        start = time.process_time()
        call()
        if time.process_time() - start < seconds:
            return True
        _cold_caches()
    return False
