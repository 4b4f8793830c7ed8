"""The `metricc` command, run as a user runs it: in a subprocess."""

import subprocess
import sys

import pytest


def metricc(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "metricc", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=120)


def test_help_shows_examples():
    out = metricc("--help")
    assert out.returncode == 0
    assert "examples:" in out.stdout and 'metricc compile "2*TP/(2*TP+FP+FN)" -o f1_loss.py' in out.stdout
    for command in ("compile", "latex"):
        sub = metricc(command, "--help")
        assert sub.returncode == 0 and "--param NAME=VALUE" in sub.stdout


def test_no_command_is_a_one_line_error():
    out = metricc()
    assert out.returncode == 1 and out.stdout == ""
    assert out.stderr == "metricc: error: the following arguments are required: COMMAND (see --help)\n"


def test_every_help_example_runs(tmp_path):
    """What --help shows a user to type works as shown (a module it writes imports)."""
    import shlex

    from metricc.cli import EXAMPLES
    lines = [line.split("   ")[0].strip() for line in EXAMPLES.splitlines() if line.startswith("  metricc ")]
    assert len(lines) >= 6
    for line in lines:
        out = metricc(*shlex.split(line)[1:], cwd=tmp_path)
        assert out.returncode == 0, (line, out.stderr)
        assert out.stdout.strip(), line
        written = shlex.split(line)[shlex.split(line).index("-o") + 1] if " -o " in line else None
        if written:
            check = subprocess.run([sys.executable, "-c", f"import {written[:-3]}"], capture_output=True, text=True,
                                   cwd=tmp_path, timeout=120)
            assert check.returncode == 0, (line, check.stderr)


