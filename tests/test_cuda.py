"""The torch losses on CUDA give the CPU's numbers, in every task and mode a user trains with, and raise the CPU's
errors. Skipped without a CUDA device (CI has none); run where one is: `pytest tests/test_cuda.py`."""

import copy
import math

import pytest
import torch

from metricc import MetriccError, compile_metric
from oracles import load_emitted

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")

TASKS = {"binary": {}, "multiclass": {"task": "multiclass", "num_classes": 5},
         "multilabel": {"task": "multilabel", "num_classes": 5}}


def batch(task, n=3000, dtype=torch.float64, seed=0, weights=False):
    """Logits, targets and (optionally) sample weights on the CPU."""
    g = torch.Generator().manual_seed(seed)
    shape = (n,) if task == "binary" else (n, 5)
    x = torch.randn(shape, generator=g, dtype=torch.float64).mul_(2).to(dtype)
    if task == "multiclass":
        y = torch.randint(0, 5, (n,), generator=g)
    else:
        y = (torch.rand(shape, generator=g) < 0.2).to(dtype)
    w = torch.rand(n, generator=g, dtype=torch.float64).add_(0.1).to(dtype) if weights else None
    return x, y, w


def loss_and_grad(loss_fn, x, y, w, device):
    x = x.detach().to(device, copy=True).requires_grad_()
    args = (x, y.to(device)) + (() if w is None else (w.to(device),))
    loss = loss_fn(*args)
    loss.backward()
    return loss.detach().cpu().double(), x.grad.cpu().double()


def assert_close(got, want, rtol):
    for g, e in zip(got, want):
        assert torch.isfinite(g).all()
        scale = e.abs().max().clamp_min(1e-300)
        assert (g - e).abs().max() <= rtol * scale, ((g - e).abs().max() / scale).item()


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("formula", ["f1", "mcc", "minimize: FP + 5*FN"])
@pytest.mark.parametrize("dtype, rtol", [(torch.float64, 1e-10), (torch.float32, 1e-4)])
@pytest.mark.parametrize("pure", [True, False])
@pytest.mark.parametrize("weights", [False, True])
def test_cuda_gives_the_cpus_loss_and_gradient(task, formula, dtype, rtol, pure, weights):
    if task != "binary" and formula != "f1":  # (multi-class MCC is not one-vs-rest; costs are binary)
        formula = "recall" if formula == "mcc" else "f1"
    metric = compile_metric(formula, **TASKS[task])
    x, y, w = batch(task, dtype=dtype, weights=weights)
    cpu, cuda = metric.to_torch(pure=pure), metric.to_torch(pure=pure).cuda()
    for step in range(3):  # the running counts (pure=False) move with each step
        x, y, w = batch(task, dtype=dtype, seed=step, weights=weights)
        assert_close(loss_and_grad(cuda, x, y, w, "cuda"), loss_and_grad(cpu, x, y, w, "cpu"), rtol)


@pytest.mark.parametrize("task", TASKS)
def test_a_loss_moved_to_cuda_mid_training_keeps_its_state(task):
    """`loss_fn.to("cuda")` after some CPU steps (a checkpoint resumed on a GPU) carries the running counts and
    the warm-up's step count along: its next steps equal a twin's that stays on the CPU."""
    metric = compile_metric("f1", **TASKS[task])
    loss_fn = metric.to_torch(warmup=10)
    for step in range(3):
        loss_and_grad(loss_fn, *batch(task, seed=step), "cpu")
    twin = copy.deepcopy(loss_fn)
    loss_fn.to("cuda")
    for step in range(3, 6):
        x, y, w = batch(task, seed=step)
        assert_close(loss_and_grad(loss_fn, x, y, w, "cuda"), loss_and_grad(twin, x, y, w, "cpu"), 1e-10)


