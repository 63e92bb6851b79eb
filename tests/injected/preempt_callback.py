"""A Lightning callback that preempts the training run it is in, mid-epoch (the resume tests).

Added by Hydra override (`+callbacks.preempt._target_=preempt_callback.Preempt`, with
tests/injected/ on PYTHONPATH), so a real signal reaches a real run at a known point: after batch
`batch` of epoch `epoch`, in the first attempt only (a resumed attempt, one Lightning resumed from
a checkpoint, trains on). `via="process"` sends the signal to this process, as Kubernetes or
torchrun's agent would; `via="slurm"` asks SLURM to send it to the job's tasks
(`scancel --signal`), as SLURM does before a time limit or a preemption.
"""

from __future__ import annotations

import os
import signal
import subprocess
from typing import Any

from lightning.pytorch import Callback, LightningModule, Trainer


class Preempt(Callback):
    def __init__(self, epoch: int = 1, batch: int = 2, name: str = "SIGTERM", via: str = "process"):
        self.epoch, self.batch, self.name, self.via = epoch, batch, name, via
        self.sent = False

    def on_train_batch_end(
        self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any, index: int
    ) -> None:
        if self.sent or trainer.ckpt_path is not None or trainer.global_rank != 0:
            return
        if (trainer.current_epoch, index) != (self.epoch, self.batch):
            return
        self.sent = True
        print(f"Preempting with {self.name} via {self.via} at epoch {self.epoch}, batch {index}",
              flush=True)  # fmt: skip
        if self.via == "slurm":
            job = os.environ["SLURM_JOB_ID"]
            subprocess.run(["scancel", f"--signal={self.name.removeprefix('SIG')}", job],
                           check=True)  # fmt: skip
        else:
            os.kill(os.getpid(), getattr(signal, self.name))
