"""Score -> loss -> the four partials d loss / d count, simplified within a size budget and ready to print.

Every bound here is on the expression (operations, polynomial degree) or on the work done (Python function calls
while factoring, with fixed random seeds), never on time, so that a formula compiles to the same code on any
machine at any load.
"""

from __future__ import annotations

import functools
import math
import sys
import threading
from typing import NamedTuple

import sympy as sp
from sympy.polys.polyutils import parallel_dict_from_expr

from .errors import MetriccError
from .trees import distinct, fold, size
from .vocabulary import COUNTS

COUNT_SYMBOLS = {name: sp.Symbol(name, positive=True) for name in COUNTS}  # the counts, in every formula
SYMBOLS = tuple(COUNT_SYMBOLS.values())
# Differentiation runs on symbols that are only real: SymPy's sign queries on positive symbols made the derivative
# of a 100-term sum take minutes. The partials are handed out in the positive symbols again.
_PLAIN = {symbol: sp.Symbol(symbol.name, real=True) for symbol in SYMBOLS}
_POSITIVE = {plain: symbol for symbol, plain in _PLAIN.items()}
SIMPLIFY_OPS_LIMIT = 400  # no rewriting of a partial larger than this ...
TOGETHER_DENOMINATORS_LIMIT = 20  # ... or with more distinct denominators (their product would be the new one)
FACTOR_OPS_LIMIT = 200  # factor only a common-denominator form this small ...
FACTOR_DEGREE_LIMIT = 12  # ... and of at most this degree (factoring time grows steeply with the degree)
FACTOR_BITS_LIMIT = 128  # ... and with exact constants of at most this many bits (1 + 1e-200 has 665: seconds)
# ... and in at most this many generators (TP, log(FN), Max(1/2, FN), ...): with unlucky random evaluation points,
# factoring a partial in ten did not end (the partials we factored usefully had at most eight)
FACTOR_GENERATORS_LIMIT = 8
# SymPy's multivariate factoring (Wang's algorithm) draws random evaluation points, and with some draws it ran for
# minutes on a polynomial that other draws factor in milliseconds (sympy#20456): a partial in seven generators
# took 190,000 Python function calls with half of ten seeds and over 2,000,000 with the others, one of `TN + mcc`
# 120,000 with six. Factoring draws from the seeds 0, 1, ... (so that a formula compiles the same way every time),
# each try given up after FACTOR_CALLS_LIMIT calls, at most FACTOR_TRIES of them: the partials and Hessian
# coefficients of the catalog and of 960 formulas the property tests drew took at most 440,000 with seed 0 where
# they finished (111,000 with seed 1), most under 200,000
FACTOR_TRIES = 5
FACTOR_CALLS_LIMIT = 300_000
# The calls are counted (by a trace function, which makes the catalog's compilations with their Hessians 20-25 %
# slower from 5 generators, 70 % from 3) in polynomials of at least this many generators, and in fewer factored
# with seed 0 alone: the draws that ran long were in seven and eight; in three and four, where most catalog
# partials lie, 2,455 draws (491 polynomials of the catalog and the fuzz formulas, seeds 0 to 4) took at most
# 442,000 calls
FACTOR_COUNTED_FROM = 5
# SymPy's polynomials write FP^(3333/10000) as a power of FP^(1/10000) and exp(1.234567 x) as a power of
# exp(x/1000000): factoring such a form of degree 10,000 or 1,234,567 does not finish
MAX_DERIVATIVE_SIZE = 20_000  # operations in the four partials together (as trees), before simplification
# The second derivatives (booster Hessians) of a product of metrics repeat the first ones' terms many times over:
# as trees they pass MAX_DERIVATIVE_SIZE where their distinct subexpressions, which the printed code computes
# once each, number a few hundred. They are bounded in those, and as trees only far above, where walking them
# would take seconds; no tree this large is simplified (SIMPLIFY_SIZE_LIMIT) or printed in LaTeX.
MAX_CURVATURE_TREE = 250_000
SIMPLIFY_SIZE_LIMIT = 8 * SIMPLIFY_OPS_LIMIT  # nodes of a tree: above this, count_ops is not asked (tree walk)


class _RealAbs(sp.Function):
    """abs of a real number, for differentiation only: sp.Abs differentiates an argument it cannot prove real (a
    square root of counts, which the real symbols do not make provably real) through re() and im(), or through
    the polar forms of the counts, which no backend prints. Every formula is evaluated in real arithmetic, where
    d|u| = sign(u) du."""

    def fdiff(self, argindex=1):
        return _RealSign(self.args[0])


