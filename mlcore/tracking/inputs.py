"""The rows a model was trained and tested on, as MLflow dataset inputs with content digests.

MLflow digests each split's rows; the test split's digest is what the registry's gate compares,
so two models are compared only on the same rows. The files behind them are fingerprinted by
`mlcore.data` (`DatasetLineage`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")
# MLflow itself digests at most this many rows of an array; there is no point reading more.
DIGEST_ROWS = 10_000


@dataclass
class Split:
    """One split in memory: features, targets and, for the test split, the model's outputs."""

    name: str
    features: np.ndarray
    targets: np.ndarray | None
    outputs: np.ndarray | None = None


def dataset_rows(datamodule: Any, split: str, limit: int | None = DIGEST_ROWS) -> Split | None:
    """A split's rows in stored order (not the loader's shuffle), at most `limit`, from
    `<split>_set` or `<split>_dataloader()`; None without (x, y) rows."""
    import numpy as np

    dataset = getattr(datamodule, f"{split}_set", None)
    if dataset is None:
        loader_fn = getattr(datamodule, f"{split}_dataloader", None)
        try:
            dataset = getattr(loader_fn(), "dataset", None) if loader_fn else None
        except Exception:  # a datamodule without that split raises; nothing to record
            return None
    if dataset is None:
        return None
    tensors = getattr(dataset, "tensors", None)
    if tensors is not None:
        rows = [t[:limit] for t in tensors]
    else:
        count = len(dataset) if limit is None else min(len(dataset), limit)
        items = [dataset[i] for i in range(count)]
        if not items or not isinstance(items[0], tuple | list):
            return None
        rows = [np.stack([numpy(item[k]) for item in items]) for k in range(len(items[0]))]
    features = numpy(rows[0])
    targets = numpy(rows[1]) if len(rows) > 1 else None
    return Split(split, features, targets)


def predict_split(model: Any, datamodule: Any, split: str = "test") -> Split | None:
    """Features, targets and model outputs of a whole split, from its (unshuffled) loader."""
    import numpy as np
    import torch

    loader_fn = getattr(datamodule, f"{split}_dataloader", None)
    if loader_fn is None:
        return None
    features, targets, outputs = [], [], []
    device = getattr(model, "device", torch.device("cpu"))
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            for batch in loader_fn():
                if not isinstance(batch, tuple | list) or len(batch) < 2:
                    return None
                x, y = batch[0], batch[1]
                outputs.append(numpy(model(x.to(device))))
                features.append(numpy(x))
                targets.append(numpy(y))
    finally:
        model.train(was_training)
    if not features:
        return None
    return Split(split, np.concatenate(features), np.concatenate(targets), np.concatenate(outputs))


def split_digest(split: Split, dataset_name: str) -> str:
    """The digest `log_splits` gives the split, without logging it."""
    return _as_dataset(split, dataset_name).digest


def log_splits(splits: Iterable[Split], dataset_name: str) -> dict[str, str]:
    """Log each split as an MLflow dataset input of the active run; return split -> digest."""
    import mlflow

    digests = {}
    for split in splits:
        dataset = _as_dataset(split, dataset_name)
        mlflow.log_input(dataset, context=split.name)
        digests[split.name] = dataset.digest
    return digests


def _as_dataset(split: Split, dataset_name: str) -> Any:
    """The split as an MLflow dataset: its first DIGEST_ROWS rows, named `<data>-<split>`."""
    from mlflow.data.numpy_dataset import from_numpy

    return from_numpy(
        split.features[:DIGEST_ROWS],
        targets=None if split.targets is None else split.targets[:DIGEST_ROWS],  # type: ignore[arg-type]  # None is its default
        name=f"{dataset_name}-{split.name}",
    )


def numpy(value: Any) -> np.ndarray:
    """A tensor or array-like as a numpy array on the host."""
    import numpy as np

    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return np.asarray(value)
