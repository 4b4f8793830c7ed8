"""Two processes with the gloo backend, each with half of a batch: with sync=True the loss is the single-process
loss of the whole batch, and each half's gradient is world_size times the matching rows of the single-process
gradient (DistributedDataParallel then averages them into exactly that gradient). Two XGBoost workers, each with
half of the rows: each one's objective and evaluation are those of the whole data set."""

import json
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
    (tmp_path / "emitted.py").write_text(compile_metric(formula).emit("torch"))  # for mode "emitted module"
    env = {**os.environ, "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(_free_port()), "WORLD_SIZE": "2",
           "OMP_NUM_THREADS": "1", "METRICC_EMITTED": str(tmp_path / "emitted.py")}
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


@pytest.mark.parametrize("mode", ["empty share", "zero weights", "mixed dtypes", "emitted module"])
def test_uneven_shares_give_the_loss_of_the_global_batch(tmp_path, mode):
    """Each process's loss is the whole batch's (also from the standalone module `metricc compile` writes)."""
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
    batch["y"] = rng.dirichlet(np.ones(3), 64)  # class probabilities, a row summing to 3 on one process
    errors = [str(result.get("error", "")) for result in
              _run_two_processes(tmp_path, batch, "f1", "multiclass probabilities, a bad row on one rank")]
    assert "a row's sum is 3" in errors[1] and "another process failed the input checks" in errors[0], errors


@pytest.mark.parametrize("formula, mode", [("f1", "eager"), ("mcc", "eager"), ("f1", "fused"),
                                           ("f1", "multiclass"), ("f1", "multiclass probabilities")])
def test_two_processes_match_one(tmp_path, formula, mode):
    rng = np.random.default_rng(0)
    n = 64
    if mode.startswith("multiclass"):
        y = rng.dirichlet(np.ones(3), n) if mode == "multiclass probabilities" else rng.integers(0, 3, n)
        batch = {"z": rng.normal(0, 0.3, (n, 3)), "y": y, "w": rng.uniform(0.5, 2, n)}
    else:
        batch = {"z": rng.normal(0, 0.1, n), "y": (rng.random(n) < 0.3).astype(np.float64),
                 "w": rng.uniform(0.5, 2, n)}
    _run_two_processes(tmp_path, batch, formula, mode)
    x = torch.tensor(batch["z"], requires_grad=True)
    options = {"task": "multiclass", "num_classes": 3} if mode.startswith("multiclass") else {}
    loss = compile_metric(formula, **options).to_torch(pure=True)(x, torch.tensor(batch["y"]), torch.tensor(batch["w"]))
    loss.backward()
    halves = np.array_split(np.arange(n), 2)
    for rank, rows in enumerate(halves):
        result = np.load(tmp_path / f"rank{rank}.npz")
        assert float(result["loss"]) == pytest.approx(loss.item(), rel=1e-6, abs=1e-12)
        np.testing.assert_allclose(result["grad"], 2 * x.grad.numpy()[rows], rtol=1e-6, atol=1e-12)


def test_a_share_of_ignored_elements_only_waits_for_nothing_and_adds_nothing(tmp_path):
    """Under sync=True, a process whose every target is the ignore label neither raises (the other has weight)
    nor shifts the loss: both get the loss of the other's share, the gradient there is world_size times one
    process's, and 0 on the ignored share."""
    batch = _binary_batch()
    results = _run_two_processes(tmp_path, batch, "f1", "ignored on one rank")
    rows = np.array_split(np.arange(len(batch["z"])), 2)[0]
    x = torch.tensor(batch["z"][rows], requires_grad=True)
    loss = compile_metric("f1").to_torch(pure=True)(x, torch.tensor(batch["y"][rows]), torch.tensor(batch["w"][rows]))
    loss.backward()
    for result in results:
        assert "error" not in result, result.get("error")
        assert float(result["loss"]) == pytest.approx(loss.item(), rel=1e-10)
    np.testing.assert_allclose(results[0]["grad"], 2 * x.grad.numpy(), rtol=1e-10, atol=1e-300)
    assert not results[1]["grad"].any()


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


def test_a_loss_left_unsynced_under_torch_distributed_warns_once(tmp_path):
    """Under torch.distributed with two processes, a loss whose sync was not chosen warns once (binary and
    multi-class) that each process computes its own share's metric and names sync=True; sync=False is silent.
    Without the warning a DistributedDataParallel user had silently trained on per-process metrics."""
    results = _run_two_processes(tmp_path, _binary_batch(), "f1", "unsynced")
    for result in results:
        assert len(result["unchosen"]) == 2, result["unchosen"]  # one per loss, not one per call
        for message in result["unchosen"]:
            assert message.startswith("torch.distributed runs 2 processes, and each one's loss is the metric of "
                                      "its own share of the batch: pass sync=True"), message
        assert len(result["chosen"]) == 0


