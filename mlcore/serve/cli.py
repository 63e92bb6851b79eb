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
from dataclasses import fields

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
    for flag, kind, text in (
        ("--threads", int, "threads per model call"),
        ("--max-body-bytes", int, "larger request bodies get 413"),
        ("--max-rows", int, "rows per request"),
        ("--max-batch", int, "merge concurrent requests into model calls of up to this many rows"),
        ("--max-wait-ms", float, "how long a merged call waits for more"),
    ):
        default = getattr(defaults, flag[2:].replace("-", "_"))
        off = "; 1: off" if flag == "--max-batch" else ""
        parser.add_argument(
            flag, type=kind, default=default, help=f"{text} (default {default}{off})"
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
        settings = ServeSettings(**{f.name: getattr(args, f.name) for f in fields(ServeSettings)})
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
