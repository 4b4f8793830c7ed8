"""The mistakes a new user makes get a clear error or warning, never a silently wrong number or a raw exception."""

import functools
import importlib.util
import itertools
import re
import subprocess
import sys
import warnings
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch

from metricc import MetriccError, MetriccWarning, compile_metric
from metricc.parse import parse
from oracles import load_emitted

F1 = compile_metric("f1")


# -- score() takes hard 0/1 labels only ---------------------------------------------------------------------

@pytest.mark.parametrize("predictions, target, message", [
    (np.array([1, -1, 1, 1, -1, -1]), np.array([1, -1, -1, 1, -1, -1]),
     r"`predictions` to hold hard 0/1 labels, but it holds -1 at index 1; labels -1/\+1\? pass \(predictions \+ 1\) "
     r"/ 2\.$"),
    (np.array([1, 0, 1]), np.array([2, 1, 1]), r"`target` to hold hard 0/1 labels, but it holds 2 at index 0; labels "
                                               r"1/2\? pass target - 1\.$"),
    (np.array([0.1, 0.2, 0.9]), np.array([0, 0, 1]), "threshold probabilities first"),
    (np.array([1, 0, 1]), np.array([0, 0, 2]), "`target` to hold hard 0/1 labels, but it holds 2 at index 2"),
    # a column of hard labels, the first bad one placed as given
    (np.array([[1], [0], [1]]), np.array([[0], [1], [2]]), r"holds 2 at index \(2, 0\)\.$"),
    (np.array(["1", "0"]), np.array([1, 0]), "`predictions` to hold numbers, but got dtype <U1: class names\\? "
                                             "pass labels 0/1"),
    (torch.ones(3, device="meta"), np.ones(3), "`predictions` to be an array of numbers, but converting it failed"),
    (np.array([1.0, 0.0, np.nan]), np.array([1, 0, 0]), r"holds NaN at index 2, a missing value: drop or fill the"),
    (np.array([1, 0, 1]), np.array([0.5, np.nan, 1.0]), r"`target` to hold hard 0/1 labels, but it holds NaN at inde"),
])
def test_binary_score_refuses_what_is_not_0_or_1(predictions, target, message):
    with pytest.raises(MetriccError, match=message):
        F1.score(predictions, target)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("task", ["binary", "multiclass"])
def test_score_takes_a_networks_output_tensor(task, dtype):
    """Hard predictions made from a network's output keep requires_grad (torch.round(torch.sigmoid(z))), and may
    be bfloat16: score() reads their values, as it reads a NumPy array's. It had refused them, pointing to the
    torch loss, which scores nothing."""
    metric = compile_metric("f1", **({"task": "multiclass", "num_classes": 3} if task == "multiclass" else {}))
    values = np.array([1, 0, 1, 1, 0, 2] if task == "multiclass" else [1, 0, 1, 1, 0, 0])
    target = np.array([1, 0, 0, 1, 1, 2] if task == "multiclass" else [1, 0, 0, 1, 1, 0])
    tensor = torch.tensor(values).to(dtype).requires_grad_()
    assert metric.score(tensor, torch.tensor(target)) == metric.score(values, target)


@pytest.mark.parametrize("backend", ["numpy", "torch", "jax"])
@pytest.mark.parametrize("task", ["binary", "multilabel"])
def test_a_loss_called_with_labels_first_says_the_arguments_may_be_swapped(backend, task):
    """loss(target, logits), scikit-learn's order: the target then holds logits outside [0, 1], and the input only
    0 and 1; the error had named the range alone. Whole numbers outside [0, 1] (labels 1/2, class indices) are not
    such a swap, and get their own hints."""
    options = {} if task == "binary" else {"task": task, "num_classes": 3}
    metric = compile_metric("f1", **options)
    rng = np.random.default_rng(1)
    logits = rng.normal(0, 2, (12,) if task == "binary" else (12, 3))
    labels = (rng.random(logits.shape) < 0.5).astype(float)
    labels.flat[:2] = (0.0, 1.0)

    def call(input, target):
        if backend == "numpy":
            return metric.loss_and_grad(input, target)
        if backend == "jax":
            jnp = pytest.importorskip("jax.numpy")
            return metric.to_jax()(jnp.asarray(input, dtype=jnp.float32), jnp.asarray(target, dtype=jnp.float32))
        return metric.to_torch(pure=True)(torch.tensor(input), torch.tensor(target))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MetriccWarning)  # the input's 0 and 1 look like probabilities too
        with pytest.raises(MetriccError, match=r"arguments swapped\? the loss takes \(input, target\), logits first"):
            call(labels, logits)
        with pytest.raises(MetriccError, match="labels 1/2") as error:
            call(labels, labels + 1)
    assert "swapped" not in str(error.value)


def test_arguments_in_scikit_learns_order_are_told_so():
    """score(y_true, y_prob) and tune_threshold(y_true, y_score), scikit-learn's (and roc_curve's) order: the
    labels come first where metricc takes them second, and the target then holds scores; the error says so."""
    labels, probabilities = np.array([0, 1, 1, 0]), np.array([0.2, 0.7, 0.9, 0.4])
    with pytest.raises(MetriccError, match=re.escape("Expected `target` to hold hard 0/1 labels, but it holds 0.2 at "
                                                     "index 0; arguments swapped? score() takes (predictions, "
                                                     "target), as torchmetrics does (metric.scorer() for "
                                                     "scikit-learn)")):
        F1.score(labels, probabilities)
    with pytest.raises(MetriccError, match=re.escape("but it holds 0.2 at index 0; arguments swapped? "
                                                     "tune_threshold() takes (scores, target)")):
        F1.tune_threshold(labels, probabilities)
    with pytest.raises(MetriccError, match=r"but it holds 2 at index 1\.$"):  # not labels against scores: no hint
        F1.score(np.array([0.0, 1.0, 1.0]), np.array([0, 2, 1]))


@pytest.mark.parametrize("predictions, target, hint", [
    (np.array([[1], [0], [1]]), np.array([1, 1, 0]), "one column? pass predictions[:, 0]"),
    (np.array([1, 0, 1]), np.array([[1], [1], [0]]), "one column? pass target[:, 0]"),
])
def test_binary_score_says_what_to_do_with_one_column(predictions, target, hint):
    """A (n, 1) column of predictions (a DataFrame's, a model's output) against (n,) labels was refused with the
    shapes alone; tune_threshold() already said which column to pass."""
    with pytest.raises(MetriccError, match=re.escape(f"but got {predictions.shape} and {target.shape}: {hint}.")):
        F1.score(predictions, target)


def test_binary_score_accepts_bool_int_and_float_labels():
    y = np.array([1, 0, 1, 1, 0, 0])
    p = np.array([1, 0, 0, 1, 0, 1])
    expected = 2 * 2 / (2 * 2 + 1 + 1)
    for kind in (bool, int, float):
        assert F1.score(p.astype(kind), y.astype(kind)) == pytest.approx(expected, abs=1e-15)


def test_score_takes_object_arrays_of_numbers():
    """Labels in an object array (a pandas column of mixed Python ints and bools, as read from a file) were refused
    with "got dtype object", where scikit-learn's f1_score scores them; one holding something else says what."""
    from sklearn.metrics import f1_score

    y = np.array([1, 0, True, 1, 0, 0], dtype=object)
    p = np.array([1, 0, 0, 1.0, False, 1], dtype=object)
    assert F1.score(p, y) == pytest.approx(f1_score(y.astype(int), p.astype(int)), abs=1e-15)
    assert F1.tune_threshold(np.array([0.9, 0.1, 0.7, 0.8, 0.3, 0.4], dtype=object), y)[1] == pytest.approx(1.0)
    fractions = np.array([Fraction(1), Fraction(0), Fraction(2, 2), 1, 0, 0], dtype=object)  # (NumPy keeps objects)
    assert F1.score(p, fractions) == F1.score(p, y)
    for bad, shown in ((None, "None (at index 2), a missing value: drop or fill"),
                       ("yes", "'yes' (at index 2): class names? pass labels 0/1")):
        with pytest.raises(MetriccError, match=re.escape(f"Expected `predictions` to hold numbers, but got an object "
                                                         f"array holding {shown}")):
            F1.score(np.array([1, 0, bad, 1], dtype=object), np.array([1, 0, 1, 1]))


@pytest.mark.parametrize("task, call", [
    ("binary", lambda m, z, y: m.loss_and_grad(z, y)),
    ("binary", lambda m, z, y: m.to_jax()(z, y)),
    ("binary", lambda m, z, y: m.to_xgboost()(y, z.astype(np.float32))),
    ("binary", lambda m, z, y: m.to_lightgbm().gradient_and_hessian(z, y)),
    ("binary", lambda m, z, y: load_emitted(m.emit("numpy"))["loss_and_grad"](z, y)),
    ("multiclass", lambda m, z, y: m.loss_and_grad(np.stack([z, -z, z / 2], 1), y + 2 * (y == 0))),
    ("multiclass", lambda m, z, y: m.to_xgboost()(y + 2 * (y == 0), np.stack([z, -z, z / 2], 1))),
    ("multilabel", lambda m, z, y: m.loss_and_grad(np.stack([z, -z, z / 2], 1), np.stack([y, 1 - y, y], 1))),
])
def test_a_loss_takes_labels_in_an_object_array_of_numbers(task, call):
    """0/1 labels in an object array (a pandas column of mixed Python ints and bools, as read from a file) were
    refused by the losses and objectives with "got dtype object", where score() and scikit-learn take them: they
    give what the same labels as numbers give."""
    if "jax" in call.__code__.co_names:
        pytest.importorskip("jax")
    metric = compile_metric("f1", **({} if task == "binary" else {"task": task, "num_classes": 3}))
    z = np.array([0.3, -1.2, 2.0, 0.1, -0.4, 0.9])
    y = np.array([1, 0, True, 1, False, 0], dtype=object)
    expected, got = (call(metric, z, labels) for labels in (y.astype(np.int64), y))
    expected, got = ([*r] if isinstance(r, tuple) else [r] for r in (expected, got))
    assert len(got) == len(expected)
    for a, b in zip(expected, got):
        np.testing.assert_allclose(np.asarray(b, np.float64), np.asarray(a, np.float64), rtol=1e-12)


@pytest.mark.parametrize("task, call", [
    ("binary", lambda m, y: m.loss_and_grad(np.zeros(4), y)),
    ("binary", lambda m, y: m.to_jax()(np.zeros(4), y)),
    ("binary", lambda m, y: m.to_xgboost()(y, np.zeros(4, np.float32))),
    ("binary", lambda m, y: load_emitted(m.emit("numpy"))["loss_and_grad"](np.zeros(4), y)),
    ("multiclass", lambda m, y: m.loss_and_grad(np.zeros((4, 3)), y)),
])
def test_a_loss_given_a_missing_label_in_an_object_array_says_so(task, call):
    """An object array of labels with a None among them (a pandas column with a missing entry) got "Expected
    `target` to hold 0/1 labels, but got dtype object", which did not say why: it names the missing label."""
    if "jax" in call.__code__.co_names:
        pytest.importorskip("jax")
    metric = compile_metric("f1", **({} if task == "binary" else {"task": task, "num_classes": 3}))
    with pytest.raises(ValueError, match=re.escape("holds None at index 2, a missing label: drop or fill it")):
        call(metric, np.array([1, 0, None, 1], dtype=object))


def test_the_missing_label_hint_names_only_a_missing_label():
    """An object array of numbers only has no missing label to name (the hint had said "it holds None at index 0"
    of one, were such an array to reach it unconverted)."""
    from metricc.checks import class_names_hint

    assert class_names_hint(np.array([1, 0, True], dtype=object)) == ""
    assert class_names_hint(np.array([[1, 0], [None, 1]], dtype=object)).startswith(": it holds None at index (1, 0)")


@pytest.mark.parametrize("call, message", [
    (lambda: F1.loss_and_grad(np.zeros(3), np.ones(3), check_inputs=np.array([1.0, 2.0])),
     "Expected argument `check_inputs` to be a bool, but got a value of type ndarray."),
    (lambda: F1.to_xgboost(hessian=np.array([1.0, 2.0])),
     "Expected argument `hessian` to be one of ['exact', 'abs', 'clip', 'gauss-newton', 'bound'], but got a value "
     "of type ndarray."),
])
def test_an_array_as_a_setting_is_refused_by_name(call, message):
    """An array as loss_and_grad's check_inputs or an objective's hessian raised NumPy's "The truth value of an
    array with more than one element is ambiguous" from inside metricc."""
    with pytest.raises(MetriccError, match=re.escape(message)):
        call()


@pytest.mark.parametrize("strings", [np.str_, object])
@pytest.mark.parametrize("loss, call, hint", [
    ("binary", lambda m, y: m.loss_and_grad(np.zeros(3), y), "class names? pass labels 0/1 (such as target == 'yes')"),
    ("binary", lambda m, y: m.to_jax()(np.zeros(3), y), "class names? pass labels 0/1 (such as target == 'yes')"),
    ("binary", lambda m, y: m.to_xgboost()(y, np.zeros(3, np.float32)),
     "class names? pass labels 0/1 (such as target == 'yes')"),
    ("multiclass", lambda m, y: m.loss_and_grad(np.zeros((3, 3)), y),
     "class names? pass class indices (such as numpy.unique(target, return_inverse=True)[1])"),
    ("multilabel", lambda m, y: m.loss_and_grad(np.zeros((3, 3)), np.stack([y] * 3, 1)),
     "class names? pass labels 0/1 (such as target == 'yes')"),
])
def test_a_loss_given_class_names_says_how_to_pass_labels(strings, loss, call, hint):
    """Labels read as strings (a pandas column of "no"/"yes") got "Expected `target` to hold 0/1 labels, but got
    dtype <U3" from the losses, where score() and tune_threshold() already said what to pass instead."""
    options = {} if loss == "binary" else {"task": loss, "num_classes": 3}
    metric = compile_metric("f1", **options)
    with pytest.raises(MetriccError, match=re.escape(hint)):
        call(metric, np.array(["no", "yes", "yes"], dtype=strings))


