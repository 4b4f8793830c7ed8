"""Multi-class and multi-label losses: hard predictions against scikit-learn for every average, gradients
against torch autograd through a plain implementation and against finite differences, and argument errors."""

import re
import warnings

import numpy as np
import pytest
import torch
from sklearn import metrics as skm

from metricc import MetriccError, MetriccWarning, compile_metric
from oracles import central_differences, multiclass_f1_gradient_60_digits

AVERAGES = ["macro", "micro", "weighted", "none"]
SKLEARN = {"f1": skm.f1_score, "precision": skm.precision_score, "recall": skm.recall_score,
           "jaccard": skm.jaccard_score}
C = 4


def _sk_average(average):
    return None if average == "none" else average


@pytest.mark.parametrize("name", sorted(SKLEARN))
@pytest.mark.parametrize("average", AVERAGES)
@pytest.mark.parametrize("seed", range(3))
def test_multiclass_hard_predictions_match_sklearn(name, average, seed):
    rng = np.random.default_rng(seed)
    target = np.concatenate([np.arange(C), rng.choice(C, 200, p=[0.6, 0.25, 0.1, 0.05])])
    predictions = np.where(rng.random(len(target)) < 0.6, target, rng.integers(0, C, len(target)))
    predictions[:C] = np.arange(C)  # every class predicted at least once: no 0/0
    metric = compile_metric(name, task="multiclass", num_classes=C, average=average)
    expected = SKLEARN[name](target, predictions, average=_sk_average(average))
    np.testing.assert_allclose(metric.score(predictions, target), expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("name", sorted(SKLEARN))
@pytest.mark.parametrize("average", AVERAGES)
def test_multilabel_hard_predictions_match_sklearn(name, average):
    rng = np.random.default_rng(1)
    target = (rng.random((150, C)) < [0.5, 0.3, 0.2, 0.1]).astype(int)
    predictions = np.where(rng.random((150, C)) < 0.7, target, 1 - target)
    target[:2], predictions[:2] = 1, 1  # every label present and predicted
    metric = compile_metric(name, task="multilabel", num_classes=C, average=average)
    expected = SKLEARN[name](target, predictions, average=_sk_average(average))
    np.testing.assert_allclose(metric.score(predictions, target), expected, rtol=0, atol=1e-12)


def _plain_loss(score, z, y, w, task, average, L=73.0, eps=1e-6):
    """The loss written plainly in torch, for autograd."""
    if task == "multilabel":
        yh = torch.sigmoid((torch.sigmoid(z) - 0.5) * L)
    else:
        yh = torch.softmax(torch.softmax(z, dim=1) * (L / 2), dim=1)
    wy, wn = w[:, None] * y, w[:, None] * (1 - y)
    TP, FP, FN, TN = (wy * yh).sum(0), (wn * yh).sum(0), (wy * (1 - yh)).sum(0), (wn * (1 - yh)).sum(0)
    if average == "micro":
        return 1 - score(TP.sum() + eps, FP.sum() + eps, FN.sum() + eps, TN.sum() + eps)
    per_class = 1 - score(TP + eps, FP + eps, FN + eps, TN + eps)
    if average == "none":
        return per_class.sum()
    weight = (wy.sum(0) if average == "weighted" else torch.ones(z.shape[1], dtype=z.dtype))
    return (weight / weight.sum() * per_class).sum()


SCORES = {"f1": lambda TP, FP, FN, TN: 2 * TP / (2 * TP + FP + FN),
          "mcc": lambda TP, FP, FN, TN: (TP * TN - FP * FN) / torch.sqrt((TP + FP) * (TP + FN) * (TN + FP)
                                                                          * (TN + FN))}


# multi-class "mcc" by name is refused (it is a K x K statistic); the one-vs-rest formula is asked for by writing it
ONE_VS_REST = {"f1": "f1", "mcc": "(TP*TN - FP*FN)/sqrt(PP*POS*NEG*PN)"}


@pytest.mark.parametrize("task", ["multiclass", "multilabel"])
@pytest.mark.parametrize("average", AVERAGES)
@pytest.mark.parametrize("name", sorted(SCORES))
def test_gradients_match_autograd_and_finite_differences(task, average, name):
    rng = np.random.default_rng(2)
    n = 30
    z = rng.normal(0, 0.3, (n, C))
    labels = rng.integers(0, C, n)
    y = np.eye(C)[labels] if task == "multiclass" else (rng.random((n, C)) < 0.4).astype(float)
    w = rng.uniform(0.5, 2.0, n)
    target = labels if task == "multiclass" else y
    metric = compile_metric(ONE_VS_REST[name], task=task, num_classes=C, average=average)
    x = torch.tensor(z, requires_grad=True)
    expected = _plain_loss(SCORES[name], x, torch.tensor(y), torch.tensor(w), task, average)
    expected.backward()
    loss, grad = metric.loss_and_grad(z, target, w)
    xt = torch.tensor(z, requires_grad=True)
    torch_loss = metric.to_torch(pure=True)(xt, torch.tensor(target), torch.tensor(w))
    (torch_loss.sum() if average == "none" else torch_loss).backward()
    scale = np.max(np.abs(x.grad.numpy()))
    assert float(np.sum(loss)) == pytest.approx(expected.item(), rel=1e-9)
    for g in (grad, xt.grad.numpy()):
        assert np.max(np.abs(g - x.grad.numpy())) <= 1e-7 * scale
    if average != "none":
        numeric = central_differences(lambda v: metric.loss_and_grad(v.reshape(n, C), target, w)[0], z.ravel(),
                                      h=1e-6).reshape(n, C)
        assert np.max(np.abs(grad - numeric)) <= 1e-5 * scale


@pytest.mark.parametrize("task", ["multiclass", "multilabel"])
@pytest.mark.parametrize("formula, score", [
    ("min(TNR, exp(-alpha)) * TPR", lambda TP, FP, FN, TN: torch.clamp(TN / (TN + FP), max=np.exp(-0.05))
     * TP / (TP + FN)),
    ("minimize: -2*max(TN/N - alpha, sqrt(alpha))", lambda TP, FP, FN, TN:
     1 + 2 * torch.clamp(TN / (TP + FP + FN + TN) - 0.05, min=np.sqrt(0.05)))])
def test_min_and_max_of_a_constant_that_the_formula_shares(task, formula, score):
    """A constant that appears twice (exp(-alpha) in the loss and in its gradient) becomes a shared subexpression:
    torch.minimum(x0, x2) with x0 a Python float raised TypeError in every multi-class and multi-label torch loss
    (found by drawing formulas with min and max from the grammar). Constants stay inline, where min and max print
    as clamp; the torch losses equal autograd's."""
    rng = np.random.default_rng(4)
    n = 40
    z = rng.normal(0, 1.0, (n, C))
    labels = rng.integers(0, C, n)
    y = np.eye(C)[labels] if task == "multiclass" else (rng.random((n, C)) < 0.4).astype(float)
    metric = compile_metric(formula, task=task, num_classes=C, alpha=0.05)
    target = labels if task == "multiclass" else y
    x = torch.tensor(z, requires_grad=True)
    expected = _plain_loss(score, x, torch.tensor(y), torch.ones(n, dtype=torch.float64), task, "macro")
    expected.backward()
    for pure in (True, False):
        xt = torch.tensor(z, requires_grad=True)
        loss = metric.to_torch(pure=pure, L=73.0)(xt, torch.tensor(target))
        loss.backward()
        if pure:
            assert x.grad.abs().max() > 0  # the constant does not decide the loss alone
            assert loss.item() == pytest.approx(expected.item(), rel=1e-9)
            assert np.max(np.abs(xt.grad.numpy() - x.grad.numpy())) <= 1e-7 * np.max(np.abs(x.grad.numpy()))
        else:
            assert torch.isfinite(loss) and torch.isfinite(xt.grad).all()


@pytest.mark.parametrize("backend, dtype", [("numpy", "float64"), ("numpy", "float32"), ("torch", "float64"),
                                            ("torch", "float32"), ("jax", "float32")])
def test_confident_rows_have_the_exact_gradient(backend, dtype):
    """Rows with a confident class (a logit 20 above or below the others: the largest yh is 1 - 1e-16 at L = 73):
    every gradient entry equals a 60-digit oracle's, elementwise (float64 to 1e-12, float32 to 1e-5). Computing
    1 - yh and the softmax pullback of the largest entry by subtraction had passed every other test and was
    29-38 % off on those rows, in float64 too."""
    rng = np.random.default_rng(5)
    z = rng.normal(0, 0.5, (6, 3))
    z[2, 1], z[3, 0] = 20.0, -20.0
    labels = np.array([0, 1, 1, 2, 0, 2])
    metric = compile_metric("f1", task="multiclass", num_classes=3)
    if backend == "numpy":
        grad = metric.loss_and_grad(z.astype(dtype), labels)[1]
    elif backend == "torch":
        x = torch.tensor(z, dtype=getattr(torch, dtype), requires_grad=True)
        metric.to_torch(pure=True)(x, torch.tensor(labels)).backward()
        grad = x.grad.numpy()
    else:
        jax = pytest.importorskip("jax")
        grad = np.asarray(jax.grad(lambda t: metric.to_jax()(t, jax.numpy.asarray(labels)))(
            jax.numpy.asarray(z, jax.numpy.float32)))
    expected = multiclass_f1_gradient_60_digits(z, labels, metric.L)
    np.testing.assert_allclose(grad, expected, rtol=1e-12 if dtype == "float64" else 1e-5)


@pytest.mark.parametrize("backend", ["numpy", "torch", "jax", "xgboost"])
def test_a_softmax_does_not_see_a_shift_of_a_row(backend):
    """Adding one number to a row of logits leaves its softmax, so the loss and gradient, as they were: rows
    shifted by +-1000 (where exp overflows to inf or underflows to 0 in float64) give the unshifted rows' values
    (the booster objective's gradient and exact Hessian diagonal too)."""
    rng = np.random.default_rng(8)
    z = rng.normal(0, 1.0, (8, 3))
    labels = np.array([0, 1, 2, 0, 1, 2, 0, 1])
    shifted = z + np.array([1000.0, -1000.0, 0.0, 750.0, -750.0, 1000.0, -1000.0, 0.0])[:, None]
    metric = compile_metric("f1", task="multiclass", num_classes=3)

    def values(logits):
        if backend == "numpy":
            return metric.loss_and_grad(logits, labels)
        if backend == "xgboost":
            return metric.to_xgboost(mean_hessian=None, hessian="exact").gradient_and_hessian(logits, labels)
        if backend == "torch":
            x = torch.tensor(logits, requires_grad=True)
            loss = metric.to_torch(pure=True)(x, torch.tensor(labels))
            loss.backward()
            return loss.item(), x.grad.numpy()
        jax = pytest.importorskip("jax")
        with jax.enable_x64(True):
            loss, grad = jax.value_and_grad(lambda t: metric.to_jax()(t, jax.numpy.asarray(labels)))(
                jax.numpy.asarray(logits, jax.numpy.float64))
        return float(loss), np.asarray(grad)

    expected, actual = values(z), values(shifted)
    for want, got in zip(expected, actual):
        assert np.all(np.isfinite(got))
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12 * np.max(np.abs(want)))


