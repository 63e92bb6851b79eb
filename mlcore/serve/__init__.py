"""Serving a registered model: online over HTTP, and in batch over files.

    model = load_model("models:/digits@champion", tracking_uri="sqlite:///mlflow.db")
    app = create_app(model)                     # FastAPI: /predict /health /ready /metrics /
    predict_file(model, "digits", "out.parquet")  # chunked: memory stays flat

The version served is fixed at start-up. Heavy imports happen only when a function runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlcore.serve.settings import ServeSettings

if TYPE_CHECKING:
    from mlcore.serve.app import create_app
    from mlcore.serve.batch import predict_file
    from mlcore.serve.model import ModelLoadError, ServedModel, load_model

__all__ = [
    "ModelLoadError",
    "ServeSettings",
    "ServedModel",
    "create_app",
    "load_model",
    "predict_file",
]

_LAZY = {
    "create_app": "mlcore.serve.app",
    "predict_file": "mlcore.serve.batch",
    "ModelLoadError": "mlcore.serve.model",
    "ServedModel": "mlcore.serve.model",
    "load_model": "mlcore.serve.model",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'mlcore.serve' has no attribute {name!r}")
