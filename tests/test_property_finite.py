"""Property: for formulas drawn from the grammar, on batches where a formula is often undefined or singular
(tied counts, saturated predictions, absent classes), every backend either raises metricc's error or returns a
finite loss and a finite gradient: never a silent NaN or infinity. Binary: NumPy, torch, JAX under an eager
jax.grad, the booster objective; multi-class (class indices, or class probabilities without the booster) and
multi-label: the same four."""

import warnings

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from formula_strategies import PARAMETERS, Formula, formulas
from metricc import MetriccError, MetriccWarning, compile_metric

jax = pytest.importorskip("jax")
jnp = jax.numpy

_RNG = np.random.default_rng(0)
# (binary logits, labels), (multi logits, class indices, multi-hot labels): ties (TP = FP = FN = TN), saturation,
# a perfect split, a class without samples, and a random batch
BINARY = [(np.zeros(2), np.array([1.0, 0.0])), (np.array([0.0, 0.0, 3.0, -3.0]), np.array([1.0, 0.0, 1.0, 0.0])),
          (np.full(4, -30.0), np.zeros(4)), (np.array([30.0, -30.0, 30.0, -30.0]), np.array([1.0, 0.0, 1.0, 0.0])),
          (_RNG.normal(0, 1, 16), (_RNG.random(16) < 0.3) * 1.0)]
MULTI = [(np.zeros((4, 3)), np.array([0, 1, 2, 0]), np.array([[1.0, 0, 0], [0, 1, 0], [0, 0, 1], [1, 0, 1]])),
         (np.array([[30.0, -30, -30], [-30, 30, -30], [-30, -30, 30]]), np.array([0, 1, 2]), np.eye(3)),
         (_RNG.normal(0, 2, (6, 3)), np.array([0, 0, 1, 1, 0, 1]), np.array([[1.0, 0, 0]] * 6)),
         (_RNG.normal(0, 2, (12, 3)), _RNG.integers(0, 3, 12), (_RNG.random((12, 3)) < 0.3) * 1.0)]


def _outcome(run):
    """"error" for metricc's error, "finite" for a finite loss and gradient, else what came out."""
    try:
        loss, grad = run()
    except MetriccError:
        return "error"
    loss, grad = np.asarray(loss, np.float64), np.asarray(grad, np.float64)
    return "finite" if np.isfinite(loss).all() and np.isfinite(grad).all() else "not finite"


def _torch(metric, z, y):
    x = torch.tensor(z, requires_grad=True)
    loss = metric.to_torch(pure=True)(x, torch.tensor(y))
    loss.sum().backward()
    return loss.detach().numpy(), x.grad.numpy()


def _jax(metric, z, y):
    loss = metric.to_jax()
    return jax.value_and_grad(lambda v: jnp.sum(loss(v, jnp.asarray(y))))(jnp.asarray(z, jnp.float32))


def _check(drawn, batch, task, average, probabilities=False):
    formula = drawn[0]
    used = {k: v for k, v in PARAMETERS.items() if k in formula.text}
    options = {} if task == "binary" else {"task": task, "num_classes": 3, "average": average}
    try:
        with warnings.catch_warnings():  # (a formula's warnings, such as FP/N's, are not this test's subject)
            warnings.simplefilter("ignore", MetriccWarning)
            metric = compile_metric(formula.text, **options, **used)
    except MetriccError:
        return
    if task == "binary":
        z, y = BINARY[batch % len(BINARY)]
    else:
        z, indices, multi_hot = MULTI[batch % len(MULTI)]
        y = indices if task == "multiclass" else multi_hot
        if probabilities:  # smoothed rows, one of them a mix of two classes
            y = np.eye(3)[indices] * 0.85 + 0.05
            y[0] = [0.5, 0.5, 0.0]
    runs = {"numpy": lambda: metric.loss_and_grad(z, y), "torch": lambda: _torch(metric, z, y),
            "jax": lambda: _jax(metric, z, y)}
    if average != "none" and not probabilities:  # (boosters take class indices)
        runs["booster"] = lambda: metric.to_xgboost()(y, z)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        outcomes = {name: _outcome(run) for name, run in runs.items()}
    assert set(outcomes.values()) <= {"error", "finite"}, (formula.text, outcomes)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(formulas(), st.integers(0, 20),
       st.sampled_from(["binary", "multiclass", "multiclass probabilities", "multilabel"]),
       st.sampled_from(["macro", "weighted", "none", "micro"]))
@example((Formula("(FP / N)", None), False), 0, "binary", "macro")  # warns when compiled: the warning had failed it
def test_every_backend_raises_or_returns_finite_values(drawn, batch, task, average):
    if task.startswith("multiclass") and average == "micro":
        average = "macro"  # micro-averaged one-hot predictions score accuracy: refused for multi-class
    _check(drawn, batch, task.split()[0], average, probabilities=task.endswith("probabilities"))
