"""Multi-class and multi-label kernels on par with the binary one: stable slopes, finiteness, L validation,
warnings at 0/0, scikit-learn's weighted average with absent classes, and the same checks in emitted modules."""

import warnings

import numpy as np
import pytest
import torch
from sklearn import metrics as skm

from metricc import MetriccError, MetriccWarning, compile_metric
from oracles import load_emitted


def _torch_grad(metric, z, target, dtype=torch.float32):
    x = torch.tensor(z, dtype=dtype, requires_grad=True)
    loss = metric.to_torch(pure=True)(x, torch.as_tensor(target))
    loss.backward()
    return x.grad.double().numpy()


def test_float32_multilabel_gradient_does_not_vanish_at_a_confident_logit():
    metric = compile_metric("f1", task="multilabel", num_classes=2, average="micro")
    z = np.array([[3.0, -3.0], [-3.0, 3.0]])
    target = np.array([[0, 1], [1, 0]])  # both rows confidently wrong
    grad = _torch_grad(metric, z, target)
    assert (grad != 0).all()
    reference = metric.loss_and_grad(z, target)[1]
    assert np.allclose(grad, reference, rtol=1e-4, atol=0)  # (entries of 1e-15 and 1e-21: no absolute slack)
    assert np.sign(grad).tolist() == np.sign(reference).tolist()


@pytest.mark.parametrize("task", ["multilabel", "multiclass"])
def test_float32_gradients_are_not_exactly_zero_on_misclassified_samples(task):
    rng = np.random.default_rng(0)
    n, classes = 1000, 5
    z = rng.normal(0, 4, (n, classes))
    if task == "multilabel":
        target = (rng.random((n, classes)) < 0.3).astype(np.float32)
        wrong = (z > 0) != (target == 1)
    else:
        target = rng.integers(0, classes, n)
        wrong = np.zeros((n, classes), dtype=bool)
        wrong[z.argmax(1) != target] = True
    metric = compile_metric("f1", task=task, num_classes=classes, average="macro")
    grad32 = _torch_grad(metric, z, target)
    grad64 = metric.loss_and_grad(z, target)[1]
    assert not ((grad32 == 0) & wrong).any()
    scale = np.abs(grad64).max()
    assert np.abs(grad32 - grad64).max() <= 1e-4 * scale


def test_weighted_average_with_no_positive_label_is_zero_not_nan():
    metric = compile_metric("f1", task="multilabel", num_classes=3, average="weighted")
    z = np.random.default_rng(1).normal(size=(6, 3))
    target = np.zeros((6, 3))
    loss, grad = metric.loss_and_grad(z, target)
    assert loss == 0 and (grad == 0).all()
    x = torch.tensor(z, requires_grad=True)
    value = metric.to_torch(pure=True)(x, torch.tensor(target))
    value.backward()
    assert value.item() == 0 and (x.grad == 0).all()


@pytest.mark.parametrize("options", [{"average": "weighted"}, {"class_weight": [1.0, 0.0, 2.0]}])
def test_a_class_that_weighs_nothing_adds_nothing_to_the_average(options):
    """The weighted average (class 1 without support) and a class weight of 0 are the per-class losses
    (average="none") averaged with the remaining classes' weights, in NumPy and torch."""
    z = np.random.default_rng(2).normal(size=(8, 3))
    target = np.array([0, 2, 0, 2, 2, 0, 2, 2])
    each = compile_metric("f1", task="multiclass", num_classes=3, average="none").loss_and_grad(z, target)[0]
    weights = np.array([3.0, 0.0, 5.0]) if options.get("average") == "weighted" else np.array(options["class_weight"])
    expected = float(weights @ each / weights.sum())
    metric = compile_metric("f1", task="multiclass", num_classes=3, **options)
    assert metric.loss_and_grad(z, target)[0] == pytest.approx(expected, rel=1e-12)
    assert metric.to_torch(pure=True)(torch.tensor(z), torch.tensor(target)).item() == pytest.approx(expected,
                                                                                                    rel=1e-12)


