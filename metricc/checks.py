"""The checks and messages that every kernel shares: a loss's settings (check_settings), shapes, targets, weights
and class indices, a loss or gradient that is not finite, masked arrays; hints about a batch that a loss takes but
likely should not (logits that look like probabilities, sample weights so light that eps shifts the loss); and
where a warning points (caller_level). Used by the NumPy, torch, JAX and booster kernels and the compiler; emitted
modules inline this file, so it imports only functools, math, numbers and sys."""

import functools
import math
import numbers
import sys

# the libraries whose frames lie between a warning raised inside a loss or objective and the user's line: metricc's
# own, and what calls a loss (a torch module's __call__ and autograd, JAX's tracing, a booster's training loop,
# scikit-learn's scoring and the joblib loop of its cross-validation)
CALLED_THROUGH = ("metricc", "torch", "jax", "jaxlib", "xgboost", "lightgbm", "sklearn", "joblib")


def underflow_ignored(numpy):
    """A decorator that runs a function with NumPy's underflow ignored, whatever np.seterr says: the NumPy kernels
    let exp(-|x|) and the slopes of confident samples underflow to 0 on purpose, which np.seterr(all="raise") had
    turned into a FloatingPointError from inside metricc. `numpy` is the NumPy module (this file imports no array
    library). Not for a function that reads its caller's frame (it adds one)."""
    def decorator(function):
        @functools.wraps(function)
        def call(*args, **kwargs):
            with numpy.errstate(under="ignore"):
                return function(*args, **kwargs)
        return call
    return decorator


def caller_level():
    """The stacklevel for warnings.warn (the function that calls it is level 1) of the first frame outside the
    libraries CALLED_THROUGH and the file of that function (an emitted module's, whose frames are not metricc's;
    read from the frame: a module pasted into a notebook cell has no __file__): the warning then names the user's
    line, however deep inside the loss it is raised."""
    frame, level = sys._getframe(1), 1
    own_file = frame.f_code.co_filename
    while frame is not None and (frame.f_code.co_filename == own_file
                                 or frame.f_globals.get("__name__", "").partition(".")[0] in CALLED_THROUGH):
        frame, level = frame.f_back, level + 1
    return level

# A batch of at least this many logits, all in [0, 1] and spread over at least half of it, looks like
# probabilities (the logits of a fresh network often lie in a narrow band inside [0, 1]) ...
PROBABILITY_HINT_MIN_SIZE = 10
PROBABILITY_HINT_MIN_SPREAD = 0.5
# ... on the first call when spread over three quarters of it (a fresh network's logits can span [0.19, 0.83]:
# the paper's MLP, seed 3), or at the end of this many calls in a row whose inputs all lay in [0, 1]: a training
# network's logits pass through [0, 1] for a few steps (up to 12 in a row seen on a 64-unit MLP), probabilities
# stay there.
PROBABILITY_HINT_FIRST_SPREAD = 0.75
PROBABILITY_HINT_STREAK = 50
PROBABILITY_HINT = ("every element of `input` lies in [0, 1]: are these probabilities? The loss takes logits "
                    "(from_logits=True); pass from_logits=False for probabilities")


# the same mistake with a multi-class loss (a model ending in softmax), seen on a loss's first call: every row in
# [0, 1] and summing to 1 (within ROW_SUM_TOLERANCE), which logits hardly do; and with a multi-label loss (sigmoids),
# told as for a binary one (ProbabilityHint)
SOFTMAX_HINT = ("every row of `input` lies in [0, 1] and sums to 1: are these probabilities (a softmax's output)? "
                "The loss takes logits: pass the logits (or log-probabilities, which give the same softmax)")
SIGMOID_HINT = ("every element of `input` lies in [0, 1]: are these probabilities (a sigmoid's output)? The loss "
                "takes each label's logit: pass the logits (or log(p) - log(1 - p) of each probability p)")


# a binary loss given a two-class model's output, seen on its first batch of two columns: (n, 2) targets whose
# every row is one-hot (multi-label data of two labels has rows of two 1s or none)
TWO_CLASS_HINT = ("each row of `target` is one-hot over 2 columns: a two-class model's output? The binary loss counts "
                  "the elements of both columns in one confusion matrix (each sample once positive, once negative), "
                  "not the positive class's: pass input[:, 1] - input[:, 0] and target[:, 1] (class 1's logit and "
                  "label), or compile with task='multiclass', num_classes=2")


def two_column_message(caller, values):
    """TWO_CLASS_HINT for a binary metric's score() or tune_threshold() (`caller`), whose first argument is
    `values`."""
    classes = ", or compile with task='multiclass', num_classes=2 and pass class indices" if caller == "score" else ""
    return (f"each row of `target` is one-hot over 2 columns: a two-class output? {caller}() counts the elements of "
            f"both columns in one confusion matrix, not class 1's: pass {values}[:, 1] and target[:, 1]{classes}")


def one_hot_rows(xp, target):
    """Whether `target`, a 2-D array (numpy, torch or jax.numpy: `xp`), holds one-hot rows only."""
    return bool(xp.all((target == 0) | (target == 1)) and xp.all(target.sum(axis=1) == 1))


