"""The data: scikit-learn's handwritten digits, read by name through the project's data catalog.

`configs/catalog.yaml` says where each dataset lives (a local path, s3://, gs://, ...), its format
and the sha256 of its bytes; `mlcore.data` reads it and refuses other bytes (the DatasetLineage
callback records what was read as an input of the MLflow run). The example dataset is written
once into data/raw/ from scikit-learn (`prepare_data`, also `make data`). For your own data, add
it to the catalog and point `dataset` at it;
the splits, tensors and loaders around it stay the same.
"""

from __future__ import annotations

import os

import lightning as L
import mlcore.data
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, TensorDataset

EXAMPLE_DATASET = "digits"


def prepare_data(catalog: str | None = None) -> None:
    """Write the example dataset where the catalog says, unless it is there already.

    The save is atomic (a crash leaves nothing half-written) and refused if the bytes differ from
    the catalog's checksum. The CSV is the same byte for byte on every machine.
    """
    if mlcore.data.exists(EXAMPLE_DATASET, catalog=catalog):
        return
    from sklearn.datasets import load_digits

    frame = load_digits(as_frame=True).frame.astype("int64")  # pixel_0_0 ... pixel_7_7, target
    mlcore.data.save(EXAMPLE_DATASET, frame, catalog=catalog)


def load_arrays(
    dataset: str = EXAMPLE_DATASET, catalog: str | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Pixel intensities (8x8 images, flattened, 0 to 16) and integer class labels."""
    frame = mlcore.data.load(dataset, catalog=catalog)  # checksum verified
    # Copies: pandas' arrays are read-only views, and torch takes its tensors writable.
    features = frame.drop(columns="target").to_numpy(np.float32, copy=True)
    return features, frame["target"].to_numpy(np.int64, copy=True)


class DigitsDataModule(L.LightningDataModule):
    """Seeded train/val/test splits of the digits, served as mini-batches of raw pixels.

    The training split's per-pixel mean and standard deviation (`feature_mean`, `feature_std`)
    are there to look at; the model measures the same on the training batches and keeps them, so
    it always takes raw pixels.
    """

    num_features = 64
    num_classes = 10

    def __init__(
        self,
        dataset: str = EXAMPLE_DATASET,
        catalog: str | None = None,
        batch_size: int = 64,
        val_fraction: float = 0.15,
        test_fraction: float = 0.15,
        num_workers: int | None = 0,
        pin_memory: bool | None = None,
        seed: int = 42,
    ) -> None:
        super().__init__()
        if not 0 < val_fraction + test_fraction < 1:
            raise ValueError(
                f"val_fraction + test_fraction must be between 0 and 1, got "
                f"{val_fraction} + {test_fraction}: leave some data to train on"
            )
        self.dataset = dataset
        self.catalog = catalog
        self.batch_size = batch_size
        self.val_fraction = val_fraction
        self.test_fraction = test_fraction
        self.num_workers = num_workers
        self.pin_memory = pin_memory
        self.seed = seed
        self.indices: dict[str, torch.Tensor] = {}
        self.train_set: Dataset | None = None
        self.val_set: Dataset | None = None
        self.test_set: Dataset | None = None
        self.feature_mean: torch.Tensor | None = None
        self.feature_std: torch.Tensor | None = None

    def prepare_data(self) -> None:
        """Lightning calls this once per machine before setup: materialise the example data."""
        if self.dataset == EXAMPLE_DATASET:
            prepare_data(self.catalog)

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        features, labels = load_arrays(self.dataset, self.catalog)
        x, y = torch.from_numpy(features), torch.from_numpy(labels)
        n_val = round(len(y) * self.val_fraction)
        n_test = round(len(y) * self.test_fraction)
        sizes = [len(y) - n_val - n_test, n_val, n_test]
        # A fixed generator makes the split identical on every machine and every run.
        order = torch.randperm(len(y), generator=torch.Generator().manual_seed(self.seed))
        self.indices = dict(zip(("train", "val", "test"), order.split(sizes), strict=True))
        # Training statistics only, so nothing leaks from val/test into training.
        train_x = x[self.indices["train"]]
        std = train_x.std(0)
        self.feature_mean = train_x.mean(0)
        self.feature_std = torch.where(std > 0, std, torch.ones_like(std))
        self.train_set, self.val_set, self.test_set = (
            TensorDataset(x[index], y[index]) for index in self.indices.values()
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_set, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set)

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.test_set)

    def _loader(self, dataset: Dataset | None, shuffle: bool = False) -> DataLoader:
        if dataset is None:
            raise RuntimeError("call setup() before asking for a dataloader")
        # Workers and pinned memory: as configured, or (null) what suits the trainer's hardware:
        # a worker per CPU core each training process gets, less one; pinned memory on CUDA.
        workers = self.num_workers
        if workers is None:
            processes = self.trainer.num_devices if self.trainer is not None else 1
            workers = max(0, min(8, (os.cpu_count() or 1) // processes - 1))
        pin = torch.cuda.is_available() if self.pin_memory is None else self.pin_memory
        return DataLoader(
            dataset, batch_size=self.batch_size, shuffle=shuffle,
            num_workers=workers, pin_memory=pin, persistent_workers=workers > 0,
        )  # fmt: skip


if __name__ == "__main__":  # `make data`: materialise the example dataset
    prepare_data()
