"""Lightning callbacks every training run gets from mlcore.training.instantiate_callbacks.

`ConfiguredSchedule`: a resumed run follows its config's learning-rate schedule, not the
checkpoint's (extending a finished cosine run must not start at LR 0). `LegacyMetricNames`:
monitors of a 0.1 model's metric names. `PlainHyperparameters`: Hydra partials and OmegaConf
containers among saved hyperparameters become plain specs, so checkpoints load with
`weights_only=True`.
"""

from __future__ import annotations

import functools
import logging
import warnings
from typing import Any

from lightning.pytorch import Callback, LightningModule, Trainer
from omegaconf import DictConfig, ListConfig, OmegaConf

from mlcore.metrics import legacy_name, warn_legacy

log = logging.getLogger("mlcore.training")

# A scheduler's state that counts progress rather than describing the schedule.
_PROGRESS = frozenset(
    {"last_epoch", "_step_count", "_last_lr", "_get_lr_called_within_step", "_is_initial"}
)


class ConfiguredSchedule(Callback):
    """On resume, the schedule's settings come from the config, its progress from the checkpoint.

    Lightning restores settings too (a cosine's `T_max` stays the old `max_epochs`). Changed
    settings are taken from the config and the LR replayed to the restored step with the public
    `step()`, so any epoch- or step-based scheduler works; ReduceLROnPlateau is left as restored.
    """

    def __init__(self) -> None:
        self._configured: list[tuple[dict[str, Any], list[float]] | None] = []

    def on_fit_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        # After configure_optimizers, before Lightning restores the checkpoint's state.
        self._configured = [
            (dict(config.scheduler.state_dict()), _lrs(config.scheduler))
            if _replayable(config.scheduler)
            else None
            for config in trainer.lr_scheduler_configs
        ]

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if trainer.ckpt_path is None:
            return
        for config, configured in zip(trainer.lr_scheduler_configs, self._configured, strict=False):
            if configured is not None:
                _follow_config(config.scheduler, *configured)


def _replayable(scheduler: Any) -> bool:
    return hasattr(scheduler, "last_epoch") and hasattr(scheduler, "optimizer")


def _lrs(scheduler: Any) -> list[float]:
    return [float(group["lr"]) for group in scheduler.optimizer.param_groups]


def _follow_config(scheduler: Any, configured: dict[str, Any], start_lrs: list[float]) -> None:
    restored = scheduler.state_dict()
    changed = {
        key: (restored.get(key), value)
        for key, value in configured.items()
        if key not in _PROGRESS and restored.get(key) != value
    }
    if not changed:
        return
    steps = int(restored.get("last_epoch", 0))
    optimizer = scheduler.optimizer
    # Back to the configured start, then forward to the restored step.
    for group, lr in zip(optimizer.param_groups, start_lrs, strict=True):
        group["lr"] = lr
        group["initial_lr"] = lr
    scheduler.load_state_dict(configured)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "scheduler.step() before optimizer.step()": a replay
        for _ in range(steps - int(configured.get("last_epoch", 0))):
            scheduler.step()
    settings = ", ".join(f"{key} {old!r} -> {new!r}" for key, (old, new) in changed.items())
    lrs = ", ".join(f"{lr:.3g}" for lr in _lrs(scheduler))
    log.info(
        "Resumed %s from its config (%s): LR %s at step %d",
        type(scheduler).__name__,
        settings,
        lrs,
        steps,
    )


class LegacyMetricNames(Callback):
    """A monitoring callback's `monitor` moves, once and with a deprecation message, to a 0.1
    model's old name when only that one is logged. Put first; both hooks look, since EarlyStopping
    checks at the training epoch's end and ModelCheckpoint after validation."""

    def on_validation_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._follow(trainer)

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._follow(trainer)

    @staticmethod
    def _follow(trainer: Trainer) -> None:
        logged = trainer.callback_metrics
        for callback in trainer.callbacks:  # type: ignore[attr-defined]  # set by Lightning
            monitor = getattr(callback, "monitor", None)
            if not isinstance(monitor, str) or monitor in logged:
                continue
            old = legacy_name(monitor)
            if old is not None and old in logged:
                warn_legacy(monitor, old, f"{type(callback).__name__}(monitor={monitor!r})")
                callback.monitor = old


class PlainHyperparameters(Callback):
    """Write partials (`functools.partial`, what Hydra's `_partial_: true` builds) among the
    checkpoint's hyperparameters as `{"_target_": ..., "_partial_": true, **keywords}`, and
    OmegaConf's containers as plain ones."""

    def on_save_checkpoint(
        self, trainer: Trainer, pl_module: LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        hparams = checkpoint.get("hyper_parameters")
        if isinstance(hparams, dict):
            checkpoint["hyper_parameters"] = {key: _plain(value) for key, value in hparams.items()}


def _plain(value: Any) -> Any:
    if isinstance(value, DictConfig | ListConfig):  # what Hydra passes without `_convert_`
        value = OmegaConf.to_container(value, resolve=True)
    if isinstance(value, functools.partial) and not value.args:
        target = f"{value.func.__module__}.{value.func.__qualname__}"
        keywords = {key: _plain(item) for key, item in value.keywords.items()}
        return {"_target_": target, "_partial_": True, **keywords}
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_plain(item) for item in value)
    return value
