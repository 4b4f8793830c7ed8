"""Soft-confusion-matrix losses for JAX, binary, multi-class and multi-label: callables `loss(logits, target,
sample_weight=None)` whose derivative is the derived one (jax.custom_jvp: _derived), never autodiff through the
formula. They work under jax.jit, jax.grad and forward mode (jax.jvp, jax.jacfwd), in float32 and, with x64
enabled, float64 (float16 and bfloat16 input in float32: accumulated()). The gradient flows to the logits only:
differentiating with respect to the targets or the weights is refused.

Input values (NaN, targets outside [0, 1], negative weights, a loss or gradient that is not finite) are checked
when the loss runs eagerly, also under jax.grad (the custom rule sees the values); under jax.jit, where they
cannot be read, a value the eager loss refuses makes the loss and its gradient NaN (_poisoned). Logits that look
like probabilities warn where their values can be read, as in the NumPy and torch losses.

Data parallel (jax.pmap, shard_map): with `axis_name`, the counts are summed over the devices of that axis
(lax.psum), so every device's loss is that of the whole batch, and so are the devices' tangents
(_summed_tangent): the usual data-parallel step gives the whole batch's gradient (as torch's sync=True and
DistributedDataParallel do).

`bce_weight` adds that times binary cross-entropy (cross-entropy for multi-class, per-label BCE summed over the labels
for multi-label), the weighted mean over the kept elements (rows), as the torch losses blend it; JAX differentiates
that term itself (lax.psum of its sums under axis_name).

This module imports only JAX (and NumPy, which JAX requires): metricc copies it into the modules it emits.
"""

import types
import warnings

import jax
import jax.numpy as jnp
import numpy

from metricc.multiclass_math import average, element_weights, per_class_counts  # emitted modules inline this import
from metricc.multiclass_math import element_rows, pushforward, soft_predictions  # emitted modules inline this import
from metricc.multiclass_math import farthest_from_one, first_nonfinite_class  # emitted modules inline this import
from metricc.multiclass_math import element_layout  # emitted modules inline this import
from metricc.checks import light_weights, nonfinite_message  # emitted modules inline this import
from metricc.checks import class_nonfinite_message, probability_range_message  # emitted modules inline this import
from metricc.checks import class_names_hint, masked_message, per_element_message  # emitted modules inline this import
from metricc.checks import shape_message, target_hint, weight_range_message  # emitted modules inline this import
from metricc.checks import class_index_message, target_range_message  # emitted modules inline this import
from metricc.checks import class_input_hint, float_index_hint  # emitted modules inline this import
from metricc.checks import extension_numbers, narrow_float_message  # emitted modules inline this import
from metricc.checks import TWO_CLASS_HINT, one_hot_rows  # emitted modules inline this import
from metricc.checks import ROW_SUM_TOLERANCE, probability_rows_message  # emitted modules inline this import
from metricc.checks import caller_level, probabilities_ignore_message  # emitted modules inline this import
from metricc.checks import PROBABILITY_HINT, SIGMOID_HINT, SOFTMAX_HINT  # emitted modules inline this import
from metricc.checks import ProbabilityHint, softmax_rows  # emitted modules inline this import
from metricc.checks import COUNT_PROPORTIONS, heavy_weights  # emitted modules inline this import
from metricc.checks import nonfinite_input_message, scalars_count_limit  # emitted modules inline this import
from metricc.checks import blend_overflow_message  # emitted modules inline this import

def slope(u):
    """sigmoid(u) * sigmoid(-u) = v (1 - v) with v = sigmoid(-|u|) <= 1/2: it does not round to 0 where
    sigmoid(u) rounds to 1."""
    v = jax.nn.sigmoid(-jnp.abs(u))
    return v * (1 - v)


def accumulated(x):
    """x in the type the kernel computes in: float32 for narrower floats (float16, bfloat16), whose sums over a
    large batch overflow or stop growing (float16 ends at 65,504; bfloat16 keeps 8 bits), as the torch loss
    accumulates them; jax.grad rounds the gradient back into x's type."""
    return x.astype(jnp.float32) if x.dtype.itemsize < 4 else x


def ignored_elements(target, ignore_index):
    """Where `target` equals the int `ignore_index`, exactly: nowhere for an integer type that cannot hold it
    (JAX compares in the target's type, where -1 wraps to 255 in uint8) or for booleans, and in float32 for
    narrower floats (2049 rounds to 2048 in float16)."""
    if target.dtype == jnp.bool_ or jnp.issubdtype(target.dtype, jnp.integer) and not (
            jnp.iinfo(target.dtype).min <= ignore_index <= jnp.iinfo(target.dtype).max):
        return jnp.zeros(target.shape, dtype=bool)
    if jnp.issubdtype(target.dtype, jnp.floating) and target.dtype.itemsize < 4:
        target = target.astype(jnp.float32)
    return target == ignore_index