def test_weighted_average_with_every_row_ignored():
    metric = compile_metric("f1", task="multiclass", num_classes=3, average="weighted", ignore_index=-1)
    z = np.random.default_rng(1).normal(size=(4, 3))
    target = np.full(4, -1)
    assert metric.loss_and_grad(z, target)[0] == 0
    assert metric.to_torch(pure=True)(torch.tensor(z), torch.tensor(target)).item() == 0


def test_weighted_score_with_a_class_without_support_matches_sklearn():
    metric = compile_metric("f1", task="multiclass", num_classes=3, average="weighted")
    target, predicted = np.array([0, 0, 1, 1]), np.array([0, 1, 1, 0])  # class 2: never true, never predicted
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value = metric.score(predicted, target)
    assert value == pytest.approx(skm.f1_score(target, predicted, average="weighted", labels=[0, 1, 2],
                                                 zero_division=0.0))


def test_multiclass_score_warns_where_the_formula_is_undefined():
    metric = compile_metric("precision", task="multiclass", num_classes=3, average="macro")
    with pytest.warns(MetriccWarning, match="undefined"):
        value = metric.score(np.array([0, 0, 1]), np.array([0, 1, 1]))  # class 2: TP + FP = 0
    assert np.isnan(value)


@pytest.mark.parametrize("task", ["multiclass", "multilabel"])
def test_L_is_validated_for_multi_class_losses(task):
    metric = compile_metric("f1", task=task, num_classes=3, L=500.0)
    z = np.zeros((4, 3), dtype=np.float32)
    target = np.array([0, 1, 2, 0]) if task == "multiclass" else np.eye(3)[[0, 1, 2, 0]]
    with pytest.warns(MetriccWarning, match="outside the valid range"):
        metric.to_torch(pure=True)(torch.tensor(z), torch.as_tensor(target))
    fresh = compile_metric("f1", task=task, num_classes=3, L=499.0)
    with pytest.warns(MetriccWarning, match="outside the valid range"):
        fresh.loss_and_grad(z, target)


@pytest.mark.parametrize("backend", ["numpy", "torch"])
@pytest.mark.parametrize("task", ["binary", "multiclass", "multilabel"])
def test_L_is_validated_for_each_new_input_type(task, backend):
    """L = 201 suits float64 and not float32: a loss first called with float64 input warns when float32 input
    follows (the check runs for each new dtype, not only the first)."""
    options = {} if task == "binary" else {"task": task, "num_classes": 3}
    metric = compile_metric("f1", L=201.0, **options)
    module = metric.to_torch(pure=True)  # (one module for both calls: each call of to_torch() makes a new one)
    loss = metric.loss_and_grad if backend == "numpy" else (
        lambda z, target: module(torch.tensor(z), torch.as_tensor(target)))
    z = np.zeros(4) if task == "binary" else np.zeros((4, 3))
    target = {"binary": np.array([0.0, 1, 1, 0]), "multiclass": np.array([0, 1, 2, 0]),
              "multilabel": np.eye(3)[[0, 1, 2, 0]]}[task]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss(z, target)
    with pytest.warns(MetriccWarning, match="L = 201 is outside the valid range for float32"):
        loss(z.astype(np.float32), target)


def _emitted(metric):
    return load_emitted(metric.emit("numpy"))


@pytest.mark.parametrize("bad, message", [
    ({"z": np.array([[np.nan, 0, 0], [0, 1, 0]])}, "finite `input`"),
    ({"target": np.array([0, 3])}, r"class indices in \[0, 3\)"),
    ({"target": np.array([0.0, 1.0])}, "integer class indices"),
])
def test_emitted_numpy_multiclass_module_checks_its_input(bad, message):
    metric = compile_metric("f1", task="multiclass", num_classes=3)
    loss_and_grad = _emitted(metric)["loss_and_grad"]
    z, target = bad.get("z", np.zeros((2, 3))), bad.get("target", np.array([0, 1]))
    with pytest.raises(ValueError, match=message):
        loss_and_grad(z, target)
    with pytest.raises(MetriccError, match=message):
        metric.loss_and_grad(z, target)


def test_emitted_numpy_multiclass_module_equals_the_library():
    metric = compile_metric("gmean", task="multiclass", num_classes=4, average="weighted", ignore_index=9)
    rng = np.random.default_rng(3)
    z, target, w = rng.normal(size=(20, 4)), rng.integers(0, 4, 20), rng.uniform(0, 2, 20)
    target[:3] = 9
    loss, grad = _emitted(metric)["loss_and_grad"](z, target, w)
    expected_loss, expected_grad = metric.loss_and_grad(z, target, w)
    assert loss == expected_loss and np.array_equal(grad, expected_grad)


