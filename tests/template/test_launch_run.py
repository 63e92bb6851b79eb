"""The generated project trained through `mlcore launch` for real: DDP with 2 CPU processes on gloo
(torchrun), and a 2-task job on a one-node SLURM cluster started by the tests.

Rank-zero effects (the MLflow run, the registered model, the checkpoint directory, the log lines)
happen once; the DDP result matches a single process's within TOLERANCE.

Preemption, for real: a SIGTERM mid-epoch stops training with a checkpoint and exit code 143, and
the restarted run (`resume=auto`) continues the same MLflow run with its recorded config; torchrun
restarts a preempted worker (`launcher.max_restarts`); SLURM's USR1 makes Lightning requeue the
job, which resumes. The signal is sent by a callback injected into the run (tests/injected/), at a
known batch, so each test trains a few batches only.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
import yaml
from mlflow import MlflowClient

from tests import slurm_cluster
from tests.conftest import REPO, run
from tests.template.conftest import editable_location, example_answers, make, render

pytestmark = pytest.mark.slow

# Test accuracy of DDP (2 processes x 32 examples a step) against one process (64 a step): the
# same data and optimisation, but other samples per step and other dropout draws.
TOLERANCE = 0.03
EPOCHS = ["trainer.max_epochs=5", "callbacks.early_stopping=null", "tracking.system_metrics=false"]
PYTHON = sys.executable


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The example project, installed into the shared environment for this module."""
    root = tmp_path_factory.mktemp("launched")
    project = render(root / "digits", example_answers("digits-classifier"))
    slug = yaml.safe_load((project / ".copier-answers.yml").read_text())["project_slug"]
    previous = editable_location(slug)
    make(project, "setup")
    yield project
    pip = [PYTHON, "-m", "pip", "--quiet"]
    if previous and Path(previous).is_dir():
        run([*pip, "install", "--no-deps", "--no-build-isolation", "-e", previous], root)
    else:
        run([*pip, "uninstall", "--yes", slug], cwd=root)


def launch(project: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, "-m", "mlcore", "launch", *args],
        cwd=project, env={**os.environ, **env}, capture_output=True, text=True, timeout=600,
    )  # fmt: skip


def test_acc(output: str) -> float:
    found = re.findall(r"test/accuracy = ([0-9.]+)", output)
    assert len(found) == 1, f"test/accuracy reported {len(found)} times:\n{output[-3000:]}"
    return float(found[0])


test_acc.__test__ = False  # type: ignore[attr-defined]  # a helper, not a test


def one_run(tracking_uri: str, registered: int = 1) -> object:
    client = MlflowClient(tracking_uri)
    experiments = [e.experiment_id for e in client.search_experiments()]
    runs = client.search_runs(experiments)
    assert len(runs) == 1, f"{len(runs)} MLflow runs, expected one"
    assert runs[0].info.status == "FINISHED"
    versions = client.search_model_versions()
    assert len(versions) == registered, f"{len(versions)} registered versions, not {registered}"
    assert all(version.run_id == runs[0].info.run_id for version in versions)
    return runs[0]


def test_ddp_on_two_cpu_processes_matches_one_process(project: Path, tmp_path: Path) -> None:
    single = run(
        [PYTHON, "-m", "digits_classifier.train", "trainer=cpu", "logger=csv", *EPOCHS],
        cwd=project, env={"MLCORE_RUN_NAME": "single"},
    )  # fmt: skip
    store = f"sqlite:///{tmp_path / 'ddp.db'}"
    runs_before = set((project / "logs" / "train" / "runs").iterdir())
    ddp = launch(
        project, "local", "launcher.nproc_per_node=2", "data.batch_size=32", *EPOCHS,
        "registry.register=true", env={"MLFLOW_TRACKING_URI": store},
    )  # fmt: skip
    output = ddp.stdout + ddp.stderr
    assert ddp.returncode == 0, output[-6000:]

    assert "accelerator=cpu, devices=2" in output
    assert output.count("Training DigitsClassifier") == 1  # rank zero logs; rank one only warns
    assert output.count("(models:/digits-classifier@candidate)") == 1
    tagged = one_run(store).data.tags  # type: ignore[attr-defined]
    assert tagged["mlcore.accelerator.world_size"] == "2"
    assert tagged["mlcore.accelerator.devices"] == "2"
    assert tagged["mlcore.accelerator.strategy"] == "DDPStrategy"
    # Both processes wrote into one run directory; checkpoints were written once, by rank zero.
    new = set((project / "logs" / "train" / "runs").iterdir()) - runs_before
    assert len(new) == 1
    checkpoints = sorted(p.name for p in (new.pop() / "checkpoints").iterdir())
    assert len(checkpoints) == 2 and checkpoints[1] == "last.ckpt", checkpoints  # best and last

    alone, together = test_acc(single.stdout + single.stderr), test_acc(output)
    assert alone > 0.9 and together > 0.9
    assert abs(together - alone) <= TOLERANCE, f"DDP {together:.4f} vs one process {alone:.4f}"


