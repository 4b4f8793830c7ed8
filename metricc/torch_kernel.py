"""Soft-confusion-matrix loss as a torch.nn.Module whose backward is the derived gradient, not autograd.

This module imports only torch: metricc copies it verbatim into the modules it emits.
"""

import warnings

import torch


def _accumulation_dtype(x):
    """Counts and scalars are kept in float64 for float64 input, else in float32 (also under autocast)."""
    return torch.float64 if x.dtype == torch.float64 else torch.float32


def slope_(u):
    """u <- sigmoid(u) * sigmoid(-u), in place: v - v*v with v = sigmoid(-|u|) <= 1/2, so that it does not
    round to 0 where sigmoid(u) rounds to 1."""
    u.abs_().neg_().sigmoid_()
    return u.addcmul_(u, u, value=-1)


def _scaled(input, dtype, L, threshold, from_logits):
    """A new buffer u = L * (p - threshold), with p = sigmoid(input) for logits."""
    if from_logits:
        u = torch.sigmoid(input) if input.dtype == dtype else input.to(dtype).sigmoid_()
    else:
        u = input.to(dtype, copy=True)
    return u.sub_(threshold).mul_(L)


def soft_counts(input, target, weight, L, threshold, from_logits):
    """TP, FP, FN, TN of a flat batch, in the accumulation dtype, from two reductions over yh.

    With S = sum w yh, TP = sum w y yh, P = sum w y and W = sum w: FP = S - TP, FN = P - TP,
    TN = W - P - S + TP (clamped at 0 against rounding).
    """
    dtype = _accumulation_dtype(input)
    with torch.autocast(input.device.type, enabled=False):
        yh = _scaled(input, dtype, L, threshold, from_logits).sigmoid_()
        y = target.to(dtype)
        if weight is not None:
            weight = weight.to(dtype)
            yh.mul_(weight)
        true_positive, predicted = torch.dot(y, yh), yh.sum()
        positive = y.sum() if weight is None else torch.dot(weight, y)
        total = torch.tensor(y.numel(), dtype=dtype, device=y.device) if weight is None else weight.sum()
        return (true_positive, (predicted - true_positive).clamp_min(0), (positive - true_positive).clamp_min(0),
                (total - positive - predicted + true_positive).clamp_min(0))


def gradient(input, target, weight, a, b, scale, L, threshold, from_logits):
    """d loss / d input = scale * w * (b + y (a - b)) * L * yh (1 - yh) [* p (1 - p)], in the accumulation dtype."""
    dtype = a.dtype
    with torch.autocast(input.device.type, enabled=False):
        grad = slope_(_scaled(input, dtype, L, threshold, from_logits))
        buffer = torch.empty_like(grad)
        if from_logits:
            grad.mul_(slope_(buffer.copy_(input)))
        torch.mul(target.to(dtype), a - b, out=buffer).add_(b)
        grad.mul_(buffer).mul_(scale * L)
        if weight is not None:
            grad.mul_(weight.to(dtype))
        return grad


def _fused_counts(input, target, weight, L, threshold, from_logits):
    """soft_counts written for torch.compile: Inductor fuses it into one pass with two accumulators."""
    dtype = _accumulation_dtype(input)
    x = input.to(dtype)
    p = torch.sigmoid(x) if from_logits else x
    yh = torch.sigmoid((p - threshold) * L)
    y = target.to(dtype)
    if weight is not None:
        yh = yh * weight.to(dtype)
    true_positive, predicted = (y * yh).sum(), yh.sum()
    positive = y.sum() if weight is None else (weight.to(dtype) * y).sum()
    total = torch.tensor(y.numel(), dtype=dtype, device=y.device) if weight is None else weight.to(dtype).sum()
    return (true_positive, (predicted - true_positive).clamp_min(0), (positive - true_positive).clamp_min(0),
            (total - positive - predicted + true_positive).clamp_min(0))


def _fused_gradient(input, target, weight, a, b, scale, L, threshold, from_logits):
    """gradient written for torch.compile: one elementwise pass."""
    x = input.to(a.dtype)
    p = torch.sigmoid(x) if from_logits else x
    v = torch.sigmoid(-((p - threshold) * L).abs())
    grad = (b + target.to(a.dtype) * (a - b)) * (scale * L) * (v - v * v)
    if from_logits:
        v = torch.sigmoid(-x.abs())
        grad = grad * (v - v * v)
    if weight is not None:
        grad = grad * weight.to(a.dtype)
    return grad


_COMPILED = {}


def compiled(function):
    """`function` compiled with torch.compile (once per process), or None where that fails."""
    if function not in _COMPILED:
        try:
            _COMPILED[function] = torch.compile(function, dynamic=True)
        except Exception:  # no compiler backend here: the caller falls back to eager
            _COMPILED[function] = None
    return _COMPILED[function]


