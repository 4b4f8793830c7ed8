"""Multi-class and multi-label losses in torch: per-class (one-vs-rest) soft counts, averaged scores, and a
backward pass built from the derived per-class partials (never autograd through the formula).

Soft predictions, from logits of shape (n, C):
* multilabel: yh = sigmoid(L * (sigmoid(z) - threshold)) for every label, as in the binary case;
* multiclass: yh = softmax(L/2 * softmax(z)) along the classes. It tends to the one-hot arg-max as L grows, is
  bounded like the binary amplifier (its input lies in [0, 1]), and for two classes equals the binary
  amplifier sigmoid(L * (p - 1/2)).
"""

import math
import warnings
from typing import Any, NamedTuple

import torch

from metricc.torch_kernel import InputChecks, TrainingState  # emitted modules inline this import
from metricc.torch_kernel import ForwardRecord, apply_function  # emitted modules inline this import
from metricc.torch_kernel import check_devices, compiled, running_counts  # emitted modules inline this import
from metricc.torch_kernel import compile_unavailable_message, compiled_or_eager  # emitted modules inline this import
from metricc.torch_kernel import device_scalar  # emitted modules inline this import
from metricc.torch_kernel import ignored_elements, is_compiling, read_back  # emitted modules inline this import
from metricc.torch_kernel import computed_type, with_gradient_checked  # emitted modules inline this import
from metricc.torch_kernel import once_only_because, refuse_second_derivative  # emitted modules inline this import
from metricc.torch_kernel import _cached_when_eager, is_exporting, row_blocks  # emitted modules inline this import
from metricc.checks import light_weights, nonfinite_message, target_hint  # emitted modules inline this import
from metricc.checks import per_element_message, target_range_message  # emitted modules inline this import
from metricc.checks import ROW_SUM_TOLERANCE, probability_rows_message  # emitted modules inline this import
from metricc.checks import blend_overflow_message, weight_shape_message  # emitted modules inline this import
from metricc.checks import array_hint, class_nonfinite_message  # emitted modules inline this import
from metricc.checks import nonfinite_input_message, weight_range_message  # emitted modules inline this import
from metricc.checks import SIGMOID_HINT, SOFTMAX_HINT, ProbabilityHint  # emitted modules inline this import
from metricc.checks import class_input_hint, softmax_rows  # emitted modules inline this import
from metricc.checks import class_index_message, float_index_hint  # emitted modules inline this import
from metricc.checks import caller_level, probabilities_ignore_message  # emitted modules inline this import
from metricc.checks import heavy_weights, scalars_count_limit  # emitted modules inline this import
from metricc.checks import narrow_float_message  # emitted modules inline this import

def sigmoid_pair(x):
    """sigmoid(x), sigmoid(-x) and their product, from v = sigmoid(-|x|) <= 1/2, so that none rounds to 0 or 1
    where it should not."""
    v = torch.sigmoid(-x.abs())
    w = 1 - v
    positive = x >= 0
    return torch.where(positive, w, v), torch.where(positive, v, w), v * w


# Multi-class tensors are class-major, (C, n), for up to this many classes: the reductions over the classes then
# run along the long axis and every broadcast is a row's (3-5 times faster for C = 10); wider ones stay (n, C).
CLASS_MAJOR_MAX_CLASSES = 32
# unsigned types wider than 8 bits (a 16-bit mask through torch.from_numpy), for which torch implements few
# operations (no aminmax, no indexing): targets in them are read as int64, weights as float64 (_widened)
WIDE_UNSIGNED = tuple(getattr(torch, name) for name in ("uint16", "uint32", "uint64") if hasattr(torch, name))


def farthest_from_one(sums):
    """The entry of `sums` (a batch's row sums) farthest from 1: what the class-probability checks read."""
    return sums[torch.argmax(torch.abs(sums - 1))]


def _top_index(mask, dim):
    """The index along `dim` of the one entry 1 of each row (dim=1) or column (dim=0) of the 0/1 `mask`, 0 where
    there is none, as int64 (keepdim). Matrix-vector products of the mask with the positions (one pass, where
    argmax takes several), exact in any matmul precision: a float32 product may round its inputs to bfloat16 or
    TF32 (torch.set_float32_matmul_precision), which hold the integers up to 256 exactly, so the positions go in
    base-256 digits, one product each (a single one up to 256 classes)."""
    count = mask.shape[dim]
    positions = torch.arange(count, dtype=mask.dtype, device=mask.device)  # (whole numbers below 2^24: exact)
    index, scale = None, 1
    while index is None or scale < count:
        digits = positions if count <= 256 else positions // scale % 256
        part = digits[None] @ mask if dim == 0 else mask @ digits[:, None]
        index = part if index is None else index.add_(part, alpha=scale)
        scale *= 256
    return index.long()


def softmax_pair(s, dim, top=None, own=False, scratch=None):
    """softmax(s) over the class axis `dim`, its complement 1 - softmax(s), and `top`: (a float mask of each
    sample's largest entry where it is the only largest one, its complement, the entry's index along `dim` and
    whether there is one, 1 or 0). The complement of that entry is the others' share (no cancellation where it
    rounds to 1); every other entry, tied largest ones included, is at most 1/2, so 1 - p is exact enough there.
    `top` may be given when s is an increasing function of a softmax whose top is known; `own`: s may be
    overwritten; `scratch`: a buffer of s's shape for temporaries. Masks are multiplied and gathered, never
    selected (a max with indices, argmax and torch.where each cost several passes here), and few n x C tensors
    are allocated (each new one costs page faults at this size)."""
    scratch = torch.empty_like(s) if scratch is None else scratch
    largest = s.amax(dim=dim, keepdim=True)
    if top is None:
        mask = torch.eq(s, largest, out=torch.empty_like(s))
        single = (mask.sum(dim=dim, keepdim=True) == 1).to(s.dtype)
        mask.mul_(single)  # a tied largest entry is no top
        top = (mask, torch.sub(1, mask), _top_index(mask, dim), single)
    mask, others = top[:2]
    p = (s.sub_(largest) if own else s - largest).exp_()
    p.div_(p.sum(dim=dim, keepdim=True))
    rest = torch.mul(p, others, out=scratch).sum(dim=dim, keepdim=True)
    return p, torch.sub(1, p).mul_(others).addcmul_(mask, rest), top