def softmax_rows(x_min, x_max, farthest_row_sum, numel):
    """Whether a multi-class batch of `numel` logits, between x_min and x_max, whose row sum farthest from 1 is
    `farthest_row_sum`, looks like a softmax's output (SOFTMAX_HINT)."""
    return (numel >= PROBABILITY_HINT_MIN_SIZE and 0 <= x_min and x_max <= 1
            and abs(farthest_row_sum - 1) <= ROW_SUM_TOLERANCE)


class ProbabilityHint:
    """`observe(x_min, x_max, numel)` per call: True once, on the call where the hint should be given."""

    def __init__(self):
        self.calls = self.streak = 0
        self.spread = self.given = False

    def observe(self, x_min, x_max, numel):
        first = self.calls == 0
        self.calls += 1
        if self.given or numel < PROBABILITY_HINT_MIN_SIZE:
            return False
        if not (0 <= x_min and x_max <= 1):
            self.streak, self.spread = 0, False
            return False
        self.streak += 1
        self.spread = self.spread or x_max - x_min >= PROBABILITY_HINT_MIN_SPREAD
        self.given = ((first and x_max - x_min >= PROBABILITY_HINT_FIRST_SPREAD)
                      or (self.spread and self.streak >= PROBABILITY_HINT_STREAK))
        return self.given


# A batch whose sample weights add up to less than this many times eps: eps, added to each count, shifts its loss
# and gradient (by 1e-4 of the total weight or more; weights normalised to add up to 1 over a large data set)
LIGHT_WEIGHTS = 1e4


def light_weights(total, eps):
    """The warning for a batch whose counts add up to `total` (its total sample weight), or None (also where it
    counts nothing: every row ignored)."""
    if not 0 < total < LIGHT_WEIGHTS * eps:
        return None
    return (f"the sample weights of this batch add up to {total:.3g}, not much more than eps = {eps:g}, which is "
            "added to each count and shifts the loss and its gradient: scale the weights up (a ratio such as F1 "
            "does not change) or lower eps")


# Counts beyond this are refused: products and powers of them in the partials would overflow float64.
MAX_COUNT = 1e100
# count_limit() tries totals from 1e20: no formula's limit is below this
LEAST_COUNT_LIMIT = 1e19
# the count proportions (TP, FP, FN, TN) at which count_limit() and the JAX loss's float32 limit evaluate a formula
COUNT_PROPORTIONS = ((0.25, 0.25, 0.25, 0.25), (0.05, 0.05, 0.1, 0.8), (0.4, 0.1, 0.1, 0.4), (0.01, 0.3, 0.01, 0.68))


def count_limit(numpy, scalars):
    """The largest total weight (a power of ten, at most MAX_COUNT) up to which `scalars` (a generated function
    that NumPy runs, `numpy` the NumPy module) keeps every output within 1 % of the same code in NumPy's
    longdouble, at counts in the COUNT_PROPORTIONS, from 1e20 (a coarse test: past the limit an output is off by
    100 %, where it is not NaN). Beyond, a power of the counts in its partials overflows float64, which can make a
    coefficient 0 without any NaN (Cohen's kappa past about 1e77). MAX_COUNT where longdouble is no wider than
    float64 (not on x86)."""
    wide = numpy.longdouble
    if numpy.finfo(wide).maxexp <= numpy.finfo(numpy.float64).maxexp:
        return MAX_COUNT
    totals = 10.0 ** numpy.arange(20, 101)  # (LEAST_COUNT_LIMIT: the first one's tenth)
    counts = numpy.array(COUNT_PROPORTIONS).T[:, :, None] * totals  # (4, proportions, totals)
    with numpy.errstate(all="ignore"):
        narrow = [numpy.broadcast_to(numpy.asarray(v, numpy.float64), counts.shape[1:]) for v in scalars(*counts)]
        wider = [numpy.broadcast_to(numpy.asarray(v, wide), counts.shape[1:]) for v in scalars(*counts.astype(wide))]
        close = [(numpy.abs(n - w) <= 1e-2 * numpy.abs(w)) | ~numpy.isfinite(w) for n, w in zip(narrow, wider)]
    bad = ~numpy.logical_and.reduce(close, axis=0).all(axis=0)  # per total
    return float(totals[numpy.argmax(bad)] / 10) if bad.any() else MAX_COUNT


def scalars_count_limit(scalars):
    """The total weight a loss with the generated function `scalars` takes: its `count_limit` (metricc's
    count_limit() of the formula, set on the functions the compiler and emitted modules give), else MAX_COUNT."""
    return getattr(scalars, "count_limit", MAX_COUNT)


def eps_past_limit(eps, count_limit=None):
    """The error message for an eps past the formula's count limit, which `count_limit` gives (a function, called
    only for an eps past LEAST_COUNT_LIMIT; None: MAX_COUNT), or None: added to each count, such an eps makes every
    count pass it, where the partials overflow float64 (Cohen's kappa at eps = 1e80 had a gradient of 0)."""
    if not eps > LEAST_COUNT_LIMIT:
        return None
    limit = MAX_COUNT if count_limit is None else count_limit()
    if eps <= limit:
        return None
    return (f"Expected argument `eps` to be at most {limit:g}: it is added to each count, and past that the "
            f"formula's partials overflow float64 (eps only keeps the counts off 0), but got {eps:g}.")


