"""The model: a small multilayer perceptron that classifies the digits.

It standardizes its own input with the training split's statistics, kept as buffers: the
checkpoint, the registered model and its ONNX copy all take raw pixels, so serving and batch
prediction need no preprocessing of their own. Optimizer and scheduler come from config as plain
`_target_` specs; keeping them plain in the saved hyperparameters is what lets checkpoints load
under torch's default `weights_only=True`.
"""

from __future__ import annotations

from typing import Any

import lightning as L
import torch
from mlcore.training import configure_optimizers
from torch import nn
from torchmetrics import MaxMetric, MeanMetric
from torchmetrics.classification import MulticlassAccuracy

Batch = tuple[torch.Tensor, torch.Tensor]  # (features, labels)


class DigitsClassifier(L.LightningModule):
    """MLP classifier with loss and accuracy per split and the best validation accuracy so far.

    `accuracy` is the share of examples classified correctly (`average="micro"`: torchmetrics'
    default, "macro", would be the mean of the per-class recalls). Metrics accumulate each step
    (`update`) and are computed and logged once per epoch: logging a metric object on every step
    costs Lightning about 2 ms a call, more than the step itself.
    """

    def __init__(
        self,
        num_features: int = 64,
        num_classes: int = 10,
        hidden_dims: tuple[int, ...] = (128, 64),
        dropout: float = 0.1,
        optimizer: dict[str, Any] | None = None,
        scheduler: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        # Input standardization (x - mean) / std; set from the training data in `setup`.
        self.register_buffer("input_mean", torch.zeros(num_features))
        self.register_buffer("input_std", torch.ones(num_features))
        layers: list[nn.Module] = []
        width = num_features
        for hidden in hidden_dims:
            layers += [nn.Linear(width, hidden), nn.ReLU(), nn.Dropout(dropout)]
            width = hidden
        layers.append(nn.Linear(width, num_classes))
        self.net = nn.Sequential(*layers)
        self.loss = nn.CrossEntropyLoss()
        # "<split>/loss" and "<split>/accuracy" for train, val and test (ModuleDict keys take no
        # "/").
        self.metrics = nn.ModuleDict()
        for split in ("train", "val", "test"):
            self.metrics[f"{split}_loss"] = MeanMetric()
            self.metrics[f"{split}_accuracy"] = MulticlassAccuracy(num_classes, average="micro")
        self.val_accuracy_best = MaxMetric()

    def setup(self, stage: str) -> None:
        """Before fitting, take the standardization from the datamodule's training split."""
        datamodule = getattr(self.trainer, "datamodule", None)
        if stage == "fit" and getattr(datamodule, "feature_mean", None) is not None:
            self.input_mean.copy_(datamodule.feature_mean)
            self.input_std.copy_(datamodule.feature_std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net((x - self.input_mean) / self.input_std)

    def training_step(self, batch: Batch, batch_idx: int) -> torch.Tensor:
        return self._step("train", batch)

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        self._step("val", batch)

    def test_step(self, batch: Batch, batch_idx: int) -> None:
        self._step("test", batch)

    def _step(self, split: str, batch: Batch) -> torch.Tensor:
        x, y = batch
        logits = self(x)
        loss = self.loss(logits, y)
        self.metrics[f"{split}_loss"].update(loss.detach())
        self.metrics[f"{split}_accuracy"].update(logits.detach(), y)
        return loss

    def on_train_start(self) -> None:
        # Sanity-check validation runs before training; don't let it count as the best so far.
        self.val_accuracy_best.reset()

    def on_train_epoch_end(self) -> None:
        self._log_epoch("train")

    def on_validation_epoch_end(self) -> None:
        accuracy = self._log_epoch("val")
        self.val_accuracy_best.update(accuracy)
        self.log("val/accuracy_best", self.val_accuracy_best.compute(), prog_bar=True)

    def on_test_epoch_end(self) -> None:
        self._log_epoch("test")

    def _log_epoch(self, split: str) -> torch.Tensor:
        """Log the split's epoch loss and accuracy (synced across processes by torchmetrics)."""
        values = {name: self.metrics[f"{split}_{name}"].compute() for name in ("loss", "accuracy")}
        self.log_dict({f"{split}/{name}": value for name, value in values.items()}, prog_bar=True)
        for name in values:
            self.metrics[f"{split}_{name}"].reset()
        return values["accuracy"]

    def configure_optimizers(self) -> dict[str, Any]:
        optimizer = self.hparams.optimizer or {"_target_": "torch.optim.AdamW", "lr": 1e-3}
        return configure_optimizers(self.parameters(), optimizer, self.hparams.scheduler)
