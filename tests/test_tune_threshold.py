"""tune_threshold against a brute-force search over every cut-off, scored by score() on hard predictions."""

import re
import warnings

import numpy as np
import pytest
import torch

from metricc import MetriccError, MetriccWarning, compile_metric

# npv and sqrt(TNR) are undefined where every sample is predicted positive (TN = FN = 0, TN = FP = 0): with
# weights, the counts left of the last cut-off came out as a rounding residue (1e-16) instead of 0 there, and
# that cut-off won with NPV = 1 (found by drawing formulas from the grammar)
FORMULAS = ["f1", "mcc", "balanced_accuracy", "minimize: (FP + 5*FN)/N", "2*TP/(2*TP + FP + FN) + 0.1*TNR",
            "npv", "minimize: (FN - TP)/sqrt(TNR)"]


def brute_force(metric, scores, y, w):
    """Every cut-off (each distinct score, and above all of them), scored by score(); the best defined value."""
    values = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # undefined cut-offs warn and give nan
        for cutoff in np.append(np.unique(scores), np.inf):
            values.append(metric.score((scores >= cutoff).astype(int), y, w))
    values = np.array(values)
    values = values[np.isfinite(values)]
    return values.min() if metric.minimize else values.max()


@pytest.mark.parametrize("formula", FORMULAS)
@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("weighted", [False, True])
def test_equals_brute_force_with_ties_and_weights(formula, seed, weighted):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 300))
    scores = np.round(rng.normal(size=n), int(rng.integers(0, 3)))  # rounding makes ties
    y = (rng.random(n) < 0.1 + 0.5 * (scores > 0)).astype(int)
    w = rng.uniform(0.1, 3, n) if weighted else None
    metric = compile_metric(formula)
    threshold, value = metric.tune_threshold(scores, y, w)
    assert value == pytest.approx(brute_force(metric, scores, y, w), abs=1e-12)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert metric.score((scores >= threshold).astype(int), y, w) == pytest.approx(value, abs=1e-12)


def test_a_value_that_float64_loses_to_cancellation_is_worked_out_exactly():
    """Cohen's kappa at weights over 20 orders of magnitude: its (po - pe) / (1 - pe) divides differences near 0,
    which float64 rounded, and the cut-off returned gave 0 where the one at 1.753 gives 0.00143 (others had
    reported 0.2 for an exact 0). The values float64 may have lost (not finite, or not NumPy's longdouble ones)
    are worked out again in exact rational arithmetic, as score() does."""
    y, w = np.array([1, 0, 0, 1, 1]), np.array([1.8e-09, 7.03e-11, 2.6e10, 5.95e-08, 8.31e-05])
    scores = np.array([-0.555, -0.027, 1.578, 1.753, 0.561])
    metric = compile_metric("cohen_kappa")
    threshold, value = metric.tune_threshold(scores, y, w)
    assert threshold == 1.753 and value == pytest.approx(0.0014299309787937364, rel=1e-9)
    assert value == metric.score((scores >= threshold).astype(int), y, w)


