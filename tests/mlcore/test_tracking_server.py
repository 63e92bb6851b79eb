"""Talking to an MLflow server: bounded retries, outages told apart from answers, the promotion
lock. Against real clients: a closed port on 127.0.0.1 is a server that is down, the session's
SQLite store a registry that answers. (The real server: tests/template/test_team_server.py.)"""

from __future__ import annotations

import socket
import time
import uuid

import pytest
import torch
from mlflow.entities import Metric, ViewType
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from mlcore.mlflow_store import RETRY_DEFAULTS, bounded_retries
from mlcore.mlflow_store import client as connect
from mlcore.registry import Gate, PromotionLockedError, ServerUnavailableError, promote, rollback
from mlcore.registry.cli import main as registry_main
from mlcore.registry.lock import HOLDER_TAG, lock_name, promotion_lock
from mlcore.tracking.callbacks import MlflowTracking
from mlcore.tracking.server import OutageGuard, TrackingUnavailableError
from tests.servers import free_port

QUICK = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "0"}


@pytest.fixture
def down(monkeypatch: pytest.MonkeyPatch) -> str:
    """The URI of a server that is not there (a port nobody listens on), quick retries."""
    for key, value in QUICK.items():
        monkeypatch.setenv(key, value)
    return f"http://127.0.0.1:{free_port()}"


def test_bounded_retries_fill_in_only_what_the_environment_leaves_unset() -> None:
    environ = {"MLFLOW_HTTP_REQUEST_TIMEOUT": "5"}
    bounded_retries(environ)
    assert environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] == "5"
    assert (
        environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"]
        == RETRY_DEFAULTS["MLFLOW_HTTP_REQUEST_MAX_RETRIES"]
    )
    assert int(RETRY_DEFAULTS["MLFLOW_HTTP_REQUEST_MAX_RETRIES"]) < 7, "below MLflow's default"


def test_registry_on_a_server_that_is_down_fails_in_one_line_after_mlflows_retries(
    down: str,
) -> None:
    started = time.monotonic()
    with pytest.raises(ServerUnavailableError) as raised:
        promote("digits", Gate(), tracking_uri=down)
    assert time.monotonic() - started < 20
    message = str(raised.value)
    assert message.startswith(f"could not promote a version of model 'digits': the MLflow "
                              f"tracking server {down} did not answer after MLflow's retries (1 "
                              "retries")  # fmt: skip
    assert "MLFLOW_HTTP_REQUEST_MAX_RETRIES" in message and "Is it running" in message
    assert "\n" not in message


