"""Local launches: torchrun (`torch.distributed.run --standalone`) with N processes on this machine.

`--standalone` picks a free port and runs the rendezvous itself; on a CPU the processes train with
the gloo backend (Lightning picks it for the CPU accelerator), on GPUs with NCCL, one per GPU.
torchrun runs through mlcore.launch.torchrun (the same torchrun, with exit code 143 when it was
stopped by SIGTERM). With `max_restarts`, torchrun starts the workers again when one fails (a
process killed or preempted): they resume the run (`resume=auto`, which the launch adds).
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from typing import Any

from mlcore.launch.config import RUN_NAME_ENV, Launch, check_keys, run_name, whole_number
from mlcore.launch.resources import (
    Hardware,
    Placement,
    ResourceError,
    TrainerRequest,
    TrainerSettings,
    resolve,
)

KEYS = ("engine", "module", "nproc_per_node", "max_restarts")


def processes(settings: dict[str, Any], hardware: Hardware) -> int:
    """`nproc_per_node`: a number, or auto (one per visible GPU, 1 without one)."""
    value = settings.get("nproc_per_node", "auto")
    if value in ("auto", None):
        return max(len(hardware.gpus), 1)
    if not str(value).isdigit() or int(value) < 1:
        raise ResourceError(
            f"launcher.nproc_per_node={value!r}: give a number of processes >= 1, or auto"
        )
    return int(value)


def plan(launch: Launch, hardware: Hardware) -> tuple[list[str], TrainerSettings]:
    """The torchrun command, and the Trainer settings every process will resolve (checked now,
    so too many processes for the GPUs here fail before anything starts)."""
    check_keys("local", launch.settings, KEYS)
    count = processes(launch.settings, hardware)
    settings = resolve(
        TrainerRequest.from_config(launch.trainer), hardware, Placement(1, count, "torchrun")
    )
    restarts = whole_number(launch.settings, "max_restarts", 0, minimum=0)
    command = [
        sys.executable, "-m", "mlcore.launch.torchrun", "--standalone", "--nnodes=1",
        f"--nproc-per-node={count}", *([f"--max-restarts={restarts}"] if restarts else []),
        "-m", launch.module, *launch.overrides,
    ]  # fmt: skip
    return command, settings


def launch_local(launch: Launch, *, dry_run: bool = False) -> int:
    command, settings = plan(launch, Hardware.detect())
    print(f"Trainer in each process: {settings.describe()}")
    print(shlex.join(command))
    if dry_run:
        return 0
    env = {**os.environ, RUN_NAME_ENV: os.environ.get(RUN_NAME_ENV) or run_name()}
    return subprocess.run(command, cwd=launch.root, env=env, check=False).returncode
