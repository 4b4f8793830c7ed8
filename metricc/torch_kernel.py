"""Soft-confusion-matrix loss as a torch.nn.Module whose backward is the derived gradient, not autograd.

This module imports only torch: metricc copies it verbatim into the modules it emits.
"""

import collections
import functools
import math
import numbers
import warnings
from typing import Any, NamedTuple

import torch
from torch.autograd import forward_ad

try:  # torch >= 2.3
    from torch.compiler import is_compiling
except ImportError:  # torch 2.1 and 2.2: the same question, asked of Dynamo, which answers it while it traces
    from torch._dynamo import is_compiling
try:  # torch >= 2.4
    from torch.compiler import is_exporting
except ImportError:
    def is_exporting():
        return False

from metricc.checks import PROBABILITY_HINT, ProbabilityHint  # emitted modules inline this import
from metricc.checks import FLOAT32_MAX, light_weights, nonfinite_message  # emitted modules inline this import
from metricc.checks import shape_message, target_range_message  # emitted modules inline this import
from metricc.checks import weight_range_message, weight_shape_message  # emitted modules inline this import
from metricc.checks import array_hint, caller_level, heavy_counts  # emitted modules inline this import
from metricc.checks import scalars_count_limit  # emitted modules inline this import
from metricc.checks import probability_range_message  # emitted modules inline this import
from metricc.checks import blend_overflow_message, narrow_float_message  # emitted modules inline this import
from metricc.checks import TWO_CLASS_HINT, nonfinite_input_message, one_hot_rows  # emitted modules inline this import

# Batches of up to this many elements take the stacked path: fewer, larger tensor operations, and a saved
# per-sample factor so that the backward pass is one product (5 n-sized tensors kept at most besides the input,
# target and weights, 320 KiB in float32); larger batches stream through one buffer and recompute in the backward
# pass (faster from about 32,768 on).
STACKED_MAX_SIZE = 1 << 14
# Elements per block of the streaming path on the CPU, which goes through a batch a block at a time so that its
# buffers stay in the cores' caches (f1 at n = 1e7, float32, two threads: the counts 4x and the gradient 1.7x as
# fast as over the whole batch at once); on an accelerator, and while torch.compile traces, the whole batch at once
CPU_BLOCK = 1 << 18


def _accumulation_dtype(x):
    """Counts are accumulated in float64 for float64 input, else in float32 (also under autocast); the scalars
    computed from them are float64."""
    return torch.float64 if x.dtype == torch.float64 else torch.float32


def device_scalar(value, dtype, device):
    """`value`, a number or a tensor on `device`, as a tensor of `dtype` there: a number through a fill kernel,
    never a copy from host memory, which on CUDA waits for the device (a host synchronisation every step)."""
    if isinstance(value, torch.Tensor):
        return value.to(dtype=dtype, device=device)
    return torch.full((), value, dtype=dtype, device=device)


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


