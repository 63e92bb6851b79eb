{% set _copier_answers = {'_commit': 'v' ~ cookiecutter._template_version} %}{% set _copier_conf = {'answers_file': '.copier-answers.yml', 'vcs_ref_hash': none} %}{% set project_name = cookiecutter.project_name %}{% set package_name = cookiecutter.package_name %}{% set project_slug = cookiecutter.project_slug %}{% set description = cookiecutter.description %}{% set author_name = cookiecutter.author_name %}{% set author_email = cookiecutter.author_email %}{% set python_version = cookiecutter.python_version %}{% set license = cookiecutter.license %}{% set mlcore_source = cookiecutter.mlcore_source %}{% set mlcore_git_url = cookiecutter.mlcore_git_url %}{% set mlcore_path = cookiecutter.mlcore_path %}{% set mlcore_index_url = cookiecutter.mlcore_index_url %}{% set use_gpu = cookiecutter.use_gpu | to_bool %}{% set deploy_target = cookiecutter.deploy_target %}{% set mlcore_ref %}{%- set commit = _copier_answers._commit | default('') -%} {{ commit if commit | regex_search('^v[0-9][^-]*$') else (_copier_conf.vcs_ref_hash or 'main') }}{% endset %}{% set mlcore_version %}{{ mlcore_ref[1:] if mlcore_ref | regex_search('^v[0-9]') else '' }}{% endset %}{% set mlcore_requirement %}{%- if mlcore_source == 'path' -%} mlcore[train] @ file://{{ mlcore_path }} {%- elif mlcore_source == 'index' -%} mlcore[train]{{ '==' ~ mlcore_version if mlcore_version }} {%- else -%} mlcore[train] @ git+{{ mlcore_git_url }}@{{ mlcore_ref }} {%- endif -%}{% endset %}"""Every option of every config group composes, and the entry points answer without training."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hydra.errors import MissingConfigException
from hydra.utils import get_class
from omegaconf import DictConfig, ListConfig, OmegaConf

from {{ package_name }}.evaluate import load_model

from tests.conftest import CONFIG_DIR, compose_config

GROUPS = ["data", "model", "trainer", "logger", "callbacks", "paths", "experiment", "debug"]
GROUPS += ["hparams_search", "registry"]
OPTIONS = [
    (group, path.stem) for group in GROUPS for path in sorted((CONFIG_DIR / group).glob("*.yaml"))
]


PROJECT_ROOT = CONFIG_DIR.parent


def run_module(*args: str) -> subprocess.CompletedProcess[str]:
    """Run `python -m <args>` from the project root, installed or not."""
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT / "src")}
    command = [sys.executable, *args]
    return subprocess.run(
        command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, check=True
    )


def targets(node: object) -> list[str]:
    """Every `_target_` in a config tree."""
    if isinstance(node, DictConfig):
        found = [str(node["_target_"])] if "_target_" in node else []
        return found + [t for value in node.values() for t in targets(value)]
    if isinstance(node, ListConfig):
        return [t for value in node for t in targets(value)]
    return []


def test_every_group_has_options() -> None:
    assert {group for group, _ in OPTIONS} == set(GROUPS)


@pytest.mark.parametrize(("group", "option"), OPTIONS, ids=[f"{g}={o}" for g, o in OPTIONS])
def test_option_composes_and_resolves(group: str, option: str, tmp_path: Path) -> None:
    cfg = compose_config("train", tmp_path, [f"{group}={option}"])
    OmegaConf.resolve(cfg)
    assert cfg.data and cfg.model and cfg.trainer
    for target in targets(cfg):
        assert get_class(target), target  # a typo in a class path fails here, not mid-run


# Options that build objects: group -> how deep the `_target_`s sit (0: the group, 1: its entries).
INSTANTIABLE = {"data": 0, "model": 0, "trainer": 0, "callbacks": 1, "logger": 1}


@pytest.mark.parametrize(
    ("group", "option"),
    [(group, option) for group, option in OPTIONS if group in INSTANTIABLE],
    ids=[f"{g}={o}" for g, o in OPTIONS if g in INSTANTIABLE],
)
def test_option_instantiates_with_hydra_alone(group: str, option: str, tmp_path: Path) -> None:
    """What a config file says is valid for its library as it stands: `instantiate(cfg.trainer)`
    builds a Lightning Trainer, as lightning-hydra-template users write it (mlcore.launch only
    refines the values left open)."""
    import torch
    from hydra.utils import instantiate

    if (group, option) == ("trainer", "gpu") and not torch.cuda.is_available():
        pytest.skip("trainer=gpu needs a CUDA GPU; none is present")
    cfg = compose_config("train", tmp_path, [f"{group}={option}"])
    node = cfg[group]
    specs = [node] if INSTANTIABLE[group] == 0 else [spec for spec in node.values() if spec]
    # A trainer alone would add Lightning's default logger; what a logger is, the logger group says.
    extra = {"logger": False} if group == "trainer" else {}
    for spec in specs:
        if group == "logger" and not _importable(spec["_target_"]):
            pytest.skip(f"{spec['_target_']} needs a package this project does not install")
        assert instantiate(spec, **extra) is not None, spec["_target_"]


