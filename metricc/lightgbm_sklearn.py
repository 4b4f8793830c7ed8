"""LightGBM's scikit-learn classifier for a metricc objective. LightGBM's own LGBMClassifier returns raw scores
from predict() and predict_proba() whenever its objective is a callable, so that cross_val_score, GridSearchCV
and pipelines score them as NaN; this one predicts as the objective decides:

    from metricc.lightgbm_sklearn import LGBMClassifier
    objective = compile_metric("f1").to_lightgbm()
    clf = LGBMClassifier(objective=objective, **objective.params)
    cross_val_score(clf, X, y, scoring="f1")

predict() gives the classes (a raw score r >= 0 is the positive class; the arg-max for task="multiclass");
predict_proba() gives 1 - sigmoid(r) and sigmoid(r), the columns of classes_ (a softmax of the raw scores for
task="multiclass"), whose larger entry is the predicted class. These are the scores the objective thresholds,
not calibrated probabilities. With any other objective it is LightGBM's LGBMClassifier. Importing this module
imports LightGBM.
"""

import warnings

import lightgbm
import numpy

from .boost_kernel import softmax


def _decides(objective):
    """Whether `objective` is a metricc booster objective (metricc's, or an emitted module's)."""
    return callable(objective) and all(hasattr(objective, name) for name in ("predict", "task", "eval_metric"))


class LGBMClassifier(lightgbm.LGBMClassifier):
    """lightgbm.LGBMClassifier whose predict() and predict_proba() follow a metricc objective (see the module);
    their other arguments (start_iteration, num_iteration, ...) are LightGBM's, by keyword."""

    def _follows_objective(self, raw_score, pred_leaf, pred_contrib):
        return not (raw_score or pred_leaf or pred_contrib) and _decides(self.objective)

    def predict_proba(self, X, raw_score=False, pred_leaf=False, pred_contrib=False, **options):
        if not self._follows_objective(raw_score, pred_leaf, pred_contrib):
            return super().predict_proba(X, raw_score=raw_score, pred_leaf=pred_leaf, pred_contrib=pred_contrib,
                                         **options)
        raw = numpy.asarray(super().predict_proba(X, raw_score=True, **options), dtype=numpy.float64)
        if self.objective.task == "multiclass":
            return softmax(raw.reshape(len(raw), -1).T).T
        return numpy.exp(-numpy.logaddexp(0.0, numpy.stack([raw, -raw], axis=1)))  # sigmoid(-r), sigmoid(r)

    def predict(self, X, raw_score=False, pred_leaf=False, pred_contrib=False, **options):
        if not self._follows_objective(raw_score, pred_leaf, pred_contrib):
            return super().predict(X, raw_score=raw_score, pred_leaf=pred_leaf, pred_contrib=pred_contrib, **options)
        raw = super().predict(X, raw_score=True, **options)
        with warnings.catch_warnings():  # (that all in [0, 1] may be probabilities: these are raw scores)
            warnings.filterwarnings("ignore", message="every score lies in")
            return self.classes_[self.objective.predict(raw)]
