"""Formula text -> SymPy score in the counts TP, FP, FN, TN (the only module that imports lark)."""

from __future__ import annotations

import difflib
import functools
import math
import numbers
import operator
import re
import unicodedata
import warnings
from importlib import resources
from pathlib import Path
from typing import Mapping, NamedTuple

import lark
import sympy as sp
from lark import Token, Transformer, v_args

from . import catalog
from .errors import MetriccError, MetriccWarning
from .checks import caller_level
from .derive import COUNT_SYMBOLS
from .trees import depth, size
from .vocabulary import COUNTS, FUNCTIONS


MAX_LENGTH = 10_000
MAX_EXPONENT = 1_000
MAX_DECADES = 300  # every constant lies within 1e-300 .. 1e300 in size (or is 0), so that floats hold it,
# a constant's fractional power p/q with |p| above this is refused: SymPy computes 10^(499997/1000000) through
# 10^499997 (sqrt(1.234567^1.000001) did not finish)
MAX_FRACTION_NUMERATOR = 10_000
MAX_CONSTANT_BITS = 4096  # and its exact numerator and denominator have at most this many bits (0.999^1000 has
# about 10,000), so that exact arithmetic on it stays cheap
MAX_NUMBER_CHARS = 100
MAX_DEPTH = 200
MAX_BINDINGS = 100
MAX_SIZE = 5_000
MAX_EXPRESSION_DEPTH = 32  # levels of the built expression (functions, powers, products in sums, ...)

_COMMENT = re.compile(r"#[^\n]*")
_MISSING_OPERATOR = "missing operator (or ';') between two values"
# a whole number as Python writes it and the formula language does not: with '_' separators, or in base 16, 8, 2
_PYTHON_NUMBER = re.compile(r"\d+(?:_\d+)+|0(?:[xX]_?[0-9a-fA-F]+(?:_?[0-9a-fA-F]+)*|[oO]_?[0-7]+(?:_?[0-7]+)*"
                            r"|[bB]_?[01]+(?:_?[01]+)*)")
_NUMBER_END = re.compile(r"(?<![\w.])((?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)[ \t]*$")  # a number just before
_F_BETA = re.compile(r"[fF]_?(\d+)")  # F2, f_3: the F-beta score's usual names
_F_BETA_START = re.compile(r"(?<![\w.])[fF]_?(\d+)$")  # ... the start of one, f0 of f0.5, that ends a text
_FUNCTION_END = re.compile(rf"(?<![\w.])({'|'.join(FUNCTIONS)})\s+$")  # a function's name, then a space
_CALL_KEYWORDS = re.compile(r"([A-Za-z_]\w*)\s*\(([^()]*)$")  # a call open up to a keyword's '=': fbeta(beta
_KEYWORD = re.compile(r"([A-Za-z_]\w*)\s*=\s*([^,()]*)")
_WORD_RUN = re.compile(r"(?<![\w.])[A-Za-z_]\w*(?:(?:[ \t]+|-)[A-Za-z_]\w*)*")  # words apart or hyphenated: f1-score
_WORD = re.compile(r"[A-Za-z_]\w*")
_MOST_WORDS = 5  # in a name written as words (negative predictive value, matthews correlation coefficient)

# compile_metric's settings, which a formula's parameter of the same name would collide with: what each sets
SETTINGS = {"L": "amplifying scale", "eps": "counts' smoothing", "threshold": "decision threshold",
             "from_logits": "choice of logits or probabilities", "minimize": "choice of a cost or a score",
             "task": "task", "num_classes": "number of classes", "average": "average over the classes",
             "ignore_index": "ignore label", "class_weight": "weights of the classes", "formula": "formula"}
_FUNCTIONS = {"sqrt": sp.sqrt, "log": sp.log, "exp": sp.exp, "abs": sp.Abs, "min": sp.Min, "max": sp.Max}
# functions of other languages that the formula language writes otherwise: what to write
_OTHER_FUNCTIONS = {"ln": "the natural logarithm is log(x)", "log10": "write log(x)/log(10)",
                    "log2": "write log(x)/log(2)", "pow": "write x^y (or x**y)", "power": "write x^y (or x**y)",
                    "sigmoid": "write 1/(1 + exp(-x))", "fabs": "write abs(x)", "minimum": "write min(x, y)",
                    "maximum": "write max(x, y)", **dict.fromkeys(
                        ("sign", "floor", "ceil", "round", "heaviside", "step", "trunc"),
                        "a step function, whose gradient is 0 wherever it is defined: a loss of it cannot train")}

# Examples of each syntax error; lark matches a failing parse against them (lark.UnexpectedInput.match_examples).
SYNTAX_ERRORS = {
    "expected a value after the operator": ["TP +", "TP * ", "TP / )", "TP ^", "(TP - )", "-", "TP + * FP", "(TP +",
                                            "sqrt(TP -"],
    "missing ')'": ["(TP", "sqrt(TP", "((TP + FP)", "min(TP, FP", "TP*(FP", "a = (TP; a", "2*(TP+FP"],
    "unmatched ')'": ["TP)", "(TP))", ")"],
    _MISSING_OPERATOR: [
        "TP FP", "2 TP", "TP (FP)", "TP sqrt(FP)", "(TP)(FP)", "2 3", "sqrt(TP FP)", "(TP FP)", "a = TP a",
        "a = TP b = FP; a"],
    "empty parentheses": ["()", "TP * ()"],
    "a binding needs a value after '='": ["a = ; a", "a = "],
    "the formula ends after a binding; write the score after the last ';'": ["a = TP;", "a = TP; b = FP;"],
    "the formula ends with a binding: write ';' and then the score": ["a = TP", "a = TP; b = FP", "a = (TP)"],
    "a ';' must follow a binding (name = value)": ["TP; FP", "TP;; FP"],
    "'=' must follow a name at the start of a binding": ["2 = TP; TP", "a + b = TP; TP"],
    "misplaced ','": [",TP", "TP, FP", "(TP, FP)", "min(, TP)", "min(TP,)"],
    "a ';' must follow a binding (name = value), not start the formula": [";TP", "; a = TP; a"],
    "':' may only follow `minimize` or `maximize` (lower case) at the start": [
        "MINIMIZE: TP", "Maximize: TP", "TP: FP", "a = TP: a", "minimise: TP"],
}


class Parsed(NamedTuple):
    """What a formula says: the score (or cost), its direction and the parameter values it uses."""

    expr: sp.Expr
    minimize: bool
    params: Mapping[str, float]


