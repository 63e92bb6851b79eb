"""Shared helpers for every test layer."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import pytest

from tests.servers import MlflowServer, MotoServer, Postgres, start_moto_server, start_postgres

REPO = Path(__file__).resolve().parents[1]

# Under `make test` pytest is a sub-make's child: Make's exported MAKELEVEL and MAKEFLAGS would turn
# every `make` a test runs into a sub-make too (printing "Entering directory", inheriting flags).
# Tests run make as a user types it.
for _name in ("MAKELEVEL", "MAKEFLAGS", "MFLAGS", "MAKEOVERRIDES"):
    os.environ.pop(_name, None)


def pytest_configure(config: pytest.Config) -> None:
    """Library warnings no test causes stay out of the summary (mlcore.logging lists them)."""
    from mlcore.logging import pytest_warning_filters

    for line in pytest_warning_filters():
        config.addinivalue_line("filterwarnings", line)


def _restored_environment() -> Iterator[None]:
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture(autouse=True)
def _restore_environment() -> Iterator[None]:
    """Undo what a test leaves in os.environ.

    Lightning's MLFlowLogger calls mlflow.set_tracking_uri, which exports MLFLOW_TRACKING_URI;
    left behind, it sends later tests' subprocesses to that test's throwaway store.
    """
    yield from _restored_environment()


@pytest.fixture(autouse=True, scope="module")
def _restore_environment_after_module() -> Iterator[None]:
    """The same for module-scoped fixtures (a model trained once per module): set up before the
    per-test fixture saves os.environ, what they export would otherwise outlive their module
    and reach every later test file on the same worker (seen: `make smoke` logging to another
    module's store)."""
    yield from _restored_environment()


def require_kustomize() -> None:
    """Skip without kustomize or kubectl, except on CI, where .ci/run installs one."""
    if shutil.which("kustomize") or shutil.which("kubectl"):
        return
    if os.environ.get("CI") == "true":
        pytest.fail("neither kustomize nor kubectl is on PATH on CI: .ci/run installs one")
    pytest.skip("no kustomize or kubectl: see .ci/run to install one")


# The upstream CRDs (KServe v0.20.0 InferenceService, training-operator 1.9 PyTorchJob) beside the
# checkout: the tests validate custom resources against them, offline.
SHARED_CRDS = REPO.parent / "shared" / "crds"


def require_crds() -> Path:
    """The folder of upstream CRDs; skip without it, except on CI, where it must be there."""
    if sorted(SHARED_CRDS.glob("*.yaml")):
        return SHARED_CRDS
    if os.environ.get("CI") == "true":
        pytest.fail(f"the upstream CRDs are missing on CI: {SHARED_CRDS} (see its README)")
    pytest.skip(f"no upstream CRDs in {SHARED_CRDS}")


def run(
    command: Sequence[str | os.PathLike[str]],
    cwd: Path,
    env: Mapping[str, str] | None = None,
    timeout: float = 600,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run a command; on failure (with check), raise with its whole output so the test report
    shows why."""
    result = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"`{' '.join(map(str, command))}` in {cwd} exited {result.returncode}\n"
            f"--- stdout ---\n{result.stdout[-6000:]}\n--- stderr ---\n{result.stderr[-6000:]}"
        )
    return result


# -- Servers, each started once per test process (session) and stopped at its end ---------------


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    """moto's S3 server on 127.0.0.1."""
    server = start_moto_server(tmp_path_factory.mktemp("moto"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """A throwaway PostgreSQL cluster on 127.0.0.1. Skipped where PostgreSQL is not installed,
    except on CI (CI=true), where .ci/run installs it and these tests must run."""
    # Not under pytest's basetemp: that is private to this user, and PostgreSQL runs as `postgres`
    # when the tests run as root.
    folder = Path(tempfile.mkdtemp(prefix="postgres-"))
    folder.chmod(0o755)
    try:
        server = start_postgres(folder)
    except FileNotFoundError:
        shutil.rmtree(folder, ignore_errors=True)
        if os.environ.get("CI") == "true":
            pytest.fail("PostgreSQL (initdb, pg_ctl) is missing on CI: .ci/run installs it")
        pytest.skip(
            "PostgreSQL is not installed (no initdb/pg_ctl on PATH or in /usr/lib/postgresql): "
            "`apt-get install postgresql` to run the team MLflow server tests; CI always runs them"
        )
    yield server
    server.stop()
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def mlflow_server(
    tmp_path_factory: pytest.TempPathFactory, postgres: Postgres, moto_server: MotoServer
) -> Iterator[MlflowServer]:
    """The team MLflow server of deploy/mlflow/ (basic-auth, PostgreSQL, artifacts on S3), with
    the users `trainer` and `reader`. Tests that stop it restart it (`ensure_running`)."""
    from tests.servers import start_mlflow_server

    server = start_mlflow_server(tmp_path_factory.mktemp("mlflow-server"), postgres, moto_server)
    server.add_users()
    yield server
    server.stop()
