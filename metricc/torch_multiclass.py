"""Multi-class and multi-label losses in torch: per-class (one-vs-rest) soft counts, averaged scores, and a
backward pass built from the derived per-class partials (never autograd through the formula).

Soft predictions, from logits of shape (n, C):
* multilabel: yh = sigmoid(L * (sigmoid(z) - threshold)) for every label, as in the binary case;
* multiclass: yh = softmax(L/2 * softmax(z)) along the classes. It tends to the one-hot arg-max as L grows, is
  bounded like the binary amplifier (its input lies in [0, 1]), and for two classes equals the binary
  amplifier sigmoid(L * (p - 1/2)).
"""

import torch
from torch.autograd.function import once_differentiable

from metricc.torch_kernel import check_devices  # emitted modules inline this import

AVERAGES = ("macro", "micro", "weighted", "none")


def _soft_predictions(z, task, L, threshold):
    """yh and 1 - yh; for multi-label 1 - yh is sigmoid(-u), which keeps its digits where yh rounds to 1."""
    if task == "multilabel":
        u = (torch.sigmoid(z) - threshold) * L
        return torch.sigmoid(u), torch.sigmoid(-u)
    yh = torch.softmax(torch.softmax(z, dim=1) * (L / 2), dim=1)
    return yh, 1 - yh


def _pullback(z, yh, grad_yh, task, L, threshold):
    """d loss / d z from d loss / d yh (vector-Jacobian products of the soft predictions)."""
    if task == "multilabel":
        p = torch.sigmoid(z)
        return grad_yh * L * yh * (1 - yh) * p * (1 - p)
    h = yh * (grad_yh - (yh * grad_yh).sum(dim=1, keepdim=True)) * (L / 2)
    p = torch.softmax(z, dim=1)
    return p * (h - (p * h).sum(dim=1, keepdim=True))


def per_class_counts(yh, not_yh, y, w):
    """TP, FP, FN, TN per class, each of shape (C,), from soft predictions, their complements and one-hot (or
    multi-hot) labels."""
    wy, wn = w[:, None] * y, w[:, None] * (1 - y)
    return (wy * yh).sum(0), (wn * yh).sum(0), (wy * not_yh).sum(0), (wn * not_yh).sum(0)


def average(scalars, counts, eps, average_, class_weight):
    """The loss (0-dim, or (C,) for "none") and d loss / d count per class, each (C,)."""
    if average_ == "micro":
        loss, *partials = scalars(*(c.sum() + eps for c in counts))
        return loss, [p.expand_as(counts[0]) if torch.is_tensor(p) else torch.full_like(counts[0], p)
                      for p in partials]
    loss, *partials = scalars(*(c + eps for c in counts))
    partials = [p if torch.is_tensor(p) and p.shape == counts[0].shape else torch.full_like(counts[0], float(p))
                for p in partials]
    if average_ == "none":
        return loss, partials
    if average_ == "weighted":
        weight = counts[0] + counts[2]  # support: TP + FN
        weight = weight / weight.sum()
    elif class_weight is not None:
        weight = class_weight / class_weight.sum()
    else:
        weight = torch.full_like(counts[0], 1 / counts[0].numel())
    return (weight * loss).sum(), [weight * p for p in partials]


class MultiSoftConfusionFunction(torch.autograd.Function):
    """Forward: per-class soft counts and the averaged loss. Backward: the derived partials, pulled back."""

    @staticmethod
    def forward(ctx, input, target, weight, spec):
        scalars, task, L, threshold, eps, average_, class_weight, group = spec
        dtype = torch.float64 if input.dtype == torch.float64 else torch.float32
        z = input.to(dtype)
        yh, not_yh = _soft_predictions(z, task, L, threshold)
        counts = per_class_counts(yh, not_yh, target, weight)
        world_size = 1
        if group is not None and torch.distributed.is_available() and torch.distributed.is_initialized():
            packed = torch.stack(counts).to(torch.float64)  # one dtype on every process, whatever its input's
            torch.distributed.all_reduce(packed, group=None if group == "default" else group)
            counts, world_size = tuple(packed.to(dtype)), torch.distributed.get_world_size(None if group == "default"
                                                                                           else group)
        loss, (d_tp, d_fp, d_fn, d_tn) = average(scalars, counts, eps, average_, class_weight)
        ctx.save_for_backward(input, target, weight, yh, d_tp - d_fn, d_fp - d_tn)
        ctx.settings = (task, L, threshold, world_size)
        return loss.to(dtype)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_output):
        input, target, weight, yh, a, b = ctx.saved_tensors
        task, L, threshold, world_size = ctx.settings
        scale = grad_output * world_size  # (C,) for average="none", else a scalar
        grad_yh = (target * (a * scale) + (1 - target) * (b * scale)) * weight[:, None]
        grad = _pullback(input.to(yh.dtype), yh, grad_yh, task, L, threshold)
        return grad.to(input.dtype), None, None, None


