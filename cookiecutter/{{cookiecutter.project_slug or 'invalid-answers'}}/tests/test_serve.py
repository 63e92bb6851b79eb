{% set _copier_answers = {'_commit': 'v' ~ cookiecutter._template_version} %}{% set _copier_conf = {'answers_file': '.copier-answers.yml', 'vcs_ref_hash': none} %}{% set project_name = cookiecutter.project_name %}{% set package_name = cookiecutter.package_name %}{% set project_slug = cookiecutter.project_slug %}{% set description = cookiecutter.description %}{% set author_name = cookiecutter.author_name %}{% set author_email = cookiecutter.author_email %}{% set python_version = cookiecutter.python_version %}{% set license = cookiecutter.license %}{% set mlcore_source = cookiecutter.mlcore_source %}{% set mlcore_git_url = cookiecutter.mlcore_git_url %}{% set mlcore_path = cookiecutter.mlcore_path %}{% set mlcore_index_url = cookiecutter.mlcore_index_url %}{% set use_gpu = cookiecutter.use_gpu | to_bool %}{% set deploy_target = cookiecutter.deploy_target %}{% set mlcore_ref %}{%- set commit = _copier_answers._commit | default('') -%} {{ commit if commit | regex_search('^v[0-9][^-]*$') else (_copier_conf.vcs_ref_hash or 'main') }}{% endset %}{% set mlcore_version %}{{ mlcore_ref[1:] if mlcore_ref | regex_search('^v[0-9]') else '' }}{% endset %}{% set mlcore_requirement %}{%- if mlcore_source == 'path' -%} mlcore[train] @ file://{{ mlcore_path }} {%- elif mlcore_source == 'index' -%} mlcore[train]{{ '==' ~ mlcore_version if mlcore_version }} {%- else -%} mlcore[train] @ git+{{ mlcore_git_url }}@{{ mlcore_ref }} {%- endif -%}{% endset %}"""Serving the registered model: batch prediction of a file, and the HTTP app.

Inputs are the test split as the data module gives it to the model, written by the tests
themselves: these standard tests read nothing the project's own starters (data catalog, data
module) may not have, so they pass in every repository the template made, of any release.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from fastapi.testclient import TestClient
from mlcore.registry import load_pytorch
from mlcore.serve import create_app, load_model

from {{ package_name }}.data import DigitsDataModule
from {{ package_name }}.predict import predict

from tests.conftest import TrainedRun, compose_config

Split = tuple[np.ndarray, np.ndarray]  # (features, labels)


@pytest.fixture(scope="module")
def candidate(mlflow_run: TrainedRun) -> str:
    """The version the shared run registered (other tests register more candidates later)."""
    from mlflow import MlflowClient

    run = MlflowClient(mlflow_run.tracking_uri).get_run(mlflow_run.run_id)
    return f"models:/{run.data.tags['mlcore.registry.version']}"


@pytest.fixture(scope="module")
def held_out() -> Split:
    """The test split's features and labels, as the data module serves them to the model."""
    datamodule = DigitsDataModule()
    datamodule.prepare_data()
    datamodule.setup()
    features, labels = (tensor.numpy() for tensor in datamodule.test_set.tensors)
    return features, labels


def torch_labels(uri: str, tracking_uri: str, features: np.ndarray) -> np.ndarray:
    """What the registered PyTorch model itself predicts."""
    model = load_pytorch(uri, tracking_uri=tracking_uri).eval()
    with torch.inference_mode():
        return model(torch.from_numpy(features)).argmax(dim=1).numpy()


def test_batch_prediction_of_a_file_equals_the_model(
    mlflow_run: TrainedRun, candidate: str, held_out: Split, tmp_path: Path
) -> None:
    features, labels = held_out
    source, output = tmp_path / "inputs.parquet", tmp_path / "predictions.parquet"
    columns = [f"feature_{index}" for index in range(features.shape[1])]
    pd.DataFrame(features, columns=columns).assign(target=labels).to_parquet(source)
    overrides = [f"input={source}", f"output={output}", f"model_uri={candidate}", "chunk_rows=100"]
    result = predict(compose_config("predict", mlflow_run.root, overrides))
    assert (result.rows, result.chunks) == (len(labels), math.ceil(len(labels) / 100))
    written = pd.read_parquet(output)
    assert list(written.columns) == ["label", "probability"]
    expected = torch_labels(candidate, mlflow_run.tracking_uri, features)
    assert (written["label"].to_numpy() == expected).mean() >= 0.999
    assert (written["label"].to_numpy() == labels).mean() >= 0.8, "features in, classes out"
    assert written["probability"].between(0, 1).all()


def test_the_app_predicts_and_refuses_bad_input(
    mlflow_run: TrainedRun, candidate: str, held_out: Split
) -> None:
    model = load_model(candidate, tracking_uri=mlflow_run.tracking_uri)
    features, _ = held_out
    with TestClient(create_app(model)) as client:
        assert client.get("/ready").status_code == 200
        assert client.get("/").json()["version"] == model.version
        answer = client.post("/predict", json={"inputs": features[:5].tolist()})
        assert answer.status_code == 200
        labels = np.asarray(answer.json()["predictions"]).argmax(axis=1)
        expected = torch_labels(candidate, mlflow_run.tracking_uri, features[:5])
        np.testing.assert_array_equal(labels, expected)
        refused = client.post("/predict", json={"inputs": [[0.0] * 3]})
        assert refused.status_code == 422 and "64 items" in refused.json()["detail"]
