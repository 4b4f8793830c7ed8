"""metricc: compile a confusion-matrix metric (F1, MCC, a cost such as FP + 5*FN) into a differentiable loss."""

from ._version import __version__
from .compiler import CompiledMetric, compile_metric
from .errors import MetriccError, MetriccWarning
from .lrange import LRange, l_range, validate_L

__all__ = ["CompiledMetric", "LRange", "MetriccError", "MetriccWarning", "__version__", "compile_metric", "l_range",
           "validate_L"]
