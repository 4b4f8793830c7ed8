"""The public surface: a light import, immutable cached results, argument errors."""

import subprocess
import sys

import pytest
import sympy as sp

import metricc
from metricc import MetriccError, compile_metric


def test_import_does_not_import_torch():
    code = "import sys, metricc; print(sorted(m for m in ('torch', 'sklearn', 'matplotlib') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_public_names():
    assert set(metricc.__all__) >= {"compile_metric", "CompiledMetric", "MetriccError", "MetriccWarning"}
    assert issubclass(MetriccError, ValueError)


def test_compiled_metric_is_cached_and_immutable():
    f1 = compile_metric("f1")
    assert compile_metric("f1") is f1
    assert compile_metric("fbeta", beta=2) is compile_metric("fbeta", beta=2.0)
    assert compile_metric("f1", L=10.0) is not f1
    with pytest.raises(AttributeError):
        f1.L = 3.0
    with pytest.raises(TypeError):
        f1.partials["TP"] = sp.Integer(0)


def test_expr_and_partials_are_sympy_in_the_counts():
    mcc = compile_metric("mcc")
    TP, FP, FN, TN = sp.symbols("TP FP FN TN", positive=True)
    assert mcc.expr.free_symbols == {TP, FP, FN, TN}
    assert set(mcc.partials) == {"TP", "FP", "FN", "TN"}
    assert sp.simplify(mcc.partials["TP"] - sp.diff(1 - mcc.expr, TP)) == 0
    cost = compile_metric("minimize: (FP + 5*FN)/N")
    assert cost.loss == cost.expr and sp.simplify(cost.partials["FN"] - sp.diff(cost.expr, FN)) == 0


@pytest.mark.parametrize("kwargs, message", [
    ({"L": -3}, "Expected argument `L` to be a positive float, but got -3."),
    ({"L": float("inf")}, "Expected argument `L` to be a positive float"),
    ({"threshold": 1.5}, "Expected argument `threshold` to be a float in (0, 1)"),
    ({"eps": -1.0}, "Expected argument `eps` to be a non-negative float"),
    ({"from_logits": "yes"}, "Expected argument `from_logits` to be a bool"),
    ({"minimize": 1}, "Expected argument `minimize` to be a bool"),
])
def test_argument_errors(kwargs, message):
    with pytest.raises(MetriccError) as info:
        compile_metric("f1", **kwargs)
    assert message in str(info.value)


def test_to_torch_rejects_unknown_options():
    with pytest.raises(MetriccError, match="unknown option 'beta'"):
        compile_metric("f1").to_torch(pure=True, beta=2)


def test_minimize_argument_matches_prefix():
    assert compile_metric("(FP + 5*FN)/N", minimize=True).loss == compile_metric("minimize: (FP + 5*FN)/N").loss
