"""Degenerate batches give a finite loss and gradient on both backends; bad inputs give clear errors."""

import math
import re

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


def _both_backends(metric, z, y, w=None):
    yield metric.loss_and_grad(z, y, w)
    x = torch.tensor(z, requires_grad=True)
    loss = metric.to_torch(pure=True)(x, torch.tensor(y), None if w is None else torch.tensor(w))
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


@pytest.mark.parametrize("formula", ["f1", "mcc", "minimize: FP + 5*FN"])
def test_a_sample_of_weight_0_is_a_sample_left_out(formula):
    """Weights of 0 leave samples out (some, not all): the loss is the rest's, their gradient 0, the rest's
    gradient the rest's, on NumPy, torch and the booster objective; only all-zero weights are refused."""
    metric = compile_metric(formula, L=20.0)
    rng = np.random.default_rng(3)
    z, y = rng.normal(0, 1, 12), (rng.random(12) < 0.4).astype(float)
    w = rng.uniform(0.5, 2, 12)
    w[[0, 5, 11]] = 0.0
    kept = w > 0
    for loss, grad in _both_backends(metric, z, y, w):
        rest = metric.loss_and_grad(z[kept], y[kept], w[kept])
        assert loss == pytest.approx(rest[0], rel=1e-12)
        np.testing.assert_array_equal(grad[~kept], 0.0)
        np.testing.assert_allclose(grad[kept], rest[1], rtol=1e-10, atol=1e-15)
    objective = metric.to_xgboost(mean_hessian=None)
    grad, hess = objective.gradient_and_hessian(z, y, w)
    rest = objective.gradient_and_hessian(z[kept], y[kept], w[kept])
    np.testing.assert_array_equal(grad[~kept], 0.0)
    np.testing.assert_allclose(grad[kept], rest[0], rtol=1e-10, atol=1e-15)
    np.testing.assert_allclose(hess[kept], rest[1], rtol=1e-10, atol=1e-15)


def test_gradient_keeps_dtype_and_shape():
    metric = compile_metric("f1")
    z = np.zeros((3, 4), dtype=np.float32)
    y = np.eye(3, 4, dtype=bool)
    loss, grad = metric.loss_and_grad(z, y)
    assert grad.dtype == np.float32 and grad.shape == (3, 4)
    x = torch.zeros(3, 4, requires_grad=True)
    metric.to_torch(pure=True)(x, torch.as_tensor(y)).backward()
    assert x.grad.dtype == torch.float32 and x.grad.shape == (3, 4)


@pytest.mark.parametrize("dtype", [np.int64, np.int8, np.int16, np.float16])
def test_numpy_takes_integer_and_float16_logits_in_float64(dtype):
    """loss_and_grad() computes integer and float16 logits in float64, as the README says: the float64 input's
    loss and a float64 gradient."""
    metric = compile_metric("f1")
    z, y = np.array([3, -2, 0, 5, -1, 1]), np.array([1, 0, 1, 1, 0, 0])
    loss, grad = metric.loss_and_grad(z.astype(dtype), y)
    expected_loss, expected_grad = metric.loss_and_grad(z.astype(np.float64), y)
    assert grad.dtype == np.float64 and loss == expected_loss
    np.testing.assert_array_equal(grad, expected_grad)


@pytest.mark.parametrize("pure", [True, False])
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("task", ["binary", "multiclass", "multilabel"])
def test_torch_half_batches_beyond_float16_are_those_of_their_float32_values(task, dtype, pure):
    """float16 and bfloat16 logits and weights are accumulated in float32: a batch whose weights add up past
    float16's 65,504 gives the loss of the same values in float32, and their gradient rounded into the input's
    type. The multi-class and multi-label losses had summed float16 weights in float16 for their checks and
    refused the batch ("the sample weights add up to inf, beyond 1e+100")."""
    rng = np.random.default_rng(6)
    n, classes = 40_000, 3
    shape = (n,) if task == "binary" else (n, classes)
    metric = compile_metric("f1", **({} if task == "binary" else {"task": task, "num_classes": classes}))
    z, w = torch.tensor(rng.normal(0, 1, shape), dtype=dtype), torch.tensor(rng.uniform(1.0, 3.0, n), dtype=dtype)
    y = torch.tensor(rng.integers(0, classes, n)) if task == "multiclass" else torch.tensor(rng.random(shape) < 0.3)
    assert float(w.float().sum()) > 65504  # past float16's range
    results = []
    for x, weight in ((z, w), (z.float(), w.float())):
        x = x.clone().requires_grad_()
        loss = metric.to_torch(pure=pure)(x, y, weight)
        loss.backward()
        results.append((loss.item(), x.grad.double()))
    (half, half_grad), (single, single_grad) = results
    assert half == pytest.approx(single, rel=1e-6)
    info = torch.finfo(dtype)  # rounded once, where gradients of 1e-5 are float16's subnormal numbers (steps of 6e-8)
    assert (half_grad - single_grad).abs().max() <= info.eps * (single_grad.abs().max() + info.tiny)


