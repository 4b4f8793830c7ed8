"""metricc: compile a confusion-matrix metric (F1, MCC, a cost such as FP + 5*FN) into a differentiable loss."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from ._version import __version__
from .errors import MetriccError, MetriccWarning

if TYPE_CHECKING:
    from .compiler import CompiledMetric, compile_metric
    from .lrange import LRange, l_range, validate_L

# loaded on first use, so that `import metricc` (and the command line's --help) does not wait for SymPy
_LAZY = {"CompiledMetric": "compiler", "compile_metric": "compiler", "LRange": "lrange", "l_range": "lrange",
         "validate_L": "lrange"}

__all__ = ["CompiledMetric", "LRange", "MetriccError", "MetriccWarning", "__version__", "compile_metric", "l_range",
           "validate_L"]


def __getattr__(name: str):
    """A public name of the compiler or the L validator, imported on first use."""
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value  # later lookups do not come here
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    """The module's names, the ones not loaded yet included."""
    return sorted(set(globals()) | set(__all__))
