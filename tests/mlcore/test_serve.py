"""mlcore.serve against a real registered model: `mlcore serve` on uvicorn on 127.0.0.1, spoken to
over HTTP; a bounded load test mixing valid and invalid requests; batch prediction over files;
the ONNX copy checked against the PyTorch model. Tests that need the registered model (logged,
registered, served: seconds) are marked slow."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
import torch
from mlflow import MlflowClient

from mlcore.serve import ServeSettings, load_model, predict_file
from mlcore.serve.batching import MicroBatcher
from mlcore.tracking.onnx import OnnxMismatchError, export

FEATURES, CLASSES = 12, 4
NAME = "served-model"


@dataclass
class Registered:
    tracking_uri: str
    name: str
    module: torch.nn.Module  # the model as trained: what every answer must equal

    def expected(self, rows: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return self.module(torch.from_numpy(rows)).numpy()


def mlp() -> torch.nn.Module:
    torch.manual_seed(3)
    return torch.nn.Sequential(
        torch.nn.Linear(FEATURES, 32), torch.nn.ReLU(), torch.nn.Linear(32, CLASSES)
    ).eval()


def rows(count: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(count, FEATURES)).astype(np.float32)


@pytest.fixture(scope="module")
def registered(mlflow_tracking_uri: str, tmp_path_factory: pytest.TempPathFactory) -> Registered:
    """A model logged as mlcore.tracking logs it (pytorch + checked ONNX copy), registered and
    made champion."""
    import mlflow

    from mlcore.mlflow_store import MODEL_URI
    from mlcore.registry import register
    from mlcore.tracking.model import log_model
    from mlcore.tracking.onnx import log_onnx

    client = MlflowClient(mlflow_tracking_uri)
    artifacts = tmp_path_factory.mktemp("serve-artifacts").as_uri()
    experiment = client.create_experiment("serve", artifacts)
    module = mlp()
    saved = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(mlflow_tracking_uri)
    try:  # MLflow's registry looks logged models up in the fluent tracking store
        with mlflow.start_run(experiment_id=experiment) as run:
            info = log_model(module, rows(5))
            mlflow.set_tag(MODEL_URI, info.model_uri)
            assert log_onnx(module, rows(200, seed=1), info.signature)
        version = register(run.info.run_id, NAME, tracking_uri=mlflow_tracking_uri)
    finally:
        mlflow.set_tracking_uri(saved)
    client.set_registered_model_alias(NAME, "champion", version.version)
    return Registered(mlflow_tracking_uri, NAME, module)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def serve_command(model: str, registered: Registered, *options: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "mlcore",
        "serve",
        model,
        "--tracking-uri",
        registered.tracking_uri,
        "--log-level",
        "warning",
        *options,
    ]


@pytest.fixture(scope="module")
def server(registered: Registered, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`mlcore serve models:/<name>@champion` on a free loopback port, until the module ends."""
    log = tmp_path_factory.mktemp("server") / "server.log"
    limits = ("--max-body-bytes", "200000", "--max-rows", "256")
    with serving(registered, f"models:/{registered.name}@champion", *limits, log=log) as url:
        yield url


@pytest.mark.slow
def test_describes_itself_and_answers_health_ready_metrics(server: str) -> None:
    root = httpx.get(f"{server}/").json()
    assert (root["name"], root["version"], root["runtime"]) == (NAME, "1", "onnx")
    assert root["input"] == {"shape": [-1, FEATURES], "dtype": "float32"}
    assert set(root["lineage"]["aliases"]) == {"candidate", "champion"}
    assert root["lineage"]["run_id"]
    assert httpx.get(f"{server}/health").json() == {"status": "ok"}
    assert httpx.get(f"{server}/ready").json()["version"] == "1"
    metrics = httpx.get(f"{server}/metrics")
    assert metrics.headers["content-type"].startswith("text/plain")
    assert f'mlcore_serve_model_info{{name="{NAME}",runtime="onnx",version="1"}} 1.0' in (
        metrics.text
    )
    assert "mlcore_serve_request_duration_seconds_bucket" in metrics.text


