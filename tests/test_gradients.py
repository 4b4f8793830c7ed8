"""The derived gradient (NumPy and torch backward) against torch autograd through plain soft counts and
against central finite differences, in float64."""

import numpy as np
import pytest
import sympy as sp
import torch

from metricc import MetriccError, compile_metric
from oracles import CATALOG_SCORES, FORMULAS, assert_close, autograd_loss_and_grad, central_differences, soft_counts

CASES = ([(name, params, False, lambda *c, s=score: 1 - s(*c)) for name, (params, score) in CATALOG_SCORES.items()]
         + FORMULAS)
IDS = [case[0] for case in CASES]
RTOL = 1e-7


def _batch(seed, n=64, spread=0.05):
    rng = np.random.default_rng(seed)
    z = rng.normal(0.0, spread, n)
    y = (rng.random(n) < 0.35).astype(np.float64)
    y[:2] = [0.0, 1.0]
    w = rng.uniform(0.2, 2.0, n)
    return z, y, w


def _torch_loss_and_grad(metric, z, y, w=None, **options):
    x = torch.tensor(z, requires_grad=True)
    loss = metric.to_torch(pure=True, **options)(x, torch.tensor(y), None if w is None else torch.tensor(w))
    loss.backward()
    return loss.item(), x.grad.numpy()


@pytest.mark.parametrize("formula, params, minimize, loss_of_counts", CASES, ids=IDS)
@pytest.mark.parametrize("weighted", [False, True])
def test_matches_autograd(formula, params, minimize, loss_of_counts, weighted):
    metric = compile_metric(formula, **params)
    assert metric.minimize == minimize
    z, y, w = _batch(len(formula))
    w = w if weighted else None
    expected_loss, expected_grad = autograd_loss_and_grad(loss_of_counts, z, y, w)
    for loss, grad in (metric.loss_and_grad(z, y, w), _torch_loss_and_grad(metric, z, y, w)):
        assert loss == pytest.approx(expected_loss, rel=1e-12)
        assert_close(grad, expected_grad, RTOL)


@pytest.mark.filterwarnings("ignore::metricc.MetriccWarning")  # L chosen for the test, not for training
@pytest.mark.parametrize("formula, params, minimize, loss_of_counts", CASES, ids=IDS)
def test_matches_finite_differences(formula, params, minimize, loss_of_counts):
    metric = compile_metric(formula, L=8.0, **params)
    z, y, w = _batch(len(formula) + 1, n=16, spread=1.0)
    numeric = central_differences(lambda v: metric.loss_and_grad(v, y, w)[0], z)
    for _, grad in (metric.loss_and_grad(z, y, w), _torch_loss_and_grad(metric, z, y, w)):
        assert_close(grad, numeric, RTOL)


@pytest.mark.parametrize("name", ["f1", "mcc", "gmean"])
def test_probabilities_input(name):
    metric = compile_metric(name, from_logits=False)
    params, score = CATALOG_SCORES[name]
    rng = np.random.default_rng(1)
    p = rng.uniform(0.4, 0.6, 50)
    y = (rng.random(50) < 0.4).astype(float)
    expected_loss, expected_grad = autograd_loss_and_grad(lambda *c: 1 - score(*c), p, y, from_logits=False)
    loss, grad = metric.loss_and_grad(p, y)
    assert loss == pytest.approx(expected_loss, rel=1e-12)
    assert_close(grad, expected_grad, RTOL)
    assert_close(_torch_loss_and_grad(metric, p, y)[1], expected_grad, RTOL)


def test_settings_reach_both_backends():
    metric = compile_metric("f1", L=20.0, threshold=0.3, eps=1e-3)
    z, y, w = _batch(3, spread=1.0)
    expected = autograd_loss_and_grad(lambda *c: 1 - CATALOG_SCORES["f1"][1](*c), z, y, L=20.0, threshold=0.3,
                                      eps=1e-3)
    for loss, grad in (metric.loss_and_grad(z, y), _torch_loss_and_grad(metric, z, y)):
        assert loss == pytest.approx(expected[0], rel=1e-12)
        assert_close(grad, expected[1], RTOL)


def test_torch_backward_is_the_derived_formula_not_autograd():
    loss = compile_metric("f1").to_torch(pure=True)(torch.zeros(4, requires_grad=True), torch.tensor([0.0, 1, 0, 1]))
    assert type(loss.grad_fn).__name__ == "SoftConfusionFunctionBackward"


