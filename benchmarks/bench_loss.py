"""Speed and memory of metricc's losses against BCE and a paper-style implementation, as ratios measured in
one run (medians of repeats), plus compile latency, import time and the operations a step launches on an
accelerator.

    python benchmarks/bench_loss.py                # n = 1e4, 1e6, 1e7 on CPU (and CUDA when present)
    python benchmarks/bench_loss.py --quick        # small sizes, few repeats (CI)
    python benchmarks/bench_loss.py --tables ops   # operations per step, on CUDA or the CPU standing in for it
"""

import argparse
import contextlib
import gc
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from metricc import compile_metric, torch_kernel

L = 73.0


def paper_style(score):
    """The reference way: autograd through the amplifier, four masked sums and the formula."""
    def loss(z, y):
        yh = torch.sigmoid(L * (torch.sigmoid(z) - 0.5))
        TP, FN = (y * yh).sum(), (y * (1 - yh)).sum()
        FP, TN = ((1 - y) * yh).sum(), ((1 - y) * (1 - yh)).sum()
        return 1 - score(TP, FP, FN, TN)
    return loss


SCORES = {
    "f1": lambda TP, FP, FN, TN: 2 * TP / (2 * TP + FP + FN),
    "mcc": lambda TP, FP, FN, TN: (TP * TN - FP * FN) / torch.sqrt((TP + FP) * (TP + FN) * (TN + FP) * (TN + FN)),
}


def median_seconds(step, repeats, device):
    """Median wall time of `step` after two warm-up calls."""
    step()
    step()
    times = []
    for _ in range(repeats):
        if device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        step()
        if device == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def forward_backward(loss_fn, z, y):
    def step():
        x = z.detach().requires_grad_(True)
        loss_fn(x, y).backward()
    return step


def peak_extra_bytes(step, device):
    """Peak memory of one step above what was held before it (CUDA allocator, or the process's peak RSS)."""
    gc.collect()
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
        step()
        return torch.cuda.max_memory_allocated() - before
    try:
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM, the peak resident set
    except OSError:
        return float("nan")
    before = _status_kib("VmRSS")
    step()
    return (_status_kib("VmHWM") - before) * 1024


def _status_kib(field):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def torch_rows(n, metric, device, repeats):
    torch.manual_seed(0)
    z = (torch.randn(n, device=device) * 0.1).float()
    y = (torch.rand(n, device=device) < 0.2).float()
    losses = {
        "BCE eager": torch.nn.functional.binary_cross_entropy_with_logits,
        "BCE compiled": torch.compile(torch.nn.functional.binary_cross_entropy_with_logits),
        "paper-style": paper_style(SCORES[metric]),
        "metricc eager": compile_metric(metric, L=L).to_torch(pure=True),
        "metricc fused": compile_metric(metric, L=L).to_torch(pure=True, compile=True),
    }
    seconds, memory = {}, {}
    for name, loss_fn in losses.items():
        step = forward_backward(loss_fn, z, y)
        seconds[name] = median_seconds(step, repeats, device)
        memory[name] = peak_extra_bytes(step, device)
    return seconds, memory, z.element_size() * n


def small_batch_rows(n, repeats):
    """Seconds per forward + backward on one thread at a training batch size: BCE, the paper-style loss, metricc
    pure, each training mechanism alone, and metricc with its training defaults (running counts)."""
    torch.manual_seed(0)
    z, y = torch.randn(n) * 0.1, (torch.rand(n) < 0.2).float()
    metric = compile_metric("f1", L=L)
    losses = {"BCE": torch.nn.functional.binary_cross_entropy_with_logits, "paper-style": paper_style(SCORES["f1"]),
              "metricc pure": metric.to_torch(pure=True),
              # each training mechanism alone (the warm-up never ends here: L moves every step)
              "warm-up": metric.to_torch(pure=True, warmup=10**9, L_start=5.0),
              "BCE blend": metric.to_torch(pure=True, bce_weight=0.1),
              "running counts": metric.to_torch(pure=True, momentum=0.9),
              "metricc defaults": metric.to_torch()}
    return {name: median_seconds(forward_backward(loss_fn, z, y), repeats, "cpu") for name, loss_fn in losses.items()}