@functools.lru_cache(maxsize=None)
def _parser() -> lark.Lark:
    return lark.Lark(_grammar_text(), parser="lalr", lexer="basic", propagate_positions=True, maybe_placeholders=True)


def _grammar_text() -> str:
    """The grammar: inside the installed package, or at the top of a source checkout."""
    packaged = resources.files("metricc").joinpath("metric.lark")
    if packaged.is_file():
        return packaged.read_text(encoding="utf-8")
    return (Path(__file__).resolve().parent.parent / "grammar" / "metric.lark").read_text(encoding="utf-8")


def parse(text: str, params: Mapping[str, float] | None = None, minimize: bool = False) -> Parsed:
    """Parse `text` into a SymPy score; `params` binds named parameters (beta, alpha, ...); `minimize`: the
    caller minimizes it (a cost), as `minimize:` says."""
    if not isinstance(text, str):
        raise MetriccError(f"Expected the formula to be a str, but got {type(text).__name__}.")
    if not _COMMENT.sub("", text).strip():
        raise MetriccError("the formula is empty: write a metric such as 2*TP/(2*TP+FP+FN) or a name such as f1")
    if len(text) > MAX_LENGTH:
        raise MetriccError(f"the formula is {len(text)} characters long; at most {MAX_LENGTH} are accepted")
    params = _check_params(params or {})
    try:
        tree = _parser().parse(text)
    except lark.UnexpectedInput as error:
        raise _syntax_error(error, text) from None
    _check_shape(tree, text)
    scope = _Scope(text, params)
    expr, cost = _lower_program(tree, scope)
    expr = _bind_parameters(expr, scope)
    _check_score(expr, text)
    if not (minimize or cost):
        _warn_rates_over_the_total(tree, text)
    else:
        _warn_if_a_score_is_minimized(tree)
    return Parsed(expr, cost, scope.values_used())


def _warn_if_a_score_is_minimized(tree: lark.Tree) -> None:
    """Warn where the score is a catalog score by name (higher is better: f1, mcc; not a binding of that name) and
    minimized: read as
    "minimize the f1 loss", `minimize: f1` trains the model toward a lower F1."""
    *bindings, body = tree.children[1:]
    name = str(body.children[0]) if body.data == "name" else None
    if name in catalog.METRICS and all(name != binding.children[0] for binding in bindings):
        warnings.warn(f"minimize: {name} trains toward a lower {name}, a score (higher is better); without minimize "
                      f"the loss is 1 - {name}, which training lowers", MetriccWarning, stacklevel=caller_level())


_RATES_OF_NEGATIVES = {"FP": "FPR", "TN": "TNR"}


def _warn_rates_over_the_total(tree: lark.Tree, text: str) -> None:
    """Warn where a score divides FP or TN alone by N (unbound): tables that write P and N for the actual
    positives and negatives define FPR = FP/N and TNR = TN/N, where metricc's N is the total. A cost per sample
    (minimize: FP/N) is not checked."""
    if any(isinstance(child, lark.Tree) and child.data == "binding" and child.children[0] == "N"
           for child in tree.children):
        return
    for node in tree.iter_subtrees_topdown():
        if node.data != "div":
            continue
        numerator, _, denominator = node.children
        if not all(isinstance(c, lark.Tree) and c.data == "name" for c in (numerator, denominator)):
            continue
        count, total = numerator.children[0], denominator.children[0]
        if total == "N" and count in _RATES_OF_NEGATIVES:
            line, column = count.line, count.column
            where = f"column {column}" if line == 1 else f"line {line}, column {column}"
            warnings.warn(f"`{count}/N` ({where}): `N` is the total TP + FP + FN + TN here, not the actual negatives "
                          f"FP + TN (`NEG`): for the rate write {_RATES_OF_NEGATIVES[count]} ({count}/NEG); to divide "
                          f"by the total without this warning write it out, {count}/(TP + FP + FN + TN)",
                          MetriccWarning, stacklevel=caller_level())


_CHAINS = {"add": "'+' and '-'", "sub": "'+' and '-'", "mul": "'*' and '/'", "div": "'*' and '/'"}


def _check_shape(tree: lark.Tree, text: str) -> None:
    """Reject formulas nested deeper than MAX_DEPTH or with more than MAX_BINDINGS bindings (no recursion)."""
    bindings = sum(1 for child in tree.children if isinstance(child, lark.Tree) and child.data == "binding")
    if bindings > MAX_BINDINGS:
        raise MetriccError(f"the formula has {bindings} bindings; at most {MAX_BINDINGS} are accepted")
    stack = [(tree, 0, 0, 0)]  # a node, its depth, and how many of its ancestors are sums and products
    while stack:
        node, depth, sums, products = stack.pop()
        if depth > MAX_DEPTH:
            line, column = _position(node)
            # the chain that makes most of the depth (where the limit is passed may lie inside another one)
            chain = ("add" if sums >= products else "mul") if max(sums, products) > MAX_DEPTH // 2 else None
            hint = "" if chain is None else (f": a chain of {_CHAINS[chain]} nests one level per "
                                             f"{'term' if chain == 'add' else 'factor'}; split it with "
                                             f"bindings (a = ...; b = ...; a {'+' if chain == 'add' else '*'} b)")
            raise MetriccError(f"the formula nests more than {MAX_DEPTH} levels deep{hint}", text=text, line=line,
                               column=column)
        sums, products = sums + (node.data in ("add", "sub")), products + (node.data in ("mul", "div"))
        stack.extend((child, depth + 1, sums, products) for child in node.children if isinstance(child, lark.Tree))


def _check_params(params: Mapping[str, float]) -> dict[str, float]:
    checked = {}
    for name, value in params.items():
        if catalog.lookup(name) or name in COUNTS or name in FUNCTIONS:
            raise MetriccError(f"`{name}` is a name of the formula language, not a parameter")
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
            raise MetriccError(f"Expected parameter `{name}` to be a finite number, but got {value!r}.")
        checked[name] = value
    return checked


# characters that look like an operator of the language, as papers and word processors print them
LOOKALIKES = {**dict.fromkeys("\u2212\u2010\u2011\u2012\u2013\u2014\ufe63\uff0d", "-"),
              **dict.fromkeys("\u00d7\u00b7\u22c5\u2217\u2219", "*"), **dict.fromkeys("\u00f7\u2215\u2044", "/"),
              "\u00b2": "^2", "\u00b3": "^3", "\u221a": "sqrt(...)"}