class SoftConfusionFunction(torch.autograd.Function):
    """Forward: four soft counts and the loss. Backward: one elementwise pass with the derived partials.
    Saves only the inputs and two scalars; the backward recomputes yh from the input."""

    @staticmethod
    def forward(ctx, input, target, weight, scalars, L, threshold, from_logits, eps, fused):
        dtype = _accumulation_dtype(input)
        count = compiled(_fused_counts) if fused else soft_counts
        counts = count(input, target, weight, L, threshold, from_logits)
        with torch.autocast(input.device.type, enabled=False):
            loss, d_tp, d_fp, d_fn, d_tn = scalars(*(c + eps for c in counts))
            a = torch.as_tensor(d_tp - d_fn, dtype=dtype, device=input.device)
            b = torch.as_tensor(d_fp - d_tn, dtype=dtype, device=input.device)
        ctx.save_for_backward(input, target, weight, a, b)
        ctx.amplifier = (L, threshold, from_logits)
        ctx.fused = fused
        return torch.as_tensor(loss, dtype=dtype, device=input.device)

    @staticmethod
    def backward(ctx, grad_output):
        input, target, weight, a, b = ctx.saved_tensors
        differentiate = compiled(_fused_gradient) if ctx.fused else gradient
        grad = differentiate(input, target, weight, a, b, grad_output, *ctx.amplifier)
        return grad.to(input.dtype), None, None, None, None, None, None, None, None


class SoftConfusionLoss(torch.nn.Module):
    """`1 - metric` (or a cost) of the soft confusion matrix of a batch, as a 0-dim tensor.

    `forward(input, target, sample_weight=None)`: `input` holds logits (or probabilities when
    `from_logits=False`) of any shape; `target` holds 0/1 labels (float, int or bool) of the same shape; all
    elements form one confusion matrix. Each prediction is amplified as `yh = sigmoid(L * (p - threshold))`,
    and every count is smoothed by `eps` so that no batch divides by zero. `compile=True` runs the two passes
    through torch.compile (fused kernels: C++/OpenMP on CPU, Triton on CUDA), or warns and stays eager where
    torch.compile is unavailable. `check_dtype`, if given, is called with each new input dtype (metricc checks
    there that L suits it).
    """

    def __init__(self, scalars, *, L=73.0, threshold=0.5, from_logits=True, eps=1e-6, check_inputs=True,
                 compile=False, name="metric", error=ValueError, warning=UserWarning, check_dtype=None):
        super().__init__()
        self.scalars = scalars
        self.L = float(L)
        self.threshold = float(threshold)
        self.from_logits = bool(from_logits)
        self.eps = float(eps)
        self.check_inputs = check_inputs
        self.name = name
        self.error = error
        self.check_dtype = check_dtype
        self._checked_dtypes = set()
        self.fused = bool(compile) and compiled(_fused_counts) is not None
        if compile and not self.fused:
            warnings.warn("torch.compile is unavailable here: the loss runs eagerly", warning, stacklevel=2)

    def extra_repr(self):
        return (f"{self.name!r}, L={self.L}, threshold={self.threshold}, from_logits={self.from_logits}, "
                f"eps={self.eps}, fused={self.fused}")

    def forward(self, input, target, sample_weight=None):
        if self.check_inputs:
            self._check(input, target, sample_weight)
        if self.check_dtype is not None and input.dtype not in self._checked_dtypes:
            if not torch.compiler.is_compiling():
                self._checked_dtypes.add(input.dtype)
                self.check_dtype(input.dtype)
        weight = None if sample_weight is None else sample_weight.reshape(-1)
        loss = SoftConfusionFunction.apply(input.reshape(-1), target.reshape(-1), weight, self.scalars, self.L,
                                           self.threshold, self.from_logits, self.eps, self.fused)
        if self.check_inputs and not torch.compiler.is_compiling() and not bool(torch.isfinite(loss)):
            raise self.error(f"the {self.name} loss is not finite: the input contains NaN, or a denominator of "
                             "the formula vanishes (raise eps or change the formula)")
        return loss

    @torch.no_grad()
    def counts(self, input, target, sample_weight=None):
        """The soft counts (TP, FP, FN, TN) of a batch, before smoothing, in the accumulation dtype."""
        if self.check_inputs:
            self._check(input, target, sample_weight)
        weight = None if sample_weight is None else sample_weight.reshape(-1)
        return soft_counts(input.reshape(-1), target.reshape(-1), weight, self.L, self.threshold, self.from_logits)

    def _check(self, input, target, sample_weight):
        if not isinstance(input, torch.Tensor) or not isinstance(target, torch.Tensor):
            raise self.error(f"Expected `input` and `target` to be tensors, but got {type(input).__name__} and "
                             f"{type(target).__name__}.")
        if not input.is_floating_point():
            raise self.error(f"Expected `input` to be a floating-point tensor, but got {input.dtype}.")
        if target.is_complex():
            raise self.error(f"Expected `target` to hold 0/1 labels, but got {target.dtype}.")
        if input.shape != target.shape:
            raise self.error(f"Expected `input` and `target` to have the same shape, but got {tuple(input.shape)} "
                             f"and {tuple(target.shape)}.")
        if input.numel() == 0:
            raise self.error("Expected a non-empty batch, but `input` has no elements.")
        if sample_weight is not None and (not isinstance(sample_weight, torch.Tensor)
                                          or sample_weight.shape != input.shape):
            raise self.error(f"Expected `sample_weight` to be a tensor of shape {tuple(input.shape)}.")