def heavy_weights(total, name, limit=MAX_COUNT):
    """The error message for a batch whose sample weights add up to `total`, beyond `limit` (MAX_COUNT, or the
    formula's count_limit: its counts can pass it), or None."""
    if total <= limit:
        return None
    return (f"the sample weights add up to {total:.3g}, beyond {limit:g}, where the partials of the {name} loss "
            f"may overflow float64: scale the sample weights down (a ratio such as F1 does not change)")


def heavy_counts(largest, name, limit=MAX_COUNT):
    """The error message for counts whose largest, `largest`, passes `limit` (as heavy_weights), or None."""
    if not largest > limit:  # (NaN counts: the loss's own check)
        return None
    return (f"the weighted counts reach {largest:.3g}, beyond {limit:g}, where the partials of the {name} loss may "
            f"overflow float64: scale the sample weights down")


# The largest finite number of each float type a loss or gradient may be computed in (torch accumulates float16
# and bfloat16 input in float32, JAX computes in the input's type)
FLOAT32_MAX = 3.4028234663852886e38
LARGEST = {"float16": 65504.0, "bfloat16": 3.3895313892515355e38, "float32": FLOAT32_MAX,
           "float64": 1.7976931348623157e308}


def nonfinite_message(name, counts=None, per_class=False, derivatives="gradient", part=None, dtype="float64",
                      overflow=False):
    """The error for a loss whose value or derivatives (the gradient's coefficients; a booster's Hessian's too)
    are not finite in the float type `dtype` (its name, a key of LARGEST) they are computed in, at the soft `counts`
    TP, FP, FN, TN (numbers, before eps is added; those of `part`, such as "class 2", where given) where they are
    known, or for some class (`per_class`: True, or "label" for some label). `overflow`: they are finite in float64
    and only pass the range of `dtype` (a string: what to do about it, where passing float64 input does not
    help)."""
    where = "" if part is None else f" for {part}"
    if counts is not None:
        where += f" at the counts TP, FP, FN, TN = {', '.join(f'{float(c):.6g}' for c in counts)}"
        if not all(math.isfinite(float(c)) for c in counts):  # the checks would have named the entry at fault
            return (f"the {name} loss or its {derivatives} is not finite{where}: the counts are not, so the input, "
                    f"targets or sample weights hold NaN or infinity (check_inputs=True names where)")
    elif per_class:
        where = f" for some {per_class if isinstance(per_class, str) else 'class'}"
    if overflow:
        remedy = overflow if isinstance(overflow, str) else (f"{dtype} input gets a {dtype} gradient: pass float64 "
                                                             "input, or change the formula")
        return (f"the {name} loss or its {derivatives} passes {dtype}'s range{where} (its largest number is "
                f"{LARGEST[dtype]:.3g}): {remedy}")
    return (f"the {name} loss or its {derivatives} is not finite{'' if dtype == 'float64' else ' in ' + dtype}"
            f"{where}: the formula divides by 0 there, takes a log or a root (a fractional power) of 0 or of a "
            f"negative number, or passes {dtype}'s largest number, {LARGEST[dtype]:.3g} (raise eps, or change the "
            f"formula{'' if dtype == 'float64' else ', or pass float64 input'})")


def part_of(task):
    """What a task's per-class counts belong to, in messages: "label" for multi-label, else "class"."""
    return "label" if task == "multilabel" else "class"


def class_nonfinite_message(name, task, counts, k, dtype="float64", **options):
    """nonfinite_message (with its `options`) for a multi-class or multi-label loss: at the `counts` (TP, FP, FN,
    TN, each per class) of class (label) k, the first whose loss or gradient is not finite
    (first_nonfinite_class), or for some class where k is None."""
    part = part_of(task)
    if k is None:
        return nonfinite_message(name, per_class=part, dtype=dtype, **options)
    return nonfinite_message(name, [c[k] for c in counts], part=f"{part} {k}", dtype=dtype, **options)


def blend_overflow_message(bce_weight, dtype):
    """The error for a loss whose cross-entropy blend is not finite in the float type `dtype` (its name) where
    the metric's loss is."""
    return (f"the cross-entropy blend (bce_weight={bce_weight:g}) is not finite in {dtype}: bce_weight times the "
            f"cross-entropy passes {dtype}'s largest number, {LARGEST[dtype]:.3g}, or the cross-entropy does (logits "
            f"near it, or logits that differ by more than {dtype}'s largest number, overflow its log-sum-exp(z) - "
            f"z_y); pass a smaller bce_weight (0: no blend), or bring the logits back into range")


