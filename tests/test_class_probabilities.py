"""Multi-class targets given as class probabilities (n, C), as torch.nn.CrossEntropyLoss takes them: label
smoothing, mixup, a teacher's soft labels. The soft counts are linear in the labels, so the oracle is the same
loss on class indices with each sample repeated once per class, weighted by its probability of that class (the
gradient of a repeated sample is the sum over its copies)."""

import jax
import numpy as np
import pytest
import torch

from metricc import MetriccError, compile_metric

C = 4
MCC = "(TP*TN - FP*FN)/sqrt((TP+FP)*(TP+FN)*(TN+FP)*(TN+FN))"  # one-vs-rest, per class
FORMULAS = ["f1", MCC, "minimize: FP + 5*FN"]


def soft_batch(seed, n=24, classes=C):
    """Logits, class-probability rows (some one-hot, some smoothed, some mixed) and sample weights."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0, 2, (n, classes))
    target = rng.dirichlet(np.full(classes, 0.5), n)
    target[: n // 4] = np.eye(classes)[rng.integers(0, classes, n // 4)]
    return z, target, rng.uniform(0.5, 2, n)


def repeated(z, target, w):
    """Each sample once per class, with that class's index and its weight times the class's probability."""
    n, classes = target.shape
    return np.repeat(z, classes, 0), np.tile(np.arange(classes), n), np.repeat(w, classes) * target.reshape(-1)


def call(backend, loss_fn, z, target, w=None):
    """(loss, d loss / d z) as NumPy, in float64, through `backend` ("numpy", "torch" or "jax")."""
    if backend == "numpy":
        loss, grad = loss_fn.loss_and_grad(z, target, w)
        return float(np.sum(loss)), grad
    if backend == "torch":
        x = torch.tensor(z, requires_grad=True)
        loss = loss_fn(x, torch.tensor(target), None if w is None else torch.tensor(w))
        loss.sum().backward()
        return float(loss.detach().sum()), x.grad.numpy()
    with jax.enable_x64(True):
        w = None if w is None else jax.numpy.asarray(w)
        value, grad = jax.value_and_grad(lambda v: loss_fn(v, jax.numpy.asarray(target), w).sum())(
            jax.numpy.asarray(z))
        return float(value), np.asarray(grad)


def make(backend, metric, **options):
    return {"numpy": lambda: metric, "torch": lambda: metric.to_torch(pure=True, **options),
            "jax": lambda: metric.to_jax(**options)}[backend]()


@pytest.mark.parametrize("backend", ["numpy", "torch", "jax"])
@pytest.mark.parametrize("formula", FORMULAS)
@pytest.mark.parametrize("average", ["macro", "weighted", "micro", "none"])
@pytest.mark.parametrize("weighted", [False, True])
def test_loss_and_gradient_are_those_of_the_repeated_samples(backend, formula, average, weighted):
    z, target, w = soft_batch(0)
    metric = compile_metric(formula, task="multiclass", num_classes=C, average=average)
    loss_fn = make(backend, metric)
    loss, grad = call(backend, loss_fn, z, target, w if weighted else None)
    z_rep, index, w_rep = repeated(z, target, w if weighted else np.ones(len(z)))
    keep = w_rep > 0  # (the oracle's weights must not all be 0 per sample: every row has a positive entry)
    expected, grad_rep = call("numpy", metric, z_rep[keep], index[keep], w_rep[keep])
    expected_grad = np.zeros_like(z_rep)
    expected_grad[keep] = grad_rep
    assert loss == pytest.approx(expected, rel=1e-10, abs=1e-12)
    np.testing.assert_allclose(grad, expected_grad.reshape(len(z), C, C).sum(1), rtol=1e-8, atol=1e-13)


@pytest.mark.parametrize("backend", ["numpy", "torch", "jax"])
def test_one_hot_rows_equal_class_indices(backend):
    z, _, w = soft_batch(1)
    index = np.random.default_rng(1).integers(0, C, len(z))
    metric = compile_metric(MCC, task="multiclass", num_classes=C)
    loss_fn = make(backend, metric)
    for weight in (None, w):
        soft, hard = call(backend, loss_fn, z, np.eye(C)[index], weight), call(backend, loss_fn, z, index, weight)
        assert soft[0] == pytest.approx(hard[0], rel=1e-13)
        np.testing.assert_allclose(soft[1], hard[1], rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("classes", [3, 40])  # torch: class-major tensors, and (n, C) ones past 32 classes
@pytest.mark.parametrize("compiled", [False, True])
def test_torch_paths_agree_with_numpy(classes, compiled):
    z, target, w = soft_batch(2, n=64, classes=classes)
    metric = compile_metric("f1", task="multiclass", num_classes=classes)
    loss_fn = metric.to_torch(pure=True, compile=compiled)
    for dtype in (torch.float64, torch.float32):
        x = torch.tensor(z, dtype=dtype, requires_grad=True)
        loss = loss_fn(x, torch.tensor(target, dtype=dtype), torch.tensor(w, dtype=dtype))
        loss.backward()
        expected, expected_grad = metric.loss_and_grad(z, target, w)
        tolerance = 1e-12 if dtype == torch.float64 else 2e-5
        assert float(loss.detach()) == pytest.approx(expected, rel=tolerance)
        np.testing.assert_allclose(x.grad.double().numpy(), expected_grad, rtol=tolerance * 100,
                                   atol=tolerance * np.abs(expected_grad).max())


def test_torch_gradient_matches_finite_differences():
    z, target, w = soft_batch(3, n=10)
    loss_fn = compile_metric(MCC, task="multiclass", num_classes=C, L=12).to_torch(pure=True)
    x = torch.tensor(z, requires_grad=True)
    assert torch.autograd.gradcheck(lambda v: loss_fn(v, torch.tensor(target), torch.tensor(w)), (x,))


@pytest.mark.parametrize("backend", ["numpy", "torch", "jax"])
def test_per_element_probabilities_are_rows(backend):
    """Segmentation logits (N, C, H, W) with probability maps (N, C, H, W), as CrossEntropyLoss takes them."""
    rng = np.random.default_rng(4)
    z = rng.normal(size=(2, C, 3, 5))
    target = np.moveaxis(rng.dirichlet(np.ones(C), (2, 3, 5)), -1, 1)
    w = rng.uniform(0.5, 2, (2, 3, 5))
    loss_fn = make(backend, compile_metric("dice", task="multiclass", num_classes=C))
    loss, grad = call(backend, loss_fn, z, target, w)
    rows = (np.moveaxis(z, 1, -1).reshape(-1, C), np.moveaxis(target, 1, -1).reshape(-1, C), w.reshape(-1))
    expected, expected_grad = call(backend, loss_fn, *rows)
    assert loss == pytest.approx(expected, rel=1e-12)
    np.testing.assert_allclose(np.moveaxis(grad, 1, -1).reshape(-1, C), expected_grad, rtol=1e-10, atol=1e-15)


def test_jit_takes_probabilities():
    z, target, w = soft_batch(5)
    metric = compile_metric("f1", task="multiclass", num_classes=C)
    loss_fn = metric.to_jax()
    with jax.enable_x64(True):
        jitted = jax.jit(jax.value_and_grad(lambda v, t: loss_fn(v, t)))
        loss, grad = jitted(jax.numpy.asarray(z), jax.numpy.asarray(target))
        bad_loss, _ = jitted(jax.numpy.asarray(z), jax.numpy.asarray(target * 2))  # rows summing to 2: NaN
    expected, expected_grad = metric.loss_and_grad(z, target)
    assert float(loss) == pytest.approx(expected, rel=1e-12)
    np.testing.assert_allclose(np.asarray(grad), expected_grad, rtol=1e-10, atol=1e-15)
    assert np.isnan(float(bad_loss))


def test_cross_entropy_blend_takes_the_probabilities():
    z, target, w = soft_batch(6)
    metric = compile_metric("f1", task="multiclass", num_classes=C)
    x, t = torch.tensor(z), torch.tensor(target)
    blended = metric.to_torch(pure=True, bce_weight=0.5)(x, t, torch.tensor(w))
    pure = metric.to_torch(pure=True)(x, t, torch.tensor(w))
    cross_entropy = torch.nn.functional.cross_entropy(x, t, reduction="none")
    expected = pure + 0.5 * (cross_entropy * torch.tensor(w)).sum() / torch.tensor(w).sum()
    assert float(blended) == pytest.approx(float(expected), rel=1e-12)


def test_running_counts_follow_the_probabilities():
    """With momentum the running estimates take the soft counts: the same as the repeated samples' counts."""
    z, target, w = soft_batch(7)
    metric = compile_metric("f1", task="multiclass", num_classes=C)
    soft, hard = metric.to_torch(momentum=0.5), metric.to_torch(momentum=0.5)
    z_rep, index, w_rep = repeated(z, target, w)
    soft(torch.tensor(z, requires_grad=True), torch.tensor(target), torch.tensor(w))
    hard(torch.tensor(z_rep, requires_grad=True), torch.tensor(index), torch.tensor(w_rep))
    torch.testing.assert_close(soft.running, hard.running, rtol=1e-12, atol=1e-15)


