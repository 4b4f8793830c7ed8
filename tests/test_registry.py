"""The backend registry and the vocabulary: one place per concept, read by every stage."""

import re
import subprocess
import sys

import numpy as np
import pytest
import sympy as sp

from metricc import MetriccError, compile_metric
from metricc.backends import BACKENDS, backend, names
from metricc.catalog import METRICS
from metricc.derive import COUNT_SYMBOLS

POINT = {"TP": 7.0, "FP": 2.5, "FN": 1.25, "TN": 30.0}


@pytest.mark.parametrize("name", sorted(set(METRICS) - {"fbeta", "tversky"}))
@pytest.mark.parametrize("backend_name", ["numpy", "math"])
def test_printed_coefficients_are_the_partials_differences(name, backend_name):
    metric = compile_metric(name)
    at = {COUNT_SYMBOLS[k]: v for k, v in POINT.items()}
    d = {k: float(p.subs(at)) for k, p in metric.partials.items()}
    loss, a, b = metric._scalars(backend_name)(*POINT.values())
    assert float(loss) == pytest.approx(float(metric.loss.subs(at)), rel=1e-12)
    assert float(a) == pytest.approx(d["TP"] - d["FN"], rel=1e-10, abs=1e-14)
    assert float(b) == pytest.approx(d["FP"] - d["TN"], rel=1e-10, abs=1e-14)
    assert sp.simplify(metric.coefficients["a"] - (metric.partials["TP"] - metric.partials["FN"])) == 0


def test_the_cli_offers_what_the_registry_holds():
    from metricc.cli import _parser

    help_text = _parser()._subparsers._group_actions[0].choices
    compile_choices = next(a.choices for a in help_text["compile"]._actions if a.dest == "backend")
    lrange_choices = next(a.choices for a in help_text["lrange"]._actions if a.dest == "backend")
    assert tuple(compile_choices) == names(emitted=True) and tuple(lrange_choices) == names(probed=True)
    assert "math" in BACKENDS and "math" not in compile_choices


def test_unknown_backends_are_refused_everywhere():
    metric = compile_metric("f1")
    for call, shown in ((lambda: metric.emit("math"), "'math'"), (lambda: metric.emit("cobol"), "'cobol'"),
                        (lambda: metric.scalars_source("cobol"), "'cobol'"),
                        (lambda: backend(3), "a value of type int")):
        with pytest.raises(MetriccError, match=r"Expected argument `backend` to be one of \[.*\], but got "
                                               + re.escape(shown)):
            call()


def test_symbolic_stages_import_without_lark_and_torch():
    code = ("import sys\n"
            "class Block:\n"
            "    def find_spec(self, name, path=None, target=None):\n"
            "        if name.split('.')[0] in ('lark', 'torch'):\n"
            "            raise ImportError('blocked: ' + name)\n"
            "sys.meta_path.insert(0, Block())\n"
            "from metricc import backends, derive, latex, vocabulary\n"
            "from metricc.derive import COUNT_SYMBOLS\n"
            "TP, FP, FN, TN = COUNT_SYMBOLS.values()\n"
            "print(derive.derive(1 - 2*TP/(2*TP + FP + FN)).coefficients[1])\n"
            "assert not {'lark', 'torch'} & set(sys.modules)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "TP" in result.stdout


def test_numpy_values_of_the_registry_are_plain_data():
    for spec in BACKENDS.values():
        assert all(isinstance(v, str) for v in spec.namespace.values())
        assert all(isinstance(f, str) for f in (*spec.kernels, *spec.multi_kernels))
        assert isinstance(spec.probe, str) and np.all([isinstance(d, str) for d in spec.dtypes])


def test_kernel_files_an_emitted_module_joins_define_each_name_once():
    """An emitted module runs its kernel files in one namespace: the multi-class torch kernel's Spec and
    differentiable_gradient replaced the binary kernel's there (unused by that module, but a trap)."""
    import ast
    from importlib import resources

    def top_level(name):
        tree = ast.parse(resources.files("metricc").joinpath(name).read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                yield node.name
            elif isinstance(node, ast.Assign):
                yield from (t.id for t in node.targets if isinstance(t, ast.Name))

    for spec in BACKENDS.values():
        for files in (spec.kernels, spec.multi_kernels):
            defined = [(name, f) for f in files for name in top_level(f)]
            names = [name for name, _ in defined]
            assert sorted({(n, f) for n, f in defined if names.count(n) > 1}) == [], (spec.name, files)