def extension_numbers(numpy, array):
    """A NumPy `array` as it is; in the machine's byte order where it is in the other one (a big-endian float32
    array is float32 to the kernels only then); where its type is an extension number type (ml_dtypes' bfloat16,
    float8 and int4, which numpy.asarray makes of a JAX array), which the kernels' checks do not count as
    numbers, as the int64 or float64 numbers it holds (each cast is exact); and where it is an object array of
    real numbers only (a pandas column of mixed Python ints and bools, as scikit-learn takes it), as the array
    NumPy makes of those numbers (float64 where that is not a number type: fractions)."""
    if not array.dtype.isnative:
        array = array.astype(array.dtype.newbyteorder("="))
    dtype = array.dtype
    if dtype.kind == "V" and dtype.names is None:
        for wider in (numpy.int64, numpy.float64):
            if numpy.can_cast(dtype, wider):
                return array.astype(wider)
    if dtype.kind == "O" and all(isinstance(v, numbers.Real) for v in array.flat):
        numeric = numpy.array(array.tolist())
        return numeric if numeric.dtype.kind in "biuf" else array.astype(numpy.float64)
    return array


def narrow_float_message(dtype):
    """The error for logits in a floating-point type narrower than 16 bits (float8, float4): the losses compute
    in the four types below and their amplifier's range of L is known for those."""
    return (f"Expected `input` in float64, float32, float16 or bfloat16, but got {dtype}: cast the model's output "
            f"first (to float32, say); metricc's losses compute in those types")


def masked_message(value, name):
    """The error for a NumPy masked array with masked entries (told apart without importing NumPy), else None:
    converted to an array it would lose its mask, and the masked entries' values count as any other's."""
    mask = getattr(value, "mask", None) if type(value).__name__ == "MaskedArray" else None
    if mask is None or not (mask.any() if hasattr(mask, "any") else mask):
        return None
    return (f"Expected `{name}` without masked entries, but it is a masked array with masked entries (their "
            f"values would count as any other's): drop those samples, or fill them (.filled()) and give them "
            f"sample_weight 0")


def first_nonfinite(values):
    """(index, value, count, size) for the first NaN or infinite entry of an array (NumPy's, JAX's or torch's;
    read row-major): its index (a tuple) and value, the number of such entries and of all; None where every entry
    is finite. Only comparisons of the array are read (so a JAX array under an eager jax.grad, whose values
    cannot be read, is placed too). For an error's message: it passes over the array a few times."""
    found = _first_true(~(abs(values) < float("inf")))  # NaN compares false
    if found is None:
        return None
    index, flat, count, size = found
    value = (float("nan") if bool((values != values).reshape(-1)[flat]) else
             float("inf") if bool((values > 0).reshape(-1)[flat]) else -float("inf"))
    return index, value, count, size


def _first_true(mask):
    """(index, flat index, count, size) of the first true entry of a boolean array (row-major), with the number
    of true entries and of all; None where none is true."""
    flat_mask = mask.reshape(-1)
    count = int(flat_mask.sum())
    if not count:
        return None
    flat = int((flat_mask * 1).argmax())  # (torch's argmax takes no bools)
    index, rest = [], flat
    for size in reversed(tuple(mask.shape)):
        rest, position = divmod(rest, size)
        index.append(position)
    return tuple(reversed(index)), flat, count, len(flat_mask)


def nan_place(values):
    """" at index i" for the first NaN of an array (NumPy's, torch's or JAX's; i a tuple for several dimensions),
    "" where it has none or is 0-d: where a message's missing value is."""
    return first_place(values != values)


def first_place(mask):
    """" at index i" for the first true entry of a boolean array (i a tuple for several dimensions), "" where none
    is true or it is 0-d."""
    found = _first_true(mask)
    return "" if found is None else _placed(found[0])


def _unravelled(k, shape):
    """The index (a tuple) of the k-th entry, in C order, of an array of the `shape`."""
    index = []
    for size in reversed(shape):
        k, place = divmod(k, size)
        index.append(place)
    return tuple(reversed(index))


def _placed(index):
    """ " at index i" (a tuple for several dimensions), or "" for a 0-d array's entry."""
    return f" at index {index[0] if len(index) == 1 else index}" if index else ""


def probability_range_message(values=None, extremes=None, placed=True):
    """The error for probabilities (from_logits=False) outside [0, 1]: the first such entry of the array `values`
    and where it is (unless not `placed`), or, where the kernel has only the least and largest entries
    (`extremes`), their range; and that logits want the default."""
    found = None if values is None else _first_true(~((values >= 0) & (values <= 1)))
    if found is not None:
        value = float(values.reshape(-1)[found[1]])
        where = f"it holds {value:g}{_placed(found[0]) if placed else ''}"
    else:
        where = f"they range from {float(extremes[0]):g} to {float(extremes[1]):g}"
    return (f"Expected probabilities in [0, 1] as `input` (from_logits=False), but {where}: logits? leave "
            f"from_logits at True, the default.")