def row_blocks(input, width=1):
    """The slices of `input`'s rows (its first axis; `width` elements a row) that a streaming pass takes one at a
    time: blocks of about CPU_BLOCK elements, and at least CPU_BLOCK / 16 rows (each block costs a few dozen tensor
    operations' fixed cost), on the CPU (eager); else all rows at once."""
    n = input.shape[0]
    size = max(CPU_BLOCK // width, CPU_BLOCK // 16, 1)
    if n <= size or input.device.type != "cpu" or is_compiling():
        return [slice(0, n)]
    return [slice(start, start + size) for start in range(0, n, size)]


def soft_counts(input, target, weight, L, threshold, from_logits):
    """TP, FP, FN, TN of a flat batch as one tensor (accumulation dtype, autocast off). Each count is accumulated
    directly (FP = sum w (1-y) yh, not sum w yh - TP), with 1 - yh computed as sigmoid(-u), so that a small count
    keeps its digits in float32 however large the batch: in a cascade within each block (row_blocks), the blocks'
    sums added in float64."""
    blocks = row_blocks(input)
    if len(blocks) > 1:
        sums = [_block_counts(input[rows], target[rows], None if weight is None else weight[rows], L, threshold,
                              from_logits) for rows in blocks]
        return torch.stack(sums).sum(0, dtype=torch.float64).to(sums[0].dtype)
    return _block_counts(input, target, weight, L, threshold, from_logits)


def _block_counts(input, target, weight, L, threshold, from_logits):
    """soft_counts of one block."""
    dtype = _accumulation_dtype(input)
    with torch.autocast(input.device.type, enabled=False):
        u = _scaled(input, dtype, L, threshold, from_logits)
        yh = torch.sigmoid(u)
        not_yh = u.neg_().sigmoid_()
        y = target.to(dtype)
        # torch.sum adds in a cascade (BLAS dot lost 1e-3 at n = 1e7 in float32); one product buffer
        if weight is None:  # (1 - y) yh as yh - y yh, elementwise (exact for 0/1 labels): no 1 - y tensor
            product = torch.mul(y, yh)
            counts = [product.sum(), torch.sub(yh, product, out=product).sum()]
            torch.mul(y, not_yh, out=product)
            counts += [product.sum(), torch.sub(not_yh, product, out=product).sum()]
            return torch.stack(counts)
        weight = weight.to(dtype)
        not_y = torch.sub(1, y).mul_(weight)
        y = y * weight
        product = torch.empty_like(yh)
        return torch.stack([torch.mul(a, b, out=product).sum() for a, b in ((y, yh), (not_y, yh), (y, not_yh),
                                                                            (not_y, not_yh))])


def stacked_counts(input, target, weight, L, threshold, from_logits, check, blend=False):
    """The counts of soft_counts from a few stacked operations, for small batches: (TP, FP, FN, TN) followed,
    when `blend` (logits only), by the weighted sum of the samples' binary cross-entropies, and when `check` by
    the input summary's values (min x, min y[, min w], max x, max y[, max w]); the per-sample factor
    yh (1 - yh) [p (1 - p)] of d yh / d input (without L); Y = (w y, w (1 - y)), 2 x n, from which the backward
    pass builds the coefficients; and P = (p, 1 - p) (None for probabilities). Every sigmoid and its complement
    is computed directly (sigmoid(x), sigmoid(-x)), so that no slope rounds to 0. Element-wise operations and sums
    only: autocast leaves them in the accumulation dtype."""
    dtype = _accumulation_dtype(input)
    x = input if input.dtype == dtype else input.to(dtype)
    sign, one_minus = _stacking_constants(dtype, x.device)
    scale, shift = _amplifier_columns(L, threshold, dtype, x.device)
    # two rows at once: L p - L t and its exact negation
    if blend:  # log p and log(1 - p) for the cross-entropy, exact for any logit
        log_P = torch.nn.functional.logsigmoid(torch.mul(x, sign))
        P = log_P.exp()
        H = torch.addcmul(shift, P[0], scale).sigmoid_()
    elif from_logits:
        P = torch.mul(x, sign).sigmoid_()  # p, 1 - p: sigmoid(x), sigmoid(-x)
        H = torch.addcmul(shift, P[0], scale).sigmoid_()  # yh, 1 - yh
    else:
        P, H = None, torch.addcmul(shift, x, scale).sigmoid_()
    y = target if target.dtype == dtype else target.to(dtype)
    Y = torch.addcmul(one_minus, y, sign)  # y, 1 - y
    if weight is not None:
        Y.mul_(weight if weight.dtype == dtype else weight.to(dtype))
    counts = (H.unsqueeze(1) * Y).sum(-1).view(4)  # [[yh y, yh (1-y)], [(1-yh) y, (1-yh)(1-y)]]
    if blend:
        counts = torch.cat([counts, (Y * log_P).sum().neg().view(1)])
    if check:
        counts = torch.cat([counts, input_summary(x, y, weight)])
    factor = (H if P is None else torch.cat([H, P])).prod(0)
    return counts, factor, Y, P


def folds_blend(numel, fused, from_logits, group):
    """Whether the autograd function computes the BCE blend itself (small batches of logits, eager, no sync:
    one pass less and no autograd nodes of its own); otherwise the module adds torch's BCE."""
    return from_logits and not fused and group is None and 0 < numel <= STACKED_MAX_SIZE


def _cached_when_eager(function):
    """`function` behind an lru_cache in eager mode, the plain function under torch.compile: Dynamo traces through
    a cache wrapper anyway, and warns that it ignores it."""
    cached = functools.lru_cache(maxsize=16)(function)

    @functools.wraps(function)
    def call(*args):
        return function(*args) if is_compiling() else cached(*args)
    return call


def _amplifier_columns(L, threshold, dtype, device):
    """The columns (L, -L) and (-L t, L t): with them one addcmul gives L p - L t and its exact negation (a new
    pair at each step of the L warm-up, then the same one; not kept for L a tensor, a warm-up's on an accelerator
    or under torch.compile)."""
    if torch.is_tensor(L):
        return _scaled_signs(L.to(dtype), threshold, dtype, device)
    return _cached_scaled_signs(float(L), float(threshold), dtype, device)


def _scaled_signs(L, threshold, dtype, device):
    signs = _stacking_constants(dtype, device)[0]  # (1, -1): scaled on the device, no copy from the host
    return signs * L, signs * (-L * threshold)


_cached_scaled_signs = _cached_when_eager(_scaled_signs)


@_cached_when_eager
def _stacking_constants(dtype, device):
    """The columns (1, -1) and (0, 1), which build two rows at once by broadcasting."""
    return (torch.tensor([[1.0], [-1.0]], dtype=dtype, device=device),
            torch.tensor([[0.0], [1.0]], dtype=dtype, device=device))


def stacked_gradient(factor, Y, coefficients):
    """d loss / d input of the stacked path: factor * (a w y + b w (1 - y)), with the coefficients (a, b), two
    floats or one tensor of two, already scaled (by L and the incoming gradient); each sample's is a two-term sum,
    so b never rounds a away."""
    if isinstance(coefficients, tuple):
        a, b = coefficients
        return torch.mul(Y[0], a).add_(Y[1], alpha=b).mul_(factor)
    return (Y * coefficients.to(Y.dtype).unsqueeze(1)).sum(0).mul_(factor)


def add_blend_gradient_(grad, P, Y, c):
    """grad + c (p w (1 - y) - (1 - p) w y) = grad + c w (p - y): the BCE blend's part, each product exact."""
    blend = torch.mul(P[0], Y[1]).addcmul_(P[1], Y[0], value=-1)
    return grad.add_(blend, alpha=c) if isinstance(c, float) else grad.add_(blend * c.to(grad.dtype))


def gradient(input, target, weight, a, b, scale, L, threshold, from_logits):
    """d loss / d input = scale * w * (y a + (1 - y) b) * L * yh (1 - yh) [* p (1 - p)], in the accumulation dtype,
    a block at a time (row_blocks). The coefficient is y a + (1 - y) b, never b + y (a - b): with a class absent from
    the batch b is about 1/eps, and a - b would round a away in float32."""
    blocks = row_blocks(input)
    if len(blocks) == 1:
        return _block_gradient(input, target, weight, a, b, scale, L, threshold, from_logits)
    grad = torch.empty(input.shape, dtype=_accumulation_dtype(input), device=input.device)
    for rows in blocks:
        grad[rows] = _block_gradient(input[rows], target[rows], None if weight is None else weight[rows], a, b,
                                     scale, L, threshold, from_logits)
    return grad


def _block_gradient(input, target, weight, a, b, scale, L, threshold, from_logits):
    """gradient() of one block."""
    dtype = _accumulation_dtype(input)
    with torch.autocast(input.device.type, enabled=False):
        grad = slope_(_scaled(input, dtype, L, threshold, from_logits))
        buffer = torch.empty_like(grad)
        if from_logits:
            grad.mul_(slope_(buffer.copy_(input)))
        y = target.to(dtype)
        k = scale * L
        coefficient = torch.sub(1, y, out=buffer).mul_(b * k)
        coefficient.addcmul_(y, device_scalar(a * k, dtype, y.device))
        grad.mul_(coefficient)
        if weight is not None:
            grad.mul_(weight.to(dtype))
        return grad


def plain_counts(input, target, weight, scalars, eps, L, threshold, from_logits):
    """The soft counts and the formula at them from operations that autograd and torch.func's transforms record
    (none in place, no read-back): x, yh, 1 - yh, the weighted labels w y and w (1 - y) (the weights divided by
    the largest one, `unit`), and scalars()'s (loss, a, b), in float64 (float32 on MPS)."""
    dtype = _accumulation_dtype(input)
    with torch.autocast(input.device.type, enabled=False):
        x = input.to(dtype)
        p = torch.sigmoid(x) if from_logits else x
        u = L * (p - threshold)
        yh, not_yh = torch.sigmoid(u), torch.sigmoid(-u)
        y = target.to(dtype)
        weight, largest = _unit_weights(weight, dtype)  # as the forward pass: no overflow however they are scaled
        positive, negative = (y, 1 - y) if weight is None else (weight * y, weight * (1 - y))
        counts = [(positive * yh).sum(), (negative * yh).sum(), (positive * not_yh).sum(), (negative * not_yh).sum()]
        scalar_dtype = torch.float32 if input.device.type == "mps" else torch.float64  # MPS lacks float64
        unit = 1.0 if largest is None else largest.to(scalar_dtype)
        return x, yh, not_yh, positive, negative, unit, scalars(*(c.to(scalar_dtype) * unit + eps for c in counts))


def plain_loss(input, target, weight, scalars, eps, L, threshold, from_logits):
    """The loss from plain_counts: what torch.func.vmap maps and forward mode (torch.func.jvp, jacfwd, dual
    tensors) differentiates, where the autograd function cannot run; autograd's gradient of it is the derived
    one. NaN where a gradient coefficient is not finite, as the function's."""
    *_, unit, (loss, a, b) = plain_counts(input, target, weight, scalars, eps, L, threshold, from_logits)
    with torch.autocast(input.device.type, enabled=False):
        return with_gradient_checked(loss, a * unit * L, b * unit * L).to(_accumulation_dtype(input))


def differentiable_gradient(input, target, weight, scalars, eps, scale, L, threshold, from_logits):
    """d loss / d input as `gradient` has it, from operations that autograd records (none in place), so that the
    gradient can be differentiated again: through each yh and slope, and through the counts into a and b."""
    dtype = _accumulation_dtype(input)
    x, yh, not_yh, positive, negative, unit, (_, a, b) = plain_counts(input, target, weight, scalars, eps, L,
                                                                      threshold, from_logits)
    with torch.autocast(input.device.type, enabled=False):
        slope = L * yh * not_yh
        if from_logits:
            slope = slope * torch.sigmoid(x) * torch.sigmoid(-x)
        coefficient = positive * torch.as_tensor(a * unit).to(dtype) + negative * torch.as_tensor(b * unit).to(dtype)
        return scale.to(dtype) * coefficient * slope


class SecondDerivativeRefused(torch.autograd.Function):
    """refused(grad, input, message, error): the gradient (computed without autograd's graph) as a function of the
    loss's input, so that autograd sees it depend on it, and an `error` with `message` where it is differentiated.
    torch's once_differentiable marks a gradient only where the incoming gradient requires grad, which a gradient
    penalty's does not: there the loss's curvature was silently taken as 0."""

    generate_vmap_rule = True  # torch.func.jacrev maps the gradient (a copy) over a batch of cotangents

    @staticmethod
    def forward(grad, input, message, error):
        return grad.clone()

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.message, ctx.error = inputs[2:]

    @staticmethod
    def backward(ctx, _):
        raise ctx.error(ctx.message)


def once_only_because(fused, running, synced, blend=False):
    """Why a loss's gradient cannot be differentiated again (None where it can: it is then recomputed from the
    inputs with autograd's operations): the phrase its refusal gives."""
    return ("compiled (compile=True)" if fused else "with running estimates (momentum)" if running is not None
            else "synchronised across processes (sync=True)" if synced
            else "with the cross-entropy blend folded in (bce_weight)" if blend else None)


def refuse_second_derivative(grad, input, reason, error):
    """`grad`, which differentiating again stops with the loss's `error` saying why it is differentiable once."""
    message = (f"metricc's loss is differentiable once {reason}: its gradient has no derivative of its own, so a "
               f"second derivative through it (create_graph=True: a gradient penalty, a Hessian-vector product) "
               f"would leave out the loss's curvature; it differentiates twice as to_torch(pure=True) (no running "
               f"estimates), without compile or sync, and for a binary loss without bce_weight")
    return SecondDerivativeRefused.apply(grad, input, message, error)


def input_summary(input, target, weight):
    """What the input checks read: min x, min y[, min w], max x, max y[, max w] (w only with weights). NaN
    propagates through a minimum and a maximum, and infinity shows in one of them. An empty batch (a process's
    share under sync=True) gives values that pass every check."""
    dtype = _accumulation_dtype(input)
    tensors = [input, target] if weight is None else [input, target, weight]
    if input.numel() == 0:
        low = [0.0, 0.0, 1.0][:len(tensors)]
        return torch.tensor(low + low, dtype=dtype, device=input.device)
    ranges = [torch.aminmax(t if t.dtype == dtype else t.to(dtype)) for t in tensors]
    return torch.stack([r.min for r in ranges] + [r.max for r in ranges])


def with_given_weights(values, given):
    """The input summary `values` (a list of numbers, or a tensor) with the weights' range, its fields 2 and 5,
    replaced by `given`, the (min, max) of the weights as given (0-d tensors; 1.0, 1.0 for no weights; None: as it
    is), where the summary read weights that are 0 on ignored elements."""
    if given is None:
        return values
    if isinstance(values, list):
        return [*values[:2], float(given[0]), *values[3:5], float(given[1]), *values[6:]]
    low, high = (v.reshape(1).to(values.dtype) if isinstance(v, torch.Tensor)
                 else torch.full((1,), v, dtype=values.dtype, device=values.device) for v in given)
    return torch.cat([values[:2], low, values[3:5], high, values[6:]])


def summary_fields(values):
    """(x_min, x_max, y_min, y_max, w_min, w_max) from the values of input_summary (w = 1 without weights)."""
    half = len(values) // 2
    low, high = list(values[:half]), list(values[half:])
    if half == 2:
        low.append(1.0)
        high.append(1.0)
    return low[0], high[0], low[1], high[1], low[2], high[2]


def check_devices(error, *tensors):
    """Raise `error` unless the tensors (None skipped) are dense (strided, not sparse or nested) and share one
    device that holds data (not `meta`)."""
    for name, t in zip(("input", "target", "sample_weight"), tensors):
        if isinstance(t, torch.Tensor) and (t.is_nested or t.layout != torch.strided):
            kind = "nested" if t.is_nested else f"sparse ({t.layout})"
            raise error(f"Expected dense tensors, but `{name}` is {kind}: pass a dense one (.to_dense(), or "
                        f"torch.cat of a nested tensor's parts with their targets)")
    devices = {t.device for t in tensors if isinstance(t, torch.Tensor)}
    if len(devices) == 1 and next(iter(devices)).type != "meta":
        return
    if len(devices) > 1:
        raise error(f"Expected `input`, `target` and `sample_weight` on one device, but got "
                    f"{', '.join(sorted(map(str, devices)))}.")
    if any(device.type == "meta" for device in devices):
        raise error("Expected tensors with data, but got tensors on the `meta` device (no values to compute a "
                    "loss from).")


def _passes_checks(summary, from_logits):
    """True where the input summary (input_summary's fields) passes every value check (a 0-dim tensor: no
    read-back): no value that is not finite (NaN or infinite input, labels or weights), no label below 0 or above
    1, no weight below 0, and for probabilities no input outside [0, 1]. In four operations, each a kernel on an
    accelerator: sqrt(o + s x) of each field x, with s = 1, o = 0 for a least value that must be >= 0, s = -1,
    o = 1 for a largest value that must be <= 1, and s = o = 0 otherwise (0 x is NaN for an infinite x), is NaN
    or infinite for some field iff a check fails (each sign and offset is exact, so is each bound)."""
    signs, offsets = _check_bounds(summary.numel(), from_logits, summary.dtype, summary.device)
    return torch.sqrt(torch.addcmul(offsets, summary, signs)).sum() < math.inf


@_cached_when_eager
def _check_bounds(size, from_logits, dtype, device):
    """The signs and offsets of _passes_checks for a summary of `size` fields (min x, min y[, min w], max x,
    max y[, max w]): the least label and weight must be >= 0 and the largest label <= 1, and so must the input's
    least and largest value for probabilities."""
    half = size // 2
    x_sign = 0.0 if from_logits else 1.0
    low, high = [x_sign, 1.0, 1.0][:half], [-x_sign, -1.0, 0.0][:half]  # the largest weight: finite only
    signs, offsets = low + high, [0.0] * half + [float(sign < 0) for sign in high]
    return (torch.tensor(signs, dtype=dtype, device=device), torch.tensor(offsets, dtype=dtype, device=device))


def ignored_elements(target, ignore_index):
    """Where `target` equals the int `ignore_index`, exactly: nowhere for an integer type that cannot hold it
    (torch compares in the target's type, where -1 wraps to 255 in uint8) or for booleans, and in float32 for
    narrower floats (2049 rounds to 2048 in float16)."""
    if target.dtype == torch.bool or not (target.is_floating_point() or target.is_complex()) and not (
            torch.iinfo(target.dtype).min <= ignore_index <= torch.iinfo(target.dtype).max):
        return torch.zeros_like(target, dtype=torch.bool)
    if target.is_floating_point() and target.element_size() < 4:
        target = target.float()
    return target == ignore_index


def _unit_weights(weight, dtype):
    """The weights divided by the largest one, and that largest one (1 for no or all-zero weights, and for a NaN
    or infinite one, which the checks then see as it is), so that the counts and the gradient do not overflow or
    underflow however the weights are scaled."""
    if weight is None:
        return None, None
    weight = weight.to(dtype)
    if weight.numel() == 0:
        return weight, None
    largest = weight.amax()
    largest = torch.where((largest > 0) & torch.isfinite(largest), largest, torch.ones_like(largest))
    return weight / largest, largest


def _small_sigmoid(x):
    """sigmoid(-|x|) and sigmoid(x) from it: one exponential for both, and 1 - v is exact enough for v <= 1/2."""
    v = torch.sigmoid(-x.abs())
    return v, torch.where(x >= 0, 1 - v, v)


def _fused_forward(input, target, weight, L, threshold, from_logits, check):
    """For torch.compile: the counts of soft_counts, the per-sample factor d yh / d input (times the weight),
    from two exponentials per sample, so that the backward pass is a product, and the input summary when
    `check`; all in one pass."""
    summary = input_summary(input, target, weight) if check else None
    counts, factor = _fused_counts_and_factor(input, target, weight, L, threshold, from_logits)
    return counts, factor, summary


def _fused_counts_and_factor(input, target, weight, L, threshold, from_logits):
    dtype = _accumulation_dtype(input)
    x = input.to(dtype)
    y = target.to(dtype)
    if from_logits:
        v, p = _small_sigmoid(x)
        factor = v * (1 - v) * L
    else:
        p, factor = x, torch.ones_like(x) * L  # not full_like(x, L): torch.compile fixes that at its first L
    u = (p - threshold) * L
    v, yh = _small_sigmoid(u)
    not_yh = torch.where(u >= 0, v, 1 - v)
    factor = factor * (v * (1 - v))
    not_y = 1 - y
    if weight is not None:
        w = weight.to(dtype)
        y, not_y, factor = y * w, not_y * w, factor * w
    return torch.stack([(y * yh).sum(), (not_y * yh).sum(), (y * not_yh).sum(), (not_y * not_yh).sum()]), factor


def _fused_backward_(target, factor, a, b, scale):
    """For torch.compile: d loss / d input = scale * (y a + (1 - y) b) * factor, written over `factor`."""
    y = target.to(factor.dtype)
    return factor.mul_((y * a + (1 - y) * b) * scale)


def _fused_backward(target, factor, a, b, scale):
    """_fused_backward_ into a new tensor, for torch.func's transforms (which forbid writing over saved tensors)."""
    y = target.to(factor.dtype)
    return factor * ((y * a + (1 - y) * b) * scale)


_COMPILED = {}
# why torch.compile failed here, once it has ("Error: message"): every compiled pass then runs eagerly
_COMPILE_FAILURE = []


def compiled(function):
    """`function` compiled with torch.compile (once per process), or None where torch.compile has failed here: at
    its creation (no compiler backend), or at a compiled pass's first call (no C++ compiler for inductor, say;
    that call runs the function eagerly). _COMPILE_FAILURE says why."""
    if _COMPILE_FAILURE:
        return None
    if function not in _COMPILED:
        try:
            _COMPILED[function] = _eager_where_compiling_fails(torch.compile(function, dynamic=True), function)
        except Exception as error:
            _COMPILE_FAILURE.append(_failure_reason(error))
            return None
    return _COMPILED[function]


def compiled_or_eager(function):
    """compiled(function), or the function itself where torch.compile has failed here."""
    return compiled(function) or function


def _eager_where_compiling_fails(compiled_function, function):
    """compiled_function, which runs `function` eagerly in the call where torch.compile fails to compile it (a
    Dynamo or inductor error), and records why."""
    def call(*args):
        if not _COMPILE_FAILURE:
            try:
                return compiled_function(*args)
            except RuntimeError as error:
                import torch._dynamo  # (loaded by torch.compile already)
                if not isinstance(error, torch._dynamo.exc.TorchDynamoException):
                    raise
                _COMPILE_FAILURE.append(_failure_reason(error))
        return function(*args)
    return call


def _failure_reason(error):
    """"Type: the first line of the message" (and the next one where that ends in ':', as "backend='inductor'
    raised:" does)."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    text = " ".join(lines[:2]) if len(lines) > 1 and lines[0].endswith(":") else (lines[0] if lines else "")
    return f"{type(error).__name__}: {text[:300]}" if text else type(error).__name__


def compile_unavailable_message():
    """The warning of a loss asked to compile where torch.compile has failed (compiled() is None)."""
    return f"torch.compile is unavailable here ({_COMPILE_FAILURE[0]}): the loss runs eagerly"


def synced(group):
    """Whether the counts are summed over the processes of `group` (not None, torch.distributed initialised)."""
    return group is not None and torch.distributed.is_available() and torch.distributed.is_initialized()


def _all_reduce(counts, failed, group):
    """The counts and the number of processes whose inputs failed a check, summed over the processes of `group`
    (the counts of the global batch), with the number of processes. One float64 all-reduce, so that processes
    with float32 and float64 inputs agree."""
    group = None if group == "default" else group
    packed = torch.cat([counts, failed])
    torch.distributed.all_reduce(packed, group=group)
    return packed[:4], packed[4:], torch.distributed.get_world_size(group)


def running_counts(counts, running, momentum, valid=None):
    """Fold this batch's rates (counts over their total) into `running` = (rates of TP, FP, FN, TN, number of
    batches seen), in place: an exponential moving average with `momentum` (the first batch sets it). Returns
    the running rates times this batch's total weight: the counts the partials are evaluated at. Counts of shape
    (4,), or (4, C) with a running state of (5, C) for per-class counts. A class that counts nothing in this
    batch (every element ignored) keeps its state, and a batch whose rates are not finite, or whose inputs
    failed the checks (`valid`, a 0-dim bool tensor, False), leaves all as it was (on the device: no read-back);
    valid=True: the inputs were checked already."""
    total = counts.sum(0)
    counted = total > 0
    rates = counts / torch.where(counted, total, torch.ones_like(total))
    previous = running[:4].to(counts.dtype)
    updated = torch.where(running[4] > 0, momentum * previous + (1 - momentum) * rates, rates)
    kept = counted
    if valid is not True:
        kept = kept & (updated * 0 == 0).all()  # every rate finite (isfinite takes four operations)
        kept = kept if valid is None else kept & valid
    running[:4].copy_(torch.where(kept, updated.to(running.dtype), running[:4]))
    running[4].add_(kept.to(running.dtype))
    return updated * total


def _host_scalars(host_scalars, counts, eps):
    """Loss and the two gradient coefficients as Python floats (NaN where the formula is undefined; the loss NaN
    where its gradient is not finite, as with_gradient_checked has it)."""
    try:
        loss, a, b = (float(v) for v in host_scalars(*(c + eps for c in counts)))
    except (ArithmeticError, ValueError):
        return math.nan, math.nan, math.nan
    return with_gradient_checked(loss, a, b), a, b


def computed_type(dtype):
    """The float type (its name) the loss and gradient are computed in for input of `dtype` (None: float64), for
    nonfinite_message: float32 for input narrower than float64."""
    return "float64" if dtype is None or dtype == torch.float64 else "float32"


def in_range(loss, coefficients, dtype):
    """The loss (a Python float), made NaN where it or one of the gradient's `coefficients` (floats, as the
    backward pass multiplies them into the input's type) passes float32's range for float32 accumulation
    (`dtype`): the check of the loss value then raises, and torch does not fail to convert it."""
    if dtype == torch.float64 or max(abs(loss), *map(abs, coefficients)) <= FLOAT32_MAX:
        return loss
    return math.nan


def with_gradient_checked(loss, a, b):
    """The loss, made NaN where a gradient coefficient (a or b, per class where the loss is one number) is not
    finite, and unchanged otherwise (0 * a is 0): the one check of the loss value then also catches a formula
    whose slope is infinite where its value is not (sqrt(TP - FP) at TP = FP)."""
    for coefficient in (a, b):
        zero = 0 * coefficient
        if torch.is_tensor(zero) and zero.dim() > (loss.dim() if torch.is_tensor(loss) else 0):
            zero = zero.sum()
        loss = loss + zero
    return loss


def read_back(values, error):
    """values.tolist(), for the input checks; where a torch.func transform wraps the tensor and this torch cannot
    read it (seen with torch 2.1 and 2.4), the error class `error` with what to do, instead of torch's own."""
    try:
        return values.tolist()
    except RuntimeError as failure:
        if "doesn't have storage" not in str(failure):
            raise
    raise error("this torch cannot read a tensor's values under a torch.func transform, which the loss's input "
                "checks do: pass check_inputs=False to take the loss under torch.func (grad, vjp), update torch, "
                "or use loss.backward()")


