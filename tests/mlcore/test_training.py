"""Callbacks, loggers and optimizers from Hydra-style config, checked against real Lightning."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import EarlyStopping, LearningRateMonitor, ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger
from omegaconf import DictConfig, OmegaConf

from mlcore.training import (
    configure_optimizers,
    instantiate_callbacks,
    instantiate_loggers,
    scalar_metrics,
)

CALLBACKS_YAML = """
model_checkpoint:
  _target_: lightning.pytorch.callbacks.ModelCheckpoint
  dirpath: {dirpath}
  monitor: ${{callbacks.early_stopping.monitor}}
  mode: min
  save_last: true
early_stopping:
  _target_: lightning.pytorch.callbacks.EarlyStopping
  monitor: val/loss
  patience: 3
lr_monitor:
  _target_: lightning.pytorch.callbacks.LearningRateMonitor
  logging_interval: epoch
"""

SGD = {"_target_": "torch.optim.SGD", "lr": 0.1, "momentum": 0.9}
STEP_LR = {"_target_": "torch.optim.lr_scheduler.StepLR", "step_size": 2, "gamma": 0.5}


def callbacks_cfg(dirpath: Path) -> DictConfig:
    """The `callbacks` node of a composed Hydra config, as a train script receives it."""
    root = OmegaConf.create({"callbacks": OmegaConf.create(CALLBACKS_YAML.format(dirpath=dirpath))})
    return root.callbacks


def test_callbacks_from_dict_specs(tmp_path: Path) -> None:
    """Plain dict specs give real callbacks, in config order, with their arguments."""
    cfg = {
        "checkpoint": {
            "_target_": "lightning.pytorch.callbacks.ModelCheckpoint",
            "dirpath": str(tmp_path),
            "monitor": "val/acc",
            "mode": "max",
        },
        "early_stopping": {
            "_target_": "lightning.pytorch.callbacks.EarlyStopping",
            "monitor": "val/acc",
            "patience": 5,
            "mode": "max",
        },
    }
    checkpoint, early = instantiate_callbacks(cfg)
    assert isinstance(checkpoint, ModelCheckpoint)
    assert checkpoint.monitor == "val/acc"
    assert checkpoint.dirpath == os.path.realpath(tmp_path)
    assert isinstance(early, EarlyStopping)
    assert early.patience == 5
    assert early.mode == "max"


def test_callbacks_from_dictconfig_with_interpolation(tmp_path: Path) -> None:
    """A DictConfig node works, interpolations to other config keys included."""
    callbacks = instantiate_callbacks(callbacks_cfg(tmp_path))
    assert [type(callback) for callback in callbacks] == [
        ModelCheckpoint,
        EarlyStopping,
        LearningRateMonitor,
    ]
    checkpoint, early, lr_monitor = callbacks
    assert checkpoint.monitor == "val/loss"
    assert checkpoint.save_last is True
    assert early.patience == 3
    assert lr_monitor.logging_interval == "epoch"


@pytest.mark.parametrize("as_dictconfig", [False, True])
def test_null_entries_are_skipped(tmp_path: Path, as_dictconfig: bool) -> None:
    """`callbacks.early_stopping=null` switches that callback off."""
    cfg: Any = {
        "model_checkpoint": {
            "_target_": "lightning.pytorch.callbacks.ModelCheckpoint",
            "dirpath": str(tmp_path),
        },
        "early_stopping": None,
    }
    if as_dictconfig:
        cfg = OmegaConf.create(cfg)
    (callback,) = instantiate_callbacks(cfg)
    assert isinstance(callback, ModelCheckpoint)


@pytest.mark.parametrize("cfg", [None, {}, OmegaConf.create({})])
def test_empty_config_gives_nothing(cfg: Any) -> None:
    """No config (callbacks=none, logger=none) means no callbacks and no loggers."""
    assert instantiate_callbacks(cfg) == []
    assert instantiate_loggers(cfg) == []


@pytest.mark.parametrize(
    "target",
    [
        "lightning.pytorch.callbacks.LearningRateMonitor",
        "lightning.pytorch.callbacks.lr_monitor.LearningRateMonitor",
    ],
)
def test_lr_monitor_skipped_without_logger(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, target: str
) -> None:
    """Without a logger, LearningRateMonitor is left out with a message; the rest are built."""
    cfg = callbacks_cfg(tmp_path)
    cfg.lr_monitor._target_ = target
    with caplog.at_level(logging.INFO, logger="mlcore.training"):
        callbacks = instantiate_callbacks(cfg, has_logger=False)
    assert [type(callback) for callback in callbacks] == [ModelCheckpoint, EarlyStopping]
    assert "Callback 'lr_monitor' skipped: it needs a logger" in caplog.text


def test_lr_monitor_kept_with_logger(tmp_path: Path) -> None:
    """With a logger (the default), LearningRateMonitor is built."""
    callbacks = instantiate_callbacks(callbacks_cfg(tmp_path), has_logger=True)
    assert any(isinstance(callback, LearningRateMonitor) for callback in callbacks)


@pytest.mark.parametrize(
    ("spec", "as_dictconfig"),
    [
        ({"monitor": "val/loss"}, False),
        ({"monitor": "val/loss"}, True),
        ("lightning.pytorch.callbacks.EarlyStopping", False),
        (3, True),
    ],
)
def test_callback_without_target_is_a_clear_error(spec: Any, as_dictconfig: bool) -> None:
    """An entry without `_target_` names itself and says how to fix it."""
    cfg: Any = {"early_stopping": spec}
    if as_dictconfig:
        cfg = OmegaConf.create(cfg)
    with pytest.raises(
        ValueError,
        match=r"`callbacks\.early_stopping` has no `_target_`: give it one .* set it to null",
    ):
        instantiate_callbacks(cfg)


def test_logger_without_target_is_a_clear_error() -> None:
    """The logger group reports its own name in the error."""
    with pytest.raises(ValueError, match=r"`logger\.csv` has no `_target_`"):
        instantiate_loggers({"csv": {"save_dir": "logs"}})


@pytest.mark.parametrize("cfg", [["a"], OmegaConf.create(["a"]), "callbacks"])
def test_non_mapping_config_is_a_type_error(cfg: Any) -> None:
    """A list or string where a name -> spec mapping belongs is rejected with the group's name."""
    with pytest.raises(TypeError, match=r"`callbacks` config must be a mapping of name -> spec"):
        instantiate_callbacks(cfg)
    with pytest.raises(TypeError, match=r"`logger` config must be a mapping"):
        instantiate_loggers(cfg)


