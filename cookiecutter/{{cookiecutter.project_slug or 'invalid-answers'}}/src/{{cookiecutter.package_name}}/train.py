{% set _copier_answers = {'_commit': 'v' ~ cookiecutter._template_version} %}{% set _copier_conf = {'answers_file': '.copier-answers.yml', 'vcs_ref_hash': none} %}{% set project_name = cookiecutter.project_name %}{% set package_name = cookiecutter.package_name %}{% set project_slug = cookiecutter.project_slug %}{% set description = cookiecutter.description %}{% set author_name = cookiecutter.author_name %}{% set author_email = cookiecutter.author_email %}{% set python_version = cookiecutter.python_version %}{% set license = cookiecutter.license %}{% set mlcore_source = cookiecutter.mlcore_source %}{% set mlcore_git_url = cookiecutter.mlcore_git_url %}{% set mlcore_path = cookiecutter.mlcore_path %}{% set mlcore_index_url = cookiecutter.mlcore_index_url %}{% set use_gpu = cookiecutter.use_gpu | to_bool %}{% set deploy_target = cookiecutter.deploy_target %}{% set mlcore_ref %}{%- set commit = _copier_answers._commit | default('') -%} {{ commit if commit | regex_search('^v[0-9][^-]*$') else (_copier_conf.vcs_ref_hash or 'main') }}{% endset %}{% set mlcore_version %}{{ mlcore_ref[1:] if mlcore_ref | regex_search('^v[0-9]') else '' }}{% endset %}{% set mlcore_requirement %}{%- if mlcore_source == 'path' -%} mlcore[train] @ file://{{ mlcore_path }} {%- elif mlcore_source == 'index' -%} mlcore[train]{{ '==' ~ mlcore_version if mlcore_version }} {%- else -%} mlcore[train] @ git+{{ mlcore_git_url }}@{{ mlcore_ref }} {%- endif -%}{% endset %}"""Train the model: `python -m {{ package_name }}.train [key=value ...]`.

Every config key can be overridden on the command line (`model.dropout=0.2 trainer=gpu`);
`ckpt_path=.../last.ckpt` starts from a checkpoint, `resume=auto` continues this run directory's
interrupted run; `--cfg job` prints the config. What a run records (lineage, the model, its
registration as `candidate` with `registry.register=true`, as `make train` does) is done by the
callbacks of configs/callbacks/; `make promote` makes the candidate `champion` through the gate.
On SIGTERM (preemption) training saves a checkpoint and exits 143, for the launcher to restart
it. The same code runs on several GPUs and nodes: `make launch` (configs/launcher/).
"""

from __future__ import annotations

import logging

import hydra
from mlcore.entrypoint import hydra_main
from omegaconf import DictConfig

log = logging.getLogger(__name__)


def train(cfg: DictConfig) -> dict[str, float]:
    """Build data, model, callbacks, loggers and trainer; fit and test; return the metrics."""
    # Heavy imports live here so that `--help` and `--cfg job` answer instantly.
    import lightning as L
    from mlcore.training import (
        instantiate_callbacks,
        instantiate_loggers,
        instantiate_trainer,
        log_hyperparameters,
        scalar_metrics,
    )

    if cfg.get("seed") is not None:
        L.seed_everything(cfg.seed, workers=True)
    datamodule: L.LightningDataModule = hydra.utils.instantiate(cfg.data)
    model: L.LightningModule = hydra.utils.instantiate(cfg.model)
    loggers = instantiate_loggers(cfg.get("logger"))
    callbacks = instantiate_callbacks(cfg.get("callbacks"), has_logger=bool(loggers),
                                      trainer=cfg.trainer)  # fmt: skip
    trainer = instantiate_trainer(cfg.trainer, model, callbacks=callbacks, logger=loggers or False)
    log_hyperparameters(cfg, trainer)

    log.info("Training %s on %s", type(model).__name__, type(datamodule).__name__)
    trainer.fit(model, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"))
    metrics = scalar_metrics(trainer.callback_metrics)
    if cfg.get("test"):
        best = trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback else ""
        trainer.test(model, datamodule=datamodule, ckpt_path=best or None, weights_only=True)
        metrics |= scalar_metrics(trainer.callback_metrics)
    return metrics


@hydra_main(config_path="../../configs", config_name="train")
def main(cfg: DictConfig) -> float | None:
    """Command-line entry point; returns the metric a hyperparameter search optimises
    (run_task adds the logging set-up, resume=auto and the summary)."""
    from mlcore.training import run_task

    return run_task(train, cfg)


if __name__ == "__main__":
    main()