def softmax_vjp(p, not_p, top, g, dim, scratch):
    """J^T g for p = softmax(s) over the class axis `dim`: p_k (g_k - sum_j p_j g_j), written for the (only)
    largest entry as p_k (g_k (1 - p_k) - sum_{j != k} p_j g_j), so that it does not cancel to 0 where p_k
    rounds to 1. Overwrites g with the result and `scratch` (a buffer of g's shape)."""
    mask, others, index, single = top
    pg = torch.mul(p, g, out=scratch)
    p_top, not_p_top, g_top, pg_top = (t.gather(dim, index) for t in (p, not_p, g, pg))
    pg_top.mul_(single)  # 0 where no entry is the only largest (the others' formula is then the plain one)
    rest = pg.mul_(others).sum(dim=dim, keepdim=True)
    result = g.sub_(pg_top).sub_(rest).mul_(p).mul_(others)
    return result.addcmul_(mask, p_top * (g_top * not_p_top - rest))


def soft_predictions(z, task, L, threshold, dim, own=False):
    """yh, 1 - yh (each without cancellation) and what the pullback needs; `dim` is the class axis."""
    if task == "multilabel":
        p, _, p_slope = sigmoid_pair(z)
        yh, not_yh, yh_slope = sigmoid_pair((p - threshold) * L)
        return yh, not_yh, (yh_slope, p_slope)
    scratch = torch.empty_like(z)
    p, not_p, top = softmax_pair(z, dim, own=own, scratch=scratch)
    yh, not_yh, _ = softmax_pair(p * (L / 2), dim, top, own=True, scratch=scratch)  # the same largest entries
    return yh, not_yh, (p, not_p, *top)


def pullback(yh, not_yh, saved, grad_yh, task, L, dim):
    """d loss / d z from d loss / d yh (vector-Jacobian products of the soft predictions; grad_yh is
    overwritten)."""
    if task == "multilabel":
        yh_slope, p_slope = saved
        return grad_yh.mul_(yh_slope).mul_(p_slope).mul_(L)
    p, not_p, *top = saved
    scratch = torch.empty_like(grad_yh)
    h = softmax_vjp(yh, not_yh, top, grad_yh, dim, scratch).mul_(L / 2)
    return softmax_vjp(p, not_p, top, h, dim, scratch)


def per_class_counts(yh, not_yh, y, w, dim):
    """TP, FP, FN, TN per class, each of shape (C,), from soft predictions, their complements and one-hot (or
    multi-hot) labels, summed over the samples' axis `dim`; w: the samples' weights, shaped to broadcast, or
    None. Each count is summed directly (never FP = sum w yh - TP), into one product buffer."""
    not_y = torch.sub(1, y)
    wy, wn = (y, not_y) if w is None else (w * y, not_y.mul_(w))
    product = torch.empty_like(yh)
    return tuple(torch.mul(v, u, out=product).sum(dim) for v, u in ((wy, yh), (wn, yh), (wy, not_yh), (wn, not_yh)))


def average(scalars, counts, eps, average_, class_weight):
    """The loss (0-dim, or (C,) for "none") and the gradient coefficients a, b per class, each (C,), with the
    class weights of the average folded in. "weighted" weighs by support (TP + FN) as scikit-learn does: a class
    without support counts 0, and with no support at all the loss is 0 with a zero gradient."""
    like = counts[0]
    if average_ == "micro":
        loss, a, b = scalars(*(c.sum() + eps for c in counts))
        return loss, *(device_scalar(v, like.dtype, like.device).expand_as(like) for v in (a, b))
    loss, a, b = (device_scalar(v, like.dtype, like.device).expand_as(like)
                  for v in scalars(*(c + eps for c in counts)))
    if average_ == "none":
        return loss, a, b
    if average_ == "macro" and class_weight is None:  # each class weighs 1/C, as below (fewer operations)
        share = 1 / like.numel()
        return (loss * share).sum(), a * share, b * share
    weight = class_weights(counts, average_, class_weight)
    total = weight.sum()
    weight = torch.where(total > 0, weight / torch.where(total > 0, total, 1), 0)
    used = weight > 0
    return (torch.where(used, weight * loss, 0).sum(), torch.where(used, weight * a, 0),
            torch.where(used, weight * b, 0))


def class_weights(counts, average_, class_weight):
    """Each class's weight in the average, before normalising: its support TP + FN ("weighted"), `class_weight`,
    or 1."""
    if average_ == "weighted":
        return counts[0] + counts[2]
    return torch.ones_like(counts[0]) if class_weight is None else class_weight


def first_nonfinite_class(scalars, counts, eps, average_, class_weight, L, dtype):
    """The first class (an int) that the average counts (a positive weight) whose own loss, or whose gradient
    coefficients in the average times L, are not finite at its `counts` in `dtype`, as the forward pass checks
    them; None where there is none. Not for "micro", whose counts are pooled."""
    loss = average(scalars, counts, eps, "none", None)[0].to(dtype)
    a, b = (v.to(dtype) * L for v in average(scalars, counts, eps, average_, class_weight)[1:])
    bad = (class_weights(counts, average_, class_weight) > 0) & ~(
        torch.isfinite(loss) & torch.isfinite(a) & torch.isfinite(b))
    return int(bad.to(torch.int8).argmax()) if bool(bad.any()) else None