# -- what is refused -----------------------------------------------------------------------------------------

BAD_ROWS = {
    "negative": (np.array([[1.2, -0.2, 0, 0]]), "Expected class probabilities in [0, 1], but got an entry of -0.2"),
    "multi-hot": (np.array([[1.0, 1.0, 0, 0]]), "Expected class probabilities whose rows sum to 1, but a row's sum "
                                                 "is 2 (labels that co-occur? compile with task='multilabel'"),
    "zero row": (np.array([[0.0, 0, 0, 0]]), "Expected class probabilities whose rows sum to 1, but a row's sum "
                                              "is 0 (labels that co-occur? compile with task='multilabel'"),
    "nan": (np.array([[np.nan, 0, 0, 1]]), "Expected class probabilities in [0, 1], but got an entry of nan"),
    # above 1 in a row whose sum lies within the rounding tolerance of 1
    "above one": (np.array([[1.005, 0, 0, 0]]), "Expected class probabilities in [0, 1], but got an entry of 1.005"),
}


@pytest.mark.parametrize("backend", ["numpy", "torch", "jax"])
@pytest.mark.parametrize("kind", list(BAD_ROWS))
def test_bad_probability_rows_are_refused(backend, kind):
    z, target, _ = soft_batch(8, n=6)
    row, message = BAD_ROWS[kind]
    target[2] = row
    loss_fn = make(backend, compile_metric("f1", task="multiclass", num_classes=C))
    with pytest.raises(MetriccError) as raised:
        call(backend, loss_fn, z, target)
    assert message in str(raised.value)