def _described(char: str) -> str:
    """A character the grammar does not know, quoted; outside ASCII also its Unicode name and, for a look-alike of
    an ASCII character the language uses, that character (a no-break space or an invisible one: delete it)."""
    if char.isascii():
        return repr(char)
    name = f"{char!r} (U+{ord(char):04X} {unicodedata.name(char, 'unnamed')})"
    ascii_form = LOOKALIKES.get(char) or unicodedata.normalize("NFKC", char).replace("\u2044", "/")  # 1/2 for ½
    greek = unicodedata.name(char, "").split()
    if greek[:3] == ["GREEK", "SMALL", "LETTER"] and len(greek) == 4:  # β: the parameter's name, beta
        ascii_form = greek[3].lower()
    if ascii_form != char and ascii_form.isascii() and ascii_form.strip():
        return f"{name}: write {ascii_form!r}"
    return f"{name}: delete it" if unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp") else name


def _syntax_error(error: lark.UnexpectedInput, text: str) -> MetriccError:
    line, column = error.line, error.column
    if isinstance(error, lark.UnexpectedCharacters):
        message = f"unexpected character {_described(text[error.pos_in_stream])}"
    else:
        token = getattr(error, "token", None)
        kind = "$END" if token is None else token.type
        label = _example_labels().get((_state(error), kind))
        if kind == "$END":
            line, column = _end_position(text)
            message = label or "the formula ends too early"
        else:
            message = label or _token_label(error, text)
            before = text[:token.start_pos]
            factor = _NUMBER_END.search(before) if message == _MISSING_OPERATOR and kind == "NAME" else None
            literal = None if factor is None or factor.group(0) != factor.group(1) else factor.group(1) + token
            if literal is not None and _PYTHON_NUMBER.fullmatch(literal):  # 1_000, 0x10
                message, column = _python_number_hint(literal), column - len(factor.group(1))
            elif factor is not None:  # 2TP, 0.5 FP
                message += f": write {factor.group(1)}*{token} for a product"
            elif message == _MISSING_OPERATOR and kind == "LPAR" and before.rstrip().endswith(")"):  # (a)(b)
                message += ": write )*( for a product"
            elif message == _MISSING_OPERATOR and kind == "NAME" and (called := _FUNCTION_END.search(before)):
                message += f": write {called.group(1)}({token}) to call {called.group(1)}"  # sqrt TP
            elif message == _MISSING_OPERATOR and kind == "NAME" and (words := _words_hint(text, token.start_pos)):
                message, start = words  # geometric mean: gmean
                line, column = text.count("\n", 0, start) + 1, start - text.rfind("\n", 0, start)
                return MetriccError(f"syntax error: {message}", text=text, line=line, column=column)
            elif message == _MISSING_OPERATOR and line > 1 and not text.split("\n")[line - 1][:column - 1].strip():
                message += f"; is a ';' missing at the end of line {line - 1}?"
            f_beta = _F_BETA_START.search(before) if kind == "NUMBER" and token.startswith(".") else None
            call = _CALL_KEYWORDS.search(before) if kind == "EQUAL" else None
            if f_beta is not None:
                message, column = _f_beta_hint(f_beta.group(1) + token), column - len(f_beta.group(0))
            elif call is not None:
                message = _call_keywords_hint(call.group(1), text[call.start(2):].split(")")[0])
    return MetriccError(f"syntax error: {message}", text=text, line=line, column=column)


def _words_hint(text: str, start: int) -> tuple[str, int] | None:
    """What a metric's name means where the formula writes it as words, apart or hyphenated (geometric mean,
    f1-score), around the word at `start`: the hint and where the words begin, or None where no run of two or more
    of them spells a name."""
    run = next((m for m in _WORD_RUN.finditer(text) if m.start() <= start < m.end()), None)
    words = [] if run is None else [(w.start() + run.start(), w.end() + run.start()) for w in _WORD.finditer(run[0])]
    at = next((i for i, (begin, _) in enumerate(words) if begin == start), None)
    if at is None:
        return None
    spans = sorted(((i, j) for i in range(max(at - _MOST_WORDS + 1, 0), at + 1)
                    for j in range(at, min(i + _MOST_WORDS, len(words))) if j > i), key=lambda s: s[0] - s[1])
    for i, j in spans:  # the longest first
        phrase = text[words[i][0]:words[j][1]]
        key = catalog.folded(re.sub(r"[ \t-]", "", phrase))
        if key in catalog.NOT_COUNTS:
            return _not_counts_message(phrase, catalog.NOT_COUNTS[key]), words[i][0]
        meaning = _spelled_name(key)
        if meaning:
            apart = "a name is one word, '-' subtracts" if "-" in phrase else "a name is one word"
            return f"`{phrase}` is not a name ({apart}){meaning}", words[i][0]
    return None


def _spelled_name(key: str) -> str:
    """What to write for the name folded to `key` ('; did you mean `f1`?', ': the ... is ...'), or ""."""
    metric = catalog.sklearn_name(key)
    named = metric.name if metric else catalog.OTHER_NAMES.get(key) or {
        catalog.folded(k): k for k in [*COUNT_SYMBOLS, *catalog.QUANTITIES, *catalog.METRICS]}.get(key)
    f_beta = _F_BETA.fullmatch(key)
    if named:
        return f"; did you mean `{named}`?"
    if f_beta is not None:
        return f": {_f_beta_hint(f_beta.group(1))}"
    return f": {catalog.WRITTEN_OUT[key]}" if key in catalog.WRITTEN_OUT else ""


def _not_counts_message(name: str, measures: str) -> str:
    """That the score called `name`, which measures what `measures` says, is not one of the counts."""
    return (f"`{name}` is not a confusion-matrix metric ({measures}): metricc compiles formulas of TP, FP, FN, TN at "
            f"one threshold (`metricc list` shows the named ones)")


def _python_number_hint(literal: str) -> str:
    """What to write for a number in a form Python reads and the formula language does not (1_000, 0x10), or that
    it is out of range (never a conversion of thousands of digits, which Python refuses)."""
    base = {"x": "a hexadecimal", "o": "an octal", "b": "a binary"}.get(literal[1].lower())
    if base is None:  # separators: the digits as they are (a leading 0 too)
        kind, decimal = "a number with '_' in it", literal.replace("_", "")
        in_range = len(decimal.lstrip("0")) <= MAX_DECADES
    else:
        kind, value = f"{base} number", int(literal, 0) if len(literal) < 4 * MAX_DECADES else None
        in_range = value is not None and value < 10 ** MAX_DECADES
        decimal = str(value) if in_range else None
    return f"{kind}: write {decimal}" if in_range else f"{kind}, out of range (exponents up to {MAX_DECADES})"