def forward_pass(input, target, weight, L, threshold, task, dim):
    """The soft predictions, what the pullback needs and the per-class counts (the fused path compiles this);
    `dim` is the class axis (0: class-major, the input transposed here)."""
    dtype = torch.float64 if input.dtype == torch.float64 else torch.float32
    if dim == 0:
        z = torch.empty(input.shape[::-1], dtype=dtype, device=input.device).copy_(input.t())
    else:
        z = input.to(dtype)
    yh, not_yh, saved = soft_predictions(z, task, L, threshold, dim, own=dim == 0 or input.dtype != dtype)
    return yh, not_yh, saved, per_class_counts(yh, not_yh, target, weight, 1 - dim)


def backward_pass(target, weight, yh, not_yh, saved, a, b, task, L, dim):
    """d loss / d input (in the input's layout) from the coefficients a, b, each (C,) or 0-dim, already scaled by
    the incoming gradient (the fused path compiles this)."""
    if dim == 0:
        a, b = (v if v.dim() == 0 else v[:, None] for v in (a, b))
    grad_yh = torch.sub(1, target).mul_(b).addcmul_(target, a)  # never b + y (a - b): b can be ~1/eps
    if weight is not None:
        grad_yh.mul_(weight)
    grad = pullback(yh, not_yh, saved, grad_yh, task, L, dim)
    return grad.t() if dim == 0 else grad


def _sample_rows(t, rows, dim):
    """The samples `rows` of a target or weight tensor whose class axis is `dim` (0: class-major, the samples
    along axis 1); None stays None."""
    return None if t is None else t[:, rows] if dim == 0 else t[rows]


def plain_class_counts(input, target, weight, spec, dim):
    """The soft predictions and per-class counts of forward_pass from operations that autograd records (none in
    place, no buffers): p, yh, 1 - yh, the weighted labels w y and w (1 - y), each (n, C), and the counts, four
    (C,) in the formula's type. For a gradient that is differentiated again and for the program torch.export
    makes."""
    dtype = torch.float64 if input.dtype == torch.float64 else torch.float32
    with torch.autocast(input.device.type, enabled=False):
        z = input.to(dtype)
        y = target.t() if dim == 0 else target  # (n, C)
        w = None if weight is None else weight.t() if dim == 0 else weight  # (n, 1)
        if spec.task == "multilabel":
            p = torch.sigmoid(z)
            u = spec.L * (p - spec.threshold)
            yh, not_yh = torch.sigmoid(u), torch.sigmoid(-u)
        else:
            p = torch.softmax(z, 1)
            yh = torch.softmax(p * (spec.L / 2), 1)
            not_yh = 1 - yh
        positive, negative = (y, 1 - y) if w is None else (w * y, w * (1 - y))
        counts = [(positive * yh).sum(0), (negative * yh).sum(0), (positive * not_yh).sum(0),
                  (negative * not_yh).sum(0)]
        scalar_dtype = torch.float32 if input.device.type == "mps" else torch.float64  # MPS lacks float64
        return p, yh, not_yh, positive, negative, [c.to(scalar_dtype) for c in counts]


def plain_average(counts, spec):
    """average() of plain_class_counts' counts, with the spec's settings (its class weights in the counts' type)."""
    class_weight = None if spec.class_weight is None else spec.class_weight.to(counts[0].dtype)
    return average(spec.scalars, counts, spec.eps, spec.average, class_weight)


def differentiable_class_gradient(input, target, weight, scale, spec, dim):
    """d loss / d input (n, C) as backward_pass has it, from operations that autograd records (none in place), so
    that the gradient can be differentiated again: through the soft predictions and through the counts into the
    coefficients. `scale`: the incoming gradient ((C,) for average="none")."""
    dtype = torch.float64 if input.dtype == torch.float64 else torch.float32
    p, yh, not_yh, positive, negative, counts = plain_class_counts(input, target, weight, spec, dim)
    with torch.autocast(input.device.type, enabled=False):
        _, a, b = plain_average(counts, spec)
        grad_yh = (positive * a.to(dtype) + negative * b.to(dtype)) * scale.to(dtype)
        if spec.task == "multilabel":
            return grad_yh * spec.L * yh * not_yh * p * (1 - p)
        grad_v = yh * (grad_yh - (yh * grad_yh).sum(1, keepdim=True)) * (spec.L / 2)
        return p * (grad_v - (p * grad_v).sum(1, keepdim=True))


def exported_class_loss(input, target, weight, spec):
    """What MultiSoftConfusionFunction returns (the loss, no failed process, the counts), for the program that
    torch.export makes: from plain_class_counts, whose gradient autograd takes through the program (the
    function's buffers, out=, would make one that cannot run with gradients)."""
    counts = plain_class_counts(input, target, weight, spec, 0 if spec.class_major else 1)[-1]
    dtype = torch.float64 if input.dtype == torch.float64 else torch.float32
    with torch.autocast(input.device.type, enabled=False):
        loss, a, b = plain_average(counts, spec)
        a, b = (v.detach().to(dtype) * spec.L for v in (a, b))  # (as the function checks them)
        failed = torch.zeros((), dtype=torch.float64, device=input.device)
        return with_gradient_checked(loss, a, b).to(dtype), failed, torch.stack(counts).detach()


