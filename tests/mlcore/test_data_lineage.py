"""Lineage: a dataset read for a run is an MLflow dataset input of it, digest = our sha256."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from mlcore import data
from mlcore.data.lineage import DIGEST_LENGTH

FRAME = pd.DataFrame({"x": [1, 2, 3], "y": [0, 1, 0]})


@pytest.fixture
def catalog(tmp_path: Path) -> data.Catalog:
    raw = FRAME.to_csv(index=False, lineterminator="\n").encode()
    (tmp_path / "table.csv").write_bytes(raw)
    return data.Catalog.from_dict(
        {"datasets": {"table": {"uri": "table.csv", "description": "a small table"}}},
        root=tmp_path,
    )


@pytest.fixture
def client(mlflow_tracking_uri: str, monkeypatch: pytest.MonkeyPatch) -> MlflowClient:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_tracking_uri)
    mlflow.set_tracking_uri(mlflow_tracking_uri)
    return MlflowClient(mlflow_tracking_uri)


def test_loading_inside_an_active_run_records_the_dataset(
    catalog: data.Catalog, client: MlflowClient
) -> None:
    digest = data.fingerprint("table", catalog=catalog)
    with mlflow.start_run() as run:
        data.load("table", catalog=catalog)

    [recorded] = data.dataset_inputs(run.info.run_id, client=client)
    assert recorded == {
        "name": "table",
        "digest": digest[:DIGEST_LENGTH],
        "sha256": digest,
        "source_type": "local",
        "source": catalog.get("table").uri,
        "context": "training",
    }
    # What MLflow itself shows for the run:
    [dataset_input] = client.get_run(run.info.run_id).inputs.dataset_inputs
    assert dataset_input.dataset.digest == digest[:DIGEST_LENGTH]


def test_loading_outside_a_run_or_untracked_records_nothing(
    catalog: data.Catalog, client: MlflowClient
) -> None:
    data.load("table", catalog=catalog)  # no run: nothing to record into
    with mlflow.start_run() as run:
        data.load("table", catalog=catalog, track=False)
    assert data.dataset_inputs(run.info.run_id, client=client) == []


def test_log_input_records_into_a_given_run(catalog: data.Catalog, client: MlflowClient) -> None:
    """As a Lightning MLFlowLogger's run, which is never the active one."""
    experiment = client.create_experiment("lineage-given-run")
    run = client.create_run(experiment)
    digest = data.log_input(
        run.info.run_id, "table", catalog=catalog, context="testing", client=client
    )

    [recorded] = data.dataset_inputs(run.info.run_id, client=client)
    assert (recorded["name"], recorded["sha256"], recorded["context"]) == (
        "table",
        digest,
        "testing",
    )


def test_log_input_refuses_bytes_that_miss_the_checksum(
    catalog: data.Catalog, client: MlflowClient, tmp_path: Path
) -> None:
    pinned = data.Catalog.from_dict(
        {"datasets": {"table": {"uri": "table.csv", "checksum": "2" * 64}}}, root=tmp_path
    )
    run = client.create_run(client.create_experiment("lineage-refused"))
    with pytest.raises(data.ChecksumMismatchError):
        data.log_input(run.info.run_id, "table", catalog=pinned, client=client)
    assert data.dataset_inputs(run.info.run_id, client=client) == []


def test_log_input_to_trainer_records_into_the_mlflow_logger_run(
    catalog: data.Catalog, mlflow_tracking_uri: str, tmp_path: Path
) -> None:
    from lightning.pytorch import Trainer
    from lightning.pytorch.loggers import CSVLogger, MLFlowLogger

    logger = MLFlowLogger(experiment_name="lineage-trainer", tracking_uri=mlflow_tracking_uri)
    trainer = Trainer(
        logger=[CSVLogger(tmp_path), logger],
        default_root_dir=tmp_path,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    assert data.log_input_to_trainer(trainer, "table", catalog=catalog, stage="test") == [
        logger.run_id
    ]
    [recorded] = data.dataset_inputs(logger.run_id, client=logger.experiment)
    assert (recorded["name"], recorded["context"]) == ("table", "testing")

    no_mlflow = Trainer(logger=False, default_root_dir=tmp_path, enable_progress_bar=False)
    assert data.log_input_to_trainer(no_mlflow, "table", catalog=catalog) == []
    assert data.log_input_to_trainer(None, "table", catalog=catalog) == []


def test_a_source_mlflow_has_no_type_for_is_still_recorded(
    client: MlflowClient, tmp_path: Path
) -> None:
    from mlcore.data.catalog import Dataset
    from mlcore.data.lineage import record

    run = client.create_run(client.create_experiment("lineage-fsspec-source"))
    record(
        run.info.run_id,
        Dataset("blobs", "az://container/blobs.parquet", "parquet"),
        "ab" * 32,
        "training",
        client=client,
    )
    [recorded] = data.dataset_inputs(run.info.run_id, client=client)
    assert (recorded["source_type"], recorded["source"]) == (
        "fsspec",
        "az://container/blobs.parquet",
    )


def test_loading_never_imports_mlflow_when_no_run_can_be_active(run_python, tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_text("a\n1\n")
    code = (
        "import sys; from mlcore import data\n"
        f"c = data.Catalog.from_dict({{'datasets': {{'t': 't.csv'}}}}, root={str(tmp_path)!r})\n"
        "data.load('t', catalog=c)\n"
        "print('mlflow' in sys.modules)\n"
    )
    assert run_python(["-c", code]).stdout.strip() == "False"
