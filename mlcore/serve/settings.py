"""What a server is told: which model, on which runtime, and the limits it enforces."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_HOST = "127.0.0.1"  # loopback: exposing a model is a decision, not a default
DEFAULT_PORT = 8000


@dataclass(frozen=True)
class ServeSettings:
    """Server settings; every one is a `mlcore serve` option of the same name."""

    model: str  # an alias or version of the project's model, a models:/ URI or a model folder
    tracking_uri: str | None = None  # the registry's store (MLFLOW_TRACKING_URI when unset)
    runtime: str = "auto"  # onnx (onnxruntime) where the version has its ONNX copy, else torch
    threads: int = 1  # per model call: requests run side by side on the event loop instead
    max_body_bytes: int = 1 << 20  # larger bodies get 413 before they are read
    max_rows: int = 1024  # rows per request; more get 422
    # Micro-batching: requests waiting on the same turn of the event loop share one model call
    # of up to max_batch rows (1: off).
    max_batch: int = 64
    max_wait_ms: float = 0.0  # how long a micro-batch waits for more requests (0: no waiting)
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    # A folder where served inputs and predictions are appended for `mlcore monitor` (None: off).
    request_log: str | None = None

    def __post_init__(self) -> None:
        for name in ("threads", "max_body_bytes", "max_rows", "max_batch"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.max_wait_ms < 0:
            raise ValueError(f"max_wait_ms must be 0 or more, got {self.max_wait_ms}")
