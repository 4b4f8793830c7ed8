"""Numerical soundness and hostile input: exact float32 gradients, bounded and deterministic compilation, safe
emission, weights at the float limits, pickling. Each case is one that once gave a silently wrong number, a
hang or a raw exception."""

import copy
import functools
import io
import os
import pickle
import signal
import subprocess
import sys
import threading
import time
import tracemalloc
from fractions import Fraction

import jax
import numpy as np
import pytest
import torch

from metricc import MetriccError, compile_metric
from metricc.catalog import METRICS
from oracles import _cold_caches, answers_within, load_emitted

CATALOG = sorted(METRICS)


def _relative(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300)


def _torch_grad(module, z, y):
    x = z.clone().requires_grad_()
    module(x, y).backward()
    return x.grad


# -- 1 and 2: float32 gradients and counts ------------------------------------------------------------------------

@pytest.mark.parametrize("batch", ["no negatives", "no positives", "both"])
@pytest.mark.parametrize("n", [8, 64, 1024, 100_000])
def test_float32_gradients_equal_float64(batch, n):
    rng = np.random.default_rng(n)
    z = rng.normal(0, 2, n)
    y = {"no negatives": np.ones(n), "no positives": np.zeros(n), "both": (rng.random(n) < 0.3) * 1.0}[batch]
    zt, yt = torch.tensor(z), torch.tensor(y)
    worst = {}
    for name in CATALOG:
        metric = compile_metric(name)
        module = metric.to_torch(pure=True)
        g64 = _torch_grad(module, zt, yt).numpy()
        if not np.linalg.norm(g64) > 0:
            continue  # a flat loss (e.g. precision without predicted positives): nothing to compare
        g32 = _torch_grad(module, zt.float(), yt.float()).numpy()
        n32 = metric.loss_and_grad(z.astype(np.float32), y.astype(np.float32))[1]
        n64 = metric.loss_and_grad(z, y)[1]
        j32 = np.asarray(jax.grad(metric.to_jax())(jax.numpy.asarray(z, jax.numpy.float32),
                                                   jax.numpy.asarray(y, jax.numpy.float32)))
        worst[name] = max(_relative(g32, g64), _relative(n32, n64), _relative(j32, n64))
    assert worst and max(worst.values()) <= 1e-4, worst


@pytest.mark.parametrize("name", ["precision", "mcc", "balanced_accuracy"])
def test_float32_gradients_on_soft_targets_near_one_value_keep_what_the_readme_says(name):
    """Soft targets that all lie near one value make each sample's coefficient y a + (1 - y) b a small difference
    (0 for equal targets): README ("float32 is exact enough") says float32 then keeps it to 1.6e-3 of the largest
    gradient at a spread of 1e-4 and 2.4e-5 at 0.01 (the most over 20 draws of torch and NumPy, 1.4e-3 and 1.6e-5,
    and 10 of JAX), where it keeps 1e-6 at hard targets."""
    rng = np.random.default_rng(0)
    z = rng.normal(0, 1, 1000)
    module = compile_metric(name).to_torch(pure=True)
    for spread, bound in ((1e-4, 2e-3), (1e-2, 3e-5)):
        y = 0.3 + spread * rng.random(1000)
        g64 = _torch_grad(module, torch.tensor(z), torch.tensor(y)).numpy()
        z32, y32 = z.astype(np.float32), y.astype(np.float32)
        for g32 in (_torch_grad(module, torch.tensor(z32), torch.tensor(y32)).numpy(),
                    compile_metric(name).loss_and_grad(z32, y32)[1],
                    np.asarray(jax.grad(compile_metric(name).to_jax())(jax.numpy.asarray(z32), jax.numpy.asarray(y32)),
                               dtype=np.float64)):
            assert np.abs(g32 - g64).max() <= bound * np.abs(g64).max()


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_confident_float32_logits_keep_their_gradient(backend):
    """Logits of +-30 in float32, where sigmoid(z) rounds to 1 (or its complement to 0): the slope p (1 - p) is
    computed from sigmoid(-|z|), so their gradient (~2.5e-28) is float64's, not 0."""
    z, y = np.array([30.0, -30.0, 0.1, -0.2]), np.array([1.0, 0.0, 1.0, 0.0])
    metric = compile_metric("f1")
    if backend == "numpy":
        grad = metric.loss_and_grad(z.astype(np.float32), y.astype(np.float32))[1]
    else:
        x = torch.tensor(z, dtype=torch.float32, requires_grad=True)
        metric.to_torch(pure=True)(x, torch.tensor(y, dtype=torch.float32)).backward()
        grad = x.grad.numpy()
    expected = metric.loss_and_grad(z, y)[1]
    assert np.all(grad[:2] != 0)
    np.testing.assert_allclose(grad, expected, rtol=1e-5)


