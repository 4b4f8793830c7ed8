"""Booster objectives: the gradient equals loss_and_grad's, the exact Hessian diagonal equals finite differences
of the gradient and torch autograd's Hessian; the positive forms are positive; XGBoost and LightGBM train with
them through both of their APIs; the emitted objective module equals the API."""

import ast
import inspect
import re
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch
from sklearn.metrics import f1_score, matthews_corrcoef

from metricc import MetriccError, MetriccWarning, compile_metric
from oracles import CATALOG_SCORES, FORMULAS, central_differences, load_emitted, soft_counts

CATALOG = ["f1", "mcc", "balanced_accuracy", "gmean", "jaccard", "cohen_kappa", "fbeta", "precision", "recall",
           "markedness"]
SMOOTH = [f for f in FORMULAS if "abs(" not in f[0] and "max(" not in f[0]][:5]
CASES = ([(name, CATALOG_SCORES[name][0], False, lambda *c, score=CATALOG_SCORES[name][1]: 1 - score(*c))
          for name in CATALOG]
         + [(f, p, m, loss) for f, p, m, loss in SMOOTH])
IDS = [c[0] for c in CASES]


def _data(n=24, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(0, 0.08, n), (rng.random(n) < 0.35).astype(float), rng.uniform(0.5, 2.0, n)


def _objective(formula, params, **options):
    return compile_metric(formula, L=20.0, **params).to_xgboost(**options)


def assert_float32_call(got, want, L):
    """A booster's call with the bound Hessian computes in float32: each output within 4e-7 L of the float64 one
    (the amplifier's argument L (p - t) carries p's float32 rounding, times L), or within 1e-7 L of the largest
    output (where p - t cancels, for a threshold t other than 1/2; soft labels, whose coefficients y a + (1 - y) b
    can cancel, compute in float64)."""
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    assert np.all(np.abs(got - want) <= 4e-7 * L * np.abs(want) + 1e-7 * L * np.abs(want).max())


@pytest.fixture(params=[True, False], ids=["tanh", "exp"])
def probability_form(request, monkeypatch):
    """Runs a test with the float32 call's probability from tanh and from exp: each machine uses the one that
    costs less on it (boost_kernel._tanh_is_cheaper), and both must keep the call's tolerance."""
    from metricc import boost_kernel

    monkeypatch.setattr(boost_kernel, "TANH_IS_CHEAPER", request.param)
    return request.param


def rescaled_float64(objective, y, z, w=None):
    """The float64 gradient and Hessian (`gradient_and_hessian()` on float64 copies), times the factor a booster's
    call applies: the Hessian's magnitudes average mean_hessian = 0.1 per unit weight and label."""
    y, z = np.asarray(y, dtype=float), np.asarray(z, dtype=float)
    w = None if w is None else np.asarray(w, dtype=float)
    grad, hess = objective.gradient_and_hessian(z, y, w)
    labels = 1 if z.ndim == 1 else z.shape[1]
    factor = 0.1 * (len(z) if w is None else w.sum()) * labels / np.abs(hess).sum()
    return grad * factor, hess * factor


@pytest.mark.parametrize("formula, params, minimize, loss", CASES, ids=IDS)
def test_gradient_is_the_loss_gradient_times_the_total_weight(formula, params, minimize, loss):
    z, y, w = _data()
    metric = compile_metric(formula, L=20.0, **params)
    objective = metric.to_xgboost()
    grad, _ = objective.gradient_and_hessian(z, y, w)
    scale = 1.0 if objective.extensive else w.sum()
    expected = metric.loss_and_grad(z, y, w)[1] * scale
    assert np.abs(grad - expected).max() <= 1e-12 * np.abs(expected).max()


@pytest.mark.parametrize("formula, params, minimize, loss", CASES, ids=IDS)
def test_exact_hessian_equals_finite_differences_and_autograd(formula, params, minimize, loss):
    z, y, w = _data()
    objective = _objective(formula, params, hessian="exact")
    _, hess = objective.gradient_and_hessian(z, y, w)
    numeric = np.array([central_differences(lambda v: objective.gradient_and_hessian(v, y, w)[0][i], z, h=1e-5)[i]
                        for i in range(len(z))])
    scale = np.abs(hess).max()
    assert np.abs(hess - numeric).max() <= 1e-6 * scale
    total = 1.0 if objective.extensive else w.sum()
    x, yt, wt = (torch.tensor(v) for v in (z, y, w))
    autograd = torch.autograd.functional.hessian(
        lambda v: total * loss(*soft_counts(v, yt, wt, L=20.0)), x).diagonal().numpy()
    assert np.abs(hess - autograd).max() <= 1e-9 * scale


def test_a_product_of_metrics_has_an_exact_hessian():
    """gmean*mcc*cohen_kappa's second derivatives written out as trees reach 20,000 operations, but share most of
    them (a few hundred distinct subexpressions): the Hessian was refused although its code, with shared
    subexpressions, is small. Now the limit counts the distinct subexpressions, the exact diagonal equals finite
    differences and autograd, the LaTeX leaves out what is too long to read (a line of 170,000 characters) and
    the emitted objective equals the API's."""
    names = ("gmean", "mcc", "cohen_kappa")
    metric = compile_metric("*".join(names), L=20.0)
    objective = metric.to_xgboost(hessian="exact")
    z, y, w = _data()
    _, hess = objective.gradient_and_hessian(z, y, w)
    numeric = np.array([central_differences(lambda v: objective.gradient_and_hessian(v, y, w)[0][i], z, h=1e-5)[i]
                        for i in range(len(z))])
    scale = np.abs(hess).max()
    assert np.abs(hess - numeric).max() <= 1e-6 * scale
    x, yt, wt = (torch.tensor(v) for v in (z, y, w))

    def loss(v):
        counts = soft_counts(v, yt, wt, L=20.0)
        score = 1.0
        for name in names:
            score = score * CATALOG_SCORES[name][1](*counts)
        return w.sum() * (1 - score)

    autograd = torch.autograd.functional.hessian(loss, x).diagonal().numpy()
    assert np.abs(hess - autograd).max() <= 1e-9 * scale
    latex = metric.latex(hessians=True)
    assert len(latex) < 60_000 and "q_a &=" in latex and "omitted" in latex
    namespace = load_emitted(metric.emit("xgboost"))
    for got, expected in zip(namespace["objective"](y, z, w), metric.to_xgboost()(y, z, w)):
        assert np.array_equal(got, expected)


@pytest.mark.parametrize("formula", ["sqrt(2.5 - FP)", "1/(FP - 2.5)", "log(TP - 7)", "(FN - 1.25)**0.5"])
def test_formulas_undefined_at_the_probe_counts_still_become_objectives(formula):
    """Whether a loss grows with the counts (a cost) is probed at fixed counts (TP, FP, FN, TN = 7, 2.5, 1.25, 30
    and twice those); a formula undefined or singular there raised ZeroDivisionError or ValueError from
    inside the generated scalars (found by drawing formulas from the grammar). Now such a probe counts as "not
    a cost", and the objective is made and gives finite outputs where the formula is defined."""
    metric = compile_metric(formula, L=6.0)
    for make in (metric.to_xgboost, metric.to_lightgbm):
        objective = make()
        assert objective.extensive is False
    rng = np.random.default_rng(0)
    z, y = rng.normal(0, 1, 40), (rng.random(40) < 0.5).astype(float)
    try:
        grad, hess = objective(y, z)
    except MetriccError:  # a formula not finite at these counts is refused with a message
        return
    assert np.isfinite(grad).all() and np.isfinite(hess).all()


NON_SMOOTH = [f for f in FORMULAS if f not in SMOOTH and ("abs(" in f[0] or "max(" in f[0])] + [
    ("min(TPR, TNR)", {}, False, lambda TP, FP, FN, TN: 1 - torch.minimum(TP / (TP + FN), TN / (TN + FP)))]


@pytest.mark.parametrize("formula, params, minimize, loss", NON_SMOOTH, ids=[f[0] for f in NON_SMOOTH])
def test_non_smooth_formulas_train_boosters_with_the_hessian_away_from_kinks(formula, params, minimize, loss):
    """abs, min and max have a second derivative of 0 away from their kinks (a Dirac delta at one): the objective
    takes the 0, as autograd does; it failed with "cannot print DiracDelta". Gradient and exact Hessian equal
    torch autograd's; every Hessian form gives finite outputs in a booster's call."""
    z, y, w = _data()
    objective = _objective(formula, params, hessian="exact")
    grad, hess = objective.gradient_and_hessian(z, y, w)
    total = 1.0 if objective.extensive else w.sum()
    x, yt, wt = (torch.tensor(v) for v in (z, y, w))
    function = lambda v: total * loss(*soft_counts(v, yt, wt, L=20.0))  # noqa: E731
    expected = torch.autograd.functional.jacobian(function, x).numpy()
    np.testing.assert_allclose(grad, expected, rtol=1e-9, atol=1e-12 * np.abs(expected).max())
    autograd = torch.autograd.functional.hessian(function, x).diagonal().numpy()
    assert np.abs(hess - autograd).max() <= 1e-9 * np.abs(autograd).max()
    for hessian in ("bound", "gauss-newton", "clip", "abs"):
        assert all(np.isfinite(v).all() for v in _objective(formula, params, hessian=hessian)(y, z, w))


@pytest.mark.parametrize("formula, params, minimize, loss", CASES[:6], ids=IDS[:6])
def test_positive_forms_are_positive_and_bound_majorises(formula, params, minimize, loss):
    z, y, w = _data(n=200, seed=1)
    z = z * 40  # some saturated margins
    objective = _objective(formula, params)
    exact = objective.gradient_and_hessian(z, y, w, hessian="exact")[1]
    for mode in ("bound", "abs", "clip", "gauss-newton"):
        assert (objective.gradient_and_hessian(z, y, w, hessian=mode)[1] >= 0).all()
    assert (objective.gradient_and_hessian(z, y, w, hessian="bound")[1] >= np.abs(exact) * (1 - 1e-12)).all()


@pytest.mark.parametrize("task", ["binary", "multilabel", "multiclass"])
def test_the_clip_raises_the_exact_diagonal_to_its_floor(task):
    """hessian="clip" is the exact diagonal raised to CLIP_FLOOR times its largest magnitude over all rows (and
    labels or classes), the gradient unchanged: in float64 (`gradient_and_hessian`) to rounding, and in a booster's
    call up to its one rescaling factor. Margins spread so that the exact diagonal is negative on some rows and
    near 0 on others, where the floor decides."""
    from metricc.boost_kernel import CLIP_FLOOR

    rng = np.random.default_rng(21)
    n, columns = 300, 1 if task == "binary" else 3
    z = rng.normal(0, 1.5, (n, columns)).squeeze()
    if task == "multiclass":
        y = rng.choice(3, n, p=[0.6, 0.3, 0.1]).astype(float)
    else:
        y = (rng.random((n, columns)) < 0.3).astype(float).squeeze()
    w = rng.uniform(0.5, 2.0, n)
    metric = compile_metric("f1", L=20.0, **({} if task == "binary" else {"task": task, "num_classes": 3}))
    objective = metric.to_xgboost(hessian="clip")
    g_exact, h_exact = objective.gradient_and_hessian(z, y, w, hessian="exact")
    floor = CLIP_FLOOR * np.abs(h_exact).max()
    expected = np.maximum(h_exact, floor)
    assert (h_exact < 0).any() and ((h_exact >= 0) & (h_exact < floor)).any()  # both sides of the floor occur
    g, h = objective.gradient_and_hessian(z, y, w)
    np.testing.assert_allclose(g, g_exact, rtol=1e-12, atol=0)
    np.testing.assert_allclose(h, expected, rtol=1e-12, atol=0)
    g32, h32 = objective(y, z, w)
    factor = float(np.sum(h32, dtype=np.float64) / expected.sum())  # the rescaling
    np.testing.assert_allclose(h32, factor * expected, rtol=1e-6, atol=1e-6 * factor * floor)
    np.testing.assert_allclose(g32, factor * g_exact, rtol=1e-6, atol=1e-6 * factor * np.abs(g_exact).max())


@pytest.mark.parametrize("hessian", ["bound", "exact"])
def test_soft_labels(hessian):
    z, y, w = _data(n=60, seed=3)
    metric = compile_metric("f1", L=20.0)
    objective = metric.to_xgboost(hessian=hessian)
    soft = np.where(np.arange(60) % 7 == 0, 0.3, y)  # not 0/1
    grad, _ = objective.gradient_and_hessian(z, soft, w)
    expected = metric.loss_and_grad(z, soft, w)[1] * w.sum()
    assert np.abs(grad - expected).max() <= 1e-12 * np.abs(expected).max()


@pytest.mark.parametrize("hessian, rows", [("bound", 32), ("exact", 16)])
def test_patching_block_changes_the_blocks_a_call_works_in(monkeypatch, hessian, rows):
    """The tests below patch boost_kernel.BLOCK to run a small call over several blocks: the kernel reads it at each
    call (a default argument bound when the module loads would keep the first value, and those tests would check
    one block against itself). BLOCK = 16 float64 numbers' bytes: 32 rows a block where the call computes in
    float32 (the bound Hessian), 16 where it computes in float64."""
    from metricc import boost_kernel

    n, seen = 90, []
    original = boost_kernel.BoostObjective._block_derivatives

    def counted(self, y, *args):
        seen.append(len(y))
        return original(self, y, *args)

    monkeypatch.setattr(boost_kernel.BoostObjective, "_block_derivatives", counted)
    monkeypatch.setattr(boost_kernel, "BLOCK", 16)
    rng = np.random.default_rng(3)
    z, y = rng.normal(0, 1, n).astype(np.float32), (rng.random(n) < 0.3).astype(np.float32)
    compile_metric("f1").to_xgboost(hessian=hessian)(y, z)
    blocks = [rows] * (n // rows) + [n % rows]
    assert seen == blocks * (2 if hessian == "exact" else 1)  # (the exact Hessian's rescaling sums a pass first)


@pytest.mark.parametrize("task", ["binary", "multilabel"])
@pytest.mark.parametrize("hessian", ["bound", "exact", "abs", "clip", "gauss-newton"])
def test_blocks_of_rows_give_the_numbers_of_one_block(monkeypatch, hessian, task):
    """The objective works a block of rows at a time (boost_kernel.BLOCK numbers) and sums a block's columns in
    dot products of DOT rows: with blocks of 7 numbers (several blocks, a short last one), or of 64 summed five
    rows at a time (full dots and a short one), every output equals the one-block result."""
    from metricc import boost_kernel

    columns = 3 if task == "multilabel" else 1
    rng = np.random.default_rng(5)
    z, y = rng.normal(0, 0.1, (100, columns)), (rng.random((100, columns)) < 0.3).astype(float)
    w = rng.uniform(0.5, 2.0, 100)
    metric = compile_metric("mcc", task=task, num_classes=columns) if columns > 1 else compile_metric("mcc")
    results = []
    for block, dot in ((boost_kernel.BLOCK, boost_kernel.DOT), (7, boost_kernel.DOT), (64, 5)):
        monkeypatch.setattr(boost_kernel, "BLOCK", block)
        monkeypatch.setattr(boost_kernel, "DOT", dot)
        objective = metric.to_xgboost(hessian=hessian)
        results.append((*objective.gradient_and_hessian(z.squeeze(), y.squeeze(), w),
                        *objective(y.squeeze(), z.squeeze(), w), objective.loss(z.squeeze(), y.squeeze(), w)))
    for several in results[1:]:
        for one, got in zip(results[0], several):
            np.testing.assert_allclose(got, one, rtol=1e-12 if np.asarray(one).dtype == np.float64 else 1e-6)


@pytest.mark.parametrize("target, cheaper", [("X86_V4", True), ("AVX512_SKX", True), ("AVX512F", True),
                                             ("X86_V3", False), ("AVX2", False), ("ASIMD", False), (None, False)])
def test_the_float32_probability_comes_from_tanh_where_numpy_has_its_avx512_loop(monkeypatch, target, cheaper):
    """NumPy's float32 tanh costs 0.8 times its exp with an AVX-512 loop and twice with the AVX2 one (measured on
    two AMD EPYC VMs): the call takes its probability from tanh exactly where NumPy reports an AVX-512 target for
    it (NumPy 2.4 names it X86_V4, earlier releases AVX512_*), and from exp where NumPy cannot say (None: before
    NumPy 2.0, no numpy.lib.introspect). Asked once."""
    import numpy.lib
    from metricc import boost_kernel

    asked = []

    def opt_func_info(func_name, signature):
        asked.append((func_name, signature))
        return {"tanh": {"ff": {"current": target, "available": f"{target} baseline"}}}

    fake = type(sys)("numpy.lib.introspect")
    fake.opt_func_info = opt_func_info
    monkeypatch.setitem(sys.modules, "numpy.lib.introspect", fake if target else None)
    monkeypatch.setattr(numpy.lib, "introspect", fake, raising=False)
    monkeypatch.setattr(boost_kernel, "TANH_IS_CHEAPER", None)
    assert boost_kernel._tanh_is_cheaper() is cheaper
    assert boost_kernel._tanh_is_cheaper() is cheaper
    assert asked == ([("^tanh$", "float32")] if target else [])


@pytest.mark.usefixtures("probability_form")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("weighted", [False, True])
def test_the_split_into_blocks_does_not_change_a_bit(monkeypatch, dtype, weighted):
    """A binary objective's sums are taken over runs of DOT rows (DOT // 4 in float32) counted from the first row,
    and those runs' sums are added up once, after the last block: blocks of any multiple of a run give the same
    call to the last bit, in float32 (the booster's call) and in float64, with and without weights."""
    from metricc import boost_kernel

    rng = np.random.default_rng(11)
    n = 3 * boost_kernel.DOT + 77
    z, y = rng.normal(0, 1.5, n).astype(dtype), (rng.random(n) < 0.2).astype(dtype)
    w = rng.uniform(0.5, 2.0, n) if weighted else None
    objective = compile_metric("f1").to_xgboost()
    results = []
    for block in (boost_kernel.BLOCK, boost_kernel.DOT, 2 * boost_kernel.DOT, 4 * boost_kernel.DOT):
        monkeypatch.setattr(boost_kernel, "BLOCK", block)  # rows a block: 2 BLOCK in float32, BLOCK in float64
        results.append((*objective(y, z, w), *objective.gradient_and_hessian(z, y, w)))
    for several in results[1:]:
        for one, got in zip(results[0], several):
            assert np.array_equal(got, one)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("positive, negative", [((-3e-9,), (7e5,)), ((7e5,), (-3e-9,)), ((2.5,), (-2.5,)),
                                                ((1e-9, 4e3), (5e4, -2e-11))])
def test_per_label_numbers_keep_the_smaller_of_the_two(dtype, positive, negative):
    """A row's coefficient y a + (1 - y) b is computed as the smaller in magnitude plus a share of the difference
    (two passes), never the larger plus a share: with hard labels each is within 1.5 ulps of its number even when
    the two lie 14 orders of magnitude apart, on either side, and per label (multi-label with mixed sides)."""
    from metricc.boost_kernel import _by_label, label_plan

    a, b = np.array(positive), np.array(negative)
    y = np.array([[1.0] * len(a), [0.0] * len(a), [1.0] * len(a)], dtype)
    out = _by_label(y, 1 - y, label_plan(a, b, dtype), np.empty_like(y), out=np.empty_like(y))
    want = np.where(y == 1, a, b)
    assert np.all(np.abs(out - want) <= 1.5 * np.spacing(np.abs(want).astype(dtype)))


@pytest.mark.parametrize("numpy_version", [2, 1])
@pytest.mark.parametrize("columns", [1, 3])
def test_outer_dots_are_the_sums_of_the_products(monkeypatch, columns, numpy_version):
    """outer_dots sums the products of each pair of arrays over the rows, column by column, in products of DOT rows
    (full ones and a short one), for arrays as the kernel lays them out and for views whose rows are not adjacent
    in memory (the multi-class one-hot columns); also with NumPy 1, which has no numpy.vecdot."""
    from metricc import boost_kernel

    monkeypatch.setattr(boost_kernel, "DOT", 4)
    if numpy_version == 1:
        monkeypatch.delattr(np, "vecdot", raising=False)
    elif not hasattr(np, "vecdot"):
        pytest.skip("NumPy 1 has no numpy.vecdot")
    rng = np.random.default_rng(0)
    for rows in (3, 4, 11, 12):
        a, b = rng.normal(size=(2, rows, columns)), rng.normal(size=(3, rows, columns))
        want, size = (a[:, None] * b[None]).sum(axis=2), np.abs(a[:, None] * b[None]).sum(axis=2)
        column_major = np.asarray(a.transpose(0, 2, 1), order="C").transpose(0, 2, 1)  # rows not adjacent
        for a_view, b_view in ((a, b), (column_major, b[:, ::-1][:, ::-1])):
            got = boost_kernel.outer_dots(a_view, b_view)
            assert got.shape == (2, 3, columns)
            assert np.all(np.abs(got - want) <= 1e-14 * size)


@pytest.mark.parametrize("numpy_version", [2, 1])
def test_float32_outer_dots_add_up_in_float64(monkeypatch, numpy_version):
    """float32 rows are summed in products of DOT // 4 rows, whose results add up in float64: a product of 2^30
    and 976 of 1 (each exact in float32) sum to exactly 2^30 + 976 plus the short tail, which float32 (steps of
    128 there) cannot hold."""
    from metricc import boost_kernel

    if numpy_version == 1:
        monkeypatch.delattr(np, "vecdot", raising=False)
    elif not hasattr(np, "vecdot"):
        pytest.skip("NumPy 1 has no numpy.vecdot")
    size = boost_kernel.DOT // 4
    a = np.full((1, size * 977 + 3, 1), 2.0 ** -10, np.float32)
    a[:, :size] = 2.0 ** 30 / size
    got = boost_kernel.outer_dots(a, np.ones_like(a))
    assert got.dtype == np.float64
    assert got[0, 0, 0] == 2.0 ** 30 + 976 + 3 * 2.0 ** -10
    assert float(np.float32(2.0 ** 30) + np.float32(976)) != 2.0 ** 30 + 976


@pytest.mark.usefixtures("probability_form")
@pytest.mark.parametrize("task", ["binary", "multilabel"])
@pytest.mark.parametrize("hessian", ["bound", "exact", "clip"])
def test_float32_margins_and_labels_give_the_float64_results(monkeypatch, hessian, task):
    """XGBoost passes float32 margins and labels; they are read a block at a time (not copied whole to float64),
    and every result equals that of their float64 copies, bit for bit."""
    from metricc import boost_kernel

    monkeypatch.setattr(boost_kernel, "BLOCK", 16)
    columns = 3 if task == "multilabel" else 1
    rng = np.random.default_rng(6)
    z = rng.normal(0, 0.2, (90, columns)).astype(np.float32).squeeze()
    y = (rng.random((90, columns)) < 0.3).astype(np.float32).squeeze()
    metric = compile_metric("mcc", task=task, num_classes=columns) if columns > 1 else compile_metric("mcc")
    objective = metric.to_xgboost(hessian=hessian)
    for weight in (None, rng.uniform(0.5, 2.0, 90).astype(np.float32)):
        single = (*objective(y, z, weight), *objective.gradient_and_hessian(z, y, weight),
                  objective.loss(z, y, weight), objective.evaluate(z, y, weight))
        double = [z.astype(float), y.astype(float), None if weight is None else weight.astype(float)]
        expected = (*objective(double[1], double[0], double[2]), *objective.gradient_and_hessian(*double),
                    objective.loss(*double), objective.evaluate(*double))
        for got, want in zip(single, expected):
            np.testing.assert_array_equal(got, want)
        assert single[2].dtype == np.float64 and single[0].dtype == np.float32


@pytest.mark.usefixtures("probability_form")
@pytest.mark.parametrize("formula", ["f1", "mcc", "balanced_accuracy", "precision", "minimize: FP + 5*FN",
                                     "minimize: (FP + 5*FN)/N"])
@pytest.mark.parametrize("L, threshold", [(73.0, 0.5), (200.0, 0.5), (10.0, 0.7), (73.0, 0.2)])
def test_a_booster_call_computes_in_float32_within_its_tolerance(monkeypatch, formula, L, threshold):
    """With the bound Hessian a booster's call computes in float32 (its outputs' type; sums and coefficients in
    float64): within assert_float32_call's tolerance of the float64 gradient_and_hessian, rescaled, on margins
    near the threshold, far out (+-200 and +-1e4, past the float32 clip at 80), on hard and weighted labels, over
    several blocks and dot products; soft labels compute in float64 (see -k soft_labels_near)."""
    from metricc import boost_kernel

    monkeypatch.setattr(boost_kernel, "BLOCK", 3000)
    rng = np.random.default_rng(11)
    n = 10_000
    z = rng.normal(0, 2, n)
    z[::7] *= 100
    z[::11] = rng.choice([-1e4, 1e4], len(z[::11]))
    hard = (rng.random(n) < 0.2).astype(float)
    objective = compile_metric(formula, L=L, threshold=threshold).to_xgboost()
    for y, w, arithmetic in ((hard, None, np.float32), (hard, rng.uniform(0.01, 100, n), np.float32),
                             (rng.random(n), None, np.float64)):
        got = objective(y, z, w)
        assert objective._scratch().work.dtype == arithmetic
        for g, e in zip(got, rescaled_float64(objective, y, z, w)):
            assert_float32_call(g, e, L)


@pytest.mark.usefixtures("probability_form")
@pytest.mark.parametrize("formula", ["precision", "mcc", "balanced_accuracy"])
@pytest.mark.parametrize("spread", [0.0, 1e-4, 1e-2])
@pytest.mark.parametrize("task", ["binary", "multilabel"])
def test_soft_labels_near_one_value_keep_the_float32_calls_tolerance(formula, spread, task):
    """Soft labels that all lie near one value (a teacher's near-equal probabilities): every row's coefficient
    c_i = y_i a + (1 - y_i) b is then a small difference, which the float32 counts' and coefficients' rounding
    (6e-8 of |a| and |b|) swamps, so that even the largest output was off: by up to 70 times the call's tolerance
    (1e-7 L of the largest output) at a spread of 1e-4, 9e5 times for equal labels, 1.3 times at 1e-2 (MCC). A
    call on soft labels computes in float64 (one with a soft label among hard ones too); on hard ones in float32,
    also where another worker's labels are soft (the multi-label case: one soft column)."""
    rng = np.random.default_rng(0)
    n = 1000
    shape, options = ((n,), {}) if task == "binary" else ((n, 2), {"task": task, "num_classes": 2})
    y = (0.3 + spread * rng.random(shape)).astype(np.float32)
    if task == "multilabel":
        y[:, 1] = rng.random(n) < 0.3  # hard labels beside the soft column
    z = rng.normal(0, 1, shape).astype(np.float32)
    objective = compile_metric(formula, **options).to_xgboost()
    got = objective(y, z)
    assert objective._scratch().work.dtype == np.float64
    for g, e in zip(got, rescaled_float64(objective, y, z)):
        assert_float32_call(g, e, 73.0)
    hard = (rng.random(shape) < 0.3).astype(np.float32)
    hard[-1] = 0.5  # one soft label among hard ones (in the last block)
    objective(hard, z)
    assert objective._scratch().work.dtype == np.float64
    hard[-1] = 1.0
    objective(hard, z)
    assert objective._scratch().work.dtype == np.float32


@pytest.mark.parametrize("L", [1e-160, 1e-200])
def test_a_booster_call_at_a_tiny_L_whose_square_underflows(L):
    """At an L whose square underflows (below ~1e-154; the amplifier is then flat: yh = 1/2 everywhere) the
    float32 call's check of its counts divided by L^2 = 0 and raised ZeroDivisionError: it computes in float64,
    and its outputs are finite and equal gradient_and_hessian's."""
    rng = np.random.default_rng(3)
    z, y = rng.normal(0, 2, 300).astype(np.float32), (rng.random(300) < 0.3).astype(np.float32)
    for booster in ("xgboost", "lightgbm"):
        objective = getattr(compile_metric("f1", L=L), f"to_{booster}")()
        grad, hess = objective(y, z)
        assert np.isfinite(grad).all() and np.isfinite(hess).all() and (hess > 0).all()
        for got, want in zip((grad, hess), rescaled_float64(objective, y, z, None)):
            np.testing.assert_allclose(got, want, rtol=1e-6)


@pytest.mark.parametrize("constant", ["1e20", "1e28", "1e37"])
def test_a_fixed_scale_call_whose_products_pass_float32_computes_in_float64(constant):
    """At the fixed scale (mean_hessian=None) the kernel's products of the coefficients reach L^2 S times them
    (S = 1 for a cost, whose partials do not shrink with the rows): for `1e37*FP + FN` (b L^2 ~ 5e40) that passes
    float32's range although every output fits in it, so the call computes in float64 and returns its outputs
    rounded to float32 (in float32 it raised that they pass float32's range); at 1e20 (b L^2 ~ 5e23, below
    LARGEST_PRODUCT) it stays in float32; at 1e28 (b L^2 ~ 5e31, above it, where b alone is not) it computes in
    float64."""
    rng = np.random.default_rng(0)
    z, y = rng.normal(size=200).astype(np.float32), (rng.random(200) < 0.3).astype(np.float32)
    objective = compile_metric(f"minimize: {constant}*FP + FN").to_xgboost(mean_hessian=None)
    got = objective(y, z)
    assert objective._scratch().work.dtype == (np.float32 if constant == "1e20" else np.float64)
    for g, e in zip(got, objective.gradient_and_hessian(z.astype(float), y.astype(float))):
        assert g.dtype == np.float32 and np.isfinite(g).all()
        np.testing.assert_allclose(g, e, rtol=0, atol=1e-6 * np.abs(e).max())


def test_outputs_beyond_float32_name_the_label_and_its_counts():
    """A multi-label call at the fixed scale whose outputs pass float32's range names the label they belong to
    and its counts (it said "for some label"): label 0 weighs 0 in the average, so its outputs are 0 and label 1's
    overflow."""
    objective = compile_metric("minimize: 1e38*FP + FN", task="multilabel", num_classes=2,
                               class_weight=(0, 1)).to_xgboost(mean_hessian=None)
    with pytest.raises(MetriccError, match=r"passes float32's range for label 1 at the counts TP, FP, FN, TN = "
                                           r"0, 100, 0, 100 \(its largest number is 3\.4e\+38\): the boosters"):
        objective(np.zeros((200, 2)), np.zeros((200, 2)))


@pytest.mark.usefixtures("probability_form")
@pytest.mark.parametrize("formula, columns", [("f1", 1), ("mcc", 1), ("balanced_accuracy", 1), ("f1", 3)])
@pytest.mark.parametrize("L, threshold", [(73.0, 0.5), (73.0, 0.2), (15.0, 0.5)])
def test_a_float32_booster_call_on_margins_far_out_makes_no_subnormal_numbers(formula, columns, L, threshold):
    """Margins spread over +-20 (a booster continued from a logistic model's margins, or late in training): a
    row far out has an amplifier's slope and a probability's slope that are both tiny, and the square of their
    product fell below float32's smallest normal number (1.2e-38). Such subnormal numbers cost the processor ten
    to twenty times a normal operation: the call took 2-4 times as long as on margins near 0 (30 against 11 ms
    at n = 1e6, margins of spread 4). Its slopes are raised by FLOAT32_SLOPE_FLOOR (far below what its
    tolerance can see), so no step of the call underflows, and it keeps that tolerance (with and without
    weights; binary and multi-label). At L = 15 the amplifier's slope does not get that small."""
    rng = np.random.default_rng(5)
    n = 20_000
    shape = (n,) if columns == 1 else (n, columns)
    options = {} if columns == 1 else {"task": "multilabel", "num_classes": columns}
    y = (rng.random(shape) < 0.2).astype(np.float32)
    objective = compile_metric(formula, L=L, threshold=threshold, **options).to_xgboost()
    for spread in (1.0, 4.0, 8.0):
        z = rng.normal(0, spread, shape).astype(np.float32)
        z[:100] = 0  # rows at the steep point, so that the call computes in float32 (FLOAT32_STEEPEST)
        for w in (None, rng.uniform(0.5, 2, n).astype(np.float32)):
            with np.errstate(under="raise"):
                got = objective(y, z, w)
            assert objective._scratch().work.dtype == np.float32
            for g, e in zip(got, rescaled_float64(objective, y, z, w)):
                assert_float32_call(g, e, L)


@pytest.mark.parametrize("formula", ["f1", "npv", "mcc", "fowlkes_mallows", "minimize: FP + 5*FN"])
@pytest.mark.parametrize("L, threshold, center, spread", [(161.0, 0.51, 3.0, 0.5), (65.0, 0.59, 1.2, 0.3),
                                                          (475.0, 0.37, -2.0, 0.5), (29.0, 0.39, 2.0, 0.5)])
def test_a_booster_call_with_every_margin_far_out_keeps_its_tolerance(formula, L, threshold, center, spread):
    """When no margin lies near the amplifier's steep point, every slope is tiny, and float32 (whose slopes are
    exact only to ~3e-7 of their peak) would return mostly rounding, up to the wrong numbers entirely relative to
    the largest output: such a call computes in float64 and keeps assert_float32_call's tolerance (hard, soft
    and weighted labels)."""
    rng = np.random.default_rng(3)
    n = 3000
    z = (rng.normal(center, spread, n) + np.log(threshold / (1 - threshold))).astype(np.float32).astype(float)
    hard = (rng.random(n) < 0.3).astype(float)
    objective = compile_metric(formula, L=L, threshold=threshold).to_xgboost()
    for y, w in ((hard, None), (hard, rng.uniform(0.1, 10, n).astype(np.float32).astype(float)),
                 (rng.random(n).astype(np.float32).astype(float), None)):
        got = objective(y, z, w)
        for g, e in zip(got, rescaled_float64(objective, y, z, w)):
            assert_float32_call(g, e, L)


@pytest.mark.usefixtures("probability_form")
@pytest.mark.parametrize("formula", ["precision", "markedness", "mcc", "npv", "f1"])
@pytest.mark.parametrize("center", [-0.803, 0.52])
def test_a_booster_call_whose_counts_sum_tiny_predictions_keeps_its_tolerance(formula, center):
    """Tens of thousands of margins just past where the amplifier's yh falls to ~1e-7 (centre -0.803) or rises
    to 1 - 1e-7 (0.52), with L = 205, t = 0.155: TP and FP (or FN and TN) are sums of such tiny numbers. Each
    must be exact in relative terms; float32's yh = (1 + tanh(u / 2)) / 2 rounds them in absolute terms, to
    multiples of 3e-8, and the counts came out 2e-3 off, the gradient up to 5e-4 of its largest value (found by
    a sweep of random states: markedness, 76,290 samples, 4.4 times the tolerance)."""
    rng = np.random.default_rng(0)
    n, L, threshold = 76_290, 205.36, 0.155
    z = rng.normal(center, 0.1522, n).astype(np.float32)
    y = (rng.random(n) < 0.224).astype(np.float32)
    objective = compile_metric(formula, L=L, threshold=threshold).to_xgboost()
    for w in (None, rng.uniform(0.5, 2, n).astype(np.float32)):
        got = objective(y, z, w)  # in float32, but for f1 at -0.803 (FLOAT32_STEEPEST)
        for g, e in zip(got, rescaled_float64(objective, y, z, w)):
            assert_float32_call(g, e, L)


@pytest.mark.usefixtures("probability_form")
@pytest.mark.parametrize("formula", ["minimize: (TP - FN)^2/N^2", "FN*TP"])
@pytest.mark.parametrize("L, columns", [(5.0, 1), (15.0, 1), (5.0, 3)])
def test_a_booster_call_whose_coefficients_cancel_keeps_its_tolerance(formula, L, columns):
    """A gradient coefficient that is a small difference of large counts (here a = 2 (TP - FN) / N^2 and
    TP - FN, at TP close to FN) magnifies the float32 counts' rounding (~2e-8 L of each count) as many times as
    the counts exceed it: the gradient came out up to 8e-5 of its largest value off, 40 times the tolerance
    (found by a sweep of formulas drawn from the grammar). Such a call computes in float64."""
    rng = np.random.default_rng(0)
    n = 20_000
    options = {} if columns == 1 else {"task": "multilabel", "num_classes": columns}
    objective = compile_metric(formula, L=L, **options).to_xgboost()
    shape = (n,) if columns == 1 else (n, columns)
    z = rng.normal(0, 0.05, shape).astype(np.float32)
    y = (rng.random(shape) < 0.5).astype(np.float32)
    for w in (None, rng.uniform(0.5, 2, n).astype(np.float32)):
        got = objective(y, z, w)
        for g, e in zip(got, rescaled_float64(objective, y, z, w)):
            assert_float32_call(g, e, L)


@pytest.mark.usefixtures("probability_form")
@pytest.mark.parametrize("task, trials", [("binary", 120), ("multilabel", 200)])
def test_booster_calls_keep_their_tolerance_on_random_states(task, trials):
    """Random catalog metrics, L (3 to 500), thresholds, margins (centres and spreads over orders of magnitude),
    hard or soft labels, with or without weights: a call that computes in float32 is within
    assert_float32_call's tolerance, one that does not (FLOAT32_STEEPEST) gives the float64 values rounded once.
    (With FLOAT32_STEEPEST at 0.5 instead of 2, three of these multi-label states broke the tolerance.)"""
    from metricc.catalog import METRICS

    rng = np.random.default_rng(7)
    names, columns, checked = list(METRICS), 3 if task == "multilabel" else 1, 0
    for _ in range(trials):
        name = names[rng.integers(len(names))]
        L, threshold = float(np.exp(rng.uniform(np.log(3), np.log(500)))), float(rng.uniform(0.05, 0.95))
        options = dict(task="multilabel", num_classes=columns, average=["macro", "micro", "weighted"][rng.integers(3)])
        n = int(rng.integers(50, 3000))
        z = rng.normal(0, np.exp(rng.uniform(-3, 3, columns)), (n, columns)) + rng.normal(0, 1, columns)
        y = (rng.random((n, columns)) < rng.uniform(0.02, 0.6, columns)).astype(float)
        y = rng.random((n, columns)) if rng.random() < 0.3 else y
        w = None if rng.random() < 0.5 else rng.uniform(0.01, 10, n).astype(np.float32)
        try:
            objective = compile_metric(name, L=L, threshold=threshold,
                                       **(options if task == "multilabel" else {})).to_xgboost()
        except MetriccError:  # a metric the multi-label task does not take
            continue
        z, y = z.astype(np.float32).squeeze(), y.astype(np.float32).squeeze()
        try:
            got = objective(y, z, w)
        except MetriccError:  # a formula not finite at these counts
            continue
        in_float32 = objective._scratch().work.dtype == np.float32
        for g, e in zip(got, rescaled_float64(objective, y, z, w)):
            if in_float32:
                assert_float32_call(g, e, L)
            else:
                np.testing.assert_array_equal(g, e.astype(np.float32))
        checked += 1
    assert checked > trials // 2


@pytest.mark.parametrize("hessian, weight", [("exact", 1.0), ("gauss-newton", 1.0), ("bound", 1e16),
                                             ("bound", 1e-16), ("bound", "one heavy")])
def test_other_calls_compute_in_float64_and_round_once(hessian, weight):
    """Every other Hessian form (whose bend 1 - 2 yh cancels near the threshold), and the bound with a sample
    weight outside FLOAT32_WEIGHTS (all of them, or only the heaviest), compute in float64: each output is the
    float64 value rounded once."""
    z, y, w = _data(n=500, seed=4)
    if weight == "one heavy":  # the others in range: the heaviest decides
        w[7] = 1e16
    else:
        w = w * weight
    objective = compile_metric("f1").to_xgboost(hessian=hessian)
    got = objective(y, z, w)
    assert objective._scratch().work.dtype == np.float64
    for g, e in zip(got, rescaled_float64(objective, y, z, w)):
        np.testing.assert_array_equal(g, e.astype(np.float32))


@pytest.mark.parametrize("hessian", ["bound", "exact"])
@pytest.mark.parametrize("weighted", [False, True])
def test_each_call_rescales_to_the_mean_hessian_and_keeps_the_newton_step(hessian, weighted):
    z, y, w = _data(n=300, seed=2)
    w = w if weighted else None
    objective = compile_metric("mcc").to_xgboost(hessian=hessian, mean_hessian=0.25)
    fixed_grad, fixed_hess = objective.gradient_and_hessian(z, y, w)
    grad, hess = objective(y, z, w)
    assert grad.dtype == hess.dtype == np.float32  # what both boosters keep
    total = w.sum() if weighted else len(z)
    factor = 0.25 * total / np.abs(fixed_hess).sum()
    unscaled = compile_metric("mcc").to_xgboost(hessian=hessian, mean_hessian=None)(y, z, w)
    if hessian == "bound":  # computed in float32
        for got, want in zip((grad, hess, unscaled[0]), (fixed_grad * factor, fixed_hess * factor, fixed_grad)):
            assert_float32_call(got, want, objective.L)
    else:  # computed in float64, each output rounded once
        np.testing.assert_array_equal(grad, (fixed_grad * factor).astype(np.float32))
        np.testing.assert_array_equal(hess, (fixed_hess * factor).astype(np.float32))
        np.testing.assert_array_equal(unscaled[0], fixed_grad.astype(np.float32))
    assert np.abs(hess.astype(float)).sum() == pytest.approx(0.25 * total, rel=1e-6)


@pytest.mark.parametrize("average", ["macro", "weighted", "micro"])
@pytest.mark.parametrize("hessian", ["bound", "exact", "abs", "clip", "gauss-newton"])
def test_multilabel_calls_rescale_every_hessian_form(hessian, average):
    """For each Hessian form and multi-label average, a call's Hessian magnitudes average mean_hessian per unit
    weight (the bound's sum comes from the first pass, not from the outputs) and both outputs are the unscaled
    ones times one factor."""
    rng = np.random.default_rng(1)
    z, y, w = rng.normal(0, 0.1, (200, 3)), (rng.random((200, 3)) < 0.3).astype(float), rng.uniform(0.5, 2, 200)
    objective = compile_metric("f1", task="multilabel", num_classes=3, average=average).to_xgboost(
        hessian=hessian, mean_hessian=0.2)
    grad, hess = objective(y, z, w)
    fixed_grad, fixed_hess = objective.gradient_and_hessian(z, y, w)
    assert np.abs(hess.astype(float)).sum() == pytest.approx(0.2 * w.sum() * 3, rel=1e-6)  # per label and weight
    factor = np.abs(hess.astype(float)).sum() / np.abs(fixed_hess).sum()
    if hessian == "bound":  # computed in float32
        assert_float32_call(grad, fixed_grad * factor, objective.L)
        assert_float32_call(hess, fixed_hess * factor, objective.L)
    else:
        np.testing.assert_allclose(grad, fixed_grad * factor, rtol=1e-6, atol=1e-6 * np.abs(grad).max())
        np.testing.assert_allclose(hess, fixed_hess * factor, rtol=1e-6, atol=1e-6 * np.abs(hess).max())


@pytest.mark.parametrize("task", ["binary", "multilabel"])
def test_unit_weights_give_the_unweighted_objective(task):
    """Weights of 1 are no weights: the rescaled outputs are the same (for multi-label, mean_hessian is per label
    and unit of weight either way)."""
    rng = np.random.default_rng(2)
    shape = (60, 3) if task == "multilabel" else (60,)
    z, y = rng.normal(0, 0.3, shape), (rng.random(shape) < 0.3).astype(float)
    objective = compile_metric("f1", task=task, num_classes=3 if task == "multilabel" else None).to_xgboost()
    grad, hess = objective(y, z)
    weighted = objective(y, z, np.ones(60))
    np.testing.assert_allclose(weighted[0], grad, rtol=1e-6, atol=1e-7 * np.abs(grad).max())
    np.testing.assert_allclose(weighted[1], hess, rtol=1e-6, atol=1e-7 * np.abs(hess).max())


def test_scale_follows_the_kind_of_formula():
    assert compile_metric("minimize: FP + 5*FN").to_xgboost().extensive
    assert not compile_metric("minimize: (FP + 5*FN)/N").to_xgboost().extensive
    assert not compile_metric("f1").to_lightgbm().extensive


@pytest.mark.parametrize("backend", ["xgboost", "lightgbm"])
def test_a_threshold_moves_where_raw_scores_start(backend):
    """With threshold t, the booster's raw score r stands for the margin r + logit(t): every booster starts at
    r = 0 (objective.params), where the amplifier is steepest, and predicts positive for r >= 0, as the boosters'
    own predict() does. (Starting at the margin 0, p = 1/2, the amplifier at t = 0.2 was saturated and both
    boosters predicted every sample positive: test F1 0.27 against 0.72-0.77 from logit(t).)"""
    booster_module = pytest.importorskip(backend)
    metric = compile_metric("f1", threshold=0.2, L=30.0)
    objective = getattr(metric, f"to_{backend}")()
    z, y, w = _data()
    offset = np.log(0.2 / 0.8)
    grad, _ = objective.gradient_and_hessian(z - offset, y, w)
    expected = metric.loss_and_grad(z, y, w)[1] * w.sum()
    assert np.abs(grad - expected).max() <= 1e-12 * np.abs(expected).max()
    np.testing.assert_array_equal(objective.predict(np.array([-0.1, 0.0, 0.3])), [0, 1, 1])
    X, labels = _separable(3000)
    if backend == "xgboost":
        data = booster_module.DMatrix(X[:2000], labels[:2000])
        booster = booster_module.train({**objective.params, "nthread": 1}, data, 100, obj=objective)
        raw = booster.predict(booster_module.DMatrix(X[2000:]), output_margin=True)
    else:
        booster = booster_module.train({"objective": objective, **objective.params, "verbose": -1, "num_threads": 1},
                                       booster_module.Dataset(X[:2000], labels[:2000]), 100)
        raw = booster.predict(X[2000:], raw_score=True)
    assert f1_score(labels[2000:], objective.predict(raw)) > 0.8


def test_xgboosts_default_start_is_named():
    """xgboost.train without objective.params starts every raw score at base_score = 0.5 (p = 0.62 at threshold
    1/2, where L = 73 saturates the amplifier: the F1 objective then predicted every sample positive, test F1
    0.27 against 0.72 from 0). The first call says so, once, with the fix."""
    import warnings

    objective = compile_metric("f1").to_xgboost()
    y = (np.arange(50) % 4 == 0).astype(float)
    with pytest.warns(MetriccWarning, match=r"base_score.*objective\.params"):
        objective(y, np.full(50, 0.5, dtype=np.float32))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        objective(y, np.zeros(50, dtype=np.float32))  # the start params give
        objective(y, np.r_[0.5, np.zeros(49)])


def test_xgbclassifier_given_base_score_0_is_named():
    """XGBClassifier reads base_score 0 (the raw score 0 of xgboost.train's regression default, which
    objective.params once set) as a probability: every raw score started at logit(1e-6) = -13.8, where the
    amplifier is flat, and the model predicted every sample negative (test F1 0.0 against 0.84 with
    base_score=0.5), without a word. The first call says what to pass."""
    from sklearn.datasets import make_classification

    xgb = pytest.importorskip("xgboost")
    objective = compile_metric("f1").to_xgboost()
    X, y = make_classification(300, weights=[0.8], random_state=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            xgb.XGBClassifier(objective=objective, n_estimators=2, n_jobs=1, base_score=0.0).fit(X, y)
        except xgb.core.XGBoostError as error:  # XGBoost before 3.0 refuses base_score 0 itself, as loudly
            assert "base_score must be in (0,1)" in str(error) and int(xgb.__version__.split(".")[0]) < 3
        else:
            assert any(re.search(r"every raw score is -13\.8.*base_score=0\.5 to XGBClassifier", str(w.message))
                       for w in caught if issubclass(w.category, MetriccWarning))
    with pytest.warns(MetriccWarning, match=r"every raw score is 2 \(p = 0\.88\).*init_score"):
        compile_metric("f1").to_lightgbm()(y, np.full(300, 2.0))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        compile_metric("f1", threshold=0.2).to_xgboost()(y, np.zeros(300))  # the raw score 0 is the steep point
        objective(y, np.full(300, 0.01))  # near it
        flat = np.full(300, 2.0)
        flat[1::18] = 0.0  # the raw scores it samples first (every 18th) are flat, not all: no start to tell
        compile_metric("f1").to_lightgbm()(y, flat)


def _warnings_of_training(booster, objective, X, y, rounds):
    """`rounds` rounds of `objective` from the start in `booster` (depth 4, learning rate 0.1, one thread): the
    MetriccWarnings' messages."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if booster == "xgboost":
            import xgboost as xgb

            xgb.train({**objective.params, "max_depth": 4, "eta": 0.1, "nthread": 1}, xgb.DMatrix(X, y), rounds,
                      obj=objective)
        else:
            import lightgbm as lgb

            lgb.train({**objective.params, "objective": objective, "learning_rate": 0.1, "verbose": -1,
                       "num_threads": 1}, lgb.Dataset(X, y), rounds)
    return [str(w.message) for w in caught if issubclass(w.category, MetriccWarning)]


def test_a_first_step_that_sends_every_raw_score_where_the_amplifier_is_flat_is_told_so():
    """hessian="exact" on F1: about 0 and negative near the raw score 0, where the training starts, so that the
    first round's Newton step overshot: every raw score landed at 24 at once (a tree of one leaf), and the model
    predicted every sample positive. Every later round warned "start at 0: base_score 0.5 ...", of a start that
    was right; they now say that a round's step sent them there, and what to do."""
    pytest.importorskip("xgboost")
    from sklearn.datasets import make_classification

    X, y = make_classification(5000, 20, weights=[0.9], random_state=0)
    messages = _warnings_of_training("xgboost", compile_metric("f1").to_xgboost(hessian="exact"), X[:3750], y[:3750], 3)
    assert messages and all("start at 0" not in m for m in messages), messages
    assert re.search(r"every raw score is [\d.]+ \(p = 1\) after this training's first round: a round's Newton "
                     r"step sent every sample there at once.*the 'exact' Hessian.*hessian='bound'", messages[0])


@pytest.mark.parametrize("booster", ["xgboost", "lightgbm"])
@pytest.mark.parametrize("hessian", ["exact", "abs", "gauss-newton", "clip"])
def test_a_hessian_of_zeros_where_the_gradient_is_not_is_told(booster, hessian):
    """Accuracy is linear in the counts (no curvature), and the amplifier does not bend at the raw score 0: every
    form but the bound is 0 on every row at the start, where the gradient is not. Both boosters then kept every
    raw score at 0 (no leaf may have a Hessian sum below min_child_weight or min_sum_hessian_in_leaf) for every
    round, and the model predicted every sample positive, without a word. The call says so; the bound does not."""
    pytest.importorskip(booster)
    from sklearn.datasets import make_classification

    X, y = make_classification(2000, weights=[0.9], random_state=0)
    metric = compile_metric("accuracy")
    messages = _warnings_of_training(booster, getattr(metric, f"to_{booster}")(hessian=hessian), X, y, 2)
    assert messages and re.search(rf"the '{hessian}' Hessian is 0 on every row, where the gradient is not.*"
                                  r"hessian='bound'", messages[0]), messages
    assert not _warnings_of_training(booster, getattr(metric, f"to_{booster}")(), X, y, 2)


@pytest.mark.parametrize("L, threshold", [(73.0, 0.5), (10.0, 0.7), (73.0, 0.2), (3.0, 0.5)])
def test_the_flat_raw_scores_are_where_the_amplifiers_slope_is_below_its_share(L, threshold):
    """The objective tells where the amplifier is flat from two raw-score bounds (every call checks its first
    raw score): they agree with the slope 4 e^-u / (1 + e^-u)^2 < FLAT_START, u = L |sigmoid(r + offset) - t|,
    on a fine grid of raw scores (at L = 3 no raw score is flat)."""
    from metricc.boost_kernel import FLAT_START

    objective = compile_metric("f1", L=L, threshold=threshold).to_xgboost()
    raw = np.linspace(-20, 20, 400_001)
    u = L * np.abs(1 / (1 + np.exp(-(raw + objective.offset))) - threshold)
    flat = 4 * np.exp(-u) / (1 + np.exp(-u)) ** 2 < FLAT_START
    np.testing.assert_array_equal(objective._flat(raw), flat)
    assert [objective._flat(float(r)) for r in raw[::10_000]] == list(flat[::10_000])
    assert flat.any() == (L > 3)


def _logistic_then_metric(booster, objective, X, y, start_params):
    """A logistic model of 100 rounds, then 30 rounds of `objective` continuing it, both in `booster`: the
    MetriccWarnings of the second training."""
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if booster == "xgboost":
            import xgboost as xgb

            data = xgb.DMatrix(X, y)
            model = xgb.train({"objective": "binary:logistic", "nthread": 1}, data, 100)
            caught.clear()
            xgb.train({**start_params, "nthread": 1}, data, 30, obj=objective, xgb_model=model)
        else:
            import lightgbm as lgb

            data = lgb.Dataset(X, y, free_raw_data=False)
            model = lgb.train({"objective": "binary", "verbose": -1, "num_threads": 1}, data, 100)
            caught.clear()
            lgb.train({**start_params, "objective": objective, "verbose": -1, "num_threads": 1}, data, 30,
                      init_model=model)
    return [w for w in caught if issubclass(w.category, MetriccWarning)]


@pytest.mark.parametrize("booster", ["xgboost", "lightgbm"])
def test_continuing_a_model_whose_margins_lie_where_the_amplifier_is_flat_is_told(booster):
    """Continuing a logistic model with a metric objective (xgb_model=, init_model=): its margins lie far out,
    where the amplifier is flat, and the objective can move few of them. With XGBoost and {**objective.params}
    (base_score 0, which XGBoost applies to the continued model's logistic link) every margin fell to about -15
    and the model predicted no positive (test F1 0.0 against 0.67 before: docs/boosting.md, "Continuing a
    model"), without a word. The first call of a training says how many raw scores lie there and what to do; a
    training from the start does not warn."""
    pytest.importorskip(booster)
    from sklearn.datasets import make_classification

    X, y = make_classification(3000, n_features=20, weights=[0.9], flip_y=0.05, random_state=0)
    objective = compile_metric("f1").to_xgboost() if booster == "xgboost" else compile_metric("f1").to_lightgbm()
    params = objective.params if booster == "xgboost" else {}
    caught = _logistic_then_metric(booster, objective, X, y, params)
    assert len(caught) == 1, [str(w.message) for w in caught]
    message = str(caught[0].message)
    assert re.search(r"\d+ % of the raw scores lie where the amplifier is flat", message), message
    assert ("xgb_model" in message and "base_score" in message) if booster == "xgboost" else "init_model" in message
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # from the start: no warning, in any round
        if booster == "xgboost":
            import xgboost as xgb

            xgb.train({**objective.params, "nthread": 1}, xgb.DMatrix(X, y), 30, obj=objective)
        else:
            import lightgbm as lgb

            lgb.train({**objective.params, "objective": objective, "verbose": -1, "num_threads": 1},
                      lgb.Dataset(X, y), 30)


def _train_briefly(booster, api, task, extra):
    """Three rounds of `booster` through `api` ("train" or "sklearn") with metricc's F1 objective for `task` and
    the `extra` parameters; the MetriccWarnings it raised."""
    from sklearn.datasets import make_classification

    X, y = make_classification(300, n_features=8, n_informative=4, n_classes=3 if task == "multiclass" else 2,
                               weights=None if task == "multiclass" else [0.9], random_state=0)
    options = {"task": "multiclass", "num_classes": 3} if task == "multiclass" else {}
    metric = compile_metric("f1", **options)
    objective = metric.to_xgboost() if booster == "xgboost" else metric.to_lightgbm()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if booster == "xgboost":
            import xgboost as xgb

            if api == "train":
                xgb.train({**objective.params, **extra, "nthread": 1}, xgb.DMatrix(X, y), 3, obj=objective)
            else:
                xgb.XGBClassifier(objective=objective, n_estimators=3, n_jobs=1, **extra).fit(X, y)
        else:
            import lightgbm as lgb

            from metricc.lightgbm_sklearn import LGBMClassifier  # (LightGBM's own warns that it predicts raw scores)

            if api == "train":
                lgb.train({**objective.params, **extra, "objective": objective, "verbose": -1, "num_threads": 1},
                          lgb.Dataset(X, y), 3)
            else:
                LGBMClassifier(objective=objective, n_estimators=3, n_jobs=1, verbose=-1, **extra).fit(X, y)
    return [str(w.message) for w in caught if issubclass(w.category, MetriccWarning)]


@pytest.mark.parametrize("api", ["train", "sklearn"])
@pytest.mark.parametrize("booster, extra, shown", [
    ("xgboost", {"scale_pos_weight": 9}, "scale_pos_weight=9"),
    ("lightgbm", {"scale_pos_weight": 9}, "scale_pos_weight=9"),
    ("lightgbm", {"is_unbalance": True}, "is_unbalance=True"),
    ("lightgbm", {"unbalance": "true", "scale_pos_weight": 2.5}, "unbalance=true, scale_pos_weight=2.5"),
    ("lightgbm", {"unbalanced_sets": "+"}, "unbalanced_sets=+"),  # LightGBM's other spelling of true
])
def test_class_weights_a_booster_ignores_with_a_custom_objective_are_told(booster, api, extra, shown):
    """scale_pos_weight (and LightGBM's is_unbalance), which imbalanced-data users set, weigh the positive class in
    the boosters' own binary objective only: with metricc's objective both boosters trained exactly as without
    them (the same margins), without a word. The first round says so, once a training, and what to do instead;
    the defaults do not warn."""
    pytest.importorskip(booster)
    caught = _train_briefly(booster, api, "binary", extra)
    assert len(caught) == 1, caught
    assert caught[0].startswith(f"{shown}: {'XGBoost' if booster == 'xgboost' else 'LightGBM'} applies "), caught
    assert "ignores" in caught[0] and "sample weights" in caught[0], caught
    default = {"scale_pos_weight": 1} if booster == "xgboost" else {"scale_pos_weight": 1.0, "is_unbalance": False}
    assert _train_briefly(booster, api, "binary", default) == []
    assert _train_briefly(booster, api, "multiclass", {}) == []


def _metric_warnings(train):
    """The MetriccWarnings of `train` (X, y, objective) -> None, two rounds of a booster on a 9:1 set."""
    from sklearn.datasets import make_classification

    X, y = make_classification(400, n_features=8, weights=[0.9], random_state=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        train(X, y)
    return [str(w.message) for w in caught if issubclass(w.category, MetriccWarning)]


def _xgboost_runs():
    xgb = pytest.importorskip("xgboost")
    f1 = compile_metric("f1").to_xgboost()
    macro = compile_metric("f1", task="multiclass", num_classes=2).to_xgboost()

    def train(params, X, y, evaluated=True):
        data = xgb.DMatrix(X, y)
        return xgb.train({**f1.params, **params}, data, 2, obj=f1, evals=[(data, "train")] if evaluated else (),
                         verbose_eval=False)

    regression = {"objective": "reg:squarederror", "base_score": 0.0}  # raw scores as they are, as probabilities
    return {
        "train error": (lambda X, y: train({**regression, "eval_metric": ["auc", "error"]}, X, y), "error"),
        "train ranks": (lambda X, y: train({**regression, "eval_metric": ["auc", "aucpr", "error@0"]}, X, y), None),
        "train no evals": (lambda X, y: train({**regression, "eval_metric": "logloss"}, X, y, False), None),
        "train params": (lambda X, y: train({"eval_metric": ["logloss", "error"]}, X, y), None),  # of sigmoid(r)
        "cv": (lambda X, y: xgb.cv({**f1.params, **regression, "eval_metric": "logloss"}, xgb.DMatrix(X, y), 2,
                                   nfold=2, obj=f1), "logloss"),
        "cv params": (lambda X, y: xgb.cv({**f1.params, "eval_metric": "logloss"}, xgb.DMatrix(X, y), 2, nfold=2,
                                          obj=f1), None),
        "sklearn logloss": (lambda X, y: xgb.XGBClassifier(objective=f1, n_estimators=2, eval_metric="logloss").fit(
            X, y, eval_set=[(X, y)], verbose=False), None),  # XGBClassifier's binary:logistic: of sigmoid(r)
        "sklearn none": (lambda X, y: xgb.XGBClassifier(objective=f1, n_estimators=2).fit(X, y), None),
        "multiclass params": (lambda X, y: xgb.train(  # multi:softmax: its metrics read the softmax
            {**macro.params, "eval_metric": "mlogloss"}, xgb.DMatrix(X, y), 2, obj=macro,
            evals=[(xgb.DMatrix(X, y), "train")], verbose_eval=False), None),
        "multiclass ranks": (lambda X, y: xgb.train(  # merror takes each row's arg-max: the raw scores' own
            {**macro.params, **regression, "eval_metric": ["merror", "auc"]}, xgb.DMatrix(X, y), 2, obj=macro,
            evals=[(xgb.DMatrix(X, y), "train")], verbose_eval=False), None),
        "multiclass logloss": (lambda X, y: xgb.train(
            {**macro.params, **regression, "eval_metric": ["merror", "mlogloss"]}, xgb.DMatrix(X, y), 2, obj=macro,
            evals=[(xgb.DMatrix(X, y), "train")], verbose_eval=False), "mlogloss"),
    }


def _lightgbm_runs():
    lgb = pytest.importorskip("lightgbm")
    from metricc.lightgbm_sklearn import LGBMClassifier  # (LightGBM's own warns that it predicts raw scores)

    f1 = compile_metric("f1").to_lightgbm()
    base = {"objective": f1, "verbose": -1, "num_threads": 1}
    fit = lgb.LGBMClassifier.fit
    evaluate = (lambda X, y: {"eval_X": (X,), "eval_y": (y,)}) if "eval_X" in inspect.signature(fit).parameters else (
        lambda X, y: {"eval_set": [(X, y)]})  # LightGBM >= 4.7 deprecates eval_set
    return {
        "train error": (lambda X, y: lgb.train({**base, "metric": "auc,binary_error"}, lgb.Dataset(X, y), 2,
                                               valid_sets=[lgb.Dataset(X, y)]), "binary_error"),
        "train no valid set": (lambda X, y: lgb.train({**base, "metric": "binary_logloss"}, lgb.Dataset(X, y), 2),
                               None),
        "train metrics alias": (lambda X, y: lgb.train({**base, "metrics": ["auc", "binary_logloss"]},
                                                       lgb.Dataset(X, y), 2, valid_sets=[lgb.Dataset(X, y)]),
                                "binary_logloss"),
        "sklearn default": (lambda X, y: LGBMClassifier(objective=f1, n_estimators=2, verbose=-1).fit(
            X, y, **evaluate(X, y)), "binary_logloss"),
        "sklearn params": (lambda X, y: LGBMClassifier(objective=f1, n_estimators=2, verbose=-1, **f1.params).fit(
            X, y, **evaluate(X, y)), None),
    }


@pytest.mark.parametrize("booster, run", [("xgboost", k) for k in ("train error", "train ranks", "train no evals",
                                                                   "train params", "cv", "cv params",
                                                                   "sklearn logloss", "sklearn none",
                                                                   "multiclass params", "multiclass ranks",
                                                                   "multiclass logloss")]
                         + [("lightgbm", k) for k in ("train error", "train no valid set", "train metrics alias",
                                                      "sklearn default", "sklearn params")])
def test_a_built_in_metric_that_misreads_raw_scores_is_told(booster, run):
    """A booster computes its own metrics on a custom objective's raw scores as if they were probabilities: with
    the F1 objective XGBoost recorded error 0.104 for a model whose error at its decision rule is 0.006 (and
    LightGBM the same), so early stopping on it stopped at the wrong round, without a word. The first round warns
    where such a metric is computed (XGBoost: named in the parameters; LightGBM: with a validation set, its
    scikit-learn API naming binary_logloss by default); rank metrics, which raw scores leave as they are, and
    objective.params' settings do not warn, nor do an XGBoost classifier's metrics (objective.params' and
    XGBClassifier's binary:logistic), which its transform gives sigmoid(r), as the model's predict() does (its
    logloss had been told as misread, where XGBoost recorded the log-loss of sigmoid(r) to 1e-7)."""
    train, named = (_xgboost_runs() if booster == "xgboost" else _lightgbm_runs())[run]
    caught = _metric_warnings(train)
    if named is None:
        assert caught == []
    else:
        assert len(set(caught)) == 1, caught  # (once a training: cv's folds each warn alike)
        assert re.match(rf"(XGBoost|LightGBM) computes the metric {named} on a custom objective's raw scores",
                        caught[0]), caught
        assert "objective.eval_metric" in caught[0], caught


@pytest.mark.parametrize("method", ["evaluate", "loss", "gradient_and_hessian"])
def test_a_boosters_data_given_to_a_plain_method_names_eval_metric(method):
    """objective.evaluate passed as XGBoost's custom_metric or LightGBM's feval, which call it with (margins, data),
    failed with "Expected labels to hold numbers, but got dtype object"."""
    objective = compile_metric("f1").to_xgboost()
    y = (np.arange(20) % 3 == 0).astype(np.float32)
    with pytest.raises(MetriccError, match=rf"{method}\(\).* take \(margins, labels.*objective\.eval_metric"):
        getattr(objective, method)(np.zeros(20, np.float32), BoosterData(y))


class BoosterData:
    """What a booster passes beside the margins: labels and weights behind get_label() and get_weight()."""

    def __init__(self, labels, weights=None):
        self.labels, self.weights = np.asarray(labels, dtype=np.float32), weights

    def get_label(self):
        return self.labels

    def get_weight(self):
        return np.empty(0) if self.weights is None else self.weights


def test_hessians_are_exposed_and_evaluation_is_the_hard_metric():
    metric = compile_metric("f1")
    assert set(metric.hessians) == {"a", "b"}
    objective = metric.to_xgboost()
    z = np.array([2.0, -1.0, 0.5, -3.0, 1.0])
    y = np.array([1, 0, 0, 1, 1])
    value = objective.eval_metric(y, z)  # scikit-learn's convention, as XGBClassifier calls it: a number
    assert value == pytest.approx(1 - metric.score(objective.predict(z), y))
    name, native = objective.eval_metric(z, BoosterData(y))  # xgboost.train's (margins, DMatrix): (name, value)
    assert native == value and " " not in name
    assert compile_metric("f1").to_lightgbm().eval_metric(y, z) == (name, value, False)


def test_evaluation_counts_a_soft_label_as_its_nearer_class():
    """The hard metric of soft labels (a booster's data may hold them; the objective trains on them as they are)
    counts each label as positive from 0.5, the nearer class: 0.3 is a negative, 0.5 and 0.7 positives."""
    objective = compile_metric("f1").to_xgboost()
    z = np.array([2.0, -1.0, 0.5, -3.0, 1.0, 0.2])
    soft, hard = np.array([0.3, 0.7, 0.5, 0.2, 0.9, 0.45]), np.array([0, 1, 1, 0, 1, 0])
    assert objective.evaluate(z, soft) == objective.evaluate(z, hard) == pytest.approx(1 - f1_score(hard, z >= 0))


@pytest.mark.parametrize("options, message", [
    ({"hessian": "newton"}, "Expected argument `hessian`"),
    ({"from_logits": False}, "margins"),
    ({"compile": True}, "unknown option 'compile'"),
    ({"mean_hessian": 0}, "`mean_hessian` to be a positive number or None"),
    ({"mean_hessian": "auto"}, "`mean_hessian` to be a positive number or None"),
    ({"mean_hessian": 1e38}, r"`mean_hessian` to be a positive number up to 1e\+20 .*float32.*, or None"),
])
def test_objective_option_errors(options, message):
    with pytest.raises(MetriccError, match=message):
        compile_metric("f1").to_xgboost(**options)


def test_evaluation_where_the_hard_metric_is_undefined():
    """Where the hard metric is 0/0 (every margin at 0, where boosting starts, predicts every sample positive,
    and MCC has no predicted negative; a validation set without positives leaves F1 with nothing to count), the
    evaluation is the formula at the counts smoothed by eps, as the soft loss is: finite, never an exception
    from inside the formula, never NaN. Where the hard metric is defined, it is not smoothed."""
    y = np.array([1.0, 0, 0, 1, 0, 0, 0, 0])
    mcc = compile_metric("mcc").to_xgboost()
    assert mcc.evaluate(np.zeros(8), y) == pytest.approx(1 - matthews_corrcoef(y, np.ones(8)), abs=2e-3)
    f1 = compile_metric("f1").to_lightgbm()
    assert f1.eval_metric(np.zeros(8), -np.ones(8))[1] == pytest.approx(0.5)  # 2 eps / (2 eps + eps + eps)
    assert f1.evaluate(np.array([1.0, 1, -1, 1, -1, -1, -1, -1]), y) == pytest.approx(1 - 4 / 5, abs=1e-14)
    multilabel = compile_metric("f1", task="multilabel", num_classes=2).to_xgboost()
    z, labels = np.array([[1.0, -1], [-1, -1]]), np.array([[1.0, 0], [0, 0]])
    assert multilabel.evaluate(z, labels) == pytest.approx((0 + 0.5) / 2)
    multiclass = compile_metric("(TPR + TNR)/2", task="multiclass", num_classes=3).to_xgboost()
    assert np.isfinite(multiclass.evaluate(np.eye(3)[[0, 1, 1]], np.array([0.0, 1, 1])))
    with pytest.raises(MetriccError, match="undefined at the hard counts"):
        compile_metric("TP/(FP - FN)").to_xgboost().evaluate(np.array([1.0, -1, 1, -1]), np.array([1.0, 1, 0, 0]))
    # one label undefined even smoothed (FP = FN), the other defined: an error, not a NaN average
    labels = compile_metric("TP/(FP - FN)", task="multilabel", num_classes=2).to_xgboost()
    z, y = np.array([[1.0, 1], [-1, 1], [1, -1], [-1, -1]]), np.array([[1.0, 1], [1, 0], [0, 0], [0, 0]])
    with pytest.raises(MetriccError, match="undefined at the hard counts"):
        labels.evaluate(z, y)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("weights", [[1.0, np.nan, 1.0, 1.0], [1.0, np.inf, 1.0, 1.0], [1.0, -1.0, 1.0, 1.0],
                                     [0.0, 0.0, 0.0, 0.0], [np.nan] * 4])
def test_bad_sample_weights_are_refused(weights, dtype):
    """NaN, infinite, negative and all-zero weights are refused, in float64 and in the float32 a booster passes
    (checked by the weights' extremes; NaN fails every comparison)."""
    objective = compile_metric("f1").to_xgboost()
    y, z = np.array([1.0, 0, 1, 0]), np.array([0.1, -0.2, 0.3, 0.0])
    message = "to be finite and non-negative, but got (nan|inf|-1)" if max(weights) != 0 else "all are zero"
    with pytest.raises(MetriccError, match=message):
        objective(y, z, np.array(weights, dtype=dtype))


@pytest.mark.parametrize("task", ["binary", "multiclass"])
@pytest.mark.parametrize("bad", ["margins", "labels", "weights"])
@pytest.mark.parametrize("values", [["a", "b", "a", "b"], [1j, 0, 1, 0]])
def test_non_numeric_inputs_are_refused(values, bad, task):
    """Strings and complex numbers as margins, labels or weights get a message that names the argument and its
    type (not NumPy's conversion error from inside the objective, nor complex margins silently made real), in the
    objective and in its evaluation."""
    classes = {"task": "multiclass", "num_classes": 2} if task == "multiclass" else {}
    objective = compile_metric("f1", **classes).to_xgboost()
    arguments = {"labels": np.array([1.0, 0, 1, 0]), "margins": np.array([0.1, -0.2, 0.3, 0.0]),
                 "weights": np.ones(4)}
    if task == "multiclass":
        arguments["margins"] = np.stack([-arguments["margins"], arguments["margins"]], axis=1)
    arguments[bad] = np.array(values) if bad != "margins" or task == "binary" else np.array([values, values]).T
    y, z, w = arguments["labels"], arguments["margins"], arguments["weights"]
    for call in (lambda: objective(y, z, w), lambda: objective.eval_metric(y, z, w)):
        with pytest.raises(MetriccError, match=f"Expected {bad} to hold numbers, but got dtype "):
            call()


@pytest.mark.parametrize("bad", ["margins", "labels", "weights"])
@pytest.mark.parametrize("tensor", [torch.zeros(4, requires_grad=True), torch.zeros(4, dtype=torch.bfloat16)])
def test_a_tensor_numpy_cannot_take_is_refused_by_name(tensor, bad):
    """A torch tensor that requires grad, or of a type NumPy lacks, as margins, labels or weights gets metricc's
    error naming the argument (it was torch's RuntimeError or TypeError from inside the objective)."""
    objective = compile_metric("f1").to_xgboost()
    arguments = {"labels": np.array([1.0, 0, 1, 0]), "margins": np.array([0.1, -0.2, 0.3, 0.0]), "weights": np.ones(4)}
    arguments[bad] = tensor + (1 if bad == "weights" else 0)
    y, z, w = arguments["labels"], arguments["margins"], arguments["weights"]
    for call in (lambda: objective(y, z, w), lambda: objective.gradient_and_hessian(z, y, w),
                 lambda: objective.eval_metric(y, z, w)):
        with pytest.raises(MetriccError, match=rf"^Expected {bad} to be an array of numbers, but converting it "
                                               rf"failed: .*; pass tensor\.detach\(\)\.cpu\(\)\.float\(\)\.numpy\(\)"):
            call()


def test_counts_out_of_range_give_a_clear_error():
    """Weights whose squares overflow, and counts that overflow the formula's arithmetic, raise metricc's error,
    not NaN outputs or an exception from Python's float arithmetic inside the formula."""
    objective = compile_metric("f1").to_xgboost()
    y, z = np.array([1.0, 0, 1, 0]), np.array([0.1, -0.2, 0.3, 0.0])
    with pytest.raises(MetriccError, match="sample weights of at most 1e\\+100"):
        objective(y, z, np.full(4, 1e300))
    with pytest.raises(MetriccError, match="not finite at the counts"):
        compile_metric("TP**2/(TP**2 + FP**2 + FN**2)").to_xgboost().gradient_and_hessian(z, y, np.full(4, 1e90))


@pytest.mark.parametrize("formula", ["f1", "mcc", "minimize: FP + 5*FN", "multiclass f1"])
def test_weights_too_large_for_float32_outputs_are_refused(formula):
    """The booster's float32 gradient and Hessian add up to about mean_hessian times the total weight: weights
    adding up to more than 1e30 (never a booster's: its float32 weights stop at 3e38, but a direct call's
    float64 ones) are refused, where they gave infinite outputs; gradient_and_hessian() (float64) takes them."""
    rng = np.random.default_rng(0)
    if formula.startswith("multiclass"):
        objective = compile_metric("f1", task="multiclass", num_classes=3).to_xgboost()
        z, y = rng.normal(size=(1000, 3)), rng.integers(0, 3, 1000).astype(float)
    else:
        objective = compile_metric(formula).to_xgboost()
        z, y = rng.normal(size=1000), (rng.random(1000) < 0.3).astype(float)
    for scale in (1e28, 1e50):
        w = rng.uniform(1, 2, 1000) * scale
        if scale < 1e30 / 2000:
            assert all(np.isfinite(v).all() for v in objective(y, z, w))
        else:
            with pytest.raises(MetriccError, match="sample weights add up to .*: rescale them"):
                objective(y, z, w)
            assert all(np.isfinite(v).all() for v in objective.gradient_and_hessian(z, y, w))


@pytest.mark.parametrize("hessian", ["exact", "abs", "gauss-newton", "clip", "bound"])
def test_saturated_margins_give_finite_outputs(hessian):
    """Margins so large that every slope is ~1e-300 (a diverging fit): rescaling to mean_hessian cannot blow the
    coefficients up to infinity (0 * inf would be NaN); the outputs are finite."""
    rng = np.random.default_rng(2)
    z, y = rng.normal(0, 1e4, 50), (rng.random(50) < 0.3).astype(float)
    for metric in ("mcc", "accuracy", "f1"):
        grad, hess = compile_metric(metric).to_xgboost(hessian=hessian)(y, z)
        assert np.isfinite(grad).all() and np.isfinite(hess).all()


@pytest.mark.parametrize("hessian", ["exact", "abs", "gauss-newton", "clip", "bound"])
@pytest.mark.parametrize("far", [30.0, 60.0, 100.0, 600.0])
@pytest.mark.parametrize("metric", ["minimize: FP + 5*FN", "accuracy"])
def test_a_hessian_near_0_where_the_gradient_is_not_rescales_to_finite_outputs(metric, far, hessian):
    """A linear metric's exact Hessian is its bend term alone, 0 at the threshold: with five margins at 0 and one
    far out, the Hessian's sum is that far row's (1e-56 at 100), the factor that makes it average mean_hessian was
    ~1e56, and the gradient, which is not small at 0, came back inf without a word ("exact", "abs", "gauss-newton");
    "clip" computed its float32 outputs before rescaling them, so that a far row's |h| below float32's range left
    a Hessian of zeros (and inf gradients where it did not). The factor is capped where the outputs would pass
    OUTPUT_LARGEST; the clip's outputs are computed at a scale float32 holds. Outputs: finite, the float64 ones'
    direction, and a positive Hessian where the form's is (past a ratio of ~1e-68 to the gradient float32 cannot
    hold the clip's)."""
    z = np.zeros(6, np.float32)
    z[3] = far
    y = np.array([0, 1, 0, 1, 1, 0], np.float32)
    objective = compile_metric(metric).to_xgboost(hessian=hessian)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        grad, hess = objective(y, z)
    assert np.isfinite(grad).all() and np.isfinite(hess).all()
    assert max(np.abs(grad).max(), np.abs(hess).max()) <= 1e30
    # (past a ratio float32 holds, the Hessian comes out 0 on every row: told)
    assert any("Hessian is 0 on every row" in str(w.message) for w in caught) == (not hess.any())
    g64, h64 = objective.gradient_and_hessian(z.astype(np.float64), y.astype(np.float64))
    direction = g64 / np.abs(g64).max()
    np.testing.assert_allclose(grad / np.abs(grad).max(), direction, rtol=1e-5, atol=1e-6)
    if hessian == "bound" or hessian == "clip" and far <= 60:  # (positive, where float32 holds g and h both)
        assert (hess > 0).all()


@pytest.mark.parametrize("hessian", ["exact", "abs", "gauss-newton", "clip"])
def test_a_multiclass_hessian_near_0_where_the_gradient_is_not_rescales_to_finite_outputs(hessian):
    """Recall over two classes, every label 0, four rows with equal margins (Hessian 0, gradient not) and one
    with a lead of 667: the factor ~1e293 made the gradient pass float32 (a random sweep of the multi-class call
    against the float64 one found it). Capped as the binary one is."""
    z = np.zeros((5, 2), np.float32)
    z[3] = 597.45, -69.82
    y = np.zeros(5, np.float32)
    objective = compile_metric("recall", task="multiclass", num_classes=2, eps=1.0,
                               class_weight=[0.9, 6.6]).to_lightgbm(hessian=hessian)
    with pytest.warns(MetriccWarning, match="Hessian is 0 on every row"):  # (1e-293 of the gradient)
        grad, hess = objective(y, z)
    assert np.isfinite(grad).all() and np.isfinite(hess).all()
    assert max(np.abs(grad).max(), np.abs(hess).max()) <= 1e30
    g64, _ = objective.gradient_and_hessian(z.astype(np.float64), y.astype(np.float64))
    np.testing.assert_allclose(grad / np.abs(grad).max(), g64 / np.abs(g64).max(), rtol=1e-5, atol=1e-6)


def test_a_hessian_of_zeros_with_coefficients_past_float32_gives_finite_outputs():
    """Fuzz seed 100067: exp(exp(prevalence + 3)) sqrt(min(TNR, TP)) over labels one of which has only positives
    and two only negatives: every row's Hessian is 0 (each label's coefficients of its own rows' side are 0), so
    the rescaling was skipped, and the float32 bound kernel took the other side's q_b = 3e34 (times L^2 S, past
    float32) at the fixed scale: inf times 0 made the first label's Hessian NaN without a word. Where the size is 0
    the factor is still capped at what the kernel's type holds."""
    metric = compile_metric("v0 = sqrt(min(TNR, TP)); (exp(exp((prevalence + 3))) * v0)", task="multilabel",
                            num_classes=3, average="macro")
    z, y = np.random.default_rng(0).normal(0, 2, (6, 3)), np.array([[1.0, 0, 0]] * 6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MetriccWarning)  # (a label with one class)
        grad, hess = metric.to_xgboost()(y, z)
    assert np.isfinite(grad).all() and np.isfinite(hess).all()
    expected = metric.to_xgboost().gradient_and_hessian(z, y)
    assert not np.any(expected[0]) and not np.any(expected[1]) and not np.any(grad) and not np.any(hess)


@pytest.mark.parametrize("hessian", ["exact", "abs", "gauss-newton", "clip", "bound"])
def test_products_of_the_curvatures_past_float64_are_an_error_also_when_rescaled(hessian):
    """A case fuzz seed 100067 drew: exp(exp(N + 0.5)) exp(exp(TNR + 2)) over 6 rows has finite coefficients whose
    products in the Hessian (q L^2 S) pass float64, so the Hessian's size was not finite, the rescaling was skipped,
    and the call returned a NaN Hessian for label 0 without a word (outputs were checked only at the fixed
    scale; the bound's size came out 0, as inf * 0 made NaN). It now raises, naming the label and its counts."""
    metric = compile_metric("exp(exp(N + 0.5)) * exp(exp(TNR + 2))", task="multilabel", num_classes=3,
                            average="weighted")
    rng = np.random.default_rng(0)
    z, y = rng.normal(0, 2, (6, 3)), np.array([[1.0, 0, 0]] * 6)
    with pytest.raises(MetriccError, match=r"passes float32's range for label 0 at the counts .*: its curvatures' "
                                           r"products with L\^2 pass float64 there"):
        metric.to_xgboost(hessian=hessian)(y, z)


@pytest.mark.parametrize("hessian", ["exact", "abs", "gauss-newton", "clip", "bound"])
def test_a_hessian_whose_sum_is_subnormal_rescales_to_finite_outputs(hessian):
    """An eps of 1e50 (every count that large) at a threshold of 1e-300, margins spread over +-30: coefficients of
    ~1e-50 and a Hessian whose |h| add up to a subnormal number; the rescaling factor 20 / size and its cap
    (LARGEST_PRODUCT over the coefficients' products) both overflowed to inf, and the call returned NaN for every
    row without a word ("exact", "abs", "gauss-newton"). The factor is capped at float64's largest number; the
    outputs are finite."""
    rng = np.random.default_rng(0)
    z, y = rng.normal(0, 30, 200).astype(np.float32), (rng.random(200) < 0.3).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MetriccWarning)  # (the flat start)
        grad, hess = compile_metric("precision", threshold=1e-300, eps=1e50).to_xgboost(hessian=hessian)(y, z)
    assert np.isfinite(grad).all() and np.isfinite(hess).all()


@pytest.mark.parametrize("hessian", ["exact", "abs", "gauss-newton", "clip"])
@pytest.mark.parametrize("margin", [708.0, 740.0])
def test_a_multiclass_hessian_whose_sum_is_subnormal_rescales_to_finite_outputs(hessian, margin):
    """Every row's top margin at 708 (740): p's other entries near 1e-308 (1e-322), so the unscaled Hessian's |h|
    add up to a subnormal number, the factor mean_hessian * weight / size overflowed to inf, and the call returned
    inf (NaN where a 0 met it) for every row without a word. The factor is capped at float64's largest number, as
    the binary objective's is; the outputs are finite and keep the float64 result's ratios."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 30).astype(np.float32)
    z = np.zeros((30, 3), np.float32)
    z[np.arange(30), rng.integers(0, 3, 30)] = margin
    objective = compile_metric("f1", task="multiclass", num_classes=3).to_xgboost(hessian=hessian)
    grad, hess = objective(y, z)
    assert np.isfinite(grad).all() and np.isfinite(hess).all() and hess.max() > 0
    g64, h64 = objective.gradient_and_hessian(z, y)  # (float64 ratios: the factor can be float64's largest)
    unit, unit64 = np.abs(hess).max().astype(np.float64), np.abs(h64).max()
    np.testing.assert_allclose(hess / unit, h64 / unit64, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(grad / unit, g64 / unit64, rtol=1e-5, atol=1e-6 * np.abs(g64).max() / unit64)


def test_the_objective_calls_blas_only_on_its_calling_thread():
    """BLAS runs in a call only in outer_dots' products (_chunked), which span at most DOT rows: OpenBLAS computes a
    longer dot product or a matrix product of more than 262,144 multiplications (k x DOT x m, k at most 2 and m at
    most 4 here) with its worker threads, which then spin for a while and take the cores from the booster's own
    threads. With one dot product per block of 65,536 numbers, XGBoost rounds at n = 1e6 on two cores took 2.7 times
    as long as with binary:logistic; with these, as long (benchmarks/bench_loss.py --tables rounds). numpy.einsum
    without `optimize` runs its own loops, never BLAS (only its optimized path contracts through tensordot)."""
    from metricc import boost_kernel

    assert 2 * boost_kernel.DOT * 4 <= 262_144 and boost_kernel.DOT <= 10_000  # OpenBLAS's thresholds for threads
    tree = ast.parse(inspect.getsource(boost_kernel))
    function = next(node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == "_chunked")
    blas = [f"line {node.lineno}" for node in ast.walk(tree)
            if (isinstance(node, ast.BinOp) and isinstance(node.op, ast.MatMult)
                or isinstance(node, ast.Attribute) and node.attr in {"dot", "matmul", "vdot", "inner", "tensordot",
                                                                      "vecdot"})
            and not function.lineno <= node.lineno <= function.end_lineno]
    assert not blas, blas
    einsums = [node for node in ast.walk(tree) if isinstance(node, ast.Call)
               and isinstance(node.func, ast.Attribute) and node.func.attr == "einsum"]
    optimized = [f"line {node.lineno}" for node in einsums if any(k.arg == "optimize" for k in node.keywords)]
    assert not optimized, optimized


@pytest.mark.parametrize("task", ["binary", "multiclass"])
def test_pickles_without_its_scratch_buffers(task):
    """A pickled objective (scikit-learn's clone, joblib, a pickled XGBClassifier that holds it) leaves out the
    buffers a call keeps for the next one (megabytes at n = 1e5), and works the same once loaded."""
    import copy
    import pickle

    rng = np.random.default_rng(3)
    if task == "binary":
        objective, z, y = compile_metric("f1").to_xgboost(), rng.normal(size=100_000), rng.random(100_000) < 0.3
    else:
        objective = compile_metric("f1", task="multiclass", num_classes=3).to_xgboost()
        z, y = rng.normal(size=(100_000, 3)), rng.integers(0, 3, 100_000)
    fresh = len(pickle.dumps(objective))
    expected = objective(y.astype(float), z)
    assert len(pickle.dumps(objective)) < fresh + 200
    for loaded in (pickle.loads(pickle.dumps(objective)), copy.deepcopy(objective)):
        for got, want in zip(loaded(y.astype(float), z), expected):
            np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("task", ["binary", "multiclass"])
def test_threads_can_share_one_objective(task):
    """Boosters trained in threads (one per fold, say) on one objective: each call has its own scratch buffers,
    so every call gives the outputs of a call made alone (shared buffers gave other threads' numbers, or NaN
    counts). NumPy releases the GIL inside each pass over a block, so the threads' calls interleave."""
    from concurrent.futures import ThreadPoolExecutor

    rng = np.random.default_rng(4)
    if task == "binary":
        objective = compile_metric("f1").to_xgboost()
        sets = [(rng.random(n) < 0.3, rng.normal(size=n)) for n in (200_000, 150_000, 90_000)]
    else:
        objective = compile_metric("f1", task="multiclass", num_classes=3).to_xgboost()
        sets = [(rng.integers(0, 3, n), rng.normal(size=(n, 3))) for n in (60_000, 45_000, 30_000)]
    sets = [(y.astype(np.float32), z.astype(np.float32)) for y, z in sets]
    expected = [objective(y, z) for y, z in sets]

    def calls(index):
        y, z = sets[index % len(sets)]
        return index, objective(y, z)

    with ThreadPoolExecutor(3) as pool:
        for index, got in pool.map(calls, range(24)):
            for g, e in zip(got, expected[index % len(sets)]):
                np.testing.assert_array_equal(g, e)


@pytest.mark.parametrize("average, class_weight", [("macro", None), ("macro", (1.0, 3.0, 0.5)), ("weighted", None)])
def test_a_booster_per_label_trains_the_macro_and_weighted_multilabel_objective(average, class_weight):
    """What to_lightgbm()'s refusal of a multi-label metric says: one booster per label with the binary objective
    trains the macro (or weighted, or class-weighted) multi-label objective, whose gradient and Hessian for each label
    are the binary objective's on that label's column times one constant (its weight in the average), so that each
    leaf's Newton step -G/H is the same; the pooled counts of "micro" have no such split."""
    rng = np.random.default_rng(5)
    z, y = rng.normal(0, 1.5, (300, 3)), (rng.random((300, 3)) < [0.1, 0.3, 0.5]).astype(float)
    multi = compile_metric("f1", task="multilabel", num_classes=3, average=average, class_weight=class_weight)
    grad, hess = multi.to_xgboost(hessian="exact").gradient_and_hessian(z, y)
    binary = compile_metric("f1").to_lightgbm(hessian="exact")
    for label in range(3):
        g, h = binary.gradient_and_hessian(z[:, label], y[:, label])
        factor = grad[0, label] / g[0]
        assert factor > 0
        np.testing.assert_allclose(grad[:, label], factor * g, rtol=1e-9, atol=1e-15 * np.abs(g).max())
        np.testing.assert_allclose(hess[:, label], factor * h, rtol=1e-9, atol=1e-15 * np.abs(h).max())
    with pytest.raises(MetriccError, match="Micro-averaging pools the labels' counts"):
        compile_metric("f1", task="multilabel", num_classes=3, average="micro").to_lightgbm()


def test_bad_inputs_are_refused():
    objective = compile_metric("f1").to_xgboost()
    with pytest.raises(MetriccError, match="finite margins"):
        objective(np.array([0.0, 1.0]), np.array([np.nan, 0.0]))
    with pytest.raises(MetriccError, match="labels in"):
        objective(np.array([0.0, 2.0]), np.array([0.0, 0.0]))
    with pytest.raises(MetriccError, match=r"LightGBM has no multi-output mode .* one booster per label with the "
                                           r"binary f1 objective .*MultiOutputClassifier"):
        compile_metric("f1", task="multilabel", num_classes=2).to_lightgbm()
    with pytest.raises(MetriccError, match="average 'macro', 'micro' or 'weighted'"):
        compile_metric("f1", task="multilabel", num_classes=2, average="none").emit("xgboost")
    with pytest.raises(MetriccError, match=r"same shape \(n, 3\)"):
        compile_metric("f1", task="multilabel", num_classes=3).to_xgboost()(np.zeros((4, 2)), np.zeros((4, 2)))
    with pytest.raises(MetriccError, match=r"Expected 3 sample weights \(one per row\), but got 2\."):
        objective(np.array([0.0, 1.0, 1.0]), np.zeros(3), np.ones(2))
    with pytest.raises(MetriccError, match=r"Expected 3 sample weights \(one per row\), but got 4\."):
        compile_metric("f1", task="multiclass", num_classes=3).to_xgboost()(np.arange(3), np.zeros((3, 3)), np.ones(4))


@pytest.mark.parametrize("call", ["xgboost.train", "objective", "gradient_and_hessian", "evaluate", "eval_metric"])
def test_multilabel_columns_other_than_compiled_are_refused(call):
    """A multi-label objective compiled for 2 labels, given 4 per row, read each row as two rows of 2 (the shape
    check asked only that the element count divide by 2): xgboost.train trained on that without a word."""
    xgb = pytest.importorskip("xgboost")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 4))
    labels = (X > 0).astype(np.float64)
    objective = compile_metric("f1", task="multilabel", num_classes=2).to_xgboost()
    expected = r"same shape \(n, 2\).*but got \(50, 4\) and \(50, 4\): 4 labels\? compile with num_classes=4"
    with pytest.raises(MetriccError, match=expected):
        if call == "xgboost.train":
            xgb.train({**objective.params, "nthread": 1}, xgb.DMatrix(X, labels), 1, obj=objective)
        elif call in ("objective", "eval_metric"):
            (objective.eval_metric if call == "eval_metric" else objective)(labels, 0.1 * X)
        else:
            getattr(objective, call)(0.1 * X, labels)


@pytest.mark.parametrize("booster", ["xgboost", "lightgbm"])
def test_binary_objective_on_class_margins_says_compile_multiclass(booster):
    """A binary objective that a booster calls with one margin column per class (XGBClassifier and
    LGBMClassifier do so for labels 0, 1, 2) names the fix: compile with task='multiclass', num_classes=C."""
    objective = getattr(compile_metric("f1"), f"to_{booster}")()
    labels, margins = np.array([0.0, 1.0, 2.0, 1.0]), np.zeros((4, 3))
    fix = r"3 classes\? compile with task='multiclass', num_classes=3\."
    with pytest.raises(MetriccError, match=r"same shape n .*\(4, 3\) and \(4,\): " + fix):
        objective(labels, margins)
    with pytest.raises(MetriccError, match=fix):  # as XGBoost < 2 passes them: flat, row by row
        objective(labels, margins.ravel())
    with pytest.raises(MetriccError, match=r"\(4, 3\) and \(4, 2\)\.$"):  # no class indices: no hint
        objective(np.zeros((4, 2)), margins)
    # two margins a row for labels 0/1 (a softmax booster's): two classes
    with pytest.raises(MetriccError, match=r"2 classes\? compile with task='multiclass', num_classes=2\.$"):
        objective(labels.clip(0, 1), np.zeros((4, 2)))
    # labels that are no class indices, or margins that are no whole number of columns: no hint
    for labels, margins in (([0.0, 0.5, 2.0, 1.0], np.zeros((4, 3))), ([0.0, 1.0, 1.0], np.zeros(7))):
        with pytest.raises(MetriccError, match=r"\.$") as caught:
            objective(np.array(labels), margins)
        assert "classes?" not in str(caught.value)


@pytest.mark.parametrize("booster", ["xgboost", "lightgbm"])
def test_multiclass_objective_on_one_margin_per_row_names_the_cause(booster):
    """A multi-class objective called with one margin per row names why: the booster was not told num_class
    (xgboost.train and lightgbm.train without the objective's params), or a scikit-learn classifier saw only two
    classes, a binary problem."""
    objective = getattr(compile_metric("f1", task="multiclass", num_classes=3), f"to_{booster}")()
    with pytest.raises(MetriccError, match=r"\(4,\) and \(4,\): one margin per row; pass num_class=3 to the "
                                           r"booster \(objective\.params holds it\)\.$"):
        objective(np.array([0.0, 1.0, 2.0, 1.0]), np.zeros(4))
    with pytest.raises(MetriccError, match=r"\(4,\): one margin per row and labels 0 and 1 only: a binary problem\? "
                                           r"compile without task='multiclass'\.$"):
        objective(np.array([0.0, 1.0, 1.0, 0.0]), np.zeros(4))
    with pytest.raises(MetriccError, match=r"\(4, 2\) and \(4,\)\.$"):  # two columns: no hint
        objective(np.array([0.0, 1.0, 2.0, 1.0]), np.zeros((4, 2)))



@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("hessian, labels", [("bound", 1), ("exact", 1), ("bound", 3)])
def test_bad_values_anywhere_are_refused(dtype, weighted, hessian, labels):
    """A NaN or infinite margin, or a label outside [0, 1], is refused wherever it lies (the first row, a later
    block, the last short block; for multi-label, in the last label's column), by the booster's call,
    gradient_and_hessian() and loss(); finite margins near float32's largest number are not (their sums
    overflow: the check then looks at the margins themselves)."""
    from metricc.boost_kernel import BoostObjective

    task = {"task": "multilabel", "num_classes": labels} if labels > 1 else {}
    objective = compile_metric("f1", **task).to_xgboost(hessian=hessian)
    n = 2 * BoostObjective._block_rows(labels, np.float32) + 123
    rng = np.random.default_rng(0)
    shape = (n, labels) if labels > 1 else n
    z, y = rng.normal(size=shape).astype(dtype), (rng.random(shape) < 0.3).astype(dtype)
    w = rng.uniform(0.5, 2.0, n).astype(dtype) if weighted else None
    calls = [lambda z, y: objective(y, z, w), lambda z, y: objective.gradient_and_hessian(z, y, w),
             lambda z, y: objective.loss(z, y, w)]
    for row in (0, n // 2, n - 1):
        for value, message in ((np.nan, "finite margins"), (np.inf, "finite margins"), (-np.inf, "finite margins")):
            bad = z.copy()
            bad.reshape(n, -1)[row, -1] = value
            for call in calls:
                with pytest.raises(MetriccError, match=message):
                    call(bad, y)
        for value in (1.5, -0.5, np.nan):
            bad = y.copy()
            bad.reshape(n, -1)[row, -1] = value
            for call in calls:
                with pytest.raises(MetriccError, match=r"labels in \[0, 1\]"):
                    call(z, bad)
    huge = z.copy()
    huge[::7] = np.finfo(np.float32).max / 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nor do they warn of an overflow
        for call in calls:
            assert np.all(np.isfinite(call(huge, y)))


MULTILABEL = [("macro", None), ("micro", None), ("weighted", None), ("macro", (1.0, 3.0, 0.5))]


def _multilabel(average, class_weight, labels=3, **options):
    metric = compile_metric("mcc", task="multilabel", num_classes=labels, average=average, class_weight=class_weight,
                            L=20.0)
    rng = np.random.default_rng(4)
    z = rng.normal(0, 0.1, (40, labels))
    y = (rng.random((40, labels)) < [0.2, 0.5, 0.4][:labels]).astype(float)
    return metric, metric.to_xgboost(**options), z, y, rng.uniform(0.5, 2.0, 40)


@pytest.mark.parametrize("labels", [2, 3])
@pytest.mark.parametrize("average, class_weight", MULTILABEL)
def test_multilabel_objective_is_the_averaged_loss(average, class_weight, labels):
    if class_weight is not None:
        class_weight = class_weight[:labels]
    metric, objective, z, y, w = _multilabel(average, class_weight, labels, hessian="exact")
    value, expected = metric.loss_and_grad(z, y, w)
    grad, hess = objective.gradient_and_hessian(z, y, w)
    assert objective.loss(z, y, w) == pytest.approx(value, rel=1e-12)
    assert np.abs(grad - expected * w.sum()).max() <= 1e-12 * np.abs(grad).max()
    numeric = np.zeros_like(z)
    for i, j in np.ndindex(*z.shape):  # the diagonal: d grad_ij / d z_ij by central differences
        step = np.zeros_like(z)
        step[i, j] = 1e-5
        numeric[i, j] = (objective.gradient_and_hessian(z + step, y, w)[0][i, j]
                         - objective.gradient_and_hessian(z - step, y, w)[0][i, j]) / 2e-5
    assert np.abs(hess - numeric).max() <= 1e-6 * np.abs(hess).max()
    hard = objective.predict(z)
    assert objective.evaluate(z, y, w) == pytest.approx(1 - metric.score(hard, y, w), rel=1e-12)
    assert objective.evaluate(z, y) == pytest.approx(1 - metric.score(hard, y), rel=1e-12)  # integer counts
    bound = objective.gradient_and_hessian(z, y, w, hessian="bound")[1]
    assert (bound >= np.abs(hess) * (1 - 1e-12)).all()


def test_xgboost_multi_output_trains_on_a_multilabel_metric():
    xgb = pytest.importorskip("xgboost")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 4))
    Y = (X[:, :3] + 0.3 * rng.normal(size=(600, 3)) > [1.2, 0.8, 1.5]).astype(float)
    metric = compile_metric("f1", task="multilabel", num_classes=3)
    objective = metric.to_xgboost()
    booster = xgb.train({**objective.params, "nthread": 1}, xgb.DMatrix(X, Y), 30, obj=objective,
                        custom_metric=objective.eval_metric)
    margins = booster.predict(xgb.DMatrix(X), output_margin=True)
    assert margins.shape == (600, 3) and metric.score(objective.predict(margins), Y) > 0.8


def _separable(n=600, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    y = (X[:, 0] + 0.5 * X[:, 1] + 0.3 * rng.normal(size=n) > 1.2).astype(int)
    return X, y


@pytest.mark.parametrize("booster", ["xgboost", "lightgbm"])
def test_the_sample_weights_of_the_boosters_data_are_taken(booster):
    """Both boosters pass the objective and eval_metric their data (a DMatrix, a Dataset), which holds the sample
    weights: those calls equal the direct ones with the weights, and differ from the unweighted ones."""
    library = pytest.importorskip(booster)
    rng = np.random.default_rng(3)
    X, y, z = rng.normal(size=(300, 2)), (rng.random(300) < 0.3).astype(float), rng.normal(0, 0.05, 300)
    w = rng.uniform(0.1, 5, 300).astype(np.float32).astype(float)  # as the data keeps them
    objective = getattr(compile_metric("f1"), f"to_{booster}")()
    data = library.DMatrix(X, y, weight=w) if booster == "xgboost" else \
        library.Dataset(X, y, weight=w, free_raw_data=False).construct()
    for got, weighted, unweighted in zip(objective(z, data), objective(y, z, w), objective(y, z)):
        np.testing.assert_array_equal(got, weighted)
        assert not np.allclose(got, unweighted)
    value = objective.eval_metric(z, data)[1]
    assert value == objective.evaluate(z, y, w) != objective.evaluate(z, y)


def test_a_raw_score_of_0_predicts_positive():
    """A raw score r predicts positive from r >= 0 (the margin reaches logit(threshold)) in predict() and in the
    evaluation alike: every raw score starts at 0, where both count every sample positive."""
    metric = compile_metric("f1", threshold=0.3)
    objective = metric.to_xgboost()
    y, z = np.array([1.0, 0, 0, 1, 0]), np.array([0.0, 0.0, -1e-300, 1e-300, -1.0])
    assert objective.predict(z).tolist() == [1, 1, 0, 1, 0]
    assert objective.evaluate(z, y) == pytest.approx(1 - metric.score(objective.predict(z), y))
    assert objective.evaluate(np.zeros(5), y) == pytest.approx(1 - metric.score(np.ones(5), y))


def test_xgboost_both_apis():
    xgb = pytest.importorskip("xgboost")
    X, y = _separable()
    objective = compile_metric("f1").to_xgboost()
    booster = xgb.train({**objective.params, "nthread": 1}, xgb.DMatrix(X, y, weight=np.ones(len(y))), 30,
                        obj=objective, custom_metric=objective.eval_metric)
    trained = compile_metric("f1").score(objective.predict(booster.predict(xgb.DMatrix(X), output_margin=True)), y)
    classifier = xgb.XGBClassifier(objective=objective, n_estimators=30, base_score=0.5, n_jobs=1).fit(X, y)
    assert trained > 0.8 and compile_metric("f1").score(classifier.predict(X), y) > 0.8


@pytest.mark.parametrize("task", ["binary", "multilabel"])
@pytest.mark.parametrize("threshold", [0.5, 0.3])
@pytest.mark.parametrize("api", ["train", "sklearn"])
def test_an_xgboost_model_predicts_probabilities_whose_half_is_the_objectives_rule(api, threshold, task, tmp_path):
    """A model trained with {**objective.params} predicted its raw scores from predict(), in Python and from a
    saved file in any XGBoost runtime (the booster's own objective was XGBoost's regression default), so that the
    habit of cutting XGBoost's classifier predictions at 0.5 gave wrong classes without a word (a raw score r is
    positive from 0). objective.params names binary:logistic now, as XGBClassifier does with any custom objective:
    predict() gives sigmoid(r), positive from 0.5 exactly where objective.predict calls r positive, at every
    threshold, and the same from a saved model, in both APIs."""
    xgb = pytest.importorskip("xgboost")
    X, y = _separable(1200)
    if task == "multilabel":
        y = np.stack([y, (X[:, 1] > 0).astype(int)], axis=1)
    options = {"task": "multilabel", "num_classes": 2} if task == "multilabel" else {}
    objective = compile_metric("f1", threshold=threshold, **options).to_xgboost()
    with warnings.catch_warnings():
        warnings.simplefilter("error", MetriccWarning)  # the params start every raw score at 0
        if api == "train":
            booster = xgb.train({**objective.params, "nthread": 1}, xgb.DMatrix(X[:800], y[:800]), 20, obj=objective)
        else:
            classifier = xgb.XGBClassifier(objective=objective, n_estimators=20, n_jobs=1, base_score=0.5)
            booster = classifier.fit(X[:800], y[:800]).get_booster()
    test = xgb.DMatrix(X[800:])
    margins = booster.predict(test, output_margin=True)
    predicted = objective.predict(margins)
    assert compile_metric("f1", **options).score(predicted, y[800:]) > 0.7  # it learned
    probabilities = booster.predict(test)
    np.testing.assert_allclose(probabilities, 1 / (1 + np.exp(-margins.astype(np.float64))), rtol=1e-6)
    np.testing.assert_array_equal((probabilities >= 0.5).astype(int), predicted)
    booster.save_model(tmp_path / "model.json")
    loaded = xgb.Booster(model_file=tmp_path / "model.json")
    np.testing.assert_array_equal(loaded.predict(test), probabilities)
    if api == "sklearn":
        np.testing.assert_array_equal(classifier.predict(X[800:]), predicted)
    # the probabilities given to objective.predict, which takes raw scores, would all be positive: it says so
    with pytest.warns(MetriccWarning, match=r"every score lies in \[0, 1\].*output_margin=True"):
        assert objective.predict(probabilities).all()


@pytest.mark.parametrize("api", ["train", "sklearn", "train without params"])
@pytest.mark.parametrize("margins", [True, False])
def test_eval_metric_reads_a_direct_eval_set_of_a_model_of_metriccs_objective(api, margins):
    """Booster.eval_set(evals, feval=objective.eval_metric), called directly on a model that metricc's objective
    trained under a classifier's configuration (XGBClassifier names binary:logistic with any custom objective),
    read the model's raw scores as that classifier's logits, positive from logit(threshold), and its
    probabilities sigmoid(r) as positive from the threshold: at threshold 0.3 it recorded 1 - F1 = 0.81 for a
    model whose own is 0.03, without a word. The objective marks the boosters it trains, so the evaluation reads
    their raw scores (and sigmoid(r)) by the objective's rule, r >= 0."""
    xgb = pytest.importorskip("xgboost")
    X, y = _separable(1200)
    metric = compile_metric("f1", threshold=0.3)
    objective = metric.to_xgboost()
    train, test = xgb.DMatrix(X[:800], y[:800]), xgb.DMatrix(X[800:], y[800:])
    if api == "sklearn":
        booster = xgb.XGBClassifier(objective=objective, n_estimators=20, n_jobs=1, base_score=0.5).fit(
            X[:800], y[:800]).get_booster()
    else:
        params = objective.params if api == "train" else {"base_score": 0.0, "disable_default_eval_metric": 1}
        booster = xgb.train({**params, "nthread": 1}, train, 20, obj=objective)
    true = 1 - metric.score(objective.predict(booster.predict(test, output_margin=True)), y[800:])
    assert 0 <= true < 0.3
    recorded = booster.eval_set([(test, "test")], feval=objective.eval_metric, output_margin=margins)
    assert float(recorded.split(":")[-1]) == pytest.approx(true, abs=1e-6)
    assert booster.attr("metricc_objective") == "f1"  # saved with the model


@pytest.mark.parametrize("configured", ["multi:softprob", "multi:softmax"])
@pytest.mark.parametrize("margins", [True, False])
def test_eval_metric_reads_a_direct_eval_set_of_a_multiclass_model_of_metriccs_objective(configured, margins):
    """Booster.eval_set(..., output_margin=False) on a model that metricc's multi-class objective trained under a
    multi-class configuration passes that configuration's predictions: the softmax of the raw scores
    (multi:softprob), whose arg-max is theirs, or the predicted classes (multi:softmax). The evaluation reads each
    as what it is and records the model's own 1 - F1."""
    xgb = pytest.importorskip("xgboost")
    from sklearn.datasets import make_classification

    X, y = make_classification(900, n_informative=4, n_classes=3, random_state=0)
    metric = compile_metric("f1", task="multiclass", num_classes=3)
    objective = metric.to_xgboost()
    train, test = xgb.DMatrix(X[:600], y[:600]), xgb.DMatrix(X[600:], y[600:])
    booster = xgb.train({**objective.params, "objective": configured, "nthread": 1}, train, 10, obj=objective)
    true = 1 - metric.score(objective.predict(booster.predict(test, output_margin=True)), y[600:])
    assert 0 < true < 0.5
    recorded = booster.eval_set([(test, "test")], feval=objective.eval_metric, output_margin=margins)
    assert float(recorded.split(":")[-1]) == pytest.approx(true, abs=1e-6)


@pytest.mark.parametrize("backend", ["xgboost", "lightgbm"])
def test_early_stopping_through_the_scikit_learn_api(backend):
    """XGBClassifier(eval_metric=objective.eval_metric) calls it scikit-learn's way (labels, margins) and wants a
    number; LGBMClassifier wants LightGBM's triple, and with objective.params computes no logloss of its own on
    the raw scores. Early stopping then follows the hard 1 - F1 of the validation margins."""
    booster_module = pytest.importorskip(backend)
    X, y = _separable(3000)
    X_val, y_val, X, y = X[2000:], y[2000:], X[:2000], y[:2000]
    objective = getattr(compile_metric("f1"), f"to_{backend}")()
    if backend == "xgboost":
        model = booster_module.XGBClassifier(objective=objective, base_score=0.5, eval_metric=objective.eval_metric,
                                             early_stopping_rounds=20, n_estimators=500, n_jobs=1)
        model.fit(X, y, eval_set=[(X_val, y_val)], verbose=False)
        assert "1-f1" in model.evals_result()["validation_0"]  # named after the formula
        recorded = model.evals_result()["validation_0"]["1-f1"]
        best = model.best_iteration
        margins = model.get_booster().predict(booster_module.DMatrix(X_val), output_margin=True,
                                              iteration_range=(0, best + 1))
    else:
        from metricc.lightgbm_sklearn import LGBMClassifier  # (LightGBM's own predicts raw scores)

        model = LGBMClassifier(objective=objective, n_estimators=500, verbose=-1, n_jobs=1, **objective.params)
        validation = ({"eval_X": (X_val,), "eval_y": (y_val,)}  # LightGBM >= 4.7 deprecates eval_set
                      if "eval_X" in inspect.signature(model.fit).parameters else {"eval_set": [(X_val, y_val)]})
        model.fit(X, y, eval_metric=objective.eval_metric, callbacks=[booster_module.early_stopping(20, verbose=False)],
                  **validation)
        assert list(model.evals_result_["valid_0"]) == ["1-f1"]
        recorded = model.evals_result_["valid_0"]["1-f1"]
        best = model.best_iteration_ - 1
        margins = model.booster_.predict(X_val, raw_score=True, num_iteration=model.best_iteration_)
    assert len(recorded) < 500 and recorded[best] == min(recorded)
    assert recorded[best] == pytest.approx(1 - f1_score(y_val, objective.predict(margins)), abs=1e-6)


@pytest.mark.parametrize("backend", ["xgboost", "lightgbm"])
def test_early_stopping_on_the_hard_metric(backend):
    """eval_metric drives the booster's early stopping on a validation set: the only metric recorded, its best
    value is the hard 1 - F1 of the margins at the best iteration, and training stops before the last round."""
    booster_module = pytest.importorskip(backend)
    X, y = _separable(3000)
    X_val, y_val, X, y = X[2000:], y[2000:], X[:2000], y[:2000]
    objective = getattr(compile_metric("f1"), f"to_{backend}")()
    history = {}
    if backend == "xgboost":
        booster = booster_module.train({**objective.params, "nthread": 1}, booster_module.DMatrix(X, y), 500,
                                       obj=objective, custom_metric=objective.eval_metric,
                                       evals=[(booster_module.DMatrix(X_val, y_val), "val")],
                                       early_stopping_rounds=20, evals_result=history, verbose_eval=False)
        best = booster.best_iteration
        margins = booster.predict(booster_module.DMatrix(X_val), output_margin=True, iteration_range=(0, best + 1))
    else:
        booster = booster_module.train({"objective": objective, **objective.params, "verbose": -1, "num_threads": 1},
                                       booster_module.Dataset(X, y), 500, feval=objective.eval_metric,
                                       valid_sets=[booster_module.Dataset(X_val, y_val)], valid_names=["val"],
                                       callbacks=[booster_module.early_stopping(20, verbose=False),
                                                  booster_module.record_evaluation(history)])
        best = booster.best_iteration - 1  # LightGBM counts iterations from 1
        margins = booster.predict(X_val, raw_score=True, num_iteration=booster.best_iteration)
    recorded = history["val"]["1-f1"]
    assert list(history["val"]) == ["1-f1"] and len(recorded) < 500
    assert recorded[best] == min(recorded) == pytest.approx(objective.evaluate(margins, y_val), abs=1e-6)
    assert recorded[best] == pytest.approx(1 - f1_score(y_val, objective.predict(margins)), abs=1e-6)


@pytest.mark.parametrize("backend", ["xgboost", "lightgbm"])
def test_each_metric_is_recorded_under_its_own_name(backend):
    """Evaluation metrics are named after their formula, one token each (XGBoost splits names on spaces): two
    of them given to LightGBM at once are recorded side by side (both had been called "metricc-1-score", and
    the second overwrote the first), and a cost is recorded as itself."""
    booster_module = pytest.importorskip(backend)
    X, y = _separable(600)
    metrics = {"1-f1": compile_metric("f1"), "1-mcc": compile_metric("mcc"),
               "FP+5*FN": compile_metric("minimize: FP + 5*FN"),
               "1-(2*TP/(2*TP+FP+FN))": compile_metric("2*TP / (2*TP + FP + FN)")}
    objectives = {name: getattr(metric, f"to_{backend}")() for name, metric in metrics.items()}
    objective = objectives["1-f1"]
    history = {}
    if backend == "xgboost":  # one custom metric per call
        for name, evaluation in objectives.items():
            booster_module.train({**objective.params, "nthread": 1}, booster_module.DMatrix(X[:400], y[:400]), 3,
                                 obj=objective, custom_metric=evaluation.eval_metric, evals_result=history,
                                 evals=[(booster_module.DMatrix(X[400:], y[400:]), "val")], verbose_eval=False)
            assert list(history["val"]) == [name]
        return
    booster_module.train({"objective": objective, **objective.params, "verbose": -1, "num_threads": 1},
                         booster_module.Dataset(X[:400], y[:400]), 3,
                         feval=[evaluation.eval_metric for evaluation in objectives.values()],
                         valid_sets=[booster_module.Dataset(X[400:], y[400:])], valid_names=["val"],
                         callbacks=[booster_module.record_evaluation(history)])
    assert list(history["val"]) == list(metrics)
    recorded = history["val"]
    assert recorded["1-f1"] == recorded["1-(2*TP/(2*TP+FP+FN))"] != recorded["1-mcc"]  # F1 written out is F1


def test_lightgbm_both_apis():
    lgb = pytest.importorskip("lightgbm")
    X, y = _separable()
    objective = compile_metric("f1").to_lightgbm()
    booster = lgb.train({"objective": objective, "verbose": -1, "num_threads": 1}, lgb.Dataset(X, y), 30)
    trained = compile_metric("f1").score(objective.predict(booster.predict(X)), y)
    model = lgb.LGBMClassifier(objective=objective, n_estimators=30, verbose=-1, n_jobs=1)
    with pytest.warns(MetriccWarning, match="raw scores"):  # metricc.lightgbm_sklearn's classifier predicts classes
        model.fit(X, y, sample_weight=np.ones(len(y)))
    with pytest.warns(UserWarning, match="raw scores"):
        raw = model.predict(X)
    assert trained > 0.8 and compile_metric("f1").score(objective.predict(raw), y) > 0.8


@pytest.mark.parametrize("task", ["binary", "multiclass"])
def test_lightgbm_sklearn_classifier_predicts_as_the_objective(task):
    """metricc.lightgbm_sklearn.LGBMClassifier: where LightGBM's own classifier returns raw scores for a custom
    objective (cross_val_score then scores NaN), it predicts the classes the objective decides (with string
    class names too), and probabilities whose larger entry is that class; scikit-learn clones it."""
    pytest.importorskip("lightgbm")
    from sklearn.base import clone
    from sklearn.model_selection import cross_val_score

    from metricc.lightgbm_sklearn import LGBMClassifier

    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 4))
    if task == "binary":
        y = np.where(X[:, 0] + 0.5 * X[:, 1] + rng.normal(0, 0.5, 600) > 0.8, "yes", "no")
        metric = compile_metric("f1")
    else:
        y = np.array(["a", "b", "c"])[np.digitize(X[:, 0] + rng.normal(0, 0.3, 600), [-0.5, 0.7])]
        metric = compile_metric("f1", task="multiclass", num_classes=3)
    objective = metric.to_lightgbm()
    model = LGBMClassifier(objective=objective, n_estimators=30, verbose=-1, n_jobs=1, **objective.params)
    model.fit(X, y)
    raw = model.predict(X, raw_score=True)
    predicted = model.predict(X)
    np.testing.assert_array_equal(predicted, model.classes_[objective.predict(raw)])
    early = model.predict(X, raw_score=True, num_iteration=5)  # LightGBM's other arguments pass through
    assert not np.array_equal(early, raw)
    for output in ("pred_leaf", "pred_contrib"):  # leaf indices and contributions as LightGBM gives them
        for method in ("predict", "predict_proba"):
            np.testing.assert_array_equal(getattr(model, method)(X, **{output: True}),
                                          model.booster_.predict(X, **{output: True}))
    np.testing.assert_array_equal(model.predict(X, num_iteration=5), model.classes_[objective.predict(early)])
    early_probabilities = model.predict_proba(X, num_iteration=5)  # (predict_proba passes them too)
    np.testing.assert_array_equal(model.classes_[early_probabilities.argmax(axis=1)],
                                  model.classes_[objective.predict(early)])
    probabilities = model.predict_proba(X)
    assert probabilities.shape == (600, len(model.classes_))
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(model.classes_[probabilities.argmax(axis=1)], predicted)
    if task == "binary":
        np.testing.assert_allclose(probabilities[:, 1], 1 / (1 + np.exp(-raw)), rtol=1e-12)
        scores = cross_val_score(clone(model), X, (y == "yes").astype(int), scoring="f1", cv=3)
        assert np.isfinite(scores).all() and scores.min() > 0.6
    else:
        assert (predicted == y).mean() > 0.8