class _RealSign(sp.Function):
    """sign of a real number, for differentiation only: its derivative is 0 away from the kink, as autograd
    takes it (sp.sign leaves the derivative of an argument it cannot prove real unevaluated)."""

    def fdiff(self, argindex=1):
        return sp.S.Zero


class _Step(sp.Function):
    """Heaviside's step, for differentiation only: flat away from its jump, as autograd takes it, so that a
    second derivative holds no DiracDelta terms to build and drop; and built without SymPy's sign queries on its
    argument (at each construction), which take seconds on the long differences of a min or max's partials."""

    nargs = 1

    def fdiff(self, argindex=1):
        return sp.S.Zero


class _Extremum:
    """A min or max that keeps its arguments as they come, for differentiation only: SymPy's Min and Max compare
    every pair of arguments (factoring their differences) at each construction, and differentiating rebuilds
    them many times, each partial's Heaviside(Min(others) - x_i) one more: the minimum of eight catalog metrics
    took 33 s to compile, of 15 F-scores 112 s. The arguments are already those SymPy's Min kept when the formula
    was parsed."""

    def __new__(cls, *args):
        unique = list(sp.ordered(dict.fromkeys(args)))  # (SymPy objects: derived from the parsed formula)
        if len(unique) == 1:
            return unique[0]
        extremum = sp.Expr.__new__(cls, *unique)
        extremum._argset = frozenset(unique)
        return extremum

    def fdiff(self, argindex=1):
        """1 where argument `argindex` is the extremum, 1/2 at a tie with one other, as SymPy's Min and Max."""
        value = self.args[argindex - 1]
        others = self.args[:argindex - 1] + self.args[argindex:]
        rest = others[0] if len(others) == 1 else type(self)(*others)
        return _Step(self._margin(value, rest))


class _FixedMin(_Extremum, sp.Min):
    @staticmethod
    def _margin(value, rest):
        return rest - value


class _FixedMax(_Extremum, sp.Max):
    @staticmethod
    def _margin(value, rest):
        return value - rest


_DIFFERENTIABLE = {sp.Abs: _RealAbs, sp.sign: _RealSign, sp.Min: _FixedMin, sp.Max: _FixedMax,
                   sp.Heaviside: lambda value, *_: _Step(value)}  # (its value at 0 is 1/2: printing checks it)
_PRINTABLE = {_RealAbs: sp.Abs, _RealSign: sp.sign}
_SETTLED = {_FixedMin: lambda *args: sp.Min(*args, evaluate=False),
            _FixedMax: lambda *args: sp.Max(*args, evaluate=False), _Step: sp.Heaviside}


_KEPT = {sp.Min: lambda *args: sp.Min(*args, evaluate=False), sp.Max: lambda *args: sp.Max(*args, evaluate=False)}


def renamed(expr: sp.Expr, symbols: dict, classes: dict | None = None) -> sp.Expr:
    """xreplace(symbols), but a Min or Max keeps its arguments (xreplace builds it anew: seconds to minutes); each
    node of a class in `classes` is built by what it maps to."""
    return _rebuilt(expr, classes or {}, symbols)


def _rebuilt(expr: sp.Expr, classes: dict, symbols: dict | None = None) -> sp.Expr:
    """`expr` with each node of a class in `classes` built by what it maps to, and `symbols` replaced, in one
    pass that rebuilds no node whose arguments stay the same, and a Min or Max (not in `classes`) without
    comparing its arguments again (xreplace and replace build it anew through SymPy's Min and Max, which
    compare every pair of arguments)."""
    symbols, built = symbols or {}, {}

    def build(node):
        if node not in built:
            if node.is_Symbol or not node.args:
                built[node] = symbols.get(node, node)
            else:
                args = tuple(build(arg) for arg in node.args)
                func = classes.get(type(node)) or (_KEPT.get(type(node)) if args != node.args else None)
                built[node] = func(*args) if func else node.func(*args) if args != node.args else node
        return built[node]

    return build(expr)


def _differentiable(expr: sp.Expr, symbols: dict | None = None) -> sp.Expr:
    """`expr` with abs and sign differentiated as functions of a real argument, min and max kept as they are
    (_Extremum), and `symbols` replaced."""
    return _rebuilt(expr, _DIFFERENTIABLE, symbols)


