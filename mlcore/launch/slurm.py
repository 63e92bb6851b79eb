"""SLURM launches: one sbatch job of `nodes` x `tasks_per_node` training processes.

Each SLURM task is a training process itself (`srun python -m <module> <overrides>`, no wrapper
process), so Lightning's SLURMEnvironment gets SLURM's signals: `--signal=USR1@<signal_delay_s>`
makes it save `hpc_ckpt_<n>.ckpt` and requeue the job, which runs again in the same run directory
(`MLCORE_RUN_NAME`: submission time and job id), where `resume=auto` continues the run.
`--dry-run` prints the script; a submission writes the same text beside the logs.
"""

from __future__ import annotations

import os
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
    run_name,
    whole_number,
)

KEYS = (
    "engine", "module", "job_name", "partition", "account", "qos", "nodes", "gpus_per_node",
    "tasks_per_node", "cpus_per_task", "mem_gb", "time_min", "folder", "setup", "python",
    "signal_delay_s",
)  # fmt: skip
# States after which a job never runs again (squeue/scontrol/sacct spellings).
FINISHED = {
    "COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "PREEMPTED",
    "BOOT_FAIL", "DEADLINE",
}  # fmt: skip
# The signal SLURM sends before it stops the job: Lightning's SLURMEnvironment requeues on it.
REQUEUE_SIGNAL = "USR1"
# The submission time, in the job's environment (sbatch exports the submitting one): the run
# directory keeps its name when SLURM runs the job again after a requeue.
SUBMIT_TIME_ENV = "MLCORE_SUBMIT_TIME"


def parameters(launch: Launch) -> dict[str, Any]:
    """The job's sbatch options (`--key=value`; True: a flag)."""
    settings = launch.settings
    check_keys("slurm", settings, KEYS)
    gpus = whole_number(settings, "gpus_per_node", 0, minimum=0)
    logs = folder(launch)
    params: dict[str, Any] = {
        "job_name": str(settings.get("job_name") or launch.module.split(".")[0]),
        "nodes": whole_number(settings, "nodes", 1),
        # One task per GPU: each task is one training process driving one device.
        "ntasks_per_node": whole_number(settings, "tasks_per_node", max(gpus, 1)),
        "time": whole_number(settings, "time_min", 60),
        "signal": f"{REQUEUE_SIGNAL}@{whole_number(settings, 'signal_delay_s', 90)}",
        "requeue": True,
        # A requeued job appends to its logs instead of replacing them.
        "open_mode": "append",
        "output": f"{logs}/%j_0_log.out",
        "error": f"{logs}/%j_0_log.err",
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
    """Each job's script copy and logs: <folder>/<job id>/ (`%j` until SLURM names the job)."""
    base = Path(str(launch.settings.get("folder") or "logs/slurm"))
    return (base if base.is_absolute() else launch.root / base) / "%j"


def python(launch: Launch) -> str:
    return str(launch.settings.get("python") or sys.executable)


def sbatch_script(launch: Launch) -> str:
    """The sbatch script of this launch: options, set-up lines, one `srun` of the training."""
    options = [_flag(key, value) for key, value in sorted(parameters(launch).items())]
    logs = folder(launch)
    submitted = f"${{{SUBMIT_TIME_ENV}:-$(date +{RUN_NAME_FORMAT})}}"
    run_dir = f'export {RUN_NAME_ENV}="{submitted}_$SLURM_JOB_ID"'
    srun = [
        "srun", "--unbuffered", "--output", f"{logs}/%j_%t_log.out",
        "--error", f"{logs}/%j_%t_log.err",
        python(launch), "-u", "-m", launch.module, *launch.overrides,
    ]  # fmt: skip
    setup = [str(line) for line in launch.settings.get("setup") or []]
    lines = [
        "#!/bin/bash",
        "",
        "# Parameters",
        *options,
        "",
        "# setup",
        run_dir,
        *setup,
        "",
        "# command",
        shlex.join(srun),
        "",
    ]
    return "\n".join(lines)


def _flag(key: str, value: Any) -> str:
    key = key.replace("_", "-")
    return f"#SBATCH --{key}" if value is True else f"#SBATCH --{key}={shlex.quote(str(value))}"


class SubmitError(RuntimeError):
    """sbatch refused the job; the message is SLURM's."""


def submit(launch: Launch) -> str:
    """Submit the job held, write its script into its log folder, release it; its id."""
    script = sbatch_script(launch)
    env = {**os.environ, SUBMIT_TIME_ENV: os.environ.get(SUBMIT_TIME_ENV) or run_name()}
    submitted = subprocess.run(
        ["sbatch", "--parsable", "--hold"], input=script, cwd=launch.root, env=env,
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    if submitted.returncode != 0:
        raise SubmitError(submitted.stderr.strip() or submitted.stdout.strip())
    job_id = submitted.stdout.strip().split(";")[0]
    logs = Path(str(folder(launch)).replace("%j", job_id))
    logs.mkdir(parents=True, exist_ok=True)  # SLURM opens the log files here; it makes no folder
    (logs / f"{job_id}_submission.sh").write_text(script)
    subprocess.run(["scontrol", "release", job_id], check=True, capture_output=True, timeout=60)
    return job_id


def job_state(job_id: str) -> str:
    """The job's SLURM state: the controller's (scontrol knows live and recently ended jobs, and
    needs no accounting database), else the accounting records' (sacct)."""
    result = subprocess.run(
        ["scontrol", "show", "job", "--oneliner", job_id],
        capture_output=True, text=True, check=False, timeout=30,
    )  # fmt: skip
    found = re.search(r"\bJobState=(\S+)", result.stdout)
    state = found.group(1) if found else "UNKNOWN"
    if state == "UNKNOWN":
        accounted = subprocess.run(
            ["sacct", "--noheader", "--allocations", "--format=State", "--jobs", job_id],
            capture_output=True, text=True, check=False, timeout=30,
        )  # fmt: skip
        state = (accounted.stdout.split() or ["UNKNOWN"])[0] if accounted.returncode == 0 else state
    return state.split()[0].rstrip("+")


def wait(job_id: str, timeout_s: float, poll_s: float = 1.0) -> str:
    """Wait until the job has finished (or timeout_s passed); return its last state. A requeued
    job (REQUEUED, PENDING, RUNNING again) has not finished."""
    deadline = time.monotonic() + timeout_s
    state = job_state(job_id)
    while state not in FINISHED and time.monotonic() < deadline:
        time.sleep(poll_s)
        state = job_state(job_id)
    return state


def launch_slurm(launch: Launch, *, dry_run: bool = False, wait_s: float | None = None) -> int:
    if dry_run:
        print(sbatch_script(launch), end="")
        return 0
    try:
        job_id = submit(launch)
    except SubmitError as error:  # sbatch refused it: the reason is SLURM's message
        print(f"sbatch refused the job: {error}", file=sys.stderr)
        return 1
    logs = Path(str(folder(launch)).replace("%j", job_id))
    log_out, log_err = logs / f"{job_id}_0_log.out", logs / f"{job_id}_0_log.err"
    print(f"Submitted SLURM job {job_id}: {job_state(job_id)}")
    print(f"Log: {log_out} (errors: {log_err})")
    if wait_s is None:
        print(f"Follow it: squeue -j {job_id}; tail -f {log_out}")
        return 0
    if (state := wait(job_id, wait_s)) == "COMPLETED":
        print(f"SLURM job {job_id} {state}. Log: {log_out}")
        return 0
    print(f"SLURM job {job_id} {state}: see {log_err} and {log_out}", file=sys.stderr)
    return 1
