"""Which amplifying scales L are valid for a floating-point type, a decision threshold and an accuracy level.

For probabilities p in [t, 1 - t] the amplifier A(p) = sigmoid(L * (p - threshold)) must
* amplify: A(t) <= t and A(1 - t) >= 1 - t, a lower bound on L in closed form; and
* keep a gradient: the factor A(p) (1 - A(p)) must not round to 0, an upper bound on L that depends on how the
  backend evaluates the sigmoid in that type. It is measured here, by bisection on L at the two ends of the
  interval, with the backend's own sigmoid (kernel "naive": `sigmoid(u)` and `1 - sigmoid(u)` in the type) or
  metricc's own kernel (kernel "metricc": `sigmoid(u) * sigmoid(-u)` in float32 or float64).
"""

from __future__ import annotations

import functools
import importlib
import io
import math
import warnings
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .backends import DTYPES
from .backends import backend as backend_named
from .errors import MetriccError, MetriccWarning
from .checks import caller_level, describe, real_number, threshold_value

KERNELS = ("naive", "metricc")
DEFAULT_ACCURACY = 0.01


class LRange(NamedTuple):
    """The valid amplifying scales: L_min <= L <= L_max (none when L_min > L_max)."""

    L_min: float
    L_max: float

    @property
    def valid(self) -> bool:
        """Whether any L is valid."""
        return self.L_min <= self.L_max

    def __contains__(self, L) -> bool:
        return self.L_min <= L <= self.L_max

    def __str__(self) -> str:
        if not self.valid:
            return f"none (L_min {_shown(self.L_min)} > L_max {_shown(self.L_max)})"
        return f"{_shown(self.L_min)} <= L <= {_shown(self.L_max)}"


def _shown(L: float) -> str:
    """An end of a range as the table prints it: two decimals, or three digits past 1e6 (a threshold of 1e-300 has
    an L_min of 1.38e+304, which took 305 digits)."""
    return f"{L:.2f}" if L < 1e6 else f"{L:.3g}"


def l_range(accuracy: float, dtype: str = "float64", *, threshold: float = 0.5, kernel: str = "metricc",
            backend: str = "torch") -> LRange:
    """The valid range of L for probabilities in [accuracy, 1 - accuracy], rounded to two decimals (L_min up,
    L_max down), with the upper bound measured on `backend`'s sigmoid in `dtype` for `kernel`."""
    dtype = dtype_name(dtype)
    accuracy, threshold = _check(accuracy, threshold, kernel, backend, dtype)
    return _l_range(accuracy, dtype, threshold, kernel, backend)


def default_accuracy(threshold: float) -> float:
    """DEFAULT_ACCURACY, or half the distance from the threshold to 0 or 1 where that is less: [t, 1 - t] then
    holds the threshold."""
    return min(DEFAULT_ACCURACY, threshold / 2, (1 - threshold) / 2)


def amplifier_bound(accuracy: float, threshold: float = 0.5) -> float:
    """The smallest L for which A(t) <= t and A(1 - t) >= 1 - t (closed form, not rounded)."""
    log_odds = math.log1p(-accuracy) - math.log(accuracy)  # (1 - t) / t overflows for a subnormal t
    return max(log_odds / (threshold - accuracy), log_odds / (1 - accuracy - threshold))


def validate_L(L: float, dtype: str = "float64", *, accuracy: float = DEFAULT_ACCURACY, threshold: float = 0.5,
               kernel: str = "metricc", backend: str = "torch") -> LRange:
    """Raise for an L that is not a positive finite number; warn (MetriccWarning) when L is outside its valid
    range for `dtype`; return that range."""
    L = _check_L(L)
    dtype = dtype_name(dtype)
    valid = l_range(accuracy, dtype, threshold=threshold, kernel=kernel, backend=backend)
    if L not in valid:
        why = ("no L is valid" if not valid.valid else
               "it does not amplify every p in that interval" if L < valid.L_min else
               "the gradient of samples near 0 or 1 rounds to zero")
        warnings.warn(f"L = {L:g} is outside the valid range for {dtype} with the {kernel} kernel for p in "
                      f"{_interval(accuracy)}: {valid}; {why}", MetriccWarning,
                      stacklevel=caller_level())
    return valid


def dtype_name(dtype) -> str:
    """'float32' for "float32", numpy.float32 or torch.float32."""
    name = str(dtype).removeprefix("torch.")
    if name not in DTYPES:
        try:
            name = np.dtype(dtype).name
        except (TypeError, ValueError):
            pass
    if name not in DTYPES:
        raise MetriccError(f"Expected argument `dtype` to be one of {list(DTYPES)}, but got {dtype!r}.")
    return name