def _xgboost_data():
    from sklearn.datasets import make_classification

    rng = np.random.default_rng(1)
    n = 300
    z = rng.normal(0, 0.5, n)
    X, y_train = make_classification(600, 6, weights=[0.8], flip_y=0.1, random_state=0)
    return {"z_binary": z, "y": (rng.random(n) < 0.3).astype(np.float64), "w": rng.uniform(0.5, 2, n),
            # every row far out on the amplifier but one of the first worker's: float64 on the second only
            "z_far": np.concatenate([[0.15], 40.0 + rng.random(n - 1)]),
            # the first worker's rows (the even ones): soft labels; weights of 1e-17 (float64 there only)
            "y_soft": np.where(np.arange(n) % 2, rng.random(n) < 0.3, 0.3 + 1e-3 * rng.random(n)),
            "w_tiny": np.where(np.arange(n) % 2, 1.0, 1e-17) * rng.uniform(0.5, 2, n),
            "z_multiclass": rng.normal(0, 0.5, (n, 3)), "y_multiclass": rng.integers(0, 3, n),
            "z_multilabel": rng.normal(0, 0.5, (n, 3)), "y_multilabel": (rng.random((n, 3)) < 0.3) * 1.0,
            "X": X[:400], "y_train": y_train[:400], "X_val": X[400:], "y_val": y_train[400:]}


def test_distributed_xgboost_objectives_see_the_whole_training_set(tmp_path):
    """Two XGBoost workers (a tracker, as xgboost.dask and xgboost.spark start them), each with every other row:
    each worker's objective gives the gradient and Hessian that one process gives for the whole data set, on its
    rows, and its evaluation the metric of the whole set, for every Hessian form, the fixed scale, multi-class and
    multi-label (before, each worker trained on the metric of its own rows, each with its own scale). Where one
    worker's rows all lie far out on the amplifier, its labels are soft or its weights tiny (float64 there), both
    compute in float64, and nothing hangs (with tiny weights on one worker, the workers' sums had different sizes).
    Training with early stopping stops both workers at the same round, on the F1 of the whole validation set
    (XGBoost averages a custom metric over the workers: it had been the mean of their own F1s)."""
    xgb = pytest.importorskip("xgboost")
    from xgboost.tracker import RabitTracker

    from xgboost_worker import CASES, case_data

    data = _xgboost_data()
    np.savez(tmp_path / "data.npz", **data)
    (tmp_path / "f1_objective.py").write_text(compile_metric("f1").emit("xgboost"))
    tracker = RabitTracker(host_ip="127.0.0.1", n_workers=2)
    tracker.start()
    arguments = json.dumps(tracker.worker_args())
    command = [sys.executable, str(WORKER.parent / "xgboost_worker.py"), str(tmp_path / "data.npz")]
    processes = [subprocess.Popen([*command, str(tmp_path / f"worker{k}.npz"), arguments,
                                   str(tmp_path / "f1_objective.py")], env={**os.environ, "OMP_NUM_THREADS": "1"},
                                  stderr=subprocess.PIPE, text=True) for k in range(2)]
    for process in processes:
        _, stderr = process.communicate(timeout=300)  # a hang fails here
        assert process.returncode == 0, stderr
    tracker.wait_for()
    results = [dict(np.load(tmp_path / f"worker{k}.npz")) for k in range(2)]
    assert sorted(np.concatenate([r["rows"] for r in results]).tolist()) == list(range(len(data["y"])))
    for name, (formula, compile_options, options, kind) in CASES.items():
        objective = compile_metric(formula, **compile_options).to_xgboost(**options)
        z, y, w = case_data(data, kind)
        whole = xgb.DMatrix(np.zeros((len(y), 1)), label=y, weight=w)  # (None: no weights)
        grad, hess = objective(z, whole)
        expected_eval = objective.eval_metric(z, whole)[1]
        for result in results:
            rows = result["rows"]
            for got, expected in ((result[f"{name}_grad"], grad), (result[f"{name}_hess"], hess)):
                # (within float32's tolerance relative to the largest output: "far" is float32 in one process)
                np.testing.assert_allclose(got, expected[rows], rtol=0, atol=1e-5 * np.abs(expected).max(),
                                           err_msg=name)
            assert float(result[f"{name}_eval"]) == pytest.approx(expected_eval, abs=1e-12), name
            if name == "f1":  # the emitted module's objective: the same numbers
                np.testing.assert_array_equal(result["emitted_grad"], result["f1_grad"])
                np.testing.assert_array_equal(result["emitted_hess"], result["f1_hess"])
                assert float(result["emitted_eval"]) == float(result["f1_eval"])
    first = next(r for r in results if "local" in r)
    rows, objective = first["rows"], compile_metric("f1").to_xgboost()
    z, y, w = data["z_binary"][rows], data["y"][rows], data["w"][rows]
    np.testing.assert_allclose(first["local"], [objective.loss(z, y, w), objective.evaluate(z, y)], rtol=1e-12)
    assert results[0]["best_iteration"] == results[1]["best_iteration"]
    np.testing.assert_array_equal(results[0]["history"], results[1]["history"])
    np.testing.assert_array_equal(results[0]["margins"], results[1]["margins"])
    best = int(results[0]["best_iteration"])
    objective = compile_metric("f1").to_xgboost()
    assert results[0]["history"][best] == pytest.approx(objective.evaluate(results[0]["margins"], data["y_val"]),
                                                        abs=1e-6)  # (XGBoost records six digits)


