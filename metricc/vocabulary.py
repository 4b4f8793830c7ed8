"""The words metricc uses everywhere, named once: the four counts, tasks, averages and formula functions."""

from __future__ import annotations

COUNTS = ("TP", "FP", "FN", "TN")
TASKS = ("binary", "multiclass", "multilabel")
AVERAGES = ("macro", "micro", "weighted", "none")
FUNCTIONS = {"sqrt": 1, "log": 1, "exp": 1, "abs": 1, "min": None, "max": None}
"""Function names of the formula language and their number of arguments (None: two or more). `min`, `max` and
`abs` are non-smooth."""
