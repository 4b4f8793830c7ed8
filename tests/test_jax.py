"""The JAX backend: loss and derived gradient equal NumPy's for the catalog (binary, multi-class, multi-label),
under jax.jit and jax.grad, in float32 and float64; and the emitted JAX module runs without metricc."""

import math
import os
import re
import subprocess
import sys
import warnings

import numpy as np
import pytest

from metricc import MetriccError, MetriccWarning, compile_metric
from oracles import CATALOG_SCORES

jax = pytest.importorskip("jax")
jnp = jax.numpy

# accuracy and balanced accuracy written out: by name, multi-class ones are scikit-learn's, which are refused
MULTI = ["f1", "precision", "recall", "jaccard", "gmean", "(TPR + TNR)/2", "(TP + TN)/N", "fbeta"]
TOLERANCE = {"float64": (1e-12, 1e-12), "float32": (1e-5, 1e-5)}  # (loss, gradient relative to its largest entry)


def _binary_data(dtype, n=64, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.normal(0, 1.5, n).astype(dtype), (rng.random(n) < 0.3).astype(dtype),
            rng.uniform(0.2, 2.0, n).astype(dtype))


def _close(value, expected, grad, expected_grad, dtype):
    loss_tol, grad_tol = TOLERANCE[dtype]
    value, grad = np.asarray(value, np.float64), np.asarray(grad, np.float64)  # NumPy arithmetic from here on
    assert float(np.sum(value)) == pytest.approx(float(np.sum(expected)), rel=loss_tol, abs=loss_tol)
    scale = max(np.abs(expected_grad).max(), 1e-30)
    assert np.abs(grad - expected_grad).max() <= grad_tol * scale


@pytest.mark.parametrize("name", sorted(CATALOG_SCORES))
def test_float32_weights_up_to_the_count_limit_are_exact_and_beyond_it_refused(name):
    """For float32 input (without x64) JAX evaluates the formula in float32: past a limit of the total weight, a
    power of the counts in a partial overflows, and the gradient came out wrong without an error (Cohen's kappa:
    100 % off for weights adding up to 1e10; F1 38 % off at 1e20). The loss works out each formula's limit once
    (float32_count_limit); up to it the gradient equals NumPy's float64 one, beyond it the eager loss refuses the
    batch (scale the weights down, or x64) and a jitted one is NaN."""
    from metricc.jax_kernel import float32_count_limit

    params = CATALOG_SCORES[name][0]
    metric = compile_metric(name, **params)
    loss = metric.to_jax()
    limit = float32_count_limit(loss.scalars, loss.eps)
    z, y = np.random.default_rng(4).normal(size=32).astype(np.float32), np.tile([0.0, 1.0], 16).astype(np.float32)
    weight = min(limit, 1e30) / 32
    grad = jax.grad(lambda t: loss(t, y, jnp.full(32, weight, jnp.float32)))(jnp.asarray(z))
    expected = metric.loss_and_grad(z.astype(float), y.astype(float), np.full(32, weight))[1]
    assert np.abs(np.asarray(grad) - expected).max() <= 1e-5 * np.abs(expected).max()
    if limit < 1e37:
        heavy = jnp.full(32, 20 * weight, jnp.float32)
        with pytest.raises(MetriccError, match="scale the weights down.*enable x64"):
            loss(z, y, heavy)
        assert np.isnan(jax.jit(loss)(z, y, heavy))
        assert np.isnan(jax.jit(jax.grad(loss))(jnp.asarray(z), y, heavy)).all()
    if name == "cohen_kappa":
        assert limit == 1e9


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", sorted(CATALOG_SCORES))
def test_binary_catalog_equals_numpy(name, dtype):
    params = CATALOG_SCORES[name][0]
    metric = compile_metric(name, **params)
    x, y, w = _binary_data(dtype)
    expected, expected_grad = metric.loss_and_grad(x, y, w)
    with jax.enable_x64(dtype == "float64"):
        loss = metric.to_jax()
        value, grad = jax.value_and_grad(loss)(jnp.asarray(x), jnp.asarray(y), jnp.asarray(w))
        assert value.dtype == jnp.dtype(dtype) and grad.dtype == jnp.dtype(dtype)
    _close(value, expected, grad, expected_grad, dtype)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("average", ["macro", "micro", "weighted", "none"])
@pytest.mark.parametrize("task", ["multiclass", "multilabel"])
@pytest.mark.parametrize("name", MULTI)
def test_multi_catalog_equals_numpy(name, task, average, dtype):
    rng = np.random.default_rng(1)
    n, classes = 40, 4
    z = rng.normal(0, 1.0, (n, classes)).astype(dtype)
    target = rng.integers(0, classes, n) if task == "multiclass" else (rng.random((n, classes)) < 0.3).astype(dtype)
    w = rng.uniform(0.5, 2.0, n).astype(dtype)
    params = {"beta": 2.0} if name == "fbeta" else {}
    metric = compile_metric(name, task=task, num_classes=classes, average=average, **params)
    expected, expected_grad = metric.loss_and_grad(z, target, w)
    with jax.enable_x64(dtype == "float64"):
        loss = metric.to_jax()
        value = loss(z, target, w)
        grad = jax.grad(lambda v: jnp.sum(loss(v, target, w)))(jnp.asarray(z))
    _close(value, expected, grad, expected_grad, dtype)


def test_jit_gives_the_eager_value_and_gradient():
    metric = compile_metric("mcc")
    x, y, w = _binary_data("float32", n=200)
    loss = metric.to_jax()
    eager = jax.value_and_grad(loss)(jnp.asarray(x), y, w)
    jitted = jax.jit(jax.value_and_grad(loss))(jnp.asarray(x), y, w)
    assert float(eager[0]) == pytest.approx(float(jitted[0]), rel=1e-6)
    assert np.allclose(eager[1], jitted[1], rtol=1e-5, atol=1e-12)
    multi = compile_metric("f1", task="multiclass", num_classes=3).to_jax()
    z, t = jnp.asarray(np.random.default_rng(0).normal(size=(30, 3)), jnp.float32), jnp.arange(30) % 3
    assert float(jax.jit(multi)(z, t)) == pytest.approx(float(multi(z, t)), rel=1e-6)


@pytest.mark.parametrize("task", ["binary", "multiclass", "multilabel"])
def test_vmap_gives_one_loss_per_batch_of_a_stack(task):
    """jax.vmap over a stack of batches gives each batch's own loss and gradient (the loss and jax.grad of it
    called on each batch alone), as a JAX user batches ensembles; jax.jacrev too."""
    rng = np.random.default_rng(3)
    if task == "binary":
        loss = compile_metric("f1").to_jax()
        x = jnp.asarray(rng.normal(size=(4, 32)), jnp.float32)
        y = jnp.asarray(rng.random((4, 32)) < 0.3, jnp.float32)
    else:
        loss = compile_metric("f1", task=task, num_classes=3).to_jax()
        x = jnp.asarray(rng.normal(size=(4, 32, 3)), jnp.float32)
        y = (jnp.asarray(rng.integers(0, 3, (4, 32))) if task == "multiclass"
             else jnp.asarray(rng.random((4, 32, 3)) < 0.3, jnp.float32))
    values, grads = jax.vmap(jax.value_and_grad(loss))(x, y)
    for k in range(4):
        value, grad = jax.value_and_grad(loss)(x[k], y[k])
        assert float(values[k]) == pytest.approx(float(value), rel=1e-6)
        assert np.allclose(grads[k], grad, rtol=1e-5, atol=1e-9)
    assert np.allclose(jax.jacrev(loss)(x[0], y[0]), grads[0], rtol=1e-5, atol=1e-9)