def running_counts_host(counts, running, momentum):
    """running_counts on Python floats (a CPU tensor's values, read once): the counts, and the state to write
    back once the batch has passed the input checks (None where its rates are not finite or it counts nothing)."""
    total = sum(counts)
    rates = [c / total if total > 0 else c for c in counts]
    *previous, seen = running.tolist()
    if seen > 0:
        rates = [momentum * old + (1 - momentum) * new for old, new in zip(previous, rates)]
    state = [*rates, seen + 1] if total > 0 and all(map(math.isfinite, rates)) else None
    return [rate * total for rate in rates], state


class Spec(NamedTuple):
    """What the autograd function needs besides the tensors. `scalars` computes (loss, a, b) on 0-dim tensors;
    `host_scalars`, if not None, on Python floats, which is faster for CPU tensors; `group` is the process group
    whose counts are summed (None: no sync, "default": all processes); `verify`, if not None, checks the input
    summary's values (read back on the host) inside the forward pass, where they are read anyway."""

    scalars: Any
    host_scalars: Any
    L: float
    threshold: float
    from_logits: bool
    eps: float
    fused: bool
    check: bool
    group: Any
    running: Any = None  # the module's running estimates (updated in place), or None
    momentum: float = 0.0
    verify: Any = None
    bce_weight: float = 0.0  # the blend, where folds_blend says the function computes it
    error: Any = ValueError  # the loss's error class