def test_csv_logger_from_config_writes_into_tmp_path(tmp_path: Path) -> None:
    """A CSVLogger spec gives a working logger that writes under save_dir."""
    cfg = OmegaConf.create(
        {
            "csv": {
                "_target_": "lightning.pytorch.loggers.CSVLogger",
                "save_dir": str(tmp_path),
                "name": "run",
                "version": 0,
            },
            "mlflow": None,
        }
    )
    (logger,) = instantiate_loggers(cfg)
    assert isinstance(logger, CSVLogger)
    assert Path(logger.log_dir) == tmp_path / "run" / "version_0"
    logger.log_metrics({"val/loss": 0.25}, step=0)
    logger.save()
    assert "val/loss" in (tmp_path / "run" / "version_0" / "metrics.csv").read_text()


def test_trainer_accepts_built_callbacks_and_loggers(tmp_path: Path) -> None:
    """What the helpers return plugs straight into a Trainer, as the template's train.py does."""
    loggers = instantiate_loggers(
        {"csv": {"_target_": "lightning.pytorch.loggers.CSVLogger", "save_dir": str(tmp_path)}}
    )
    callbacks = instantiate_callbacks(callbacks_cfg(tmp_path), has_logger=bool(loggers))
    trainer = L.Trainer(
        callbacks=callbacks,
        logger=loggers or False,
        default_root_dir=tmp_path,
        accelerator="cpu",
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    assert trainer.checkpoint_callback is callbacks[0]
    assert trainer.early_stopping_callback is callbacks[1]
    assert trainer.loggers == loggers


def test_configure_optimizers_without_scheduler() -> None:
    """Only an optimizer: a real torch optimizer over the model's own parameters."""
    model = torch.nn.Linear(3, 1)
    result = configure_optimizers(model.parameters(), SGD)
    assert set(result) == {"optimizer"}
    optimizer = result["optimizer"]
    assert isinstance(optimizer, torch.optim.SGD)
    group = optimizer.param_groups[0]
    assert group["lr"] == 0.1
    assert group["momentum"] == 0.9
    # The very tensors of the model, not copies: a step must move the model's weights.
    assert [id(p) for p in group["params"]] == [id(p) for p in model.parameters()]
    before = model.weight.detach().clone()
    model(torch.ones(4, 3)).sum().backward()
    optimizer.step()
    assert not torch.equal(before, model.weight.detach())


@pytest.mark.parametrize("scheduler", [None, {}])
def test_configure_optimizers_empty_scheduler_means_none(scheduler: Any) -> None:
    """A missing or empty scheduler spec gives no lr_scheduler entry."""
    result = configure_optimizers(torch.nn.Linear(2, 1).parameters(), SGD, scheduler)
    assert set(result) == {"optimizer"}


def test_configure_optimizers_with_scheduler() -> None:
    """With a scheduler, Lightning's dict: the scheduler on our optimizer, monitor and interval."""
    model = torch.nn.Linear(3, 1)
    result = configure_optimizers(model.parameters(), SGD, STEP_LR)
    assert set(result) == {"optimizer", "lr_scheduler"}
    optimizer = result["optimizer"]
    config = result["lr_scheduler"]
    assert set(config) == {"scheduler", "monitor", "interval"}
    scheduler = config["scheduler"]
    assert isinstance(scheduler, torch.optim.lr_scheduler.StepLR)
    assert scheduler.optimizer is optimizer
    assert config["monitor"] == "val/loss"
    assert config["interval"] == "epoch"
    for _ in range(2):
        optimizer.step()
        scheduler.step()
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.05)


