"""LaTeX of a compiled metric: score, loss, partials and the per-sample gradient written with sums."""

from __future__ import annotations

import sympy as sp

from .derive import SYMBOLS, renamed
from .trees import size

# An expression of more nodes than this (as a tree) is left out: its LaTeX would be a line of 20,000 characters
# or more (a product of metrics' second derivatives: 170,000), too long to read or typeset.
LATEX_SIZE_LIMIT = 2_000

# Stand-ins whose names sort as the counts are conventionally written (TP, FP, FN, TN), so that SymPy's term
# order gives TP·TN − FP·FN rather than −FN·FP + TN·TP.
_ORDERED = {symbol: sp.Symbol(f"c{i}", positive=True) for i, symbol in enumerate(SYMBOLS)}
_NAMES = {_ORDERED[symbol]: rf"\mathrm{{{symbol.name}}}" for symbol in SYMBOLS}
_CLASS_NAMES = {_ORDERED[symbol]: rf"\mathrm{{{symbol.name}}}_k" for symbol in SYMBOLS}


# min and max for printing only, printed as SymPy prints its Min and Max (the printer takes the name from the class):
# SymPy's LaTeX printer asks whether a power's exponent is a constant by putting 0 for every count, which rebuilt a
# Min such as the one in exp(-min(TP, TN/(FN + TN))) as one of 0/0 and raised ("The argument 'nan' is not
# comparable"); a plain function keeps its arguments.
_PRINTED = {sp.Min: type("Min", (sp.Function,), {}), sp.Max: type("Max", (sp.Function,), {})}


def expression(expr: sp.Expr, names: dict = _NAMES) -> str:
    """`expr` in LaTeX: the counts upright and in their usual order, products with a visible dot; an expression
    too large to read (LATEX_SIZE_LIMIT) as a note that says so."""
    nodes = size(expr)
    if nodes > LATEX_SIZE_LIMIT:
        return rf"\dots \ \text{{({nodes:,} operations written out: omitted)}}"
    return sp.latex(renamed(expr, _ORDERED, _PRINTED), symbol_names=names, mul_symbol="dot")


def _number(value: float) -> str:
    """A setting as LaTeX: 73, 0.5, 10^{-6}, 2.5 \\cdot 10^{-7}."""
    mantissa, _, exponent = f"{value:.6g}".partition("e")
    if not exponent:
        return mantissa
    power = f"10^{{{int(exponent)}}}"
    return power if mantissa == "1" else rf"{mantissa} \cdot {power}"


_AVERAGES = {
    "macro": r"\mathcal{L} &= \sum_{k=1}^{C} \omega_k \mathcal{L}_k, \quad \omega_k = \tfrac{1}{C}",
    "weighted": r"\mathcal{L} &= \sum_{k=1}^{C} \omega_k \mathcal{L}_k, \quad "
                r"\omega_k = \frac{\mathrm{TP}_k + \mathrm{FN}_k}{\sum_j (\mathrm{TP}_j + \mathrm{FN}_j)}",
    "micro": r"\mathcal{L} &= \mathcal{L}\left(\textstyle\sum_k \mathrm{TP}_k, \sum_k \mathrm{FP}_k, "
             r"\sum_k \mathrm{FN}_k, \sum_k \mathrm{TN}_k\right), \quad \omega_k = 1",
    "none": r"\mathcal{L} &= (\mathcal{L}_1, \dots, \mathcal{L}_C), \quad \omega_k = 1",
}


