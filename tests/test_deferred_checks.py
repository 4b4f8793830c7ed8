"""Input checks without host synchronisation: deferred on accelerators (simulated here by treating the CPU as one),
and running inside a user's torch.compile'd step."""

import inspect
import math
import warnings

import pytest
import torch

from metricc import MetriccError, MetriccWarning, compile_metric, torch_kernel
from metricc.torch_kernel import DEFERRED_NOTE


class _Event:
    """Stands in for a device event: not finished until the test says so."""

    finished = False

    def __init__(self, device=None):
        pass

    def record(self):
        pass

    def query(self):
        return _Event.finished

    def synchronize(self):
        _Event.finished = True


class _Reads(list):
    """The names of tensor read-backs made since start()."""

    recording = False

    def start(self):
        self.clear()
        self.recording = True


@pytest.fixture
def as_accelerator(monkeypatch):
    """The CPU treated as an accelerator: checks are deferred; records every read-back of a tensor's value."""
    monkeypatch.setattr(torch_kernel, "reads_back_now", lambda device: False)
    monkeypatch.setattr(torch_kernel.torch, "Event", _Event, raising=False)  # (torch 2.4 on has it)
    _Event.finished = False
    reads = _Reads()

    def record(name):
        original = getattr(torch.Tensor, name)

        def recorded(self, *args, **kwargs):
            if reads.recording:
                reads.append(name)
            return original(self, *args, **kwargs)
        monkeypatch.setattr(torch.Tensor, name, recorded)

    for name in ("tolist", "item", "__float__", "__bool__", "__int__"):
        record(name)
    return reads


def _warm(loss_fn):
    """A first call: it checks (once per dtype) that L suits float32, which reads values."""
    x, y = _batch(seed=99)
    loss_fn(x, y).backward()
    loss_fn.check_pending()
    _Event.finished = False  # the next copies are still "on the device"
    return loss_fn


def _batch(n=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, generator=g, requires_grad=True), (torch.rand(n, generator=g) < 0.3).float()


@pytest.mark.parametrize("options", [{"pure": True}, {}, {"warmup": 3, "bce_weight": 0.1}],
                         ids=["pure", "defaults", "warm-up"])
def test_training_steps_read_nothing_back(as_accelerator, options, monkeypatch):
    """Valid batches: a forward and backward pass per step and no tensor value read on the host (what would
    stall an accelerator's queue; a warm-up's L comes from its step count on the device); the losses and gradients
    equal those of the immediate CPU path."""
    loss_fn = _warm(compile_metric("f1").to_torch(**options))
    results = []
    as_accelerator.start()
    for step in range(3):
        x, y = _batch(seed=step)
        loss = loss_fn(x, y)
        loss.backward()
        results.append((loss.detach().clone(), x.grad.clone()))
    assert as_accelerator == []
    assert len(loss_fn._pending) == 3
    as_accelerator.recording = False
    assert loss_fn.steps == (4 if options.get("warmup") else 0)
    monkeypatch.setattr(torch_kernel, "reads_back_now", lambda device: True)
    reference_fn = _warm(compile_metric("f1").to_torch(**options))
    for step, (loss, grad) in enumerate(results):
        x, y = _batch(seed=step)
        reference = reference_fn(x, y)
        reference.backward()
        torch.testing.assert_close(loss, reference.detach(), rtol=1e-6, atol=0)
        torch.testing.assert_close(grad, x.grad, rtol=1e-5, atol=1e-9)


def test_a_bad_batch_gets_a_nan_loss_and_the_error_at_the_next_call(as_accelerator):
    loss_fn = _warm(compile_metric("f1").to_torch(pure=True))
    x, y = _batch()
    x_bad = x.detach().clone()
    x_bad[5] = math.nan
    as_accelerator.start()
    loss = loss_fn(x_bad, y)  # no read-back: the error cannot be raised yet
    loss_fn(x, y)  # the copy has not finished: still no wait, no error
    assert as_accelerator == []
    as_accelerator.recording = False
    assert math.isnan(loss.item())
    _Event.finished = True
    # (deferred, the batch is gone: the value is named, not placed, and the error says it is an earlier batch's,
    # raised at a call whose own batch is fine, and how to find it)
    with pytest.raises(MetriccError, match="^Expected finite `input`, but it holds NaN: missing values in the data") \
            as error:
        loss_fn(x, y)
    assert str(error.value).endswith(DEFERRED_NOTE)


@pytest.mark.parametrize("task", ["binary", "multiclass"])
def test_a_device_that_never_reports_still_gives_the_error_within_the_pending_limit(as_accelerator, task):
    """The host runs at most MAX_PENDING_CHECKS calls ahead of the device's copies of the checks' values: with
    copies that never report done, a bad batch's error still comes within that many later calls (the oldest is
    waited for), and the pending checks do not pile up."""
    if task == "binary":
        loss_fn = _warm(compile_metric("f1").to_torch(pure=True))
        x, y = _batch()
    else:
        loss_fn = compile_metric("f1", task="multiclass", num_classes=3).to_torch(pure=True)
        x, y = torch.randn(64, 3, generator=torch.Generator().manual_seed(1)), torch.arange(64) % 3
        loss_fn(x, y)  # (the first call's one-off checks read values)
        loss_fn.check_pending()
        _Event.finished = False
    x_bad = x.detach().clone()
    x_bad[5] = math.nan
    assert math.isnan(loss_fn(x_bad, y).item())
    later = 0
    with pytest.raises(MetriccError, match="NaN"):
        while later < 100:
            later += 1
            loss_fn(x, y)
            assert len(loss_fn._pending) <= torch_kernel.MAX_PENDING_CHECKS
    assert later <= torch_kernel.MAX_PENDING_CHECKS


