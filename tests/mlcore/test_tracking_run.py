"""The tracking callbacks (MlflowTracking, LogModel, MlflowEvaluation) with real Lightning, a real
MLflow SQLite store, and nothing but MLflow's own client to read back what a registered model's
run carries."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch
import yaml
from lightning.pytorch.loggers import CSVLogger, MLFlowLogger
from mlflow import MlflowClient
from omegaconf import DictConfig, OmegaConf
from torch.utils.data import DataLoader, TensorDataset

from mlcore.tracking.callbacks import (
    PARENT_RUN_ENV,
    LogModel,
    MlflowEvaluation,
    MlflowTracking,
)
from mlcore.tracking.evaluation import task_of
from mlcore.tracking.sweep import MlflowSweepCallback
from mlcore.training import log_hyperparameters


class TinyClassifier(L.LightningModule):
    """Three classes from four features; logs the metrics the template's model logs."""

    def __init__(self) -> None:
        super().__init__()
        self.net = torch.nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def _step(self, split: str, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        x, y = batch
        logits = self(x)
        loss = torch.nn.functional.cross_entropy(logits, y)
        acc = (logits.argmax(1) == y).float().mean()
        self.log_dict({f"{split}/loss": loss, f"{split}/acc": acc}, on_epoch=True, on_step=False)
        return loss

    def training_step(self, batch, batch_idx):
        return self._step("train", batch)

    def validation_step(self, batch, batch_idx):
        self._step("val", batch)

    def test_step(self, batch, batch_idx):
        self._step("test", batch)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.5)


class TinyData(L.LightningDataModule):
    def setup(self, stage: str | None = None) -> None:
        generator = torch.Generator().manual_seed(0)
        x = torch.randn(96, 4, generator=generator)
        y = x[:, :3].argmax(1)
        self.train_set, self.val_set, self.test_set = (
            TensorDataset(x[i : i + 32], y[i : i + 32]) for i in (0, 32, 64)
        )

    def train_dataloader(self):
        return DataLoader(self.train_set, batch_size=8, shuffle=True)

    def val_dataloader(self):
        return DataLoader(self.val_set, batch_size=8)

    def test_dataloader(self):
        return DataLoader(self.test_set, batch_size=8)


def git(root: Path, *args: str) -> None:
    command = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args]
    subprocess.run(command, cwd=root, check=True, capture_output=True)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    (root / ".copier-answers.yml").write_text("_commit: v9.9.9\n_src_path: /kit\n")
    (root / "requirements-lock.txt").write_text("numpy==2.0.0\n")
    git(root, "init", "--quiet")
    git(root, "add", "--all")
    git(root, "commit", "--quiet", "-m", "init")
    return root


@pytest.fixture
def experiment(request: pytest.FixtureRequest) -> str:
    return f"tracking-{request.node.name}"[:60]


def run_config(project: Path, model_name: str, **tracking: object) -> DictConfig:
    # An interval longer than any run here: the system metrics these runs get are the one sample
    # taken when the monitor stops (MLflow's thread would publish only after an interval).
    return OmegaConf.create(
        {
            "seed": 1,
            "paths": {"root_dir": str(project)},
            "tracking": {"system_metrics": True, "system_metrics_interval": 60.0, **tracking},
            "registry": {"model_name": model_name, "register": True, "intended_use": "Tests."},
        }
    )