def soft_macro_f1(z, labels):
    """A plain autograd soft macro-F1 on softmax probabilities (what one writes without metricc)."""
    p = torch.softmax(z, dim=1)
    y = torch.nn.functional.one_hot(labels, z.shape[1]).to(p.dtype)
    tp, fp, fn = (p * y).sum(0), (p * (1 - y)).sum(0), ((1 - p) * y).sum(0)
    return 1 - (2 * tp / (2 * tp + fp + fn + 1e-6)).mean()


def multiclass_rows(n, classes, repeats):
    """Seconds per forward + backward of cross-entropy, a plain soft macro-F1 and metricc's macro-F1 (pure; eager
    and fused)."""
    torch.manual_seed(0)
    z, labels = torch.randn(n, classes), torch.randint(0, classes, (n,))
    metric = compile_metric("f1", task="multiclass", num_classes=classes)
    losses = {"cross-entropy": torch.nn.functional.cross_entropy, "plain soft F1": soft_macro_f1,
              "metricc macro-F1": metric.to_torch(pure=True), "metricc fused": metric.to_torch(pure=True, compile=True)}
    return {name: median_seconds(forward_backward(loss_fn, z, labels), repeats, "cpu")
            for name, loss_fn in losses.items()}


def numpy_bce_loss_and_grad(z, y):
    """BCE-with-logits loss and gradient in NumPy, written with the same care as metricc's kernel."""
    n = z.size
    buffer = np.abs(z)
    buffer *= -1
    np.exp(buffer, out=buffer)
    np.log1p(buffer, out=buffer)
    loss = (buffer.sum() + (z.sum() + np.abs(z, out=buffer).sum()) / 2 - np.dot(z, y)) / n
    grad = np.negative(z)
    with np.errstate(over="ignore"):
        np.exp(grad, out=grad)
    grad += 1
    np.divide(1.0, grad, out=grad)  # as metricc: twice as fast as np.reciprocal
    grad -= y
    grad /= n
    return float(loss), grad


def numpy_ratio(n, metric, repeats):
    rng = np.random.default_rng(0)
    z = (rng.normal(size=n) * 0.1).astype(np.float32)
    y = (rng.random(n) < 0.2).astype(np.float32)
    compiled = compile_metric(metric, L=L)
    ours = median_seconds(lambda: compiled.loss_and_grad(z, y), repeats, "cpu")
    bce = median_seconds(lambda: numpy_bce_loss_and_grad(z, y), repeats, "cpu")
    return ours, bce


def numpy_logistic_grad_hess(z, y):
    """The gradient and Hessian diagonal of XGBoost's binary:logistic objective, in NumPy."""
    p = np.negative(z)
    np.exp(p, out=p)
    p += 1
    np.divide(1.0, p, out=p)  # twice as fast as np.reciprocal for float64
    return p - y, p * (1 - p)


