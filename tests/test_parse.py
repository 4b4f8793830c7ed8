"""The formula language: what it accepts, what it builds, and how it rejects bad formulas."""

import re

import pytest
import sympy as sp

from bad_formulas import BAD_FORMULAS
from metricc import MetriccError, MetriccWarning
from metricc.parse import COUNT_SYMBOLS, parse

TP, FP, FN, TN = COUNT_SYMBOLS.values()
N = TP + FP + FN + TN


@pytest.mark.parametrize("text, expected", [
    ("TP", TP),
    ("2*TP/(2*TP+FP+FN)", 2 * TP / (2 * TP + FP + FN)),
    ("TP + FP - FN*TN/2", TP + FP - FN * TN / 2),
    ("-2^2*TP", -4 * TP),
    ("2**3^2*TP", 512 * TP),
    ("TP^-1", 1 / TP),
    ("1.5e2*TP + .5*FP + 3.*FN + 2E-1*TN", 150 * TP + FP / 2 + 3 * FN + TN / 5),
    ("-(TP - FP)", FP - TP),
    ("+TP", TP),
    ("sqrt(TP)*log(FP)*exp(FN)*abs(TN - TP)", sp.sqrt(TP) * sp.log(FP) * sp.exp(FN) * sp.Abs(TN - TP)),
    ("min(TP, FP, FN) + max(TP, 1)", sp.Min(TP, FP, FN) + sp.Max(TP, 1)),
    ("N", N),
    ("POS + NEG + PP + PN", 2 * N),
    ("TPR + recall + sensitivity", 3 * TP / (TP + FN)),
    ("TNR + specificity", 2 * TN / (TN + FP)),
    ("PPV + precision", 2 * TP / (TP + FP)),
    ("NPV", TN / (TN + FN)),
    ("FPR + FNR + FDR + FOR", FP / (FP + TN) + FN / (FN + TP) + FP / (FP + TP) + FN / (FN + TN)),
    ("prevalence", (TP + FN) / N),
    ("prec = TP/(TP+FP); rec = TP/(TP+FN); 2*prec*rec/(prec+rec)",
     2 * (TP / (TP + FP)) * (TP / (TP + FN)) / (TP / (TP + FP) + TP / (TP + FN))),
    ("a = TP; b = a + FP; b;", TP + FP),
    ("TP # a comment\n / N", TP / N),
    ("TP\u00a0+\u2009FP\u3000", TP + FP),  # no-break, thin and ideographic spaces, as pasted from a page
    ("0.5*f1 + 0.5*balanced_accuracy",
     TP / (2 * TP + FP + FN) + (TP / (TP + FN) + TN / (TN + FP)) / 4),
    # the cost check of a fractional power's exact value takes small primes out first: 2**200 factors at once
    ("TP * (2**200)**0.997 / 2**199", sp.Integer(2) ** sp.Rational(2, 5) * TP),
    # a constant that SymPy does not reduce and that is small but not 0 (1e-20 here) is no division by zero
    ("TP/(log(6) - log(2) - log(3) + 1e-20)", TP / (sp.log(6) - sp.log(2) - sp.log(3) + sp.Rational(1, 10**20))),
    # ... and a base of small primes alone, or a root of a large number, leaves one factor to raise: no cost
    ("TP*2^(10000/10001)", sp.Integer(2) ** sp.Rational(10000, 10001) * TP),
    ("TP*30030^0.9999", sp.Integer(30030) ** sp.Rational(9999, 10000) * TP),
    # ... and a factor whose power shares a divisor with the denominator stays apart: 2^(2050/1026) is 2 2^(512/513)
    ("TP*12^(1025/1026)", sp.Integer(12) ** sp.Rational(1025, 1026) * TP),
    ("TP*(1" + "0" * 95 + "7)^(1/997)", sp.Integer(10**96 + 7) ** sp.Rational(1, 997) * TP),
    # ... and a fractional power of 0 is 0 (the check had divided 0 by 2 forever)
    ("TP + sqrt(0*FP)", TP),
    ("(0*TP)^0.5 + TP", TP),
    # ... and powers of unrelated bases and exponents are never combined
    ("sqrt(2)*3^(1/3)*5^(1/5)*7^(1/7)*11^(1/11)*TP", sp.sqrt(2) * 3 ** sp.Rational(1, 3) * 5 ** sp.Rational(1, 5)
     * 7 ** sp.Rational(1, 7) * 11 ** sp.Rational(1, 11) * TP),
    ("".join(f"a{k} = TP; " for k in range(100)) + "a99", TP),  # as many bindings as are accepted
])
def test_accepts_and_builds(text, expected):
    assert sp.simplify(parse(text).expr - expected) == 0


