"""Serving the example model: `mlcore serve` against `mlflow models serve`, and batch prediction.

    python bench/serve.py [--duration 10] [--rows 1000000]

1. The example model's architecture (64 -> 256 -> 128 -> 10 MLP, configs/model/mlp.yaml) is
   logged as `make train` logs it (pytorch flavour and its checked ONNX copy), registered and
   made champion, in a SQLite store of its own.
2. Online, on 127.0.0.1, each server with one worker: `mlflow models serve --env-manager local`
   (/invocations), then `mlcore serve` with its defaults (onnxruntime, micro-batching), with the
   request log on (`--request-log`: the cost of logging every row for drift monitoring), without
   micro-batching, and with torch. Each is started alone (start-up: from the process start to
   the first 200 of its health endpoint, /ping or /ready; also `mlcore serve` of the model
   folder, no registry lookup), then all stay up and the same load goes round them --repeat
   times, the median round kept: `wrk -t1 -c8` for --duration seconds with the same 1-row and
   32-row bodies (`{"inputs": [[...]]}`, which both accept), or, without wrk, an httpx client
   holding 8 requests in flight. Validation and metrics are on (always, in mlcore serve).
3. Batch: `predict_file` over Parquet files of --rows / 4 and --rows rows, chunked, each in a
   subprocess that reports its resident memory with the model loaded and at its peak
   (/proc/self/status); against reading the whole file and predicting it at once.

Prints Markdown tables with ratios against MLflow measured in the same run. Results go to
docs/benchmarks.md by hand.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np

NAME = "bench-digits"
FEATURES = 64
WRK_SCRIPT = """\
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = io.open(os.getenv("BODY"), "rb"); wrk.body = f:read("*a"); f:close()
"""


def register_example(folder: Path) -> str:
    """The example's MLP, logged and registered like `make train` does; returns the store."""
    import mlflow
    import torch
    from mlflow import MlflowClient

    from mlcore.registry import register
    from mlcore.tracking.model import log_model
    from mlcore.tracking.onnx import log_onnx
    from mlcore.tracking.run import MODEL_URI

    uri = f"sqlite:///{folder / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(FEATURES, 256),
        torch.nn.ReLU(),
        torch.nn.Dropout(0.1),
        torch.nn.Linear(256, 128),
        torch.nn.ReLU(),
        torch.nn.Dropout(0.1),
        torch.nn.Linear(128, 10),
    ).eval()
    features = np.random.default_rng(0).normal(size=(500, FEATURES)).astype(np.float32)
    experiment = MlflowClient(uri).create_experiment(NAME, (folder / "artifacts").as_uri())
    with mlflow.start_run(experiment_id=experiment) as run:
        info = log_model(model, features[:5])
        mlflow.set_tag(MODEL_URI, info.model_uri)
        log_onnx(model, features, info.signature)
    version = register(run.info.run_id, NAME, tracking_uri=uri)
    MlflowClient(uri).set_registered_model_alias(NAME, "champion", version.version)
    return uri


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start(command: list[str], health: str, env: dict[str, str], log: Path) -> tuple:
    """Start a server; return (process, seconds to its first 200 on `health`)."""
    import httpx

    started = time.perf_counter()
    with log.open("wb") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT, env=env)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(health, timeout=1).status_code == 200:
                return process, time.perf_counter() - started
        except httpx.TransportError:
            pass
        time.sleep(0.02)
    stop(process)
    raise RuntimeError(f"{command[:4]} did not start:\n{log.read_text()[-3000:]}")


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def load_wrk(url: str, body: Path, duration: float, script: Path) -> dict[str, float]:
    out = subprocess.run(
        ["wrk", "-t1", "-c8", f"-d{int(duration)}s", "--latency", "-s", str(script), url],
        env={**os.environ, "BODY": str(body)},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    units = {"us": 1e-3, "ms": 1.0, "s": 1e3}

    def latency(label: str) -> float:
        value, unit = re.search(rf"{label}\s+([\d.]+)(us|ms|s)\b", out).groups()
        return float(value) * units[unit]

    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50": latency("50%"),
        "p99": latency("99%"),
        "errors": float(non_2xx.group(1)) if non_2xx else 0.0,
    }