@pytest.mark.parametrize("task", ["binary", "multiclass"])
def test_lightgbms_own_classifier_warns_that_it_will_predict_raw_scores(task):
    """lightgbm.LGBMClassifier with a metricc objective trains, then predicts raw scores (LightGBM's rule for a
    callable objective), which scikit-learn's scorers score as NaN and a cut-off at 0.5 reads wrong: its first
    round says so and names what predicts the objective's classes. metricc's classifier, lightgbm.train, the
    scikit-learn classifier with another objective and its regressor stay quiet."""
    lgb = pytest.importorskip("lightgbm")
    from metricc.lightgbm_sklearn import LGBMClassifier

    X, y = _separable()
    if task == "multiclass":
        y = np.digitize(X[:, 0], [-0.5, 0.7])
    options = {} if task == "binary" else {"task": task, "num_classes": 3}
    objective = compile_metric("f1", **options).to_lightgbm()
    settings = dict(objective=objective, n_estimators=2, verbose=-1, n_jobs=1, **objective.params)
    with pytest.warns(MetriccWarning, match=r"predict\(\) and predict_proba\(\) return the raw scores.*NaN.*"
                                            r"metricc\.lightgbm_sklearn\.LGBMClassifier.*objective\.predict"):
        lgb.LGBMClassifier(**settings).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", MetriccWarning)
        LGBMClassifier(**settings).fit(X, y)
        lgb.train({**objective.params, "objective": objective, "verbose": -1, "num_threads": 1},
                  lgb.Dataset(X, y), 2)
        lgb.LGBMClassifier(n_estimators=2, verbose=-1, n_jobs=1).fit(X, y)
        if task == "binary":  # a regressor's predict() gives the raw scores anyway
            lgb.LGBMRegressor(**settings).fit(X, y)