def test_configure_optimizers_custom_monitor_and_interval() -> None:
    """monitor and interval are passed through."""
    result = configure_optimizers(
        torch.nn.Linear(2, 1).parameters(), SGD, STEP_LR, monitor="val/acc", interval="step"
    )
    assert result["lr_scheduler"]["monitor"] == "val/acc"
    assert result["lr_scheduler"]["interval"] == "step"


def test_configure_optimizers_from_dictconfig_specs() -> None:
    """DictConfig specs work, interpolations into the rest of the config resolved."""
    cfg = OmegaConf.create(
        {
            "lr": 0.02,
            "optimizer": {"_target_": "torch.optim.AdamW", "lr": "${lr}", "weight_decay": 0.01},
            "scheduler": {
                "_target_": "torch.optim.lr_scheduler.ReduceLROnPlateau",
                "mode": "min",
                "patience": 1,
            },
        }
    )
    model = torch.nn.Linear(3, 1)
    result = configure_optimizers(model.parameters(), cfg.optimizer, cfg.scheduler)
    optimizer = result["optimizer"]
    assert isinstance(optimizer, torch.optim.AdamW)
    assert optimizer.param_groups[0]["lr"] == 0.02
    assert optimizer.param_groups[0]["weight_decay"] == 0.01
    assert [id(p) for p in optimizer.param_groups[0]["params"]] == [
        id(p) for p in model.parameters()
    ]
    scheduler = result["lr_scheduler"]["scheduler"]
    assert isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)
    assert scheduler.optimizer is optimizer
    # The specs stay as they were: they live on in the module's hyperparameters.
    assert cfg.optimizer.lr == 0.02
    assert OmegaConf.to_container(cfg.optimizer) == {
        "_target_": "torch.optim.AdamW",
        "lr": "${lr}",
        "weight_decay": 0.01,
    }


def test_configure_optimizers_leaves_dict_specs_untouched() -> None:
    """The plain-dict specs are not mutated (they are the module's saved hyperparameters)."""
    optimizer, scheduler = dict(SGD), dict(STEP_LR)
    configure_optimizers(torch.nn.Linear(2, 1).parameters(), optimizer, scheduler)
    assert optimizer == SGD
    assert scheduler == STEP_LR