def _traced(*arrays):
    return any(isinstance(a, jax.core.Tracer) for a in arrays)


def _fails(condition, traced=None):
    """Whether the boolean array `condition` does not hold everywhere, where its value can be read. Where it is
    traced (jax.jit, lax.cond, jax.checkpoint, jax.vmap: under them every operation is, also on an array the
    caller closes over) it cannot: False, and the condition goes into the list `traced` (for _poisoned)."""
    value = jnp.all(condition)
    if _traced(value):
        if traced is not None:
            traced.append(condition)
        return False
    return not bool(value)


def _readable(*values):
    """The 0-d arrays `values` as floats where they can be read (none traced: not under jax.jit, also for
    arrays a jitted function closes over), else None."""
    return None if _traced(*values) else [float(v) for v in values]


def _poisoned(loss, conditions, axis_name=None):
    """The loss, times NaN where one of `conditions` (boolean arrays of traced values, which the eager loss checks
    and jax.jit cannot read) does not hold everywhere: the loss and, through the custom rule, every entry of its
    gradient are then NaN, never a plausible number. Under jax.vmap each batch of the stack on its own; with an
    `axis_name`, on every device where it fails on one."""
    if not conditions:
        return loss
    valid = jnp.all(jnp.stack([jnp.all(c) for c in conditions]))
    if axis_name is not None:
        valid = jax.lax.psum(jnp.where(valid, 0, 1), axis_name) == 0
    return loss * jnp.where(valid, 1, jnp.nan).astype(loss.dtype)


def _summed(counts, axis_name):
    """The counts (a list of arrays of one shape) summed over the devices of `axis_name` (None: as they are)."""
    if axis_name is None:
        return counts
    return list(jax.lax.psum(jnp.stack(counts), axis_name))


def _mapped(loss, axis_name, error):
    """`loss`, raising `error` with what to do where `axis_name` names no mapped axis (JAX's NameError)."""
    if axis_name is None:
        return loss

    def call(*arguments):
        try:
            return loss(*arguments)
        except NameError as unbound:
            if "axis name" not in str(unbound):
                raise
            raise error(f"axis_name={axis_name!r} names no mapped axis here: call the loss inside "
                        f"jax.pmap(..., axis_name={axis_name!r}) or shard_map, or make it without axis_name") from None

    return call


def _summed_tangent(tangent, axis_name):
    """A device's tangent of the loss (its rows' share) summed over the devices of `axis_name`, as the loss sums
    their counts: the directional derivative of the whole batch's loss. JAX transposes the sum into each device's
    gradient: under jax.pmap the axis size times its rows' share of the whole batch's gradient (lax.pmean of a
    replicated model's gradients is the whole batch's); under shard_map its rows' share, and a replicated
    parameter's gradient is already summed over the devices. A JAX without varying types (_varying_types) sums no
    replicated parameter's gradient, and its shard_map refuses the transposed sum: there the tangent is the axis
    size times the share, which it transposes into the same gradients as jax.pmap."""
    if axis_name is None:
        return tangent
    if _varying_types():
        return jax.lax.psum(tangent, axis_name)
    return tangent * jax.lax.psum(1, axis_name)


def _varying_types():
    """Whether this JAX types values by the mesh axes over which they vary, and so sums a replicated parameter's
    gradient over the devices of shard_map by itself: the JAX that has lax.pvary (later named lax.pcast) to
    change that type."""
    return hasattr(jax.lax, "pvary") or hasattr(jax.lax, "pcast")


def _warn_if_light(total, eps, warning):
    message = light_weights(total, eps)
    if message:
        warnings.warn(message, warning, stacklevel=caller_level())


def float32_count_limit(scalars, eps):
    """The largest total weight (a power of ten, at least 1e5; inf where none up to 1e38 fails) up to which
    `scalars` (the generated JAX function), evaluated in float32 as the loss evaluates it without x64, keeps its
    loss and coefficients within 1e-3 of their float64 values at counts in a few proportions (COUNT_PROPORTIONS).
    Beyond, a power of the counts in its partials overflows float32, which can make a coefficient 0 without any
    NaN (Cohen's kappa past about 1e10). The float64 values come from the same generated code run by NumPy."""
    totals = 10.0 ** numpy.arange(6, 39)
    counts = numpy.array(COUNT_PROPORTIONS).T[:, :, None] * totals  # (4, proportions, totals)
    function = getattr(scalars, "function", scalars)  # (metricc's wrapper that pickles it, or the function)
    reference = types.FunctionType(function.__code__, {**function.__globals__, "jnp": numpy})
    with numpy.errstate(all="ignore"):
        wide = [numpy.broadcast_to(numpy.asarray(v, numpy.float64), counts.shape[1:])
                for v in reference(*(c + eps for c in counts))]
    # also where the loss is being traced (jax.jit): on constants; past the limit NaN and inf are expected
    with jax.ensure_compile_time_eval(), jax.debug_nans(False), jax.debug_infs(False):
        narrow = [numpy.broadcast_to(numpy.asarray(v, numpy.float64), counts.shape[1:])
                  for v in scalars(*(jnp.asarray(c + eps, jnp.float32) for c in counts))]
    with numpy.errstate(all="ignore"):
        close = [numpy.abs(n - w) <= 1e-3 * numpy.abs(w) for n, w in zip(narrow, wide) if numpy.isfinite(w).all()]
    bad = ~numpy.logical_and.reduce(close, axis=0).all(axis=0) if close else numpy.zeros(len(totals), bool)
    return float(totals[numpy.argmax(bad)] / 10) if bad.any() else float("inf")


