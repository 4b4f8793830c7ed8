"""Training robustness of the binary torch loss: the L schedule, the BCE blend and running counts, each against
an independent computation; state that behaves as torch users expect; and a collapse that the defaults avoid."""

import sys
import warnings
from pathlib import Path

import pytest
import torch

from metricc import MetriccError, MetriccWarning, compile_metric
from metricc.backends import TRAINING_L
from oracles import load_emitted, soft_counts

F1 = lambda TP, FP, FN, TN: 1 - 2 * TP / (2 * TP + FP + FN)  # noqa: E731


def _batch(n=40, seed=0):
    generator = torch.Generator().manual_seed(seed)
    z = torch.randn(n, generator=generator, dtype=torch.float64) * 0.3
    y = (torch.rand(n, generator=generator) < 0.3).double()
    return z, y


@pytest.mark.parametrize("task", ["binary", "multiclass", "multilabel"])
def test_the_defaults_are_the_ones_the_readme_gives(task):
    """README, "The defaults" of to_torch(): L 15 (none compiled), momentum 0.9, warmup 0 (off) from L_start 5,
    bce_weight 0 (0.1 for multi-class), eager (no torch.compile) and local (no sync); an emitted torch module
    carries the same, and pure=True none of the training state."""
    options = {} if task == "binary" else {"task": task, "num_classes": 3}
    metric = compile_metric("f1", **options)
    emitted = load_emitted(metric.emit("torch"))["MetricLoss"]
    expected = {"L": 15.0, "momentum": 0.9, "warmup": 0, "L_start": 5.0,
                "bce_weight": 0.1 if task == "multiclass" else 0.0, "fused": False, "sync": False}  # eager, local
    for loss in (metric.to_torch(), emitted()):
        assert {name: getattr(loss, name) for name in expected} == expected
    for loss in (metric.to_torch(pure=True), emitted(pure=True)):
        assert (loss.L, loss.momentum, loss.warmup, loss.bce_weight) == (73.0, 0.0, 0, 0.0)


def test_L_rises_linearly_over_the_warmup_and_only_training_steps_count():
    loss = compile_metric("f1").to_torch(pure=True, warmup=10, L_start=5.0)
    z, y = _batch()
    seen = []
    for step in range(12):
        seen.append(loss.current_L())
        value = loss(z.clone().requires_grad_(True), y)
        with warnings.catch_warnings():  # an L below the amplifier's bound warns: that is the point of warming up
            warnings.simplefilter("ignore", MetriccWarning)
            expected = compile_metric("f1", L=seen[-1]).to_torch(pure=True)(z, y)
        assert value.item() == pytest.approx(expected.item(), rel=1e-12)
    assert seen == pytest.approx([5.0 + 6.8 * k for k in range(11)] + [73.0])
    loss.eval()
    loss(z, y)
    loss.train()
    with torch.no_grad():
        loss(z, y)
    assert loss.steps == 12


@pytest.mark.parametrize("from_logits", [True, False])
@pytest.mark.parametrize("weighted", [True, False])
@pytest.mark.parametrize("n", [40, 20_000])  # the blend inside the autograd function, and the module's own
def test_blend_gradient_equals_autograd_of_loss_plus_bce(from_logits, weighted, n):
    z, y = _batch(n=n)
    w = torch.rand(len(z), generator=torch.Generator().manual_seed(3), dtype=torch.float64) + 0.5 if weighted else None
    x = z if from_logits else torch.sigmoid(z)  # probabilities in (0, 1)
    module = compile_metric("f1", from_logits=from_logits).to_torch(pure=True, bce_weight=0.3)
    given = x.clone().requires_grad_(True)
    loss = module(given, y, w)
    loss.backward()
    reference = x.clone().requires_grad_(True)
    bce = (torch.nn.functional.binary_cross_entropy_with_logits(reference, y, reduction="none") if from_logits
           else torch.nn.functional.binary_cross_entropy(reference, y, reduction="none"))
    expected = F1(*soft_counts(reference, y, w, from_logits=from_logits)) + 0.3 * (
        bce.mean() if w is None else (bce * w).sum() / w.sum())
    expected.backward()
    assert loss.item() == pytest.approx(expected.item(), rel=1e-12)
    assert torch.allclose(given.grad, reference.grad, rtol=1e-9, atol=1e-15)


