"""`mlcore serve [MODEL]`: load the model once, then answer HTTP on uvicorn until stopped.

A model, alias or version that does not exist ends the process at once (exit 2) with a message
that lists what does: nothing binds the port for a model that cannot be served.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence

from mlcore.serve.settings import DEFAULT_HOST, DEFAULT_PORT, ServeSettings

STARTED = time.perf_counter()  # imported as the command starts: what loading the model took


def build_parser(prog: str = "mlcore serve") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Serve a registered model over HTTP: POST /predict, GET /health, /ready, "
        "/metrics and / (the model's name, version and lineage). The version is resolved once, "
        "at start-up: after a promotion or rollback, restart to serve the new champion.",
    )
    defaults = ServeSettings(model="")
    parser.add_argument(
        "model",
        nargs="?",
        default="champion",
        help="an alias or version of the project's model (default %(default)s; its name from "
        "configs/registry/default.yaml), models:/<name>@<alias>, models:/<name>/<version> or an "
        "MLflow model folder",
    )
    parser.add_argument(
        "--tracking-uri",
        default=os.environ.get("MLFLOW_TRACKING_URI"),
        help="the registry's store (default: $MLFLOW_TRACKING_URI)",
    )
    parser.add_argument("--host", default=DEFAULT_HOST, help="default %(default)s (loopback)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="default %(default)s")
    parser.add_argument(
        "--runtime",
        choices=("auto", "onnx", "torch"),
        default=defaults.runtime,
        help="auto: onnx where the version has its ONNX copy, else torch",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=defaults.threads,
        help="threads per model call (default %(default)s)",
    )
    parser.add_argument(
        "--max-body-bytes",
        type=int,
        default=defaults.max_body_bytes,
        help="larger request bodies get 413 (default %(default)s)",
    )
    parser.add_argument(
        "--max-rows",
        type=int,
        default=defaults.max_rows,
        help="rows per request (default %(default)s)",
    )
    parser.add_argument(
        "--max-batch",
        type=int,
        default=defaults.max_batch,
        help="merge concurrent requests into model calls of up to this many rows "
        "(default %(default)s; 1: off)",
    )
    parser.add_argument(
        "--max-wait-ms",
        type=float,
        default=defaults.max_wait_ms,
        help="how long a merged call waits for more (default %(default)s)",
    )
    parser.add_argument(
        "--request-log",
        metavar="FOLDER",
        default=os.environ.get("MLCORE_REQUEST_LOG") or None,
        help="append served inputs and predictions here as JSON lines, for `mlcore monitor`: a "
        "folder or any fsspec URI such as s3://bucket/requests (written in the background; "
        "never delays a request; default: $MLCORE_REQUEST_LOG, else off)",
    )
    parser.add_argument("--log-level", default="info", help="uvicorn's (default %(default)s)")
    return parser


def main(argv: Sequence[str] | None = None, prog: str = "mlcore serve") -> int:
    args = build_parser(prog).parse_args(argv)
    try:
        settings = ServeSettings(
            model=args.model,
            tracking_uri=args.tracking_uri,
            runtime=args.runtime,
            threads=args.threads,
            max_body_bytes=args.max_body_bytes,
            max_rows=args.max_rows,
            max_batch=args.max_batch,
            max_wait_ms=args.max_wait_ms,
            host=args.host,
            port=args.port,
            request_log=args.request_log,
        )
    except ValueError as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        return 2
    from mlcore.registry.errors import RegistryError
    from mlcore.serve.model import ModelLoadError, load_model

    try:
        model = load_model(
            settings.model,
            tracking_uri=settings.tracking_uri,
            runtime=settings.runtime,
            threads=settings.threads,
        )
    except (RegistryError, ModelLoadError, ValueError) as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        return 2
    import uvicorn

    from mlcore.serve.app import create_app

    app = create_app(model, settings)
    print(
        f"Serving {model.name} version {model.version or '(folder)'} ({model.runtime}) on "
        f"http://{settings.host}:{settings.port} (loaded in {time.perf_counter() - STARTED:.2f} "
        "s); the version is fixed until restart",
        file=sys.stderr,
        flush=True,
    )
    uvicorn.run(
        app, host=settings.host, port=settings.port, log_level=args.log_level, access_log=False
    )
    return 0