@pytest.mark.parametrize("task", TASKS)
def test_a_loss_never_moved_to_cuda_trains_on_cuda_inputs(task):
    """`loss_fn = metric.to_torch()` used on CUDA tensors without `loss_fn.cuda()`, as stateless torch losses are
    used: its running counts (and class weights) were on the CPU, and the first step raised "Expected all tensors
    to be on the same device". They now follow the input, and the steps equal a CPU twin's."""
    options = {} if task == "binary" else {"class_weight": [1.0, 2.0, 1.0, 0.5, 1.0]}
    metric = compile_metric("f1", **TASKS[task], **options)
    loss_fn, twin = metric.to_torch(), metric.to_torch()
    for step in range(3):
        x, y, w = batch(task, seed=step, weights=True)
        assert_close(loss_and_grad(loss_fn, x, y, w, "cuda"), loss_and_grad(twin, x, y, w, "cpu"), 1e-10)
    assert all(buffer.is_cuda for buffer in loss_fn.buffers())


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_logits_on_cuda(task, dtype):
    """float16 and bfloat16 logits: a finite loss and a gradient of the logits' type, near the CPU's float32 ones
    on the same (rounded) logits (the loss computes in float32 and rounds the gradient once)."""
    metric = compile_metric("f1", **TASKS[task])
    x, y, w = batch(task, dtype=torch.float32)
    want = loss_and_grad(metric.to_torch(pure=True), x.to(dtype).float(), y, w, "cpu")
    half = x.to(dtype).cuda().requires_grad_()
    loss = metric.to_torch(pure=True).cuda()(half, y.to(dtype if task == "multilabel" else y.dtype).cuda())
    loss.backward()
    assert half.grad.dtype == dtype
    assert_close((loss.detach().cpu().double(), half.grad.cpu().double()), want, 0.01)


@pytest.mark.parametrize("task", TASKS)
def test_autocast_on_cuda(task):
    """A model under torch.autocast("cuda", bfloat16): the loss trains the model's float32 weights."""
    metric = compile_metric("f1", **TASKS[task])
    model = torch.nn.Linear(8, 1 if task == "binary" else 5).cuda()
    loss_fn = metric.to_torch().cuda()
    g = torch.Generator().manual_seed(1)
    X = torch.randn(2048, 8, generator=g).cuda()
    _, y, _ = batch(task, n=2048, dtype=torch.float32)
    with torch.autocast("cuda", dtype=torch.bfloat16):
        out = model(X)
        loss = loss_fn(out.squeeze(1) if task == "binary" else out, y.cuda())
    loss.backward()
    assert math.isfinite(loss.item()) and model.weight.grad.dtype == torch.float32
    assert torch.isfinite(model.weight.grad).all() and model.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("task", TASKS)
def test_fused_kernels_on_cuda_equal_eager(task):
    """compile=True (the forward and backward passes as torch.compile kernels) on CUDA."""
    metric = compile_metric("f1", **TASKS[task])
    x, y, w = batch(task, dtype=torch.float32, weights=True)
    eager = loss_and_grad(metric.to_torch(pure=True).cuda(), x, y, w, "cuda")
    fused = loss_and_grad(metric.to_torch(pure=True, compile=True).cuda(), x, y, w, "cuda")
    assert_close(fused, eager, 1e-4)


def test_a_compiled_training_step_on_cuda():
    """torch.compile of a whole step (model, loss, backward) on CUDA: the compiled step's gradient is eager's."""
    metric = compile_metric("mcc")
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 1)).cuda()
    loss_fn = metric.to_torch(pure=True).cuda()
    g = torch.Generator().manual_seed(2)
    X, y = torch.randn(4096, 8, generator=g).cuda(), (torch.rand(4096, generator=g) < 0.3).float().cuda()

    def step(X, y):
        model.zero_grad()
        loss = loss_fn(model(X).squeeze(1), y)
        loss.backward()
        return loss.detach(), [p.grad.clone() for p in model.parameters()]

    want = step(X, y)
    got = torch.compile(step)(X, y)
    assert torch.allclose(got[0], want[0], rtol=1e-5, atol=0)
    for a, b in zip(got[1], want[1]):
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-5 * b.abs().max().item())


