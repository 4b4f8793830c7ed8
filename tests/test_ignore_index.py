"""`ignore_index` for binary losses (a segmentation mask's 255, an unlabeled -1): the elements whose target is the
ignore label are left out, as torchmetrics' binary metrics and segmentation losses have it. The oracle is the
same loss on the kept elements alone (the ignored ones removed, no weights involved), and scikit-learn on them."""

import warnings

import jax
import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm

from metricc import MetriccError, compile_metric

IGNORE = 255
FORMULAS = ["f1", "mcc", "minimize: FP + 5*FN"]


def call(backend, metric, z, target, w=None):
    """The loss of `metric` through `backend` ("numpy", "torch" or "jax", float32 for JAX) on NumPy arrays."""
    if backend == "numpy":
        return metric.loss_and_grad(z, target, w)
    if backend == "torch":
        return metric.to_torch()(torch.tensor(z), torch.tensor(target), None if w is None else torch.tensor(w))
    as_jax = jax.numpy.asarray
    return metric.to_jax()(as_jax(z, jax.numpy.float32), as_jax(target),
                           None if w is None else as_jax(w, jax.numpy.float32))


def exact_loss_and_grad(backend, metric, z, target, w=None):
    """The exact loss (a float) and its gradient (a NumPy array) through `backend` ("numpy", "torch", "jax" or
    "jax-jit"), in float64."""
    if backend == "numpy":
        return metric.loss_and_grad(z, target, w)
    if backend == "torch":
        x = torch.tensor(z, requires_grad=True)
        value = metric.to_torch(pure=True)(x, torch.tensor(target), None if w is None else torch.tensor(w))
        value.backward()
        return value.item(), x.grad.numpy()
    with jax.enable_x64(True):
        value_and_grad = jax.value_and_grad(metric.to_jax())
        value_and_grad = jax.jit(value_and_grad) if backend == "jax-jit" else value_and_grad
        value, grad = value_and_grad(jax.numpy.asarray(z), jax.numpy.asarray(target),
                                     None if w is None else jax.numpy.asarray(w))
        return float(value), np.asarray(grad)