def test_direction_prefix():
    assert parse("minimize: (FP + 5*FN)/N").minimize
    assert not parse("maximize: f1").minimize
    assert not parse("f1").minimize
    assert parse("minimize_cost = (FP + FN)/N; minimize_cost").expr == (FP + FN) / N


def test_parameters_from_keywords_and_defaults():
    beta2 = parse("fbeta", {"beta": 2})
    assert beta2.params == {"beta": 2}
    assert sp.simplify(beta2.expr - 5 * TP / (5 * TP + 4 * FN + FP)) == 0
    assert parse("fbeta").params == {"beta": 1.0}
    assert parse("tversky").params == {"alpha": 0.5, "beta": 0.5}
    custom = parse("w*TPR + (1 - w)*TNR", {"w": 0.25})
    assert sp.simplify(custom.expr - (TP / (TP + FN) / 4 + 3 * TN / (TN + FP) / 4)) == 0


def test_parameter_values_are_exact():
    assert parse("alpha*TP", {"alpha": 0.1}).expr == TP / 10
    assert parse("alpha*TP", {"alpha": 10**17 + 1}).expr == (10**17 + 1) * TP  # an int as it is, not as a float


@pytest.mark.parametrize("text, params, message, column", BAD_FORMULAS)
def test_bad_formula_table(text, params, message, column):
    with pytest.raises(MetriccError) as info:
        parse(text, params)
    assert message in info.value.message
    assert info.value.column == column
    if column is not None:
        caret_line = str(info.value).splitlines()[-1]
        assert caret_line.index("^") - 2 == column - 1


@pytest.mark.parametrize("text", ["2 (TP)", "TP/2 (FP)", "2 3", "TP ^ 2 2"])
def test_a_product_is_suggested_only_before_a_name(text):
    """"write 2*TP for a product" follows a number written against a name (2TP, 0.5 FP); before '(' or another
    number the missing operator is only named (it had suggested "write 2*( for a product")."""
    with pytest.raises(MetriccError) as info:
        parse(text, {})
    assert info.value.message.startswith("syntax error: missing operator (or ';') between two values")
    assert "for a product" not in info.value.message


@pytest.mark.parametrize("number, message", [
    ("1" + "_000" * 1500, "a number with '_' in it, out of range (exponents up to 300)"),
    ("0x" + "f" * 4000, "a hexadecimal number, out of range (exponents up to 300)"),
    ("0x" + "f" * 249, "a hexadecimal number: write 66969287949"),  # 6.7e299
    ("0x" + "f" * 250, "a hexadecimal number, out of range"),
])
def test_a_long_number_as_python_writes_it_is_out_of_range(number, message):
    """A number with '_' separators or in another base, too large for a formula, is out of range; it had escaped
    as Python's ValueError (a decimal string of more than 4,300 digits)."""
    with pytest.raises(MetriccError) as info:
        parse(number + "*TP", {})
    assert info.value.message.startswith("syntax error: " + message)
    assert info.value.column == 1


def test_every_kind_of_syntax_error_has_a_row_in_the_table():
    from metricc.parse import SYNTAX_ERRORS

    messages = " | ".join(message for _, _, message, _ in BAD_FORMULAS)
    missing = [kind for kind in SYNTAX_ERRORS if kind[:30] not in messages]
    assert not missing


