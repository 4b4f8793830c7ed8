"""Hostile text against the API, the command line and the emitted modules; no path from user text to eval,
exec or sympify; a thread-safe compile cache."""

import ast
import io
import re
import subprocess
import sys
import threading
import tokenize
from pathlib import Path

import pytest

import metricc
from metricc import MetriccError, compile_metric, compiler
from metricc.backends import BACKENDS
from oracles import load_emitted

HOSTILE = [
    '__import__("os").system("echo pwned")',
    "TP/N # \"\"\"; import os; os.system('echo pwned')\n",
    "TP/N  # '''\n",
    "TP/N # \\",
    "TP/N # \u2028 \u0000 \r\n + TP/N",
    "TP/N # é ü 日本",
    "eval('1')",
    "exec",
    "lambda: TP",
    "TP.__class__",
    "ТP / N",  # a Cyrillic Т
    "TP／N",  # a full-width solidus
    "1" * 99 + "*TP",
    "1" * 5000 + "*TP",
    "9" * 50 + "e300*TP",
    "TP" + "\x00",
    "minimize: " * 3 + "TP",
    '"TP"',
    "'TP'",
    "f1\n\"\"\"\nimport os\n\"\"\"",
    "MINIMIZE: TP",
    "# only a comment",
    "TP*((1000^1000)^1000)",
    "TP*0.999^1000",
    "TP/(log(6)-log(2)-log(3))",
    "exp(" * 150 + "TP" + ")" * 150,
]


@pytest.mark.parametrize("text", HOSTILE)
def test_api_answers_or_refuses(text):
    try:
        metric = compile_metric(text)
    except MetriccError as error:
        assert str(error)
    else:
        assert metric.formula == text