def load_httpx(url: str, body: Path, duration: float) -> dict[str, float]:
    """8 requests in flight for `duration` seconds (used where wrk is not installed)."""
    import httpx

    payload = body.read_bytes()
    latencies: list[float] = []
    errors = 0

    async def client_loop(client: httpx.AsyncClient, until: float) -> None:
        nonlocal errors
        while time.perf_counter() < until:
            sent = time.perf_counter()
            answer = await client.post(
                url, content=payload, headers={"content-type": "application/json"}
            )
            latencies.append((time.perf_counter() - sent) * 1e3)
            errors += answer.status_code != 200

    async def run() -> float:
        async with httpx.AsyncClient(limits=httpx.Limits(max_connections=8)) as client:
            began = time.perf_counter()
            await asyncio.gather(*(client_loop(client, began + duration) for _ in range(8)))
            return time.perf_counter() - began

    elapsed = asyncio.run(run())
    return {
        "rps": len(latencies) / elapsed,
        "p50": float(np.percentile(latencies, 50)),
        "p99": float(np.percentile(latencies, 99)),
        "errors": float(errors),
    }


def median_round(cells: list[dict[str, float]]) -> dict[str, float]:
    """The round with the median throughput (its latencies with it)."""
    return sorted(cells, key=lambda cell: cell["rps"])[len(cells) // 2]


def online(folder: Path, uri: str, duration: float, repeat: int) -> None:
    rng = np.random.default_rng(1)
    bodies = {}
    for rows in (1, 32):
        bodies[rows] = folder / f"body-{rows}.json"
        bodies[rows].write_text(json.dumps({"inputs": rng.normal(size=(rows, FEATURES)).tolist()}))
    script = folder / "post.lua"
    script.write_text(WRK_SCRIPT)
    use_wrk = shutil.which("wrk") is not None
    print(
        f"Load generator: {'wrk -t1 -c8' if use_wrk else 'httpx, 8 requests in flight'}, "
        f"{duration:.0f} s per cell, median of {repeat} rounds\n"
    )
    # MLflow starts `uvicorn` from PATH: this interpreter's scripts come first.
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri, "PATH": path}
    model_uri = f"models:/{NAME}@champion"
    mlcore = [sys.executable, "-m", "mlcore", "serve", model_uri, "--log-level", "warning"]
    servers = {
        "mlflow models serve": (
            [
                sys.executable,
                "-m",
                "mlflow",
                "models",
                "serve",
                "-m",
                model_uri,
                "--env-manager",
                "local",
                "-h",
                "127.0.0.1",
            ],
            "/ping",
            "/invocations",
            "-p",
        ),
        "mlcore serve (defaults: onnxruntime, micro-batching)": (
            mlcore,
            "/ready",
            "/predict",
            "--port",
        ),
        "mlcore serve --request-log (defaults, every row logged for mlcore monitor)": (
            [*mlcore, "--request-log", str(folder / "requests")],
            "/ready",
            "/predict",
            "--port",
        ),
        "mlcore serve --max-batch 1 (no micro-batching)": (
            [*mlcore, "--max-batch", "1"],
            "/ready",
            "/predict",
            "--port",
        ),
        "mlcore serve --runtime torch": (
            [*mlcore, "--runtime", "torch"],
            "/ready",
            "/predict",
            "--port",
        ),
    }
    # Every server is started (one at a time, for its start-up time) and left running idle; the
    # load then goes round them `repeat` times and each cell is the median round, so a machine
    # that gets busier or quieter during the run weighs on every server alike.
    running: dict[str, tuple] = {}
    startups: dict[str, float] = {}
    try:
        for index, (label, (command, health, path, port_flag)) in enumerate(servers.items()):
            port = free_port()
            base = f"http://127.0.0.1:{port}"
            log = folder / f"server-{index}.log"
            process, startups[label] = start(
                [*command, port_flag, str(port)], base + health, env, log
            )
            running[label] = (process, base + path)
            print(f"{label}: start-up {startups[label]:.2f} s", flush=True)
        rounds: dict[str, dict[int, list[dict[str, float]]]] = {
            label: {rows: [] for rows in bodies} for label in servers
        }
        for _ in range(repeat):
            for label, (_, url) in running.items():
                for rows, body in bodies.items():
                    if use_wrk:
                        cell = load_wrk(url, body, duration, script)
                    else:
                        cell = load_httpx(url, body, duration)
                    rounds[label][rows].append(cell)
    finally:
        for process, _ in running.values():
            stop(process)
    results = {
        label: {
            "startup": startups[label],
            **{rows: median_round(cells) for rows, cells in by_rows.items()},
        }
        for label, by_rows in rounds.items()
    }
    baseline = results["mlflow models serve"]
    print("\n| Server | Body | rps | vs MLflow | p50 ms | p99 ms | non-2xx |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for label, result in results.items():
        for rows in bodies:
            cell = result[rows]
            ratio = cell["rps"] / baseline[rows]["rps"]
            print(
                f"| {label} | {rows} row{'s' if rows > 1 else ''} | {cell['rps']:.0f} | "
                f"{ratio:.2f}x | {cell['p50']:.2f} | {cell['p99']:.2f} | "
                f"{cell['errors']:.0f} |"
            )
    print("\n| Server | Start-up to healthy (s) |\n| --- | ---: |")
    for label, result in results.items():
        print(f"| {label} | {result['startup']:.2f} |")
    folder_startup = startup_from_folder(folder, uri, env)
    print(f"| mlcore serve of the model folder (no registry lookup) | {folder_startup:.2f} |")


def startup_from_folder(folder: Path, uri: str, env: dict[str, str]) -> float:
    from mlflow import MlflowClient

    from mlcore.registry.store import ONNX_URI

    client = MlflowClient(uri)
    version = client.get_model_version_by_alias(NAME, "champion")
    location = client.get_logged_model(version.tags[ONNX_URI].removeprefix("models:/"))
    model_folder = location.artifact_location.removeprefix("file://")
    port = free_port()
    command = [sys.executable, "-m", "mlcore", "serve", model_folder, "--port", str(port)]
    process, seconds = start(command, f"http://127.0.0.1:{port}/ready", env, folder / "folder.log")
    stop(process)
    return seconds


BATCH_CHILD = textwrap.dedent("""\
    import re, sys, time
    import numpy as np, pyarrow.parquet as pq
    from mlcore.serve import load_model, predict_file
    def mib(field):  # this process's own figures (getrusage would count the parent's fork)
        status = open("/proc/self/status").read()
        return int(re.search(field + r":\\s+(\\d+) kB", status).group(1)) / 1024
    uri, source, output, mode = sys.argv[1:5]
    model = load_model("models:/{name}@champion", tracking_uri=uri)
    loaded = mib("VmRSS")
    began = time.perf_counter()
    if mode == "chunked":
        rows = predict_file(model, source, output).rows
    else:
        table = pq.read_table(source)
        features = np.column_stack([c.to_numpy() for c in table.columns]).astype(np.float32)
        outputs = model.predict(features)
        pq.write_table(__import__("pyarrow").table(
            {{f"output_{{i}}": outputs[:, i] for i in range(outputs.shape[1])}}), output)
        rows = len(outputs)
    seconds = time.perf_counter() - began
    print(rows, seconds, loaded, mib("VmHWM"))
    """).format(name=NAME)


def write_features(path: Path, rows: int) -> None:
    """A Parquet file of `rows` random float32 rows, in row groups of 100,000."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    writer = None
    rng = np.random.default_rng(2)
    for start_row in range(0, rows, 100_000):
        count = min(100_000, rows - start_row)
        block = rng.normal(size=(count, FEATURES)).astype(np.float32)
        table = pa.table({f"pixel_{i}": block[:, i] for i in range(FEATURES)})
        writer = writer or pq.ParquetWriter(path, table.schema)
        writer.write_table(table)
    writer.close()


def batch(folder: Path, uri: str, rows: int) -> None:
    """Chunked prediction of a quarter of the rows and of all of them (memory must not grow),
    and the whole file read and predicted at once."""
    print(f"\nBatch: float32 rows of {FEATURES} features in Parquet, the model in onnxruntime\n")
    print("| Rows | Mode | rows/s | seconds | RSS, model loaded (MiB) | peak RSS (MiB) |")
    print("| ---: | --- | ---: | ---: | ---: | ---: |")
    runs = [(rows // 4, "chunked"), (rows, "chunked"), (rows, "whole file")]
    for count, mode in runs:
        source = folder / f"input-{count}.parquet"
        if not source.exists():
            write_features(source, count)
        output = folder / f"out-{count}-{mode[0]}.parquet"
        command = [sys.executable, "-c", BATCH_CHILD, uri, str(source), str(output), mode]
        done = subprocess.run(command, capture_output=True, text=True, check=True).stdout.split()
        predicted, seconds = int(done[-4]), float(done[-3])
        loaded, peak = float(done[-2]), float(done[-1])
        label = "predict_file, 65,536-row chunks" if mode == "chunked" else "read all, predict"
        print(
            f"| {predicted:,} | {label} | {predicted / seconds:,.0f} | {seconds:.2f} | "
            f"{loaded:.0f} | {peak:.0f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--skip-online", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as tmp:
        folder = Path(tmp)
        uri = register_example(folder)
        if not args.skip_online:
            online(folder, uri, args.duration, args.repeat)
        batch(folder, uri, args.rows)


if __name__ == "__main__":
    main()