def _printable(expr: sp.Expr) -> sp.Expr:
    """`expr` with the real abs and sign back as SymPy's, which the printers know."""
    return _rebuilt(expr, _PRINTABLE)


def _settled(expr: sp.Expr, symbols: dict | None = None) -> sp.Expr:
    """A derived `expr` as it is handed out: min and max as SymPy's (unevaluated: their arguments as derived),
    and `symbols` replaced."""
    return _rebuilt(expr, _SETTLED, symbols)


class Derivation(NamedTuple):
    """The loss, its four partials, the two gradient coefficients a = d_TP - d_FN (a positive sample's) and
    b = d_FP - d_TN (a negative sample's), and (loss, a, b) with shared subexpressions pulled out."""

    loss: sp.Expr
    partials: tuple[sp.Expr, sp.Expr, sp.Expr, sp.Expr]
    coefficients: tuple[sp.Expr, sp.Expr]
    shared: tuple[tuple[sp.Symbol, sp.Expr], ...]
    reduced: tuple[sp.Expr, sp.Expr, sp.Expr]


def loss_of(score: sp.Expr, minimize: bool) -> sp.Expr:
    """The loss to minimise: the formula itself for a cost, else 1 - score."""
    return score if minimize else 1 - score


@functools.lru_cache(maxsize=256)
def derive(loss: sp.Expr) -> Derivation:
    """Differentiate `loss` by TP, FP, FN, TN, simplify each partial, and share subexpressions."""
    differentiable = _differentiable(loss, _PLAIN)
    plain = _printable(differentiable)
    derivatives = [_printable(sp.diff(differentiable, symbol)) for symbol in _PLAIN.values()]
    sizes: dict = {}
    if sum(size(d, sizes) for d in derivatives) > MAX_DERIVATIVE_SIZE:
        raise MetriccError(f"the gradient of this formula grows to more than {MAX_DERIVATIVE_SIZE} operations; "
                           "simplify the formula")
    partials = tuple(simplest(d) for d in derivatives)
    d_tp, d_fp, d_fn, d_tn = partials
    tp, fp, fn, tn = _PLAIN.values()
    coefficients = (_smaller(d_tp - d_fn, _along(differentiable, tp, fn)),
                    _smaller(d_fp - d_tn, _along(differentiable, fp, tn)))
    shared, reduced = _shared([plain, *coefficients])
    return Derivation(loss, tuple(_settled(p, _POSITIVE) for p in partials),
                      tuple(_settled(c, _POSITIVE) for c in coefficients),
                      tuple((symbol, _settled(value)) for symbol, value in shared), tuple(map(_settled, reduced)))


def _along(expr: sp.Expr, up: sp.Symbol, down: sp.Symbol) -> sp.Expr:
    """The derivative of `expr` (in the real symbols, abs and sign differentiable) along the direction a sample
    moves the counts, `up` by +1 and `down` by -1, simplified: the two partials are subtracted as they come from
    the chain rule, where a sum the move keeps (N, POS, NEG) gives the same term in both, which SymPy cancels
    exactly; the difference of the two simplified partials holds each such term twice, in forms SymPy may not
    match, to cancel in rounding (6 N^5 - 6 N^5 for a term N^6). (Differentiating expr with up + s and down - s
    substituted, by s, gives the same terms at twice the cost of the whole compilation.)"""
    return simplest(_printable(sp.diff(expr, up) - sp.diff(expr, down)))


def _smaller(difference: sp.Expr, along: sp.Expr) -> sp.Expr:
    """The smaller of a coefficient's two forms: the difference of simplified partials (exact where a partial
    simplifies to a form the directional derivative does not reach: markedness's -FP/PP^2, not TP/PP^2 - 1/PP)
    or the derivative along the move (_along), which wins ties; the shorter form has fewer terms to cancel."""
    sizes = size(difference), size(along)
    if max(sizes) > SIMPLIFY_SIZE_LIMIT:  # count_ops walks the tree
        return difference if sizes[0] < sizes[1] else along
    return difference if sp.count_ops(difference) < sp.count_ops(along) else along


