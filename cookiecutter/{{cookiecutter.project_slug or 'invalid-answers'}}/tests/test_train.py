{% set _copier_answers = {'_commit': 'v' ~ cookiecutter._template_version} %}{% set _copier_conf = {'answers_file': '.copier-answers.yml', 'vcs_ref_hash': none} %}{% set project_name = cookiecutter.project_name %}{% set package_name = cookiecutter.package_name %}{% set project_slug = cookiecutter.project_slug %}{% set description = cookiecutter.description %}{% set author_name = cookiecutter.author_name %}{% set author_email = cookiecutter.author_email %}{% set python_version = cookiecutter.python_version %}{% set license = cookiecutter.license %}{% set mlcore_source = cookiecutter.mlcore_source %}{% set mlcore_git_url = cookiecutter.mlcore_git_url %}{% set mlcore_path = cookiecutter.mlcore_path %}{% set mlcore_index_url = cookiecutter.mlcore_index_url %}{% set use_gpu = cookiecutter.use_gpu | to_bool %}{% set deploy_target = cookiecutter.deploy_target %}{% set mlcore_ref %}{%- set commit = _copier_answers._commit | default('') -%} {{ commit if commit | regex_search('^v[0-9][^-]*$') else (_copier_conf.vcs_ref_hash or 'main') }}{% endset %}{% set mlcore_version %}{{ mlcore_ref[1:] if mlcore_ref | regex_search('^v[0-9]') else '' }}{% endset %}{% set mlcore_requirement %}{%- if mlcore_source == 'path' -%} mlcore[train] @ file://{{ mlcore_path }} {%- elif mlcore_source == 'index' -%} mlcore[train]{{ '==' ~ mlcore_version if mlcore_version }} {%- else -%} mlcore[train] @ git+{{ mlcore_git_url }}@{{ mlcore_ref }} {%- endif -%}{% endset %}"""Training end to end: it logs to MLflow, checkpoints, evaluates and resumes."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch
from mlflow.tracking import MlflowClient

from {{ package_name }}.evaluate import evaluate
from {{ package_name }}.model import DigitsClassifier
from {{ package_name }}.train import train

from tests.conftest import ComposeFn, TrainedRun


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
    assert run.data.metrics["test/acc"] == pytest.approx(mlflow_run.metrics["test/acc"])
    assert {"val/acc", "val/loss", "train/loss", "val/acc_best"} <= set(run.data.metrics)
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
    assert evaluated["test/acc"] == pytest.approx(trained["test/acc"])


def test_evaluate_refuses_a_missing_checkpoint(cfg_eval: ComposeFn, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="pass ckpt_path="):
        evaluate(cfg_eval(f"ckpt_path={tmp_path / 'nope.ckpt'}"))


# Lightning says, rightly, that a checkpoint resumed into another run folder keeps only its best.
@pytest.mark.filterwarnings("ignore:The dirpath has changed")
def test_resume_continues_from_the_checkpoint_epoch(cfg_train: ComposeFn, tmp_path: Path) -> None:
    first, resumed = tmp_path / "first", tmp_path / "resumed"
    train(cfg_train("logger=csv", "trainer.max_epochs=2", "test=false", root=first))
    checkpoint = last_checkpoint(first)
    assert torch.load(checkpoint, weights_only=True)["epoch"] == 1

    resume = [f"ckpt_path={checkpoint}", "trainer.max_epochs=3"]
    train(cfg_train("logger=csv", "test=false", *resume, root=resumed))
    # The resumed run trained only the third epoch (index 2), not from scratch.
    assert epochs_logged(resumed) == {2}
    assert torch.load(last_checkpoint(resumed), weights_only=True)["epoch"] == 2


def test_training_without_a_logger_still_checkpoints(cfg_train: ComposeFn, tmp_path: Path) -> None:
    train(cfg_train("logger=none", "test=false"))
    assert last_checkpoint(tmp_path).is_file()


@pytest.mark.slow
def test_default_training_reaches_target_accuracy(cfg_train: ComposeFn) -> None:
    metrics = train(cfg_train("logger=csv", "trainer.max_epochs=20"))
    assert metrics["test/acc"] >= 0.93


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU; none is present")
def test_training_on_one_gpu(cfg_train: ComposeFn) -> None:
    metrics = train(cfg_train("trainer.accelerator=gpu", "trainer.max_epochs=2", "logger=csv"))
    assert metrics["test/acc"] > 0.5