def _task_batch(task, rng_seed=0):
    generator = torch.Generator().manual_seed(rng_seed)
    if task == "binary":
        metric = compile_metric("f1")
        x, y = torch.randn(64, dtype=torch.float64, generator=generator), None
        y = (torch.rand(64, generator=generator) < 0.3).double()
    else:
        metric = compile_metric("f1", task=task, num_classes=3)
        x = torch.randn(64, 3, dtype=torch.float64, generator=generator)
        y = (torch.randint(0, 3, (64,), generator=generator) if task == "multiclass"
             else (torch.rand(64, 3, generator=generator) < 0.3).double())
    return metric, x, y


@pytest.mark.parametrize("task", ["binary", "multiclass", "multilabel"])
@pytest.mark.parametrize("pure", [False, True])
def test_torch_func_grad_and_vjp_give_the_backward_pass(task, pure):
    """torch.func.grad, grad_and_value and vjp run the loss (its forward pass hands its context to autograd
    through setup_context) and give what loss.backward() gives, for the stateful training defaults (a fresh
    module each, so that each starts from the same running estimates) and the paper's pure loss; also through
    a model called with torch.func.functional_call."""
    import torch.func as func

    metric, x, y = _task_batch(task)
    leaf = x.clone().requires_grad_()
    loss = metric.to_torch(pure=pure)(leaf, y)
    loss.backward()
    grad = func.grad(lambda v: metric.to_torch(pure=pure)(v, y))(x)
    assert torch.equal(grad, leaf.grad)
    grad, value = func.grad_and_value(lambda v: metric.to_torch(pure=pure)(v, y))(x)
    assert torch.equal(grad, leaf.grad) and torch.equal(value, loss.detach())
    value, pull_back = func.vjp(lambda v: metric.to_torch(pure=pure)(v, y), x)
    assert torch.equal(pull_back(torch.ones_like(value))[0], leaf.grad)

    model = torch.nn.Linear(5, x.shape[1] if x.dim() == 2 else 1).double()
    features = torch.randn(64, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    squeeze = x.dim() == 1
    out = model(features)
    metric.to_torch(pure=pure)(out.squeeze(1) if squeeze else out, y).backward()
    params = {k: v.detach() for k, v in model.named_parameters()}
    grads = func.grad(lambda p: metric.to_torch(pure=pure)(
        func.functional_call(model, p, (features,)).squeeze(1) if squeeze
        else func.functional_call(model, p, (features,)), y))(params)
    for name, parameter in model.named_parameters():
        assert torch.allclose(grads[name], parameter.grad, rtol=1e-12, atol=1e-15)


def test_torch_func_grad_of_a_large_batch_with_the_blend():
    """A batch past the stacked path's size adds torch's BCE after the loss's pass and reads the blended loss to
    check it: under torch.func.grad too, with loss.backward()'s gradient."""
    import torch.func as func

    generator = torch.Generator().manual_seed(2)
    x = torch.randn(20000, generator=generator, dtype=torch.float64)
    y = (torch.rand(20000, generator=generator) < 0.3).double()
    loss_fn = compile_metric("f1").to_torch(pure=True, bce_weight=0.2)
    leaf = x.clone().requires_grad_()
    loss_fn(leaf, y).backward()
    assert torch.allclose(func.grad(lambda v: loss_fn(v, y))(x), leaf.grad, rtol=1e-12, atol=1e-18)


@pytest.mark.parametrize("task", ["multiclass", "multilabel"])
def test_torch_func_on_a_torch_that_cannot_read_transformed_values_says_so(task, monkeypatch):
    """torch 2.1 and 2.4 cannot read a tensor's values under torch.func.grad, which a multi-class or multi-label
    loss's input checks do: torch's "Cannot access data pointer of Tensor that doesn't have storage" came from
    deep inside the loss. Simulated here (as that torch fails) for tensors that a transform wraps: metricc's
    error says what to do, and check_inputs=False, which reads nothing, gives backward()'s gradient."""
    import torch.func as func

    wrapped, tolist = torch._C._functorch.is_functorch_wrapped_tensor, torch.Tensor.tolist

    def old_tolist(tensor):
        if wrapped(tensor):
            raise RuntimeError("Cannot access data pointer of Tensor that doesn't have storage")
        return tolist(tensor)

    metric, x, y = _task_batch(task)
    monkeypatch.setattr(torch.Tensor, "tolist", old_tolist)
    with pytest.raises(MetriccError, match=r"cannot read a tensor's values under a torch\.func transform.*"
                                           r"check_inputs=False"):
        func.grad(lambda v: metric.to_torch(pure=True)(v, y))(x)
    grad = func.grad(lambda v: metric.to_torch(pure=True, check_inputs=False)(v, y))(x)
    leaf = x.clone().requires_grad_()
    metric.to_torch(pure=True, check_inputs=False)(leaf, y).backward()
    assert torch.allclose(grad, leaf.grad, rtol=1e-12, atol=0)


@pytest.mark.parametrize("task", ["binary", "multiclass"])
def test_torch_func_grad_of_the_fused_loss(task):
    """With compile=True (both passes through torch.compile) torch.func.grad gives what backward() gives: under a
    transform the fused backward pass writes a new tensor, not over the saved factor (which torch.func forbids)."""
    import torch.func as func

    metric, x, y = _task_batch(task)
    x = x.float()
    leaf = x.clone().requires_grad_()
    metric.to_torch(compile=True)(leaf, y).backward()
    grad = func.grad(lambda v: metric.to_torch(compile=True)(v, y))(x)
    assert torch.allclose(grad, leaf.grad, rtol=1e-6, atol=1e-9)


def _loss_of(task, mode):
    """A loss of `task` as a user sets it up for torch.func: pure, or with the training defaults in eval() mode."""
    metric, x, y = _task_batch(task)
    loss = metric.to_torch(pure=mode == "pure")
    return (loss if mode == "pure" else loss.eval()), x, y


def _backward_grad(task, mode, x, y):
    """d loss / d x from backward() of a fresh loss of the same settings (the oracle)."""
    loss = _loss_of(task, mode)[0]
    leaf = x.clone().requires_grad_()
    loss(leaf, y).backward()
    return leaf.grad


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")  # inside torch.func.jacfwd
@pytest.mark.parametrize("task", ["binary", "multiclass", "multilabel"])
@pytest.mark.parametrize("mode", ["pure", "eval"])
def test_torch_func_vmap_gives_each_batch_its_own_loss_and_gradient(task, mode):
    """torch.func.vmap over a stack of batches (an ensemble's outputs) gives each batch's loss and gradient, as a
    loop over them does; it had been refused ("cannot map metricc's loss"). Under vmap the loss is plain
    operations, and the input checks make a failing batch's loss NaN (no value can be read back there)."""
    import torch.func as func

    loss, x, y = _loss_of(task, mode)
    stacked_x, stacked_y = x.reshape(4, 16, *x.shape[1:]), y.reshape(4, 16, *y.shape[1:])
    looped = torch.stack([loss(stacked_x[k], stacked_y[k]) for k in range(4)])
    assert_close(func.vmap(loss)(stacked_x, stacked_y), looped, 1e-12)
    grads = torch.stack([_backward_grad(task, mode, stacked_x[k], stacked_y[k]) for k in range(4)])
    assert_close(func.vmap(func.grad(loss))(stacked_x, stacked_y), grads, RTOL)
    bad_x, bad_y = stacked_x.clone(), stacked_y.clone()
    bad_x[1].view(-1)[3] = float("nan")  # a missing value in batch 1, a label out of range in batch 2
    bad_y[2].view(-1)[0] = 5
    poisoned = func.vmap(loss)(bad_x, bad_y)
    assert torch.isnan(poisoned[1:3]).all()
    assert_close(poisoned[[0, 3]], looped[[0, 3]], 1e-12)


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")  # inside torch.func.jacfwd
@pytest.mark.parametrize("task", ["binary", "multiclass", "multilabel"])
@pytest.mark.parametrize("mode", ["pure", "eval"])
def test_torch_func_jacobians_hessian_and_forward_mode(task, mode):
    """jacrev, jacfwd, jvp, forward-mode dual tensors and hessian give the backward pass's gradient and autograd's
    Hessian (they had been refused: "cannot map", "no forward-mode derivative")."""
    import torch.autograd.forward_ad as forward_ad
    import torch.func as func

    loss, x, y = _loss_of(task, mode)
    expected = _backward_grad(task, mode, x, y)
    of_x = lambda v: loss(v, y)  # noqa: E731
    assert_close(func.jacrev(of_x)(x), expected, RTOL)
    assert_close(func.jacfwd(of_x)(x), expected, RTOL)
    direction = torch.randn(x.shape, dtype=x.dtype, generator=torch.Generator().manual_seed(5))
    value, tangent = func.jvp(of_x, (x,), (direction,))
    assert_close(value, loss(x, y), 1e-12)
    assert_close(tangent, (expected * direction).sum(), RTOL)
    with forward_ad.dual_level():
        dual = loss(forward_ad.make_dual(x, direction), y)
        assert_close(forward_ad.unpack_dual(dual).tangent, (expected * direction).sum(), RTOL)
    small_x, small_y = x[:6], y[:6]
    leaf = small_x.clone().requires_grad_()
    grad, = torch.autograd.grad(_loss_of(task, mode)[0](leaf, small_y), leaf, create_graph=True)
    rows = [torch.autograd.grad(g, leaf, retain_graph=True)[0] for g in grad.reshape(-1)]
    autograd_hessian = torch.stack(rows).reshape(*small_x.shape, *small_x.shape)
    assert_close(func.hessian(lambda v: loss(v, small_y))(small_x), autograd_hessian, 1e-6)


@pytest.mark.parametrize("task", ["binary", "multiclass", "multilabel"])
def test_torch_func_maps_no_running_counts(task):
    """Under vmap and in forward mode each batch's loss is computed alone: a training loss's running counts
    (momentum, the to_torch() default), one buffer, cannot follow them. The error says what to pass; jacrev, whose
    forward pass is an ordinary one, gives the backward pass's gradient."""
    import torch.autograd.forward_ad as forward_ad
    import torch.func as func

    metric, x, y = _task_batch(task)
    loss = metric.to_torch()
    stacked_x, stacked_y = x.reshape(4, 16, *x.shape[1:]), y.reshape(4, 16, *y.shape[1:])
    message = "cannot update its running counts \\(momentum\\): pass momentum=0 or pure=True"
    with pytest.raises(MetriccError, match=message):
        func.vmap(loss)(stacked_x, stacked_y)
    with forward_ad.dual_level(), pytest.raises(MetriccError, match=message):
        loss(forward_ad.make_dual(x, torch.ones_like(x)), y)
    leaf = x.clone().requires_grad_()
    metric.to_torch()(leaf, y).backward()
    assert_close(func.jacrev(lambda v: loss(v, y))(x), leaf.grad, RTOL)


# the last: exp(2N) = 2.6e10 at the test's counts, which autograd through the counts adds to d/dTP and takes away
# through d/dFN (the property test's oracle came out 2e-6 off a gradient of 0.04; found under random seed 4444)
@pytest.mark.parametrize("formula", ["minimize: N^6 + exp(NPV^2)", "N^6 + exp(abs(NPV^2))", "POS^4*TNR - NEG^3",
                                     "v0 = abs(exp(N + N)); -log(sqrt(TP)) + v0"])
def test_terms_a_sample_cannot_move_do_not_cancel_in_the_coefficients(formula):
    """a and b are derivatives along the move of one sample (TP up, FN down; FP up, TN down), which keeps N, POS
    and NEG: a term such as N^6 adds nothing to them. As differences of the four partials, 6 N^5 - 6 N^5 was
    left to cancel in rounding (b off by 6e-10 relative at N = 12; in float32, by its whole size)."""
    metric = compile_metric(formula)
    counts = {"TP": 3.1, "FP": 2.2, "FN": 4.3, "TN": 2.4}
    symbols = {name: sp.Symbol(name, positive=True) for name in counts}
    step = sp.Symbol("step")  # the coefficients at 50 digits, from the loss itself
    loss = metric.loss.xreplace({s: symbols[s.name] for s in metric.loss.free_symbols})
    at = {symbols[k]: sp.Rational(str(v)) for k, v in counts.items()}
    _, a, b = metric._scalars("numpy")(*(np.float64(v) for v in counts.values()))
    for value, (up, down) in ((a, ("TP", "FN")), (b, ("FP", "TN"))):
        moved = loss.xreplace({symbols[up]: symbols[up] + step, symbols[down]: symbols[down] - step})
        exact = sp.diff(moved, step).subs(step, 0).subs(at).evalf(50)
        assert float(value) == pytest.approx(float(exact), rel=1e-14, abs=1e-300)


def _penalty_gradient(loss, z, y, w, weights):
    """d/dv of |d loss(z * v) / dz|^2 at v = `weights` (a gradient penalty: create_graph=True, then backward)."""
    v = torch.tensor(weights, requires_grad=True)
    x = torch.tensor(z, requires_grad=True)
    (grad,) = torch.autograd.grad(loss(x * v, torch.tensor(y), None if w is None else torch.tensor(w)), x,
                                  create_graph=True)
    grad.pow(2).sum().backward()
    return v.grad.numpy()


@pytest.mark.filterwarnings("ignore::metricc.MetriccWarning")  # L chosen for the test, not for training
@pytest.mark.parametrize("formula, params, minimize, loss_of_counts", CASES[:4] + FORMULAS[:3],
                         ids=IDS[:4] + [case[0] for case in FORMULAS[:3]])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("n", [64, 20000])  # the stacked and the streaming path
def test_torch_second_derivatives_through_the_gradient(formula, params, minimize, loss_of_counts, weighted, n):
    """A gradient taken with create_graph=True (a gradient penalty, a Hessian-vector product) is differentiable
    again, and its derivative sees how the counts, and so the coefficients, move with every input: equal to
    autograd twice through plain soft counts. (It came out as if the coefficients were constants.)"""
    z, y, w = _batch(3, n, spread=0.3)
    w = w if weighted else None
    weights = np.random.default_rng(4).uniform(0.5, 1.5, n)
    metric = compile_metric(formula, L=5.0, **params)

    def plain(x, target, weight):
        return loss_of_counts(*soft_counts(x, target, weight, L=5.0))

    assert_close(_penalty_gradient(metric.to_torch(pure=True), z, y, w, weights),
                 _penalty_gradient(plain, z, y, w, weights), RTOL)


@pytest.mark.parametrize("task, options", [("binary", {}), ("binary", {"pure": True, "momentum": 0.9}),
                                           ("binary", {"pure": True, "bce_weight": 0.5}),
                                           ("binary", {"pure": True, "compile": True}),
                                           ("multiclass", {"momentum": 0.9}), ("multilabel", {})],
                         ids=["defaults", "momentum", "blend", "compiled", "multiclass-momentum",
                              "multilabel-defaults"])
def test_torch_second_derivative_where_there_is_none_says_so(options, task):
    """Where the gradient is not differentiable again (running estimates, as the binary and multi-label training
    defaults keep, the folded cross-entropy blend, compile=True), differentiating through it stops with
    metricc's message, where it had silently treated the loss's curvature as 0; taking the gradient with
    create_graph=True alone still works (compiled, it had raised torch's error about a saved tensor written over)."""
    metric, x, y = _task_batch(task)
    x = x.clone().requires_grad_()
    (grad,) = torch.autograd.grad(metric.to_torch(**options)(x, y), x, create_graph=True)
    with pytest.raises(MetriccError, match="differentiable once"):
        grad.pow(2).sum().backward()


@pytest.mark.filterwarnings("ignore::metricc.MetriccWarning")  # L chosen for the test, not for training
def test_torch_func_grad_of_grad_and_the_hessian():
    """torch.func.grad nested in itself, and torch.autograd.functional.hessian, differentiate the pure loss
    twice: equal to autograd twice through plain soft counts (nested grad had given 0 for every input)."""
    import torch.func as func

    metric, x, y = _task_batch("binary")
    loss = metric.to_torch(pure=True, L=5.0)

    def plain(v):
        return 1 - (lambda TP, FP, FN, TN: 2 * TP / (2 * TP + FP + FN))(*soft_counts(v, y, None, L=5.0))

    def penalty(f):
        return func.grad(lambda v: func.grad(f)(v).pow(2).sum())(x)

    assert_close(penalty(lambda v: loss(v, y)), penalty(plain), RTOL)
    assert_close(torch.autograd.functional.hessian(lambda v: loss(v, y), x),
                 torch.autograd.functional.hessian(plain, x), RTOL)
    for task in ("binary", "multiclass"):
        metric, x, y = _task_batch(task)
        with pytest.raises(MetriccError, match="differentiable once"):
            func.grad(lambda v: func.grad(lambda u: metric.to_torch(momentum=0.9)(u, y))(v).pow(2).sum())(x)


def test_second_derivative_path_keeps_the_first_derivative_with_huge_weights():
    """With create_graph=True the gradient is the derived one plus (exact - exact.detach()); the exact one summed
    float32 weights of 3e38 as given and overflowed, which made the first derivative NaN. It divides them by
    the largest, as the forward pass does."""
    loss = compile_metric("f1").to_torch(pure=True)
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(500, generator=generator, requires_grad=True)
    y, w = (torch.rand(500, generator=generator) < 0.3).float(), torch.full((500,), 3e38)
    (once,) = torch.autograd.grad(loss(x, y, w), x)
    (graphed,) = torch.autograd.grad(loss(x, y, w), x, create_graph=True)
    assert torch.isfinite(once).all() and torch.equal(graphed, once)
