"""The backends, described once, as data: what the printer writes for each SymPy function, which modules the
printed code runs with, which kernel files an emitted module carries, the dtypes and where the L probe lives.

Behaviour stays in the stage modules (printing, emit, compiler, lrange), which read this table; nothing here
imports a backend library.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

from .errors import MetriccError


@dataclass(frozen=True)
class Backend:
    """One backend. `functions` maps a SymPy class's name (or "sqrt", "pow") to a template; Min and Max map to (a
    two-value template, a value-and-number template), since SymPy folds all numbers of a Min/Max into one."""

    name: str
    functions: Mapping
    namespace: Mapping[str, str]  # name in the printed code -> module it is bound to
    kernels: tuple[str, ...] = ()  # files of a binary emitted module (none: the backend is not emitted)
    multi_kernels: tuple[str, ...] = ()  # files of a multi-class or multi-label emitted module
    loss_class: str = "SoftConfusionLoss"  # the kernel class an emitted MetricLoss extends (binary)
    order: int = 1  # 2: the printed scalars also give the curvatures q_a, q_b (for a Hessian)
    options: Mapping[str, Any] = field(default_factory=dict)  # run-time options of the binary loss class
    multi_options: Mapping[str, bool] = field(default_factory=dict)  # ... and of the multi-class one
    minibatch: bool = False  # its loss classes take the training options (training_defaults gives their values)
    usage: str = ""  # the emitted module's docstring line on how to call it
    extra: str = ""  # source appended to an emitted module, after the MetricLoss class
    dtypes: tuple[str, ...] = ()  # floating-point types the L probe measures
    probe: str = ""  # "module:function" of the L probe (dtype, kernel, threshold, ends) -> keeps_gradient(L)
    # integers of the printed code are printed as ints below this, as floats from it (JAX without x64 takes a
    # Python int as an int32: a larger one raises OverflowError)
    int_limit: int = 2**53


DTYPES = ("float64", "float32", "float16", "bfloat16")  # the floating-point types an L probe may measure

# What makes a torch loss train on minibatches without collapsing (README, "Training with a metric loss"; measured
# in docs/training.md): a softer amplifier than the paper's L = 73, whose slope vanishes for every sample beyond
# |p - 0.5| of about 0.1, and partials taken at running estimates of the counts. The warm-up of L and the blend
# with BCE stay options for binary and multi-label losses (off: at Adam's 1e-3 they cost G-mean and balanced
# accuracy; at 1e-2 the blend gains on all three, docs/training.md, "At a ten times higher learning rate").
TRAINING_L = 15.0  # used when compile_metric was not given an L
TRAINING_DEFAULTS = MappingProxyType({"warmup": 0, "L_start": 5.0, "bce_weight": 0.0, "momentum": 0.9})
# Multi-class losses add a cross-entropy blend: on 11 real multi-class sets (docs/training.md, "Multi-class and
# multi-label") it kept the softmax amplifier from leaving a class unpredicted, where the paper's loss lost 0.04-0.07
# macro-F1 to cross-entropy and the binary defaults alone 0.01-0.02
MULTICLASS_TRAINING = MappingProxyType({**TRAINING_DEFAULTS, "bce_weight": 0.1})
PURE_TRAINING = MappingProxyType({"warmup": 0, "L_start": 5.0, "bce_weight": 0.0, "momentum": 0.0})


def training_defaults(task: str, L_given: bool, pure: bool = False) -> dict:
    """The training options of a torch loss for `task` unless the user sets them: TRAINING_DEFAULTS (with a
    cross-entropy blend for multi-class losses, MULTICLASS_TRAINING) and TRAINING_L when no L was given; the
    paper's loss for `pure`."""
    if pure:
        return dict(PURE_TRAINING)
    defaults = MULTICLASS_TRAINING if task == "multiclass" else TRAINING_DEFAULTS
    return {**defaults, **({} if L_given else {"L": TRAINING_L})}


# A multi-class booster objective's amplifier when compile_metric was not given an L: at the paper's L = 73 the
# softmax amplifier saturates early and LightGBM lost macro-F1 with it; L = 5-30 trained within 0.02 of each other
# (measured in docs/boosting.md, "Multi-class").
BOOSTER_MULTICLASS_L = 15.0


def booster_defaults(task: str, L_given: bool) -> dict:
    """The settings of a booster objective for `task` unless the user sets them."""
    return {"L": BOOSTER_MULTICLASS_L} if task == "multiclass" and not L_given else {}


def _table(prefix: str, minimum: str, maximum: str) -> Mapping:
    return MappingProxyType({
        "sqrt": prefix + "sqrt({0})",
        "pow": "{0}**{1}",
        "exp": prefix + "exp({0})",
        "log": prefix + "log({0})",
        "Abs": prefix + "abs({0})",
        "sign": prefix + "sign({0})",
        "Heaviside": "((" + prefix + "sign({0}) + 1)/2)",
        "Min": (prefix + "minimum({0}, {1})", minimum),
        "Max": (prefix + "maximum({0}, {1})", maximum),
    })


