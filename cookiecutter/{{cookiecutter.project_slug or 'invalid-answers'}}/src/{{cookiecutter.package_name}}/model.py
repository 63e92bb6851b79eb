"""The model: a small multilayer perceptron that classifies the digits.

It standardizes its own input with the training split's statistics, measured as training starts
and kept as buffers: the checkpoint, the registered model and its ONNX copy all take raw pixels,
so serving and batch prediction need no preprocessing of their own. Optimizer and scheduler come
from config as Hydra partials (`_partial_: true` in configs/model/mlp.yaml: a factory waiting for
the parameters, the optimizer); they stay out of the saved hyperparameters, which hold plain values
only, so checkpoints load under torch's default `weights_only=True`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import partial
from typing import Any

import lightning as L
import torch
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
        optimizer: Callable[..., torch.optim.Optimizer] | None = None,
        scheduler: Callable[..., Any] | None = None,
    ) -> None:
        super().__init__()
        # Plain values only (a list, not Hydra's ListConfig): the checkpoint loads weights-only.
        self.save_hyperparameters(
            {"num_features": num_features, "num_classes": num_classes,
             "hidden_dims": list(hidden_dims), "dropout": dropout}
        )  # fmt: skip
        self.make_optimizer = optimizer or partial(torch.optim.AdamW, lr=1e-3)
        self.make_scheduler = scheduler
        # Input standardization (x - mean) / std; measured on the training data as it starts.
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
        self.standardize_with(self.trainer.train_dataloader)

    @torch.no_grad()
    def standardize_with(self, batches: Iterable[Batch]) -> None:
        """Set the input standardization to the per-pixel mean and standard deviation of the
        training data: one pass, summed over every process's share."""
        count = torch.zeros((), device=self.device)
        sums = torch.zeros(self.hparams.num_features, device=self.device)
        squares = torch.zeros_like(sums)
        for x, _ in batches:
            x = x.to(self.device, torch.float32)
            count += len(x)
            sums += x.sum(0)
            squares += (x * x).sum(0)
        reduce = self.trainer.strategy.reduce
        count, sums, squares = (reduce(t, reduce_op="sum") for t in (count, sums, squares))
        mean = sums / count
        std = ((squares - count * mean**2) / (count - 1)).clamp_min(0).sqrt()
        self.input_mean.copy_(mean)
        self.input_std.copy_(torch.where(std > 1e-6, std, torch.ones_like(std)))

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
        optimizer = self.make_optimizer(params=self.parameters())
        if self.make_scheduler is None:
            return {"optimizer": optimizer}
        scheduler = self.make_scheduler(optimizer=optimizer)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler}}