def test_compile_writes_a_module_that_imports(tmp_path):
    out = metricc("compile", "2*TP/(2*TP+FP+FN)", "-o", "f1_loss.py", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "wrote f1_loss.py: a torch loss for '2*TP/(2*TP+FP+FN)'"
    check = subprocess.run([sys.executable, "-c", "import f1_loss, torch; "
                            "print(float(f1_loss.MetricLoss()(torch.zeros(4), torch.tensor([0, 1, 1, 0]))))"],
                           capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert check.returncode == 0, check.stderr
    assert 0 < float(check.stdout) < 1


@pytest.mark.parametrize("backend, said", [("numpy", "a numpy loss"), ("jax", "a jax loss"),
                                           ("xgboost", "an xgboost objective"), ("lightgbm", "a lightgbm objective")])
def test_compile_says_what_it_wrote(tmp_path, backend, said):
    out = metricc("compile", "mcc", "--backend", backend, "-o", "mcc_loss.py", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"wrote mcc_loss.py: {said} for 'mcc'"


def test_compile_numpy_with_parameters_to_stdout():
    out = metricc("compile", "fbeta", "--param", "beta=2", "--backend", "numpy", "--L", "40")
    assert out.returncode == 0, out.stderr
    assert "def loss_and_grad(" in out.stdout and "PARAMETERS = {'beta': 2.0}" in out.stdout
    assert "L=40.0" in out.stdout


def test_compile_to_dash_writes_stdout(tmp_path):
    """`-o -` is stdout, as in most commands that take an output file: it wrote a file named "-" (a name that
    other commands then read as stdin), and said "wrote -"."""
    out = metricc("compile", "f1", "--backend", "numpy", "-o", "-", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout == metricc("compile", "f1", "--backend", "numpy").stdout
    assert "def loss_and_grad(" in out.stdout and "wrote" not in out.stdout
    assert list(tmp_path.iterdir()) == []


def test_latex():
    out = metricc("latex", "mcc")
    assert out.returncode == 0
    assert out.stdout.startswith("\\begin{aligned}")
    assert "\\frac{\\partial \\mathcal{L}}{\\partial \\mathrm{TN}}" in out.stdout
    assert "\\sum_{i=1}^{n} w_i y_i \\hat{y}_i" in out.stdout


def test_list_names_every_metric():
    from metricc import catalog

    out = metricc("list")
    assert out.returncode == 0
    for name, metric in catalog.METRICS.items():
        assert f"  {name} " in out.stdout
        # scikit-learn's name beside the description, where it has one
        assert (f"[sklearn: {metric.sklearn}]" in out.stdout) == bool(metric.sklearn)
    assert "[sklearn: f1_score]" in out.stdout


def test_lrange_offers_only_the_backends_with_an_L_probe():
    """The boosters have no sigmoid of their own to measure: lrange's --backend offers torch, numpy and jax."""
    assert "--backend {torch,numpy,jax}" in metricc("lrange", "--help").stdout
    out = metricc("lrange", "--backend", "xgboost")
    assert out.returncode == 1 and "invalid choice: 'xgboost'" in out.stderr


@pytest.mark.parametrize("args, message", [
    (("compile", "2*TP/(2*TP+FP"), "syntax error: missing ')'"),
    (("latex", "precison"), "did you mean `precision`?"),
    (("compile", "fbeta", "--param", "beta"), "Expected --param NAME=VALUE, but got 'beta'."),
    (("compile", "fbeta", "--param", "=2"), "Expected --param NAME=VALUE, but got '=2'."),
    (("compile", "fbeta", "--param", "beta=two"), "Expected --param NAME=VALUE with a number as VALUE, but got "
                                                  "'beta=two'."),
    (("compile", "fbeta", "--param", "beta=2", "--param", "beta=3"), "--param beta is given twice"),
    (("compile", "f1", "--L", "-3"), "Expected option --L to be a positive float"),
    (("compile", "f1", "-o", "/nonexistent-dir/x.py"), "cannot write"),
    # a parameter named as a setting had ended in a TypeError's traceback ("multiple values for keyword 'L'")
    (("compile", "TP/N + L*FP/N", "--param", "L=0.5"),
     "--param L: `L` is the option --L (the amplifying scale), not a parameter of the formula: give the parameter "
     "another name"),
    (("latex", "TP/N + eps*FP/N", "--param", "eps=0.5"), "--param eps: `eps` is the option --eps"),
    (("frobnicate",), "invalid choice"),
    # arguments left over: a formula the shell split, a formula given to lrange (had: "unrecognized arguments")
    (("compile", "TP", "+", "FP"), "metricc: error: the formula is one argument: quote it, "
                                   "metricc compile \"TP + FP\" (unrecognized arguments: + FP)"),
    (("latex", "2*TP/(2*TP+FP+FN)", "mcc"), "quote it, metricc latex \"2*TP/(2*TP+FP+FN) mcc\""),
    (("lrange", "f1"), "metricc: error: lrange takes no FORMULA (got 'f1'): the valid range of L depends on "
                       "the floating-point type, the accuracy level and the threshold, not on the metric"),
    (("compile", "f1", "--frobnicate"), "metricc: error: unrecognized arguments: --frobnicate (see --help)"),
    # a parameter given as an option of its own (had: "unrecognized arguments: --beta 2" alone)
    (("compile", "fbeta", "--beta", "2"), "unrecognized arguments: --beta 2: bind a parameter of the formula with "
                                          "--param beta=2"),
    (("latex", "tversky", "--alpha=0.3"), "unrecognized arguments: --alpha=0.3: bind a parameter of the formula "
                                          "with --param alpha=0.3"),
    (("compile", "w*TPR + (1-w)*TNR", "--w", "0.7"), "with --param w=0.7"),
])
def test_user_errors_exit_1_without_traceback(args, message):
    out = metricc(*args)
    assert out.returncode == 1
    assert message in out.stderr
    assert "Traceback" not in out.stderr
    assert out.stderr.startswith("metricc: error:")


@pytest.mark.parametrize("command", ["compile", "lrange"])
def test_L_takes_a_short_option(command):
    """-L as papers and other tools write the scale, besides --L (had: "unrecognized arguments: -L 40")."""
    out = metricc(command, *(["f1"] if command == "compile" else []), "-L", "40")
    assert out.returncode == 0, out.stderr
    assert ("L = 40" in out.stdout) if command == "lrange" else "TRAINING = {'L': 40.0," in out.stdout


@pytest.mark.parametrize("backend, name", [("torch", "torch.py"), ("numpy", "numpy.py"), ("jax", "jax.py"),
                                           ("xgboost", "xgboost.py"), ("lightgbm", "lightgbm.py"), ("torch", "math.py"),
                                           ("torch", "typing.py"), ("numpy", "metricc.py")])
def test_compile_refuses_a_module_name_that_shadows_a_library(tmp_path, backend, name):
    """`-o torch.py` wrote a module that shadows torch in its folder: it could not import itself (it imports torch)
    and broke every script there that does ("'torch' is not a package"). The command refuses such a name (the
    backend's library, any module the emitted code imports, metricc) and writes nothing."""
    out = metricc("compile", "f1", "--backend", backend, "-o", str(tmp_path / name))
    assert out.returncode == 1 and out.stderr.startswith("metricc: error:")
    stem = name[:-3]
    assert f"{name} would shadow the module `{stem}`" in out.stderr and "f1_loss.py" in out.stderr
    assert not (tmp_path / name).exists()


@pytest.mark.parametrize("folder", ["new/", "existing"])
def test_compile_to_a_folder_asks_for_a_file_name(tmp_path, folder):
    """`-o out/` (a folder, as the slash says) wrote a file named `out`; `-o` an existing folder said "Is a
    directory". Both now ask for the module's file name, with one to use."""
    (tmp_path / "existing").mkdir()
    target = str(tmp_path / folder.rstrip("/")) + ("/" if folder.endswith("/") else "")
    out = metricc("compile", "f1", "-o", target)
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert f"-o {target} names a folder: give the module's file name, such as " in out.stderr
    assert "f1_loss.py" in out.stderr
    assert not (tmp_path / "new").exists()


def test_bad_formula_shows_a_caret():
    out = metricc("compile", "2*TP/(2*TP+FP")
    lines = out.stderr.splitlines()
    assert lines[-2].strip() == "2*TP/(2*TP+FP" and lines[-1].strip() == "^"
    assert lines[-1].index("^") == lines[-2].index("2*TP") + len("2*TP/(2*TP+FP")


def test_compile_multiclass_module(tmp_path):
    out = metricc("compile", "f1", "--task", "multiclass", "--num-classes", "3", "-o", "mc.py", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    check = subprocess.run([sys.executable, "-c", "import mc, torch; "
                            "print(float(mc.MetricLoss()(torch.zeros(4, 3), torch.tensor([0, 1, 2, 1]))))"],
                           capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert check.returncode == 0, check.stderr
    assert 0 < float(check.stdout) < 1
    missing = metricc("latex", "f1", "--task", "multiclass")
    assert missing.returncode == 1 and "needs --num-classes" in missing.stderr


def test_the_help_of_L_tells_each_module_s_default(tmp_path):
    """`compile --help` on -L: 73, but a torch module of any task trains at 15 and a multi-class booster objective
    takes 15, unless --L is given (it had named the binary and multi-label torch modules only)."""
    import re

    from metricc import compile_metric
    from oracles import load_emitted

    defaults = {}
    for backend in ("torch", "xgboost", "lightgbm"):
        for task in ("binary", "multiclass", "multilabel"):
            if backend == "lightgbm" and task == "multilabel":
                continue
            options = {} if task == "binary" else {"task": task, "num_classes": 3}
            defaults[backend, task] = load_emitted(compile_metric("f1", **options).emit(backend))["MetricLoss"]().L
    assert {key for key, L in defaults.items() if L == 15} == {("torch", "binary"), ("torch", "multiclass"),
                                                              ("torch", "multilabel"), ("xgboost", "multiclass"),
                                                              ("lightgbm", "multiclass")}
    assert set(defaults.values()) == {15.0, 73.0}
    help_text = re.sub(r"\s+", " ", metricc("compile", "--help").stdout)
    assert ("amplifying scale L (default: 73; a torch module, of any task, and a multiclass booster objective take 15 "
            "unless --L is given)") in help_text


def test_compile_bakes_in_ignore_index_and_class_weight(tmp_path):
    """A segmentation user's module skips label 255 and weighs the classes as compiled, like the API's loss."""
    out = metricc("compile", "f1", "--task", "multiclass", "--num-classes", "3", "--ignore-index", "255",
                  "--class-weight", "1,2,0.5", "--backend", "numpy", "-o", "seg.py", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    code = ("import seg, numpy as np; z = np.linspace(-1, 1, 15).reshape(5, 3); y = np.array([0, 255, 2, 1, 255])\n"
            "loss, grad = seg.loss_and_grad(z, y); print(loss, *grad.ravel())")
    check = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert check.returncode == 0, check.stderr
    import numpy as np

    from metricc import compile_metric
    metric = compile_metric("f1", task="multiclass", num_classes=3, ignore_index=255, class_weight=[1, 2, 0.5])
    z, y = np.linspace(-1, 1, 15).reshape(5, 3), np.array([0, 255, 2, 1, 255])
    loss, grad = metric.loss_and_grad(z, y)
    printed = [float(v) for v in check.stdout.split()]
    assert printed[0] == pytest.approx(loss, rel=1e-12) and loss != pytest.approx(
        compile_metric("f1", task="multiclass", num_classes=3, ignore_index=255).loss_and_grad(z, y)[0])
    np.testing.assert_allclose(printed[1:], grad.ravel(), rtol=1e-12, atol=1e-15)
    assert not grad[[1, 4]].any()


def test_compile_bakes_in_a_binary_ignore_label(tmp_path):
    """A binary segmentation user's module leaves the mask's 255 out, as the API's loss does."""
    out = metricc("compile", "dice", "--ignore-index", "255", "--backend", "numpy", "-o", "mask.py", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    code = ("import mask, numpy as np; z = np.linspace(-2, 2, 12).reshape(3, 4); y = np.array([[0, 255, 1, 1],"
            " [255, 0, 0, 1], [1, 1, 255, 0]])\nloss, grad = mask.loss_and_grad(z, y); print(loss, *grad.ravel())")
    check = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert check.returncode == 0, check.stderr
    import numpy as np

    from metricc import compile_metric
    z = np.linspace(-2, 2, 12).reshape(3, 4)
    y = np.array([[0, 255, 1, 1], [255, 0, 0, 1], [1, 1, 255, 0]])
    kept = y != 255
    loss, grad = compile_metric("dice").loss_and_grad(z[kept], y[kept])
    printed = [float(v) for v in check.stdout.split()]
    assert printed[0] == pytest.approx(loss, rel=1e-12)
    np.testing.assert_allclose(np.array(printed[1:]).reshape(3, 4)[kept], grad, rtol=1e-12, atol=1e-15)
    assert not np.array(printed[1:]).reshape(3, 4)[~kept].any()


def test_latex_takes_the_settings_every_command_has():
    out = metricc("latex", "f1", "--L", "40", "--threshold", "0.3", "--eps", "0", "--probabilities")
    assert out.returncode == 0, out.stderr
    assert r"L &= 40, \quad \tau = 0.3" in out.stdout and r"\partial p_i" in out.stdout


@pytest.mark.parametrize("args, message", [
    (("compile", "f1", "--task", "multiclass"), "--task multiclass needs --num-classes"),
    (("compile", "f1", "--task", "multiclass", "--num-classes", "1"),
     "Expected option --num-classes to be an int of at least 2"),
    (("latex", "f1", "--L", "-3"), "Expected option --L to be a positive float"),
    (("compile", "f1", "--num-classes", "3"), "--num-classes needs --task multiclass"),
    (("compile", "f1", "--ignore-index", "1"), "ignore_index=1 is a label of the binary task"),
    (("compile", "f1", "--ignore-index", "255", "--backend", "xgboost"), "takes no ignore_index"),
    (("compile", "f1", "--average", "weighted"), "--average needs --task multiclass or --task multilabel"),
    (("compile", "f1", "--backend", "xgboost", "--probabilities"),
     "works on the booster's margins (logits): --probabilities does not apply"),
    (("compile", "f1", "--task", "multiclass", "--num-classes", "3", "--probabilities"),
     "takes logits: --probabilities is not supported"),
    (("compile", "f1", "--task", "multilabel", "--num-classes", "3", "--ignore-index", "0"),
     "ignore_index=0 is a label of the multilabel task"),
    (("compile", "f1", "--class-weight", "1,2"), "--class-weight needs --task multiclass or --task multilabel"),
    (("compile", "f1", "--task", "multiclass", "--num-classes", "3", "--class-weight", "1,x,2"),
     "Expected --class-weight W,W,... with a number for each class, but got '1,x,2'"),
    (("compile", "f1", "--task", "multiclass", "--num-classes", "3", "--class-weight", "1,2"),
     "Expected option --class-weight to be 3 finite, non-negative numbers"),
])
def test_errors_name_the_flags_not_the_python_arguments(args, message):
    out = metricc(*args)
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert message in out.stderr


@pytest.mark.parametrize("target, message", [
    ("/nonexistent/x.png", "cannot write /nonexistent/x.png: No such file or directory"),
    ("x.unknownext", "the file name must end in one of"),
    ("/dev/full", "cannot write /dev/full: No space left on device"),
    ("-", "--plot needs a file name, such as lrange.png: - (stdout)"),  # it wrote a PNG file named "-"
])
def test_lrange_plot_errors(tmp_path, target, message):
    pytest.importorskip("matplotlib")
    out = metricc("lrange", "--dtype", "float64", "--plot", target, cwd=tmp_path)
    assert out.returncode == 1 and "Traceback" not in out.stderr, out.stderr
    assert message in out.stderr and "wrote" not in out.stdout
    assert not (tmp_path / target).exists() or target.startswith("/")


@pytest.mark.parametrize("redirect, message", [
    (">/dev/full", "cannot write the output: No space left on device"),
    (">&-", "cannot write the output: stdout is closed"),
])
@pytest.mark.parametrize("command", ["list", "compile f1", "latex mcc"])
def test_unwritable_stdout_is_a_one_line_error(redirect, message, command):
    out = subprocess.run(f"{sys.executable} -m metricc {command} {redirect}", shell=True, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 1 and out.stderr.strip() == f"metricc: error: {message}"


def test_a_terminal_that_cannot_encode_the_formula():
    import os

    env = dict(os.environ, PYTHONIOENCODING="ascii")
    for args, status in ((("latex", "TP/N # \u00e9"), 0), (("compile", "TP/N # \u00e9"), 0),
                         (("compile", "TP/N + \u00e9"), 1)):
        out = subprocess.run([sys.executable, "-m", "metricc", *args], capture_output=True, timeout=120, env=env)
        assert out.returncode == status and b"Traceback" not in out.stderr, out.stderr
    assert b"\\xe9" in out.stderr


@pytest.mark.parametrize("command", ["list", "compile f1"])
def test_a_reader_that_has_gone_is_no_error(command):
    """`metricc list | true`: the reader has gone before metricc writes (metricc takes longer to start than
    `true` to exit); metricc stops writing and exits 0, without a traceback."""
    out = subprocess.run(["bash", "-c", f"{sys.executable} -m metricc {command} | true; exit ${{PIPESTATUS[0]}}"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stderr == "", out.stderr


def test_main_writes_to_a_stream_without_reconfigure(monkeypatch):
    """main() called where stdout and stderr are plain text buffers (io.StringIO has no reconfigure(), as in a
    notebook or a caller that captures the output)."""
    import io

    from metricc.cli import main
    out, err = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(sys, "stderr", err)
    assert main(["list"]) == 0 and "balanced_accuracy" in out.getvalue()
    assert main(["compile", "TP/"]) == 1 and err.getvalue().startswith("metricc: error: ")


def test_lrange_near_an_end_takes_the_accuracy_compile_takes():
    """`metricc lrange --threshold 0.99` failed on its own default accuracy 0.01 (p in [0.01, 0.99] does not hold
    the threshold strictly); without --accuracy it takes the one a loss compiled with that threshold validates
    against, half the distance to the nearer end."""
    out = metricc("lrange", "--dtype", "float64", "--threshold", "0.99")
    assert out.returncode == 0, out.stderr
    assert "p in [0.005, 0.995], threshold 0.99" in out.stdout


def test_lrange_with_an_L_says_where_that_L_is_valid():
    """`metricc lrange --L 50` printed the table and said nothing of L = 50 (--L only set the L that --plot draws),
    and an --L of -3 was ignored as silently."""
    from metricc.lrange import l_range

    out = metricc("lrange", "--L", "50", "--dtype", "float16")
    naive, ours = (l_range(0.01, "float16", kernel=kernel) for kernel in ("naive", "metricc"))
    assert out.returncode == 0, out.stderr
    assert (f"L = 50 in float16: valid for metricc's kernel ({ours}); too large for a naive sigmoid ({naive})"
            in out.stdout)
    out = metricc("lrange", "--L", "5", "--dtype", "float64", "--dtype", "float64")
    assert "L = 5 in float64: too small for metricc's kernel" in out.stdout
    # where no L is valid (L_min > L_max), the verdict says so, not "too small"
    out = metricc("lrange", "--L", "100", "--threshold", "0.05", "--dtype", "float32")
    empty = l_range(0.01, "float32", threshold=0.05)
    assert not empty.valid
    assert (f"L = 100 in float32: no L is valid for metricc's kernel (L_min {empty.L_min:.2f} > L_max "
            f"{empty.L_max:.2f}); no L is valid for a naive sigmoid" in out.stdout), out.stdout
    assert out.stdout.rstrip().endswith("(for some L: a larger accuracy, or a threshold nearer 0.5)")
    for bad in ("-3", "0", "inf", "nan"):
        out = metricc("lrange", "--L", bad)
        assert out.returncode == 1 and "Traceback" not in out.stderr
        assert f"Expected option --L to be a positive float, but got {float(bad)}" in out.stderr, out.stderr


def test_a_warning_is_one_line_that_names_metricc(tmp_path):
    out = metricc("compile", "TPR + TN/N", "-o", str(tmp_path / "loss.py"))
    assert out.returncode == 0 and (tmp_path / "loss.py").exists()
    assert out.stderr.startswith("metricc: warning: `TN/N` (column 7): `N` is the total")
    assert len(out.stderr.splitlines()) == 1
    assert metricc("compile", "FP/N", "--minimize", "-o", str(tmp_path / "cost.py")).stderr == ""