class ClassSpec(NamedTuple):
    """What the autograd function needs besides the tensors (`group`: see torch_kernel.Spec)."""

    scalars: Any
    task: str
    L: float
    threshold: float
    eps: float
    average: str
    class_weight: Any
    group: Any
    running: Any = None  # the module's running estimates (updated in place), or None
    momentum: float = 0.0
    class_major: bool = False  # multiclass tensors (target, weight) laid out (C, n) and (1, n)
    fused: bool = False  # the two passes through torch.compile
    valid: Any = None  # a 0-dim bool tensor: whether the inputs passed the checks (None: not checked)
    error: Any = ValueError  # the loss's error class


class MultiSoftConfusionFunction(torch.autograd.Function):
    """Forward: per-class soft counts and the averaged loss, and how many processes' inputs failed the checks
    (summed with the counts under sync, so that every process raises when one does; 0 without sync), and the
    counts the loss was evaluated at, (4, C) (for an error's message). Backward: the derived coefficients, pulled
    back."""

    @staticmethod
    def forward(ctx, input, target, weight, spec: ClassSpec):
        ctx.error = spec.error
        dtype = torch.float64 if input.dtype == torch.float64 else torch.float32
        dim = 0 if spec.class_major else 1  # the class axis
        # (no_grad: as eager runs a Function's forward; torch 2.4's Dynamo traced it with grad, and refused out=)
        with torch.autocast(input.device.type, enabled=False), torch.no_grad():
            if spec.fused:  # L as a tensor: no recompilation as the warm-up moves it
                L = device_scalar(spec.L, dtype, input.device)
                yh, not_yh, saved, counts = compiled_or_eager(forward_pass)(input, target, weight, L,
                                                                           spec.threshold, spec.task, dim)
                kept = (yh, not_yh, *saved)
            else:  # on the CPU a block of rows at a time, so that its n x C tensors stay in the caches
                L, blocks = spec.L, row_blocks(input, input.shape[1])
                parts = [forward_pass(input[rows], _sample_rows(target, rows, dim), _sample_rows(weight, rows, dim),
                                      L, spec.threshold, spec.task, dim) for rows in blocks]
                counts = parts[0][3] if len(parts) == 1 else tuple(
                    torch.stack(sums).sum(0, dtype=torch.float64).to(dtype) for sums in zip(*(p[3] for p in parts)))
                kept = [t for yh, not_yh, saved, _ in parts for t in (yh, not_yh, *saved)]
                ctx.block_rows = blocks
            world_size, valid = 1, spec.valid
            failed = torch.zeros((), dtype=torch.float64, device=input.device)
            group = spec.group
            if group is not None and torch.distributed.is_available() and torch.distributed.is_initialized():
                group = None if group == "default" else group
                if valid is not None:
                    failed = (~valid).to(torch.float64)
                # one dtype on every process, whatever its input's
                packed = torch.cat([torch.stack(counts).to(torch.float64).reshape(-1), failed.reshape(1)])
                torch.distributed.all_reduce(packed, group=group)
                counts, failed = tuple(packed[:-1].reshape(4, -1).to(dtype)), packed[-1]
                world_size, valid = torch.distributed.get_world_size(group), packed[-1] == 0
            if spec.running is not None:
                counts = tuple(running_counts(torch.stack(counts).to(torch.float64), spec.running,
                                              spec.momentum, valid).to(dtype).unbind())
            # the formula in float64, as the binary kernel has it: its partials of tiny counts overflow float32
            scalar_dtype = torch.float32 if input.device.type == "mps" else torch.float64  # MPS lacks float64
            if counts[0].dtype != scalar_dtype:
                counts = torch.stack(counts).to(scalar_dtype).unbind()
            loss, a, b = average(spec.scalars, counts, spec.eps, spec.average, spec.class_weight)
            a, b = a.to(dtype), b.to(dtype)
            loss = with_gradient_checked(loss, a * L, b * L)  # in the input's type, as the backward pass has them
        ctx.save_for_backward(input, target, weight, a, b, *kept)
        ctx.settings = (spec.task, L, world_size, input.dtype, dim, spec.fused)
        ctx.once_reason = once_only_because(spec.fused, spec.running, world_size > 1)
        ctx.twice = None if ctx.once_reason else spec  # a second derivative recomputes the gradient from the inputs
        used = torch.stack(counts)
        ctx.mark_non_differentiable(failed, used)
        return loss.to(dtype), failed, used

    @staticmethod
    def backward(ctx, grad_output, *_):
        input, target, weight, a, b, *kept = ctx.saved_tensors
        task, L, world_size, input_dtype, dim, fused = ctx.settings
        mapped = ForwardRecord.mapped()  # a batch of cotangents: torch.func.jacrev, or vmap over vjp
        if mapped and ctx.twice is not None:  # the gradient from plain operations, which vmap maps (and which
            # differentiate again)
            grad = differentiable_class_gradient(input, target, weight, grad_output * world_size, ctx.twice, dim)
            return grad.to(input_dtype), None, None, None
        if mapped and grad_output.dim():  # (C,) cotangents of average="none", which backward_pass takes unmapped
            raise ctx.error(f"torch.func.jacrev (vmap over the backward pass) cannot map the per-class losses' "
                            f"backward pass {ctx.once_reason}: pass pure=True to to_torch(), or momentum=0, without "
                            f"compile or sync")
        with torch.no_grad():
            scale = 1.0 if mapped else grad_output * world_size  # (C,) for average="none", else a scalar
            a, b = a * scale, b * scale
            if fused:  # the whole batch
                yh, not_yh, *saved = kept
                grad = compiled_or_eager(backward_pass)(target, weight, yh, not_yh, saved, a, b, task, L, dim)
            else:  # block by block, as the forward pass went
                size = len(kept) // len(ctx.block_rows)
                grads = (backward_pass(_sample_rows(target, rows, dim), _sample_rows(weight, rows, dim),
                                       *kept[k * size:k * size + 2], kept[k * size + 2:(k + 1) * size], a, b, task, L,
                                       dim) for k, rows in enumerate(ctx.block_rows))
                if len(ctx.block_rows) == 1:
                    grad = next(grads)
                else:
                    grad = torch.empty(input.shape, dtype=a.dtype, device=input.device)
                    for rows, block in zip(ctx.block_rows, grads):
                        grad[rows] = block
            grad = grad.to(input_dtype)
            if mapped:  # the gradient is linear in the (batched) cotangent
                grad = grad * (grad_output * world_size).to(input_dtype)
        if not torch.is_grad_enabled():  # the usual backward pass
            return grad, None, None, None
        # autograd records the backward pass (create_graph=True, or a torch.func transform): the same values,
        # with the derivative of the gradient recomputed from the inputs, or a refusal when it is differentiated
        if ctx.twice is None:
            return refuse_second_derivative(grad, input, ctx.once_reason, ctx.error), None, None, None
        exact = differentiable_class_gradient(input, target, weight, grad_output * world_size, ctx.twice, dim)
        return grad + (exact - exact.detach()).to(grad.dtype), None, None, None


