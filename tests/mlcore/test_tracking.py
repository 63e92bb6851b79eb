"""log_config, report and describe_logger against real Lightning loggers and an MLflow store."""

from __future__ import annotations

import logging
import os
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import lightning as L
import pytest
import yaml
from lightning.pytorch.loggers import CSVLogger, MLFlowLogger
from omegaconf import DictConfig, OmegaConf

from mlcore.tracking import CONFIG_ARTIFACT, describe_logger, log_config, report

# What the resolved config should look like once the `hydra` node is dropped.
EXPECTED_CONFIG = {
    "seed": 7,
    "model": {"lr": 0.01, "hidden_dims": [64, 32], "optimizer": {"lr": 0.01}},
    "data": {"batch_size": 32, "name": "digits"},
    "ckpt_path": None,
}


@pytest.fixture
def cfg() -> DictConfig:
    """A composed run config with an interpolation and Hydra's own node."""
    return OmegaConf.create(
        {
            "seed": 7,
            "model": {"lr": 0.01, "hidden_dims": [64, 32], "optimizer": {"lr": "${model.lr}"}},
            "data": {"batch_size": 32, "name": "digits"},
            "ckpt_path": None,
            "hydra": {"run": {"dir": "outputs/x"}, "job": {"name": "train"}},
        }
    )