def test_multiclass_score_takes_whole_floats_as_class_indices():
    """Class indices stored as floats (a pandas column read with missing values, 0.0/1.0/2.0) were refused by
    score() ("Expected `target` to be integer class indices ..., but got float64"), where scikit-learn's metrics
    take them; whole floats now count as the integers, and a fraction is still refused."""
    from sklearn.metrics import f1_score

    metric = compile_metric("f1", task="multiclass", num_classes=3)
    predictions, target = np.array([0, 1, 2, 0, 2]), np.array([0, 1, 2, 1, 1])
    expected = f1_score(target, predictions, average="macro")
    for p, t in ((predictions, target.astype(float)), (predictions.astype(np.float32), target),
                 (predictions.astype(float), target.astype(float)), (predictions.astype(np.float16), target)):
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # float16 had warned "overflow encountered in cast" (2**53 in float16)
            assert metric.score(p, t) == pytest.approx(expected, abs=1e-12)
    with pytest.raises(MetriccError, match="integer class indices"):
        metric.score(predictions + 0.5, target)
    with pytest.raises(MetriccError, match="`target` to hold class indices, but it holds NaN at index 2, a missing"):
        metric.score(predictions, np.where(target == 2, np.nan, target))


@pytest.mark.parametrize("one_hot", ["target", "predictions", "both"])
def test_multiclass_score_refuses_one_hot_rows(one_hot):
    """score() of a multi-class metric read one-hot (n, C) integer rows as per-element class indices: one-hot
    predictions and targets gave NaN ('undefined for class 2'), one-hot targets beside class indices a shape
    error asking for (n, C) predictions. Rows of C 0/1 entries with one 1 each are refused with what to pass."""
    metric = compile_metric("f1", task="multiclass", num_classes=3)
    target, predictions = np.array([0, 1, 2, 0, 1, 2, 1]), np.array([0, 1, 1, 0, 2, 2, 1])
    given = {"target": target, "predictions": predictions}
    for name in (("target", "predictions") if one_hot == "both" else (one_hot,)):
        given[name] = np.eye(3, dtype=int)[given[name]]
    name = "target" if one_hot != "predictions" else "predictions"
    with pytest.raises(MetriccError, match=rf"`{name}` holds one-hot rows \(7, 3\): score\(\) takes class "
                                           rf"indices: pass {name}.argmax\(1\)"):
        metric.score(given["predictions"], given["target"])


@pytest.mark.parametrize("target", [np.eye(3)[[0, 1, 2, 1]], np.array([[.7, .2, .1], [.1, .8, .1], [.2, .2, .6],
                                                                  [.3, .3, .4]])], ids=["one-hot floats", "soft"])
def test_multiclass_score_refuses_class_probabilities_as_its_target(target):
    """Class probabilities (a loss's multi-class target, float (n, C)) given to score(), which counts hard labels, are
    refused with what to pass; without that check the error asked for predictions of shape (n, C)."""
    metric = compile_metric("f1", task="multiclass", num_classes=3)
    with pytest.raises(MetriccError, match=r"score\(\) counts hard labels: pass class indices \(target.argmax\(1\) of "
                                           r"class probabilities\), not float64 \(4, 3\)"):
        metric.score(np.array([0, 1, 2, 2]), target)


@pytest.mark.parametrize("predictions, message", [
    (np.array([0.5, 1.0, 2.0]), "integer class indices"),
    (np.array([-1, 1, 2]), r"class indices in \[0, 3\), but got -1"),
    (np.array([0, 1, 3]), r"class indices in \[0, 3\), but got 3"),
    (np.array([[0, 1, 2]]), "integer class indices of shape"),
])
def test_multiclass_score_refuses_bad_predictions(predictions, message):
    metric = compile_metric("f1", task="multiclass", num_classes=3)
    with pytest.raises(MetriccError, match=message):
        metric.score(predictions, np.array([0, 1, 2]))


def test_multilabel_score_refuses_soft_predictions():
    metric = compile_metric("f1", task="multilabel", num_classes=2)
    with pytest.raises(MetriccError, match="hard 0/1 labels"):
        metric.score(np.array([[0.3, 1.0]]), np.array([[0, 1]]))


# -- NumPy and torch scalars as settings and parameters ------------------------------------------------------

@pytest.mark.parametrize("backend", ["numpy", "torch"])
@pytest.mark.parametrize("beta", [np.linspace(0.5, 2, 2)[0], np.float32(0.5), torch.tensor(0.5, dtype=torch.float64)])
def test_emitted_module_with_a_scalar_parameter_imports(backend, beta):
    source = compile_metric("fbeta", beta=beta).emit(backend)
    namespace = load_emitted(source)
    assert namespace["PARAMETERS"] == {"beta": 0.5} and type(namespace["PARAMETERS"]["beta"]) is float


def test_numpy_scalar_settings_are_accepted_as_plain_floats():
    metric = compile_metric("f1", L=np.float32(73), threshold=np.float32(0.25), eps=np.float64(1e-6))
    assert (type(metric.L), type(metric.threshold), type(metric.eps)) == (float, float, float)
    assert metric.L == 73.0
    module = metric.to_torch(pure=True, L=np.int64(40))
    assert type(module.L) is float and module.L == 40.0


@pytest.mark.parametrize("value", [torch.tensor(2), torch.tensor(2, dtype=torch.int16),
                                   torch.tensor(2.0, requires_grad=True), torch.tensor(2.0, dtype=torch.bfloat16)])
def test_a_0_dim_tensor_of_any_real_type_is_a_number(value):
    """0-dim float tensors were numbers but integer ones (torch.tensor(2)) were refused, unlike np.int64; one that
    requires grad gave torch's warning about converting it to a scalar."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        metric = compile_metric("fbeta", beta=value, L=value * 10)
    assert metric.params == {"beta": 2.0} and metric is compile_metric("fbeta", beta=2, L=20)


@pytest.mark.parametrize("value", [torch.tensor(True), torch.tensor(2 + 0j), torch.tensor([2.0])])
def test_a_bool_complex_or_1_dim_tensor_is_not_a_number(value):
    with pytest.raises(MetriccError, match="Expected parameter `beta` to be a finite number, but got a value of type"):
        compile_metric("fbeta", beta=value)


@pytest.mark.parametrize("kwargs, message", [
    ({"L": "73"}, "Expected argument `L` to be a positive float, but got '73'"),
    ({"L": np.array([73.0])}, "Expected argument `L` to be a positive float, but got a value of type ndarray"),
    ({"threshold": True}, "Expected argument `threshold`"),
    ({"beta": [2.0]}, "Expected parameter `beta` to be a finite number, but got a value of type list"),
    ({"beta": np.array(2.0)}, "Expected parameter `beta` to be a finite number"),
    ({"beta": 10**400}, "does not fit a float"),
])
def test_non_numbers_are_refused(kwargs, message):
    with pytest.raises(MetriccError, match=message):
        compile_metric("fbeta", **kwargs)


@pytest.mark.parametrize("kwargs, message", [
    ({"num_classes": 2.5}, "`num_classes` to be an int of at least 2, but got 2.5"),
    ({"num_classes": "3"}, "`num_classes` to be an int of at least 2, but got '3'"),
    ({"num_classes": 3, "ignore_index": 0.5}, "`ignore_index` to be an int, but got 0.5"),
    ({"num_classes": 3, "ignore_index": True}, "`ignore_index` to be an int, but got True"),  # (a bool is an int)
    ({"num_classes": True}, "`num_classes` to be an int of at least 2, but got True"),
    ({"num_classes": 2, "class_weight": [-1.0, 1.0]}, r"`class_weight` .*, but got \[-1.0, 1.0\]"),
    ({"num_classes": 2, "class_weight": [1.0, 1.0, 1.0]}, r"`class_weight` .*, but got \[1.0, 1.0, 1.0\]"),
    ({"num_classes": 3, "class_weight": [0, 0, 0]}, r"\(not all zero\), but got \[0.0, 0.0, 0.0\]"),
    ({"num_classes": 2, "class_weight": [1.0, float("nan")]}, r"`class_weight` .*, but got \[1.0, nan\]"),
    ({"num_classes": 2, "class_weight": [1.0, 2.0], "average": "micro"}, "with average='macro', not 'micro'"),
])
def test_bad_task_arguments_are_named_with_the_value_given(kwargs, message):
    """The message shows the value that was passed (num_classes=2.5 was reported as 'got None')."""
    with pytest.raises(MetriccError, match=message):
        compile_metric("f1", task="multiclass", **kwargs)


@pytest.mark.parametrize("formula, options", [("minimize: f1", {}), ("f1", {"minimize": True}),
                                              ("minimize: mcc", {}), ("minimize:balanced_accuracy", {})])
def test_minimizing_a_named_score_warns(formula, options):
    """`minimize: f1` (or minimize=True) trains toward a lower F1, without a word: read as "minimize the F1 loss",
    it trains the model to be wrong. A catalog score (higher is better) under minimize now warns; a rate that is
    lower-better (FPR) or a cost does not, and the loss is still the formula itself, as asked."""
    name, fresh = formula.removeprefix("minimize:").strip(), {"L": 37.25}  # (an L of this test alone: not cached)
    with pytest.warns(MetriccWarning, match=re.escape(f"trains toward a lower {name}, a score (higher is better); "
                                                      f"without minimize the loss is 1 - {name}")):
        metric = compile_metric(formula, **options, **fresh)
    assert metric.minimize
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for other in ("minimize: FPR", "minimize: FP + 5*FN", name):
            compile_metric(other, **fresh)


def test_minimizing_a_named_score_after_bindings_warns_and_a_binding_of_its_name_does_not():
    """Bindings before the score do not change that `f1` is the score minimized (it had warned only without
    them); a binding named f1 is the user's own formula, a cost here."""
    with pytest.warns(MetriccWarning, match=re.escape("trains toward a lower f1, a score (higher is better)")):
        parse("minimize: w = 2; f1")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert parse("minimize: f1 = FP + 5*FN; f1").minimize


@pytest.mark.parametrize("name, meaning", [("L", "amplifying scale"), ("eps", "counts' smoothing"),
                                           ("threshold", "decision threshold")])
def test_a_parameter_named_as_a_setting_says_so(name, meaning):
    """A formula parameter named L, eps or threshold collides with compile_metric's setting of that name: passing
    L=0.5 set the amplifying scale, and the formula's `L` was then "unknown ...; if it is a parameter, pass L=...
    to compile_metric" (what the user had done); `eps` got "did you mean `exp`?"."""
    with pytest.raises(MetriccError, match=re.escape(f"unknown name `{name}`: `{name}` is compile_metric's "
                                                     f"{meaning}, not a parameter of the formula: give the "
                                                     f"parameter another name")):
        compile_metric(f"TP/N + {name}*FP/N", **{name: 0.25})


@pytest.mark.parametrize("task, hint", [
    ("multilabel", "one label is the binary task (the default), which takes logits and labels of any shape"),
    ("multiclass", "two classes are the least: for one positive class against the rest, the binary task"),
])
def test_num_classes_one_says_what_to_use(task, hint):
    """num_classes=1 (one label, targets of shape (n, 1)) was refused as "an int of at least 2, but got 1",
    without saying that one label is what the binary task computes."""
    with pytest.raises(MetriccError, match=re.escape(f"at least 2, but got 1: {hint}")):
        compile_metric("f1", task=task, num_classes=1)


@pytest.mark.parametrize("formula", ["N", "prevalence", "POS/N", "minimize: NEG", "sqrt(POS*NEG)/N",
                                     "(TP+FN)/(TP+FP+FN+TN)", "log(POS + 1)*exp(NEG/N)"])
@pytest.mark.parametrize("task", ["binary", "multiclass"])
def test_a_formula_of_the_labels_alone_is_refused(formula, task):
    """A formula of N, POS and NEG only (fixed by the labels, whatever the predictions) has a zero gradient: it
    used to compile into a loss that trains nothing. It is refused, as a constant is."""
    classes = {"task": "multiclass", "num_classes": 3} if task == "multiclass" else {}
    with pytest.raises(MetriccError, match="depends on the predictions through none of its counts"):
        compile_metric(formula, **classes)


@pytest.mark.parametrize("formula", ["recall", "TP/POS", "specificity", "minimize: FP/N", "POS/N + TP"])
def test_a_formula_that_moves_with_one_kind_of_sample_compiles(formula):
    """Recall has no gradient for negative samples (b = 0) and specificity none for positive ones: they train."""
    metric = compile_metric(formula)
    assert metric.coefficients["a"] != 0 or metric.coefficients["b"] != 0


@pytest.mark.parametrize("call", ["score", "tune_threshold"])
def test_all_zero_weights_are_refused_by_score_and_tune_threshold(call):
    """As by the losses: score() returned NaN (with a 0/0 warning) and tune_threshold() said the metric was
    undefined at every cut-off, for weights that weigh nothing."""
    y = np.array([1, 0, 1, 0, 0])
    with pytest.raises(MetriccError, match="`sample_weight` to have a positive entry, but all are zero"):
        getattr(F1, call)(np.array([1, 0, 0, 1, 0]) if call == "score" else np.linspace(-1, 1, 5), y, np.zeros(5))


@pytest.mark.parametrize("task", ["binary", "multiclass", "multilabel"])
@pytest.mark.parametrize("options", [{}, {"bce_weight": 0.1}, {"bce_weight": 0.1, "momentum": 0.9},
                                     {"bce_weight": 0.1, "compile": True}])
def test_all_zero_weights_are_refused_by_every_torch_training_option(task, options):
    """With the BCE blend, the binary loss's CPU path divided the blend by the total weight before the checks:
    Python's ZeroDivisionError for all-zero weights."""
    classes = {} if task == "binary" else {"task": task, "num_classes": 3}
    loss = compile_metric("f1", **classes).to_torch(**options)
    shape = (4,) if task != "multilabel" else (4, 3)
    target = torch.tensor([0, 1, 2, 1]) if task == "multiclass" else torch.ones(shape)
    logits = torch.zeros((4, 3) if task != "binary" else (4,), requires_grad=True)
    with pytest.raises(MetriccError, match="`sample_weight` to have a positive entry, but all are zero"):
        loss(logits, target, torch.zeros(shape if task == "binary" else (4,)))


