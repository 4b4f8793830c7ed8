"""The eager, fused (torch.compile) and NumPy paths compute the same loss and gradient, the fused path runs
when asked for, and the torch Function saves no n-sized tensor beyond the bound."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from metricc import MetriccError, MetriccWarning, compile_metric, numpy_kernel, torch_kernel

FORMULAS = [("f1", {}), ("mcc", {}), ("prec = TP/(TP+FP); rec = TP/(TP+FN); 2*prec*rec/(prec+rec)", {}),
            ("min(TNR, exp(-alpha)) * TPR", {"alpha": 0.05})]  # a shared constant: torch.minimum(float, x) failed


def _batch(n=4096, seed=0):
    rng = np.random.default_rng(seed)
    z = (rng.normal(0, 0.05, n)).astype(np.float32)
    y = (rng.random(n) < 0.3).astype(np.float32)
    return z, y


def _torch_loss_and_grad(loss_fn, z, y, dtype=torch.float32):
    x = torch.tensor(z, dtype=dtype, requires_grad=True)
    loss = loss_fn(x, torch.tensor(y, dtype=dtype))
    loss.backward()
    return loss.item(), x.grad.numpy().astype(np.float64)


@pytest.mark.parametrize("formula, params", FORMULAS, ids=[f for f, _ in FORMULAS])
def test_eager_fused_and_numpy_agree_in_float32(formula, params):
    metric = compile_metric(formula, **params)
    z, y = _batch()
    reference = _torch_loss_and_grad(metric.to_torch(pure=True), z, y)  # the core path: eager torch
    results = {
        "fused": (_torch_loss_and_grad(metric.to_torch(pure=True, compile=True), z, y), 1e-6),
        "numpy": (metric.loss_and_grad(z, y), 1e-6),
        "float64": (_torch_loss_and_grad(metric.to_torch(pure=True), z.astype(np.float64), y, torch.float64), 1e-5),
    }
    # float32 itself limits agreement: L = 73 turns an ulp of p into ~1e-6 of the slope of one sample, so the
    # gradients are compared in norm (1e-6 relative), and element by element to 1e-5 of the largest entry
    for name, ((loss, grad), rtol) in results.items():
        assert loss == pytest.approx(reference[0], rel=rtol), name
        assert np.linalg.norm(grad - reference[1]) <= rtol * np.linalg.norm(reference[1]), name
        assert np.max(np.abs(grad - reference[1])) <= 1e-5 * np.max(np.abs(reference[1])), name
    assert metric.loss_and_grad(z, y)[1].dtype == np.float32


@pytest.mark.filterwarnings("ignore::metricc.MetriccWarning")  # L chosen for the test, not for training
def test_fused_path_follows_L_for_probabilities():
    """With probabilities as input, the fused path's per-sample factor was torch.full_like(x, L), which
    torch.compile kept at the L of its first call (also from its cache on disk): a later L, or the warm-up's
    rising L, scaled the gradient by the wrong L silently (15/73 of it at L = 73)."""
    p = np.array([0.45, 0.52, 0.49, 0.9, 0.1, 0.5])
    y = np.array([1.0, 0.0, 1.0, 1.0, 0.0, 1.0])
    for L in (15.0, 73.0, 150.0, 15.0):
        metric = compile_metric("f1", from_logits=False, L=L)
        fused = _torch_loss_and_grad(metric.to_torch(pure=True, compile=True), p, y, torch.float64)[1]
        np.testing.assert_allclose(fused, metric.loss_and_grad(p, y)[1], rtol=1e-9, atol=1e-12, err_msg=f"L = {L}")


def test_fused_path_is_used_when_requested():
    torch_kernel._COMPILED.clear()
    loss_fn = compile_metric("f1").to_torch(pure=True, compile=True)
    assert loss_fn.fused and "fused=True" in repr(loss_fn)
    z, y = _batch(256)
    _torch_loss_and_grad(loss_fn, z, y)
    assert torch_kernel._COMPILED[torch_kernel._fused_forward] is not None
    assert torch_kernel._COMPILED[torch_kernel._fused_backward_] is not None
    assert not compile_metric("f1").to_torch(pure=True).fused


class _NoCompiler(torch._dynamo.exc.TorchDynamoException):
    """What torch.compile raises at a function's first call where it cannot compile it (InductorError, raised
    where inductor finds no C++ compiler, is one)."""


def _compile_failing_at_the_first_call(function, **options):
    def call(*args):
        raise _NoCompiler("InvalidCxxCompiler: No working C++ compiler found in torch._inductor.config.cpp.cxx")
    return call


def _fused_and_eager(task):
    """Loss and gradient of the same batch through to_torch(pure=True, compile=True) (which warns at most once,
    recorded) and through the eager loss, for a binary or multi-class F1."""
    options = {} if task == "binary" else {"task": "multiclass", "num_classes": 3}
    generator = torch.Generator().manual_seed(2)
    z = torch.randn(256 if task == "binary" else (256, 3), generator=generator)
    y = (torch.rand(256, generator=generator) < 0.3).float() if task == "binary" else torch.randint(
        0, 3, (256,), generator=generator)
    metric = compile_metric("f1", **options)
    results = []
    for loss_fn in (metric.to_torch(pure=True, compile=True), metric.to_torch(pure=True)):
        x = z.clone().requires_grad_(True)
        loss = loss_fn(x, y)
        loss.backward()
        results.append((loss_fn, loss.item(), x.grad))
    return results


@pytest.mark.parametrize("task", ["binary", "multiclass"])
def test_a_compiler_failing_at_the_first_call_runs_the_loss_eagerly(task, monkeypatch):
    """torch.compile wraps a function at once and compiles it at its first call, where it can fail (no C++
    compiler for inductor, as on many Windows machines): the loss raised torch's InductorError from deep inside
    it. It runs eagerly there, with the eager loss and gradient, and says once why, at the user's line."""
    monkeypatch.setattr(torch_kernel, "_COMPILED", {})
    monkeypatch.setattr(torch_kernel, "_COMPILE_FAILURE", [])
    monkeypatch.setattr(torch, "compile", _compile_failing_at_the_first_call)
    with pytest.warns(MetriccWarning) as record:
        (fused, loss, grad), (_, eager_loss, eager_grad) = _fused_and_eager(task)
    assert [str(w.message) for w in record] == [
        "torch.compile failed here (_NoCompiler: InvalidCxxCompiler: No working C++ compiler found in "
        "torch._inductor.config.cpp.cxx): the loss runs eagerly"]
    assert record[0].filename == __file__
    assert loss == pytest.approx(eager_loss, rel=1e-6)  # (the fused pass's arithmetic, run eagerly)
    assert (grad - eager_grad).abs().max().item() <= 1e-5 * eager_grad.abs().max().item()
    assert not fused.fused
    with pytest.warns(MetriccWarning, match=r"torch.compile is unavailable here \(_NoCompiler: Invalid"):
        assert not compile_metric("mcc").to_torch(compile=True).fused  # a later loss is told at once


