"""Shared fixtures for the mlcore unit tests: subprocess runs, logging isolation, Hydra configs."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mlcore.data import Catalog
from tests.servers import S3_ENV, MotoServer

# Environment variables that change what mlcore does; subprocesses and logging tests start without.
MLCORE_ENV = (
    "MLCORE_LOG_FORMAT",
    "MLCORE_LOG_LEVEL",
    "RANK",
    "LOCAL_RANK",
    "SLURM_PROCID",
    "JSM_NAMESPACE_RANK",
)
# Loggers whose handlers setup_logging rewires; the logging fixture puts them back as they were.
LIBRARY_LOGGERS = ("lightning", "lightning.pytorch", "lightning.fabric", "pytorch_lightning")

RunPython = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(scope="session")
def run_python() -> RunPython:
    """Run the test interpreter (the venv's Python) in a subprocess, without mlcore's env vars."""

    def run(
        args: Sequence[str],
        *,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
        check: bool = True,
    ) -> subprocess.CompletedProcess[str]:
        clean = {key: value for key, value in os.environ.items() if key not in MLCORE_ENV}
        clean.update(env or {})
        result = subprocess.run(
            [sys.executable, *args],
            cwd=cwd,
            env=clean,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if check and result.returncode != 0:
            pytest.fail(
                f"{args} exited {result.returncode}\n"
                f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
            )
        return result

    return run


@pytest.fixture
def clean_logging(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Start without mlcore's env vars and restore the root and library loggers afterwards."""
    for name in MLCORE_ENV:
        monkeypatch.delenv(name, raising=False)
    root = logging.getLogger()
    saved_root = (list(root.handlers), root.level)
    saved_libraries = {
        name: (list(lib.handlers), lib.propagate)
        for name, lib in ((name, logging.getLogger(name)) for name in LIBRARY_LOGGERS)
    }
    yield
    for handler in root.handlers:
        if handler not in saved_root[0]:
            handler.close()
    root.handlers[:] = saved_root[0]
    root.setLevel(saved_root[1])
    for name, (handlers, propagate) in saved_libraries.items():
        lib = logging.getLogger(name)
        lib.handlers[:] = handlers
        lib.propagate = propagate


# A small Hydra app: a primary config that picks one option from each of two groups, plus a
# nested group and Hydra's own groups (which --help leaves out).
CONFIG_FILES = {
    "train.yaml": """\
        # Primary config of the test app.
        defaults:
          - model: small
          - data: digits
          - _self_

        seed: 7  # the run's seed
        trainer:
          max_epochs: 2
        """,
    "model/small.yaml": "name: small\nlr: 0.01\n",
    "model/large.yaml": "name: large\nlr: 0.5\n",
    "model/encoder/cnn.yaml": "kind: cnn\n",
    "model/encoder/mlp.yaml": "kind: mlp\n",
    "data/digits.yaml": "name: digits\nbatch_size: 32\n",
    "data/iris.yaml": "name: iris\nbatch_size: 8\n",
    "data/README.md": "Not a config: ignored.\n",
    "hydra/job_logging/quiet.yaml": "version: 1\n",
    "hydra/launcher/local.yaml": "n_jobs: 1\n",
}
EXPECTED_GROUPS = {
    "data": ["digits", "iris"],
    "model": ["large", "small"],
    "model/encoder": ["cnn", "mlp"],
}

TASK_MODULE = '''\
"""Train the test app on the chosen data.

This second paragraph is left out of --help.
"""

from mlcore.entrypoint import hydra_main


@hydra_main(config_path="configs", config_name="train")
def main(cfg):
    """Print a few composed values so the test can see that Hydra ran the task."""
    print(f"TASK RAN model={cfg.model.name} lr={cfg.model.lr} data={cfg.data.name} "
          f"epochs={cfg.trainer.max_epochs} seed={cfg.seed}")


if __name__ == "__main__":
    main()
'''


def write_config_dir(config_dir: Path) -> Path:
    """Write CONFIG_FILES under config_dir and return it."""
    for relative, text in CONFIG_FILES.items():
        path = config_dir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return config_dir


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    """A fresh Hydra config directory (see CONFIG_FILES)."""
    return write_config_dir(tmp_path / "configs")


@pytest.fixture
def expected_groups() -> dict[str, list[str]]:
    """The groups and options that config_groups should find in `config_dir`."""
    return {group: list(options) for group, options in EXPECTED_GROUPS.items()}


@pytest.fixture(scope="module")
def hydra_app(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory with `mltask.py` (decorated with hydra_main) next to its `configs/`."""
    app = tmp_path_factory.mktemp("app")
    write_config_dir(app / "configs")
    (app / "mltask.py").write_text(TASK_MODULE)
    return app


@pytest.fixture(scope="session")
def mlflow_tracking_uri(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A SQLite MLflow tracking store, created once per session (its migrations take seconds)."""
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"
    MlflowClient(uri).search_experiments()  # creates the tables
    return uri


# -- mlcore.data: a real S3-compatible server (tests/servers.py, the `moto_server` fixture of
# tests/conftest.py), and the same tests on local files and on S3 ------------------------------


@pytest.fixture
def s3_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Credentials for moto in the environment, as a user's shell would have them. (fsspec keeps
    S3 file systems with the credentials they were made with: a test that changes them clears
    `s3fs.S3FileSystem`'s instance cache, see fresh_s3.)"""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    for name, value in S3_ENV.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def fresh_s3(s3_env: None) -> Iterator[None]:
    """S3 file systems made anew for this test and forgotten after it."""
    import s3fs

    s3fs.S3FileSystem.clear_instance_cache()
    yield
    s3fs.S3FileSystem.clear_instance_cache()


@dataclass
class Backend:
    """Where a test's datasets live: a local folder or a fresh S3 bucket."""

    name: str
    base: str
    root: Path
    server: MotoServer | None = None

    @property
    def storage_options(self) -> dict[str, str]:
        # The endpoint reaches the catalog through an environment variable, as a bucket would.
        return {"endpoint_url": "${oc.env:MLCORE_TEST_S3_ENDPOINT}"} if self.server else {}

    def entry(self, file: str, **fields: object) -> dict[str, object]:
        entry: dict[str, object] = {"uri": f"{self.base}/{file}", **fields}
        if self.storage_options:
            entry["storage_options"] = {
                **self.storage_options,
                **dict(fields.get("storage_options") or {}),
            }  # type: ignore[arg-type]
        return entry

    def catalog(self, **entries: dict[str, object]) -> Catalog:
        return Catalog.from_dict({"datasets": entries}, root=self.root)

    def fs(self) -> Any:
        """The backend's fsspec file system."""
        import fsspec

        if self.server:
            return fsspec.filesystem("s3", endpoint_url=self.server.url)
        return fsspec.filesystem("file")

    def listing(self) -> list[str]:
        """Every name under base, hidden ones included."""
        fs = self.fs()
        return sorted(path.rsplit("/", 1)[-1] for path in fs.ls(self.base, detail=False))


@pytest.fixture
def data_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A cache folder of the test's own for remote files."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("MLCORE_DATA_CACHE", str(cache))
    return cache


@pytest.fixture(params=["local", "s3"])
def backend(request: pytest.FixtureRequest, tmp_path: Path, data_cache: Path) -> Backend:
    """The same test on local files and on S3 (moto)."""
    if request.param == "local":
        store = tmp_path / "store"
        store.mkdir()
        return Backend("local", str(store), tmp_path)
    import uuid

    server = request.getfixturevalue("moto_server")
    request.getfixturevalue("s3_env")
    monkeypatch = request.getfixturevalue("monkeypatch")
    monkeypatch.setenv("MLCORE_TEST_S3_ENDPOINT", server.url)
    bucket = f"test-{uuid.uuid4().hex[:12]}"
    backend = Backend("s3", f"s3://{bucket}", tmp_path, server)
    backend.fs().mkdir(bucket)
    return backend