def _check_heavy(loss, total, dtype, traced):
    """Refuses (where `total`, the batch's total weight, can be read; else into `traced`) a batch whose weights
    pass the formula's count limit (checks.count_limit, MAX_COUNT at most), and a float32 batch whose weights
    pass the formula's float32_count_limit (worked out once per loss)."""
    limit = scalars_count_limit(loss.scalars)
    if total.dtype == jnp.float64 and _fails(total <= limit, traced):  # (narrower types cannot reach it)
        raise loss.error(heavy_weights(float(total), loss.name, limit))
    if dtype != jnp.float32:
        return
    if loss.__dict__.get("_count_limit") is None:
        loss._count_limit = float32_count_limit(loss.scalars, loss.eps)
    limit = loss._count_limit
    if limit == float("inf"):
        return
    if _fails(total <= limit, traced):
        raise loss.error(f"the sample weights add up to {float(total):.3g}, beyond {limit:.3g}, where the partials "
                         f"of the {loss.name} loss overflow float32, in which JAX evaluates the formula for float32 "
                         f"input: scale the weights down (a ratio such as F1 does not change), or enable x64 "
                         f"(jax.config.update('jax_enable_x64', True)) and pass float64 input")


def _numbers(values, name, error, task=None):
    """`values` as a JAX array of booleans, integers or floats; strings, objects and complex numbers are
    refused by name (a target of class names with a hint for the `task`), and so are masked arrays with masked
    entries and torch tensors, and logits (`name` "input") in a float type narrower than 16 bits. A NumPy array in
    the other byte order is read in the machine's, and an object array of real numbers as numbers."""
    message = masked_message(values, name)
    if message:
        raise error(message)
    if getattr(values, "dtype", None) == object or isinstance(values, numpy.ndarray) and not values.dtype.isnative:
        values = extension_numbers(numpy, numpy.asarray(values))  # which JAX does not take: numbers in objects, and
        # arrays in the other byte order, made the machine's
    if type(values).__module__.partition(".")[0] == "torch":
        raise error(f"Expected `{name}` to be a JAX or NumPy array, but got a torch tensor: to_torch() is the loss "
                    f"for torch (or pass tensor.detach().cpu().numpy())")
    try:
        array = jnp.asarray(values)
    except TypeError:  # strings, objects
        array = None
    if array is None or not any(jnp.issubdtype(array.dtype, kind) for kind in (jnp.bool_, jnp.integer, jnp.floating)):
        hint = "" if task is None else class_names_hint(values, task)
        raise error(f"Expected `{name}` to hold numbers, but got {getattr(values, 'dtype', type(values).__name__)}"
                    f"{hint}.")
    if name == "input" and jnp.issubdtype(array.dtype, jnp.floating) and array.dtype.itemsize < 2:
        raise error(narrow_float_message(array.dtype))
    return array


def _derived(forward, tangent, check, error, axis_name=None):
    """loss(x, y, w) = forward(x, y, w)[0] as a jax.custom_jvp function whose derivative is derived, never
    autodiff through the formula: its rule runs `forward` (loss, saved), then tangent(saved, x_dot), linear in
    the logits' tangent x_dot, which JAX transposes for reverse mode (jax.grad). The rule refuses a
    differentiated target or weight (defjvp(..., symbolic_zeros=True) tells which inputs are differentiated),
    whose derivative it does not compute (it would be 0); where the values are concrete (an eager jax.grad or
    jax.jvp) and `check` is given, check(input, target, weight, loss, a, b) raises for bad values (the input, a
    traced value where the loss was called); where they are traced, a gradient coefficient that is not finite
    makes the loss and its derivative NaN, with an `axis_name` on every device where it is on one (so that the
    loss stays the same on every device: the saved coefficients are scaled by each device's largest weight)."""

    @jax.custom_jvp
    def loss(x, y, w):
        return forward(x, y, w)[0]

    def rule(primals, tangents):
        for t, name in zip(tangents[1:], ("target", "sample_weight")):
            if not _symbolic_zero(t):
                raise error(f"Expected `{name}` without a gradient: the loss's derived gradient flows to the logits "
                            f"only (a gradient for it would come out 0); wrap it in jax.lax.stop_gradient")
        value, saved = forward(*primals)
        poison = None
        if check is not None and not _traced(*primals):
            check(*primals, value, *saved[-2:])
        elif check is not None:  # (jax.jit) a gradient the eager check refuses: the loss and the gradient NaN
            finite = jnp.all(jnp.stack([jnp.all(jnp.isfinite(c)) for c in saved[-2:]]))
            if axis_name is not None:
                finite = jax.lax.psum(jnp.where(finite, 0, 1), axis_name) == 0
            poison = jnp.where(finite, 1, jnp.nan).astype(value.dtype)
            value = value * poison
        if _symbolic_zero(tangents[0]):  # the loss does not reach what is differentiated
            return value, jnp.zeros_like(value)
        derivative = tangent(saved, tangents[0]).astype(value.dtype)
        return value, derivative if poison is None else derivative * poison

    loss.defjvp(rule, symbolic_zeros=True)
    return loss


