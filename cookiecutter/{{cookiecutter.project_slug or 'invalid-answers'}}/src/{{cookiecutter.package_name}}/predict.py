{% set _copier_answers = {'_commit': 'v' ~ cookiecutter._template_version} %}{% set _copier_conf = {'answers_file': '.copier-answers.yml', 'vcs_ref_hash': none} %}{% set project_name = cookiecutter.project_name %}{% set package_name = cookiecutter.package_name %}{% set project_slug = cookiecutter.project_slug %}{% set description = cookiecutter.description %}{% set author_name = cookiecutter.author_name %}{% set author_email = cookiecutter.author_email %}{% set python_version = cookiecutter.python_version %}{% set license = cookiecutter.license %}{% set mlcore_source = cookiecutter.mlcore_source %}{% set mlcore_git_url = cookiecutter.mlcore_git_url %}{% set mlcore_path = cookiecutter.mlcore_path %}{% set mlcore_index_url = cookiecutter.mlcore_index_url %}{% set use_gpu = cookiecutter.use_gpu | to_bool %}{% set deploy_target = cookiecutter.deploy_target %}{% set mlcore_ref %}{%- set commit = _copier_answers._commit | default('') -%} {{ commit if commit | regex_search('^v[0-9][^-]*$') else (_copier_conf.vcs_ref_hash or 'main') }}{% endset %}{% set mlcore_version %}{{ mlcore_ref[1:] if mlcore_ref | regex_search('^v[0-9]') else '' }}{% endset %}{% set mlcore_requirement %}{%- if mlcore_source == 'path' -%} mlcore[train] @ file://{{ mlcore_path }} {%- elif mlcore_source == 'index' -%} mlcore[train]{{ '==' ~ mlcore_version if mlcore_version }} {%- else -%} mlcore[train] @ git+{{ mlcore_git_url }}@{{ mlcore_ref }} {%- endif -%}{% endset %}"""Batch prediction: `python -m {{ package_name }}.predict input=<dataset or path> output=<path>`.

The registered champion (`model_uri` in configs/predict.yaml) predicts every row of the input,
chunk by chunk, into the output: datasets of configs/catalog.yaml by name, or paths and URIs,
in Parquet, CSV or JSON lines. Each row gets its predicted class and that class's probability.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np
from mlcore.entrypoint import hydra_main
from omegaconf import DictConfig

if TYPE_CHECKING:
    from mlcore.serve.batch import BatchResult

log = logging.getLogger(__name__)


def to_columns(logits: np.ndarray) -> dict[str, np.ndarray]:
    """The model's logits as output columns: the predicted class and its probability."""
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    probabilities = shifted / shifted.sum(axis=1, keepdims=True)
    label = probabilities.argmax(axis=1)
    return {"label": label, "probability": probabilities[np.arange(len(label)), label]}


def predict(cfg: DictConfig) -> BatchResult:
    """Load the registered model once and predict the input into the output."""
    from mlcore.logging import setup_logging
    from mlcore.serve import load_model, predict_file

    setup_logging()
    model = load_model(cfg.model_uri, runtime=cfg.runtime)
    result = predict_file(
        model,
        cfg.input,
        cfg.output,
        chunk_rows=cfg.chunk_rows,
        exclude=list(cfg.exclude),
        keep=list(cfg.keep),
        to_columns=to_columns,
    )
    log.info(
        "%s version %s (%s runtime) predicted %d rows into %s in %.1f s",
        model.name,
        model.version,
        model.runtime,
        result.rows,
        result.output,
        result.seconds,
    )
    return result


@hydra_main(config_path="../../configs", config_name="predict")
def main(cfg: DictConfig) -> None:
    """Command-line entry point."""
    predict(cfg)


if __name__ == "__main__":
    main()
