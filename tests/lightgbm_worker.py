"""One machine of a data-parallel LightGBM training on this machine (tests/test_distributed.py): takes every other
row from its rank on, trains a few rounds with metricc's F1 objective (or an emitted module's) and prints the
warnings the objective gave, one per line.

    python lightgbm_worker.py RANK PORT,PORT [EMITTED_F1_OBJECTIVE.py]
"""

import importlib.util
import sys
import warnings

import lightgbm as lgb
from sklearn.datasets import make_classification

from metricc import compile_metric

rank, ports = int(sys.argv[1]), [int(port) for port in sys.argv[2].split(",")]
objective = compile_metric("f1").to_lightgbm()
if len(sys.argv) > 3:
    spec = importlib.util.spec_from_file_location("emitted", sys.argv[3])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    objective = module.objective
X, y = make_classification(2000, weights=[0.9], random_state=0)
params = {**objective.params, "objective": objective, "verbose": -1, "num_threads": 1, "tree_learner": "data",
          "num_machines": len(ports), "machines": ",".join(f"127.0.0.1:{port}" for port in ports),
          "local_listen_port": ports[rank], "pre_partition": True, "time_out": 2}
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    lgb.train(params, lgb.Dataset(X[rank::len(ports)], y[rank::len(ports)]), 3)
for warning in caught:
    print(f"{warning.category.__name__}: {warning.message}")