def test_balanced_accuracy_without_negatives_has_a_float32_gradient():
    z, y = torch.randn(64, generator=torch.Generator().manual_seed(0)), torch.ones(64)
    grad = _torch_grad(compile_metric("balanced_accuracy").to_torch(pure=True), z, y)
    assert grad.abs().max() > 0


@pytest.mark.parametrize("path", ["eager", "numpy", "jax"])
def test_small_counts_keep_their_digits_in_float32_at_n_1e7(path):
    n = 10_000_000
    rng = np.random.default_rng(0)
    right = rng.random(n) < 0.5
    p = np.where(right, 0.7, 0.3)  # every sample right, with a soft margin
    y, z = right.astype(np.float32), np.log(p / (1 - p)).astype(np.float32)
    metric = compile_metric("minimize: FP + FN")
    if path == "numpy":
        value, reference = metric.loss_and_grad(z, y)[0], metric.loss_and_grad(z.astype(np.float64), y)[0]
    elif path == "jax":  # float32 (without x64), against NumPy's float64
        value = float(metric.to_jax()(jax.numpy.asarray(z), jax.numpy.asarray(y)))
        reference = metric.loss_and_grad(z.astype(np.float64), y)[0]
    else:
        module = metric.to_torch(pure=True)
        value = module(torch.from_numpy(z), torch.from_numpy(y)).item()
        reference = module(torch.from_numpy(z).double(), torch.from_numpy(y).double()).item()
    assert abs(value - reference) <= 1e-3 * reference


def test_fused_and_multilabel_counts_are_accumulated_directly():
    n = 200_000
    rng = np.random.default_rng(1)
    right = rng.random(n) < 0.5
    z = torch.tensor(np.where(right, 3.0, -3.0), dtype=torch.float32)  # p = 0.95 / 0.05: 1 - yh rounds to 0
    y = torch.tensor(right, dtype=torch.float32)
    metric = compile_metric("minimize: FP + FN")
    reference = metric.to_torch(pure=True)(z.double(), y.double()).item()
    assert reference > 0
    fused = metric.to_torch(pure=True, compile=True)(z, y).item()
    assert abs(fused - reference) <= 1e-3 * reference
    multi = compile_metric("minimize: FP + FN", task="multilabel", num_classes=2, average="micro")
    zz, yy = torch.stack([z, -z], 1), torch.stack([y, 1 - y], 1)
    value = multi.to_torch(pure=True)(zz, yy).item()
    assert abs(value - multi.to_torch(pure=True)(zz.double(), yy.double()).item()) <= 1e-3 * value
    assert abs(multi.loss_and_grad(zz.numpy(), yy.numpy())[0] - value) <= 1e-3 * value


# -- 3 and 4: bounded, deterministic compilation ----------------------------------------------------------------

CHAIN = "; ".join(["a0 = TP"] + [f"a{i} = a{i - 1} + TP/(FP+{i})" for i in range(1, 100)]) + "; a99/N"
SLOW_ONCE = ["mcc+cohen_kappa+gmean+f1+balanced_accuracy+markedness", "1/((TP+FP)^1000+1)",
             "TP*(((1000^1000)^1000)^1000)", "max(markedness, cohen_kappa)", "abs(cohen_kappa) - mcc", "1/(N^15+1)",
             CHAIN, "(TP + 1e-200*FN)/(TP + FP + 1e-200)", "v = 1 + 1e-299; (v*TP + FN)/(v*TP + FP + FN)",
             "b = 1e100; (1+b^2)*TP/((1+b^2)*TP + b^2*FN + FP)", "exp(exp(1e50))*TP/N", "exp(exp(exp(9)))*TP",
             "(TP^0.5 + FP^0.3333)/N", "TP/(TP + FP^1.000001)", "TP/N + log(1 + exp(1.234567*FP/N))",
             "minimize: -exp(121753.65710383467*TN)", "v0 = exp(exp(abs(alpha))); log(sqrt((1.234567)**1.000001))",
             # an integer in an exponential's argument raises SymPy's generator (E, or exp(TN)) to it: factoring
             # exp(-59152393978883910 - TN)'s square root filled 24 GB (a parameter alpha drew that value)
             "exp(100000*TN)/N + TP/N", "sqrt(exp(-59152393978883910 - TN)) - exp(FN)", "2^(100000*TN)/N + TP/N",
             # a constant inside a sum inside an exponential's argument: SymPy's polynomials expand the argument
             # and raise exp(1/(10^6 TNR)) to 1234567; counting the generators as a dense polynomial filled 10 GB
             "log(POS - FP)*exp((prevalence + 1.234567)/abs(TNR))", "exp((TP + 1.5)*(FP + 2.25)/N)*TP/N",
             # the degree the sparse terms show does not stop these: factoring is skipped on the exponents'
             # digits alone (derive.fraction_degree: the largest over all of them, not the smallest, which is
             # sqrt's 1/2; a symbolic exponent's coefficients included)
             "sqrt(TP^0.333333333 + FN^0.77777777)/N", "sqrt(2^(0.333333333*TN) + FN)/N"]