def multi_document(metric, hessians: bool = False, L: float | None = None) -> str:
    """The multi-class or multi-label version: per-class counts, the average, and the pulled-back gradient; with
    `hessians`, the Hessian diagonal of the booster objectives."""
    score = expression(metric.expr, _CLASS_NAMES)
    head = (rf"\text{{cost}}_k &= {score}", r"\mathcal{L}_k &= \text{cost}_k") if metric.minimize \
        else (rf"\text{{score}}_k &= {score}", r"\mathcal{L}_k &= 1 - \text{score}_k")
    average = _AVERAGES[metric.average]
    if metric.average == "macro" and metric.class_weight is not None:
        average = average.replace(r"\omega_k = \tfrac{1}{C}", r"\omega_k \propto \text{class\_weight}_k")
    d = {name: rf"\frac{{\partial \mathcal{{L}}_k}}{{\partial \mathrm{{{name}}}_k}}"
         for name in ("TP", "FP", "FN", "TN")}
    partials = [rf"{d[name]} &= {expression(value, _CLASS_NAMES)}" for name, value in metric.partials.items()]
    gradient = (rf"\frac{{\partial \mathcal{{L}}}}{{\partial \hat{{y}}_{{ik}}}} &= \omega_k w_i \left[ y_{{ik}} "
                rf"\left({d['TP']} - {d['FN']}\right) + (1 - y_{{ik}}) \left({d['FP']} - {d['TN']}\right)\right]")
    soft = (r"\hat{y}_{ik} &= \operatorname{softmax}_k\!\left(\tfrac{L}{2}\, "
            r"\operatorname{softmax}(z_i)\right)" if metric.task == "multiclass" else
            r"\hat{y}_{ik} &= \sigma\!\left(L (\sigma(z_{ik}) - \tau)\right)")
    eps = r" + \varepsilon" if metric.eps else ""
    counts = rf"\mathrm{{TP}}_k &= \sum_{{i=1}}^{{n}} w_i y_{{ik}} \hat{{y}}_{{ik}}{eps}, \ \dots"
    settings = rf"L &= {_number(metric.L if L is None else L)}, \quad C = {metric.num_classes}"
    rows = [*head, average, *partials, gradient, r"\frac{\partial \mathcal{L}}{\partial z_i} &= "
            r"J_{\hat{y}_i}(z_i)^{\top} \frac{\partial \mathcal{L}}{\partial \hat{y}_i}",
            *(_multi_hessian_rows(metric) if hessians else []), soft, counts, settings]
    return "\\begin{aligned}\n" + " \\\\\n".join(rows) + "\n\\end{aligned}"


def document(metric, hessians: bool = False, L: float | None = None) -> str:
    """An `aligned` block: what is optimised, its partials, the gradient per sample and the soft counts; with
    `hessians`, also the second derivatives and the diagonal of the Hessian that booster objectives use. `L`
    overrides the metric's amplifier in the settings line (a booster objective's or a torch training default)."""
    if metric.task != "binary":
        return multi_document(metric, hessians, L)
    d = {name: rf"\frac{{\partial \mathcal{{L}}}}{{\partial \mathrm{{{name}}}}}" for name in ("TP", "FP", "FN", "TN")}
    head = ([rf"\text{{cost}} &= {expression(metric.expr)}", r"\mathcal{L} &= \text{cost}"] if metric.minimize else
            [rf"\text{{score}} &= {expression(metric.expr)}", r"\mathcal{L} &= 1 - \text{score}"])
    partials = [rf"{d[name]} &= {expression(value)}" for name, value in metric.partials.items()]
    chain = r"\hat{y}_i (1 - \hat{y}_i)\, p_i (1 - p_i)" if metric.from_logits else r"\hat{y}_i (1 - \hat{y}_i)"
    variable = "z_i" if metric.from_logits else "p_i"
    gradient = (rf"\frac{{\partial \mathcal{{L}}}}{{\partial {variable}}} &= w_i \left[ y_i \left({d['TP']} - "
                rf"{d['FN']}\right) + (1 - y_i) \left({d['FP']} - {d['TN']}\right) \right] L\, {chain}")
    eps = r" + \varepsilon" if metric.eps else ""
    counts = [
        rf"\mathrm{{TP}} &= \sum_{{i=1}}^{{n}} w_i y_i \hat{{y}}_i{eps}, \quad "
        rf"\mathrm{{FN}} = \sum_{{i=1}}^{{n}} w_i y_i (1 - \hat{{y}}_i){eps}",
        rf"\mathrm{{FP}} &= \sum_{{i=1}}^{{n}} w_i (1 - y_i) \hat{{y}}_i{eps}, \quad "
        rf"\mathrm{{TN}} = \sum_{{i=1}}^{{n}} w_i (1 - y_i)(1 - \hat{{y}}_i){eps}",
    ]
    amplifier = r"\hat{y}_i &= \sigma\!\left(L (p_i - \tau)\right)"
    if metric.from_logits:
        amplifier += r", \quad p_i = \sigma(z_i)"
    settings = rf"L &= {_number(metric.L if L is None else L)}, \quad \tau = {_number(metric.threshold)}"
    if metric.eps:
        settings += rf", \quad \varepsilon = {_number(metric.eps)}"
    rows = [*head, *partials, gradient, *(_hessian_rows(metric) if hessians else []), *counts, amplifier, settings]
    return "\\begin{aligned}\n" + " \\\\\n".join(rows) + "\n\\end{aligned}"


