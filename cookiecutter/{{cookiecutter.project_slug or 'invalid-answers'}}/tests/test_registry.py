{% set _copier_answers = {'_commit': 'v' ~ cookiecutter._template_version} %}{% set _copier_conf = {'answers_file': '.copier-answers.yml', 'vcs_ref_hash': none} %}{% set project_name = cookiecutter.project_name %}{% set package_name = cookiecutter.package_name %}{% set project_slug = cookiecutter.project_slug %}{% set description = cookiecutter.description %}{% set author_name = cookiecutter.author_name %}{% set author_email = cookiecutter.author_email %}{% set python_version = cookiecutter.python_version %}{% set license = cookiecutter.license %}{% set mlcore_source = cookiecutter.mlcore_source %}{% set mlcore_git_url = cookiecutter.mlcore_git_url %}{% set mlcore_path = cookiecutter.mlcore_path %}{% set mlcore_index_url = cookiecutter.mlcore_index_url %}{% set use_gpu = cookiecutter.use_gpu | to_bool %}{% set deploy_target = cookiecutter.deploy_target %}{% set mlcore_ref %}{%- set commit = _copier_answers._commit | default('') -%} {{ commit if commit | regex_search('^v[0-9][^-]*$') else (_copier_conf.vcs_ref_hash or 'main') }}{% endset %}{% set mlcore_version %}{{ mlcore_ref[1:] if mlcore_ref | regex_search('^v[0-9]') else '' }}{% endset %}{% set mlcore_requirement %}{%- if mlcore_source == 'path' -%} mlcore[train] @ file://{{ mlcore_path }} {%- elif mlcore_source == 'index' -%} mlcore[train]{{ '==' ~ mlcore_version if mlcore_version }} {%- else -%} mlcore[train] @ git+{{ mlcore_git_url }}@{{ mlcore_ref }} {%- endif -%}{% endset %}"""The registry end to end: train -> candidate -> promote -> load by alias -> predict, a worse
candidate refused, rollback; and the lineage a registered model's run carries."""

from __future__ import annotations

import os
from collections.abc import Iterator

import numpy as np
import pytest
from mlcore.registry import (
    AliasNotFoundError,
    Gate,
    ModelNotFoundError,
    PromotionRefusedError,
    describe,
    load,
    promote,
    rollback,
)
from mlflow import MlflowClient
from omegaconf import OmegaConf

from {{ package_name }}.data import DigitsDataModule
from {{ package_name }}.evaluate import evaluate
from {{ package_name }}.train import train

from tests.conftest import CONFIG_DIR, FAST, TrainedRun, compose_config, metric, needs_accuracy

# The generated gate: test/accuracy, maximize, margin 0, floor 0.9 (configs/registry/default.yaml).
GATE = Gate.from_config(
    OmegaConf.to_container(OmegaConf.load(CONFIG_DIR / "registry" / "default.yaml").gate)
)


@pytest.fixture(scope="module")
def champion(mlflow_run: TrainedRun) -> TrainedRun:
    """The shared run's candidate, promoted: no champion yet, so it has to reach the floor."""
    promote(mlflow_run.model_name, GATE, tracking_uri=mlflow_run.tracking_uri)
    return mlflow_run


@pytest.fixture(scope="module")
def worse(champion: TrainedRun) -> Iterator[str]:
    """A candidate trained on one batch, in the same store: its version number."""
    saved = dict(os.environ)
    overrides = [*FAST, "logger=mlflow", "+trainer.limit_train_batches=1", "registry.register=true"]
    # Its own run folder, and a log line per step of its one batch.
    overrides += [f"paths.output_dir={champion.root / 'worse'}", "trainer.log_every_n_steps=1"]
    train(compose_config("train", champion.root, overrides))
    os.environ.clear()
    os.environ.update(saved)
    yield describe(champion.model_name, "candidate", tracking_uri=champion.tracking_uri)["version"]


def test_registered_run_carries_its_lineage(mlflow_run: TrainedRun) -> None:
    client = MlflowClient(mlflow_run.tracking_uri)
    [version] = client.search_model_versions(f"run_id = '{mlflow_run.run_id}'")
    tags = client.get_run(version.run_id).data.tags
    for key in ("mlcore.version", "mlcore.python", "mlcore.package.torch", "mlcore.env.lock_file",
                "mlcore.host.name", "mlcore.accelerator.type", "mlcore.eval.digest"):  # fmt: skip
        assert tags.get(key), key
    assert version.tags["mlcore.eval.digest"] == tags["mlcore.eval.digest"]
    run = client.get_run(version.run_id)
    contexts = {entry.dataset.name: entry.dataset.digest for entry in run.inputs.dataset_inputs}
    assert contexts["DigitsDataModule-test"] == tags["mlcore.eval.digest"]
    artifacts = {a.path for a in client.list_artifacts(version.run_id, "plots")}
    assert {"plots/confusion_matrix.png", "plots/learning_curves.png"} <= artifacts
    assert "## Intended use" in version.description and "## Lineage" in version.description