def _f_beta_hint(beta: str) -> str:
    """What an F-beta score written as F2 or f0.5 is."""
    beta = f"{float(beta):g}"
    return f"F{beta} is fbeta with beta={beta}, {_compile_call('fbeta', {'beta': beta})}"


def _call_keywords_hint(name: str, arguments: str) -> str:
    """What to write for a call with keywords, fbeta(beta=2): a named metric's parameters go to compile_metric."""
    keywords = dict(_KEYWORD.findall(arguments))
    named = catalog.lookup(name)
    if named is not None and named.defaults:
        return f"`{name}` is not a function: {_keywords_hint(named, [], keywords)}"
    return f"keyword arguments ({', '.join(f'{key}=...' for key in keywords)}) are not part of the formula language"


def _state(error: lark.UnexpectedInput):
    """The parser's state (its automaton's, not the depth of its stack) where `error` stopped it."""
    state = getattr(error, "state", None)
    return getattr(state, "position", state)


@functools.lru_cache(maxsize=None)
def _example_labels() -> dict:
    """SYNTAX_ERRORS by the (parser state, unexpected token type) where each example stops: the first wins."""
    labels = {}
    for label, examples in SYNTAX_ERRORS.items():
        for example in examples:
            try:
                _parser().parse(example)
            except lark.UnexpectedInput as error:
                token = getattr(error, "token", None)
                labels.setdefault((_state(error), "$END" if token is None else token.type), label)
    return labels


# the message for an unexpected token where no example stopped in the same state at the same kind of token
_TOKEN_LABELS = {"RPAR": "unmatched ')'", "COMMA": "misplaced ','",
                 "EQUAL": "'=' must follow a name at the start of a binding",
                 "COLON": "':' may only follow `minimize` or `maximize` (lower case) at the start",
                 "SEMICOLON": "a ';' must follow a binding (name = value)"}
_VALUES = ("NAME", "NUMBER", "LPAR")  # tokens that start a value


def _token_label(error: lark.UnexpectedInput, text: str) -> str:
    """What is wrong where a token came that the parser did not expect, from the token's kind and whether a value
    was expected there (and then from the character before the token)."""
    token = error.token
    if token.type == "DIRECTION":
        return f"`{token}:` may only start the formula"
    if "NUMBER" not in error.accepts:  # after a value: an operator, ')', ';' (or after a name '(') was expected
        return _MISSING_OPERATOR if token.type in _VALUES else _TOKEN_LABELS.get(token.type, f"unexpected {token!s}")
    before = _COMMENT.sub("", text[:token.start_pos]).rstrip()[-1:]
    if token.type in ("PLUS", "MINUS", "STAR", "SLASH", "POW") and before in ("", "(", ",", "=", ";", ":"):
        return f"expected a value before '{token}'"
    if before == "(":
        return "empty parentheses" if token.type == "RPAR" else "expected a value after '('"
    if before == ",":
        return "misplaced ','"
    if before == "=":
        return "a binding needs a value after '='"
    if before and before in "+-*/^":
        return "expected a value after the operator"
    return _TOKEN_LABELS.get(token.type, f"unexpected {token!s}")


def _keywords_hint(named: catalog.Named, args: list, keywords: Mapping[str, str] | None = None) -> str:
    """How to set the parameters of a named metric written as a call, fbeta(2) or fbeta(beta=2): by keyword, with
    the call's numbers (or the defaults)."""
    values = {}
    for index, (key, default) in enumerate(named.defaults.items()):
        given = args[index] if index < len(args) else None
        values[key] = f"{float(given):g}" if given is not None and given.is_number and given.is_real else f"{default:g}"
        try:
            values[key] = f"{float((keywords or {})[key]):g}"
        except (KeyError, ValueError):  # not given, or not a number: the default
            pass
    return f"set its parameter{'s' * (len(values) > 1)} by keyword, {_compile_call(named.name, values)}"


def _compile_call(name: str, values: Mapping[str, str]) -> str:
    """compile_metric(name, key=value, ...) and the command line's options alike."""
    keywords = ", ".join(f"{key}={value}" for key, value in values.items())
    options = " ".join(f"--param {key}={value}" for key, value in values.items())
    return f"compile_metric(\"{name}\", {keywords}) ({options} on the command line)"


def _end_position(text: str) -> tuple[int, int]:
    lines = text.rstrip().split("\n")  # lines as lark counts them: "\r" and "\u2028" do not end one
    return len(lines), len(lines[-1]) + 1


def _position(item) -> tuple[int | None, int | None]:
    """Line and column of a token, a tree or a tree's Meta."""
    if isinstance(item, Token):
        return item.line, item.column
    meta = item if isinstance(item, lark.tree.Meta) else getattr(item, "meta", None)
    if meta is not None and not meta.empty:
        return meta.line, meta.column
    return None, None