def _shared(exprs: list[sp.Expr]) -> tuple[list[tuple[sp.Symbol, sp.Expr]], list[sp.Expr]]:
    """Common subexpressions of `exprs` pulled out (SymPy's cse), but for numbers, which stay inline: a printer
    sees min(x, 2.01) as a clamp, where min(x0, x) with x0 = 2.01 became torch.minimum of a Python float."""
    shared, reduced = sp.cse(exprs, symbols=sp.numbered_symbols("x"), order="none")
    numbers, kept = {}, []
    for symbol, value in shared:
        value = value.xreplace(numbers)
        if value.is_number:
            numbers[symbol] = value
        else:
            kept.append((symbol, value))
    return kept, [expr.xreplace(numbers) for expr in reduced]


def simplest(expr: sp.Expr) -> sp.Expr:
    """The smallest of `expr`, its common-denominator form and, where that is small and of low degree, its
    factored form."""
    if (size(expr) > SIMPLIFY_SIZE_LIMIT or sp.count_ops(expr) > SIMPLIFY_OPS_LIMIT
            or len(_denominators(expr)) > TOGETHER_DENOMINATORS_LIMIT):
        return expr
    candidates = [expr, sp.together(expr)]
    together = candidates[-1]
    if (sp.count_ops(together) <= FACTOR_OPS_LIMIT and degree_bound(together) <= FACTOR_DEGREE_LIMIT
            and constant_bits(together) <= FACTOR_BITS_LIMIT and fraction_degree(together) <= FACTOR_DEGREE_LIMIT
            and _factorable(*(shape := polynomial_shape(together)))):
        factored = _factored(together, counted=shape[0] >= FACTOR_COUNTED_FROM)
        if factored is not None:
            candidates.append(factored)
    printable = [c for c in candidates if floats_hold(c)] or candidates  # together() can multiply 1e-200 away
    return min(printable, key=sp.count_ops)  # the first of equal size: the input when nothing helps


_FACTORING = threading.Lock()


class _TooMuchWork(BaseException):
    """Raised inside SymPy's factoring once it passes FACTOR_CALLS_LIMIT calls (no `except Exception` there
    takes it for SymPy's own)."""


def _factored(expr: sp.Expr, counted: bool = True) -> sp.Expr | None:
    """sp.factor(expr), its random draws from the seeds 0, 1, ... (SymPy's generator is restored after; one thread
    at a time, so that no other thread's draws come between); if `counted`, each try is given up after
    FACTOR_CALLS_LIMIT Python function calls and the next seed tried, and None returned after FACTOR_TRIES; else
    seed 0 alone."""
    from sympy.core.random import rng

    with _FACTORING:
        state = rng.getstate()
        try:
            for seed in range(FACTOR_TRIES if counted else 1):
                rng.seed(seed)
                factored = _within_calls(sp.factor, expr) if counted else sp.factor(expr)
                if factored is not None:
                    return factored
            return None
        finally:
            rng.setstate(state)


def _within_calls(function, *args):
    """function(*args), or None where it makes more than FACTOR_CALLS_LIMIT Python function calls, counted by a
    trace function on this thread that passes each call on to the one already set (a debugger's, coverage's)."""
    outer, calls = sys.gettrace(), 0

    def count(frame, event, arg):
        nonlocal calls
        calls += 1
        if calls > FACTOR_CALLS_LIMIT:
            raise _TooMuchWork
        return outer(frame, event, arg) if outer is not None else None

    sys.settrace(count)
    try:
        return function(*args)
    except _TooMuchWork:
        return None
    finally:
        sys.settrace(outer)


def _factorable(generators: int, degree: int) -> bool:
    return generators <= FACTOR_GENERATORS_LIMIT and degree <= FACTOR_DEGREE_LIMIT


def polynomial_shape(expr: sp.Expr) -> tuple[int, int]:
    """How many generators SymPy's polynomials take for the numerator and denominator of `expr` together (its
    symbols and its other terms: log(FN), sqrt(...), Max(...), each a variable to factoring), and the largest
    total degree of their terms, read from the sparse terms alone. The polynomials expand an exponential's
    argument, so exp((POS/N + 1.234567)/TNR) holds exp(1/(10^6 TNR))^1234567, which no structural bound sees and
    whose dense form (what factoring builds, and what Poly built to count the generators) fills memory."""
    try:
        terms, generators = parallel_dict_from_expr(list(sp.fraction(expr)))
    except sp.PolificationFailed:  # (numbers give no generators and no error)
        return 0, 0
    return len(generators), max((sum(monomial) for part in terms for monomial in part), default=0)


