"""One process of the distributed tests: its share of a batch, the loss with sync=True, the gradient; or the
MetriccError it raised. `mode` shapes the share: eager, fused, multiclass, or a hostile case (see
test_distributed.py)."""

import os
import sys

import numpy as np
import torch
import torch.distributed as dist

from metricc import MetriccError, compile_metric


def share(batch, rank, world, mode):
    z, y, w = (np.array_split(batch[k], world)[rank] for k in ("z", "y", "w"))
    if mode == "empty share" and rank == 1:
        z, y, w = z[:0], y[:0], w[:0]
    if mode == "zero weights" and rank == 1 or mode == "all zero weights":
        w = np.zeros_like(w)
    if mode == "nan on one rank" and rank == 1:
        z = z.copy()
        z[0] = np.nan
    if mode == "ignored on one rank" and rank == 1:  # a share of void pixels only
        y = np.full_like(y, 255)
    if mode == "multiclass, a bad class on one rank" and rank == 1:
        y = y.copy()
        y[0] = z.shape[1]  # one past the last class
    if mode == "multiclass probabilities, a bad row on one rank" and rank == 1:
        y = y.copy()
        y[0] = 1.0  # a row that sums to the number of classes
    dtype = torch.float32 if mode == "mixed dtypes" and rank == 0 else torch.float64
    return torch.tensor(z, dtype=dtype, requires_grad=True), torch.tensor(y), torch.tensor(w, dtype=dtype)


if __name__ == "__main__":
    data, out, formula, mode = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    batch = np.load(data)
    x, y, w = share(batch, rank, world, mode)
    if mode.startswith("multiclass"):
        loss_fn = compile_metric(formula, task="multiclass", num_classes=x.shape[1]).to_torch(pure=True, sync=True)
    elif mode == "ignored on one rank":
        loss_fn = compile_metric(formula, ignore_index=255).to_torch(pure=True, sync=True)
    else:
        loss_fn = compile_metric(formula).to_torch(pure=True, sync=True, compile=mode == "fused")
    if mode == "emitted module":  # the standalone module, as the paper's loss (L = 73, no state), synced
        import importlib.util

        spec = importlib.util.spec_from_file_location("emitted", os.environ["METRICC_EMITTED"])
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        loss_fn = module.MetricLoss(L=73.0, warmup=0, bce_weight=0.0, momentum=0.0, sync=True)
    if mode == "unsynced":  # sync left unchosen warns once per loss; sync=False does not
        import warnings

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for loss_fn in (compile_metric(formula).to_torch(),
                            compile_metric(formula, task="multiclass", num_classes=2).to_torch()):
                for _ in range(2):
                    inputs = (x, y, w) if loss_fn.__class__.__name__ == "SoftConfusionLoss" else \
                        (torch.stack([-x, x], 1).detach().requires_grad_(), y.long(), w)
                    loss_fn(*inputs).backward()
            unchosen = [str(c.message) for c in caught]
            caught.clear()
            compile_metric(formula).to_torch(sync=False)(x, y, w).backward()
            chosen = [str(c.message) for c in caught]
        np.savez(out, unchosen=np.array(unchosen), chosen=np.array(chosen, dtype=str), world=world)
        dist.barrier()
        dist.destroy_process_group()
        os._exit(0)
    if mode == "running":  # three steps with running counts: the estimates are those of the global batches
        loss_fn = compile_metric(formula).to_torch(pure=True, sync=True, momentum=0.7)
        base = x.detach()
        for step in range(3):
            x = (base + 0.2 * step).requires_grad_(True)
            loss = loss_fn(x, y, w)
            loss.backward()
        np.savez(out, loss=loss.item(), grad=x.grad.double().numpy(), running=loss_fn.running.numpy(), world=world)
        dist.barrier()
        dist.destroy_process_group()
        os._exit(0)
    try:
        loss = loss_fn(x, y, w)
        loss.backward()
        np.savez(out, loss=loss.item(), grad=x.grad.double().numpy(), world=world)
    except MetriccError as error:
        np.savez(out, error=str(error))
    dist.barrier()  # a process that raised still meets the others: nobody is left waiting
    dist.destroy_process_group()
    os._exit(0)