@_cached_when_eager
def _class_check_bounds(size, weighted, largest_label, count_limit, dtype, device):
    """Offsets o, signs s and shifts of the offsets by the kind of target (1 for class probabilities) that make
    o + s x >= 0 for each field x of a summary of `size` values (min x, max x, min y, max y, kind, row sum[, min w,
    max w, sum w][, failed processes]) iff its check holds: s = o = 0 where x must only be finite (0 x is NaN for an
    infinite x), the least label and weight at least 0, the largest label at most `largest_label` (1 for class
    probabilities: the shift), the weights' sum at most `count_limit`, no failed process. Each o + s x, and each
    offset with its shift, is exact in sign, so each bound is exact."""
    signs = [0.0, 0.0, 1.0, -1.0, 0.0, 0.0] + ([1.0, 0.0, -1.0] if weighted else [])
    offsets = [0.0, 0.0, 0.0, float(largest_label), 0.0, 0.0] + ([0.0, 0.0, float(count_limit)] if weighted else [])
    shifts = [0.0, 0.0, 0.0, 1.0 - largest_label, 0.0, 0.0] + ([0.0] * 3 if weighted else [])
    if size > len(signs):  # the number of processes whose inputs failed (under sync): none
        signs, offsets, shifts = signs + [-1.0], offsets + [0.0], shifts + [0.0]
    return tuple(torch.tensor(values, dtype=dtype, device=device) for values in (offsets, signs, shifts))