@pytest.mark.parametrize("text", [t for t in HOSTILE if "\x00" not in t])  # argv cannot carry NUL
def test_cli_answers_or_refuses(tmp_path, text):
    out = subprocess.run([sys.executable, "-m", "metricc", "compile", "--", text, "-o", "loss.py"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode in (0, 1) and "Traceback" not in out.stderr
    written = (tmp_path / "loss.py").exists()
    assert written == (out.returncode == 0)
    if written:
        check = subprocess.run([sys.executable, "-c", "import loss, torch; "
                                "print(float(loss.MetricLoss()(torch.zeros(4), torch.tensor([0, 1, 1, 0]))))"],
                               cwd=tmp_path, capture_output=True, text=True, timeout=120)
        assert check.returncode == 0, check.stderr
        assert "pwned" not in check.stdout + out.stdout


@pytest.mark.parametrize("text", [t for t in HOSTILE if t.startswith("TP/N")])
@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_emitted_modules_keep_text_inert(text, backend):
    source = compile_metric(text).emit(backend)
    tree = ast.parse(source)
    names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    assert not names & {"os", "system", "__import__", "eval", "exec"}
    namespace = load_emitted(source)
    assert namespace["FORMULA"] == text


def test_parameter_names_and_values_are_inert():
    metric = compile_metric("TP/N + __import__*FP/N", __import__=0.5)
    source = metric.emit("numpy")
    namespace = load_emitted(source)
    assert namespace["PARAMETERS"] == {"__import__": 0.5}
    with pytest.raises(MetriccError):
        compile_metric("TP/N", **{"a b": 1.0})


BUILTINS = {"eval", "exec", "compile"}  # called by bare name
PARSERS = {"sympify", "parse_expr", "S"}  # SymPy's string parsers, however reached
ALLOWED = {("compiler.py", "exec"), ("compiler.py", "compile")}  # runs metricc's own printed scalar code


def test_no_path_from_user_text_to_eval_exec_or_sympify():
    package = Path(metricc.__file__).parent
    found = set()
    for path in package.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                if isinstance(node.func, ast.Name) and node.func.id in BUILTINS | PARSERS:
                    found.add((path.name, node.func.id))
                if isinstance(node.func, ast.Attribute) and node.func.attr in PARSERS:
                    found.add((path.name, node.func.attr))
    assert found <= ALLOWED, found - ALLOWED


@pytest.mark.parametrize("formula", ["f1", "mcc", "cohen_kappa", "TP*0.999^100", "min(TP, FP)/max(FN, 2)",
                                     "minimize: FP + 5*FN", "fbeta", "a = TP; b = a^2; sqrt(b + FN)/N"])
@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_executed_source_holds_only_whitelisted_names(formula, backend):
    """What metricc gives to exec is printed from its own tables: every name in it is a count, a local it
    printed, the function's own name, or a name of the backend's namespace."""
    source = compile_metric(formula, beta=2.0).scalars_source(backend) if formula == "fbeta" else \
        compile_metric(formula).scalars_source(backend)
    names = {token.string for token in tokenize.generate_tokens(io.StringIO(source).readline)
             if token.type == tokenize.NAME}
    printed = {"def", "return", "metric_scalars", "loss", "a", "b", "TP", "FP", "FN", "TN", "max", "min", "abs",
               *BACKENDS[backend].namespace}
    functions = {t.split("(")[0].split(".")[-1] for v in BACKENDS[backend].functions.values()
                 for t in (v if isinstance(v, tuple) else (v,))}
    unexpected = {n for n in names - printed - functions if not re.fullmatch(r"x\d+", n)}
    assert not unexpected


def test_compile_cache_is_thread_safe():
    formulas = ["f1", "mcc", "gmean", "TP/(TP + 2*FP + FN)", "sqrt(PPV*TPR)*0.5 + 0.5*TNR"] * 4
    results, errors = {}, []

    def work(i, formula):
        try:
            results[i] = compile_metric(formula, L=31.0 + len(formula) % 3)
        except Exception as error:  # collected, then reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=work, args=(i, f)) for i, f in enumerate(formulas)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    for i, formula in enumerate(formulas):
        assert results[i] is compile_metric(formula, L=31.0 + len(formula) % 3)
    assert not compiler._KEY_LOCKS  # each key's lock is dropped once no thread holds or waits for it


def test_a_gradient_too_large_is_refused():
    """A product of 40 sums is 160 operations within the formula's limits, and its gradient 40 products of 39
    sums per count, beyond the gradient's: refused, with what to do."""
    formula = "*".join(f"(TP + {k + 2}*FP + {k + 1}*FN)" for k in range(40))
    with pytest.raises(MetriccError, match="^the gradient of this formula grows to more than 20000 operations; "
                                           "simplify the formula$"):
        compile_metric(formula)


@pytest.mark.parametrize("limit", ["MAX_CURVATURE_TREE", "MAX_DERIVATIVE_SIZE"])
def test_a_hessian_too_large_is_refused(limit, monkeypatch):
    """The Hessian's own limits (distinct operations, or the tree written out) refuse a formula whose gradient
    passed, with what to do, as a MetriccError from to_xgboost(). No formula within the parser's limits reaches
    them (products of sums and nested functions reach the gradient's or the nesting limit first): lowered here,
    after the gradient is derived."""
    from metricc import derive

    weight = {"MAX_CURVATURE_TREE": 5, "MAX_DERIVATIVE_SIZE": 7}[limit]  # a formula of its own (compiled once)
    metric = compile_metric(f"3*TP/(3*TP + FP + 2*FN) + TN/(TN + {weight}*FP)")
    metric.derivation  # the gradient, within the unchanged limit
    monkeypatch.setattr(derive, limit, 10)
    derive.curvatures.cache_clear()
    try:
        with pytest.raises(MetriccError, match=r"^the Hessian of this formula grows to more than \d+ distinct "
                                               r"operations \(or \d+ written out\); simplify the formula$"):
            metric.to_xgboost()
    finally:
        derive.curvatures.cache_clear()