@pytest.mark.slow
def test_predictions_equal_the_models_own(server: str, registered: Registered) -> None:
    features = rows(7, seed=5)
    answer = httpx.post(f"{server}/predict", json={"inputs": features.tolist()})
    assert answer.status_code == 200, answer.text
    predicted = np.asarray(answer.json()["predictions"], dtype=np.float32)
    np.testing.assert_allclose(predicted, registered.expected(features), rtol=1e-5, atol=1e-5)


GOOD_ROW = [0.5] * FEATURES
JSON = "application/json"


def body(inputs: object, **extra: object) -> str:
    return json.dumps({"inputs": inputs, **extra})


# name: (body, content type, status, words the message must contain)
BAD_REQUESTS = {
    "malformed JSON": (b'{"inputs": [[1, 2', JSON, 400, "malformed JSON"),
    "wrong field": (json.dumps({"input": [GOOD_ROW]}), JSON, 422, "inputs: Field required"),
    "extra field": (body([GOOD_ROW], x=1), JSON, 422, "x: Extra inputs are not permitted"),
    "short row": (body([[1.0] * 3]), JSON, 422, "at least 12 items"),
    "long row": (body([[1.0] * 13]), JSON, 422, "at most 12 items"),
    "nested too deep": (body([[GOOD_ROW]]), JSON, 422, "valid number"),
    "strings": (body([["1"] * FEATURES]), JSON, 422, "valid number"),
    "booleans": (body([[True] * FEATURES]), JSON, 422, "valid number"),
    "NaN": ('{"inputs": [[NaN' + ", 1" * 11 + "]]}", JSON, 422, "finite number"),
    "Infinity": ('{"inputs": [[Infinity' + ", 1" * 11 + "]]}", JSON, 422, "finite number"),
    "float32 overflow": (body([[1e39] * FEATURES]), JSON, 422, "less than or equal to 340282346"),
    "empty batch": (body([]), JSON, 422, "at least 1 item"),
    "too many rows": (body([GOOD_ROW] * 300), JSON, 422, "at most 256 items"),
    "not an object": ("[1, 2]", JSON, 422, "body: Input should be an object"),
    "over the size limit": (body([GOOD_ROW] * 4000), JSON, 413, "over the limit of 200000 bytes"),
    "not JSON": ("inputs=1", "application/x-www-form-urlencoded", 415, "application/json"),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", BAD_REQUESTS)
def test_bad_input_gets_a_4xx_naming_the_problem(server: str, case: str) -> None:
    body, media, status, words = BAD_REQUESTS[case]
    answer = httpx.post(f"{server}/predict", content=body, headers={"content-type": media})
    assert answer.status_code == status, answer.text
    assert words in answer.json()["detail"]
    again = httpx.post(f"{server}/predict", json={"inputs": [GOOD_ROW]})
    assert again.status_code == 200, "the server keeps serving after a bad request"


@pytest.mark.slow
def test_chunked_body_over_the_limit_is_refused(server: str) -> None:
    big = json.dumps({"inputs": [GOOD_ROW] * 4000}).encode()
    stream = (big[i : i + 65536] for i in range(0, len(big), 65536))  # no Content-Length
    answer = httpx.post(
        f"{server}/predict", content=stream, headers={"content-type": "application/json"}
    )
    assert answer.status_code == 413


@pytest.mark.slow
def test_load_of_mixed_requests_never_gets_a_5xx(server: str, registered: Registered) -> None:
    """Concurrent clients, a third of their requests invalid: no 5xx, every valid answer is the
    model's own prediction, and the metrics counted every request."""
    total, concurrency = 360, 12
    invalid = [name for name in BAD_REQUESTS if BAD_REQUESTS[name][2] != 413]
    before = _count(httpx.get(f"{server}/metrics").text, "mlcore_serve_requests_total", "/predict")

    async def one(client: httpx.AsyncClient, index: int, gate: asyncio.Semaphore) -> tuple:
        async with gate:
            if index % 3 == 2:
                body, media, status, _ = BAD_REQUESTS[invalid[index % len(invalid)]]
                answer = await client.post(
                    "/predict", content=body, headers={"content-type": media}
                )
                return index, None, answer.status_code, status
            features = rows(1 + index % 32, seed=index)
            answer = await client.post("/predict", json={"inputs": features.tolist()})
            return index, features, answer.status_code, answer.json()

    async def load() -> list[tuple]:
        gate = asyncio.Semaphore(concurrency)
        limits = httpx.Limits(max_connections=concurrency)
        async with httpx.AsyncClient(base_url=server, limits=limits, timeout=30) as client:
            return await asyncio.gather(*(one(client, i, gate) for i in range(total)))

    results = asyncio.run(asyncio.wait_for(load(), timeout=120))
    statuses = [status for _, _, status, _ in results]
    assert not [s for s in statuses if s >= 500]
    for _, features, status, answer in results:
        if features is None:
            assert status == answer  # the 4xx its kind of mistake gets
        else:
            assert status == 200
            predicted = np.asarray(answer["predictions"], dtype=np.float32)
            expected = registered.expected(features)
            np.testing.assert_allclose(predicted, expected, rtol=1e-5, atol=1e-5)
    after = _count(httpx.get(f"{server}/metrics").text, "mlcore_serve_requests_total", "/predict")
    assert after - before == total


def _count(text: str, metric: str, path: str) -> float:
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(metric) and f'path="{path}"' in line
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    ("model", "words"),
    [
        ("models:/{name}@champoin", "has no alias 'champoin' (its aliases: candidate -> v1, "),
        ("/nowhere/model", "neither models:/<name>@<alias> nor a folder"),
    ],
)
def test_a_model_that_cannot_be_served_ends_the_process(
    registered: Registered, model: str, words: str
) -> None:
    command = serve_command(model.format(name=registered.name), registered, "--port", "1")
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert words in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.slow
def test_unknown_models_and_versions_are_named(registered: Registered) -> None:
    from mlcore.registry import ModelNotFoundError, VersionNotFoundError
    from mlcore.serve import ModelLoadError

    uri = registered.tracking_uri
    with pytest.raises(ModelNotFoundError, match="no registered model 'no-such-model'"):
        load_model("models:/no-such-model@champion", tracking_uri=uri)
    with pytest.raises(VersionNotFoundError, match="has no version 9"):
        load_model(f"models:/{registered.name}/9", tracking_uri=uri)
    with pytest.raises(ModelLoadError, match="runtime 'tf' is not one of auto, onnx, torch"):
        load_model(f"models:/{registered.name}/1", tracking_uri=uri, runtime="tf")