@pytest.mark.parametrize("target_dtype", [torch.bool, torch.int64, torch.float32])
def test_torch_targets_float_int_bool(target_dtype):
    loss_fn = compile_metric("mcc").to_torch(pure=True)
    z = torch.linspace(-1, 1, 10)
    y = torch.tensor([0, 1] * 5)
    expected = loss_fn(z, y.float())
    assert torch.equal(loss_fn(z, y.to(target_dtype)), expected)


# (case, input, target, sample_weight, from_logits, message): each must be a MetriccError on both backends
INPUT_ERRORS = [
    ("empty batch", np.zeros(0), np.zeros(0), None, True, "non-empty"),
    ("NaN logit", np.array([0.0, np.nan]), np.array([0.0, 1.0]), None, True, "holds NaN at index 1: missing"),
    ("infinite logit", np.array([0.0, np.inf]), np.array([0.0, 1.0]), None, True, "holds inf at index 1: an overflow"),
    ("target above 1", np.zeros(2), np.array([0.0, 2.0]), None, True, "`target` values in [0, 1]"),
    ("negative target", np.zeros(2), np.array([-1.0, 1.0]), None, True, "`target` values in [0, 1]"),
    ("(n,) against (n, 1)", np.zeros(3), np.zeros((3, 1)), None, True, "same shape"),
    ("(n, 1) against (n,)", np.zeros((3, 1)), np.zeros(3), None, True, "same shape"),
    ("negative weight", np.zeros(2), np.array([0.0, 1.0]), np.array([1.0, -1.0]), True, "non-negative"),
    ("all-zero weights", np.zeros(2), np.array([0.0, 1.0]), np.zeros(2), True, "positive entry"),
    ("weight of another shape", np.zeros(2), np.array([0.0, 1.0]), np.ones(3), True, "sample_weight"),
    ("(n, 1) weights against (n,)", np.zeros(2), np.array([0.0, 1.0]), np.ones((2, 1)), True, "sample_weight"),
    ("probability above 1", np.array([0.5, 1.5]), np.array([0.0, 1.0]), None, False, "probabilities in [0, 1]"),
]


def _run_torch(metric, x, y, w=None, **options):
    as_tensor = lambda a: None if a is None else torch.as_tensor(a)  # noqa: E731
    return metric.to_torch(pure=True, **options)(as_tensor(x), as_tensor(y), as_tensor(w))


@pytest.mark.parametrize("backend", ["numpy", "torch"])
@pytest.mark.parametrize("case, input, target, weight, from_logits, message", INPUT_ERRORS,
                         ids=[case[0] for case in INPUT_ERRORS])
def test_bad_inputs_are_clear_errors(backend, case, input, target, weight, from_logits, message):
    metric = compile_metric("f1", from_logits=from_logits)
    with pytest.raises(MetriccError, match=re.escape(message)):
        if backend == "numpy":
            metric.loss_and_grad(input, target, weight)
        else:
            _run_torch(metric, input, target, weight)


def test_torch_input_must_be_floating_point():
    with pytest.raises(MetriccError, match="floating-point"):
        compile_metric("f1").to_torch(pure=True)(torch.zeros(3, dtype=torch.int64), torch.zeros(3))


