import pytest


def pytest_addoption(parser):
    parser.addoption("--slow", action="store_true", help="also run the long checks marked slow")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--slow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