def test_a_compiler_failing_at_once_says_why(monkeypatch):
    def refuse(function, **options):
        raise RuntimeError("Dynamo is not supported on Python 3.14+")

    monkeypatch.setattr(torch_kernel, "_COMPILED", {})
    monkeypatch.setattr(torch_kernel, "_COMPILE_FAILURE", [])
    monkeypatch.setattr(torch, "compile", refuse)
    for options in ({}, {"task": "multiclass", "num_classes": 3}):
        with pytest.warns(MetriccWarning) as record:
            loss_fn = compile_metric("f1", **options).to_torch(compile=True)
        assert [str(w.message) for w in record] == [
            "torch.compile is unavailable here (RuntimeError: Dynamo is not supported on Python 3.14+): the loss "
            "runs eagerly"]
        assert record[0].filename == __file__ and not loss_fn.fused


@pytest.mark.integration
def test_a_machine_without_a_cpp_compiler_runs_the_compiled_loss_eagerly(tmp_path):
    """The real failure: inductor pointed at no C++ compiler (and an empty cache, so that nothing compiled
    before is loaded instead) fails at the first call; the loss and its gradient come out as the eager ones."""
    script = textwrap.dedent("""
        import torch
        from metricc import compile_metric
        torch.manual_seed(0)
        z, y = torch.randn(300), (torch.rand(300) < 0.3).float()
        results = []
        for compile in (True, False):
            x = z.clone().requires_grad_(True)
            loss = compile_metric("f1").to_torch(pure=True, compile=compile)(x, y)
            loss.backward()
            results.append((loss.item(), x.grad))
        (loss, grad), (eager_loss, eager_grad) = results
        assert abs(loss - eager_loss) <= 1e-6 * eager_loss, results
        assert (grad - eager_grad).abs().max() <= 1e-5 * eager_grad.abs().max(), results
        print("ok", loss)
    """)
    environment = {**os.environ, "CXX": str(tmp_path / "no-such-compiler"),
                   "TORCHINDUCTOR_CACHE_DIR": str(tmp_path / "cache")}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600,
                            env=environment)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.startswith("ok ")
    assert "MetriccWarning: torch.compile failed here (" in result.stderr, result.stderr[-3000:]
    assert "C++ compiler" in result.stderr


