"""The resolved config into every Lightning logger, and a readable summary of where runs went.

MLflow is reached through Lightning's own `MLFlowLogger`; nothing here imports mlflow unless an
MLflow logger is in use.
"""

from __future__ import annotations

import logging
import shlex
import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from omegaconf import DictConfig, OmegaConf

if TYPE_CHECKING:
    from lightning.pytorch import Trainer

# Records keep the name "mlcore.tracking" (what callers filter on), whichever submodule logs them.
log = logging.getLogger("mlcore.tracking")

CONFIG_ARTIFACT = "config/config.yaml"


def log_config(cfg: DictConfig, loggers: Sequence[Any], *, continued: bool = False) -> None:
    """Record the resolved config as flat hyperparameters with every logger, and as
    `config/config.yaml` in an MLflow run. A `continued` run keeps its first parameters (MLflow
    refuses to change one) and only gets the artifact rewritten.
    """
    if not loggers:
        return
    # Hydra's own node (there with compose(return_hydra_config=True)) is dropped before resolving:
    # its interpolations need a running Hydra, and it says nothing about the run.
    params: Any = OmegaConf.to_container(
        OmegaConf.masked_copy(cfg, [str(key) for key in cfg if key != "hydra"]),
        resolve=True,
        throw_on_missing=False,
    )
    assert isinstance(params, dict)
    for logger in loggers:
        if not (continued and is_mlflow(logger)):
            logger.log_hyperparams(params)
        if is_mlflow(logger):
            text = OmegaConf.to_yaml(OmegaConf.create(params))
            logger.experiment.log_text(logger.run_id, text, CONFIG_ARTIFACT)


def report(trainer: Trainer, metrics: Mapping[str, float]) -> list[str]:
    """Log, one line each, the run's final metrics and where every logger wrote them."""
    lines = [f"{name} = {value:.4f}" for name, value in sorted(metrics.items())]
    for logger in trainer.loggers:
        lines += describe_logger(logger)
    for line in lines:
        log.info("%s", line)
    return lines


def describe_logger(logger: Any) -> list[str]:
    """Where a logger wrote, and for MLflow the run and the command that shows it."""
    if is_mlflow(logger):
        uri = tracking_uri_of(logger)
        # mlcore's logger keeps the name; Lightning's is asked (None while a server is down).
        experiment = getattr(logger, "experiment_name", None)
        if experiment is None:
            found = logger.experiment.get_experiment(logger.experiment_id)
            experiment = found.name if found is not None else logger.experiment_id
        return [
            f"MLflow run {logger.run_id} in experiment '{experiment}'",
            f"MLflow tracking store: {uri}",
            # This interpreter by its full path: the hint works without an activated venv.
            f"Browse it: {shlex.quote(sys.executable)} -m mlflow ui --backend-store-uri {uri}",
        ]
    where = getattr(logger, "log_dir", None) or getattr(logger, "save_dir", None)
    return [f"{type(logger).__name__} wrote to {where}"]


def tracking_uri_of(logger: Any) -> str:
    """The store an MLflow logger writes to, absolute: mlcore's logger says; Lightning's own sets
    it as MLflow's tracking URI when it makes its client."""
    from mlcore.mlflow_store import absolute_sqlite

    uri = getattr(logger, "tracking_uri", None)
    if not uri:
        import mlflow

        uri = mlflow.get_tracking_uri()
    return absolute_sqlite(str(uri))


def is_mlflow(logger: Any) -> bool:
    return type(logger).__name__ == "MLFlowLogger"