class _Scope:
    """Resolves names: let-bindings, counts, parameters, then named quantities and metrics."""

    def __init__(self, text: str, params: Mapping[str, float]):
        self.text = text
        self.params = dict(params)
        self.bindings: dict[str, sp.Expr] = {}
        self.used: dict[str, Token] = {}
        self.defaults: dict[str, dict[str, float]] = {}

    def error(self, message: str, where=None) -> MetriccError:
        line, column = _position(where) if where is not None else (None, None)
        return MetriccError(message, text=self.text, line=line, column=column)

    def resolve(self, token: Token) -> sp.Expr:
        name = str(token)
        if name in self.bindings:
            return self.bindings[name]
        if name in COUNT_SYMBOLS:
            return COUNT_SYMBOLS[name]
        if name in self.params:  # its value, so that each part is checked as it is built (sqrt(alpha - 1)^2)
            self.used.setdefault(name, token)
            value = _exact(self.params[name])
            oversized = _oversized(value)  # as a constant written in the formula is checked
            if oversized:
                raise self.error(f"parameter `{name}` = {self.params[name]:g} {oversized}", token)
            return value
        if name in catalog.PARAMETER_NAMES:  # bound once the named metrics' defaults are known
            self.used.setdefault(name, token)
            return sp.Symbol(name, real=True)
        if catalog.lookup(name) is not None:
            expr, parameters, defaults = _named(name)
            for parameter in parameters:
                self.used.setdefault(parameter, token)
            for parameter, sources in defaults.items():
                self.defaults.setdefault(parameter, {}).update(sources)
            return expr
        if name in FUNCTIONS:
            raise self.error(f"`{name}` is a function: write {name}(...)", token)
        scikit_learn = catalog.scorer_parts(name)
        score, average = scikit_learn or catalog.average_first(name) or (name, None)
        not_counts = catalog.NOT_COUNTS.get(catalog.folded(name)) or catalog.NOT_COUNTS.get(catalog.folded(score))
        if not_counts:
            raise self.error(_not_counts_message(name, not_counts), token)
        score = score.lower() if score.lower() in catalog.METRICS else score  # (the catalog's names: lower case)
        if average is not None and score in catalog.METRICS:
            source = "scikit-learn's scorer " if scikit_learn else ""
            scorer = f"unknown name `{name}`: {source}`{name}` is `{score}`"
            if average == "samples":
                raise self.error(f"{scorer} averaged over each sample's labels, which metricc does not compute: "
                                 f"average='macro', 'micro', 'weighted' or 'none'", token)
            raise self.error(f"{scorer} with average={average!r}: compile_metric({score!r}, task='multiclass', "
                             f"num_classes=..., average={average!r}) (or task='multilabel'; on the command line "
                             f"{score} --task multiclass --num-classes ... --average {average})", token)
        f_beta = _F_BETA.fullmatch(name)
        if f_beta is not None and f_beta.group(1) != "1":
            digits = f_beta.group(1)  # f05, F_025: a leading 0 is a decimal point left out (F0.5)
            beta = f"0.{digits[1:]}" if digits.startswith("0") and len(digits) > 1 else digits
            raise self.error(f"unknown name `{name}`: {_f_beta_hint(beta)}", token)
        written = catalog.WRITTEN_OUT.get(catalog.folded(name))
        if name == "P":  # tables that write P and N for the actual positives and negatives
            written = "the actual positives are `POS` (TP + FN), the actual negatives `NEG` (FP + TN); `N` is the " \
                      "total, TP + FP + FN + TN"
        if written:
            raise self.error(f"unknown name `{name}`: {written}", token)
        task, torchmetrics = catalog.torchmetrics_name(name) or (None, None)
        if task in ("multiclass", "multilabel"):
            raise self.error(f"unknown name `{name}` (torchmetrics'): name the metric and pass the task, "
                             f"compile_metric({torchmetrics!r}, task={task!r}, num_classes=...) (on the command line: "
                             f"{torchmetrics} --task {task} --num-classes ...)", token)
        if name in SETTINGS:
            raise self.error(f"unknown name `{name}`: `{name}` is compile_metric's {SETTINGS[name]}, not a parameter "
                             f"of the formula: give the parameter another name", token)
        words = _words_hint(self.text, token.start_pos) if isinstance(token, Token) else None
        if words is not None:  # f1-score: f1
            raise self.error(f"unknown name `{name}`; {words[0]}", token)
        metric = catalog.sklearn_name(name)
        other = catalog.OTHER_NAMES.get(catalog.folded(name))
        hint = (f"; did you mean `{metric.name}` (scikit-learn's {metric.sklearn})?" if metric else
                f"; did you mean `{torchmetrics}` (torchmetrics' {name})?" if torchmetrics else
                f"; did you mean `{other}`?" if other else
                _suggestion(name, [*self.bindings, *catalog.known_names()])) or (
            _CONSTANTS.get(name, "") + f"; if it is a parameter, pass {name}=... to compile_metric (or --param "
                                       f"{name}=... on the command line)")
        raise self.error(f"unknown name `{name}`{hint}", token)

    def bind(self, token: Token, value: sp.Expr) -> None:
        name = str(token)
        if name in COUNT_SYMBOLS or name in FUNCTIONS:
            raise self.error(f"cannot bind `{name}`: it is a built-in name of the formula language", token)
        if name in self.params or name in catalog.PARAMETER_NAMES:
            raise self.error(f"cannot bind `{name}`: it is a parameter; pass {name}=... to compile_metric", token)
        if name in self.bindings:
            raise self.error(f"`{name}` is bound twice", token)
        self.bindings[name] = value

    def values_used(self) -> dict[str, float]:
        return {name: self._value(name) for name in sorted(self.used)}

    def _value(self, name: str) -> float:
        if name in self.params:
            return self.params[name]
        defaults = self.defaults.get(name, {})
        if len(set(defaults.values())) == 1:
            return next(iter(defaults.values()))
        if defaults:
            listed = ", ".join(f"{source} uses {value:g}" for source, value in sorted(defaults.items()))
            raise self.error(f"parameter `{name}` has conflicting defaults ({listed}); pass {name}=... explicitly",
                             self.used[name])
        raise self.error(f"parameter `{name}` is not bound: pass {name}=... to compile_metric "
                         f"(or --param {name}=... on the command line){_METRIC_LETTERS.get(name, '')}",
                         self.used[name])


# parameters' names that name a metric alone
_METRIC_LETTERS = {"kappa": "; Cohen's kappa is `cohen_kappa`", "phi": "; the phi coefficient is `mcc`"}
# constants that the language has no name for, as papers write them
_CONSTANTS = {"e": "; Euler's number is exp(1), and e^x is exp(x)", "pi": "; π is 3.141592653589793"}


def _suggestion(name: str, known: list[str]) -> str:
    same = {catalog.folded(k): k for k in reversed(known)}  # the first of names that fold alike
    if catalog.folded(name) in same:
        return f"; did you mean `{same[catalog.folded(name)]}`?"
    folded = {k.lower(): k for k in known}
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    close = close or [folded[c] for c in difflib.get_close_matches(name.lower(), list(folded), n=1, cutoff=0.6)]
    return f"; did you mean `{close[0]}`?" if close else ""


@functools.lru_cache(maxsize=None)
def _named(name: str) -> tuple[sp.Expr, tuple[str, ...], dict[str, dict[str, float]]]:
    """A catalog name's score, its parameter names and their defaults ({parameter: {source: value}})."""
    named = catalog.lookup(name)
    scope = _Scope(named.formula, {})
    expr, _ = _lower_program(_parser().parse(named.formula), scope)
    defaults = {parameter: dict(sources) for parameter, sources in scope.defaults.items()}
    for parameter, value in named.defaults.items():
        defaults.setdefault(parameter, {})[name] = value
    return expr, tuple(sorted(scope.used)), defaults


