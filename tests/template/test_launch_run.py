"""The generated project trained through `mlcore launch` for real: DDP with 2 CPU processes on gloo
(torchrun), and a 2-task job on a one-node SLURM cluster started by the tests.

Rank-zero effects (the MLflow run, the registered model, the checkpoint directory, the log lines)
happen once; the DDP result matches a single process's within TOLERANCE.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from mlflow import MlflowClient

from tests import slurm_cluster
from tests.conftest import run
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
    found = re.findall(r"test/acc = ([0-9.]+)", output)
    assert len(found) == 1, f"test/acc reported {len(found)} times:\n{output[-3000:]}"
    return float(found[0])


test_acc.__test__ = False  # type: ignore[attr-defined]  # a helper, not a test


def one_run(tracking_uri: str) -> object:
    client = MlflowClient(tracking_uri)
    experiments = [e.experiment_id for e in client.search_experiments()]
    runs = client.search_runs(experiments)
    assert len(runs) == 1, f"{len(runs)} MLflow runs, expected one"
    assert runs[0].info.status == "FINISHED"
    versions = client.search_model_versions()
    assert len(versions) == 1, f"{len(versions)} registered versions, expected one"
    assert versions[0].run_id == runs[0].info.run_id
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
        env={"MLFLOW_TRACKING_URI": store},
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
    tagged = one_run(store).data.tags  # type: ignore[attr-defined]
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