@pytest.mark.parametrize("task", ["binary", "multiclass"])
def test_a_loss_first_called_under_jit_checks_its_L(task):
    """A fresh loss called first inside jax.jit (where its dtype is first seen) measures L's valid range outside
    the trace: it gives the eager value, and an invalid L still warns. (The probe ran JAX code inside the trace
    and raised TracerBoolConversionError from deep inside metricc.)"""
    from metricc import lrange

    lrange._l_range.cache_clear()  # the range is measured once per process; measure it inside the trace
    if task == "binary":
        metric, z, t = compile_metric("f1"), jnp.linspace(-2.0, 2.0, 8), jnp.array([0.0, 1.0] * 4)
    else:
        metric = compile_metric("f1", task="multiclass", num_classes=3)
        z, t = jnp.asarray(np.random.default_rng(0).normal(size=(30, 3)), jnp.float32), jnp.arange(30) % 3
    assert float(jax.jit(metric.to_jax())(z, t)) == pytest.approx(float(metric.to_jax()(z, t)), rel=1e-6)
    lrange._l_range.cache_clear()
    with pytest.warns(MetriccWarning, match="outside the valid range"):
        jax.jit(compile_metric("f1", L=400.0).to_jax())(jnp.zeros(4), jnp.array([0.0, 1.0, 0.0, 1.0]))


@pytest.mark.parametrize("options", [{}, {"task": "multiclass", "num_classes": 3, "class_weight": (1.0, 2.0, 0.5)}])
def test_a_loss_pickles(options):
    """A JAX loss pickles (multiprocessing, a saved training configuration), as the torch modules do, and gives
    the same value and gradient once loaded (its jitted closure is rebuilt, not pickled)."""
    import pickle

    loss = compile_metric("f1" if options else "mcc", **options).to_jax()
    if options:
        z, t = jnp.asarray(np.random.default_rng(1).normal(size=(20, 3)), jnp.float32), jnp.arange(20) % 3
    else:
        z, t = jnp.linspace(-2.0, 2.0, 20), jnp.array([0.0, 1.0] * 10)
    loaded = pickle.loads(pickle.dumps(loss))
    assert float(loaded(z, t)) == float(loss(z, t))
    np.testing.assert_array_equal(jax.grad(loaded)(z, t), jax.grad(loss)(z, t))


def test_the_gradient_is_the_derived_one_not_autodiff():
    """A formula whose autodiff through the counts is not defined at the point (abs at 0) still gets the
    derived gradient that NumPy computes, and jax.grad never sees the formula: the custom rule decides."""
    metric = compile_metric("minimize: FP + 5*FN")
    x, y, _ = _binary_data("float32")
    grad = jax.grad(metric.to_jax())(jnp.asarray(x), y)
    assert np.allclose(grad, metric.loss_and_grad(x, y)[1], rtol=1e-5, atol=1e-12)


def test_eager_checks_and_L_validation():
    loss = compile_metric("f1").to_jax()
    with pytest.raises(MetriccError, match="finite `input`"):
        loss(jnp.array([0.0, jnp.nan]), jnp.array([0.0, 1.0]))
    with pytest.raises(MetriccError, match=r"target` values in \[0, 1\]"):
        loss(jnp.array([0.0, 1.0]), jnp.array([0.0, 2.0]))
    with pytest.raises(MetriccError, match="same shape"):
        loss(jnp.zeros(3), jnp.zeros(2))
    multi = compile_metric("f1", task="multiclass", num_classes=3).to_jax()
    with pytest.raises(MetriccError, match=r"class indices in \[0, 3\)"):
        multi(jnp.zeros((2, 3)), jnp.array([0, 3]))
    with pytest.warns(MetriccWarning, match="outside the valid range"):
        compile_metric("f1", L=400.0).to_jax()(jnp.zeros(4), jnp.array([0.0, 1.0, 0.0, 1.0]))
    with pytest.raises(MetriccError, match="unknown option 'compile'"):
        compile_metric("f1").to_jax(compile=True)


@pytest.mark.parametrize("task, z, y, w, message", [
    ("binary", [1, 0, 1], [1.0, 0.0, 1.0], None, "`input` to be a floating-point array, but got int32"),
    ("binary", np.zeros(0), np.zeros(0), None, "a non-empty batch, but `input` has no elements"),
    ("binary", np.zeros(4), [1.0, 0, 1, 0], np.ones(3), r"`sample_weight` of shape \(4,\), but got \(3,\)"),
    ("multiclass", np.zeros((4, 2)), [0, 1, 2, 0], None, r"`input` of shape \(n, 3\) with n > 0, .* got \(4, 2\)"),
    ("multiclass", np.zeros(4), [0, 1, 2, 0], None, r"`input` of shape \(n, 3\) with n > 0, .* got \(4,\)"),
    ("multiclass", np.zeros((0, 3)), np.zeros(0, int), None, r"with n > 0, .* but got \(0, 3\)"),
    ("multiclass", np.zeros((4, 3), int), [0, 1, 2, 0], None, "`input` to be a floating-point array, but got int32"),
    ("multiclass", np.zeros((4, 3)), [0, 1, 2, 0], np.ones(5), r"`sample_weight` of shape \(4,\), but got \(5,\)"),
    ("multiclass", np.zeros((2, 3, 4)), np.zeros((2, 5), int), None, r"`target` of shape \(2, 4\) for logits"),
])
def test_bad_shapes_and_types_are_named(task, z, y, w, message):
    options = {} if task == "binary" else {"task": task, "num_classes": 3}
    loss = compile_metric("f1", **options).to_jax()
    with pytest.raises(MetriccError, match=message):
        loss(jnp.asarray(z), jnp.asarray(y), None if w is None else jnp.asarray(w))


@pytest.mark.parametrize("values", [["a", "b", "a"], [1j, 0, 1]])
@pytest.mark.parametrize("task", ["binary", "multilabel"])
@pytest.mark.parametrize("bad", ["input", "target", "sample_weight"])
def test_non_numeric_targets_and_weights_are_refused(bad, task, values):
    """Strings and complex numbers as inputs, targets or weights get a message that names the argument (not
    JAX's "Error interpreting argument", nor complex targets silently made real)."""
    if task == "binary":
        loss, z, y = compile_metric("f1").to_jax(), jnp.zeros(3), jnp.array([1.0, 0.0, 1.0])
    else:
        loss, z, y = compile_metric("f1", task="multilabel", num_classes=2).to_jax(), jnp.zeros((3, 2)), None
        values = np.array(values) if bad == "sample_weight" else np.array([values, values]).T
        y = jnp.zeros((3, 2))
    arguments = {"input": z, "target": y, "sample_weight": jnp.ones(3)}
    arguments[bad] = np.array(values)
    with pytest.raises(MetriccError, match=f"Expected `{bad}` to hold numbers, but got "):
        loss(arguments["input"], arguments["target"], arguments["sample_weight"])