@pytest.fixture(scope="module")
def slurm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[slurm_cluster.SlurmCluster]:
    in_ci = os.environ.get("CI") == "true"
    reason = slurm_cluster.unavailable()
    if reason:
        if in_ci:
            pytest.fail(f"SLURM must run in CI: {reason}")
        pytest.skip(f"no SLURM cluster here: {reason}")
    try:
        cluster = slurm_cluster.start(tmp_path_factory.mktemp("slurm"))
    except (OSError, RuntimeError, subprocess.SubprocessError) as error:
        if in_ci:
            raise
        pytest.skip(f"the SLURM cluster did not start here: {error}")
    yield cluster
    cluster.stop()


def test_slurm_job_of_two_tasks_trains_and_logs_once(
    project: Path, slurm: slurm_cluster.SlurmCluster, tmp_path: Path
) -> None:
    store = f"sqlite:///{tmp_path / 'slurm.db'}"
    env = {**slurm.env, "MLFLOW_TRACKING_URI": store}
    args = ["slurm", "launcher.tasks_per_node=2", "launcher.mem_gb=null", "trainer.max_epochs=1",
            "tracking.system_metrics=false"]  # fmt: skip
    script = launch(project, *args, "--dry-run", env=env).stdout
    result = launch(project, *args, "--wait", "300", env=env)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    job = re.search(r"Submitted SLURM job (\d+): (\w+)", output)
    assert job, output
    assert f"SLURM job {job[1]} COMPLETED" in output
    folder = project / "logs" / "slurm" / job[1]
    # What --dry-run printed is what was submitted.
    assert (folder / f"{job[1]}_submission.sh").read_text() == script
    tagged = one_run(store, registered=0).data.tags  # type: ignore[attr-defined]
    assert tagged["mlcore.accelerator.world_size"] == "2"
    logs = [(folder / f"{job[1]}_{task}_log.err").read_text() for task in (0, 1)]
    assert "Trainer: accelerator=cpu, devices=2" in logs[0]
    assert "Training DigitsClassifier" in logs[0] and "Training DigitsClassifier" not in logs[1]


def test_failing_slurm_job_reports_failure_and_log(
    project: Path, slurm: slurm_cluster.SlurmCluster, tmp_path: Path
) -> None:
    env = {**slurm.env, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'failed.db'}"}
    result = launch(
        project, "slurm", "launcher.mem_gb=null", "data.dataset=no_such_dataset", "--wait", "300",
        env=env,
    )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    failed = re.search(r"SLURM job (\d+) FAILED: see (\S+) and (\S+)", result.stderr)
    assert failed, result.stdout + result.stderr
    log = Path(failed[2])
    assert log.is_file() and "no_such_dataset" in log.read_text()


# A few batches a epoch, nothing the resume tests do not read; the callback that preempts.
QUICK = [
    "trainer=cpu", "trainer.max_epochs=2", "+trainer.limit_train_batches=8",
    "+trainer.limit_val_batches=2", "callbacks.early_stopping=null",
    "tracking.system_metrics=false", "tracking.onnx=false",
]  # fmt: skip
PREEMPT = "+callbacks.preempt._target_=preempt_callback.Preempt"
INJECTED = {"PYTHONPATH": str(REPO / "tests" / "injected")}


def train_process(project: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [PYTHON, "-m", "digits_classifier.train", *args],
        cwd=project, env={**os.environ, **INJECTED, **env}, capture_output=True, text=True,
        timeout=600,
    )  # fmt: skip


def the_run(tracking_uri: str) -> object:
    client = MlflowClient(tracking_uri)
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
    assert len(runs) == 1, f"{len(runs)} MLflow runs: a resumed run must continue its own"
    return runs[0]


def val_epochs(tracking_uri: str, run_id: str) -> list[int]:
    """The steps of each validation the run logged, one per epoch."""
    history = MlflowClient(tracking_uri).get_metric_history(run_id, "val/loss")
    return sorted(metric.step for metric in history)


