"""The valid range of L: the paper's float64 table, brute-force probes of torch's sigmoid, the vanishing
gradient of a naive kernel, mixed precision, and the `metricc lrange` command."""

import math
import re
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch

from metricc import MetriccError, MetriccWarning, compile_metric
from metricc.lrange import LRange, amplifier_bound, default_accuracy, l_range, table, validate_L, verdict
from oracles import soft_counts

DECADES = [10.0**-k for k in range(1, 16)]


def _floor2(x):
    return math.floor(x * 100) / 100


def _ceil2(x):
    return math.ceil(x * 100) / 100


def test_paper_rows_float64():
    assert l_range(0.1, kernel="naive") == (5.50, 91.84)
    none = l_range(1e-16, kernel="naive")
    assert not none.valid and none.L_min > none.L_max


@pytest.mark.parametrize("backend", ["torch", "numpy"])
@pytest.mark.parametrize("t", DECADES)
def test_float64_naive_matches_the_closed_form(t, backend):
    # 1 + exp(-x) rounds to 1 in float64 once exp(-x) <= 2**-53, so the sigmoid saturates at x = 53 ln 2
    expected = (_ceil2(math.log((1 - t) / t) / (0.5 - t)), _floor2(53 * math.log(2) / (0.5 - t)))
    assert l_range(t, "float64", kernel="naive", backend=backend) == expected


def _brute_force_valid(L, t, dtype, kernel, threshold=0.5):
    """Whether no p on a fine grid of [t, 1 - t] in `dtype` loses its gradient, computed directly with torch."""
    p = torch.cat([torch.linspace(t, 1 - t, 20001, dtype=torch.float64), torch.tensor([t, 1 - t])]).to(dtype)
    if kernel == "naive":
        yh = torch.sigmoid((p - threshold) * L)
        return bool(((yh > 0) & (yh < 1)).all())
    u = (p.float() - threshold) * L
    return bool((torch.sigmoid(u) * torch.sigmoid(-u) > 0).all())


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
@pytest.mark.parametrize("kernel", ["naive", "metricc"])
@pytest.mark.parametrize("t, threshold", [(0.1, 0.5), (0.01, 0.5), (1e-3, 0.5), (0.05, 0.3), (0.05, 0.8)])
def test_upper_bound_agrees_with_a_brute_force_probe(dtype, kernel, t, threshold):
    L_max = l_range(t, str(dtype), threshold=threshold, kernel=kernel).L_max
    assert _brute_force_valid(L_max, t, dtype, kernel, threshold)
    assert not _brute_force_valid(L_max + 0.01, t, dtype, kernel, threshold)


def _numpy_brute_force_valid(L, t, dtype, kernel, threshold=0.5):
    """_brute_force_valid for NumPy: the sigmoid as NumPy computes it in `dtype` (naive), or the slope
    sigmoid(u) sigmoid(-u) with u in float32 for float32 and float64 otherwise (metricc's NumPy kernel)."""
    p = np.concatenate([np.linspace(t, 1 - t, 20001), [t, 1 - t]]).astype(dtype)
    with np.errstate(over="ignore", under="ignore"):
        if kernel == "naive":
            yh = 1 / (1 + np.exp(-(p - p.dtype.type(threshold)) * p.dtype.type(L)))
            return bool(((yh > 0) & (yh < 1)).all())
        u = (p.astype(np.float32 if dtype == "float32" else np.float64) - threshold) * L
        return bool((1 / (1 + np.exp(-u)) * (1 / (1 + np.exp(u))) > 0).all())


@pytest.mark.parametrize("dtype", ["float32", "float16"])
@pytest.mark.parametrize("kernel", ["naive", "metricc"])
@pytest.mark.parametrize("t, threshold", [(0.1, 0.5), (1e-3, 0.5), (0.05, 0.3), (0.05, 0.8)])
def test_numpy_upper_bound_agrees_with_a_brute_force_probe(dtype, kernel, t, threshold):
    """The NumPy backend's L_max, measured at the interval's two ends, holds on a fine grid of it and 0.01 above
    it does not: the end nearer the threshold cannot hide the other (asymmetric thresholds)."""
    L_max = l_range(t, dtype, threshold=threshold, kernel=kernel, backend="numpy").L_max
    assert _numpy_brute_force_valid(L_max, t, dtype, kernel, threshold)
    assert not _numpy_brute_force_valid(L_max + 0.01, t, dtype, kernel, threshold)