class MultiSoftConfusionLoss(torch.nn.Module):
    """`1 - metric` averaged over classes (or labels): `loss(logits, target, sample_weight=None)`.

    multiclass: logits (n, C), target (n,) class indices (`ignore_index` rows are left out);
    multilabel: logits (n, C), target (n, C) of 0/1 labels. `average`: "macro" (mean of the per-class scores,
    or weighted by `class_weight`), "weighted" (by support), "micro" (pooled counts) or "none" (a (C,) loss).
    """

    def __init__(self, scalars, *, task, num_classes, average="macro", L=73.0, threshold=0.5, eps=1e-6,
                 ignore_index=None, class_weight=None, sync=False, process_group=None, check_inputs=True,
                 name="metric", error=ValueError):
        super().__init__()
        self.scalars, self.task, self.num_classes, self.average = scalars, task, num_classes, average
        self.L, self.threshold, self.eps = float(L), float(threshold), float(eps)
        self.ignore_index, self.sync, self.process_group = ignore_index, bool(sync), process_group
        self.check_inputs, self.name, self.error = check_inputs, name, error
        self.register_buffer("class_weight", None if class_weight is None
                             else torch.as_tensor(class_weight, dtype=torch.float64))

    def extra_repr(self):
        return (f"{self.name!r}, task={self.task!r}, num_classes={self.num_classes}, average={self.average!r}, "
                f"L={self.L}")

    def forward(self, input, target, sample_weight=None):
        if self.check_inputs:
            self._check(input, target, sample_weight)
        dtype = torch.float64 if input.dtype == torch.float64 else torch.float32
        weight = (torch.ones(input.shape[0], dtype=dtype, device=input.device) if sample_weight is None
                  else sample_weight.to(dtype))
        if self.task == "multiclass":
            if self.ignore_index is not None:
                weight = weight * (target != self.ignore_index)
                target = torch.where(target == self.ignore_index, torch.zeros_like(target), target)
            target = torch.nn.functional.one_hot(target.long(), self.num_classes).to(dtype)
        else:
            target = target.to(dtype)
        class_weight = None if self.class_weight is None else self.class_weight.to(dtype)
        group = (self.process_group or "default") if self.sync else None
        spec = (self.scalars, self.task, self.L, self.threshold, self.eps, self.average, class_weight, group)
        loss = MultiSoftConfusionFunction.apply(input, target, weight, spec)
        if self.check_inputs and not torch.compiler.is_compiling() and not bool(torch.isfinite(loss).all()):
            raise self.error(f"the {self.name} loss is not finite: a denominator of the formula vanishes (raise eps "
                             "or change the formula), or no class has support for average='weighted'")
        return loss

    def _check(self, input, target, sample_weight):
        if not isinstance(input, torch.Tensor) or input.dim() != 2 or input.shape[1] != self.num_classes:
            raise self.error(f"Expected `input` of shape (n, {self.num_classes}), but got "
                             f"{tuple(getattr(input, 'shape', ()))}.")
        if not input.is_floating_point():
            raise self.error(f"Expected `input` to be a floating-point tensor, but got {input.dtype}.")
        expected = (input.shape[0],) if self.task == "multiclass" else tuple(input.shape)
        if not isinstance(target, torch.Tensor):
            raise self.error(f"Expected `target` to be a tensor, but got {type(target).__name__}.")
        check_devices(self.error, input, target, sample_weight)
        if self.task == "multiclass" and (target.is_floating_point() or target.is_complex()
                                          or target.dtype == torch.bool):
            raise self.error(f"Expected `target` to hold integer class indices, but got {target.dtype} (a float "
                             "index such as 1.5 has no class; pass target.long() if the values are whole).")
        if tuple(target.shape) != expected:
            raise self.error(f"Expected `target` of shape {expected}, but got {tuple(target.shape)}.")
        if input.shape[0] == 0:
            raise self.error("Expected a non-empty batch, but `input` has no rows.")
        if sample_weight is not None and tuple(sample_weight.shape) != (input.shape[0],):
            raise self.error(f"Expected `sample_weight` of shape ({input.shape[0]},).")
        if torch.compiler.is_compiling():
            return
        if not bool(torch.isfinite(input).all()):
            raise self.error("Expected finite `input`, but it contains NaN or infinity.")
        if self.task == "multiclass":
            valid = target if self.ignore_index is None else target[target != self.ignore_index]
            if valid.numel() and not (0 <= int(valid.min()) and int(valid.max()) < self.num_classes):
                raise self.error(f"Expected class indices in [0, {self.num_classes}), but got "
                                 f"{int(valid.min())}..{int(valid.max())}.")
        elif not (float(target.min()) >= 0 and float(target.max()) <= 1):
            raise self.error("Expected `target` values in [0, 1].")
