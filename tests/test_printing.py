"""The NumPy and torch printers: special numbers, operator precedence, functions, and clear misses."""

import math

import numpy as np
import pytest
import sympy as sp
import torch

from metricc import MetriccError
from metricc.parse import COUNT_SYMBOLS
from metricc.printing import Printer

TP, FP, FN, TN = COUNT_SYMBOLS.values()
VALUES = {"TP": 3.0, "FP": 1.5, "FN": 0.75, "TN": 5.0}
MODULES = {"numpy": np, "torch": torch}

EXPRESSIONS = [
    sp.S.Zero * 1, sp.S.One, sp.S.Half, sp.S.NegativeOne, sp.Rational(-3, 7), sp.Float(2.5), sp.pi, sp.E,
    sp.sqrt(2), sp.log(3),
    TP + sp.S.Half, TP * sp.S.NegativeOne, TP - FP, -(TP * FP), TP / FP, TP / (FP * FN), (TP + FP) / (FN - TN),
    TP**2, TP**-2, TP**sp.Rational(3, 2), TP**-sp.S.Half, (TP - FP)**3, 2**TP, (-TP)**3, -TP**2,
    sp.sqrt(TP + FP), sp.exp(-TP / FN), sp.log(TP) / sp.log(2), sp.Abs(TP - TN), sp.sign(FP - FN),
    sp.Min(TP, FP, FN), sp.Max(TP, 4), sp.Min(TP, sp.Rational(1, 3)), sp.Heaviside(TP - FP),
    FN / sp.Heaviside(FP - FN) / 2, sp.Max(TP, FP)**2,
]


@pytest.mark.parametrize("backend", ["numpy", "torch"])
@pytest.mark.parametrize("expr", EXPRESSIONS, ids=str)
def test_printed_code_evaluates_to_sympy_value(backend, expr):
    source = Printer(backend)(expr)
    module = MODULES[backend]
    names = {k: (np.float64(v) if backend == "numpy" else torch.tensor(v, dtype=torch.float64))
             for k, v in VALUES.items()}
    value = eval(source, {backend: module}, names)  # source printed by metricc from a SymPy tree we built
    expected = float(expr.subs({COUNT_SYMBOLS[k]: v for k, v in VALUES.items()}).evalf(30))
    assert math.isclose(float(value), expected, rel_tol=1e-12, abs_tol=1e-15), source


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_unknown_function_names_class_and_backend(backend):
    with pytest.raises(MetriccError, match=f"cannot print gamma for the {backend} backend"):
        Printer(backend)(sp.gamma(TP))


def test_unknown_backend():
    with pytest.raises(MetriccError, match="backend"):
        Printer("jax")


def test_non_finite_constant_is_an_error():
    with pytest.raises(MetriccError, match="too large"):
        Printer("numpy")(sp.Integer(10) ** 400 * 1.0 + TP * 0 + sp.Integer(10) ** 400)
