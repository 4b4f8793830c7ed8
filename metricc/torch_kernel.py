"""Soft-confusion-matrix loss as a torch.nn.Module whose backward is the derived gradient, not autograd.

This module imports only torch: metricc copies it verbatim into the modules it emits.
"""

import torch


def _accumulation_dtype(x):
    """Counts and scalars are kept in float64 for float64 input, else in float32 (also under autocast)."""
    return torch.float64 if x.dtype == torch.float64 else torch.float32


def _amplified(x, L, threshold, from_logits):
    """yh = sigmoid(L * (p - threshold)) and 1 - yh, plus p and 1 - p (None for probabilities)."""
    if from_logits:
        p, p_bar = torch.sigmoid(x), torch.sigmoid(-x)
    else:
        p = x
        p_bar = None
    u = (p - threshold) * L
    return torch.sigmoid(u), torch.sigmoid(-u), p, p_bar


def soft_counts(input, target, weight, L, threshold, from_logits):
    """TP, FP, FN, TN of a flat batch, in the accumulation dtype and with autocast off."""
    dtype = _accumulation_dtype(input)
    with torch.autocast(input.device.type, enabled=False):
        yh, yh_bar, _, _ = _amplified(input.to(dtype), L, threshold, from_logits)
        y = target.to(dtype)
        positive = y if weight is None else weight.to(dtype) * y
        negative = 1 - y if weight is None else weight.to(dtype) - positive
        return (torch.dot(positive, yh), torch.dot(negative, yh), torch.dot(positive, yh_bar),
                torch.dot(negative, yh_bar))


class SoftConfusionFunction(torch.autograd.Function):
    """Forward: four soft counts and the loss. Backward: one elementwise pass with the derived partials."""

    @staticmethod
    def forward(ctx, input, target, weight, scalars, L, threshold, from_logits, eps):
        dtype = _accumulation_dtype(input)
        counts = soft_counts(input, target, weight, L, threshold, from_logits)
        with torch.autocast(input.device.type, enabled=False):
            loss, d_tp, d_fp, d_fn, d_tn = scalars(*(c + eps for c in counts))
            a = torch.as_tensor(d_tp - d_fn, dtype=dtype, device=input.device)
            b = torch.as_tensor(d_fp - d_tn, dtype=dtype, device=input.device)
        ctx.save_for_backward(input, target, weight, a, b)
        ctx.amplifier = (L, threshold, from_logits)
        return torch.as_tensor(loss, dtype=dtype, device=input.device)

    @staticmethod
    def backward(ctx, grad_output):
        input, target, weight, a, b = ctx.saved_tensors
        L, threshold, from_logits = ctx.amplifier
        dtype = a.dtype
        with torch.autocast(input.device.type, enabled=False):
            x = input.to(dtype)
            yh, yh_bar, p, p_bar = _amplified(x, L, threshold, from_logits)
            grad = target.to(dtype) * (a - b) + b
            grad *= (grad_output * L) * yh * yh_bar
            if from_logits:
                grad *= p * p_bar
            if weight is not None:
                grad *= weight.to(dtype)
        return grad.to(input.dtype), None, None, None, None, None, None, None


class SoftConfusionLoss(torch.nn.Module):
    """`1 - metric` (or a cost) of the soft confusion matrix of a batch, as a 0-dim tensor.

    `forward(input, target, sample_weight=None)`: `input` holds logits (or probabilities when
    `from_logits=False`) of any shape; `target` holds 0/1 labels (float, int or bool) of the same shape; all
    elements form one confusion matrix. Each prediction is amplified as `yh = sigmoid(L * (p - threshold))`,
    and every count is smoothed by `eps` so that no batch divides by zero. `check_dtype`, if given, is called
    with each new input dtype (metricc checks there that L suits it).
    """

    def __init__(self, scalars, *, L=73.0, threshold=0.5, from_logits=True, eps=1e-6, check_inputs=True,
                 name="metric", error=ValueError, check_dtype=None):
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

    def extra_repr(self):
        return (f"{self.name!r}, L={self.L}, threshold={self.threshold}, from_logits={self.from_logits}, "
                f"eps={self.eps}")

    def forward(self, input, target, sample_weight=None):
        if self.check_inputs:
            self._check(input, target, sample_weight)
        if self.check_dtype is not None and input.dtype not in self._checked_dtypes:
            if not torch.compiler.is_compiling():
                self._checked_dtypes.add(input.dtype)
                self.check_dtype(input.dtype)
        weight = None if sample_weight is None else sample_weight.reshape(-1)
        loss = SoftConfusionFunction.apply(input.reshape(-1), target.reshape(-1), weight, self.scalars, self.L,
                                           self.threshold, self.from_logits, self.eps)
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