def test_every_xgboost_worker_raises_when_one_workers_inputs_fail(tmp_path):
    """Of two XGBoost workers, one has a label of 2. It raised metricc's error and left; the other, waiting in the
    all-reduce of the counts, failed with XGBoost's lost-connection error (or, had the first kept its connection,
    would have waited for ever). Now both agree, in one all-reduce of a flag, before their sums meet: the worker
    at fault raises its own error, the other that another worker's inputs failed; then both go on in step."""
    pytest.importorskip("xgboost")
    from xgboost.tracker import RabitTracker

    tracker = RabitTracker(host_ip="127.0.0.1", n_workers=2)
    tracker.start()
    arguments = json.dumps(tracker.worker_args())
    command = [sys.executable, str(WORKER.parent / "xgboost_failing_worker.py")]
    processes = [subprocess.Popen([*command, str(tmp_path / f"worker{k}.json"), arguments],
                                  env={**os.environ, "OMP_NUM_THREADS": "1"}, stderr=subprocess.PIPE, text=True)
                 for k in range(2)]
    for process in processes:
        _, stderr = process.communicate(timeout=120)  # a hang fails here
        assert process.returncode == 0, stderr
    tracker.wait_for()
    outcomes = [json.loads((tmp_path / f"worker{k}.json").read_text()) for k in range(2)]
    messages = {call: [o[call] for o in outcomes] for call in ("objective", "eval_metric", "after")}
    for call in ("objective", "eval_metric"):
        assert {m.startswith("Expected labels in [0, 1], but row 3 holds 2") for m in messages[call]} == {True, False}
        assert any(m.startswith("the inputs of another worker failed") for m in messages[call]), messages[call]
    assert messages["after"] == ["ok", "ok"]


@pytest.mark.parametrize("source", ["metricc", "emitted module"])
def test_distributed_lightgbm_objectives_warn_that_each_machine_sees_its_own_rows(tmp_path, source):
    """Two machines of a data-parallel LightGBM training (on this machine, as lightgbm.dask starts them): LightGBM
    gives each machine's objective its own rows and no all-reduce to sum the counts over, so each trains on its
    own rows' F1; the objective says so, once, on each machine (it had trained on in silence)."""
    pytest.importorskip("lightgbm")
    pytest.importorskip("sklearn")
    with socket.socket() as first, socket.socket() as second:  # two distinct free ports (both held at once)
        first.bind(("127.0.0.1", 0))
        second.bind(("127.0.0.1", 0))
        ports = f"{first.getsockname()[1]},{second.getsockname()[1]}"
    command = [sys.executable, str(WORKER.parent / "lightgbm_worker.py")]
    if source == "emitted module":
        (tmp_path / "f1_objective.py").write_text(compile_metric("f1").emit("lightgbm"))
    emitted = [str(tmp_path / "f1_objective.py")] if source == "emitted module" else []
    processes = [subprocess.Popen([*command, str(rank), ports, *emitted], env={**os.environ, "OMP_NUM_THREADS": "1"},
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for rank in range(2)]
    for process in processes:
        stdout, stderr = process.communicate(timeout=300)  # a hang fails here
        assert process.returncode == 0, stderr
        category = "MetriccWarning" if source == "metricc" else "UserWarning"  # (an emitted module's)
        warned = [line for line in stdout.splitlines() if line.startswith(f"{category}: ")]
        assert len(warned) == 1, stdout
        assert warned[0].startswith(f"{category}: LightGBM trains on 2 machines") and "own rows" in warned[0]
