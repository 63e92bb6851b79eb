{% set _copier_answers = {'_commit': 'v' ~ cookiecutter._template_version} %}{% set _copier_conf = {'answers_file': '.copier-answers.yml', 'vcs_ref_hash': none} %}{% set project_name = cookiecutter.project_name %}{% set package_name = cookiecutter.package_name %}{% set project_slug = cookiecutter.project_slug %}{% set description = cookiecutter.description %}{% set author_name = cookiecutter.author_name %}{% set author_email = cookiecutter.author_email %}{% set python_version = cookiecutter.python_version %}{% set license = cookiecutter.license %}{% set mlcore_source = cookiecutter.mlcore_source %}{% set mlcore_git_url = cookiecutter.mlcore_git_url %}{% set mlcore_path = cookiecutter.mlcore_path %}{% set mlcore_index_url = cookiecutter.mlcore_index_url %}{% set use_gpu = cookiecutter.use_gpu | to_bool %}{% set deploy_target = cookiecutter.deploy_target %}{% set mlcore_ref %}{%- set commit = _copier_answers._commit | default('') -%} {{ commit if commit | regex_search('^v[0-9][^-]*$') else (_copier_conf.vcs_ref_hash or 'main') }}{% endset %}{% set mlcore_version %}{{ mlcore_ref[1:] if mlcore_ref | regex_search('^v[0-9]') else '' }}{% endset %}{% set mlcore_requirement %}{%- if mlcore_source == 'path' -%} mlcore[train] @ file://{{ mlcore_path }} {%- elif mlcore_source == 'index' -%} mlcore[train]{{ '==' ~ mlcore_version if mlcore_version }} {%- else -%} mlcore[train] @ git+{{ mlcore_git_url }}@{{ mlcore_ref }} {%- endif -%}{% endset %}"""Shared fixtures: configs composed in-process (no subprocess, no Hydra run directory)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, open_dict

CONFIG_DIR = Path(__file__).resolve().parents[1] / "configs"

# Small, quiet, CPU-only settings that keep each training test to a second or two.
FAST = [
    "trainer=cpu",
    "trainer.max_epochs=1",
    "trainer.enable_progress_bar=false",
    "trainer.enable_model_summary=false",
    "callbacks.rich_progress_bar=null",
    "tracking.system_metrics=false",
]

ComposeFn = Callable[..., DictConfig]


def pytest_configure(config: pytest.Config) -> None:
    """Warnings of libraries that no test here causes or can fix (mlcore.logging lists them)
    stay out of the summary, so any warning left there is this project's own."""
    from mlcore.logging import pytest_warning_filters

    for line in pytest_warning_filters():
        config.addinivalue_line("filterwarnings", line)


def metric(metrics: Mapping[str, float], name: str) -> float:
    """`metrics[name]`; for a model.py from 0.1, which logs `test/acc` (macro-averaged) rather
    than `test/accuracy`, the old name's value, with a deprecation message (mlcore.metrics)."""
    from mlcore.metrics import lookup

    value = lookup(metrics, name, "tests")
    assert value is not None, f"no metric {name!r} among {sorted(metrics)}"
    return float(value)


def needs_accuracy(metrics: Mapping[str, float]) -> None:
    """Skip a test of what accuracy means where model.py still logs 0.1's macro-averaged `acc`."""
    if "test/accuracy" not in metrics:
        pytest.skip("model.py logs 0.1's test/acc (macro-averaged), not test/accuracy: see the "
                    "CHANGELOG's 'Upgrading'")  # fmt: skip


@pytest.fixture(autouse=True)
def _restore_environment() -> Iterator[None]:
    """Lightning's MLflow logger exports MLFLOW_TRACKING_URI; keep it from leaking between tests."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


def compose_config(config_name: str, tmp_path: Path, overrides: Sequence[str] = ()) -> DictConfig:
    """Compose `configs/<config_name>.yaml` with every path and the MLflow store inside tmp_path."""
    paths = [
        f"paths.root_dir={tmp_path}",
        f"paths.output_dir={tmp_path / 'output'}",
        f"paths.log_dir={tmp_path / 'logs'}",
    ]
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        cfg = compose(config_name, overrides=[*paths, *overrides])
    # Tests never write to a team tracking server, even when MLFLOW_TRACKING_URI is set, and keep
    # MLflow's artifacts out of the project's own mlruns/.
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    os.environ["MLFLOW_TRACKING_URI"] = store  # restored after each test (_restore_environment)
    if "mlflow" in (cfg.get("logger") or {}):
        with open_dict(cfg):
            cfg.logger.mlflow.tracking_uri = store
            cfg.logger.mlflow.artifact_location = (tmp_path / "mlartifacts").as_uri()
    return cfg


@pytest.fixture
def cfg_train(tmp_path: Path) -> ComposeFn:
    """Build a fast training config; extra overrides go last."""
    return lambda *overrides, root=tmp_path: compose_config("train", root, [*FAST, *overrides])


@pytest.fixture
def cfg_eval(tmp_path: Path) -> ComposeFn:
    """Build an evaluation config; pass ckpt_path=... as an override."""
    fast = ["trainer=cpu", "trainer.enable_progress_bar=false", "logger=csv"]
    return lambda *overrides, root=tmp_path: compose_config("eval", root, [*fast, *overrides])


@dataclass(frozen=True)
class TrainedRun:
    """One training run tracked in MLflow, shared by the tests that only read it."""

    root: Path
    tracking_uri: str
    run_id: str
    model_name: str
    metrics: dict[str, float]
    cfg: DictConfig


@pytest.fixture(scope="session")
def mlflow_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrainedRun]:
    """Train once, logged to MLflow and registered as `candidate` (creating an MLflow store
    takes seconds, so the tests that read a run share this one)."""
    from {{ package_name }}.train import train

    root = tmp_path_factory.mktemp("tracked")
    saved = dict(os.environ)
    overrides = [*FAST, "logger=mlflow", "trainer.max_epochs=2", "registry.register=true"]
    cfg = compose_config("train", root, overrides)
    metrics = train(cfg)
    os.environ.clear()
    os.environ.update(saved)
    from mlflow import MlflowClient

    client = MlflowClient(cfg.logger.mlflow.tracking_uri)
    experiment = client.get_experiment_by_name(cfg.logger.mlflow.experiment_name)
    [run] = client.search_runs([experiment.experiment_id])
    yield TrainedRun(
        root, cfg.logger.mlflow.tracking_uri, run.info.run_id, cfg.registry.model_name, metrics, cfg
    )