# Four of them are large by nature, not by a blow-up: six metrics summed, a minimum and a difference of catalog
# metrics, and a hundred bindings each adding to the sum before it (quadratic in the chain's length). They take
# 0.7-1.5 s of CPU time on the development VM, and a CI machine took over 2 s for the chain three times; they get
# 6 s, four times their cost here (the minimum of catalog metrics once took 33 s). The others take under 0.4 s and
# keep 2 s, a bound that the constants once taking 6 s (test_parameters_with_many_digits_are_answered_within_2_s)
# would exceed.
LARGE_BY_NATURE = dict.fromkeys([SLOW_ONCE[0], "max(markedness, cohen_kappa)", "abs(cohen_kappa) - mcc", CHAIN], 6.0)


@pytest.mark.parametrize("formula", SLOW_ONCE, ids=lambda f: f[:30])
def test_formulas_that_hung_are_answered_in_bounded_time(formula):
    def compile_and_print():
        try:
            compile_metric(formula, L=71.5).scalars_source("numpy")
        except MetriccError:
            pass

    # CPU time: a busy machine does not make the test fail
    assert answers_within(LARGE_BY_NATURE.get(formula, 2.0), compile_and_print)


# SymPy's factoring picked random evaluation points (from an unseeded generator); with some, this formula's partial,
# a polynomial in ten generators (TP ... TN, log(FN), Max(1/2, FN), Heaviside(...), ...), did not end
MANY_GENERATORS = "v0 = -max((TP / beta), log(FN)); v1 = sqrt(max(FN, 0.5)); ((--(beta - prevalence) + v0) * v1)"


def test_a_partial_in_many_generators_is_not_factored(monkeypatch):
    """Factoring time grows steeply with the number of generators, and with unlucky random points a polynomial
    in ten of them did not finish (a formula the property tests drew hung compile_metric in one process of
    several): such a partial keeps its common-denominator form; the formula compiles and its gradient is right."""
    import sympy

    from metricc import derive

    factor = sympy.factor

    def counted_factor(expr, *args, **kwargs):
        try:  # (counted here as factor() sees them: the numerator's and denominator's together)
            generators = len(sympy.parallel_poly_from_expr(list(sympy.fraction(expr)))[1].gens)
        except sympy.PolificationFailed:  # both numbers
            generators = 0
        assert generators <= derive.FACTOR_GENERATORS_LIMIT, f"factoring {generators} generators: {expr}"
        return factor(expr, *args, **kwargs)

    monkeypatch.setattr(sympy, "factor", counted_factor)
    metric = compile_metric(MANY_GENERATORS, beta=2.0, L=70.5)  # (a key of its own: compiled here, not cached)
    z, y = np.array([0.3, -1.2, 2.0, 0.1, -0.4]), np.array([1.0, 0.0, 1.0, 1.0, 0.0])
    loss, grad = metric.loss_and_grad(z, y)
    step = 1e-6 * np.eye(5)
    numeric = [(metric.loss_and_grad(z + h, y)[0] - metric.loss_and_grad(z - h, y)[0]) / 2e-6 for h in step]
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-9)


# a formula the property tests drew: SymPy factored one of its partials (and one of its Hessian's coefficients), a
# polynomial in seven generators, in 0.04 s with three draws of evaluation points in four; with the fourth it did
# not finish in 5 s, or in minutes (sympy#20456: "dmp_zz_wang is sometimes slow")
UNLUCKY_DRAWS = "minimize: v0 = log(abs((NPV * 1.234567))); v1 = abs((FP)^2); (((1e-1 / prevalence) + v0) * v1)"


@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="needs a CPU-time alarm (POSIX)")
@pytest.mark.parametrize("state", range(4))
def test_factoring_is_bounded_whatever_sympy_random_state(state):
    """SymPy's multivariate factoring (Wang's algorithm) draws random evaluation points from SymPy's generator,
    and some draws make it run for minutes on a polynomial that others factor in milliseconds: compile_metric and
    to_xgboost hung at random on this formula. With SymPy's generator in each of four states, the formula and
    its Hessian compile within 20 s of CPU time (an alarm ends the test where they would not), to the same code
    each time, and its gradient is right."""
    import sympy

    def stop(*_):
        raise TimeoutError("compiling took more than 20 s of CPU time")

    _cold_caches()
    sympy.core.random.seed(state)
    previous = signal.signal(signal.SIGPROF, stop)
    signal.setitimer(signal.ITIMER_PROF, 20.0)
    try:
        metric = compile_metric(UNLUCKY_DRAWS, L=15.5)
        objective = metric.to_xgboost(hessian="exact")
        sources = metric.scalars_source("numpy"), metric.emit("xgboost")
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, previous)
    z, y = np.array([0.3, -1.2, 2.0, 0.1, -0.4, 0.8]), np.array([1.0, 0.0, 1.0, 1.0, 0.0, 0.0])
    loss, grad = metric.loss_and_grad(z, y)
    step = 1e-6 * np.eye(len(z))
    numeric = [(metric.loss_and_grad(z + h, y)[0] - metric.loss_and_grad(z - h, y)[0]) / 2e-6 for h in step]
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-9)
    hessian = objective.gradient_and_hessian(z, y)[1]
    numeric = [(objective.gradient_and_hessian(z + h, y)[0][i] - objective.gradient_and_hessian(z - h, y)[0][i])
               / 2e-6 for i, h in enumerate(step)]
    np.testing.assert_allclose(hessian, numeric, rtol=1e-4, atol=1e-9)
    assert FIRST_SOURCES.setdefault("sources", sources) == sources


