"""SymPy -> Python source for a backend, with the backend's mapping table from the registry.

The printed code computes the loss and the two gradient coefficients from four scalar counts; the per-sample
work lives in the kernel modules. Only whitelisted names and numeric literals are ever printed.
"""

from __future__ import annotations

import math

import sympy as sp

from .backends import backend as backend_named
from .derive import Curvatures, Derivation
from .errors import MetriccError

_ADD, _MUL, _NEG, _POW, _ATOM = 1, 2, 3, 4, 5

class Printer:
    """Prints a SymPy expression as Python source for one backend."""

    def __init__(self, backend: str):
        self.backend = backend
        self.functions = backend_named(backend).functions
        self.int_limit = backend_named(backend).int_limit

    def __call__(self, expr: sp.Expr) -> str:
        return self._print(expr)[0]

    def _print(self, expr: sp.Basic) -> tuple[str, int]:
        """The source of `expr` and its precedence."""
        if expr.is_Symbol:
            return expr.name, _ATOM
        if expr.is_number:
            return self._number(expr)
        if expr.is_Add:
            return self._add(expr), _ADD
        if expr.is_Mul:
            return self._mul(expr)
        if expr.is_Pow:
            return self._pow(expr)
        return self._function(expr), _ATOM

    def _at(self, expr: sp.Basic, level: int) -> str:
        """`expr` printed, in parentheses when it binds more loosely than `level`."""
        text, precedence = self._print(expr)
        return text if precedence >= level else f"({text})"

    def _number(self, expr: sp.Basic) -> tuple[str, int]:
        if expr.is_Integer and abs(int(expr)) < self.int_limit:
            value = int(expr)
            return str(value), (_NEG if value < 0 else _ATOM)
        try:
            value = float(expr)
        except TypeError:
            raise MetriccError(f"the constant {expr} is not a real number") from None
        if not math.isfinite(value):
            raise MetriccError(f"the constant {expr.evalf(5)} is too large for floating point")
        return repr(value), (_NEG if value < 0 else _ATOM)

    def _add(self, expr: sp.Add) -> str:
        first, *rest = expr.as_ordered_terms()
        parts = [self._at(first, _ADD)]
        for term in rest:
            if term.could_extract_minus_sign():
                parts.append(f" - {self._at(-term, _MUL)}")
            else:
                parts.append(f" + {self._at(term, _MUL)}")
        return "".join(parts)

    def _mul(self, expr: sp.Mul) -> tuple[str, int]:
        if expr.could_extract_minus_sign():
            return f"-{self._at(-expr, _MUL)}", _NEG
        coefficient, factors = expr.as_coeff_mul()
        numerator, denominator = [], []
        if coefficient.is_Rational and max(abs(coefficient.p), coefficient.q) < self.int_limit:  # else a float
            if coefficient.p != 1:
                numerator.append(sp.Integer(coefficient.p))
            if coefficient.q != 1:
                denominator.append(sp.Integer(coefficient.q))
        elif coefficient != 1:
            numerator.append(coefficient)
        for factor in factors:
            if factor.is_Pow and factor.exp.is_number and factor.exp.is_negative:
                denominator.append(sp.Pow(factor.base, -factor.exp))
            else:
                numerator.append(factor)
        text = "*".join(self._at(f, _MUL) for f in numerator) or "1"
        if not denominator:
            return text, _MUL
        if len(denominator) == 1:
            return f"{text}/{self._at(denominator[0], _POW)}", _MUL
        return f"{text}/({'*'.join(self._at(f, _MUL) for f in denominator)})", _MUL

    def _pow(self, expr: sp.Pow) -> tuple[str, int]:
        base, exponent = expr.args
        if exponent.is_number and exponent.is_negative:
            return f"1/{self._at(sp.Pow(base, -exponent), _POW)}", _MUL
        if exponent == sp.S.Half:
            return self.functions["sqrt"].format(self._at(base, _ADD)), _ATOM
        if exponent.is_Integer:
            return f"{self._at(base, _ATOM)}**{self._at(exponent, _ATOM)}", _POW
        return self.functions["pow"].format(self._at(base, _ATOM), self._at(exponent, _ATOM)), _POW

    def _function(self, expr: sp.Basic) -> str:
        template = next((self.functions[k.__name__] for k in type(expr).__mro__ if k.__name__ in self.functions),
                        None)
        if template is None:
            raise MetriccError(f"cannot print {type(expr).__name__} for the {self.backend} backend")
        if isinstance(expr, sp.Heaviside) and len(expr.args) > 1 and expr.args[1] != sp.S.Half:
            raise MetriccError(f"cannot print Heaviside with value {expr.args[1]} at 0 for the {self.backend} backend")
        if isinstance(template, tuple):
            return self._fold(expr, *template)
        return template.format(self._at(expr.args[0], _ADD))

    def _fold(self, expr: sp.Basic, pair: str, with_number: str) -> str:
        numbers = [a for a in expr.args if a.is_number]
        values = [self._at(a, _ADD) for a in expr.args if not a.is_number]
        text = values[0]
        for value in values[1:]:
            text = pair.format(text, value)
        for number in numbers:
            text = with_number.format(text, self._at(number, _ADD))
        return text


def scalars_source(derivation: Derivation, backend: str, name: str = "metric_scalars") -> str:
    """Source of `name(TP, FP, FN, TN) -> (loss, a, b)` for `backend`: a = d loss/d TP - d loss/d FN is the
    gradient coefficient of a positive sample, b = d loss/d FP - d loss/d TN that of a negative one."""
    printer = Printer(backend)
    lines = [f"def {name}(TP, FP, FN, TN):",
             '    """The loss and the coefficients a = d_TP - d_FN, b = d_FP - d_TN at the (smoothed) counts."""']
    lines += [f"    {symbol} = {printer(value)}" for symbol, value in derivation.shared]
    lines += [f"    {n} = {printer(v)}" for n, v in zip(("loss", "a", "b"), derivation.reduced)]
    lines.append("    return loss, a, b")
    return "\n".join(lines) + "\n"


def curvatures_source(second: Curvatures, backend: str, name: str = "metric_curvatures") -> str:
    """Source of `name(TP, FP, FN, TN) -> (loss, a, b, q_a, q_b)` for `backend` (see derive.Curvatures)."""
    printer = Printer(backend)
    lines = [f"def {name}(TP, FP, FN, TN):",
             '    """The loss, the gradient coefficients a, b and their curvatures q_a, q_b at the counts."""']
    lines += [f"    {symbol} = {printer(value)}" for symbol, value in second.shared]
    lines += [f"    {n} = {printer(v)}" for n, v in zip(("loss", "a", "b", "q_a", "q_b"), second.reduced)]
    lines.append("    return loss, a, b, q_a, q_b")
    return "\n".join(lines) + "\n"
