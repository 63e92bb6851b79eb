"""Reading the MLflow Model Registry with errors that say what is missing and what exists.

MLflow answers a wrong name with a generic RESOURCE_DOES_NOT_EXIST; these lookups turn it into
ModelNotFoundError (listing the models there are), AliasNotFoundError (listing the aliases) or
VersionNotFoundError. Every function takes the tracking URI explicitly: the registry lives in the
tracking store (SQLite by default), and nothing here depends on global MLflow state.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from mlcore.registry.errors import (
    AliasNotFoundError,
    ModelNotFoundError,
    NotAuthenticatedError,
    PermissionDeniedError,
    RegistryError,
    ServerUnavailableError,
    VersionNotFoundError,
)

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities.model_registry import ModelVersion, RegisteredModel

CANDIDATE = "candidate"
CHAMPION = "champion"
# Registered-model tag: the champion versions in promotion order, the current one last.
HISTORY_TAG = "mlcore.champion.history"
HISTORY_LIMIT = 100
# An experiment of this name exists while a promotion or rollback of <name> runs (lock.py).
LOCK_SUFFIX = ".promotion-lock"
# Model-version tags.
EVAL_DIGEST = "mlcore.eval.digest"
EVAL_DATASET = "mlcore.eval.dataset"
PROMOTED_AT = "mlcore.promoted_at"
# Run tags of an evaluation run of a registered version (`evaluate model_uri=models:/...`): which
# version it tested, so the gate can compare evaluations on the same, current test split.
EVALUATED_MODEL = "mlcore.evaluated.model"
EVALUATED_VERSION = "mlcore.evaluated.version"
ROLLED_BACK_AT = "mlcore.rolled_back_at"
GATE_DECISION = "mlcore.gate.decision"
# The version's ONNX copy (mlcore.tracking.onnx), what serving runs with onnxruntime.
ONNX_URI = "mlcore.onnx.uri"
ONNX_MAX_DIFF = "mlcore.onnx.max_abs_diff"


def connect(tracking_uri: str | None = None) -> MlflowClient:
    """A client on the tracking store, whose registry is the same store (on a server: with
    MLflow's retries bounded, see mlcore.tracking.server)."""
    from mlflow import MlflowClient

    from mlcore.tracking.server import bounded_retries

    bounded_retries()
    return MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)


@contextmanager
def translated(action: str, uri: str | None, name: str) -> Iterator[None]:
    """Turn the server's refusals and outages during `action` into RegistryErrors that say so.

    403 -> PermissionDeniedError, 401 -> NotAuthenticatedError, no answer after MLflow's
    retries -> ServerUnavailableError. Anything else passes through unchanged.
    """
    from mlflow.exceptions import MlflowException
    from requests.exceptions import HTTPError

    from mlcore.tracking.server import is_unreachable, unreachable_message

    try:
        yield
    except RegistryError:
        raise
    except (MlflowException, HTTPError) as error:
        # Registry calls raise MlflowException; artifact transfers (a model card, a download),
        # requests' HTTPError.
        response = getattr(error, "response", None)
        status = getattr(response, "status_code", None)
        code = getattr(error, "error_code", "") or {
            403: "PERMISSION_DENIED",
            401: "UNAUTHENTICATED",
        }.get(status, "")
        where = uri or os.environ.get("MLFLOW_TRACKING_URI") or "the tracking store"
        user = os.environ.get("MLFLOW_TRACKING_USERNAME")
        who = f"user {user!r}" if user else "this client (no MLFLOW_TRACKING_USERNAME)"
        if code == "PERMISSION_DENIED":
            raise PermissionDeniedError(
                f"{who} may not {action} on {where}: the server refused (403 permission "
                f"denied). Read permission lets a user load and describe model {name!r}, not "
                "register or promote it: ask an MLflow admin for EDIT permission on it (and on "
                "the experiment of the run, to register)"
            ) from None
        if code == "UNAUTHENTICATED":
            raise NotAuthenticatedError(
                f"{where} refused the credentials of {who} (401) when trying to {action}: "
                "set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD to your MLflow user"
            ) from None
        if is_unreachable(error):
            raise ServerUnavailableError(
                f"could not {action}: {unreachable_message(where, error)}"
            ) from None
        raise


def registered_model(client: MlflowClient, name: str) -> RegisteredModel:
    from mlflow.exceptions import MlflowException

    try:
        return client.get_registered_model(name)
    except MlflowException as error:
        if not _not_found(error):
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
            if not _not_found(error):
                raise
        latest = max((int(v.version) for v in client.search_model_versions(f"name='{name}'")),
                     default=0)  # fmt: skip
        raise VersionNotFoundError(
            f"model {name!r} has no version {number} (versions 1 to {latest})"
        ) from None
    try:
        return client.get_model_version_by_alias(name, text)
    except MlflowException as error:
        if not _not_found(error):
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


def _not_found(error: Exception) -> bool:
    return getattr(error, "error_code", "") in ("RESOURCE_DOES_NOT_EXIST", "NOT_FOUND") or (
        "not found" in str(error).lower() or "does not exist" in str(error).lower()
    )
