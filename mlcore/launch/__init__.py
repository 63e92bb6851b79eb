"""The same training code on a laptop CPU, one GPU, many GPUs, SLURM and Kubernetes.

- `trainer_settings(cfg.trainer, model)`: the Trainer's accelerator, devices, nodes, strategy and
  precision for the hardware present and the launch this process is part of (resources.py).
- `loader_settings(trainer, num_workers, pin_memory)`: DataLoader workers and pinned memory.
- `mlcore launch local|slurm|kubernetes` (cli.py): torchrun on this machine, a SLURM job through
  submitit, a Kubeflow PyTorchJob; each reads the project's `configs/launcher/<name>.yaml`.

Importing this package imports neither torch, lightning nor submitit.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from mlcore.launch.resources import (
    Gpu,
    Hardware,
    Placement,
    ResourceError,
    TrainerRequest,
    TrainerSettings,
    dataloader_settings,
    loader_settings,
    resolve,
)

__all__ = [
    "Gpu",
    "Hardware",
    "Placement",
    "ResourceError",
    "TrainerRequest",
    "TrainerSettings",
    "dataloader_settings",
    "loader_settings",
    "resolve",
    "trainer_settings",
]

log = logging.getLogger("mlcore.launch")


def trainer_settings(trainer_cfg: Mapping[str, Any] | None, model: Any = None) -> dict[str, Any]:
    """Keyword arguments for `lightning.Trainer` (accelerator, devices, num_nodes, strategy,
    precision), resolved for this machine and launch; logged once, by rank zero.

    Pass the model to let its size decide between DDP and FSDP on several GPUs.
    """
    from mlcore.logging import global_rank

    request = TrainerRequest.from_config(_plain(trainer_cfg))
    parameters = sum(p.numel() for p in model.parameters()) if model is not None else None
    settings = resolve(
        request, Hardware.detect(), Placement.from_env(), model_parameters=parameters
    )
    for line in (settings.describe(), *settings.notes) if global_rank() == 0 else ():
        log.info("Trainer: %s", line)
    return settings.trainer_kwargs()


def _plain(node: Mapping[str, Any] | None) -> dict[str, Any]:
    if node is None:
        return {}
    if type(node).__module__.startswith("omegaconf"):  # a DictConfig: resolve it
        from omegaconf import OmegaConf

        return OmegaConf.to_container(node, resolve=True)  # type: ignore[return-value]
    return dict(node)