# Python floats and the standard library, for scalars computed on the host: a domain error raises
# (ValueError, ZeroDivisionError, OverflowError) instead of giving NaN; math.pow never returns a complex number.
_MATH = MappingProxyType({
    "sqrt": "math.sqrt({0})",
    "pow": "math.pow({0}, {1})",
    "exp": "math.exp({0})",
    "log": "math.log({0})",
    "Abs": "abs({0})",
    "sign": "((0 < {0}) - ({0} < 0))",
    "Heaviside": "((0 < {0}) + 0.5*({0} == 0))",
    "Min": ("min({0}, {1})", "min({0}, {1})"),
    "Max": ("max({0}, {1})", "max({0}, {1})"),
})

_LOSS_AND_GRAD = '''

def loss_and_grad(input, target, sample_weight=None):
    """The loss and its gradient with respect to `input`."""
    return MetricLoss().loss_and_grad(input, target, sample_weight)
'''

BACKENDS: Mapping[str, Backend] = MappingProxyType({b.name: b for b in (
    Backend("torch", _table("torch.", "torch.clamp({0}, max={1})", "torch.clamp({0}, min={1})"),
            MappingProxyType({"torch": "torch"}),
            kernels=("checks.py", "torch_kernel.py"),
            multi_kernels=("checks.py", "torch_kernel.py", "torch_multiclass.py"),
            options=MappingProxyType({"check_inputs": True, "compile": False, "sync": None, "process_group": None}),
            multi_options=MappingProxyType({"check_inputs": True, "compile": False, "sync": None,
                                            "process_group": None}), minibatch=True,
            usage="loss_fn = MetricLoss()                  # a torch.nn.Module (MetricLoss(pure=True): the paper's "
                  "loss)\n"
                  "    loss = loss_fn(logits, target)          # 0-dim tensor; loss.backward() runs the derived "
                  "gradient",
            dtypes=("float64", "float32", "float16", "bfloat16"), probe="metricc.lrange:torch_probe"),
    Backend("numpy", _table("numpy.", "numpy.minimum({0}, {1})", "numpy.maximum({0}, {1})"),
            MappingProxyType({"numpy": "numpy"}),
            kernels=("checks.py", "numpy_kernel.py"),
            multi_kernels=("checks.py", "numpy_kernel.py", "multiclass_math.py", "numpy_multiclass.py"),
            options=MappingProxyType({"check_inputs": True}), multi_options=MappingProxyType({"check_inputs": True}),
            usage="value, grad = loss_and_grad(logits, target)   # float, and d loss / d logits",
            extra=_LOSS_AND_GRAD, dtypes=("float64", "float32", "float16"), probe="metricc.lrange:numpy_probe"),
    Backend("jax", _table("jnp.", "jnp.minimum({0}, {1})", "jnp.maximum({0}, {1})"),
            MappingProxyType({"jnp": "jax.numpy"}),
            kernels=("checks.py", "multiclass_math.py", "jax_kernel.py"),
            multi_kernels=("checks.py", "multiclass_math.py", "jax_kernel.py"),
            options=MappingProxyType({"check_inputs": True, "axis_name": None, "bce_weight": 0.0}),
            multi_options=MappingProxyType({"check_inputs": True, "axis_name": None, "bce_weight": 0.0}),
            usage="loss = MetricLoss()   # loss(logits, target) -> 0-dim array, under jax.jit and jax.grad",
            dtypes=("float64", "float32", "float16", "bfloat16"), probe="metricc.jax_probe:jax_probe", int_limit=2**31),
    *(Backend(booster, _table("numpy.", "numpy.minimum({0}, {1})", "numpy.maximum({0}, {1})"),
              MappingProxyType({"numpy": "numpy"}), kernels=("checks.py", "booster_context.py", "boost_kernel.py"),
              loss_class="BoostObjective", order=2,
              options=MappingProxyType({"hessian": None, "mean_hessian": 0.1, "booster": booster,
                                        "check_inputs": True}),
              usage=usage, extra="\n\nobjective = MetricLoss()\n")
      for booster, usage in (
          ("xgboost", "xgboost.train({**objective.params, ...}, dtrain, obj=objective,\n"
                      "                  custom_metric=objective.eval_metric)   # or XGBClassifier("
                      "objective=objective, base_score=0.5,\n"
                      "                  eval_metric=objective.eval_metric): early stopping watches the metric, not "
                      "logloss"),
          ("lightgbm", "lightgbm.train({'objective': objective, **objective.params, ...}, data,\n"
                       "                   feval=objective.eval_metric)   # or "
                       "LGBMClassifier(objective=objective, **objective.params),\n"
                       "    whose predict() gives raw scores: objective.predict(model.predict(X, raw_score=True)) "
                       "gives the classes"))),
    Backend("math", _MATH, MappingProxyType({"math": "math"})),
)})


def backend(name: str, *, emitted: bool = False, probed: bool = False) -> Backend:
    """The backend called `name`; with `emitted` (`probed`) only one that emits modules (has an L probe)."""
    choices = names(emitted=emitted, probed=probed)
    if not isinstance(name, str) or name not in choices:
        shown = repr(name) if isinstance(name, str) else f"a value of type {type(name).__name__}"
        raise MetriccError(f"Expected argument `backend` to be one of {list(choices)}, but got {shown}.")
    return BACKENDS[name]


def names(*, emitted: bool = False, probed: bool = False) -> tuple[str, ...]:
    """The backends' names; with `emitted` (`probed`) only those that emit modules (have an L probe)."""
    return tuple(n for n, b in BACKENDS.items() if (b.kernels or not emitted) and (b.probe or not probed))
