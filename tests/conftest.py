import os

import pytest
from hypothesis import settings

# The same generated inputs on every run, so that a result does not depend on the run; set
# METRICC_FUZZ_RANDOM=1 (and pass --hypothesis-seed) to explore new ones.
settings.register_profile("deterministic", derandomize=True)
settings.register_profile("random", derandomize=False)
settings.load_profile("random" if os.environ.get("METRICC_FUZZ_RANDOM") else "deterministic")


def _older_jax_takes_the_tests_x64_switch():
    """The tests switch x64 with jax.enable_x64, which an older JAX (that pyproject admits) has in
    jax.experimental only; JAX is imported for it only there."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        major_minor = tuple(int(part) for part in version("jax").split(".")[:2])
    except (PackageNotFoundError, ValueError):
        return
    if major_minor < (0, 9):
        import jax
        from jax.experimental import enable_x64

        if not hasattr(jax, "enable_x64"):
            jax.enable_x64 = enable_x64


_older_jax_takes_the_tests_x64_switch()


def pytest_addoption(parser):
    parser.addoption("--slow", action="store_true", help="also run the long checks marked slow")


# The integration tier (`pytest -m integration`): examples, benchmarks, distributed runs and every test that
# runs metricc or an emitted module in a subprocess. `pytest -q` runs the fast core.
INTEGRATION_MODULES = {"test_examples.py", "test_benchmark.py", "test_distributed.py", "test_reproduce_paper.py",
                       "test_cli.py"}
INTEGRATION_TESTS = {"test_emitted_module_matches_compile_metric", "test_cli_answers_or_refuses",
                     "test_cli_lrange_table", "test_cli_lrange_plot",
                     "test_cli_lrange_plot_draws_the_L_given", "test_compiled_code_does_not_depend_on_the_clock",
                     "test_saved_loss_loads_in_a_fresh_process",
                     "test_a_missing_library_is_named_with_how_to_install_it",
                     "test_import_does_not_import_torch", "test_symbolic_stages_import_without_lark_and_torch",
                     "test_emitted_jax_module_runs_without_metricc", "test_emitted_objective_runs_without_metricc",
                     "test_pmap_with_axis_name_gives_the_whole_batch_loss_and_gradient"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.path.name in INTEGRATION_MODULES or item.originalname in INTEGRATION_TESTS:
            item.add_marker(pytest.mark.integration)
    if config.getoption("--slow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