@pytest.fixture
def mlflow_logger(
    mlflow_tracking_uri: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> Iterator[MLFlowLogger]:
    """An MLFlowLogger on the session's SQLite store, in an experiment of its own."""
    monkeypatch.chdir(tmp_path)  # anything MLflow writes relative to the cwd lands here
    logger = MLFlowLogger(
        experiment_name=f"mlcore-tests-{request.node.name}",
        tracking_uri=mlflow_tracking_uri,
        artifact_location=(tmp_path / "artifacts").as_uri(),
    )
    yield logger
    logger.finalize("success")


@pytest.fixture
def csv_logger(tmp_path: Path) -> CSVLogger:
    """A CSVLogger writing under tmp_path."""
    return CSVLogger(save_dir=tmp_path, name="csv", version=0)


def test_log_config_to_mlflow_params_and_artifact(
    cfg: DictConfig, mlflow_logger: MLFlowLogger, tmp_path: Path
) -> None:
    """MLflow gets flat, resolved params and the resolved YAML as config/config.yaml."""
    log_config(cfg, [mlflow_logger])
    client = mlflow_logger.experiment
    run = client.get_run(mlflow_logger.run_id)
    params = run.data.params
    assert params["model/lr"] == "0.01"
    assert params["model/optimizer/lr"] == "0.01"  # the interpolation, resolved
    assert params["data/batch_size"] == "32"
    assert params["seed"] == "7"
    assert not [key for key in params if key.startswith("hydra")]

    listed = [info.path for info in client.list_artifacts(mlflow_logger.run_id, "config")]
    assert listed == [CONFIG_ARTIFACT]
    local = client.download_artifacts(mlflow_logger.run_id, CONFIG_ARTIFACT, str(tmp_path))
    assert yaml.safe_load(Path(local).read_text()) == EXPECTED_CONFIG


def test_log_config_keeps_missing_values(mlflow_logger: MLFlowLogger, tmp_path: Path) -> None:
    """A `???` value does not abort logging; it is recorded as missing."""
    cfg = OmegaConf.create({"model": {"lr": 0.1, "ckpt": "???"}})
    log_config(cfg, [mlflow_logger])
    params = mlflow_logger.experiment.get_run(mlflow_logger.run_id).data.params
    assert params == {"model/lr": "0.1", "model/ckpt": "???"}
    local = mlflow_logger.experiment.download_artifacts(
        mlflow_logger.run_id, CONFIG_ARTIFACT, str(tmp_path)
    )
    assert yaml.safe_load(Path(local).read_text()) == {"model": {"lr": 0.1, "ckpt": "???"}}


def test_log_config_to_csv_logger(cfg: DictConfig, csv_logger: CSVLogger) -> None:
    """Other loggers get the same params (no artifact): CSVLogger writes them to hparams.yaml."""
    log_config(cfg, [csv_logger])
    hparams = yaml.safe_load((Path(csv_logger.log_dir) / "hparams.yaml").read_text())
    assert hparams == EXPECTED_CONFIG
    assert not (Path(csv_logger.log_dir) / "config").exists()


def test_log_config_of_a_config_composed_with_hydras_node(
    csv_logger: CSVLogger, tmp_path: Path
) -> None:
    """`compose(..., return_hydra_config=True)` (notebooks, test fixtures) adds Hydra's node,
    whose interpolations need a running Hydra: it is dropped before anything is resolved."""
    from hydra import compose, initialize_config_dir

    configs = tmp_path / "configs"
    configs.mkdir()
    (configs / "train.yaml").write_text(yaml.safe_dump({"seed": 7, "model": {"lr": 0.01}}))
    with initialize_config_dir(config_dir=str(configs), version_base="1.3"):
        composed = compose("train", return_hydra_config=True)
    assert "hydra" in composed
    log_config(composed, [csv_logger])
    hparams = yaml.safe_load((Path(csv_logger.log_dir) / "hparams.yaml").read_text())
    assert hparams == {"seed": 7, "model": {"lr": 0.01}}


def test_log_config_to_several_loggers(
    cfg: DictConfig, csv_logger: CSVLogger, mlflow_logger: MLFlowLogger
) -> None:
    """Every logger in the list gets the config."""
    log_config(cfg, [csv_logger, mlflow_logger])
    assert csv_logger.experiment.hparams["model"]["lr"] == 0.01
    run = mlflow_logger.experiment.get_run(mlflow_logger.run_id)
    assert run.data.params["model/lr"] == "0.01"


def test_log_config_without_loggers_does_nothing(cfg: DictConfig) -> None:
    """logger=none: nothing to log, no error, and the config is not even resolved."""
    cfg.model.broken = "${does.not.exist}"
    assert log_config(cfg, []) is None


def test_describe_mlflow_logger(mlflow_logger: MLFlowLogger, mlflow_tracking_uri: str) -> None:
    """The lines name the run, the experiment, the tracking store and how to browse it."""
    lines = describe_logger(mlflow_logger)
    run_id = mlflow_logger.run_id
    assert run_id
    assert lines == [
        f"MLflow run {run_id} in experiment '{mlflow_logger._experiment_name}'",
        f"MLflow tracking store: {mlflow_tracking_uri}",
        f"Browse it: {sys.executable} -m mlflow ui --backend-store-uri {mlflow_tracking_uri}",
    ]
    # The hint works as printed with no venv on PATH, from anywhere.
    command = shlex.split(lines[-1].removeprefix("Browse it: "))
    bare = {**os.environ, "PATH": "/usr/bin:/bin"}
    subprocess.run([*command, "--help"], env=bare, cwd="/", check=True, capture_output=True)


def test_describe_csv_logger(csv_logger: CSVLogger) -> None:
    """Other loggers: where they wrote."""
    assert describe_logger(csv_logger) == [f"CSVLogger wrote to {csv_logger.log_dir}"]


def test_report_logs_metrics_and_loggers(
    csv_logger: CSVLogger, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """report: sorted metrics to four decimals, then each logger's lines, all logged at INFO."""
    trainer = L.Trainer(
        logger=[csv_logger],
        default_root_dir=tmp_path,
        accelerator="cpu",
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    with caplog.at_level(logging.INFO, logger="mlcore.tracking"):
        lines = report(trainer, {"val/loss": 0.123456, "test/acc": 0.9})
    assert lines == [
        "test/acc = 0.9000",
        "val/loss = 0.1235",
        f"CSVLogger wrote to {csv_logger.log_dir}",
    ]
    logged = [r.getMessage() for r in caplog.records if r.name == "mlcore.tracking"]
    assert logged == lines


def test_report_without_loggers(tmp_path: Path) -> None:
    """With logger=False only the metrics are reported."""
    trainer = L.Trainer(
        logger=False,
        default_root_dir=tmp_path,
        accelerator="cpu",
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=False,
    )
    assert report(trainer, {"val/acc": 1}) == ["val/acc = 1.0000"]
