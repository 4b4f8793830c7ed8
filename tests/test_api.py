"""The public surface: a light import, immutable cached results, argument errors."""

import math
import re
import subprocess
import sys

import numpy as np
import pytest
import sympy as sp

import metricc
from metricc import MetriccError, compile_metric


def test_import_does_not_import_torch():
    code = "import sys, metricc; print(sorted(m for m in ('torch', 'sklearn', 'matplotlib') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_import_and_the_command_line_help_wait_for_neither_sympy_nor_numpy():
    """`metricc --help` took 0.8-1.1 s, nearly all of it SymPy's import (`import metricc` loaded the compiler)."""
    code = ("import sys, metricc, metricc.cli\n"
            "try:\n    metricc.cli.main(['--help'])\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in ('sympy', 'numpy', 'lark') if m in sys.modules))\n"
            "metricc.compile_metric\n"
            "print(sorted(m for m in ('sympy', 'numpy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-2:] == ["[]", "['numpy', 'sympy']"]


def test_public_names_are_there_and_listed():
    for name in metricc.__all__:
        assert getattr(metricc, name) is not None and name in dir(metricc)
    assert metricc.compile_metric is metricc.compiler.compile_metric and metricc.validate_L is metricc.lrange.validate_L
    with pytest.raises(AttributeError, match="no attribute 'compile'"):
        metricc.compile


def test_public_names():
    assert set(metricc.__all__) >= {"compile_metric", "CompiledMetric", "MetriccError", "MetriccWarning"}
    assert issubclass(MetriccError, ValueError)


def test_compiled_metric_is_cached_and_immutable():
    f1 = compile_metric("f1")
    assert compile_metric("f1") is f1
    assert compile_metric("fbeta", beta=2) is compile_metric("fbeta", beta=2.0)
    assert compile_metric("f1", L=10.0) is not f1
    with pytest.raises(AttributeError):
        f1.L = 3.0
    with pytest.raises(TypeError):
        f1.partials["TP"] = sp.Integer(0)


def test_expr_and_partials_are_sympy_in_the_counts():
    mcc = compile_metric("mcc")
    TP, FP, FN, TN = sp.symbols("TP FP FN TN", positive=True)
    assert mcc.expr.free_symbols == {TP, FP, FN, TN}
    assert set(mcc.partials) == {"TP", "FP", "FN", "TN"}
    assert sp.simplify(mcc.partials["TP"] - sp.diff(1 - mcc.expr, TP)) == 0
    cost = compile_metric("minimize: (FP + 5*FN)/N")
    assert cost.loss == cost.expr and sp.simplify(cost.partials["FN"] - sp.diff(cost.expr, FN)) == 0


@pytest.mark.parametrize("kwargs, message", [
    ({"L": -3}, "Expected argument `L` to be a positive float, but got -3."),
    ({"L": float("inf")}, "Expected argument `L` to be a positive float"),
    ({"threshold": 1.5}, "Expected argument `threshold` to be a float in (0, 1)"),
    ({"eps": -1.0}, "Expected argument `eps` to be a non-negative float"),
    ({"from_logits": "yes"}, "Expected argument `from_logits` to be a bool"),
    ({"minimize": 1}, "Expected argument `minimize` to be a bool"),
])
def test_argument_errors(kwargs, message):
    with pytest.raises(MetriccError) as info:
        compile_metric("f1", **kwargs)
    assert message in str(info.value)


def test_to_torch_rejects_unknown_options():
    with pytest.raises(MetriccError, match="unknown option 'beta'"):
        compile_metric("f1").to_torch(pure=True, beta=2)


def test_minimize_argument_matches_prefix():
    assert compile_metric("(FP + 5*FN)/N", minimize=True).loss == compile_metric("minimize: (FP + 5*FN)/N").loss


def test_scorer_takes_scikit_learns_argument_order():
    """scikit-learn calls a metric as (y_true, y_pred); score() takes (predictions, target), as torchmetrics does,
    so make_scorer(metric.score) silently swaps FP and FN (precision for recall, FP + 5*FN for 5*FP + FN).
    metric.scorer() is the scorer in scikit-learn's order, greater_is_better set by minimize."""
    from sklearn.datasets import make_classification
    from sklearn.dummy import DummyClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import confusion_matrix
    from sklearn.model_selection import cross_val_score

    X, y = make_classification(300, 5, weights=[0.8], random_state=0)
    model = LogisticRegression()
    for name in ("precision", "recall"):
        np.testing.assert_allclose(cross_val_score(model, X, y, scoring=compile_metric(name).scorer(), cv=3),
                                   cross_val_score(model, X, y, scoring=name, cv=3), rtol=0, atol=1e-12)
    fitted = model.fit(X[:200], y[:200])
    tn, fp, fn, tp = confusion_matrix(y[200:], fitted.predict(X[200:])).ravel()
    assert fp != fn
    assert compile_metric("minimize: FP + 5*FN").scorer()(fitted, X[200:], y[200:]) == -(fp + 5 * fn)
    never_positive = DummyClassifier(strategy="constant", constant=0).fit(X, y)  # precision 0/0: zero_division
    assert compile_metric("precision").scorer(zero_division=1)(never_positive, X, y) == 1


@pytest.mark.filterwarnings("ignore::metricc.MetriccWarning")
def test_scorer_counts_an_undefined_score_as_0_as_scikit_learn_does():
    """scikit-learn's scorers give 0 where a score is 0/0 (matthews_corrcoef, and f1 or precision with their
    default zero_division="warn"); metricc's scorer gave NaN, and TunedThresholdClassifierCV, whose cut-offs
    reach "predict no positive", then chose the cut-off 1.4e-6 with a best score of NaN. A cost stays NaN there
    (0 would be its best value)."""
    from sklearn.datasets import make_classification
    from sklearn.dummy import DummyClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import make_scorer, matthews_corrcoef
    import sklearn.model_selection

    X, y = make_classification(2000, weights=[0.9], random_state=0)
    never_positive = DummyClassifier(strategy="constant", constant=0).fit(X, y)
    for name in ("mcc", "precision", "f1", "cohen_kappa"):
        assert compile_metric(name).scorer()(never_positive, X, y) == 0.0
    assert np.isnan(compile_metric("mcc").scorer(zero_division=np.nan)(never_positive, X, y))  # as asked
    assert np.isnan(compile_metric("minimize: FP / PP").scorer()(never_positive, X, y))
    tuner = getattr(sklearn.model_selection, "TunedThresholdClassifierCV", None)  # scikit-learn >= 1.5
    if tuner is not None:
        ours = tuner(LogisticRegression(), scoring=compile_metric("mcc").scorer(), cv=3).fit(X, y)
        theirs = tuner(LogisticRegression(), scoring=make_scorer(matthews_corrcoef), cv=3).fit(X, y)
        assert ours.best_threshold_ == theirs.best_threshold_
        assert ours.best_score_ == pytest.approx(theirs.best_score_, rel=1e-12)


@pytest.mark.parametrize("options, message", [
    ({"greater_is_better": False}, r"greater_is_better follows the formula: a `minimize:` cost"),
    ({"response_method": "predict_proba"}, r"scores predict\(\)'s hard labels, as score\(\) does"),
    ({"needs_proba": True}, r"scores predict\(\)'s hard labels"),
    ({"average": "macro"}, r"`average` is no option of scorer\(\).*compile_metric\(\)"),
    ({"beta": 2}, r"`beta` is no option of scorer\(\)"),
])
def test_scorer_refuses_options_that_score_does_not_take(options, message):
    """scorer(**options) handed every option to make_scorer: greater_is_better raised a TypeError from inside
    scikit-learn, and the others were accepted and failed at each call, which cross_val_score turns into a NaN
    score per fold (a warning, no error)."""
    with pytest.raises(MetriccError, match=message):
        compile_metric("fbeta").scorer(**options)


@pytest.mark.parametrize("task", ["binary", "multiclass"])
def test_a_scorer_leaves_out_the_ignore_label_of_the_truth(task):
    """A metric compiled with ignore_index scores, through its scikit-learn scorer, the rows whose truth is not
    the ignore label, as scikit-learn's metric on those rows; the label is no class of its own."""
    from sklearn.base import BaseEstimator, ClassifierMixin
    from sklearn.metrics import f1_score

    class Fixed(ClassifierMixin, BaseEstimator):  # an estimator that predicts the given classes
        def __init__(self, predicted=None):
            self.predicted = predicted

        def predict(self, X):
            return self.predicted

    truth = np.array([0, 1, 2, -1, 1, 0, -1, 2, 2, 1])
    predicted = np.array([0, 1, 1, 2, 1, 0, 0, 2, 0, 1])
    options = {"task": "multiclass", "num_classes": 3} if task == "multiclass" else {}
    if task == "binary":
        truth, predicted = np.minimum(truth, 1), np.minimum(predicted, 1)
    metric = compile_metric("f1", ignore_index=-1, **options)
    kept = truth != -1
    expected = f1_score(truth[kept], predicted[kept], average="macro" if task == "multiclass" else "binary")
    X, estimator = np.zeros((len(truth), 1)), Fixed(predicted)
    estimator.classes_ = np.unique(truth[kept])  # as fitted on the labelled rows
    assert metric.scorer()(estimator, X, truth) == pytest.approx(expected, abs=1e-12)


def test_a_scorer_with_pos_label_leaves_out_the_ignore_label():
    """Labels 1 and 2 with pos_label=2, and the ignore label -1: the rows labelled -1 are left out (not counted
    as negatives once the labels are mapped to 0/1), as scikit-learn's f1_score on the labelled rows."""
    from sklearn.base import BaseEstimator, ClassifierMixin
    from sklearn.metrics import f1_score

    truth = np.array([2, 1, 2, -1, 1, 2, -1, 2, 1, 1])
    predicted = np.array([2, 2, 1, 2, 1, 2, 2, 2, 1, 2])
    kept = truth != -1

    class Fixed(ClassifierMixin, BaseEstimator):
        classes_ = np.array([1, 2])

        def predict(self, X):
            return predicted

    scorer = compile_metric("f1", ignore_index=-1).scorer(pos_label=2)
    expected = f1_score(truth[kept], predicted[kept], pos_label=2)
    assert scorer(Fixed(), np.zeros((10, 1)), truth) == pytest.approx(expected, abs=1e-12)
    assert expected != pytest.approx(f1_score(np.where(kept, truth, 1), predicted, pos_label=2))  # it matters


@pytest.mark.parametrize("call, message", [
    (lambda: compile_metric(123), "Expected the formula to be a str, but got int."),
    (lambda: compile_metric("f1", task="multiclass", num_classes=3, average="bogus"),
     "Expected argument `average` to be one of ['macro', 'micro', 'weighted', 'none'], but got 'bogus'."),
    (lambda: compile_metric("f1").score(np.array([0, 1, 1]), np.array([0, 1])),
     "Expected `predictions` and `target` to have the same shape, but got (3,) and (2,)."),
    (lambda: compile_metric("f1").score(np.array([0, 1, 1]), np.array([0, 1, 1]), np.ones(2)),
     "Expected `sample_weight` of shape (3,), but got (2,)."),
    (lambda: compile_metric("f1", ignore_index=-1).score(np.array([0, 1, 1]), np.array([0, -1])),
     "Expected `predictions` and `target` to have the same shape, but got (3,) and (2,)."),
    (lambda: compile_metric("f1", ignore_index=-1).score(np.array([0, 1, 1]), np.array([0, -1, 1]), np.ones(2)),
     "Expected `sample_weight` of shape (3,), but got (2,)."),
    (lambda: compile_metric("f1", task="multiclass", num_classes=3).score(np.array([0, 1, 2]), np.array([0, 1])),
     "Expected `predictions` to be integer class indices of shape (2,), but got int64 (3,)."),
    (lambda: compile_metric("f1", task="multiclass", num_classes=3).score(np.eye(3)[[0, 1]], np.array([0, 1])),
     "Expected `predictions` to be integer class indices of shape (2,), but got int64 (2, 3) (take the arg-max "
     "of the scores first)."),
    (lambda: compile_metric("f1", ignore_index=-1).tune_threshold(np.ones((3, 2)) / 2, np.array([0, -1, 1])),
     "Expected non-empty `scores` and `target` of the same shape, but got (3, 2) and (3,): the two columns of "
     "predict_proba? pass scores[:, 1], the positive class's."),
    (lambda: compile_metric("f1", ignore_index=-1).tune_threshold(np.ones(3) / 2, np.array([0, -1, 1]), np.ones(2)),
     "Expected `sample_weight` of shape (3,), but got (2,)."),
    (lambda: compile_metric("f1", task="multilabel", num_classes=3).score(np.zeros((4, 2)), np.zeros((4, 3))),
     "Expected `predictions` of shape (4, 3), but got (4, 2)."),
    (lambda: compile_metric("f1", task="multiclass", num_classes=3).score(np.zeros((2, 4), int), np.zeros((2, 4), int),
                                                                          np.ones((2, 3))),
     "Expected `sample_weight` of shape (2, 4), but got (2, 3)."),
    (lambda: compile_metric("specificity").tune_threshold(np.array([0.1, 0.5, 0.9]), np.array([1, 1, 1])),
     "'specificity' is undefined at every cut-off of these scores (their targets weigh 3 positive, 0 negative)"),
    (lambda: compile_metric("recall", task="multilabel", num_classes=2).tune_threshold(np.ones((3, 2)) / 2,
                                                                                       np.array([[1, 0]] * 3)),
     "'recall' is undefined at every cut-off of label 1's scores (their targets weigh 0 positive, 3 negative)"),
    (lambda: compile_metric("f1", task="multiclass", num_classes=3).score(np.array([0.5, 1, 2]), np.arange(3)),
     "Expected `predictions` to be integer class indices of shape (3,), but got float64 (3,): it holds 0.5 at index 0, "
     "which is no class."),
    (lambda: compile_metric("f1", task="multiclass", num_classes=3).score(np.array([0, 1e20, 2]), np.arange(3)),
     "Expected `predictions` to be integer class indices of shape (3,), but got float64 (3,): it holds 1e+20 at "
     "index 1, which is no class."),
    (lambda: compile_metric("f1", task="multiclass", num_classes=3).loss_and_grad(np.zeros((3, 3)),
                                                                                  np.array([0.0, 1, 2])),
     "Expected `target` to be integer class indices of shape (3,) or class probabilities (3, 3), but got float64 "
     "(3,): the values are whole, pass target.astype(int)."),
    (lambda: compile_metric("f1", task="multiclass", num_classes=3).score(np.array([0, 1, 3]), np.arange(3)),
     "Expected `predictions` to be class indices in [0, 3), but got 3: 4 classes? compile with num_classes=4."),
    (lambda: compile_metric("f1", task="multiclass", num_classes=3, ignore_index=-1).score(np.array([0, 1, -1]),
                                                                                           np.arange(3)),
     "Expected `predictions` to be class indices in [0, 3), but got -1."),  # (not: compile with ignore_index=-1)
    (lambda: compile_metric("f1", task="multiclass", num_classes=3).loss_and_grad(np.zeros((3, 3)), np.arange(3),
                                                                                  np.array(list("abc"))),
     "Expected `sample_weight` to hold numbers, but got dtype <U1."),
    (lambda: compile_metric("f1", task="multilabel", num_classes=3).score(np.eye(3), np.eye(3),
                                                                          np.array([1, None, 2])),
     "Expected `sample_weight` to hold numbers, but got dtype object."),
    # empty arrays gave NaN with "undefined at TP, FP, FN, TN = 0, 0, 0, 0", where scikit-learn says they are empty
    (lambda: compile_metric("f1").score(np.array([], int), np.array([], int)),
     "Expected a non-empty batch, but `target` has no elements."),
    (lambda: compile_metric("f1", task="multiclass", num_classes=3).score(np.array([], int), np.array([], int)),
     "Expected a non-empty batch, but `target` has no elements."),
    (lambda: compile_metric("f1", task="multilabel", num_classes=3).score(np.zeros((0, 3)), np.zeros((0, 3))),
     "Expected a non-empty batch, but `target` has no elements."),
])
def test_score_and_compile_name_what_is_wrong(call, message):
    """(With ignore_index, mismatched shapes were refused as "Expected `target` to hold hard 0/1 labels, but it
    holds -1": the ignore label, read before the shapes were compared.)"""
    with pytest.raises(MetriccError) as info:
        call()
    assert str(info.value) == message


def test_multiclass_scorer_takes_class_names_as_scikit_learn_does():
    """A multi-class scorer on classes named other than 0..C-1 ("a"/"b"/"c", 1..C) gave NaN in every fold of
    cross_val_score ("Expected `target` to hold numbers, but got dtype <U1", or class indices out of range), where
    scikit-learn's "f1_macro" scores them: they are matched to the metric's classes in sorted order, as an
    estimator's classes_, or in the order of scorer(labels=...), which class_weight needs. Integer classes below
    C are taken as the metric's indices only where none is negative (-1/0/1 are three names)."""
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import fbeta_score, make_scorer
    from sklearn.model_selection import cross_val_score

    X, y = make_classification(300, 6, n_informative=4, n_classes=3, random_state=0)
    model = LogisticRegression(max_iter=500)
    for classes in (np.array(["a", "b", "c"]), np.array([1, 2, 3]), np.array([-5, 7, 2]), np.array([-1, 0, 1])):
        labels = classes[y]
        for average in ("macro", "micro", "weighted"):
            metric = compile_metric("f1", task="multiclass", num_classes=3, average=average)
            got = cross_val_score(model, X, labels, cv=3, error_score="raise", scoring=metric.scorer())
            np.testing.assert_allclose(got, cross_val_score(model, X, labels, cv=3, scoring=f"f1_{average}"),
                                       rtol=0, atol=1e-12)
    # class weights follow the order of labels=..., the metric's class order
    labels = np.array(["c", "a", "b"])[y]
    weighted = compile_metric("fbeta", beta=2, task="multiclass", num_classes=3, class_weight=[3, 1, 2])
    got = cross_val_score(model, X, labels, cv=3, error_score="raise", scoring=weighted.scorer(labels=["c", "a", "b"]))

    def weighted_f2(truth, predicted):
        per_class = fbeta_score(truth, predicted, beta=2, labels=["c", "a", "b"], average=None)
        return np.dot(per_class, [3, 1, 2]) / 6

    np.testing.assert_allclose(got, cross_val_score(model, X, labels, cv=3, scoring=make_scorer(weighted_f2)),
                               rtol=0, atol=1e-12)
    fitted = model.fit(X, labels)
    with pytest.raises(MetriccError, match=re.escape("class_weight follows the order of the classes: pass "
                                                     "scorer(labels=[...]), the class names in that order")):
        weighted.scorer()(fitted, X, labels)
    with pytest.raises(MetriccError, match=re.escape("the class 'b', which is not one of the classes "
                                                     "labels=['c', 'a', 'd']")):
        weighted.scorer(labels=["c", "a", "d"])(fitted, X, labels)
    with pytest.raises(MetriccError, match=re.escape("labels=[...] names 2 classes, but the metric has "
                                                     "num_classes=3")):
        weighted.scorer(labels=["c", "a"])
    four = np.array(["a", "b", "c", "d"])[np.arange(300) % 4]
    with pytest.raises(MetriccError, match=re.escape("got 4 classes ('a', 'b', 'c', 'd'), but the metric has "
                                                     "num_classes=3")):
        compile_metric("f1", task="multiclass", num_classes=3).scorer()(model.fit(X, four), X, four)
    with pytest.raises(MetriccError, match=re.escape("labels=[...] names a multi-class metric's classes; a binary "
                                                     "metric takes pos_label=")):
        compile_metric("f1").scorer(labels=[0, 1])


def test_scorer_of_one_value_per_class_is_refused():
    """A scikit-learn scorer returns one number: average='none' (one per class) is refused when the scorer is
    made, saying which average to use, not at the first fold deep inside cross_val_score."""
    metric = compile_metric("f1", task="multiclass", num_classes=3, average="none")
    with pytest.raises(MetriccError, match=re.escape("a scikit-learn scorer returns one number, and average='none' "
                                                     "gives one per class: compile with average='macro', 'micro' "
                                                     "or 'weighted'")):
        metric.scorer()


def test_scorer_takes_pos_label_as_scikit_learn_does():
    """Class names other than 0/1 ("yes"/"no", 1/2) failed inside cross_val_score with "Expected `predictions` to
    hold numbers, but got dtype <U3" or "... holds 2; threshold probabilities first": scikit-learn's scorers
    take pos_label (1 by default) and say when it is not one of the classes."""
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score, make_scorer
    from sklearn.model_selection import cross_val_score

    X, y = make_classification(300, 5, weights=[0.8], random_state=0)
    model = LogisticRegression()
    for classes, pos_label in ((np.array(["no", "yes"]), "yes"), (np.array([2, 1]), 1), (np.array([1, 0]), 0)):
        labels = classes[y]
        got = cross_val_score(model, X, labels, cv=3, error_score="raise",
                              scoring=compile_metric("minimize: FP + 5*FN").scorer(pos_label=pos_label))

        def cost(truth, predicted, positive=pos_label):  # FP + 5*FN, greater is better as a scorer
            return -(np.sum((predicted == positive) & (truth != positive))
                     + 5 * np.sum((predicted != positive) & (truth == positive)))

        want = cross_val_score(model, X, labels, cv=3, scoring=make_scorer(cost))
        np.testing.assert_array_equal(got, want)
        np.testing.assert_allclose(
            cross_val_score(model, X, labels, cv=3, scoring=compile_metric("f1").scorer(pos_label=pos_label)),
            cross_val_score(model, X, labels, cv=3, scoring=make_scorer(f1_score, pos_label=pos_label)), atol=1e-12)
    with pytest.raises(MetriccError, match=r"pos_label=1 is not one of the classes \['no', 'yes'\].*pos_label="):
        compile_metric("f1").scorer()(model.fit(X, np.array(["no", "yes"])[y]), X, np.array(["no", "yes"])[y])
    three = np.arange(300) % 3
    with pytest.raises(MetriccError, match=r"3 classes.*task='multiclass'"):
        compile_metric("f1").scorer()(model.fit(X, three), X, three)


@pytest.mark.parametrize("task", [{}, {"task": "multiclass", "num_classes": 3}])
def test_scorer_names_scores_passed_as_predictions(task):
    """LightGBM's LGBMClassifier with a custom objective (metricc's among them) returns raw scores from
    predict(); a metricc scorer took each distinct score for a class and said "compile with task='multiclass',
    num_classes=257". It now says the predictions are scores, not classes, and which classifier predicts
    classes."""
    from sklearn.linear_model import LinearRegression

    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 1 if task else 0)
    model = LinearRegression().fit(X, y)  # predict() gives continuous values, as LightGBM's raw scores
    with pytest.raises(MetriccError, match=r"predict\(\) gave values that are not classes \(-?\d\.\d+, .*\): "
                                           r".*metricc\.lightgbm_sklearn\.LGBMClassifier"):
        compile_metric("f1", **task).scorer()(model, X, y)



