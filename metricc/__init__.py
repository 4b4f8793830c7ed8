"""metricc: compile a confusion-matrix metric (F1, MCC, a cost such as FP + 5*FN) into a differentiable loss."""

from ._version import __version__
from .compiler import CompiledMetric, compile_metric
from .errors import MetriccError, MetriccWarning

__all__ = ["CompiledMetric", "MetriccError", "MetriccWarning", "__version__", "compile_metric"]