def test_multiline_error_names_the_line():
    with pytest.raises(MetriccError) as info:
        parse("a = TP;\nb = FP;\na / xb")
    assert info.value.line == 3 and info.value.column == 5
    assert "line 3, column 5" in str(info.value)


def test_error_is_a_value_error_and_pickles():
    import pickle

    with pytest.raises(ValueError) as info:
        parse("TP +")
    again = pickle.loads(pickle.dumps(info.value))
    assert str(again) == str(info.value)


def test_formula_must_be_text():
    with pytest.raises(MetriccError, match="Expected the formula to be a str"):
        parse(b"TP")


def test_the_parser_runs_the_grammar_file():
    """The grammar that parses formulas is the one in grammar/metric.lark (or the installed copy of it): a
    change to the file changes what parses."""
    from importlib import resources
    from pathlib import Path

    import metricc
    from metricc import parse as parse_module

    packaged = resources.files("metricc").joinpath("metric.lark")
    source = Path(metricc.__file__).resolve().parent.parent / "grammar" / "metric.lark"
    text = packaged.read_text() if packaged.is_file() else source.read_text()
    assert parse_module._grammar_text() == text
    assert "minimize" in text and parse("minimize: FP").minimize


SYNTAX_CONTEXTS = ["TP", "2", ".5", "(TP)", "sqrt(TP)", "a = TP; a", "TP^2", "-TP", "min(TP, FP)", "TP +", "(",
                   "min(TP,"]
SYNTAX_TOKENS = ["2", ".5", "TP", "minimize: TP", "=", "= 3", ":", ",", "(FP)", ")", ";;", "* FP", "^ 2"]


@pytest.mark.parametrize("context", SYNTAX_CONTEXTS)
def test_a_syntax_error_names_only_characters_the_formula_has(context):
    """Whatever follows whatever, a syntax error that quotes a character (')', ',', '=', ':', ';') quotes one the
    formula holds (not one it asks to write), and says more than that the token was unexpected."""
    for token in SYNTAX_TOKENS:
        text = f"{context} {token}"
        try:
            parse(text)
        except MetriccError as error:
            message = error.message
            claims = re.sub(r"\(or ';'\)|missing '\)'|write ';'", "", message)  # (characters to write)
            quoted = re.findall(r"'(.)'", claims)
            assert all(char in text for char in quoted), (text, message)
            assert message != f"syntax error: unexpected {token.split()[0]}", (text, message)


@pytest.mark.parametrize("text, hint", [
    ("TP" + "+TP" * 300, ": a chain of '+' and '-' nests one level per term; split it with bindings (a = ...; b = ...; "
                         "a + b)"),
    ("TP" + "*TP/FP" * 150, ": a chain of '*' and '/' nests one level per factor; split it with bindings"),
    ("-" * 300 + "TP", ""),
    # the sum nests 300 levels, each ratio one: the limit was passed at a '/', and the hint blamed its chain (and
    # the product's limit inside a factor's sum)
    ("+".join(["TP/N"] * 300), ": a chain of '+' and '-' nests one level per term"),
    ("*".join(["(TP+1)"] * 300), ": a chain of '*' and '/' nests one level per factor; split it with bindings "
                                 "(a = ...; b = ...; a * b)"),
    ("sqrt(" * 150 + "+".join(["TP"] * 60) + ")" * 150, ""),  # functions of functions: no chain to split
])
def test_a_long_chain_of_one_operator_is_refused_with_how_to_split_it(text, hint):
    """A sum of 301 terms nests as deep as a formula 301 parentheses deep: the error says so, and how to split it
    (each binding nests apart)."""
    with pytest.raises(MetriccError) as info:
        parse(text)
    assert info.value.message.startswith(f"the formula nests more than 200 levels deep{hint}")
    assert hint or info.value.message.endswith("deep")
    half = "+".join(["TP"] * 150)
    assert parse(f"a = {half}; b = {half}; a + b").expr == 300 * TP