def test_a_deferred_check_of_swapped_arguments_says_so_from_the_extremes(as_accelerator):
    """loss(target, logits): the deferred check has the input's and the target's extremes alone, which tell a swap
    (input from 0 to 1, target fractions outside [0, 1]) as the CPU's check does."""
    loss_fn = _warm(compile_metric("f1").to_torch(pure=True))
    x, y = _batch()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MetriccWarning)  # the input's 0 and 1 look like probabilities too
        loss_fn(y, x.detach())
        with pytest.raises(MetriccError, match=r"arguments swapped\? the loss takes \(input, target\), logits first"):
            loss_fn.check_pending()


@pytest.mark.parametrize("bad, message", [
    ("target", r"Expected `target` values in \[0, 1\]"),
    ("weight", "Expected `sample_weight` to be finite and non-negative"),
    ("infinite weight", "Expected `sample_weight` to be finite and non-negative"),
])
def test_check_pending_raises_the_same_errors_as_the_cpu(as_accelerator, bad, message, monkeypatch):
    loss_fn = _warm(compile_metric("f1").to_torch(pure=True))
    x, y = _batch()
    w = torch.ones_like(y)
    if bad == "target":
        y = y.clone()
        y[0] = 2.0
    else:
        w[3] = -1.0 if bad == "weight" else math.inf
    loss_fn(x, y, w)
    with pytest.raises(MetriccError, match=message):
        loss_fn.check_pending()
    monkeypatch.setattr(torch_kernel, "reads_back_now", lambda device: True)  # the CPU: at once, same message
    with pytest.raises(MetriccError, match=message):
        compile_metric("f1").to_torch(pure=True)(x, y, w)


@pytest.mark.parametrize("bad, message", [
    ("nan", "Expected finite `input`, but it holds NaN at index 0: missing values in the data"),
    ("target", r"Expected `target` values in \[0, 1\]"),
])
def test_checks_run_inside_a_compiled_training_step(bad, message):
    """A user's torch.compile'd step still checks the inputs (a graph break around the check), with the
    eager messages; a valid step gives the eager loss."""
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    loss_fn = compile_metric("f1").to_torch(pure=True)
    X, y = torch.randn(32, 3), (torch.rand(32) < 0.4).float()

    @torch.compile
    def step(X, y):
        loss = loss_fn(model(X).squeeze(1), y)
        loss.backward()
        return loss

    assert step(X, y).item() == pytest.approx(loss_fn(model(X).squeeze(1), y).item(), rel=1e-6)
    if bad == "nan":
        X = X.clone()
        X[0, 0] = math.nan
    else:
        y = y.clone()
        y[0] = 2.0
    with pytest.raises(MetriccError, match=message):
        step(X, y)


def test_a_compiled_step_breaks_its_graph_only_at_the_checks():
    """torch.compile traces the loss's autograd function into the step's graph: its one graph break is the input
    check after it (the question whether a torch.func transform is active, which dynamo cannot trace, is not
    asked while it compiles)."""
    model = torch.nn.Linear(3, 1)
    loss_fn = compile_metric("f1").to_torch(pure=True)
    X, y = torch.randn(32, 3), (torch.rand(32) < 0.4).float()
    explanation = torch._dynamo.explain(lambda X, y: loss_fn(model(X).squeeze(1), y))(X, y)
    reasons = [str(reason.reason) for reason in explanation.break_reasons]
    assert explanation.graph_break_count == 1 and all("_check_values" in reason for reason in reasons), reasons


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_no_host_synchronisation_on_cuda():
    loss_fn = compile_metric("f1").to_torch()
    x = torch.randn(4096, device="cuda", requires_grad=True)
    y = (torch.rand(4096, device="cuda") < 0.2).float()
    loss_fn(x, y).backward()  # warm-up: the first call may check the dtype's L range
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        for _ in range(3):
            loss_fn(x, y).backward()
    finally:
        torch.cuda.set_sync_debug_mode("default")


@pytest.mark.parametrize("task", ["multiclass", "multilabel"])
def test_multiclass_steps_read_nothing_back_and_raise_later(as_accelerator, task):
    """The multi-class and multi-label losses: no read-back in a training step; a bad batch (a class index out
    of range, a label of 2) raises the CPU's message at the next call once its copy has arrived."""
    loss_fn = compile_metric("f1", task=task, num_classes=4).to_torch()
    g = torch.Generator().manual_seed(0)

    def batch(bad=False):
        x = torch.randn(32, 4, generator=g, requires_grad=True)
        y = (torch.randint(0, 4, (32,), generator=g) if task == "multiclass"
             else (torch.rand(32, 4, generator=g) < 0.3).float())
        if bad:
            y[0] = 7 if task == "multiclass" else 2.0
        return x, y

    x, y = batch()
    loss_fn(x, y).backward()
    loss_fn.check_pending()
    _Event.finished = False
    as_accelerator.start()
    for _ in range(2):
        x, y = batch()
        loss_fn(x, y).backward()
    x, y = batch(bad=True)
    loss = loss_fn(x, y)
    assert as_accelerator == []
    as_accelerator.recording = False
    assert math.isnan(loss.item())
    _Event.finished = True
    message = r"Expected class indices in \[0, 4\), but got 7: 8 classes\?" if task == "multiclass" else \
        r"Expected multi-label `target` values in \[0, 1\], but they range from 0 to 2"
    with pytest.raises(MetriccError, match=message) as error:
        loss_fn(*batch())
    assert str(error.value).endswith(DEFERRED_NOTE)