# -- torch multi-class targets, raw exceptions ----------------------------------------------------------------

def test_torch_multiclass_refuses_float_class_indices():
    loss = compile_metric("f1", task="multiclass", num_classes=3).to_torch(pure=True)
    with pytest.raises(MetriccError, match="integer class indices, but got torch.float32"):
        loss(torch.randn(3, 3), torch.tensor([0.0, 1.5, 2.0]))


def test_loss_and_grad_on_a_tensor_that_requires_grad():
    with pytest.raises(MetriccError, match="`input` to be an array of numbers.*detach"):
        F1.loss_and_grad(torch.randn(4, requires_grad=True), np.array([0, 1, 1, 0]))


@pytest.mark.parametrize("module, call, message", [
    ("torch", "to_torch(pure=True)", "to_torch() needs PyTorch, which is not installed: pip install torch"),
    # (scorer() had raised ModuleNotFoundError from inside)
    ("sklearn", "scorer()", "scorer() needs scikit-learn, which is not installed: pip install scikit-learn"),
])
def test_a_missing_library_is_named_with_how_to_install_it(module, call, message):
    code = (f"import sys; sys.modules[{module!r}] = None\n"
            "from metricc import compile_metric, MetriccError\n"
            f"try:\n    compile_metric('f1').{call}\n"
            "except MetriccError as error:\n    print('refused:', error)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert f"refused: {message}" in out.stdout


def test_unknown_option_suggests_the_close_one():
    with pytest.raises(MetriccError, match="unknown option 'treshold'; did you mean 'threshold'"):
        F1.to_torch(pure=True, treshold=0.3)


@pytest.mark.parametrize("backend, option, message", [
    ("torch", "pos_weight", "`pos_weight` is BCEWithLogitsLoss's weight of the positive class: a metric loss weighs"),
    ("torch", "reduction", "`reduction`: the loss is one number for the whole batch"),
    ("torch", "weight", "`weight`: per-element weights go to the call, loss(input, target, sample_weight=...)"),
    ("xgboost", "weight", "`weight`: sample weights come from the booster's data, DMatrix(X, y, weight=w)"),
    ("xgboost", "scale_pos_weight", "`scale_pos_weight` is the booster's weight of the positive class"),
    ("lightgbm", "is_unbalance", "`is_unbalance` is the booster's weight of the positive class"),
    ("torch", "label_smoothing", "`label_smoothing`: smooth the targets themselves: soft labels in [0, 1]"),
    ("jax", "dtype", "`dtype`: the loss computes on its inputs' device and in their floating-point type"),
    ("torch", "device", "`device`: the loss computes on its inputs' device")])
def test_options_of_other_losses_say_what_metricc_does_instead(backend, option, message):
    """Options that BCE or a booster's logistic objective take were refused with a close name: pos_weight
    suggested bce_weight (a blend with BCE, not a class weight). Now the error says what metricc does instead."""
    with pytest.raises(MetriccError, match=re.escape(message)) as info:
        getattr(F1, f"to_{backend}")(**{option: 2.0})
    assert "did you mean" not in str(info.value)


@pytest.mark.parametrize("backend", ["torch", "jax"])
def test_a_class_weight_given_as_cross_entropys_weight_says_where_it_goes(backend):
    """CrossEntropyLoss(weight=...) weighs the classes: to_torch(weight=[...]) of a multi-class metric was told
    that per-element weights go to the call, not where class weights go (and compile_metric(weight=[...]), that a
    parameter must be a number)."""
    metric = compile_metric("f1", task="multiclass", num_classes=3)
    with pytest.raises(MetriccError, match=re.escape(
            "`weight`: CrossEntropyLoss's weight of each class is compile_metric(..., class_weight=[...]), the "
            "classes' weights in the average; per-sample weights go to the call, loss(input, target, "
            "sample_weight=...)")):
        getattr(metric, f"to_{backend}")(weight=[1.0, 2.0, 3.0])
    with pytest.raises(MetriccError, match=re.escape(
            "unknown argument `weight`; `weight` is an argument of PyTorch's losses: CrossEntropyLoss's weight of "
            "each class is compile_metric(..., class_weight=[...]), the classes' weights in the average; "
            "per-sample weights go to the call, loss(input, target, sample_weight=...)")):
        compile_metric("f1", task="multiclass", num_classes=3, weight=[1, 2, 3])


@pytest.mark.parametrize("backend", ["torch", "jax", "xgboost"])
@pytest.mark.parametrize("option, value", [("ignore_index", 255), ("task", "multiclass"), ("num_classes", 3),
                                           ("average", "micro"), ("class_weight", [1, 2]), ("minimize", True),
                                           ("beta", 2)])
def test_an_argument_of_compile_metric_given_to_a_backend_says_where_it_goes(backend, option, value):
    """torchmetrics takes ignore_index and num_classes where the loss is made; metricc compiles them in (and a
    formula's parameters): the error says so, instead of listing the options it does take."""
    metric = compile_metric("fbeta", beta=1)
    make = {"torch": metric.to_torch, "jax": metric.to_jax, "xgboost": metric.to_xgboost}
    with pytest.raises(MetriccError, match=re.escape(f"`{option}` is an argument of compile_metric(), not of "
                                                     f"to_{backend}(): compile_metric(..., {option}=")):
        make[backend](**{option: value})


# -- probabilities passed as logits ------------------------------------------------------------------------------

def test_torch_warns_once_when_logits_look_like_probabilities():
    loss = F1.to_torch(pure=True)
    target = torch.tensor([0, 1] * 8)
    probabilities = torch.rand(16, generator=torch.Generator().manual_seed(0))
    with pytest.warns(MetriccWarning, match="are these probabilities"):
        loss(probabilities, target)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss(probabilities, target)  # once per module


def test_no_warning_for_a_fresh_network_whose_logits_start_inside_the_unit_interval():
    """The paper's MLP (seed 3) starts with logits in [0.19, 0.83] on its synthetic set: no probabilities."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))
    from reproduce_paper import MLP, synthetic
    from sklearn.preprocessing import StandardScaler

    X = StandardScaler().fit_transform(synthetic(10_000)[0])
    torch.manual_seed(3)
    with torch.no_grad():
        logits = MLP(2)(torch.tensor(X[:450], dtype=torch.float32))
    assert 0 <= logits.min() and logits.max() <= 1 and logits.max() - logits.min() > 0.5
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        F1.to_torch(pure=True)(logits, torch.tensor([0, 1] * 225))


def test_numpy_warns_when_logits_look_like_probabilities():
    metric = compile_metric("f1", L=72.0)  # a fresh NumPy loss
    with pytest.warns(MetriccWarning, match="pass from_logits=False for probabilities"):
        metric.loss_and_grad(np.random.default_rng(0).random(16), np.array([0, 1] * 8))


def test_jax_warns_where_the_logits_can_be_read():
    """Eagerly and under an eager jax.grad, once per loss; under jax.jit, where values cannot be read, nothing."""
    jax = pytest.importorskip("jax")
    probabilities, target = np.random.default_rng(0).random(16), np.array([0.0, 1.0] * 8)
    for call in (lambda loss: loss(probabilities, target), lambda loss: jax.grad(loss)(probabilities, target)):
        loss = F1.to_jax()
        with pytest.warns(MetriccWarning, match="pass from_logits=False for probabilities"):
            call(loss)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            call(loss)  # once per loss
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        jax.jit(F1.to_jax())(probabilities, target)
        compile_metric("f1", from_logits=False).to_jax()(probabilities, target)


def test_no_warning_when_logits_pass_through_the_unit_interval_while_training():
    """Logits of a training network can all lie in [0, 1], spread over half of it, for a few steps (seen at
    steps 5-15 of a 64-unit MLP): that is no sign of probabilities. They stay there only when they are."""
    loss = F1.to_torch(pure=True)
    target = torch.tensor([0, 1] * 8)
    generator = torch.Generator().manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for step in range(200):
            spread = 0.1 + 0.8 * torch.rand(16, generator=generator)  # in [0.1, 0.9]
            logits = spread if step % 30 < 12 else 4 * torch.randn(16, generator=generator)
            loss(logits if step else 0.1 * logits, target)
    with pytest.warns(MetriccWarning, match="are these probabilities"):  # a run fed probabilities: a streak
        for step in range(60):
            loss(0.5 + 0.45 * (2 * torch.rand(16, generator=generator) - 1) * min(1.0, step / 20), target)


def test_no_warning_for_a_long_run_of_logits_in_a_narrow_band():
    """A network that learns slowly can keep its logits in a narrow band inside [0, 1] (0.3 to 0.5) for many
    steps: a streak of such calls is no sign of probabilities, which spread over the interval."""
    loss, target = F1.to_torch(pure=True), torch.tensor([0, 1] * 8)
    generator = torch.Generator().manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for _ in range(120):
            loss(0.3 + 0.2 * torch.rand(16, generator=generator), target)


@pytest.mark.parametrize("logits", [torch.zeros(16), torch.randn(16, generator=torch.Generator().manual_seed(0)),
                                    torch.rand(4), 0.3 + 0.2 * torch.rand(64)])  # the last: a fresh network's
def test_no_warning_for_logits_that_may_well_be_logits(logits):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        compile_metric("f1").to_torch(pure=True)(logits, (torch.arange(logits.numel()) % 2).float())
        compile_metric("f1", from_logits=False).to_torch(pure=True)(torch.rand(16), torch.arange(16) % 2)


def _softmax_rows(n=64, classes=4, seed=0):
    return torch.randn(n, classes, generator=torch.Generator().manual_seed(seed)).softmax(1)


def _hinted_loss(backend, metric):
    """A fresh loss of `metric` in `backend` that takes torch tensors (JAX: called eagerly, under jax.grad)."""
    if backend == "torch":
        return metric.to_torch(pure=True)
    if backend == "numpy":
        return lambda x, y: metric.loss_and_grad(x.numpy(), y.numpy())
    jax = pytest.importorskip("jax")
    loss = metric.to_jax()
    return lambda x, y: jax.grad(loss)(jax.numpy.asarray(x.numpy()), jax.numpy.asarray(y.numpy()))


@pytest.mark.parametrize("backend", ["torch", "numpy", "jax"])
def test_multiclass_warns_once_when_logits_are_a_softmax_output(backend):
    """A model ending in softmax, fed to a loss that takes logits, trains on softmax(softmax(z)) without an error;
    rows in [0, 1] that each sum to 1 say so on the first call."""
    metric = compile_metric("f1", task="multiclass", num_classes=4, L=71.0)  # a NumPy loss of its own
    run = _hinted_loss(backend, metric)
    target = torch.arange(64) % 4
    with pytest.warns(MetriccWarning, match=r"sums to 1: are these probabilities \(a softmax's output\)"):
        run(_softmax_rows(), target)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        run(_softmax_rows(seed=1), target)  # once per loss


@pytest.mark.parametrize("backend", ["torch", "numpy", "jax"])
def test_binary_warns_once_for_two_class_one_hot_targets(backend):
    """A two-class model's (n, 2) logits with one-hot targets, given to a binary loss, trained on both columns'
    elements as one confusion matrix (every sample once positive, once negative: not the F1 of class 1) without a
    word; the first such call says so and what to pass. Targets with rows that are not all one-hot (multi-label
    data of two labels) do not warn."""
    metric = compile_metric("f1", L=69.0)  # a NumPy loss of its own
    run = _hinted_loss(backend, metric)
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(32, 2, generator=generator)
    one_hot = torch.nn.functional.one_hot(torch.arange(32) % 3 % 2, 2).float()
    with pytest.warns(MetriccWarning, match=r"each row of `target` is one-hot over 2 columns: a two-class model's "
                                            r"output\? .*input\[:, 1\] - input\[:, 0\].*target\[:, 1\].*"
                                            r"task='multiclass', num_classes=2"):
        run(logits, one_hot)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        run(logits, one_hot)  # once per loss
        labels = one_hot.clone()
        labels[0] = 1.0  # both labels of a sample: multi-label data
        compile_metric("f1", L=68.0).loss_and_grad(logits.numpy(), labels.numpy())
        run2 = _hinted_loss(backend, compile_metric("f1", L=67.0))
        run2(logits, labels)


def test_binary_score_warns_for_two_class_one_hot_targets():
    """score() of a binary metric on (n, 2) one-hot predictions and targets counted both columns as one confusion
    matrix (here 0.75 where class 1's F1 is 2/3) without a word; it warns and says what to pass, and so does
    tune_threshold() on a two-class model's scores."""
    metric = compile_metric("f1")
    target = np.eye(2)[[0, 1, 1, 0, 1, 0]]
    predictions = np.eye(2)[[0, 1, 0, 0, 1, 1]]
    with pytest.warns(MetriccWarning, match=r"each row of `target` is one-hot over 2 columns.*score\(\) counts.*"
                                            r"predictions\[:, 1\] and target\[:, 1\]"):
        value = metric.score(predictions, target)
    from sklearn.metrics import f1_score

    assert value == pytest.approx(f1_score(target.ravel(), predictions.ravel()))  # what it computes, still
    assert metric.score(predictions[:, 1], target[:, 1]) == pytest.approx(f1_score(target[:, 1], predictions[:, 1]))
    scores = np.column_stack([1 - np.linspace(0, 1, 6), np.linspace(0, 1, 6)])  # predict_proba's two columns
    with pytest.warns(MetriccWarning, match=r"each row of `target` is one-hot over 2 columns.*tune_threshold\(\) "
                                            r"counts.*scores\[:, 1\] and target\[:, 1\]"):
        metric.tune_threshold(scores, target)


@pytest.mark.parametrize("backend", ["torch", "numpy", "jax"])
def test_multilabel_warns_once_when_logits_look_like_probabilities(backend):
    metric = compile_metric("f1", task="multilabel", num_classes=3, L=71.0)  # a NumPy loss of its own
    run = _hinted_loss(backend, metric)
    generator = torch.Generator().manual_seed(0)
    target = (torch.rand(32, 3, generator=generator) < 0.4).float()
    probabilities = torch.randn(32, 3, generator=generator).mul(3).sigmoid()
    with pytest.warns(MetriccWarning, match=r"are these probabilities \(a sigmoid's output\)"):
        run(probabilities, target)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        run(probabilities, target)


@pytest.mark.parametrize("task", ["multiclass", "multilabel"])
@pytest.mark.parametrize("backend", ["torch", "numpy", "jax"])
def test_no_warning_for_multiclass_logits_that_may_well_be_logits(task, backend):
    """Log-probabilities give the same softmax (no mistake); logits in [0, 1] whose rows do not sum to 1, and a
    fresh network's narrow band inside [0, 1], are logits."""
    generator = torch.Generator().manual_seed(0)
    target = torch.arange(64) % 4 if task == "multiclass" else (torch.rand(64, 4, generator=generator) < 0.4).float()
    cases = [_softmax_rows().log(), torch.randn(64, 4, generator=generator), 0.3 + 0.2 * torch.rand(64, 4),
             *([torch.rand(64, 4, generator=generator)] if task == "multiclass" else [])]
    for k, logits in enumerate(cases):
        metric = compile_metric("f1", task=task, num_classes=4, L=72.0 + k / 4)  # a first call each
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            _hinted_loss(backend, metric)(logits, target)


# -- hints -------------------------------------------------------------------------------------------------------

def test_a_small_threshold_warns_about_L_instead_of_failing_on_an_argument_never_passed():
    metric = compile_metric("f1", threshold=0.005)
    with pytest.warns(MetriccWarning, match="L = 73 is outside the valid range"):
        loss = metric.to_torch(pure=True)(torch.randn(8), torch.tensor([0, 1] * 4))
    assert torch.isfinite(loss)


# -- sample weights so light that eps shifts the loss -------------------------------------------------------------

def _light_weight_losses():
    rng = np.random.default_rng(0)
    z, y = rng.normal(0, 2, 64), (rng.random(64) < 0.3).astype(float)
    Z, labels = rng.normal(0, 2, (64, 3)), rng.integers(0, 3, 64)
    calls = {
        "numpy": lambda w: F1.loss_and_grad(z, y, w),
        "numpy multiclass": lambda w: compile_metric("f1", task="multiclass", num_classes=3).loss_and_grad(
            Z, labels, w),
        "torch": lambda w: F1.to_torch()(torch.tensor(z), torch.tensor(y), torch.tensor(w)),
        "torch multiclass": lambda w: compile_metric("f1", task="multiclass", num_classes=3).to_torch()(
            torch.tensor(Z), torch.tensor(labels), torch.tensor(w)),
        "torch multilabel": lambda w: compile_metric("f1", task="multilabel", num_classes=3).to_torch()(
            torch.tensor(Z), torch.tensor(Z > 0.5).double(), torch.tensor(w)),
    }
    try:
        import jax.numpy as jnp
    except ImportError:
        return calls
    calls["jax"] = lambda w: F1.to_jax()(jnp.asarray(z, jnp.float32), jnp.asarray(y), jnp.asarray(w))
    calls["jax multiclass"] = lambda w: compile_metric("f1", task="multiclass", num_classes=3).to_jax()(
        jnp.asarray(Z, jnp.float32), jnp.asarray(labels), jnp.asarray(w))
    return calls


LIGHT = _light_weight_losses()


@pytest.mark.parametrize("backend", LIGHT)
def test_weights_too_light_for_eps_warn(backend):
    """Weights normalised to add up to 1 over a large data set weigh ~1e-6 each: eps (1e-6, added to each count)
    then shifts the loss of a batch (F1's loss went from 0.653 to 0.550 at weights of 1e-8, and its gradient to 0.3
    of its size) without a word. A batch whose weights add up to less than 1e4 eps warns (also where they add up to
    more than eps itself); weights that add up to more, such as 1, do not."""
    with pytest.warns(MetriccWarning, match="sample weights of this batch add up to 6.4e-07"):
        LIGHT[backend](np.full(64, 1e-8))
    with pytest.warns(MetriccWarning, match="sample weights of this batch add up to 0.0064"):
        LIGHT[backend](np.full(64, 1e-4))
    with warnings.catch_warnings():
        warnings.simplefilter("error", MetriccWarning)
        LIGHT[backend](np.full(64, 1e-3))
        LIGHT[backend](np.ones(64))


def _weight_checks():
    """Every call that checks sample weights, as a function of 64 weights: the losses of LIGHT, the boosters'
    objectives (float64 and the float32 a booster passes), score(), tune_threshold() and emitted modules."""
    rng = np.random.default_rng(1)
    z, y = rng.normal(0, 2, 64), (rng.random(64) < 0.3).astype(float)
    Z, labels = rng.normal(0, 2, (64, 3)), rng.integers(0, 3, 64)
    classes = compile_metric("f1", task="multiclass", num_classes=3)
    calls = dict(LIGHT)
    calls["xgboost"] = lambda w: F1.to_xgboost()(y, z, w)
    calls["xgboost float32"] = lambda w: F1.to_xgboost()(y, z.astype(np.float32), w.astype(np.float32))
    calls["lightgbm multiclass"] = lambda w: classes.to_lightgbm()(labels, Z, w)
    calls["torch compiled"] = lambda w: F1.to_torch(compile=True)(torch.tensor(z), torch.tensor(y), torch.tensor(w))
    calls["score"] = lambda w: F1.score((z > 0).astype(int), y, w)
    calls["tune_threshold"] = lambda w: F1.tune_threshold(z, y, w)
    calls["emitted numpy"] = lambda w: load_emitted(F1.emit("numpy"))["MetricLoss"]()(z, y, w)
    calls["emitted torch"] = lambda w: load_emitted(F1.emit("torch"))["MetricLoss"]()(
        torch.tensor(z), torch.tensor(y), torch.tensor(w))
    return calls


WEIGHT_CHECKS = _weight_checks()


@pytest.mark.parametrize("bad, shown", [(np.nan, "nan at index 5"), (-2.5, r"-2\.5 \(the smallest entry at index 5\)"),
                                        (np.inf, "inf at index 5")])
@pytest.mark.parametrize("call", WEIGHT_CHECKS)
def test_bad_sample_weights_are_named_in_the_error(call, bad, shown):
    """A NaN, negative or infinite weight among 64 was refused as "Expected `sample_weight` to be finite and
    non-negative." (boosters: "finite, non-negative sample weights with a positive entry") without the value that
    broke the rule; the error now names it (the smallest entry for a negative one), and where it is."""
    w = np.full(64, 3.0)  # not 1: a loss that divides the weights by the largest must not show the quotient
    w[5], w[9] = bad, 0.0  # (a weight of 0 is fine: the one at fault is named, not the smallest)
    with pytest.raises(ValueError, match=rf"Expected (`sample_weight`|sample weights) to be finite and "
                                         rf"non-negative, but got {shown}\.$"):
        WEIGHT_CHECKS[call](w)


@pytest.mark.parametrize("task", ["binary", "multiclass", "multilabel"])
@pytest.mark.parametrize("kind", ["ndarray", "list"])
def test_torch_names_logits_that_are_no_tensor(task, kind):
    """NumPy logits (or a list) given to a multi-class or multi-label torch loss were refused as "Expected `input`
    of shape (n, 3) ..., but got (4, 3)": the very shape it asked for."""
    options = {} if task == "binary" else {"task": task, "num_classes": 3}
    loss = compile_metric("f1", **options).to_torch()
    z = np.zeros(4) if task == "binary" else np.zeros((4, 3))
    y = {"binary": torch.tensor([0.0, 1, 1, 0]), "multiclass": torch.tensor([0, 1, 2, 0]),
         "multilabel": torch.zeros(4, 3)}[task]
    message = rf"Expected `input`( and `target`)? to be (a tensor|tensors), but got {kind}"
    with pytest.raises(MetriccError, match=message):
        loss(z if kind == "ndarray" else z.tolist(), y)


@pytest.mark.parametrize("task", ["binary", "multiclass", "multilabel"])
def test_torch_refuses_complex_sample_weights(task):
    """Complex weights were made real with a torch warning (binary) or failed inside torch.aminmax (multi-class)."""
    options = {} if task == "binary" else {"task": task, "num_classes": 3}
    loss = compile_metric("f1", **options).to_torch()
    z = torch.randn(10) if task == "binary" else torch.randn(10, 3)
    y = {"binary": (torch.rand(10) < 0.5).float(), "multiclass": torch.randint(0, 3, (10,)),
         "multilabel": (torch.rand(10, 3) < 0.5).float()}[task]
    with pytest.raises(MetriccError, match="Expected `sample_weight` to hold real numbers, but got torch.complex64"):
        loss(z, y, torch.ones(10, dtype=torch.complex64))
    with pytest.raises(MetriccError, match=r"Expected `sample_weight` to be a tensor of shape \(10,\), but got list"):
        loss(z, y, [1.0] * 10)  # was AttributeError
    with pytest.raises(MetriccError, match=r"Expected `sample_weight` to be a tensor of shape \(10,\), but got shape "
                                           r"\(10, 1\)"):
        loss(z, y, torch.ones(10, 1))  # a column of weights (broadcasting it would weigh each row 10 times)


@pytest.mark.parametrize("task", ["binary", "multiclass", "multilabel"])
@pytest.mark.parametrize("emitted", [False, True])
def test_torch_weight_shape_error_names_the_shape_it_got(task, emitted, tmp_path):
    """A weight of shape (n, 1) was refused without saying what shape it had (NumPy and JAX said)."""
    options = {} if task == "binary" else {"task": task, "num_classes": 3}
    metric = compile_metric("f1", **options)
    loss = load_emitted(metric.emit("torch"))["MetricLoss"]() if emitted else metric.to_torch()
    z = torch.randn(10) if task == "binary" else torch.randn(10, 3)
    y = {"binary": (torch.rand(10) < 0.5).float(), "multiclass": torch.randint(0, 3, (10,)),
         "multilabel": (torch.rand(10, 3) < 0.5).float()}[task]
    with pytest.raises(ValueError, match=r"shape \(10,\), but got shape \(10, 1\)\.$"):
        loss(z, y, torch.ones(10, 1))
    with pytest.raises(ValueError, match=r"but got numpy.ndarray \(torch.as_tensor makes one\)"):
        loss(z, y, np.ones(10))


@pytest.mark.parametrize("formula, column", [("v0 = log(-exp(TP)); (TP * v0)", 6), ("log(-exp(FN))/N + TPR", 1)])
def test_a_formula_real_for_no_counts_is_refused_when_compiled(formula, column):
    """log(-exp(TP)) is TP + i pi for every count; SymPy kept it as written until the derivation rewrote it, so
    it compiled and the first call failed to print I*pi (then compile_metric refused it after the derivation;
    log(-exp(FN))/N + TPR, whose log SymPy keeps, was refused by each call as not finite). The parser refuses
    both where the log is written."""
    with pytest.raises(MetriccError, match=rf"not a real number for any counts .*\(column {column}\)"):
        compile_metric(formula)


def _loss_of(backend, metric, *arrays):
    """`metric`'s loss on the `backend` ("numpy", "torch", "jax") of NumPy arrays (input, target[, weights])."""
    if backend == "numpy":
        return metric.loss_and_grad(*arrays)
    if backend == "torch":
        return metric.to_torch()(*map(torch.tensor, arrays))
    pytest.importorskip("jax")
    return metric.to_jax()(*arrays)


def _refuses_with(hint, backend, metric, z, y):
    """`metric`'s loss on the `backend` raises a MetriccError that holds `hint`."""
    with pytest.raises(MetriccError, match=re.escape(hint)):
        _loss_of(backend, metric, z, y)


@pytest.mark.parametrize("backend", ["numpy", "torch", "jax"])
@pytest.mark.parametrize("task", ["binary", "multilabel"])
@pytest.mark.parametrize("target, hint", [
    ([0, 1, 255, 1], "Expected `target` values in [0, 1], but they range from 0 to 255 (the largest at index 2): "),
    ([0, 1, 255, 1], "; to leave elements out (an ignore label), compile with ignore_index=255."),
    ([0, 1, 2, 1], "but they range from 0 to 2 (the largest at index 2): class indices? compile with "
                   "task='multiclass', num_classes=...; "),
    ([1, -1, -1, 1], "but they range from -1 to 1 (the smallest at index 1): labels -1/+1? pass (target + 1) / 2; to "
                     "leave elements out (an ignore label), compile with ignore_index=-1."),
    # -1 beside 0 alone is an ignore label, not a -1/+1 coding
    ([0, -1, -1, 0], "but they range from -1 to 0 (the smallest at index 1): to leave elements out (an ignore "
                     "label), compile with ignore_index=-1."),
    # labels coded 1 and 2 (as many data sets code no/yes) were only told of class indices and ignore_index=2
    ([1, 2, 2, 1], "but they range from 1 to 2 (the largest at index 1): labels 1/2? pass target - 1; class indices? "
                   "compile with task='multiclass', num_classes=...; "),
    ([0, 1, 1.5, 1], "but they range from 0 to 1.5 (the largest at index 2)."),
    ([0, 1, np.nan, 1], "`target` values in [0, 1], but it holds NaN at index 2, a missing label: drop or fill it "
                        "first."),
])
def test_target_outside_0_1_says_what_it_got_and_what_to_do(backend, task, target, hint):
    """A binary or multi-label target outside [0, 1] is told its range and the usual ways out: an ignore label
    (such as a segmentation mask's 255) is ignore_index, -1/+1 labels are mapped, class indices need the
    multi-class task."""
    y = np.array(target, dtype=np.float64)
    z = np.zeros(4)
    metric = compile_metric("f1")
    if task == "multilabel":
        metric, z, y = compile_metric("f1", task="multilabel", num_classes=2), np.zeros((4, 2)), np.stack([y, y], 1)
        hint = (hint.replace("`target`", "multi-label `target`")
                .replace("class indices? compile with task='multiclass', num_classes=...; ", "to leave elements"))
        hint = ": " + hint[2:] if hint.startswith("; ") else hint  # (no class-index hint before it)
        hint = re.sub(r"at index (\d)", r"at index (\1, 0)", hint)
    _refuses_with(hint, backend, metric, z, y)


@pytest.mark.parametrize("backend", ["numpy", "torch", "jax"])
def test_a_target_outside_0_1_is_placed_in_the_target_as_given(backend):
    """A label outside [0, 1] was told only the targets' range: in a batch of thousands, not which sample. Now the
    first entry at the end that lies outside, by its index in the target as given (a 2-d binary batch, per-pixel
    multi-label rows), past elements that ignore_index leaves out."""
    binary_y = np.zeros((3, 4))
    binary_y[0, 1], binary_y[1, 3], binary_y[2, 0] = 255, 7, 7  # 255: ignored
    with pytest.raises(MetriccError, match=re.escape("but they range from 0 to 7 (the largest at index (1, 3)): ")):
        _loss_of(backend, compile_metric("f1", ignore_index=255), np.zeros((3, 4)), binary_y)
    pixel_y = np.zeros((2, 3, 2, 2))
    pixel_y[0, 0, 0, 0], pixel_y[1, 2, 1, 0] = 255, -3
    labels = compile_metric("f1", task="multilabel", num_classes=3, ignore_index=255)
    with pytest.raises(MetriccError, match=re.escape("range from -3 to 0 (the smallest at index (1, 2, 1, 0))")):
        _loss_of(backend, labels, np.zeros((2, 3, 2, 2)), pixel_y)


@pytest.mark.parametrize("backend", ["numpy", "torch", "jax"])
@pytest.mark.parametrize("input_shape, target_shape, hint", [
    ((8, 1), (8,), "squeeze the model's output: input.squeeze(-1)"),
    ((8,), (8, 1), "squeeze the labels: target.squeeze(-1)"),
    # a two-class model's logits (a Hugging Face classifier's, num_labels=2): class 1's own score first, which is
    # what a binary metric scores (the hint had offered only the average over both classes)
    ((8, 2), (8,), "two outputs per sample, one per class? for class 1's score pass input[:, 1] - input[:, 0] "
                   "(its logit against class 0's; input[:, 1] for probabilities), or for the mean over both "
                   "classes compile with task='multiclass', num_classes=2"),
    ((8, 3), (8,), "compile with task='multiclass', num_classes=3"),
    ((8, 3), (5,), "but got (8, 3) and (5,)."),  # other sample counts: no hint of classes
    # a binary segmentation's one channel against masks without it (the hint named squeeze(-1), a no-op)
    ((2, 1, 4, 4), (2, 4, 4), "squeeze the channel: input.squeeze(1)"),
    ((2, 4, 4), (2, 1, 4, 4), "squeeze the channel: target.squeeze(1)"),
])
def test_shape_mismatch_says_what_to_do(backend, input_shape, target_shape, hint):
    """The two shape mistakes of a binary loss: a (n, 1) output against (n,) labels, and one logit per class."""
    rng = np.random.default_rng(0)
    z, y = rng.normal(size=input_shape), rng.integers(0, 2, target_shape)
    metric = compile_metric("f1")
    _refuses_with(hint, backend, metric, z, y)


@pytest.mark.parametrize("backend", ["numpy", "torch", "jax"])
@pytest.mark.parametrize("task, num_classes, input_shape, hint", [
    # a binary model's one logit per sample given to a two-class loss: how to score either way
    ("multiclass", 2, (8,), "one logit per sample (a binary model's)? for class 1's score compile the binary "
                            "metric (no task); for the mean over both classes pass a column of zeros before it, "
                            "stack([zeros, input], 1) (softmax of (0, x) is sigmoid(x))"),
    ("multiclass", 2, (8, 1), "one logit per sample (a binary model's)? for class 1's score"),
    ("multiclass", 3, (8,), "one value per sample? the input holds one logit per class, (n, 3)"),
    ("multilabel", 3, (8,), "one value per sample? the input holds one logit per label, (n, 3)"),
    ("multiclass", 3, (3, 8), "the classes along dimension 0? pass the transpose, input.T, of shape (8, 3)"),
])
def test_a_multi_class_input_of_the_wrong_shape_says_what_to_do(backend, task, num_classes, input_shape, hint):
    """The shape error of a multi-class or multi-label input named only the shape it expected."""
    rng = np.random.default_rng(0)
    n = 8
    z = rng.normal(size=input_shape)
    y = rng.integers(0, num_classes, n) if task == "multiclass" else rng.integers(0, 2, (n, num_classes))
    _refuses_with(hint, backend, compile_metric("f1", task=task, num_classes=num_classes), z, y)


@pytest.mark.parametrize("backend", ["numpy", "torch", "jax"])
@pytest.mark.parametrize("task, target_shape, hint", [
    ("multiclass", (6, 3), "one-hot targets? pass class indices: target.argmax(1), or class probabilities as "
                           "floats: target.float() (task='multilabel' if labels can co-occur)"),
    ("multiclass", (6, 1), "squeeze it: target.squeeze(-1)"),
    ("multilabel", (6,), "class indices? a multi-label target holds a 0/1 label per class, (n, C); for one class "
                         "per sample, compile with task='multiclass'"),
    ("multilabel", (6, 1), " (6, 1)."),  # no hint: squeezed, it would be no better
])
def test_multiclass_target_shape_says_what_to_do(backend, task, target_shape, hint):
    rng = np.random.default_rng(0)
    z = rng.normal(size=(6, 3))
    y = rng.integers(0, 2 if len(target_shape) == 2 and target_shape[1] == 3 else 3, target_shape)
    metric = compile_metric("f1", task=task, num_classes=3)
    _refuses_with(hint, backend, metric, z, y)  # (float rows are class probabilities: test_class_probabilities)


# -- finite extremes are numbers, not "NaN or infinity" -----------------------------------------------------

TASKS = {"binary": ({}, (6,), np.array([0, 1, 1, 0, 1, 0.0])),
         "multilabel": ({"task": "multilabel", "num_classes": 2}, (6, 2), np.array([[0, 1], [1, 0]] * 3, float)),
         "multiclass": ({"task": "multiclass", "num_classes": 3}, (6, 3), np.array([0, 1, 2, 0, 1, 2]))}


@pytest.mark.parametrize("backend", ["numpy", "torch", "jax"])
@pytest.mark.parametrize("task", list(TASKS))
@pytest.mark.parametrize("dtype, largest", [(np.float64, 1e308), (np.float32, 3e38)])
@pytest.mark.parametrize("other", [0.9, -1.0])
def test_the_largest_finite_logits_are_finite(backend, task, dtype, largest, other):
    """Logits at the top of their type are finite: torch refused them as "NaN or infinity" (the check added the
    smallest and the largest, which overflows), and NumPy's checks and multi-class softmax printed overflow warnings
    before they went on (the suite turns RuntimeWarnings into errors)."""
    options, shape, target = TASKS[task]
    metric = compile_metric("f1", **options)
    x = np.full(shape, largest, dtype)
    x.flat[1::2] = largest * other  # 0.9: the smallest and the largest add up beyond the type
    if backend == "numpy":
        loss = metric.loss_and_grad(x, target)[0]
    elif backend == "jax":  # JAX casts float64 to float32 (1e308 to inf) unless 64-bit types are on
        import jax

        with jax.enable_x64(dtype == np.float64):
            loss = float(metric.to_jax()(x, target))
    else:  # (the multi-class default's cross-entropy blend overflows there: the next test)
        loss = float(metric.to_torch(pure=True)(torch.from_numpy(x), torch.from_numpy(target)))
    assert np.isfinite(loss)


def test_the_cross_entropy_blend_says_when_it_overflows():
    """A multi-class loss blends in cross-entropy (bce_weight), log-sum-exp(z) - z_y: logits that differ by more than
    their type's range overflow it. The loss was inf without a word; it raises, naming the blend. float16 logits
    that differ by more than 65504 are no such case: the blend computes in float32, as the loss does."""
    metric = compile_metric("f1", task="multiclass", num_classes=3)
    x = torch.tensor([[1e308, -1e308, 0.0], [0.0, 1.0, 2.0]], dtype=torch.float64)
    with pytest.raises(MetriccError, match=r"the cross-entropy blend \(bce_weight=0.1\) is not finite in float64: "
                                           r".*logits that differ by more than float64's largest number"):
        metric.to_torch(bce_weight=0.1)(x, torch.tensor([1, 2]))
    assert torch.isfinite(metric.to_torch(pure=True)(x, torch.tensor([1, 2])))
    half = torch.tensor([[40000.0, -40000.0, 0.0], [0.0, 1.0, 2.0]], dtype=torch.float16)
    loss = metric.to_torch(bce_weight=0.1)(half, torch.tensor([1, 2]))
    assert torch.isfinite(loss) and loss.item() > 0.1 * 80000 / 2


BINARY_BLEND_OVERFLOWS = {  # (bce_weight, logits): a blend that passes float32's range, by either of its factors
    "bce_weight past float32": (1e39, None),
    "bce_weight times the cross-entropy": (3e38, None),  # (times a cross-entropy of about 1.8)
    "logits at float32's largest": (1.0, 1e38),
}


@pytest.mark.parametrize("n", [8, 20000], ids=["folded", "added"])  # the blend computed in the loss's own pass, or
@pytest.mark.parametrize("case", sorted(BINARY_BLEND_OVERFLOWS))  # torch's BCE added to it (a large batch)
def test_a_binary_blend_that_overflows_is_refused_naming_the_blend(case, n):
    """The binary torch loss's BCE blend past float32's range: a large batch's loss was inf without a word (or
    torch's "value cannot be converted to type float without overflow" for bce_weight=1e39), a small batch's
    error blamed the formula ("the formula divides by 0 there"), whose loss is finite. It raises, naming the blend
    and both ways out; the JAX loss says the same."""
    bce_weight, logits = BINARY_BLEND_OVERFLOWS[case]
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, generator=g) * 3 if logits is None else torch.full((n,), logits)
    if logits is not None:
        x[::2] = -logits
    y = (torch.rand(n, generator=g) < 0.5).float()
    metric = compile_metric("f1")
    message = (re.escape(f"the cross-entropy blend (bce_weight={bce_weight:g}) is not finite in float32: ") +
               r".*a smaller bce_weight.*bring the logits back into range")
    with pytest.raises(MetriccError, match=message):
        metric.to_torch(pure=True, bce_weight=bce_weight)(x, y)
    assert torch.isfinite(metric.to_torch(pure=True)(x, y))
    jax = pytest.importorskip("jax")
    with pytest.raises(MetriccError, match=message):
        metric.to_jax(bce_weight=bce_weight)(jax.numpy.asarray(x.numpy()), y.numpy())


def test_the_largest_finite_weights_are_said_to_overflow_the_counts():
    """Weights at float64's top add up to infinity; the binary NumPy loss refused them as "not finite". Their
    counts pass MAX_COUNT, which the loss refuses in every backend with what to do."""
    with pytest.raises(MetriccError, match=r"weighted counts reach inf, beyond 1e\+100.*scale the sample weights"):
        F1.loss_and_grad(np.linspace(-2, 2, 6), TASKS["binary"][2], sample_weight=np.full(6, 1e308))


KAPPA = "(TP*TN - FP*FN) / ((TP+FP)*(FN+TN) + (TP+FN)*(FP+TN))"  # Cohen's kappa, written out (any task)


def test_an_eps_past_the_formulas_count_limit_is_refused():
    """eps is added to every count, so an eps past the formula's count limit (checks.count_limit) makes every
    count pass it: Cohen's kappa at eps = 1e80 gave a NumPy gradient of 0 without a word where torch raised that
    the loss is not finite "(raise eps, ...)", and F1 at eps = 1e200 a finite NumPy loss where torch raised. Such
    an eps is refused where it is given, compile_metric(), a to_*() option or an emitted module's MetricLoss, with
    the limit (an emitted booster objective's: MAX_COUNT, 1e100); one below it is
    taken, and the backends give the same gradient."""
    if np.finfo(np.longdouble).maxexp <= 1024:
        pytest.skip("no wider type than float64 here to tell where the formula overflows")
    for formula, eps, limit in ((KAPPA, 1e80, "1e+77"), ("f1", 1e200, "1e+100"), ("mcc", 1e101, "1e+100")):
        with pytest.raises(MetriccError, match=rf"Expected argument `eps` to be at most {re.escape(limit)}: it is "
                                               rf"added to each count, .* overflow float64 .* but got {re.escape(f'{eps:g}')}\."):
            compile_metric(formula, eps=eps)
        for option in ("to_torch", "to_jax", "to_xgboost", "to_lightgbm"):
            with pytest.raises(MetriccError, match=rf"at most {re.escape(limit)}"):
                getattr(compile_metric(formula), option)(eps=eps)
        for backend in ("numpy", "torch"):  # an emitted module's MetricLoss(eps=...) too
            with pytest.raises(ValueError, match=rf"at most {re.escape(limit)}"):
                load_emitted(compile_metric(formula).emit(backend))["MetricLoss"](eps=eps)
    metric = compile_metric(KAPPA, eps=1e60)
    x, y, w = np.linspace(-2, 2, 8), (np.arange(8) % 3 == 0).astype(float), np.full(8, 1e70)  # (light: a warning)
    logits = torch.tensor(x, requires_grad=True)
    metric.to_torch(pure=True)(logits, torch.tensor(y), torch.tensor(w)).backward()
    expected = logits.grad.numpy()
    assert np.abs(expected).max() > 0
    np.testing.assert_allclose(metric.loss_and_grad(x, y, w)[1], expected, rtol=1e-9)


@pytest.mark.parametrize("task", ["binary", "multiclass"])
@pytest.mark.parametrize("backend", ["numpy", "emitted numpy", "torch", "torch compiled", "jax"])
def test_weights_whose_counts_overflow_the_formulas_partials_are_refused(task, backend):
    """Cohen's kappa squares a product of two sums of counts in its partials: past a total weight of about 1e77
    that overflows float64 and its coefficients came out 0, without a NaN, in NumPy, JAX, emitted modules and
    torch's multi-class and compiled losses (the gradient 100 % off; counts up to MAX_COUNT = 1e100 were taken).
    Each formula now has its own limit (checks.count_limit: where its float64 code leaves the same code in a wider
    type), which every backend refuses past with what to do; below it the gradient is the unit weights' one."""
    if backend == "jax":
        jax = pytest.importorskip("jax")
    options = {} if task == "binary" else {"task": task, "num_classes": 3}
    metric = compile_metric(KAPPA, L=15.0, **options)
    if np.finfo(np.longdouble).maxexp <= 1024:
        pytest.skip("no wider type than float64 here to tell where the formula overflows")
    assert metric._scalars("numpy").count_limit == 1e77 and compile_metric("f1")._scalars("numpy").count_limit == 1e100
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 3)) if task == "multiclass" else rng.normal(size=40)
    y = np.arange(40) % 3 if task == "multiclass" else (np.arange(40) % 3 == 0).astype(float)
    w = rng.uniform(0.5, 2.0, 40) * 1e-6  # (eps = 1e-6 shifts the counts of unit weights, not of heavy ones)

    def gradient(weights):
        if backend in ("numpy", "emitted numpy"):
            loss_and_grad = (metric.loss_and_grad if backend == "numpy" else
                             load_emitted(metric.emit("numpy"))["loss_and_grad"])
            return loss_and_grad(x, y, weights)[1]
        if backend == "jax":
            with jax.enable_x64(True):
                return np.asarray(jax.grad(metric.to_jax())(x, y, weights))
        logits = torch.tensor(x, requires_grad=True)
        metric.to_torch(pure=True, compile=backend == "torch compiled")(logits, torch.tensor(y),
                                                                          torch.tensor(weights)).backward()
        return logits.grad.numpy()

    np.testing.assert_allclose(gradient(w * 1e66), gradient(w * 1e6), rtol=1e-6, atol=1e-9)
    with pytest.raises(ValueError, match=r"beyond 1e\+77, where the partials of the .* loss may overflow float64: "
                                         r"scale the sample weights down"):
        gradient(w * 1e96)
    with pytest.raises(ValueError, match=r"beyond 1e\+77, where the partials"):  # the limit is the limit: just past it
        gradient(w * (1.5e78 / w.sum()))  # (a total of 1.5e78: its largest count, TN, lies between 1e77 and 1e78)