@pytest.mark.parametrize("classes", [3, 40])  # class-major (C, n) and sample-major (n, C) tensors inside
@pytest.mark.parametrize("weighted", [False, True])
def test_torch_multiclass_layouts_ties_and_confident_rows(classes, weighted):
    """Rows whose largest logit is tied (no single top entry), rows with one confident class (p rounds to 1 in
    float32) and ordinary rows: the torch loss and gradient equal autograd through the plain formula."""
    rng = np.random.default_rng(5)
    n = 24
    z = rng.normal(0, 0.5, (n, classes))
    z[0] = 0.0  # every entry tied
    z[1, :2] = z[1].max() + 1.0  # two tied largest entries
    z[2, 1] = 40.0  # confident
    labels = rng.integers(0, classes, n)
    w = rng.uniform(0.5, 2.0, n) if weighted else np.ones(n)
    metric = compile_metric("f1", task="multiclass", num_classes=classes)
    x = torch.tensor(z, requires_grad=True)
    expected = _plain_loss(SCORES["f1"], x, torch.tensor(np.eye(classes)[labels]), torch.tensor(w), "multiclass",
                           "macro")
    expected.backward()
    for dtype, tolerance in ((torch.float64, 1e-9), (torch.float32, 2e-4)):
        xt = torch.tensor(z, dtype=dtype, requires_grad=True)
        loss = metric.to_torch(pure=True)(xt, torch.tensor(labels), torch.tensor(w, dtype=dtype) if weighted else None)
        loss.backward()
        assert loss.item() == pytest.approx(expected.item(), rel=tolerance)
        scale = x.grad.abs().max().item()
        assert (xt.grad.double() - x.grad).abs().max().item() <= tolerance * scale