def booster_ratio(n, metric, repeats, dtype=np.float64, spread=1.0):
    """One call of metricc's booster objective (gradient and bound Hessian) against the logistic one, both on
    arrays of `dtype` (NumPy computes the logistic in it; the objective computes in float32 either way), on
    margins drawn with standard deviation `spread`."""
    rng = np.random.default_rng(0)
    z = (rng.normal(size=n) * spread).astype(dtype)
    y = (rng.random(n) < 0.2).astype(dtype)
    objective = compile_metric(metric, L=L).to_xgboost()
    steps = {"ours": lambda: objective(y, z), "logistic": lambda: numpy_logistic_grad_hess(z, y)}
    times = {k: [] for k in steps}
    for _ in range(5):  # interleaved, so that both see the same machine load
        for name, step in steps.items():
            times[name].append(median_seconds(step, max(repeats // 5, 3), "cpu"))
    return statistics.median(times["ours"]), statistics.median(times["logistic"])


def booster_call_in_training(n, rounds):
    """Milliseconds per call (medians over `rounds` rounds of xgboost.train, n = `n`, depth 6) of metricc's F1
    objective and of the NumPy logistic one written two ways: on XGBoost's float32 margins as they come, and with
    the margins cast to float64; all three timed in the same callback on the margins XGBoost passes (float32),
    each a whole objective(margins, data) that fetches its labels (float32) from the DMatrix."""
    import xgboost as xgb
    from sklearn.datasets import make_classification

    X, labels = make_classification(n, n_features=20, weights=[0.9], random_state=0)
    data, objective = xgb.DMatrix(X, labels), compile_metric("f1", L=L).to_xgboost()
    steps = {"ours": objective,
             "float32": lambda margins, data: numpy_logistic_grad_hess(margins, data.get_label()),
             "float64": lambda margins, data: numpy_logistic_grad_hess(np.asarray(margins, dtype=np.float64),
                                                                       data.get_label())}
    times = {name: [] for name in steps}
    order = list(steps)

    def timed_objective(margins, data):
        order.append(order.pop(0))  # each round another goes first, on the margins fresh from the booster
        for name in order:
            start = time.perf_counter()
            out = steps[name](margins, data)
            times[name].append(time.perf_counter() - start)
            if name == "ours":
                result = out
        return result

    xgb.train({**objective.params, "tree_method": "hist", "max_depth": 6}, data, rounds, obj=timed_objective)
    return {name: statistics.median(t) for name, t in times.items()}


def row_softmax(x):
    """softmax of each row of x (n, C), the rows' maxima column by column and their sums so too for up to four
    columns, else by einsum: several times faster than x.max(axis=1) and x.sum(axis=1), which run a short strided
    loop per row."""
    top = x[:, 0].copy()
    for k in range(1, x.shape[1]):
        np.maximum(top, x[:, k], out=top)
    e = np.exp(x - top[:, None])
    if x.shape[1] > 4:
        total = np.einsum("ij->i", e)
    else:
        total = e[:, 0].copy()
        for k in range(1, x.shape[1]):
            total += e[:, k]
    e /= total[:, None]
    return e


def numpy_softmax_grad_hess(z, labels):
    """The gradient and Hessian of softmax cross-entropy as XGBoost's multi:softprob computes them (p - one-hot,
    2 p (1 - p)), with a fast row-wise softmax."""
    p = row_softmax(z)
    grad = p.copy()
    grad[np.arange(len(z)), labels] -= 1
    return grad, 2 * p * (1 - p)


def multiclass_booster_ratio(n, classes, repeats):
    """One call of metricc's multi-class macro-F1 objective (Gauss-Newton Hessian) against multi:softprob's
    gradient and Hessian in NumPy, float64 margins (n, C)."""
    rng = np.random.default_rng(0)
    z = rng.normal(size=(n, classes))
    labels = rng.choice(classes, n, p=np.arange(1, classes + 1) / (classes * (classes + 1) / 2))
    objective = compile_metric("f1", task="multiclass", num_classes=classes).to_xgboost()
    steps = {"ours": lambda: objective(labels.astype(np.float64), z),
             "softmax": lambda: numpy_softmax_grad_hess(z, labels)}
    times = {k: [] for k in steps}
    for _ in range(5):
        for name, step in steps.items():
            times[name].append(median_seconds(step, max(repeats // 5, 3), "cpu"))
    return statistics.median(times["ours"]), statistics.median(times["softmax"])


def booster_rounds(n, rounds, repeats):
    """Milliseconds per boosting round (median of `repeats` trainings of `rounds` rounds), every core: the booster's
    own logistic objective, the same gradient as a NumPy custom objective (the price of the custom-objective
    path) and metricc's F1 objective, for XGBoost and LightGBM (each when installed)."""
    from sklearn.datasets import make_classification

    X, y = make_classification(n, n_features=20, weights=[0.9], random_state=0)

    def numpy_logistic(margins, data):
        return numpy_logistic_grad_hess(np.asarray(margins, dtype=np.float64), data.get_label())

    def timed(train):
        return _per_round_ms(train, rounds, repeats)

    rows = {}
    try:
        import xgboost as xgb
        data, objective = xgb.DMatrix(X, y), compile_metric("f1").to_xgboost()
        base = {"tree_method": "hist", "max_depth": 6}
        custom = {**base, "base_score": 0.0, "disable_default_eval_metric": 1}
        for name, params, obj in (("built-in", {**base, "objective": "binary:logistic"}, None),
                                  ("NumPy logistic", custom, numpy_logistic), ("metricc F1", custom, objective)):
            rows[("XGBoost", name)] = timed(lambda k, params=params, obj=obj: xgb.train(params, data, k, obj=obj))
    except ImportError:
        pass
    try:
        import lightgbm as lgb
        data, objective = lgb.Dataset(X, y, free_raw_data=False), compile_metric("f1").to_lightgbm()
        data.construct()
        base = {"verbose": -1, "max_depth": 6, "num_leaves": 63}
        for name, params in (("built-in", {"objective": "binary"}),
                             ("NumPy logistic", {"objective": numpy_logistic, "boost_from_average": False}),
                             ("metricc F1", {"objective": objective, **objective.params})):
            rows[("LightGBM", name)] = timed(lambda k, params=params: lgb.train({**base, **params}, data, k))
    except ImportError:
        pass
    return rows


def multiclass_booster_rounds(n, rounds, repeats, classes=4):
    """Milliseconds per boosting round (as booster_rounds) on `classes` classes of 55/25/15/5 % (n rows, 20
    features, depth 6, every core): the booster's own softmax objective against metricc's macro-F1 objective, for
    XGBoost and LightGBM (each when installed)."""
    from sklearn.datasets import make_classification

    shares = [0.55, 0.25, 0.15, 0.05][:classes]
    X, y = make_classification(n, n_features=20, n_informative=10, n_classes=classes,
                               weights=[v / sum(shares) for v in shares], random_state=0)
    metric = compile_metric("f1", task="multiclass", num_classes=classes)

    def timed(train):
        return _per_round_ms(train, rounds, repeats)

    rows = {}
    try:
        import xgboost as xgb
        data, objective = xgb.DMatrix(X, y), metric.to_xgboost()
        base = {"tree_method": "hist", "max_depth": 6}
        for name, params, obj in (("built-in", {**base, "objective": "multi:softprob", "num_class": classes}, None),
                                  ("metricc macro-F1", {**base, **objective.params}, objective)):
            rows[("XGBoost", name)] = timed(lambda k, params=params, obj=obj: xgb.train(params, data, k, obj=obj))
    except ImportError:
        pass
    try:
        import lightgbm as lgb
        data, objective = lgb.Dataset(X, y, free_raw_data=False), metric.to_lightgbm()
        data.construct()
        base = {"verbose": -1, "max_depth": 6, "num_leaves": 63, "num_class": classes}
        for name, params in (("built-in", {"objective": "multiclass"}),
                             ("metricc macro-F1", {"objective": objective, **objective.params})):
            rows[("LightGBM", name)] = timed(lambda k, params=params: lgb.train({**base, **params}, data, k))
    except ImportError:
        pass
    return rows


def _per_round_ms(train, rounds, repeats):
    """Milliseconds per round of train(k) (k rounds): the median of `repeats` trainings of `rounds` rounds, after
    a short one that builds the booster's histograms and caches."""
    train(2)
    return statistics.median(_seconds(lambda: train(rounds)) for _ in range(repeats)) / rounds * 1e3


def _print_rounds(title, rows):
    """A table of rounds' times {(booster, objective): ms}, each against its booster's built-in objective."""
    print(f"\n| {title} | objective | ms per round | / built-in |\n|---|---|---|---|")
    for (booster, name), ms in rows.items():
        print(f"| {booster} | {name} | {ms:.1f} | {ms / rows[(booster, 'built-in')]:.2f} |", flush=True)


def _seconds(step):
    start = time.perf_counter()
    step()
    return time.perf_counter() - start


def fresh_python(code):
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout)


def startup_costs():
    """Seconds: import sympy; import metricc; loading its compiler (the first compile_metric's lookup, SymPy
    included); a first compile_metric("mcc") after it; a cached call (fresh processes, medians of three)."""
    timed = "import time; t = time.perf_counter(); {}; print(time.perf_counter() - t)"
    sympy = statistics.median(fresh_python(timed.format("import sympy")) for _ in range(3))
    metricc = statistics.median(fresh_python(timed.format("import metricc")) for _ in range(3))
    compiler = statistics.median(fresh_python("import metricc; " + timed.format("metricc.compile_metric"))
                                 for _ in range(3))
    cold = statistics.median(fresh_python(
        "import time, metricc; compile = metricc.compile_metric; t = time.perf_counter(); compile('mcc'); "
        "print(time.perf_counter() - t)") for _ in range(3))
    compile_metric("mcc")
    start = time.perf_counter()
    for _ in range(1000):
        compile_metric("mcc")
    cached = (time.perf_counter() - start) / 1000
    return sympy, metricc, compiler, cold, cached


class _DispatchCount(TorchDispatchMode):
    """Counts the operations torch dispatches, views and bare allocations left out: on an accelerator each of the
    others is a kernel launch, the fixed cost of a step on a small batch."""

    FREE = {"view", "_unsafe_view", "slice", "select", "unbind", "unsqueeze", "squeeze", "expand", "t", "alias",
            "detach", "as_strided", "transpose", "permute", "split", "empty", "empty_like", "empty_strided"}

    def __init__(self):
        super().__init__()
        self.count = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.count += func.overloadpacket.__name__ not in self.FREE
        return func(*args, **(kwargs or {}))


class _NeverReady:
    """A device event for the CPU standing in for an accelerator: the copy is done once asked."""

    def __init__(self, device=None):
        pass

    def record(self):
        pass

    def query(self):
        return True

    def synchronize(self):
        pass


@contextlib.contextmanager
def _accelerator_path(device):
    """On the CPU, the loss takes an accelerator's path (checks deferred, scalars as device tensors), as
    tests/test_deferred_checks.py has it; on CUDA, its own."""
    if device != "cpu":
        yield
        return
    reads_back_now, had_event = torch_kernel.reads_back_now, hasattr(torch, "Event")
    event = getattr(torch, "Event", None)
    torch_kernel.reads_back_now, torch.Event = (lambda _: False), _NeverReady
    try:
        yield
    finally:
        torch_kernel.reads_back_now = reads_back_now
        if had_event:
            torch.Event = event
        else:  # (torch before 2.4 has none)
            del torch.Event


def operation_rows(device):
    """Operations of one forward + backward step on an accelerator's path: {(loss, n, C, options): count}."""
    rows = {}
    generator = torch.Generator().manual_seed(0)
    cases = [("f1", 4096, 0), ("mcc", 4096, 0), ("multiclass f1", 256, 10), ("multilabel f1", 256, 10)]
    with _accelerator_path(device):
        for name, n, classes in cases:
            task = name.split()[0] if classes else "binary"
            z = torch.randn((n, classes) if classes else (n,), generator=generator).to(device)
            y = (torch.randint(0, classes, (n,), generator=generator) if task == "multiclass"
                 else (torch.rand(z.shape, generator=generator) < 0.3).float()).to(device)
            metric = compile_metric(name.split()[-1], **({"task": task, "num_classes": classes} if classes else {}))
            baseline = (torch.nn.CrossEntropyLoss() if task == "multiclass" else torch.nn.BCEWithLogitsLoss())
            for label, loss_fn in (("pure=True", metric.to_torch(pure=True)), ("defaults", metric.to_torch()),
                                   ("BCE" if task != "multiclass" else "cross-entropy", baseline)):
                x = z.clone().requires_grad_(True)
                for _ in range(3):  # the first calls check L for the dtype and fill the caches
                    x.grad = None
                    loss_fn(x, y).backward()
                x.grad = None
                with _DispatchCount() as counted:
                    loss_fn(x, y).backward()
                if hasattr(loss_fn, "check_pending"):
                    loss_fn.check_pending()
                rows[(name, n, classes, label)] = counted.count
    return rows


TABLES = ("torch", "numpy", "small", "multiclass", "ops", "booster", "rounds", "startup")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes and few repeats (for CI)")
    parser.add_argument("--repeats", type=int, default=None,
                        help="timed runs per row, of which the median counts (default: 9, 3 with --quick)")
    parser.add_argument("--tables", default=",".join(TABLES), metavar="NAMES",
                        help=f"comma-separated tables to run, of {', '.join(TABLES)} (default: all)")
    parser.add_argument("--devices", default=None, metavar="NAMES",
                        help="comma-separated devices of the torch table, of cpu, cuda (default: cpu, and cuda when "
                             "present)")
    args = parser.parse_args()
    if args.repeats is not None and args.repeats < 1:
        parser.error("--repeats must be at least 1")
    tables = set(args.tables.split(","))
    if not tables <= set(TABLES):
        parser.error(f"unknown table {sorted(tables - set(TABLES))[0]!r}; expected some of {', '.join(TABLES)}")
    sizes = [10_000, 100_000] if args.quick else [10_000, 1_000_000, 10_000_000]
    repeats = args.repeats or (3 if args.quick else 9)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    if args.devices is not None:
        devices = args.devices.split(",")
        if not set(devices) <= {"cpu", "cuda"}:
            parser.error(f"unknown device {sorted(set(devices) - {'cpu', 'cuda'})[0]!r}; expected cpu or cuda")
        if "cuda" in devices and not torch.cuda.is_available():
            parser.error("--devices cuda: this machine has no CUDA device")

    machine = f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"
    if torch.cuda.is_available():
        machine += f", {torch.cuda.get_device_name()}"
    print(f"# metricc loss benchmark (float32, L = {L:g}, forward + backward, median of {repeats})\n")
    print(f"Machine: {machine}; torch {torch.__version__}, numpy {np.__version__}\n")
    if "torch" in tables:
        print("Times in ms; ratios to BCE of the same mode (eager to BCE eager, fused to BCE compiled); memory is the "
              "peak extra of one step, in units of the input's size.\n")
        print("| device | metric | n | BCE eager | BCE compiled | paper-style | metricc eager | metricc fused | "
              "eager / BCE | fused / BCE compiled | paper / metricc eager | memory eager | memory BCE |")
        print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        for device in devices:
            for metric in ("f1", "mcc"):
                for n in sizes:
                    s, m, size = torch_rows(n, metric, device, repeats)
                    ms = {k: v * 1e3 for k, v in s.items()}
                    print(f"| {device} | {metric} | {n:.0e} | {ms['BCE eager']:.2f} | {ms['BCE compiled']:.2f} | "
                          f"{ms['paper-style']:.2f} | {ms['metricc eager']:.2f} | {ms['metricc fused']:.2f} | "
                          f"{s['metricc eager'] / s['BCE eager']:.2f} | {s['metricc fused'] / s['BCE compiled']:.2f} | "
                          f"{s['paper-style'] / s['metricc eager']:.2f} | {m['metricc eager'] / size:.1f} | "
                          f"{m['BCE eager'] / size:.1f} |", flush=True)

    if "numpy" in tables:
        print("\n| NumPy loss_and_grad | n | metricc ms | BCE ms | ratio |")
        print("|---|---|---|---|---|")
        for metric in ("f1", "mcc"):
            n = sizes[-1]
            ours, bce = numpy_ratio(n, metric, repeats)
            print(f"| {metric} | {n:.0e} | {ours * 1e3:.2f} | {bce * 1e3:.2f} | {ours / bce:.2f} |", flush=True)

    if "small" in tables:
        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # small tensors: one thread (two busy OpenMP threads only add noise)
        print("\n| small batches, f1, CPU, 1 thread | n | BCE µs | paper-style µs | metricc pure µs | "
              "+ warm-up µs | + BCE blend µs | + running counts µs | metricc defaults µs | pure / BCE | "
              "pure / paper | defaults / BCE |")
        print("|---|---|---|---|---|---|---|---|---|---|---|---|")
        for n in (256, 4096, 65536):
            s = small_batch_rows(n, max(repeats, 50))
            us = {k: v * 1e6 for k, v in s.items()}
            print(f"| | {n} | {us['BCE']:.0f} | {us['paper-style']:.0f} | {us['metricc pure']:.0f} | "
                  f"{us['warm-up']:.0f} | {us['BCE blend']:.0f} | {us['running counts']:.0f} | "
                  f"{us['metricc defaults']:.0f} | {s['metricc pure'] / s['BCE']:.2f} | "
                  f"{s['metricc pure'] / s['paper-style']:.2f} | {s['metricc defaults'] / s['BCE']:.2f} |",
                  flush=True)
        torch.set_num_threads(threads)
    if "multiclass" in tables:
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        print("\n| multi-class, CPU, 1 thread | n | C | cross-entropy ms | plain soft F1 ms | metricc macro-F1 ms | "
              "metricc / CE | metricc / plain | metricc fused ms |")
        print("|---|---|---|---|---|---|---|---|---|")
        for n, classes in ((4096, 10), (4096, 100)) if args.quick else ((4096, 10), (100_000, 10), (4096, 100)):
            s = multiclass_rows(n, classes, repeats)
            ms = {k: v * 1e3 for k, v in s.items()}
            print(f"| | {n} | {classes} | {ms['cross-entropy']:.2f} | {ms['plain soft F1']:.2f} | "
                  f"{ms['metricc macro-F1']:.2f} | {s['metricc macro-F1'] / s['cross-entropy']:.2f} | "
                  f"{s['metricc macro-F1'] / s['plain soft F1']:.2f} | {ms['metricc fused']:.2f} |", flush=True)
        torch.set_num_threads(threads)

    if "ops" in tables:
        device = "cuda" if "cuda" in devices else "cpu"
        where = "CUDA" if device == "cuda" else "the CPU standing in for an accelerator (checks deferred)"
        print(f"\n| operations per forward + backward step, on {where} | n | C | loss | operations |")
        print("|---|---|---|---|---|")
        for (name, n, classes, label), count in operation_rows(device).items():
            print(f"| {name} | {n} | {classes or ''} | {label} | {count} |", flush=True)

    if "booster" in tables:
        print("\n| booster objective (gradient + Hessian) | n | arrays | metricc ms | binary:logistic in NumPy ms | "
              "ratio |\n|---|---|---|---|---|---|")
        n = 100_000 if args.quick else 1_000_000
        for metric, dtype, spread in (("f1", np.float64, 1), ("mcc", np.float64, 1), ("f1", np.float32, 1),
                                      ("f1", np.float32, 8)):
            ours, logistic = booster_ratio(n, metric, repeats, dtype, spread)
            arrays = np.dtype(dtype).name + ("" if spread == 1 else f", margins of spread {spread} (far out)")
            print(f"| {metric} | {n:.0e} | {arrays} | {ours * 1e3:.2f} | {logistic * 1e3:.2f} | "
                  f"{ours / logistic:.2f} |", flush=True)
        try:
            timed = booster_call_in_training(n, 10 if args.quick else 30)
            for arithmetic in ("float32", "float64"):
                print(f"| f1, inside xgboost.train | {n:.0e} | float32 (the logistic in {arithmetic}) | "
                      f"{timed['ours'] * 1e3:.2f} | {timed[arithmetic] * 1e3:.2f} | "
                      f"{timed['ours'] / timed[arithmetic]:.2f} |", flush=True)
        except ImportError:
            pass
        print("\n| multi-class objective (gradient + Hessian) | n | classes | metricc ms | "
              "multi:softprob in NumPy ms | ratio |\n|---|---|---|---|---|---|")
        for classes in (3, 10):
            n = 100_000 if args.quick else 1_000_000
            ours, softprob = multiclass_booster_ratio(n, classes, repeats)
            print(f"| macro-F1 | {n:.0e} | {classes} | {ours * 1e3:.2f} | {softprob * 1e3:.2f} | "
                  f"{ours / softprob:.2f} |", flush=True)

    if "rounds" in tables:
        n = 100_000 if args.quick else 1_000_000
        _print_rounds(f"boosting round, every core ({os.cpu_count()}), n = {n:.0e}, 20 features, depth 6",
                      booster_rounds(n, 5 if args.quick else 20, 1 if args.quick else 3))
        n = 30_000 if args.quick else 300_000
        _print_rounds(f"multi-class boosting round, every core ({os.cpu_count()}), n = {n:.0e}, 4 classes "
                      f"(55/25/15/5 %), 20 features, depth 6",
                      multiclass_booster_rounds(n, 5 if args.quick else 10, 1 if args.quick else 3))

    if "startup" in tables:
        sympy, metricc, compiler, cold, cached = startup_costs()
        print(f"\n| start-up | seconds |\n|---|---|\n| import sympy | {sympy:.3f} |\n"
              f"| import metricc | {metricc:.3f} |\n"
              f"| the compiler's first lookup, SymPy included | {compiler:.3f} ({compiler - sympy:+.3f} beyond it) |\n"
              f"| compile_metric('mcc'), cold | {cold:.3f} |\n| compile_metric('mcc'), cached | {cached:.2e} |")


if __name__ == "__main__":
    main()
