"""The ASGI app: FastAPI routes around one loaded model.

`POST /predict` takes `{"inputs": [[...], ...]}` as MLflow's /invocations does, validated by a
pydantic model built from the signature; client mistakes get 4xx naming the problem (400, 413,
415, 422), only a failing model 5xx. Also `/health`, `/ready`, `/metrics`, `/`. The model runs on
the event loop's thread (faster than a thread-pool hop); concurrent requests merge (batching.py).
"""

# No `from __future__ import annotations`: FastAPI reads the routes' annotations (Request), which
# are imported inside create_app, so they must be evaluated where the routes are defined.
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Annotated, Any

from mlcore.serve.batching import MicroBatcher
from mlcore.serve.metrics import Metrics, MetricsMiddleware
from mlcore.serve.requestlog import RequestLog
from mlcore.serve.settings import ServeSettings

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from fastapi import FastAPI
    from pydantic import BaseModel, ValidationError

    from mlcore.serve.model import ServedModel

SHOWN_ERRORS = 3  # pydantic errors quoted in the one-line message (all are in `errors`)


def request_model(model: "ServedModel", max_rows: int) -> "type[BaseModel]":
    """The request body as the model's signature allows it, as a pydantic model."""
    import numpy as np
    from pydantic import ConfigDict, Field, create_model

    # Finite, and within the input dtype's range (1e39 would become inf as float32).
    largest = float(np.finfo(model.dtype).max) if model.dtype.startswith("float") else None
    number = Annotated[
        float, Field(strict=True, allow_inf_nan=False, ge=-largest if largest else None, le=largest)
    ]
    width = model.n_features
    row = Annotated[list[number], Field(min_length=width, max_length=width)]
    rows = Annotated[
        list[row],
        Field(
            min_length=1,
            max_length=max_rows,
            description=f"1 to {max_rows} rows of {width} finite numbers ({model.dtype})",
        ),
    ]
    return create_model("PredictRequest", __config__=ConfigDict(extra="forbid"), inputs=(rows, ...))


def create_app(model: "ServedModel", settings: ServeSettings | None = None) -> "FastAPI":
    """The app serving `model` under `settings` (limits, batching)."""
    import numpy as np
    import orjson
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse, Response
    from pydantic import ValidationError

    settings = settings or ServeSettings(model=model.uri)
    body_type = request_model(model, settings.max_rows)
    metrics = Metrics(model)
    dtype = np.dtype(model.dtype)
    example = np.zeros((1, model.n_features), dtype=dtype)
    batcher = None
    if settings.max_batch > 1:
        batcher = MicroBatcher(
            model.predict,
            settings.max_batch,
            settings.max_wait_ms / 1000,
            on_call=metrics.batch_rows.observe,
        )
    state = {"ready": False}
    request_log = RequestLog(settings.request_log) if settings.request_log else None

    @asynccontextmanager
    async def lifespan(app: "FastAPI") -> "AsyncIterator[None]":
        model.predict(example)  # the first call allocates; no client should wait for that
        if request_log is not None:
            request_log.start()
        state["ready"] = True
        yield
        state["ready"] = False
        if request_log is not None:
            request_log.close()  # what is queued is written before the process ends

    app = FastAPI(
        title=f"{model.name} (mlcore.serve)",
        version=str(model.version or "local"),
        lifespan=lifespan,
    )
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    expected = (
        f'expected {{"inputs": [[{model.n_features} numbers], ...]}}, 1 to {settings.max_rows} rows'
    )
    body_schema = {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": body_type.model_json_schema()}},
        }
    }

    @app.post("/predict", openapi_extra=body_schema)
    async def predict(request: Request) -> Response:
        """Predict the rows of `inputs`; the answer's `predictions` are in the same order."""
        media = request.headers.get("content-type", "application/json").split(";")[0].strip()
        if media != "application/json":
            return _problem(415, f"Content-Type must be application/json, not {media!r}")
        body = await _read_limited(request, settings.max_body_bytes)
        if body is None:
            return _problem(
                413,
                f"request body over the limit of {settings.max_body_bytes} bytes: "
                "send fewer rows per request",
            )
        try:
            inputs = body_type.model_validate_json(body).inputs  # type: ignore[attr-defined]
        except ValidationError as error:
            return _invalid(error, expected)
        features = np.asarray(inputs, dtype=dtype)
        outputs = await batcher.submit(features) if batcher else model.predict(features)
        if batcher is None:
            metrics.batch_rows.observe(len(features))
        metrics.rows.inc(len(features))
        if request_log is not None:
            request_log.record(features, outputs)
        # orjson writes float32 in its shortest exact form: 10 µs for 32x10, json.dumps 280 µs.
        try:
            payload = orjson.dumps({"predictions": outputs}, option=orjson.OPT_SERIALIZE_NUMPY)
        except orjson.JSONEncodeError:  # a dtype orjson does not write (float16...)
            payload = orjson.dumps({"predictions": outputs.tolist()})
        return Response(payload, media_type="application/json")

    @app.get("/health")
    async def health() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get("/ready")
    async def ready() -> Response:
        """Readiness: the model is loaded and has answered once."""
        if not state["ready"]:
            return _problem(503, "the model is not loaded yet")
        return JSONResponse({"status": "ready", "model": model.name, "version": model.version})

    @app.get("/metrics")
    async def prometheus() -> Response:
        """Prometheus metrics (text exposition format)."""
        content, media_type = metrics.exposition()
        return Response(content, media_type=media_type)

    @app.get("/")
    async def root() -> dict[str, Any]:
        """The model served: name, version, runtime, input, lineage."""
        return model.describe()

    return app


async def _read_limited(request: Any, limit: int) -> bytes | None:
    """The body, or None as soon as it is known to be over `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return None
    if declared is not None:
        body = await request.body()
        return None if len(body) > limit else body
    chunks, size = [], 0
    async for chunk in request.stream():  # chunked transfer: count as it arrives
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _invalid(error: "ValidationError", expected: str) -> Any:
    """400 for bytes that are not JSON, 422 for JSON the schema refuses; the errors named."""
    errors = error.errors(include_url=False, include_context=False, include_input=False)
    if any(e["type"] == "json_invalid" for e in errors):
        return _problem(400, f"malformed JSON: {errors[0]['msg']}", errors)
    shown = "; ".join(
        f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in errors[:SHOWN_ERRORS]
    )
    more = f" (and {len(errors) - SHOWN_ERRORS} more)" if len(errors) > SHOWN_ERRORS else ""
    return _problem(422, f"invalid request: {shown}{more}; {expected}", errors)


def _problem(status: int, detail: str, errors: list[Any] | None = None) -> Any:
    from fastapi.responses import JSONResponse

    content: dict[str, Any] = {"detail": detail}
    if errors is not None:
        content["errors"] = errors
    return JSONResponse(content, status_code=status)
