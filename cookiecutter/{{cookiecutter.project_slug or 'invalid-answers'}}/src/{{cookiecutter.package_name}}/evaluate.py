{% set _copier_answers = {'_commit': 'v' ~ cookiecutter._template_version} %}{% set _copier_conf = {'answers_file': '.copier-answers.yml', 'vcs_ref_hash': none} %}{% set project_name = cookiecutter.project_name %}{% set package_name = cookiecutter.package_name %}{% set project_slug = cookiecutter.project_slug %}{% set description = cookiecutter.description %}{% set author_name = cookiecutter.author_name %}{% set author_email = cookiecutter.author_email %}{% set python_version = cookiecutter.python_version %}{% set license = cookiecutter.license %}{% set mlcore_source = cookiecutter.mlcore_source %}{% set mlcore_git_url = cookiecutter.mlcore_git_url %}{% set mlcore_path = cookiecutter.mlcore_path %}{% set mlcore_index_url = cookiecutter.mlcore_index_url %}{% set use_gpu = cookiecutter.use_gpu | to_bool %}{% set deploy_target = cookiecutter.deploy_target %}{% set mlcore_ref %}{%- set commit = _copier_answers._commit | default('') -%} {{ commit if commit | regex_search('^v[0-9][^-]*$') else (_copier_conf.vcs_ref_hash or 'main') }}{% endset %}{% set mlcore_version %}{{ mlcore_ref[1:] if mlcore_ref | regex_search('^v[0-9]') else '' }}{% endset %}{% set mlcore_requirement %}{%- if mlcore_source == 'path' -%} mlcore[train] @ file://{{ mlcore_path }} {%- elif mlcore_source == 'index' -%} mlcore[train]{{ '==' ~ mlcore_version if mlcore_version }} {%- else -%} mlcore[train] @ git+{{ mlcore_git_url }}@{{ mlcore_ref }} {%- endif -%}{% endset %}"""Evaluate a model on the test split: `python -m {{ package_name }}.evaluate ckpt_path=...`.

A registered model is evaluated instead with `model_uri=champion` (an alias or version of the
model configs/registry/default.yaml names) or `model_uri=models:/<name>@<alias>`, from the
store MLFLOW_TRACKING_URI names (the project's mlflow.db when unset).
"""

from __future__ import annotations

import hydra
from mlcore.entrypoint import hydra_main
from omegaconf import DictConfig


def evaluate(cfg: DictConfig) -> dict[str, float]:
    """Test the checkpoint or registered model with its `test_step`; the callbacks of
    configs/callbacks/evaluate.yaml add MLflow's own evaluation of its predictions to the run."""
    import lightning as L
    from mlcore.training import (
        instantiate_callbacks,
        instantiate_loggers,
        instantiate_trainer,
        log_hyperparameters,
        scalar_metrics,
    )

    model = load_model(cfg)
    datamodule: L.LightningDataModule = hydra.utils.instantiate(cfg.data)
    loggers = instantiate_loggers(cfg.get("logger"))
    callbacks = instantiate_callbacks(cfg.get("callbacks"), has_logger=bool(loggers))
    trainer = instantiate_trainer(cfg.trainer, model, callbacks=callbacks, logger=loggers or False)
    log_hyperparameters(cfg, trainer)
    trainer.test(model, datamodule=datamodule)
    return scalar_metrics(trainer.callback_metrics)


def load_model(cfg: DictConfig):
    """The LightningModule from `model_uri` (the registry) or `ckpt_path` (a checkpoint file)."""
    from pathlib import Path

    if cfg.get("model_uri"):
        from mlcore.registry import load_pytorch

        return load_pytorch(cfg.model_uri)
    if not cfg.get("ckpt_path"):
        raise ValueError(
            "Nothing to evaluate: pass ckpt_path=<run dir>/checkpoints/last.ckpt from a finished "
            "`train` run, or model_uri=models:/<name>@<alias> (or the alias alone, "
            "model_uri=champion, for this project's model)"
        )
    checkpoint = Path(cfg.ckpt_path)
    if not checkpoint.is_file():
        raise FileNotFoundError(
            f"No checkpoint at {checkpoint}: pass ckpt_path=<run dir>/checkpoints/last.ckpt "
            "from a finished `train` run"
        )
    model_class = hydra.utils.get_class(cfg.model._target_)
    return model_class.load_from_checkpoint(checkpoint, weights_only=True)


@hydra_main(config_path="../../configs", config_name="eval")
def main(cfg: DictConfig) -> None:
    """Command-line entry point (logging and the summary)."""
    from mlcore.training import run_task

    run_task(evaluate, cfg)


if __name__ == "__main__":
    main()
