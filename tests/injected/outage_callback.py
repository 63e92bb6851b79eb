"""A Lightning callback that stops the MLflow server mid-training (the outage tests use it).

Added to a generated project's training run by Hydra override
(`+callbacks.stop_server._target_=outage_callback.StopServer ...`, with tests/injected/ on
PYTHONPATH: this folder holds only modules meant for generated projects' processes), so
the server goes down at a known point of a real run: the end of training epoch `epoch`.
"""

from __future__ import annotations

import os
import signal
import socket
import time

from lightning.pytorch import Callback, LightningModule, Trainer


class StopServer(Callback):
    """SIGTERM to the server's process group at the end of one epoch; returns once the port is
    closed (bounded), so the next MLflow call meets a server that is down."""

    def __init__(self, pid: int, port: int, epoch: int = 1) -> None:
        self.pid, self.port, self.epoch = pid, port, epoch

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if trainer.current_epoch != self.epoch:
            return
        os.killpg(self.pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
            except OSError:
                print(f"Stopped the MLflow server at the end of epoch {self.epoch}", flush=True)
                return
            time.sleep(0.05)
        raise RuntimeError(f"the MLflow server on port {self.port} did not stop within 30 s")