def _lower_program(tree: lark.Tree, scope: _Scope) -> tuple[sp.Expr, bool]:
    direction, *rest = tree.children
    *bindings, body = rest
    lower = _Lower(scope)
    sizes: dict = {}
    for binding in bindings:
        name, value = binding.children
        scope.bind(name, _small(lower.lower(value), sizes, scope, name))
    return _small(lower.lower(body), sizes, scope, body), direction is not None and str(direction) == "minimize"


def _small(expr: sp.Expr, sizes: dict, scope: _Scope, where) -> sp.Expr:
    if size(expr, sizes) > MAX_SIZE:
        raise scope.error(f"the formula grows to more than {MAX_SIZE} operations once its bindings are "
                          "substituted; simplify it", where)
    if depth(expr) > MAX_EXPRESSION_DEPTH:
        raise scope.error(f"the formula nests more than {MAX_EXPRESSION_DEPTH} levels deep once built (functions "
                          "of functions, powers of sums, ...); simplify it", where)
    return expr


@v_args(inline=True)
class _Lower(Transformer):
    """Builds SymPy objects directly from the parse tree; method names are the grammar's rule aliases."""

    def __init__(self, scope: _Scope):
        super().__init__()
        self.scope = scope
        self.powers: dict = {}  # _powers_of_constants' memo

    def lower(self, tree: lark.Tree) -> sp.Expr:
        """Transform one expression, re-raising a user error from inside lark's visitor as it is."""
        try:
            return self.transform(tree)
        except lark.exceptions.VisitError as error:
            if isinstance(error.orig_exc, (MetriccError, RecursionError)):
                raise error.orig_exc from None
            raise

    def number(self, token: Token) -> sp.Expr:
        text = str(token)
        if len(text) > MAX_NUMBER_CHARS:
            raise self.scope.error(f"number with {len(text)} characters; at most {MAX_NUMBER_CHARS} are accepted",
                                   token)
        mantissa, _, exponent = text.lower().partition("e")
        if exponent and abs(int(exponent)) > MAX_DECADES:
            raise self.scope.error(f"number {text} is out of range (exponents up to {MAX_DECADES})", token)
        return self._bounded(sp.Rational(text), token)

    def _checked_step(self, parts, where, raised: sp.Expr | None = None, logs: bool = False) -> None:
        """Refuse a step that SymPy may not finish: one that could combine the fractional powers of constants in
        `parts` (raised to `raised`; exp(r*log(b)) made b^r, with `logs`) into one costly to factor."""
        powers = set().union(*(_powers_of_constants(part, self.powers) for part in parts))
        for part in parts:
            if raised is not None:
                powers |= {(factor, power * raised) for factor, power in part.as_powers_dict().items()
                           if _fractional_power_of_a_constant(factor, power * raised)}
            for term in sp.Add.make_args(part) if logs else ():
                coefficient, rest = term.as_coeff_Mul()
                if isinstance(rest, sp.log) and _fractional_power_of_a_constant(rest.args[0], coefficient):
                    powers.add((rest.args[0], coefficient))
        if any(_long_fraction(exponent) for _, exponent in powers):
            raise self.scope.error(f"the constant {_LONG_FRACTION}", where)
        if _costly_powers(powers):
            raise self.scope.error(f"the exact value of this power of a constant needs a number of more than "
                                   f"{MAX_CONSTANT_BITS} bits factored; write its value as a decimal number", where)

    def _bounded(self, value: sp.Expr, where) -> sp.Expr:
        """`value`, refused when it is a constant beyond 1e300 in size (or a non-zero one below 1e-300)."""
        oversized = _oversized(value)
        if oversized:
            raise self.scope.error(f"the constant {oversized}", where)
        if value.has(sp.zoo, sp.oo, -sp.oo, sp.nan):
            raise self.scope.error("this part of the formula is infinite or undefined (log(0)? a division by 0?)",
                                   where)
        if value.is_number and _not_real(value):
            raise self.scope.error("this part of the formula is not a real number (a root or log of a negative "
                                   "number?)", where)
        if _never_real(value):
            raise self.scope.error("this part of the formula is not a real number for any counts (a root or log of a "
                                   "quantity negative for every count)", where)
        return value

    def name(self, token: Token) -> sp.Expr:
        return self.scope.resolve(token)

    def call(self, token: Token, *args) -> sp.Expr:
        name = str(token)
        args = [a for a in args if a is not None]
        named = catalog.lookup(name)
        if name not in _FUNCTIONS and named is not None and named.defaults:
            raise self.scope.error(f"`{name}` is not a function: {_keywords_hint(named, args)}", token)
        if name not in _FUNCTIONS and (name in COUNT_SYMBOLS or named is not None):
            raise self.scope.error(f"`{name}` is not a function: write {name}*(...) for a product", token)
        if name not in _FUNCTIONS:
            other = _OTHER_FUNCTIONS.get(name.lower())
            hint = f": {other}" if other else _suggestion(name, list(_FUNCTIONS))
            raise self.scope.error(f"unknown function `{name}`{hint}", token)
        arity = FUNCTIONS[name]
        if arity is not None and len(args) != arity:
            raise self.scope.error(f"{name}() takes {arity} argument{'s' * (arity > 1)}, got {len(args)}", token)
        if arity is None and len(args) < 2:
            raise self.scope.error(f"{name}() takes two or more arguments, got {len(args)}", token)
        self._checked_step(args, token, raised=sp.S.Half if name == "sqrt" else None, logs=name == "exp")
        try:
            value = _FUNCTIONS[name](*args)
        except (TypeError, ValueError) as error:
            raise self.scope.error(f"{name}() cannot take these arguments: {error}", token) from None
        return self._bounded(value, token)

    @v_args(meta=True)
    def add(self, meta, children) -> sp.Expr:
        self._checked_step(children, meta)
        return self._bounded(children[0] + children[1], meta)

    @v_args(meta=True)
    def sub(self, meta, children) -> sp.Expr:
        self._checked_step(children, meta)
        return self._bounded(children[0] - children[1], meta)

    @v_args(meta=True)
    def mul(self, meta, children) -> sp.Expr:
        self._checked_step(children, meta)
        return self._bounded(children[0] * children[1], meta)

    neg = staticmethod(operator.neg)

    @v_args(meta=True)
    def div(self, meta, children) -> sp.Expr:
        numerator, slash, denominator = children
        if denominator.is_zero or _vanishes(denominator):
            raise self.scope.error("division by zero", slash)
        self._checked_step((numerator, denominator), meta)
        return self._bounded(numerator / denominator, meta)

    @v_args(meta=True)
    def pow(self, meta, children) -> sp.Expr:
        base, operator_token, exponent = children
        if exponent.is_number and abs(exponent) > MAX_EXPONENT:
            shown = f"{float(exponent):.6g}".replace("e+", "e")  # 1e300, not its 301 digits
            raise self.scope.error(f"exponent {shown} is too large (at most {MAX_EXPONENT} in size)",
                                   operator_token)
        if (base.is_zero or base.is_number and _vanishes(base)) and exponent.is_number and exponent.is_negative:
            raise self.scope.error("division by zero", operator_token)
        if base.is_number and exponent.is_number and not base.is_zero:
            decades = abs(float(exponent) * math.log10(abs(complex(base.evalf(20)))))
            if decades > MAX_DECADES:  # checked before SymPy computes the power exactly
                raise self.scope.error(f"the constant is out of range (beyond 1e{MAX_DECADES} or below "
                                       f"1e-{MAX_DECADES} in size)", meta)
            if base.is_Rational and exponent.is_Integer and _bits(base) * abs(int(exponent)) > MAX_CONSTANT_BITS:
                raise self.scope.error(f"the exact value of this constant needs more than {MAX_CONSTANT_BITS} "
                                       "bits; write it as a decimal number", meta)
            if _long_fraction(exponent):
                raise self.scope.error(f"the constant {_LONG_FRACTION}", meta)
        if exponent.is_Rational:
            self._checked_step((base,), meta, raised=exponent)
        return self._bounded(base**exponent, meta)