@pytest.mark.parametrize("backend", ["numpy", "torch", "jax"])
def test_rows_may_round_off_one_in_half_precision(backend):
    """bfloat16 rounds 1/3 to 0.333984: a smoothed row sums to 1.002, which is still a probability row."""
    z, _, _ = soft_batch(9, n=6, classes=3)
    target = np.full((6, 3), 1 / 3)
    if backend == "torch":
        target = torch.tensor(target, dtype=torch.bfloat16)
        loss = compile_metric("f1", task="multiclass", num_classes=3).to_torch(pure=True)(torch.tensor(z), target)
        assert torch.isfinite(loss)
    else:
        loss_fn = make(backend, compile_metric("f1", task="multiclass", num_classes=3))
        assert np.isfinite(call(backend, loss_fn, z, target.astype(np.float16))[0])


@pytest.mark.parametrize("backend", ["numpy", "torch", "jax"])
def test_integer_one_hot_rows_say_what_to_do(backend):
    z, target, _ = soft_batch(10, n=6)
    loss_fn = make(backend, compile_metric("f1", task="multiclass", num_classes=C))
    with pytest.raises(MetriccError, match=r"pass class indices: target.argmax\(1\), or class probabilities as "
                                           r"floats: target.float\(\)"):
        call(backend, loss_fn, z, np.eye(C, dtype=np.int64)[target.argmax(1)])


@pytest.mark.parametrize("backend", ["numpy", "torch", "jax"])
def test_ignore_index_is_refused_with_probabilities(backend):
    """An ignore label marks class indices; probability rows have none (give a row sample_weight 0 instead)."""
    z, target, _ = soft_batch(11, n=6)
    loss_fn = make(backend, compile_metric("f1", task="multiclass", num_classes=C, ignore_index=255))
    with pytest.raises(MetriccError, match="ignore_index=255 marks class indices; with class probabilities, "
                                           "leave a row out with sample_weight 0"):
        call(backend, loss_fn, z, target)


def test_score_takes_class_indices_only():
    z, target, _ = soft_batch(12, n=6)
    metric = compile_metric("f1", task="multiclass", num_classes=C)
    with pytest.raises(MetriccError, match=r"score\(\) counts hard labels: pass class indices"):
        metric.score(z.argmax(1), target)


@pytest.mark.parametrize("backend", ["numpy", "torch", "jax"])
def test_emitted_modules_take_probabilities(backend):
    from oracles import load_emitted

    z, target, w = soft_batch(13)
    metric = compile_metric("f1", task="multiclass", num_classes=C)
    loss_fn = load_emitted(metric.emit(backend))["MetricLoss"]()
    if backend == "torch":  # (the emitted torch module trains at TRAINING_L: compare it with to_torch()'s)
        metric = metric.to_torch()
    loss, grad = call(backend, loss_fn, z, target, w)
    expected, expected_grad = call("numpy" if backend != "torch" else "torch", metric, z, target, w)
    assert loss == pytest.approx(expected, rel=1e-12)
    np.testing.assert_allclose(grad, expected_grad, rtol=1e-10, atol=1e-15)
    target[0] = [0.5, 0.5, 0.5, 0]
    with pytest.raises(Exception, match="Expected class probabilities whose rows sum to 1, but a row's sum is 1.5"):
        call(backend, loss_fn, z, target, w)