def _symbolic_zero(g):
    return isinstance(g, jax.custom_derivatives.SymbolicZero)


def binary_counts(x, y, w, L, threshold, from_logits):
    """The soft counts TP, FP, FN, TN of flat arrays (a list of 0-d arrays), the weights over their largest and
    that largest (1 where every weight is 0)."""
    largest = jnp.max(w)
    largest = jnp.where(largest > 0, largest, 1)
    unit = w / largest  # unit weights: no scale of the weights overflows or underflows a product
    p = jax.nn.sigmoid(x) if from_logits else x
    u = (p - threshold) * L
    yh, not_yh = jax.nn.sigmoid(u), jax.nn.sigmoid(-u)  # 1 - yh as sigmoid(-u): small counts keep digits
    wy, wn = unit * y, unit * (1 - y)
    counts = [jnp.sum(wy * yh), jnp.sum(wn * yh), jnp.sum(wy * not_yh), jnp.sum(wn * not_yh)]
    return [c * largest for c in counts], unit, largest


def binary_loss_function(scalars, L, threshold, from_logits, eps, check=None, error=ValueError, axis_name=None):
    """loss(x, y, w) for flat float arrays, with the derived gradient w.r.t. x; `check` and `error` as in
    _derived, `axis_name` as in the module's docstring."""

    def forward(x, y, w):
        counts, unit, largest = binary_counts(x, y, w, L, threshold, from_logits)
        counts = _summed(counts, axis_name)
        loss, a, b = scalars(*(c + eps for c in counts))
        return jnp.asarray(loss, x.dtype), (x, y, unit, a * largest, b * largest)

    def tangent(saved, x_dot):
        x, y, unit, a, b = saved
        p = jax.nn.sigmoid(x) if from_logits else x
        factor = slope((p - threshold) * L) * L
        if from_logits:
            factor = factor * slope(x)
        # y a + (1 - y) b, never b + y (a - b): b can be ~1/eps when a class is absent from the batch
        return _summed_tangent(jnp.sum(unit * (y * a + (1 - y) * b) * factor * x_dot), axis_name)

    return _derived(forward, tangent, check, error, axis_name)


def _weighted_mean(terms, w, axis_name, per=1):
    """sum(w terms) / (sum(w) / per), the sums over the devices of `axis_name`; 0 where every weight is 0. The
    weights are divided by the largest one first, so that any scale gives the same mean (float32 weights of 1e38
    too, as in the metric's counts)."""
    w = jax.lax.stop_gradient(w)  # (a gradient for the weights is refused by the metric's rule)
    largest = jnp.max(w) if axis_name is None else jax.lax.pmax(jnp.max(w), axis_name)
    w = w / jnp.maximum(largest, jnp.finfo(w.dtype).tiny)
    total, weight = jnp.sum(w * terms), jnp.sum(w) / per
    if axis_name is not None:
        total, weight = jax.lax.psum((total, weight), axis_name)
    return total / jnp.maximum(weight, jnp.finfo(terms.dtype).tiny)


def binary_cross_entropy(x, y, w, from_logits, axis_name=None):
    """The weighted mean binary cross-entropy of logits (probabilities, clipped to [1e-7, 1 - 1e-7], as torch's
    blend clamps them) x against labels y."""
    if from_logits:
        terms = jax.nn.softplus(x) - y * x
    else:
        p = jnp.clip(x, 1e-7, 1 - 1e-7)
        terms = -(y * jnp.log(p) + (1 - y) * jnp.log1p(-p))
    return _weighted_mean(terms, w, axis_name)