FIRST_SOURCES = {}  # the code the first state gave


def test_factoring_that_runs_long_is_tried_with_the_next_seed(monkeypatch):
    """A try that passes FACTOR_CALLS_LIMIT calls is given up, and the next seed tried: a stand-in for SymPy's
    factor that runs long with seed 0's draws (and with seed 1's) factors with seed 2; with two tries it is given
    up (None: the partial keeps its common-denominator form); not counted, seed 0's try runs to its end."""
    import sympy
    from sympy.core.random import rng

    from metricc import derive

    unlucky = []
    for seed in (0, 1):
        rng.seed(seed)
        unlucky.append(rng.random())

    def step():
        return None

    def factor(expr):
        if rng.random() in unlucky:
            for _ in range(10 * derive.FACTOR_CALLS_LIMIT):
                step()
        return ("factored", expr)

    monkeypatch.setattr(derive.sp, "factor", factor)
    x = sympy.Symbol("x")
    assert derive._factored(x) == ("factored", x)
    monkeypatch.setattr(derive, "FACTOR_TRIES", 2)
    assert derive._factored(x) is None
    assert derive._factored(x, counted=False) == ("factored", x)  # seed 0 alone, not counted: run to its end


def test_counting_the_factoring_keeps_a_debuggers_trace_function():
    """The factoring's calls are counted by a trace function, which passes each on to the one already set (a
    debugger's, coverage's) and gives that back after; SymPy's random generator is left as it was."""
    import sympy

    from metricc import derive

    seen = []

    def outer(frame, event, arg):
        seen.append(frame.f_code.co_name)
        return None

    sympy.core.random.seed(11)
    expected = sympy.core.random.rng.random()
    sympy.core.random.seed(11)
    sys.settrace(outer)
    try:
        derive._factored(sympy.sympify("x*y*z*w*v + x*y*z*w + x*y*z*v"), counted=True)
        kept = sys.gettrace()
    finally:
        sys.settrace(None)
    assert kept is outer
    assert "dmp_zz_factor" in seen  # seen through the counting function
    assert sympy.core.random.rng.random() == expected

@pytest.mark.parametrize("extremum", ["min", "max"])
def test_a_min_of_many_values_is_compared_once(monkeypatch, extremum):
    """SymPy's Min and Max compare every pair of their arguments (factoring each difference) whenever one is
    built, and differentiating, substituting and printing built them again and again: the minimum of eight
    catalog metrics took 33 s to compile and 56 s to emit, of 15 F-scores 112 s and 207 s. Only the parser's
    Min compares them now; what is derived from it keeps its arguments."""
    from sympy.functions.elementary.miscellaneous import MinMaxBase

    compared = []
    find = MinMaxBase._find_localzeros.__func__

    def counted(cls, values, **options):
        compared.append(len(values))
        return find(cls, values, **options)

    monkeypatch.setattr(MinMaxBase, "_find_localzeros", classmethod(counted))
    formula = f"{extremum}(TPR, TNR, PPV, NPV, f1)"
    metric = compile_metric(formula, L=72.25)  # a key of its own: compiled here, not cached
    parsed = len(compared)
    assert parsed <= 2  # (the formula's Min or Max, and the loss 1 - Min)
    metric.hessians, metric.latex(), metric.emit("xgboost"), metric.emit("torch")
    assert len(compared) == parsed, compared[parsed:]
    z, y = np.array([0.3, -1.2, 2.0, 0.1, -0.4, 0.8]), np.array([1.0, 0.0, 1.0, 1.0, 0.0, 0.0])
    loss, grad = metric.loss_and_grad(z, y)
    numeric = [(metric.loss_and_grad(z + h, y)[0] - metric.loss_and_grad(z - h, y)[0]) / 2e-6
               for h in 1e-6 * np.eye(6)]
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-9)


