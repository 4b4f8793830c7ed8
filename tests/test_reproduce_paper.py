"""The reproduction script: its protocol on a tiny data set, and its quick run."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import make_classification

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
sys.path.insert(0, str(EXAMPLES))
import reproduce_paper as rp  # noqa: E402


@pytest.fixture
def tiny():
    X, y = make_classification(n_samples=90, n_features=4, weights=[0.8], random_state=1)
    X[:, 0] = X[:, 0] * 10 + 5  # a feature far from standard, so that leaks would show in the scaler's mean
    return X, y


def _settings(models):
    return rp.Settings(folds=3, slp_iterations=5, mlp_epochs=2, models=models)


class _Quiet:
    def step(self, label):
        pass


def test_fresh_model_for_every_fold_and_loss(tiny, monkeypatch):
    X, y = tiny
    built = []
    original = rp.MLP.__init__

    def record(self, features):
        original(self, features)
        built.append(self)

    monkeypatch.setattr(rp.MLP, "__init__", record)
    starts = []
    original_fit = rp.slp_fit

    def record_slp(X_, y_, loss, lr, iterations):
        starts.append(True)
        return original_fit(X_, y_, loss, lr, iterations)

    monkeypatch.setattr(rp, "slp_fit", record_slp)
    rp.cross_validate("tiny", X, y, _settings(("SLP", "MLP")), ["BCE", "F1"], _Quiet())
    assert len(built) == 3 * 2 and len({id(model) for model in built}) == 6
    assert len(starts) == 3 * 2  # slp_fit starts from zero weights on each call


def test_standardisation_is_fitted_on_the_training_fold_only(tiny, monkeypatch):
    X, y = tiny
    fitted = []

    class Recording(rp.StandardScaler):
        def fit(self, data, *args, **kwargs):
            fitted.append(np.array(data))
            return super().fit(data, *args, **kwargs)

    monkeypatch.setattr(rp, "StandardScaler", Recording)
    tests = []
    monkeypatch.setattr(rp, "scores", lambda y_true, y_pred: tests.append(len(y_true)) or dict.fromkeys(
        rp.METRICS, 0.0))
    rp.cross_validate("tiny", X, y, _settings(("SLP",)), ["F1"], _Quiet())
    assert [len(rows) for rows in fitted] == [len(X) - n for n in tests]
    for rows in fitted:
        assert not np.isclose(rows[:, 0].mean(), X[:, 0].mean()) or len(rows) == len(X)


def test_folds_are_stratified_and_shuffled(tiny, monkeypatch):
    X, y = tiny
    labels = []
    monkeypatch.setattr(rp, "scores", lambda y_true, y_pred: labels.append(np.array(y_true)) or dict.fromkeys(
        rp.METRICS, 0.0))
    rp.cross_validate("tiny", X, y, _settings(("SLP",)), ["BCE"], _Quiet())
    share = y.mean()
    for fold in labels:
        assert abs(fold.mean() - share) <= 1 / len(fold) + 1e-12
    splits = []

    class Recording(rp.StratifiedKFold):
        def split(self, X_, y_):
            for train_index, test_index in super().split(X_, y_):
                splits.append(test_index)
                yield train_index, test_index

    monkeypatch.setattr(rp, "StratifiedKFold", Recording)
    rp.cross_validate("tiny", X, y, _settings(("SLP",)), ["BCE"], _Quiet())
    assert any(np.any(np.diff(test) > 1) for test in splits)  # shuffled: test folds are not contiguous blocks
    assert sorted(np.concatenate(splits).tolist()) == list(range(len(y)))


def test_tuned_baseline_uses_the_training_fold_only(tiny, monkeypatch):
    """The tuned row's thresholds come from the training fold's logits, one per metric, and are applied to the
    test fold's logits."""
    X, y = tiny
    tuned_on = []
    original = rp.tuned_scores

    def record(train_logits, y_train, test_logits, y_test):
        tuned_on.append((len(train_logits), len(y_train), len(test_logits), len(y_test)))
        return original(train_logits, y_train, test_logits, y_test)

    monkeypatch.setattr(rp, "tuned_scores", record)
    results = rp.cross_validate("tiny", X, y, _settings(("SLP",)), ["BCE"], _Quiet())
    assert [(a + c, b + d) for a, b, c, d in tuned_on] == [(len(X), len(X))] * 3
    assert all(a > c for a, _, c, _ in tuned_on)
    tuned = results[("SLP", rp.TUNED)]["scores"]
    assert len(tuned) == 3 and all(set(fold) == set(rp.METRICS) for fold in tuned)


def test_tuned_scores_pick_the_best_training_threshold():
    """On separable training logits the tuned threshold separates them; the test fold is scored with it."""
    train_logits = np.array([-3.0, -2.0, 1.0, 1.5, 2.0, 4.0])  # positives are the two largest: cut above 1.5
    y_train = np.array([0, 0, 0, 0, 1, 1])
    test_logits = np.array([0.5, 3.0, 5.0, -1.0])
    y_test = np.array([0, 1, 1, 0])
    tuned = rp.tuned_scores(train_logits, y_train, test_logits, y_test)
    assert tuned == dict.fromkeys(rp.METRICS, 1.0)  # at 0 it would call 0.5 positive: F1 0.8
    assert rp.scores(y_test, (test_logits >= 0).astype(int))["F1"] == pytest.approx(0.8)


def test_quick_run_writes_the_tables(tmp_path):
    """The quick run's report, with three of the eight losses (each loss trains every fold of both models)."""
    out = subprocess.run([sys.executable, str(EXAMPLES / "reproduce_paper.py"), "--quick", "--out", str(tmp_path),
                          "--losses", "BCE,F1,balanced accuracy"], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    report = (tmp_path / "results.md").read_text()
    assert "## synthetic" in report and "## breast cancer" in report
    assert "| SLP | F1 |" in report and "| MLP | balanced accuracy |" in report
    assert "| SLP | BCE + tuned threshold |" in report and "| MLP | BCE + tuned threshold |" in report
    assert (tmp_path / "results.csv").read_text().startswith("data set,model,loss,accuracy")
    assert (tmp_path / "curves_synthetic.png").read_bytes()[:4] == b"\x89PNG"


def test_bad_metric_stops_before_training(tmp_path):
    out = subprocess.run([sys.executable, str(EXAMPLES / "reproduce_paper.py"), "--quick", "--metric", "TP +",
                          "--out", str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert out.returncode != 0 and "syntax error" in out.stderr and "Traceback" not in out.stderr