def test_a_formula_that_overflows_in_every_type_is_told_so_not_to_scale_its_weights():
    """checks.count_limit finds where the float64 code leaves the same code in a wider type. Where the wider type
    overflows too (exp(TP/100) passes float64's range from TP = 7.1e4, x86's longdouble's from TP = 1.1e6), the
    formula is at fault, not the weights' scale: its limit stays MAX_COUNT, and counts past where it overflows are
    told that its loss or gradient is not finite there, with the counts, not to scale the weights down below the
    least limit, 1e19 (which would not help: it overflows far below that)."""
    if np.finfo(np.longdouble).maxexp <= 1024:
        pytest.skip("no wider type than float64 here to tell where the formula overflows")
    metric = compile_metric("exp(TP/100)/(exp(TP/100) + FP)")
    assert metric._scalars("numpy").count_limit == 1e100
    z, y = np.linspace(-3, 3, 40), (np.arange(40) % 2).astype(float)
    with pytest.raises(MetriccError, match=r"loss or its gradient is not finite at the counts TP, FP, FN, TN = "
                                           r"[0-9.e+]+, .*passes float64's largest number") as caught:
        metric.loss_and_grad(z, y, np.full(40, 1e25))
    assert "scale the sample weights down" not in str(caught.value)


SCORES = np.array([0.9, 0.8, 0.7, 0.2, 0.1, 0.05])
PREDICTED = np.array([1, 1, 0, 1, 0, 0])