def test_fused_loss_refuses_a_second_backward():
    """The compiled binary loss writes its gradient over a saved buffer, so a second backward pass through one
    forward pass (retain_graph=True) is refused with metricc's error and what to do (it was a bare RuntimeError)."""
    loss_fn = compile_metric("f1").to_torch(pure=True, compile=True)
    x = torch.zeros(8, requires_grad=True)
    loss = loss_fn(x, torch.tensor([0.0, 1] * 4))
    loss.backward(retain_graph=True)
    with pytest.raises(MetriccError, match="one backward pass per forward pass .* compile=False"):
        loss.backward()


def _saved_sizes(loss_fn, n):
    sizes = []

    def pack(tensor):
        sizes.append(tensor.numel())
        return tensor

    x = torch.zeros(n, requires_grad=True)
    y = torch.tensor([0.0, 1.0] * (n // 2))
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        loss = loss_fn(x, y)
    loss.backward()
    return sizes


@pytest.mark.parametrize("path, bound", [("stacked", 5), ("streaming", 2), ("fused", 3)])
def test_saved_tensors_stay_within_the_bound(path, bound, monkeypatch):
    """Elements saved for the backward pass, in units of the batch: every path keeps the input and the target
    (2 n; they are alive anyway, and a second derivative recomputes the gradient from them), the stacked path
    (small batches) also a per-sample factor and the weighted labels (5 n), the fused path one factor (3 n);
    nothing else but scalars and the pair of gradient coefficients."""
    n = 1000
    monkeypatch.setattr(torch_kernel, "STACKED_MAX_SIZE", n if path == "stacked" else n - 1)
    sizes = _saved_sizes(compile_metric("mcc").to_torch(pure=True, compile=path == "fused"), n)
    assert sum(size for size in sizes if size > 2) == bound * n
    assert all(size in (1, 2, n, 2 * n) for size in sizes)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("formula", ["f1", "mcc", "balanced_accuracy"])
def test_stacked_and_streaming_paths_agree(formula, weighted, monkeypatch):
    """The two eager paths (chosen by batch size) give the same loss and gradient as the float64 oracle."""
    from oracles import CATALOG_SCORES, autograd_loss_and_grad

    z, y = _batch(2000, seed=3)
    w = np.random.default_rng(4).uniform(0.1, 3.0, len(z)).astype(np.float32) if weighted else None
    metric = compile_metric(formula)
    results = []
    for limit in (len(z), len(z) - 1):
        monkeypatch.setattr(torch_kernel, "STACKED_MAX_SIZE", limit)
        x = torch.tensor(z, requires_grad=True)
        loss = metric.to_torch(pure=True)(x, torch.tensor(y), None if w is None else torch.tensor(w))
        loss.backward()
        results.append((loss.item(), x.grad.numpy().astype(np.float64)))
    reference = autograd_loss_and_grad(lambda *c: 1 - CATALOG_SCORES[formula][1](*c), z.astype(np.float64), y, w)
    for loss, grad in results:
        assert loss == pytest.approx(reference[0], rel=1e-6)
        assert np.linalg.norm(grad - reference[1]) <= 1e-5 * np.linalg.norm(reference[1])


@pytest.mark.filterwarnings("error:Dynamo detected")  # e.g. a cache wrapper it ignores: nothing to alarm a user
def test_module_works_inside_a_compiled_training_step():
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    loss_fn = compile_metric("f1").to_torch(pure=True)
    X, y = torch.randn(64, 3), (torch.rand(64) < 0.4).float()

    def step():
        loss = loss_fn(model(X).squeeze(1), y)
        loss.backward()
        return loss

    eager = step().item()
    eager_grad = model.weight.grad.clone()
    model.zero_grad()
    compiled = torch.compile(step)().item()
    assert compiled == pytest.approx(eager, rel=1e-6)
    torch.testing.assert_close(model.weight.grad, eager_grad, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("task, columns", [("binary", 0), ("multiclass", 3), ("multilabel", 3)])
def test_a_compiled_training_step_follows_a_warm_up_without_recompiling(task, columns):
    """torch.compile of a step whose loss warms L up: the step count is a tensor, so that the graph does not
    specialise on it (as an int, Dynamo recompiled the step at each warm-up step and, past its limit of 8, ran it
    eagerly from then on); the losses, gradients and state are eager's at every step, warm-up and after."""
    torch._dynamo.reset()
    options = {} if task == "binary" else {"task": task, "num_classes": columns}
    metric = compile_metric("f1", **options)
    eager, compiled = (metric.to_torch(warmup=12, momentum=0.8, bce_weight=0.1) for _ in range(2))
    g = torch.Generator().manual_seed(0)
    counters = torch._dynamo.utils.counters
    counters.clear()
    step = torch.compile(compiled, backend="aot_eager")
    for _ in range(16):
        shape = (32, columns) if columns else (32,)
        z = torch.randn(shape, generator=g, dtype=torch.float64)
        y = (torch.randint(0, columns, (32,), generator=g) if task == "multiclass"
             else (torch.rand(shape, generator=g) < 0.3).double())
        results = []
        for loss_fn in (eager, step):
            x = z.clone().requires_grad_(True)
            loss = loss_fn(x, y)
            loss.backward()
            results.append((loss.detach(), x.grad))
        torch.testing.assert_close(results[1], results[0], rtol=1e-9, atol=1e-12)  # (eager: Python floats)
    assert compiled.steps == eager.steps == 16
    torch.testing.assert_close(compiled.running, eager.running, rtol=1e-12, atol=0)
    assert compiled.current_L() == eager.current_L() == metric.to_torch().L
    assert counters["stats"]["unique_graphs"] <= 4, dict(counters["recompiles"] or counters["stats"])


@pytest.mark.integration
def test_runs_on_a_torch_without_compiler_is_compiling():
    """torch.compiler.is_compiling came with torch 2.3; the README and pyproject promise torch >= 2.1, where every
    loss raised AttributeError at its first call (seen with torch 2.1.2). Simulated here by deleting it before
    metricc is imported: the binary and multi-class losses and an emitted module run as they do with it, and a
    compiled step (with it back, as this torch's compiler needs it) takes Dynamo's answer as metricc's."""
    script = textwrap.dedent("""
        import torch
        import torch._dynamo  # (imports it itself)
        is_compiling = torch.compiler.is_compiling
        del torch.compiler.is_compiling  # as torch 2.1 and 2.2, whose Dynamo answers by itself
        torch._dynamo.is_compiling = lambda: is_compiling()  # (this torch's asks the deleted one)
        from metricc import compile_metric
        torch.manual_seed(0)
        x, t = torch.randn(64, requires_grad=True), (torch.rand(64) < 0.4).float()
        loss = compile_metric("f1").to_torch()(x, t)
        loss.backward()
        z, c = torch.randn(32, 3, requires_grad=True), torch.randint(0, 3, (32,))
        compile_metric("f1", task="multiclass", num_classes=3).to_torch()(z, c).backward()
        namespace = {}
        exec(compile(compile_metric("mcc").emit("torch"), "emitted", "exec"), namespace)
        namespace["MetricLoss"]()(x, t).backward()
        torch.compiler.is_compiling = is_compiling  # this torch's own compiler needs it; metricc asks Dynamo
        model, pure = torch.nn.Linear(3, 1), compile_metric("f1").to_torch(pure=True)
        X = torch.randn(64, 3)
        eager = pure(model(X).squeeze(1), t).item()
        compiled = torch.compile(lambda: pure(model(X).squeeze(1), t))().item()
        assert abs(compiled - eager) <= 1e-6 * abs(eager), (compiled, eager)
        print("ok", round(loss.item(), 6), bool(torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0))
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split()[0] == "ok" and result.stdout.split()[-1] == "True"


@pytest.mark.parametrize("soft", [False, True])
def test_streaming_float32_counts_agree_with_float64(soft):
    """Unweighted streaming counts take (1 - y) yh as yh - y yh: exact for 0/1 labels, one rounding per element
    for soft ones; the float32 counts stay within 1e-6 of the float64 ones either way."""
    from metricc.torch_kernel import soft_counts

    generator = torch.Generator().manual_seed(0)
    n = 200_000
    x = torch.randn(n, generator=generator) * 3
    y = torch.rand(n, generator=generator)
    y = y if soft else (y < 0.01).float()
    single = soft_counts(x, y, None, 73.0, 0.5, True).double()
    double = soft_counts(x.double(), y.double(), None, 73.0, 0.5, True)
    assert ((single - double).abs() / double).max().item() < 1e-6


@pytest.mark.parametrize("task", ["binary", "multiclass"])
def test_a_loss_first_called_in_a_compiled_step_checks_its_L(task):
    """The L range is checked when a dtype is first seen; inside a compiled step (the loss's first call) the check
    was skipped, and an L outside float32's range trained without the warning eager mode gives. It now runs
    with the value checks, which leave the graph."""
    options = {} if task == "binary" else {"task": "multiclass", "num_classes": 3}
    loss_fn = compile_metric("f1", L=400.0, **options).to_torch(pure=True)
    model = torch.nn.Linear(3, 1 if task == "binary" else 3)
    X = torch.randn(64, 3)
    y = (torch.rand(64) < 0.4).float() if task == "binary" else torch.randint(0, 3, (64,))

    def step():
        out = model(X)
        return loss_fn(out.squeeze(1) if task == "binary" else out, y)

    with pytest.warns(MetriccWarning, match="outside the valid range for float32"):
        torch.compile(step)()


@pytest.mark.parametrize("task", ["binary", "multiclass", "multilabel"])
@pytest.mark.parametrize("n", [64, 300_000])  # the stacked and the streaming path
def test_the_loss_lives_on_the_inputs_device_whatever_the_default_device(task, n):
    """Under torch.set_default_device (a GPU default is common in large-model code) the binary loss of inputs on
    another device came back on the default device: its scalars were made without a device. Every tensor the
    losses make follows the inputs (or is the host's read-back buffer); here the default is `meta`, where a tensor
    made without a device has no data to compute with."""
    options = {} if task == "binary" else {"task": task, "num_classes": 3}
    generator = torch.Generator().manual_seed(0)
    z = torch.randn(n, *(() if task == "binary" else (3,)), generator=generator)
    y = (torch.randint(0, 3, (n,), generator=generator) if task == "multiclass"
         else (torch.rand(z.shape, generator=generator) < 0.3).float())
    metric = compile_metric("f1", L=37.5, **options)  # (an L of its own: its validation runs here, under the default)
    for settings in ({}, {"pure": True}, {"bce_weight": 0.1, "momentum": 0.9}, {"check_inputs": False}):
        results = []
        for default in ("cpu", "meta"):
            loss_fn = metric.to_torch(**settings)
            with torch.device(default):
                x = z.clone().requires_grad_(True)
                loss = loss_fn(x, y)
                loss.backward()
            assert loss.device.type == "cpu" and x.grad.device.type == "cpu", (settings, default)
            assert loss_fn.running is None or loss_fn.running.device.type == "cpu"
            results.append((loss.item(), x.grad))
        assert results[0][0] == results[1][0], settings
        assert torch.equal(results[0][1], results[1][1]), settings


@pytest.mark.parametrize("backend", ["numpy", "torch"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("options", [{}, {"from_logits": False}, {"weighted": True}, {"ignore_index": -1},
                                     {"threshold": 0.3, "weighted": True}])
def test_block_by_block_gives_the_whole_batch_loss_and_gradient(options, dtype, backend, monkeypatch):
    """The NumPy loss, and the torch loss's streaming path on the CPU, go through the batch a block at a time
    (numpy_kernel.BLOCK_BYTES, torch_kernel.CPU_BLOCK): over blocks of 32 elements and a partial one, the loss and
    gradient equal the float64 oracle's on the whole batch, in float64 (1e-7) and float32 (1e-5), with weights,
    an ignore label, probabilities and another threshold."""
    from oracles import CATALOG_SCORES, assert_close, autograd_loss_and_grad

    monkeypatch.setattr(numpy_kernel, "BLOCK_BYTES", 32 * np.dtype(dtype).itemsize)
    monkeypatch.setattr(torch_kernel, "CPU_BLOCK", 32)
    monkeypatch.setattr(torch_kernel, "STACKED_MAX_SIZE", 16)
    options = dict(options)
    rng = np.random.default_rng(5)
    n = 32 * 3 + 7
    z = rng.normal(0, 0.1, n)
    z = 1 / (1 + np.exp(-z)) if options.get("from_logits") is False else z
    y = (rng.random(n) < 0.3).astype(np.float64)
    w = rng.uniform(0.1, 3.0, n) if options.pop("weighted", False) else None
    target = y.copy()
    if "ignore_index" in options:
        target[[3, 40, 100]] = -1
        w = np.where(target == -1, 0.0, 1.0) if w is None else w
    metric = compile_metric("mcc", **options)
    settings = {k: v for k, v in options.items() if k != "ignore_index"}
    expected = autograd_loss_and_grad(lambda *c: 1 - CATALOG_SCORES["mcc"][1](*c), z, y, w, **settings)
    weights = None if w is None or "ignore_index" in options else w.astype(dtype)
    if backend == "numpy":
        loss, grad = metric.loss_and_grad(z.astype(dtype), target.astype(dtype), weights)
        assert grad.dtype == dtype
    else:
        x = torch.tensor(z.astype(dtype), requires_grad=True)
        value = metric.to_torch(pure=True)(x, torch.tensor(target.astype(dtype)),
                                           None if weights is None else torch.tensor(weights))
        value.backward()
        loss, grad = value.item(), x.grad.numpy()
    rtol = 1e-7 if dtype == np.float64 else 1e-5
    assert loss == pytest.approx(expected[0], rel=rtol)
    assert_close(grad, expected[1], rtol)


def test_the_numpy_loss_allocates_one_batch_sized_array_the_gradient():
    """Beyond the inputs, loss_and_grad on a float32 batch of 10^6 allocates the gradient and the blocks'
    buffers (numpy_kernel.BLOCK_BYTES each), nothing else of the batch's size (it had six such arrays: 24 MB)."""
    import tracemalloc

    z, y = _batch(1_000_000)
    metric = compile_metric("f1")
    metric.loss_and_grad(z[:10], y[:10])  # the compiler's and kernel's one-time allocations
    tracemalloc.start()
    try:
        grad = metric.loss_and_grad(z, y)[1]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert grad.nbytes <= peak <= grad.nbytes + 8 * numpy_kernel.BLOCK_BYTES + 100_000


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("task, classes, options", [
    ("multiclass", 3, {}), ("multiclass", 3, {"weighted": True, "ignore_index": -1}), ("multiclass", 40, {}),
    ("multiclass", 3, {"probabilities": True}), ("multilabel", 3, {"weighted": True}),
    ("multilabel", 4, {"ignore_index": -1, "average": "micro"})])
def test_multi_class_losses_block_by_block_give_the_whole_batch_loss_and_gradient(task, classes, options, dtype,
                                                                                 monkeypatch):
    """On the CPU the multi-class and multi-label losses go through the rows a block at a time
    (torch_kernel.row_blocks): over blocks of 2 to 10 rows and a partial one, class-major (3 classes) and
    row-major (40), the loss and gradient equal the whole batch's at once, with weights, an ignore label, class
    probabilities and the micro average."""
    options = dict(options)
    weighted, probabilities = options.pop("weighted", False), options.pop("probabilities", False)
    n = 103
    rng = torch.Generator().manual_seed(7)
    z = torch.randn(n, classes, generator=rng, dtype=dtype)
    if task == "multilabel":
        y = (torch.rand(n, classes, generator=rng) < 0.4).to(dtype)
    elif probabilities:
        y = torch.softmax(torch.randn(n, classes, generator=rng, dtype=dtype) * 3, dim=1)
    else:
        y = torch.randint(0, classes, (n,), generator=rng)
    if "ignore_index" in options:
        y = y.clone()
        y[[3, 50, 100]] = -1
    w = torch.rand(n, generator=rng, dtype=dtype) + 0.1 if weighted else None
    metric = compile_metric("f1", task=task, num_classes=classes, **options)
    results = []
    for block in (torch_kernel.CPU_BLOCK, 32):
        monkeypatch.setattr(torch_kernel, "CPU_BLOCK", block)
        x = z.clone().requires_grad_(True)
        loss = metric.to_torch(pure=True)(x, y, w)
        loss.backward()
        results.append((loss.item(), x.grad))
    (whole, whole_grad), (blocked, blocked_grad) = results
    rtol = 1e-5 if dtype == torch.float32 else 1e-12
    assert blocked == pytest.approx(whole, rel=rtol)
    torch.testing.assert_close(blocked_grad, whole_grad, rtol=rtol, atol=rtol * whole_grad.abs().max().item())
