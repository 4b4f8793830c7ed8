import os

import pytest
from hypothesis import settings

# The same generated inputs on every run, so that a result does not depend on the run; set
# METRICC_FUZZ_RANDOM=1 (and pass --hypothesis-seed) to explore new ones.
settings.register_profile("deterministic", derandomize=True)
settings.register_profile("random", derandomize=False)
settings.load_profile("random" if os.environ.get("METRICC_FUZZ_RANDOM") else "deterministic")


def pytest_addoption(parser):
    parser.addoption("--slow", action="store_true", help="also run the long checks marked slow")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--slow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
