"""Two processes with the gloo backend, each with half of a batch: with sync=True the loss is the single-process
loss of the whole batch, and each half's gradient is world_size times the matching rows of the single-process
gradient (DistributedDataParallel then averages them into exactly that gradient)."""

import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from metricc import compile_metric

WORKER = Path(__file__).resolve().parent / "ddp_worker.py"


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run_two_processes(tmp_path, batch, formula, mode):
    np.savez(tmp_path / "batch.npz", **batch)
    env = {**os.environ, "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(_free_port()), "WORLD_SIZE": "2",
           "OMP_NUM_THREADS": "1"}
    processes = [subprocess.Popen([sys.executable, str(WORKER), str(tmp_path / "batch.npz"),
                                   str(tmp_path / f"rank{rank}.npz"), formula, mode],
                                  env={**env, "RANK": str(rank)}, stderr=subprocess.PIPE, text=True)
                 for rank in range(2)]
    for process in processes:
        _, stderr = process.communicate(timeout=300)  # a hang fails here
        assert process.returncode == 0, stderr
    return [dict(np.load(tmp_path / f"rank{rank}.npz")) for rank in range(2)]


def _binary_batch(n=64):
    rng = np.random.default_rng(0)
    return {"z": rng.normal(0, 0.5, n), "y": (rng.random(n) < 0.3).astype(np.float64), "w": rng.uniform(0.5, 2, n)}


@pytest.mark.parametrize("mode", ["empty share", "zero weights", "mixed dtypes"])
def test_uneven_shares_give_the_loss_of_the_global_batch(tmp_path, mode):
    batch = _binary_batch()
    results = _run_two_processes(tmp_path, batch, "f1", mode)
    from ddp_worker import share

    shares = [share(batch, rank, 2, mode) for rank in range(2)]
    z = torch.cat([s[0].detach().double() for s in shares])
    y, w = torch.cat([s[1] for s in shares]), torch.cat([s[2].double() for s in shares])
    expected = compile_metric("f1").to_torch(pure=True)(z, y, w).item()
    for result in results:
        assert "error" not in result, result.get("error")
        assert float(result["loss"]) == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("mode, message", [
    ("nan on one rank", "input"),
    ("all zero weights", "positive entry in some process"),
])
def test_every_process_raises_when_one_fails(tmp_path, mode, message):
    results = _run_two_processes(tmp_path, _binary_batch(), "f1", mode)
    errors = [str(result.get("error", "")) for result in results]
    assert all(errors), errors
    assert any(message in e for e in errors), errors


def test_every_multiclass_process_raises_when_one_fails(tmp_path):
    """A class index out of range on one process: every process raises (the process with it says what), so that
    none goes on to the next step's all-reduce and waits there for ever."""
    rng = np.random.default_rng(0)
    batch = {"z": rng.normal(0, 0.3, (64, 3)), "y": rng.integers(0, 3, 64), "w": rng.uniform(0.5, 2, 64)}
    errors = [str(result.get("error", "")) for result in
              _run_two_processes(tmp_path, batch, "f1", "multiclass, a bad class on one rank")]
    assert "class indices in [0, 3)" in errors[1] and "another process failed the input checks" in errors[0], errors


@pytest.mark.parametrize("formula, mode", [("f1", "eager"), ("mcc", "eager"), ("f1", "fused"),
                                           ("f1", "multiclass")])
def test_two_processes_match_one(tmp_path, formula, mode):
    rng = np.random.default_rng(0)
    n = 64
    if mode == "multiclass":
        batch = {"z": rng.normal(0, 0.3, (n, 3)), "y": rng.integers(0, 3, n), "w": rng.uniform(0.5, 2, n)}
    else:
        batch = {"z": rng.normal(0, 0.1, n), "y": (rng.random(n) < 0.3).astype(np.float64),
                 "w": rng.uniform(0.5, 2, n)}
    _run_two_processes(tmp_path, batch, formula, mode)
    x = torch.tensor(batch["z"], requires_grad=True)
    options = {"task": "multiclass", "num_classes": 3} if mode == "multiclass" else {}
    loss = compile_metric(formula, **options).to_torch(pure=True)(x, torch.tensor(batch["y"]), torch.tensor(batch["w"]))
    loss.backward()
    halves = np.array_split(np.arange(n), 2)
    for rank, rows in enumerate(halves):
        result = np.load(tmp_path / f"rank{rank}.npz")
        assert float(result["loss"]) == pytest.approx(loss.item(), rel=1e-6, abs=1e-12)
        np.testing.assert_allclose(result["grad"], 2 * x.grad.numpy()[rows], rtol=1e-6, atol=1e-12)


def test_running_counts_under_sync_equal_the_single_process_ones(tmp_path):
    batch = _binary_batch()
    results = _run_two_processes(tmp_path, batch, "f1", "running")
    loss_fn = compile_metric("f1").to_torch(pure=True, momentum=0.7)
    z, y, w = (torch.tensor(batch[k]) for k in ("z", "y", "w"))
    for step in range(3):
        x = (z + 0.2 * step).requires_grad_(True)
        loss = loss_fn(x, y, w)
        loss.backward()
    halves = np.array_split(np.arange(len(z)), 2)
    for rank, rows in enumerate(halves):
        np.testing.assert_allclose(results[rank]["running"], loss_fn.running.numpy(), rtol=1e-12)
        assert float(results[rank]["loss"]) == pytest.approx(loss.item(), rel=1e-12)
        np.testing.assert_allclose(results[rank]["grad"], 2 * x.grad.numpy()[rows], rtol=1e-9, atol=1e-15)


def test_sync_is_a_no_op_without_torch_distributed():
    metric = compile_metric("f1")
    z, y = torch.linspace(-1, 1, 10, dtype=torch.float64), torch.tensor([0.0, 1.0] * 5, dtype=torch.float64)
    assert torch.equal(metric.to_torch(pure=True, sync=True)(z, y), metric.to_torch(pure=True)(z, y))
