"""The data: scikit-learn's bundled handwritten digits, so training needs no download.

Replace `load_arrays` with your own source (or a catalog entry); the splits, tensors and loaders
around it stay the same.
"""

from __future__ import annotations

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, TensorDataset, random_split


def load_arrays() -> tuple[np.ndarray, np.ndarray]:
    """Features scaled to [0, 1] (8x8 images, flattened) and integer class labels."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    return digits.data.astype(np.float32) / 16.0, digits.target.astype(np.int64)


class DigitsDataModule(L.LightningDataModule):
    """Seeded train/val/test splits of the digits, served as mini-batches."""

    num_features = 64
    num_classes = 10

    def __init__(
        self,
        batch_size: int = 64,
        val_fraction: float = 0.15,
        test_fraction: float = 0.15,
        num_workers: int = 0,
        pin_memory: bool = False,
        seed: int = 42,
    ) -> None:
        super().__init__()
        if not 0 < val_fraction + test_fraction < 1:
            raise ValueError(
                f"val_fraction + test_fraction must be between 0 and 1, got "
                f"{val_fraction} + {test_fraction}: leave some data to train on"
            )
        self.batch_size = batch_size
        self.val_fraction = val_fraction
        self.test_fraction = test_fraction
        self.num_workers = num_workers
        self.pin_memory = pin_memory
        self.seed = seed
        self.train_set: Dataset | None = None
        self.val_set: Dataset | None = None
        self.test_set: Dataset | None = None

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        features, labels = load_arrays()
        dataset = TensorDataset(torch.from_numpy(features), torch.from_numpy(labels))
        n_val = round(len(dataset) * self.val_fraction)
        n_test = round(len(dataset) * self.test_fraction)
        sizes = [len(dataset) - n_val - n_test, n_val, n_test]
        # A fixed generator makes the split identical on every machine and every run.
        generator = torch.Generator().manual_seed(self.seed)
        self.train_set, self.val_set, self.test_set = random_split(dataset, sizes, generator)

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_set, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set)

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.test_set)

    def _loader(self, dataset: Dataset | None, shuffle: bool = False) -> DataLoader:
        if dataset is None:
            raise RuntimeError("call setup() before asking for a dataloader")
        return DataLoader(
            dataset,
            batch_size=self.batch_size,
            shuffle=shuffle,
            num_workers=self.num_workers,
            pin_memory=self.pin_memory,
            persistent_workers=self.num_workers > 0,
        )
