"""Shared fixtures for the mlcore unit tests: subprocess runs, logging isolation, Hydra configs."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

import pytest

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