def batch(seed, shape=(3, 7, 5), ignore=IGNORE):
    """Logits, targets with some elements set to `ignore`, the 0/1 labels, the ignored mask and weights."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0, 1.5, shape)
    y = (rng.random(shape) < 0.3).astype(np.int64)
    ignored = rng.random(shape) < 0.3
    return z, np.where(ignored, ignore, y), y, ignored, rng.uniform(0.5, 2, shape)


@pytest.mark.parametrize("formula", FORMULAS)
@pytest.mark.parametrize("weighted", [False, True])
def test_numpy_loss_is_that_of_the_kept_elements(formula, weighted):
    z, target, y, ignored, w = batch(0)
    kept = ~ignored
    loss, grad = compile_metric(formula, ignore_index=IGNORE).loss_and_grad(z, target, w if weighted else None)
    expected, expected_grad = compile_metric(formula).loss_and_grad(z[kept], y[kept], w[kept] if weighted else None)
    assert loss == pytest.approx(expected, rel=1e-12)
    np.testing.assert_allclose(grad[kept], expected_grad, rtol=1e-12, atol=0)
    assert (grad[ignored] == 0).all() and grad.shape == z.shape


@pytest.mark.parametrize("formula", FORMULAS)
@pytest.mark.parametrize("shape", [(3, 7, 5), (2, 1, 96, 96)])  # the stacked path, and the streaming one
@pytest.mark.parametrize("weighted", [False, True])
def test_torch_loss_is_that_of_the_kept_elements(formula, shape, weighted):
    z, target, y, ignored, w = batch(1, shape)
    kept = ~ignored
    x = torch.tensor(z, requires_grad=True)
    weight = torch.tensor(w) if weighted else None
    loss = compile_metric(formula, ignore_index=IGNORE).to_torch(pure=True)(x, torch.tensor(target), weight)
    loss.backward()
    part = torch.tensor(z[kept], requires_grad=True)
    expected = compile_metric(formula).to_torch(pure=True)(part, torch.tensor(y[kept]),
                                                           torch.tensor(w[kept]) if weighted else None)
    expected.backward()
    assert loss.item() == pytest.approx(expected.item(), rel=1e-12)
    np.testing.assert_allclose(x.grad.numpy()[kept], part.grad.numpy(), rtol=1e-10, atol=1e-300)
    assert (x.grad.numpy()[ignored] == 0).all()


@pytest.mark.parametrize("shape", [(3, 7, 5), (2, 1, 96, 96)])
def test_torch_training_loss_with_running_counts_and_blend(shape):
    """The training defaults (running counts) and a BCE blend see the kept elements only, step after step."""
    options = {"momentum": 0.9, "bce_weight": 0.5}
    with_ignore = compile_metric("f1", ignore_index=-1).to_torch(**options)
    on_kept = compile_metric("f1").to_torch(**options)
    for step in range(3):
        z, target, y, ignored, _ = batch(10 + step, shape, ignore=-1)
        kept = ~ignored
        x, part = torch.tensor(z, requires_grad=True), torch.tensor(z[kept], requires_grad=True)
        loss, expected = with_ignore(x, torch.tensor(target)), on_kept(part, torch.tensor(y[kept]))
        loss.backward()
        expected.backward()
        assert loss.item() == pytest.approx(expected.item(), rel=1e-10)
        np.testing.assert_allclose(x.grad.numpy()[kept], part.grad.numpy(), rtol=1e-8, atol=1e-300)
        assert (x.grad.numpy()[ignored] == 0).all()
    torch.testing.assert_close(with_ignore.running, on_kept.running, rtol=1e-12, atol=0)


@pytest.mark.parametrize("backend", ["numpy", "torch", "torch-training", "jax"])
def test_a_batch_of_ignored_elements_only_gives_no_gradient(backend):
    """A crop of nothing but ignored pixels: a finite loss, a zero gradient, no error, no warning (the pytest
    configuration turns warnings into errors), and the running counts as they were."""
    metric = compile_metric("f1", ignore_index=IGNORE)
    z = np.random.default_rng(3).normal(size=(2, 8, 8))
    target = np.full(z.shape, IGNORE)
    if backend == "numpy":
        loss, grad = metric.loss_and_grad(z, target)
    elif backend == "jax":
        loss, grad = jax.value_and_grad(metric.to_jax())(jax.numpy.asarray(z, jax.numpy.float32), target)
        loss, grad = float(loss), np.asarray(grad)
    else:
        loss_fn = metric.to_torch(pure=backend == "torch", bce_weight=0.5 if backend == "torch-training" else 0.0)
        if backend == "torch-training":  # one batch with labels first, so that the running counts hold something
            loss_fn(torch.tensor(z), torch.tensor((z > 0).astype(np.int64)))
            before = loss_fn.running.clone()
        x = torch.tensor(z, requires_grad=True)
        value = loss_fn(x, torch.tensor(target))
        value.backward()
        loss, grad = value.item(), x.grad.numpy()
        if backend == "torch-training":
            torch.testing.assert_close(loss_fn.running, before, rtol=0, atol=0)
    assert np.isfinite(loss)
    assert (grad == 0).all()


@pytest.mark.parametrize("jit", [False, True])
def test_jax_loss_is_that_of_the_kept_elements(jit):
    z, target, y, ignored, w = batch(4)
    kept = ~ignored
    loss_fn = compile_metric("mcc", ignore_index=IGNORE).to_jax()
    value_and_grad = jax.value_and_grad(loss_fn)
    value_and_grad = jax.jit(value_and_grad) if jit else value_and_grad
    with jax.enable_x64(True):
        loss, grad = value_and_grad(jax.numpy.asarray(z), jax.numpy.asarray(target), jax.numpy.asarray(w))
        expected, expected_grad = compile_metric("mcc").loss_and_grad(z[kept], y[kept], w[kept])
        assert float(loss) == pytest.approx(expected, rel=1e-10)
        grad = np.asarray(grad)
    np.testing.assert_allclose(grad[kept], expected_grad, rtol=1e-8, atol=1e-300)
    assert (grad[ignored] == 0).all()


def test_jax_under_jit_still_poisons_a_target_that_is_neither_label_nor_ignored():
    loss_fn = jax.jit(compile_metric("f1", ignore_index=IGNORE).to_jax())
    z = jax.numpy.zeros(4)
    assert np.isfinite(float(loss_fn(z, jax.numpy.array([0, 1, IGNORE, 1]))))
    assert np.isnan(float(loss_fn(z, jax.numpy.array([0, 1, 2, 1]))))


@pytest.mark.parametrize("backend", ["numpy", "torch", "jax"])
def test_other_targets_outside_0_1_are_still_refused(backend):
    metric = compile_metric("f1", ignore_index=IGNORE)
    z, target = np.zeros(4), np.array([0, 1, 2, IGNORE])
    with pytest.raises(MetriccError, match="range from 0 to 2"):
        call(backend, metric, z, target)


def test_score_and_tune_threshold_leave_ignored_elements_out():
    z, target, y, ignored, w = batch(5, (400,))
    kept = ~ignored
    metric = compile_metric("f1", ignore_index=IGNORE)
    predictions = (z > 0).astype(int)
    assert metric.score(predictions, target) == pytest.approx(skm.f1_score(y[kept], predictions[kept]), abs=1e-12)
    assert metric.score(predictions, target, w) == pytest.approx(
        skm.f1_score(y[kept], predictions[kept], sample_weight=w[kept]), abs=1e-12)
    assert metric.tune_threshold(z, target) == compile_metric("f1").tune_threshold(z[kept], y[kept])


def test_emitted_modules_take_the_ignore_label(tmp_path):
    z, target, y, ignored, _ = batch(6)
    metric = compile_metric("f1", ignore_index=IGNORE)
    namespace = {}
    exec(compile(metric.emit("numpy"), "emitted_numpy", "exec"), namespace)
    loss, grad = namespace["loss_and_grad"](z, target)
    expected, expected_grad = metric.loss_and_grad(z, target)
    assert loss == expected
    np.testing.assert_array_equal(grad, expected_grad)
    namespace = {}
    exec(compile(metric.emit("torch"), "emitted_torch", "exec"), namespace)
    assert namespace["MetricLoss"]()(torch.tensor(z), torch.tensor(target)).item() == pytest.approx(
        metric.to_torch()(torch.tensor(z), torch.tensor(target)).item(), rel=1e-12)


@pytest.mark.parametrize("ignore_index, message", [
    (0, "ignore_index=0 is a label of the binary task"),
    (1, "ignore_index=1 is a label of the binary task"),
    (2.5, "`ignore_index` to be an int"),
])
def test_an_ignore_label_that_is_no_label_of_its_own_is_refused(ignore_index, message):
    with pytest.raises(MetriccError, match=message):
        compile_metric("f1", ignore_index=ignore_index)


def test_boosters_refuse_it():
    with pytest.raises(MetriccError, match="takes no ignore_index"):
        compile_metric("f1", ignore_index=IGNORE).to_xgboost()


def test_the_range_error_names_the_option():
    with pytest.raises(MetriccError, match="compile with ignore_index=255"):
        compile_metric("f1").loss_and_grad(np.zeros(3), np.array([0, 1, 255]))


def test_torch_counts_leave_ignored_elements_out():
    z, target, y, ignored, _ = batch(7)
    kept = ~ignored
    counts = compile_metric("f1", ignore_index=IGNORE).to_torch().counts(torch.tensor(z), torch.tensor(target))
    expected = compile_metric("f1").to_torch().counts(torch.tensor(z[kept]), torch.tensor(y[kept]))
    torch.testing.assert_close(torch.stack(counts), torch.stack(expected), rtol=1e-12, atol=0)


def test_a_multiclass_batch_of_ignored_rows_keeps_the_running_counts():
    """With running counts (momentum), a batch whose every row is ignored counts nothing: it leaves the running
    rates as they were (they had decayed toward 0, shrinking every later batch's counts)."""
    loss_fn = compile_metric("f1", task="multiclass", num_classes=3, ignore_index=-1).to_torch(momentum=0.9)
    z = torch.tensor(np.random.default_rng(8).normal(size=(12, 3)))
    loss_fn(z, torch.arange(12) % 3)
    before = loss_fn.running.clone()
    x = z.clone().requires_grad_()
    loss_fn(x, torch.full((12,), -1)).backward()
    torch.testing.assert_close(loss_fn.running, before, rtol=0, atol=0)
    assert (x.grad == 0).all()


@pytest.mark.parametrize("backend", ["numpy", "torch", "jax"])
@pytest.mark.parametrize("task", ["binary", "multiclass"])
def test_an_ignore_label_the_target_type_cannot_hold_matches_nothing(backend, task):
    """ignore_index=-1 with uint8 masks: torch and JAX would wrap -1 to 255 in the comparison and silently leave
    out the 255s, where they are labels out of range."""
    options = {"task": "multiclass", "num_classes": 3} if task == "multiclass" else {}
    metric = compile_metric("f1", ignore_index=-1, **options)
    z = np.zeros((4, 3)) if task == "multiclass" else np.zeros(4)
    target = np.array([0, 1, 255, 1], dtype=np.uint8)
    with pytest.raises(MetriccError, match="255"):
        call(backend, metric, z, target)


@pytest.mark.parametrize("backend", ["numpy", "torch", "jax"])
@pytest.mark.parametrize("dtype, ignore", [(np.uint8, 255), (np.int8, -128), (np.int16, 32767)])
def test_an_ignore_label_at_the_end_of_the_target_type_is_left_out(backend, dtype, ignore):
    """A segmentation mask's 255 in uint8 (the type's largest value), or the smallest int8: the ignore label
    at either end of the target's integer type still matches."""
    z, target, y, ignored, _ = batch(9, (40,), ignore=ignore)
    metric = compile_metric("f1", ignore_index=ignore)
    if backend == "torch":  # the exact loss (to_torch() trains at a warm-up L)
        loss = metric.to_torch(pure=True)(torch.tensor(z), torch.tensor(target.astype(dtype))).item()
    else:
        loss = call(backend, metric, z, target.astype(dtype))
        loss = loss[0] if backend == "numpy" else float(loss)
    assert loss == pytest.approx(compile_metric("f1").loss_and_grad(z[~ignored], y[~ignored])[0], rel=1e-6)


@pytest.mark.parametrize("backend", ["numpy", "torch", "jax"])
def test_a_float16_target_is_compared_with_the_ignore_label_exactly(backend):
    """ignore_index=2049 with float16 targets, which cannot hold 2049: compared in float16, 2049 would round to
    2048 and silently leave out a 2048, which is a target out of range."""
    metric = compile_metric("f1", ignore_index=2049)
    with pytest.raises(MetriccError, match="2048"):
        call(backend, metric, np.zeros(4), np.array([0, 1, 2048, 1], dtype=np.float16))


# -- multi-label: an element (a sample's label) is left out, the sample's other labels stay ----------------------

def multilabel_batch(seed, n=60, C=3):
    rng = np.random.default_rng(seed)
    z = rng.normal(0, 1.5, (n, C))
    y = (rng.random((n, C)) < [0.5, 0.3, 0.15]).astype(np.int64)
    ignored = rng.random((n, C)) < 0.25
    return z, np.where(ignored, -1, y), y, ignored, rng.uniform(0.5, 2, n)


def per_label_oracle(formula, z, y, ignored, w):
    """The macro-averaged loss and its gradient from binary losses, one per label on its kept elements."""
    C = z.shape[1]
    grad, losses = np.zeros_like(z), []
    for k in range(C):
        kept = ~ignored[:, k]
        loss, g = compile_metric(formula).loss_and_grad(z[kept, k], y[kept, k], None if w is None else w[kept])
        losses.append(loss)
        grad[kept, k] = g / C
    return np.mean(losses), grad


@pytest.mark.parametrize("backend", ["numpy", "torch", "jax"])
@pytest.mark.parametrize("weighted", [False, True])
def test_multilabel_leaves_ignored_elements_out(backend, weighted):
    z, target, y, ignored, w = multilabel_batch(20)
    metric = compile_metric("f1", task="multilabel", num_classes=3, ignore_index=-1)
    weight = w if weighted else None
    expected, expected_grad = per_label_oracle("f1", z, y, ignored, weight)
    loss, grad = exact_loss_and_grad(backend, metric, z, target, weight)
    assert loss == pytest.approx(expected, rel=1e-10)
    np.testing.assert_allclose(grad, expected_grad, rtol=1e-8, atol=1e-300)


@pytest.mark.parametrize("backend", ["numpy", "torch", "jax"])
@pytest.mark.parametrize("weighted", [False, True])
def test_multiclass_leaves_ignored_rows_out(backend, weighted):
    """The loss and gradient of a multi-class batch with ignored rows are those of its kept rows, and the ignored
    rows get no gradient (in JAX an ignored row weighing 1, as class 0, had passed the suite)."""
    rng = np.random.default_rng(23)
    z, y = rng.normal(0, 1.0, (30, 3)), rng.integers(0, 3, 30)
    ignored = rng.random(30) < 0.3
    target, w = np.where(ignored, -1, y), rng.uniform(0.5, 2, 30) if weighted else None
    metric = compile_metric("f1", task="multiclass", num_classes=3, ignore_index=-1)
    kept = ~ignored
    expected, expected_grad = compile_metric("f1", task="multiclass", num_classes=3).loss_and_grad(
        z[kept], y[kept], None if w is None else w[kept])
    loss, grad = exact_loss_and_grad(backend, metric, z, target, w)
    assert loss == pytest.approx(expected, rel=1e-10)
    np.testing.assert_allclose(grad[kept], expected_grad, rtol=1e-8, atol=1e-300)
    assert (grad[ignored] == 0).all()


@pytest.mark.parametrize("backend", ["numpy", "torch", "jax", "jax-jit"])
def test_a_batch_whose_every_element_is_ignored_has_no_gradient(backend):
    """Every element ignored (a crop of the mask's border): no error, a finite loss (the smoothed counts' value,
    the same in every backend) and a zero gradient, never NaN (in JAX all-zero weights once scaled by 0)."""
    z, target = np.array([0.3, -0.2, 1.0]), np.full(3, IGNORE)
    metric = compile_metric("f1", ignore_index=IGNORE)
    loss, grad = exact_loss_and_grad(backend, metric, z, target)
    assert loss == pytest.approx(metric.loss_and_grad(z, target)[0]) and np.isfinite(loss)
    assert (grad == 0).all()


def test_multilabel_training_loss_keeps_a_label_that_a_batch_ignores_whole():
    """Running counts per label: a batch in which one label is ignored everywhere leaves that label's running
    rates as they were and updates the others'."""
    loss_fn = compile_metric("f1", task="multilabel", num_classes=3, ignore_index=-1).to_torch(bce_weight=0.5)
    z, target, *_ = multilabel_batch(21)
    loss_fn(torch.tensor(z), torch.tensor(target))
    before = loss_fn.running.clone()
    z, target, *_ = multilabel_batch(22)
    target[:, 1] = -1
    x = torch.tensor(z, requires_grad=True)
    loss = loss_fn(x, torch.tensor(target))
    loss.backward()
    assert torch.isfinite(loss)
    torch.testing.assert_close(loss_fn.running[:, 1], before[:, 1], rtol=0, atol=0)
    assert (loss_fn.running[:, [0, 2]] != before[:, [0, 2]]).any(0).all()
    assert torch.isfinite(x.grad).all()


def test_multilabel_score_and_tune_threshold_leave_ignored_elements_out():
    z, target, y, ignored, _ = multilabel_batch(23, n=300)
    metric = compile_metric("f1", task="multilabel", num_classes=3, ignore_index=-1, average="none")
    predictions = (z > 0).astype(int)
    expected = [skm.f1_score(y[~ignored[:, k], k], predictions[~ignored[:, k], k]) for k in range(3)]
    np.testing.assert_allclose(metric.score(predictions, target), expected, rtol=0, atol=1e-12)
    _, values = metric.tune_threshold(z, target)
    binary = [compile_metric("f1").tune_threshold(z[~ignored[:, k], k], y[~ignored[:, k], k])[1] for k in range(3)]
    np.testing.assert_allclose(values, binary, rtol=0, atol=1e-12)


@pytest.mark.parametrize("average", ["macro", "micro"])
def test_multilabel_tune_threshold_takes_any_score_where_the_target_is_ignored(average):
    """A score where the target is ignored (NaN, inf: a masked output) counts nowhere: multi-label
    tune_threshold() refused NaN there ("Expected `scores` without NaN"), where the binary one drops those
    elements. The cut-offs and values are those of the same scores with any finite number there."""
    z, target, y, ignored, _ = multilabel_batch(29, n=200)
    metric = compile_metric("f1", task="multilabel", num_classes=3, ignore_index=-1, average=average)
    expected = metric.tune_threshold(np.where(ignored, 0.0, z), target)
    for junk in (np.nan, np.inf, -np.inf, 1e9):
        got = metric.tune_threshold(np.where(ignored, junk, z), target)
        for g, e in zip(got, expected):
            np.testing.assert_array_equal(g, e)
    if average == "macro":
        binary = [compile_metric("f1").tune_threshold(z[~ignored[:, k], k], y[~ignored[:, k], k]) for k in range(3)]
        np.testing.assert_array_equal(expected[0], [b[0] for b in binary])
    with pytest.raises(MetriccError, match="without NaN"):  # elsewhere NaN is a missing value
        metric.tune_threshold(np.where(~ignored, np.nan, z), target)


@pytest.mark.parametrize("task", ["binary", "multiclass", "multilabel"])
def test_predictions_where_the_target_is_ignored_count_nowhere(task):
    """What is predicted where the target holds the ignore label does not count, whatever it is (the ignore label
    copied into a segmentation's predictions, a class out of range): the binary score dropped those elements,
    the multi-class and multi-label scores refused such predictions ("compile with ignore_index=-100", which was
    compiled). Elsewhere the ignore label is no prediction."""
    rng = np.random.default_rng(31)
    options = {} if task == "binary" else {"task": task, "num_classes": 3}
    shape = (40, 3) if task == "multilabel" else (40,)
    target = rng.integers(0, 3 if task == "multiclass" else 2, shape)
    predictions = rng.integers(0, 3 if task == "multiclass" else 2, shape)
    ignored = rng.random(shape) < 0.3
    metric = compile_metric("f1", ignore_index=-100, **options, **({} if task == "binary" else {"average": "none"}))
    expected = metric.score(predictions, np.where(ignored, -100, target))
    for junk in (-100, 7):
        got = metric.score(np.where(ignored, junk, predictions), np.where(ignored, -100, target))
        np.testing.assert_array_equal(got, expected)
    if task == "multiclass":
        kept = ~ignored
        np.testing.assert_allclose(expected, skm.f1_score(target[kept], predictions[kept], labels=range(3),
                                                          average=None), rtol=0, atol=1e-12)
    with pytest.raises(MetriccError, match=r"`predictions` .*-100"):
        metric.score(np.where(~ignored, -100, predictions), np.where(ignored, -100, target))


@pytest.mark.parametrize("backend", ["numpy", "jax"])
def test_emitted_multilabel_modules_take_the_ignore_label(backend):
    z, target, *_ = multilabel_batch(24)
    metric = compile_metric("jaccard", task="multilabel", num_classes=3, ignore_index=-1, average="micro")
    namespace = {}
    exec(compile(metric.emit(backend), f"emitted_{backend}", "exec"), namespace)
    if backend == "numpy":
        assert namespace["loss_and_grad"](z, target)[0] == metric.loss_and_grad(z, target)[0]
    else:
        emitted = jax.jit(namespace["MetricLoss"]())
        loss = jax.jit(metric.to_jax())(jax.numpy.asarray(z, jax.numpy.float32), jax.numpy.asarray(target))
        assert float(emitted(jax.numpy.asarray(z, jax.numpy.float32), jax.numpy.asarray(target))) == float(loss)
        assert float(loss) == pytest.approx(metric.loss_and_grad(z, target)[0], rel=1e-5)


def test_the_repr_shows_the_ignore_label():
    assert repr(compile_metric("f1", ignore_index=255)).endswith(", ignore_index=255)")
    assert "ignore_index=-1" in repr(compile_metric("f1", task="multiclass", num_classes=3, ignore_index=-1))
    assert "ignore_index" not in repr(compile_metric("f1"))


def test_tune_threshold_says_when_every_element_is_ignored():
    with pytest.raises(MetriccError, match="every element of `target` is the ignore label 255"):
        compile_metric("f1", ignore_index=IGNORE).tune_threshold(np.zeros(3), np.full(3, IGNORE))
    with pytest.raises(MetriccError, match="every element of `target` is the ignore label -1"):
        compile_metric("f1", task="multilabel", num_classes=2, ignore_index=-1).tune_threshold(
            np.zeros((3, 2)), np.full((3, 2), -1))


# -- property: for any catalog metric and any placement of the ignored elements, the loss is the kept elements' --

CATALOG = ["accuracy", "balanced_accuracy", "f1", "fbeta", "precision", "recall", "specificity", "gmean", "mcc",
           "jaccard", "cohen_kappa", "informedness", "fowlkes_mallows", "tversky"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(CATALOG), seed=st.integers(0, 2**32 - 1), n=st.integers(2, 300),
       share=st.floats(0.0, 0.95), weighted=st.booleans())
def test_any_catalog_metric_on_any_ignored_elements_is_that_of_the_kept_ones(name, seed, n, share, weighted):
    rng = np.random.default_rng(seed)
    z, y = rng.normal(0, 2, n), (rng.random(n) < rng.uniform(0.05, 0.95)).astype(np.float64)
    ignored = rng.random(n) < share
    assume((~ignored).sum() >= 1)
    w = rng.uniform(0.1, 3, n) if weighted else None
    kept = ~ignored
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            expected, expected_grad = compile_metric(name, L=15.0).loss_and_grad(
                z[kept], y[kept], None if w is None else w[kept])
        except MetriccError:  # undefined on the kept elements (0/0 with eps at these counts): refused alike
            with pytest.raises(MetriccError):
                compile_metric(name, L=15.0, ignore_index=-1).loss_and_grad(z, np.where(ignored, -1, y), w)
            return
        loss, grad = compile_metric(name, L=15.0, ignore_index=-1).loss_and_grad(z, np.where(ignored, -1, y), w)
        x = torch.tensor(z, requires_grad=True)
        value = compile_metric(name, L=15.0, ignore_index=-1).to_torch(pure=True)(
            x, torch.tensor(np.where(ignored, -1, y)), None if w is None else torch.tensor(w))
        value.backward()
    scale = max(np.abs(expected_grad).max(), 1e-300)
    assert loss == pytest.approx(expected, rel=1e-9, abs=1e-12)
    assert value.item() == pytest.approx(expected, rel=1e-9, abs=1e-12)
    np.testing.assert_allclose(grad[kept], expected_grad, rtol=1e-9, atol=1e-9 * scale)
    np.testing.assert_allclose(x.grad.numpy()[kept], expected_grad, rtol=1e-7, atol=1e-9 * scale)
    assert not grad[ignored].any() and not x.grad.numpy()[ignored].any()


@pytest.mark.parametrize("backend", ["numpy", "torch", "jax", "multilabel-numpy", "multilabel-torch",
                                     "multilabel-jax"])
def test_a_users_own_all_zero_weights_are_still_refused(backend):
    """Ignored elements never raise, but weights that are all zero as given are an error, as without an ignore
    label, and so is a negative weight, on an ignored element too. The torch binary loss had checked the weights
    with the ignored elements' 0 folded in: all-zero weights gave a constant loss and no gradient, a negative
    weight on an ignored element passed, where NumPy and JAX refuse both."""
    multilabel = backend.startswith("multilabel")
    options = {"task": "multilabel", "num_classes": 2} if multilabel else {}
    metric = compile_metric("f1", ignore_index=IGNORE, **options)
    z = np.zeros((4, 2)) if multilabel else np.zeros(4)
    target = np.array([[0, 1], [IGNORE, IGNORE], [1, 0], [0, 0]]) if multilabel else np.array([0, 1, IGNORE, 1])
    with pytest.raises(MetriccError, match="positive entry"):
        call(backend.split("-")[-1], metric, z, target, np.zeros(4))
    negative_on_ignored = np.array([1.0, -1.0, 1.0, 1.0]) if multilabel else np.array([1.0, 1.0, -1.0, 1.0])
    with pytest.raises(MetriccError, match="finite and non-negative"):
        call(backend.split("-")[-1], metric, z, target, negative_on_ignored)
    positive_on_ignored_only = np.array([0.0, 1.0, 0.0, 0.0]) if multilabel else np.array([0.0, 0.0, 1.0, 0.0])
    with warnings.catch_warnings():  # (the weights leave every kept element out: no error, as NumPy has it)
        warnings.simplefilter("ignore")
        call(backend.split("-")[-1], metric, z, target, positive_on_ignored_only)


def test_jax_under_jit_poisons_a_users_all_zero_weights():
    loss_fn = jax.jit(compile_metric("f1", ignore_index=IGNORE).to_jax())
    z, target = jax.numpy.zeros(4), jax.numpy.array([0, 1, IGNORE, 1])
    assert np.isfinite(float(loss_fn(z, target, jax.numpy.ones(4))))
    assert np.isfinite(float(loss_fn(z, jax.numpy.full(4, IGNORE), jax.numpy.ones(4))))
    assert np.isnan(float(loss_fn(z, target, jax.numpy.zeros(4))))


@pytest.mark.parametrize("backend", ["numpy", "torch", "jax"])
def test_multiclass_weights_are_checked_as_given(backend):
    """A multi-class loss with ignore_index: all-zero weights and a negative weight on an ignored row raise in
    every backend (JAX had taken the negative one), weights on ignored rows alone give no error."""
    metric = compile_metric("f1", task="multiclass", num_classes=3, ignore_index=-100)
    z = np.random.default_rng(0).normal(size=(6, 3))
    target = np.array([0, 1, -100, 2, 1, 0])
    with pytest.raises(MetriccError, match="positive entry"):
        call(backend, metric, z, target, np.zeros(6))
    with pytest.raises(MetriccError, match="finite and non-negative"):
        call(backend, metric, z, target, np.array([1, 1, -1, 1, 1, 1.0]))
    call(backend, metric, z, target, np.array([0, 0, 1, 0, 0, 0.0]))


@pytest.mark.parametrize("backend", ["numpy", "torch", "jax"])
def test_ignored_elements_stay_out_without_input_checks(backend):
    """check_inputs=False skips the checks only: the ignored elements still count nowhere (a change to the torch
    binary loss's weight checks had left them in, as targets of 255, when the checks were off)."""
    z, target, y, ignored, _ = batch(seed=7)
    metric = compile_metric("f1", ignore_index=IGNORE)
    expected = compile_metric("f1").loss_and_grad(z[~ignored], y[~ignored])[0]
    if backend == "numpy":
        got = metric.loss_and_grad(z, target, check_inputs=False)[0]
    elif backend == "torch":
        got = float(metric.to_torch(pure=True, check_inputs=False)(torch.tensor(z), torch.tensor(target)))
    else:
        got = float(metric.to_jax(check_inputs=False)(jax.numpy.asarray(z), jax.numpy.asarray(target)))
    assert got == pytest.approx(expected, rel=1e-5)


def test_a_multilabel_blend_averages_over_the_kept_elements():
    """Multi-label with ignore_index: the BCE blend is C times the mean BCE over the elements kept (element weights
    over their total per label), so that with nothing ignored it is the sum of the labels' mean BCE, the blend
    without ignore_index."""
    g = torch.Generator().manual_seed(3)
    x = torch.randn(20, 3, generator=g, dtype=torch.float64)
    y = (torch.rand(20, 3, generator=g) < 0.3).double()
    plain, ignoring = (compile_metric("f1", task="multilabel", num_classes=3, **options).to_torch(pure=True,
                                                                                                 bce_weight=0.5)
                       for options in ({}, {"ignore_index": 255}))
    assert torch.allclose(ignoring(x, y), plain(x, y), rtol=1e-12, atol=0)
    masked = y.clone()
    masked[[0, 3, 4], [1, 1, 2]] = 255
    kept = masked != 255
    pure = compile_metric("f1", task="multilabel", num_classes=3, ignore_index=255).to_torch(pure=True)
    terms = torch.nn.functional.binary_cross_entropy_with_logits(x, y, reduction="none")
    blend = 3 * terms[kept].mean()
    assert torch.allclose(ignoring(x, masked), pure(x, masked) + 0.5 * blend, rtol=1e-12, atol=0)


def test_multilabel_ignored_scores_make_no_cut_off_of_their_own():
    """An ignored element's score joins its label's lowest kept score, weight 0: no cut-off of its own. Where
    that label's kept scores are all equal and precision is undefined above them (0/0), its one cut-off is the
    only defined one; ignored elements scored below it, given a cut-off of their own, made a second one of the
    same value, and tune_threshold() warned that every cut-off is as good as any other."""
    scores = np.array([[0.7, 0.2], [0.7, 0.9], [0.7, 0.4], [0.1, 0.6], [-3.0, 0.3]])
    target = np.array([[1, 0], [0, 1], [1, 1], [-1, 0], [-1, 1]])
    metric = compile_metric("precision", task="multilabel", num_classes=2, ignore_index=-1)
    thresholds, values = metric.tune_threshold(scores, target)  # (warnings are errors in this suite)
    for k in range(2):
        kept = target[:, k] != -1
        assert (thresholds[k], values[k]) == compile_metric("precision").tune_threshold(scores[kept, k],
                                                                                        target[kept, k])
    assert (thresholds[0], values[0]) == (0.7, 2 / 3)