class TinyModule(L.LightningModule):
    """A linear regression whose optimizers come from configure_optimizers."""

    def __init__(
        self, optimizer: dict[str, Any], scheduler: dict[str, Any], hidden_dims: Any = None
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.layer = torch.nn.Linear(2, 1)

    def training_step(self, batch: list[torch.Tensor], batch_idx: int) -> torch.Tensor:
        return self.layer(batch[0]).pow(2).mean()

    def validation_step(self, batch: list[torch.Tensor], batch_idx: int) -> None:
        self.log("val/loss", self.layer(batch[0]).pow(2).mean())

    def configure_optimizers(self) -> dict[str, Any]:
        return configure_optimizers(
            self.parameters(), self.hparams.optimizer, self.hparams.scheduler
        )


def test_lightning_fits_with_configured_optimizers(tmp_path: Path) -> None:
    """Lightning accepts the returned dict: a plateau scheduler monitoring val/loss, per epoch."""
    module = TinyModule(
        optimizer=SGD,
        scheduler={"_target_": "torch.optim.lr_scheduler.ReduceLROnPlateau", "patience": 0},
    )
    data = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(torch.randn(8, 2)), batch_size=4
    )
    before = module.layer.weight.detach().clone()
    trainer = L.Trainer(
        max_epochs=2,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        accelerator="cpu",
        default_root_dir=tmp_path,
    )
    trainer.fit(module, data, data)
    (config,) = trainer.lr_scheduler_configs
    assert config.monitor == "val/loss"
    assert config.interval == "epoch"
    assert config.reduce_on_plateau is True
    assert not torch.equal(before, module.layer.weight.detach())


def test_scalar_metrics_keeps_single_values_as_floats() -> None:
    """0-d and one-element tensors and numbers become floats; the rest is dropped."""
    metrics = {
        "val/loss": torch.tensor(0.25),
        "val/acc": torch.tensor([0.75]),
        "epoch": 3,
        "lr": 0.001,
        "confusion": torch.zeros(2, 2),
        "name": "run-1",
        "empty": torch.tensor([]),
    }
    result = scalar_metrics(metrics)
    assert result == {"val/loss": 0.25, "val/acc": 0.75, "epoch": 3.0, "lr": 0.001}
    assert all(type(value) is float for value in result.values())
    assert scalar_metrics({}) == {}


def test_the_names_0_1_starters_import_warn_and_say_what_to_write(tmp_path: Path) -> None:
    from lightning.pytorch import Trainer

    from mlcore.data import log_input_to_trainer
    from mlcore.launch import loader_settings

    with pytest.warns(DeprecationWarning, match=r"_partial_: true"):
        configure_optimizers(torch.nn.Linear(2, 1).parameters(), SGD)
    with pytest.warns(DeprecationWarning, match=r"pass num_workers and pin_memory"):
        assert loader_settings(None, 0, False)["num_workers"] == 0
    trainer = Trainer(logger=False, default_root_dir=tmp_path)
    with pytest.warns(DeprecationWarning, match=r"DatasetLineage callback"):
        assert log_input_to_trainer(trainer, "digits") == []


@pytest.mark.filterwarnings("ignore:mlcore.training.configure_optimizers is deprecated")
def test_a_0_1_module_given_hydra_partials_trains_and_its_checkpoint_loads_weights_only(
    tmp_path: Path,
) -> None:
    """Today's model config (`_partial_: true`) with a 0.1 model.py, which saves whatever it is
    given as hyperparameters and builds them with the deprecated configure_optimizers."""
    from hydra.utils import instantiate

    specs = OmegaConf.create(
        {
            "optimizer": {"_target_": "torch.optim.SGD", "_partial_": True, "lr": 0.1},
            "scheduler": {"_target_": "torch.optim.lr_scheduler.StepLR", "_partial_": True,
                          "step_size": 1},
        }
    )  # fmt: skip
    # No `_convert_` in the config: a list arrives as OmegaConf's ListConfig.
    module = TinyModule(**instantiate(specs), hidden_dims=OmegaConf.create([24, 12]))
    data = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(torch.randn(8, 2)), batch_size=4
    )
    trainer = L.Trainer(
        max_epochs=1,
        logger=False,
        callbacks=instantiate_callbacks({}, trainer={"default_root_dir": str(tmp_path)}),
        enable_progress_bar=False,
        enable_model_summary=False,
        accelerator="cpu",
        default_root_dir=tmp_path,
    )
    trainer.fit(module, data, data)
    [checkpoint] = (tmp_path / "checkpoints").glob("epoch_*.ckpt")
    saved = torch.load(checkpoint, weights_only=True)["hyper_parameters"]
    assert saved["optimizer"] == {"_target_": "torch.optim.sgd.SGD", "_partial_": True, "lr": 0.1}
    assert saved["hidden_dims"] == [24, 12] and type(saved["hidden_dims"]) is list
    loaded = TinyModule.load_from_checkpoint(checkpoint, weights_only=True)
    assert isinstance(loaded.configure_optimizers()["optimizer"], torch.optim.SGD)