def test_ignore_index_and_class_weight():
    rng = np.random.default_rng(3)
    z = rng.normal(0, 0.3, (20, 3))
    t = rng.integers(0, 3, 20)
    t_ignored = t.copy()
    t_ignored[:5] = -100
    metric = compile_metric("f1", task="multiclass", num_classes=3, ignore_index=-100)
    kept = compile_metric("f1", task="multiclass", num_classes=3)
    assert metric.loss_and_grad(z, t_ignored)[0] == pytest.approx(kept.loss_and_grad(z[5:], t[5:])[0], rel=1e-12)
    assert np.all(metric.loss_and_grad(z, t_ignored)[1][:5] == 0)
    weighted = compile_metric("f1", task="multiclass", num_classes=3, class_weight=[1.0, 0.0, 0.0])
    per_class = compile_metric("f1", task="multiclass", num_classes=3, average="none").loss_and_grad(z, t)[0]
    assert weighted.loss_and_grad(z, t)[0] == pytest.approx(per_class[0], rel=1e-12)


def test_two_classes_reduce_to_the_binary_amplifier():
    rng = np.random.default_rng(4)
    z = rng.normal(0, 1, 40)
    y = (rng.random(40) < 0.4).astype(int)
    binary = compile_metric("f1").loss_and_grad(z, y)[0]
    # logits (0, z): softmax gives p = sigmoid(z) for class 1; micro-F1 over classes differs, so compare class 1
    two = compile_metric("f1", task="multiclass", num_classes=2, average="none").loss_and_grad(
        np.column_stack([np.zeros(40), z]), y)[0]
    assert two[1] == pytest.approx(binary, rel=1e-9)


@pytest.mark.parametrize("kwargs, message", [
    ({"task": "multiclass"}, "num_classes"),
    ({"task": "ternary"}, "task"),
    ({"task": "multiclass", "num_classes": 3, "average": "samples"}, "average"),
    ({"num_classes": 3}, "need task="),
    ({"task": "multilabel", "num_classes": 3, "ignore_index": 0}, "ignore_index"),
    ({"task": "multiclass", "num_classes": 3, "class_weight": [1, 2]}, "class_weight"),
])
def test_argument_errors(kwargs, message):
    with pytest.raises(MetriccError, match=message):
        compile_metric("f1", **kwargs)


def test_input_errors():
    metric = compile_metric("f1", task="multiclass", num_classes=3)
    with pytest.raises(MetriccError, match="shape"):
        metric.loss_and_grad(np.zeros((4, 2)), np.zeros(4, dtype=int))
    with pytest.raises(MetriccError, match="class indices"):
        metric.loss_and_grad(np.zeros((4, 3)), np.array([0, 1, 2, 3]))
    with pytest.raises(MetriccError, match="class indices"):
        metric.to_torch(pure=True)(torch.zeros(4, 3), torch.tensor([0, 1, 2, 3]))
    for run in (lambda z: metric.loss_and_grad(z, np.zeros(4, dtype=int)),
                lambda z: metric.to_torch(pure=True)(torch.tensor(z), torch.zeros(4, dtype=torch.int64))):
        with pytest.raises(MetriccError, match="NaN"):
            run(np.array([[0.0, np.nan, 0.0]] * 4))


@pytest.mark.parametrize("task", ["multiclass", "multilabel"])
@pytest.mark.parametrize("dtype", [bool, np.int8, np.uint16])
def test_numpy_logits_of_booleans_or_integers_count_as_numbers(task, dtype):
    """Boolean logits raised NumPy's TypeError ("numpy boolean subtract ... is not supported") from inside the
    multi-label loss's hint about probabilities; the binary and multi-class losses read them as the numbers 0 and
    1, as they read integer logits: so does it now."""
    metric = compile_metric("f1", task=task, num_classes=3)
    z = np.array([[1, 0, 1], [0, 0, 1], [1, 1, 0], [0, 1, 0]])
    y = np.array([0, 2, 1, 1]) if task == "multiclass" else np.array([[1, 0, 1], [0, 1, 1], [1, 0, 0], [0, 0, 0]])
    with warnings.catch_warnings():  # 0 and 1 look like probabilities, and the multi-label loss says so
        warnings.simplefilter("ignore", MetriccWarning)
        value, grad = metric.loss_and_grad(z.astype(dtype), y)  # first: the hint's state is fresh
        expected = metric.loss_and_grad(z.astype(np.float64), y)
    assert value == expected[0]
    np.testing.assert_array_equal(grad, expected[1])


@pytest.mark.parametrize("pure", [True, False])
def test_torch_multilabel_complex_target_is_refused(pure):
    """A complex multi-label target raised torch's NotImplementedError ("aminmax_cpu" not implemented for
    'ComplexFloat') from inside the loss; the binary and multi-class losses already refused it by name."""
    loss = compile_metric("f1", task="multilabel", num_classes=3).to_torch(pure=pure)
    with pytest.raises(MetriccError, match=re.escape("Expected `target` to hold real numbers, but got torch.complex64")):
        loss(torch.zeros(4, 3), torch.zeros(4, 3, dtype=torch.complex64))