def test_a_deferred_binary_loss_that_is_not_finite_raises_without_counts(as_accelerator):
    """A binary loss that is not finite, checked later: its counts stayed on the device, so the message says what
    is wrong without them (the CPU's gives them)."""
    loss_fn = compile_metric("minimize: 1/(TP - FN)").to_torch(pure=True)
    _Event.finished = False
    assert math.isnan(loss_fn(torch.zeros(4, requires_grad=True), torch.ones(4)).item())
    with pytest.raises(MetriccError, match=r"^the minimize: 1/\(TP - FN\) loss or its gradient is not finite in "
                                           r"float32: the formula divides by 0 there"):
        loss_fn.check_pending()


@pytest.mark.parametrize("n", [64, 20000], ids=["folded", "added"])
def test_a_deferred_binary_blend_that_overflows_is_named(as_accelerator, n):
    """A binary loss whose BCE blend passes float32's range, checked later (the blend computed in the loss's pass,
    or torch's BCE added to it for a large batch, before the check): the error names the blend beside the formula
    (without the counts, which stayed on the device, either may be at fault); a large batch's loss had been inf
    without a check."""
    loss_fn = compile_metric("f1").to_torch(pure=True, bce_weight=3e38)
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(n, generator=g) * 3, (torch.rand(n, generator=g) < 0.5).float()
    _Event.finished = False
    assert not math.isfinite(loss_fn(x, y).item())
    with pytest.raises(MetriccError, match=r"^the f1 loss or its gradient is not finite in float32: .*; or the "
                                           r"cross-entropy blend \(bce_weight=3e\+38\) is not finite in float32"):
        loss_fn.check_pending()


@pytest.mark.parametrize("task", ["multiclass", "multilabel"])
def test_a_deferred_check_names_the_class_that_is_not_finite(as_accelerator, task):
    """A multi-class or multi-label loss that is not finite for one class, checked later: the error names that
    class (label) and its counts, which come back with the loss."""
    loss_fn = compile_metric("minimize: 1/(TP - FN)", task=task, num_classes=2).to_torch(pure=True)
    x = torch.tensor([[3.0, 0], [3.0, 0], [0, 0], [0, 0]], requires_grad=True)
    y = torch.tensor([0, 0, 1, 1]) if task == "multiclass" else torch.tensor([[1.0, 0], [1, 0], [0, 1], [0, 1]])
    _Event.finished = False
    assert math.isnan(loss_fn(x, y).item())
    part = "class" if task == "multiclass" else "label"
    with pytest.raises(MetriccError, match=rf"not finite in float32 for {part} 1 at the counts TP, FP, FN, TN = 1, "):
        loss_fn.check_pending()


@pytest.mark.parametrize("task", ["binary", "multiclass", "multilabel"])
def test_a_deferred_check_passes_weights_with_zeros(as_accelerator, task):
    """A sample weight of 0 (a padded row) is a valid weight: the deferred check keeps the batch's loss, and
    the next call does not raise."""
    options = {} if task == "binary" else {"task": task, "num_classes": 4}
    loss_fn = compile_metric("f1", **options).to_torch()
    g = torch.Generator().manual_seed(1)
    x = torch.randn(32, generator=g) if task == "binary" else torch.randn(32, 4, generator=g)
    y = {"binary": (torch.rand(32, generator=g) < 0.3).float(), "multiclass": torch.randint(0, 4, (32,), generator=g),
         "multilabel": (torch.rand(32, 4, generator=g) < 0.3).float()}[task]
    weight = torch.ones(32)
    weight[:5] = 0
    _Event.finished = False
    loss = loss_fn(x, y, weight)
    _Event.finished = True
    assert math.isfinite(loss.item())
    loss_fn(x, y, weight)
    loss_fn.check_pending()


def test_a_deferred_check_passes_class_probability_targets(as_accelerator):
    """Multi-class targets given as class probabilities (label smoothing) pass the deferred check: the batch's
    loss is kept, and the next call does not raise."""
    loss_fn = compile_metric("f1", task="multiclass", num_classes=4).to_torch()
    g = torch.Generator().manual_seed(2)
    x = torch.randn(32, 4, generator=g)
    y = torch.nn.functional.one_hot(torch.randint(0, 4, (32,), generator=g), 4) * 0.9 + 0.025
    _Event.finished = False
    loss = loss_fn(x, y)
    _Event.finished = True
    assert math.isfinite(loss.item())
    loss_fn(x, y)
    loss_fn.check_pending()