@pytest.mark.parametrize("formula", FORMULAS + ["minimize: FP"])
@pytest.mark.parametrize("seed", range(5))
def test_the_returned_threshold_gives_the_returned_value_with_infinite_scores(formula, seed):
    """Predicting `scores >= threshold` scores what tune_threshold says, also where some scores are +inf or
    -inf (logits of probabilities 1 and 0): with a score of +inf, no cut-off predicts no positive, and the
    threshold inf, which stood for that, predicted those samples positive (minimize: FP gave 0, and 1 when
    applied)."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 60))
    scores = np.round(rng.normal(size=n), 1)
    scores[rng.random(n) < 0.2] = np.inf
    scores[rng.random(n) < 0.2] = -np.inf
    y = (rng.random(n) < 0.2 + 0.5 * (scores > 0)).astype(int)
    metric = compile_metric(formula)
    try:
        threshold, value = metric.tune_threshold(scores, y)
    except MetriccError:  # undefined at every cut-off
        with pytest.raises(ValueError):
            brute_force(metric, scores, y, None)
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert metric.score((scores >= threshold).astype(int), y) == pytest.approx(value, abs=1e-12)
    assert value == pytest.approx(brute_force(metric, scores, y, None), abs=1e-12)


def test_ties_fall_on_the_same_side():
    scores = np.array([0.2, 0.5, 0.5, 0.5, 0.9])
    y = np.array([0, 1, 0, 1, 1])
    threshold, _ = compile_metric("accuracy").tune_threshold(scores, y)
    assert threshold in scores or threshold == np.inf  # a cut-off at a score keeps the whole tie together


def test_undefined_cutoffs_are_skipped():
    # precision is 0/0 when nothing is predicted positive: that cut-off must not win
    threshold, value = compile_metric("precision").tune_threshold(np.array([0.1, 0.2, 0.3]), np.array([0, 0, 1]))
    assert threshold == 0.3 and value == 1.0


def test_multilabel_tunes_each_label():
    rng = np.random.default_rng(7)
    scores, y = rng.normal(size=(50, 3)), (rng.random((50, 3)) < 0.4).astype(int)
    metric = compile_metric("f1", task="multilabel", num_classes=3)
    thresholds, values = metric.tune_threshold(scores, y)
    binary = compile_metric("f1")
    for k in range(3):
        assert (thresholds[k], values[k]) == binary.tune_threshold(scores[:, k], y[:, k])


@pytest.mark.parametrize("formula", ["f1", "mcc"])  # (an ignored element counted as a negative moves TN: mcc)
@pytest.mark.parametrize("average", ["macro", "micro"])
def test_multilabel_ignore_label_leaves_the_element_out(average, formula):
    """With ignore_index, a multi-label element whose label is the ignore label counts nowhere: the tuned
    cut-offs and values are those with that element's weight 0 (not a negative label)."""
    rng = np.random.default_rng(8)
    scores, y = rng.normal(size=(60, 3)), (rng.random((60, 3)) < 0.4).astype(int)
    ignored = rng.random((60, 3)) < 0.3
    with_label = np.where(ignored, -1, y)
    got = compile_metric(formula, task="multilabel", num_classes=3, average=average,
                         ignore_index=-1).tune_threshold(scores, with_label)
    if average == "macro":  # each label on its own kept rows
        for k in range(3):
            kept = ~ignored[:, k]
            assert (got[0][k], got[1][k]) == compile_metric(formula).tune_threshold(scores[kept, k], y[kept, k])
    else:  # the pooled value of the kept elements at the returned cut-offs, as scikit-learn scores it
        from sklearn.metrics import f1_score, matthews_corrcoef

        kept = ~ignored
        oracle = {"f1": f1_score, "mcc": matthews_corrcoef}[formula]
        assert got[1] == pytest.approx(oracle(y[kept], (scores >= got[0])[kept]), abs=1e-12)


@pytest.mark.parametrize("average", ["macro", "micro"])
@pytest.mark.parametrize("shape", [(50,), (50, 2), (50, 4)])
def test_multilabel_scores_need_one_column_per_label(average, shape):
    """A multi-label metric's scores and target are (n, C): 1-D arrays raised NumPy's "input operand has more
    dimensions than allowed by the axis remapping", and another number of columns was tuned, one cut-off per
    column, without a word."""
    rng = np.random.default_rng(0)
    scores, y = rng.normal(size=shape), (rng.random(shape) < 0.4).astype(int)
    metric = compile_metric("f1", task="multilabel", num_classes=3, average=average)
    with pytest.raises(MetriccError, match=re.escape(f"Expected multi-label `scores` and `target` of shape (n, 3), "
                                                     f"but got {shape}")):
        metric.tune_threshold(scores, y)


@pytest.mark.parametrize("weighted", [False, True])
def test_multilabel_micro_tunes_the_pooled_value(weighted):
    """With average="micro" the labels' counts are pooled, so the best cut-offs are not each label's own: they
    were tuned label by label (each label's F1), and the values returned were those per-label F1s. Now: one
    cut-off per label that the pooled value cannot improve on by moving any one of them (checked by brute
    force over every cut-off of each label), at least as good as the best shared cut-off and as the per-label
    ones, and that pooled value, which score() gives at those cut-offs."""
    rng = np.random.default_rng(11)
    n, C = 120, 3
    y = (rng.random((n, C)) < [0.05, 0.3, 0.6]).astype(int)
    scores = y * rng.normal(1.0, 1.0, (n, C)) + rng.normal(0.0, 1.0, (n, C)) + [0.0, 0.5, -0.5]
    w = rng.uniform(0.5, 2.0, n) if weighted else None
    micro = compile_metric("f1", task="multilabel", num_classes=C, average="micro")

    def pooled(thresholds):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return micro.score((scores >= thresholds).astype(int), y, w)

    thresholds, value = micro.tune_threshold(scores, y, w)
    assert np.shape(thresholds) == (C,) and np.ndim(value) == 0
    assert value == pytest.approx(pooled(thresholds), abs=1e-12)
    shared = compile_metric("f1").tune_threshold(scores.reshape(-1), y.reshape(-1),
                                                None if w is None else np.repeat(w, C))[1]
    per_label = compile_metric("f1", task="multilabel", num_classes=C).tune_threshold(scores, y, w)[0]
    assert value >= shared - 1e-12 and value >= pooled(per_label) - 1e-12
    assert value > pooled(per_label) + 1e-3  # here the per-label cut-offs are clearly worse for micro-F1
    for k in range(C):
        for cut in np.append(np.unique(scores[:, k]), np.inf):
            moved = thresholds.copy()
            moved[k] = cut
            assert pooled(moved) <= value + 1e-12