def test_a_range_holds_its_ends_and_the_default_accuracy_holds_the_threshold():
    """L_min and L_max are themselves valid; a range with L_min = L_max is valid; the default accuracy is 0.01,
    or half the distance from the threshold to 0 or 1 where that is less."""
    valid = l_range(0.1)
    assert valid.L_min in valid and valid.L_max in valid
    assert valid.L_min - 0.01 not in valid and valid.L_max + 0.01 not in valid
    assert LRange(2.0, 2.0).valid and 2.0 in LRange(2.0, 2.0)
    assert [default_accuracy(t) for t in (0.5, 0.01, 0.99, 0.03)] == pytest.approx([0.01, 0.005, 0.005, 0.01])


def test_lower_bound_is_the_amplifier_condition():
    for t, threshold in [(0.1, 0.5), (0.05, 0.3), (0.2, 0.7)]:
        L = amplifier_bound(t, threshold)
        A = lambda p, L=L: 1 / (1 + math.exp(-L * (p - threshold)))  # noqa: E731
        assert A(t) == pytest.approx(t) or A(t) < t
        assert A(1 - t) >= 1 - t - 1e-12
        assert min(t - A(t), A(1 - t) - (1 - t)) == pytest.approx(0, abs=1e-12)
        assert l_range(t, threshold=threshold).L_min == _ceil2(L)


@pytest.mark.parametrize("accuracy", [1e-309, 1e-320, 5e-324])
def test_a_subnormal_accuracy_has_a_finite_lower_bound(accuracy):
    """An accuracy below ~5.6e-309 (a subnormal number) made (1 - t) / t overflow to inf: `l_range` and `metricc
    lrange --accuracy 1e-320` raised OverflowError from math.ceil. The log-odds log(1 - t) - log(t) stay finite
    (744.4 at the smallest float), and L_min is twice them, as for any t at the threshold 1/2."""
    L = amplifier_bound(accuracy)
    assert L == pytest.approx(2 * (math.log1p(-accuracy) - math.log(accuracy)), rel=1e-15)
    for dtype in ("float64", "float32"):
        valid = l_range(accuracy, dtype)
        assert valid.L_min == _ceil2(L) and not valid.valid  # no L keeps a gradient at p = t there
    shown = repr(accuracy)  # as written (1e-320), not 9.999888672e-321: the digits of a subnormal's error
    assert f"p in [{shown}, 1 - {shown}]" in table(accuracy, ["float64"])
    with pytest.warns(MetriccWarning, match=re.escape(f"for p in [{shown}, 1 - {shown}]: none")):
        validate_L(500, accuracy=accuracy, dtype="float64")


def test_a_huge_lower_bound_prints_in_a_few_digits():
    """At a threshold of 1e-300 L_min is 1.38e+303: the table printed it with two decimals, 305 digits a row."""
    valid = l_range(5e-301, threshold=1e-300)
    assert str(valid).startswith("none (L_min 1.38e+303 > L_max ")
    assert max(map(len, table(5e-301, threshold=1e-300).splitlines())) < 120
    assert "(L_min 1.38e+303 > L_max " in verdict(5.0, 5e-301, "float64", threshold=1e-300)
    assert str(l_range(0.1)) == "5.50 <= L <= 1774.45"  # (two decimals below 1e6)