@pytest.mark.parametrize("task", ["multiclass", "multilabel"])
@pytest.mark.parametrize("pure", [False, True])
def test_multi_checks_can_be_skipped_with_or_without_running_counts(task, pure):
    """check_inputs=False skips the multi-class and multi-label torch checks in both modes: with the training
    defaults' running counts too, whose eager path checks before the state moves (a negative weight, which the
    checks refuse, computes a number)."""
    metric = compile_metric("f1", task=task, num_classes=3)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(16, 3, generator=g)
    y = (torch.randint(0, 3, (16,), generator=g) if task == "multiclass"
         else (torch.rand(16, 3, generator=g) < 0.4).float())
    weight = torch.ones(16)
    weight[0] = -1.0
    with pytest.raises(MetriccError, match="non-negative"):
        metric.to_torch(pure=pure)(x, y, weight)
    assert math.isfinite(float(metric.to_torch(pure=pure, check_inputs=False)(x, y, weight)))


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_checks_can_be_skipped(backend):
    metric = compile_metric("f1")
    z, y = np.array([0.3, np.inf, -np.inf, -0.2]), np.array([1.0, 1.0, 0.0, 0.0])
    if backend == "numpy":
        loss, grad = metric.loss_and_grad(z, y, check_inputs=False)
    else:
        x = torch.tensor(z, requires_grad=True)
        loss = _run_torch(metric, x, y, check_inputs=False)
        loss.backward()
        loss, grad = loss.item(), x.grad.numpy()
    assert np.isfinite(loss) and np.all(np.isfinite(grad)) and grad[1] == grad[2] == 0


@pytest.mark.parametrize("task", ["binary", "multiclass", "multilabel"])
@pytest.mark.parametrize("call", ["numpy", "booster"])
def test_unchecked_nan_input_is_named_as_the_cause(task, call):
    """With check_inputs=False a NaN logit makes the counts NaN, and the error then said "the weighted counts reach
    nan, beyond 1e+100 ...: scale the sample weights down" (NumPy) or that "the formula divides by 0 there"
    (booster): now that the counts are not finite, which only input, targets or weights that are not can make."""
    options = {} if task == "binary" else {"task": task, "num_classes": 3}
    metric = compile_metric("f1", **options)
    rng = np.random.default_rng(0)
    z = rng.normal(size=(20,) if task == "binary" else (20, 3))
    y = (rng.integers(0, 3, 20) if task == "multiclass" else (rng.random(z.shape) < 0.4).astype(float))
    z[3] = np.nan
    with pytest.raises(MetriccError) as error:
        if call == "numpy":
            metric.loss_and_grad(z, y, check_inputs=False)
        else:
            metric.to_xgboost(check_inputs=False)(y, z)
    message = str(error.value)
    assert "counts TP, FP, FN, TN" in message and "nan" in message
    assert "hold NaN or infinity" in message and "check_inputs" in message
    assert "beyond" not in message and "divides by 0" not in message


def test_integer_and_bool_targets_in_numpy():
    metric = compile_metric("mcc")
    z = np.linspace(-1, 1, 10)
    y = np.array([0, 1] * 5)
    expected = metric.loss_and_grad(z, y.astype(float))
    for target in (y, y.astype(bool), y.astype(np.int8)):
        loss, grad = metric.loss_and_grad(z, target)
        assert loss == expected[0] and np.array_equal(grad, expected[1])


def test_non_contiguous_inputs():
    metric = compile_metric("f1")
    base = np.random.default_rng(0).normal(0, 0.1, 20)
    y = np.array([0.0, 1.0] * 10)
    strided, contiguous = base[::2], np.ascontiguousarray(base[::2])
    assert metric.loss_and_grad(strided, y[::2])[0] == metric.loss_and_grad(contiguous, y[::2])[0]
    grads = []
    for z in (torch.tensor(base)[::2], torch.tensor(contiguous)):
        x = z.clone().requires_grad_(True) if z.is_contiguous() else z.requires_grad_(True)
        loss = _run_torch(metric, x, torch.tensor(y)[::2])
        loss.backward()
        grads.append(x.grad.clone())
    torch.testing.assert_close(grads[0], grads[1], rtol=0, atol=0)


@pytest.mark.filterwarnings("ignore::metricc.MetriccWarning")  # L chosen for the test, not for training
def test_vanishing_denominator_is_an_error_not_nan():
    metric = compile_metric("TP/(TN - 2)", L=2000.0, from_logits=False, eps=0.0)
    with pytest.raises(MetriccError, match="not finite"):
        metric.loss_and_grad(np.zeros(2), np.zeros(2))  # yh rounds to 0, so TN is exactly 2
    with pytest.raises(MetriccError, match="not finite"):
        metric.to_torch(pure=True)(torch.zeros(2, dtype=torch.float64), torch.zeros(2))


# A loss that is finite where its gradient is not: at TP = FP (two logits of 0, one of each label) the loss of
# TN + sqrt(|TP - FP|) is 1/2 and its slope in TP and FP is 0/0
FINITE_LOSS_INFINITE_SLOPE = "TN + sqrt(abs(TP - FP))"