@pytest.fixture
def mlflow_logger(
    mlflow_tracking_uri: str, tmp_path: Path, experiment: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[MLFlowLogger]:
    monkeypatch.chdir(tmp_path)
    yield MLFlowLogger(
        experiment_name=experiment,
        tracking_uri=mlflow_tracking_uri,
        artifact_location=(tmp_path / "artifacts").as_uri(),
        tags={"task": "train"},
    )


class Run:
    """What the tests read of a tracked run: the callbacks' results."""

    def __init__(self, tracking: MlflowTracking, log_model: LogModel) -> None:
        self.enabled = tracking.logger is not None
        self.run_id = tracking.run_id
        self.model_uri = log_model.model_uri


def callbacks_for(cfg: DictConfig) -> tuple[MlflowTracking, LogModel]:
    """The callbacks of configs/callbacks/mlflow.yaml, with the values it reads from cfg."""
    tracking = MlflowTracking(root_dir=cfg.paths.root_dir, **cfg.tracking)
    registry = cfg.registry
    log_model = LogModel(register=registry.register, model_name=registry.model_name,
                         intended_use=registry.intended_use)  # fmt: skip
    return tracking, log_model


def trainer_for(tmp_path: Path, loggers: list, callbacks: list, epochs: int = 3) -> L.Trainer:
    return L.Trainer(
        max_epochs=epochs,
        logger=loggers,
        callbacks=callbacks,
        accelerator="cpu",
        default_root_dir=tmp_path,
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=False,
        log_every_n_steps=1,
    )


def fit_and_log(cfg: DictConfig, loggers: list, tmp_path: Path, epochs: int = 3):
    L.seed_everything(0, verbose=False)
    model, data = TinyClassifier(), TinyData()
    tracking, log_model = callbacks_for(cfg)
    trainer = trainer_for(tmp_path, loggers, [tracking, log_model], epochs)
    log_hyperparameters(cfg, trainer)
    trainer.fit(model, datamodule=data)
    trainer.test(model, datamodule=data)
    return Run(tracking, log_model), log_model.version, model, data


def test_registered_models_run_carries_every_lineage_item(
    project: Path, mlflow_logger: MLFlowLogger, tmp_path: Path, experiment: str
) -> None:
    _run, version, _model, _data = fit_and_log(
        run_config(project, experiment), [mlflow_logger], tmp_path
    )
    assert version is not None and version.aliases == ["candidate"]

    client = MlflowClient(mlflow_logger._tracking_uri)
    registered = client.get_model_version_by_alias(experiment, "candidate")
    found = client.get_run(registered.run_id)
    tags = found.data.tags
    # MLflow's own source tags and dirty flag, from the project's repository.
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=project, capture_output=True,
                            text=True, check=True).stdout.strip()  # fmt: skip
    assert tags["mlflow.source.git.commit"] == commit and tags["mlcore.git.dirty"] == "false"
    assert tags["mlflow.source.name"] and tags["mlflow.user"]
    # Template, mlcore, Python and key packages, lock hash, host and accelerator.
    assert tags["mlcore.template.commit"] == "v9.9.9"
    assert tags["mlcore.version"] and tags["mlcore.python"]
    assert tags["mlcore.package.torch"] and tags["mlcore.package.lightning"]
    assert len(tags["mlcore.env.lock_sha256"]) == 64
    assert tags["mlcore.host.name"] and tags["mlcore.accelerator.type"] == "cpu"
    assert tags["task"] == "train"  # the logger's own tags are kept
    # The resolved config, and data digests (train, val, test) as MLflow dataset inputs.
    assert [a.path for a in client.list_artifacts(found.info.run_id, "config")] == [
        "config/config.yaml"
    ]
    inputs = {
        next(t.value for t in i.tags if t.key == "mlflow.data.context"): i.dataset
        for i in found.inputs.dataset_inputs
    }
    assert set(inputs) == {"train", "val", "test"}
    assert (
        inputs["test"].digest == tags["mlcore.eval.digest"] == registered.tags["mlcore.eval.digest"]
    )
    # System metrics, plots, the model card.
    assert any(key.startswith("system/cpu_utilization") for key in found.data.metrics)
    plots = {a.path for a in client.list_artifacts(found.info.run_id, "plots")}
    assert {"plots/confusion_matrix.png", "plots/learning_curves.png"} <= plots
    card = client.list_artifacts(found.info.run_id, "model_card")
    assert [a.path for a in card] == [f"model_card/v{registered.version}.md"]
    assert "## Data" in registered.description and commit in registered.description