class ForwardRecord:
    """Stands in for autograd's context in an autograd function's forward(ctx, ...) where torch.func runs it:
    torch.func's transforms (grad, vjp) take only functions whose forward pass has no context and hands what it
    saves to setup_context(). The record keeps the saved tensors, the tensors marked non-differentiable and every
    attribute set, and travels as the forward pass's last output (transformable() makes such a twin of a
    function; PyTorch binds each call's arguments to that forward's signature, 50 us a call, so the plain
    function runs wherever no transform is active)."""

    def save_for_backward(self, *tensors):
        self.saved_for_backward = tensors

    def mark_non_differentiable(self, *tensors):
        self.non_differentiable = tensors

    @staticmethod
    def forward(function, *inputs):
        """`function(record, *inputs)`'s outputs (one tensor or a tuple), with the record last."""
        record = ForwardRecord()
        outputs = function(record, *inputs)
        return (*outputs, record) if isinstance(outputs, tuple) else (outputs, record)

    @staticmethod
    def transforming():
        """Whether a torch.func transform is active (0.04 us where none is; never while torch.compile traces,
        which cannot trace the question and handles the transforms itself)."""
        if is_compiling():
            return False
        peek = getattr(getattr(torch._C, "_functorch", None), "peek_interpreter_stack", None)
        return peek is not None and peek() is not None

    @staticmethod
    def active(*kinds):
        """Whether a torch.func transform of one of these `kinds` ("Vmap", "Jvp") wraps the code that runs now."""
        if not ForwardRecord.transforming():  # the common case
            return False
        try:
            from torch._functorch.pyfunctorch import retrieve_all_functorch_interpreters
        except ImportError:
            return False
        names = {f"{kind}Interpreter" for kind in kinds}
        return any(type(level).__name__ in names for level in retrieve_all_functorch_interpreters())

    @staticmethod
    def mapped():
        """Whether torch.func.vmap is mapping the code that runs now (alone, or around grad or vjp)."""
        return ForwardRecord.active("Vmap")

    @staticmethod
    def plain_only(input):
        """Whether the loss must run as plain operations (plain_loss): under torch.func.vmap, which the autograd
        function has no rule for and whose tensors cannot be read back, and in forward mode (torch.func.jvp and
        jacfwd, dual tensors of torch.autograd.forward_ad), which it has no rule for either (a jvp method would stop
        torch.compile)."""
        if ForwardRecord.active("Vmap", "Jvp"):
            return True
        return (forward_ad._current_level >= 0 and isinstance(input, torch.Tensor)
                and forward_ad.unpack_dual(input).tangent is not None)

    @staticmethod
    def jvp_error(error):
        """The error for forward mode through the autograd function (plain_only() keeps the loss out of it)."""
        return error("metricc's autograd function has no forward-mode derivative: the loss computes with plain "
                     "operations in forward mode (torch.func.jvp, jacfwd, torch.autograd.forward_ad)")

    @staticmethod
    def setup_context(ctx, output, inputs=()):
        """Gives autograd's context `ctx` what the record (`output`'s last element) holds; the forward pass's
        first saved tensors are its `inputs`, saved as torch.func hands them here (the forward pass sees them
        unwrapped), so that a gradient computed from them is differentiable by an enclosing transform."""
        record = output[-1]
        for name, value in vars(record).items():
            if name not in ("saved_for_backward", "non_differentiable"):
                setattr(ctx, name, value)
        saved = getattr(record, "saved_for_backward", ())
        ctx.save_for_backward(*inputs, *saved[len(inputs):])
        ctx.mark_non_differentiable(*getattr(record, "non_differentiable", ()))


def transformable(function):
    """A twin of the autograd function `function` (its forward(ctx, ...) and backward) as torch.func's transforms
    take it: forward without a context, returning a ForwardRecord last, and setup_context(); jvp stops with the
    loss's error (the loss keeps vmap and forward mode out of the function: ForwardRecord.plain_only())."""

    class Transformable(torch.autograd.Function):
        @staticmethod
        def forward(*args):
            return ForwardRecord.forward(function.forward, *args)

        @staticmethod
        def setup_context(ctx, inputs, output):
            ForwardRecord.setup_context(ctx, output, inputs[:3])  # both functions save input, target, weight first

        backward = staticmethod(function.backward)

        @staticmethod
        def jvp(ctx, *tangents):
            raise ForwardRecord.jvp_error(ctx.error)

    Transformable.__name__ = Transformable.__qualname__ = function.__name__
    return Transformable


def apply_function(function, *args):
    """function.apply(*args), or its transformable() twin's (without the record) under a torch.func transform."""
    if not ForwardRecord.transforming():
        return function.apply(*args)
    twin = function.__dict__.get("twin")
    if twin is None:
        twin = function.twin = transformable(function)
    *outputs, _ = twin.apply(*args)
    return tuple(outputs) if len(outputs) > 1 else outputs[0]