@pytest.mark.slow
def test_torch_and_onnx_runtimes_agree(registered: Registered) -> None:
    uri = f"models:/{registered.name}@champion"
    onnx = load_model(uri, tracking_uri=registered.tracking_uri)
    plain = load_model(uri, tracking_uri=registered.tracking_uri, runtime="torch")
    assert (onnx.runtime, plain.runtime) == ("onnx", "torch")
    features = rows(50, seed=9)
    np.testing.assert_array_equal(plain.predict(features), registered.expected(features))
    np.testing.assert_allclose(onnx.predict(features), plain.predict(features), atol=1e-5)


@pytest.mark.slow
def test_micro_batching_merges_concurrent_requests_and_answers_each(
    registered: Registered,
) -> None:
    model = load_model(f"models:/{registered.name}@champion", tracking_uri=registered.tracking_uri)
    calls: list[int] = []
    batcher = MicroBatcher(model.predict, max_batch=64, max_wait_s=0.002, on_call=calls.append)
    requests = [rows(1 + i % 5, seed=i) for i in range(40)]

    async def submit_all() -> list[np.ndarray]:
        return await asyncio.gather(*(batcher.submit(features) for features in requests))

    answers = asyncio.run(asyncio.wait_for(submit_all(), timeout=30))
    for features, answer in zip(requests, answers, strict=True):
        np.testing.assert_allclose(answer, registered.expected(features), rtol=1e-5, atol=1e-5)
    assert sum(calls) == sum(len(r) for r in requests)
    assert len(calls) < len(requests) and max(calls) <= 64 + 4


