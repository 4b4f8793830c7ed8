"""The F1 loss on the modern protocol's 24 synthetic sets with shorter warm-ups, without the BCE blend, and pure:
mean test F1 per set (5 folds, the protocol's MLP and training) against BCE at 0.5. From the repository root:

    python docs/training/f1_warmup_ablation.py 0/1      # or 0/2 and 1/2 in two processes
"""

import json
import sys
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedKFold
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples"))
from modern_protocol import fit  # noqa: E402
from reproduce_paper import suite_datasets  # noqa: E402

from metricc import compile_metric  # noqa: E402

VARIANTS = {"BCE": None, "default": {}, "warmup100": {"warmup": 100}, "warmup0": {"warmup": 0}, "pure": {"pure": True},
            "w100_nobce": {"warmup": 100, "bce_weight": 0.0}}


def main(shard):
    torch.set_num_threads(1)
    part, parts = (int(v) for v in shard.split("/"))
    out = {}
    for name, _, X, y in list(suite_datasets(0))[part::parts]:
        scores = {k: [] for k in VARIANTS}
        for fold, (train, test) in enumerate(StratifiedKFold(5, shuffle=True, random_state=0).split(X, y)):
            scaler = StandardScaler().fit(X[train])
            X_train, X_test = scaler.transform(X[train]), scaler.transform(X[test])
            for variant, options in VARIANTS.items():
                loss_fn = torch.nn.BCEWithLogitsLoss() if options is None else compile_metric("f1").to_torch(**options)
                logits = fit(X_train, y[train], loss_fn, 30, fold)
                scores[variant].append(f1_score(y[test], (logits(X_test) >= 0).astype(int), zero_division=0))
        out[name] = {k: float(np.mean(v)) for k, v in scores.items()}
        print(name, {k: round(v, 3) for k, v in out[name].items()}, flush=True)
    (Path(__file__).with_name(f"f1_warmup_ablation_{part}.json")).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "0/1")