def _loss_and_gradient(metric, path, z, y, dtype=torch.float32):
    """The loss and its gradient through NumPy or a torch path ("torch", or "fused": compile=True; input of
    `dtype`)."""
    if path == "numpy":
        return metric.loss_and_grad(z, y)
    x = torch.tensor(z, dtype=dtype, requires_grad=True)
    loss = metric.to_torch(pure=True, compile=path == "fused")(x, torch.tensor(y))
    loss.backward()
    return loss.item(), x.grad.numpy()


@pytest.mark.parametrize("path", ["numpy", "torch", "fused"])
@pytest.mark.parametrize("task", ["binary", "multiclass", "multilabel"])
def test_a_gradient_that_is_not_finite_is_an_error_not_nan(task, path):
    """Every path checks the gradient's coefficients as well as the loss: torch's tensor path (compile=True,
    also CUDA's) and its multi-class and multi-label losses returned the finite loss and a NaN gradient."""
    if task == "binary":
        metric, z, y = compile_metric(FINITE_LOSS_INFINITE_SLOPE), np.zeros(2), np.array([1.0, 0.0])
    else:
        metric, z = compile_metric(FINITE_LOSS_INFINITE_SLOPE, task=task, num_classes=2), np.zeros((2, 2))
        y = np.array([0, 1]) if task == "multiclass" else np.array([[1.0, 1.0], [0.0, 0.0]])
    with pytest.raises(MetriccError, match="loss or its gradient is not finite"):
        _loss_and_gradient(metric, path, z, y)


@pytest.mark.parametrize("path", ["numpy", "torch", "fused"])
@pytest.mark.parametrize("task", ["multiclass", "multilabel"])
@pytest.mark.parametrize("formula", ["sqrt(TP - FN)", "sqrt(FP - TN)"], ids=["a", "b"])
def test_one_coefficient_that_is_not_finite_is_an_error(formula, task, path):
    """Where only one of the gradient's coefficients is infinite (a = l_TP - l_FN for sqrt(TP - FN) at TP = FN,
    b = l_FP - l_TN for sqrt(FP - TN) at FP = TN; the loss is finite, 1), the multi-class and multi-label losses
    still refuse: each coefficient is checked, not only whether both fail."""
    metric = compile_metric(formula, task=task, num_classes=2)
    positive = formula == "sqrt(TP - FN)"
    y = np.zeros(2, dtype=int) if task == "multiclass" else np.full((2, 2), float(positive))
    with pytest.raises(MetriccError, match="loss or its gradient is not finite"):
        _loss_and_gradient(metric, path, np.zeros((2, 2)), y)


# Finite in float64 and beyond float32's range (3.4e38): 195 of 200 positives scored 3 below the threshold make
# FN about 195, and the cost exp(FN / 2) about 1e42
FINITE_IN_FLOAT64_ONLY = "minimize: exp(FN/2)"


def _beyond_float32(task):
    """The metric and a batch (float64 margins and labels) where FINITE_IN_FLOAT64_ONLY passes float32's range."""
    z = np.where(np.arange(200) < 5, 3.0, -3.0)
    if task == "binary":
        return compile_metric(FINITE_IN_FLOAT64_ONLY), z, np.ones(200)
    metric = compile_metric(FINITE_IN_FLOAT64_ONLY, task=task, num_classes=2)
    z = np.stack([z, -z], axis=1)
    return metric, z, np.zeros(200, dtype=int) if task == "multiclass" else np.ones((200, 2))


def _in_float32(metric, path, z, y):
    """The loss and gradient (or a booster's outputs) of float32 margins z through one path: "numpy", "torch",
    "fused" (compile=True), "jax" (eager jax.grad) or "xgboost" (the fixed scale, mean_hessian=None)."""
    if path == "jax":
        jax = pytest.importorskip("jax")
        loss = metric.to_jax()
        return jax.grad(lambda x: loss(x, jax.numpy.asarray(y)))(jax.numpy.asarray(z, dtype=jax.numpy.float32))
    if path == "xgboost":
        return metric.to_xgboost(mean_hessian=None)(y, z.astype(np.float32))
    if path == "numpy":
        return metric.loss_and_grad(z.astype(np.float32), y)
    return _loss_and_gradient(metric, path, z, y)