class _LogisticObjective:
    """A user's own callable objective that has a predict() of its own, as metricc's objectives do."""

    def __call__(self, y_true, raw):
        p = 1 / (1 + np.exp(-raw))
        return p - y_true, p * (1 - p)

    def predict(self, raw):
        return (raw >= 0).astype(int)


@pytest.mark.parametrize("kind", ["function", "object with predict()"])
def test_lightgbm_sklearn_classifier_is_lightgbms_with_another_custom_objective(kind):
    """With a custom objective that is not metricc's (a plain function, or a user's callable object that has a
    predict() of its own but not the rest of a metricc objective), the classifier is LightGBM's own: its predict()
    and predict_proba() give what lightgbm.LGBMClassifier's give (raw scores, with LightGBM's warning)."""
    lgb = pytest.importorskip("lightgbm")
    from metricc.lightgbm_sklearn import LGBMClassifier

    objective = _LogisticObjective()
    X, y = _separable()
    model = LGBMClassifier(objective=objective if kind != "function" else objective.__call__, n_estimators=3,
                           verbose=-1, n_jobs=1).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # LightGBM's: raw scores for a custom objective
        np.testing.assert_array_equal(model.predict(X), lgb.LGBMClassifier.predict(model, X))
        np.testing.assert_array_equal(model.predict_proba(X), lgb.LGBMClassifier.predict_proba(model, X))


