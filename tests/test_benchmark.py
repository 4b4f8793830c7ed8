"""The benchmark runs in its quick mode and prints its tables."""

import csv
import subprocess
import sys
from pathlib import Path

BENCHMARK = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_loss.py"


def test_benchmark_quick_mode():
    out = subprocess.run([sys.executable, str(BENCHMARK), "--quick"], capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr
    assert "| cpu | f1 | 1e+04 |" in out.stdout and "| cpu | mcc | 1e+05 |" in out.stdout
    assert "| NumPy loss_and_grad |" in out.stdout and "compile_metric('mcc'), cached" in out.stdout
    assert "+ running counts µs" in out.stdout and "| | 4096 |" in out.stdout
    assert "| XGBoost | metricc F1 |" in out.stdout and "| LightGBM | NumPy logistic |" in out.stdout
    assert "| XGBoost | metricc macro-F1 |" in out.stdout and "| LightGBM | metricc macro-F1 |" in out.stdout
    assert "| operations per forward + backward step" in out.stdout and "| multiclass f1 | 256 | 10 | defaults |" in \
        out.stdout


QUALITY = Path(__file__).resolve().parent.parent / "benchmarks" / "quality.py"


def test_quality_quick_mode_writes_the_comparison(tmp_path):
    out = subprocess.run([sys.executable, str(QUALITY), "--quick", "--out", str(tmp_path)], capture_output=True,
                         text=True, timeout=900)
    assert out.returncode == 0, out.stderr
    report = (tmp_path / "report.md").read_text()
    for loss in ("f1", "mcc", "balanced_accuracy"):
        assert f"| {loss} | bce+tuned({loss}) |" in report and f"| {loss}+tuned({loss}) | focal |" in report
    assert "3 data sets" in report and (tmp_path / "gain_vs_imbalance.png").is_file()
    rows = (tmp_path / "results.csv").read_text().splitlines()
    assert len(rows) == 1 + 3 * 2 * (6 + 3 + 3)  # header; 3 sets x 2 folds x (6 losses + 3 bce and 3 own tunings)
    again = subprocess.run([sys.executable, str(QUALITY), "--quick", "--out", str(tmp_path)], capture_output=True,
                           text=True, timeout=900)
    assert again.returncode == 0 and (tmp_path / "results.csv").read_text().splitlines() == rows  # resumed


def test_quality_recipe_options_reach_the_metric_losses_only(tmp_path):
    """--L and --bce-weight train metricc's losses with that amplifier and blend (the full-batch recipe of
    docs/quality.md): their rows change, the baselines' rows stay as the seeds fix them."""
    rows = {}
    for name, options in (("pure", []), ("recipe", ["--L", "15", "--bce-weight", "0.1"])):
        out = subprocess.run([sys.executable, str(QUALITY), "--quick", "--losses", "f1", *options, "--out",
                              str(tmp_path / name)], capture_output=True, text=True, timeout=900)
        assert out.returncode == 0, out.stderr
        with (tmp_path / name / "results.csv").open() as file:
            rows[name] = [{k: v for k, v in r.items() if k != "seconds"} for r in csv.DictReader(file)]
    metric = [k for k, r in enumerate(rows["pure"]) if r["loss"] == "f1"]
    assert metric and all(r["loss"] in ("bce", "bce_weighted", "focal", "f1") for r in rows["pure"])
    assert [r for k, r in enumerate(rows["pure"]) if k not in metric] == \
        [r for k, r in enumerate(rows["recipe"]) if k not in metric]
    assert any(rows["pure"][k] != rows["recipe"][k] for k in metric)


def test_quality_quick_mode_with_a_cost_an_mlp_and_a_booster(tmp_path):
    """--losses (a cost judged lower-is-better), --model mlp and --model xgboost run end to end."""
    out = subprocess.run([sys.executable, str(QUALITY), "--quick", "--losses", "f2,cost5", "--model", "mlp",
                          "--out", str(tmp_path / "mlp")], capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr
    report = (tmp_path / "mlp" / "report.md").read_text()
    assert "### cost5 loss, on test cost5 (lower is better)" in report and "| f2 | bce+tuned(f2) |" in report
    out = subprocess.run([sys.executable, str(QUALITY), "--quick", "--losses", "f1", "--model", "xgboost",
                          "--out", str(tmp_path / "xgb")], capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr
    report = (tmp_path / "xgb" / "report.md").read_text()
    assert "| f1 | bce_weighted |" in report and "focal" not in report  # no focal booster
