"""LaTeX of a compiled metric: score, loss, partials and the per-sample gradient written with sums."""

from __future__ import annotations

import sympy as sp

from .derive import SYMBOLS

_NAMES = {symbol: rf"\mathrm{{{symbol.name}}}" for symbol in SYMBOLS}


def expression(expr: sp.Expr) -> str:
    """`expr` in LaTeX, with the counts set upright (TP, not T·P)."""
    return sp.latex(expr, symbol_names=_NAMES)


def _number(value: float) -> str:
    """A setting as LaTeX: 73, 0.5, 10^{-6}, 2.5 \\cdot 10^{-7}."""
    mantissa, _, exponent = f"{value:.6g}".partition("e")
    if not exponent:
        return mantissa
    power = f"10^{{{int(exponent)}}}"
    return power if mantissa == "1" else rf"{mantissa} \cdot {power}"


def document(metric) -> str:
    """An `aligned` block: what is optimised, its partials, the gradient per sample and the soft counts."""
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
    amplifier = rf"\hat{{y}}_i &= \sigma\!\left(L (p_i - \tau)\right)"
    if metric.from_logits:
        amplifier += r", \quad p_i = \sigma(z_i)"
    settings = rf"L &= {_number(metric.L)}, \quad \tau = {_number(metric.threshold)}"
    if metric.eps:
        settings += rf", \quad \varepsilon = {_number(metric.eps)}"
    rows = [*head, *partials, gradient, *counts, amplifier, settings]
    return "\\begin{aligned}\n" + " \\\\\n".join(rows) + "\n\\end{aligned}"