def test_lightgbm_sklearn_classifier_reads_its_raw_scores_in_0_1_without_a_warning(monkeypatch):
    """objective.predict warns where every score lies in [0, 1] (probabilities given for raw scores); the
    classifier passes it raw scores, which a model may well have there (every one positive), and stays quiet."""
    lgb = pytest.importorskip("lightgbm")
    from metricc.lightgbm_sklearn import LGBMClassifier

    X, y = _separable()
    objective = compile_metric("f1").to_lightgbm()
    model = LGBMClassifier(objective=objective, n_estimators=2, verbose=-1, n_jobs=1, **objective.params).fit(X, y)
    monkeypatch.setattr(lgb.LGBMClassifier, "predict", lambda self, X, **options: np.linspace(0.1, 0.9, len(X)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(model.predict(X), np.ones(len(X), dtype=int))
    with pytest.warns(MetriccWarning, match="every score lies in"):
        objective.predict(np.linspace(0.1, 0.9, len(X)))


@pytest.mark.parametrize("task", ["binary", "multilabel", "multiclass"])
def test_an_empty_training_set_is_refused_and_one_sample_trains(task):
    """No samples: a clear error from the call, the loss, the evaluation and the gradient (not a 0/0 or an empty
    reduction's error from NumPy); one sample is a training set like any other, with finite outputs."""
    options = {} if task == "binary" else {"task": task, "num_classes": 3}
    objective = compile_metric("f1", **options).to_xgboost()
    shape = {"binary": (1,), "multilabel": (1, 3), "multiclass": (1, 3)}[task]
    one_margin = np.full(shape, 0.2)
    one_label = np.array([2.0]) if task == "multiclass" else np.ones(shape)
    for margins, labels, message in ((one_margin[:0], one_label[:0], "at least one sample"),
                                     (one_margin, one_label[:0], "Expected labels for the 1 rows of margins"),
                                     # one number as the margins: was a TypeError, len() of unsized object
                                     (np.asarray(0.2), one_label[:0], "Expected labels for the 1 rows of margins")):
        for call in (objective, objective.loss, objective.evaluate, objective.gradient_and_hessian):
            with pytest.raises(MetriccError, match=message):
                call(labels, margins) if call is objective else call(margins, labels)
    grad, hess = objective(one_label, one_margin)
    assert grad.shape == hess.shape == shape
    assert np.isfinite(grad).all() and np.isfinite(hess).all() and (hess > 0).all() and (grad != 0).any()
    assert np.isfinite(objective.evaluate(one_margin, one_label))


@pytest.mark.parametrize("task", ["binary", "multilabel", "multiclass"])
def test_training_data_without_labels_is_told_to_take_them(task):
    """A DMatrix built without labels hands the objective n margins and no labels: the error says so and how to
    give them (had: "the same shape n ..., but got (400,) and (0,)"). A LightGBM Dataset without labels holds
    zeros instead: one class, which the next test's warning names."""
    xgb = pytest.importorskip("xgboost")
    options = {} if task == "binary" else {"task": task, "num_classes": 3}
    objective = compile_metric("f1", **options).to_xgboost()
    X, _ = _separable()
    with pytest.raises(MetriccError, match=r"Expected labels for the 600 rows of margins, but got none: a DMatrix "
                                           r"built without them\? build it with its labels, "
                                           r"xgboost.DMatrix\(X, label=y\)"):
        xgb.train(objective.params, xgb.DMatrix(X), 2, obj=objective)


@pytest.mark.parametrize("booster", ["xgboost", "lightgbm"])
@pytest.mark.parametrize("task, labels, message", [
    ("binary", 0, "every label of this training set is 0: with one class"),
    ("binary", 1, "every label of this training set is 1: with one class"),
    ("multilabel", 0, "every label of this training set is 0: with one class"),
    ("multiclass", 0, "every row of this training set is of class 0: with one class"),
    ("multiclass", 2, "every row of this training set is of class 2: with one class"),
])
def test_a_training_set_of_one_class_warns(booster, task, labels, message):
    """The booster's "batch" is the whole training set: with one class in it (a LightGBM Dataset built without
    labels holds zeros) there is nothing to tell apart, and the objective trained without a word."""
    library = pytest.importorskip(booster)
    if booster == "lightgbm" and task == "multilabel":
        pytest.skip("LightGBM trains one label per booster")
    options = {} if task == "binary" else {"task": task, "num_classes": 3}
    compiled = compile_metric("f1", **options)
    X, y = _separable()
    y = np.full((len(X), 3) if task == "multilabel" else len(X), labels, dtype=float)
    dataset_hint = booster == "lightgbm" and labels == 0
    with pytest.warns(MetriccWarning, match=message + (".*a lightgbm.Dataset built without labels holds zeros: "
                                                       "build it with them, lightgbm.Dataset\\(X, label=y\\)"
                                                       if dataset_hint else "")) as caught:
        if booster == "xgboost":
            objective = compiled.to_xgboost()
            library.train(objective.params, library.DMatrix(X, label=y), 3, obj=objective)
        else:
            objective = compiled.to_lightgbm()
            dataset = library.Dataset(X, label=None if dataset_hint else y, params={"verbose": -1})
            library.train({**objective.params, "objective": objective, "verbose": -1}, dataset, 3)
    assert sum("one class" in str(w.message) for w in caught) == 1  # once per training, not every round
    with warnings.catch_warnings():  # called outside a training (a test's one-class batch): no warning
        warnings.simplefilter("error")
        objective(y, np.zeros(y.shape if task != "multiclass" else (len(y), 3)))


@pytest.mark.parametrize("scores, warned", [
    ([0.0, 0.3, 1.0], True),  # a confident model's float32 probabilities reach 0 and 1 exactly
    ([0.2, 0.7, 0.9], True),
    ([-0.4, 0.3, 1.0], False),  # raw scores: some negative
    ([0.0, 0.4, 1.5], False),
    ([0.0, 0.0, 0.0], False),  # one value: an untrained model's raw scores
])
def test_predict_warns_where_every_score_lies_in_0_1(scores, warned):
    """objective.predict takes raw scores (positive from 0): scores that all lie in [0, 1], ends included, and
    differ are probabilities given for them, all positive, and it says so; raw scores do not warn."""
    objective = compile_metric("f1").to_xgboost()
    scores = np.array(scores, dtype=np.float32)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        predicted = objective.predict(scores)
    np.testing.assert_array_equal(predicted, (scores >= 0).astype(int))
    told = [str(w.message) for w in caught if issubclass(w.category, MetriccWarning)]
    assert len(told) == warned and all(t.startswith("every score lies in [0, 1]") for t in told), told


@pytest.mark.parametrize("backend", ["xgboost", "lightgbm"])
def test_emitted_objective_equals_the_api(backend):
    metric = compile_metric("mcc", L=30.0)
    namespace = load_emitted(metric.emit(backend))
    z, y, w = _data(n=50)
    for got, expected in zip(namespace["objective"](y, z, w), getattr(metric, f"to_{backend}")()(y, z, w)):
        assert np.array_equal(got, expected)


@pytest.mark.parametrize("backend", ["xgboost", "lightgbm"])
@pytest.mark.parametrize("formula", ["mcc", "minimize: FP + 5*FN", "minimize: (FP + 5*FN)/N"])
def test_emitted_eval_metric_names_and_scores_as_the_api(backend, formula):
    """The emitted module's eval_metric records what the API's does: a score as 1 - score under "1-name", a cost
    (minimize:) as itself under its own formula."""
    metric = compile_metric(formula, L=30.0)
    emitted, objective = load_emitted(metric.emit(backend))["objective"], getattr(metric, f"to_{backend}")()
    z, y, w = _data(n=50)
    data = BoosterData(y, w)
    expected = objective.eval_metric(z, data)
    assert emitted.eval_metric(z, data) == expected
    assert expected[0] == ("1-mcc" if formula == "mcc" else formula.partition(":")[2].replace(" ", ""))


def test_emitted_multilabel_objective_equals_the_api():
    metric, objective, z, y, w = _multilabel("weighted", None)
    namespace = load_emitted(metric.emit("xgboost"))
    for got, expected in zip(namespace["objective"](y, z, w), objective(y, z, w)):
        assert got.shape == (40, 3) and np.array_equal(got, expected)


def test_emitted_objective_runs_without_metricc(tmp_path):
    """The module imports only NumPy (neither metricc nor a booster), as its docstring says."""
    source = compile_metric("f1").emit("xgboost")
    assert "needs only numpy (and xgboost to train with)" in source
    (tmp_path / "f1_objective.py").write_text(source)
    code = ("import sys; sys.modules['metricc'] = sys.modules['xgboost'] = sys.modules['lightgbm'] = None\n"
            "import numpy as np, f1_objective\n"
            "g, h = f1_objective.objective(np.array([1.0, 0.0, 1.0]), np.array([0.3, -0.2, 0.1]))\n"
            "print(*g, *h)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stderr
    expected = compile_metric("f1").to_xgboost()(np.array([1.0, 0.0, 1.0]), np.array([0.3, -0.2, 0.1]))
    # (each float32 printed in its shortest form reads back as itself)
    np.testing.assert_array_equal(np.array(result.stdout.split(), dtype=np.float32), np.concatenate(expected))


# Multi-class: a softmax amplifier, margins (n, C), class indices as labels.
MULTICLASS = [("f1", "macro", None), ("(TP*TN - FP*FN)/sqrt(PP*POS*NEG*PN)", "weighted", None),
              ("(TPR + TNR)/2", "macro", (1.0, 3.0, 0.5, 2.0)), ("minimize: FP + 5*FN", "macro", None)]


def _multiclass(formula, average, class_weight, n=30, **options):
    metric = compile_metric(formula, task="multiclass", num_classes=4, average=average, class_weight=class_weight,
                            L=20.0)
    rng = np.random.default_rng(5)
    z = rng.normal(0, 0.6, (n, 4))
    y = rng.choice(4, n, p=[0.5, 0.25, 0.15, 0.1])
    return metric, metric.to_xgboost(**options), z, y, rng.uniform(0.5, 2.0, n)


def _softmax_loss(metric, y, w):
    """The loss (times the objective's scale) written with torch, independently of metricc's kernels."""
    scale = 1.0 if metric.to_xgboost().extensive else float(w.sum())
    one_hot = torch.nn.functional.one_hot(torch.tensor(y), 4).double()
    weight = torch.tensor(w)[:, None]
    scores = {"f1": lambda tp, fp, fn, tn: 2 * tp / (2 * tp + fp + fn)}

    def loss(z):
        yh = torch.softmax(torch.softmax(z, 1) * (metric.L / 2), 1)
        tp, fp = (weight * one_hot * yh).sum(0), (weight * (1 - one_hot) * yh).sum(0)
        fn, tn = (weight * one_hot * (1 - yh)).sum(0), (weight * (1 - one_hot) * (1 - yh)).sum(0)
        e = metric.eps
        return (1 - scores["f1"](tp + e, fp + e, fn + e, tn + e)).mean() * scale
    return loss


@pytest.mark.parametrize("formula, average, class_weight", MULTICLASS)
def test_multiclass_objective_is_the_averaged_loss(formula, average, class_weight):
    """The gradient equals loss_and_grad's times the scale; the exact Hessian diagonal equals central differences
    of the gradient; the positive forms are |exact| and at least it; the evaluation is the hard metric."""
    metric, objective, z, y, w = _multiclass(formula, average, class_weight, hessian="exact")
    value, expected = metric.loss_and_grad(z, y, w)
    scale = 1.0 if objective.extensive else w.sum()
    grad, hess = objective.gradient_and_hessian(z, y, w)
    assert objective.loss(z, y, w) == pytest.approx(value, rel=1e-12)
    assert np.abs(grad - expected * scale).max() <= 1e-12 * np.abs(grad).max()
    numeric = np.zeros_like(z)
    for i, k in np.ndindex(*z.shape):
        step = np.zeros_like(z)
        step[i, k] = 1e-5
        numeric[i, k] = (objective.gradient_and_hessian(z + step, y, w)[0][i, k]
                         - objective.gradient_and_hessian(z - step, y, w)[0][i, k]) / 2e-5
    assert np.abs(hess - numeric).max() <= 1e-6 * np.abs(hess).max()
    assert np.array_equal(objective.gradient_and_hessian(z, y, w, hessian="abs")[1], np.abs(hess))
    assert (objective.gradient_and_hessian(z, y, w, hessian="gauss-newton")[1] >= np.abs(hess) * (1 - 1e-12)).all()
    assert (hess < 0).any()  # the reason for a positive default
    hard = objective.predict(z)
    assert np.array_equal(hard, z.argmax(axis=1))
    assert objective.evaluate(z, y, w) == pytest.approx(1 - metric.score(hard, y, w) if not metric.minimize
                                                        else metric.score(hard, y, w), rel=1e-12)
    assert objective.evaluate(z, y) == pytest.approx(1 - metric.score(hard, y) if not metric.minimize
                                                     else metric.score(hard, y), rel=1e-12)


@pytest.mark.parametrize("task", ["multiclass", "multilabel"])
def test_a_class_the_average_weighs_0_may_be_undefined(task):
    """Class 1 has TP = FN, where 1/(TP - FN) is not finite, and weighs 0 in the average (class_weight): the
    loss leaves it out, as scikit-learn leaves out a class without support from the weighted average, and the
    objective's gradient and Hessian are the loss's, with class 1's column 0 (they refused the call, naming
    class 1)."""
    z, y = np.array([[3.0, 0], [3.0, 0], [0, 0.0], [0, 0.0]]), np.array([0, 0, 1, 1])
    y = y if task == "multiclass" else np.eye(2)[y]
    metric = compile_metric("minimize: 1/(TP - FN)", task=task, num_classes=2, class_weight=(1, 0))
    value, expected = metric.loss_and_grad(z, y)
    objective = metric.to_xgboost(mean_hessian=None, hessian="exact", L=metric.L)
    grad, hess = objective.gradient_and_hessian(z, y)
    expected *= 1.0 if objective.extensive else len(z)  # (the objective's scale: the total weight)
    assert objective.loss(z, y) == pytest.approx(value, rel=1e-12)
    assert np.isfinite(hess).all() and np.abs(grad - expected).max() <= 1e-12 * np.abs(grad).max()
    if task == "multilabel":
        assert not grad[:, 1].any() and not hess[:, 1].any()
    for booster in ("xgboost", "lightgbm") if task == "multiclass" else ("xgboost",):  # (LightGBM: no multi-label)
        call = getattr(metric, f"to_{booster}")()
        assert all(np.isfinite(v).all() for v in call(y, z.astype(np.float32)))  # scikit-learn's order


def test_a_class_without_support_leaves_the_weighted_average():
    """Weighted recall with eps = 0 on rows of classes 0 and 1 only: class 2's recall is 0/0 and weighs 0 (no
    support), as in scikit-learn's weighted average; the objective's gradient is the loss's (it refused the call)."""
    rng = np.random.default_rng(0)
    z, y = rng.normal(size=(20, 3)), rng.integers(0, 2, 20)
    metric = compile_metric("TP/(TP+FN)", task="multiclass", num_classes=3, average="weighted", eps=0)
    _, expected = metric.loss_and_grad(z, y)
    grad, _ = metric.to_xgboost(mean_hessian=None, L=metric.L).gradient_and_hessian(z, y)
    assert np.abs(grad - expected * len(z)).max() <= 1e-12 * np.abs(grad).max()


def test_multiclass_hessian_equals_torch_autograd():
    metric, objective, z, y, w = _multiclass("f1", "macro", None, n=12, hessian="exact")
    full = torch.autograd.functional.hessian(_softmax_loss(metric, y, w), torch.tensor(z)).reshape(48, 48)
    grad, hess = objective.gradient_and_hessian(z, y, w)
    autograd = torch.func.grad(_softmax_loss(metric, y, w))(torch.tensor(z)).numpy()
    assert np.abs(grad - autograd).max() <= 1e-12 * np.abs(grad).max()
    assert np.abs(hess - torch.diagonal(full).reshape(12, 4).numpy()).max() <= 1e-12 * np.abs(hess).max()


@pytest.mark.filterwarnings("ignore:L = 1500 is outside the valid range")
def test_multiclass_objective_past_L_1400_equals_torch_autograd():
    """Past L = 1400 the amplifier's exp(L/2 p) could overflow, and its softmax shifts by each sample's largest
    entry first (a branch no test reached): gradient and exact Hessian still equal torch autograd's."""
    metric = compile_metric("f1", task="multiclass", num_classes=4, L=1500.0)
    objective = metric.to_xgboost(hessian="exact")
    rng = np.random.default_rng(6)
    z, y, w = rng.normal(0, 0.002, (12, 4)), rng.choice(4, 12), rng.uniform(0.5, 2.0, 12)
    full = torch.autograd.functional.hessian(_softmax_loss(metric, y, w), torch.tensor(z)).reshape(48, 48)
    grad, hess = objective.gradient_and_hessian(z, y, w)
    autograd = torch.func.grad(_softmax_loss(metric, y, w))(torch.tensor(z)).numpy()
    assert np.abs(grad).max() > 1e-3 and np.abs(hess).max() > 1e-3
    assert np.abs(grad - autograd).max() <= 1e-12 * np.abs(grad).max()
    assert np.abs(hess - torch.diagonal(full).reshape(12, 4).numpy()).max() <= 1e-10 * np.abs(hess).max()


def test_multiclass_rows_with_tied_top_entries_equal_torch_autograd():
    """Rows whose largest margins tie (every margin equal, as at a booster's start; two classes tied for the top;
    the top tied with a confident lead): the block takes its sums about one of the tied entries (the first), and
    gradient and exact Hessian still equal torch autograd's."""
    metric, objective, z, y, w = _multiclass("f1", "macro", None, n=12, hessian="exact")
    z[0] = 0.0
    z[1, :2] = z[1].max() + 1.0
    z[2, 1:3] = z[2].max() + 25.0
    full = torch.autograd.functional.hessian(_softmax_loss(metric, y, w), torch.tensor(z)).reshape(48, 48)
    grad, hess = objective.gradient_and_hessian(z, y, w)
    autograd = torch.func.grad(_softmax_loss(metric, y, w))(torch.tensor(z)).numpy()
    assert np.abs(grad - autograd).max() <= 1e-12 * np.abs(grad).max()
    assert np.abs(hess - torch.diagonal(full).reshape(12, 4).numpy()).max() <= 1e-12 * np.abs(hess).max()


def test_multiclass_macro_f1_agrees_with_sklearn_on_hard_predictions():
    metric, objective, z, y, w = _multiclass("f1", "macro", None, n=200)
    value = objective.eval_metric(y.astype(np.float32), z.astype(np.float32))
    assert value == pytest.approx(1 - f1_score(y, z.argmax(axis=1), average="macro"), rel=1e-12)


def test_multiclass_calls_rescale_and_read_float32_margins():
    """A call rescales to mean_hessian per class and unit weight; XGBoost's float32 margins (flat or (n, C)) give
    the float64 result; unit weights are no weights; the default Hessian is Gauss-Newton, L 15 unless given."""
    metric = compile_metric("f1", task="multiclass", num_classes=4)
    objective = metric.to_xgboost(mean_hessian=0.2)
    assert objective.hessian == "gauss-newton" and objective.L == 15.0
    assert compile_metric("f1", task="multiclass", num_classes=4, L=30).to_lightgbm().L == 30.0
    _, _, z, y, w = _multiclass("f1", "macro", None, n=200)
    grad, hess = objective(y.astype(np.float32), z, w)
    assert grad.dtype == np.float32 and grad.shape == (200, 4)
    assert np.abs(hess.astype(float)).sum() == pytest.approx(0.2 * w.sum() * 4, rel=1e-6)
    flat = objective(y.astype(np.float32), z.astype(np.float32).ravel(), w)
    fixed = objective(y, z.astype(np.float32).astype(np.float64), w)
    for got, expected in zip(flat, fixed):
        assert np.array_equal(got.reshape(200, 4), expected)
    unweighted, unit = objective(y, z), objective(y, z, np.ones(200))
    for got, expected in zip(unit, unweighted):
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-7 * np.abs(expected).max())


@pytest.mark.parametrize("L", [5.0, 15.0, 73.0])
def test_multiclass_confident_rows_have_the_exact_gradient_and_hessian(L):
    """Rows whose top logit leads the others by 4 to 30: each entry of the gradient and of the exact Hessian
    diagonal equals a 60-digit oracle's (times the objective's scale, n), to 1e-11 of the entry itself. The two
    pullbacks and the Hessian's sums over a row, taken as moments about the row's mean (h p (r - sum r p - t sum r)
    and the like), cancelled there: at L = 73 the confident row's gradient was 4 % off at a lead of 4 and 2e7 times
    its value at 20, its Hessian 9e8 times; at L = 5, where yh does not saturate, the top entry's Hessian was off
    by 4e-4 at a lead of 30; while every entry stayed within 1e-13 of the largest."""
    from oracles import multiclass_f1_gradient_60_digits

    rng = np.random.default_rng(5)
    objective = compile_metric("f1", task="multiclass", num_classes=3, L=L).to_xgboost(hessian="exact")
    labels = np.array([0, 1, 1, 2, 0, 2])
    for lead in (4.0, 12.0, 30.0):
        z = rng.normal(0, 0.5, (6, 3))
        z[2, 1] += lead  # confident and right
        z[3, 0] -= lead  # one class confidently out
        z[4, 2] += lead / 2  # confident and wrong
        for got, order in zip(objective.gradient_and_hessian(z, labels), (1, 2)):
            expected = multiclass_f1_gradient_60_digits(z, labels, L, order=order) * len(z)
            np.testing.assert_allclose(got, expected, rtol=1e-11, err_msg=f"lead {lead}, order {order}")


@pytest.mark.parametrize("hessian", ["gauss-newton", "exact", "abs", "clip"])
def test_multiclass_blocks_give_the_one_block_result(monkeypatch, hessian):
    from metricc import boost_kernel

    _, objective, z, y, w = _multiclass("jaccard", "macro", None, n=50, hessian=hessian)
    whole = objective(y, z, w)
    assert 50 * 4 <= boost_kernel.CLASS_BLOCK  # one block above
    monkeypatch.setattr(boost_kernel, "CLASS_BLOCK", 4 * 3)  # three rows a block, a short last one
    for got, expected in zip(objective(y, z, w), whole):
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-7 * np.abs(expected).max())


@pytest.mark.parametrize("call, message", [
    (lambda: compile_metric("f1", task="multiclass", num_classes=3, average="micro").to_xgboost(),
     r"average 'macro' or 'weighted', not 'micro' \(micro-averaging one-hot predictions scores accuracy\)$"),
    (lambda: compile_metric("f1", task="multiclass", num_classes=3, average="none").to_lightgbm(),
     r"average 'macro' or 'weighted', not 'none' \('none' keeps one loss per class\)$"),
    (lambda: compile_metric("f1", task="multiclass", num_classes=3).to_xgboost(hessian="bound"),
     "'bound' Hessian is derived for sigmoid amplifiers only"),
    (lambda: compile_metric("f1", task="multiclass", num_classes=3, ignore_index=-1).to_lightgbm(),
     "takes no ignore_index"),
    (lambda: compile_metric("f1", task="multiclass", num_classes=3).to_xgboost()(
        np.array([0.0, 3.0]), np.zeros((2, 3))), r"class indices 0, 1, ..., 2"),
    (lambda: compile_metric("f1", task="multiclass", num_classes=3).to_xgboost()(
        np.array([0.0, 1.5]), np.zeros((2, 3))), r"class indices 0, 1, ..., 2"),
    (lambda: compile_metric("f1", task="multiclass", num_classes=3).to_xgboost()(
        np.array([0.0, 1.0]), np.zeros((2, 2))), r"margins of shape \(n, 3\) and n class indices"),
    (lambda: compile_metric("f1", task="multiclass", num_classes=3).to_xgboost()(
        np.array([0.0, 1.0]), np.full((2, 3), np.nan)), "finite margins"),
])
def test_multiclass_mistakes_are_refused(call, message):
    with pytest.raises(MetriccError, match=message):
        call()


@pytest.mark.parametrize("booster", ["xgboost", "lightgbm"])
def test_boosters_train_on_a_multiclass_metric_through_both_apis(booster):
    """train() and the scikit-learn classifier both learn a separable 3-class problem with the macro-F1 objective,
    and the objective's evaluation is usable for early stopping."""
    library = pytest.importorskip(booster)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 4))
    y = np.digitize(X[:, 0] + 0.5 * X[:, 1] + 0.2 * rng.normal(size=600), [-0.3, 1.0])
    metric = compile_metric("f1", task="multiclass", num_classes=3)
    objective = getattr(metric, f"to_{booster}")()
    if booster == "xgboost":
        model = library.train({**objective.params, "nthread": 1}, library.DMatrix(X, y), 30, obj=objective,
                              custom_metric=objective.eval_metric)
        margins = model.predict(library.DMatrix(X), output_margin=True)
        classifier = library.XGBClassifier(objective=objective, n_estimators=30, n_jobs=1, base_score=0.5)
    else:
        model = library.train({**objective.params, "objective": objective, "num_threads": 1, "verbose": -1},
                              library.Dataset(X, y), 30)
        margins = model.predict(X, raw_score=True)
        from metricc.lightgbm_sklearn import LGBMClassifier  # (LightGBM's own predicts raw scores)

        classifier = LGBMClassifier(objective=objective, n_estimators=30, n_jobs=1, verbose=-1)
    assert margins.shape == (600, 3)
    assert f1_score(y, objective.predict(margins), average="macro") > 0.85
    classifier.fit(X, y)
    assert f1_score(y, classifier.predict(X), average="macro") > 0.85