def test_sigterm_mid_epoch_saves_exits_143_and_resumes_the_same_run(
    project: Path, tmp_path: Path
) -> None:
    store = f"sqlite:///{tmp_path / 'preempted.db'}"
    env = {"MLFLOW_TRACKING_URI": store, "MLCORE_RUN_NAME": "preempted"}
    args = [*QUICK, "resume=auto", "registry.register=true", PREEMPT]
    stopped = train_process(project, *args, env=env)
    output = stopped.stdout + stopped.stderr
    assert stopped.returncode == 143, output[-4000:]
    run_dir = project / "logs" / "train" / "runs" / "preempted"
    assert (run_dir / "checkpoints" / "interrupted.ckpt").is_file()
    first = the_run(store)
    assert first.info.status == "FAILED"  # type: ignore[attr-defined]
    assert len(val_epochs(store, first.info.run_id)) == 1  # type: ignore[attr-defined]

    # Today's config differs from the interrupted run's: the resumed run keeps its own.
    model_config = project / "configs" / "model" / "mlp.yaml"
    saved = model_config.read_text()
    model_config.write_text(saved.replace("dropout: 0.1", "dropout: 0.3"))
    try:
        resumed = train_process(project, *args, env=env)
    finally:
        model_config.write_text(saved)
    output = resumed.stdout + resumed.stderr
    assert resumed.returncode == 0, output[-4000:]
    assert "Resuming the run in" in output and "interrupted.ckpt" in output
    run = the_run(store)
    assert run.info.run_id == first.info.run_id  # type: ignore[attr-defined]
    assert run.info.status == "FINISHED"  # type: ignore[attr-defined]
    assert run.data.tags["mlcore.resume.attempt"] == "2"  # type: ignore[attr-defined]
    # Epoch 0 from the first attempt, epoch 1 (resumed mid-epoch) from the second: once each.
    assert len(val_epochs(store, run.info.run_id)) == 2  # type: ignore[attr-defined]
    last = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)
    assert last["epoch"] == 1 and last["hyper_parameters"]["dropout"] == 0.1
    [version] = MlflowClient(store).search_model_versions()
    assert version.run_id == run.info.run_id  # type: ignore[attr-defined]


def test_torchrun_restarts_a_preempted_worker_which_resumes(project: Path, tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'restarted.db'}"
    env = {**INJECTED, "MLFLOW_TRACKING_URI": store, "MLCORE_RUN_NAME": "restarted"}
    result = launch(project, "local", "launcher.max_restarts=1", *QUICK, PREEMPT, env=env)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    assert "Preempting with SIGTERM" in output and "Resuming the run in" in output
    run = the_run(store)
    assert run.info.status == "FINISHED"  # type: ignore[attr-defined]
    assert run.data.tags["mlcore.resume.attempt"] == "2"  # type: ignore[attr-defined]
    assert len(val_epochs(store, run.info.run_id)) == 2  # type: ignore[attr-defined]


def test_slurm_requeues_a_signalled_job_which_resumes(
    project: Path, slurm: slurm_cluster.SlurmCluster, tmp_path: Path
) -> None:
    store = f"sqlite:///{tmp_path / 'requeued.db'}"
    env = {**slurm.env, **INJECTED, "MLFLOW_TRACKING_URI": store}
    args = ["slurm", "launcher.mem_gb=null", *QUICK, PREEMPT,
            "+callbacks.preempt.name=SIGUSR1", "+callbacks.preempt.via=slurm"]  # fmt: skip
    command = [PYTHON, "-m", "mlcore", "launch", *args, "--wait", "400"]
    with subprocess.Popen(
        command, cwd=project, env={**os.environ, **env}, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    ) as launched:  # fmt: skip
        job = re.search(r"Submitted SLURM job (\d+)", launched.stdout.readline())
        assert job, launched.communicate()
        start_requeued_job_now(job[1], slurm)
        stdout, stderr = launched.communicate(timeout=600)
    result = subprocess.CompletedProcess(command, launched.returncode, stdout, stderr)
    output = result.stdout + result.stderr
    folder = project / "logs" / "slurm" / job[1]
    log = (folder / f"{job[1]}_0_log.err").read_text() if folder.is_dir() else ""
    assert result.returncode == 0, output[-3000:] + log[-6000:]
    # Lightning saved and requeued on USR1; SLURM ran the job again, which resumed.
    assert "requeing job" in log or "Requeued SLURM job" in log, log[-6000:]
    assert "Resuming the run in" in log, log[-6000:]
    shown = run(["scontrol", "show", "job", job[1]], project, env=slurm.env)
    assert "Restarts=1" in shown.stdout
    run_dir = next((project / "logs" / "train" / "runs").glob(f"*_{job[1]}"))
    assert list(run_dir.glob("hpc_ckpt_*.ckpt")), "Lightning's checkpoint at the signal"
    tracked = the_run(store)
    assert tracked.info.status == "FINISHED"  # type: ignore[attr-defined]
    assert len(val_epochs(store, tracked.info.run_id)) == 2  # type: ignore[attr-defined]


def start_requeued_job_now(
    job: str, slurm: slurm_cluster.SlurmCluster, timeout: float = 300
) -> None:
    """SLURM lets a requeued job start again only after a delay (its begin time, two minutes
    here); the test moves that to now once the job is back in the queue."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        shown = run(["scontrol", "show", "job", job], Path.cwd(), env=slurm.env, check=False)
        if "Restarts=1" in shown.stdout and "Reason=BeginTime" in shown.stdout:
            run(["scontrol", "update", f"JobId={job}", "StartTime=now"], Path.cwd(), env=slurm.env)
            return
        if re.search(r"JobState=(COMPLETED|FAILED|CANCELLED)", shown.stdout):
            return  # the assertions that follow say why
        time.sleep(0.5)