@pytest.mark.parametrize("kwargs, message", [
    ({"formula": "mcc"}, "K x K confusion matrix"),
    ({"formula": "cohen_kappa"}, "K x K confusion matrix"),
    ({"formula": "f1", "from_logits": False}, "takes logits"),
    ({"formula": "f1", "threshold": 0.3}, "has no threshold"),
])
def test_settings_a_multiclass_loss_would_ignore_are_refused(kwargs, message):
    with pytest.raises(MetriccError, match=message):
        compile_metric(task="multiclass", num_classes=3, **kwargs)


@pytest.mark.parametrize("task, hint", [
    ("multiclass", "pass the logits, or log-probabilities, which give the same softmax"),
    ("multilabel", "pass each label's logit, log(p) - log(1 - p) of its probability p"),
])
def test_probabilities_refused_say_what_to_pass(task, hint):
    """A multi-label loss refused from_logits=False with the multi-class hint (log-probabilities give the same
    softmax), which is wrong for its per-label sigmoids."""
    with pytest.raises(MetriccError, match=re.escape(f"task={task!r} takes logits: from_logits=False is not "
                                                     f"supported ({hint})")):
        compile_metric("f1", task=task, num_classes=3, from_logits=False)


@pytest.mark.parametrize("name, use, average, sklearn_score", [
    ("accuracy", "recall", "micro", lambda y, p, w: skm.accuracy_score(y, p, sample_weight=w)),
    ("balanced_accuracy", "recall", "macro", lambda y, p, w: skm.balanced_accuracy_score(y, p, sample_weight=w)),
    ("informedness", "(4*TPR - 1)/3", "macro",
     lambda y, p, w: skm.balanced_accuracy_score(y, p, adjusted=True, sample_weight=w))])
def test_named_scores_that_scikit_learn_defines_otherwise_for_many_classes_are_refused(name, use, average,
                                                                                         sklearn_score):
    """scikit-learn's multi-class accuracy_score and balanced_accuracy_score are not the mean of one-vs-rest
    accuracies or (TPR + TNR) / 2 (4 classes: 0.861 against accuracy_score's 0.722, 0.813 against 0.718): the
    names are refused with what computes scikit-learn's score, which then equals it."""
    with pytest.raises(MetriccError, match=re.escape(use)):
        compile_metric(name, task="multiclass", num_classes=4)
    rng = np.random.default_rng(3)
    y = rng.integers(0, 4, 500)
    p, w = np.where(rng.random(500) < 0.6, y, rng.integers(0, 4, 500)), rng.uniform(0.5, 2.0, 500)
    score = compile_metric(use, task="multiclass", num_classes=4, average=average).score(p, y, w)
    assert score == pytest.approx(sklearn_score(y, p, w), rel=1e-12)


@pytest.mark.parametrize("name, sklearn_score", [
    ("accuracy", skm.accuracy_score), ("balanced_accuracy", skm.balanced_accuracy_score),
    ("informedness", lambda y, p, sample_weight: skm.balanced_accuracy_score(y, p, adjusted=True,
                                                                             sample_weight=sample_weight)),
    ("mcc", skm.matthews_corrcoef), ("cohen_kappa", skm.cohen_kappa_score)])
def test_named_scores_of_two_classes_are_scikit_learns(name, sklearn_score):
    """For two classes each of these scores is the same for either class, so their macro and weighted means (and
    each class's value) are scikit-learn's score, and the names compile; pooled counts ("micro") are not (balanced
    accuracy's would be accuracy, MCC's 2 accuracy - 1) and are refused."""
    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, 300)
    p, w = np.where(rng.random(300) < 0.7, y, 1 - y), rng.uniform(0.5, 2.0, 300)
    for average in ("macro", "weighted", "none"):
        score = compile_metric(name, task="multiclass", num_classes=2, average=average).score(p, y, w)
        assert np.all(np.isclose(score, sklearn_score(y, p, sample_weight=w), rtol=1e-12, atol=0)), average
    if name != "accuracy":  # (pooled, the two classes' accuracy is accuracy)
        with pytest.raises(MetriccError, match=f"multi-class {name} "):
            compile_metric(name, task="multiclass", num_classes=2, average="micro")


def test_multilabel_keeps_its_threshold_and_named_mcc():
    assert compile_metric("mcc", task="multilabel", num_classes=3, threshold=0.3).threshold == 0.3


def test_torch_multiclass_raises_instead_of_returning_nan():
    loss = compile_metric("TP/(TP - 1)", task="multiclass", num_classes=3, eps=0.0).to_torch(pure=True)
    z = torch.zeros(3, 3)
    z[:, 0] = 50.0  # class 0 wins everywhere: TP of class 0 is 1, its denominator vanishes
    with pytest.raises(MetriccError, match="not finite"):
        loss(z, torch.tensor([0, 1, 2]))


@pytest.mark.parametrize("task, classes", [("multiclass", 3), ("multiclass", 40), ("multilabel", 4)])
def test_fused_multiclass_path_equals_eager(task, classes):
    """compile=True runs both passes through torch.compile: the same loss and gradient as the eager path."""
    rng = np.random.default_rng(6)
    n = 50
    z = torch.tensor(rng.normal(0, 1.0, (n, classes)), dtype=torch.float32)
    z[0] = 0.0  # tied
    target = (torch.tensor(rng.integers(0, classes, n)) if task == "multiclass"
              else torch.tensor((rng.random((n, classes)) < 0.3).astype(np.float32)))
    w = torch.tensor(rng.uniform(0.5, 2.0, n), dtype=torch.float32)
    metric = compile_metric("f1", task=task, num_classes=classes)
    fused = metric.to_torch(pure=True, compile=True)
    if not fused.fused:
        pytest.skip("torch.compile is unavailable here")
    results = []
    for loss_fn in (metric.to_torch(pure=True), fused):
        x = z.clone().requires_grad_(True)
        loss = loss_fn(x, target, w)
        loss.backward()
        results.append((loss.item(), x.grad))
    assert results[1][0] == pytest.approx(results[0][0], rel=1e-6)
    assert (results[1][1] - results[0][1]).abs().max().item() <= 1e-5 * results[0][1].abs().max().item()