def nonfinite_input_message(name="`input`", values=None, extremes=None, placed=True):
    """The error for an input (logits, probabilities, margins) with NaN or infinite entries: the first such entry
    of the array `values` (first_nonfinite), where it is (unless not `placed`: `values` is not laid out as the
    input was given) and how many there are; or, where the kernel has only the input's least and largest entries
    (`extremes`; NaN where any is NaN, as NumPy's and torch's extremes give it), the value. Then what usually
    makes it."""
    found = None if values is None else first_nonfinite(values)
    where = ""
    if found:
        index, value, count, size = found
        where = _placed(index) if placed else ""
        if count > 1:
            where += f" ({count} of its {size} entries are not finite)"
    elif extremes is not None:
        low, high = (float(v) for v in extremes)
        value = low if low != low or low == -float("inf") else high
    else:  # (not expected: a caller looks only where its check failed)
        return f"Expected finite {name}, but {'they hold' if name == 'margins' else 'it holds'} NaN or infinity."
    if name == "margins":  # (a booster takes missing features itself: its margins are NaN only where it diverged)
        cause = "a booster that diverged, or starting margins (base_margin, init_score) that are not finite?"
    else:
        cause = ("missing values in the data, or a model that diverged?" if value != value else
                 "an overflow upstream, in a model that diverged?")
    return (f"Expected finite {name}, but {'they hold' if name == 'margins' else 'it holds'} "
            f"{'NaN' if value != value else f'{value:g}'}{where}: {cause}")


# what a NaN label is, and what to do about it
MISSING_LABEL = "a missing label: drop or fill it first"


def target_range_message(low, high, multilabel=False, values=None, input_range=None):
    """The error for binary or multi-label targets outside [0, 1], given their least and largest values: the
    range, and the usual ways out (labels -1/+1 or 1/2; class indices; an ignore label). Where the targets
    themselves (`values`, as given) are at hand, a NaN (a missing label) is placed, else the first entry at the end
    of the range that lies outside (the largest where both do). `input_range`, the input's least and largest
    values where known: from 0 to 1 beside targets with fractions (logits) hints that the two were swapped."""
    low, high = float(low), float(high)
    if low != low or high != high:  # NaN (its ends: it is somewhere)
        kind = "multi-label " if multilabel else ""
        where = "" if values is None else nan_place(values)
        return f"Expected {kind}`target` values in [0, 1], but it holds NaN{where}, {MISSING_LABEL}."
    found = None if values is None else _first_true(values == (high if high > 1 else low))
    where = "" if found is None else f" ({'the largest' if high > 1 else 'the smallest'}{_placed(found[0])})"
    message = (f"Expected {'multi-label ' if multilabel else ''}`target` values in [0, 1], but they range from "
               f"{low:g} to {high:g}{where}")
    hints = []
    if input_range is not None and [float(v) for v in input_range] == [0.0, 1.0] and not (
            low.is_integer() and high.is_integer()):
        hints.append("arguments swapped? the loss takes (input, target), logits first, and `input` holds values "
                     "from 0 to 1")
    if low == -1 and high == 1:
        hints.append("labels -1/+1? pass (target + 1) / 2")
    if low == 1 and high == 2:
        hints.append("labels 1/2? pass target - 1")
    if not multilabel and low >= 0 and high > 1 and high.is_integer():
        hints.append("class indices? compile with task='multiclass', num_classes=...")
    outside = [v for v in (high, low) if v.is_integer() and not 0 <= v <= 1]
    if outside:
        hints.append(f"to leave elements out (an ignore label), compile with ignore_index={outside[0]:g}")
    return f"{message}: {'; '.join(hints)}." if hints else f"{message}."


def float_index_hint(values, convert):
    """What to append to the error for class indices given as floats (a NumPy, torch or JAX array whose values can
    be read): a NaN is a missing label, a fraction such as 1.5 is no class (where the first is), and whole ones
    convert (`convert`, such as "target.astype(int)"), unless one is 2**53 or more, where floats are no exact
    integers and the conversion wraps them."""
    where = nan_place(values)
    if where:
        return f": it holds NaN{where}, {MISSING_LABEL}"
    magnitude = abs(values)
    found = _first_true(~(magnitude < float("inf")) | (values != values.round()))
    largest = magnitude.reshape(-1).max() if found is None and len(magnitude.reshape(-1)) else None
    if largest is not None and float(largest) >= 2.0**53:  # (compared in Python: 2**53 overflows float16)
        found = _first_true(magnitude == largest)
    if found is not None:
        return f": it holds {float(values.reshape(-1)[found[1]]):g}{_placed(found[0])}, which is no class"
    return f": the values are whole, pass {convert}"


def class_index_message(low, high, num_classes, subject="class indices", hint=None):
    """The error for class indices outside [0, num_classes), from their least and largest values: the one out of
    range (the least where it is negative), then `hint` (class_index_hint's by default)."""
    low, high = float(low), float(high)
    bad = low if low < 0 else high
    hint = class_index_hint(low, high, num_classes) if hint is None else hint
    return f"Expected {subject} in [0, {num_classes}), but got {int(bad) if bad.is_integer() else bad}{hint}"


def class_index_hint(low, high, num_classes):
    """What to append to the error for class indices outside [0, num_classes), given their least and largest
    values: the likely cause, where one shows (labels counted from 1; more classes than compiled; an ignore
    label), else "."."""
    low, high = float(low), float(high)
    if low >= 1 and high == num_classes:
        return f": labels 1 to {num_classes}? subtract 1."
    if low >= 0 and high >= num_classes and high.is_integer():
        return f": {int(high) + 1} classes? compile with num_classes={int(high) + 1}."
    if low < 0 and low.is_integer() and high < num_classes:
        pytorch = " (PyTorch's ignore_index=-100)" if low == -100 else ""
        return f": rows to leave out{pytorch}? compile with ignore_index={int(low)}."
    return "."