@pytest.mark.parametrize("average, class_weight", [("weighted", None), ("macro", (1.0, 3.0, 0.5, 2.0))])
def test_emitted_multiclass_objective_equals_the_api(average, class_weight):
    metric, objective, z, y, w = _multiclass("gmean", average, class_weight)
    for booster in ("xgboost", "lightgbm"):
        namespace = load_emitted(metric.emit(booster))
        api = getattr(metric, f"to_{booster}")()
        for got, expected in zip(namespace["objective"](y, z, w), api(y, z, w)):
            assert got.shape == (30, 4) and np.array_equal(got, expected)


@pytest.mark.parametrize("task", ["binary", "multilabel", "multiclass"])
def test_latex_shows_the_hessian_only_when_asked(task):
    """latex(hessians=True) adds a, b, q_a, q_b and the Hessian diagonal (per label, or summed over the classes
    the softmax couples); the emitted objective's docstring shows them, and the L the objective uses."""
    multi = {} if task == "binary" else {"task": task, "num_classes": 3}
    metric = compile_metric("f1", **multi)
    plain, full = metric.latex(), metric.latex(hessians=True)
    assert "q_" not in plain and "partial^2" not in plain
    k = "_k" if multi else ""
    q_b = r"- \frac{4 \cdot \mathrm{TP}" + k  # (d/dFP - d/dTN) 2 TP / D^2 = -4 TP / D^3
    q_a = rf"= \frac{{4 \cdot \left(\mathrm{{TP}}{k} + \mathrm{{FP}}{k} + \mathrm{{FN}}{k}\right)}}"  # 4 (TP+FP+FN) / D^3
    rows = {row.split(" &=")[0]: row for row in full.splitlines()}
    assert q_a in rows["q_{a,k}" if multi else "q_a"] and q_b in rows["q_{b,k}" if multi else "q_b"]
    assert "partial^2" in full and ("a_k &=" if multi else "a &=") in full
    assert (r"\sum_{j=1}^{C} \omega_j" in full) == (task == "multiclass")
    if task != "multilabel":
        emitted = metric.emit("lightgbm")
        expected = "15" if task == "multiclass" else "73"
        assert f"L &= {expected}" in emitted and f"L={expected}.0" in emitted
        assert "q_" in emitted and "partial^2" in emitted  # the docstring's LaTeX has the Hessian


