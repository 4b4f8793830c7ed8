"""The benchmark runs in its quick mode and prints its tables."""

import subprocess
import sys
from pathlib import Path

BENCHMARK = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_loss.py"


def test_benchmark_quick_mode():
    out = subprocess.run([sys.executable, str(BENCHMARK), "--quick"], capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr
    assert "| cpu | f1 | 1e+04 |" in out.stdout and "| cpu | mcc | 1e+05 |" in out.stdout
    assert "| NumPy loss_and_grad |" in out.stdout and "compile_metric('mcc'), cached" in out.stdout


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