def test_a_run_not_asked_to_register_leaves_the_candidate(mlflow_run: TrainedRun) -> None:
    """Smoke runs, experiments and ad-hoc overrides do not move `candidate`; `make train` asks
    (registry.register=true, as the fixture's run did)."""
    uri = mlflow_run.tracking_uri
    before = describe(mlflow_run.model_name, "candidate", tracking_uri=uri)["version"]
    saved = dict(os.environ)
    quick = [*FAST, "logger=mlflow", "+trainer.limit_train_batches=1", "tracking.onnx=false"]
    quick += [f"paths.output_dir={mlflow_run.root / 'unregistered'}", "trainer.log_every_n_steps=1"]
    train(compose_config("train", mlflow_run.root, quick))
    os.environ.clear()
    os.environ.update(saved)
    assert describe(mlflow_run.model_name, "candidate", tracking_uri=uri)["version"] == before
    client = MlflowClient(uri)
    experiments = [experiment.experiment_id for experiment in client.search_experiments()]
    [newest] = client.search_runs(
        experiments, order_by=["attributes.start_time DESC"], max_results=1
    )
    assert "mlcore.registry.version" not in newest.data.tags
    assert newest.data.tags["mlcore.model.uri"], "the model is logged, only not registered"


def test_champion_loads_by_alias_and_predicts(champion: TrainedRun) -> None:
    model = load(champion.model_name, "champion", tracking_uri=champion.tracking_uri)
    datamodule = DigitsDataModule()
    datamodule.prepare_data()
    datamodule.setup()
    features, labels = (t.numpy() for t in datamodule.test_set.tensors)
    logits = np.asarray(model.predict(features))
    assert logits.shape == (len(labels), DigitsDataModule.num_classes)
    predicted = logits.argmax(axis=1)
    # test/accuracy is accuracy: the share of test examples classified correctly.
    needs_accuracy(champion.metrics)
    assert float((predicted == labels).mean()) == pytest.approx(
        champion.metrics["test/accuracy"], abs=1e-5
    )


def test_evaluate_the_registered_champion(champion: TrainedRun, tmp_path) -> None:
    uri = f"models:/{champion.model_name}@champion"
    overrides = ["trainer=cpu", "trainer.enable_progress_bar=false", "logger=mlflow"]
    cfg = compose_config("eval", tmp_path, [*overrides, f"model_uri={uri}"])
    os.environ["MLFLOW_TRACKING_URI"] = champion.tracking_uri  # the registry; restored after
    metrics = evaluate(cfg)
    assert metric(metrics, "test/accuracy") == pytest.approx(
        metric(champion.metrics, "test/accuracy")
    )
    # MLflow's evaluation of the same predictions agrees: both are accuracy.
    needs_accuracy(metrics)
    assert metrics["accuracy_score"] == pytest.approx(metrics["test/accuracy"], abs=1e-6)
    datamodule = DigitsDataModule()
    datamodule.prepare_data()
    datamodule.setup()
    assert metrics["example_count"] == len(datamodule.test_set)


def test_worse_candidate_is_refused_then_rollback_restores(
    champion: TrainedRun, worse: str
) -> None:
    name, uri = champion.model_name, champion.tracking_uri
    best = describe(name, "champion", tracking_uri=uri)["version"]
    with pytest.raises(PromotionRefusedError, match=r"test/accuracy = 0\.\d+ against champion"):
        promote(name, GATE, tracking_uri=uri)
    assert describe(name, "champion", tracking_uri=uri)["version"] == best

    # A gate that lets anything through makes the worse model champion; rollback undoes it.
    promote(name, Gate(margin=-1.0), tracking_uri=uri)
    assert describe(name, "champion", tracking_uri=uri)["version"] == worse
    rollback(name, tracking_uri=uri)
    assert describe(name, "champion", tracking_uri=uri)["version"] == best


def test_unknown_model_or_alias_is_named(mlflow_run: TrainedRun) -> None:
    with pytest.raises(ModelNotFoundError, match="no registered model 'nope'"):
        load("nope", tracking_uri=mlflow_run.tracking_uri)
    with pytest.raises(AliasNotFoundError, match="no alias 'nope'"):
        load(mlflow_run.model_name, "nope", tracking_uri=mlflow_run.tracking_uri)
