"""Measures of SymPy expressions computed bottom-up over their DAG, without recursion (deep formulas must not
hit Python's recursion limit) and visiting each shared subexpression once."""

from __future__ import annotations

from typing import Callable, TypeVar

import sympy as sp

T = TypeVar("T")


def fold(expr: sp.Basic, combine: Callable[[sp.Basic, list], T], known: dict | None = None) -> T:
    """`combine(node, [values of its arguments])` for every node, bottom-up; `known` caches values across calls."""
    known = {} if known is None else known
    stack = [expr]
    while stack:
        node = stack[-1]
        pending = [a for a in node.args if a not in known]
        if pending:
            stack.extend(pending)
            continue
        stack.pop()
        known[node] = combine(node, [known[a] for a in node.args])
    return known[expr]


def size(expr: sp.Basic, known: dict | None = None) -> int:
    """The number of nodes of `expr` as a tree (what differentiating and printing it cost)."""
    return fold(expr, lambda node, args: 1 + sum(args), known)


def distinct(exprs: list[sp.Basic]) -> int:
    """The number of distinct subexpressions of `exprs` together (their DAG's nodes: what code with shared
    subexpressions pulled out costs)."""
    known: dict = {}
    for expr in exprs:
        fold(expr, lambda node, args: None, known)
    return len(known)


def depth(expr: sp.Basic) -> int:
    """The depth of `expr` as a tree."""
    return fold(expr, lambda node, args: 1 + max(args, default=0))
