"""The expression measures against SymPy's own traversal: size counts a tree's nodes (a shared subexpression
once per use), distinct the DAG's, depth the longest path; none recurses, so a deep formula does not reach
Python's recursion limit."""

import sympy as sp

from metricc.derive import COUNT_SYMBOLS
from metricc.trees import depth, distinct, fold, size

TP, FP, FN, TN = COUNT_SYMBOLS.values()
SHARED = (TP + FP) / (TP + FP + FN)
EXPRESSIONS = [TP, 2 * TP / (2 * TP + FP + FN), SHARED * sp.log(SHARED) + sp.sqrt(TP * TN - FP * FN),
               sp.Max(TP, FN) - sp.Min(FP, TN / 3)]


def _depth(expr):
    return 1 + max((_depth(a) for a in expr.args), default=0)


def test_measures_equal_those_of_sympys_traversal():
    for expr in EXPRESSIONS:
        assert size(expr) == sum(1 for _ in sp.preorder_traversal(expr))
        assert depth(expr) == _depth(expr)
    nodes = {node for expr in EXPRESSIONS for node in sp.preorder_traversal(expr)}
    assert distinct(EXPRESSIONS) == len(nodes)
    assert distinct(EXPRESSIONS[2:3]) < size(EXPRESSIONS[2])  # the shared fraction counts once


def test_a_deep_expression_is_measured_without_recursion():
    expr = TP
    for k in range(5000):
        expr = sp.Mul(sp.Add(expr, FP, evaluate=False), sp.Integer(k + 2), evaluate=False)
    assert depth(expr) == 10_001 and size(expr) == 20_001
    assert fold(expr, lambda node, args: (node.is_Symbol and node == FP) + sum(args)) == 5000
