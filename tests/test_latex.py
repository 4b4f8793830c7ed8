"""The LaTeX document says what the loss computes: the variable the gradient is taken in (logits or
probabilities) and its chain rule, the smoothing of the counts, whether a formula is a score or a cost, the
average of a multi-class or multi-label loss and the settings; products are visible and the counts in their
usual order. (The Hessian rows: tests/test_boosting.py; the command: tests/test_cli.py.)"""

import pytest

from metricc import compile_metric

LOGIT_CHAIN = r"\hat{y}_i (1 - \hat{y}_i)\, p_i (1 - p_i)"


def _row(latex, start):
    """The one line of an aligned block that starts with `start`."""
    rows = [row for row in latex.splitlines() if row.startswith(start)]
    assert len(rows) == 1, (start, latex)
    return rows[0]


def test_the_gradient_is_taken_in_the_models_output():
    logits = compile_metric("f1").latex()
    probabilities = compile_metric("f1", from_logits=False).latex()
    gradient = r"\frac{\partial \mathcal{L}}{\partial "
    assert _row(logits, gradient + "z_i}").endswith(LOGIT_CHAIN + r" \\")
    assert _row(probabilities, gradient + "p_i}").endswith(r"L\, \hat{y}_i (1 - \hat{y}_i) \\")
    assert r"p_i = \sigma(z_i)" in logits and r"p_i = \sigma(z_i)" not in probabilities


@pytest.mark.parametrize("task", ["binary", "multilabel", "multiclass"])
@pytest.mark.parametrize("eps", [0.0, 1e-6])
def test_the_counts_show_their_smoothing_only_where_there_is_some(task, eps):
    options = {} if task == "binary" else {"task": task, "num_classes": 3}
    counts = _row(compile_metric("f1", eps=eps, **options).latex(), r"\mathrm{TP}")
    assert (r"+ \varepsilon" in counts) == (eps > 0)


@pytest.mark.parametrize("task", ["binary", "multilabel", "multiclass"])
def test_a_cost_is_the_loss_and_a_score_is_one_minus_it(task):
    options = {} if task == "binary" else {"task": task, "num_classes": 3}
    k = "" if task == "binary" else "_k"
    cost = compile_metric("minimize: (FP + 5*FN)/N", **options).latex()
    score = compile_metric("f1", **options).latex()
    assert _row(cost, r"\text{cost}" + k).startswith(r"\text{cost}" + k + " &= ")
    assert rf"\mathcal{{L}}{k} &= \text{{cost}}{k}" in cost and r"\text{score}" not in cost
    assert rf"\mathcal{{L}}{k} &= 1 - \text{{score}}{k}" in score and r"\text{cost}" not in score


def test_latex_products_are_visible_and_counts_in_their_usual_order():
    latex = compile_metric("mcc").latex()
    assert r"\mathrm{TP} \cdot \mathrm{TN} - \mathrm{FP} \cdot \mathrm{FN}" in latex
    counts = [rf"\mathrm{{{a}}} \mathrm{{{b}}}" for a in ("TP", "FP", "FN", "TN") for b in ("TP", "FP", "FN", "TN")]
    assert not any(pair in latex for pair in counts)
    multi = compile_metric("mcc", task="multilabel", num_classes=2).latex()
    assert r"\mathrm{TP}_k \cdot \mathrm{TN}_k - \mathrm{FP}_k \cdot \mathrm{FN}_k" in multi


@pytest.mark.parametrize("eps, shown", [(1e-6, r"\varepsilon = 10^{-6}"), (2.5e-7, r"\varepsilon = 2.5 \cdot 10^{-7}"),
                                        (0.001, r"\varepsilon = 0.001")])
def test_latex_settings_write_small_numbers_as_powers_of_ten(eps, shown):
    assert compile_metric("f1", eps=eps).latex().endswith(shown + "\n\\end{aligned}")


@pytest.mark.parametrize("task, average", [("multiclass", "macro"), ("multilabel", "micro"),
                                           ("multiclass", "weighted"), ("multilabel", "none")])
def test_latex_of_multi_class_losses(task, average):
    latex = compile_metric("(TP*TN - FP*FN)/sqrt(PP*POS*NEG*PN)", task=task, num_classes=3, average=average).latex()
    assert latex.startswith("\\begin{aligned}") and latex.endswith("\\end{aligned}")
    assert "\\mathrm{TP}_k" in latex and "\\omega_k" in latex
    assert ("softmax" in latex) == (task == "multiclass")


def test_latex_of_a_class_weighted_average_names_the_weights():
    plain = compile_metric("f1", task="multiclass", num_classes=3).latex()
    weighted = compile_metric("f1", task="multiclass", num_classes=3, class_weight=[1, 2, 1]).latex()
    assert r"\omega_k = \tfrac{1}{C}" in plain and "class\\_weight" not in plain
    assert r"\omega_k \propto \text{class\_weight}_k" in weighted and r"\tfrac{1}{C}" not in weighted


@pytest.mark.parametrize("formula", ["exp(-min(TP, NPV))", "2^(-max(FP, PPV))", "exp(-min(TP, NPV, FN/N))"])
def test_a_min_or_max_in_an_exponent_prints(formula):
    """SymPy's LaTeX printer asks whether a power's exponent is a constant by putting 0 for every count, which
    rebuilt the Min of `exp(-min(TP, NPV))`'s partials as one of 0/0 and raised SymPy's ValueError ("The argument
    'nan' is not comparable") from latex() and from every emit(), whose modules carry the LaTeX (a formula the
    property tests drew). It prints, with the min or max as SymPy writes it."""
    metric = compile_metric(formula)
    name = "min" if "min" in formula else "max"
    for task in ("binary", "multiclass"):
        options = {} if task == "binary" else {"task": task, "num_classes": 3}
        text = compile_metric(formula, **options).latex(hessians=True)
        assert text.count(rf"\{name}\left(") >= 5  # the score's and the partials'
    for backend in ("numpy", "torch", "jax", "xgboost", "lightgbm"):
        assert rf"\{name}\left(" in metric.emit(backend)