def test_the_probability_hint_points_at_the_callers_line():
    """The warning is raised deep inside the autograd function; it names the line that called the loss."""
    import warnings

    loss_fn = compile_metric("f1").to_torch(pure=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loss_fn(torch.linspace(0, 1, 20), (torch.rand(20) < 0.3).float()); line = _line()  # noqa: E702
    assert [(w.filename, w.lineno) for w in caught] == [(__file__, line)]


def _line():
    import sys

    return sys._getframe(1).f_lineno


def _binary(generator):
    return torch.randn(32, generator=generator), (torch.rand(32, generator=generator) < 0.3).float()


def _multiclass(generator):
    return torch.randn(32, 3, generator=generator), torch.randint(0, 3, (32,), generator=generator)


def _multilabel(generator):
    return torch.randn(32, 3, generator=generator), (torch.rand(32, 3, generator=generator) < 0.3).float()


TASKS = {"binary": ({}, _binary), "multiclass": ({"task": "multiclass", "num_classes": 3}, _multiclass),
         "multilabel": ({"task": "multilabel", "num_classes": 3}, _multilabel)}
REFUSED = {"NaN input": lambda z, y: (torch.full_like(z, math.nan), y),
           "infinite input": lambda z, y: (torch.full_like(z, math.inf), y),
           "target out of range": lambda z, y: (z, torch.full_like(y, 5))}


@pytest.mark.parametrize("deferred", [False, True], ids=["at once", "deferred"])
@pytest.mark.parametrize("refused", REFUSED)
@pytest.mark.parametrize("task", TASKS)
def test_a_refused_batch_leaves_the_running_counts_alone(task, refused, deferred, request):
    """A batch that fails the input checks raises (at once on the CPU, at the next call or check_pending() on an
    accelerator) and does not enter the running estimates of the counts: a NaN batch used to make them NaN for
    good (every later call then failed, blaming the sample weights). Training goes on as if it never came."""
    if deferred:
        request.getfixturevalue("as_accelerator")
    options, batch = TASKS[task]
    module, reference = (compile_metric("f1", **options).to_torch(momentum=0.9) for _ in range(2))
    generator = torch.Generator().manual_seed(0)
    first, second = batch(generator), batch(generator)
    for loss in (module, reference):
        loss(first[0].clone().requires_grad_(True), first[1]).backward()
    with pytest.raises(MetriccError, match="Expected"):
        module(*REFUSED[refused](*second))
        module.check_pending()
    assert torch.equal(module.running, reference.running)
    value, expected = module(*second), reference(*second)
    assert value.item() == expected.item()
    assert torch.equal(module.running, reference.running)


@pytest.mark.parametrize("task", TASKS)
def test_an_unchecked_nan_batch_leaves_the_running_counts_alone(task):
    """With check_inputs=False nothing refuses a NaN logit: that batch's loss is NaN (the caller asked for no
    checks), but its rates, not finite, do not enter the running estimates, which would stay NaN for good; the
    next batch gives what it gives without the NaN batch."""
    options, batch = TASKS[task]
    module, reference = (compile_metric("f1", **options).to_torch(momentum=0.9, check_inputs=False)
                         for _ in range(2))
    generator = torch.Generator().manual_seed(0)
    first, second = batch(generator), batch(generator)
    for loss in (module, reference):
        loss(first[0].clone().requires_grad_(True), first[1]).backward()
    poisoned = second[0].clone()
    poisoned.view(-1)[3] = math.nan
    assert math.isnan(module(poisoned, second[1]).item())
    assert torch.equal(module.running, reference.running)
    assert module(*second).item() == reference(*second).item()


@pytest.mark.parametrize("task", ["binary", "multiclass"])
def test_deferred_checks_take_the_largest_finite_logits_as_finite(as_accelerator, task):
    """The deferred checks added the smallest and the largest logit to see both finite: 1e308 and 9e307 overflow
    that sum, and the loss came out NaN, its error pending, for finite logits."""
    options = {} if task == "binary" else {"task": "multiclass", "num_classes": 3}
    loss_fn = compile_metric("f1", **options).to_torch(pure=True)
    x = torch.full((6,) if task == "binary" else (6, 3), 1e308, dtype=torch.float64)
    x.view(-1)[1::2] = 9e307
    y = torch.tensor([0, 1, 1, 0, 1, 0.0]) if task == "binary" else torch.tensor([0, 1, 2, 0, 1, 2])
    loss = loss_fn(x, y)
    _Event.finished = True
    loss_fn.check_pending()
    assert math.isfinite(loss.item())


def test_deferred_checks_take_probabilities_of_exactly_0_and_1(as_accelerator):
    """from_logits=False: probabilities of exactly 0 and 1, and a sample weight of 0, pass the deferred checks as
    they pass the CPU's, with the same loss; a probability above 1 or below 0 fails both, with the same error."""
    p = torch.tensor([0.0, 1.0, 0.3, 1.0, 0.0, 0.8], dtype=torch.float64)
    y = torch.tensor([0.0, 1.0, 1.0, 0.0, 1.0, 0.0], dtype=torch.float64)
    w = torch.tensor([1.0, 0.0, 2.0, 1.0, 1.0, 0.5], dtype=torch.float64)
    for probabilities, message in [(p, None), (torch.where(p == 1, 1.5, p), r"\[0, 1\]"),
                                   (torch.where(p == 0, -0.5, p), r"\[0, 1\]")]:
        deferred = compile_metric("f1").to_torch(pure=True, from_logits=False)
        immediate = compile_metric("f1").to_torch(pure=True, from_logits=False)
        loss = deferred(probabilities, y, w)
        _Event.finished = True
        with pytest.MonkeyPatch.context() as cpu:
            cpu.setattr(torch_kernel, "reads_back_now", lambda device: True)
            if message is None:
                deferred.check_pending()
                assert loss.item() == immediate(probabilities, y, w).item()
                continue
            assert math.isnan(loss.item())
            with pytest.raises(MetriccError, match=message):
                deferred.check_pending()
            with pytest.raises(MetriccError, match=message):
                immediate(probabilities, y, w)
        _Event.finished = False


def _check_deferred_verdict(metric, options, arguments, fails):
    """One call of a loss with `options` on the accelerator stand-in: where the batch `fails` the checks its loss is
    NaN at once, the error follows at check_pending() and no running count takes it; otherwise the loss is the
    CPU's and the running counts take the batch."""
    deferred = metric.to_torch(**options)
    deferred.train()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MetriccWarning)  # (light or heavy weights)
        loss = deferred(*arguments)
        _Event.finished = True
        if fails:
            assert math.isnan(loss.item())
            with pytest.raises(MetriccError, match="Expected|add up"):
                deferred.check_pending()
        else:
            deferred.check_pending()
            with pytest.MonkeyPatch.context() as cpu:
                cpu.setattr(torch_kernel, "reads_back_now", lambda device: True)
                assert loss.item() == pytest.approx(metric.to_torch(**options)(*arguments).item(), rel=1e-12)
    _Event.finished = False
    if "momentum" in options:  # no batch counted (for any class), or one
        assert (deferred.running[4] == (0 if fails else 1)).all()


