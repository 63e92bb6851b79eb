"""The wiring every Lightning + Hydra repo repeats, so a project's `train.py` only instantiates.

`instantiate_*` (config to Lightning), `log_hyperparameters`, `run_task` (logging, `resume=auto`,
the summary, the metric a search optimises); `configure_optimizers` is deprecated (0.1 starters
import it).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

if TYPE_CHECKING:
    import lightning
    import torch
    from lightning.pytorch import Callback
    from lightning.pytorch.loggers import Logger

log = logging.getLogger(__name__)

# Callbacks that Lightning refuses to run without a logger to write to.
_NEEDS_LOGGER = ("LearningRateMonitor",)


def instantiate_callbacks(
    cfg: Mapping[str, Any] | None,
    *,
    has_logger: bool = True,
    trainer: Mapping[str, Any] | None = None,
) -> list[Callback]:
    """Build one callback per config entry with a `_target_` (null switches one off); without a
    logger, those that need one are skipped rather than failing mid-run.

    Given the `trainer` config, mlcore.callbacks' standard ones are added, and with checkpointing
    an `interrupted.ckpt` written on an exception or SIGTERM, and, where the config has no
    ModelCheckpoint, Lightning's default one named without `=` (so `ckpt_path=...` needs no quotes).
    """
    callbacks = []
    for name, spec in _entries(cfg, "callbacks"):
        if not has_logger and str(spec["_target_"]).rsplit(".", 1)[-1] in _NEEDS_LOGGER:
            log.info("Callback %r skipped: it needs a logger and logger=none", name)
            continue
        callbacks.append(instantiate(spec))
    if trainer is None:
        return callbacks
    from mlcore.callbacks import ConfiguredSchedule, LegacyMetricNames, PlainHyperparameters

    standard = [ConfiguredSchedule(), PlainHyperparameters(), *_checkpoints(callbacks, trainer)]
    return [LegacyMetricNames(), *callbacks, *standard]


INTERRUPTED = "interrupted"  # the checkpoint written when training stops on a signal or error


def _checkpoints(callbacks: list[Callback], trainer: Mapping[str, Any]) -> list[Callback]:
    if trainer.get("enable_checkpointing") is False:
        return []
    from lightning.pytorch.callbacks import ModelCheckpoint

    added: list[Callback] = []
    if not any(isinstance(callback, ModelCheckpoint) for callback in callbacks):
        # Lightning's default (the newest epoch, where its loggers put it), with a name that
        # survives Hydra's command line.
        added.append(ModelCheckpoint(filename="epoch_{epoch:03d}-step_{step}",
                                     auto_insert_metric_name=False))  # fmt: skip
    root = trainer.get("default_root_dir")
    added.append(
        ModelCheckpoint(
            dirpath=f"{root}/checkpoints" if root else None,
            filename=INTERRUPTED,
            save_top_k=0,  # never during training: only `on_exception`
            every_n_epochs=0,  # (and a state key of its own beside the default one)
            save_on_exception=True,
        )
    )
    return added


def instantiate_loggers(cfg: Mapping[str, Any] | None) -> list[Logger]:
    """Build one Lightning logger per config entry with a `_target_`, on rank zero only: built
    elsewhere, they race rank zero to create the same MLflow store."""
    from mlcore.logging import global_rank

    entries = _entries(cfg, "logger")
    return [instantiate(spec) for _, spec in entries] if global_rank() == 0 else []


def _entries(cfg: Mapping[str, Any] | None, group: str) -> Iterable[tuple[str, Any]]:
    if not cfg:
        return []
    if not isinstance(cfg, Mapping | DictConfig):
        kind = type(cfg).__name__
        raise TypeError(f"`{group}` config must be a mapping of name -> spec, got {kind}")
    entries = []
    for name, spec in cfg.items():
        if spec is None:
            continue
        if not isinstance(spec, Mapping | DictConfig) or "_target_" not in spec:
            raise ValueError(
                f"`{group}.{name}` has no `_target_`: give it one (a class path such as "
                f"lightning.pytorch.callbacks.EarlyStopping) or set it to null to turn it off"
            )
        entries.append((name, spec))
    return entries


def instantiate_trainer(
    cfg: Mapping[str, Any], model: Any = None, **kwargs: Any
) -> lightning.Trainer:
    """The Trainer of `cfg`, with the hardware settings this launch calls for (mlcore.launch)."""
    from mlcore.launch import trainer_settings

    trainer: lightning.Trainer = instantiate(cfg, **trainer_settings(cfg, model), **kwargs)
    return trainer


def log_hyperparameters(cfg: DictConfig, trainer: lightning.Trainer) -> None:
    """Log the resolved config to every logger and say where each writes; with MlflowTracking,
    once it has opened the run (as its outage policy allows)."""
    from mlcore.tracking.callbacks import tracking_of
    from mlcore.tracking.loggers import describe_logger, is_mlflow, log_config

    if trainer.global_rank != 0:
        return
    tracking = tracking_of(trainer)
    if tracking is not None:
        tracking.config = cfg
    else:
        log_config(cfg, trainer.loggers)
    for logger in trainer.loggers:
        if tracking is None or not is_mlflow(logger):  # MlflowTracking says once the run exists
            for line in describe_logger(logger):
                log.info("%s", line)


def run_task(task: Callable[[DictConfig], dict[str, float]], cfg: DictConfig) -> float | None:
    """Run `task(cfg)` as a command (logging, `resume=auto`, the final metrics); return the
    `optimized_metric` a hyperparameter search reads."""
    import lightning as L  # noqa: F401  # before setup_logging, so Lightning's records share it
    from omegaconf import open_dict

    from mlcore.logging import setup_logging
    from mlcore.metrics import lookup
    from mlcore.resume import RunRecord, output_dir, resume

    setup_logging()
    record = None
    if "resume" in cfg:  # a training config (evaluate's has no resume)
        start = resume(cfg)
        cfg = start.cfg
        with open_dict(cfg):
            cfg.ckpt_path = start.ckpt_path
        record = RunRecord(output_dir(cfg))  # what resume=auto reads if this run is interrupted
        record.started(cfg, attempt=start.attempt)
    metrics = task(cfg)
    if record is not None:
        record.finished()
    for name, value in sorted(metrics.items()):
        log.info("%s = %.4f", name, value)
    return lookup(metrics, cfg.get("optimized_metric", ""), "optimized_metric")


def configure_optimizers(
    params: Iterable[torch.nn.Parameter],
    optimizer: Mapping[str, Any],
    scheduler: Mapping[str, Any] | None = None,
    *,
    monitor: str = "val/loss",
    interval: str = "epoch",
) -> dict[str, Any]:
    """Deprecated (goes in 0.3): what `LightningModule.configure_optimizers` returns, from two
    `_target_` specs. Write instead, with `_partial_: true` on both specs in the model's config:

        def configure_optimizers(self):  # __init__ kept self.make_optimizer = optimizer, ...
            optimizer = self.make_optimizer(params=self.parameters())
            scheduler = self.make_scheduler(optimizer=optimizer)
            return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler}}
    """
    warnings.warn(
        "mlcore.training.configure_optimizers is deprecated and goes in 0.3: give the optimizer "
        "and scheduler specs `_partial_: true` in configs/model/, keep what the model receives "
        "(self.make_optimizer = optimizer) and call it in configure_optimizers "
        "(self.make_optimizer(params=self.parameters())); see the CHANGELOG's 'Upgrading'",
        DeprecationWarning,
        stacklevel=2,
    )
    opt = _build(optimizer, params=params)
    if not scheduler:
        return {"optimizer": opt}
    sched = _build(scheduler, optimizer=opt)
    return {
        "optimizer": opt,
        "lr_scheduler": {"scheduler": sched, "monitor": monitor, "interval": interval},
    }


def _build(spec: Any, **arguments: Any) -> Any:
    """A `_target_` spec or (today's model config with a 0.1 model) a Hydra partial, built."""
    if callable(spec):
        return spec(**arguments)
    plain: Any = (
        OmegaConf.to_container(spec, resolve=True) if isinstance(spec, DictConfig) else dict(spec)
    )
    plain.pop("_partial_", None)  # a spec written back from a checkpoint (PlainHyperparameters)
    return instantiate(plain, **arguments)


def scalar_metrics(metrics: Mapping[str, Any]) -> dict[str, float]:
    """Lightning's `callback_metrics` (tensors) as plain floats, for return values and reports."""
    return {
        name: float(value)
        for name, value in metrics.items()
        if isinstance(value, int | float) or getattr(value, "numel", lambda: 0)() == 1
    }
