"""One process of the distributed test: its half of a batch, the loss with sync=True, the gradient."""

import os
import sys

import numpy as np
import torch
import torch.distributed as dist

from metricc import compile_metric

if __name__ == "__main__":
    data, out, formula, mode = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    batch = np.load(data)
    z, y, w = (np.array_split(batch[k], world)[rank] for k in ("z", "y", "w"))
    x = torch.tensor(z, requires_grad=True)
    if mode == "multiclass":
        loss_fn = compile_metric(formula, task="multiclass", num_classes=z.shape[1]).to_torch(sync=True)
    else:
        loss_fn = compile_metric(formula).to_torch(sync=True, compile=mode == "fused")
    loss = loss_fn(x, torch.tensor(y), torch.tensor(w))
    loss.backward()
    np.savez(out, loss=loss.item(), grad=x.grad.numpy(), world=world)
    dist.destroy_process_group()
    os._exit(0)