# one bad value per check the device computes (binary): where it sits, what it is, and the loss's options
FAILING_BINARY_VALUES = {
    "NaN logit": ("input", 3, math.nan, {}), "infinite logit": ("input", 3, -math.inf, {}),
    "label below 0": ("target", 3, -0.5, {}), "label above 1": ("target", 3, 1.0 + 2 ** -52, {}),
    "NaN label": ("target", 3, math.nan, {}), "negative weight": ("weight", 3, -1e-300, {}),
    "infinite weight": ("weight", 3, math.inf, {}), "NaN weight": ("weight", 3, math.nan, {}),
    "probability below 0": ("input", 3, -2 ** -60, {"from_logits": False}),
    "probability above 1": ("input", 3, 1.0 + 2 ** -52, {"from_logits": False}),
}


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("options", [{"pure": True}, {"momentum": 0.9}], ids=["pure", "running counts"])
@pytest.mark.parametrize("bad", FAILING_BINARY_VALUES)
def test_each_failing_value_makes_the_deferred_loss_nan_at_once(as_accelerator, bad, options, weighted):
    """On an accelerator every value the checks refuse makes that batch's loss NaN at once (the error follows at
    check_pending()) and leaves the running counts as they were; the same batch with the value at the bound
    (a label of 0 or 1, a probability of 0 or 1, a weight of 0, a large finite logit) gives the CPU's loss."""
    where, index, value, loss_options = FAILING_BINARY_VALUES[bad]
    if where == "weight" and not weighted:
        pytest.skip("no weights to hold the value")
    generator = torch.Generator().manual_seed(1)
    x = torch.rand(16, generator=generator, dtype=torch.float64)
    y = (torch.rand(16, generator=generator) < 0.4).double()
    batch = {"input": x, "target": y, "weight": torch.rand(16, generator=generator, dtype=torch.float64) + 0.5}
    at_bound = {"input": 1.0 if loss_options else 1e300, "target": 1.0, "weight": 0.0}[where]
    for value_here, fails in [(value, True), (at_bound, False), (0.0, False)]:
        given = {name: tensor.clone() for name, tensor in batch.items()}
        given[where][index] = value_here
        arguments = (given["input"], given["target"], given["weight"] if weighted else None)
        _check_deferred_verdict(compile_metric("f1"), {**loss_options, **options}, arguments, fails)


def _class_batch(task, kind):
    """Logits (8, 3), a target (class indices, class-probability rows or multi-label 0/1) and weights, float64."""
    generator = torch.Generator().manual_seed(2)
    x = torch.randn(8, 3, generator=generator, dtype=torch.float64)
    if kind == "probabilities":
        y = torch.softmax(torch.randn(8, 3, generator=generator, dtype=torch.float64), 1)
    elif task == "multiclass":
        y = torch.arange(8) % 3
    else:
        y = (torch.rand(8, 3, generator=generator) < 0.4).double()
    return {"input": x, "target": y, "weight": torch.rand(8, generator=generator, dtype=torch.float64) + 0.5}


def _set(batch, where, value):
    """The batch with one value changed: `where` names the tensor, with an index or a whole row after a colon."""
    name, _, place = where.partition(":")
    changed = {key: tensor.clone() for key, tensor in batch.items()}
    if place == "row":
        changed[name][3] = torch.tensor(value, dtype=changed[name].dtype)
    elif value == "all zero":
        changed[name].zero_()
    else:
        changed[name].view(-1)[3] = value
    return changed


