"""Reading the MLflow Model Registry with errors that say what is missing and what exists.

MLflow answers a wrong name with a generic RESOURCE_DOES_NOT_EXIST; these lookups turn it into
ModelNotFoundError (listing the models there are), AliasNotFoundError (listing the aliases) or
VersionNotFoundError. The client, its URIs and error translation are mlcore.mlflow_store's.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from mlcore.mlflow_store import (  # noqa: F401  # tag names and the client, named here since 0.1
    EVAL_DATASET,
    EVAL_DIGEST,
    EVALUATED_MODEL,
    EVALUATED_VERSION,
    GATE_DECISION,
    HISTORY_TAG,
    LOCK_SUFFIX,
    ONNX_MAX_DIFF,
    ONNX_URI,
    PROMOTED_AT,
    ROLLED_BACK_AT,
    not_found,
    translated,
)
from mlcore.mlflow_store import client as connect  # noqa: F401  # its 0.1 name
from mlcore.registry.errors import AliasNotFoundError, ModelNotFoundError, VersionNotFoundError

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities.model_registry import ModelVersion, RegisteredModel

CANDIDATE = "candidate"
CHAMPION = "champion"
HISTORY_LIMIT = 100


def registered_model(client: MlflowClient, name: str) -> RegisteredModel:
    from mlflow.exceptions import MlflowException

    try:
        return client.get_registered_model(name)
    except MlflowException as error:
        if not not_found(error):
            raise
    known = sorted(model.name for model in client.search_registered_models(max_results=50))
    listing = ", ".join(known) if known else "none yet: `make train` registers one"
    raise ModelNotFoundError(
        f"no registered model {name!r} in {client.tracking_uri} (registered models: {listing})"
    ) from None


def version(client: MlflowClient, name: str, ref: str | int) -> ModelVersion:
    """A version by number (`3`, `v3`) or alias (`champion`)."""
    from mlflow.exceptions import MlflowException

    model = registered_model(client, name)
    text = str(ref).strip()
    number = text[1:] if text[:1] in "vV" and text[1:].isdigit() else text
    if number.isdigit():
        try:
            return client.get_model_version(name, number)
        except MlflowException as error:
            if not not_found(error):
                raise
        latest = max((int(v.version) for v in client.search_model_versions(f"name='{name}'")),
                     default=0)  # fmt: skip
        raise VersionNotFoundError(
            f"model {name!r} has no version {number} (versions 1 to {latest})"
        ) from None
    try:
        return client.get_model_version_by_alias(name, text)
    except MlflowException as error:
        if not not_found(error):
            raise
    aliases = ", ".join(f"{alias} -> v{v}" for alias, v in sorted(aliases_of(model).items()))
    raise AliasNotFoundError(
        f"model {name!r} has no alias {text!r} (its aliases: {aliases or 'none'})"
    ) from None


def parse_model_uri(uri: str) -> tuple[str, str]:
    """`models:/<name>@<alias>` or `models:/<name>/<version>` as (name, alias or version)."""
    body = uri.removeprefix("models:/")
    if body == uri or not body:
        raise ValueError(f"{uri!r} is not a registry URI: use models:/<name>@<alias>")
    if "@" in body:
        name, _, ref = body.rpartition("@")
    else:
        name, _, ref = body.rpartition("/")
    if not name or not ref:
        raise ValueError(
            f"{uri!r} names no version: use models:/<name>@<alias> or models:/<name>/<version>"
        )
    return name, ref


def aliases_of(model: RegisteredModel) -> dict[str, str]:
    """alias -> version number, as MLflow returns them on the registered model."""
    found = getattr(model, "aliases", None) or {}
    if isinstance(found, dict):
        return {str(k): str(v) for k, v in found.items()}
    return {str(a.alias): str(a.version) for a in found}


def alias_version(client: MlflowClient, name: str, alias: str) -> str | None:
    """The version number an alias points to, None if it does not exist."""
    return aliases_of(registered_model(client, name)).get(alias)


def history(model: RegisteredModel) -> list[str]:
    """The champion history kept in the registered model's tags (oldest first)."""
    raw = (model.tags or {}).get(HISTORY_TAG)
    try:
        return [str(v) for v in json.loads(raw)] if raw else []
    except (TypeError, ValueError):
        return []


def set_history(client: MlflowClient, name: str, versions: list[str]) -> None:
    client.set_registered_model_tag(name, HISTORY_TAG, json.dumps(versions[-HISTORY_LIMIT:]))