def _oversized(value: sp.Expr) -> str:
    """What is wrong with an exact constant too large or too small in size (also an exponential, which SymPy
    keeps exact: exp(800), exp(exp(1e50)), whose value mpmath would take forever to compute), or too long in
    bits, else ""."""
    if value.is_Rational and value != 0 and abs(_decades(value)) > MAX_DECADES or _exponential_beyond(value):
        return f"is out of range (beyond 1e{MAX_DECADES} or below 1e-{MAX_DECADES} in size)"
    if value.is_Rational and _bits(value) > MAX_CONSTANT_BITS:
        return f"needs more than {MAX_CONSTANT_BITS} bits as an exact number; write it as a decimal number"
    if value.is_number and any(power.base.is_number and _long_fraction(power.exp) for power in value.atoms(sp.Pow)):
        return _LONG_FRACTION
    return ""


_LONG_FRACTION = (f"is a fractional power whose exact exponent has a numerator over {MAX_FRACTION_NUMERATOR:,} "
                  "(1.000001 is 1000001/1000000); write its value as a decimal number")


def _long_fraction(exponent: sp.Expr) -> bool:
    return exponent.is_Rational and not exponent.is_Integer and abs(exponent.p) > MAX_FRACTION_NUMERATOR


def _exponential_beyond(value: sp.Expr) -> bool:
    """Whether a constant exponential in `value` (exp(a) for a number a) lies beyond 1e±MAX_DECADES, innermost
    first, so that each argument is evaluated only once the exponentials inside it are known to be in range."""
    exponentials = [e for e in value.atoms(sp.exp) if e.args[0].is_number]
    for e in sorted(exponentials, key=lambda e: sp.count_ops(e)):
        if abs(float(e.args[0])) > MAX_DECADES * math.log(10):
            return True
    return False


def _decades(value: sp.Rational) -> float:
    """log10 of |value|, from the sizes of its numerator and denominator (no decimal conversion)."""
    return (abs(value.p).bit_length() - value.q.bit_length()) * math.log10(2)


def _bits(value: sp.Rational) -> int:
    return max(abs(value.p).bit_length(), value.q.bit_length())


def _powers_of_constants(expr: sp.Expr, memo: dict) -> frozenset:
    """The (base, exponent) pairs of the fractional powers of rational constants in `expr` (each shared part once)."""
    if expr not in memo:
        found = frozenset().union(*(_powers_of_constants(arg, memo) for arg in expr.args))
        if expr.is_Pow and _fractional_power_of_a_constant(expr.base, expr.exp):
            found |= {(expr.base, expr.exp)}
        memo[expr] = found
    return memo[expr]


def _fractional_power_of_a_constant(base: sp.Expr, exponent: sp.Expr) -> bool:
    return base.is_Rational and not base.is_zero and exponent.is_Rational and not exponent.is_Integer


def _costly_powers(powers: set) -> bool:
    """Whether SymPy, building one step of the formula, could meet a fractional power of a constant whose exact
    value it factors at great cost; `powers` holds the (base, exponent) pairs the step's parts hold or make.

    Of b^(p/q) SymPy takes out the factors f of b below 2**15 (what is left counts as one), raises each to
    v_f = (its multiplicity * p) mod q, divides those by their gcd and factors the product. A step may combine
    powers whose bases share a factor (n^(30/61) n^(33/67) is n^(4023/4087), which hung) or that have one exponent
    (2^r 12^r is 24^r): within each such group the product has at most B (Q - 1) bits, B the bits of the group's
    factors and Q the lcm of its denominators. A group of one power is measured as SymPy computes it. Either is
    refused past MAX_CONSTANT_BITS bits."""
    for factors, group in _combining(list(powers)):
        if len(group) == 1:
            (base, exponent), = group
            bits = sum(_root_bits(n, exponent) for n in (base.p, base.q))
        else:
            bits = sum(f.bit_length() for f in factors) * (math.lcm(*(e.q for _, e in group)) - 1)
        if bits > MAX_CONSTANT_BITS:
            return True
    return False


def _combining(powers: list) -> list[tuple[set, list]]:
    """`powers` in groups that SymPy may combine, linked by a shared factor of their bases or a shared exponent:
    (the factors of the group's bases, its powers) for each."""
    groups: list[tuple[set, set, list]] = []  # (factors, exponents, powers)
    for base, exponent in powers:
        factors, exponents, members = set().union(*(_factors(n) for n in (base.p, base.q))), {exponent}, [
            (base, exponent)]
        for group in [g for g in groups if g[0] & factors or g[1] & exponents]:
            groups.remove(group)
            factors, exponents, members = factors | group[0], exponents | group[1], members + group[2]
        groups.append((factors, exponents, members))
    return [(factors, members) for factors, _, members in groups]