@pytest.mark.slow
def test_without_micro_batching_answers_are_the_same(registered: Registered) -> None:
    from fastapi.testclient import TestClient

    from mlcore.serve import create_app

    model = load_model(f"models:/{registered.name}@champion", tracking_uri=registered.tracking_uri)
    settings = ServeSettings(model=model.uri, max_batch=1)
    features = rows(9, seed=21)
    with TestClient(create_app(model, settings)) as client:
        answer = client.post("/predict", json={"inputs": features.tolist()})
        refused = client.post("/predict", json={"inputs": [[1.0] * 2]})
    predicted = np.asarray(answer.json()["predictions"], dtype=np.float32)
    np.testing.assert_allclose(predicted, registered.expected(features), rtol=1e-5, atol=1e-5)
    assert refused.status_code == 422


@pytest.mark.slow
def test_batch_prediction_over_chunks_equals_row_by_row(
    registered: Registered, tmp_path: Path
) -> None:
    model = load_model(f"models:/{registered.name}@champion", tracking_uri=registered.tracking_uri)
    features = rows(2500, seed=11)
    frame = pd.DataFrame(features, columns=[f"f{i}" for i in range(FEATURES)])
    frame.insert(0, "id", np.arange(len(frame)) * 7)
    frame["target"] = 1
    one_by_one = np.concatenate([model.predict(features[i : i + 1]) for i in range(len(frame))])
    for suffix in ("parquet", "csv", "jsonl"):
        source = tmp_path / f"input.{suffix}"
        if suffix == "parquet":
            frame.to_parquet(source)
        elif suffix == "csv":
            frame.to_csv(source, index=False)
        else:
            frame.to_json(source, orient="records", lines=True)
        output = tmp_path / f"output-{suffix}.parquet"
        result = predict_file(
            model, str(source), str(output), chunk_rows=1000, exclude=["target"], keep=["id"]
        )
        assert (result.rows, result.chunks) == (2500, 3)
        written = pd.read_parquet(output)
        assert list(written.columns) == ["id", *(f"output_{i}" for i in range(CLASSES))]
        np.testing.assert_array_equal(written["id"], frame["id"])
        np.testing.assert_allclose(written.iloc[:, 1:].to_numpy(), one_by_one, rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_batch_prediction_reads_and_writes_catalog_datasets(
    registered: Registered, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlcore.data import Catalog, DatasetNotFoundError

    model = load_model(f"models:/{registered.name}@champion", tracking_uri=registered.tracking_uri)
    features = rows(300, seed=12)
    pd.DataFrame(features, columns=[f"f{i}" for i in range(FEATURES)]).to_csv(
        tmp_path / "in.csv", index=False
    )
    catalog = Catalog.from_dict(
        {"datasets": {"scoring": {"uri": "in.csv"}, "scores": {"uri": "out/scores.csv"}}},
        root=tmp_path,
    )
    labels = lambda outputs: {"label": outputs.argmax(axis=1)}  # noqa: E731
    predict_file(model, "scoring", "scores", catalog=catalog, chunk_rows=64, to_columns=labels)
    written = pd.read_csv(tmp_path / "out" / "scores.csv")
    np.testing.assert_array_equal(written["label"], registered.expected(features).argmax(axis=1))
    with pytest.raises(ValueError, match=r"11 feature columns but served-model takes 12"):
        predict_file(model, "scoring", "scores", catalog=catalog, exclude=["f0"])
    assert not list((tmp_path / "out").glob(".*")), "a failed batch leaves no partial file"
    # A name that is neither in the catalog nor a file says so (not "cannot tell the format").
    with pytest.raises(DatasetNotFoundError, match=r"^scorin: not a dataset of the catalog passed"):
        predict_file(model, "scorin", "scores", catalog=catalog)
    monkeypatch.chdir(tmp_path)  # no configs/catalog.yaml here or above
    monkeypatch.delenv("MLCORE_CATALOG", raising=False)
    with pytest.raises(DatasetNotFoundError, match=r"none found: no configs/catalog.yaml"):
        predict_file(model, "digits", "scores")


class Branchy(torch.nn.Module):
    """Data-dependent control flow: tracing keeps one branch, so the ONNX copy differs."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * 2 if bool(x.sum() > 0) else x * 3


def test_onnx_export_is_checked_against_the_torch_model() -> None:
    exported = export(mlp(), rows(64))
    assert exported.max_abs_diff <= 1e-5
    # Traced on the first 8 rows (sum > 0: x * 2), checked on all 16 (sum 0: x * 3).
    mixed = np.concatenate([np.ones((8, 3), np.float32), -np.ones((8, 3), np.float32)])
    with pytest.raises(OnnxMismatchError, match=r"ONNX outputs differ .* max \|diff\|"):
        export(Branchy(), mixed)


def test_settings_refuse_nonsense() -> None:
    with pytest.raises(ValueError, match="max_rows must be at least 1"):
        ServeSettings(model="m", max_rows=0)


def test_importing_mlcore_serve_imports_no_server_stack(run_python) -> None:
    code = (
        "import sys, mlcore.serve, mlcore.serve.cli; "
        "print(sorted(m for m in ('fastapi', 'uvicorn', 'onnxruntime', 'torch', 'mlflow') "
        "if m in sys.modules))"
    )
    assert run_python(["-c", code], env={"PYTHONPATH": os.getcwd()}).stdout.strip() == "[]"


@pytest.mark.slow
def test_request_log_is_written_and_read_by_the_monitor(
    registered: Registered, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The request log (here through $MLCORE_REQUEST_LOG, as the Kubernetes ConfigMap sets it,
    rather than --request-log): the served rows and answers land in JSON-lines files (the last
    ones on shutdown), and `mlcore monitor` reads that folder: a shifted stream of requests is
    drift. (On object storage: tests/mlcore/test_monitor.py.)"""
    import yaml

    from mlcore.monitor.cli import main as monitor

    folder = tmp_path / "requests"
    model = f"models:/{registered.name}@champion"
    sent = []
    monkeypatch.setenv("MLCORE_REQUEST_LOG", str(folder))  # the server inherits it
    with serving(registered, model) as url:
        for seed in range(20):
            batch = rows(5, seed=100 + seed) + 3.0  # every feature moved by 3 standard deviations
            answer = httpx.post(f"{url}/predict", json={"inputs": batch.tolist()})
            assert answer.status_code == 200
            sent.append((batch, np.asarray(answer.json()["predictions"], np.float32)))
    # Stopped: uvicorn's shutdown ran the lifespan's end, which flushed the log.
    logged = [json.loads(line) for f in sorted(folder.glob("*.jsonl")) for line in f.open()]
    assert len(logged) == 20 and not list(
        folder.glob(".*")
    )  # a line per request, none half-written
    inputs = np.concatenate([r["inputs"] for r in logged])
    np.testing.assert_allclose(inputs, np.concatenate([b for b, _ in sent]))
    outputs = np.concatenate([r["outputs"] for r in logged])
    np.testing.assert_allclose(outputs, np.concatenate([p for _, p in sent]))

    names = [f"x{i}" for i in range(FEATURES)]
    pd.DataFrame(rows(2000, seed=7), columns=names).to_parquet(tmp_path / "reference.parquet")
    catalog = {"root": ".", "datasets": {"reference": {"uri": "reference.parquet"}}}
    (tmp_path / "catalog.yaml").write_text(yaml.safe_dump(catalog))
    settings = {
        "reference": {"dataset": "reference", "catalog": "catalog.yaml"},
        "current": str(folder),
        "model": model,
        "report_dir": "report",
    }
    (tmp_path / "monitor.yaml").write_text(yaml.safe_dump(settings))
    monkeypatch.chdir(tmp_path)
    code = monitor(["--config", "monitor.yaml", "--no-mlflow", "--tracking-uri",
                    registered.tracking_uri])  # fmt: skip
    assert code == 3
    report = json.loads((tmp_path / "report" / "drift.json").read_text())
    assert report["current_rows"] == 100 and report["drifted_share"] == 1.0
    assert report["predictions"]["kind"] == "classes"


@contextmanager
def serving(
    registered: Registered, model: str, *options: str, log: Path | None = None
) -> Iterator[str]:
    """`mlcore serve` on a free loopback port until the block ends (SIGTERM: a graceful
    shutdown); its output goes to `log` (a temporary file by default), shown if it never gets
    ready."""
    port = free_port()
    command = serve_command(model, registered, "--port", str(port), *options)
    if log is None:
        log = Path(tempfile.mkdtemp(prefix="serve-")) / "server.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"mlcore serve did not become ready:\n{log.read_text()}")
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.mark.slow
def test_after_rollback_a_restarted_server_serves_the_previous_champion(
    registered: Registered,
) -> None:
    """Promote a second version, serve it; roll back, restart: the first is served again (what
    `make rollback` and `kubectl rollout restart deployment/<name>` do in a generated repo)."""
    from mlcore.registry import Gate, promote, register, rollback

    client = MlflowClient(registered.tracking_uri)
    first = client.get_model_version_by_alias(registered.name, "champion").version
    run_id = client.get_model_version(registered.name, first).run_id
    client.log_metric(run_id, "test/accuracy", 0.9)  # what the gate compares (a tie passes)
    import mlflow

    saved = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(registered.tracking_uri)  # where MLflow looks the logged model up
    try:
        second = register(run_id, registered.name, tracking_uri=registered.tracking_uri).version
    finally:
        mlflow.set_tracking_uri(saved)
    for version in (first, second):  # both tested on the same split, as the gate requires
        client.set_model_version_tag(registered.name, version, "mlcore.eval.digest", "same")
    promote(registered.name, Gate(), version=second, tracking_uri=registered.tracking_uri)
    model = f"models:/{registered.name}@champion"
    with serving(registered, model) as url:
        assert httpx.get(url).json()["version"] == str(second)
    rollback(registered.name, tracking_uri=registered.tracking_uri)
    with serving(registered, model) as url:
        assert httpx.get(url).json()["version"] == str(first)


@pytest.mark.slow
def test_an_alias_or_version_names_the_projects_own_model(
    registered: Registered, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In a project the model is named once, in configs/registry/default.yaml: `champion` or
    `1` there is that model's alias or version; outside a project the message says what to do."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match=r"names no model_name here.*models:/<name>@champion"):
        load_model("champion", tracking_uri=registered.tracking_uri)
    (tmp_path / "configs" / "registry").mkdir(parents=True)
    (tmp_path / "configs" / "registry" / "default.yaml").write_text(
        f"model_name: {registered.name}\nregister: false\n"
    )
    by_alias = load_model("champion", tracking_uri=registered.tracking_uri)
    by_version = load_model("1", tracking_uri=registered.tracking_uri)
    assert (by_alias.name, by_alias.version, by_alias.uri) == (
        registered.name,
        "1",
        f"models:/{registered.name}@champion",
    )
    assert by_version.uri == f"models:/{registered.name}/1"