def _check(accuracy, threshold, kernel, backend, dtype) -> tuple[float, float]:
    """The accuracy and threshold as plain floats (any real number type is one), checked with the rest."""
    threshold = threshold_value(threshold, MetriccError)
    # the interval [accuracy, 1 - accuracy] must hold the threshold strictly, as amplifier_bound computes it
    expected = f"a float in (0, {min(threshold, 1 - threshold):g}) (below the threshold and its complement)"
    number = real_number("argument `accuracy`", accuracy, expected, MetriccError)
    if not (0 < number and threshold - number > 0 and 1 - number - threshold > 0):
        raise MetriccError(f"Expected argument `accuracy` to be {expected}, but got {accuracy!r}.")
    if not isinstance(kernel, str) or kernel not in KERNELS:
        raise MetriccError(f"Expected argument `kernel` to be one of {list(KERNELS)}, but got {describe(kernel)}.")
    dtypes = backend_named(backend, probed=True).dtypes
    if dtype not in dtypes:
        raise MetriccError(f"the {backend} backend has no {dtype} (it has {', '.join(dtypes)}): use another backend.")
    return number, threshold


@functools.lru_cache(maxsize=1024)
def _l_range(accuracy: float, dtype: str, threshold: float, kernel: str, backend: str) -> LRange:
    module, _, name = backend_named(backend, probed=True).probe.partition(":")
    probe = getattr(importlib.import_module(module), name)
    keeps_gradient = probe(dtype, kernel, threshold, (accuracy, 1 - accuracy))
    L_max = _largest_valid(keeps_gradient)  # inf where no L rounds the slope to 0 (p close to the threshold)
    L_min = amplifier_bound(accuracy, threshold)  # inf at a subnormal threshold: no L is valid there
    return LRange(math.ceil(round(L_min * 100, 9)) / 100 if L_min < math.inf else L_min,
                  math.floor(round(L_max * 100, 9)) / 100 if L_max < math.inf else L_max)


def _largest_valid(keeps_gradient) -> float:
    """The supremum of the L that keep the gradient, by doubling then bisection (valid L form an interval)."""
    low, high = 0.0, 1.0
    while keeps_gradient(high):
        low, high = high, high * 2
        if high > 1e12:
            return math.inf
    for _ in range(100):
        middle = (low + high) / 2
        if keeps_gradient(middle):
            low = middle
        else:
            high = middle
    return low


def torch_probe(dtype: str, kernel: str, threshold: float, ends: tuple[float, float]):
    """keeps_gradient(L): whether torch's sigmoid (naive) or metricc's torch kernel keeps a non-zero slope at both
    ends in `dtype`."""
    import torch

    from . import torch_kernel

    p = torch.tensor(ends, dtype=torch.float64, device="cpu").to(getattr(torch, dtype))  # (not the default device)

    def keeps_gradient(L: float) -> bool:
        if kernel == "naive":
            yh = torch.sigmoid((p - threshold) * L)
            return bool(((yh > 0) & (yh < 1)).all())
        u = (p.to(torch_kernel._accumulation_dtype(p)) - threshold) * L
        return bool((torch_kernel.slope_(u) > 0).all())

    return keeps_gradient


def numpy_probe(dtype: str, kernel: str, threshold: float, ends: tuple[float, float]):
    """keeps_gradient(L) for NumPy's sigmoid (naive) or metricc's NumPy kernel."""
    from .numpy_kernel import small_sigmoid

    p = np.array(ends, dtype=dtype)

    def keeps_gradient(L: float) -> bool:
        with np.errstate(over="ignore", under="ignore"):
            if kernel == "naive":
                yh = 1 / (1 + np.exp(-(p - p.dtype.type(threshold)) * p.dtype.type(L)))
                return bool(((yh > 0) & (yh < 1)).all())
            u = (p.astype(np.float32 if dtype == "float32" else np.float64) - threshold) * L  # as the kernel does
            v = small_sigmoid(u, out=np.empty_like(u))
            return bool((v * (1 - v) > 0).all())

    return keeps_gradient


def _interval(accuracy: float) -> str:
    """[t, 1 - t] in few digits: 1e-320, not 9.999888672e-321; 1 - t where it rounds to 1."""
    lower = min(f"{accuracy:.10g}", repr(float(accuracy)), key=len)
    upper = f"{1 - accuracy:.10g}"
    return f"[{lower}, {f'1 - {lower}' if upper == '1' else upper}]"