def _root_bits(n: int, exponent: sp.Rational) -> int:
    """The bits of the number that SymPy factors for the fractional power n^exponent (n > 0)."""
    raised = {factor: multiplicity * abs(exponent.p) % exponent.q for factor, multiplicity in
              _factors(n).items()}
    raised = {f: v for f, v in raised.items() if v and math.gcd(v, exponent.q) == 1}
    common = math.gcd(*raised.values()) if raised else 1
    return sum(f.bit_length() * (v // common) for f, v in raised.items())


@functools.lru_cache(maxsize=1024)
def _factors(n: int) -> dict:
    """n's prime factors below 2**15 by their multiplicity, and what trial division by them leaves (if not 1); n is
    not 0."""
    n, found = abs(n), {}
    for prime in sp.sieve.primerange(2, 2**15):
        if n % prime == 0:
            found[prime] = 0
            while n % prime == 0:
                n //= prime
                found[prime] += 1
            if n == 1:
                break
    return {**found, n: 1} if n > 1 else found


def _not_real(value: sp.Expr) -> bool:
    """Whether a constant is not a real number, such as sqrt(-sqrt(3) - 7/10), which SymPy leaves unevaluated
    (NumPy would compute NaN from it, and torch refuse its float): by its value to 30 digits."""
    if value.has(sp.I):
        return True
    if value.is_Rational or value.is_Float:
        return False
    number = complex(value.evalf(30))
    return abs(number.imag) > 1e-25 * abs(number)


def _never_real(value: sp.Expr) -> bool:
    """Whether an expression of the counts is not real for any counts, as SymPy can tell of sqrt(-FN) and
    log(-FN) (the counts are positive): refused where it appears, before SymPy makes it real again (sqrt(-FN)^2
    is -FN, exp(log(-FN)) is -FN, |sqrt(-FN)| is sqrt(FN))."""
    return not value.is_number and value.is_extended_real is False


def _vanishes(value: sp.Expr) -> bool:
    """Whether a constant that SymPy does not reduce (such as log(6) - log(2) - log(3)) is zero, to 50 digits
    relative to the size of its terms."""
    if not value.is_number or value.is_Rational:
        return False
    terms = value.args if value.is_Add else (value,)
    scale = sum(abs(complex(term.evalf(50))) for term in terms)
    return abs(complex(value.evalf(50))) <= 1e-40 * scale


def _bind_parameters(expr: sp.Expr, scope: _Scope) -> sp.Expr:
    unused = sorted(set(scope.params) - set(scope.used))
    if unused:
        names = ", ".join(f"`{n}`" for n in unused)
        free = sorted(set(scope.used) - set(scope.params))
        hint = ((_suggestion(unused[0], free) if free else "")
                or catalog.argument_hint(unused[0], scope.params[unused[0]]))
        raise MetriccError(f"parameter {names} is not used by the formula {scope.text.strip()!r}{hint}")
    values = scope.values_used()
    for name, value in values.items():  # a negative weight (or beta) of the named metric that takes it
        sources = map(catalog.lookup, scope.defaults.get(name, ())) if value < 0 else ()
        metric = next((m for m in sources if name in m.nonnegative), None)
        if metric is not None:
            sklearn = f" (as scikit-learn's {metric.sklearn})" if metric.sklearn else ""
            raise MetriccError(f"Expected parameter `{name}` of `{metric.name}` to be >= 0{sklearn}, but got "
                               f"{value:g}.")
    if not values:
        return expr
    bound = ", ".join(f"{n} = {v:g}" for n, v in values.items())
    return _substitute(expr, {sp.Symbol(n, real=True): _exact(v) for n, v in values.items()}, scope.text, bound)


def _substitute(expr: sp.Expr, values: Mapping[sp.Symbol, sp.Expr], text: str, bound: str) -> sp.Expr:
    """`expr` with the parameters' `values`, built again from the leaves up, so that each part that becomes a
    number is checked as parsing checks a constant: not infinite and real (SymPy would otherwise take min() of a
    complex number as an error of its own, and make sqrt(alpha - 1)^2 or abs(log(-alpha)) real numbers)."""
    built: dict = {}

    def build(node: sp.Expr) -> sp.Expr:
        if not node.free_symbols & values.keys():
            return node
        if node not in built:
            args = [build(arg) for arg in node.args]
            try:
                value = values[node] if node in values else node.func(*args)
            except (TypeError, ValueError):  # min/max of numbers that are not real
                value = sp.nan
            oversized = _oversized(value)
            if oversized:
                raise MetriccError(f"the formula {text.strip()!r} has a constant that {oversized} with {bound}: "
                                   f"{sp.sstr(node)}")
            if value.is_number and value.has(sp.zoo, sp.oo, -sp.oo, sp.nan):
                raise MetriccError(f"the formula {text.strip()!r} divides by zero or is infinite with {bound}: "
                                   f"{sp.sstr(node)} is infinite or undefined there")
            if value.is_number and _not_real(value) or _never_real(value):
                raise MetriccError(f"the formula {text.strip()!r} is not real-valued with {bound}: {sp.sstr(node)} "
                                   "is not a real number there (a log or root of a negative number?)")
            built[node] = value
        return built[node]

    return build(expr)


def _exact(value: float) -> sp.Rational:
    """The shortest decimal that round-trips `value`, as an exact SymPy number (0.1 -> 1/10)."""
    return sp.Integer(value) if isinstance(value, int) else sp.Rational(repr(float(value)))


def _check_score(expr: sp.Expr, text: str) -> None:
    if expr.has(sp.zoo, sp.oo, -sp.oo, sp.nan):
        raise MetriccError(f"the formula {text.strip()!r} divides by zero or is infinite")
    if any(part.is_number and _not_real(part) for part in sp.preorder_traversal(expr)):  # parameters bound now
        raise MetriccError(f"the formula {text.strip()!r} is not real-valued (a log or root of a negative number?)")
    if not expr.free_symbols & set(COUNT_SYMBOLS.values()):
        raise MetriccError(f"the formula {text.strip()!r} depends on none of TP, FP, FN, TN, so it cannot be "
                           "trained on", text=text, line=1, column=1)