def test_logged_model_is_servable_with_explicit_requirements(
    project: Path, mlflow_logger: MLFlowLogger, tmp_path: Path, experiment: str
) -> None:
    import mlflow.pyfunc

    run, _, model, _data = fit_and_log(run_config(project, experiment), [mlflow_logger], tmp_path)
    local = Path(mlflow.artifacts.download_artifacts(run.model_uri, dst_path=str(tmp_path / "m")))
    requirements = (local / "requirements.txt").read_text().splitlines()
    torch_pin = f"torch=={torch.__version__.split('+')[0]}"
    assert torch_pin in requirements and not [r for r in requirements if "+" in r]
    assert any(r.startswith("lightning==") for r in requirements)
    # mlcore from an explicit source (this checkout here), never a bare name from an index.
    [mlcore] = [r for r in requirements if r.startswith("mlcore")]
    assert mlcore.startswith("mlcore @ file://")
    mlmodel = yaml.safe_load((local / "MLmodel").read_text())
    assert json.loads(mlmodel["signature"]["inputs"])[0]["tensor-spec"]["shape"] == [-1, 4]
    assert (local / "input_example.json").is_file() or mlmodel.get("saved_input_example_info")

    loaded = mlflow.pyfunc.load_model(str(local))
    x = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    expected = model(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(np.asarray(loaded.predict(x)), expected, rtol=1e-5)


def test_search_trial_is_a_child_run_and_registers_nothing(
    project: Path,
    mlflow_logger: MLFlowLogger,
    tmp_path: Path,
    experiment: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = MlflowClient(mlflow_logger._tracking_uri)
    parent = client.create_run(mlflow_logger.experiment_id).info.run_id
    monkeypatch.setenv(PARENT_RUN_ENV, parent)
    run, version, _, _ = fit_and_log(run_config(project, experiment), [mlflow_logger], tmp_path)
    assert version is None and run.model_uri
    assert client.get_run(run.run_id).data.tags["mlflow.parentRunId"] == parent
    assert not client.search_model_versions(f"name = '{experiment}'")


def test_without_mlflow_nothing_is_tracked_and_nothing_fails(project: Path, tmp_path: Path) -> None:
    csv = CSVLogger(tmp_path, name="csv")
    run, version, _, _ = fit_and_log(run_config(project, "unused"), [csv], tmp_path, epochs=1)
    assert not run.enabled and version is None and run.run_id is None
    run, version, _, _ = fit_and_log(run_config(project, "unused"), [], tmp_path, epochs=1)
    assert version is None


def test_sweep_callback_makes_one_parent_run(
    mlflow_tracking_uri: str, tmp_path: Path, experiment: str
) -> None:
    import os

    sweep_dir = tmp_path / "multirun"
    sweep_dir.mkdir()
    cfg = OmegaConf.create(
        {
            "task_name": "train",
            "optimized_metric": "val/acc",
            "paths": {"root_dir": str(tmp_path)},
            "logger": {
                "mlflow": {"tracking_uri": mlflow_tracking_uri, "experiment_name": experiment}
            },
            "hydra": {"sweep": {"dir": str(sweep_dir)}},
        }
    )
    callback = MlflowSweepCallback()
    callback.on_multirun_start(cfg)
    parent = os.environ[PARENT_RUN_ENV]
    (sweep_dir / "optimization_results.yaml").write_text(
        "name: optuna\nbest_params: {model.dropout: 0.1}\nbest_value: 0.97\n"
    )
    callback.on_multirun_end(cfg)
    assert PARENT_RUN_ENV not in os.environ
    run = MlflowClient(mlflow_tracking_uri).get_run(parent)
    assert run.info.status == "FINISHED" and run.data.tags["mlflow.runName"] == "train-search"
    assert run.data.metrics["best/val/acc"] == pytest.approx(0.97)
    assert run.data.params["best/model.dropout"] == "0.1"


@pytest.mark.parametrize(
    ("outputs", "targets", "task"),
    [
        (np.zeros((4, 3)), np.array([0, 1, 2, 1]), "classifier"),
        (np.zeros(4), np.linspace(0, 1, 4), "regressor"),
        (np.zeros((4, 1)), np.linspace(0, 1, 4), "regressor"),
        (np.zeros((4, 3)), np.zeros((4, 3)), None),  # several regression outputs
    ],
)
def test_evaluation_task_follows_the_outputs_and_targets(outputs, targets, task) -> None:
    assert task_of(outputs, targets) == task


def test_evaluation_logs_mlflows_own_metrics_into_the_run(
    project: Path, mlflow_logger: MLFlowLogger, tmp_path: Path, experiment: str
) -> None:
    cfg = run_config(project, experiment)
    _run, _version, model, data = fit_and_log(cfg, [mlflow_logger], tmp_path, epochs=2)
    # An evaluation run of its own, as the generated evaluate.py opens one.
    logger = MLFlowLogger(experiment_name=experiment, tracking_uri=mlflow_logger._tracking_uri)
    tracking, evaluation = (
        MlflowTracking(root_dir=str(project), system_metrics=False),
        MlflowEvaluation(),
    )
    trainer_for(tmp_path, [logger], [tracking, evaluation]).test(model, datamodule=data)
    metrics, run = evaluation.metrics, Run(tracking, LogModel())

    x, y = data.test_set.tensors
    with torch.inference_mode():
        accuracy = float((model(x).argmax(1) == y).float().mean())
    assert metrics["accuracy_score"] == pytest.approx(accuracy)
    assert metrics["example_count"] == len(y)
    client = MlflowClient(mlflow_logger._tracking_uri)
    assert client.get_run(run.run_id).data.metrics["accuracy_score"] == pytest.approx(accuracy)
    artifacts = {artifact.path for artifact in client.list_artifacts(run.run_id)}
    assert any("confusion_matrix" in path for path in artifacts), artifacts
    untracked = MlflowEvaluation()
    csv = CSVLogger(tmp_path, name="csv")
    trainer_for(tmp_path, [csv], [MlflowTracking(), untracked]).test(model, datamodule=data)
    assert untracked.metrics == {}
