"""Every catalog metric, on hard 0/1 predictions, equals scikit-learn's value."""

import numpy as np
import pytest
from sklearn import metrics as skm

from metricc import MetriccError, catalog, compile_metric
from oracles import CATALOG_SCORES


def _recall(y, p, label, w):
    return skm.recall_score(y, p, pos_label=label, sample_weight=w)


def _precision(y, p, label, w):
    return skm.precision_score(y, p, pos_label=label, sample_weight=w)


SKLEARN = {
    "accuracy": lambda y, p, w: skm.accuracy_score(y, p, sample_weight=w),
    "balanced_accuracy": lambda y, p, w: skm.balanced_accuracy_score(y, p, sample_weight=w),
    "f1": lambda y, p, w: skm.f1_score(y, p, sample_weight=w),
    "fbeta": lambda y, p, w: skm.fbeta_score(y, p, beta=2.0, sample_weight=w),
    "precision": lambda y, p, w: _precision(y, p, 1, w),
    "recall": lambda y, p, w: _recall(y, p, 1, w),
    "specificity": lambda y, p, w: _recall(y, p, 0, w),
    "npv": lambda y, p, w: _precision(y, p, 0, w),
    "gmean": lambda y, p, w: np.sqrt(_recall(y, p, 1, w) * _recall(y, p, 0, w)),
    "mcc": lambda y, p, w: skm.matthews_corrcoef(y, p, sample_weight=w),
    "matthews_corrcoef": lambda y, p, w: skm.matthews_corrcoef(y, p, sample_weight=w),
    "jaccard": lambda y, p, w: skm.jaccard_score(y, p, sample_weight=w),
    "iou": lambda y, p, w: skm.jaccard_score(y, p, sample_weight=w),
    "cohen_kappa": lambda y, p, w: skm.cohen_kappa_score(y, p, sample_weight=w),
    "informedness": lambda y, p, w: skm.balanced_accuracy_score(y, p, adjusted=True, sample_weight=w),
    "markedness": lambda y, p, w: _precision(y, p, 1, w) + _precision(y, p, 0, w) - 1,
    "fowlkes_mallows": lambda y, p, w: np.sqrt(_precision(y, p, 1, w) * _recall(y, p, 1, w)),
    "tversky": lambda y, p, w: skm.jaccard_score(y, p, sample_weight=w),  # alpha = beta = 1
    "dice": lambda y, p, w: skm.f1_score(y, p, sample_weight=w),
}
PARAMS = {"fbeta": {"beta": 2.0}, "tversky": {"alpha": 1.0, "beta": 1.0}}


def test_every_catalog_metric_has_an_oracle():
    assert set(SKLEARN) == set(catalog.METRICS) == set(CATALOG_SCORES)


@pytest.mark.parametrize("name", sorted(catalog.METRICS))
@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("weighted", [False, True])
def test_hard_predictions_match_sklearn(name, seed, weighted):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(50, 400))
    target = rng.random(n) < rng.uniform(0.1, 0.6)
    predictions = np.where(rng.random(n) < 0.7, target, ~target)
    weight = rng.uniform(0.1, 3.0, n) if weighted else None
    metric = compile_metric(name, **PARAMS.get(name, {}))
    expected = SKLEARN[name](target.astype(int), predictions.astype(int), weight)
    assert abs(metric.score(predictions, target, weight) - expected) <= 1e-12


def test_score_is_exact_where_float64_cancels():
    """Cohen's kappa with no positive predicted (TP = FP = 0) is exactly 0; with weights of 6.6e-11 and 5e3 its
    (po - pe) / (1 - pe) is a ratio of two differences near 0 that float64 rounds, and score() gave 0.0086 where
    scikit-learn gives 0. score() evaluates a formula of sums, products and ratios of the counts in exact rational
    arithmetic (formulas with roots or logs in float64, as before): binary, multi-class and multi-label."""
    y, p = np.array([0, 0, 0, 0, 1]), np.zeros(5, dtype=int)
    w = np.array([2.93e-10, 4.07e-2, 5.18e3, 15.9, 6.6e-11])
    metric = compile_metric("cohen_kappa")
    assert metric.score(p, y, w) == skm.cohen_kappa_score(y, p, sample_weight=w) == 0.0
    tn = float(w[:4].sum())  # TN beside FN = 6.6e-11: 1 - pe and po - pe both near 1e-14
    labels = np.stack([y, 1 - y], axis=1)
    for options, predictions, target in (({"task": "multilabel", "num_classes": 2}, np.stack([p, 1 - p], 1), labels),
                                         ({"task": "multiclass", "num_classes": 2}, 1 - p, 1 - y)):
        value = compile_metric("cohen_kappa", **options, average="none").score(predictions, target, w)
        assert value[0] == 0.0, (options, value, tn)