def test_emitted_jax_module_runs_without_metricc(tmp_path):
    for name, metric in {"binary_loss": compile_metric("gmean"),
                         "multi_loss": compile_metric("f1", task="multilabel", num_classes=3)}.items():
        (tmp_path / f"{name}.py").write_text(metric.emit("jax"))
    code = ("import sys; sys.modules['metricc'] = None\n"
            "import jax, jax.numpy as jnp, numpy as np, binary_loss, multi_loss\n"
            "x = jnp.linspace(-2, 2, 20); y = (jnp.arange(20) % 3 == 0).astype(jnp.float32)\n"
            "loss = binary_loss.MetricLoss()\n"
            "print(float(loss(x, y)), float(jax.grad(loss)(x, y).sum()))\n"
            "z = jnp.reshape(jnp.linspace(-2, 2, 30), (10, 3)); t = (z > 0.5).astype(jnp.float32)\n"
            "print(float(jax.jit(multi_loss.MetricLoss())(z, t)))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert result.returncode == 0, result.stderr
    printed = [float(v) for v in result.stdout.split()]
    x = np.linspace(-2, 2, 20, dtype=np.float32)
    y = (np.arange(20) % 3 == 0).astype(np.float32)
    expected, grad = compile_metric("gmean").loss_and_grad(x, y)
    assert printed[0] == pytest.approx(expected, rel=1e-5)
    assert printed[1] == pytest.approx(float(grad.sum()), rel=1e-4, abs=1e-9)
    z = np.linspace(-2, 2, 30, dtype=np.float32).reshape(10, 3)
    expected_multi = compile_metric("f1", task="multilabel", num_classes=3).loss_and_grad(z, (z > 0.5) * 1.0)[0]
    assert printed[2] == pytest.approx(expected_multi, rel=1e-5)


@pytest.mark.parametrize("task", ["binary", "multiclass", "multilabel"])
def test_eager_grad_checks_the_values(task):
    """Called eagerly under jax.grad (the input is a tracer there, the values are not), the loss still refuses
    NaN input and bad targets instead of returning a NaN gradient; under jax.jit only shapes are checked."""
    if task == "binary":
        loss, z, y, bad_y = (compile_metric("f1").to_jax(), jnp.array([0.5, jnp.nan, -1.0]),
                             jnp.array([1.0, 0.0, 1.0]), jnp.array([1.0, 0.0, 2.0]))
    else:
        loss = compile_metric("f1", task=task, num_classes=3).to_jax()
        z = jnp.array([[0.5, jnp.nan, -1.0], [0.1, 0.2, 0.3]])
        y = jnp.array([0, 2]) if task == "multiclass" else jnp.array([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
        bad_y = jnp.array([0, 3]) if task == "multiclass" else jnp.array([[1.0, 0.0, 2.0], [0.0, 1.0, 0.0]])

    def total(v, target):
        return jnp.sum(loss(v, target))

    with pytest.raises(MetriccError, match="finite `input`"):
        jax.grad(total)(z, y)
    with pytest.raises(MetriccError, match=r"\[0, 1\]|\[0, 3\)"):
        jax.value_and_grad(total)(jnp.nan_to_num(z), bad_y)
    assert np.isnan(np.asarray(jax.jit(jax.grad(total))(z, y))).all()  # under jit: NaN


def _bad_values(task):
    """(loss, good arguments, [(what, bad arguments), ...]): each bad set is refused eagerly."""
    if task == "binary":
        loss, z, y = compile_metric("f1").to_jax(), jnp.array([0.5, 0.25, -1.0, 2.0]), jnp.array([1.0, 0.0, 1.0, 0.0])
        bad = [("NaN input", z.at[1].set(jnp.nan), y, None), ("infinite input", z.at[1].set(jnp.inf), y, None),
               ("target 2", z, y.at[0].set(2.0), None), ("target -1", z, y.at[1].set(-1.0), None)]
    elif task == "probabilities":
        loss = compile_metric("f1").to_jax(from_logits=False)
        z, y = jnp.array([0.5, 0.25, 0.75, 0.125]), jnp.array([1.0, 0.0, 1.0, 0.0])
        bad = [("probability 1.5", z.at[0].set(1.5), y, None)]
    else:
        ignore_index = -1 if task == "multiclass" else None
        loss = compile_metric("f1", task=task, num_classes=3, ignore_index=ignore_index).to_jax()
        z = jnp.array([[0.5, 0.25, -1.0], [0.125, 0.75, 0.375], [1.0, -0.5, 0.25]])
        y = jnp.array([0, 2, -1]) if task == "multiclass" else jnp.array([[1.0, 0, 1], [0, 1, 0], [0, 0, 1]])
        bad_label = (("class 3", z, y.at[0].set(3), None) if task == "multiclass"
                     else ("label 2", z, y.at[0, 0].set(2.0), None))
        bad = [("NaN input", z.at[1, 1].set(jnp.nan), y, None), bad_label]
    w = jnp.ones(len(z))
    bad += [("negative weight", z, y, w.at[1].set(-1.0)), ("NaN weight", z, y, w.at[0].set(jnp.nan)),
            ("zero weights", z, y, jnp.zeros(len(z)))]
    return loss, (z, y, w), bad


@pytest.mark.parametrize("task", ["binary", "probabilities", "multiclass", "multilabel"])
def test_under_jit_bad_values_make_loss_and_gradient_nan(task):
    """Under jax.jit the values cannot be read, so a value the eager loss refuses makes the loss and every entry of
    its gradient NaN there, never a plausible number (a target of 2 had given a loss of -0.0098, a target of -1 a
    finite loss and gradient); valid values give the eager loss and gradient."""
    loss, good, bad = _bad_values(task)

    def total(v, target, weight):
        return jnp.sum(loss(v, target, weight))

    jitted = jax.jit(jax.value_and_grad(total))
    value, grad = jitted(*good)
    eager_value, eager_grad = jax.value_and_grad(total)(*good)
    assert float(value) == pytest.approx(float(eager_value), rel=1e-6)
    np.testing.assert_allclose(grad, eager_grad, rtol=1e-5, atol=1e-9)
    assert float(jax.jit(total)(*good)) == pytest.approx(float(eager_value), rel=1e-6)
    for what, z, y, w in bad:
        w = good[2] if w is None else w
        with pytest.raises(MetriccError):  # the eager loss refuses it
            total(z, y, w)
        value, grad = jitted(z, y, w)
        assert np.isnan(float(value)) and np.isnan(np.asarray(grad)).all(), what
        assert np.isnan(float(jax.jit(total)(z, y, w))), what
        stacked = jax.jit(jax.vmap(lambda a, b, c: loss(a, b, c)))(jnp.stack([good[0], z]), jnp.stack([good[1], y]),
                                                                    jnp.stack([good[2], w]))
        assert np.isfinite(float(jnp.sum(stacked[0]))) and np.isnan(float(jnp.sum(stacked[1]))), what


def _in_cond(f):
    return lambda v: jax.lax.cond(jnp.all(jnp.isfinite(v)) | True, f, lambda u: 0.0 * jnp.sum(u), v)


@pytest.mark.parametrize("task", ["binary", "probabilities", "multiclass", "multilabel"])
def test_arrays_closed_over_under_jit_cond_and_checkpoint(task):
    """Under jax.jit, lax.cond and jax.checkpoint every operation is traced, also on the arrays a function closes
    over (a training step's data): the checks read such a target's and weights' conditions with bool() and raised
    JAX's TracerBoolConversionError. Now good values give the eager loss and gradient, and bad ones NaN, as traced
    arguments do."""
    loss, (z, y, w), bad = _bad_values(task)

    def closure(target, weight):
        return lambda v: jnp.sum(loss(v, target, weight))

    eager_value, eager_grad = jax.value_and_grad(closure(y, w))(z)
    for transform in (jax.jit, jax.checkpoint, _in_cond):
        value, grad = jax.value_and_grad(transform(closure(y, w)))(z)
        assert float(value) == pytest.approx(float(eager_value), rel=1e-6)
        np.testing.assert_allclose(grad, eager_grad, rtol=1e-5, atol=1e-9)
        for what, bad_z, bad_y, bad_w in bad:
            value, grad = jax.value_and_grad(transform(closure(bad_y, w if bad_w is None else bad_w)))(bad_z)
            assert np.isnan(float(value)) and np.isnan(np.asarray(grad)).all(), what
    assert np.isnan(float(jax.jit(lambda: jnp.sum(loss(z, y.at[0].set(7), w)))()))  # nothing traced but the ops


def _small_weighted_batch(task, rng, average="macro"):
    """A loss (binary MCC, else F1 over 3 classes with `average`) and float64 logits, targets and row weights of a
    few samples near the amplifier's steep point (call under jax.enable_x64)."""
    if task == "binary":
        loss = compile_metric("mcc").to_jax()
        z, y = jnp.asarray(rng.normal(0, 0.05, 10)), jnp.asarray(rng.random(10) < 0.4, dtype=jnp.float64)
    else:
        loss = compile_metric("f1", task=task, num_classes=3, average=average).to_jax()
        z = jnp.asarray(rng.normal(0, 0.1 if task == "multilabel" else 0.3, (8, 3)))
        y = (jnp.asarray(rng.integers(0, 3, 8)) if task == "multiclass"
             else jnp.asarray(rng.random((8, 3)) < 0.4, dtype=jnp.float64))
    return loss, z, y, jnp.asarray(rng.uniform(0.5, 2.0, len(z)))


@pytest.mark.parametrize("task", ["binary", "multiclass", "multilabel"])
def test_hessian_equals_differences_of_the_gradient(task):
    """jax.hessian (forward mode over the custom rule's reverse pass) differentiates the derived gradient, which
    the rule builds from differentiable operations: its matrix equals central differences of jax.grad
    (float64, with weights), so a Newton step or a curvature penalty gets the loss's own second derivatives."""
    with jax.enable_x64(True):
        loss, z, y, w = _small_weighted_batch(task, np.random.default_rng(1))

        def total(v):
            return jnp.sum(loss(v, y, w))

        hessian = np.asarray(jax.hessian(total)(z)).reshape(z.size, z.size)
        grad, step = jax.grad(total), 1e-6
        differences = np.stack([np.asarray(grad(z + step * e.reshape(z.shape)) - grad(z - step * e.reshape(z.shape)))
                                .reshape(-1) / (2 * step) for e in np.eye(z.size)])
    assert np.abs(hessian - differences).max() <= 1e-7 * np.abs(hessian).max()


@pytest.mark.parametrize("average", ["macro", "none"])
@pytest.mark.parametrize("task", ["binary", "multiclass", "multilabel"])
def test_forward_mode_equals_the_derived_gradient(task, average):
    """jax.jvp, jax.jacfwd and jax.linearize of the loss itself (forward mode) give the derived gradient's
    directional derivatives: the same numbers as jax.grad (one loss) or jax.jacrev (average='none', one loss per
    class), eagerly and jitted, in float64 with weights. JAX had refused forward mode of the custom_vjp loss."""
    if task == "binary" and average == "none":
        pytest.skip("a binary loss has one value")
    rng = np.random.default_rng(3)
    with jax.enable_x64(True):
        loss, z, y, w = _small_weighted_batch(task, rng, average)
        direction = jnp.asarray(rng.normal(size=z.shape))

        def f(v):
            return loss(v, y, w)

        reverse = np.asarray(jax.jacrev(f)(z))  # (C, *z.shape) for average='none'
        expected = np.tensordot(reverse, np.asarray(direction), axes=z.ndim)
        for transform in (lambda g: g, jax.jit):
            value, tangent = transform(lambda v, t: jax.jvp(f, (v,), (t,)))(z, direction)
            np.testing.assert_allclose(np.asarray(value), np.asarray(f(z)), rtol=1e-14)
            np.testing.assert_allclose(np.asarray(tangent), expected, rtol=1e-12, atol=1e-15)
            np.testing.assert_allclose(np.asarray(transform(jax.jacfwd(f))(z)), reverse, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(np.asarray(jax.linearize(f, z)[1](direction)), expected, rtol=1e-12, atol=1e-15)
        step = 1e-6  # and the directional derivative is that of the loss's values
        differences = (np.asarray(f(z + step * direction)) - np.asarray(f(z - step * direction))) / (2 * step)
        np.testing.assert_allclose(expected, differences, rtol=1e-6, atol=1e-9)


def test_eager_grad_refuses_a_gradient_that_is_not_finite():
    """sqrt(TP - FP) at TP = FP has a finite loss (0) and an infinite slope: jax.grad, eagerly, raises where it
    returned NaN; the loss alone, not differentiated, is finite and returned."""
    loss = compile_metric("sqrt(TP - FP)").to_jax()
    x, y = jnp.array([0.0, 0.0]), jnp.array([1.0, 0.0])
    assert float(loss(x, y)) == pytest.approx(1.0)
    with pytest.raises(MetriccError, match="gradient"):
        jax.grad(loss)(x, y)


# class indices are integers: JAX itself differentiates no integer input
@pytest.mark.parametrize("task, wrt", [(task, wrt) for task in ("binary", "multiclass", "multilabel")
                                       for wrt in ("target", "sample_weight") if (task, wrt) != ("multiclass", "target")])
@pytest.mark.parametrize("jit", [False, True])
def test_a_gradient_with_respect_to_the_target_or_the_weights_is_refused(task, wrt, jit):
    """The derived gradient flows to the logits only: jax.grad with respect to the weights (a learned re-weighting)
    or soft targets returned zeros, without a word. The custom rule sees which inputs are differentiated, and
    refuses those two; the logits' gradient is unchanged beside constant targets and weights."""
    options = {} if task == "binary" else {"task": task, "num_classes": 3}
    loss = compile_metric("f1", **options).to_jax()
    z = jnp.linspace(-2.0, 2.0, 12)
    y = jnp.arange(12) % 2 * 1.0
    if task != "binary":
        z = z.reshape(4, 3)
        y = jnp.array([0, 1, 2, 1]) if task == "multiclass" else (z > 0.3) * 1.0
    w = jnp.linspace(0.5, 1.5, len(z))

    def total(logits, target, weight):
        return loss(logits, target, weight)

    grad = jax.grad(total, argnums={"target": 1, "sample_weight": 2}[wrt])
    with pytest.raises(MetriccError, match=rf"`{wrt}`.*logits only.*stop_gradient"):
        (jax.jit(grad) if jit else grad)(z, y, w)
    expected = compile_metric("f1", **options).loss_and_grad(np.asarray(z), np.asarray(y), np.asarray(w))[1]
    np.testing.assert_allclose(np.asarray(jax.grad(total)(z, y, w)), expected, rtol=1e-4, atol=1e-9)


@pytest.mark.parametrize("formula", ["v = abs(TP * 1.234567); 1.234567 * v / N",  # 1524155677489 / 10^12
                                     "3000000000 * TP / (3000000000 * N + FP)", "TPR - 4294967297 * FPR / 2^32"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_integers_beyond_int32_in_the_formula(formula, dtype):
    """Integers of the printed code beyond int32 (a rational's numerator, 1.234567^2 = 1524155677489/10^12) were
    printed as Python ints, which JAX without x64 takes as int32: OverflowError ("An overflow was encountered
    while parsing an argument to a jitted computation"). They print as floats for JAX."""
    metric = compile_metric(formula)
    x, y, w = _binary_data(dtype)
    expected, expected_grad = metric.loss_and_grad(x, y, w)
    with jax.enable_x64(dtype == "float64"):
        value, grad = jax.value_and_grad(metric.to_jax())(jnp.asarray(x), jnp.asarray(y), jnp.asarray(w))
    _close(value, expected, grad, expected_grad, dtype)


PMAP_SCRIPT = """
import jax, jax.numpy as jnp, numpy as np
jax.config.update("jax_enable_x64", True)
from metricc import compile_metric
assert jax.device_count() == 2, jax.devices()
rng = np.random.default_rng(0)
n = 32
cases = {"binary": (compile_metric("f1"), rng.normal(0, 0.5, n), (rng.random(n) < 0.3) * 1.0),
         "multiclass": (compile_metric("f1", task="multiclass", num_classes=3), rng.normal(0, 0.5, (n, 3)),
                        rng.integers(0, 3, n)),
         "multilabel": (compile_metric("mcc", task="multilabel", num_classes=3, average="weighted"),
                        rng.normal(0, 0.5, (n, 3)), (rng.random((n, 3)) < 0.4) * 1.0)}
w = rng.uniform(0.5, 2, n)
split = lambda a: jnp.asarray(a).reshape(2, n // 2, *np.shape(a)[1:])
for name, (metric, z, y) in cases.items():
    whole, per_device = metric.to_jax(), metric.to_jax(axis_name="d")
    value, grad = jax.value_and_grad(whole)(jnp.asarray(z), jnp.asarray(y), jnp.asarray(w))
    values, grads = jax.pmap(jax.value_and_grad(per_device), axis_name="d")(split(z), split(y), split(w))
    np.testing.assert_allclose(values, [value, value], rtol=1e-12, err_msg=name)
    np.testing.assert_allclose(np.asarray(grads).reshape(np.shape(grad)), 2 * np.asarray(grad), rtol=1e-10,
                               atol=1e-15, err_msg=name)
    bad = np.array(y, dtype=float)
    bad[-1] = 2.0 if name != "multiclass" else 0
    bad_y = bad if name != "multiclass" else np.where(np.arange(n) == n - 1, 7, y)
    values = jax.pmap(per_device, axis_name="d")(split(z), split(bad_y), split(w))
    assert np.isnan(np.asarray(values)).all(), (name, values)  # on both devices, not only the one with the bad row
# the second device's rows are all the ignore label: both get the first half's loss, the second no gradient
metric, z, y = cases["binary"][0], cases["binary"][1], np.array(cases["binary"][2])
y[n // 2:] = 255
first = slice(0, n // 2)
value, grad = jax.value_and_grad(compile_metric("f1").to_jax())(jnp.asarray(z[first]), jnp.asarray(y[first]),
                                                                jnp.asarray(w[first]))
per_device = compile_metric("f1", ignore_index=255).to_jax(axis_name="d")
values, grads = jax.pmap(jax.value_and_grad(per_device), axis_name="d")(split(z), split(y), split(w))
np.testing.assert_allclose(values, [value, value], rtol=1e-12)
np.testing.assert_allclose(grads[0], 2 * np.asarray(grad), rtol=1e-10, atol=1e-15)
assert not np.asarray(grads[1]).any()
# a linear model replicated on both devices: pmean of their parameter gradients is the whole batch's gradient
X = rng.normal(size=(n, 4))
y = (X[:, 0] + 0.3 * rng.normal(size=n) > 0.5) * 1.0
theta = jnp.asarray(rng.normal(size=4))
loss, per_device = compile_metric("f1").to_jax(), compile_metric("f1").to_jax(axis_name="d")
expected = jax.grad(lambda t: loss(jnp.asarray(X) @ t, jnp.asarray(y)))(theta)
step = jax.pmap(lambda t, x, target: jax.lax.pmean(jax.grad(lambda u: per_device(x @ u, target))(t), "d"),
                axis_name="d")
got = step(jnp.stack([theta, theta]), split(X), split(y))
np.testing.assert_allclose(got, np.stack([expected, expected]), rtol=1e-10, atol=1e-15)
# the same step under shard_map, whose loss is the same on every device (replicated, out_specs P())
try:
    from jax import shard_map
except ImportError:  # older JAX
    from jax.experimental.shard_map import shard_map
from jax.sharding import Mesh, PartitionSpec as P
def sharded_step(t, x, target):
    value, grad = jax.value_and_grad(lambda u: per_device(x @ u, target))(t)
    return value, jax.lax.pmean(grad, "d")
step = shard_map(sharded_step, mesh=Mesh(np.array(jax.devices()), ("d",)), in_specs=(P(), P("d"), P("d")),
                 out_specs=(P(), P()))
value, got = jax.jit(step)(theta, jnp.asarray(X), jnp.asarray(y))
np.testing.assert_allclose(value, loss(jnp.asarray(X) @ theta, jnp.asarray(y)), rtol=1e-12)
np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-15)
# with sample weights (the loss value had varied over the devices under jax.jit: its check of the gradient's
# coefficients read each device's largest weight, and shard_map refused out_specs P() for the value); and with the
# cross-entropy blend, which sums over the devices too
def weighted_step(device_loss):
    def step(t, x, target, weight):
        value, grad = jax.value_and_grad(lambda u: device_loss(x @ u, target, weight))(t)
        return value, jax.lax.pmean(grad, "d")
    return shard_map(step, mesh=Mesh(np.array(jax.devices()), ("d",)), in_specs=(P(), P("d"), P("d"), P("d")),
                     out_specs=(P(), P()))
blended, blended_device = (compile_metric("f1").to_jax(bce_weight=0.3, **axis) for axis in ({}, {"axis_name": "d"}))
for whole_loss, device_loss in ((loss, per_device), (blended, blended_device)):
    value, got = jax.jit(weighted_step(device_loss))(theta, jnp.asarray(X), jnp.asarray(y), jnp.asarray(w))
    weighted = jax.value_and_grad(lambda t: whole_loss(jnp.asarray(X) @ t, jnp.asarray(y), jnp.asarray(w)))(theta)
    np.testing.assert_allclose(value, weighted[0], rtol=1e-12)
    np.testing.assert_allclose(got, weighted[1], rtol=1e-10, atol=1e-15)
for name, (metric, logits, labels) in cases.items():  # the blend under pmap: as the metric's loss and gradient
    whole, blended_device = metric.to_jax(bce_weight=0.3), metric.to_jax(bce_weight=0.3, axis_name="d")
    value, grad = jax.value_and_grad(whole)(jnp.asarray(logits), jnp.asarray(labels), jnp.asarray(w))
    values, grads = jax.pmap(jax.value_and_grad(blended_device), axis_name="d")(split(logits), split(labels),
                                                                                 split(w))
    np.testing.assert_allclose(values, [value, value], rtol=1e-12, err_msg=name)
    np.testing.assert_allclose(np.asarray(grads).reshape(np.shape(grad)), 2 * np.asarray(grad), rtol=1e-10,
                               atol=1e-15, err_msg=name)
if not (hasattr(jax.lax, "pvary") or hasattr(jax.lax, "pcast")):  # a JAX without varying types: done
    print("ok")
    raise SystemExit
# and each device's logits' gradient is its rows' share of the whole batch's; jax.jvp's tangent (under pmap too)
# is the whole batch's directional derivative
logits, direction = jnp.asarray(X @ np.asarray(theta)), jnp.asarray(rng.normal(size=n))
whole = jax.jvp(lambda v: loss(v, jnp.asarray(y)), (logits,), (direction,))[1]
rows = shard_map(lambda v, target, t: (jax.grad(per_device)(v, target),
                                       jax.jvp(lambda u: per_device(u, target), (v,), (t,))[1]),
                 mesh=Mesh(np.array(jax.devices()), ("d",)), in_specs=P("d"), out_specs=(P("d"), P()))
got, tangent = jax.jit(rows)(logits, jnp.asarray(y), direction)
np.testing.assert_allclose(got, jax.grad(loss)(logits, jnp.asarray(y)), rtol=1e-10, atol=1e-15)
np.testing.assert_allclose(tangent, whole, rtol=1e-10)
tangents = jax.pmap(lambda v, target, t: jax.jvp(lambda u: per_device(u, target), (v,), (t,))[1],
                    axis_name="d")(split(logits), split(y), split(direction))
np.testing.assert_allclose(tangents, [whole, whole], rtol=1e-10)
for name in ("multiclass", "multilabel"):  # one loss per class (average='none'): each class's tangent likewise
    _, z, target = cases[name]
    options = dict(task=name, num_classes=3, average="none")
    whole_loss, per_class = compile_metric("f1", **options).to_jax(), compile_metric("f1", **options).to_jax(
        axis_name="d")
    z, target, t = jnp.asarray(z), jnp.asarray(target), jnp.asarray(rng.normal(size=np.shape(z)))
    expected = jax.jvp(lambda v: whole_loss(v, target, jnp.asarray(w)), (z,), (t,))[1]
    tangent_of = shard_map(lambda v, labels, weight, d: jax.jvp(lambda u: per_class(u, labels, weight), (v,), (d,))[1],
                           mesh=Mesh(np.array(jax.devices()), ("d",)), in_specs=P("d"), out_specs=P())
    np.testing.assert_allclose(jax.jit(tangent_of)(z, target, jnp.asarray(w), t), expected, rtol=1e-10,
                               err_msg=name)
print("ok")
"""


def test_pmap_with_axis_name_gives_the_whole_batch_loss_and_gradient():
    """to_jax(axis_name=...) under jax.pmap over two (host) devices, each with half of the rows: every device's
    loss is the whole batch's, its logits' gradient twice its rows' share of the whole batch's gradient, so that
    lax.pmean of a replicated model's gradients is the whole batch's gradient (binary, multi-class, multi-label);
    a bad target on one device makes both losses NaN; a device whose rows are all ignored adds nothing. Without
    axis_name each device had its own half's metric. Under shard_map each device's logits' gradient is its rows'
    share (JAX sums a replicated parameter's gradient over the devices: the step gave twice the gradient before),
    and jax.jvp's tangent (each class's, multi-class and multi-label) is the whole batch's directional derivative
    under both (a JAX without varying types, before lax.pvary, scales the tangent as it scales the gradient: the
    step's gradient is checked there)."""
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=2", "OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, "-c", PMAP_SCRIPT], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr[-3000:]


@pytest.mark.parametrize("task", ["binary", "multiclass"])
def test_axis_name_is_a_name_of_a_mapped_axis(task):
    """axis_name must be a name, and the loss must run where that axis is mapped: called outside jax.pmap or
    shard_map (eagerly or under jax.jit) it says so, not JAX's "unbound axis name"."""
    with pytest.raises(MetriccError, match="Expected argument `axis_name` to be the name of a mapped axis"):
        compile_metric("f1").to_jax(axis_name=3)
    metric = compile_metric("f1") if task == "binary" else compile_metric("f1", task="multiclass", num_classes=2)
    loss = metric.to_jax(axis_name="devices")
    y = jnp.array([0, 1, 0, 1])
    z, y = (jnp.zeros(4), y * 1.0) if task == "binary" else (jnp.zeros((4, 2)), y)
    for call in (loss, jax.jit(loss)):
        with pytest.raises(MetriccError, match=re.escape("axis_name='devices' names no mapped axis here: call the "
                                                         "loss inside jax.pmap(..., axis_name='devices') or "
                                                         "shard_map, or make it without axis_name")):
            call(z, y)


@pytest.mark.parametrize("task", ["binary", "multiclass", "multilabel"])
def test_samples_of_weight_zero_count_as_left_out(task):
    """Weights with some zeros (a mask) are valid: the loss equals the one without those samples, and their
    gradient entries are 0."""
    rng = np.random.default_rng(3)
    n, C = 40, 3
    metric = compile_metric("f1") if task == "binary" else compile_metric("f1", task=task, num_classes=C)
    z = rng.normal(0, 1.5, n if task == "binary" else (n, C))
    y = ((rng.random(n) < 0.3) * 1.0 if task == "binary" else rng.integers(0, C, n) if task == "multiclass"
         else (rng.random((n, C)) < 0.4) * 1.0)
    w = rng.uniform(0.5, 2.0, n) * (np.arange(n) % 4 != 0)
    kept = w > 0
    loss = metric.to_jax()
    value, grad = jax.value_and_grad(loss)(jnp.asarray(z), jnp.asarray(y), jnp.asarray(w))
    without = loss(jnp.asarray(z[kept]), jnp.asarray(y[kept]), jnp.asarray(w[kept]))
    assert float(value) == pytest.approx(float(without), rel=1e-6)  # (JAX's float32: summed in another order)
    assert np.all(np.asarray(grad)[~kept] == 0)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("task", ["binary", "multiclass", "multilabel"])
def test_half_precision_input_is_accumulated_in_float32(task, dtype):
    """float16 and bfloat16 input is computed in float32, as the torch loss computes it: the loss (float32) and
    the gradient (in the input's type) equal NumPy's float64 values at the rounded input. The JAX kernel had
    computed in the input's type: at n = 1e5 (beyond float16's 65,504) the float16 F1 loss came out 1.0 with a
    zero gradient, and the bfloat16 gradient 9 % off, without an error; and it warned that L = 73 is outside
    float16's valid range, which float32 arithmetic does not leave."""
    rng = np.random.default_rng(5)
    n, classes = (100_000, None) if task == "binary" else (30_000, 3)
    shape = (n,) if task == "binary" else (n, classes)
    z = jnp.asarray(rng.normal(0, 1.0, shape), dtype)
    if task == "multiclass":
        y = rng.integers(0, classes, n)
    else:
        y = (rng.random(shape) < 0.3).astype(np.float32)
    metric = compile_metric("f1", task=task, num_classes=classes)
    expected, expected_grad = metric.loss_and_grad(np.asarray(z, np.float64), y)
    loss = metric.to_jax()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no L warning: float32 arithmetic keeps the slopes at L = 73
        value, grad = jax.value_and_grad(lambda v: jnp.sum(loss(v, y)))(z)
        jitted = jax.jit(jax.value_and_grad(lambda v: jnp.sum(loss(v, y))))(z)
    assert float(value) == pytest.approx(float(np.sum(expected)), rel=1e-5)
    assert float(jitted[0]) == pytest.approx(float(np.sum(expected)), rel=1e-5)
    info = jnp.finfo(dtype)  # the gradient is rounded once, into the input's type (float16's subnormals below 6e-5)
    bound = float(info.eps) * (np.abs(expected_grad).max() + float(info.tiny))
    for g in (grad, jitted[1]):
        assert np.abs(np.asarray(g, np.float64) - expected_grad).max() <= bound
    assert loss(z, y).dtype == jnp.float32 and grad.dtype == jnp.dtype(dtype)


@pytest.mark.parametrize("task", ["binary", "multiclass"])
@pytest.mark.parametrize("which", ["input", "target", "sample_weight"])
def test_torch_tensors_get_the_torch_loss(task, which):
    """A JAX loss given a torch tensor says to use to_torch() (one that requires grad had raised torch's own
    RuntimeError from inside jnp.asarray)."""
    torch = pytest.importorskip("torch")
    num_classes = 3 if task == "multiclass" else None
    loss = compile_metric("f1", task=task, num_classes=num_classes).to_jax()
    shape = (6, 3) if task == "multiclass" else (6,)
    arguments = {"input": np.linspace(-1, 1, int(np.prod(shape)), dtype=np.float32).reshape(shape),
                 "target": np.array([0, 1, 2, 0, 1, 2]) if task == "multiclass" else np.array([0, 1, 0, 1, 1, 0]),
                 "sample_weight": np.ones(6, np.float32)}
    arguments[which] = torch.tensor(arguments[which], dtype=torch.float32 if which != "target" else None,
                                    requires_grad=which != "target")
    with pytest.raises(MetriccError, match=rf"^Expected `{which}` to be a JAX or NumPy array, but got a torch "
                                           rf"tensor: to_torch\(\) is the loss for torch"):
        loss(*arguments.values())


def _rank_case(case):
    """(compile options, logits, target, sample weights or None) of a case of the strict rank promotion test."""
    rng = np.random.default_rng(11)
    n, C = 24, 3
    task, _, variant = case.partition("-")
    options = {} if task == "binary" else {"task": task, "num_classes": C}
    options.update({"weighted": {"average": "weighted"}, "micro": {"average": "micro"}, "none": {"average": "none"},
                    "class_weight": {"class_weight": [1.0, 2.0, 0.5]}, "ignore": {"ignore_index": -1},
                    "probabilities": {"from_logits": False} if task == "binary" else {}}.get(variant, {}))
    shape = (n,) if task == "binary" else (n, C)
    z = rng.normal(0, 1.5, shape).astype(np.float32)
    if variant == "probabilities" and task == "binary":
        z = rng.uniform(0.05, 0.95, n).astype(np.float32)
    if task == "multiclass":
        y = rng.integers(0, C, n)
        if variant == "probabilities":
            y = rng.dirichlet(np.ones(C), n).astype(np.float32)
        elif variant == "pixels":  # (N, C, H, W) logits of a segmentation, (N, H, W) labels
            z, y = rng.normal(0, 1.5, (2, C, 3, 4)).astype(np.float32), rng.integers(0, C, (2, 3, 4))
    else:
        y = (rng.random(shape) < 0.3).astype(np.int32)
    if variant == "ignore":
        y = np.where(rng.random(y.shape) < 0.2, -1, y)
    weight = rng.uniform(0.2, 2.0, len(z)).astype(np.float32) if variant == "weights" else None
    return options, z, y, weight


RANK_CASES = ["binary", "binary-weights", "binary-ignore", "binary-probabilities", "multiclass", "multiclass-weights",
              "multiclass-weighted", "multiclass-none", "multiclass-class_weight", "multiclass-ignore",
              "multiclass-probabilities", "multiclass-pixels", "multilabel", "multilabel-weights", "multilabel-micro",
              "multilabel-weighted", "multilabel-none", "multilabel-class_weight", "multilabel-ignore"]


@pytest.mark.parametrize("case", RANK_CASES)
def test_strict_rank_promotion_gives_the_same_loss_and_gradient(case):
    """JAX code often sets jax_numpy_rank_promotion='raise' to catch broadcasting it did not mean: the multi-class
    and multi-label losses raised JAX's ValueError from inside the kernel ("Operands could not be broadcast
    together for equal on shapes (3,) (64, 1)"). Every loss broadcasts explicitly now: the same loss and gradient
    eagerly, under jit, vmap and forward mode."""
    options, z, y, weight = _rank_case(case)
    loss = compile_metric("f1", **options).to_jax()
    arguments = (jnp.asarray(y),) + (() if weight is None else (jnp.asarray(weight),))

    def total(logits, *rest):
        return jnp.sum(loss(logits, *rest))

    def results():
        value, grad = jax.value_and_grad(total)(jnp.asarray(z), *arguments)
        jitted = jax.jit(jax.value_and_grad(total))(jnp.asarray(z), *arguments)
        stacked = jax.vmap(total)(*(jnp.stack([a, a]) for a in (jnp.asarray(z), *arguments)))
        tangent = jnp.asarray(np.random.default_rng(2).normal(size=z.shape).astype(np.float32))
        directional = jax.jvp(lambda v: total(v, *arguments), (jnp.asarray(z),), (tangent,))[1]
        return [value, grad, *jitted, stacked, directional]

    expected = results()
    with jax.numpy_rank_promotion("raise"):
        strict = results()
    for got, want in zip(strict, expected):
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("case", ["binary", "multiclass", "multiclass-probabilities", "multilabel"])
def test_strict_dtype_promotion_gives_the_same_loss_and_gradient(case):
    """With x64 on and jax_numpy_dtype_promotion='strict', which refuses to mix float widths implicitly, the
    multi-class loss of float32 logits and float64 class probabilities raised JAX's TypePromotionError from
    inside the kernel. Inputs of mixed types (float32 or float16 logits, float64 targets and weights, integer
    and boolean labels) give the same loss and gradient as in the default mode."""
    rng = np.random.default_rng(5)
    task, _, variant = case.partition("-")
    options = {} if task == "binary" else {"task": task, "num_classes": 3}
    z = rng.normal(size=(32,) if task == "binary" else (32, 3)).astype(np.float16 if task == "multilabel"
                                                                       else np.float32)
    y = {"binary": (rng.random(32) < 0.4).astype(np.int64), "multiclass": rng.integers(0, 3, 32),
         "multilabel": rng.random((32, 3)) < 0.4}[task]
    if variant == "probabilities":
        y = rng.dirichlet(np.ones(3), 32)  # float64
    weight = rng.uniform(0.5, 2.0, 32)  # float64
    loss = compile_metric("f1", **options).to_jax()

    def results():
        value, grad = jax.value_and_grad(loss)(jnp.asarray(z), jnp.asarray(y), jnp.asarray(weight))
        return value, grad, jax.jit(jax.grad(loss))(jnp.asarray(z), jnp.asarray(y), jnp.asarray(weight))

    with jax.enable_x64(True):
        expected = results()
        with jax.numpy_dtype_promotion("strict"):
            strict = results()
    for got, want in zip(strict, expected):
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(np.asarray(got), np.asarray(want))


@pytest.mark.parametrize("task", ["binary", "multiclass", "multilabel"])
def test_big_endian_arrays_give_the_loss_and_gradient_of_native_ones(task):
    """NumPy arrays in the other byte order (a file written big-endian): jnp.asarray refuses them, and the loss
    said they held no numbers ("Expected `input` to hold numbers, but got >f4"). The loss reads them as the same
    numbers in the machine's order: logits, labels and weights (jax.grad itself refuses them as the argument it
    differentiates)."""
    rng = np.random.default_rng(8)
    options = {} if task == "binary" else {"task": task, "num_classes": 3}
    z = rng.normal(size=(40,) if task == "binary" else (40, 3)).astype(np.float32)
    y = {"binary": (rng.random(40) < 0.4).astype(np.int64), "multiclass": rng.integers(0, 3, 40),
         "multilabel": (rng.random((40, 3)) < 0.4).astype(np.float32)}[task]
    weight = rng.uniform(0.5, 2.0, 40).astype(np.float32)
    loss = compile_metric("f1", **options).to_jax()
    expected = loss(z, y, weight), jax.grad(loss)(z, y, weight)
    swapped = [a.astype(a.dtype.newbyteorder(">")) for a in (z, y, weight)]
    got = loss(*swapped), jax.grad(loss)(z, *swapped[1:])
    for value, want in zip(got, expected):
        assert value.dtype == want.dtype
        np.testing.assert_array_equal(np.asarray(value), np.asarray(want))


@pytest.mark.parametrize("task", ["binary", "multiclass", "multilabel"])
def test_under_jit_a_loss_that_is_not_finite_is_nan(task):
    """exp(TP/FP) on a perfect split (FP is eps): the eager loss refuses the infinite loss, and under jax.jit the
    loss had come back as -inf (its gradient NaN), where the contract is NaN for what the eager loss refuses (a
    case drawn by a cross-check of eager against jitted losses). Also under vmap, for the failing batch alone."""
    options = {} if task == "binary" else {"task": task, "num_classes": 3}
    loss = compile_metric("exp(TP/FP)", **options).to_jax()
    if task == "binary":
        z, y = jnp.asarray([30.0, -30.0, 30.0, -30.0]), jnp.asarray([1.0, 0.0, 1.0, 0.0])
    else:
        z = jnp.asarray(np.where(np.eye(3, dtype=bool), 30.0, -30.0), jnp.float32)
        y = jnp.asarray([0, 1, 2]) if task == "multiclass" else jnp.asarray(np.eye(3, dtype=np.float32))
    with pytest.raises(MetriccError, match="not finite"):
        loss(z, y)
    value, grad = jax.jit(jax.value_and_grad(lambda v: jnp.sum(loss(v, y))))(z)
    assert np.isnan(float(value)) and np.isnan(np.asarray(grad)).all()
    mild = jnp.zeros_like(z)  # every p = 1/2: TP/FP = 1, a finite loss
    stacked = jax.jit(jax.vmap(lambda a: jnp.sum(loss(a, y))))(jnp.stack([mild, z]))
    assert np.isfinite(float(stacked[0])) and np.isnan(float(stacked[1]))


@pytest.mark.parametrize("task", ["binary", "multilabel"])
def test_under_jit_a_gradient_that_is_not_finite_is_nan(task):
    """sqrt(TP - FP) where TP = FP: the loss is finite (1) and its gradient infinite. An eager jax.grad refuses
    it; under jax.jit the loss had come back as 1 beside a gradient of infinities, where the contract is NaN for
    the loss and every entry of the gradient. A jitted loss without jax.grad stays the eager loss's value."""
    options = {} if task == "binary" else {"task": task, "num_classes": 3}
    loss = compile_metric("sqrt(TP - FP)", **options).to_jax()
    z, y = ((jnp.zeros(2), jnp.asarray([1.0, 0.0])) if task == "binary" else
            (jnp.zeros((2, 3)), jnp.asarray([[1.0, 1.0, 1.0], [0.0, 0.0, 0.0]])))

    def total(v):
        return jnp.sum(loss(v, y))

    with pytest.raises(MetriccError, match="not finite"):
        jax.grad(total)(z)
    value, grad = jax.jit(jax.value_and_grad(total))(z)
    assert np.isnan(float(value)) and np.isnan(np.asarray(grad)).all()
    assert float(jax.jit(total)(z)) == pytest.approx(float(total(z)))


BLEND_CASES = {  # (compile options, to_jax options): logits z (n, C) or (n,), a target, weights or None
    "binary": ({}, "binary", False, None),
    "binary-weighted-ignored": ({"ignore_index": 255}, "binary", True, 255),
    "probabilities": ({"from_logits": False}, "probabilities", True, None),
    "multiclass": ({"task": "multiclass", "num_classes": 3}, "multiclass", True, None),
    "multiclass-ignored": ({"task": "multiclass", "num_classes": 3, "ignore_index": -1}, "multiclass", False, -1),
    "multiclass-probabilities": ({"task": "multiclass", "num_classes": 3}, "class-probabilities", True, None),
    "multilabel": ({"task": "multilabel", "num_classes": 3, "average": "none"}, "multilabel", True, None),
    "multilabel-ignored": ({"task": "multilabel", "num_classes": 3, "ignore_index": 255}, "multilabel", True, 255),
}


def _blend_batch(kind, weighted, ignore, n=24, seed=5):
    rng = np.random.default_rng(seed)
    if kind in ("binary", "probabilities"):
        z = rng.normal(0, 1.5, n) if kind == "binary" else rng.uniform(0.05, 0.95, n)
        y = (rng.random(n) < 0.4) * 1.0
    elif kind == "multilabel":
        z, y = rng.normal(0, 1.5, (n, 3)), (rng.random((n, 3)) < 0.4) * 1.0
    else:
        z = rng.normal(0, 1.5, (n, 3))
        y = rng.dirichlet(np.ones(3), n) if kind == "class-probabilities" else rng.integers(0, 3, n)
    if ignore is not None:
        y = np.where(rng.random(y.shape) < 0.25, ignore, y)
    return z, y, (rng.uniform(0.2, 2.0, n) if weighted else None)


@pytest.mark.parametrize("case", sorted(BLEND_CASES))
def test_bce_weight_adds_the_cross_entropy_of_the_torch_loss(case):
    """to_jax(bce_weight=...) adds bce_weight times binary cross-entropy (cross-entropy for multi-class, per-label
    BCE summed over the labels for multi-label; the mean over the kept elements or rows, weighted), the stateless
    recipe of docs/quality.md in JAX: its value and gradient equal to_torch(pure=True, bce_weight=...)'s (torch's
    own cross-entropy beside the derived gradient), eagerly, under jax.jit and in an emitted module."""
    torch = pytest.importorskip("torch")
    from oracles import load_emitted

    options, kind, weighted, ignore = BLEND_CASES[case]
    metric = compile_metric("f1", **options)
    z, y, w = _blend_batch(kind, weighted, ignore)
    x = torch.tensor(z, requires_grad=True)
    expected = metric.to_torch(pure=True, bce_weight=0.3)(x, torch.tensor(y), None if w is None else torch.tensor(w))
    expected.sum().backward()
    with jax.enable_x64(True):
        emitted = load_emitted(metric.emit("jax"))["MetricLoss"](bce_weight=0.3)
        for loss in (metric.to_jax(bce_weight=0.3), jax.jit(metric.to_jax(bce_weight=0.3)), emitted):
            value, grad = jax.value_and_grad(lambda v: jnp.sum(loss(v, jnp.asarray(y), w)))(jnp.asarray(z))
            np.testing.assert_allclose(np.asarray(loss(jnp.asarray(z), jnp.asarray(y), w)),
                                       expected.detach().numpy(), rtol=1e-12)
            np.testing.assert_allclose(np.asarray(grad), x.grad.numpy(), rtol=1e-10, atol=1e-14)
    without = metric.to_jax()(jnp.asarray(z, jnp.float32), jnp.asarray(y), w)
    assert not np.allclose(np.asarray(without), expected.detach().numpy(), rtol=1e-3)  # the blend adds something


def test_bce_weight_on_probabilities_of_exactly_0_and_1_equals_the_torch_loss():
    """Probabilities (from_logits=False) of exactly 0 and 1, on the wrong labels too: the blend's cross-entropy
    takes them clipped to [1e-7, 1 - 1e-7], as the torch loss clamps them, so that log(0) does not make the loss
    infinite; value and gradient equal to_torch(pure=True, bce_weight=...)'s, eagerly and under jax.jit."""
    torch = pytest.importorskip("torch")

    metric = compile_metric("f1", from_logits=False)
    p = np.array([0.0, 1.0, 1e-9, 1 - 1e-9, 0.3, 0.7, 0.0, 1.0])
    y = np.array([1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 0.0, 1.0])
    x = torch.tensor(p, requires_grad=True)
    expected = metric.to_torch(pure=True, bce_weight=0.3)(x, torch.tensor(y))
    expected.backward()
    assert math.isfinite(expected.item())
    with jax.enable_x64(True):
        for loss in (metric.to_jax(bce_weight=0.3), jax.jit(metric.to_jax(bce_weight=0.3))):
            value, grad = jax.value_and_grad(lambda v: loss(v, jnp.asarray(y)))(jnp.asarray(p))
            assert float(value) == pytest.approx(expected.item(), rel=1e-12)
            np.testing.assert_allclose(np.asarray(grad), x.grad.numpy(), rtol=1e-10, atol=1e-20)


@pytest.mark.parametrize("value", [-0.1, float("nan"), float("inf"), "0.1"])
def test_bce_weight_of_the_jax_loss_is_checked(value):
    with pytest.raises(MetriccError, match="argument `bce_weight`"):
        compile_metric("f1").to_jax(bce_weight=value)


def test_training_state_options_are_to_torch_s():
    """momentum and warmup keep state, which a JAX loss, a pure function, has not: the error says so."""
    for name in ("momentum", "warmup", "L_start"):
        with pytest.raises(MetriccError, match=rf"`{name}` .*to_torch\(\).*a JAX loss keeps no state"):
            compile_metric("f1").to_jax(**{name: 1})