def test_repr_shows_the_settings_that_make_the_metric():
    """repr() names the formula, its parameters and settings, and the task's where it is not binary."""
    assert repr(compile_metric("fbeta", beta=2.0)) == ("CompiledMetric('fbeta', beta=2.0, L=73.0, threshold=0.5, "
                                                       "from_logits=True, eps=1e-06)")
    assert repr(compile_metric("f1", task="multiclass", num_classes=3, average="weighted", ignore_index=-100)) == (
        "CompiledMetric('f1', L=73.0, threshold=0.5, from_logits=True, eps=1e-06, task='multiclass', num_classes=3, "
        "average='weighted', ignore_index=-100)")


# -- predict(): hard predictions as the loss counts them --------------------------------------------------------

@pytest.mark.parametrize("threshold", [0.5, 0.3, 0.8])
@pytest.mark.parametrize("from_logits", [True, False])
def test_predict_cuts_at_the_compiled_threshold(threshold, from_logits):
    """A model trained at threshold t predicts positive where its probability reaches t (logits: where they reach
    logit(t)), the cut-off itself positive; predict() cuts there, also for float16 input (compared in float64,
    not at a rounded cut-off)."""
    from sklearn.metrics import f1_score

    rng = np.random.default_rng(0)
    logits = rng.normal(0, 2, 500)
    logits[:3] = math.log(threshold / (1 - threshold)) + np.array([0.0, -1e-12, 1e-12])  # at the cut-off, beside it
    probabilities = 1 / (1 + np.exp(-logits))
    if not from_logits:
        probabilities[:3] = threshold + np.array([0.0, -1e-12, 1e-12])
    target = (rng.random(500) < 0.3).astype(int)
    metric = compile_metric("f1", threshold=threshold, from_logits=from_logits)
    given = logits if from_logits else probabilities
    expected = (probabilities >= threshold).astype(np.int64)
    expected[:3] = [1, 0, 1]
    predicted = metric.predict(given)
    assert predicted.dtype == np.int64 and np.array_equal(predicted, expected)
    assert metric.score(predicted, target) == pytest.approx(f1_score(target, expected), abs=1e-12)
    half = given.astype(np.float16)
    cut = np.log(threshold / (1 - threshold)) if from_logits else threshold
    assert np.array_equal(metric.predict(half), (half.astype(np.float64) >= cut).astype(np.int64))


