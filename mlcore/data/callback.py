"""`DatasetLineage`: the datasets a datamodule read through the catalog, as inputs of its run.

At `setup`, after the datamodule's own, every dataset loaded since is recorded into the trainer's
MLflow run with the stage as context, so a DataModule needs no call of its own.
"""

from __future__ import annotations

from typing import Any

from lightning.pytorch import Callback, LightningModule, Trainer

from mlcore.data import lineage
from mlcore.data.fingerprint import sha256_file


class DatasetLineage(Callback):
    """Record each catalog dataset the run read as an MLflow dataset input (rank zero)."""

    def __init__(self) -> None:
        self._seen = len(lineage.LOADED)  # what this process read before this run: not its own
        self._recorded: set[tuple[str, str]] = set()

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        read, self._seen = lineage.LOADED[self._seen :], len(lineage.LOADED)
        logger = _mlflow_logger(trainer)
        if logger is None:
            return
        context = lineage.STAGE_CONTEXTS.get(stage, stage)
        for dataset, local in read:
            if (dataset.name, dataset.uri) in self._recorded:
                continue
            self._recorded.add((dataset.name, dataset.uri))
            digest = sha256_file(local)
            lineage.record(logger.run_id, dataset, digest, context, client=logger.experiment)


def _mlflow_logger(trainer: Trainer) -> Any:
    if trainer.global_rank != 0:
        return None
    return next((lg for lg in trainer.loggers if type(lg).__name__ == "MLFlowLogger"), None)