class SoftConfusionFunction(torch.autograd.Function):
    """Forward: four soft counts and the loss. Backward: one elementwise pass with the derived partials.
    Small batches (stacked path) save a per-sample factor and the weighted labels, so that the backward pass is
    one product; large ones save only the inputs and two scalars, and the backward pass recomputes yh.
    Returns the loss and the input summary (empty without checks), or the loss alone where `verify` has checked
    the summary already.
    """

    @staticmethod
    def forward(ctx, input, target, weight, spec: Spec):
        (scalars, host_scalars, L, threshold, from_logits, eps, fused, check, group, running, momentum, verify,
         bce_weight, ctx.error) = spec
        dtype = _accumulation_dtype(input)
        scalar_dtype = torch.float32 if input.device.type == "mps" else torch.float64  # MPS lacks float64
        ctx.amplifier = (L, threshold, from_logits)
        # (torch.export: stacked at any size; the streaming path's products into buffers, out=, would make a program
        # that cannot run with gradients)
        stacked = 0 < input.numel() and (is_exporting() or input.numel() <= STACKED_MAX_SIZE)
        ctx.path = "fused" if fused else "stacked" if stacked else "streaming"
        ctx.input_dtype = input.dtype
        ctx.consumed = False
        reason = once_only_because(fused, running, synced(group), bool(bce_weight))
        # the inputs are saved first (the weights as given): a second derivative recomputes the gradient from them
        ctx.twice, ctx.once_reason = (None, reason) if reason else ((scalars, eps), None)
        inputs = (input, target, weight)
        weight, largest = _unit_weights(weight, dtype)  # the checks hold for the weights iff for these
        factor = stacked = packed = probabilities = bce = None
        ctx.blend = None
        if fused:  # saves one n-sized factor, so that backward is a single product
            L_tensor = device_scalar(L, dtype, input.device)  # a tensor: no recompilation as L moves
            counts, factor, summary = compiled_or_eager(_fused_forward)(input, target, weight, L_tensor, threshold,
                                                                        from_logits, check)
        else:
            if ctx.path == "stacked":  # the counts and the summary in one tensor
                blend = bool(bce_weight) and folds_blend(input.numel(), fused, from_logits, group)
                packed, factor, stacked, probabilities = stacked_counts(input, target, weight, L, threshold,
                                                                        from_logits, check, blend)
                first = 5 if blend else 4
                counts, summary = packed[:4], (packed[first:] if check else None)
                bce = packed[4] if blend else None
            else:
                counts = soft_counts(input, target, weight, L, threshold, from_logits)
                summary = input_summary(input, target, weight) if check else None
                packed = counts if summary is None else None
        ctx.world_size = 1
        unit = 1.0 if largest is None else largest  # a and b carry the largest weight, the unit weights the rest
        host = (host_scalars is not None and not fused and reads_back_now(input.device) and not synced(group)
                and not is_compiling())
        if host:  # CPU: one read-back of the counts and the summary, then Python floats
            values = (packed if packed is not None else torch.cat([counts, summary.to(counts.dtype)])).tolist()
            counts, summary_values = values[:4], values[4 if bce is None else 5:]
            if bce is not None:  # the blend's mean over the (unit) weights, and its gradient's coefficient
                total = sum(counts)  # 0 where every element is ignored: no blend (zero weights raise)
                bce, ctx.blend = (bce_weight * values[4] / total, bce_weight / total) if total else (0.0, 0.0)
            if largest is not None:
                unit = largest.item()
                counts = [c * unit for c in counts]
                if summary is not None:  # the weights' extremes as given, for the checks' message
                    summary_values[2::3] = [v * unit for v in summary_values[2::3]]
            state = None
            if running is not None:
                counts, state = running_counts_host(counts, running, momentum)
            loss, a, b = _host_scalars(host_scalars, counts, eps)
            if bce is not None:
                loss += bce
            loss = in_range(loss, (a * unit * L, b * unit * L), dtype)
            if summary is not None and verify is not None:  # raises for bad inputs: the state stays
                verify([*summary_values, sum(counts), max(counts), loss], counts)
                summary = None
            if state is not None:
                running.copy_(torch.tensor(state, dtype=running.dtype, device=running.device))
            ctx.coefficients = (a * unit, b * unit)
            if ctx.blend is None:
                probabilities = None  # needed by the blend's gradient only
            ctx.save_for_backward(*inputs, *((factor, stacked, probabilities) if stacked is not None else ()))
            if summary is None:  # checked already, or no checks: the loss alone (a second output costs time)
                return torch.scalar_tensor(loss, dtype=dtype, device=input.device)  # (not torch's default device)
            summary = torch.tensor([*summary_values, sum(counts), max(counts)], dtype=scalar_dtype,
                                   device=input.device)
            ctx.mark_non_differentiable(summary)
            return torch.scalar_tensor(loss, dtype=dtype, device=input.device), summary
        counts = counts.to(scalar_dtype)
        if bce is not None:
            total = counts.sum()
            total = torch.where(total > 0, total, torch.ones_like(total))  # 0 where every element is ignored
            bce, ctx.blend = bce_weight * bce.to(scalar_dtype) / total, bce_weight / total
        if largest is not None:
            counts = counts * largest.to(scalar_dtype)
        failed = valid = None
        checked = summary is not None and summary.numel() > 0
        if synced(group):  # the processes agree on the counts and on whether any process's inputs failed a check
            failed = (~_passes_checks(summary, from_logits) if checked
                      else torch.zeros((), dtype=torch.bool, device=input.device)).to(scalar_dtype).reshape(1)
            counts, failed, ctx.world_size = _all_reduce(counts, failed, group)
            valid = failed[0] == 0
        elif checked and running is not None:  # (only the running counts need the verdict here)
            valid = _passes_checks(summary, from_logits)
        if summary is None:
            summary = torch.empty(0, dtype=scalar_dtype, device=input.device)
        else:  # under sync: how many processes failed a check, and the global total weight; the largest count
            extra = [failed] if failed is not None else []
            if largest is not None and len(summary) == 6:  # the weights' extremes as given, for the checks' message
                summary = summary.to(scalar_dtype, copy=True)
                summary[2::3] *= largest.to(scalar_dtype)
            else:
                summary = summary.to(scalar_dtype)
            summary = torch.cat([summary, *extra, counts.sum().reshape(1), counts.amax().reshape(1)])
        ctx.mark_non_differentiable(summary)
        if running is not None:
            counts = running_counts(counts, running, momentum, valid)
        with torch.autocast(input.device.type, enabled=False):
            loss, a, b = scalars(*(counts + eps).unbind())  # (one addition for the four counts)
            if bce is not None:
                loss = loss + bce
            if not isinstance(unit, float):  # the largest weight (1.0 without weights)
                a, b = a * unit.to(scalar_dtype), b * unit.to(scalar_dtype)
            # the loss and the coefficients (a, b) in the input's type in one conversion; the loss NaN where a
            # coefficient times L is not finite in that type, as with_gradient_checked has it
            values = torch.stack([device_scalar(v, scalar_dtype, input.device) for v in (loss, a, b)]).to(dtype)
            coefficients = values[1:]
            loss = values[0] + (coefficients * L).mul_(0).sum()
        if stacked is not None:
            ctx.save_for_backward(*inputs, factor, stacked, probabilities if ctx.blend is not None else None,
                                  coefficients)
        elif fused:
            ctx.save_for_backward(*inputs, factor, coefficients)
        else:
            ctx.save_for_backward(*inputs, coefficients)
        ctx.coefficients = None
        return loss, summary

    @staticmethod
    def backward(ctx, grad_output, *_):
        recorded = torch.is_grad_enabled()  # create_graph=True, or a torch.func transform
        inputs = ctx.saved_tensors[:3] if recorded else None  # read before the fused path writes over its factor
        with torch.no_grad():
            if ForwardRecord.mapped():  # a batch of cotangents (torch.func.jacrev, vmap over vjp): the gradient is
                one = torch.ones((), dtype=grad_output.dtype, device=grad_output.device)  # linear in the cotangent
                grad = SoftConfusionFunction.derived_gradient(ctx, one) * grad_output
            else:
                grad = SoftConfusionFunction.derived_gradient(ctx, grad_output)
        if not recorded:  # the usual backward pass
            return grad, None, None, None
        # autograd records the backward pass: the same values, with the derivative of the gradient recomputed
        # from the inputs, or a refusal when it is differentiated
        input, target, weight = inputs
        if ctx.twice is None:
            return refuse_second_derivative(grad, input, ctx.once_reason, ctx.error), None, None, None
        exact = differentiable_gradient(input, target, weight, *ctx.twice, grad_output * ctx.world_size,
                                        *ctx.amplifier)
        return grad + (exact - exact.detach()).to(grad.dtype), None, None, None

    @staticmethod
    def derived_gradient(ctx, grad_output):
        """The gradient from the derived partials (one elementwise pass), without autograd's graph."""
        if ctx.path == "fused":
            if ctx.consumed:
                raise ctx.error("a compiled binary loss (compile=True) takes one backward pass per forward pass "
                                "(it writes the gradient over its saved buffer): compute the loss again for another "
                                "backward pass, or use compile=False")
            ctx.consumed = True
        input, target, weight, *saved = ctx.saved_tensors
        if ctx.coefficients is not None:  # Python numbers (the host path): no tensor operation for the scale
            scale = float(grad_output) * ctx.world_size
            (a, b), coefficients = ctx.coefficients, None
        else:
            scale = grad_output * ctx.world_size if ctx.world_size != 1 else grad_output
            coefficients, saved = saved[-1], saved[:-1]  # (a, b) as one tensor
            a, b = coefficients.unbind()
        if ctx.path == "fused":
            factor = saved[0]
            backward = _fused_backward if ForwardRecord.transforming() else _fused_backward_  # torch.func: no writes
            grad = compiled_or_eager(backward)(target, factor, a, b, scale)
            return grad.to(ctx.input_dtype)
        if ctx.path == "stacked":
            factor, Y, P = saved
            k = scale * ctx.amplifier[0]
            grad = stacked_gradient(factor, Y, (a * k, b * k) if coefficients is None else coefficients * k)
            if ctx.blend is not None:
                grad = add_blend_gradient_(grad, P, Y, ctx.blend * scale)
            return grad.to(ctx.input_dtype)
        weight = _unit_weights(weight, _accumulation_dtype(input))[0]  # as the forward pass had them
        grad = gradient(input, target, weight, a, b, scale, *ctx.amplifier)
        return grad.to(input.dtype)