BAD_WEIGHTS = {"negative": ([1.0, -1.0, 1.0, 1.0, 1.0, 1.0], "finite and non-negative"),
               "NaN": ([1.0, float("nan"), 1.0, 1.0, 1.0, 1.0], "finite and non-negative"),
               "infinite": ([1.0, float("inf"), 1.0, 1.0, 1.0, 1.0], "finite and non-negative"),
               "all zero": ([0.0] * 6, "positive entry, but all are zero")}


@pytest.mark.parametrize("backend", ["numpy", "torch", "jax"])
@pytest.mark.parametrize("task", ["multiclass", "multilabel"])
@pytest.mark.parametrize("bad", BAD_WEIGHTS)
def test_bad_sample_weights_are_refused_as_for_binary_losses(bad, task, backend):
    """Negative, NaN, infinite and all-zero sample weights get the binary losses' messages: the torch module
    took negative ones silently and blamed NaN ones on the formula, and every backend gave 0.5 for all-zero ones
    (the smoothed counts of an empty batch) where the binary losses refuse them."""
    weights, message = BAD_WEIGHTS[bad]
    metric = compile_metric("f1", task=task, num_classes=3)
    rng = np.random.default_rng(0)
    z = rng.normal(size=(6, 3))
    y = np.array([0, 1, 2, 0, 1, 2]) if task == "multiclass" else (rng.random((6, 3)) < 0.5).astype(float)
    if backend == "numpy":
        call = lambda: metric.loss_and_grad(z, y, np.array(weights))  # noqa: E731
    elif backend == "torch":
        loss = metric.to_torch(momentum=0.9)
        call = lambda: loss(torch.tensor(z), torch.tensor(y), torch.tensor(weights, dtype=torch.float64))  # noqa: E731
    else:
        jnp = pytest.importorskip("jax.numpy")
        call = lambda: metric.to_jax()(jnp.asarray(z, jnp.float32), jnp.asarray(y), jnp.asarray(weights))  # noqa: E731
    with pytest.raises(MetriccError, match=f"Expected `sample_weight` to (be|have a) {message}"):
        call()
    if backend == "torch":
        assert not loss.running.any()  # the refused batch did not enter the running counts


@pytest.mark.parametrize("task", ["multiclass", "multilabel"])
@pytest.mark.parametrize("average", ["macro", "micro"])
def test_float32_torch_losses_compute_the_formula_in_float64(task, average):
    """The per-class formula and its partials are evaluated on the (tiny) counts: with float32 input they were
    evaluated in float32, where (FP + TP)^7 of counts near 1e-6 underflows, so the partial 6 / (FP + TP)^7 was
    infinite and the gradient NaN while the loss was finite (light sample weights, found by fuzzing). Like the
    binary kernel, they are now evaluated in float64: the float32 gradient is finite and equals the float64
    input's to float32 precision."""
    import warnings

    rng = np.random.default_rng(74)
    z = rng.normal(0, 1.3, (12, 3))
    y = rng.integers(0, 3, 12) if task == "multiclass" else (rng.random((12, 3)) < 0.5).astype(float)
    w = rng.uniform(0.5, 2, 12) * 1e-7
    module = compile_metric("(TP/(TP + FP))^6", task=task, num_classes=3, average=average).to_torch()
    grads = []
    for dtype in (torch.float32, torch.float64):
        x = torch.tensor(z, dtype=dtype, requires_grad=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # weights too light for eps: warned, and not the point here
            module(x, torch.tensor(y, dtype=dtype if task == "multilabel" else torch.int64),
                   torch.tensor(w, dtype=dtype)).backward()
        grads.append(x.grad.double().numpy())
    assert np.isfinite(grads[0]).all()
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-3, atol=1e-6 * np.abs(grads[1]).max())


def _dense(task, seed=0):
    """Per-pixel logits (N, C, H, W), as torch.nn.CrossEntropyLoss takes them, targets and pixel weights."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(2, 3, 4, 5))
    if task == "multiclass":
        y = rng.integers(0, 3, size=(2, 4, 5))
        y[0, 0, :2] = 255  # ignored pixels
    else:
        y = (rng.random(size=(2, 3, 4, 5)) < 0.4) * 1.0
    return z, y, rng.uniform(0.5, 2.0, size=(2, 4, 5))


def _rows(z, y, w, task):
    """The same data as rows: (N H W, C) logits, targets and weights."""
    rows = np.moveaxis(z, 1, -1).reshape(-1, z.shape[1])
    return rows, (y.reshape(-1) if task == "multiclass" else np.moveaxis(y, 1, -1).reshape(rows.shape)), w.reshape(-1)


@pytest.mark.parametrize("backend", ["numpy", "torch", "jax"])
@pytest.mark.parametrize("task", ["multiclass", "multilabel"])
def test_per_pixel_logits_are_taken_as_cross_entropy_takes_them(backend, task):
    """Segmentation logits (N, C, H, W) with targets (N, H, W) (multi-label: (N, C, H, W)) and pixel weights were
    refused ("Expected `input` of shape (n, 3)"): the class dimension is now moved last and the pixels become
    rows, as torch.nn.CrossEntropyLoss does; loss and gradient equal those of the rows, the gradient in the
    logits' layout."""
    options = {"ignore_index": 255} if task == "multiclass" else {}
    metric = compile_metric("f1", task=task, num_classes=3, **options)
    z, y, w = _dense(task)
    rows, row_targets, row_weights = _rows(z, y, w, task)
    expected, expected_grad = metric.loss_and_grad(rows, row_targets, row_weights)
    expected_grad = np.moveaxis(expected_grad.reshape(2, 4, 5, 3), -1, 1)
    if backend == "numpy":
        loss, grad = metric.loss_and_grad(z, y, w)
    elif backend == "torch":
        x = torch.tensor(z, requires_grad=True)
        value = metric.to_torch(pure=True, L=73.0)(x, torch.tensor(y), torch.tensor(w))
        value.backward()
        loss, grad = float(value.detach()), x.grad.numpy()
    else:
        jax = pytest.importorskip("jax")
        with jax.enable_x64(True):
            loss_fn = metric.to_jax()
            loss, grad = jax.value_and_grad(loss_fn)(jax.numpy.asarray(z), jax.numpy.asarray(y), jax.numpy.asarray(w))
            loss, grad = float(loss), np.asarray(grad)
    assert loss == pytest.approx(expected, rel=1e-10)
    assert grad.shape == z.shape
    np.testing.assert_allclose(grad, expected_grad, rtol=1e-8, atol=1e-14)


