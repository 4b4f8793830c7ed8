"""The printer of every registered backend: special numbers, operator precedence, functions, clear misses."""

import contextlib
import importlib
import math

import numpy as np
import pytest
import sympy as sp
import torch

from metricc import MetriccError
from metricc.backends import BACKENDS
from metricc.printing import Printer
from metricc.derive import COUNT_SYMBOLS

TP, FP, FN, TN = COUNT_SYMBOLS.values()
VALUES = {"TP": 3.0, "FP": 1.5, "FN": 0.75, "TN": 5.0}
# How each backend's printed code receives a count: a float64 scalar of its own kind.
SCALARS = {"numpy": np.float64, "torch": lambda v: torch.tensor(v, dtype=torch.float64), "math": float,
           "jax": lambda v: __import__("jax.numpy").numpy.asarray(v, dtype="float64"), "xgboost": np.float64,
           "lightgbm": np.float64}

EXPRESSIONS = [
    sp.S.Zero * 1, sp.S.One, sp.S.Half, sp.S.NegativeOne, sp.Rational(-3, 7), sp.Float(2.5), sp.pi, sp.E,
    sp.sqrt(2), sp.log(3),
    TP + sp.S.Half, TP * sp.S.NegativeOne, TP - FP, -(TP * FP), TP / FP, TP / (FP * FN), (TP + FP) / (FN - TN),
    TP**2, TP**-2, TP**sp.Rational(3, 2), TP**-sp.S.Half, (TP - FP)**3, 2**TP, (-TP)**3, -TP**2,
    sp.sqrt(TP + FP), sp.exp(-TP / FN), sp.log(TP) / sp.log(2), sp.Abs(TP - TN), sp.sign(FP - FN),
    sp.Min(TP, FP, FN), sp.Max(TP, 4), sp.Min(TP, sp.Rational(1, 3)), sp.Heaviside(TP - FP),
    FN / sp.Heaviside(FP - FN) / 2, sp.Max(TP, FP)**2,
    # coefficients of products: integers, fractions, floats, a fraction beyond the backend's exact integers;
    # negative bases, which need their parentheses ((-2)**2 is 4, -2**2 is -4)
    2 * TP, 3 * TP / (2 * FP), -3 * TP / FN, sp.Float(2.5) * TP, sp.Rational(10**20, 3) * TP,
    sp.Integer(-2)**(TP - 1), sp.Float(-0.5)**(TP - 1),
]


def _float64(backend):
    """JAX computes in float64 only with x64 enabled."""
    return __import__("jax").enable_x64(True) if backend == "jax" else contextlib.nullcontext()


def test_every_backend_is_tested():
    assert set(SCALARS) == set(BACKENDS)


@pytest.mark.parametrize("backend", sorted(BACKENDS))
@pytest.mark.parametrize("expr", EXPRESSIONS, ids=str)
def test_printed_code_evaluates_to_sympy_value(backend, expr):
    source = Printer(backend)(expr)
    namespace = {name: importlib.import_module(module) for name, module in BACKENDS[backend].namespace.items()}
    with _float64(backend):
        names = {k: SCALARS[backend](v) for k, v in VALUES.items()}
        value = float(eval(source, namespace, names))  # source printed by metricc from a SymPy tree we built
    expected = float(expr.subs({COUNT_SYMBOLS[k]: v for k, v in VALUES.items()}).evalf(30))
    assert math.isclose(float(value), expected, rel_tol=1e-12, abs_tol=1e-15), source


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_unknown_function_names_class_and_backend(backend):
    with pytest.raises(MetriccError, match=f"cannot print gamma for the {backend} backend"):
        Printer(backend)(sp.gamma(TP))


def test_unknown_backend():
    with pytest.raises(MetriccError, match="backend"):
        Printer("cobol")


def test_non_finite_constant_is_an_error():
    with pytest.raises(MetriccError, match="too large"):
        Printer("numpy")(sp.Integer(10) ** 400 * 1.0 + TP * 0 + sp.Integer(10) ** 400)