@pytest.mark.parametrize("formula, params, refused", [
    ("fbeta", {"beta": 1e100}, None),
    ("fbeta", {"beta": 3.3e-300}, "out of range (beyond 1e300 or below 1e-300 in size) with beta = 3.3e-300"),
    ("tversky", {"alpha": 1e-299, "beta": 1.0}, None),
    ("tversky", {"alpha": 1e-299, "beta": 1e299}, None),
    ("TP*FN*b/(TP + b*FP)^2", {"b": 1e299}, "with b = 1e+299: its gradient holds a constant beyond float64's range "
                                           "(2.00E+598)"),
    ("w*TPR", {"w": 5e-324}, "parameter `w` = 4.94066e-324 is out of range (beyond 1e300 or below 1e-300 in size) "
                             "(column 1)"),  # as the constant 5e-324 written in the formula is (it had compiled)
    ("b*TP*FN/(TP+FN+b*FP)^3", {"b": 1e-200}, "with b = 1e-200: its gradient holds a constant below float64's "
                                             "normal range (3.00E-400); make its constants larger"),  # (had: beyond)
])
def test_parameters_with_many_digits_are_answered_within_2_s(formula, params, refused):
    """A parameter is an exact number as a constant written in the formula is (1e100 squared has 665 bits), and
    as bounded: SymPy's factoring of such a formula took seconds, and with beta = 3.3e-300 did not end. A
    constant the code would need beyond float64's range is refused when the formula compiles."""
    def compile_and_print():
        try:
            metric = compile_metric(formula, L=71.5, **params)
        except MetriccError as error:
            assert refused and refused in str(error)
        else:
            assert refused is None
            metric.scalars_source("numpy")
            try:  # the Hessian's constants are larger still: beta^2 = 1e598 in tversky's
                metric.to_xgboost()
            except MetriccError as error:
                assert "is too large for floating point" in str(error)

    assert answers_within(2.0, compile_and_print)


FAST_CLOCK = """
import time
for name in ("perf_counter", "monotonic", "time", "process_time"):
    real = getattr(time, name)
    setattr(time, name, lambda real=real, start=real(): start + 200 * (real() - start))
"""
PRINT_CODE = """
import hashlib
from metricc import compile_metric
from metricc.catalog import METRICS
text = "".join(compile_metric(name).scalars_source(b) for name in sorted(METRICS) for b in ("numpy", "torch", "math"))
print(hashlib.sha256(text.encode()).hexdigest())
"""


def test_compiled_code_does_not_depend_on_the_clock():
    digests = [subprocess.run([sys.executable, "-c", prefix + PRINT_CODE], capture_output=True, text=True,
                              timeout=600, check=True).stdout for prefix in ("", FAST_CLOCK)]
    assert digests[0] == digests[1] and len(digests[0].strip()) == 64


# -- 5: a slow compilation does not block a cached one -----------------------------------------------------------

def test_cached_compile_does_not_wait_for_a_slow_one():
    compile_metric("f1")
    started = threading.Event()

    def slow():
        started.set()
        compile_metric(CHAIN, L=70.25)

    thread = threading.Thread(target=slow)
    thread.start()
    started.wait()
    time.sleep(0.05)
    begin = time.perf_counter()
    compile_metric("f1")
    waited = time.perf_counter() - begin
    busy = thread.is_alive()
    thread.join()
    assert busy, "the slow compilation finished too early to tell"
    assert waited < 0.5


# -- 6: emitted modules hold only what metricc formats -----------------------------------------------------------

class _EvilStr(str):
    def __repr__(self):
        return "__import__('os').system('touch pwned_str')"

    __str__ = __repr__


class _EvilFloat(float):
    def __repr__(self):
        return "__import__('os').system('touch pwned_float')"

    __str__ = __repr__


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_subclasses_cannot_inject_code_into_emitted_modules(tmp_path, monkeypatch, backend):
    monkeypatch.chdir(tmp_path)
    for metric in (compile_metric(_EvilStr("fbeta"), beta=2.0), compile_metric("fbeta", beta=_EvilFloat(2.0))):
        source = metric.emit(backend)
        assert "pwned" not in source
        load_emitted(source)
    assert not list(tmp_path.iterdir())


def test_equal_values_share_a_cache_entry_and_still_emit_plain_literals():
    first = compile_metric("fbeta", beta=np.float64(2), L=69.5)
    second = compile_metric("fbeta", beta=2.0, L=69.5)
    assert first is second
    for settings in (dict(beta=Fraction(1, 2)), dict(beta=2, L=np.float32(50))):
        namespace = load_emitted(compile_metric("fbeta", **settings).emit("numpy"))
        assert all(type(v) is float for v in namespace["PARAMETERS"].values())


@pytest.mark.parametrize("class_weight", [[1.0, float("inf"), 1.0], [1.0, float("nan"), 1.0], "abc", [[1, 2, 3]]])
def test_class_weight_must_be_finite_numbers(class_weight):
    with pytest.raises(MetriccError, match="class_weight"):
        compile_metric("f1", task="multiclass", num_classes=3, class_weight=class_weight)


# -- 7: the scale of the weights, L at the float limit, constants that vanish ----------------------------------