@pytest.mark.parametrize("scores, target, message", [
    (np.array([0.1, np.nan]), np.array([0, 1]),
     "without NaN, but it holds NaN at index 1, a missing value: drop or fill the missing entries first"),
    (np.array([0.1, 0.2]), np.array([0, 2]), "hard 0/1 labels"),
    (np.array([0.1, 0.2]), np.array([0, 1, 1]), "same shape"),
    # predict_proba's two columns, and a DataFrame column (the message had said only "the same shape")
    (np.array([[0.9, 0.1], [0.2, 0.8]]), np.array([0, 1]), r"the two columns of predict_proba\? pass scores\[:, 1\]"),
    (np.array([[0.1], [0.8]]), np.array([0, 1]), r"one column\? pass scores\[:, 0\]"),
    (np.array([]), np.array([]), r"Expected non-empty `scores` and `target` of the same shape, but got \(0,\)"),
])
def test_bad_input(scores, target, message):
    with pytest.raises(MetriccError, match=message):
        compile_metric("f1").tune_threshold(scores, target)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_a_networks_scores_are_tuned_as_their_values(dtype):
    """Scores straight from a network (a tensor that requires grad, or bfloat16, which NumPy lacks) are tuned as
    their values: tune_threshold() reads no gradient. They had been refused with a hint to use the torch loss."""
    metric = compile_metric("f1")
    values = torch.tensor(np.random.default_rng(0).normal(size=50)).to(dtype)
    target = torch.tensor(np.random.default_rng(1).random(50) < 0.4)
    expected = metric.tune_threshold(values.double().numpy(), target.numpy())
    assert metric.tune_threshold(values.requires_grad_(), target) == expected


def test_one_sample_is_tuned():
    """One labelled sample is enough: the cut-off that calls it as it is."""
    for target in (0, 1):
        cut, value = compile_metric("accuracy").tune_threshold(np.array([0.3]), np.array([target]))
        assert value == 1.0 and (0.3 >= cut) == bool(target)


def test_one_defined_cut_off_is_returned_without_a_warning():
    """Precision of one positive sample is defined at one cut-off only (none predicted positive is 0/0): that cut-off
    is the answer, not "as good as any other", which the warning for a value no cut-off changes would say."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert compile_metric("precision").tune_threshold(np.array([0.3]), np.array([1])) == (0.3, 1.0)
        assert compile_metric("precision").tune_threshold(np.array([0.3, 0.3]), np.array([1, 0])) == (0.3, 0.5)


@pytest.mark.parametrize("target, weighs", [(0, "0 positive, 40 negative"), (1, "40 positive, 0 negative")])
def test_a_value_that_no_cut_off_changes_warns(target, weighs):
    """F1 of a target without positives is 0 at every cut-off: the threshold returned was arbitrary (the first of
    the tie), without a word. The warning says so and why (the targets' weight by class)."""
    scores, y = np.random.default_rng(0).random(40), np.full(40, target)
    formula = "f1" if target == 0 else "npv"  # NPV without negatives: 0, or 0/0 where nothing is predicted negative
    with pytest.warns(MetriccWarning, match=re.escape(f"{formula!r} is 0 at every cut-off of these scores (their "
                                                      f"targets weigh {weighs}): the threshold returned is as good as "
                                                      f"any other")):
        compile_metric(formula).tune_threshold(scores, y)
    with warnings.catch_warnings():  # a value that the cut-off changes: no warning, also with one class
        warnings.simplefilter("error")
        assert compile_metric("accuracy").tune_threshold(scores, y)[1] == 1.0


def test_multilabel_names_the_label_whose_value_no_cut_off_changes():
    rng = np.random.default_rng(1)
    scores, y = rng.random((30, 3)), (rng.random((30, 3)) < 0.5).astype(int)
    y[:, 1] = 0
    metric = compile_metric("f1", task="multilabel", num_classes=3)
    with pytest.warns(MetriccWarning, match="'f1' is 0 at every cut-off of label 1's scores") as caught:
        metric.tune_threshold(scores, y)
    assert len([w for w in caught if issubclass(w.category, MetriccWarning)]) == 1
    with warnings.catch_warnings():  # pooled (micro): the other labels' positives count, no warning
        warnings.simplefilter("error")
        compile_metric("f1", task="multilabel", num_classes=3, average="micro").tune_threshold(scores, y)


def test_multiclass_is_refused():
    with pytest.raises(MetriccError, match="arg-max"):
        compile_metric("f1", task="multiclass", num_classes=3).tune_threshold(np.zeros(3), np.zeros(3))