def reads_back_now(device):
    """Whether the input checks read their values back at once (the CPU, where that costs nothing), rather
    than later without waiting for the device (accelerators, whose queue a read-back would stall)."""
    return device.type == "cpu"


# Deferred checks beyond this many wait for the oldest (the device is that many steps behind the host).
MAX_PENDING_CHECKS = 8


class DeferredCheck(NamedTuple):
    """The check values of one batch, copied to host memory without waiting; `ready` is None or an event that
    the copy has finished once it reports so."""

    values: Any
    ready: Any
    numel: int
    weighted: bool
    dtype: Any

    @classmethod
    def start(cls, values, numel, weighted, dtype):
        try:
            host = torch.empty(values.shape, dtype=values.dtype, device="cpu", pin_memory=True)
        except RuntimeError:  # no pinned memory here: the copy waits for the device
            host = torch.empty(values.shape, dtype=values.dtype, device="cpu")
        try:
            ready = torch.Event(device=values.device.type)
        except AttributeError:  # torch before 2.4: CUDA's own event
            ready = torch.cuda.Event() if values.device.type == "cuda" else None
        except (RuntimeError, ValueError, TypeError):
            ready = None
        host.copy_(values, non_blocking=ready is not None)  # without an event to wait for, the copy waits
        if ready is not None:
            ready.record()
        return cls(host, ready, numel, weighted, dtype)

    def done(self):
        return self.ready is None or self.ready.query()

    def wait(self):
        if self.ready is not None:
            self.ready.synchronize()


# what a deferred check's error adds: the batch at fault is an earlier one, and how to find it
DEFERRED_NOTE = (" (found late, in the batch of an earlier call: on an accelerator the input checks read their values "
                 "back without waiting, so that batch's loss was NaN and its error comes at a later call; call the "
                 "loss module's check_pending() after each step to raise at the bad batch, and pass that batch on the "
                 "CPU to see where the value lies)")
CHECKS_LEAVE_THE_GRAPH = ("metricc's input checks read the batch's values back to raise a clear error, a graph "
                          "break in a compiled step; under fullgraph=True pass check_inputs=False to to_torch()")


def _graph_break(reason):
    """torch.compiler.disable, with the reason Dynamo gives where a graph may not break (if this torch takes one)."""
    try:
        return torch.compiler.disable(reason=reason)
    except TypeError:
        return torch.compiler.disable


class InputChecks:
    """Checks of the input values that never stall an accelerator: on the CPU they are read back and raise at
    once; on an accelerator they are copied to host memory without waiting and raise at the next call (or at
    check_pending()), the loss of a failing batch being NaN meanwhile. Inside a user's torch.compile'd step the
    check is a graph break and runs the same way. A subclass gives `_verify(values, numel, weighted, dtype,
    batch=None)` (raise for bad values; `dtype`: the input's; `batch`, the input, target and weights as given, where
    the check runs at once, so that an error can say where a bad value is) and `_passing(summary, weighted)` (the
    same test as a tensor, on the device: True where the values pass)."""

    def _init_checks(self):
        self._pending = collections.deque()  # deferred checks, oldest first
        self._checked_dtypes = set()

    def _refuse_unsupported(self, input, target, weight, unexportable):
        """Refuses a call that the loss cannot serve: training state under vmap or in forward mode
        (_refuse_plain), a tracer (_refuse_tracers), or a target or weights that require grad
        (_refuse_differentiated). Returns whether the loss runs as plain operations (ForwardRecord.plain_only)."""
        plain = ForwardRecord.plain_only(input)
        if plain:
            self._refuse_plain()
        self._refuse_tracers(unexportable)
        self._refuse_differentiated(target, weight)
        return plain

    def _refuse_plain(self):
        """Under vmap or in forward mode the loss is plain operations on the batch (plain_loss): refused where it
        would update running counts (one buffer, not one per mapped batch) or sum over processes."""
        if self.training and torch.is_grad_enabled() and self.running is not None:
            raise self.error("torch.func.vmap and forward mode (jvp, jacfwd, hessian) compute the loss of each batch "
                             "alone, and cannot update its running counts (momentum): pass momentum=0 or pure=True "
                             "to to_torch(), or call the loss in eval() mode")
        if self._synced():
            raise self.error("torch.func.vmap and forward mode (jvp, jacfwd, hessian) cannot sum the counts over the "
                             "processes (sync): pass sync=False")

    def _synced(self):
        """Whether the counts are summed over the processes (sync=True, torch.distributed initialised)."""
        return self.sync and synced(self.process_group or "default")

    def _refuse_tracers(self, unexportable):
        """torch.jit.trace would fix one call's Python branches; torch.export runs the loss unless `unexportable`
        says why not (its checks then poison the loss instead of reading values back); else refused, as vmap is."""
        if is_exporting() and unexportable:
            raise self.error(f"torch.export of {unexportable}: export the model alone and apply the loss to its "
                             f"output, or use torch.compile for a training step")
        if torch.jit.is_tracing():
            raise self.error("torch.jit.trace cannot trace the metric loss (it branches in Python on the batch and "
                             "the training state): trace the model alone and apply the loss to its output, or use "
                             "torch.compile")

    def __prepare_scriptable__(self):
        """torch.jit.script asks this first: TorchScript cannot compile the loss (a Python autograd Function)."""
        raise self.error("torch.jit.script cannot compile the metric loss (its backward pass is a Python autograd "
                         "Function): script the model alone and apply the loss to its output, or use torch.compile")

    def _refuse_differentiated(self, target, weight):
        """Refuses a target or weights that require grad while gradients are recorded: the derived gradient flows
        to the logits only, and theirs would be missing (None: an optimizer skips them) or partial (the BCE
        blend's)."""
        if torch.is_grad_enabled():
            for tensor, name in ((target, "target"), (weight, "sample_weight")):
                if isinstance(tensor, torch.Tensor) and tensor.requires_grad:
                    raise self.error(f"Expected no `{name}` that requires grad: the loss's derived gradient flows to "
                                     f"the logits only (one for `{name}` would be missing); pass {name}.detach()")

    @staticmethod
    def _reads_back_now(device):
        """reads_back_now(device), for the subclasses (looked up here, where tests replace it)."""
        return reads_back_now(device)

    def _check_dtype_once(self, dtype):
        """`check_dtype(dtype)` (if given) the first time `dtype` is seen; inside a compiled step, at the value
        checks, which leave the graph."""
        if self.check_dtype is not None and dtype not in self._checked_dtypes and not is_compiling():
            self._checked_dtypes.add(dtype)
            self.check_dtype(dtype)

    def _check_values(self, loss, summary, numel, weighted, dtype=None, batch=None):
        """`loss`, after raising for bad input values where reading them back costs nothing; on an accelerator
        the check is deferred and a failing batch's loss is NaN. `dtype`: the input's; `batch`: the input, target and
        weights themselves (for the message, where the check runs at once). A program that
        torch.export makes, which cannot read values back, makes a failing batch's loss NaN."""
        if is_exporting():
            return self._poisoned(loss, summary, weighted)
        return self._check_values_eagerly(loss, summary, numel, weighted, dtype, batch)

    def _poisoned(self, loss, summary, weighted):
        """`loss`, NaN where the inputs fail the checks or it is not finite."""
        passing = self._passing(summary, weighted) & (loss * 0 == 0)  # loss * 0 == 0: a finite loss
        return torch.where(passing, loss, math.nan)

    @_graph_break(CHECKS_LEAVE_THE_GRAPH)  # in a user's compiled step the checks run as in eager mode
    def _check_values_eagerly(self, loss, summary, numel, weighted, dtype, batch=None):
        if dtype is not None:
            self._check_dtype_once(dtype)
        values = torch.cat([summary, loss.detach().reshape(-1).to(summary.dtype)])
        if reads_back_now(values.device):
            self._verify(read_back(values, self.error), numel, weighted, dtype, batch)
            return loss
        if len(self._pending) >= MAX_PENDING_CHECKS:
            self._check_pending(wait=True)
        self._pending.append(DeferredCheck.start(values, numel, weighted, dtype))
        return self._poisoned(loss, summary, weighted)

    def check_pending(self):
        """Raise now for any input check deferred on an accelerator (waits for the device)."""
        self._check_pending(wait=True)

    def _check_pending(self, wait):
        while self._pending and (wait or self._pending[0].done()):
            deferred = self._pending.popleft()
            deferred.wait()
            try:
                self._verify(deferred.values.tolist(), deferred.numel, deferred.weighted, deferred.dtype)
            except self.error as error:
                raise self.error(f"{error}{DEFERRED_NOTE}") from None


def training_settings(given, defaults):
    """The training options L, warmup, L_start, bce_weight and momentum of a loss: those `given`, the `defaults`
    (to_torch()'s, or the pure loss's) for the rest; a warm-up whose start was not given begins no higher than L
    (a small L needs no warm-up from 5)."""
    settings = {**defaults, **given}
    L = settings["L"]
    number = isinstance(L, numbers.Real) and not isinstance(L, bool)  # NumPy's too (a bad L is refused later)
    if "L_start" not in given and number and 0 < L < settings["L_start"]:
        settings["L_start"] = float(L)
    return settings


