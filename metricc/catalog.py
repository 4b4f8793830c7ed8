"""Named quantities and metrics, each written in the formula language itself.

`QUANTITIES` are the confusion-matrix totals and rates (upper-case, plus the usual lower-case synonyms);
`METRICS` are the scores users ask for by name, with the scikit-learn function each one matches on hard
predictions. Both may be used alone or inside any formula.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from types import MappingProxyType

from .vocabulary import COUNTS, FUNCTIONS


@dataclass(frozen=True)
class Named:
    """A name the formula language knows, the formula it stands for and its parameter defaults."""

    name: str
    formula: str
    description: str
    sklearn: str = ""
    defaults: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))
    nonnegative: tuple = ()  # parameters that must be >= 0 (a weight; beta, whose sign the formula loses)


def _named(name, formula, description, sklearn="", nonnegative=(), **defaults):
    return Named(name, formula, description, sklearn, MappingProxyType(defaults), nonnegative)


QUANTITIES = {q.name: q for q in (
    _named("N", "TP + FP + FN + TN", "number of samples (total weight)"),
    _named("POS", "TP + FN", "actual positives"),
    _named("NEG", "TN + FP", "actual negatives"),
    _named("PP", "TP + FP", "predicted positives"),
    _named("PN", "TN + FN", "predicted negatives"),
    _named("TPR", "TP / (TP + FN)", "true positive rate (recall, sensitivity)"),
    _named("TNR", "TN / (TN + FP)", "true negative rate (specificity)"),
    _named("PPV", "TP / (TP + FP)", "positive predictive value (precision)"),
    _named("NPV", "TN / (TN + FN)", "negative predictive value"),
    _named("FPR", "FP / (FP + TN)", "false positive rate"),
    _named("FNR", "FN / (FN + TP)", "false negative rate"),
    _named("FDR", "FP / (FP + TP)", "false discovery rate"),
    _named("FOR", "FN / (FN + TN)", "false omission rate"),
    _named("prevalence", "(TP + FN) / (TP + FP + FN + TN)", "share of actual positives"),
    _named("sensitivity", "TPR", "= TPR"),
)}

METRICS = {m.name: m for m in (
    _named("accuracy", "(TP + TN) / N", "share of correct predictions", "accuracy_score"),
    _named("balanced_accuracy", "(TPR + TNR) / 2", "mean of the recalls of both classes",
           "balanced_accuracy_score"),
    _named("f1", "2*TP / (2*TP + FP + FN)", "harmonic mean of precision and recall", "f1_score"),
    _named("fbeta", "(1 + beta^2)*TP / ((1 + beta^2)*TP + beta^2*FN + FP)",
           "F-beta: recall weighs beta times as much as precision", "fbeta_score", nonnegative=("beta",),
           beta=1.0),
    _named("precision", "PPV", "TP / (TP + FP)", "precision_score"),
    _named("recall", "TPR", "TP / (TP + FN)", "recall_score"),
    _named("specificity", "TNR", "TN / (TN + FP)", "recall_score(pos_label=0)"),
    _named("npv", "NPV", "TN / (TN + FN)", "precision_score(pos_label=0)"),
    _named("gmean", "sqrt(TPR * TNR)", "geometric mean of the recalls of both classes"),
    _named("mcc", "(TP*TN - FP*FN) / sqrt((TP + FP)*(TP + FN)*(TN + FP)*(TN + FN))",
           "Matthews correlation coefficient, in [-1, 1]", "matthews_corrcoef"),
    _named("matthews_corrcoef", "mcc", "= mcc", "matthews_corrcoef"),
    _named("jaccard", "TP / (TP + FP + FN)", "intersection over union of the positive class",
           "jaccard_score"),
    _named("iou", "jaccard", "= jaccard (intersection over union)", "jaccard_score"),
    _named("cohen_kappa",
           "po = (TP + TN)/N; pe = ((TP + FP)*(TP + FN) + (TN + FN)*(TN + FP))/N^2; (po - pe)/(1 - pe)",
           "agreement beyond chance, in [-1, 1]", "cohen_kappa_score"),
    _named("informedness", "TPR + TNR - 1", "Youden's J statistic, in [-1, 1]"),
    _named("markedness", "PPV + NPV - 1", "in [-1, 1]"),
    _named("fowlkes_mallows", "sqrt(PPV * TPR)", "geometric mean of precision and recall"),
    _named("tversky", "TP / (TP + alpha*FP + beta*FN)",
           "alpha weighs false positives, beta false negatives; alpha = beta = 0.5 is dice",
           nonnegative=("alpha", "beta"), alpha=0.5, beta=0.5),
    _named("dice", "2*TP / (2*TP + FP + FN)", "Sorensen-Dice coefficient (= f1)", "f1_score"),
)}

PARAMETER_NAMES = frozenset(
    "alpha beta gamma delta epsilon zeta eta theta iota kappa lam mu nu xi rho sigma tau phi chi psi omega".split())


def lookup(name: str) -> Named | None:
    """The named quantity or metric called `name`, or None."""
    return QUANTITIES.get(name) or METRICS.get(name)


def sklearn_name(name: str) -> Named | None:
    """The metric that scikit-learn's function `name` (f1_score, recall_score, ...) computes, or None; also for
    the name spelled otherwise (F1Score, matthewscorrcoef: folded())."""
    return next((m for m in METRICS.values() if m.sklearn and folded(m.sklearn) == folded(name)
                 and m.formula not in METRICS), None)


def torchmetrics_name(name: str) -> tuple[str, str] | None:
    """torchmetrics' metric `name` with a task (BinaryF1Score, multiclass_f1_score) as (its task, the catalog's
    name), or None."""
    key = folded(name)
    task = next((t for t in ("binary", "multiclass", "multilabel") if key.startswith(t)), None)
    if task is None:
        return None
    rest = key[len(task):]
    metric = sklearn_name(rest)
    found = metric.name if metric else OTHER_NAMES.get(rest) or {folded(k): k for k in METRICS}.get(rest)
    return (task, found) if found in METRICS else None


# names from other libraries for metrics of the catalog, folded(): the catalog's name
OTHER_NAMES = {"geometricmean": "gmean", "jaccardindex": "jaccard",
               **dict.fromkeys(["youden", "youdenj", "youdensj", "youdensindex", "bookmakerinformedness", "bookmaker"],
                               "informedness"),
               "sorensendice": "dice", "dicecoefficient": "dice", "threat": "jaccard",
               "criticalsuccessindex": "jaccard", "csi": "jaccard",
               "f": "f1", "fmeasure": "f1", "f1measure": "f1",  # (f: fscore, f_score)
               "fallout": "FPR", "falsealarmrate": "FPR", "falsepositiverate": "FPR", "missrate": "FNR",
               "falsenegativerate": "FNR",
               "hitrate": "TPR", "truepositiverate": "TPR", "truenegativerate": "TNR", "selectivity": "TNR",
               "positivepredictivevalue": "PPV", "negativepredictivevalue": "NPV",
               "acc": "accuracy", "bacc": "balanced_accuracy", "sens": "sensitivity", "spec": "specificity",
               "bm": "informedness", "mk": "markedness", "fm": "fowlkes_mallows", "total": "N",  # (acc: not mcc)
               "falsediscoveryrate": "FDR", "falseomissionrate": "FOR", "phicoefficient": "mcc", "sorensen": "dice",
               "matthewscorrelationcoefficient": "mcc",
               "tanimoto": "jaccard", "ochiai": "fowlkes_mallows", "jstatistic": "informedness",
               "ba": "balanced_accuracy"}
# scores of the counts that the catalog does not name, folded(): what to write
_ERROR_RATE = 'the cost (FP + FN)/N, compile_metric("minimize: (FP + FN)/N"), or 1 - accuracy inside a score'
WRITTEN_OUT = {
    **dict.fromkeys(["errorrate", "error", "misclassificationrate", "misclassification"],
                    "the error rate is " + _ERROR_RATE),
    **dict.fromkeys(["zerooneloss", "zeroone"], "the zero-one loss is " + _ERROR_RATE),
    **dict.fromkeys(["hammingloss", "hamming", "hammingdistance"], "the Hamming loss (of one label) is " + _ERROR_RATE),
    "lift": "the lift is PPV/prevalence",
    **dict.fromkeys(["dor", "diagnosticoddsratio"], "the diagnostic odds ratio is (TP*TN)/(FP*FN)"),
    **dict.fromkeys(["positivelikelihoodratio", "lrplus"], "the positive likelihood ratio is TPR/FPR"),
    **dict.fromkeys(["negativelikelihoodratio", "lrminus"], "the negative likelihood ratio is FNR/TNR"),
}
# well-known scores that are not functions of one confusion matrix, folded(): what they measure instead
NOT_COUNTS = {
    **dict.fromkeys(["rocauc", "auc", "auroc"], "ROC AUC ranks the scores over every threshold"),
    **dict.fromkeys(["averageprecision", "prauc", "auprc"], "average precision ranks the scores over every "
                                                           "threshold"),
    **dict.fromkeys(["logloss", "crossentropy", "bce"], "log loss scores the probabilities themselves"),
    **dict.fromkeys(["brier", "brierscoreloss"], "the Brier score scores the probabilities themselves"),
    **dict.fromkeys(["topkaccuracy", "topk"], "top-k accuracy ranks each sample's class scores"),
}


def scorer_parts(name: str) -> tuple[str, str | None] | None:
    """scikit-learn's scorer name `name` (f1_macro, neg_log_loss, roc_auc_ovr_weighted) as the score's name and
    the average it asks for (None: none), or None where `name` has neither a sign, a multi-class scheme nor an
    average to take off."""
    match = re.fullmatch(r"(?i)(neg_)?(.+?)(_ov[or])?(_(macro|micro|weighted|samples))?", name)
    if match is None or not (match[1] or match[3] or match[4]):
        return None
    return match[2], None if match[5] is None else match[5].lower()


def average_first(name: str) -> tuple[str, str] | None:
    """`name` with the average written first (macro_f1, weighted_recall) as the score's name and that average, or
    None."""
    match = re.fullmatch(r"(?i)(macro|micro|weighted)_(.+)", name)
    return None if match is None else (match[2], match[1].lower())


# arguments of scikit-learn's metric functions that users pass to compile_metric: where each one goes instead
SKLEARN_ARGUMENTS = {
    "pos_label": "metricc scores label 1; to score label 0, pass 1 - target (and -logits), or write the formula "
                 "with TN for TP and FN for FP",
    "zero_division": "pass it to score(); the loss never divides by 0 (eps)",
    "sample_weight": "pass them to the loss, loss_and_grad() or score()",
    "labels": "metricc's classes are 0, 1, ..., num_classes - 1: task='multiclass', num_classes=...",
    "normalize": "a formula's counts are weighted sums; write /N for a share",
    "adjusted": "write the chance-adjusted formula out (balanced accuracy adjusted: 2*balanced_accuracy - 1)",
    "multi_class": "a multi-class metric is task='multiclass', num_classes=..., with average='macro', 'micro', "
                   "'weighted' or 'none' (one-vs-rest per class)",
}


TORCHMETRICS_ARGUMENTS = {
    "num_labels": "a multi-label metric is task='multilabel', num_classes=<n> (the number of labels)",
    "top_k": "metricc's multi-class counts take each row's arg-max (top_k=1)",
    "multidim_average": "metricc counts over every element of a batch (multidim_average='global')",
    "validate_args": "to_torch(check_inputs=False) skips the loss's checks of its inputs",
}
# what to pass instead of CrossEntropyLoss's `weight` (one per class) to compile_metric() or a multi-class loss
CLASS_WEIGHT_HINT = ("CrossEntropyLoss's weight of each class is compile_metric(..., class_weight=[...]), the "
                     "classes' weights in the average; per-sample weights go to the call, loss(input, target, "
                     "sample_weight=...)")
# the metric arguments of other libraries, each with the library and where it goes in metricc
LIBRARY_ARGUMENTS = {**{name: ("scikit-learn's", hint) for name, hint in SKLEARN_ARGUMENTS.items()},
                     **{name: ("torchmetrics'", hint) for name, hint in TORCHMETRICS_ARGUMENTS.items()}}


def argument_hint(name: str, value: object = None) -> str:
    """What to do with `name` where it is one of another library's metric arguments (LIBRARY_ARGUMENTS) given as a
    parameter, else ""; an integer `value` fills in the hint's <n>."""
    library, hint = LIBRARY_ARGUMENTS.get(name, (None, ""))
    shown = str(value) if isinstance(value, int) and not isinstance(value, bool) else "..."
    return f"; `{name}` is an argument of {library} metrics: {hint.replace('<n>', shown)}" if hint else ""


def folded(name: str) -> str:
    """A name without case, underscores and a "score" suffix, as users misremember them (f1score, F1_Score)."""
    name = name.lower().replace("_", "")
    return name[:-len("score")] if name.endswith("score") and name != "score" else name


def known_names() -> list[str]:
    """Every name a formula may use without binding it (for suggestions)."""
    return [*COUNTS, *QUANTITIES, *METRICS, *FUNCTIONS]
