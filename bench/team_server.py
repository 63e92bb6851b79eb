"""What the team MLflow server's choices cost: the auth cache, and the promotion lock.

    python bench/team_server.py [--repeat N]

Starts PostgreSQL, moto's S3 server and two `mlflow server --app-name basic-auth` of the
generated deploy/mlflow/ (tests/servers.py), one as deployed (`auth_cache_ttl_seconds = 60`) and
one without the cache (MLflow's default: every request checks the password with PBKDF2).

1. One authenticated registry read (`get_registered_model`), median over N calls, each server;
   ratio uncached / cached. Calls alternate between the servers, so load drift hits both alike.
2. `promote` as mlcore runs it (under the per-model lock: one create and one delete of the lock
   model more) against the same promotion without the lock, on the cached server; ratio.

Results go to docs/benchmarks.md by hand.
"""

from __future__ import annotations

import argparse
import configparser
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.servers import (  # noqa: E402
    DEPLOY,
    environment,
    start_mlflow_server,
    start_moto_server,
    start_postgres,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-team-"))
    root.chmod(0o755)
    postgres = start_postgres(root / "postgres")
    s3 = start_moto_server(root)
    servers = {}
    try:
        started = time.perf_counter()
        servers["cached"] = start_mlflow_server(_folder(root, "cached"), postgres, s3)
        print(
            f"server start (migrations, auth app, 1 worker): {time.perf_counter() - started:.1f} s"
        )
        servers["uncached"] = _uncached_server(root, postgres, s3)
        for server in servers.values():
            server.add_users()
        reads(servers, args.repeat)
        promotions(servers["cached"], max(3, args.repeat // 5))
    finally:
        for server in servers.values():
            server.stop()
        s3.stop()
        postgres.stop()
        shutil.rmtree(root, ignore_errors=True)


def _folder(root: Path, name: str) -> Path:
    folder = root / name
    folder.mkdir()
    return folder


def _uncached_server(root, postgres, s3):  # type: ignore[no-untyped-def]
    """The same deploy files with auth_cache_ttl_seconds = 0, on databases of its own."""
    import tests.servers as servers

    folder = _folder(root, "uncached")
    ini = configparser.ConfigParser()
    ini.read(DEPLOY / "basic_auth.ini")
    ini["mlflow"]["auth_cache_ttl_seconds"] = "0"
    copy = folder / "deploy"
    shutil.copytree(DEPLOY, copy)
    with (copy / "basic_auth.ini").open("w") as sink:
        ini.write(sink)
    saved = servers.DEPLOY
    servers.DEPLOY = copy
    try:
        return start_mlflow_server(
            folder, postgres, s3, bucket="bench-uncached", databases=("uncached", "uncached_auth")
        )
    finally:
        servers.DEPLOY = saved


def reads(servers, repeat: int) -> None:  # type: ignore[no-untyped-def]
    from mlflow import MlflowClient

    name = f"bench-{uuid.uuid4().hex[:6]}"
    times: dict[str, list[float]] = {key: [] for key in servers}
    for server in servers.values():
        with environment(server.client_env("trainer")):
            MlflowClient(server.url).create_registered_model(name)
    for _ in range(repeat):
        for key, server in servers.items():
            with environment(server.client_env("trainer")):
                client = MlflowClient(server.url)
                started = time.perf_counter()
                client.get_registered_model(name)
                times[key].append(time.perf_counter() - started)
    cached, uncached = (statistics.median(times[k]) * 1000 for k in ("cached", "uncached"))
    print(f"authenticated read, median of {repeat}: cached {cached:.1f} ms, "
          f"uncached {uncached:.1f} ms, ratio {uncached / cached:.2f}")  # fmt: skip


def promotions(server, repeat: int) -> None:  # type: ignore[no-untyped-def]
    import mlflow
    from mlflow import MlflowClient

    from mlcore.registry import Gate, promote
    from mlcore.registry.promotion import _promote
    from mlcore.registry.store import connect, version

    with environment(server.client_env("trainer")):
        client = MlflowClient(server.url)
        mlflow.set_tracking_uri(server.url)
        mlflow.set_experiment(f"bench-{uuid.uuid4().hex[:6]}")
        name = f"bench-promote-{uuid.uuid4().hex[:6]}"
        client.create_registered_model(name)
        numbers = []
        for i in range(2 * repeat):
            with mlflow.start_run() as run:
                mlflow.log_metric("test/accuracy", 0.5 + i / (4 * repeat))
                mlflow.set_tag("mlcore.eval.digest", "d")
            source = f"runs:/{run.info.run_id}/model"
            created = client.create_model_version(
                name, source=source, run_id=run.info.run_id, tags={"mlcore.eval.digest": "d"}
            )
            numbers.append(created.version)
        mlflow.set_tracking_uri(None)
        locked, plain = [], []
        registry = connect(server.url)
        for i, number in enumerate(numbers):
            started = time.perf_counter()
            if i % 2 == 0:
                promote(name, Gate(), version=number, tracking_uri=server.url)
                locked.append(time.perf_counter() - started)
            else:
                _promote(registry, name, Gate(), version(registry, name, number), str(number))
                plain.append(time.perf_counter() - started)
    with_lock, without = statistics.median(locked) * 1000, statistics.median(plain) * 1000
    print(f"promote, median of {repeat}: with the lock {with_lock:.0f} ms, without "
          f"{without:.0f} ms, ratio {with_lock / without:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
