"""The derived gradient (NumPy and torch backward) against torch autograd through plain soft counts and
against central finite differences, in float64."""

import numpy as np
import pytest
import torch

from metricc import compile_metric
from oracles import CATALOG_SCORES, FORMULAS, assert_close, autograd_loss_and_grad, central_differences

CASES = ([(name, params, False, lambda *c, s=score: 1 - s(*c)) for name, (params, score) in CATALOG_SCORES.items()]
         + FORMULAS)
IDS = [case[0] for case in CASES]
RTOL = 1e-7


def _batch(seed, n=64, spread=0.05):
    rng = np.random.default_rng(seed)
    z = rng.normal(0.0, spread, n)
    y = (rng.random(n) < 0.35).astype(np.float64)
    y[:2] = [0.0, 1.0]
    w = rng.uniform(0.2, 2.0, n)
    return z, y, w


def _torch_loss_and_grad(metric, z, y, w=None, **options):
    x = torch.tensor(z, requires_grad=True)
    loss = metric.to_torch(pure=True, **options)(x, torch.tensor(y), None if w is None else torch.tensor(w))
    loss.backward()
    return loss.item(), x.grad.numpy()


@pytest.mark.parametrize("formula, params, minimize, loss_of_counts", CASES, ids=IDS)
@pytest.mark.parametrize("weighted", [False, True])
def test_matches_autograd(formula, params, minimize, loss_of_counts, weighted):
    metric = compile_metric(formula, **params)
    assert metric.minimize == minimize
    z, y, w = _batch(len(formula))
    w = w if weighted else None
    expected_loss, expected_grad = autograd_loss_and_grad(loss_of_counts, z, y, w)
    for loss, grad in (metric.loss_and_grad(z, y, w), _torch_loss_and_grad(metric, z, y, w)):
        assert loss == pytest.approx(expected_loss, rel=1e-12)
        assert_close(grad, expected_grad, RTOL)


@pytest.mark.filterwarnings("ignore::metricc.MetriccWarning")  # L chosen for the test, not for training
@pytest.mark.parametrize("formula, params, minimize, loss_of_counts", CASES, ids=IDS)
def test_matches_finite_differences(formula, params, minimize, loss_of_counts):
    metric = compile_metric(formula, L=8.0, **params)
    z, y, w = _batch(len(formula) + 1, n=16, spread=1.0)
    numeric = central_differences(lambda v: metric.loss_and_grad(v, y, w)[0], z)
    for _, grad in (metric.loss_and_grad(z, y, w), _torch_loss_and_grad(metric, z, y, w)):
        assert_close(grad, numeric, RTOL)


@pytest.mark.parametrize("name", ["f1", "mcc", "gmean"])
def test_probabilities_input(name):
    metric = compile_metric(name, from_logits=False)
    params, score = CATALOG_SCORES[name]
    rng = np.random.default_rng(1)
    p = rng.uniform(0.4, 0.6, 50)
    y = (rng.random(50) < 0.4).astype(float)
    expected_loss, expected_grad = autograd_loss_and_grad(lambda *c: 1 - score(*c), p, y, from_logits=False)
    loss, grad = metric.loss_and_grad(p, y)
    assert loss == pytest.approx(expected_loss, rel=1e-12)
    assert_close(grad, expected_grad, RTOL)
    assert_close(_torch_loss_and_grad(metric, p, y)[1], expected_grad, RTOL)


def test_settings_reach_both_backends():
    metric = compile_metric("f1", L=20.0, threshold=0.3, eps=1e-3)
    z, y, w = _batch(3, spread=1.0)
    expected = autograd_loss_and_grad(lambda *c: 1 - CATALOG_SCORES["f1"][1](*c), z, y, L=20.0, threshold=0.3,
                                      eps=1e-3)
    for loss, grad in (metric.loss_and_grad(z, y), _torch_loss_and_grad(metric, z, y)):
        assert loss == pytest.approx(expected[0], rel=1e-12)
        assert_close(grad, expected[1], RTOL)


def test_torch_backward_is_the_derived_formula_not_autograd():
    loss = compile_metric("f1").to_torch(pure=True)(torch.zeros(4, requires_grad=True), torch.tensor([0.0, 1, 0, 1]))
    assert type(loss.grad_fn).__name__ == "SoftConfusionFunctionBackward"