def test_running_rates_do_not_depend_on_the_scale_of_the_weights():
    """Sample weights normalised per batch (a total of 1 or less, as many pipelines pass them) give the running
    rates that the same weights times 100 give, and the loss of a ratio metric and its gradient up to eps."""
    modules = [compile_metric("f1").to_torch(momentum=0.8) for _ in range(2)]
    for seed in range(3):
        z, y = _batch(n=40, seed=seed)
        w = torch.rand(40, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
        w = w / w.sum() / 2  # a total weight of 1/2
        results = []
        for module, scale in zip(modules, (1.0, 100.0)):
            x = z.clone().requires_grad_(True)
            loss = module(x, y, w * scale)
            loss.backward()
            results.append((loss.item(), x.grad))
        # (eps = 1e-6 smooths counts of total 1/2 more than counts of total 50)
        assert results[0][0] == pytest.approx(results[1][0], rel=1e-5)
        torch.testing.assert_close(results[0][1], results[1][1], rtol=1e-4, atol=1e-12)
        torch.testing.assert_close(modules[0].running, modules[1].running, rtol=1e-12, atol=0)


def test_running_counts_follow_a_hand_computed_moving_average():
    momentum = 0.8
    module = compile_metric("f1").to_torch(pure=True, momentum=momentum)
    rates = None
    for seed in range(4):
        z, y = _batch(n=30 + 10 * seed, seed=seed)
        x = z.clone().requires_grad_(True)
        value = module(x, y)
        value.backward()
        counts = torch.stack([c - 1e-6 for c in soft_counts(z, y)])  # the oracle adds eps; the rates do not
        batch_rates = counts / counts.sum()
        rates = batch_rates if rates is None else momentum * rates + (1 - momentum) * batch_rates
        assert torch.allclose(module.running[:4], rates, rtol=1e-12)
        used = rates * counts.sum()  # the running rates at this batch's total weight
        assert value.item() == pytest.approx(F1(*(used + 1e-6)).item(), rel=1e-12)
        # the partials at the running counts, the per-sample factors from this batch
        point = (used + 1e-6).clone().requires_grad_(True)
        F1(*point).backward()
        d_tp, d_fp, d_fn, d_tn = point.grad
        slope = torch.sigmoid(73 * (torch.sigmoid(z) - 0.5))
        factor = 73 * slope * (1 - slope) * torch.sigmoid(z) * (1 - torch.sigmoid(z))
        expected = (y * (d_tp - d_fn) + (1 - y) * (d_fp - d_tn)) * factor
        assert torch.allclose(x.grad, expected, rtol=1e-9, atol=1e-15)
    assert module.running[4].item() == 4


def test_state_dict_round_trip_reset_and_eval_leave_state_alone():
    module = compile_metric("f1").to_torch(warmup=10)  # steps are counted while a warm-up needs them
    z, y = _batch()
    for _ in range(3):
        module(z.clone().requires_grad_(True), y).backward()
    state = {k: (v.clone() if torch.is_tensor(v) else dict(v)) for k, v in module.state_dict().items()}
    fresh = compile_metric("f1").to_torch(warmup=10)
    fresh.load_state_dict(module.state_dict())
    assert fresh.steps == module.steps == 3 and torch.equal(fresh.running, module.running)
    module.eval()
    module(z, y)
    assert torch.equal(module.running, state["running"]) and module.steps == 3
    module.train()
    module.reset()
    assert module.steps == 0 and not module.running.any()


@pytest.mark.parametrize("task", ["binary", "multiclass"])
@pytest.mark.parametrize("convert", [lambda m: m.half(), lambda m: m.bfloat16(), lambda m: m.to(torch.float16),
                                     lambda m: m.float()], ids=["half", "bfloat16", "to_float16", "float"])
def test_converting_the_module_keeps_its_state_in_float64(task, convert):
    """model.half() or model.to(torch.bfloat16) with the loss as a submodule: the running estimates (and class
    weights) stay float64, as a bfloat16 moving average of shares, rounded to 3 digits, would stall."""
    options = {} if task == "binary" else {"task": task, "num_classes": 3, "class_weight": [1.0, 2.0, 0.7]}
    metric = compile_metric("f1", **options)
    modules = [metric.to_torch(momentum=0.9), convert(metric.to_torch(momentum=0.9))]
    z, y = _batch(60)
    if task == "multiclass":
        z, y = torch.stack([z, -z, 0.5 * z], 1), (y * 2).long()
    losses = [[], []]
    for step in range(4):
        for k, module in enumerate(modules):
            losses[k].append(module(z.float() + 0.05 * step, y).item())
    for module in modules:
        for name, buffer in module.named_buffers():
            assert buffer.dtype == (torch.int64 if name == "step_count" else torch.float64), name
    assert torch.equal(modules[0].running, modules[1].running) and losses[0] == losses[1]


def test_pure_is_the_paper_loss_and_options_are_checked():
    pure = compile_metric("f1").to_torch(pure=True)
    assert (pure.warmup, pure.bce_weight, pure.momentum, pure.running, pure.L) == (0, 0.0, 0.0, None, 73.0)
    default = compile_metric("f1").to_torch()
    assert (default.L, default.warmup, default.bce_weight, default.momentum) == (TRAINING_L, 0, 0.0, 0.9)
    # an L the user gives is kept, to compile_metric or to to_torch
    assert compile_metric("f1", L=73).to_torch().L == compile_metric("f1").to_torch(L=40).L + 33 == 73.0
    assert compile_metric("f1", L=3.0).to_torch(warmup=5).L_start == 3.0
    for options, message in [({"warmup": -1}, "warmup"), ({"momentum": 1.0}, "momentum"),
                              ({"bce_weight": -0.1}, "bce_weight"), ({"L_start": 80.0}, "L_start"),
                              ({"bce_weight": float("inf")}, "bce_weight"), ({"momentum": float("nan")}, "momentum"),
                              ({"L_start": 0.0}, "L_start"), ({"L_start": float("nan")}, "L_start"),
                              ({"warmup": True}, "warmup")]:
        with pytest.raises(MetriccError, match=message):
            compile_metric("f1").to_torch(**options)


@pytest.mark.filterwarnings("ignore:every element of `input` lies in")  # a fresh network's logits may
def test_the_pure_loss_collapses_where_the_default_does_not():
    """The paper's MLP protocol on fold 6 of its synthetic set (about 2 s): the pure loss ends with every training
    sample predicted positive, the defaults near the 10 % of positives."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))
    from reproduce_paper import mlp_fit, synthetic
    from sklearn.model_selection import StratifiedKFold
    from sklearn.preprocessing import StandardScaler

    torch.set_num_threads(1)
    X, y = synthetic(10_000)
    train = list(StratifiedKFold(10, shuffle=True, random_state=0).split(X, y))[6][0]
    X_train = StandardScaler().fit_transform(X[train])
    shares = {}
    for pure in (True, False):
        model, _ = mlp_fit(X_train, y[train], compile_metric("f1"), 1e-3, 100, 0.05, 6, pure=pure)
        with torch.no_grad():
            shares[pure] = (model(torch.tensor(X_train, dtype=torch.float32)) >= 0).float().mean().item()
    assert shares[True] >= 0.99  # every sample predicted positive: collapsed
    assert 0.05 < shares[False] < 0.3  # about the 10 % of positives


def _soft_one_hot_counts(z, y_hot, L):
    """Per-class soft counts of the multi-class amplifier softmax(L/2 softmax(z)), written plainly."""
    yh = torch.softmax(torch.softmax(z, 1) * (L / 2), 1)
    return torch.stack([(y_hot * yh).sum(0), ((1 - y_hot) * yh).sum(0), (y_hot * (1 - yh)).sum(0),
                        ((1 - y_hot) * (1 - yh)).sum(0)])


def test_multiclass_running_counts_and_cross_entropy_blend_against_autograd():
    momentum, classes = 0.6, 3
    module = compile_metric("f1", task="multiclass", num_classes=classes).to_torch(pure=True, momentum=momentum,
                                                                                   bce_weight=0.2)
    generator = torch.Generator().manual_seed(0)
    rates = None
    for step in range(3):
        z = torch.randn(24, classes, generator=generator, dtype=torch.float64) * 0.4
        labels = torch.randint(0, classes, (24,), generator=generator)
        y_hot = torch.nn.functional.one_hot(labels, classes).double()
        x = z.clone().requires_grad_(True)
        module(x, labels).backward()
        counts = _soft_one_hot_counts(z, y_hot, 73.0)
        batch_rates = counts / counts.sum(0)
        rates = batch_rates if rates is None else momentum * rates + (1 - momentum) * batch_rates
        assert torch.allclose(module.running[:4], rates, rtol=1e-10)
        # gradient: the macro-F1 partials at the running counts through this batch's soft predictions, plus
        # 0.2 x cross-entropy (autograd of both, with the counts' point fixed to the running estimate)
        reference = z.clone().requires_grad_(True)
        soft = _soft_one_hot_counts(reference, y_hot, 73.0)
        point = (rates * counts.sum(0)).detach() + 1e-6
        shifted = soft + (point - soft).detach()  # the value at the running counts, the gradient of this batch
        TP, FP, FN, TN = shifted
        loss = (1 - 2 * TP / (2 * TP + FP + FN)).mean() + 0.2 * torch.nn.functional.cross_entropy(reference, labels)
        loss.backward()
        assert torch.allclose(x.grad, reference.grad, rtol=1e-8, atol=1e-14)


def test_multiclass_state_round_trip_and_eval():
    module = compile_metric("f1", task="multilabel", num_classes=2).to_torch(warmup=10)
    z, y = torch.randn(16, 2, dtype=torch.float64), (torch.rand(16, 2) < 0.4).double()
    module(z.clone().requires_grad_(True), y).backward()
    before = module.running.clone()
    module.eval()
    module(z, y)
    assert torch.equal(module.running, before) and module.steps == 1
    fresh = compile_metric("f1", task="multilabel", num_classes=2).to_torch(warmup=10)
    fresh.load_state_dict(module.state_dict())
    assert fresh.steps == 1 and torch.equal(fresh.running, before)


def test_the_fused_path_follows_the_warm_up():
    module = compile_metric("f1").to_torch(compile=True, warmup=4)
    if not module.fused:
        pytest.skip("torch.compile is unavailable here")
    z, y = _batch(n=64)
    z, y = z.float(), y.float()
    reference = compile_metric("f1").to_torch(warmup=4)
    for _ in range(6):
        x, x_ref = z.clone().requires_grad_(True), z.clone().requires_grad_(True)
        value, expected = module(x, y), reference(x_ref, y)
        value.backward()
        expected.backward()
        assert value.item() == pytest.approx(expected.item(), rel=1e-5)
        assert torch.allclose(x.grad, x_ref.grad, rtol=1e-4, atol=1e-9)
    assert module.current_L() == reference.current_L() == TRAINING_L


@pytest.mark.parametrize("weighted", [False, True])
def test_blend_computed_inside_the_function_equals_torchs_bce(weighted, monkeypatch):
    """Small batches of logits get the BCE blend from the autograd function itself; larger ones (and every other
    case) from torch's BCE added by the module: the same loss and gradient."""
    from metricc import torch_kernel

    g = torch.Generator().manual_seed(5)
    z = torch.randn(500, generator=g) * 3
    y = (torch.rand(500, generator=g) < 0.2).float()
    w = torch.rand(500, generator=g) * 4 if weighted else None
    results = []
    for limit in (500, 499):  # stacked path (blend folded), then streaming (blend added by the module)
        monkeypatch.setattr(torch_kernel, "STACKED_MAX_SIZE", limit)
        loss_fn = compile_metric("f1").to_torch(pure=True, bce_weight=0.3)
        x = z.clone().requires_grad_(True)
        loss = loss_fn(x, y, w)
        loss.backward()
        results.append((loss.item(), x.grad))
    assert results[0][0] == pytest.approx(results[1][0], rel=1e-6)
    torch.testing.assert_close(results[0][1], results[1][1], rtol=1e-5, atol=1e-9)


@pytest.mark.parametrize("task", ["binary", "multiclass"])
def test_gradcheck_passes_where_the_readme_says_to_check_gradients(task):
    """The README sends a user whose gradcheck fails on a training-mode loss (running counts) to pure=True or
    eval(): there the gradient is the derivative of the value returned."""
    g = torch.Generator().manual_seed(0)
    options = {} if task == "binary" else {"task": "multiclass", "num_classes": 3}
    x = torch.randn((16,) if task == "binary" else (16, 3), dtype=torch.float64, generator=g, requires_grad=True)
    y = torch.rand(16, generator=g) < 0.3 if task == "binary" else torch.randint(0, 3, (16,), generator=g)
    metric = compile_metric("f1", **options)
    for loss_fn in (metric.to_torch(pure=True), metric.to_torch().eval()):
        assert torch.autograd.gradcheck(lambda v: loss_fn(v, y), (x,))
    trained = metric.to_torch()
    with pytest.raises(RuntimeError, match="Jacobian mismatch"):  # (torch's GradcheckError)
        torch.autograd.gradcheck(lambda v: trained(v, y), (x,))
