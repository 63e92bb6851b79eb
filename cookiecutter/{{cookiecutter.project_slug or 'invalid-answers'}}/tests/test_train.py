{% set _copier_answers = {'_commit': 'v' ~ cookiecutter._template_version} %}{% set _copier_conf = {'answers_file': '.copier-answers.yml', 'vcs_ref_hash': none} %}{% set project_name = cookiecutter.project_name %}{% set package_name = cookiecutter.package_name %}{% set project_slug = cookiecutter.project_slug %}{% set description = cookiecutter.description %}{% set author_name = cookiecutter.author_name %}{% set author_email = cookiecutter.author_email %}{% set python_version = cookiecutter.python_version %}{% set license = cookiecutter.license %}{% set mlcore_source = cookiecutter.mlcore_source %}{% set mlcore_git_url = cookiecutter.mlcore_git_url %}{% set mlcore_path = cookiecutter.mlcore_path %}{% set mlcore_index_url = cookiecutter.mlcore_index_url %}{% set use_gpu = cookiecutter.use_gpu | to_bool %}{% set deploy_target = cookiecutter.deploy_target %}{% set mlcore_ref %}{%- set commit = _copier_answers._commit | default('') -%} {{ commit if commit | regex_search('^v[0-9][^-]*$') else (_copier_conf.vcs_ref_hash or 'main') }}{% endset %}{% set mlcore_version %}{{ mlcore_ref[1:] if mlcore_ref | regex_search('^v[0-9]') else '' }}{% endset %}{% set mlcore_requirement %}{%- if mlcore_source == 'path' -%} mlcore[train] @ file://{{ mlcore_path }} {%- elif mlcore_source == 'index' -%} mlcore[train]{{ '==' ~ mlcore_version if mlcore_version }} {%- else -%} mlcore[train] @ git+{{ mlcore_git_url }}@{{ mlcore_ref }} {%- endif -%}{% endset %}"""Training end to end: it logs to MLflow, checkpoints, evaluates and resumes."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest
import torch
from mlflow.tracking import MlflowClient

from {{ package_name }}.evaluate import evaluate
from {{ package_name }}.model import DigitsClassifier
from {{ package_name }}.train import train

from tests.conftest import ComposeFn, TrainedRun, metric


def last_checkpoint(root: Path) -> Path:
    return root / "output" / "checkpoints" / "last.ckpt"


def epochs_logged(root: Path) -> set[int]:
    """Epochs for which the CSV logger wrote a row in every run under root."""
    epochs = set()
    for metrics in (root / "output" / "csv").glob("version_*/metrics.csv"):
        with metrics.open() as rows:
            epochs |= {int(row["epoch"]) for row in csv.DictReader(rows) if row["epoch"]}
    return epochs


def test_training_logs_a_finished_mlflow_run(mlflow_run: TrainedRun) -> None:
    client = MlflowClient(tracking_uri=mlflow_run.tracking_uri)
    run = client.get_run(mlflow_run.run_id)
    assert run.info.status == "FINISHED"
    logged = run.data.metrics
    trained = metric(mlflow_run.metrics, "test/accuracy")
    assert metric(logged, "test/accuracy") == pytest.approx(trained)
    for name in ("val/accuracy", "val/loss", "train/loss", "val/accuracy_best"):
        metric(logged, name)
    # The config's values (configs/model/ is yours to change), as MLflow stores params: strings.
    assert run.data.params["model/dropout"] == str(mlflow_run.cfg.model.dropout)
    artifacts = {artifact.path for artifact in client.list_artifacts(run.info.run_id, "config")}
    assert artifacts == {"config/config.yaml"}


def test_checkpoint_loads_with_weights_only(cfg_train: ComposeFn, tmp_path: Path) -> None:
    cfg = cfg_train("logger=csv", "test=false", "model.hidden_dims=[24,12]")
    train(cfg)
    checkpoint = last_checkpoint(tmp_path)
    assert torch.load(checkpoint, weights_only=True)["epoch"] == 0
    model = DigitsClassifier.load_from_checkpoint(checkpoint, weights_only=True)
    assert model.hparams.hidden_dims == [24, 12]


def test_evaluate_reproduces_the_test_metrics(
    cfg_train: ComposeFn, cfg_eval: ComposeFn, tmp_path: Path
) -> None:
    # One epoch: the best checkpoint that training tests is also the last one.
    trained = train(cfg_train("logger=csv"))
    evaluated = evaluate(cfg_eval(f"ckpt_path={last_checkpoint(tmp_path)}"))
    assert metric(evaluated, "test/accuracy") == pytest.approx(metric(trained, "test/accuracy"))