def test_float32_weights_near_the_float_limit_keep_the_gradient():
    z, y = torch.randn(32, generator=torch.Generator().manual_seed(3)), torch.tensor([0.0, 1.0] * 16)
    for compiled in (False, True):
        module = compile_metric("f1").to_torch(pure=True, compile=compiled)
        expected = _torch_grad(module, z, y)
        x = z.clone().requires_grad_()
        loss = module(x, y, torch.full((32,), 1e38))
        loss.backward()
        assert torch.isfinite(x.grad).all() and _relative(x.grad, expected) < 1e-5


@pytest.mark.parametrize("scale", [1e30, 1e-30])
def test_numpy_gradient_does_not_depend_on_the_weight_scale(scale):
    rng = np.random.default_rng(4)
    z, y = rng.normal(size=32), np.tile([0.0, 1.0], 16)
    metric = compile_metric("f1", eps=0.0)
    expected = metric.loss_and_grad(z, y)[1]
    grad = metric.loss_and_grad(z, y, np.full(32, scale))[1]
    assert _relative(grad, expected) < 1e-9


def test_weighted_counts_beyond_float64_reach_are_refused():
    z, y = np.random.default_rng(5).normal(size=16), np.tile([0.0, 1.0], 8)
    with pytest.raises(MetriccError, match="scale the sample weights down"):
        compile_metric("f1").loss_and_grad(z, y, np.full(16, 1e307))
    with pytest.raises(MetriccError, match="scale the sample weights down"):
        compile_metric("f1").to_torch(pure=True)(torch.tensor(z), torch.tensor(y), torch.full((16,), 1e200,
                                                                                     dtype=torch.float64))



@pytest.mark.parametrize("task", ["binary", "multiclass", "multilabel"])
@pytest.mark.parametrize("backend", ["numpy", "torch", "jax"])
def test_weights_whose_counts_pass_max_count_are_refused_in_every_backend(task, backend):
    """Weights of 1e200 gave the torch multi-class and multi-label losses and every JAX loss (float64) a gradient
    off by 17-47 % without a word (the partials of counts of 1e200 overflow), where NumPy and the torch binary
    loss refused them; weights of 1e101 too (counts past MAX_COUNT). A multi-class batch whose third class no
    label names (its TP and FN are 0) has its largest count, not its smallest, decide."""
    rng = np.random.default_rng(6)
    options = {} if task == "binary" else {"task": task, "num_classes": 3}
    logits = rng.normal(size=16) if task == "binary" else rng.normal(size=(16, 3))
    labels = ((rng.random((16, 3)) < 0.4).astype(float) if task == "multilabel" else np.tile([0, 1], 8))
    metric = compile_metric("f1", **options)
    for scale in (1e101, 1e200):
        weights = np.full(16, scale)
        with pytest.raises(MetriccError, match="scale the sample weights down"):
            if backend == "numpy":
                metric.loss_and_grad(logits, labels, weights)
            elif backend == "torch":
                metric.to_torch(pure=True)(torch.tensor(logits), torch.tensor(labels), torch.tensor(weights))
            else:
                jax = pytest.importorskip("jax")
                with jax.enable_x64(True):
                    jnp = jax.numpy
                    metric.to_jax()(jnp.asarray(logits), jnp.asarray(labels), jnp.asarray(weights))


@pytest.mark.parametrize("L", [1e308, 1e7])
def test_an_L_that_only_overflows_is_refused(L):
    with pytest.raises(MetriccError, match="Expected argument `L` to be at most 1e\\+06"):
        compile_metric("f1", L=L)


@pytest.mark.parametrize("formula, message", [
    ("TP/(log(6)-log(2)-log(3))", "division by zero"),
    ("TP*log(0)^0", "infinite or undefined"),
    ("min(TP, sqrt(-1))", "this part of the formula is not a real number"),
    ("min(TP, log(0))", "infinite or undefined"),
    ("exp(" * 150 + "TP" + ")" * 150, "levels deep"),
    ("TP*1e300^15", "out of range"),
    ("1e300*1e300*TP", "out of range"),
    ("(FP+TP/" * 40 + "TP" + ")" * 40, "levels deep"),
])
def test_formulas_that_gave_nonsense_or_raw_exceptions(formula, message):
    with pytest.raises(MetriccError, match=message.replace("(", r"\(").replace(")", r"\)")):
        compile_metric(formula)


# -- 8: raw exceptions from arguments and devices ---------------------------------------------------------------

@pytest.mark.parametrize("kwargs", [{"beta": 10**400}, {"L": 10**400}, {"eps": 10**400}, {"beta": np.array(2.0)},
                                    {"beta": [2.0]}, {"threshold": "0.5"}, {"task": ["binary"]}])
def test_unusable_arguments_are_metricc_errors(kwargs):
    with pytest.raises(MetriccError):
        compile_metric("fbeta", **kwargs)