def class_cross_entropy(z, y, w, task, axis_name=None):
    """multiclass: the cross-entropy of logits z (n, C) against one-hot rows or class probabilities y, the mean
    over the rows weighted by w (n,); multilabel: BCE summed over the labels, likewise, or with element weights w
    (n, C) (an ignored label weighs 0) each label's term over the labels' mean total weight."""
    if task == "multiclass":
        return _weighted_mean(-jnp.sum(y * jax.nn.log_softmax(z, axis=1), axis=1), w, axis_name)
    terms = jax.nn.softplus(z) - y * z
    if w.ndim == 2:
        return _weighted_mean(terms, w, axis_name, per=z.shape[1])
    return _weighted_mean(jnp.sum(terms, axis=1), w, axis_name)


class _JaxLoss:
    """What the binary and multi-class JAX losses share: the eager check of the custom rule, the cross-entropy
    blend, and pickling without the loss function (a closure of jax.custom_jvp), which `_build()` makes again on
    load."""

    def _blended(self, loss, cross_entropy, traced):
        """loss + bce_weight * cross_entropy (a thunk), refused (NaN under jax.jit) where only the sum is not
        finite: a bce_weight, or logits, near or past the type's largest number."""
        if not self.bce_weight:
            return loss
        with numpy.errstate(over="ignore"):  # (a bce_weight past the type's range is inf in it: the check says so)
            blended = loss + self.bce_weight * cross_entropy()
        if self.check_inputs and _fails(jnp.isfinite(blended), traced):
            raise self.error(blend_overflow_message(self.bce_weight, blended.dtype.name))
        return blended

    def __getstate__(self):
        return {k: v for k, v in self.__dict__.items() if k != "_loss"}

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._loss = self._build()

    def _check_forward(self, x, y, w, loss, a, b):
        """The custom rule's check under jax.grad, called eagerly: the input, then the loss and its gradient's
        coefficients (times L, in the input's type: a slope of the amplifier reaches L / 16)."""
        self._check_input(x)
        if any(_fails(jnp.isfinite(v)) for v in (loss, a * self.L, b * self.L)):  # as backward scales them
            raise self.error(self._nonfinite(x, y, w, jnp.result_type(loss, a, b).name))