@pytest.mark.parametrize("backend", ["numpy", "torch"])
@pytest.mark.parametrize("task", ["multiclass", "multilabel"])
def test_per_pixel_targets_of_another_shape_are_named(backend, task):
    """The shape the target must have; a multi-class target may also hold class probabilities."""
    metric = compile_metric("f1", task=task, num_classes=3)
    z, y, _ = _dense(task)
    loss_fn = metric.loss_and_grad if backend == "numpy" else metric.to_torch()
    convert = np.asarray if backend == "numpy" else torch.tensor
    expected = ("Expected `target` of shape (2, 4, 5) for logits (2, 3, 4, 5) (classes along dimension 1) or class "
                "probabilities of the logits' shape, but got (2, 3, 5)." if task == "multiclass" else
                "Expected `target` of shape (2, 3, 4, 5) for logits (2, 3, 4, 5) (classes along dimension 1), but got "
                "(2, 3, 3, 5).")
    with pytest.raises(MetriccError, match="^" + re.escape(expected) + "$"):
        loss_fn(convert(z), convert(y[:, :3] if task == "multiclass" else y[:, :, :3]))


@pytest.mark.parametrize("task", ["multiclass", "multilabel"])
def test_per_element_predictions_are_scored_as_rows(task):
    """score() on per-pixel predictions, the masks (N, H, W) of a segmentation (multi-label: (N, C, H, W) 0/1),
    equals scikit-learn's on the pixels as rows; it was refused ("integer class indices of shape (2,)")."""
    rng = np.random.default_rng(1)
    metric = compile_metric("jaccard", task=task, num_classes=3)
    if task == "multiclass":
        y, predicted = rng.integers(0, 3, size=(2, 4, 5)), rng.integers(0, 3, size=(2, 4, 5))
        rows_y, rows_predicted = y.reshape(-1), predicted.reshape(-1)
    else:
        y, predicted = (rng.random((2, 3, 4, 5)) < 0.4) * 1, (rng.random((2, 3, 4, 5)) < 0.4) * 1
        rows_y, rows_predicted = (np.moveaxis(v, 1, -1).reshape(-1, 3) for v in (y, predicted))
    w = rng.uniform(0.5, 2.0, size=(2, 4, 5))
    expected = skm.jaccard_score(rows_y, rows_predicted, average="macro", sample_weight=w.reshape(-1))
    assert metric.score(predicted, y, sample_weight=w) == pytest.approx(expected, rel=1e-12)
    with pytest.raises(MetriccError, match=r"`predictions` of the target's shape"):
        metric.score(predicted[:1], y)


@pytest.mark.parametrize("task", ["multiclass", "multilabel"])
def test_average_none_means_per_class_as_in_scikit_learn(task):
    """average=None is how scikit-learn and torchmetrics ask for one score per class; it had silently meant the
    default, macro. Left out, the average is still macro; with the binary task an explicit None is refused as
    any average is (scikit-learn's per-class scores of a binary problem are task='multiclass', num_classes=2)."""
    rng = np.random.default_rng(5)
    if task == "multiclass":
        target = np.concatenate([np.arange(C), rng.choice(C, 100)])
        predictions = np.where(rng.random(len(target)) < 0.6, target, rng.integers(0, C, len(target)))
        predictions[:C] = np.arange(C)
    else:
        target = (rng.random((100, C)) < 0.4).astype(int)
        predictions = np.where(rng.random((100, C)) < 0.7, target, 1 - target)
        target[:2], predictions[:2] = 1, 1
    per_class = compile_metric("f1", task=task, num_classes=C, average=None)
    assert per_class.average == "none" and per_class is compile_metric("f1", task=task, num_classes=C, average="none")
    np.testing.assert_allclose(per_class.score(predictions, target), skm.f1_score(target, predictions, average=None),
                               rtol=0, atol=1e-12)
    assert compile_metric("f1", task=task, num_classes=C).average == "macro"
    with pytest.raises(MetriccError, match="task='multiclass', num_classes=2, average='none'"):
        compile_metric("f1", average=None)