@pytest.mark.parametrize("task", ["binary", "multiclass"])
def test_meta_tensors_are_refused(task):
    if task == "binary":
        module = compile_metric("f1").to_torch(pure=True)
        z, y = torch.randn(4, device="meta"), torch.ones(4, device="meta")
    else:
        module = compile_metric("f1", task="multiclass", num_classes=3).to_torch(pure=True)
        z, y = torch.randn(4, 3, device="meta"), torch.ones(4, dtype=torch.long, device="meta")
    with pytest.raises(MetriccError, match="meta"):
        module(z, y)


def test_tensors_on_different_devices_are_refused():
    with pytest.raises(MetriccError, match="on one device"):
        compile_metric("f1").to_torch(pure=True)(torch.randn(4), torch.ones(4), torch.ones(4, device="meta"))


# -- 9: multi-class memory -----------------------------------------------------------------------------------------

def test_numpy_multiclass_memory_is_linear_in_the_classes():
    classes = 10_000
    metric = compile_metric("f1", task="multiclass", num_classes=classes, average="micro")
    z, y = np.zeros((4, classes)), np.array([0, 1, 2, 3])
    tracemalloc.start()
    try:
        metric.loss_and_grad(z, y)
        metric.score(y, y)
        namespace = load_emitted(metric.emit("numpy"))
        namespace["loss_and_grad"](z, y)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 50e6  # a (C, C) identity alone would be 800 MB


# -- 11: pickling ---------------------------------------------------------------------------------------------------

def test_compiled_metrics_pickle_and_deepcopy():
    for metric in (compile_metric("fbeta", beta=2.0, L=40.0), compile_metric("minimize: FP + 5*FN"),
                   compile_metric("f1", task="multiclass", num_classes=3, class_weight=[1, 2, 3])):
        assert pickle.loads(pickle.dumps(metric)) is metric
        assert copy.deepcopy(metric) is metric


class _Model(torch.nn.Module):
    def __init__(self, loss):
        super().__init__()
        self.linear = torch.nn.Linear(3, 3)
        self.loss = loss


@pytest.mark.parametrize("options", [{}, {"task": "multiclass", "num_classes": 3}])
def test_a_model_with_its_loss_saves_and_loads(options):
    model = _Model(compile_metric("fbeta", beta=2.0, **options).to_torch(pure=True))
    buffer = io.BytesIO()
    torch.save(model, buffer)
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=False)
    x = torch.randn(8, 3, generator=torch.Generator().manual_seed(0))
    if options:
        logits, y = model.linear(x), torch.tensor([0, 1, 2, 0, 1, 2, 0, 1])
    else:
        logits, y = model.linear(x)[:, 0], torch.tensor([0, 1] * 4)
    assert loaded.loss(logits, y).item() == model.loss(logits, y).item()


