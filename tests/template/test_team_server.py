"""The team's MLflow server, for real: `mlflow server --app-name basic-auth` as the generated
deploy/mlflow/ runs it, on PostgreSQL, with artifacts on an S3 server (moto), started once for
this file (tests/conftest.py: `mlflow_server`).

- A generated project moves to it with MLFLOW_TRACKING_URI and a user's credentials only:
  train -> candidate -> promote -> load.
- A read-only user loads models, and is refused registering and promoting with a clear error.
- Several processes register and promote at once: the end state obeys the gate.
- The server stopped mid-training: `tracking.on_outage=fail` stops with a clear error,
  `continue` finishes and says what was not logged.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlcore.registry.store import aliases_of
from tests.conftest import REPO
from tests.servers import MlflowServer, environment
from tests.template.conftest import SHARED_ENV, editable_location, render

pytestmark = [pytest.mark.slow]

ANSWERS = {"project_name": "Team Server Demo"}
SLUG, PACKAGE = "team-server-demo", "team_server_demo"
GATE_FLOOR = 0.9


@pytest.fixture
def server(mlflow_server: MlflowServer) -> MlflowServer:
    """The session's server, started again if a test stopped it."""
    mlflow_server.ensure_running()
    return mlflow_server


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A generated project set up in the shared environment (uninstalled afterwards)."""
    project = render(tmp_path_factory.mktemp("team") / SLUG, ANSWERS)
    previous = editable_location(SLUG)
    make(project, "setup", env={})
    yield project
    pip = [sys.executable, "-m", "pip", "--quiet"]
    if previous and Path(previous).is_dir():
        command = [*pip, "install", "--no-deps", "--no-build-isolation", "-e", previous]
    else:
        command = [*pip, "uninstall", "--yes", SLUG]
    subprocess.run(command, cwd=project, check=True, capture_output=True)


def make(
    project: Path, *targets: str, env: dict[str, str], check: bool = True, args: str = ""
) -> subprocess.CompletedProcess[str]:
    """A Makefile target of the project with `env` added (a server's URI and a user)."""
    command = ["make", *targets, *SHARED_ENV, *([f"ARGS={args}"] if args else [])]
    return run_in(project, command, env, check)


def run_in(
    cwd: Path, command: list[str], env: dict[str, str], check: bool = True
) -> subprocess.CompletedProcess[str]:
    import os

    clean = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    result = subprocess.run(
        command, cwd=cwd, env={**clean, **env}, capture_output=True, text=True, timeout=600
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"{command} exited {result.returncode}\n"
            f"{result.stdout[-5000:]}\n{result.stderr[-5000:]}"
        )
    return result


def client(server: MlflowServer, user: str = "trainer"):  # type: ignore[no-untyped-def]
    from mlflow import MlflowClient

    with environment(server.client_env(user)):
        return MlflowClient(server.url)


def output(result: subprocess.CompletedProcess[str]) -> str:
    return result.stdout + result.stderr


# -- The full path from a generated project ------------------------------------------------------


def test_generated_project_trains_promotes_and_loads_on_the_team_server(
    server: MlflowServer, project: Path
) -> None:
    trainer = server.client_env("trainer")
    trained = output(make(project, "train", env=trainer))
    assert f"MLflow tracking store: {server.url}" in trained
    assert f"Registered {SLUG} version 1 as candidate" in trained

    # A read-only user may not promote the candidate, and is told so in one line.
    reader = server.client_env("reader")
    refused = make(project, "promote", env=reader, check=False)
    assert refused.returncode != 0
    assert "mlcore registry: error: " in refused.stderr
    assert (
        f"user 'reader' may not promote a version of model '{SLUG}' on {server.url}: "
        "the server refused (403 permission denied)"
    ) in refused.stderr
    assert "ask an MLflow admin for EDIT permission" in refused.stderr
    assert "Traceback" not in refused.stderr
    promoted = output(make(project, "promote", env=trainer))
    assert f"Promoted {SLUG} v1 to champion (was none)" in promoted

    with environment(trainer):
        from mlflow import MlflowClient

        registry = MlflowClient(server.url)
        version = registry.get_model_version_by_alias(SLUG, "champion")
        run = registry.get_run(version.run_id)
        artifacts = registry.list_artifacts(run.info.run_id)
    assert run.data.metrics["test/accuracy"] >= GATE_FLOOR
    assert run.data.tags["mlcore.registry.version"] == f"{SLUG}/1"
    # Artifacts went through the server to S3 (the client has no S3 credentials).
    assert {a.path for a in artifacts} >= {"config", "model_card"}
    assert version.source.startswith("models:/m-")
    assert not any(k.startswith("AWS_") for k in trainer)

    # The read-only user loads the champion and predicts.
    loaded = run_in(
        project,
        [
            sys.executable,
            "-c",
            "import numpy as np; from mlcore.registry import load; "
            f"print('PREDICTED', load('{SLUG}', 'champion').predict("
            "np.zeros((3, 64), dtype=np.float32)).shape)",
        ],
        reader,
    )
    assert "PREDICTED (3, 10)" in loaded.stdout

    with environment(trainer):
        champion = MlflowClient(server.url).get_registered_model(SLUG)
    assert aliases_of(champion) == {"candidate": "1", "champion": "1"}
    assert not _locks(server), "a refused promotion leaves no lock behind"


def _locks(server: MlflowServer) -> list[str]:
    with environment(server.client_env("trainer")):
        from mlflow import MlflowClient

        found = MlflowClient(server.url).search_registered_models()
    return [m.name for m in found if m.name.endswith(".promotion-lock")]


# -- Permissions and faults through the mlcore API ------------------------------------------------


@pytest.fixture(scope="module")
def logged_model(mlflow_server: MlflowServer) -> str:
    """A small pyfunc model in a run of the trainer's (the versions below share it)."""
    import mlflow

    mlflow_server.ensure_running()
    with environment(mlflow_server.client_env("trainer")):
        mlflow.set_tracking_uri(mlflow_server.url)
        mlflow.set_experiment(f"team-{uuid.uuid4().hex[:8]}")
        with mlflow.start_run():
            info = mlflow.pyfunc.log_model(
                name="model", python_model=_identity_model(), pip_requirements=["mlflow"]
            )
        mlflow.set_tracking_uri(None)
    return str(info.model_uri)


def _identity_model() -> object:
    import mlflow.pyfunc

    class Identity(mlflow.pyfunc.PythonModel):
        def predict(self, context, model_input, params=None):  # type: ignore[no-untyped-def]
            return model_input

    return Identity()


def _runs_with_accuracy(
    server: MlflowServer, accuracies: list[float], digest: str, editors: tuple[str, ...] = ()
) -> list[str]:
    """Runs of the trainer's with `test/accuracy` values and one evaluation digest, in an experiment
    that `editors` may edit too (registering writes the model card into the run)."""
    from mlflow.entities import Metric, RunTag

    registry = client(server)
    with environment(server.client_env("trainer")):
        experiment = registry.create_experiment(f"team-{uuid.uuid4().hex[:8]}")
        ids = []
        for accuracy in accuracies:
            run = registry.create_run(experiment)
            registry.log_batch(
                run.info.run_id,
                metrics=[Metric("test/accuracy", accuracy, 0, 0)],
                tags=[RunTag("mlcore.eval.digest", digest)],
            )
            ids.append(run.info.run_id)
    with environment(server.client_env(server.admin[0])):
        for user in editors:
            server.admin_client().grant_user_permission(user, "experiment", experiment, "EDIT")
    return ids


CONTENDER = textwrap.dedent(
    """\
    import sys, time
    from mlcore.registry import Gate, RegistryError, promote, register

    run_id, name, model_uri = sys.argv[1:4]
    register_at, promote_at = float(sys.argv[4]), float(sys.argv[5])
    time.sleep(max(0.0, register_at - time.time()))  # every contender registers at once,
    version = register(run_id, name, model_uri=model_uri).version
    time.sleep(max(0.0, promote_at - time.time()))  # then every contender promotes at once
    try:
        done = promote(name, Gate(floor={floor}), version=version)
        print("PROMOTED", version, done.previous)
    except RegistryError as error:
        print("REFUSED", version, type(error).__name__, error)
    """
).format(floor=GATE_FLOOR)


def test_concurrent_registrations_and_promotions_obey_the_gate(
    server: MlflowServer, logged_model: str, tmp_path: Path
) -> None:
    name = f"race-{uuid.uuid4().hex[:8]}"
    accuracies = [0.93, 0.97, 0.91, 0.95, 0.85]
    runs = _runs_with_accuracy(server, accuracies, digest="same-test-split", editors=("bob",))
    # The model exists before the race, so the admin can grant `bob` EDIT on it (as the generated
    # README shows); contenders alternate between `trainer` (its manager) and `bob`.
    registry = client(server)
    with environment(server.client_env("trainer")):
        registry.create_registered_model(name)
    with environment(server.client_env(server.admin[0])):
        server.admin_client().grant_user_permission("bob", "registered_model", name, "EDIT")

    script = tmp_path / "contender.py"
    script.write_text(CONTENDER)
    # Registering at once: after every contender has imported mlflow. Promoting at once: after
    # every registration (they take turns on the alias), so that the promotions really collide.
    register_at = time.time() + 8
    promote_at = register_at + 12
    contenders = [
        subprocess.Popen(
            [sys.executable, script, run_id, name, logged_model, f"{register_at}", f"{promote_at}"],
            env={**_without_mlflow_env(), **server.client_env(("trainer", "bob")[i % 2])},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i, run_id in enumerate(runs)
    ]
    results = [process.communicate(timeout=300) for process in contenders]
    for process, (_, stderr) in zip(contenders, results, strict=True):
        assert process.returncode == 0, stderr[-3000:]
    lines = [stdout.strip() for stdout, _ in results]
    assert all(line.startswith(("PROMOTED", "REFUSED")) for line in lines), lines
    refusals = [line for line in lines if line.startswith("REFUSED")]
    assert all("PromotionRefusedError" in line for line in refusals), refusals

    with environment(server.client_env("trainer")):
        model = registry.get_registered_model(name)
        versions = registry.search_model_versions(f"name='{name}'")
        accuracy = {
            v.version: registry.get_run(v.run_id).data.metrics["test/accuracy"] for v in versions
        }
    assert len(versions) == len(accuracies), "every contender registered its version"
    newest = str(max(int(v.version) for v in versions))
    assert aliases_of(model)["candidate"] == newest, "candidate moves only forward"
    champion = aliases_of(model)["champion"]
    assert accuracy[champion] == max(accuracies), f"the best version is champion: {lines}"
    history = json.loads(model.tags["mlcore.champion.history"])
    assert history[-1] == champion
    assert len(set(history)) == len(history)
    steps = [accuracy[v] for v in history]
    assert steps == sorted(steps), f"each champion beat the one before it: {steps}"
    assert min(steps) >= GATE_FLOOR
    promoted = {line.split()[1] for line in lines if line.startswith("PROMOTED")}
    assert promoted == set(history), "every promotion is in the history, in order"
    assert not _locks(server)


def test_a_release_never_touches_the_next_holders_lock(server: MlflowServer) -> None:
    """The interleaving that made a lock named by a registered model unsafe under basic auth:
    the holder's release has freed the lock's name when another user takes the lock, and only
    then finishes (with registered models, that finish swept the new holder's grant, and the
    new holder could no longer remove its own lock). The new holder releases as usual."""
    from mlcore.registry.lock import lock_name, promotion_lock

    name = f"handover-{uuid.uuid4().hex[:8]}"
    trainer, bob = client(server, "trainer"), client(server, "bob")
    bobs_lock = promotion_lock(bob, name, wait=5)
    finish_release = trainer.delete_experiment
    released = []

    def bob_takes_over_first(experiment_id: str) -> None:
        with environment(server.client_env("bob")):
            bobs_lock.__enter__()  # the name is free: bob holds the lock now
        released.append(experiment_id)
        finish_release(experiment_id)

    with environment(server.client_env("trainer")):
        with promotion_lock(trainer, name, wait=5):
            trainer.delete_experiment = bob_takes_over_first  # type: ignore[method-assign]
        held = trainer.get_experiment_by_name(lock_name(name))
        assert held is not None and [held.experiment_id] != released
    with environment(server.client_env("bob")):
        bobs_lock.__exit__(None, None, None)
        assert bob.get_experiment_by_name(lock_name(name)) is None


def test_read_only_user_loads_but_is_refused_register_and_promote(
    server: MlflowServer, logged_model: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlcore.registry import (
        Gate,
        NotAuthenticatedError,
        PermissionDeniedError,
        load,
        promote,
        register,
    )

    name = f"guarded-{uuid.uuid4().hex[:8]}"
    [run_id] = _runs_with_accuracy(server, [0.95], digest="d")
    for key, value in server.client_env("trainer").items():
        monkeypatch.setenv(key, value)
    register(run_id, name, model_uri=logged_model, tracking_uri=server.url)

    for key, value in server.client_env("reader").items():
        monkeypatch.setenv(key, value)
    assert load(name, "candidate", tracking_uri=server.url).predict([[1.0, 2.0]]) is not None
    with pytest.raises(PermissionDeniedError, match=r"user 'reader' may not register"):
        register(run_id, name, model_uri=logged_model, tracking_uri=server.url)
    with pytest.raises(PermissionDeniedError, match=r"user 'reader' may not promote .* EDIT"):
        promote(name, Gate(floor=GATE_FLOOR), tracking_uri=server.url)
    assert not _locks(server)

    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "not-the-password")
    with pytest.raises(NotAuthenticatedError, match="MLFLOW_TRACKING_PASSWORD"):
        promote(name, Gate(), tracking_uri=server.url)


# -- The server stopped mid-training -----------------------------------------------------------


def test_training_through_an_outage_fails_or_continues_as_configured(
    server: MlflowServer, project: Path
) -> None:
    trainer = {**server.client_env("trainer"), "PYTHONPATH": str(REPO / "tests" / "injected")}
    registry = client(server)
    with environment(trainer):
        before = len(registry.search_model_versions(f"name='{SLUG}'"))

    def train(policy: str) -> subprocess.CompletedProcess[str]:
        assert server.process is not None
        stop = (
            "+callbacks.stop_server._target_=outage_callback.StopServer "
            f"+callbacks.stop_server.pid={server.process.pid} "
            f"+callbacks.stop_server.port={server.port} "
        )
        args = f"{stop}tracking.on_outage={policy} callbacks.early_stopping=null"
        return make(project, "train", env=trainer, args=args, check=False)

    continued = train("continue")
    text = output(continued)
    assert continued.returncode == 0, text[-5000:]
    assert "Stopped the MLflow server at the end of epoch 1" in text
    assert "Training goes on without it (tracking.on_outage=continue)" in text
    summary = re.search(r"MLflow was unreachable from \S+ \(\S+\); not logged: (.*)", text)
    assert summary, text[-5000:]
    assert "metrics" in summary.group(1)
    assert "the model and its registration as candidate" in summary.group(1)
    assert "the run's end status" in summary.group(1)
    assert "test/accuracy = " in text, "training and testing finished"

    server.ensure_running()
    with environment(trainer):
        versions = registry.search_model_versions(f"name='{SLUG}'")
        experiment = registry.get_experiment_by_name(SLUG)
        [run] = registry.search_runs(
            [experiment.experiment_id], order_by=["start_time DESC"], max_results=1
        )
        history = registry.get_metric_history(run.info.run_id, "val/loss")
    assert len(versions) == before, "nothing was registered during the outage"
    assert run.info.status == "RUNNING", "the end status never reached the server"
    assert len(history) <= 2, "only the epochs before the outage reached the server"

    failed = train("fail")
    text = output(failed)
    assert failed.returncode != 0
    assert f"the MLflow tracking server {server.url} did not answer after MLflow's retries" in text
    assert "Training stopped (tracking.on_outage=fail)" in text
    assert "Set tracking.on_outage=continue to train through an outage" in text
    assert "test/accuracy = " not in text, "training stopped at the outage"


def _without_mlflow_env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
