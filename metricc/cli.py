"""The `metricc` command: compile a formula into a loss module, print its LaTeX, list the named metrics."""

from __future__ import annotations

import argparse
import ast
import os
import re
import sys
import warnings
from pathlib import Path
from typing import Sequence

from . import catalog
from ._version import __version__
from .errors import MetriccError, MetriccWarning
from .backends import BACKENDS, DTYPES, names

EXAMPLES = """\
examples:
  metricc compile "2*TP/(2*TP+FP+FN)" -o f1_loss.py     write a standalone PyTorch loss module
  metricc compile fbeta --param beta=2 --backend numpy   F2 as a NumPy loss-and-gradient module
  metricc compile "minimize: (FP + 5*FN)/N" -o cost.py   train on a cost instead of a score
  metricc latex mcc                                       the score, loss and gradient in LaTeX
  metricc compile f1 --task multiclass --num-classes 5    a macro-F1 loss for 5 classes
  metricc compile mcc --backend xgboost -o mcc_obj.py     an XGBoost objective (gradient and Hessian)
  metricc list                                            the named metrics and their formulas

A formula that starts with '-' goes after '--':  metricc latex -- "-FP/NEG"
"""


class _Parser(argparse.ArgumentParser):
    """argparse that exits with status 1 and a one-line message on a usage error."""

    def error(self, message: str):
        self.exit(1, f"{self.prog}: error: {message} (see --help)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="metricc", description="Compile a confusion-matrix metric into a differentiable loss.",
                     epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"metricc {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)

    compile_ = commands.add_parser("compile", help="write a standalone loss module for a formula",
                                   description="Write a standalone loss module for FORMULA (it imports only the "
                                               "backend's library).", epilog=EXAMPLES,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    _formula_arguments(compile_)
    compile_.add_argument("-o", "--output", metavar="FILE",
                          help="where to write the module (default: stdout, as with -)")
    compile_.add_argument("--backend", choices=names(emitted=True), default="torch", help="default: torch")

    latex = commands.add_parser("latex", help="print the score, loss and gradient in LaTeX",
                                description="Print the score, the loss, its partials and the per-sample gradient "
                                            "of FORMULA in LaTeX.", epilog=EXAMPLES,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    _formula_arguments(latex)
    latex.add_argument("--hessians", action="store_true",
                       help="also the second derivatives and the Hessian diagonal of the booster objectives")

    commands.add_parser("list", help="list the named metrics and quantities with their formulas",
                        description="List the names a formula may use: metrics and confusion-matrix quantities.")

    lrange = commands.add_parser("lrange", help="which amplifying scales L are valid per floating-point type",
                                 description="Print the valid range of L for probabilities in [t, 1 - t], per "
                                             "floating-point type, for a naive sigmoid and for metricc's kernel.",
                                 epilog="examples:\n  metricc lrange --accuracy 1e-3\n"
                                        "  metricc lrange --accuracy 0.01 --dtype float32 --threshold 0.3\n"
                                        "  metricc lrange --L 50 --dtype float16       is L = 50 valid in float16?\n"
                                        "  metricc lrange --plot lrange.png --L 73",
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    lrange.add_argument("--accuracy", type=float, default=None, metavar="T",
                        help="accuracy level t: p ranges over [t, 1 - t] (default: 0.01, or half the distance from "
                             "the threshold to 0 or 1 where that is less)")
    lrange.add_argument("--dtype", choices=DTYPES, help="only this type (default: all)")
    lrange.add_argument("--threshold", type=float, default=0.5, help="decision threshold (default: 0.5)")
    lrange.add_argument("--backend", choices=names(probed=True), default="torch",
                        help="whose sigmoid to measure (default: torch)")
    lrange.add_argument("--plot", metavar="FILE.png", help="also draw A(p) and the valid bands of L (matplotlib)")
    lrange.add_argument("-L", "--L", type=float, help="also say, per type, whether this L is valid; the L that --plot "
                                                "draws (default: 73)")
    return parser


def _formula_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("formula", metavar="FORMULA", help='a formula such as "2*TP/(2*TP+FP+FN)" or a name (f1)')
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                        help="bind a parameter of the formula, e.g. --param beta=2 (repeatable)")
    parser.add_argument("--minimize", action="store_true", help="the formula is a cost: train on it directly")
    parser.add_argument("--task", choices=("binary", "multiclass", "multilabel"), default="binary",
                        help="default: binary")
    parser.add_argument("--num-classes", type=int, help="number of classes (multiclass, multilabel)")
    parser.add_argument("--average", choices=("macro", "micro", "weighted", "none"), default=None,
                        help="how per-class scores combine (default: macro)")
    parser.add_argument("--ignore-index", type=int, metavar="LABEL",
                        help="a target value whose elements (binary, multilabel) or samples (multiclass) count "
                        "nowhere, e.g. 255 in a segmentation mask")
    parser.add_argument("--class-weight", metavar="W,W,...",
                        help="one weight per class for the average, e.g. 1,2,0.5 (multiclass, multilabel)")
    parser.add_argument("-L", "--L", type=float, help="amplifying scale L (default: 73; a torch module, of any task, "
                        "and a multiclass booster objective take 15 unless --L is given)")
    parser.add_argument("--threshold", type=float, default=0.5, help="decision threshold (default: 0.5)")
    parser.add_argument("--eps", type=float, default=1e-6, help="smoothing added to each count (default: 1e-6)")
    parser.add_argument("--probabilities", action="store_true",
                        help="the loss takes probabilities instead of logits")


def _params(pairs: list[str]) -> dict[str, float]:
    params = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        name = name.strip()
        if not sep or not name:
            raise MetriccError(f"Expected --param NAME=VALUE, but got {pair!r}.")
        if name in params:  # the last one would win silently
            raise MetriccError(f"--param {name} is given twice ({params[name]:g} and {value.strip()}).")
        try:
            params[name] = float(value)
        except ValueError:
            raise MetriccError(f"Expected --param NAME=VALUE with a number as VALUE, but got {pair!r}.") from None
    return params


def _task(args: argparse.Namespace) -> dict:
    ignore = {} if args.ignore_index is None else {"ignore_index": args.ignore_index}
    if args.task == "binary":
        for given, flag in ((args.num_classes, "--num-classes"), (args.class_weight, "--class-weight"),
                            (args.average, "--average")):
            if given is not None:
                raise MetriccError(f"{flag} needs --task multiclass or --task multilabel")
        return ignore
    if args.num_classes is None:
        raise MetriccError(f"--task {args.task} needs --num-classes")
    average = {} if args.average is None else {"average": args.average}  # None in Python means "none"
    return {"task": args.task, "num_classes": args.num_classes, **average, **ignore,
            "class_weight": _class_weight(args.class_weight)}


def _class_weight(text: str | None) -> list[float] | None:
    if text is None:
        return None
    try:
        return [float(part) for part in text.split(",")]
    except ValueError:
        raise MetriccError(f"Expected --class-weight W,W,... with a number for each class, but got {text!r}.") from None


def _metric(args: argparse.Namespace):
    """The compiled metric the formula arguments describe."""
    from .compiler import compile_metric  # SymPy and the compiler load here, so that --help and list start fast

    from .parse import SETTINGS

    params = _params(args.param)
    for name in params.keys() & SETTINGS.keys():  # (compile_metric would take it twice)
        flag = {"from_logits": "--probabilities", "formula": "FORMULA"}.get(name, "--" + name.replace("_", "-"))
        raise MetriccError(f"--param {name}: `{name}` is the option {flag} (the {SETTINGS[name]}), not a parameter "
                           f"of the formula: give the parameter another name")
    return compile_metric(args.formula, L=args.L, threshold=args.threshold, eps=args.eps,
                          from_logits=not args.probabilities, minimize=args.minimize, **_task(args), **params)


def _refuse_shadowing(path: Path, source: str, backend: str, formula: str) -> None:
    """Refuses a module file named as a module it would shadow in its folder: one the emitted `source` imports
    (it could not import itself), the `backend`'s library (which the scripts beside it import) or metricc. The
    error suggests a name after the `formula` where it is a name (f1_loss.py)."""
    if path.suffix != ".py":
        return
    imported = {backend, "metricc"}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            imported.add(node.module.split(".")[0])
    if path.stem in imported:
        raise MetriccError(f"{path.name} would shadow the module `{path.stem}` in its folder (`import {path.stem}` "
                           f"there would load it instead): name the module after its metric, such as "
                           f"{_module_name(formula)}")


def _module_name(formula: str) -> str:
    """A module file name after the formula where it is a name (f1_loss.py), else metric_loss.py."""
    return f"{formula.strip() if formula.strip().isidentifier() else 'metric'}_loss.py"


def _compile(args: argparse.Namespace) -> int:
    metric = _metric(args)
    source = metric.emit(args.backend)
    if args.output in (None, "-"):
        sys.stdout.write(source)
        return 0
    if args.output.endswith(("/", os.sep)) or Path(args.output).is_dir():  # (Path drops a trailing slash)
        raise MetriccError(f"-o {args.output} names a folder: give the module's file name, such as "
                           f"{Path(args.output) / _module_name(args.formula)}")
    _refuse_shadowing(Path(args.output), source, args.backend, args.formula)
    try:
        Path(args.output).write_text(source, encoding="utf-8")
    except OSError as error:
        raise MetriccError(f"cannot write {args.output}: {error.strerror}") from None
    kind = "objective" if args.backend in ("xgboost", "lightgbm") else "loss"
    print(f"wrote {args.output}: {'an' if args.backend[0] in 'aeioux' else 'a'} {args.backend} {kind} for "
          f"{args.formula!r}")
    return 0


def _latex(args: argparse.Namespace) -> int:
    print(_metric(args).latex(hessians=args.hessians))
    return 0


def _list(args: argparse.Namespace) -> int:
    print("Metrics (maximised; the loss is 1 - score):")
    for m in catalog.METRICS.values():
        defaults = "".join(f", {k}={v:g}" for k, v in m.defaults.items())
        sklearn = f"  [sklearn: {m.sklearn}]" if m.sklearn else ""
        print(f"  {m.name:<18} {m.formula}{defaults}\n  {'':<18} {m.description}{sklearn}")
    print("\nQuantities:")
    print(f"  {'TP FP FN TN':<18} the soft counts")
    for q in catalog.QUANTITIES.values():
        print(f"  {q.name:<18} {q.formula:<34} {q.description}")
    print("\nFunctions: sqrt log exp (smooth); abs min max (non-smooth). Operators: + - * / ^ (or **).")
    return 0


def _lrange(args: argparse.Namespace) -> int:
    from .lrange import default_accuracy, plot, table, verdict  # NumPy loads here, not for --help

    dtypes = [args.dtype] if args.dtype else list(BACKENDS[args.backend].dtypes)
    if args.plot == "-":
        raise MetriccError("--plot needs a file name, such as lrange.png: - (stdout) would put the image in the "
                           "table's stream")
    try:
        accuracy = default_accuracy(args.threshold) if args.accuracy is None else args.accuracy
        verdicts = [] if args.L is None else [
            "", *(verdict(args.L, accuracy, dtype, threshold=args.threshold, backend=args.backend) for dtype in dtypes)]
        print("\n".join([table(accuracy, dtypes, threshold=args.threshold, backend=args.backend), *verdicts]))
        if args.plot:
            plot(args.plot, 73.0 if args.L is None else args.L, threshold=args.threshold, backend=args.backend)
            print(f"wrote {args.plot}")
    except ImportError:
        raise MetriccError(f"measuring {args.backend}'s sigmoid needs {args.backend}, which is not installed: pip "
                           f"install {args.backend}, or pass --backend numpy") from None
    return 0


COMMANDS = {"compile": _compile, "latex": _latex, "list": _list, "lrange": _lrange}


# Python argument names in messages, as the command line spells them.
_OPTIONS = {"`num_classes`": "--num-classes", "`L`": "--L", "`threshold`": "--threshold", "`eps`": "--eps",
            "`average`": "--average", "`task`": "--task", "`accuracy`": "--accuracy",
            "`ignore_index`": "--ignore-index", "`class_weight`": "--class-weight"}


def _as_options(message: str) -> str:
    for name, option in _OPTIONS.items():
        message = message.replace(f"argument {name}", f"option {option}")
    return message.replace("from_logits=False", "--probabilities")


def _tolerate_encodings() -> None:
    """Characters the terminal cannot encode are written as escapes instead of failing."""
    for stream in (sys.stdout, sys.stderr):
        if stream is not None and hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")


def _show(caught: list) -> None:
    """metricc's warnings as one line each, `metricc: warning: ...`; others as Python shows them."""
    for warning in caught:
        if issubclass(warning.category, MetriccWarning):
            print(f"metricc: warning: {_as_options(str(warning.message))}", file=sys.stderr)
        else:
            warnings.showwarning(warning.message, warning.category, warning.filename, warning.lineno)


def _silence_stdout() -> None:
    """Nothing more goes to stdout (its reader is gone or its device is full): no error at exit."""
    sys.stdout = open(os.devnull, "w")


def _unknown_arguments(args: argparse.Namespace, unknown: list[str]) -> str:
    """What is wrong with the arguments that no option took: a formula the shell split into words, a formula given
    to lrange."""
    listed = f"unrecognized arguments: {' '.join(unknown)}"
    binding = _parameter_given_as_option(args, unknown)
    if binding:
        return f"{listed}: bind a parameter of the formula with --param {binding}"
    if any(word.startswith("-") and len(word) > 1 and not word[1:2].isdigit() and word[1:2] not in " ."
           for word in unknown):  # an option: argparse's own message
        return listed
    if args.command == "lrange":
        return (f"lrange takes no FORMULA (got {' '.join(unknown)!r}): the valid range of L depends on the "
                f"floating-point type, the accuracy level and the threshold, not on the metric")
    if args.command in ("compile", "latex"):
        formula = " ".join([args.formula, *unknown])
        return f'the formula is one argument: quote it, metricc {args.command} "{formula}" ({listed})'
    return listed


def _parameter_given_as_option(args: argparse.Namespace, unknown: list[str]) -> str | None:
    """`NAME=VALUE` where the first unknown word is --NAME (or --NAME=VALUE) and NAME is a parameter of the
    formula (`--beta 2` for fbeta); else None."""
    option = re.fullmatch(r"--([A-Za-z_]\w*)(?:=(.*))?", unknown[0])
    if args.command not in ("compile", "latex") or option is None:
        return None
    from .parse import parse  # SymPy and Lark load here, not for --help
    name, value = option.groups()
    if value is None:
        value = unknown[1] if len(unknown) > 1 and not unknown[1].startswith("--") else "VALUE"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the formula's own warnings come when it is compiled
            named = set(parse(args.formula).params)
    except MetriccError:  # such as a parameter left unbound
        named = set()
    return f"{name}={value}" if name in named or re.search(rf"\b{name}\b", args.formula) else None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (1 on a user error)."""
    _tolerate_encodings()
    parser = _parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        parser.error(_unknown_arguments(args, unknown))
    if sys.stdout is None:
        print("metricc: error: cannot write the output: stdout is closed", file=sys.stderr)
        return 1
    try:
        caught = []
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", MetriccWarning)
                status = COMMANDS[args.command](args)
        finally:
            _show(caught)
        sys.stdout.flush()
        return status
    except MetriccError as error:
        print(f"metricc: error: {_as_options(str(error))}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # the reader went away (metricc list | head)
        _silence_stdout()
        return 0
    except OSError as error:  # stdout on a full device, or closed
        _silence_stdout()
        print(f"metricc: error: cannot write the output: {error.strerror or error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