@pytest.mark.parametrize("zero_division", [0, 1])
@pytest.mark.parametrize("average", ["macro", "weighted", "micro"])
@pytest.mark.parametrize("name", ["precision", "recall", "f1"])
def test_multiclass_score_zero_division_is_scikit_learns(name, average, zero_division):
    """Per class, as scikit-learn has it (labels 0 .. C-1): class 2 is never predicted, class 3 never true."""
    target, predicted = np.array([0, 0, 1, 1, 2, 2, 0]), np.array([0, 1, 1, 3, 0, 1, 0])
    metric = compile_metric(name, task="multiclass", num_classes=4, average=average)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value = metric.score(predicted, target, zero_division=zero_division)
    sklearn_score = {"precision": skm.precision_score, "recall": skm.recall_score, "f1": skm.f1_score}[name]
    assert value == pytest.approx(sklearn_score(target, predicted, labels=[0, 1, 2, 3], average=average,
                                                zero_division=zero_division), abs=1e-12)


def test_multilabel_score_zero_division_is_scikit_learns():
    target = np.array([[1, 0, 0], [1, 1, 0], [0, 1, 0]])
    predicted = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 0]])  # label 2: never true, never predicted
    metric = compile_metric("f1", task="multilabel", num_classes=3, average="macro")
    assert metric.score(predicted, target, zero_division=1) == pytest.approx(
        skm.f1_score(target, predicted, average="macro", zero_division=1), abs=1e-12)


@pytest.mark.parametrize("name, zero_division", [
    (name, zero_division) for name in ("f1", "precision", "recall", "jaccard")
    for zero_division in (0.0, 1.0, np.nan, "warn")
    if not (name == "jaccard" and zero_division is np.nan)])  # scikit-learn's jaccard takes no NaN
def test_multilabel_weighted_score_without_support_is_scikit_learns(name, zero_division):
    """With no positive label at all, average='weighted' (weights by support) has no weight to average with:
    metricc scored it 1.0, a perfect score for predictions that are all wrong; scikit-learn then averages the
    classes' values (zero_division where one is 0/0) with equal weights."""
    import warnings

    target = np.zeros((4, 3), dtype=int)
    predicted = np.array([[1, 0, 0], [0, 1, 0], [1, 0, 0], [0, 0, 0]])  # label 2 never predicted
    sklearn_score = {"precision": skm.precision_score, "recall": skm.recall_score, "f1": skm.f1_score,
                     "jaccard": skm.jaccard_score}[name]
    metric = compile_metric(name, task="multilabel", num_classes=3, average="weighted")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = metric.score(predicted, target, zero_division=zero_division)
        expected = sklearn_score(target, predicted, average="weighted", zero_division=zero_division)
    np.testing.assert_allclose(value, expected, rtol=0, atol=1e-12)


def test_multilabel_score_takes_scipy_sparse_indicators_as_scikit_learn_does():
    """Multi-label indicator matrices in SciPy's sparse formats (MultiLabelBinarizer(sparse_output=True)) were
    refused ("an object array holding a value of type csr_matrix"); scikit-learn's metrics take them."""
    sparse = pytest.importorskip("scipy.sparse")
    target = np.array([[1, 0, 1], [0, 1, 0], [1, 1, 0], [0, 0, 1]])
    predicted = np.array([[1, 0, 0], [0, 1, 1], [1, 0, 0], [0, 0, 1]])
    metric = compile_metric("f1", task="multilabel", num_classes=3)
    expected = skm.f1_score(target, predicted, average="macro")
    for make in (sparse.csr_matrix, sparse.csc_matrix, sparse.coo_array):
        assert metric.score(make(predicted), make(target)) == pytest.approx(expected, abs=1e-12)
    value, grad = metric.loss_and_grad(np.zeros((4, 3)), sparse.csr_matrix(target))
    np.testing.assert_array_equal(grad, metric.loss_and_grad(np.zeros((4, 3)), target)[1])