@pytest.mark.parametrize("name", ["f1", "mcc"])
@pytest.mark.parametrize("scale", [1e-300, 1e-200, 1e200, 1e308])
@pytest.mark.parametrize("call", ["score", "tune_threshold"])
def test_score_and_tune_threshold_refuse_weights_out_of_range(name, scale, call):
    """tune_threshold with F1 and weights of 1e308 returned the cut-off inf (its prefix sums overflowed, every
    later cut-off looked undefined), and with MCC and weights of 1e-200 the cut-off 0.9 at value 0 (its products
    underflowed): wrong answers without a word. Weights whose total lies outside [1e-100, 1e100] are now refused;
    inside, the answer is the unit weights' (MCC's generated code keeps that whole range)."""
    metric = compile_metric(name)
    args = (PREDICTED if call == "score" else SCORES, TASKS["binary"][2])
    with pytest.raises(MetriccError, match=r"sample weights add up to .*, outside \[1e-100, 1e\+100\].*rescale"):
        getattr(metric, call)(*args, sample_weight=np.full(6, scale))


@pytest.mark.parametrize("name", ["f1", "mcc"])
@pytest.mark.parametrize("scale", [1e-100, 1e-50, 1e50, 1e99])
def test_weights_inside_the_range_give_the_unit_weights_answer(name, scale):
    metric = compile_metric(name)
    y = TASKS["binary"][2]
    assert metric.score(PREDICTED, y, sample_weight=np.full(6, scale)) == pytest.approx(metric.score(PREDICTED, y))
    cut, value = metric.tune_threshold(SCORES, y, sample_weight=np.full(6, scale))
    assert (cut, value) == pytest.approx(metric.tune_threshold(SCORES, y))