def floats_hold(expr: sp.Expr) -> bool:
    """Whether every exact constant of `expr` is 0 or lies within float64's normal range (2^-1020 .. 2^1020 in
    size, with a margin: about 1e-307 .. 1e307)."""
    return all(r == 0 or abs(abs(r.p).bit_length() - r.q.bit_length()) <= 1020 for r in expr.atoms(sp.Rational))


def _denominators(expr: sp.Expr) -> set:
    return {power.base for power in expr.atoms(sp.Pow) if power.exp.is_number and power.exp.is_negative}


def fraction_degree(expr: sp.Expr) -> int:
    """The largest numerator or denominator of a fractional exponent (FP^(3333/10000)) or of any rational
    coefficient or constant in an exponential's argument or a symbolic exponent (exp(1234567/1000000 x),
    exp(100000 x), exp(c - TN) = E^c exp(-TN), 2^(100000 TN)) in `expr`: the degree to which SymPy's polynomials
    raise the generator they make of it (1 where there is none)."""
    powers = expr.atoms(sp.Pow)
    exponents = [power.exp for power in powers if power.exp.is_Rational and not power.exp.is_Integer]
    arguments = [e.args[0] for e in expr.atoms(sp.exp)] + [power.exp for power in powers if not power.exp.is_number]
    exponents += [term.as_coeff_Mul()[0] for argument in arguments for term in sp.Add.make_args(argument)]
    return max((max(abs(f.p), f.q) for f in exponents if f.is_Rational), default=1)


def constant_bits(expr: sp.Expr) -> int:
    """The most bits the numerator or denominator of an exact constant in `expr` takes."""
    return max((max(abs(r.p).bit_length(), r.q.bit_length()) for r in expr.atoms(sp.Rational)), default=0)


def degree_bound(expr: sp.Expr) -> float:
    """An upper bound on the total degree of `expr` in its symbols and function terms, from its structure
    alone (no expansion): sums take the largest degree, products add, integer powers multiply."""
    return fold(expr, _degree)


def _degree(node: sp.Basic, args: list[float]) -> float:
    if node.is_Symbol:
        return 1
    if node.is_number:
        return 0
    if node.is_Add:
        return max(args)
    if node.is_Mul:
        return sum(args)
    if node.is_Pow and node.exp.is_number:
        return args[0] * math.ceil(abs(float(node.exp)))
    return max(1, *args)  # a function term (sqrt of a sum, log, ...) counts as a new variable


class Curvatures(NamedTuple):
    """The second derivatives a per-sample Hessian needs: q_a = (d/dTP - d/dFN) a (a positive sample's) and
    q_b = (d/dFP - d/dTN) b (a negative sample's), and (loss, a, b, q_a, q_b) with shared subexpressions pulled
    out. With yh_i the amplified prediction, the Hessian's diagonal is w_i^2 q (yh_i')^2 + w_i c yh_i''."""

    curvatures: tuple[sp.Expr, sp.Expr]
    shared: tuple[tuple[sp.Symbol, sp.Expr], ...]
    reduced: tuple[sp.Expr, sp.Expr, sp.Expr, sp.Expr, sp.Expr]


@functools.lru_cache(maxsize=256)
def curvatures(derivation: Derivation) -> Curvatures:
    """Differentiate the coefficients a and b once more, along the directions one sample moves the counts."""
    tp, fp, fn, tn = _PLAIN.values()
    da, db = (_differentiable(c, _PLAIN) for c in derivation.coefficients)
    a, b = _printable(da), _printable(db)
    # (no Dirac deltas: abs, sign, min, max and the step differentiate to a flat 0 away from their kinks)
    second = [_printable(sp.diff(da, tp) - sp.diff(da, fn)), _printable(sp.diff(db, fp) - sp.diff(db, tn))]
    sizes: dict = {}
    if distinct(second) > MAX_DERIVATIVE_SIZE or sum(size(d, sizes) for d in second) > MAX_CURVATURE_TREE:
        raise MetriccError(f"the Hessian of this formula grows to more than {MAX_DERIVATIVE_SIZE} distinct "
                           f"operations (or {MAX_CURVATURE_TREE} written out); simplify the formula")
    second = [_smaller(simplest(second[0]), _along(da, tp, fn)), _smaller(simplest(second[1]), _along(db, fp, tn))]
    shared, reduced = _shared([_printable(_differentiable(derivation.loss, _PLAIN)), a, b, *second])
    return Curvatures(tuple(_settled(q, _POSITIVE) for q in second),
                      tuple((symbol, _settled(value)) for symbol, value in shared), tuple(map(_settled, reduced)))
