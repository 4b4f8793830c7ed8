"""Fuzzing: every input ends in a compiled metric or a MetriccError, never another exception, quickly."""

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from formula_strategies import (CATALOG_COMBINATIONS, NUMBER_TOWERS, POLYNOMIALS, RANDOM_TEXT, TOKEN_SEQUENCES, Formula,
                                formulas)
from metricc import MetriccError, MetriccWarning, compile_metric
from oracles import answers_within, load_emitted

# CPU seconds a compilation may take: drawn formulas compile in 0.1-0.9 s, the blow-ups this catches took minutes;
# 2 s had failed twice, on formulas of 0.6 s, while another job kept the VM's other core busy (its CPU time
# grew 1.5-2.5 times, the two cores sharing one physical core)
SECONDS = 4.0


def _answer(text, **kwargs):
    def compile_and_print():
        try:
            with warnings.catch_warnings():  # a formula's warnings (FP/N's) are answers too
                warnings.simplefilter("ignore", MetriccWarning)
                metric = compile_metric(text, **kwargs)
        except MetriccError as error:
            assert str(error)
        else:
            metric.scalars_source("numpy")

    # CPU time, so that a busy machine does not fail the test
    assert answers_within(SECONDS, compile_and_print), f"{text!r} took over {SECONDS} s"


@settings(max_examples=1000, deadline=None)
@given(RANDOM_TEXT)
def test_random_text(text):
    _answer(text)


@settings(max_examples=800, deadline=None)
@given(TOKEN_SEQUENCES)
def test_random_token_sequences(text):
    _answer(text)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(formulas())
@example((Formula("TN/N", None), False))  # a warning, not an error: it had failed the test
def test_formulas_from_the_grammar(drawn):
    formula, _ = drawn
    _answer(formula.text)


PARAMETER_VALUES = st.one_of(st.sampled_from([0.0, -1.0, 0.5, 700.0, 1e-300, 5e-324, 1e-150, 1e150, 1e300]),
                             st.floats(-1e6, 1e6), st.floats(allow_nan=False, allow_infinity=False))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(formulas(), PARAMETER_VALUES, PARAMETER_VALUES)
def test_formulas_with_any_parameter_values(drawn, alpha, beta):
    """Parameters are constants of any size: exp(exp(beta)) at beta = 1e50 and fbeta at beta = 3.3e-300 hung."""
    formula, _ = drawn
    params = {name: value for name, value in (("alpha", alpha), ("beta", beta)) if name in formula.text}
    _answer(formula.text, **params)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(CATALOG_COMBINATIONS)
def test_formulas_built_from_catalog_names(text):
    _answer(text)


@settings(max_examples=200, deadline=None)
@given(st.one_of(NUMBER_TOWERS, POLYNOMIALS))
def test_number_towers_and_high_degrees(text):
    _answer(text)


class _Text(str):
    def __repr__(self):
        raise AssertionError("metricc must not call repr on a user's str")


class _Number(float):
    def __repr__(self):
        raise AssertionError("metricc must not call repr on a user's number")


SCALAR_TYPES = [float, int, np.float16, np.float32, np.float64, np.int32, np.int64, _Number]


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(SCALAR_TYPES), st.sampled_from(SCALAR_TYPES), st.floats(0.1, 5), st.floats(1, 200))
def test_scalar_types_as_parameters_and_settings(beta_type, L_type, beta, L):
    try:
        metric = compile_metric(_Text("fbeta"), beta=beta_type(beta), L=L_type(L))
    except MetriccError as error:  # an int type may round beta to 0
        assert "beta" in str(error) or "denominator" in str(error) or "zero" in str(error)
        return
    namespace = load_emitted(metric.emit("numpy"))
    assert type(namespace["PARAMETERS"]["beta"]) is float and type(metric.L) is float


@settings(max_examples=100, deadline=None)
@given(st.integers(-38, 38), st.sampled_from([np.float32, np.float64]), st.sampled_from(["f1", "mcc", "gmean"]))
def test_weights_at_the_float_limits_give_a_gradient_or_a_clear_error(exponent, dtype, name):
    rng = np.random.default_rng(exponent + 40)
    z, y = rng.normal(size=24).astype(dtype), np.tile([0, 1, 1], 8).astype(dtype)
    weight = np.full(24, 10.0 ** exponent, dtype=dtype) * rng.uniform(0.5, 1, 24).astype(dtype)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            loss, grad = compile_metric(name).loss_and_grad(z, y, weight)
        except MetriccError as error:
            assert str(error)
            return
    assert np.isfinite(loss) and np.isfinite(grad).all()
    light = float(weight.astype(np.float64).sum()) < 1e4 * 1e-6  # eps shifts the loss: a warning says so
    assert light == any("sample weights of this batch add up to" in str(w.message) for w in caught)
    if exponent >= 0:  # eps = 1e-6 is negligible against weights of 1 and more: their scale does not matter
        unit = compile_metric(name).loss_and_grad(z, y, weight / weight.max())[1]
        np.testing.assert_allclose(grad, unit, rtol=1e-3, atol=1e-3 * np.abs(unit).max())


@pytest.mark.parametrize("text", ["f1", "fbeta"])
def test_subclass_formula_is_stored_as_plain_text(text):
    metric = compile_metric(_Text(text), L=66.5)
    assert type(metric.formula) is str and metric.formula == text
