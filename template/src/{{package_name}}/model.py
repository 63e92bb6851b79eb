"""The model: a small multilayer perceptron that classifies the digits.

Optimizer and scheduler come from config as plain `_target_` specs; keeping them plain in the
saved hyperparameters is what lets checkpoints load under torch's default `weights_only=True`.
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
    """MLP classifier with accuracy tracked per split and the best validation accuracy so far."""

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
        layers: list[nn.Module] = []
        width = num_features
        for hidden in hidden_dims:
            layers += [nn.Linear(width, hidden), nn.ReLU(), nn.Dropout(dropout)]
            width = hidden
        layers.append(nn.Linear(width, num_classes))
        self.net = nn.Sequential(*layers)
        self.loss = nn.CrossEntropyLoss()
        self.train_acc = MulticlassAccuracy(num_classes)
        self.val_acc = MulticlassAccuracy(num_classes)
        self.test_acc = MulticlassAccuracy(num_classes)
        self.val_acc_best = MaxMetric()
        self.train_loss = MeanMetric()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def on_train_start(self) -> None:
        # Sanity-check validation runs before training; don't let it count as the best so far.
        self.val_acc_best.reset()

    def training_step(self, batch: Batch, batch_idx: int) -> torch.Tensor:
        x, y = batch
        logits = self(x)
        loss = self.loss(logits, y)
        self.train_loss(loss)
        self.train_acc(logits, y)
        # Epoch-level logging only: a tracking-server write per step would cost more than the step.
        self.log("train/loss", self.train_loss, on_step=False, on_epoch=True, prog_bar=True)
        self.log("train/acc", self.train_acc, on_step=False, on_epoch=True)
        return loss

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        x, y = batch
        logits = self(x)
        self.log("val/loss", self.loss(logits, y), prog_bar=True)
        self.val_acc(logits, y)
        self.log("val/acc", self.val_acc, prog_bar=True)

    def on_validation_epoch_end(self) -> None:
        self.val_acc_best(self.val_acc.compute())
        self.log("val/acc_best", self.val_acc_best.compute(), prog_bar=True)

    def test_step(self, batch: Batch, batch_idx: int) -> None:
        x, y = batch
        logits = self(x)
        self.log("test/loss", self.loss(logits, y))
        self.test_acc(logits, y)
        self.log("test/acc", self.test_acc)

    def configure_optimizers(self) -> dict[str, Any]:
        optimizer = self.hparams.optimizer or {"_target_": "torch.optim.AdamW", "lr": 1e-3}
        return configure_optimizers(self.parameters(), optimizer, self.hparams.scheduler)
