"""The LaTeX document says what the loss computes: the variable the gradient is taken in (logits or
probabilities) and its chain rule, the smoothing of the counts, and whether a formula is a score or a cost."""

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