def test_predict_takes_a_networks_output_tensor():
    torch = pytest.importorskip("torch")
    logits = torch.randn(4, 6, requires_grad=True)
    metric = compile_metric("f1", threshold=0.3)
    expected = (torch.sigmoid(logits.detach().double()) >= 0.3).long().numpy()
    assert np.array_equal(metric.predict(logits), expected)
    assert np.array_equal(metric.predict(logits.detach().bfloat16()),
                          (torch.sigmoid(logits.detach().bfloat16().double()) >= 0.3).long().numpy())


def test_predict_of_a_multiclass_metric_is_the_arg_max_along_the_classes():
    torch = pytest.importorskip("torch")
    metric = compile_metric("f1", task="multiclass", num_classes=3)
    rows, maps = torch.randn(10, 3), torch.randn(2, 3, 4, 5)
    assert np.array_equal(metric.predict(rows), rows.argmax(1).numpy())
    assert np.array_equal(metric.predict(maps), maps.argmax(1).numpy()) and metric.predict(maps).shape == (2, 4, 5)
    labels = compile_metric("f1", task="multilabel", num_classes=3)
    assert np.array_equal(labels.predict(rows), (rows >= 0).long().numpy())
    with pytest.raises(MetriccError, match=r"Expected `input` of shape \(n, 3\) or \(N, 3, d1, ..., dk\), but got "
                                           r"\(10, 4\)"):
        metric.predict(np.zeros((10, 4)))


def test_predict_refuses_predictions():
    """Booleans are predictions already: as logits every one of them (0 and 1) had come out positive."""
    with pytest.raises(MetriccError, match="Expected `input` to hold logits, but got bool: predictions already"):
        compile_metric("f1").predict(np.array([True, False]))


def test_predict_refuses_missing_values():
    with pytest.raises(MetriccError, match="Expected `input` without NaN, but it holds NaN at index 1"):
        compile_metric("f1").predict(np.array([0.5, np.nan, -1.0]))
    assert compile_metric("f1").predict(np.array([np.inf, -np.inf])).tolist() == [1, 0]