class SoftConfusionLoss(_JaxLoss):
    """`1 - metric` (or a cost) of the soft confusion matrix of a batch: `loss(input, target, sample_weight=None)`
    -> 0-dim array. `input` holds logits (probabilities when `from_logits=False`) of any shape, `target` 0/1
    labels of the same shape; elements whose target is `ignore_index` are left out. `check_dtype`, if given, is
    called with each new input dtype."""

    def __init__(self, scalars, *, L=73.0, threshold=0.5, from_logits=True, eps=1e-6, check_inputs=True,
                 axis_name=None, ignore_index=None, bce_weight=0.0, name="metric", error=ValueError,
                 warning=UserWarning, check_dtype=None):
        self.L, self.threshold, self.from_logits, self.eps = float(L), float(threshold), bool(from_logits), float(eps)
        self.bce_weight = float(bce_weight)
        self.check_inputs, self.name, self.error, self.warning = check_inputs, name, error, warning
        self.axis_name, self.ignore_index = axis_name, ignore_index
        self.check_dtype = check_dtype
        self._checked_dtypes = set()
        self._hint, self._pairs_seen = ProbabilityHint(), False
        self.scalars = scalars
        self._loss = self._build()

    def _build(self):
        return binary_loss_function(self.scalars, self.L, self.threshold, self.from_logits, self.eps,
                                    self._check_forward if self.check_inputs else None, self.error, self.axis_name)

    def __repr__(self):
        return (f"{type(self).__name__}({self.name!r}, L={self.L}, threshold={self.threshold}, "
                f"from_logits={self.from_logits}, eps={self.eps}, bce_weight={self.bce_weight})")

    def __call__(self, input, target, sample_weight=None):
        x, y = _numbers(input, "input", self.error), _numbers(target, "target", self.error, "binary")
        if not jnp.issubdtype(x.dtype, jnp.floating):
            raise self.error(f"Expected `input` to be a floating-point array, but got {x.dtype}.")
        if x.shape != y.shape:
            raise self.error(shape_message(x.shape, y.shape))
        if x.size == 0:
            raise self.error("Expected a non-empty batch, but `input` has no elements.")
        if self.check_inputs and not self._pairs_seen and y.ndim == 2 and y.shape[1] == 2 and not _traced(y):
            self._pairs_seen = True  # (the first batch of two columns whose values can be read)
            if one_hot_rows(jnp, y):
                warnings.warn(TWO_CLASS_HINT, self.warning, stacklevel=caller_level())
        w = (jnp.ones(x.shape, x.dtype) if sample_weight is None
             else _numbers(sample_weight, "sample_weight", self.error))
        if w.shape != x.shape:
            raise self.error(f"Expected `sample_weight` of shape {x.shape}, but got {w.shape}.")
        if self.check_dtype is not None and x.dtype not in self._checked_dtypes:
            self._checked_dtypes.add(x.dtype)
            self.check_dtype(x.dtype.name)
        x = accumulated(x)
        shape = x.shape  # (an error places a value that is not finite in the input as given)
        x, y, w = x.reshape(-1), y.reshape(-1), w.reshape(-1).astype(x.dtype)
        given = w  # the checks read the weights as given; the kernel takes them with the ignored elements' 0
        if self.ignore_index is not None:  # weight 0 (every element ignored: a loss without gradient)
            ignored = ignored_elements(y, self.ignore_index)  # (before y takes x's type)
            y, w = jnp.where(ignored, 0, y), jnp.where(ignored, 0, w)
        y = y.astype(x.dtype)
        traced = []  # the conditions the checks cannot read (jax.jit), for _poisoned
        if self.check_inputs:  # a traced input under an eager jax.grad is also checked by the custom rule
            self._check(x, y, given, w, traced, lambda v: v.reshape(shape))
        loss = _mapped(self._loss, self.axis_name, self.error)(x, y, w)
        if self.check_inputs and _fails(jnp.isfinite(loss), traced):  # (jax.jit: NaN, as for bad inputs)
            raise self.error(self._nonfinite(x, y, w, loss.dtype.name))
        loss = self._blended(loss, lambda: binary_cross_entropy(x, y, w, self.from_logits, self.axis_name), traced)
        return _poisoned(loss, traced, self.axis_name)

    def _check(self, x, y, given, w, traced, layout=None):
        """Input, targets and the weights as `given`, where their values can be read (the others go into
        `traced`); the light-weights warning reads those the kernel takes. `layout`: _check_input's."""
        self._check_input(x, traced, layout)
        if _fails((y >= 0) & (y <= 1), traced):
            raise self.error(target_range_message(y.min(), y.max(), values=y if layout is None else layout(y),
                                                  input_range=_readable(x.min(), x.max())))
        if _fails(jnp.isfinite(given) & (given >= 0), traced):
            raise self.error(weight_range_message(given.min(), given.max(),
                                                  values=given if layout is None else layout(given)))
        if _fails(jnp.any(given > 0), traced):
            raise self.error("Expected `sample_weight` to have a positive entry, but all are zero.")
        total = w.sum()
        if not _traced(total):
            _warn_if_light(float(total), self.eps, self.warning)
        _check_heavy(self, total, x.dtype, traced)

    def _check_input(self, x, traced=None, layout=None):
        """Refuses an input x that is not finite (or probabilities outside [0, 1]); `layout` gives x laid out as the
        input was given (None: unknown, and an error does not place the value); warns of probabilities."""
        if _fails(jnp.isfinite(x), traced):
            raise self.error(nonfinite_input_message(values=x if layout is None else layout(x),
                                                     placed=layout is not None))
        if not self.from_logits and _fails((x >= 0) & (x <= 1), traced):
            raise self.error(probability_range_message(values=x if layout is None else layout(x),
                                                       placed=layout is not None))
        if self.from_logits and not self._hint.given:
            extremes = _readable(x.min(), x.max())
            if extremes and self._hint.observe(*extremes, x.size):
                warnings.warn(PROBABILITY_HINT, self.warning, stacklevel=caller_level())

    def _nonfinite(self, x, y, w, dtype):
        """The error message for a loss or gradient that is not finite in `dtype` (its name), at the counts of
        the flat arrays x, y, w (called eagerly, on one device's elements)."""
        counts = binary_counts(x, y, w, self.L, self.threshold, self.from_logits)[0]
        return nonfinite_message(self.name, counts, dtype=dtype)


def multi_loss_function(scalars, task, L, threshold, eps, average_, class_weight, check=None,
                        error=ValueError, axis_name=None):
    """loss(z, y, w) for logits (n, C), one-hot or multi-hot labels (n, C) and row weights (n,); `check` and
    `error` as in _derived, `axis_name` as in the module's docstring."""

    def forward(z, y, w):
        yh, not_yh, saved = soft_predictions(jnp, z, task, L, threshold)
        counts = _summed(list(per_class_counts(jnp, yh, not_yh, y, w)), axis_name)
        loss, a, b = average(jnp, scalars, counts, eps, average_, class_weight)
        return loss, (y, w, yh, not_yh, saved, a, b)

    def tangent(saved, z_dot):
        y, w, yh, not_yh, amplifier, a, b = saved
        yh_dot = pushforward(jnp, yh, not_yh, amplifier, z_dot, task, L)
        per_class = jnp.sum((y * a[None, :] + (1 - y) * b[None, :]) * element_weights(w) * yh_dot, axis=0)
        return _summed_tangent(per_class if average_ == "none" else jnp.sum(per_class), axis_name)

    return _derived(forward, tangent, check, error, axis_name)


