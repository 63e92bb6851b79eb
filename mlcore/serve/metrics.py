"""Prometheus metrics of a server: requests, latency, errors, rows, the model served.

A plain ASGI middleware (Starlette's BaseHTTPMiddleware adds a task per request); one
CollectorRegistry per app, so apps in one process never share counters.
"""

from __future__ import annotations

import time
from typing import Any

# Paths reported by name; anything else is counted as "other" (no unbounded label values).
PATHS = frozenset({"/", "/predict", "/health", "/ready", "/metrics", "/docs", "/openapi.json"})
# Request latencies to expect from a CPU model answering in microseconds to milliseconds.
BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class Metrics:
    """The server's metrics, in a registry of its own."""

    def __init__(self, model: Any) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "mlcore_serve_requests",
            "HTTP requests answered",
            ("method", "path", "status"),
            registry=self.registry,
        )
        self.latency = Histogram(
            "mlcore_serve_request_duration_seconds",
            "Time to answer a request",
            ("path",),
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.errors = Counter(
            "mlcore_serve_errors",
            "Requests answered with an error: client (4xx) or server (5xx)",
            ("path", "kind"),
            registry=self.registry,
        )
        self.rows = Counter("mlcore_serve_predicted_rows", "Rows predicted", registry=self.registry)
        self.batch_rows = Histogram(
            "mlcore_serve_model_batch_rows",
            "Rows per call of the model",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 1024),
            registry=self.registry,
        )
        info = Gauge(
            "mlcore_serve_model_info",
            "The model served (value 1)",
            ("name", "version", "runtime"),
            registry=self.registry,
        )
        info.labels(model.name, model.version or "", model.runtime).set(1)

    def observe(self, method: str, path: str, status: int, seconds: float) -> None:
        path = path if path in PATHS else "other"
        self.requests.labels(method, path, str(status)).inc()
        self.latency.labels(path).observe(seconds)
        if status >= 400:
            self.errors.labels(path, "client" if status < 500 else "server").inc()

    def exposition(self) -> tuple[bytes, str]:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class MetricsMiddleware:
    """Times every HTTP request and counts it by path and status."""

    def __init__(self, app: Any, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client gets if the app raises before answering

        async def send_status(message: dict) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            self.metrics.observe(
                scope["method"], scope["path"], status, time.perf_counter() - started
            )