@pytest.mark.parametrize("task", ["binary", "multiclass"])
def test_predict_refuses_what_is_not_margins(task):
    """predict() checks its margins as the objective does: strings, objects and NaN (a diverged model) get
    metricc's error, as do multi-class margins that do not split into rows of C (NumPy's reshape error, or NaN
    predicted as class 0, before)."""
    options = {} if task == "binary" else {"task": "multiclass", "num_classes": 3}
    objective = compile_metric("f1", **options).to_xgboost()
    width = 1 if task == "binary" else 3
    for bad, message in ((np.array(["a"] * 3 * width), "to hold numbers"), (np.array([None] * 3 * width), "numbers"),
                         (np.full(3 * width, np.nan), "NaN")):
        with pytest.raises(MetriccError, match=message):
            objective.predict(bad)
    if task == "multiclass":
        for margins in (np.zeros(7), np.zeros((4, 3, 1)), np.zeros((4, 2))):  # (a third axis: no rows of 3)
            with pytest.raises(MetriccError, match=rf"shape \(n, 3\), but got {re.escape(str(margins.shape))}"):
                objective.predict(margins)
        np.testing.assert_array_equal(objective.predict(np.eye(3)[[2, 0]]), [2, 0])
    else:
        np.testing.assert_array_equal(objective.predict(np.array([-0.1, 0.0, np.inf])), [0, 1, 1])


