"""The one module that talks to MLflow: where it is, a client on it, retries, errors, tag names.

`MLFLOW_TRACKING_URI` (and `MLFLOW_REGISTRY_URI`) is the only carrier of MLflow's location;
unset, a SQLite file in the project root. MLflow's own retries would wait minutes on a dead
server: `bounded_retries` shortens them where the environment sets none. `translated` turns
refusals and outages into RegistryErrors that say what to do. mlflow is imported lazily.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlflow import MlflowClient

# The local store when MLFLOW_TRACKING_URI is unset, relative to the project root.
DEFAULT_STORE_FILE = "mlflow.db"
DEFAULT_TRACKING_URI = f"sqlite:///{DEFAULT_STORE_FILE}"
TRACKING_URI_ENV = "MLFLOW_TRACKING_URI"
REGISTRY_URI_ENV = "MLFLOW_REGISTRY_URI"
RETRY_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "4",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
}

# Run tags.
MODEL_URI = "mlcore.model.uri"  # where the run logged its model
REGISTERED = "mlcore.registry.version"
EVAL_DIGEST = "mlcore.eval.digest"  # also copied to the version: which test split it was scored on
EVAL_DATASET = "mlcore.eval.dataset"
# An evaluation run of a registered version (`evaluate model_uri=models:/...`): which version it
# tested, so the gate compares evaluations on the same, current test split.
EVALUATED_MODEL = "mlcore.evaluated.model"
EVALUATED_VERSION = "mlcore.evaluated.version"
# The model's ONNX copy (mlcore.tracking.onnx), what serving runs with onnxruntime; copied to the
# version on registration.
ONNX_URI = "mlcore.onnx.uri"
ONNX_MAX_DIFF = "mlcore.onnx.max_abs_diff"
ONNX_ERROR = "mlcore.onnx.error"  # why there is no ONNX copy
# Model-version tags.
PROMOTED_AT = "mlcore.promoted_at"
ROLLED_BACK_AT = "mlcore.rolled_back_at"
GATE_DECISION = "mlcore.gate.decision"
# Registered-model tag: the champion versions in promotion order, the current one last.
HISTORY_TAG = "mlcore.champion.history"
# An experiment of this name exists while a promotion or rollback of <name> runs (its holder tag
# says who holds it).
LOCK_SUFFIX = ".promotion-lock"
LOCK_HOLDER_TAG = "mlcore.lock.holder"
# Dataset-input tags: our sha256 of every byte, and MLflow's own context key.
SHA256_TAG = "mlcore.data.sha256"
CONTEXT_TAG = "mlflow.data.context"


class RegistryError(Exception):
    """Base class of every registry error (mlcore.registry.errors has the rest)."""


class ServerUnavailableError(RegistryError):
    """The MLflow server did not answer, after MLflow's own bounded retries."""


class NotAuthenticatedError(RegistryError):
    """The server asks for credentials that are missing or wrong (HTTP 401)."""


class PermissionDeniedError(RegistryError):
    """The server refused this user the change (HTTP 403): e.g. a read-only user registering or
    promoting a model."""


def default_tracking_uri() -> str:
    """The local SQLite store in the project root (`$PROJECT_ROOT`, else here), absolute."""
    root = Path(os.environ.get("PROJECT_ROOT") or ".")
    return f"sqlite:///{(root / DEFAULT_STORE_FILE).resolve()}"


def tracking_uri() -> str:
    """Where runs go: MLFLOW_TRACKING_URI, else the project's SQLite file (absolute either way)."""
    return absolute_sqlite(os.environ.get(TRACKING_URI_ENV) or default_tracking_uri())


def registry_uri() -> str:
    """Where models are registered: MLFLOW_REGISTRY_URI, else the tracking store."""
    return absolute_sqlite(os.environ.get(REGISTRY_URI_ENV) or tracking_uri())


def absolute_sqlite(uri: str) -> str:
    """`sqlite:///./mlflow.db` as `sqlite:////abs/path/mlflow.db`, usable from any directory."""
    prefix = "sqlite:///"
    if uri.startswith(prefix) and not uri.startswith(prefix + "/"):
        return prefix + str(Path(uri.removeprefix(prefix)).resolve())
    return uri


def client(uri: str | None = None) -> MlflowClient:
    """A client on the tracking store `uri` (default: tracking_uri()) and its registry (the same
    store unless MLFLOW_REGISTRY_URI says otherwise), with MLflow's retries bounded."""
    from mlflow import MlflowClient

    bounded_retries()
    uri = absolute_sqlite(uri) if uri else tracking_uri()
    registry = os.environ.get(REGISTRY_URI_ENV)
    return MlflowClient(
        tracking_uri=uri, registry_uri=absolute_sqlite(registry) if registry else uri
    )


def bounded_retries(environ: dict[str, str] | None = None) -> None:
    """Give MLflow's HTTP retry settings mlcore's bounds where the environment sets none."""
    target = os.environ if environ is None else environ
    for name, value in RETRY_DEFAULTS.items():
        target.setdefault(name, value)


def is_unreachable(error: BaseException) -> bool:
    """True when `error` (or what caused it) is the server not answering, not an answer."""
    import requests

    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(
            current,
            requests.exceptions.ConnectionError
            | requests.exceptions.Timeout
            | requests.exceptions.RetryError
            | ConnectionError
            | TimeoutError,
        ):
            return True
        text = str(current)
        if "Max retries exceeded" in text or "failed with timeout exception" in text:
            return True
        current = current.__cause__ or current.__context__
    return False


def retry_settings() -> str:
    """MLflow's retry settings in force, for messages: `4 retries, 30 s timeout`."""
    from mlflow.environment_variables import (
        MLFLOW_HTTP_REQUEST_MAX_RETRIES,
        MLFLOW_HTTP_REQUEST_TIMEOUT,
    )

    return (
        f"{MLFLOW_HTTP_REQUEST_MAX_RETRIES.get()} retries, "
        f"{MLFLOW_HTTP_REQUEST_TIMEOUT.get()} s timeout: MLFLOW_HTTP_REQUEST_MAX_RETRIES, "
        "MLFLOW_HTTP_REQUEST_TIMEOUT"
    )


def unreachable_message(uri: str | None, error: BaseException) -> str:
    reason = str(error).split(" (Caused by", 1)[0]
    return (
        f"the MLflow tracking server {uri or '(MLFLOW_TRACKING_URI)'} did not answer after "
        f"MLflow's retries ({retry_settings()}): {reason}. Is it running, and is "
        "MLFLOW_TRACKING_URI right?"
    )


def not_found(error: Exception) -> bool:
    """True when MLflow's error says the thing asked for does not exist."""
    return getattr(error, "error_code", "") in ("RESOURCE_DOES_NOT_EXIST", "NOT_FOUND") or (
        "not found" in str(error).lower() or "does not exist" in str(error).lower()
    )


@contextmanager
def translated(action: str, uri: str | None, name: str) -> Iterator[None]:
    """Turn the server's refusals (403, 401) and outages during `action` into RegistryErrors
    that say what to do; anything else passes through."""
    from mlflow.exceptions import MlflowException
    from requests.exceptions import HTTPError

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
        }.get(status or 0, "")
        where = uri or os.environ.get(TRACKING_URI_ENV) or "the tracking store"
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


def main(argv: Sequence[str] | None = None, prog: str = "mlcore tracking-uri") -> int:
    """`mlcore tracking-uri`: print where runs go, e.g. for `mlflow ui --backend-store-uri`."""
    import argparse

    argparse.ArgumentParser(prog=prog, description=main.__doc__).parse_args(argv)
    print(tracking_uri())
    return 0
