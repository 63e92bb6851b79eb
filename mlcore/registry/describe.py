"""Use a registered model: load it by alias to predict, or describe a version's lineage."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from mlcore import mlflow_store
from mlcore.registry import store
from mlcore.registry.settings import model_uri

if TYPE_CHECKING:
    from mlflow.pyfunc import PyFuncModel

# Run tags shown by `describe`, in this order (see mlcore.tracking.lineage).
LINEAGE_PREFIXES = ("mlflow.source.", "mlflow.parentRunId", "mlcore.")


def load(name: str, alias: str = store.CHAMPION, *, tracking_uri: str | None = None) -> PyFuncModel:
    """The pyfunc model behind `name@alias` (or a version number); an unknown model or alias
    fails before anything is downloaded."""
    import mlflow.pyfunc

    action = f"load model {name!r}@{alias}"
    return _load_version(name, alias, tracking_uri, action, mlflow.pyfunc.load_model)


def load_pytorch(uri: str, *, tracking_uri: str | None = None) -> Any:
    """The torch module (the LightningModule itself) behind `models:/<name>@<alias>`,
    `models:/<name>/<version>` or an alias/version of the project's model (`candidate`): what
    evaluation needs to run the model's own `test_step`."""
    import mlflow.pytorch

    uri = model_uri(uri)
    name, ref = store.parse_model_uri(uri)
    return _load_version(name, ref, tracking_uri, f"load {uri}", mlflow.pytorch.load_model)


def _load_version(
    name: str, ref: str | int, tracking_uri: str | None, action: str, loader: Callable[[str], Any]
) -> Any:
    """Find the version (unknown names and aliases raise first, listing what exists) and load
    it with `loader`, server errors translated to registry errors naming `action`."""
    client = mlflow_store.client(tracking_uri)
    with mlflow_store.translated(action, tracking_uri, name):
        found = store.version(client, name, ref)
        # The version's own storage location: loading it needs no global tracking or registry URI.
        location = client.get_model_version_download_uri(name, found.version)
        return loader(location)


def describe(
    name: str, ref: str | int = store.CHAMPION, *, tracking_uri: str | None = None
) -> dict[str, Any]:
    """A version's lineage: aliases, run, metrics, data, every lineage tag, gate decisions."""
    client = mlflow_store.client(tracking_uri)
    with mlflow_store.translated(f"describe model {name!r}", tracking_uri, name):
        return _describe(client, name, ref)


def _describe(client: Any, name: str, ref: str | int) -> dict[str, Any]:
    model = store.registered_model(client, name)
    found = store.version(client, name, ref)
    aliases = sorted(a for a, v in store.aliases_of(model).items() if v == str(found.version))
    run = client.get_run(found.run_id) if found.run_id else None
    described: dict[str, Any] = {
        "name": name,
        "version": str(found.version),
        "aliases": aliases,
        "source": found.source,
        "run_id": found.run_id,
        "created": found.creation_timestamp,
        "version_tags": dict(sorted((found.tags or {}).items())),
        "champion_history": store.history(model),
    }
    if run is not None:
        described["experiment_id"] = run.info.experiment_id
        described["status"] = run.info.status
        described["metrics"] = dict(sorted(run.data.metrics.items()))
        described["lineage"] = {
            key: value
            for key, value in sorted(run.data.tags.items())
            if key.startswith(LINEAGE_PREFIXES)
        }
        described["datasets"] = [
            {
                "name": entry.dataset.name,
                "digest": entry.dataset.digest,
                "context": next(
                    (t.value for t in entry.tags if t.key == "mlflow.data.context"), ""
                ),
            }
            for entry in (getattr(run.inputs, "dataset_inputs", None) or [])
        ]
    return described