# multi-class targets given as class probabilities: each row must sum to 1 within this (the sums in float64;
# bfloat16 rounds each entry by up to 2^-9 of it, so a smoothed row of thirds sums to 1.002)
ROW_SUM_TOLERANCE = 1e-2


def probability_rows_message(low, high, worst_sum):
    """None where multi-class targets given as class probabilities, with least and largest entries `low`, `high`
    and the row sum farthest from 1 `worst_sum`, are rows of probabilities; else the error."""
    low, high, worst_sum = float(low), float(high), float(worst_sum)
    if not (low >= 0 and high <= 1):  # NaN fails
        return f"Expected class probabilities in [0, 1], but got an entry of {low if not low >= 0 else high:.6g}."
    if not abs(worst_sum - 1) <= ROW_SUM_TOLERANCE:
        return (f"Expected class probabilities whose rows sum to 1, but a row's sum is {worst_sum:.6g} (labels that "
                f"co-occur? compile with task='multilabel'; a row to leave out takes sample_weight 0 and still sums "
                f"to 1).")
    return None


def probabilities_ignore_message(ignore_index):
    """The error for class probabilities given to a multi-class loss compiled with an ignore label."""
    return (f"ignore_index={ignore_index} marks class indices; with class probabilities, leave a row out with "
            f"sample_weight 0.")


def array_hint(*values):
    """What to pass a torch loss instead of `values` that are not tensors: a tensor made from them, or the backend
    for their library (JAX's arrays)."""
    libraries = {type(value).__module__.partition(".")[0] for value in values}
    if libraries & {"jax", "jaxlib"}:
        return ": JAX arrays? metric.to_jax() is the loss for JAX"
    if "pandas" in libraries:
        return ": pandas data? torch.as_tensor(data.to_numpy()) makes a tensor"
    if "numpy" in libraries:
        return ": NumPy arrays? torch.from_numpy(array), or metric.loss_and_grad() for NumPy"
    return ": torch.as_tensor(values) makes a tensor"


def weight_shape_message(expected_shape, sample_weight):
    """The error for sample weights that are not a tensor of the expected shape, naming what they were."""
    kind = type(sample_weight)
    if kind.__name__ == "Tensor":
        got = f"shape {tuple(sample_weight.shape)}"
    else:
        got = f"{kind.__module__}.{kind.__qualname__}".removeprefix("builtins.") + " (torch.as_tensor makes one)"
    return f"Expected `sample_weight` to be a tensor of shape {tuple(expected_shape)}, but got {got}."


def weight_range_message(low, high, name="`sample_weight`", values=None):
    """The error for sample weights that are not all finite and non-negative, from their smallest and largest
    entries `low` and `high` (NaN where one is NaN, as NumPy's and torch's extremes give it): the value at fault,
    placed where the weights themselves (`values`, as given) are at hand."""
    low, high = float(low), float(high)
    if low != low or high != high:
        where = "" if values is None else nan_place(values)
        return f"Expected {name} to be finite and non-negative, but got nan{where}."
    value = low if low < 0 else high
    found = None if values is None else _first_true(values == value)
    where = "" if found is None else _placed(found[0])
    smallest = f" (the smallest entry{where})" if low < 0 else where
    return f"Expected {name} to be finite and non-negative, but got {value:g}{smallest}."


def shape_message(input_shape, target_shape):
    """The error for a binary loss whose `input` and `target` shapes differ, with what to do in the two usual
    cases: a model output of shape (n, 1) against (n,) labels (or the other way round), and one output per class
    against class indices."""
    input_shape, target_shape = tuple(input_shape), tuple(target_shape)
    message = f"Expected `input` and `target` to have the same shape, but got {input_shape} and {target_shape}"
    if input_shape == target_shape + (1,) or target_shape == input_shape + (1,):
        if len(input_shape) > len(target_shape):
            return f"{message}: squeeze the model's output: input.squeeze(-1)."
        return f"{message}: squeeze the labels: target.squeeze(-1)."
    longer, shorter = sorted((input_shape, target_shape), key=len, reverse=True)
    channel = next((k for k in range(len(shorter)) if longer[k] == 1 and longer[:k] + longer[k + 1:] == shorter),
                   None) if len(longer) == len(shorter) + 1 else None
    if channel is not None:  # one channel, (N, 1, H, W), against masks (N, H, W)
        squeezed = "input" if len(input_shape) > len(target_shape) else "target"
        return f"{message}: squeeze the channel: {squeezed}.squeeze({channel})."
    if len(input_shape) == 2 and input_shape[:1] == target_shape and input_shape[1] >= 2:
        return (f"{message}: two outputs per sample, one per class? for class 1's score pass input[:, 1] - "
                f"input[:, 0] (its logit against class 0's; input[:, 1] for probabilities), or for the mean over "
                f"both classes compile with task='multiclass', num_classes=2." if input_shape[1] == 2 else
                f"{message}: one output per class? compile with task='multiclass', num_classes={input_shape[1]}.")
    return message + "."


CLASS_NAMES_HINT = ": class names? pass labels 0/1 (such as target == 'yes')"