@pytest.mark.parametrize("threshold", [1e-310, 1e-323])
def test_a_subnormal_threshold_leaves_no_valid_L_and_says_so(threshold):
    """At a subnormal threshold L_min = log-odds / (threshold - t) overflows: `l_range`, `metricc lrange --threshold
    1e-310` and a loss compiled with that threshold raised OverflowError from math.ceil. No L is valid there."""
    accuracy = default_accuracy(threshold)
    valid = l_range(accuracy, "float64", threshold=threshold)
    assert valid.L_min == math.inf and not valid.valid
    assert "none (L_min inf > L_max 709.78)" in table(accuracy, ["float64"], threshold=threshold)
    out = subprocess.run([sys.executable, "-m", "metricc", "lrange", "--threshold", repr(threshold)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "none (L_min inf > L_max " in out.stdout, out.stderr
    loss = compile_metric("f1", threshold=threshold)
    with pytest.warns(MetriccWarning, match="no L is valid"):
        value, _ = loss.loss_and_grad(np.array([0.3, -2.0]), np.array([1.0, 0.0]))
    assert math.isfinite(value)


def test_a_threshold_with_no_float_below_it_is_refused_by_name():
    """At the smallest float, 5e-324, the default accuracy (half the threshold) is 0: compile_metric took it and
    its first call, like `metricc lrange --threshold 5e-324`, blamed an `accuracy` the user never gave."""
    words = "no float lies between it and 0"
    with pytest.raises(MetriccError, match=f"argument `threshold`.*{words}"):
        compile_metric("f1", threshold=5e-324)
    with pytest.raises(MetriccError, match=f"argument `threshold`.*{words}"):
        l_range(1e-324, threshold=5e-324)
    out = subprocess.run([sys.executable, "-m", "metricc", "lrange", "--threshold", "5e-324"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 1 and "option --threshold" in out.stderr and words in out.stderr, out.stderr


def test_float32_naive_gradient_vanishes_but_metricc_does_not():
    p = torch.tensor([0.9, 0.3, 0.6, 0.45], dtype=torch.float64)
    z64 = torch.log(p / (1 - p))
    y = torch.tensor([1.0, 0.0, 1.0, 0.0])
    # the naive way: autograd through sigmoid and 1 - sigmoid, in float32
    z = z64.float().requires_grad_(True)
    TP, FP, FN, TN = soft_counts(z, y)
    (1 - 2 * TP / (2 * TP + FP + FN)).backward()
    assert z.grad[0].item() == 0.0
    # metricc's kernel in float32, against float64
    loss_fn = compile_metric("f1", L=73.0).to_torch(pure=True)
    grads = {}
    for dtype in (torch.float32, torch.float64):
        x = z64.to(dtype).requires_grad_(True)
        loss_fn(x, y.to(dtype)).backward()
        grads[dtype] = x.grad
    assert grads[torch.float32][0].item() != 0.0
    # (abs=0: the gradient, 3.4e-13, lies below approx's default absolute tolerance of 1e-12)
    assert grads[torch.float32][0].item() == pytest.approx(grads[torch.float64][0].item(), rel=1e-4, abs=0)


def test_autocast_bfloat16_trains_with_float32_counts():
    torch.manual_seed(0)
    X = torch.randn(512, 4)
    y = (X[:, 0] + 0.5 * X[:, 1] + 0.3 * torch.randn(512) > 1.0).float()
    model = torch.nn.Linear(4, 1)
    loss_fn = compile_metric("f1").to_torch(pure=True)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    losses = []
    for _ in range(30):
        optimizer.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            logits = model(X).squeeze(1)
            assert logits.dtype == torch.bfloat16
            loss = loss_fn(logits, y)
            counts = loss_fn.counts(logits, y)
        assert loss.dtype == torch.float32 and all(c.dtype == torch.float32 for c in counts)
        logits.retain_grad()
        loss.backward()
        assert logits.grad.dtype == torch.bfloat16
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] - 0.1


def test_validate_L_warns_for_73_in_float16_naive():
    valid = l_range(0.01, "float16", kernel="naive")
    with pytest.warns(MetriccWarning, match=f"valid range for float16 with the naive kernel.*{valid}"):
        validate_L(73.0, "float16", kernel="naive")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        validate_L(73.0, torch.float16, kernel="metricc")


@pytest.mark.parametrize("L", [0.0, -3.0, float("nan"), float("inf"), True, "73", None])
def test_validate_L_rejects_non_positive_and_non_finite(L):
    with pytest.raises(MetriccError, match="Expected argument `L` to be a positive float"):
        validate_L(L, "float32")


def test_validate_L_says_where_no_L_is_valid():
    """Where L_min > L_max no L is valid, and the warning says so rather than call L too small or too large."""
    empty = l_range(0.01, "float32", threshold=0.05)
    assert not empty.valid
    for L in (1.0, 100.0, 1e4):
        with pytest.warns(MetriccWarning, match=r"none \(L_min .* > L_max .*\); no L is valid$"):
            validate_L(L, "float32", threshold=0.05)


def test_losses_validate_L_for_the_dtype_in_use():
    metric = compile_metric("f1", L=400.0)  # beyond even metricc's float32 bound
    with pytest.warns(MetriccWarning, match="float32"):
        metric.to_torch(pure=True)(torch.zeros(3), torch.tensor([0, 1, 1]))
    with pytest.warns(MetriccWarning, match="float32"):
        metric.loss_and_grad(np.zeros(3, dtype=np.float32), np.array([0, 1, 1]))


@pytest.mark.parametrize("kwargs, message", [
    ({"accuracy": 0.6}, "Expected argument `accuracy`"),
    # at or below 0 (the bound's log(accuracy) had raised math's "math domain error")
    ({"accuracy": 0}, r"Expected argument `accuracy` to be a float in \(0, 0.5\) .*, but got 0\."),
    ({"accuracy": -0.1}, r"Expected argument `accuracy` to be a float in \(0, 0.5\) .*, but got -0.1\."),
    ({"accuracy": 0.1, "dtype": "int8"}, "Expected argument `dtype`"),
    ({"accuracy": 0.1, "kernel": "fast"}, "Expected argument `kernel`"),
    # an array had raised NumPy's "truth value of an array ... is ambiguous"
    ({"accuracy": 0.1, "kernel": np.array([0.5, 0.5])}, "Expected argument `kernel` to be one of "
                                                         r"\['naive', 'metricc'\], but got a value of type ndarray"),
    ({"accuracy": 0.1, "dtype": "bfloat16", "backend": "numpy"}, "numpy backend has no bfloat16"),
    # 1 - 0.99 is 0.010000000000000009, so 0.01 passed the check, and 1 - 0.01 - 0.99 divided by zero
    ({"accuracy": 0.01, "threshold": 0.99}, r"Expected argument `accuracy` to be a float in \(0, 0.01\)"),
    ({"accuracy": 0.3, "threshold": 0.7}, r"Expected argument `accuracy` to be a float in \(0, 0.3\)"),
    # above a threshold below 0.5 (its complement holds the threshold: only the first condition refuses it)
    ({"accuracy": 0.4, "threshold": 0.3}, r"Expected argument `accuracy` to be a float in \(0, 0.3\)"),
    # at a threshold below 0.5 (the bound divides by threshold - accuracy)
    ({"accuracy": 0.3, "threshold": 0.3}, r"Expected argument `accuracy` to be a float in \(0, 0.3\)"),
    # a threshold at either end is the threshold's mistake, not the accuracy's
    ({"accuracy": 0.1, "threshold": 0}, r"Expected argument `threshold` to be a float in \(0, 1\), but got 0"),
    ({"accuracy": 0.1, "threshold": 1.0}, r"Expected argument `threshold` to be a float in \(0, 1\), but got 1.0"),
])
def test_l_range_argument_errors(kwargs, message):
    with pytest.raises(MetriccError, match=message):
        l_range(**kwargs)


@pytest.mark.parametrize("kernel", ["naive", "metricc"])
def test_an_interval_close_to_the_threshold_keeps_the_gradient_for_every_L(kernel):
    """p in [0.4999999, 0.5000001] rounds to 0.5 in float16: no L rounds the slope there to 0, so the range has
    no upper end; rounding that infinite end raised OverflowError (a traceback from `metricc lrange --accuracy
    0.4999999`). In float32 and float64 the end is finite and large."""
    valid = l_range(0.4999999, "float16", kernel=kernel)
    assert valid.L_max == math.inf and valid.L_min == pytest.approx(amplifier_bound(0.4999999), abs=0.01)
    assert str(valid).endswith("<= L <= inf") and 1e30 in valid
    assert 1e7 < l_range(0.4999999, "float32", kernel=kernel).L_max < math.inf
    assert "p in [0.4999999, 0.5000001]" in table(0.4999999)  # the table `metricc lrange` prints
    assert "p in [1e-12, 1 - 1e-12]" in table(1e-12, ["float64"])  # (not [1e-12, 1])


def test_cli_lrange_table():
    def rows(*options):
        out = subprocess.run([sys.executable, "-m", "metricc", "lrange", "--accuracy", "0.1", *options],
                             capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr
        return {line.split()[0]: line for line in out.stdout.splitlines()[3:]}

    every = rows()
    assert set(every) == {"float64", "float32", "float16", "bfloat16"}
    assert every["float64"].startswith("float64    5.50 <= L <= 91.84")
    assert rows("--dtype", "float16") == {"float16": every["float16"]}  # that type alone


def test_cli_lrange_plot(tmp_path):
    import matplotlib.image

    path = tmp_path / "lrange.png"
    out = subprocess.run([sys.executable, "-m", "metricc", "lrange", "--dtype", "float32", "--plot", str(path),
                          "--L", "73"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = matplotlib.image.imread(path)
    assert image.shape[0] > 100 and image.shape[1] > 100


def test_cli_lrange_plot_draws_the_L_given(tmp_path):
    """--plot draws the L of --L (73 where none is given): the legends of both panels name it."""
    for given, drawn in ((["--L", "50"], "50"), ([], "73")):
        path = tmp_path / f"lrange{drawn}.svg"
        out = subprocess.run([sys.executable, "-m", "metricc", "lrange", "--dtype", "float32", "--backend", "numpy",
                              "--plot", str(path), *given], capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr
        assert re.findall(r"L = [0-9.]+", path.read_text()) == [f"L = {drawn}"] * 2


def test_l_range_and_validate_L_default_to_the_same_kernel():
    assert validate_L(73.0, "float32") == l_range(0.01, "float32") == l_range(0.01, "float32", kernel="metricc")


@pytest.mark.parametrize("L", [-5.0, 0.0, float("nan"), float("inf")])
def test_plot_refuses_an_L_that_is_not_a_positive_number(tmp_path, L):
    """`metricc lrange --plot FILE --L -5` drew a decreasing "amplifier" without a word."""
    from metricc.lrange import plot

    with pytest.raises(MetriccError, match="Expected argument `L` to be a positive float"):
        plot(str(tmp_path / "bands.png"), L)
    assert not (tmp_path / "bands.png").exists()


@pytest.mark.parametrize("L, dtype, threshold, words", [
    (73, "float32", 0.5, ("valid", "too large")), (5, torch.float32, 0.5, ("too small", "too small")),
    (5000, np.float64, 0.5, ("too large", "too large")), (30, "float32", 0.05, (None, None)),
])
def test_verdict_says_whether_L_is_valid_and_why_not(L, dtype, threshold, words):
    """What `metricc lrange --L` prints, per type: valid, too small or too large against each kernel's range, or
    no range at all (None), with what would give one."""
    parts = []
    for kernel, name, word in zip(("metricc", "naive"), ("metricc's kernel", "a naive sigmoid"), words):
        valid = l_range(0.01, dtype, threshold=threshold, kernel=kernel)
        assert valid.valid == (word is not None)
        parts.append(f"{word} for {name} ({valid})" if word else
                     f"no L is valid for {name} (L_min {valid.L_min:.2f} > L_max {valid.L_max:.2f})")
    hint = "" if all(words) else " (for some L: a larger accuracy, or a threshold nearer 0.5)"
    name = str(dtype).removeprefix("torch.") if isinstance(dtype, (str, torch.dtype)) else np.dtype(dtype).name
    assert verdict(L, 0.01, dtype, threshold=threshold) == f"L = {L:g} in {name}: " + "; ".join(parts) + hint


@pytest.mark.parametrize("call", [lambda: l_range(0.01, "float8"), lambda: l_range(0.01, object()),
                                  lambda: verdict(0, 0.01, "float32"), lambda: verdict(math.inf, 0.01, "float32")])
def test_a_bad_dtype_or_L_is_refused(call):
    with pytest.raises(MetriccError, match=r"Expected argument `(dtype` to be one of \['float64'|L` to be a positive)"):
        call()


@pytest.mark.parametrize("number", [np.float64, np.float32, lambda v: torch.tensor(v, dtype=torch.float64)])
def test_numpy_and_torch_scalars_are_numbers_here_as_in_compile_metric(number):
    """compile_metric took L = np.int64(20) (from np.arange over a grid of L), np.float32 and 0-d tensors, but
    validate_L, l_range and verdict refused them as not a float: one check of a number for all."""
    L, accuracy, threshold = number(20), number(0.0625), number(0.375)  # exact in float32 too
    expected = l_range(0.0625, "float32", threshold=0.375)
    assert l_range(accuracy, "float32", threshold=threshold) == expected
    assert validate_L(L, "float32", accuracy=accuracy, threshold=threshold) == expected
    assert verdict(L, accuracy, "float32", threshold=threshold) == verdict(20.0, 0.0625, "float32", threshold=0.375)
    assert validate_L(np.int64(20), "float64") == validate_L(20, "float64")


@pytest.mark.parametrize("call, name", [(lambda: validate_L(np.bool_(True)), "L"),
                                        (lambda: l_range(np.array([0.1, 0.2])), "accuracy"),
                                        (lambda: l_range(0.1, threshold="0.5"), "threshold"),
                                        (lambda: verdict("73", 0.01, "float32"), "L")])
def test_what_is_not_one_number_is_still_refused(call, name):
    with pytest.raises(MetriccError, match=f"Expected argument `{name}` to be a"):
        call()


def test_plot_draws_the_amplifier_and_each_dtype_band(tmp_path, monkeypatch):
    """What the plot draws: A(p) = sigmoid(L (p - threshold)) over [0, 1] on the left; on the right each dtype's
    L_max (per kernel) against accuracy levels that end below the threshold's distance to 0 or 1, and L."""
    pytest.importorskip("matplotlib")
    from metricc import lrange

    drawn = []
    monkeypatch.setattr(lrange, "_save", lambda figure, path: drawn.append(figure))
    lrange.plot("unused.png", 40.0, threshold=0.3, backend="numpy")
    left, right = drawn[0].axes
    p, amplified = left.lines[0].get_data()
    assert p[0] == 0 and p[-1] == 1 and len(p) == 1001
    assert np.allclose(amplified, 1 / (1 + np.exp(-40.0 * (p - 0.3))), rtol=1e-12, atol=0)
    bands = {line.get_label(): line.get_data() for line in right.lines}
    accuracies, upper = bands["L_max float32 (metricc)"]
    assert accuracies[0] == pytest.approx(1e-16, abs=0) and accuracies[-1] == pytest.approx(0.3 * 10 ** -0.05)
    middle = len(accuracies) // 2
    assert upper[middle] == l_range(float(accuracies[middle]), "float32", threshold=0.3, backend="numpy").L_max
    assert right.lines[-1].get_ydata()[0] == 40.0


def test_plot_to_a_file_name_without_a_suffix_writes_png(tmp_path):
    pytest.importorskip("matplotlib")
    from metricc.lrange import plot

    plot(str(tmp_path / "bands"), 73.0)
    assert (tmp_path / "bands").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_reads_the_suffix_in_any_case(tmp_path):
    """`--plot bands.PNG` (and .Svg) writes that format: matplotlib names its formats in lower case only."""
    pytest.importorskip("matplotlib")
    from metricc.lrange import plot

    plot(str(tmp_path / "bands.PNG"), 73.0, backend="numpy")
    plot(str(tmp_path / "bands.Svg"), 73.0, backend="numpy")
    assert (tmp_path / "bands.PNG").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"<svg" in (tmp_path / "bands.Svg").read_bytes()[:1000]
