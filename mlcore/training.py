"""The wiring every Lightning + Hydra repo repeats: callbacks, loggers and optimizers from config.

Everything here takes plain Hydra/OmegaConf config and returns real Lightning objects, so a
project's `train.py` reads as the science it runs, not the plumbing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

if TYPE_CHECKING:
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
    """Build one callback per config entry that has a `_target_`.

    Entries set to null (`callbacks.early_stopping=null`) are how a user switches one off. With
    no logger, callbacks that need one are left out with a message instead of failing mid-run.

    Given the run's `trainer` config, the callbacks every training run needs are added:
    `LegacyMetricNames` first and `ConfiguredSchedule` (mlcore.callbacks); with checkpointing on,
    a checkpoint written when training stops on an exception or a signal (SIGTERM: preemption)
    as `<default_root_dir>/checkpoints/interrupted.ckpt`, and, where the config names no
    ModelCheckpoint, Lightning's default one named `epoch_029-step_90.ckpt` rather than
    `epoch=29-step=90.ckpt` (a path with `=` cannot be passed back as `ckpt_path=...` unquoted).
    """
    callbacks = []
    for name, spec in _entries(cfg, "callbacks"):
        if not has_logger and str(spec["_target_"]).rsplit(".", 1)[-1] in _NEEDS_LOGGER:
            log.info("Callback %r skipped: it needs a logger and logger=none", name)
            continue
        callbacks.append(instantiate(spec))
    if trainer is None:
        return callbacks
    from mlcore.callbacks import ConfiguredSchedule, LegacyMetricNames

    standard = [ConfiguredSchedule(), *_checkpoints(callbacks, trainer)]
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
    """Build one Lightning logger per config entry with a `_target_` (none for `logger=none`).

    In a distributed run only rank zero gets loggers: Lightning's loggers write from rank zero
    alone anyway, and building one elsewhere races rank zero for the same store (two processes
    creating one MLflow SQLite schema fail with "table experiments already exists").
    """
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


def configure_optimizers(
    params: Iterable[torch.nn.Parameter],
    optimizer: Mapping[str, Any],
    scheduler: Mapping[str, Any] | None = None,
    *,
    monitor: str = "val/loss",
    interval: str = "epoch",
) -> dict[str, Any]:
    """Return what `LightningModule.configure_optimizers` returns, built from two `_target_` specs.

    Keeping the specs as plain dicts in the module's hyperparameters (not built objects) is what
    lets its checkpoints load under torch's default `weights_only=True`.
    """
    opt = instantiate(_plain(optimizer), params=params)
    if not scheduler:
        return {"optimizer": opt}
    sched = instantiate(_plain(scheduler), optimizer=opt)
    return {
        "optimizer": opt,
        "lr_scheduler": {"scheduler": sched, "monitor": monitor, "interval": interval},
    }


def _plain(spec: Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(spec, DictConfig):
        return OmegaConf.to_container(spec, resolve=True)  # type: ignore[return-value]
    return dict(spec)


def scalar_metrics(metrics: Mapping[str, Any]) -> dict[str, float]:
    """Lightning's `callback_metrics` (tensors) as plain floats, for return values and reports."""
    return {name: float(value) for name, value in metrics.items() if _is_scalar(value)}


def _is_scalar(value: Any) -> bool:
    numel = getattr(value, "numel", None)
    return isinstance(value, int | float) or (numel is not None and numel() == 1)