# (task, kind of target, where, refused value, the value at its bound): one per check the device computes
FAILING_CLASS_VALUES = {
    "NaN logit": ("multiclass", "indices", "input", math.nan, 1e300),
    "infinite logit": ("multilabel", "labels", "input", math.inf, -1e300),
    "class index below 0": ("multiclass", "indices", "target", -1, 0),
    "class index past the last class": ("multiclass", "indices", "target", 3, 2),
    "label below 0": ("multilabel", "labels", "target", -2 ** -60, 0.0),
    "label above 1": ("multilabel", "labels", "target", 1.0 + 2 ** -52, 1.0),
    "probability above 1": ("multiclass", "probabilities", "target:row", [1.0 + 2 ** -52, 0.0, 0.0],
                            [1.0, 0.0, 0.0]),
    "probability below 0": ("multiclass", "probabilities", "target:row", [1.005, -0.005, 0.0], [1.0, 0.0, 0.0]),
    "row sum far from 1": ("multiclass", "probabilities", "target:row", [0.5, 0.3, 0.1], [0.5, 0.3, 0.2]),
    "negative weight": ("multiclass", "indices", "weight", -1e-300, 0.0),
    "infinite weight": ("multilabel", "labels", "weight", math.inf, 1e90),
    "all weights 0": ("multiclass", "indices", "weight", "all zero", 0.0),
    "weights past the count limit": ("multiclass", "indices", "weight", 1e101, 1e6),
}


@pytest.mark.parametrize("options", [{"pure": True}, {"momentum": 0.9}], ids=["pure", "running counts"])
@pytest.mark.parametrize("bad", FAILING_CLASS_VALUES)
def test_each_failing_class_value_makes_the_deferred_loss_nan_at_once(as_accelerator, bad, options):
    """Multi-class and multi-label: on an accelerator every value the checks refuse makes that batch's loss NaN at
    once (the error follows at check_pending()) and leaves the running counts as they were; the same batch with the
    value at its bound (the last class, a probability or label of 1, a weight of 0, large finite logits) gives the
    CPU's loss."""
    task, kind, where, value, at_bound = FAILING_CLASS_VALUES[bad]
    batch = _class_batch(task, kind)
    for value_here, fails in [(value, True), (at_bound, False)]:
        given = _set(batch, where, value_here)
        _check_deferred_verdict(compile_metric("f1", task=task, num_classes=3), options,
                                (given["input"], given["target"], given["weight"]), fails)


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_the_class_verdict_under_sync_refuses_another_processs_failure(weighted):
    """Under sync=True the summary the device judges ends with the number of processes whose inputs failed (the
    forward pass sums it over the processes): none passes, one fails. (sync is set on the module directly: the
    distributed tests run on the CPU, where the checks are read back instead.)"""
    loss_fn = compile_metric("f1", task="multiclass", num_classes=3).to_torch(sync=True)
    fields = [-1.0, 1.0, 0.0, 2.0, 0.0, 1.0] + ([0.0, 2.0, 5.0] if weighted else [])
    for failed, passes in [(0.0, True), (1.0, False), (2.0, False)]:
        summary = torch.tensor([*fields, failed], dtype=torch.float64)
        assert loss_fn._passing(summary, weighted).item() is passes
    nan_input = torch.tensor([math.nan, *fields[1:], 0.0], dtype=torch.float64)
    assert loss_fn._passing(nan_input, weighted).item() is False


@pytest.fixture
def one_process_group():
    """A torch.distributed group of this process alone (gloo), so that sync=True runs its all-reduce here."""
    import socket
    import torch.distributed as dist
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", world_size=1, rank=0)
    yield
    dist.destroy_process_group()


@pytest.mark.integration
@pytest.mark.parametrize("task", ["binary", "multiclass"])
def test_a_synced_deferred_check_makes_the_loss_nan_at_once(as_accelerator, one_process_group, task):
    """sync=True on an accelerator: the verdict on the inputs travels with the counts' all-reduce, so that a bad
    batch's loss is NaN at once on every process and no running count takes it; the error follows at
    check_pending(). A good batch gives the unsynced CPU loss (one process)."""
    options = {} if task == "binary" else {"task": "multiclass", "num_classes": 3}
    generator = torch.Generator().manual_seed(3)
    x = torch.randn(16, *(() if task == "binary" else (3,)), generator=generator, dtype=torch.float64)
    y = (torch.rand(16, generator=generator) < 0.4).double() if task == "binary" else torch.arange(16) % 3
    bad = y.clone()
    bad[2] = 2 if task == "binary" else 7
    synced = compile_metric("f1", **options).to_torch(sync=True, momentum=0.9)
    loss = synced(x, y)
    with pytest.MonkeyPatch.context() as cpu:
        cpu.setattr(torch_kernel, "reads_back_now", lambda device: True)
        assert loss.item() == pytest.approx(compile_metric("f1", **options).to_torch(momentum=0.9)(x, y).item(),
                                            rel=1e-12)
    running = synced.running.clone()
    assert math.isnan(synced(x, bad).item())
    assert torch.equal(synced.running, running)
    _Event.finished = True
    with pytest.raises(MetriccError, match="Expected"):
        synced.check_pending()


def test_a_deferred_loss_past_float32s_range_is_nan_at_once(as_accelerator):
    """A float32 loss that passes float32's range (a cost of 1e39 + FP: finite in float64, infinite in float32,
    with finite partials) is NaN at once on an accelerator, as a failing batch's is, not infinite; the error,
    the CPU's, follows at check_pending()."""
    loss_fn = compile_metric("minimize: 1e39 + FP").to_torch(pure=True)
    x, y = _batch()
    loss = loss_fn(x, y)
    assert math.isnan(loss.item())
    _Event.finished = True
    with pytest.raises(MetriccError, match="not finite in float32"):
        loss_fn.check_pending()