@pytest.mark.parametrize("task", ["multiclass", "multilabel"])
def test_multi_score_refuses_weights_out_of_range(task):
    """The multi-class and multi-label scores warned that F1 was "undefined (0/0)" at weights of 1e308, whose
    counts had overflowed."""
    options, shape, target = TASKS[task]
    metric = compile_metric("f1", **options)
    predictions = target.astype(int)
    with pytest.raises(MetriccError, match=r"sample weights add up to inf, outside .*rescale"):
        metric.score(predictions, target, sample_weight=np.full(6, 1e308))


# class indices are integers: torch gives them no gradient
@pytest.mark.parametrize("task, wrt", [(task, wrt) for task in ("binary", "multiclass", "multilabel")
                                       for wrt in ("target", "sample_weight") if (task, wrt) != ("multiclass", "target")])
@pytest.mark.parametrize("options", [{"pure": True}, {}], ids=["pure", "defaults"])
def test_torch_refuses_a_target_or_weights_that_require_grad(task, options, wrt):
    """The derived gradient flows to the logits only: learned weights (a re-weighting) got no gradient (None, so an
    optimizer skipped them without a word), or part of one through the BCE blend. Such a target or weight is
    refused while gradients are recorded; detached, or under no_grad, it is taken."""
    extra = {} if task == "binary" else {"task": task, "num_classes": 3}
    loss_fn = compile_metric("f1", **extra).to_torch(**options)
    z = torch.linspace(-2, 2, 12, requires_grad=True)
    y = torch.arange(12) % 2 * 1.0
    if task != "binary":
        z = torch.linspace(-2, 2, 12).reshape(4, 3).requires_grad_()
        y = torch.tensor([0, 1, 2, 1]) if task == "multiclass" else (z.detach() > 0.3).float()
    w = torch.linspace(0.5, 1.5, len(z))
    arguments = {"target": y, "sample_weight": w}
    arguments[wrt] = arguments[wrt].clone().requires_grad_()
    with pytest.raises(MetriccError, match=rf"`{wrt}` that requires grad.*logits only.*detach"):
        loss_fn(z, arguments["target"], arguments["sample_weight"])
    with torch.no_grad():
        loss_fn(z, arguments["target"], arguments["sample_weight"])
    arguments[wrt] = arguments[wrt].detach()
    loss_fn(z, arguments["target"], arguments["sample_weight"]).backward()
    assert z.grad is not None


def _masked(values, mask):
    return np.ma.masked_array(np.asarray(values, dtype=np.float64), mask=mask)


MASKED = "is a masked array with masked entries"


def test_masked_arrays_with_masked_entries_are_refused_not_read_through():
    """NumPy's masked arrays lost their mask on the way in: the masked entries' values counted as any other
    (a missing prediction scored as its placeholder), silently."""
    logits, labels = [0.1, 0.2, 0.3, -1.0], [0, 1, 1, 0]
    mask = [False, True, False, False]
    metric = compile_metric("f1")
    calls = [
        lambda: metric.loss_and_grad(_masked(logits, mask), labels),
        lambda: metric.loss_and_grad(logits, _masked(labels, mask)),
        lambda: metric.loss_and_grad(logits, labels, _masked([1, 1, 1, 1], mask)),
        lambda: metric.score(_masked([0, 1, 1, 0], mask), labels),
        lambda: metric.tune_threshold(_masked(logits, mask), labels),
        lambda: metric.to_xgboost()(labels, _masked(logits, mask)),
        lambda: compile_metric("f1", task="multiclass", num_classes=2).loss_and_grad(
            _masked([[0.1, 0.2], [0.3, -1.0]], [[False, True], [False, False]]), [0, 1]),
    ]
    for call in calls:
        with pytest.raises(MetriccError, match=MASKED):
            call()
    value, _ = metric.loss_and_grad(_masked(logits, False), labels)  # nothing masked: its values, as an array's
    assert value == metric.loss_and_grad(np.asarray(logits), labels)[0]


def test_masked_arrays_are_refused_by_the_jax_loss_and_emitted_modules():
    pytest.importorskip("jax")
    metric = compile_metric("f1")
    masked = _masked([0.1, 0.2, 0.3], [False, True, False])
    with pytest.raises(MetriccError, match=MASKED):
        metric.to_jax()(masked, np.array([0.0, 1.0, 1.0]))
    emitted = load_emitted(metric.emit("numpy"))["MetricLoss"]()
    with pytest.raises(ValueError, match=MASKED):
        emitted.loss_and_grad(masked, [0, 1, 1])


@pytest.mark.parametrize("layout", ["sparse", "nested"])
def test_sparse_and_nested_tensors_are_refused_by_name(layout):
    """A sparse tensor ended in torch's "reshape is not implemented for sparse tensors", a nested one in
    "NestedTensorImpl doesn't support sizes. Please file an issue"."""
    loss = compile_metric("f1").to_torch()
    if layout == "sparse":
        input, target = torch.randn(4, 3).to_sparse(), torch.zeros(4, 3)
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the prototype API's warning
            input = torch.nested.nested_tensor([torch.randn(3), torch.randn(2)])
            target = torch.nested.nested_tensor([torch.zeros(3), torch.ones(2)])
    with pytest.raises(MetriccError, match=f"Expected dense tensors, but `input` is {layout}"):
        loss(input, target)


@pytest.mark.parametrize("average", ["macro", "weighted", "micro", "none"])
def test_an_average_for_a_binary_metric_is_refused(average):
    """`compile_metric("f1", average="macro")` compiled the positive class's F1 and dropped the average without a
    word, where scikit-learn's f1_score(average="macro") averages the F1 of both classes."""
    with pytest.raises(MetriccError, match="`average` needs task='multiclass' or 'multilabel'.*"
                                           "task='multiclass', num_classes=2"):
        compile_metric("f1", average=average)
    assert compile_metric("f1", task="multiclass", num_classes=2).average == "macro"  # the default there


@pytest.mark.parametrize("argument, value, hint", [
    ("sample_weight", [1.0, 2.0], "pass them to the loss, loss_and_grad() or score()"),
    ("labels", [0, 1, 2], "metricc's classes are 0, 1, ..., num_classes - 1: task='multiclass', num_classes=..."),
    ("multi_class", "ovr", "a multi-class metric is task='multiclass', num_classes=..., with average="),
    ("beta", "2", None),  # a parameter given as text: the parameter message (it is one of fbeta's)
])
def test_scikit_learns_arguments_passed_to_compile_metric(argument, value, hint):
    """Arguments of scikit-learn's metric functions passed to compile_metric are told where they go, not only
    that a parameter must be a number."""
    message = "Expected parameter `beta` to be a finite number" if hint is None else \
        f"`{argument}` is an argument of scikit-learn's metrics: {hint}"
    with pytest.raises(MetriccError, match=re.escape(message)):
        compile_metric("fbeta" if hint is None else "f1", **{argument: value})


def test_a_parameter_named_as_another_librarys_argument_is_a_parameter_where_the_formula_uses_it():
    """A number under the name of a scikit-learn or torchmetrics argument (adjusted, normalize) binds the formula's
    parameter of that name; where the formula has none, or the value is not a number, the argument is refused with
    where it goes."""
    value = compile_metric("adjusted*TPR + (1 - adjusted)*TNR", adjusted=0.25).score(np.array([1, 0, 0, 1]),
                                                                                     np.array([1, 1, 0, 0]))
    assert value == pytest.approx(0.25 * 0.5 + 0.75 * 0.5)
    for formula, given in [("f1", 1), ("adjusted*TPR", True), ("adjusted*TPR", "1")]:
        with pytest.raises(MetriccError, match=r"unknown argument `adjusted`; `adjusted` is an argument of "
                                               r"scikit-learn's metrics"):
            compile_metric(formula, adjusted=given)


@pytest.mark.parametrize("options, hint", [
    ({"task": "multilabel", "num_labels": 3}, "a multi-label metric is task='multilabel', num_classes=3"),
    ({"num_labels": 3}, "a multi-label metric is task='multilabel', num_classes=3"),
    ({"num_labels": True}, "a multi-label metric is task='multilabel', num_classes=... (the number"),  # no count
    ({"num_labels": 2.5}, "a multi-label metric is task='multilabel', num_classes=... (the number"),
    ({"task": "multiclass", "num_classes": 3, "top_k": 2}, "metricc's multi-class counts take each row's arg-max"),
    ({"task": "multiclass", "num_classes": 3, "multidim_average": "samplewise"}, "metricc counts over every element"),
    ({"validate_args": False}, "to_torch(check_inputs=False)"),
])
def test_torchmetrics_arguments_passed_to_compile_metric(options, hint):
    """torchmetrics' arguments passed to compile_metric are told where they go: num_labels with
    task='multilabel' said "Expected argument `num_classes` to be an int of at least 2, but got None", and
    multidim_average='samplewise' that a parameter must be a finite number."""
    argument = next(name for name in options if name not in ("task", "num_classes"))
    message = f"unknown argument `{argument}`; `{argument}` is an argument of torchmetrics' metrics: {hint}"
    with pytest.raises(MetriccError, match=re.escape(message)):
        compile_metric("f1", **options)


