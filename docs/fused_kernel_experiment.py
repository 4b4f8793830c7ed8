"""What would a fused compiled kernel give the booster's float32 call? Compiles the F1 objective's two passes as
one C loop each (gcc -O3 -march=native, glibc's vector tanhf and expf through -fopenmp-simd; Linux with glibc
2.35 or later), runs them on the benchmark's n = 1e6 float32 margins, and prints their time against metricc's
NumPy call and the float32 NumPy logistic gradient + Hessian, with the counts' and slopes' error against metricc's
float64 count pass. An experiment for docs/benchmarks.md ("Another machine; a block's fixed costs"), not part of
metricc, which stays NumPy only.

    python docs/fused_kernel_experiment.py
"""

import ctypes
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from metricc import compile_metric  # noqa: E402

SOURCE = r"""
#pragma omp declare simd notinbranch
extern float expf(float);
#pragma omp declare simd notinbranch
extern float tanhf(float);

/* The count pass over rows [start, stop): TP, FN, FP, TN, sum y d^2, sum (1 - y) d^2 added into sums, and
   d = yh (1 - yh) p (1 - p) into d, with p = sigmoid(z) = (1 + t) / 2, t = tanh(z / 2), yh = sigmoid(L (p - 1/2)). */
#define COUNT_LOOP(type)                                                                                       \
    type tp = 0, fn = 0, fp = 0, tn = 0, sy = 0, sn = 0;                                                       \
    _Pragma("omp simd reduction(+:tp,fn,fp,tn,sy,sn)")                                                         \
    for (long i = start; i < stop; i++) {                                                                      \
        float t = tanhf(0.5f * z[i]);                                                                          \
        float e = expf(half_L * t);                                                                            \
        float not_yh = 1.0f / (1.0f + e), yh = e * not_yh;                                                     \
        float di = yh * not_yh * (1.0f - t * t) * 0.25f;                                                       \
        d[i] = di;                                                                                             \
        float yi = y[i], ni = 1.0f - yi;                                                                       \
        tp += yi * yh; fn += yi * not_yh; fp += ni * yh; tn += ni * not_yh;                                    \
        sy += yi * di * di; sn += ni * di * di;                                                                \
    }                                                                                                          \
    sums[0] += tp; sums[1] += fn; sums[2] += fp; sums[3] += tn; sums[4] += sy; sums[5] += sn;

static void count_rows(const float *z, const float *y, float *d, long start, long stop, float half_L,
                       double *sums, int float64) {
    if (float64) { COUNT_LOOP(double) } else { COUNT_LOOP(float) }
}

/* float64: every sum in float64; otherwise in float32 over runs of `run` rows, the runs' sums in float64 */
void count_pass(const float *z, const float *y, float *d, long n, float half_L, double *sums, int float64, long run) {
    for (int k = 0; k < 6; k++) sums[k] = 0;
    for (long start = 0; start < n; start += run)
        count_rows(z, y, d, start, start + run < n ? start + run : n, half_L, sums, float64);
}

/* The output pass: g = c d, h = q d^2 + m, each of c, q, m the label's share of its two numbers in k. */
void output_pass(const float *y, const float *d, float *g, float *h, long n, const float *k) {
#pragma omp simd
    for (long i = 0; i < n; i++) {
        float yi = y[i], ni = 1.0f - yi, di = d[i];
        g[i] = (yi * k[0] + ni * k[1]) * di;
        h[i] = (yi * k[2] + ni * k[3]) * di * di + yi * k[4] + ni * k[5];
    }
}
"""


def build(folder):
    source, library = Path(folder) / "kernel.c", Path(folder) / "kernel.so"
    source.write_text(SOURCE)
    subprocess.run(["cc", "-O3", "-march=native", "-fopenmp-simd", "-fno-math-errno", "-fPIC", "-shared",
                    str(source), "-o", str(library), "-lmvec", "-lm"], check=True)
    kernel = ctypes.CDLL(str(library))
    array = np.ctypeslib.ndpointer
    kernel.count_pass.argtypes = [array(np.float32), array(np.float32), array(np.float32), ctypes.c_long,
                                  ctypes.c_float, array(np.float64), ctypes.c_int, ctypes.c_long]
    kernel.output_pass.argtypes = [array(np.float32)] * 4 + [ctypes.c_long, array(np.float32)]
    return kernel


def median_ms(step, repeats=15, rounds=5):
    def once():
        step()
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            step()
            times.append(time.perf_counter() - start)
        return statistics.median(times)

    return statistics.median(once() for _ in range(rounds)) * 1e3


def main(n=10**6, L=73.0):
    rng = np.random.default_rng(0)
    z = rng.normal(size=n).astype(np.float32)  # as bench_loss.py --tables booster
    y = (rng.random(n) < 0.2).astype(np.float32)
    objective = compile_metric("f1", L=L).to_xgboost()
    z64, y64, _ = objective._arrays(z.astype(np.float64), y.astype(np.float64), None)
    slopes, _ = objective._row_buffers(z64.shape, 1)
    counts, sums = objective._count_sums(z64, y64, None, slopes, None)
    reference = [float(np.ravel(v)[0]) for v in (counts[0], counts[2], counts[1], counts[3], sums[0], sums[1])]

    def logistic():
        p = np.negative(z)
        np.exp(p, out=p)
        p += 1
        np.divide(1.0, p, out=p)
        return p - y, p * (1 - p)

    with tempfile.TemporaryDirectory() as folder:
        kernel = build(folder)
        d, g, h = (np.empty(n, np.float32) for _ in range(3))
        out = np.empty(6)
        numbers = np.array([-1.0, 0.5, 0.2, 0.3, 0.01, 0.02], np.float32)  # c, q, m for y = 1 and y = 0
        base = median_ms(logistic)
        print(f"float32 NumPy logistic: {base:.2f} ms; metricc's call: {median_ms(lambda: objective(y, z)) / base:.2f}x")
        for name, float64, run in (("float64 sums", 1, n), ("float32 sums over 1,024 rows, then float64", 0, 1024)):
            def fused():
                kernel.count_pass(z, y, d, n, L / 2, out, float64, run)
                kernel.output_pass(y, d, g, h, n, numbers)

            ms = median_ms(fused)
            kernel.count_pass(z, y, d, n, L / 2, out, float64, run)
            error = max(abs(a - b) / abs(b) for a, b in zip(out, reference))
            slope = float(np.abs(d - slopes[:, 0]).max() / slopes.max())
            print(f"fused C, {name}: {ms:.2f} ms, {ms / base:.2f}x the logistic; counts within {error:.1e} "
                  f"(relative), slopes within {slope:.1e} of their peak")


if __name__ == "__main__":
    main()