def test_an_ignore_labels_weights_are_checked_as_given_without_a_read_back(as_accelerator):
    """With ignore_index the torch binary loss checks the weights as given (all zero, or negative on an ignored
    element, raise as in NumPy): on an accelerator without reading a value back during the step, and
    check_pending() raises (a negative weight's batch has a NaN loss meanwhile)."""
    loss_fn = _warm(compile_metric("f1", ignore_index=255).to_torch(pure=True))
    x, y = _batch(seed=5)
    target = torch.where(torch.arange(64) % 5 == 0, torch.tensor(255.0), y)
    as_accelerator.start()
    weighted = loss_fn(x, target, torch.ones(64))
    ignored = loss_fn(x, torch.full((64,), 255.0))  # every element ignored: fine
    loss_fn(x, target, torch.zeros(64))
    assert as_accelerator == []
    as_accelerator.recording = False
    assert torch.isfinite(weighted) and torch.isfinite(ignored)
    with pytest.raises(MetriccError, match="positive entry"):  # (as without an ignore label: a local all-zero
        loss_fn.check_pending()                                #  share is no error under sync, so no NaN here)
    negative_on_ignored = torch.where(target == 255, -1.0, 1.0)
    as_accelerator.start()
    failing = loss_fn(x, target, negative_on_ignored)
    assert as_accelerator == []
    as_accelerator.recording = False
    assert torch.isnan(failing)
    with pytest.raises(MetriccError, match="finite and non-negative"):
        loss_fn.check_pending()


def test_a_fullgraph_step_says_to_turn_the_checks_off():
    """Under fullgraph=True the checks' graph break is refused; Dynamo's error names metricc's reason and what to
    pass (it said "remove the torch.compiler.disable call"), and with check_inputs=False the forward pass compiles
    whole and gives the eager loss and gradient."""
    if "reason" not in inspect.signature(torch.compiler.disable).parameters:
        pytest.skip("this torch's Dynamo gives no reason for a graph break")
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    X, y = torch.randn(32, 3), (torch.rand(32) < 0.4).float()
    checked, unchecked = (compile_metric("f1").to_torch(pure=True, check_inputs=check) for check in (True, False))
    torch._dynamo.reset()
    with pytest.raises(Exception, match="under fullgraph=True pass check_inputs=False"):
        torch.compile(lambda X, y: checked(model(X).squeeze(1), y), fullgraph=True)(X, y)

    def step(forward):
        model.zero_grad()
        loss = forward(X, y)
        loss.backward()  # (outside: Dynamo does not trace backward() under fullgraph=True)
        return loss.detach(), model.weight.grad.clone()

    def forward(X, y):
        return unchecked(model(X).squeeze(1), y)

    torch.testing.assert_close(step(torch.compile(forward, fullgraph=True)), step(forward))