class MultiSoftConfusionLoss(InputChecks, TrainingState, torch.nn.Module):
    """`1 - metric` averaged over classes (or labels): `loss(logits, target, sample_weight=None)`.

    multiclass: logits (n, C), target (n,) class indices (`ignore_index` rows are left out) or (n, C) class
    probabilities (float rows summing to 1, as CrossEntropyLoss takes them: label smoothing, mixup);
    multilabel: logits (n, C), target (n, C) of 0/1 labels (`ignore_index` elements are left out). Per-element
    logits (N, C, d1, ..., dk), with targets and weights (N, d1, ..., dk) (multi-label targets and class
    probabilities like the logits), count each element as a row. `average`: "macro" (mean of the per-class
    scores, or weighted by `class_weight`), "weighted" (by support), "micro" (pooled counts) or "none" (a (C,)
    loss). Training options as metricc.torch_kernel.TrainingState says; the blend is with cross-entropy (multiclass) or
    binary cross-entropy per label (multilabel), and the running estimates are per class.
    """

    def __init__(self, scalars, *, task, num_classes, average="macro", L=73.0, threshold=0.5, eps=1e-6,
                 ignore_index=None, class_weight=None, sync=None, process_group=None, check_inputs=True,
                 compile=False, warmup=0, L_start=5.0, bce_weight=0.0, momentum=0.0, name="metric",
                 error=ValueError, warning=UserWarning, check_dtype=None):
        super().__init__()
        self.fused = bool(compile) and compiled(forward_pass) is not None
        if compile and not self.fused:
            warnings.warn(compile_unavailable_message(), warning, stacklevel=caller_level())
        self._init_training(warmup, L_start, bce_weight, momentum, (5, num_classes))
        self._init_checks()
        self._hint, self._rows_seen = ProbabilityHint(), False
        self.scalars, self.task, self.num_classes, self.average = scalars, task, num_classes, average
        self.L, self.threshold, self.eps = float(L), float(threshold), float(eps)
        self.ignore_index = ignore_index
        self._init_sync(sync, process_group)
        self.check_inputs, self.name, self.error, self.warning = check_inputs, name, error, warning
        self.check_dtype = check_dtype
        self.register_buffer("class_weight", None if class_weight is None
                             else torch.as_tensor(class_weight, dtype=torch.float64))

    def extra_repr(self):
        return (f"{self.name!r}, task={self.task!r}, num_classes={self.num_classes}, average={self.average!r}, "
                f"L={self.L}, {self._training_repr()}")

    def forward(self, input, target, sample_weight=None):
        # vmap, forward mode: plain operations, no value read back
        plain = self._refuse_unsupported(input, target, sample_weight, self._unexportable_state())
        self._warn_unsynced()
        target, sample_weight = _widened(target, torch.int64), _widened(sample_weight, torch.float64)
        given = (input, target, sample_weight)  # (an error places a bad value by its index in the tensors as given)
        if isinstance(input, torch.Tensor) and input.dim() > 2 and isinstance(target, torch.Tensor):
            input, target, sample_weight = self._rows(input, target, sample_weight)
        if self.check_inputs:
            self._check(input, target, sample_weight)
            if self.task == "multiclass" and not self._rows_seen and not plain:
                self._hint_softmax_rows(input)
            if self._pending:
                self._check_pending(wait=self.sync)  # processes must agree on when to raise
            summary = self._summary(input, target, sample_weight)
        self._check_dtype_once(input.dtype)
        dtype = torch.float64 if input.dtype == torch.float64 else torch.float32
        weight = None if sample_weight is None else sample_weight.to(dtype)  # None: every row weighs 1
        class_major = self.task == "multiclass" and self.num_classes <= CLASS_MAJOR_MAX_CLASSES and not plain
        labels = target  # for the cross-entropy blend: class indices, class probabilities or 0/1 labels
        if self._probabilities(target):  # as given, (C, n) class-major or (n, C)
            if self.ignore_index is not None:
                raise self.error(probabilities_ignore_message(self.ignore_index))
            labels = target.to(dtype)
            target = (torch.empty(input.shape[::-1], dtype=dtype, device=input.device).copy_(target.t())
                      if class_major else target.to(dtype))
        elif self.task == "multiclass":  # one-hot, (C, n) class-major or (n, C)
            if self.ignore_index is not None:
                ignored = ignored_elements(target, self.ignore_index)
                kept = torch.logical_not(ignored).to(dtype)
                weight = kept if weight is None else weight * kept
                target = torch.where(ignored, torch.zeros_like(target), target)
            index = labels = target.long().clamp(0, self.num_classes - 1)  # the check reports indices out of range
            if plain:  # one-hot without writing into a tensor (vmap maps no write of its values into a new one)
                target = (index[:, None] == torch.arange(self.num_classes, device=input.device)).to(dtype)
            elif class_major:
                target = torch.zeros(input.shape[::-1], dtype=dtype, device=input.device).scatter_(0, index[None], 1.0)
            else:
                target = torch.zeros(input.shape, dtype=dtype, device=input.device).scatter_(1, index[:, None], 1.0)
        else:
            if self.ignore_index is not None:  # element weights (n, C): an ignored label weighs 0
                ignored = ignored_elements(target, self.ignore_index)
                kept = torch.logical_not(ignored).to(dtype)
                weight = kept if weight is None else weight[:, None] * kept
                target = torch.where(ignored, torch.zeros_like(target), target)
            target = labels = target.to(dtype)
        if weight is not None and weight.dim() == 1:
            weight = weight[None] if class_major else weight[:, None]
        training, running = self._running_for_this_step(input.device)  # (which moves the class weights too)
        class_weight = None if self.class_weight is None else self.class_weight.to(dtype)
        group = (self.process_group or "default") if self.sync else None
        weighted = sample_weight is not None
        valid = None  # whether the inputs pass the checks, for the running state and the other processes
        if (self.check_inputs and running is not None and group is None and self._reads_back_now(input.device)
                and not is_compiling()):  # the CPU, eager: raise before the state moves
            fields = self._fields(read_back(summary, self.error), weighted, False)[0][:9]
            self._verify_inputs(*fields, batch=given)
            valid = True
        elif self.check_inputs and (running is not None or group is not None):
            valid = self._passing(summary, weighted)
        spec = ClassSpec(self.scalars, self.task, self.current_L(), self.threshold, self.eps, self.average,
                         class_weight, group, running, self.momentum, class_major, self.fused, valid, self.error)
        if is_exporting() or plain:
            loss, failed, counts = exported_class_loss(input, target, weight, spec)
        else:
            loss, failed, counts = apply_function(MultiSoftConfusionFunction, input, target, weight, spec)
        blended = None  # the cross-entropy blend in the loss's type (float16 logits' would overflow in float16)
        if self.bce_weight:
            blended = loss + self.bce_weight * self._cross_entropy(input.to(dtype), labels, weight).to(loss.dtype)
        if self.check_inputs:  # the metric's loss, the blended one and the counts: _verify tells which is not finite
            summary = torch.cat([summary, failed.reshape(1)]) if self.sync else summary
            values = [loss, counts] if blended is None else [loss, blended, counts]
            values = torch.cat([v.reshape(-1).to(loss.dtype) for v in values])
            values = (self._poisoned(values, summary, weighted) if plain else
                      self._check_values(values, summary, input.numel(), weighted, input.dtype, given))
            size = loss.numel()
            loss = (values[:size] if blended is None else values[size:2 * size]).reshape(loss.shape)
        elif blended is not None:
            loss = blended
        self._count_step(training)
        self._eager_after_compile_failure()
        return loss

    def _hint_softmax_rows(self, input):
        """On the first call (eager), a warning where the logits look like a softmax's output (softmax_rows): one
        read-back, once."""
        if is_compiling() or is_exporting():
            return
        self._rows_seen = True
        x = input.detach()
        x = x.float() if x.dtype.itemsize < 4 else x  # (older torch has no aminmax for half on the CPU)
        sums = x.sum(1, dtype=torch.float64)
        summary = read_back(torch.stack([*torch.aminmax(x), farthest_from_one(sums)]), self.error)
        if softmax_rows(*summary, x.numel()):
            warnings.warn(SOFTMAX_HINT, self.warning, stacklevel=caller_level())

    def _cross_entropy(self, input, labels, weight):
        """Cross-entropy (multiclass: class indices, or class probabilities in the input's type) or binary
        cross-entropy summed over the labels (multilabel: (n, C)), the mean over the rows weighted by the row
        weights (None: 1; ignored rows weigh 0). Element weights (n, C) (ignored labels 0) weigh each label's
        term, over their total per label."""
        if self.task == "multiclass":
            terms = torch.nn.functional.cross_entropy(input, labels, reduction="none")
        else:
            terms = torch.nn.functional.binary_cross_entropy_with_logits(input, labels.to(input.dtype),
                                                                         reduction="none")
            terms = terms if weight is not None and weight.shape == terms.shape else terms.sum(1)
        if weight is None:
            return terms.mean()
        weight = weight.reshape(terms.shape).to(terms.dtype)
        total = weight.sum() / (terms.shape[1] if terms.dim() == 2 else 1)  # element weights: per label
        return (terms * weight).sum() / torch.clamp(total, min=torch.finfo(terms.dtype).tiny)

    def _rows(self, input, target, sample_weight):
        """Per-element logits (N, C, d1, ..., dk), as torch.nn.CrossEntropyLoss takes them (a segmentation's
        pixels), as rows (N d1 ... dk, C), with the targets (N, d1, ..., dk) (multi-label: like the logits) and
        weights (N, d1, ..., dk) alike; autograd takes the gradient back to the logits' layout."""
        weight_shape = None if sample_weight is None else tuple(getattr(sample_weight, "shape", ()))
        message = per_element_message(self.task, self.num_classes, input.shape, target.shape, weight_shape)
        if message:
            raise self.error(message)
        rows = input.movedim(1, -1).reshape(-1, self.num_classes)
        target = target.movedim(1, -1).reshape(rows.shape) if target.dim() == input.dim() else target.reshape(-1)
        return rows, target, None if sample_weight is None else sample_weight.reshape(-1)

    def _check(self, input, target, sample_weight):
        if not isinstance(input, torch.Tensor):
            raise self.error(f"Expected `input` to be a tensor, but got {type(input).__name__}{array_hint(input)}.")
        if input.dim() != 2 or input.shape[1] != self.num_classes:
            raise self.error(f"Expected `input` of shape (n, {self.num_classes}) or (N, {self.num_classes}, d1, ..., "
                             f"dk), but got {tuple(input.shape)}"
                             f"{class_input_hint(self.task, self.num_classes, input.shape)}.")
        if not input.is_floating_point():
            raise self.error(f"Expected `input` to be a floating-point tensor, but got {input.dtype}.")
        if input.dtype.itemsize < 2:
            raise self.error(narrow_float_message(input.dtype))
        expected = (input.shape[0],) if self.task == "multiclass" else tuple(input.shape)
        if not isinstance(target, torch.Tensor):
            raise self.error(f"Expected `target` to be a tensor, but got {type(target).__name__}{array_hint(target)}.")
        check_devices(self.error, input, target, sample_weight)
        if self._probabilities(target):
            expected = tuple(input.shape)
        if tuple(target.shape) != expected:
            wanted = (f"{(input.shape[0],)} (class indices) or {tuple(input.shape)} of floats (class probabilities)"
                      if self.task == "multiclass" else expected)
            raise self.error(f"Expected `target` of shape {wanted}, but got {target.dtype} {tuple(target.shape)}"
                             f"{target_hint(self.task, input.shape[0], self.num_classes, target.shape)}.")
        if self.task == "multilabel" and target.is_complex():
            raise self.error(f"Expected `target` to hold real numbers, but got {target.dtype}.")
        if self.task == "multiclass" and target.dim() == 1 and (target.is_floating_point() or target.is_complex()
                                          or target.dtype == torch.bool):
            hint = float_index_hint(target, "target.long()") if target.is_floating_point() else ""
            raise self.error(f"Expected `target` to hold integer class indices, but got {target.dtype}{hint}.")
        if input.shape[0] == 0:
            raise self.error("Expected a non-empty batch, but `input` has no rows.")
        if sample_weight is not None and (not isinstance(sample_weight, torch.Tensor)
                                          or tuple(sample_weight.shape) != (input.shape[0],)):
            raise self.error(weight_shape_message(input.shape[:1], sample_weight))
        if sample_weight is not None and sample_weight.is_complex():
            raise self.error(f"Expected `sample_weight` to hold real numbers, but got {sample_weight.dtype}.")

    def _probabilities(self, target):
        """Whether a multi-class `target` holds class probabilities (floats, (n, C) as rows): the rest of the
        checks follow from that."""
        return self.task == "multiclass" and target.is_floating_point() and target.dim() == 2

    def _summary(self, input, target, sample_weight=None):
        """min x, max x, min y, max y, whether y holds class probabilities (1 or 0) and then the row sum farthest
        from 1 (else 1), and with weights min w, max w and the sum of w, as float64 (ignored rows count as class
        0, ignored labels as 0); under sync the forward pass appends the number of processes whose inputs
        failed: what _verify reads."""
        probabilities = self._probabilities(target)
        input = input.detach()  # (no graph for the checks: torch 2.4's compiler would differentiate aminmax)
        # filled on the device (a tensor from a Python number would be a copy from the host at every step)
        kind = torch.full((), float(probabilities), dtype=torch.float64, device=input.device)
        rows = torch.ones((), dtype=torch.float64, device=input.device)
        if probabilities:
            sums = target.sum(1, dtype=torch.float64)
            rows = farthest_from_one(sums)
        elif self.ignore_index is not None:
            target = torch.where(ignored_elements(target, self.ignore_index), torch.zeros_like(target), target)

        def extremes(t):  # (half: older torch has no aminmax for it on the CPU)
            return torch.aminmax(t.float() if t.is_floating_point() and t.dtype.itemsize < 4 else t)

        x_range, y_range = extremes(input), extremes(target)
        # the weights' sum in float64 (float16's range ends at 65,504)
        weights = [] if sample_weight is None else [*extremes(sample_weight), sample_weight.sum(dtype=torch.float64)]
        return torch.stack([*x_range, *y_range, kind, rows, *weights])  # (float64: kind's type, exact)

    def _fields(self, values, weighted, failed=True):
        """(x_min, x_max, y_min, y_max, probabilities, row_sum, w_min, w_max, w_sum, failed) and the rest of a
        summary's values (with `failed`, the count of failed processes follows the summary under sync)."""
        size = 9 if weighted else 6
        head = list(values[:size]) if weighted else [*values[:6], 1.0, 1.0, None]
        given = failed and self.sync
        return (*head, values[size] if given else 0.0), values[size + given:]

    def _passing(self, summary, weighted):
        """True where the summary passes every check (a 0-dim tensor: no read-back), in about ten operations, each
        a kernel on an accelerator: sqrt(o + s x) of each field (_class_check_bounds), summed, is finite iff each
        bound holds, as is sqrt(tolerance - |row sum - 1|); log(w_max) * 0 is NaN where every weight is 0."""
        largest = self.num_classes - 1 if self.task == "multiclass" else 1
        limit = scalars_count_limit(self.scalars) if weighted else None  # (a graph break in a compiled step)
        offsets, signs, shifts = _class_check_bounds(len(summary), weighted, largest, limit, summary.dtype,
                                                     summary.device)
        kind, rows = summary[4], summary[5]
        margins = torch.addcmul(torch.addcmul(offsets, shifts, kind), summary, signs)  # o + s x, o by the kind
        total = torch.sqrt(margins).sum() + torch.sqrt(ROW_SUM_TOLERANCE - torch.abs(rows - 1))
        if weighted and not self.sync:  # all-zero weights are fine under sync: another process's batch may have weight
            total = total + torch.log(summary[7]) * 0
        return total < math.inf

    def _verify(self, values, numel, weighted, dtype=None, batch=None):
        (*inputs, total, failed), losses = self._fields(values, weighted)
        self._verify_inputs(*inputs, total, batch=batch)
        if self.task == "multilabel" and self._hint.observe(inputs[0], inputs[1], numel):
            warnings.warn(SIGMOID_HINT, self.warning, stacklevel=caller_level())
        if failed > 0:
            raise self.error("the inputs of another process failed the input checks (its error says which)")
        losses, counts = losses[:-4 * self.num_classes], losses[-4 * self.num_classes:]
        metric_losses = losses[:len(losses) // 2] if self.bce_weight else losses  # (then the blended ones)
        if not all(map(math.isfinite, metric_losses)):
            counts = torch.tensor(counts, dtype=torch.float64, device="cpu").reshape(4, -1).unbind()
            raise self.error(self._nonfinite(counts, computed_type(dtype)))
        if not all(map(math.isfinite, losses)):
            raise self.error(blend_overflow_message(self.bce_weight, computed_type(dtype)))
        message = None if total is None else light_weights(total, self.eps)  # the weights' sum on this process
        if message:
            warnings.warn(message, self.warning, stacklevel=caller_level())

    def _nonfinite(self, counts, dtype):
        """The error message for a loss or gradient that is not finite in `dtype` (its name): at the pooled counts
        (micro), else at those of the first class whose own loss or coefficients (times L) are not."""
        if self.average == "micro":
            return nonfinite_message(self.name, [c.sum() for c in counts], dtype=dtype)
        class_weight = None if self.class_weight is None else self.class_weight.to("cpu", torch.float64)
        with torch.no_grad():
            k = first_nonfinite_class(self.scalars, counts, self.eps, self.average, class_weight,
                                      float(self.current_L()), getattr(torch, dtype))  # (on the host, as the counts)
        return class_nonfinite_message(self.name, self.task, counts, k, dtype)

    def _verify_inputs(self, x_min, x_max, y_min, y_max, probabilities, row_sum, w_min, w_max, w_sum=None,
                       batch=None):
        input, target, weight = (None,) * 3 if batch is None else (None if t is None else t.detach() for t in batch)
        if not (w_min >= 0 and math.isfinite(w_max)):
            raise self.error(weight_range_message(w_min, w_max, values=weight))
        if not (w_max > 0 or self.sync):
            raise self.error("Expected `sample_weight` to have a positive entry, but all are zero.")
        # (each class's counts add up to it)
        message = None if w_sum is None else heavy_weights(w_sum, self.name, scalars_count_limit(self.scalars))
        if message:
            raise self.error(message)
        if not (math.isfinite(x_min) and math.isfinite(x_max)):  # (`input`, where given, places the value)
            raise self.error(nonfinite_input_message(values=input, extremes=(x_min, x_max)))
        if probabilities:
            message = probability_rows_message(y_min, y_max, row_sum)
            if message:
                raise self.error(message)
        elif self.task == "multiclass":
            if not (0 <= y_min and y_max < self.num_classes):
                raise self.error(class_index_message(y_min, y_max, self.num_classes))
        elif not (y_min >= 0 and y_max <= 1):
            raise self.error(target_range_message(y_min, y_max, multilabel=True, values=target,
                                                  input_range=(x_min, x_max)))


def _widened(values, dtype):
    """`values` in `dtype` where it is a tensor of one of the WIDE_UNSIGNED types, else as it is."""
    return values.to(dtype) if isinstance(values, torch.Tensor) and values.dtype in WIDE_UNSIGNED else values
