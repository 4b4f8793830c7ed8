"""Data-parallel training on CPU with the gloo backend: each process holds a shard, and the loss with
sync=True is that of the global batch (see README, "Distributed training").

    torchrun --nproc_per_node=2 examples/ddp_train.py [--steps 50]
"""

import argparse

import torch
import torch.distributed as dist
from sklearn.datasets import make_classification
from sklearn.metrics import f1_score

from metricc import compile_metric


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=50, help="training steps (default: 50)")
    args = parser.parse_args()
    if args.steps < 1:
        parser.error("--steps must be at least 1")
    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    X, y = make_classification(n_samples=4000, n_features=8, weights=[0.9], random_state=0)
    X = torch.tensor(X, dtype=torch.float32)
    y = torch.tensor(y, dtype=torch.float32)
    shard = slice(rank, None, world)  # every process sees its own rows
    torch.manual_seed(0)
    model = torch.nn.parallel.DistributedDataParallel(torch.nn.Linear(8, 1))
    loss_fn = compile_metric("f1").to_torch(sync=True)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    for step in range(args.steps):
        optimizer.zero_grad()
        loss = loss_fn(model(X[shard]).squeeze(1), y[shard])  # the same global loss on every process
        loss.backward()  # DDP averages the (world_size-scaled) gradients into the global one
        optimizer.step()
        if rank == 0 and step % 10 == 0:
            print(f"step {step:3d}: global 1 - F1 = {loss.item():.4f}")
    if rank == 0:
        with torch.no_grad():
            predicted = (model(X).squeeze(1) >= 0).int().numpy()
        print(f"{world} processes: F1 on all rows = {f1_score(y.int().numpy(), predicted):.3f}")
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