def first_non_number(array):
    """(flat index, entry) of the first entry of an object array that is no real number; (None, None) if none."""
    return next(((k, v) for k, v in enumerate(array.flat) if not isinstance(v, numbers.Real)), (None, None))


def class_names_hint(values, task="binary"):
    """What to pass instead of a target of strings, class names such as "no"/"yes" (appended to the error;
    `values`: an array of a string type or of objects, or a list, whose first is a string), or of objects with a
    missing label (None, pandas' NA) among them (where it is); "" for any other."""
    kind = getattr(getattr(values, "dtype", None), "kind", "")
    first = None
    if kind == "O":
        k, first = first_non_number(values)
        if k is not None and (first is None or type(first).__name__ == "NAType"):
            return f": it holds {first}{_placed(_unravelled(k, values.shape))}, a missing label: drop or fill it first"
    if isinstance(values, (list, tuple)) and values:  # (before an array is made of them: JAX takes no strings)
        first = values[0]
    if not (kind in ("U", "S") or isinstance(first, str)):
        return ""
    if task == "multiclass":
        return ": class names? pass class indices (such as numpy.unique(target, return_inverse=True)[1])"
    return CLASS_NAMES_HINT


def target_hint(task, n, num_classes, target_shape):
    """What to do about a multi-class or multi-label `target` of the wrong shape (appended to the error): one-hot
    targets or a trailing axis of 1 for class indices, class indices for multi-hot labels; "" otherwise."""
    target_shape = tuple(target_shape)
    if task == "multiclass" and target_shape == (n, num_classes):
        return (": one-hot targets? pass class indices: target.argmax(1), or class probabilities as floats: "
                "target.float() (task='multilabel' if labels can co-occur)")
    if task == "multiclass" and target_shape == (n, 1):
        return ": squeeze it: target.squeeze(-1)"
    if task == "multilabel" and target_shape == (n,):
        return (": class indices? a multi-label target holds a 0/1 label per class, (n, C); for one class per "
                "sample, compile with task='multiclass'")
    return ""


def class_input_hint(task, num_classes, shape):
    """What to do where a multi-class or multi-label input of `shape` is not (n, num_classes), appended to the
    error: one logit per sample (a binary model's), or the classes along dimension 0; "" for any other shape."""
    shape, per = tuple(shape), "class" if task == "multiclass" else "label"
    if len(shape) == 1 or len(shape) == 2 and shape[1] == 1:
        if task == "multiclass" and num_classes == 2:
            return (": one logit per sample (a binary model's)? for class 1's score compile the binary metric (no "
                    "task); for the mean over both classes pass a column of zeros before it, stack([zeros, input], "
                    "1) (softmax of (0, x) is sigmoid(x))")
        return f": one value per sample? the input holds one logit per {per}, (n, {num_classes})"
    if len(shape) == 2 and shape[0] == num_classes != shape[1]:
        return f": the {per}es along dimension 0? pass the transpose, input.T, of shape ({shape[1]}, {num_classes})"
    return ""


def per_element_message(task, num_classes, input_shape, target_shape, weight_shape=None):
    """For multi-class or multi-label logits of more than two dimensions, (N, C, d1, ..., dk) with the classes
    along dimension 1 (per-pixel logits, as torch.nn.CrossEntropyLoss takes them): None where the target (N, d1,
    ..., dk), multi-label (N, C, d1, ..., dk), and the weights (N, d1, ..., dk), or None, fit them; else the
    error."""
    input_shape, target_shape = tuple(input_shape), tuple(target_shape)
    if input_shape[1] != num_classes:
        return (f"Expected `input` of shape (n, {num_classes}) or, per element, (N, {num_classes}, d1, ..., dk) "
                f"with the classes along dimension 1, but got {input_shape}.")
    elements = (input_shape[0], *input_shape[2:])
    # multi-class targets: class indices, or class probabilities like the logits
    probabilities = task == "multiclass" and target_shape == input_shape
    expected = input_shape if task == "multilabel" or probabilities else elements
    for name, shape, wanted in (("target", target_shape, expected), ("sample_weight", weight_shape, elements)):
        if shape is not None and tuple(shape) != wanted:
            alternative = (" or class probabilities of the logits' shape" if name == "target" and task == "multiclass"
                           else "")
            return (f"Expected `{name}` of shape {wanted} for logits {input_shape} (classes along dimension 1)"
                    f"{alternative}, but got {tuple(shape)}.")
    return None


MAX_L = 1e6  # far beyond any valid L (metricc lrange): larger ones only overflow the gradient's arithmetic
FLAGS = ("from_logits", "check_inputs", "compile", "sync")


def describe(value):
    """A short, safe description of a user's value for an error message (no user-defined repr runs)."""
    if type(value) in (int, float, str, bool, type(None)):
        text = repr(value)
        return text if len(text) <= 60 else text[:57] + "..."
    return f"a value of type {type(value).__name__}"


def _is_bool(value):
    """A Python or NumPy bool (checked without importing NumPy)."""
    return type(value) is bool or (type(value).__module__ == "numpy" and type(value).__name__ in ("bool", "bool_"))