@pytest.mark.parametrize("average", AVERAGES)
@pytest.mark.parametrize("task", ["multiclass", "multilabel"])
def test_zero_division_nan_leaves_undefined_classes_out_as_scikit_learn_does(task, average):
    """zero_division=np.nan (scikit-learn 1.3 on): a class where the formula is 0/0 is NaN and left out of the
    macro and weighted averages (the weights of the others renormalised), without a warning."""
    import warnings

    rng = np.random.default_rng(7)
    if task == "multiclass":
        target = np.concatenate([np.arange(C), rng.choice(C, 60)])
        predictions = np.where(rng.random(len(target)) < 0.5, target, 0)
        predictions[predictions == 3] = 0  # class 3 never predicted: its precision is 0/0
    else:
        target = (rng.random((60, C)) < 0.4).astype(int)
        predictions = np.where(rng.random((60, C)) < 0.7, target, 1 - target)
        predictions[:, 3] = 0
    metric = compile_metric("precision", task=task, num_classes=C, average=average)
    expected = skm.precision_score(target, predictions, average=_sk_average(average), zero_division=np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value = metric.score(predictions, target, zero_division=np.nan)
    np.testing.assert_allclose(value, expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("task", ["multiclass", "multilabel"])
def test_a_batch_of_one_row_is_a_batch_and_of_none_is_refused(task):
    """NumPy's multi-class and multi-label losses take a single row (its loss and gradient equal torch's) and
    refuse an empty batch, with the shape they take."""
    metric = compile_metric("f1", task=task, num_classes=3)
    z, y = np.array([[0.1, -0.2, 0.3]]), np.array([2]) if task == "multiclass" else np.array([[0, 0, 1]])
    loss, grad = metric.loss_and_grad(z, y)
    x = torch.tensor(z, requires_grad=True)
    expected = metric.to_torch(pure=True)(x, torch.tensor(y))
    expected.backward()
    assert loss == pytest.approx(expected.item(), rel=1e-12)
    np.testing.assert_allclose(grad, x.grad.numpy(), rtol=1e-10, atol=1e-15)
    with pytest.raises(MetriccError, match=re.escape("Expected `input` of shape (n, 3) with n > 0, but got (0, 3).")):
        metric.loss_and_grad(np.zeros((0, 3)), y[:0])


def test_zero_division_nan_where_no_defined_class_has_support_is_scikit_learns():
    """Weighted by support with zero_division=np.nan, where every class whose precision is defined has no support
    (all predicted 1, none is): scikit-learn weighs those classes equally, 0.0, not 0/0."""
    metric = compile_metric("precision", task="multiclass", num_classes=3, average="weighted")
    for target in (np.zeros(4, dtype=int), np.array([0, 0, 2, 2])):
        predictions = np.ones(4, dtype=int)
        expected = skm.precision_score(target, predictions, labels=range(3), average="weighted",
                                       zero_division=np.nan)
        assert metric.score(predictions, target, zero_division=np.nan) == expected == 0.0


@pytest.mark.parametrize("task", ["multiclass", "multilabel"])
def test_zero_division_warning_names_the_classes(task):
    """The warning for a score undefined (0/0) for some class said "for some class"; it now names them, as
    scikit-learn's names the labels with no predicted samples."""
    from metricc import MetriccWarning

    metric = compile_metric("precision", task=task, num_classes=3)
    if task == "multiclass":
        predictions, target = np.array([0, 0, 1, 1]), np.array([0, 1, 1, 2])  # class 2 never predicted
    else:
        predictions, target = np.array([[1, 0, 0], [1, 1, 0]]), np.array([[1, 1, 0], [0, 1, 1]])
    part = "class" if task == "multiclass" else "label"
    with pytest.warns(MetriccWarning, match=rf"'precision' is undefined for {part} 2 at these predictions; "
                                            r"it counts as 0\.0 there"):
        metric.score(predictions, target, zero_division="warn")


@pytest.mark.parametrize("task", ["multiclass", "multilabel"])
def test_the_warning_names_at_most_ten_undefined_classes(task):
    """With 1,000 classes and a few samples, the warning had listed every undefined class: a line of 5,000
    characters."""
    from metricc import MetriccWarning

    metric = compile_metric("precision", task=task, num_classes=1000)
    if task == "multiclass":
        predictions, target = np.array([0, 0, 1, 1]), np.array([0, 1, 1, 2])  # classes 2..999 never predicted
    else:
        predictions, target = np.zeros((2, 1000), dtype=int), np.zeros((2, 1000), dtype=int)
        predictions[:, :2] = target[:, :2] = 1
    part = "classes" if task == "multiclass" else "labels"
    with pytest.warns(MetriccWarning) as told:
        metric.score(predictions, target, zero_division="warn")
    message = str(told[0].message)
    assert f"undefined for {part} 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, ... (998 in all) at these predictions" in message
    assert len(message) < 200


@pytest.mark.parametrize("classes, listed", [(12, "2, 3, 4, 5, 6, 7, 8, 9, 10, 11 at"),
                                             (13, "2, 3, 4, 5, 6, 7, 8, 9, 10, 11, ... (11 in all) at")])
def test_the_warning_says_how_many_undefined_classes_it_leaves_unnamed(classes, listed):
    """Ten undefined classes are all named; of eleven, ten are named and the count says that one more is."""
    from metricc import MetriccWarning

    metric = compile_metric("precision", task="multiclass", num_classes=classes)
    with pytest.warns(MetriccWarning) as told:  # classes 2, 3, ... never predicted
        metric.score(np.array([0, 0, 1, 1]), np.array([0, 1, 1, 2]), zero_division="warn")
    assert f"undefined for classes {listed} these predictions" in str(told[0].message)


@pytest.mark.parametrize("average", AVERAGES)
@pytest.mark.parametrize("task", ["multiclass", "multilabel"])
def test_a_score_divided_by_zero_is_nan_as_its_warning_says(task, average):
    """Where the formula divides a count that is not 0 by 0 (TP/FP with no false positive), score() is NaN with
    the warning, or zero_division, for every average, as the binary score is. Micro and macro averages had
    returned inf while their warning said the value counted as NaN."""
    import warnings

    from metricc import MetriccWarning

    metric = compile_metric("TP/FP", task=task, num_classes=3, average=average)
    predictions = np.array([0, 1, 2]) if task == "multiclass" else np.eye(3, dtype=int)
    parts = "classes" if task == "multiclass" else "labels"
    with pytest.warns(MetriccWarning, match=rf"'TP/FP' is undefined for (the pooled counts|{parts} 0, 1, 2)"):
        value = metric.score(predictions, predictions)
    assert np.isnan(value).all() and np.shape(value) == ((3,) if average == "none" else ())
    with pytest.warns(MetriccWarning, match="it counts as 0.0 there"):
        value = metric.score(predictions, predictions, zero_division="warn")
    np.testing.assert_array_equal(value, np.zeros(3) if average == "none" else 0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isnan(metric.score(predictions, predictions, zero_division=np.nan)).all()


@pytest.mark.filterwarnings("ignore::metricc.MetriccWarning")  # L chosen for the test, not for training
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("task", ["multiclass", "multilabel"])
@pytest.mark.parametrize("average", AVERAGES)
def test_torch_second_derivatives(task, average, weighted):
    """The stateless torch loss differentiates twice (create_graph=True: torch.autograd.functional.hessian, a
    gradient penalty): its Hessian equals autograd's twice through the plain loss. It had refused to."""
    rng = np.random.default_rng(3)
    n = 12
    z = torch.tensor(rng.normal(0, 0.3, (n, C)))
    labels = rng.integers(0, C, n)
    y = torch.tensor(np.eye(C)[labels] if task == "multiclass" else (rng.random((n, C)) < 0.4).astype(float))
    w = torch.tensor(rng.uniform(0.5, 2.0, n)) if weighted else torch.ones(n, dtype=torch.float64)
    target = torch.tensor(labels) if task == "multiclass" else y
    loss = compile_metric("f1", task=task, num_classes=C, average=average, L=5.0).to_torch(pure=True)

    def ours(v):
        value = loss(v, target, w if weighted else None)
        return value.sum() if average == "none" else value

    def plain(v):
        return _plain_loss(SCORES["f1"], v, y, w, task, average, L=5.0)

    expected = torch.autograd.functional.hessian(plain, z)
    actual = torch.autograd.functional.hessian(ours, z)
    assert (actual - expected).abs().max() <= 1e-9 * expected.abs().max()


@pytest.mark.parametrize("task", ["multiclass", "multilabel"])
@pytest.mark.parametrize("classes", [3, 40])  # class-major blocks up to 32 classes, rows beyond
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_the_loss_leaves_its_input_as_it_was(task, classes, dtype):
    """The forward pass works in place on its own copies only: the caller's logits (the computation type's, so
    that no cast copies them) are unchanged after forward and backward."""
    logits = torch.randn(64, classes, dtype=dtype, generator=torch.Generator().manual_seed(0))
    target = (torch.arange(64) % classes if task == "multiclass"
              else (torch.rand(64, classes, generator=torch.Generator().manual_seed(1)) < 0.3).to(dtype))
    x = logits.clone().requires_grad_(True)
    compile_metric("f1", task=task, num_classes=classes).to_torch()(x, target).backward()
    assert torch.equal(x.detach(), logits)


class _ReducedPrecisionMatmul(torch.utils._python_dispatch.TorchDispatchMode):
    """Float32 matrix products with their inputs rounded to bfloat16, as torch.set_float32_matmul_precision("medium")
    lets a device compute them (TF32, "high", rounds to 11 bits where bfloat16 keeps 8)."""

    PRODUCTS = {torch.ops.aten.mm.default, torch.ops.aten.mv.default, torch.ops.aten.addmm.default,
                torch.ops.aten.bmm.default, torch.ops.aten.dot.default}

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func in self.PRODUCTS:
            args = tuple(a.to(torch.bfloat16).float() if isinstance(a, torch.Tensor) and a.dtype == torch.float32
                         else a for a in args)
        return func(*args, **(kwargs or {}))


@pytest.mark.parametrize("classes", [300, 70_000])
def test_many_classes_in_reduced_precision_matrix_products(classes):
    """The torch multi-class loss found each row's largest class as a matrix-vector product of its 0/1 mask with
    the class positions: where float32 products round to bfloat16 (or TF32, a common setting on GPUs), position
    257 came out 256, and the top entry's gradient was gathered from the wrong class without an error. The loss
    and gradient now equal those of exact products for 300 and 70,000 classes."""
    generator = torch.Generator().manual_seed(0)
    n = 400 if classes < 1000 else 40
    z = torch.randn(n, classes, generator=generator) * 4
    y = torch.randint(0, classes, (n,), generator=generator)
    loss_fn = compile_metric("f1", task="multiclass", num_classes=classes).to_torch(pure=True)
    results = []
    for mode in (None, _ReducedPrecisionMatmul()):
        x = z.clone().requires_grad_(True)
        if mode is None:
            loss = loss_fn(x, y)
            loss.backward()
        else:
            with mode:
                loss = loss_fn(x, y)
                loss.backward()
        results.append((loss.item(), x.grad))
    (exact_loss, exact_grad), (loss, grad) = results
    assert loss == exact_loss
    assert torch.equal(grad, exact_grad)


@pytest.mark.parametrize("dtype", [torch.uint16, torch.uint32, torch.uint64])
@pytest.mark.parametrize("task, shape", [("multiclass", (6,)), ("multiclass", (2, 3, 3)), ("multilabel", (6, 3))])
def test_torch_targets_and_weights_in_wide_unsigned_types(dtype, task, shape):
    """Class indices in uint16 (a segmentation mask read from a 16-bit PNG through torch.from_numpy), uint32 or
    uint64, and such sample weights, raised torch's NotImplementedError ("aminmax_cpu" not implemented for 'UInt16')
    from inside the multi-class and multi-label losses, where the binary loss took them: they give the int64
    labels' loss and gradient."""
    torch.manual_seed(0)
    metric = compile_metric("f1", task=task, num_classes=3, L=10.0)
    loss = metric.to_torch(pure=True)
    labels = torch.randint(0, 3, shape) if task == "multiclass" else torch.randint(0, 2, shape)
    logits = (torch.randn(shape[0], 3, *shape[1:]) if task == "multiclass" else torch.randn(shape)).double()
    weights = torch.arange(1, labels.numel() + 1).reshape(shape) if task == "multiclass" else torch.arange(1, 7)
    results = []
    for target, weight in ((labels, weights.double()), (labels.to(dtype), weights.to(dtype))):
        x = logits.clone().requires_grad_()
        value = loss(x, target, sample_weight=weight)
        value.backward()
        results.append((value.detach(), x.grad))
    torch.testing.assert_close(results[1], results[0], rtol=1e-12, atol=0)
