"""Hypothesis strategies: formulas drawn from the grammar, each with its own torch evaluator (written here,
independent of metricc's parser and SymPy), plus random text and random token sequences."""

import torch
from hypothesis import strategies as st

from metricc.catalog import METRICS

RATES = {
    "TPR": lambda c: c["TP"] / (c["TP"] + c["FN"]),
    "TNR": lambda c: c["TN"] / (c["TN"] + c["FP"]),
    "PPV": lambda c: c["TP"] / (c["TP"] + c["FP"]),
    "NPV": lambda c: c["TN"] / (c["TN"] + c["FN"]),
    "prevalence": lambda c: (c["TP"] + c["FN"]) / (c["TP"] + c["FP"] + c["FN"] + c["TN"]),
    "N": lambda c: c["TP"] + c["FP"] + c["FN"] + c["TN"],
    "POS": lambda c: c["TP"] + c["FN"],
}
COUNTS = ["TP", "FP", "FN", "TN"]
PARAMETERS = {"alpha": 0.7, "beta": 2.0}


class Formula:
    """A formula as text and as a function of a dict of torch counts."""

    def __init__(self, text, evaluate):
        self.text = text
        self.evaluate = evaluate

    def __repr__(self):
        return f"Formula({self.text!r})"


def _leaf(name, evaluate):
    return Formula(name, evaluate)


LEAVES = st.one_of(
    st.sampled_from(COUNTS).map(lambda n: _leaf(n, lambda c, n=n: c[n])),
    st.sampled_from(sorted(RATES)).map(lambda n: _leaf(n, RATES[n])),
    st.sampled_from(sorted(PARAMETERS)).map(lambda n: _leaf(n, lambda c, n=n: torch.tensor(PARAMETERS[n],
                                                                                          dtype=torch.float64))),
    st.sampled_from(["2", "0.5", "3", "1e-1", "1.5", "1.234567"]).map(
        lambda t: _leaf(t, lambda c, v=float(t): torch.tensor(v, dtype=torch.float64))),
)


def _binary(symbol, function):
    return lambda a, b: Formula(f"({a.text} {symbol} {b.text})",
                                lambda c: function(a.evaluate(c), b.evaluate(c)))


def _extend(children):
    return st.one_of(
        st.tuples(children, children).map(lambda ab: _binary("+", torch.add)(*ab)),
        st.tuples(children, children).map(lambda ab: _binary("-", torch.sub)(*ab)),
        st.tuples(children, children).map(lambda ab: _binary("*", torch.mul)(*ab)),
        st.tuples(children, children).map(lambda ab: _binary("/", torch.div)(*ab)),
        st.tuples(children, st.sampled_from(["2", "3", "0.5", "-1", "0.3333", "1.000001"]),
                  st.sampled_from(["^", "**"])).map(
            lambda a: Formula(f"({a[0].text}){a[2]}{a[1]}", lambda c, a=a: a[0].evaluate(c) ** float(a[1]))),
        children.map(lambda a: Formula(f"sqrt({a.text})", lambda c: torch.sqrt(a.evaluate(c)))),
        children.map(lambda a: Formula(f"-{a.text}", lambda c: -a.evaluate(c))),
        children.map(lambda a: Formula(f"abs({a.text})", lambda c: torch.abs(a.evaluate(c)))),
        children.map(lambda a: Formula(f"log({a.text})", lambda c: torch.log(a.evaluate(c)))),
        children.map(lambda a: Formula(f"exp({a.text})", lambda c: torch.exp(a.evaluate(c)))),
        st.tuples(children, children).map(lambda ab: Formula(f"min({ab[0].text}, {ab[1].text})",
                                                             lambda c: torch.minimum(ab[0].evaluate(c),
                                                                                     ab[1].evaluate(c)))),
        st.tuples(children, children).map(lambda ab: Formula(f"max({ab[0].text}, {ab[1].text})",
                                                             lambda c: torch.maximum(ab[0].evaluate(c),
                                                                                     ab[1].evaluate(c)))),
    )


EXPRESSIONS = st.recursive(LEAVES, _extend, max_leaves=6)


@st.composite
def formulas(draw):
    """A formula, sometimes with let-bindings and a direction prefix."""
    bound = draw(st.lists(EXPRESSIONS, max_size=2))
    names = [f"v{i}" for i in range(len(bound))]
    body = draw(EXPRESSIONS)
    for name in names:
        if draw(st.booleans()):
            use = draw(st.sampled_from(["+", "*"]))
            body = _binary(use, torch.add if use == "+" else torch.mul)(
                body, Formula(name, lambda c, name=name: c[name]))
    text = "".join(f"{n} = {b.text}; " for n, b in zip(names, bound)) + body.text
    minimize = draw(st.booleans())

    def evaluate(counts):
        env = dict(counts)
        for name, b in zip(names, bound):
            env[name] = b.evaluate(env)
        return body.evaluate(env)

    return Formula(("minimize: " if minimize else "") + text, evaluate), minimize


TOKENS = ["TP", "FP", "FN", "TN", "N", "TPR", "precision", "f1", "mcc", "fbeta", "beta", "alpha", "x", "tp",
          "sqrt", "log", "exp", "min", "max", "abs", "+", "-", "*", "/", "^", "**", "(", ")", ",", ";", "=", "1",
          "0", "2.5", "1e308", "1e-400", ".", "minimize:", "maximize:", "#", "\n", "__import__", "'", '"', "\\",
          "lambda", "é", "ТP"]

TOKEN_SEQUENCES = st.lists(st.sampled_from(TOKENS), max_size=25).flatmap(
    lambda tokens: st.sampled_from([" ", ""]).map(lambda sep: sep.join(tokens)))

RANDOM_TEXT = st.one_of(st.text(max_size=120),
                        st.binary(max_size=120).map(lambda b: b.decode("utf-8", errors="replace")),
                        st.text(alphabet="TPFNTN+-*/^()0123456789.,;=e ", max_size=60))

CATALOG_COMBINATIONS = st.lists(st.sampled_from(sorted(METRICS)), min_size=2, max_size=6).flatmap(
    lambda names: st.lists(st.sampled_from(["+", "-", "*", "/"]), min_size=len(names) - 1,
                           max_size=len(names) - 1).flatmap(
        lambda ops: st.sampled_from(["{}", "max({}, TPR)", "abs({})", "min({}, 1)"]).map(
            lambda wrap: wrap.format(names[0] + "".join(f" {o} {n}" for o, n in zip(ops, names[1:]))))))

_NUMBER = st.sampled_from(["0.5", "2", "10", "1000", "1e300", "1e-300", "0.999", "3.5"])
_EXPONENT = st.sampled_from(["2", "-1", "1000", "-1000", "0.5", "15", "300"])
NUMBER_TOWERS = st.tuples(_NUMBER, st.lists(_EXPONENT, min_size=1, max_size=4), st.booleans()).map(
    lambda t: ("TP*" if t[2] else "TP/") + "(" * len(t[1]) + t[0] + "".join(f"^{e})" for e in t[1]))

_SUMS = st.sampled_from(["N", "TP+FP", "TP", "FN+TN+1", "PP", "mcc", "f1"])
POLYNOMIALS = st.tuples(_SUMS, st.integers(1, 1000), st.sampled_from(["1/({}^{}+1)", "{}^{}*TP/(N^2+1)",
                                                                      "TP/({}^{} + FP^{})"])).map(
    lambda t: t[2].format(t[0], t[1], t[1]))