def test_saved_loss_loads_in_a_fresh_process(tmp_path):
    torch.save(_Model(compile_metric("mcc").to_torch(pure=True)), tmp_path / "model.pt")
    code = (f"import torch, sys; sys.path.insert(0, {os.path.dirname(__file__)!r}); import test_soundness; "
            f"m = torch.load({str(tmp_path / 'model.pt')!r}, weights_only=False); "
            "print(float(m.loss(torch.tensor([2.0, -1.0, 0.5, -3.0]), torch.tensor([1, 0, 0, 1]))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert 0 < float(out.stdout) < 2


@functools.lru_cache(maxsize=2)
def _numpy_entry_points(byte_order="="):
    """Name -> a call of a NumPy entry point (the API's, the boosters' and the emitted modules') on logits or
    margins many of which lie far out, where exp(-|x|), the slopes and their products underflow; every array in
    `byte_order` ("=": the machine's, ">": big-endian)."""
    rng = np.random.default_rng(3)
    z, y = rng.normal(0, 30, 500), (rng.random(500) < 0.3).astype(float)
    rows, classes = rng.normal(0, 30, (500, 3)), rng.integers(0, 3, 500)
    labels = (rng.random((500, 3)) < 0.3).astype(float)
    z, y, rows, classes, labels = (a.astype(a.dtype.newbyteorder(byte_order)) for a in (z, y, rows, classes, labels))
    p = 1 / (1 + np.exp(-np.clip(z, -60, 60)))
    mcc, multiclass = compile_metric("mcc"), compile_metric("f1", task="multiclass", num_classes=3)
    multilabel = compile_metric("f1", task="multilabel", num_classes=3)
    objective, exact = mcc.to_xgboost(), mcc.to_xgboost(hessian="exact")
    class_objective, label_objective = multiclass.to_xgboost(), multilabel.to_xgboost()
    emitted = {(m, b): load_emitted(m.emit(b)) for m in (mcc, multiclass) for b in ("numpy", "xgboost")}
    calls = {}
    for t in (np.float64, np.float32):
        name, t = np.dtype(t).name, np.dtype(t).newbyteorder(byte_order)
        calls[f"loss_and_grad {name}"] = lambda t=t: mcc.loss_and_grad(z.astype(t), y)
        calls[f"multiclass loss_and_grad {name}"] = lambda t=t: multiclass.loss_and_grad(rows.astype(t), classes)
        calls[f"multilabel loss_and_grad {name}"] = lambda t=t: multilabel.loss_and_grad(rows.astype(t), labels)
        calls[f"objective {name}"] = lambda t=t: objective(y, z.astype(t))
        calls[f"multiclass objective {name}"] = lambda t=t: class_objective(classes, rows.astype(t))
        calls[f"multilabel objective {name}"] = lambda t=t: label_objective(labels, rows.astype(t))
        calls[f"emitted loss_and_grad {name}"] = lambda t=t: emitted[mcc, "numpy"]["loss_and_grad"](z.astype(t), y)
        calls[f"emitted multiclass loss_and_grad {name}"] = lambda t=t: emitted[multiclass, "numpy"]["loss_and_grad"](
            rows.astype(t), classes)
        calls[f"emitted objective {name}"] = lambda t=t: emitted[mcc, "xgboost"]["objective"](y, z.astype(t))
        calls[f"emitted multiclass objective {name}"] = lambda t=t: emitted[multiclass, "xgboost"]["objective"](
            classes, rows.astype(t))
    calls.update({
        "probabilities": lambda: compile_metric("mcc", from_logits=False).loss_and_grad(p, y),
        "exact Hessian": lambda: exact(y, z),
        "gradient_and_hessian": lambda: objective.gradient_and_hessian(z, y),
        "objective loss": lambda: objective.loss(z, y),
        "evaluate": lambda: objective.evaluate(z, y),
        "eval_metric": lambda: objective.eval_metric(y, z.astype(np.float32)),
        "predict": lambda: objective.predict(z),
        "score": lambda: mcc.score((z > 0).astype(int), y.astype(int)),
        "multiclass score": lambda: multiclass.score(rows.argmax(1), classes),
        "tune_threshold": lambda: mcc.tune_threshold(z, y)})
    return calls


NUMPY_ENTRY_POINTS = ["loss_and_grad float64", "loss_and_grad float32", "multiclass loss_and_grad float64",
                      "multiclass loss_and_grad float32", "multilabel loss_and_grad float64",
                      "multilabel loss_and_grad float32", "objective float64", "objective float32",
                      "multiclass objective float64", "multiclass objective float32", "multilabel objective float64",
                      "multilabel objective float32", "emitted loss_and_grad float64", "emitted loss_and_grad float32",
                      "emitted multiclass loss_and_grad float64", "emitted multiclass loss_and_grad float32",
                      "emitted objective float64", "emitted objective float32", "emitted multiclass objective float64",
                      "emitted multiclass objective float32", "probabilities", "exact Hessian", "gradient_and_hessian",
                      "objective loss", "evaluate", "eval_metric", "predict", "score", "multiclass score",
                      "tune_threshold"]


@pytest.mark.filterwarnings("ignore::metricc.MetriccWarning")  # (margins far out on the amplifier: the test's)
@pytest.mark.parametrize("name", NUMPY_ENTRY_POINTS)
def test_numpy_paths_give_the_same_numbers_whatever_np_seterr_says(name):
    """np.seterr(all="raise") is a common guard in numerical code: the float32 losses, the exact Hessian and the
    multi-class paths raised FloatingPointError ("underflow encountered in exp") from inside metricc, where a
    slope or exp(-|x|) underflows to 0 on purpose. Every entry point ignores underflow, whatever the caller's
    setting, and gives the numbers it gives by default."""
    call = _numpy_entry_points()[name]
    expected = call()
    with np.errstate(all="raise"):
        got = call()
    flat = [np.asarray(v) for v in (got if isinstance(got, tuple) else (got,))]
    for value, want in zip(flat, expected if isinstance(expected, tuple) else (expected,)):
        np.testing.assert_array_equal(value, np.asarray(want))


@pytest.mark.filterwarnings("ignore::metricc.MetriccWarning")  # (margins far out on the amplifier: the test's)
@pytest.mark.parametrize("name", NUMPY_ENTRY_POINTS)
def test_big_endian_arrays_give_the_numbers_and_dtypes_of_native_ones(name):
    """Arrays in the other byte order (read from a file written big-endian, such as FITS or network data): a
    big-endian float32 batch was not "float32" to the kernels, so the binary and multi-class losses computed it
    in float64 and returned a float64 gradient where a float32 batch gets float32 (and float32's numbers).
    Every entry point now reads them as the same numbers in the machine's order."""
    expected, got = _numpy_entry_points("=")[name](), _numpy_entry_points(">")[name]()
    pairs = zip(*(v if isinstance(v, tuple) else (v,) for v in (got, expected)))
    for value, want in pairs:
        assert type(value) is type(want)
        value, want = np.asarray(value), np.asarray(want)
        assert value.dtype == want.dtype and value.dtype.isnative, name
        np.testing.assert_array_equal(value, want)
