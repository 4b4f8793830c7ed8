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