def _recorded_and_true(booster, builtin, objective, X, y, train, test, task="binary"):
    """Trains `booster` ("xgboost", "xgbclassifier", "lightgbm", "lgbmclassifier") with the booster's own
    objective `builtin` (None: metricc's `objective`), metricc's eval_metric watching the test rows; returns the
    last recorded value and the metric's loss on the model's own predictions there, with the booster's predict()
    (a probability >= 0.5 for its binary objectives) or, for metricc's objective, objective.predict."""
    metric = objective.eval_metric
    name = metric.__name__
    custom = builtin is None
    if booster == "xgboost":
        import xgboost as xgb

        params = {**objective.params, "nthread": 1} if custom else {"objective": builtin, "nthread": 1}
        if task == "multiclass" and not custom:
            params["num_class"] = objective.num_classes
        history, data = {}, xgb.DMatrix(X[test], y[test])
        model = xgb.train(params, xgb.DMatrix(X[train], y[train]), 8, obj=objective if custom else None,
                          custom_metric=metric, evals=[(data, "test")], evals_result=history, verbose_eval=False)
        recorded = history["test"][name][-1]
        raw = model.predict(data, output_margin=True)
        cut = 0.0 if builtin == "binary:logitraw" else 0.5  # the booster's own predict(): margins there
        predicted = None if custom else _classes(model.predict(data), task, cut)
    elif booster == "xgbclassifier":
        import xgboost as xgb

        options = {"objective": objective, "base_score": 0.5} if custom else {"objective": builtin}
        model = xgb.XGBClassifier(n_estimators=8, n_jobs=1, eval_metric=metric, **options)
        model.fit(X[train], y[train], eval_set=[(X[test], y[test])], verbose=False)
        recorded = model.evals_result()["validation_0"][name][-1]
        raw = model.predict(X[test], output_margin=True)
        predicted = model.predict(X[test]) if not custom else None
    elif booster == "lightgbm":
        import lightgbm as lgb

        params = {"objective": objective, **objective.params} if custom else {"objective": builtin}
        if task == "multiclass" and not custom:
            params["num_class"] = objective.num_classes
        history = {}
        model = lgb.train({**params, "verbose": -1, "num_threads": 1}, lgb.Dataset(X[train], y[train]), 8,
                          valid_sets=[lgb.Dataset(X[test], y[test])], valid_names=["test"], feval=metric,
                          callbacks=[lgb.record_evaluation(history)])
        recorded = history["test"][name][-1]
        raw = model.predict(X[test], raw_score=True)
        predicted = None if custom else _classes(model.predict(X[test]), task)
    else:
        import lightgbm as lgb

        from metricc.lightgbm_sklearn import LGBMClassifier  # metricc's objective: classes from its predict()

        options = {"objective": objective, **objective.params} if custom else {"objective": builtin}
        model = (LGBMClassifier if custom else lgb.LGBMClassifier)(n_estimators=8, n_jobs=1, verbose=-1, **options)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # LightGBM 4.7: eval_set is to be eval_X, eval_y
            warnings.filterwarnings("ignore", "The argument 'eval_set'")
            model.fit(X[train], y[train], eval_set=[(X[test], y[test])], eval_metric=metric)
        recorded = model.evals_result_["valid_0"][name][-1]
        raw = model.predict(X[test], raw_score=True)
        predicted = model.predict(X[test])
        if custom:
            np.testing.assert_array_equal(predicted, objective.predict(raw))
    if predicted is None:
        predicted = objective.predict(raw)
    if task == "multiclass":
        metric_value = compile_metric("f1", task="multiclass", num_classes=objective.num_classes).score(
            np.asarray(predicted), y[test])
    else:
        metric_value = compile_metric("f1").score(np.asarray(predicted, dtype=float), y[test])
    return recorded, 1 - metric_value