def _hessian_rows(metric) -> list[str]:
    """q_a, q_b and the Hessian's diagonal h_ii = w_i^2 q_i (yh_i')^2 + w_i c_i yh_i''."""
    q_a, q_b = (expression(q) for q in metric.hessians.values())
    return [r"a &= \frac{\partial \mathcal{L}}{\partial \mathrm{TP}} - \frac{\partial \mathcal{L}}{\partial "
            r"\mathrm{FN}}, \quad b = \frac{\partial \mathcal{L}}{\partial \mathrm{FP}} - \frac{\partial "
            r"\mathcal{L}}{\partial \mathrm{TN}}",
            rf"q_a &= \left(\tfrac{{\partial}}{{\partial \mathrm{{TP}}}} - \tfrac{{\partial}}{{\partial \mathrm{{FN}}}}"
            rf"\right)^2 \mathcal{{L}} = {q_a}",
            rf"q_b &= \left(\tfrac{{\partial}}{{\partial \mathrm{{FP}}}} - \tfrac{{\partial}}{{\partial \mathrm{{TN}}}}"
            rf"\right)^2 \mathcal{{L}} = {q_b}",
            r"\frac{\partial^2 \mathcal{L}}{\partial z_i^2} &= w_i^2 \left[y_i q_a + (1 - y_i) q_b\right] "
            r"\left(\hat{y}_i'\right)^2 + w_i \left[y_i a + (1 - y_i) b\right] \hat{y}_i''"]


def _multi_hessian_rows(metric) -> list[str]:
    """q_a, q_b per class and the Hessian's diagonal along margin z_ik: per label (multi-label), or summed over the
    classes j that the softmax couples (multi-class)."""
    q_a, q_b = (expression(q, _CLASS_NAMES) for q in metric.hessians.values())
    rows = [r"a_k &= \frac{\partial \mathcal{L}_k}{\partial \mathrm{TP}_k} - \frac{\partial \mathcal{L}_k}"
            r"{\partial \mathrm{FN}_k}, \quad b_k = \frac{\partial \mathcal{L}_k}{\partial \mathrm{FP}_k} - "
            r"\frac{\partial \mathcal{L}_k}{\partial \mathrm{TN}_k}",
            rf"q_{{a,k}} &= \left(\tfrac{{\partial}}{{\partial \mathrm{{TP}}_k}} - \tfrac{{\partial}}{{\partial "
            rf"\mathrm{{FN}}_k}}\right)^2 \mathcal{{L}}_k = {q_a}",
            rf"q_{{b,k}} &= \left(\tfrac{{\partial}}{{\partial \mathrm{{FP}}_k}} - \tfrac{{\partial}}{{\partial "
            rf"\mathrm{{TN}}_k}}\right)^2 \mathcal{{L}}_k = {q_b}"]
    if metric.task == "multilabel":
        return rows + [r"\frac{\partial^2 \mathcal{L}}{\partial z_{ik}^2} &= \omega_k \left( w_i^2 \left[y_{ik} "
                       r"q_{a,k} + (1 - y_{ik}) q_{b,k}\right] \left(\hat{y}_{ik}'\right)^2 + w_i \left[y_{ik} a_k "
                       r"+ (1 - y_{ik}) b_k\right] \hat{y}_{ik}'' \right)"]
    return rows + [r"\frac{\partial^2 \mathcal{L}}{\partial z_{ik}^2} &= \sum_{j=1}^{C} \omega_j \left( w_i^2 "
                   r"\left[y_{ij} q_{a,j} + (1 - y_{ij}) q_{b,j}\right] \left(\frac{\partial \hat{y}_{ij}}"
                   r"{\partial z_{ik}}\right)^2 + w_i \left[y_{ij} a_j + (1 - y_{ij}) b_j\right] "
                   r"\frac{\partial^2 \hat{y}_{ij}}{\partial z_{ik}^2} \right)"]