@pytest.mark.parametrize("method, argument, hint", [
    ("score", "average", "the average is set when compiling: compile_metric(..., task=..., num_classes=..., average"),
    ("score", "pos_label", "metricc scores label 1; to score label 0, pass 1 - target"),
    ("score", "labels", "metricc's classes are 0, 1, ..., num_classes - 1"),
    ("tune_threshold", "pos_label", "metricc scores label 1"),
    ("tune_threshold", "zero_division", "pass it to score()"),
    ("loss_and_grad", "reduction", ""),
])
def test_keywords_a_method_does_not_take_are_a_metricc_error(method, argument, hint):
    """scikit-learn's keywords given to score(), tune_threshold() or loss_and_grad() are told where they go; they
    raised Python's TypeError ("got an unexpected keyword argument")."""
    predictions, target = np.array([1.0, 0.0, 1.0]), np.array([1, 1, 0])
    with pytest.raises(MetriccError, match=re.escape(f"{method}() takes no argument `{argument}`{hint and '; '}")
                       + ".*" + re.escape(hint)):
        getattr(F1, method)(predictions, target, **{argument: 1})


@pytest.mark.parametrize("method, argument, meant", [
    ("score", "sample_weights", "sample_weight"), ("score", "zero_divison", "zero_division"),
    ("tune_threshold", "weight", "sample_weight"), ("loss_and_grad", "sampleweight", "sample_weight"),
])
def test_a_misspelt_keyword_of_a_method_suggests_the_one_it_takes(method, argument, meant):
    """A keyword one letter off a method's own (sample_weights) was refused without naming the one meant."""
    predictions, target = np.array([1.0, 0.0, 1.0]), np.array([1, 1, 0])
    with pytest.raises(MetriccError, match=re.escape(f"{method}() takes no argument `{argument}`; did you mean "
                                                     f"`{meant}`?")):
        getattr(F1, method)(predictions, target, **{argument: np.ones(3)})


def test_scikit_learns_binary_and_samples_averages():
    """average='binary', scikit-learn's default (the positive class's score), is what the binary task computes:
    accepted there (the same metric), and with a multi-class or multi-label task told to use the binary task;
    average='samples' is told that metricc does not compute it. (The binary task had suggested "average='binary'"
    with task='multiclass', which it then refused.)"""
    assert compile_metric("f1", average="binary") is compile_metric("f1")
    for task in ("multiclass", "multilabel"):
        with pytest.raises(MetriccError, match=re.escape("average='binary' is scikit-learn's score of the positive "
                                                         "class of a binary problem: task='binary' (the default)")):
            compile_metric("f1", task=task, num_classes=3, average="binary")
    with pytest.raises(MetriccError, match=re.escape("average='samples' (scikit-learn's mean over each sample's "
                                                     "labels) is not one metricc computes: 'macro', 'micro', "
                                                     "'weighted' or 'none'")):
        compile_metric("f1", task="multilabel", num_classes=3, average="samples")


@pytest.mark.parametrize("backend", ["numpy", "torch", "jax", "score"])
@pytest.mark.parametrize("labels, hint", [
    ([1, 2, 3, 3], "but got 3: labels 1 to 3? subtract 1."),
    ([0, 1, 4, 2], "but got 4: 5 classes? compile with num_classes=5."),
    ([0, -100, 2, 1], "but got -100: rows to leave out (PyTorch's ignore_index=-100)? compile with ignore_index=-100."),
])
def test_class_indices_out_of_range_say_the_likely_cause(backend, labels, hint):
    """Class labels counted from 1, more classes than compiled, or PyTorch's ignore label -100 without
    ignore_index were refused with the range alone. The index named is the one out of range (where the least is
    0 and the largest beyond, the largest)."""
    import jax

    metric = compile_metric("f1", task="multiclass", num_classes=3)
    z, y = np.zeros((4, 3)), np.array(labels)
    with pytest.raises(MetriccError, match=re.escape(hint)):
        if backend == "numpy":
            metric.loss_and_grad(z, y)
        elif backend == "torch":
            metric.to_torch()(torch.tensor(z), torch.tensor(y))
        elif backend == "jax":
            metric.to_jax()(jax.numpy.asarray(z), jax.numpy.asarray(y))
        else:
            metric.score(y, np.array([0, 1, 2, 0]))


@pytest.mark.parametrize("backend", ["numpy", "torch", "jax"])
def test_class_indices_out_of_range_at_both_ends_get_no_guess(backend):
    """Indices below 0 and beyond the classes at once fit none of the likely causes: no hint (not "6 classes?")."""
    import jax

    metric = compile_metric("f1", task="multiclass", num_classes=3)
    z, y = np.zeros((4, 3)), np.array([-1, 0, 5, 1])
    with pytest.raises(MetriccError, match=r"^Expected class indices in \[0, 3\), but got -1\.$"):
        if backend == "numpy":
            metric.loss_and_grad(z, y)
        elif backend == "torch":
            metric.to_torch()(torch.tensor(z), torch.tensor(y))
        else:
            metric.to_jax()(jax.numpy.asarray(z), jax.numpy.asarray(y))


# -- a warning names the user's line ------------------------------------------------------------------------

_FRESH_EPS = (1e-6 * (1 + k / 1024) for k in itertools.count(1))


def _warned_at(function, *args):
    """(file, line) of each warning that function(*args) raised, and of the line that called it."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        line = sys._getframe().f_lineno + 1
        function(*args)
    return [(w.filename, w.lineno) for w in caught], (__file__, line)


def _batch(task, rng, probabilities=False):
    """Logits (or probabilities) and targets of 60 samples for the task (3 classes or labels)."""
    if task == "binary":
        x, y = rng.normal(size=60), (rng.random(60) < 0.3).astype(float)
        return (rng.random(60) if probabilities else x), y
    x = rng.normal(size=(60, 3))
    if task == "multiclass":
        e = np.exp(x)
        return (e / e.sum(axis=1, keepdims=True) if probabilities else x), rng.integers(0, 3, 60)
    return (rng.random((60, 3)) if probabilities else x), (rng.random((60, 3)) < 0.3).astype(float)


def _loss_and_arguments(backend, metric, x, y, w, module=None):
    """The backend's loss of `metric` and its arguments (x, y, w); with a `module` path, the loss of the emitted
    module written there and imported, as a user runs it."""
    if module is not None:
        module.write_text(metric.emit(backend))
        spec = importlib.util.spec_from_file_location(module.stem, module)
        emitted = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(emitted)
        loss = emitted.MetricLoss()
    if backend == "numpy":
        return (loss if module else metric.loss_and_grad), (x, y, w)
    if backend == "torch":
        return (loss if module else metric.to_torch(pure=True)), \
            [torch.tensor(x), torch.tensor(y)] + ([] if w is None else [torch.tensor(w)])
    pytest.importorskip("jax")
    return metric.to_jax(), (x, y, w)


@pytest.mark.parametrize("task", ["binary", "multiclass", "multilabel"])
@pytest.mark.parametrize("backend, emitted", [("numpy", False), ("numpy", True), ("torch", False), ("torch", True),
                                              ("jax", False)])  # (an emitted JAX module holds the API's kernel)
@pytest.mark.parametrize("kind", ["light weights", "probabilities"])
def test_a_losss_warning_names_the_line_that_called_the_loss(kind, backend, emitted, task, tmp_path):
    """A warning raised deep inside a loss (its autograd function, its checks) points at the user's line that
    called it, in every backend and task, and from an emitted module: the torch multi-class and multi-label
    losses had named a line of metricc's torch kernel for light weights, the JAX multi-class ones the caller's
    caller, the NumPy binary loss a line of metricc's compiler for probabilities."""
    rng = np.random.default_rng(0)
    options = {} if task == "binary" else {"task": task, "num_classes": 3}
    metric = compile_metric("f1", eps=next(_FRESH_EPS), **options)  # a fresh loss: hints come on the first calls
    x, y = _batch(task, rng, probabilities=kind == "probabilities")
    w = np.full(60, 1e-9) if kind == "light weights" else None
    loss, arguments = _loss_and_arguments(backend, metric, x, y, w, tmp_path / "emitted_loss.py" if emitted else None)
    places, here = _warned_at(loss, *arguments)
    assert [(Path(f).name, line) for f, line in places] == [(Path(here[0]).name, here[1])]


def _other_warnings():
    """(name, function, arguments) of the warnings raised outside a loss: a score that is 0/0 (binary,
    multi-class, through a scikit-learn scorer in cross-validation), `TN/N`, an L outside its range, and a
    booster's first round whose raw scores all lie where the amplifier is flat (XGBoost, LightGBM)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score

    from metricc.lrange import validate_L

    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 3))
    y = (X[:, 0] > 1.2).astype(int)
    precision = compile_metric("precision")
    yield "score", precision.score, (np.zeros(5), np.array([0, 1, 0, 1, 0]))
    yield "multiclass score", compile_metric("precision", task="multiclass", num_classes=3).score, \
        (np.zeros(6, int), np.array([0, 1, 2, 1, 0, 2]))
    yield "scorer", functools.partial(cross_val_score, LogisticRegression(C=1e-6), scoring=precision.scorer(),
                                      cv=2), (X, y)
    yield "formula", compile_metric, ("TN/N + TP/POS",)
    yield "L", validate_L, (1000.0, "float16")
    try:
        import xgboost as xgb
    except ImportError:
        pass
    else:
        yield "xgboost", functools.partial(xgb.train, {"base_score": 0.9}, obj=compile_metric("f1").to_xgboost()), \
            (xgb.DMatrix(X, y), 1)
    try:
        import lightgbm as lgb
    except ImportError:
        pass
    else:
        params = {"objective": compile_metric("f1").to_lightgbm(), "verbose": -1, "boost_from_average": False}
        yield "lightgbm", lgb.train, (params, lgb.Dataset(X, y, init_score=np.full(len(y), 3.0)), 1)


@pytest.mark.parametrize("name", ["score", "multiclass score", "scorer", "formula", "L", "xgboost", "lightgbm"])
def test_other_warnings_name_the_line_that_called_metricc(name):
    """Warnings raised outside a loss point at the user's line too: a multi-class score's 0/0 had named a line of
    metricc's compiler, a scorer's (in cross_val_score) a line of scikit-learn's, a booster's flat start a line
    of XGBoost's or LightGBM's training loop."""
    found = {case[0]: case[1:] for case in _other_warnings()}
    if name not in found:
        pytest.skip(f"{name} is not installed")
    places, here = _warned_at(found[name][0], *found[name][1])
    assert places and {(Path(f).name, line) for f, line in places} == {(Path(here[0]).name, here[1])}


@pytest.mark.parametrize("task", ["multiclass", "multilabel"])
@pytest.mark.parametrize("make, message", [
    (lambda n: (torch.randn(n, 2), None), "Expected `input` of shape (n, 3) or (N, 3, d1, ..., dk), but got (4, 2)."),
    (lambda n: (torch.randint(0, 3, (n, 3)), None), "Expected `input` to be a floating-point tensor, but got "
                                                    "torch.int64."),
    (lambda n: (np.zeros((n, 3)), None), "Expected `input` to be a tensor, but got ndarray: NumPy "
                                    "arrays? torch.from_numpy(array), or metric.loss_and_grad() for NumPy."),
    (lambda n: (torch.randn(n, 3), [0] * n), "Expected `target` to be a tensor, but got list: "
                                                   "torch.as_tensor(values) makes a tensor."),
    (lambda n: (torch.randn(0, 3), "empty"), "Expected a non-empty batch, but `input` has no rows."),
])
def test_torch_multiclass_input_mistakes(task, make, message):
    """What the torch multi-class and multi-label losses refuse before they compute: logits of another number of
    classes, integer logits, arrays and lists for tensors, an empty batch (no test reached these)."""
    loss = compile_metric("f1", task=task, num_classes=3).to_torch()
    z, target = make(4)
    if target is None or isinstance(target, str):
        n = len(z)
        target = (torch.zeros(n, dtype=torch.long) if task == "multiclass" else torch.zeros(n, 3))
    with pytest.raises(MetriccError, match="^" + re.escape(message) + "$"):
        loss(z, target)
    assert repr(loss).startswith(f"MultiSoftConfusionLoss('f1', task={task!r}, num_classes=3, average='macro', L=15.0")


# -- an input that is not finite: which value, where, and how many ------------------------------------------

def _with_nonfinite(shape, entries):
    x = np.zeros(shape)
    for index, value in entries:
        x[index] = value
    return x


NAN_THEN_INF = [(3, np.nan), (5, np.inf)]
NAN_WORDS = r"NaN at index 3 \(2 of its 6 entries are not finite\): missing values in the data, or a model that"
MINUS_INF = [(2, -np.inf)]
MINUS_INF_WORDS = r"-inf at index 2: an overflow upstream"


@pytest.mark.parametrize("entries, words", [(NAN_THEN_INF, NAN_WORDS), (MINUS_INF, MINUS_INF_WORDS)])
@pytest.mark.parametrize("call", ["numpy", "torch", "jax", "xgboost"])
def test_a_nonfinite_input_is_named_and_placed(call, entries, words):
    """Every backend said "contains NaN or infinity" for a NaN from missing features and an overflow alike, and
    never where: in a batch of thousands, which sample. Now the first such entry, its index, and how many."""
    x, y = _with_nonfinite(6, entries), np.array([0, 1, 1, 0, 1, 0])
    if call == "xgboost":
        subject = "margins, but they hold"
        words = words.split(":")[0] + r": a booster that diverged, or starting margins \(base_margin, init_score\)"
    else:
        subject = "`input`, but it holds"
    with pytest.raises(MetriccError, match=f"^Expected finite {subject} {words}"):
        F1.to_xgboost()(y.astype(float), x) if call == "xgboost" else _loss_of(call, F1, x, y)


@pytest.mark.parametrize("call", ["numpy", "torch", "jax"])
def test_a_nonfinite_multiclass_input_is_placed_by_row_and_class(call):
    metric = compile_metric("f1", task="multiclass", num_classes=3)
    x, y = _with_nonfinite((4, 3), [((1, 2), np.nan)]), np.array([0, 2, 1, 0])
    with pytest.raises(MetriccError, match=r"^Expected finite `input`, but it holds NaN at index \(1, 2\): missing"):
        _loss_of(call, metric, x, y)


@pytest.mark.parametrize("call", ["numpy", "torch", "jax", "jax.grad"])
def test_a_nonfinite_value_is_placed_in_the_input_as_given(call):
    """The kernels flatten a binary batch and lay per-pixel logits (N, C, H, W) out as rows: the index is the
    input's own, not the rows'."""
    binary_x, binary_y = _with_nonfinite((2, 3), [((1, 2), -np.inf)]), np.ones((2, 3))
    pixel_x, pixel_y = _with_nonfinite((2, 3, 2, 2), [((1, 2, 0, 1), np.nan)]), np.zeros((2, 2, 2), dtype=int)
    sequence_x, sequence_y = _with_nonfinite((2, 3, 5), [((0, 1, 4), np.inf)]), np.zeros((2, 5), dtype=int)
    pixels = compile_metric("f1", task="multiclass", num_classes=3)
    for metric, x, y, index in ((F1, binary_x, binary_y, r"\(1, 2\)"), (pixels, pixel_x, pixel_y, r"\(1, 2, 0, 1\)"),
                                (pixels, sequence_x, sequence_y, r"\(0, 1, 4\)")):
        with pytest.raises(MetriccError, match=f"^Expected finite `input`, but it holds (NaN|-?inf) at index {index}:"):
            if call == "jax.grad":
                jax = pytest.importorskip("jax")
                jax.grad(metric.to_jax())(x, y)
            else:
                _loss_of(call, metric, x, y)


def test_first_nonfinite_reads_every_array_kind_and_shape():
    from metricc.checks import first_nonfinite, nonfinite_input_message

    x = np.zeros((3, 4))
    x[2, 1], x[0, 3], x[1, 0] = np.inf, -np.inf, np.nan  # row-major: (0, 3) comes first
    assert first_nonfinite(x) == ((0, 3), -np.inf, 3, 12)
    assert first_nonfinite(torch.tensor(x, dtype=torch.bfloat16)) == ((0, 3), -np.inf, 3, 12)  # no bool argmax
    assert first_nonfinite(np.zeros(5)) is None
    found = first_nonfinite(np.array(np.nan))
    assert found[:2] == ((), found[1]) and found[1] != found[1] and found[2:] == (1, 1)
    # a 0-d input has no index to give; an input whose layout is unknown gives none either
    assert nonfinite_input_message(values=np.array(np.inf)) == ("Expected finite `input`, but it holds inf: an "
                                                                 "overflow upstream, in a model that diverged?")
    assert nonfinite_input_message(values=x, placed=False).startswith(
        "Expected finite `input`, but it holds -inf (3 of its 12 entries are not finite): an overflow")
    assert nonfinite_input_message("margins", extremes=(np.nan, 1.0)).startswith("Expected finite margins, but they "
                                                                                 "hold NaN: a booster that diverged")
    # from the extremes alone (torch's deferred check): the end that is not finite
    for extremes, value in (((0.0, np.inf), "inf"), ((-np.inf, 0.0), "-inf"), ((-np.inf, np.inf), "-inf")):
        assert nonfinite_input_message(extremes=extremes).startswith(f"Expected finite `input`, but it holds {value}: ")


@pytest.mark.parametrize("tensor", [torch.zeros(4, requires_grad=True), torch.zeros(4, dtype=torch.bfloat16)])
def test_a_tensor_numpy_cannot_take_is_pointed_to_the_torch_loss(tensor):
    """loss_and_grad() is the NumPy API: a tensor that requires grad, or of a type NumPy lacks, failed with
    torch's own words alone ("Got unsupported ScalarType BFloat16")."""
    with pytest.raises(MetriccError, match=r"^Expected `input` to be an array of numbers, but converting it failed: "
                                           r".*; for torch tensors use the torch loss \(to_torch\(\)\), which runs "
                                           r"with autograd, or pass tensor\.detach\(\)\.cpu\(\)\.float\(\)\.numpy\(\)"):
        F1.loss_and_grad(tensor, np.array([0, 1, 1, 0]))


