{% set _copier_answers = {'_commit': 'v' ~ cookiecutter._template_version} %}{% set _copier_conf = {'answers_file': '.copier-answers.yml', 'vcs_ref_hash': none} %}{% set project_name = cookiecutter.project_name %}{% set package_name = cookiecutter.package_name %}{% set project_slug = cookiecutter.project_slug %}{% set description = cookiecutter.description %}{% set author_name = cookiecutter.author_name %}{% set author_email = cookiecutter.author_email %}{% set python_version = cookiecutter.python_version %}{% set license = cookiecutter.license %}{% set mlcore_source = cookiecutter.mlcore_source %}{% set mlcore_git_url = cookiecutter.mlcore_git_url %}{% set mlcore_path = cookiecutter.mlcore_path %}{% set mlcore_index_url = cookiecutter.mlcore_index_url %}{% set use_gpu = cookiecutter.use_gpu | to_bool %}{% set deploy_target = cookiecutter.deploy_target %}{% set mlcore_ref %}{%- set commit = _copier_answers._commit | default('') -%} {{ commit if commit | regex_search('^v[0-9][^-]*$') else (_copier_conf.vcs_ref_hash or 'main') }}{% endset %}{% set mlcore_version %}{{ mlcore_ref[1:] if mlcore_ref | regex_search('^v[0-9]') else '' }}{% endset %}{% set mlcore_requirement %}{%- if mlcore_source == 'path' -%} mlcore[train] @ file://{{ mlcore_path }} {%- elif mlcore_source == 'index' -%} mlcore[train]{{ '==' ~ mlcore_version if mlcore_version }} {%- else -%} mlcore[train] @ git+{{ mlcore_git_url }}@{{ mlcore_ref }} {%- endif -%}{% endset %}"""Train the model: `python -m {{ package_name }}.train [key=value ...]`.

Every config key can be overridden on the command line (`model.dropout=0.2 trainer=gpu`);
`ckpt_path=.../last.ckpt` starts from a checkpoint, `resume=auto` continues this run directory's
interrupted run; `--cfg job` prints the config. With MLflow (the default logger) the run records
its lineage; with `registry.register=true` (`make train`) the tested model is registered as
`candidate` (configs/registry/), and `make promote` makes it `champion` through the gate.
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
    """Fit the model, test its best checkpoint, log and register it, and return the metrics."""
    # Heavy imports live here so that `--help` and `--cfg job` answer instantly.
    import lightning as L
    from mlcore.launch import trainer_settings
    from mlcore.logging import setup_logging
    from mlcore.resume import RunRecord, output_dir, resume
    from mlcore.tracking import open_run, report
    from mlcore.training import instantiate_callbacks, instantiate_loggers, scalar_metrics

    setup_logging()  # after importing Lightning, so its messages share our one console handler
    # resume=auto: the interrupted run's config, newest checkpoint and MLflow run, if any.
    start = resume(cfg)
    cfg = start.cfg
    if cfg.get("seed") is not None:
        L.seed_everything(cfg.seed, workers=True)

    datamodule: L.LightningDataModule = hydra.utils.instantiate(cfg.data)
    model: L.LightningModule = hydra.utils.instantiate(cfg.model)
    loggers = instantiate_loggers(cfg.get("logger"))
    callbacks = instantiate_callbacks(
        cfg.get("callbacks"), has_logger=bool(loggers), trainer=cfg.trainer
    )
    # Accelerator, devices, nodes, strategy and precision for this machine and launch.
    resources = trainer_settings(cfg.trainer, model)
    trainer: L.Trainer = hydra.utils.instantiate(
        cfg.trainer, **resources, callbacks=callbacks, logger=loggers or False
    )
    # The MLflow run with its lineage (code, template, packages, lock, host, world size) and the
    # config; on rank zero only, as checkpoints and the registered model.
    record = RunRecord(output_dir(cfg))  # what resume=auto reads if this run is interrupted
    with open_run(cfg, loggers, trainer) as run:
        record.started(cfg, run, start.attempt)
        log.info("Training %s on %s", type(model).__name__, type(datamodule).__name__)
        trainer.fit(model, datamodule=datamodule, ckpt_path=start.ckpt_path)
        metrics = scalar_metrics(trainer.callback_metrics)

        if cfg.get("test"):
            checkpoint = trainer.checkpoint_callback
            best = checkpoint.best_model_path if checkpoint else ""
            trainer.test(model, datamodule=datamodule, ckpt_path=best or None, weights_only=True)
            metrics |= scalar_metrics(trainer.callback_metrics)

        # The tested model, servable, with data digests and plots; registered as `candidate`
        # with registry.register=true (make train).
        run.log_model(model, datamodule, metrics)
    record.finished()
    report(trainer, metrics)
    return metrics


@hydra_main(config_path="../../configs", config_name="train")
def main(cfg: DictConfig) -> float | None:
    """Command-line entry point; returns the metric a hyperparameter search optimises."""
    from mlcore.metrics import lookup

    metrics = train(cfg)
    return lookup(metrics, cfg.get("optimized_metric", ""), "optimized_metric")


if __name__ == "__main__":
    main()