def _grown(count: int) -> str:
    """Bindings that each about double the size of the score: 9 of them make 4852 operations, 10 about 9700."""
    steps = [f"a{i} = a{i - 1}/(FN + {i}) + TP/(a{i - 1} + {i})" for i in range(1, count)]
    return "; ".join(["a0 = TP/(FP + 1)", *steps, f"a{count - 1}"])


@pytest.mark.parametrize("accepted, refused, message", [
    ("-" * 199 + "TP", "-" * 200 + "TP", "the formula nests more than 200 levels deep"),
    ("log(" * 31 + "TP" + ")" * 31, "log(" * 32 + "TP" + ")" * 32, "the formula nests more than 32 levels deep once "
                                                                     "built (functions of functions"),
    (_grown(9), _grown(10), "the formula grows to more than 5000 operations once its bindings are substituted"),
    ("1" * 100 + "*TP", "1" * 101 + "*TP", "number with 101 characters; at most 100 are accepted"),
    ("1e300*TP", "1e301*TP", "number 1e301 is out of range (exponents up to 300)"),
    ("1e-300*TP", "1e-301*TP", "number 1e-301 is out of range (exponents up to 300)"),
    ("TP^1000", "TP^1001", "exponent 1001 is too large (at most 1000 in size)"),
    ("TP^-1000", "TP^-1001", "exponent -1001 is too large (at most 1000 in size)"),
    # 12^(1024/1025) makes SymPy factor 2^1023 3^1024, of 4094 bits; 12^(1026/1027) 2^1025 3^1026, of 4102
    ("TP*12^(1024/1025)", "TP*12^(1026/1027)", "the exact value of this power of a constant needs a number of more "
                                               "than 4096 bits factored"),
    # two powers of 2 (2 bits) that may combine into one whose denominator is 2048 or 4098
    ("TP*2^(1/2048)*2^(1/2)", "TP*2^(1/2049)*2^(1/2)", "the exact value of this power of a constant needs a number "
                                                       "of more than 4096 bits factored"),
    ("TP*log(2)^(10000/11)", "TP*log(2)^(10001/11)", "the constant is a fractional power whose exact exponent has "
                                                      "a numerator over 10,000"),
])
def test_each_limit_admits_its_bound_and_refuses_one_step_past_it(accepted, refused, message):
    parse(accepted)
    with pytest.raises(MetriccError) as info:
        parse(refused)
    assert info.value.message.startswith(message)


@pytest.mark.parametrize("text, column, rate", [("TN/N", 1, "TNR"), ("TPR + TN / N", 7, "TNR"),
                                               ("a = 1 - FP/N; a*TPR", 9, "FPR")])
def test_a_score_that_divides_FP_or_TN_by_N_warns_that_N_is_the_total(text, column, rate):
    """Tables that write P and N for the actual positives and negatives define TNR = TN/N and FPR = FP/N; here N
    is the total, so such a formula compiled another score in silence."""
    with pytest.warns(MetriccWarning, match=rf"\(column {column}\): `N` is the total .* write {rate}"):
        parse(text)


def test_the_warning_on_a_rate_over_the_total_names_its_line_past_the_first():
    with pytest.warns(MetriccWarning, match=r"\(line 2, column 5\): `N` is the total"):
        parse("a = 1;\nb = FP/N; a*b*TPR")


@pytest.mark.parametrize("text", ["minimize: FP/N", "minimize: (FP + 5*FN)/N", "TN/(TP + FP + FN + TN)",
                                  "(TP + TN)/N", "N = FP + TN; 1 - FP/N", "TN/NEG", "TP/N"])
def test_a_cost_per_sample_or_a_total_written_out_does_not_warn(text):
    parse(text)  # the suite turns warnings into errors


def test_a_cost_by_compile_metric_s_minimize_does_not_warn():
    from metricc import compile_metric

    assert compile_metric("FP/N", minimize=True).minimize