def _step_module(loss_fn, classes):
    """A linear model and the loss, as one module (what torch.export and torch.jit take)."""

    class Step(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model, self.loss_fn = torch.nn.Linear(4, classes), loss_fn

        def forward(self, X, y, weight=None):
            logits = self.model(X)
            return self.loss_fn(logits.squeeze(1) if classes == 1 else logits, y, weight)

    return Step()


def _exported_as_eager(eager, X, y, weight):
    """The program torch.export makes of `eager` (a _step_module), after checking that its loss and gradient equal
    the eager module's over two gradient steps."""
    exported = torch.export.export(eager, (X, y, weight)).module()
    for _ in range(2):
        results = []
        for module in (exported, eager):  # (they share the parameters)
            module.zero_grad()
            loss = module(X, y, weight)
            loss.backward()
            results.append((loss.detach(), {name: p.grad.clone() for name, p in module.named_parameters()}))
        torch.testing.assert_close(*results)
        with torch.no_grad():
            for p in eager.parameters():
                p -= 0.5 * p.grad
    return exported


@pytest.mark.parametrize("n", [500, torch_kernel.STACKED_MAX_SIZE + 500])
def test_an_exported_pure_loss_equals_the_eager_one_and_is_nan_for_bad_inputs(n):
    """torch.export of a step with a stateless binary loss: the program's loss and gradient equal the eager
    module's over two steps, and its checks, which cannot read values back, make a bad batch's loss NaN (export
    had raised from inside torch, on the read-back). A batch beyond the stacked path's size too: the program of
    the streaming path, whose products go into buffers (out=), raised from inside torch when run with gradients."""
    if not hasattr(torch.compiler, "is_exporting"):
        pytest.skip("this torch cannot tell the loss that torch.export traces it")
    torch.manual_seed(0)
    X, y, weight = torch.randn(n, 4), (torch.rand(n) < 0.3).float(), torch.rand(n)
    eager = _step_module(compile_metric("mcc", ignore_index=255).to_torch(pure=True), 1)
    exported = _exported_as_eager(eager, X, y, weight)
    bad_target, bad_input, ignored = y.clone(), X.clone(), y.clone()
    bad_target[3], bad_input[7, 1], ignored[5] = 2.0, math.nan, 255.0
    assert math.isnan(exported(X, bad_target, weight).item()) and math.isnan(exported(bad_input, y, weight).item())
    torch.testing.assert_close(exported(X, ignored, weight), eager(X, ignored, weight))


@pytest.mark.parametrize("task, classes, options", [
    ("multiclass", 3, {}), ("multiclass", 40, {"average": "weighted"}), ("multilabel", 3, {"average": "micro"}),
    ("multiclass", 3, {"class_weight": [1.0, 2.0, 0.5], "ignore_index": -1})])
def test_an_exported_multi_class_loss_equals_the_eager_one_and_is_nan_for_bad_inputs(task, classes, options):
    """torch.export of a step with a stateless multi-class or multi-label loss (class-major and row-major
    layouts): the program's loss and gradient equal the eager module's over two steps, and a bad batch's loss is
    NaN. (It was refused: the program of its autograd function, whose products go into buffers, out=, raised
    from inside torch when run with gradients; the program now computes the counts with plain operations, and
    autograd takes their gradient.)"""
    if not hasattr(torch.compiler, "is_exporting"):
        pytest.skip("this torch cannot tell the loss that torch.export traces it")
    torch.manual_seed(0)
    n = 300
    X, weight = torch.randn(n, 4), torch.rand(n)
    y = torch.randint(0, classes, (n,)) if task == "multiclass" else (torch.rand(n, classes) < 0.4).float()
    metric = compile_metric("f1", task=task, num_classes=classes, **options)
    eager = _step_module(metric.to_torch(pure=True), classes)
    exported = _exported_as_eager(eager, X, y, weight)
    bad_target, bad_input = y.clone(), X.clone()
    bad_target[3], bad_input[7, 1] = (classes if task == "multiclass" else 2), math.nan
    assert math.isnan(exported(X, bad_target, weight).item()) and math.isnan(exported(bad_input, y, weight).item())
    if "ignore_index" in options:
        ignored = y.clone()
        ignored[5] = -1
        torch.testing.assert_close(exported(X, ignored, weight), eager(X, ignored, weight))


@pytest.mark.parametrize("task", ["binary", "multiclass", "multilabel"])
def test_a_program_exported_with_a_dynamic_batch_takes_any_batch_size(task):
    """Exported on 64 rows with the batch dimension dynamic, the program takes 10 and 20,000 rows (past the
    binary loss's stacked path) and gives the eager loss."""
    if not hasattr(torch.compiler, "is_exporting"):
        pytest.skip("this torch cannot tell the loss that torch.export traces it")
    classes = 1 if task == "binary" else 3
    metric = compile_metric("f1", task=task, num_classes=None if task == "binary" else 3)
    eager = _step_module(metric.to_torch(pure=True), classes)

    def batch(n):
        X = torch.randn(n, 4)
        if task == "multiclass":
            return X, torch.randint(0, 3, (n,))
        return X, (torch.rand(n, classes) < 0.4).float().squeeze(1) if task == "binary" else (
            torch.rand(n, classes) < 0.4).float()

    torch.manual_seed(0)
    rows = torch.export.Dim("rows", min=2)
    exported = torch.export.export(eager, batch(64), dynamic_shapes=({0: rows}, {0: rows})).module()
    for n in (10, 20_000):
        X, y = batch(n)
        torch.testing.assert_close(exported(X, y), eager(X, y))


@pytest.mark.filterwarnings(r"ignore:`torch\.jit\.\w+` is deprecated:DeprecationWarning")
@pytest.mark.parametrize("task, options, tracer, message", [
    ("binary", {}, "export", r"a loss with training state .*to_torch\(pure=True\) exports"),
    ("binary", {"warmup": 3, "momentum": 0}, "export", "a loss with training state"),
    ("multiclass", {}, "export", r"a loss with training state .*to_torch\(pure=True\) exports"),
    ("multilabel", {"warmup": 3, "momentum": 0}, "export", "a loss with training state"),
    *((task, {"pure": True}, tracer, "")
      for task in ("binary", "multiclass", "multilabel") for tracer in ("jit.trace", "jit.script")),
])
def test_tracers_that_cannot_keep_the_loss_are_refused(task, options, tracer, message):
    """torch.export of a loss with state (which its program would freeze), torch.jit.trace (one call's Python
    branches) and TorchScript (a Python autograd Function) are refused with what to do instead; they had raised
    from deep inside torch."""
    if tracer == "export" and not hasattr(torch.compiler, "is_exporting"):
        pytest.skip("this torch cannot tell the loss that torch.export traces it")
    classes = 1 if task == "binary" else 3
    loss_fn = compile_metric("f1", task=task, num_classes=None if task == "binary" else 3).to_torch(**options)
    torch.manual_seed(0)
    X = torch.randn(64, 4)
    y = torch.randint(0, 3, (64,)) if task == "multiclass" else (torch.rand(64, classes) < 0.4).float().squeeze(1)
    trace = {"export": lambda: torch.export.export(_step_module(loss_fn, classes), (X, y)),
             "jit.trace": lambda: torch.jit.trace(_step_module(loss_fn, classes), (X, y)),
             "jit.script": lambda: torch.jit.script(_step_module(loss_fn, classes))}[tracer]
    with pytest.raises(MetriccError, match=f"torch.{tracer} .*{message}.*the model alone and apply the loss"):
        trace()