@pytest.mark.parametrize("backend", ["numpy", "torch", "jax"])
@pytest.mark.parametrize("labels, hint", [
    ([0, 1, np.nan, 2], r"it holds NaN at index 2, a missing label: drop or fill it first\."),
    ([0, 1, 1.5, 2], r"it holds 1\.5 at index 2, which is no class\."),
    ([0, np.inf, 1, 2], r"it holds inf at index 1, which is no class\."),
    ([0, 1e20, 1, 2], r"it holds 1e\+20 at index 1, which is no class\."),  # (astype(int) would wrap it)
    ([0, 1, 1, 2], r"the values are whole, pass target\.(astype\(int\)|long\(\))\."),
])
def test_float_class_indices_are_told_what_is_wrong_with_them(backend, labels, hint):
    """Class indices as floats were told "pass target.astype(int) where the values are whole" whatever they held:
    a NaN (a missing label) or infinity would then turn into a huge negative index. Now what is there, and
    where."""
    metric = compile_metric("f1", task="multiclass", num_classes=3)
    z, y = np.zeros((4, 3)), np.array(labels, dtype=float)
    with pytest.raises(MetriccError, match=f"integer class indices.*but got .*float(32|64).*: {hint}$"):
        _loss_of(backend, metric, z, y)


@pytest.mark.parametrize("call", ["numpy", "torch", "jax", "score"])
def test_a_missing_label_is_placed_in_the_target_as_given(call):
    """A NaN target (a missing label, as pandas gives it) was named without where: in a batch of thousands, which
    sample. Now its index in the target as given (flattened binary batches and per-pixel rows mapped back)."""
    binary_y = _with_nonfinite((2, 3), [((1, 0), np.nan)])
    labels = compile_metric("f1", task="multilabel", num_classes=3)
    pixel_y = _with_nonfinite((2, 3, 2, 2), [((1, 2, 0, 1), np.nan)])
    cases = [(F1, np.zeros((2, 3)), binary_y, r"\(1, 0\)"),
             (labels, np.zeros((2, 3, 2, 2)), pixel_y, r"\(1, 2, 0, 1\)")]
    for metric, x, y, index in cases[:1] if call == "score" else cases:
        match = (f"but it holds NaN at index {index}, a missing (label: drop or fill it first|value: drop or fill the "
                 f"missing entries first)\\.$")
        with pytest.raises(MetriccError, match=match):
            metric.score(np.zeros((2, 3)), y) if call == "score" else _loss_of(call, metric, x, y)


@pytest.mark.parametrize("call", ["numpy", "torch", "jax", "score", "xgboost"])
@pytest.mark.parametrize("bad, words", [(np.nan, r"nan at index \(1, 2\)"),
                                        (-2.5, r"-2\.5 \(the smallest entry at index \(1, 2\)\)")])
def test_a_bad_weight_is_placed_in_the_weights_as_given(call, bad, words):
    """A NaN or negative sample weight was named without where (weights mapped from a table with a missing key
    come as NaN)."""
    x, y, w = np.zeros((2, 3)), np.ones((2, 3)), np.ones((2, 3))
    w[1, 2], w[0, 1] = bad, (0.5 if bad != bad else -1.0)
    name = "sample weights" if call == "xgboost" else "`sample_weight`"
    if call == "xgboost":  # one row each: the index is the row's
        x, y, w, words = x.reshape(-1), y.reshape(-1), w.reshape(-1), words.replace(r"\(1, 2\)", "5")
    with pytest.raises(MetriccError, match=f"^Expected {name} to be finite and non-negative, but got {words}\\.$"):
        if call == "score":
            F1.score(x, y, w)
        elif call == "xgboost":
            F1.to_xgboost()(y, x, w)
        else:
            _loss_of(call, F1, x, y, w)


@pytest.mark.parametrize("call", ["numpy", "torch", "jax"])
def test_a_bad_per_pixel_weight_is_placed_in_the_weights_as_given(call):
    metric = compile_metric("f1", task="multiclass", num_classes=3)
    x, y, w = np.zeros((2, 3, 2, 2)), np.zeros((2, 2, 2), dtype=int), np.ones((2, 2, 2))
    w[1, 0, 1] = np.nan
    with pytest.raises(MetriccError, match=r"but got nan at index \(1, 0, 1\)\.$"):
        _loss_of(call, metric, x, y, w)


@pytest.mark.parametrize("task", ["binary", "multiclass"])
@pytest.mark.parametrize("kind, hint", [
    ("numpy", "NumPy arrays? torch.from_numpy(array), or metric.loss_and_grad() for NumPy"),
    ("list", "torch.as_tensor(values) makes a tensor"),
    ("jax", "JAX arrays? metric.to_jax() is the loss for JAX"),
    ("pandas", "pandas data? torch.as_tensor(data.to_numpy()) makes a tensor"),
])
def test_torch_loss_given_arrays_says_what_to_pass(task, kind, hint):
    """A torch loss given NumPy arrays, lists, pandas data or JAX arrays says what to pass (a tensor made from
    them, or the backend for that library): it had named the type only."""
    make = {"numpy": np.asarray, "list": list}
    if kind == "jax":
        jnp = pytest.importorskip("jax.numpy")
        make["jax"] = jnp.asarray
    if kind == "pandas":
        pd = pytest.importorskip("pandas")
        make["pandas"] = lambda values: pd.DataFrame(values) if np.ndim(values) == 2 else pd.Series(values)
    shape, labels = ((6,), [0, 1, 0, 1, 1, 0]) if task == "binary" else ((6, 3), [0, 1, 2, 0, 1, 2])
    loss = compile_metric("f1", task=task, num_classes=3 if task != "binary" else None).to_torch()
    logits = make[kind](np.linspace(-1, 1, int(np.prod(shape))).reshape(shape))
    with pytest.raises(MetriccError, match=re.escape(hint)):
        loss(logits, make[kind](np.array(labels)))
    with pytest.raises(MetriccError, match=re.escape(hint)):  # the target alone
        loss(torch.tensor(np.array(logits)), make[kind](np.array(labels)))


@pytest.mark.parametrize("backend", ["numpy", "torch", "jax"])
def test_probabilities_outside_zero_one_say_which_and_where(backend):
    """A loss compiled with from_logits=False given values outside [0, 1] names the first one, where it is, and
    that logits want the default from_logits=True (it had said only that it expected probabilities)."""
    metric = compile_metric("f1", from_logits=False)
    p, y = np.array([[0.2, 0.9, 0.5], [1.7, 0.4, 0.3]]), np.array([[0, 1, 1], [1, 0, 0]])
    if backend == "numpy":
        run = lambda: metric.loss_and_grad(p, y)  # noqa: E731
    elif backend == "torch":
        run = lambda: metric.to_torch(pure=True)(torch.tensor(p), torch.tensor(y))  # noqa: E731
    else:
        jnp = pytest.importorskip("jax.numpy")
        run = lambda: metric.to_jax()(jnp.asarray(p, dtype=jnp.float32), jnp.asarray(y))  # noqa: E731
    with pytest.raises(MetriccError, match=re.escape(
            "Expected probabilities in [0, 1] as `input` (from_logits=False), but it holds 1.7 at index (1, 0): "
            "logits? leave from_logits at True, the default.")):
        run()


# -- logits in 8-bit floating-point types ------------------------------------------------------------------------

FLOAT8_MESSAGE = (r"^Expected `input` in float64, float32, float16 or bfloat16, but got \S*float8_e4m3fn: cast the "
                  r"model's output first")


@pytest.mark.parametrize("task", ["binary", "multiclass", "multilabel"])
@pytest.mark.parametrize("check_inputs", [True, False])
def test_float8_logits_are_refused_by_name(task, check_inputs):
    """Logits in a float8 type (an FP8 model's output): the torch and JAX losses refused them with the L range
    validator's message, "Expected argument `dtype` to be one of [...]", an argument the user never gave. The
    refusal names the input and the cast (emitted modules refuse them too: torch's with its checks)."""
    jnp = pytest.importorskip("jax.numpy")
    options = {} if task == "binary" else {"task": task, "num_classes": 3}
    shape = (8,) if task == "binary" else (8, 3)
    target = {"binary": torch.tensor([0.0, 1.0] * 4), "multiclass": torch.tensor([0, 1, 2, 0, 1, 2, 0, 1]),
              "multilabel": torch.tensor([[0.0, 1.0, 1.0]] * 8)}[task]
    metric = compile_metric("f1", **options)
    logits = torch.linspace(-2, 2, int(np.prod(shape))).reshape(shape)
    losses = [(metric.to_torch(pure=True, check_inputs=check_inputs), logits.to(torch.float8_e4m3fn), target,
               MetriccError)]
    if check_inputs:
        emitted = load_emitted(metric.emit("torch"))["MetricLoss"](pure=True)  # (raises ValueError)
        losses.append((emitted, logits.to(torch.float8_e4m3fn), target, ValueError))
        jax_logits = jnp.asarray(logits.numpy()).astype(jnp.float8_e4m3fn)
        losses.append((metric.to_jax(), jax_logits, target.numpy(), MetriccError))
        emitted = load_emitted(metric.emit("jax"))["MetricLoss"]()
        losses.append((emitted, jax_logits, target.numpy(), ValueError))
    for loss, x, y, error in losses:
        with pytest.raises(error, match=FLOAT8_MESSAGE):
            loss(x, y)