def test_registry_cli_reports_a_server_that_is_down(
    down: str, capsys: pytest.CaptureFixture[str], tmp_path, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert registry_main(["rollback", "--name", "digits", "--tracking-uri", down]) == 1
    assert f"error: could not roll back model 'digits': the MLflow tracking server {down}" in (
        capsys.readouterr().err
    )


def test_outage_guard_continue_records_what_was_not_logged(down: str) -> None:
    guard = OutageGuard(MlflowClient(down), "continue", down)
    metrics = [Metric("val/acc", 0.9, 0, 3), Metric("val/loss", 0.2, 0, 3)]
    assert guard.log_batch(run_id="r", metrics=metrics) is None
    assert guard.down
    started = time.monotonic()
    guard.log_batch(run_id="r", metrics=[Metric("val/acc", 0.91, 0, 4)])
    guard.get_run("r")  # a read: nothing lost
    guard.log_text("r", "text", "config/config.yaml")
    assert time.monotonic() - started < 0.5, "once down, nothing more is sent"
    summary = guard.summary()
    assert summary.startswith("MLflow was unreachable from 20")
    assert f"({down}); not logged: metrics val/acc, val/loss at 1 step(s) (3 to 3)" in summary
    assert "metrics val/acc at 1 step(s) (4 to 4)" in summary
    assert "artifact config/config.yaml" in summary and "get run" not in summary


def test_outage_guard_fail_stops_with_the_server_and_the_way_out(down: str) -> None:
    guard = OutageGuard(MlflowClient(down), "fail", down)
    with pytest.raises(TrackingUnavailableError) as raised:
        guard.log_batch(run_id="r", metrics=[Metric("train/loss", 1.0, 0, 0)])
    message = str(raised.value)
    assert f"the MLflow tracking server {down} did not answer" in message
    assert "Training stopped (tracking.on_outage=fail)" in message
    assert "Set tracking.on_outage=continue" in message
    assert guard.log_batch(run_id="r", metrics=[]) is None, "raised once, then quiet"


def test_outage_guard_passes_the_servers_answers_through(mlflow_tracking_uri: str) -> None:
    guard = OutageGuard(MlflowClient(mlflow_tracking_uri), "continue", mlflow_tracking_uri)
    with pytest.raises(MlflowException):
        guard.get_run("0" * 32)  # an answer (no such run), not an outage
    assert not guard.down and guard.summary() == ""


def test_on_outage_accepts_fail_or_continue_only() -> None:
    assert MlflowTracking(on_outage="continue").on_outage == "continue"
    with pytest.raises(
        ValueError, match=r"tracking\.on_outage must be fail or continue, not 'retry'"
    ):
        MlflowTracking(on_outage="retry")


def test_a_held_lock_makes_others_wait_then_fail_naming_holder_and_unlock(
    mlflow_tracking_uri: str, capsys: pytest.CaptureFixture[str], tmp_path, monkeypatch
) -> None:
    name = f"locked-{uuid.uuid4().hex[:8]}"
    client = connect(mlflow_tracking_uri)
    client.create_registered_model(name)
    with promotion_lock(client, name):
        started = time.monotonic()
        with pytest.raises(PromotionLockedError) as raised:
            rollback(name, tracking_uri=mlflow_tracking_uri, wait=0.3)
        assert 0.3 <= time.monotonic() - started < 5
    assert f"another promotion or rollback of '{name}' holds its lock" in str(raised.value)
    assert " pid " in str(raised.value)
    assert f"`mlcore registry unlock --name {name}`" in str(raised.value)
    # Released: the name is free, the experiment renamed and deleted (hidden until `mlflow gc`).
    assert client.get_experiment_by_name(lock_name(name)) is None
    (released,) = client.search_experiments(
        ViewType.DELETED_ONLY, filter_string=f"name LIKE '{lock_name(name)}.released-%'"
    )
    assert released.tags[HOLDER_TAG].startswith(socket.gethostname())

    client.create_experiment(lock_name(name))  # what a killed promotion leaves
    monkeypatch.chdir(tmp_path)
    args = ["unlock", "--name", name, "--tracking-uri", mlflow_tracking_uri]
    assert registry_main(args) == 0
    assert f"Removed {lock_name(name)}" in capsys.readouterr().out
    assert registry_main(args) == 0
    assert f"{name} was not locked" in capsys.readouterr().out

    # Deleted by hand in the MLflow UI instead: MLflow keeps the name taken by the deleted
    # experiment, so no promotion could ever take the lock; unlock frees it all the same.
    client.delete_experiment(client.create_experiment(lock_name(name)))
    with pytest.raises(PromotionLockedError):
        rollback(name, tracking_uri=mlflow_tracking_uri, wait=0.1)
    assert registry_main(args) == 0
    assert f"Removed {lock_name(name)}" in capsys.readouterr().out
    with promotion_lock(client, name, wait=1):
        pass


@pytest.mark.parametrize("policy", ["fail", "continue"])
def test_a_server_down_before_training_stops_it_or_trains_untracked(
    policy: str, down: str, tmp_path
) -> None:
    from lightning.pytorch import Trainer
    from lightning.pytorch.loggers import MLFlowLogger

    from mlcore.tracking.callbacks import MlflowTracking

    logger = MLFlowLogger(experiment_name="down", tracking_uri=down)
    tracking = MlflowTracking(root_dir=".", on_outage=policy, system_metrics=False)
    trainer = Trainer(logger=[logger], callbacks=[tracking], default_root_dir=tmp_path,
                      enable_progress_bar=False)  # fmt: skip
    model = torch.nn.Linear(1, 1)  # setup reads nothing of the module
    if policy == "fail":
        with pytest.raises(TrackingUnavailableError, match=r"Nothing was trained \(tracking"):
            tracking.setup(trainer, model, "fit")  # type: ignore[arg-type]
        return
    tracking.setup(trainer, model, "fit")  # type: ignore[arg-type]
    assert tracking.logger is None and trainer.loggers == [], "training goes on without MLflow"