class MultiSoftConfusionLoss(_JaxLoss):
    """`1 - metric` averaged over classes (or labels): `loss(input, target, sample_weight=None)`.

    multiclass: logits (n, C), target (n,) class indices (`ignore_index` rows are left out) or (n, C) class
    probabilities (float rows summing to 1: label smoothing, mixup);
    multilabel: logits (n, C), target (n, C) of 0/1 labels (`ignore_index` elements are left out). Per-element
    logits (N, C, d1, ..., dk) count each element as a row, as in metricc.torch_multiclass; `average` as there.
    """

    def __init__(self, scalars, *, task, num_classes, average="macro", L=73.0, threshold=0.5, eps=1e-6,
                 ignore_index=None, class_weight=None, check_inputs=True, axis_name=None, bce_weight=0.0,
                 name="metric", error=ValueError, warning=UserWarning, check_dtype=None):
        self.task, self.num_classes, self.average, self.ignore_index = task, num_classes, average, ignore_index
        self.axis_name, self.bce_weight = axis_name, float(bce_weight)
        self.L, self.threshold, self.eps = float(L), float(threshold), float(eps)
        self.check_inputs, self.name, self.error, self.warning = check_inputs, name, error, warning
        self.check_dtype = check_dtype
        self._checked_dtypes = set()
        self._hint, self._rows_seen = ProbabilityHint(), False
        self.scalars, self.class_weight = scalars, class_weight
        self._loss = self._build()

    def _build(self):
        return multi_loss_function(self.scalars, self.task, self.L, self.threshold, self.eps, self.average,
                                   self.class_weight, self._check_forward if self.check_inputs else None, self.error,
                                   self.axis_name)

    def __repr__(self):
        return (f"{type(self).__name__}({self.name!r}, task={self.task!r}, num_classes={self.num_classes}, "
                f"average={self.average!r}, L={self.L}, bce_weight={self.bce_weight})")

    def __call__(self, input, target, sample_weight=None):
        z, target = _numbers(input, "input", self.error), _numbers(target, "target", self.error, self.task)
        dense = z.shape if z.ndim > 2 else None

        def layout(rows):  # the rows as the input was given, where an error places a value
            return rows if dense is None else element_layout(jnp, rows, dense)

        if z.ndim > 2:  # per-element logits (N, C, d1, ..., dk): each element a row (element_rows)
            if sample_weight is not None:
                sample_weight = _numbers(sample_weight, "sample_weight", self.error)
            message = per_element_message(self.task, self.num_classes, z.shape, target.shape,
                                          None if sample_weight is None else sample_weight.shape)
            if message:
                raise self.error(message)
            z, target, sample_weight = element_rows(jnp, z, target, sample_weight, self.task)
        n = z.shape[0] if z.ndim else 0
        if z.ndim != 2 or z.shape[1] != self.num_classes or n == 0:
            raise self.error(f"Expected `input` of shape (n, {self.num_classes}) with n > 0, or (N, "
                             f"{self.num_classes}, d1, ..., dk), but got {z.shape}"
                             f"{class_input_hint(self.task, self.num_classes, z.shape)}.")
        if not jnp.issubdtype(z.dtype, jnp.floating):
            raise self.error(f"Expected `input` to be a floating-point array, but got {z.dtype}.")
        w = (jnp.ones(n, z.dtype) if sample_weight is None
             else _numbers(sample_weight, "sample_weight", self.error).astype(z.dtype))
        if w.shape != (n,):
            raise self.error(f"Expected `sample_weight` of shape ({n},), but got {w.shape}.")
        given = w  # the checks read the weights as given; the kernel takes them with the ignored elements' 0
        if self.check_dtype is not None and z.dtype not in self._checked_dtypes:
            self._checked_dtypes.add(z.dtype)
            self.check_dtype(z.dtype.name)
        z = accumulated(z)
        w = w.astype(z.dtype)
        # the values that can be read are checked; a traced input under an eager jax.grad is also checked by the
        # custom rule, and the conditions that cannot be read (jax.jit) go into `traced`, for _poisoned
        traced, check = [], self.check_inputs
        probabilities = (self.task == "multiclass" and target.shape == z.shape
                         and jnp.issubdtype(target.dtype, jnp.floating))
        if probabilities:
            if self.ignore_index is not None:
                raise self.error(probabilities_ignore_message(self.ignore_index))
            y = target.astype(z.dtype)
            wide = target.dtype if target.dtype.itemsize >= 4 else jnp.float32  # (float16 sums in float32)
            sums = target.astype(wide).sum(1)
            labels = (y >= 0) & (y <= 1) & (jnp.abs(sums - 1) <= ROW_SUM_TOLERANCE)[:, None]
            if check and _fails(labels, traced):
                raise self.error(probability_rows_message(target.min(), target.max(), farthest_from_one(jnp, sums)))
        elif self.task == "multilabel":
            if target.shape != z.shape:
                raise self.error(f"Expected multi-label targets of shape {z.shape}, but got {target.shape}"
                                 f"{target_hint(self.task, n, self.num_classes, target.shape)}.")
            if self.ignore_index is not None:  # element weights (n, C): an ignored label weighs 0
                ignored = ignored_elements(target, self.ignore_index)
                target, w = jnp.where(ignored, 0, target), jnp.where(ignored, 0, w[:, None])
            y = target.astype(z.dtype)
            if check and _fails((y >= 0) & (y <= 1), traced):
                raise self.error(target_range_message(y.min(), y.max(), multilabel=True, values=layout(y),
                                                      input_range=_readable(z.min(), z.max())))
        else:
            if target.shape != (n,) or not jnp.issubdtype(target.dtype, jnp.integer):
                hint = target_hint(self.task, n, self.num_classes, target.shape)
                if target.shape == (n,) and jnp.issubdtype(target.dtype, jnp.floating) and not _traced(target):
                    hint = float_index_hint(target, "target.astype(int)")
                raise self.error(f"Expected `target` to be integer class indices of shape ({n},) or class "
                                 f"probabilities ({n}, {self.num_classes}), but got {target.dtype} {target.shape}"
                                 f"{hint}.")
            ignored = (ignored_elements(target, self.ignore_index) if self.ignore_index is not None
                       else jnp.zeros(n, dtype=bool))
            if check and _fails(ignored | ((target >= 0) & (target < self.num_classes)), traced):
                kept = target[~ignored]  # (an index out of range is among them)
                raise self.error(class_index_message(kept.min(), kept.max(), self.num_classes))
            y = jax.nn.one_hot(jnp.where(ignored, 0, target), self.num_classes, dtype=z.dtype)
            w = jnp.where(ignored, 0, w)
        if check:
            self._check_input(z, traced, layout)
            if _fails(jnp.isfinite(given) & (given >= 0), traced):
                rows = given if dense is None else given.reshape(dense[0], *dense[2:])
                raise self.error(weight_range_message(given.min(), given.max(), values=rows))
            if sample_weight is not None and _fails(jnp.any(given > 0), traced):
                raise self.error("Expected `sample_weight` to have a positive entry, but all are zero.")
            total = w.sum()
            if not _traced(total):
                _warn_if_light(float(total), self.eps, self.warning)
            _check_heavy(self, total, z.dtype, traced)
        loss = _mapped(self._loss, self.axis_name, self.error)(z, y, w)
        if check and _fails(jnp.isfinite(loss), traced):  # (jax.jit: NaN, as for bad inputs)
            raise self.error(self._nonfinite(z, y, w, loss.dtype.name))
        loss = self._blended(loss, lambda: class_cross_entropy(z, y, w, self.task, self.axis_name), traced)
        return _poisoned(loss, traced, self.axis_name)

    def _check_input(self, z, traced=None, layout=None):
        """Refuses logits z that are not finite; `layout` gives z laid out as the input was given (None: unknown,
        and an error does not place the value); warns of probabilities."""
        if _fails(jnp.isfinite(z), traced):
            raise self.error(nonfinite_input_message(values=z if layout is None else layout(z),
                                                     placed=layout is not None))
        self._hint_probabilities(z)

    def _hint_probabilities(self, z):
        """Where the logits' values can be read (not under jax.jit), a warning where they look like probabilities:
        a multi-class batch's rows on the first such call (softmax_rows), a multi-label batch's elements as
        ProbabilityHint tells."""
        if self.task == "multilabel" and not self._hint.given:
            extremes = _readable(z.min(), z.max())
            if extremes and self._hint.observe(*extremes, z.size):
                warnings.warn(SIGMOID_HINT, self.warning, stacklevel=caller_level())
        elif self.task == "multiclass" and not self._rows_seen:
            sums = z.astype(jnp.promote_types(z.dtype, jnp.float32)).sum(1)
            summary = _readable(z.min(), z.max(), farthest_from_one(jnp, sums))
            if summary:
                self._rows_seen = True
                if softmax_rows(*summary, z.size):
                    warnings.warn(SOFTMAX_HINT, self.warning, stacklevel=caller_level())

    def _nonfinite(self, z, y, w, dtype):
        """The error message for a loss or gradient that is not finite in `dtype` (its name) on the rows z, y, w
        (called eagerly, on one device's rows): at the pooled counts (micro), else at those of the first class
        whose own loss or coefficients are not."""
        yh, not_yh, _ = soft_predictions(jnp, z, self.task, self.L, self.threshold)
        counts = per_class_counts(jnp, yh, not_yh, y, w)
        if self.average == "micro":
            return nonfinite_message(self.name, [jnp.sum(c) for c in counts], dtype=dtype)
        k = first_nonfinite_class(jnp, self.scalars, counts, self.eps, self.average, self.class_weight, self.L)
        return class_nonfinite_message(self.name, self.task, counts, k, dtype)