def _is_scalar_tensor(value):
    """A 0-dim real torch tensor, float or integer (checked without importing torch)."""
    return (type(value).__module__ == "torch" and type(value).__name__ == "Tensor" and value.dim() == 0
            and not value.dtype.is_complex and str(value.dtype) != "torch.bool")


def integer(value):
    """`value` as a plain int for any integer type (int, NumPy integers), else None."""
    if _is_bool(value) or not isinstance(value, numbers.Integral):
        return None
    return int(value)


def real_number(name, value, expected, error):
    """`value` as a plain float, for any real number type (int, float, NumPy and torch scalars, Fraction); else
    `error` saying that `name` should be `expected`."""
    if _is_bool(value) or not isinstance(value, numbers.Real) and not _is_scalar_tensor(value):
        raise error(f"Expected {name} to be {expected}, but got {describe(value)}.")
    try:
        return float(value.item() if _is_scalar_tensor(value) else value)  # item(): no warning for requires_grad
    except (OverflowError, ValueError, TypeError):
        raise error(f"Expected {name} to be {expected}, but got {describe(value)} (it does not fit a float).") from None


def flag(name, value, error):
    """`value` as a plain bool (a Python or NumPy bool), else `error`."""
    if not _is_bool(value):
        raise error(f"Expected argument `{name}` to be a bool, but got {describe(value)}.")
    return bool(value)


def threshold_value(threshold, error):
    """The decision threshold as a plain float in (0, 1) with a float between it and 0, where an accuracy level
    (half the threshold by default) can bound L; else `error`."""
    value = real_number("argument `threshold`", threshold, "a float in (0, 1)", error)
    if not 0 < value < 1:
        raise error(f"Expected argument `threshold` to be a float in (0, 1), but got {describe(threshold)}.")
    if value / 2 == 0:
        raise error(f"Expected argument `threshold` to be a float in (0, 1) above the smallest float, but got "
                    f"{value!r}: no float lies between it and 0, so no accuracy level bounds L.")
    return value


def check_settings(settings, error, count_limit=None):
    """The settings (a dict holding L, threshold and eps, and any of warmup, L_start, bce_weight, momentum,
    axis_name and the FLAGS), checked, with NumPy, torch and other real scalars made plain floats and bools;
    `error` for the first that is wrong (eps past the formula's count limit: eps_past_limit). Returns the dict."""
    given = dict(settings)
    L = settings["L"] = real_number("argument `L`", given["L"], "a positive float", error)
    if not L > 0 or L == float("inf"):
        raise error(f"Expected argument `L` to be a positive float, but got {describe(given['L'])}.")
    if L > MAX_L:
        raise error(f"Expected argument `L` to be at most {MAX_L:g} (far beyond any valid L: see metricc lrange), but "
                    f"got {describe(given['L'])}.")
    settings["threshold"] = threshold_value(given["threshold"], error)
    eps = settings["eps"] = real_number("argument `eps`", given["eps"], "a non-negative float", error)
    if not 0 <= eps < float("inf"):
        raise error(f"Expected argument `eps` to be a non-negative float, but got {describe(given['eps'])}.")
    message = eps_past_limit(eps, count_limit)
    if message:
        raise error(message)
    _check_training_settings(settings, error)
    name = settings.get("axis_name")
    if name is not None:
        names = name if isinstance(name, tuple) else (name,)
        if not names or not all(isinstance(n, str) for n in names):
            raise error(f"Expected argument `axis_name` to be the name of a mapped axis (a str, or a tuple of them), "
                        f"but got {describe(name)}.")
        settings["axis_name"] = tuple(str.__add__("", n) for n in names) if isinstance(name, tuple) else names[0]
    for name in FLAGS:
        if name in settings and not (name == "sync" and settings[name] is None):  # sync None: left unset
            settings[name] = flag(name, settings[name], error)
    return settings


def _check_training_settings(settings, error):
    """warmup: a non-negative int; L_start: in (0, L]; bce_weight: >= 0; momentum: in [0, 1)."""
    if "warmup" in settings:
        warmup = integer(settings["warmup"])
        if warmup is None or warmup < 0:
            raise error(f"Expected argument `warmup` to be a non-negative int (training steps), but got "
                        f"{describe(settings['warmup'])}.")
        settings["warmup"] = warmup
    if "L_start" in settings:
        start = settings["L_start"] = real_number("argument `L_start`", settings["L_start"], "a positive float", error)
        if not 0 < start <= settings["L"]:
            raise error(f"Expected argument `L_start` to be a positive float of at most L = {settings['L']:g}, but "
                        f"got {start:g}.")
    if "bce_weight" in settings:
        weight = settings["bce_weight"] = real_number("argument `bce_weight`", settings["bce_weight"], "a float >= 0",
                                                      error)
        if not 0 <= weight < float("inf"):
            raise error(f"Expected argument `bce_weight` to be a finite float >= 0, but got {weight:g}.")
    if "momentum" in settings:
        momentum = settings["momentum"] = real_number("argument `momentum`", settings["momentum"], "a float in [0, 1)",
                                                      error)
        if not 0 <= momentum < 1:
            raise error(f"Expected argument `momentum` to be a float in [0, 1), but got {momentum:g}.")