@pytest.mark.filterwarnings("ignore::metricc.MetriccWarning")
@pytest.mark.parametrize("path", ["torch", "fused", "jax", "xgboost"])
@pytest.mark.parametrize("task", ["binary", "multiclass", "multilabel"])
def test_a_loss_beyond_float32_is_an_error_where_it_is_returned_in_float32(task, path):
    """torch and JAX return a float32 loss for float32 input, and the boosters float32 outputs: where these pass
    its range, an error that says so, never an infinite gradient (the boosters' fixed-scale objectives gave one,
    torch's host path its own RuntimeError, the rest the message for a formula undefined there). torch answers
    float64 input."""
    metric, z, y = _beyond_float32(task)
    with pytest.raises(MetriccError, match="float32"):
        _in_float32(metric, path, z, y)
    if path == "torch":
        value, gradient = _loss_and_gradient(metric, path, z, y, dtype=torch.float64)
        assert value > 1e40 and np.isfinite(gradient).all() and np.abs(gradient).max() > 1e20


@pytest.mark.filterwarnings("ignore::metricc.MetriccWarning")
@pytest.mark.parametrize("path", ["numpy", "torch", "fused", "jax"])
@pytest.mark.parametrize("task", ["binary", "multiclass", "multilabel"])
def test_a_gradient_beyond_float32_is_an_error_where_the_loss_is_not(task, path):
    """176 positives far below the threshold and one at it: FN = 176.5, a loss exp(FN / 2) = 2.1e38 within
    float32's range, and the gradient of the sample at the threshold, a L / 16 = 4.8e38, beyond it. JAX checked
    the coefficients without L and returned an infinite gradient, as NumPy's multi-class and multi-label losses
    did rounding their float64 gradient to float32."""
    z = np.append(np.full(176, -8.0), 0.0)
    if task == "binary":
        metric, y = compile_metric(FINITE_IN_FLOAT64_ONLY), np.ones(177)
    else:
        # the average weighs the first class (or label) alone: the loss and gradient are its own
        metric = compile_metric(FINITE_IN_FLOAT64_ONLY, task=task, num_classes=2, class_weight=(1.0, 1e-12))
        z = np.stack([z, -z], axis=1)
        y = np.zeros(177, dtype=int) if task == "multiclass" else np.ones((177, 2))
    # NumPy, which has the float64 gradient at hand, says that it passes float32's range (float64 input helps)
    with pytest.raises(MetriccError, match="passes float32's range" if path == "numpy" else "not finite in float32"):
        _in_float32(metric, path, z, y)


@pytest.mark.filterwarnings("ignore::metricc.MetriccWarning")
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("task", ["binary", "multiclass", "multilabel"])
def test_numpy_float32_gradient_where_the_loss_passes_float32(task, weighted):
    """NumPy returns the loss as a Python float and the gradient in the input's type: for float32 input whose
    loss passes float32's range and whose gradient does not, the gradient is the float64 one, rounded (the
    binary loss multiplied float32 slopes by coefficients beyond float32's range: infinite and NaN entries),
    with the sample weights in it (the binary float64 pass had been tested without weights only)."""
    metric, z, y = _beyond_float32(task)
    weight = np.random.default_rng(7).uniform(0.8, 1.0, size=len(z)) if weighted else None  # (FN stays in range)
    value, gradient = metric.loss_and_grad(z.astype(np.float32), y, weight)
    value64, gradient64 = metric.loss_and_grad(z, y, weight)
    assert gradient.dtype == np.float32 and np.isfinite(gradient).all()
    assert value == pytest.approx(value64, rel=1e-5)
    np.testing.assert_allclose(gradient, gradient64, rtol=1e-5, atol=1e-6 * np.abs(gradient64).max())