def _importable(target: str) -> bool:
    """Whether a logger's own package is installed (wandb and tensorboard are optional)."""
    import importlib.util

    needs = {"WandbLogger": "wandb", "TensorBoardLogger": "tensorboard"}
    package = needs.get(target.rsplit(".", 1)[-1])
    return package is None or importlib.util.find_spec(package) is not None


def test_unknown_option_names_the_group(tmp_path: Path) -> None:
    with pytest.raises(MissingConfigException, match="model"):
        compose_config("train", tmp_path, ["model=does_not_exist"])


def test_eval_needs_a_checkpoint_or_a_registered_model(tmp_path: Path) -> None:
    cfg = compose_config("eval", tmp_path)
    assert cfg.ckpt_path is None and cfg.model_uri is None
    with pytest.raises(ValueError, match=r"ckpt_path=.* or model_uri=models:/"):
        load_model(cfg)


def test_registry_gate_is_configured(tmp_path: Path) -> None:
    gate = compose_config("train", tmp_path).registry.gate
    assert gate.metric == "test/accuracy" and gate.direction in ("maximize", "minimize")
    assert gate.margin >= 0 and 0 < gate.floor <= 1


def test_any_key_can_be_overridden(tmp_path: Path) -> None:
    cfg = compose_config("train", tmp_path, ["model.dropout=0.3", "data.batch_size=16", "seed=1"])
    assert (cfg.model.dropout, cfg.data.batch_size, cfg.data.seed) == (0.3, 16, 1)


@pytest.mark.parametrize("module", ["train", "evaluate"])
def test_entry_point_help_does_not_import_torch(module: str) -> None:
    """`--help` must stay instant: the heavy stack loads only when a run starts."""
    result = run_module("-X", "importtime", "-m", f"{{ package_name }}.{module}", "--help")
    assert "Config groups" in result.stdout and "hparams_search  optuna" in result.stdout
    imported = {line.split("|")[-1].strip() for line in result.stderr.splitlines()}
    assert not {"torch", "lightning", "mlflow"} & imported


def test_cfg_job_prints_the_resolved_config() -> None:
    result = run_module("-m", "{{ package_name }}.train", "--cfg", "job", "model.dropout=0.25")
    assert OmegaConf.create(result.stdout).model.dropout == 0.25


@pytest.mark.slow
def test_optuna_search_runs_its_trials(tmp_path: Path) -> None:
    """`-m hparams_search=optuna` runs each trial through Hydra and records the best one; in
    MLflow the search is one parent run with a child run per trial, and registers nothing."""
    from mlflow import MlflowClient

    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    run_module(
        "-m", "{{ package_name }}.train", "-m", "hparams_search=optuna",
        "hydra.sweeper.n_trials=2", "trainer.max_epochs=1", "test=false",
        "callbacks.rich_progress_bar=null", f"paths.log_dir={tmp_path}",
        f"+logger.mlflow.tracking_uri={store}", "tracking.system_metrics=false",
        f"+logger.mlflow.artifact_location={(tmp_path / 'mlartifacts').as_uri()}",
    )  # fmt: skip
    [results] = tmp_path.glob("train/multiruns/*/optimization_results.yaml")
    best = OmegaConf.load(results)
    assert 0.0 < best.best_value <= 1.0
    assert set(best.best_params) == {"model.optimizer.lr", "model.dropout", "data.batch_size"}

    client = MlflowClient(store)
    experiment = client.get_experiment_by_name("{{ project_slug }}")
    runs = client.search_runs([experiment.experiment_id])
    [parent] = [run for run in runs if "mlflow.parentRunId" not in run.data.tags]
    parent_id = parent.info.run_id
    children = [run for run in runs if run.data.tags.get("mlflow.parentRunId") == parent_id]
    assert len(children) == 2 and parent.info.status == "FINISHED"
    assert parent.data.metrics["best/val/accuracy_best"] == pytest.approx(best.best_value)
    assert not client.search_registered_models()
