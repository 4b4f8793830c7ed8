"""Degenerate batches give a finite loss and gradient on both backends; bad inputs give clear errors."""

import numpy as np
import pytest
import torch

from metricc import MetriccError, catalog, compile_metric
from oracles import CATALOG_SCORES

EDGE_BATCHES = {
    "no positives": (np.array([-2.0, 0.5, 3.0, -0.1]), np.zeros(4)),
    "no negatives": (np.array([-2.0, 0.5, 3.0, -0.1]), np.ones(4)),
    "single positive sample": (np.array([0.3]), np.ones(1)),
    "single negative sample": (np.array([-0.3]), np.zeros(1)),
    "saturated predictions": (np.array([-40.0, 40.0, 60.0, -60.0]), np.array([0.0, 1, 0, 1])),
}


def _both_backends(metric, z, y):
    yield metric.loss_and_grad(z, y)
    x = torch.tensor(z, requires_grad=True)
    loss = metric.to_torch()(x, torch.tensor(y))
    loss.backward()
    yield loss.item(), x.grad.numpy()


@pytest.mark.parametrize("batch", EDGE_BATCHES)
@pytest.mark.parametrize("name", sorted(catalog.METRICS))
def test_edge_batches_are_finite(name, batch):
    z, y = EDGE_BATCHES[batch]
    metric = compile_metric(name, **CATALOG_SCORES[name][0])
    for dtype in (np.float64, np.float32):
        for loss, grad in _both_backends(metric, z.astype(dtype), y):
            assert np.isfinite(loss)
            assert np.all(np.isfinite(grad)) and grad.shape == z.shape


def test_gradient_keeps_dtype_and_shape():
    metric = compile_metric("f1")
    z = np.zeros((3, 4), dtype=np.float32)
    y = np.eye(3, 4, dtype=bool)
    loss, grad = metric.loss_and_grad(z, y)
    assert grad.dtype == np.float32 and grad.shape == (3, 4)
    x = torch.zeros(3, 4, requires_grad=True)
    metric.to_torch()(x, torch.as_tensor(y)).backward()
    assert x.grad.dtype == torch.float32 and x.grad.shape == (3, 4)


@pytest.mark.parametrize("target_dtype", [torch.bool, torch.int64, torch.float32])
def test_torch_targets_float_int_bool(target_dtype):
    loss_fn = compile_metric("mcc").to_torch()
    z = torch.linspace(-1, 1, 10)
    y = torch.tensor([0, 1] * 5)
    expected = loss_fn(z, y.float())
    assert torch.equal(loss_fn(z, y.to(target_dtype)), expected)


@pytest.mark.parametrize("input, target, message", [
    (np.zeros(3), np.zeros((3, 1)), "same shape"),
    (np.zeros(0), np.zeros(0), "non-empty"),
    (np.array([0.0, np.nan]), np.zeros(2), "NaN"),
    (np.zeros(2), np.array([0.0, 2.0]), "target"),
])
def test_numpy_input_errors(input, target, message):
    with pytest.raises(MetriccError, match=message):
        compile_metric("f1").loss_and_grad(input, target)


@pytest.mark.parametrize("input, target, message", [
    (torch.zeros(3), torch.zeros(3, 1), "same shape"),
    (torch.zeros(0), torch.zeros(0), "non-empty"),
    (torch.zeros(3, dtype=torch.int64), torch.zeros(3), "floating-point"),
    (torch.tensor([0.0, float("nan")]), torch.zeros(2), "not finite"),
])
def test_torch_input_errors(input, target, message):
    with pytest.raises(MetriccError, match=message):
        compile_metric("f1").to_torch()(input, target)


def test_negative_sample_weight_is_rejected():
    with pytest.raises(MetriccError, match="non-negative"):
        compile_metric("f1").loss_and_grad(np.zeros(2), np.zeros(2), np.array([1.0, -1.0]))


@pytest.mark.filterwarnings("ignore::metricc.MetriccWarning")  # L chosen for the test, not for training
def test_vanishing_denominator_is_an_error_not_nan():
    metric = compile_metric("TP/(TN - 2)", L=2000.0, from_logits=False, eps=0.0)
    with pytest.raises(MetriccError, match="not finite"):
        metric.loss_and_grad(np.zeros(2), np.zeros(2))  # yh rounds to 0, so TN is exactly 2
    with pytest.raises(MetriccError, match="not finite"):
        metric.to_torch()(torch.zeros(2, dtype=torch.float64), torch.zeros(2))
