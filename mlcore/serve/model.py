"""The model a server or a batch job runs: loaded once, by registry URI or from a folder.

A registry URI is resolved once, so the version served is fixed for the process; a folder with an
`MLmodel` file loads without importing MLflow. The runtime is `onnx` (the default where the
version has its checked ONNX copy) or `torch`. Only tensor signatures are served.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlcore.mlflow_store import ONNX_URI
from mlcore.registry.settings import model_uri
from mlcore.registry.store import parse_model_uri

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger("mlcore.serve")

RUNTIMES = ("auto", "onnx", "torch")


class ModelLoadError(ValueError):
    """The model cannot be served as asked; the message says why and what to do."""


@dataclass
class ServedModel:
    """A loaded model and what the server says about it."""

    name: str
    version: str | None
    uri: str
    runtime: str
    n_features: int
    dtype: str  # numpy dtype of the input, e.g. "float32"
    predict: Callable[[np.ndarray], np.ndarray]
    lineage: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "uri": self.uri,
            "runtime": self.runtime,
            "input": {"shape": [-1, self.n_features], "dtype": self.dtype},
            "lineage": self.lineage,
        }


def load_model(
    uri: str, *, tracking_uri: str | None = None, runtime: str = "auto", threads: int = 1
) -> ServedModel:
    """Load a `models:/` URI, an alias or version of the project's model, or a local MLflow
    model folder. Unknown models raise mlcore.registry errors; what cannot be served,
    ModelLoadError."""
    if runtime not in RUNTIMES:
        raise ModelLoadError(f"runtime {runtime!r} is not one of {', '.join(RUNTIMES)}")
    uri = model_uri(uri)
    if uri.startswith("models:/"):
        return _from_registry(uri, tracking_uri, runtime, threads)
    folder = Path(uri.removeprefix("file://"))
    if not (folder / "MLmodel").is_file():
        raise ModelLoadError(
            f"{uri!r} is neither models:/<name>@<alias> nor a folder with an MLmodel file"
        )
    meta = _read_mlmodel(folder)
    if runtime == "auto":
        runtime = "onnx" if "onnx" in meta.get("flavors", {}) else "torch"
    lineage = {"source": str(folder.resolve()), "run_id": meta.get("run_id")}
    return _load(folder.name, None, str(folder), folder, runtime, threads, lineage)


def _from_registry(uri: str, tracking_uri: str | None, runtime: str, threads: int) -> ServedModel:
    from mlcore import mlflow_store
    from mlcore.registry import describe, store

    name, ref = parse_model_uri(uri)
    client = mlflow_store.client(tracking_uri)
    version = store.version(client, name, ref)  # unknown name or alias: an error listing them
    onnx_uri = (version.tags or {}).get(ONNX_URI)
    if runtime == "auto":
        runtime = "onnx" if onnx_uri else "torch"
    if runtime == "onnx":
        if not onnx_uri:
            raise ModelLoadError(
                f"{name} version {version.version} has no ONNX copy (no tag {ONNX_URI}): "
                "serve it with runtime torch, or retrain with tracking.onnx=true"
            )
        # A logged model (`models:/m-<id>`): where it keeps its files.
        location = client.get_logged_model(onnx_uri.removeprefix("models:/")).artifact_location
    else:
        location = client.get_model_version_download_uri(name, version.version)
    described = describe(name, version.version, tracking_uri=tracking_uri)
    lineage = {
        key: described.get(key)
        for key in ("aliases", "run_id", "source", "metrics", "datasets", "lineage")
    }
    folder = _local_folder(location)
    return _load(name, str(version.version), uri, folder, runtime, threads, lineage)


def _load(
    name: str,
    version: str | None,
    uri: str,
    folder: Path,
    runtime: str,
    threads: int,
    lineage: dict[str, Any],
) -> ServedModel:
    meta = _read_mlmodel(folder)
    n_features, dtype = _tensor_input(meta, folder)
    if runtime == "onnx":
        if "onnx" not in meta.get("flavors", {}):
            raise ModelLoadError(f"{folder} is not an ONNX model: use runtime torch")
        predict = _onnx_predictor(folder / meta["flavors"]["onnx"]["data"], threads)
    else:
        predict = _torch_predictor(folder, threads)
    log.info("Loaded %s version %s (%s runtime) from %s", name, version, runtime, folder)
    return ServedModel(name, version, uri, runtime, n_features, dtype, predict, lineage)


def _onnx_predictor(path: Path, threads: int) -> Callable[[np.ndarray], np.ndarray]:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    input_name = session.get_inputs()[0].name
    run = session.run

    def predict(features: np.ndarray) -> np.ndarray:
        return run(None, {input_name: features})[0]

    return predict


def _torch_predictor(folder: Path, threads: int) -> Callable[[np.ndarray], np.ndarray]:
    import mlflow.pytorch
    import torch

    torch.set_num_threads(threads)
    module = mlflow.pytorch.load_model(str(folder), map_location="cpu")
    module.eval()

    def predict(features: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return module(torch.from_numpy(features)).numpy()

    return predict


def _read_mlmodel(folder: Path) -> dict[str, Any]:
    import yaml

    return yaml.safe_load((folder / "MLmodel").read_text()) or {}


def _tensor_input(meta: dict[str, Any], folder: Path) -> tuple[int, str]:
    """(features per row, dtype) of a one-tensor signature `[-1, n]`."""
    raw = (meta.get("signature") or {}).get("inputs")
    specs = json.loads(raw) if raw else []
    if len(specs) != 1 or specs[0].get("type") != "tensor":
        raise ModelLoadError(
            f"{folder}: mlcore.serve serves models whose signature is one tensor (as "
            f"mlcore.tracking logs them); this one's inputs are {raw or 'not recorded'}"
        )
    spec = specs[0]["tensor-spec"]
    shape = spec.get("shape") or []
    if len(shape) != 2 or shape[1] < 1:
        raise ModelLoadError(f"{folder}: input shape {shape} is not [-1, features]")
    return int(shape[1]), str(spec["dtype"])


def _local_folder(location: str) -> Path:
    """A local folder with the model's files: the location itself, or a downloaded copy."""
    from urllib.parse import unquote, urlparse

    parsed = urlparse(location)
    if parsed.scheme in ("", "file"):
        return Path(unquote(parsed.path))
    import mlflow.artifacts

    return Path(mlflow.artifacts.download_artifacts(artifact_uri=location))