def test_the_error_names_the_class_whose_gradient_is_not_finite():
    """Multi-label NumPy: the message gives the first label whose loss or gradient is not finite, and its
    counts."""
    metric = compile_metric(FINITE_LOSS_INFINITE_SLOPE, task="multilabel", num_classes=3)
    z, y = np.array([[5.0, 0.0, 5.0], [-5.0, 0.0, -5.0]]), np.array([[1.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    with pytest.raises(MetriccError, match=r"for label 1 at the counts TP, FP, FN, TN = 0\.5, 0\.5, 0\.5, 0\.5"):
        metric.loss_and_grad(z, y)


# Two classes, where class 1 alone has TP = FN (its two rows give both classes the logit 0) and 1/(TP - FN)
# divides by 0; class 0's rows score it 3 above class 1, so its TP = 2 and FN ~ 0 are fine (so are label 0's, as
# multi-label targets)
ONE_BAD_CLASS = ("minimize: 1/(TP - FN)", np.array([[3.0, 0], [3.0, 0], [0, 0.0], [0, 0.0]]), np.array([0, 0, 1, 1]))
# (FP ~ 1e-14; 0.002 with to_torch()'s L = 15)
ONE_BAD_CLASS_HINT = r"for class 1 at the counts TP, FP, FN, TN = 1, [0-9.e-]+, 1, (2|1\.99[0-9]*):"


def _loss_on(path, metric, z, y):
    """`metric`'s loss of NumPy logits z and targets y by `path`: "numpy"; "torch", "torch-pure" or "torch-float32"
    (float32 logits); "jax" or "jax-grad" (an eager jax.grad), on float32 logits; "xgboost" (the booster
    objective's gradient and Hessian, unscaled)."""
    if path == "numpy":
        return metric.loss_and_grad(z, y)
    if path == "xgboost":
        return metric.to_xgboost(mean_hessian=None).gradient_and_hessian(z, y)
    if path.startswith("torch"):
        loss = metric.to_torch(pure=path == "torch-pure")
        return loss(torch.tensor(z, dtype=torch.float32 if path == "torch-float32" else torch.float64),
                    torch.tensor(y))
    import jax
    import jax.numpy as jnp

    loss = metric.to_jax()
    return (jax.grad(loss) if path == "jax-grad" else loss)(jnp.asarray(z, jnp.float32), jnp.asarray(y))


MULTICLASS_PATHS = ["numpy", "jax", "jax-grad", "torch", "torch-pure", "torch-float32", "xgboost"]


@pytest.mark.parametrize("path", MULTICLASS_PATHS)
def test_the_error_names_the_class_that_is_not_finite_not_the_first(path):
    """The message named the first class wherever the average's loss was not finite: every class's entry of
    the (scalar) loss broadcast to the classes counted as bad, so NumPy blamed class 0 (TP = 2, FN ~ 0) for
    class 1's division by 0. JAX said "for some class", without counts, and so did torch and the booster
    objective."""
    formula, z, y = ONE_BAD_CLASS
    metric = compile_metric(formula, task="multiclass", num_classes=2)
    with pytest.raises(MetriccError, match=ONE_BAD_CLASS_HINT):
        _loss_on(path, metric, z, y)


def test_a_class_whose_loss_overflows_with_finite_coefficients_is_named():
    """NumPy's loss (whose gradient does not scale the coefficients by L) of a cost whose value overflows where
    its coefficients, +-1e300, stay finite: class 1 (FP + FN = 2e10, two heavy samples) is named, not class 0
    (FP + FN ~ 3e-6) and not "some class"."""
    metric = compile_metric("minimize: 1e300*(FP + FN)", task="multiclass", num_classes=3)
    y, weight = np.array([0, 0, 1, 2]), np.array([1.0, 1.0, 1e10, 1e10])
    z = np.eye(3)[[0, 0, 2, 1]] * 30.0  # classes 1 and 2 swapped
    with pytest.raises(MetriccError, match=r"for class 1 at the counts TP, FP, FN, TN = [0-9.e-]+, 1e\+10, 1e\+10, "):
        metric.loss_and_grad(z, y, weight)


@pytest.mark.parametrize("path", ["numpy", "torch-pure", "jax", "xgboost"])
def test_a_class_the_average_leaves_out_is_not_named(path):
    """A class whose weight in the average is 0 does not make the loss infinite, so the error names the class
    that does: class 1 (weight 0) and class 2 both have FP + FN = 2e10 and an infinite loss; class 2 is named."""
    metric = compile_metric("minimize: 1e300*(FP + FN)", task="multiclass", num_classes=3, class_weight=(1, 0, 1))
    y, weight = np.array([0, 0, 1, 2]), np.array([1.0, 1.0, 1e10, 1e10])
    z = np.eye(3)[[0, 0, 2, 1]] * 30.0  # classes 1 and 2 swapped
    with pytest.raises(MetriccError, match=r"for class 2 at the counts TP, FP, FN, TN = [0-9.e-]+, 1e\+10, 1e\+10, "):
        if path == "numpy":
            metric.loss_and_grad(z, y, weight)
        elif path == "xgboost":
            metric.to_xgboost(mean_hessian=None, L=metric.L).gradient_and_hessian(z, y, weight)
        elif path == "torch-pure":
            metric.to_torch(pure=True)(torch.tensor(z), torch.tensor(y), torch.tensor(weight))
        else:  # (in float64: the constant 1e300 passes float32's range)
            import jax
            import jax.numpy as jnp

            with jax.enable_x64(True):
                metric.to_jax()(jnp.asarray(z), jnp.asarray(y), jnp.asarray(weight))


@pytest.mark.parametrize("path", MULTICLASS_PATHS)
def test_a_multilabel_error_speaks_of_labels(path):
    """Multi-label: the label whose loss is not finite, and its counts (JAX said "for some class"; torch and the
    booster objective "for some label", without counts)."""
    formula, z, y = ONE_BAD_CLASS
    metric = compile_metric(formula, task="multilabel", num_classes=2)
    with pytest.raises(MetriccError, match="for label 1 at the counts TP, FP, FN, TN = 1, 1, 1, 1:"):
        _loss_on(path, metric, z, np.eye(2)[y])


@pytest.mark.parametrize("path", ["torch-float32", "jax-grad"])
def test_coefficients_that_pass_float32_times_L_name_their_class(path):
    """A multi-class loss whose coefficients are finite but pass float32's range once the backward pass scales
    them by L (1e38 / 3 times 73, or 15) is refused, naming the first such class: the search for it had evaluated the
    formula in float64 without L and found none ("for some class")."""
    metric = compile_metric("minimize: 1e38*FP + FN", task="multiclass", num_classes=3)
    y = np.arange(30) % 3
    z = np.eye(3)[y] * 30.0
    # (TP = 10 at L = 73; 9.98895 at to_torch()'s L = 15)
    match = r"not finite in float32 for class 0 at the counts TP, FP, FN, TN = (10|9\.98895), "
    with pytest.raises(MetriccError, match=match):
        _loss_on(path, metric, z, y)


def test_a_micro_average_error_gives_the_pooled_counts():
    """A micro-averaged loss that is not finite gives the pooled counts, in each backend (torch's said "for some
    class")."""
    metric = compile_metric("minimize: 1/(TP - FN)", task="multilabel", num_classes=2, average="micro")
    z, y = np.zeros((2, 2)), np.array([[1.0, 1.0], [0.0, 0.0]])  # TP = FN = FP = TN = 1/2 per label
    for path in ("numpy", "torch-pure", "xgboost", "jax", "jax-grad"):
        with pytest.raises(MetriccError, match=r"not finite( in float32)? at the counts TP, FP, FN, TN = 1, 1, 1, 1:"):
            _loss_on(path, metric, z, y)


@pytest.mark.parametrize("path", ["numpy", "jax", "jax-grad", "torch", "torch-pure", "torch-float32"])
def test_a_binary_error_gives_the_counts(path):
    """Where a binary loss is not finite, the message gives the counts there (JAX gave none; torch on the CPU
    none either, where it has them on the host: "the formula divides by 0 there", with no "there")."""
    metric = compile_metric(ONE_BAD_CLASS[0])
    z, y = np.zeros(4), np.ones(4)  # TP = FN = 2
    with pytest.raises(MetriccError, match=r"not finite( in float32)? at the counts TP, FP, FN, TN = 2, 0, 2, 0:"):
        _loss_on(path, metric, z, y)


@pytest.mark.parametrize("name", ["bfloat16", "float8_e4m3fn", "int4"])
def test_numpy_takes_extension_number_types_as_their_float64_values(name):
    """NumPy arrays of ml_dtypes' number types (bfloat16, float8, int4: what np.asarray makes of a JAX array) are
    computed in float64, as float16 is, by every NumPy entry point: loss_and_grad (binary and multi-class), score,
    tune_threshold and a booster's objective. They had been refused as not holding numbers."""
    ml_dtypes = pytest.importorskip("ml_dtypes")
    dtype = getattr(ml_dtypes, name)
    z = np.array([3, -2, 0, 5, -1, 1, 2, -3], dtype=np.float64)
    y, w = np.array([1, 0, 1, 1, 0, 0, 1, 0]), np.array([1, 2, 1, 3, 1, 2, 1, 1], dtype=np.float64)
    as_ext = lambda a: a.astype(dtype)  # noqa: E731 (every value above is exact in each type)
    np.testing.assert_array_equal(as_ext(z).astype(np.float64), z)
    metric = compile_metric("f1")
    loss, grad = metric.loss_and_grad(as_ext(z), as_ext(y), as_ext(w))
    expected_loss, expected_grad = metric.loss_and_grad(z, y, w)
    assert grad.dtype == np.float64 and loss == expected_loss
    np.testing.assert_array_equal(grad, expected_grad)
    assert metric.score(as_ext((z > 0) * 1.0), as_ext(y), as_ext(w)) == metric.score((z > 0) * 1.0, y, w)
    assert metric.tune_threshold(as_ext(z), as_ext(y)) == metric.tune_threshold(z, y)
    objective = metric.to_xgboost()
    for got, expected in zip(objective(as_ext(y), as_ext(z), as_ext(w)), objective(y, z, w)):
        np.testing.assert_array_equal(got, expected)
    classes = compile_metric("f1", task="multiclass", num_classes=3)
    logits, labels = z.reshape(4, 2)[:, :1] * np.array([1.0, -1.0, 0.0]), np.array([0, 1, 2, 1])
    indices = as_ext(labels) if name == "int4" else labels  # (float class indices are refused)
    loss, grad = classes.loss_and_grad(as_ext(logits), indices, as_ext(w[:4]))
    expected_loss, expected_grad = classes.loss_and_grad(logits, labels, w[:4])
    assert loss == expected_loss
    np.testing.assert_array_equal(grad, expected_grad)


def _float32_loss(metric, path, x, y):
    """`metric`'s loss and gradient of float32 logits x, targets y by `path`: "jax" (jax.grad), "torch" (backward),
    or "torch-vmap" (torch.func.vmap of torch.func.grad over a batch of one: the plain operations' path)."""
    if path == "jax":
        import jax

        loss = metric.to_jax()
        value, grad = jax.value_and_grad(lambda t: loss(t, jax.numpy.asarray(y, jax.numpy.float32)))(
            jax.numpy.asarray(x, jax.numpy.float32))
        return float(value), np.asarray(grad)
    loss = metric.to_torch(pure=True)
    x, y = torch.tensor(x, dtype=torch.float32), torch.tensor(y, dtype=torch.float32)
    if path == "torch-vmap":
        value = torch.func.vmap(loss)(x[None], y[None])[0]
        grad = torch.func.vmap(torch.func.grad(loss))(x[None], y[None])[0]
        return value.item(), grad.numpy()
    x.requires_grad_(True)
    value = loss(x, y)
    value.backward()
    return value.item(), x.grad.numpy()


@pytest.mark.parametrize("path", ["jax", "torch", "torch-vmap"])
@pytest.mark.parametrize("task", ["binary", "multilabel"])
@pytest.mark.parametrize("labels", [1.0, 0.0])
@pytest.mark.parametrize("name", ["balanced_accuracy", "mcc"])
def test_float32_gradient_of_a_batch_of_one_class(name, labels, task, path):
    """A minibatch of one class: the absent class's coefficient is ~1/eps (2.5e5 for balanced accuracy) beside
    the present one's ~0.05. The float32 gradient (JAX; torch, also through its plain operations) equals NumPy's
    float64 one within float32's rounding; each row's coefficient taken as b + y (a - b) had lost the present
    class's to the absent one's (6 % off)."""
    if path == "jax":
        pytest.importorskip("jax")
    x, y = np.random.default_rng(0).normal(0, 1, 10), np.full(10, labels)
    if task == "multilabel":
        x, y = x.reshape(5, 2), y.reshape(5, 2)
    metric = compile_metric(name, **({} if task == "binary" else {"task": task, "num_classes": 2}))
    expected = metric.loss_and_grad(x, y)[1]
    got = _float32_loss(metric, path, x, y)[1]
    assert np.abs(got - expected).max() <= 1e-5 * np.abs(expected).max()


@pytest.mark.parametrize("path", ["jax", "torch", "torch-vmap"])
@pytest.mark.parametrize("task", ["binary", "multilabel"])
def test_float32_counts_keep_confident_samples(task, path):
    """Positives far above the threshold: 1 - yh = 4.5e-15, which float32 holds and 1 - float32(yh) = 0 does not.
    The float32 FN (the loss of `minimize: FN` at eps = 0; multi-label: its two labels' mean) equals NumPy's
    float64 one."""
    if path == "jax":
        pytest.importorskip("jax")
    options = {} if task == "binary" else {"task": task, "num_classes": 2}
    metric = compile_metric("minimize: FN", eps=0.0, **options)
    x, y = (np.full(4, 3.0), np.ones(4)) if task == "binary" else (np.full((4, 2), 3.0), np.ones((4, 2)))
    expected = metric.loss_and_grad(x, y)[0]
    got = _float32_loss(metric, path, x, y)[0]
    assert expected > 1e-14 and abs(got - expected) <= 1e-5 * expected
