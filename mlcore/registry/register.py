"""Register a run's logged model as a new version and point the `candidate` alias at it."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from mlcore import mlflow_store
from mlcore.registry import store
from mlcore.registry.card import model_card
from mlcore.registry.errors import RunModelNotFoundError

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities.model_registry import ModelVersion

log = logging.getLogger("mlcore.registry")

RUN_MODEL_URI = mlflow_store.MODEL_URI  # run tag set by mlcore.tracking when it logs the model


def register(
    run_id: str,
    name: str,
    *,
    alias: str = store.CANDIDATE,
    tracking_uri: str | None = None,
    intended_use: str = "",
    model_uri: str | None = None,
) -> ModelVersion:
    """Register the model run `run_id` logged (or `model_uri`) as a new version of `name`, with
    `alias`, the run's evaluation digest and a model card."""
    client = mlflow_store.client(tracking_uri)
    with mlflow_store.translated(f"register a version of model {name!r}", tracking_uri, name):
        return _register(client, run_id, name, alias, intended_use, model_uri)


def _register(
    client: MlflowClient,
    run_id: str,
    name: str,
    alias: str,
    intended_use: str,
    model_uri: str | None,
) -> ModelVersion:
    from mlflow.exceptions import MlflowException

    try:
        run = client.get_run(run_id)
    except MlflowException as error:
        if getattr(error, "error_code", "") not in ("RESOURCE_DOES_NOT_EXIST", "NOT_FOUND"):
            raise
        raise RunModelNotFoundError(f"no run {run_id!r} in {client.tracking_uri}") from error
    source = model_uri or run.data.tags.get(RUN_MODEL_URI)
    if not source:
        raise RunModelNotFoundError(
            f"run {run_id} logged no model (no tag {RUN_MODEL_URI}): train with "
            "tracking.log_model=true and logger=mlflow, or pass the model's URI"
        )
    try:
        client.get_registered_model(name)
    except MlflowException as error:
        if getattr(error, "error_code", "") not in ("RESOURCE_DOES_NOT_EXIST", "NOT_FOUND"):
            raise
        try:
            client.create_registered_model(name, description=f"Registered by mlcore from {source}")
        except MlflowException as race:  # another process registered the first version too
            if getattr(race, "error_code", "") != "RESOURCE_ALREADY_EXISTS":
                raise
    copied = [mlflow_store.EVAL_DIGEST, mlflow_store.EVAL_DATASET]
    if source == run.data.tags.get(RUN_MODEL_URI):  # the run's ONNX copy is of this model
        copied += [mlflow_store.ONNX_URI, mlflow_store.ONNX_MAX_DIFF]
    tags = {key: run.data.tags[key] for key in copied if run.data.tags.get(key)}
    model_id = source.removeprefix("models:/") if source.startswith("models:/m-") else None
    created = client.create_model_version(
        name, source=source, run_id=run_id, tags=tags, model_id=model_id
    )
    card = model_card(name, created.version, run, intended_use, source)
    client.update_model_version(name, created.version, description=card)
    client.log_text(run_id, card, f"model_card/v{created.version}.md")
    client.set_tag(run_id, "mlcore.registry.version", f"{name}/{created.version}")
    _advance_alias(client, name, alias, str(created.version))
    log.info("Registered %s version %s as %s", name, created.version, alias)
    return client.get_model_version(name, created.version)


def _advance_alias(client: MlflowClient, name: str, alias: str, number: str) -> None:
    """Point `alias` at version `number` unless it points at a newer one, under the model's
    lock: concurrent alias writes in MLflow can fail or let the older version win."""
    from mlcore.registry.lock import promotion_lock

    with promotion_lock(client, name):
        current = store.alias_version(client, name, alias)
        if current is not None and int(current) > int(number):
            log.info("%s stays on %s v%s, newer than v%s", alias, name, current, number)
            return
        client.set_registered_model_alias(name, alias, number)
