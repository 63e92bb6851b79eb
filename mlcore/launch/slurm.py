"""SLURM launches through submitit: one job, `nodes` x `tasks_per_node` training processes.

Each SLURM task runs the training command; Lightning reads its rank and world size from SLURM's
variables (its SLURMEnvironment) and mlcore's resolution sets the Trainer's devices and nodes from
them. `--dry-run` prints the sbatch script submitit writes for the same parameters.
"""

from __future__ import annotations

import contextlib
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from mlcore.launch.config import (
    RUN_NAME_ENV,
    RUN_NAME_FORMAT,
    Launch,
    check_keys,
    whole_number,
)

KEYS = (
    "engine", "module", "job_name", "partition", "account", "qos", "nodes", "gpus_per_node",
    "tasks_per_node", "cpus_per_task", "mem_gb", "time_min", "folder", "setup", "python",
)  # fmt: skip
# States after which a job never runs again (squeue/scontrol/sacct spellings).
FINISHED = {
    "COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "PREEMPTED",
    "BOOT_FAIL", "DEADLINE",
}  # fmt: skip


def parameters(launch: Launch) -> dict[str, Any]:
    """submitit's SlurmExecutor parameters (sbatch options) for this launch."""
    settings = launch.settings
    check_keys("slurm", settings, KEYS)
    gpus = whole_number(settings, "gpus_per_node", 0, minimum=0)
    params: dict[str, Any] = {
        "job_name": str(settings.get("job_name") or launch.module.split(".")[0]),
        "nodes": whole_number(settings, "nodes", 1),
        # One task per GPU: each task is one training process driving one device.
        "ntasks_per_node": whole_number(settings, "tasks_per_node", max(gpus, 1)),
        "time": whole_number(settings, "time_min", 60),
        "setup": [
            f'export {RUN_NAME_ENV}="$(date +{RUN_NAME_FORMAT})_$SLURM_JOB_ID"',
            *[str(line) for line in settings.get("setup") or []],
        ],
    }
    if gpus:
        params["gpus_per_node"] = gpus
    if settings.get("mem_gb"):
        params["mem"] = f"{whole_number(settings, 'mem_gb', 0)}GB"
    if settings.get("cpus_per_task"):
        params["cpus_per_task"] = whole_number(settings, "cpus_per_task", 1)
    for key in ("partition", "account", "qos"):
        if settings.get(key):
            params[key] = str(settings[key])
    return params


def folder(launch: Launch) -> Path:
    """Where submitit keeps each job's script, pickles and logs: <folder>/<job id>/."""
    base = Path(str(launch.settings.get("folder") or "logs/slurm"))
    return (base if base.is_absolute() else launch.root / base) / "%j"


def python(launch: Launch) -> str:
    return str(launch.settings.get("python") or sys.executable)


def sbatch_script(launch: Launch) -> str:
    """The sbatch script `submit` would hand to SLURM, as submitit writes it."""
    from submitit.slurm.slurm import _make_sbatch_string

    where = folder(launch)
    # What submitit's SlurmExecutor runs in each task (its `_submitit_command_str`).
    command = f"{shlex.quote(python(launch))} -u -m submitit.core._submit {shlex.quote(str(where))}"
    return _make_sbatch_string(command=command, folder=where, **parameters(launch))


def submit(launch: Launch) -> Any:
    """Submit the job through submitit; returns its submitit Job."""
    import submitit
    from submitit.helpers import CommandFunction

    executor = submitit.SlurmExecutor(folder=folder(launch), python=shlex.quote(python(launch)))
    executor.update_parameters(**parameters(launch))
    command = launch.training_command(python(launch))
    return executor.submit(CommandFunction(command, cwd=str(launch.root)))


def job_state(job: Any) -> str:
    """The job's SLURM state: the controller's (scontrol knows live and recently ended jobs, and
    needs no accounting database), else submitit's from the accounting records (sacct)."""
    result = subprocess.run(
        ["scontrol", "show", "job", "--oneliner", str(job.job_id)],
        capture_output=True, text=True, check=False, timeout=30,
    )  # fmt: skip
    found = re.search(r"\bJobState=(\S+)", result.stdout)
    state = found.group(1) if found else "UNKNOWN"
    if state == "UNKNOWN":
        with contextlib.suppress(Exception):  # no accounting either: the state stays unknown
            state = str(job.watcher.get_state(job.job_id, mode="force"))
    return state.split()[0].rstrip("+")


def wait(job: Any, timeout_s: float, poll_s: float = 1.0) -> str:
    """Wait until the job has finished (or timeout_s passed); return its last state."""
    deadline = time.monotonic() + timeout_s
    state = job_state(job)
    while state not in FINISHED and time.monotonic() < deadline:
        time.sleep(poll_s)
        state = job_state(job)
    return state


def launch_slurm(launch: Launch, *, dry_run: bool = False, wait_s: float | None = None) -> int:
    if dry_run:
        print(sbatch_script(launch), end="")
        return 0
    from submitit.core.utils import FailedJobError

    try:
        job = submit(launch)
    except FailedJobError as error:  # sbatch refused it: the reason is SLURM's message
        print(f"sbatch refused the job: {str(error).strip()}", file=sys.stderr)
        return 1
    log_out, log_err = job.paths.stdout, job.paths.stderr
    print(f"Submitted SLURM job {job.job_id}: {job_state(job)}")
    print(f"Log: {log_out} (errors: {log_err})")
    if wait_s is None:
        print(f"Follow it: squeue -j {job.job_id}; tail -f {log_out}")
        return 0
    state = wait(job, wait_s)
    if state == "COMPLETED":
        print(f"SLURM job {job.job_id} {state}. Log: {log_out}")
        return 0
    print(f"SLURM job {job.job_id} {state}: see {log_err} and {log_out}", file=sys.stderr)
    return 1
