"""Score -> loss -> the four partials d loss / d count, simplified within a budget and ready to print."""

from __future__ import annotations

import functools
import time
from typing import NamedTuple

import sympy as sp

from .parse import COUNT_SYMBOLS

SYMBOLS = tuple(COUNT_SYMBOLS.values())
SIMPLIFY_OPS_LIMIT = 400
SIMPLIFY_SECONDS = 1.0


class Derivation(NamedTuple):
    """The loss and its partials, and the same five expressions with shared subexpressions pulled out."""

    loss: sp.Expr
    partials: tuple[sp.Expr, sp.Expr, sp.Expr, sp.Expr]
    shared: tuple[tuple[sp.Symbol, sp.Expr], ...]
    reduced: tuple[sp.Expr, ...]


def loss_of(score: sp.Expr, minimize: bool) -> sp.Expr:
    """The loss to minimise: the formula itself for a cost, else 1 - score."""
    return score if minimize else 1 - score


@functools.lru_cache(maxsize=256)
def derive(loss: sp.Expr) -> Derivation:
    """Differentiate `loss` by TP, FP, FN, TN, simplify each partial, and share subexpressions."""
    deadline = time.perf_counter() + SIMPLIFY_SECONDS
    partials = tuple(simplest(sp.diff(loss, symbol), deadline) for symbol in SYMBOLS)
    shared, reduced = sp.cse([loss, *partials], symbols=sp.numbered_symbols("x"), order="none")
    return Derivation(loss, partials, tuple(shared), tuple(reduced))


def simplest(expr: sp.Expr, deadline: float) -> sp.Expr:
    """The smallest of a few rewritings of `expr`; the input itself when it is large or time is up."""
    best = expr
    if sp.count_ops(expr) > SIMPLIFY_OPS_LIMIT:
        return best
    for rewrite in (sp.together, sp.factor):
        if time.perf_counter() > deadline:
            break
        candidate = rewrite(expr)
        if sp.count_ops(candidate) < sp.count_ops(best):
            best = candidate
    return best