def table(accuracy: float, dtypes=DTYPES, *, threshold: float = 0.5, backend: str = "torch") -> str:
    """A text table of the valid L for each dtype, for the naive kernel and metricc's."""
    rows = [f"Valid L for p in {_interval(accuracy)}, threshold {threshold:g}, measured on {backend}:",
            "", f"{'dtype':<10} {'naive sigmoid':<34} metricc kernel"]
    for dtype in dtypes:
        ranges = [l_range(accuracy, dtype, threshold=threshold, kernel=k, backend=backend) for k in KERNELS]
        rows.append(f"{dtype:<10} {str(ranges[0]):<34} {str(ranges[1])}")
    return "\n".join(rows)


def verdict(L: float, accuracy: float, dtype: str, *, threshold: float = 0.5, backend: str = "torch") -> str:
    """One line: whether `L` is valid in `dtype` for metricc's kernel and for a naive sigmoid, and if not, why."""
    L = _check_L(L)
    parts = []
    for kernel, name in (("metricc", "metricc's kernel"), ("naive", "a naive sigmoid")):
        valid = l_range(accuracy, dtype, threshold=threshold, kernel=kernel, backend=backend)
        if not valid.valid:
            parts.append(f"no L is valid for {name} ({str(valid).removeprefix('none (')}")
            continue
        word = "valid" if L in valid else "too small" if L < valid.L_min else "too large"
        parts.append(f"{word} for {name} ({valid})")
    empty = any(part.startswith("no L") for part in parts)
    hint = " (for some L: a larger accuracy, or a threshold nearer 0.5)" if empty else ""
    return f"L = {L:g} in {dtype_name(dtype)}: " + "; ".join(parts) + hint


def _check_L(L: float) -> float:
    """L as a plain float (any real number type is one), refused unless positive and finite."""
    number = real_number("argument `L`", L, "a positive float", MetriccError)
    if not 0 < number < math.inf:
        raise MetriccError(f"Expected argument `L` to be a positive float, but got {L!r}.")
    return number


def plot(path: str, L: float, *, threshold: float = 0.5, backend: str = "torch") -> None:
    """Draw A(p) for `L` beside the identity, and the valid band of L per dtype against the accuracy level."""
    L = _check_L(L)
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise MetriccError("plotting needs matplotlib: pip install 'metricc[plot]'") from None
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5))
    p = np.linspace(0, 1, 1001)
    left.plot(p, 1 / (1 + np.exp(-L * (p - threshold))), label=f"A(p), L = {L:g}")
    left.plot(p, p, "--", color="gray", label="identity")
    left.set(xlabel="p", ylabel="A(p)", title="The amplifier")
    left.legend()
    accuracies = np.logspace(-16, np.log10(min(threshold, 1 - threshold)) - 0.05, 60)
    dtypes = backend_named(backend, probed=True).dtypes
    for kernel, style in zip(KERNELS, ("-", ":")):
        for color, dtype in enumerate(dtypes):
            ranges = [l_range(float(a), dtype, threshold=threshold, kernel=kernel, backend=backend)
                      for a in accuracies]
            upper = np.array([r.L_max for r in ranges])
            right.plot(accuracies, upper, style, color=f"C{color}", label=f"L_max {dtype} ({kernel})")
    lower = [amplifier_bound(float(a), threshold) for a in accuracies]
    right.fill_between(accuracies, 0, lower, color="gray", alpha=0.3, label="L < L_min (no amplifier)")
    right.axhline(L, color="black", linewidth=1, label=f"L = {L:g}")
    right.set(xscale="log", yscale="log", xlabel="accuracy level t (p in [t, 1 - t])", ylabel="L",
              title="Valid L: above the grey band, below the dtype's L_max")
    right.legend(fontsize=7, ncol=2)
    figure.tight_layout()
    _save(figure, path)
    plt.close(figure)


def _save(figure, path: str) -> None:
    """Render `figure` in the format its file name says, then write it; a MetriccError says what failed."""
    suffix = Path(path).suffix.lstrip(".").lower() or "png"
    formats = figure.canvas.get_supported_filetypes()
    if suffix not in formats:
        raise MetriccError(f"cannot write {path}: the file name must end in one of "
                           f"{', '.join('.' + f for f in sorted(formats))}")
    image = io.BytesIO()
    figure.savefig(image, format=suffix, dpi=100)
    try:
        with open(path, "wb") as file:
            file.write(image.getvalue())
    except OSError as error:
        raise MetriccError(f"cannot write {path}: {error.strerror or error}") from None