@pytest.mark.parametrize("task", ["binary", "multiclass", "multilabel"])
def test_score_is_exact_where_float64_overflows(task):
    """TP^4 / (TP^4 + FP^4) at weights of 1e90 (within the weights score() takes): TP^4 = 1.6e361 passes float64
    and inf / inf is NaN there; score() works it out again in exact rational arithmetic, 16/17 for TP = 2 FP."""
    options = {} if task == "binary" else {"task": task, "num_classes": 2, "average": "none"}
    metric = compile_metric("TP^4/(TP^4 + FP^4)", **options)
    predictions, target, w = np.array([1, 1, 1, 0]), np.array([1, 1, 0, 0]), np.full(4, 1e90)
    if task == "multilabel":
        predictions, target = np.stack([predictions, 1 - predictions], 1), np.stack([target, 1 - target], 1)
    value = metric.score(predictions, target, w)
    assert (value if task == "binary" else value[1 if task == "multiclass" else 0]) == 16 / 17


@pytest.mark.parametrize("task", ["binary", "multiclass"])
def test_score_past_float64_is_nan_with_a_warning(task):
    """A cost whose exact value passes float64 (TP^4 = 1.6e361 at weights of 1e90) is NaN with a warning, as a
    value float64 cannot give; the exact arithmetic's OverflowError does not reach the caller."""
    from metricc import MetriccWarning

    options = {} if task == "binary" else {"task": task, "num_classes": 2, "average": "none"}
    metric = compile_metric("minimize: TP^4", **options)
    with pytest.warns(MetriccWarning, match="undefined"):
        value = metric.score(np.array([1, 1, 1, 0]), np.array([1, 1, 0, 0]), np.full(4, 1e90))
    assert np.isnan(value if task == "binary" else value[1])


def test_score_warns_where_undefined():
    from metricc import MetriccWarning

    with pytest.warns(MetriccWarning, match="undefined"):
        value = compile_metric("precision").score(np.zeros(5), np.ones(5))
    assert np.isnan(value)


def test_other_libraries_names_lead_to_catalog_metrics():
    """The names suggested for other libraries' spellings exist, and no score refused as "not a confusion-matrix
    metric" or told to be written out is one of the catalog's."""
    assert set(catalog.OTHER_NAMES.values()) <= {*catalog.METRICS, *catalog.QUANTITIES}
    assert all(catalog.folded(name) == name  # reachable
               for name in [*catalog.OTHER_NAMES, *catalog.NOT_COUNTS, *catalog.WRITTEN_OUT])
    assert not {catalog.folded(name) for name in catalog.known_names()} & {*catalog.NOT_COUNTS, *catalog.WRITTEN_OUT}


@pytest.mark.parametrize("zero_division", [0, 1, np.nan])
@pytest.mark.parametrize("name, predictions, target", [
    ("precision", [0, 0, 0], [0, 1, 1]),  # nothing predicted positive
    ("recall", [1, 0, 1], [0, 0, 0]),  # no positive sample
    ("f1", [0, 0, 0], [0, 0, 0]),  # neither
])
def test_score_zero_division_is_scikit_learns(name, predictions, target, zero_division):
    """`zero_division=` gives the value scikit-learn's does where the formula is 0/0, without a warning."""
    import warnings

    sklearn_score = {"precision": skm.precision_score, "recall": skm.recall_score, "f1": skm.f1_score}[name]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value = compile_metric(name).score(np.array(predictions), np.array(target), zero_division=zero_division)
    np.testing.assert_equal(value, sklearn_score(target, predictions, zero_division=zero_division))


def test_score_zero_division_warn_is_scikit_learns():
    """zero_division="warn", scikit-learn's default spelled out: 0 with a warning (it was refused)."""
    from metricc import MetriccWarning

    with pytest.warns(MetriccWarning, match=r"'precision' is undefined at TP, FP, FN, TN = 0, 0, 2, 1; returning "
                                            r"0\.0$"):  # plain numbers, not NumPy's np.float64(2.0)
        value = compile_metric("precision").score(np.zeros(3), np.array([0, 1, 1]), zero_division="warn")
    assert value == 0.0


def test_score_zero_division_is_the_cost_of_a_cost_and_is_checked():
    cost = compile_metric("minimize: FP/(FP + TN)")
    assert cost.score(np.array([1, 1]), np.array([1, 1]), zero_division=0.25) == 0.25
    assert cost.score(np.array([1, 0]), np.array([0, 0]), zero_division=0.25) == 0.5  # defined: its value
    for bad in ("0", "nan", True, [0], float("inf")):
        with pytest.raises(MetriccError, match="zero_division"):
            compile_metric("f1").score(np.array([0]), np.array([0]), zero_division=bad)


def test_fbeta_at_beta_0_is_precision():
    """beta = 0 is inside fbeta's range (beta >= 0, as scikit-learn's fbeta_score has it; a negative beta is
    refused): F_0 is precision, in the loss, its gradient and the score."""
    rng = np.random.default_rng(0)
    z, y = rng.normal(size=50), (rng.random(50) < 0.3).astype(float)
    f0, precision = compile_metric("fbeta", beta=0), compile_metric("precision")
    (value, grad), (expected, expected_grad) = f0.loss_and_grad(z, y), precision.loss_and_grad(z, y)
    assert value == pytest.approx(expected, rel=1e-12)
    np.testing.assert_allclose(grad, expected_grad, rtol=1e-12, atol=1e-15)
    hard = (z > 0).astype(float)
    assert f0.score(hard, y) == pytest.approx(skm.precision_score(y, hard), rel=1e-12)
    with pytest.raises(MetriccError, match=r"Expected parameter `beta` of `fbeta` to be >= 0"):
        compile_metric("fbeta", beta=-1)
