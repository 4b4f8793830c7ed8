"""The Python examples of the README and the docs run as written, on data of the shapes their comments name."""

import re
from pathlib import Path

import numpy as np
import pytest
import torch

from metricc import compile_metric

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def python_blocks() -> list[str]:
    return [block for document in DOCUMENTS for block in re.findall(
        r"^```python\n(.*?)^```", document.read_text(encoding="utf-8"), re.DOTALL | re.MULTILINE)]


def binary_tensors():
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(64, generator=generator, dtype=torch.float64, requires_grad=True)
    target = (torch.rand(64, generator=generator) < 0.3).double()
    logits_np, y_np = logits.detach().numpy().copy(), target.numpy().copy()
    return {"logits": logits, "target": target, "logits_np": logits_np, "y_np": y_np}


def multiclass_tensors():
    generator = torch.Generator().manual_seed(1)
    masks = torch.randint(0, 21, (2, 8, 8), generator=generator)
    masks[0, 0] = 255  # void pixels
    binary_masks = torch.randint(0, 2, (2, 8, 8), generator=generator)
    binary_masks[1, :, 0] = 255
    return {"logits": torch.randn(32, 4, generator=generator, requires_grad=True),
            "labels": torch.randint(0, 4, (32,), generator=generator),
            "pixel_logits": torch.randn(2, 21, 8, 8, generator=generator, requires_grad=True), "masks": masks,
            "mask_logits": torch.randn(2, 8, 8, generator=generator, requires_grad=True),
            "binary_masks": binary_masks, "mixed": torch.softmax(torch.randn(32, 4, generator=generator), 1)}


def tabular(n_classes: int):
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=600, n_features=8, n_informative=5, n_classes=n_classes,
                               weights=[0.8] if n_classes == 2 else None, random_state=0)
    return {"X": X[:300], "y": y[:300], "X_val": X[300:450], "y_val": y[300:450], "X_test": X[450:]}


def multilabel_tabular():
    from sklearn.datasets import make_multilabel_classification

    X, Y = make_multilabel_classification(n_samples=300, n_features=8, n_classes=3, random_state=0)
    return {"X": X, "Y": Y}


def check_binary(names):
    assert names["loss"].ndim == 0 and torch.isfinite(names["loss"])
    assert np.isfinite(names["value"]) and names["grad"].shape == names["logits_np"].shape


def check_multiclass(names):
    assert names["loss"].ndim == 0 and torch.isfinite(names["loss"])


def check_boosting(names):
    assert set(np.unique(names["predicted"])) <= {0, 1} and names["predicted"].shape == (150,)
    assert np.all((names["probability"] >= 0) & (names["probability"] <= 1))


def check_multiclass_boosting(names):
    assert names["classes"].shape == (150,) and set(np.unique(names["classes"])) <= {0, 1, 2, 3}


def check_booster(names):
    assert names["booster"].num_boosted_rounds() == 200


# each block by a line it holds: the names it reads, and what to check of the names it sets
BLOCKS = {
    "f1 = compile_metric(": (binary_tensors, check_binary, ()),
    "seg = compile_metric(": (multiclass_tensors, check_multiclass, ()),
    "import xgboost as xgb, lightgbm as lgb": (lambda: tabular(2), check_boosting, ("xgboost", "lightgbm")),
    'compile_metric("f1", task="multiclass", num_classes=4).to_lightgbm()': (
        lambda: tabular(4), check_multiclass_boosting, ("lightgbm",)),
    'metric = compile_metric("f1", task="multilabel", num_classes=3)': (
        multilabel_tabular, check_booster, ("xgboost",)),
    'metric = compile_metric("f1", task="multiclass", num_classes=4)': (
        lambda: tabular(4), check_multiclass_boosting, ("xgboost",)),
}


def test_every_python_block_has_its_data():
    blocks = python_blocks()
    assert len(blocks) == len(BLOCKS)
    for block in blocks:
        assert sum(line in block for line in BLOCKS) == 1, block


@pytest.mark.parametrize("line", list(BLOCKS))
def test_python_block_runs(line, capsys):
    data, check, modules = BLOCKS[line]
    for module in modules:
        pytest.importorskip(module)
    block = next(block for block in python_blocks() if line in block)
    names = {"compile_metric": compile_metric, **data()}
    exec(compile(block, f"block with {line!r}", "exec"), names)  # the README's own text, not a user's
    check(names)