class TrainingState:
    """What makes a metric loss train on minibatches, shared by the binary and multi-class modules: L rising
    from L_start to L over the first `warmup` training steps, a `bce_weight` blend with (binary) cross-entropy,
    and running estimates of the counts with `momentum` (a buffer, None when momentum is 0). Evaluation
    (eval() or no_grad) neither counts steps nor updates the running estimates; nor does a batch that fails the
    input checks update them (on an accelerator, whose check is deferred, it still counts a step)."""

    def _init_training(self, warmup, L_start, bce_weight, momentum, shape):
        self.warmup = int(warmup)
        self.L_start = float(L_start)
        self.bce_weight = float(bce_weight)
        self.momentum = float(momentum)
        # the training steps taken (forward calls in training mode) for the L schedule: a tensor, which
        # torch.compile does not specialise on (an int made it compile a step anew at each warm-up step)
        self.register_buffer("step_count", torch.zeros((), dtype=torch.int64), persistent=False)
        self.register_buffer("running", torch.zeros(shape, dtype=torch.float64) if self.momentum > 0 else None)

    def _eager_after_compile_failure(self):
        """Where a compiled pass of this loss has failed to compile (and ran eagerly): the eager passes from now
        on, and a warning that says why, once."""
        if self.fused and _COMPILE_FAILURE:
            self.fused = False
            warnings.warn(f"torch.compile failed here ({_COMPILE_FAILURE[0]}): the loss runs eagerly", self.warning,
                          stacklevel=caller_level())

    def _training_repr(self):
        return (f"warmup={self.warmup}, L_start={self.L_start}, bce_weight={self.bce_weight}, "
                f"momentum={self.momentum}")

    def _init_sync(self, sync, process_group):
        """sync=True sums the counts over the processes of `process_group`; None (the default) is False, and
        warns once where torch.distributed runs several processes (_warn_unsynced)."""
        self.sync, self.process_group = bool(sync), process_group
        self._sync_unchosen = sync is None

    def _warn_unsynced(self):
        """Once, where torch.distributed runs several processes and sync was left unchosen: each process's loss
        is then the metric of its own share of the batch, which DistributedDataParallel does not make global."""
        if not getattr(self, "_sync_unchosen", False) or is_compiling():  # (saved before it)
            return
        distributed = torch.distributed
        if not (distributed.is_available() and distributed.is_initialized()):
            return
        self._sync_unchosen = False
        processes = distributed.get_world_size()
        if processes > 1:
            warnings.warn(f"torch.distributed runs {processes} processes, and each one's loss is the metric of its "
                          f"own share of the batch: pass sync=True for the loss of the whole batch (under "
                          f"DistributedDataParallel its averaged gradient is then the whole batch's), or "
                          f"sync=False to keep each process's own and silence this warning", self.warning,
                          stacklevel=caller_level())

    def _unexportable_state(self):
        """Why torch.export cannot take this loss (None where it can): running counts, a warm-up or sync, which
        an exported program would freeze."""
        if self.running is None and not self.warmup and not self.sync:
            return None
        return ("a loss with training state (running counts, a warm-up or sync, which an exported program would "
                "freeze) is not supported; to_torch(pure=True) exports")

    @property
    def steps(self):
        """The training steps taken (forward calls in training mode), counted while a warm-up needs them."""
        return int(self.step_count)

    def current_L(self):
        """The amplifier's scale now: L_start rising linearly to L over the first `warmup` training steps; a
        0-dim tensor under torch.compile and on an accelerator, whose step count is not read back."""
        if not self.warmup:
            return self.L
        if is_compiling() or not reads_back_now(self.step_count.device):
            rising = self.L_start + (self.L - self.L_start) * self.step_count.double() / self.warmup
            return torch.where(self.step_count >= self.warmup, self.L, rising)
        steps = self.steps
        return self.L if steps >= self.warmup else self.L_start + (self.L - self.L_start) * steps / self.warmup

    def reset(self):
        """Forget the training state: the step count of the L schedule and the running estimates."""
        self.step_count = torch.zeros_like(self.step_count)  # (new tensors, never in place: see _count_step)
        if self.running is not None:
            self.running.zero_()

    def _apply(self, fn, recurse=True):
        """Module conversions move the float64 buffers (running estimates, class weights) but keep their type:
        model.half() or model.to(torch.bfloat16), with this loss among its submodules, would round a moving
        average of shares to 3 digits, where it stalls."""
        kept = {name: buffer for name, buffer in self._buffers.items()
                if buffer is not None and buffer.dtype == torch.float64}
        super()._apply(fn, recurse)
        for name, before in kept.items():
            after = self._buffers[name]
            if after is not None and after.dtype != torch.float64:
                self._buffers[name] = before.to(device=after.device)
        return self

    def get_extra_state(self):
        return {"steps": self.steps}

    def set_extra_state(self, state):
        self.step_count = torch.full_like(self.step_count, int(state["steps"]))

    def _running_for_this_step(self, device):
        """(whether this forward call trains, the running buffer to update or None), the buffers on the input's
        `device` (_follow)."""
        training = self.training and torch.is_grad_enabled()
        self._follow(device)
        return training, (self.running if training and self.running is not None else None)

    def _follow(self, device):
        """Moves the buffers to `device`, the input's, where they are elsewhere: a loss is seldom moved with the
        model (`loss_fn.to("cuda")`), as stateless torch losses need not be, and its running counts would meet
        CUDA tensors on the CPU. One copy, the first time."""
        for name, buffer in self._buffers.items():
            if buffer is not None and buffer.device != device:
                self._buffers[name] = buffer.to(device)

    def _count_step(self, training):
        if training and self.warmup:  # a new tensor, not add_: a compiled backward pass may recompute this step's
            self.step_count = self.step_count + 1  # L from the old one (it had, silently, with the next step's)


