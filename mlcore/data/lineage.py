"""Lineage: datasets recorded as MLflow dataset inputs of the runs they fed.

The digest is our sha256 of every byte (MLflow's hashes a sample of rows): its first 32 hex
digits as MLflow's digest (it keeps 36 characters), the whole in the tag `mlcore.data.sha256`.
`load()` records into the active fluent run and remembers what it read (`LOADED`) for the
`DatasetLineage` callback, since Lightning's logger does not activate its run; `log_input`
records into any run.
"""

from __future__ import annotations

import sys
import warnings
from typing import Any

from mlcore.data.catalog import CatalogLike, Dataset, as_catalog
from mlcore.data.fingerprint import sha256_file
from mlcore.data.storage import verified_copy
from mlcore.mlflow_store import CONTEXT_TAG, SHA256_TAG

DIGEST_LENGTH = 32
# Lightning stages -> the context MLflow shows for the input.
STAGE_CONTEXTS = {
    "fit": "training",
    "validate": "validation",
    "test": "testing",
    "predict": "inference",
}


def active_run_id() -> str | None:
    """The active fluent MLflow run, if any; never imports mlflow to find out there is none."""
    if "mlflow" not in sys.modules:
        return None
    import mlflow

    run = mlflow.active_run()
    return run.info.run_id if run else None


# Every dataset this process read with `load()`, with its local copy, in order (for the
# DatasetLineage callback).
LOADED: list[tuple[Dataset, str]] = []


def record_if_active(dataset: Dataset, local: str, context: str) -> None:
    """Remember a loaded dataset, and record it into the active run, if there is one."""
    LOADED.append((dataset, str(local)))
    run_id = active_run_id()
    if run_id is not None:
        record(run_id, dataset, sha256_file(local), context)


def log_input(
    run_id: str,
    name: str,
    *,
    catalog: CatalogLike = None,
    context: str = "training",
    client: Any = None,
    tracking_uri: str | None = None,
) -> str:
    """Record catalog dataset `name` (verified first) as an input of run `run_id` through
    `client`, else a client for `tracking_uri`; return its sha256."""
    dataset = as_catalog(catalog).get(name)
    digest = sha256_file(verified_copy(dataset))
    record(run_id, dataset, digest, context, client=client, tracking_uri=tracking_uri)
    return digest


def log_input_to_trainer(
    trainer: Any, name: str, *, catalog: CatalogLike = None, stage: str | None = "fit"
) -> list[str]:
    """Deprecated: record dataset `name` into each MLflow run of a trainer; the run ids. The
    `DatasetLineage` callback does it since 0.2 (with it present, this records nothing more)."""
    warnings.warn(
        "mlcore.data.log_input_to_trainer is deprecated and goes in 0.3: delete the call from "
        "your DataModule's setup; the DatasetLineage callback (configs/callbacks/mlflow.yaml) "
        "records each dataset read with mlcore.data.load",
        DeprecationWarning,
        stacklevel=2,
    )
    callbacks = getattr(trainer, "callbacks", None) or ()
    if any(type(callback).__name__ == "DatasetLineage" for callback in callbacks):
        return []
    loggers = [
        logger
        for logger in getattr(trainer, "loggers", None) or ()
        if type(logger).__name__ == "MLFlowLogger" and getattr(logger, "run_id", None)
    ]
    context = STAGE_CONTEXTS.get(stage or "fit", str(stage))
    for logger in loggers:
        log_input(logger.run_id, name, catalog=catalog, context=context, client=logger.experiment)
    return [logger.run_id for logger in loggers]


def record(
    run_id: str,
    dataset: Dataset,
    sha256: str,
    context: str | None,
    *,
    client: Any = None,
    tracking_uri: str | None = None,
) -> None:
    """Log one dataset input to a run with MlflowClient.log_inputs."""
    from mlflow.data.meta_dataset import MetaDataset
    from mlflow.entities import Dataset as DatasetEntity
    from mlflow.entities import DatasetInput, InputTag

    from mlcore import mlflow_store

    meta = MetaDataset(  # type: ignore[abstract]  # MLflow's concrete class, typed abstract
        source=_source(dataset.uri), name=dataset.name, digest=sha256[:DIGEST_LENGTH]
    )
    tags = [InputTag(key=SHA256_TAG, value=sha256)]
    if context:
        tags.append(InputTag(key=CONTEXT_TAG, value=context))
    client = client or mlflow_store.client(tracking_uri)
    entity = DatasetEntity(**meta.to_dict())  # name, digest, source, source_type
    client.log_inputs(run_id, datasets=[DatasetInput(dataset=entity, tags=tags)])


def dataset_inputs(
    run_id: str, *, client: Any = None, tracking_uri: str | None = None
) -> list[dict[str, Any]]:
    """The datasets recorded as inputs of a run: name, digest, sha256, source, context."""
    import json

    from mlcore import mlflow_store

    client = client or mlflow_store.client(tracking_uri)
    found = []
    for item in client.get_run(run_id).inputs.dataset_inputs:
        tags = {tag.key: tag.value for tag in item.tags}
        source = json.loads(item.dataset.source or "{}")
        found.append(
            {
                "name": item.dataset.name,
                "digest": item.dataset.digest,
                "sha256": tags.get(SHA256_TAG),
                "source_type": item.dataset.source_type,
                "source": source.get("uri") or source.get("url") or item.dataset.source,
                "context": tags.get(CONTEXT_TAG),
            }
        )
    return found


def _source(uri: str) -> Any:
    """MLflow's own source type for the URI (local, s3, gs, http...), else a generic fsspec one."""
    from mlflow.data.dataset_source_registry import resolve_dataset_source
    from mlflow.exceptions import MlflowException

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "can be interpreted in multiple ways" for local paths
        try:
            return resolve_dataset_source(uri)
        except MlflowException:
            from mlcore.data._mlflow_source import FsspecDatasetSource

            return FsspecDatasetSource(uri)
