"""Would Numba give the booster's float32 call a fused kernel without a C compiler? Writes the F1 objective's two
passes (the counts with each row's slope, then the gradient and the bound Hessian) as one Numba loop each
(fastmath, float32 arithmetic, float32 sums over runs of 1,024 rows added up in float64, as metricc's matrix
products do), and times them on the benchmark's n = 1e6 float32 margins against metricc's NumPy call and the
float32 NumPy logistic gradient + Hessian, median of 20 calls, in the same run. An experiment for
docs/boosting.md (item 3 of the boosting work), not part of metricc; needs `pip install numba`.

    python docs/numba_kernel_experiment.py
"""

import statistics
import sys
import time
from pathlib import Path

import numba
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from metricc import compile_metric  # noqa: E402

L = np.float32(73.0)
ONE, HALF = np.float32(1.0), np.float32(0.5)


@numba.njit(fastmath=True)
def count_pass(z, y, d, sums):
    """TP, FN, FP, sum y d^2, sum (1 - y) d^2 into sums; d = yh (1 - yh) p (1 - p) into d."""
    n = z.shape[0]
    tp = fn = fp = sy = sn = 0.0
    for start in range(0, n, 1024):
        a = b = c = e = f = np.float32(0.0)
        for i in range(start, min(start + 1024, n)):
            p = ONE / (ONE + np.exp(-z[i]))
            t = np.exp(L * (p - HALF))
            not_yh = ONE / (ONE + t)
            yh = t * not_yh
            slope = yh * not_yh * p * (ONE - p)
            d[i] = slope
            a += y[i] * yh
            b += y[i]
            c += (ONE - y[i]) * yh
            e += y[i] * slope * slope
            f += (ONE - y[i]) * slope * slope
        tp += a
        fn += b - a
        fp += c
        sy += e
        sn += f
    sums[0], sums[1], sums[2], sums[3], sums[4] = tp, fn, fp, sy, sn


@numba.njit(fastmath=True)
def output_pass(y, d, coefficients, grad, hess):
    """grad = c d, hess = q d^2 + M |c| per row, each of c, q, M |c| one number per label (coefficients)."""
    c_pos, c_neg, q_pos, q_neg, m_pos, m_neg = coefficients
    for i in range(y.shape[0]):
        c = c_neg + y[i] * (c_pos - c_neg)
        q = q_neg + y[i] * (q_pos - q_neg)
        m = m_neg + y[i] * (m_pos - m_neg)
        grad[i] = c * d[i]
        hess[i] = q * d[i] * d[i] + m


def median_ms(call, repeats=20):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def main():
    rng = np.random.default_rng(0)
    n = 1_000_000
    z = rng.normal(0, 0.3, n).astype(np.float32)
    y = (rng.random(n) < 0.2).astype(np.float32)
    d, sums = np.empty(n, np.float32), np.empty(5)
    grad, hess = np.empty(n, np.float32), np.empty(n, np.float32)
    coefficients = np.array([1.0, 2.0, 1.0, 2.0, 1.0, 2.0], np.float32)
    objective = compile_metric("f1").to_xgboost()

    def numba_call():
        count_pass(z, y, d, sums)
        output_pass(y, d, coefficients, grad, hess)

    def logistic():
        p = 1 / (1 + np.exp(-z))
        return p - y, p * (1 - p)

    numba_call()  # compiles
    print(f"numba {numba.__version__}, numpy {np.__version__}; SVML: {numba.config.USING_SVML}")
    for _ in range(3):
        fused, ours, base = median_ms(numba_call), median_ms(lambda: objective(y, z)), median_ms(logistic)
        print(f"numba loops {fused:.2f} ms ({fused / base:.2f}x), metricc's NumPy call {ours:.2f} ms "
              f"({ours / base:.2f}x), float32 NumPy logistic {base:.2f} ms")


if __name__ == "__main__":
    main()
