"""Fuzzing: every input ends in a compiled metric or a MetriccError, never another exception, quickly."""

import time

from hypothesis import HealthCheck, given, settings

from formula_strategies import RANDOM_TEXT, TOKEN_SEQUENCES, formulas
from metricc import MetriccError, compile_metric

SECONDS = 2.0


def _answer(text):
    start = time.perf_counter()
    try:
        compile_metric(text)
    except MetriccError as error:
        assert str(error)
    assert time.perf_counter() - start < SECONDS, f"{text!r} took over {SECONDS} s"


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
def test_formulas_from_the_grammar(drawn):
    formula, _ = drawn
    _answer(formula.text)