def host_waits(step):
    """The calls in three CUDA steps (after two to warm up) that make the host wait for the device: stream
    synchronisations and copies from pageable host memory (which synchronise the stream), by the profiler (whose
    own device synchronisation at its end is left out); the sync-debug mode sees only some of them."""
    from torch.profiler import ProfilerActivity, profile

    for _ in range(2):
        step()
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
            for _ in range(3):
                step()
    finally:
        torch.cuda.set_sync_debug_mode("default")
    torch.cuda.synchronize()
    return {e.key: e.count for e in prof.key_averages() if "cudaStreamSynchronize" in e.key or "Pageable" in e.key}


@pytest.mark.parametrize("task, formula, options", [
    ("binary", "f1", {}), ("binary", "f1", {"pure": True}), ("binary", "minimize: FP + 5*FN", {}),
    ("binary", "f1", {"warmup": 100}), ("binary", "f1", {"compile": True}), ("binary", "f1", {"bce_weight": 0.5}),
    ("multiclass", "f1", {}), ("multiclass", "recall", {"pure": True}), ("multiclass", "f1", {"compile": True}),
    ("multilabel", "f1", {}), ("multilabel", "recall", {"average": "micro"}),
])
@pytest.mark.parametrize("weights", [False, True])
def test_a_cuda_training_step_never_waits_for_the_device(task, formula, options, weights):
    """Forward and backward on CUDA queue their kernels without waiting: a Python number (a constant partial,
    the unit weight, L during the warm-up or in a fused step) made into a CUDA tensor by a copy from host memory
    synchronised the stream at every step (the binary loss's default step did, once per call)."""
    options = dict(options)
    average = {"average": options.pop("average")} if "average" in options else {}
    loss_fn = compile_metric(formula, **TASKS[task], **average).to_torch(**options).cuda()
    x, y, w = batch(task, dtype=torch.float32, weights=weights)
    x, y, w = x.cuda().requires_grad_(), y.cuda(), None if w is None else w.cuda()
    assert host_waits(lambda: loss_fn(x, y, w).backward()) == {}


@pytest.mark.parametrize("task, bad, message", [
    ("binary", "nan", "Expected finite `input`"),
    ("binary", "label", r"Expected `target` values in \[0, 1\]"),
    ("multiclass", "label", r"Expected class indices in \[0, 5\)"),
    ("multilabel", "label", r"Expected multi-label `target` values in \[0, 1\]"),
])
def test_bad_input_on_cuda_raises_the_cpus_error(task, bad, message):
    """A bad batch on CUDA raises (at the latest at check_pending()) with the message the CPU gives at once."""
    metric = compile_metric("f1", **TASKS[task])
    x, y, _ = batch(task, n=64, dtype=torch.float32)
    if bad == "nan":
        x[3] = math.nan
    else:
        y[3] = 7 if task == "multiclass" else 2.0
    with pytest.raises(MetriccError, match=message):
        metric.to_torch()(x, y)
    loss_fn = metric.to_torch().cuda()
    with pytest.raises(MetriccError, match=message):
        loss_fn(x.cuda(), y.cuda())
        loss_fn.check_pending()


@pytest.mark.parametrize("task", TASKS)
def test_emitted_module_on_cuda_equals_the_api(task):
    metric = compile_metric("f1", **TASKS[task])
    module = load_emitted(metric.emit("torch"))
    loss_class = module["MetricLoss"]
    x, y, w = batch(task, dtype=torch.float32, weights=True)
    want = loss_and_grad(metric.to_torch().cuda(), x, y, w, "cuda")
    assert_close(loss_and_grad(loss_class().cuda(), x, y, w, "cuda"), want, 1e-6)