def test_evaluate_refuses_a_missing_checkpoint(cfg_eval: ComposeFn, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="pass ckpt_path="):
        evaluate(cfg_eval(f"ckpt_path={tmp_path / 'nope.ckpt'}"))


def logged(root: Path, key: str) -> list[tuple[int, float]]:
    """(step, value) of every row the CSV logger wrote for `key` under root, by step."""
    rows = []
    for metrics in (root / "output" / "csv").glob("version_*/metrics.csv"):
        with metrics.open() as lines:
            rows += [(int(row["step"]), float(row[key])) for row in csv.DictReader(lines)
                     if row.get(key)]  # fmt: skip
    return sorted(rows)


# Lightning says, rightly, that a checkpoint resumed into another run folder keeps only its best.
@pytest.mark.filterwarnings("ignore:The dirpath has changed")
def test_extending_a_finished_run_follows_the_new_schedule(
    cfg_train: ComposeFn, tmp_path: Path
) -> None:
    """A finished 3-epoch run resumed to 6 epochs: the cosine schedule's horizon is the new
    max_epochs, so the 4th epoch does not start at the old schedule's end (an LR of 0)."""
    first, resumed = tmp_path / "first", tmp_path / "resumed"
    few = ["logger=csv", "test=false", "+trainer.limit_train_batches=5"]
    few += ["trainer.log_every_n_steps=1"]
    train(cfg_train(*few, "trainer.max_epochs=3", root=first))
    checkpoint = last_checkpoint(first)
    assert torch.load(checkpoint, weights_only=True)["epoch"] == 2

    cfg = cfg_train(*few, f"ckpt_path={checkpoint}", "trainer.max_epochs=6", root=resumed)
    train(cfg)
    assert epochs_logged(resumed) == {3, 4, 5}, "only the new epochs are trained"
    # LearningRateMonitor logs the LR as each epoch starts: cosine over 6 epochs from the base LR.
    base = cfg.model.optimizer.lr
    expected = [base * (1 + math.cos(math.pi * epoch / 6)) / 2 for epoch in (3, 4, 5)]
    lrs = [value for _, value in logged(resumed, "lr-AdamW")]
    assert lrs == pytest.approx(expected, rel=1e-4)
    # And the model learns in the 4th epoch: its validation loss moves from the 3rd's.
    [*_, (_, finished)] = logged(first, "val/loss")
    [(_, fourth), *_] = logged(resumed, "val/loss")
    assert fourth != pytest.approx(finished, rel=1e-6)


# The resumed run writes into the same checkpoint folder, which Lightning rightly points out.
@pytest.mark.filterwarnings("ignore:Checkpoint directory")
def test_a_default_checkpoint_name_passes_back_through_the_command_line(
    cfg_train: ComposeFn, tmp_path: Path
) -> None:
    """With the repo's checkpoint callback off, Lightning's default one names the file; a name
    with `=` would be a Hydra grammar error in `ckpt_path=...`."""
    quick = ["logger=none", "callbacks.model_checkpoint=null", "test=false",
             "+trainer.limit_train_batches=2", "trainer.log_every_n_steps=1"]  # fmt: skip
    train(cfg_train(*quick))
    [checkpoint] = (tmp_path / "output").rglob("*.ckpt")
    assert "=" not in checkpoint.name, checkpoint.name
    resumed = cfg_train(*quick, f"ckpt_path={checkpoint}", "trainer.max_epochs=2")
    train(resumed)
    [extended] = (tmp_path / "output").rglob("epoch_001-*.ckpt")
    assert torch.load(extended, weights_only=True)["epoch"] == 1


def test_training_without_a_logger_still_checkpoints(cfg_train: ComposeFn, tmp_path: Path) -> None:
    train(cfg_train("logger=none", "test=false"))
    assert last_checkpoint(tmp_path).is_file()


@pytest.mark.slow
def test_default_training_reaches_target_accuracy(cfg_train: ComposeFn) -> None:
    metrics = train(cfg_train("logger=csv", "trainer.max_epochs=20"))
    assert metric(metrics, "test/accuracy") >= 0.93


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU; none is present")
def test_training_on_one_gpu(cfg_train: ComposeFn) -> None:
    metrics = train(cfg_train("trainer.accelerator=gpu", "trainer.max_epochs=2", "logger=csv"))
    assert metric(metrics, "test/accuracy") > 0.5