class SoftConfusionLoss(InputChecks, TrainingState, torch.nn.Module):
    """`1 - metric` (or a cost) of the soft confusion matrix of a batch, as a 0-dim tensor.

    `forward(input, target, sample_weight=None)`: `input` holds logits (or probabilities when
    `from_logits=False`) of any shape; `target` holds 0/1 labels (float, int or bool) of the same shape; all
    elements form one confusion matrix, but those whose target is `ignore_index`. Each prediction is amplified
    as `yh = sigmoid(L * (p - threshold))`, and every count is smoothed by `eps` so that no batch divides by
    zero. `compile=True` runs the two passes through torch.compile (fused kernels: C++/OpenMP on CPU, Triton on
    CUDA), or warns and stays eager where torch.compile is unavailable. `sync=True` sums the counts over the
    processes of `process_group` (default: all) when torch.distributed is initialised, so that the loss is that
    of the global batch; each process's gradient is then world_size times the global loss's gradient w.r.t. its
    own samples, so that DistributedDataParallel's averaging gives exactly the single-process gradient.
    `check_dtype`, if given, is called with each new input dtype (metricc checks there that L suits it).
    """

    def __init__(self, scalars, *, L=73.0, threshold=0.5, from_logits=True, eps=1e-6, check_inputs=True,
                 compile=False, sync=None, process_group=None, warmup=0, L_start=5.0, bce_weight=0.0,
                 momentum=0.0, ignore_index=None, host_scalars=None, name="metric", error=ValueError,
                 warning=UserWarning, check_dtype=None):
        super().__init__()
        self._init_training(warmup, L_start, bce_weight, momentum, (5,))
        self.scalars = scalars
        self.host_scalars = host_scalars
        self.L = float(L)
        self.threshold = float(threshold)
        self.from_logits = bool(from_logits)
        self.eps = float(eps)
        self.check_inputs = check_inputs
        self.ignore_index = ignore_index
        self.name = name
        self.error = error
        self.warning = warning
        self._hint, self._pairs_seen = ProbabilityHint(), False
        self.check_dtype = check_dtype
        self._init_checks()
        self._init_sync(sync, process_group)
        self.fused = bool(compile) and compiled(_fused_forward) is not None
        if compile and not self.fused:
            warnings.warn(compile_unavailable_message(), warning, stacklevel=caller_level())

    def extra_repr(self):
        return (f"{self.name!r}, L={self.L}, threshold={self.threshold}, from_logits={self.from_logits}, "
                f"eps={self.eps}, fused={self.fused}, {self._training_repr()}")

    def forward(self, input, target, sample_weight=None):
        # vmap, forward mode: plain operations, no value read back
        plain = self._refuse_unsupported(input, target, sample_weight, self._unexportable_state())
        self._warn_unsynced()
        if self.check_inputs:
            self._check(input, target, sample_weight)
            if not plain:
                self._hint_two_classes(target)
            if self._pending:
                self._check_pending(wait=self._synced())  # processes must agree on when to raise
        self._check_dtype_once(input.dtype)
        batch = (input, target, sample_weight)  # as given: an error places a bad value there
        given = None  # the weights' range as given (none: 1), which their checks read (as every backend's do)
        if self.ignore_index is not None:
            if self.check_inputs and sample_weight is None:
                given = (1.0, 1.0)
            elif self.check_inputs and sample_weight.numel():
                given = torch.aminmax(sample_weight.detach().reshape(-1).to(_accumulation_dtype(input)))
            target, sample_weight = self._kept(input, target, sample_weight)  # (0 where ignored)
        weight = sample_weight if sample_weight is None or sample_weight.dim() == 1 else sample_weight.reshape(-1)
        check = self.check_inputs
        group = (self.process_group or "default") if self.sync else None
        training, running = self._running_for_this_step(input.device)
        verify = (None if not check or is_compiling() or plain else lambda values, counts: self._verify(
            with_given_weights(values, given), input.numel(), weight is not None, input.dtype, batch, counts))
        folded = bool(self.bce_weight) and not plain and folds_blend(input.numel(), self.fused, self.from_logits,
                                                                     group)
        spec = Spec(self.scalars, self.host_scalars, self.current_L(), self.threshold, self.from_logits, self.eps,
                    self.fused, check, group, running, self.momentum, verify, self.bce_weight if folded else 0.0,
                    self.error)
        flat_input = input if input.dim() == 1 else input.reshape(-1)
        flat_target = target if target.dim() == 1 else target.reshape(-1)
        if plain:
            loss = plain_loss(flat_input, flat_target, weight, self.scalars, self.eps, self.current_L(),
                              self.threshold, self.from_logits)
            if check:  # NaN for a batch that fails the checks, as a program that torch.export makes
                summary = input_summary(flat_input, flat_target, weight)
                loss = self._poisoned(loss, with_given_weights(summary, given), weight is not None)
        else:
            loss = apply_function(SoftConfusionFunction, flat_input, flat_target, weight, spec)
        loss, summary = loss if isinstance(loss, tuple) else (loss, None)
        if self.bce_weight and not folded:  # torch's BCE (times bce_weight: add's alpha must fit the loss's type)
            loss = loss + self._bce(input, target, sample_weight).to(loss.dtype) * self.bce_weight
        if check and summary is not None and summary.numel():  # not checked inside the forward pass
            loss = self._check_values(loss, with_given_weights(summary, given), input.numel(), weight is not None,
                                      input.dtype, batch)
        elif check and self.bce_weight and not folded and not plain and not math.isfinite(read_back(loss, self.error)):
            raise self.error(blend_overflow_message(self.bce_weight, computed_type(input.dtype)))  # (the metric's
        self._count_step(training)  # own loss was checked inside the forward pass: the blend added to it is not)
        self._eager_after_compile_failure()
        return loss

    def _kept(self, input, target, sample_weight):
        """The target with the ignored elements' labels set to 0, and weights that are 0 there (no read-back: a
        batch without ignored elements takes the same passes)."""
        ignored = ignored_elements(target, self.ignore_index)
        kept = torch.logical_not(ignored).to(input.dtype if sample_weight is None else sample_weight.dtype)
        return torch.where(ignored, torch.zeros_like(target), target), kept if sample_weight is None else \
            sample_weight * kept

    def _bce(self, input, target, sample_weight):
        """Binary cross-entropy, the mean over the elements (weighted by the sample weights)."""
        target = target if target.dtype == input.dtype else target.to(input.dtype)
        if self.from_logits and sample_weight is None:  # one operation (and one autograd node)
            return torch.nn.functional.binary_cross_entropy_with_logits(input, target)
        if self.from_logits:
            terms = torch.nn.functional.binary_cross_entropy_with_logits(input, target, reduction="none")
        else:
            terms = torch.nn.functional.binary_cross_entropy(input.clamp(1e-7, 1 - 1e-7), target, reduction="none")
        if sample_weight is None:
            return terms.mean()
        weight = sample_weight.to(terms.dtype)
        return (terms * weight).sum() / torch.clamp(weight.sum(), min=torch.finfo(terms.dtype).tiny)  # 0: all ignored

    @torch.no_grad()
    def counts(self, input, target, sample_weight=None):
        """The soft counts (TP, FP, FN, TN) of a batch, before smoothing, in the accumulation dtype."""
        if self.check_inputs:
            self._check(input, target, sample_weight)
        if self.ignore_index is not None:
            target, sample_weight = self._kept(input, target, sample_weight)
        weight = None if sample_weight is None else sample_weight.reshape(-1)
        return tuple(soft_counts(input.reshape(-1), target.reshape(-1), weight, self.L, self.threshold,
                                 self.from_logits).unbind())

    def _hint_two_classes(self, target):
        """TWO_CLASS_HINT, on the first batch of two columns where its rows are one-hot (one read-back)."""
        if not self._pairs_seen and target.dim() == 2 and target.shape[1] == 2 and not is_compiling():
            self._pairs_seen = True
            if one_hot_rows(torch, target.detach()):
                warnings.warn(TWO_CLASS_HINT, self.warning, stacklevel=caller_level())

    def _check(self, input, target, sample_weight):
        if not isinstance(input, torch.Tensor) or not isinstance(target, torch.Tensor):
            arrays = [value for value in (input, target) if not isinstance(value, torch.Tensor)]
            raise self.error(f"Expected `input` and `target` to be tensors, but got {type(input).__name__} and "
                             f"{type(target).__name__}{array_hint(*arrays)}.")
        if not input.is_floating_point():
            raise self.error(f"Expected `input` to be a floating-point tensor, but got {input.dtype}.")
        if input.dtype.itemsize < 2:
            raise self.error(narrow_float_message(input.dtype))
        check_devices(self.error, input, target, sample_weight)
        if target.is_complex():
            raise self.error(f"Expected `target` to hold 0/1 labels, but got {target.dtype}.")
        if input.shape != target.shape:
            raise self.error(shape_message(input.shape, target.shape))
        if input.numel() == 0 and not self._synced():
            raise self.error("Expected a non-empty batch, but `input` has no elements.")
        if sample_weight is not None and (not isinstance(sample_weight, torch.Tensor)
                                          or sample_weight.shape != input.shape):
            raise self.error(weight_shape_message(input.shape, sample_weight))
        if sample_weight is not None and sample_weight.is_complex():
            raise self.error(f"Expected `sample_weight` to hold real numbers, but got {sample_weight.dtype}.")

    def _passing(self, summary, weighted):
        return _passes_checks(summary[:6 if weighted else 4], self.from_logits)

    def _verify(self, values, numel, weighted, dtype=None, batch=None, counts=None):
        """Raise for bad input values, from the input summary and the loss, read back in one transfer (and from
        `batch`, the input, target and weights where given, the place of a bad value; a loss that is not
        finite is told the `counts` where given: on the host, where the forward pass has them). Under sync=True
        every process raises when any process's inputs fail (so that none is left waiting in the next all-reduce);
        an empty share or all-zero weights on one process are fine if the global batch has weight."""
        size = 6 if weighted else 4
        *synced_values, total, largest_count, loss = values[size:]  # the counts' sum: the total weight
        fields = summary_fields(values[:size])
        self._verify_local(*fields, numel, batch)
        w_max = fields[-1]
        if synced_values:
            if synced_values[0] > 0:
                raise self.error("the inputs of another process failed the input checks (its error says which)")
            if not total > 0 and self.ignore_index is None:
                raise self.error("Expected `sample_weight` to have a positive entry in some process, but all are "
                                 "zero (or every batch is empty).")
        elif not w_max > 0:  # (the weights as given: every element ignored gives no gradient, and no error)
            raise self.error("Expected `sample_weight` to have a positive entry, but all are zero.")
        message = heavy_counts(largest_count, self.name, scalars_count_limit(self.scalars))
        if message:  # (NaN counts: below)
            raise self.error(message)
        if not math.isfinite(loss):
            raise self.error(self._nonfinite_loss_message(counts, computed_type(dtype)))
        message = light_weights(total, self.eps)
        if message:
            warnings.warn(message, self.warning, stacklevel=caller_level())

    def _nonfinite_loss_message(self, counts, dtype):
        """Why the loss is not finite in `dtype` (its name): the formula at `counts`, or with a BCE blend the blend
        where the formula's loss is finite there; without the counts (a deferred check) and with a blend, either."""
        if not self.bce_weight:
            return nonfinite_message(self.name, counts, dtype=dtype)
        if counts is None:
            return f"{nonfinite_message(self.name, dtype=dtype)}; or {blend_overflow_message(self.bce_weight, dtype)}"
        loss, a, b = _host_scalars(self.host_scalars, counts, self.eps) if self.host_scalars else (math.nan,) * 3
        if math.isfinite(in_range(loss, (a * self.L, b * self.L), getattr(torch, dtype))):  # as the pass checks it
            return blend_overflow_message(self.bce_weight, dtype)
        return nonfinite_message(self.name, counts, dtype=dtype)

    def _verify_local(self, x_min, x_max, y_min, y_max, w_min, w_max, numel, batch=None):
        def given(k):  # the input, target or weights as given, for an error's message (detached only then)
            tensor = None if batch is None else batch[k]
            return None if tensor is None else tensor.detach()

        if not (math.isfinite(x_min) and math.isfinite(x_max)):
            raise self.error(nonfinite_input_message(values=given(0), extremes=(x_min, x_max)))
        if not self.from_logits and not (x_min >= 0 and x_max <= 1):
            raise self.error(probability_range_message(values=given(0), extremes=(x_min, x_max)))
        if self.from_logits and self._hint.observe(x_min, x_max, numel):
            warnings.warn(PROBABILITY_HINT, self.warning, stacklevel=caller_level())
        if not (y_min >= 0 and y_max <= 1):
            raise self.error(target_range_message(y_min, y_max, values=given(1), input_range=(x_min, x_max)))
        if not (w_min >= 0 and math.isfinite(w_max)):
            raise self.error(weight_range_message(w_min, w_max, values=given(2)))