def _classes(predictions, task, threshold=0.5):
    """A booster's own predict() of a native model (probabilities; margins for binary:logitraw) as classes."""
    return predictions.argmax(axis=1) if task == "multiclass" else (predictions >= threshold).astype(int)


@pytest.mark.parametrize("booster", ["xgboost", "xgbclassifier", "lightgbm", "lgbmclassifier"])
@pytest.mark.parametrize("objective_kind", ["builtin", "metricc"])
def test_eval_metric_reads_what_the_booster_passes(booster, objective_kind):
    """eval_metric watching a model trained with the booster's own binary objective (early stopping a
    binary:logistic model on F1) read its probabilities as raw scores, every one >= 0 a positive: 1 - F1 was
    recorded as 0.79 where the model's predictions give 0.04 to 0.08, without a word. It reads the booster's
    probabilities at the threshold, and metricc's own objective's raw scores as before."""
    pytest.importorskip("lightgbm" if booster.startswith("l") else "xgboost")
    from sklearn.datasets import make_classification

    X, y = make_classification(1500, weights=[0.85], random_state=0)
    objective = compile_metric("f1").to_lightgbm() if booster.startswith("l") else compile_metric("f1").to_xgboost()
    builtin = None if objective_kind == "metricc" else "binary" if booster.startswith("l") else "binary:logistic"
    recorded, true = _recorded_and_true(booster, builtin, objective, X, y, slice(0, 1000), slice(1000, None))
    assert 0 < true < 0.5
    assert recorded == pytest.approx(true, abs=1e-6)  # XGBoost records 6 digits


@pytest.mark.parametrize("booster,builtin", [("xgboost", "binary:logitraw"), ("xgboost", "binary:hinge"),
                                             ("xgboost", "reg:logistic"), ("lightgbm", "cross_entropy"),
                                             ("xgboost", "multi:softprob"), ("lightgbm", "multiclass")])
def test_eval_metric_reads_the_boosters_other_classifiers(booster, builtin):
    """The booster's other classification objectives: raw margins (binary:logitraw) read as margins, 0/1 classes
    (binary:hinge) and probabilities as probabilities; a multi-class model's class probabilities by their
    arg-max."""
    pytest.importorskip(booster)
    from sklearn.datasets import make_classification

    multiclass = builtin in ("multi:softprob", "multiclass")
    X, y = make_classification(1500, n_informative=4, n_classes=3 if multiclass else 2,
                               weights=[0.6, 0.3, 0.1] if multiclass else [0.85], random_state=0)
    options = {"task": "multiclass", "num_classes": 3} if multiclass else {}
    objective = getattr(compile_metric("f1", **options), f"to_{booster}")()
    recorded, true = _recorded_and_true(booster, builtin, objective, X, y, slice(0, 1000), slice(1000, None),
                                        "multiclass" if multiclass else "binary")
    assert 0 < true < 0.5
    assert recorded == pytest.approx(true, abs=1e-6)  # XGBoost records 6 digits


@pytest.mark.parametrize("builtin", ["binary:logistic", "binary:logitraw", "multi:softmax"])
def test_eval_metric_reads_margins_of_a_direct_eval_set(builtin):
    """Booster.eval_set(evals, feval=objective.eval_metric), called directly on a model of XGBoost's own
    objective, predicts margins (its output_margin defaults to True): binary:logistic's logits were read as
    metricc's raw scores, positive from 0 instead of logit(threshold), a wrong value without a word at any
    threshold but 0.5, and multi:softmax's class margins as class indices."""
    xgboost = pytest.importorskip("xgboost")
    from sklearn.datasets import make_classification

    multiclass = builtin == "multi:softmax"
    X, y = make_classification(1500, n_informative=4, n_classes=3 if multiclass else 2,
                               weights=[0.6, 0.3, 0.1] if multiclass else [0.85], random_state=0)
    train, test = xgboost.DMatrix(X[:1000], y[:1000]), xgboost.DMatrix(X[1000:], y[1000:])
    params = {"objective": builtin, "nthread": 1, **({"num_class": 3} if multiclass else {})}
    model = xgboost.train(params, train, 20)
    margins = model.predict(test, output_margin=True)
    options = {"task": "multiclass", "num_classes": 3} if multiclass else {"threshold": 0.7}
    metric = compile_metric("f1", **options)
    predicted = margins.argmax(axis=1) if multiclass else (margins >= np.log(0.7 / 0.3)).astype(int)
    true = 1 - metric.score(predicted, y[1000:])
    assert 0 < true < 0.5
    recorded = float(model.eval_set([(test, "test")], feval=metric.to_xgboost().eval_metric).split(":")[-1])
    assert recorded == pytest.approx(true, abs=1e-6)
    objective = metric.to_xgboost()  # and a model of metricc's objective: its raw scores
    model = xgboost.train({**params, **objective.params}, train, 20, obj=objective)  # (binary:logistic: marked)
    true = 1 - metric.score(objective.predict(model.predict(test, output_margin=True)), y[1000:])
    assert 0 < true < 0.5
    recorded = float(model.eval_set([(test, "test")], feval=objective.eval_metric).split(":")[-1])
    assert recorded == pytest.approx(true, abs=1e-6)  # (XGBoost 3.4 prints six decimals)


@pytest.mark.parametrize("booster,builtin", [("xgboost", "reg:squarederror"), ("lightgbm", "regression"),
                                             ("lightgbm", None)])
def test_eval_metric_refuses_a_regression_model(booster, builtin):
    """A model trained as a regression (LightGBM's default, where params lack the objective: lgb.cv with
    objective.params alone) had its predictions read as raw scores without a word."""
    library = pytest.importorskip(booster)
    X, y = _separable()
    objective = getattr(compile_metric("f1"), f"to_{booster}")()
    with pytest.raises(MetriccError, match=rf"eval_metric.*{builtin or 'regression'}.*classif"):
        if booster == "xgboost":
            library.train({"objective": builtin, "nthread": 1}, library.DMatrix(X, y), 2,
                          custom_metric=objective.eval_metric, evals=[(library.DMatrix(X, y), "train")],
                          verbose_eval=False)
        else:
            library.cv({"verbose": -1, "num_threads": 1, **({"objective": builtin} if builtin else {})},
                       library.Dataset(X, y), 2, nfold=2, feval=objective.eval_metric)


@pytest.mark.parametrize("labels,expected", [
    ([1, -1, 1, -1], r"labels in \[0, 1\], but row 1 holds -1.*-1/1 labels.*\(y \+ 1\) / 2"),
    ([0, 1, 2, 1], r"labels in \[0, 1\], but row 2 holds 2.*class indices.*task='multiclass'"),
    ([1, 2, 2, 1], r"labels in \[0, 1\], but row 1 holds 2: for 1/2 labels pass y - 1$"),
    # (not "for class indices, compile with task='multiclass', num_classes=2": a NaN is no class)
    ([0, 1, np.nan, 1], r"labels in \[0, 1\], but row 2 holds NaN, a missing label: drop or fill it first\.$"),
    # just above 1, and fractions: no hint (fractions are no class indices)
    ([0, 1, 1.25, 0], r"labels in \[0, 1\], but row 2 holds 1\.25\.$"),
    ([0, 0.5, 1.5, 1], r"labels in \[0, 1\], but row 2 holds 1\.5\.$"),
])
@pytest.mark.parametrize("call", ["objective", "eval_metric", "evaluate"])
def test_labels_out_of_range_are_named(labels, expected, call):
    """Labels -1/1 (or class indices) given to a binary objective were refused with "Expected labels in [0, 1]."
    alone: not which value, where, or what to do. evaluate() checks them itself (the objective's call checks
    them in its count pass)."""
    objective = compile_metric("f1").to_xgboost()
    y = np.tile(np.asarray(labels, dtype=np.float32), 10)
    margins = np.linspace(-1, 1, len(y)).astype(np.float32)
    with pytest.raises(MetriccError, match=expected):
        if call == "evaluate":
            objective.evaluate(margins, y)
        else:
            objective(y, margins) if call == "objective" else objective.eval_metric(y, margins)


@pytest.mark.parametrize("call", ["objective", "gradient_and_hessian", "loss", "evaluate"])
def test_margins_and_labels_swapped_are_told_so(call):
    """objective(y_true, y_pred) takes the boosters' scikit-learn order, labels first, where loss(),
    gradient_and_hessian() and evaluate() take (margins, labels): given the other order, the error named the
    labels' range alone ("Expected labels in [0, 1], but row 0 holds -2"); now it names the swap. Margins that are
    not all 0 or 1 get no such hint."""
    objective = compile_metric("f1").to_xgboost()
    labels, margins = (np.arange(20) % 2).astype(np.float64), np.linspace(-2, 2, 20)
    first, second = (labels, margins) if call == "objective" else (margins, labels)
    method = objective if call == "objective" else getattr(objective, call)
    with pytest.raises(MetriccError, match=r"row 0 holds -2: arguments swapped\? objective\(labels, margins\) "
                                           r"takes the boosters' scikit-learn order.*\(margins, labels"):
        method(second, first)
    bad_labels, other_margins = margins, 0.3 * margins
    with pytest.raises(MetriccError, match=r"row 0 holds -2\.$"):
        method(*((bad_labels, other_margins) if call == "objective" else (other_margins, bad_labels)))


@pytest.mark.parametrize("booster", ["xgboost", "lightgbm"])
@pytest.mark.parametrize("labels,expected", [
    ("-1/1", r"row 0 holds -1: for -1/1 labels pass \(y \+ 1\) / 2$"),
    ("0/1/2", r"row 2 holds 2: for class indices, compile with task='multiclass', num_classes=3$"),
])
def test_bad_labels_in_a_boosters_first_round_get_their_own_hint(booster, labels, expected):
    """A booster's first round passes every row the same raw score, 0 (base_score 0.5), which the swap check
    took for labels: labels -1/1 or class indices given to xgboost.train or lightgbm.train were told "arguments
    swapped? objective(labels, margins) takes ...", an order the booster itself had kept, instead of what to
    do. Margins that are all one number are no sign of a swap."""
    library = pytest.importorskip(booster)
    X, y = _separable()
    y = 2 * y - 1 if labels == "-1/1" else np.arange(len(y)) % 3
    y[0] = -1 if labels == "-1/1" else 0
    objective = getattr(compile_metric("f1"), f"to_{booster}")()
    with pytest.raises(MetriccError, match=expected):
        if booster == "xgboost":
            library.train({**objective.params, "nthread": 1}, library.DMatrix(X, y), 2, obj=objective)
        else:
            library.train({"objective": objective, "verbose": -1, "num_threads": 1}, library.Dataset(X, y), 2)


def test_eval_metric_reads_xgboosts_predicted_classes():
    """multi:softmax passes an evaluation the predicted class of each row: it was refused as "no binary or
    multi-class classifier"."""
    xgb = pytest.importorskip("xgboost")
    from sklearn.datasets import make_classification

    X, y = make_classification(900, n_informative=4, n_classes=3, random_state=0)
    objective = compile_metric("f1", task="multiclass", num_classes=3).to_xgboost()
    history, data = {}, xgb.DMatrix(X[600:], y[600:])
    model = xgb.train({"objective": "multi:softmax", "num_class": 3, "nthread": 1}, xgb.DMatrix(X[:600], y[:600]), 5,
                      custom_metric=objective.eval_metric, evals=[(data, "test")], evals_result=history,
                      verbose_eval=False)
    predicted = model.predict(data).astype(int)
    want = 1 - compile_metric("f1", task="multiclass", num_classes=3).score(predicted, y[600:])
    assert 0 < want < 0.5
    assert history["test"]["1-f1"][-1] == pytest.approx(want, abs=1e-6)
    binary = compile_metric("f1").to_xgboost()
    with pytest.raises(MetriccError, match=r"'multi:softmax'.*task='multiclass'"):
        xgb.train({"objective": "multi:softmax", "num_class": 3, "nthread": 1}, xgb.DMatrix(X[:600], y[:600]), 1,
                  custom_metric=binary.eval_metric, evals=[(data, "test")], verbose_eval=False)


@pytest.mark.parametrize("booster", ["xgboost", "lightgbm"])
def test_emitted_eval_metric_reads_what_the_booster_passes(booster):
    """The emitted module's eval_metric asks the booster as the API's does."""
    pytest.importorskip(booster)
    from sklearn.datasets import make_classification

    X, y = make_classification(1500, weights=[0.85], random_state=0)
    objective = load_emitted(compile_metric("f1").emit(booster))["objective"]
    builtin = "binary" if booster == "lightgbm" else "binary:logistic"
    recorded, true = _recorded_and_true(booster, builtin, objective, X, y, slice(0, 1000), slice(1000, None))
    assert 0 < true < 0.5 and recorded == pytest.approx(true, abs=1e-6)


@pytest.mark.parametrize("labels,expected", [
    ([0, 1, 3, 2], r"class indices 0, 1, \.\.\., 2 as labels, but row 2 holds 3: .*num_classes=4"),
    ([1, 2, 3, 3], r"but row 2 holds 3: .*1 to 3.*subtract 1"),
    ([0, 1, 1.5, 2], r"but row 2 holds 1\.5"),
    ([0, -1, 1, 2], r"but row 1 holds -1"),
    ([0, 1, np.nan, 2], r"but row 2 holds NaN, a missing label: drop or fill it first\.$"),
])
def test_multiclass_labels_out_of_range_are_named(labels, expected):
    """A multi-class objective's bad label was refused with "Expected class indices 0, 1, ..., 2 as labels."
    alone: not which row, which value, or the likely cause (1-based labels, too few classes)."""
    objective = compile_metric("f1", task="multiclass", num_classes=3).to_xgboost()
    y = np.asarray(labels, dtype=np.float64)
    with pytest.raises(MetriccError, match=expected):
        objective(y, np.zeros((4, 3)))
    with pytest.raises(MetriccError, match=expected):
        objective.eval_metric(y, np.zeros((4, 3)))


def test_predict_names_the_first_nan_margin():
    """objective.predict() of margins with NaN says where the first one is and how many there are (as the
    objective's call does), not only that there is one."""
    objective = compile_metric("f1").to_xgboost()
    with pytest.raises(MetriccError, match=r"^Expected finite margins, but they hold NaN at index 2 \(2 of its 4 "):
        objective.predict(np.array([0.5, -1.0, np.nan, np.nan]))


def update(self):
    """Stands for a booster's Booster.update: returns its own frame, whose caller walk the booster's context reads."""
    return sys._getframe()


def _lightgbm_update_frame(params):
    """The frame of a LightGBM Booster.update whose booster has these parameters (update's code run with
    lightgbm.basic's module name)."""
    import types

    lightgbm_update = types.FunctionType(update.__code__, {"__name__": "lightgbm.basic", "sys": sys}, "update")
    return lightgbm_update(types.SimpleNamespace(params=params))


@pytest.mark.parametrize("params, machines", [
    ({"tree_learner": "data", "num_machines": 2}, 2),
    ({"tree_learner": "data_parallel", "num_machine": 3}, 3),  # (LightGBM's aliases of both parameters)
    ({"tree": "voting", "num_machines": "4"}, 4),
    ({"tree_type": "Voting_Parallel", "num_machines": 2}, 2),
    ({"tree_learner_type": "data", "num_machines": 5}, 5),
    ({"tree_learner": "feature", "num_machines": 2}, 1),  # each machine holds every row
    ({"tree_learner": "serial", "num_machines": 2}, 1),
    ({"num_machines": 2}, 1),  # serial by default
    ({"tree_learner": "data"}, 1),
    ({"tree_learner": "data", "num_machines": "two"}, 1),  # LightGBM itself refuses it
    ({"tree_learner": "data", "num_machines": None}, 1),
])
def test_lightgbm_machines_reads_the_row_split_learners_and_their_aliases(params, machines):
    """The number of machines whose objectives each see their own rows (the objective then warns that it cannot
    sum the counts over them) is read from the training booster's parameters under any of LightGBM's aliases:
    the data- and voting-parallel learners split the rows, the serial and feature-parallel ones do not."""
    from metricc.booster_context import lightgbm_machines

    assert lightgbm_machines(_lightgbm_update_frame(params)) == machines
    assert lightgbm_machines(update(None)) == 1  # (not LightGBM's update)
