"""What hardware is here and what the config asks, turned into Lightning Trainer settings.

    settings = resolve(TrainerRequest.from_config(cfg.trainer), Hardware.detect(),
                       Placement.from_env(), model_parameters=n)

Lightning's `"auto"` is kept where it decides well; decided here: mixed precision by what the GPUs
support, the device count a launcher already started, FSDP when a DDP replica would not fit a GPU.
A request the machine cannot meet is an error before any process starts, never a hang in a
collective. Plain data, so resolution is tested for simulated machines; only `Hardware.detect`
asks torch.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


class ResourceError(ValueError):
    """The config asks for resources this machine or launch cannot give."""


@dataclass(frozen=True)
class Gpu:
    """One CUDA device as torch sees it."""

    name: str
    capability: tuple[int, int]
    memory_bytes: int

    @property
    def bf16(self) -> bool:
        """bfloat16 arithmetic at full speed: Ampere (compute capability 8.0) and newer."""
        return self.capability >= (8, 0)


@dataclass(frozen=True)
class Hardware:
    """What this process can use: CPU cores, CUDA devices, Apple's MPS."""

    cpus: int
    gpus: tuple[Gpu, ...] = ()
    mps: bool = False

    @classmethod
    def detect(cls) -> Hardware:
        """Ask torch (imported now) which devices are visible to this process."""
        import torch

        gpus = []
        for index in range(torch.cuda.device_count() if torch.cuda.is_available() else 0):
            props = torch.cuda.get_device_properties(index)
            gpus.append(Gpu(props.name, (props.major, props.minor), int(props.total_memory)))
        mps = bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())
        return cls(cpus=available_cpus(), gpus=tuple(gpus), mps=mps)

    def describe(self) -> str:
        if self.gpus:
            names = sorted({gpu.name for gpu in self.gpus})
            bf16 = "bf16" if all(gpu.bf16 for gpu in self.gpus) else "no bf16"
            return f"{len(self.gpus)} CUDA GPU(s) ({', '.join(names)}; {bf16}), {self.cpus} CPUs"
        return f"{'MPS, ' if self.mps else ''}{self.cpus} CPUs, no CUDA GPU"


@dataclass(frozen=True)
class Placement:
    """Where a launcher put this process: nodes and processes per node (None: not launched).

    Read from the variables torchrun (`LOCAL_WORLD_SIZE`, `WORLD_SIZE`) or SLURM's srun
    (`SLURM_NTASKS_PER_NODE`, `SLURM_NNODES`) set, in Lightning's order: SLURM first, and not in an
    interactive allocation (job name `bash` or `interactive`), as Lightning's SLURMEnvironment.
    """

    nodes: int = 1
    processes_per_node: int | None = None
    source: str = "none"

    @property
    def launched(self) -> bool:
        return self.processes_per_node is not None

    @property
    def world_size(self) -> int:
        return self.nodes * (self.processes_per_node or 1)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Placement:
        env = os.environ if env is None else env
        if "SLURM_NTASKS" in env and env.get("SLURM_JOB_NAME") not in ("bash", "interactive"):
            nodes = int(env.get("SLURM_NNODES") or env.get("SLURM_JOB_NUM_NODES") or 1)
            per_node = env.get("SLURM_NTASKS_PER_NODE") or ""
            tasks = int(per_node) if per_node.isdigit() else int(env["SLURM_NTASKS"]) // nodes
            return cls(nodes, tasks, "slurm")
        if "LOCAL_WORLD_SIZE" in env and "WORLD_SIZE" in env:
            local = int(env["LOCAL_WORLD_SIZE"])
            return cls(max(int(env["WORLD_SIZE"]) // local, 1), local, "torchrun")
        return cls()


@dataclass(frozen=True)
class TrainerRequest:
    """What the `trainer` config asks; `auto` (or null) leaves the choice to resolution."""

    accelerator: str = "auto"
    devices: Any = "auto"
    num_nodes: int = 1
    strategy: Any = "auto"
    precision: Any = "auto"

    @classmethod
    def from_config(cls, node: Mapping[str, Any] | None) -> TrainerRequest:
        node = node or {}
        return cls(
            **{key: node[key] for key in cls.__dataclass_fields__ if node.get(key) is not None}
        )


@dataclass(frozen=True)
class TrainerSettings:
    """Keyword arguments for `lightning.Trainer`, and what they came from."""

    accelerator: str
    devices: Any
    num_nodes: int
    strategy: Any
    precision: Any
    # The number of processes the run has on each node, and over all nodes.
    processes_per_node: int = 1
    world_size: int = 1
    hardware: str = ""
    notes: tuple[str, ...] = field(default=())

    def trainer_kwargs(self) -> dict[str, Any]:
        return {key: getattr(self, key) for key in TrainerRequest.__dataclass_fields__}

    def describe(self) -> str:
        chosen = ", ".join(f"{key}={value}" for key, value in self.trainer_kwargs().items())
        return f"{chosen} (world size {self.world_size}; {self.hardware})"


# A replica of the training state per parameter under DDP: fp32 weights, gradients and two Adam
# moments. FSDP shards it; it is chosen when one replica would take more than this share of the
# smallest GPU's memory (activations need the rest).
TRAINING_BYTES_PER_PARAMETER = 16
FSDP_MEMORY_SHARE = 0.5
_GPU_NAMES = ("gpu", "cuda")


def resolve(
    request: TrainerRequest,
    hardware: Hardware,
    placement: Placement | None = None,
    *,
    model_parameters: int | None = None,
) -> TrainerSettings:
    """Trainer settings for this request on this hardware, in this launch (see the module doc)."""
    placement = placement or Placement()
    accelerator = _accelerator(request.accelerator, hardware)
    on_gpu = accelerator in _GPU_NAMES
    available = len(hardware.gpus) if on_gpu else None
    per_node = _devices_per_node(request, placement, available, accelerator)
    nodes = _nodes(request, placement)
    notes: list[str] = []
    strategy = request.strategy
    world_size = per_node * nodes
    if strategy == "auto" and on_gpu and world_size > 1 and model_parameters:
        replica = model_parameters * TRAINING_BYTES_PER_PARAMETER
        smallest = min(gpu.memory_bytes for gpu in hardware.gpus)
        if replica > FSDP_MEMORY_SHARE * smallest:
            strategy = "fsdp"
            notes.append(
                f"fsdp: a DDP replica of {model_parameters:,} parameters needs about "
                f"{replica / 2**30:.1f} GiB, over half of a {smallest / 2**30:.0f} GiB GPU"
            )
    precision = _precision(request.precision, accelerator, hardware)
    devices = request.devices if request.devices not in ("auto", None, -1, "-1") else per_node
    if placement.launched:
        devices = per_node
    return TrainerSettings(
        accelerator,
        devices,
        nodes,
        strategy,
        precision,
        per_node,
        world_size,
        hardware.describe(),
        tuple(notes),
    )


def _accelerator(asked: str, hardware: Hardware) -> str:
    """Lightning's own order for `auto` (CUDA, then MPS, then CPU); an explicit GPU must exist."""
    asked = str(asked).lower()
    if asked == "auto":
        return "gpu" if hardware.gpus else "mps" if hardware.mps else "cpu"
    if asked in _GPU_NAMES and not hardware.gpus:
        raise ResourceError(
            f"trainer.accelerator={asked} but no CUDA GPU is visible here ({hardware.describe()}; "
            f"CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES', 'unset')}): run on a "
            "GPU machine, or use trainer=cpu (trainer.accelerator=auto picks what is present)"
        )
    if asked == "mps" and not hardware.mps:
        raise ResourceError("trainer.accelerator=mps but MPS is not available: use auto or cpu")
    return asked


def _count(devices: Any) -> int | None:
    """How many devices a Lightning `devices` value names; None for `auto` or all (-1)."""
    if devices in ("auto", None, -1, "-1"):
        return None
    if isinstance(devices, Sequence) and not isinstance(devices, str):
        return len(devices)
    text = str(devices).strip()
    if "," in text:
        return len([part for part in text.split(",") if part.strip()])
    if not text.lstrip("-").isdigit() or int(text) < 1:
        raise ResourceError(
            f"trainer.devices={devices!r} is not a device count: give a number >= 1, a list of "
            "GPU indices, or auto"
        )
    return int(text)


def _devices_per_node(
    request: TrainerRequest, placement: Placement, available: int | None, accelerator: str
) -> int:
    asked = _count(request.devices)
    if placement.launched:
        started = placement.processes_per_node or 1
        if asked is not None and asked != started:
            raise ResourceError(
                f"trainer.devices={request.devices} but {placement.source} started {started} "
                f"process(es) per node: one process drives one device, so leave devices=auto "
                f"or launch {asked} processes per node"
            )
        wanted = started
    else:
        wanted = asked if asked is not None else (available or 1)
    if available is not None and wanted > available:
        raise ResourceError(
            f"{wanted} GPU(s) per node asked for (trainer.devices={request.devices}"
            f"{', launched processes' if placement.launched else ''}) but this machine has "
            f"{available}: ask for at most {available} (trainer.devices={available}), or run "
            "where there are more"
        )
    if accelerator == "mps" and wanted > 1:
        raise ResourceError("MPS is one device: use trainer.devices=1 or trainer=cpu")
    return wanted


def _nodes(request: TrainerRequest, placement: Placement) -> int:
    asked = int(request.num_nodes or 1)
    if placement.launched:
        if asked not in (1, placement.nodes):
            raise ResourceError(
                f"trainer.num_nodes={asked} but {placement.source} started {placement.nodes} "
                "node(s): set launcher.nodes instead and leave trainer.num_nodes at 1"
            )
        return placement.nodes
    if asked > 1:
        raise ResourceError(
            f"trainer.num_nodes={asked} needs a launcher that starts a process on every node: "
            f"`mlcore launch slurm launcher.nodes={asked}` or `mlcore launch kubernetes "
            f"launcher.nodes={asked}`"
        )
    return 1


def _precision(asked: Any, accelerator: str, hardware: Hardware) -> Any:
    """bf16-mixed where every GPU supports it, 16-mixed on other GPUs and MPS, 32-true on CPU."""
    if asked in ("auto", None):
        if accelerator in _GPU_NAMES:
            return "bf16-mixed" if all(gpu.bf16 for gpu in hardware.gpus) else "16-mixed"
        return "16-mixed" if accelerator == "mps" else "32-true"
    if "bf16" in str(asked) and accelerator in _GPU_NAMES:
        old = sorted({gpu.name for gpu in hardware.gpus if not gpu.bf16})
        if old:
            raise ResourceError(
                f"trainer.precision={asked} but {', '.join(old)} has no bfloat16 (compute "
                "capability below 8.0): use trainer.precision=16-mixed, or auto"
            )
    return asked


def available_cpus() -> int:
    """CPU cores this process may run on (its affinity: a SLURM or container limit shows here)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def loader_settings(
    trainer: Any = None,
    num_workers: int | None = None,
    pin_memory: bool | None = None,
    *,
    cpus: int | None = None,
) -> dict[str, Any]:
    """Deprecated (goes in 0.3): DataLoader `num_workers`, `pin_memory`, `persistent_workers`;
    None decides here. A DataModule decides these itself now (the generated data.py shows how).

    Workers: the CPU cores each training process on this machine gets, less one for the process
    itself, at most 8 (more rarely helps; give a number for data that needs more). Pinned memory:
    when the trainer trains on CUDA (host-to-GPU copies then run asynchronously).
    """
    import warnings

    warnings.warn(
        "mlcore.launch.loader_settings is deprecated and goes in 0.3: pass num_workers and "
        "pin_memory to your DataLoader directly (e.g. pin_memory=torch.cuda.is_available()); "
        "see the CHANGELOG's 'Upgrading'",
        DeprecationWarning,
        stacklevel=2,
    )
    processes = int(getattr(trainer, "num_devices", 1) or 1) if trainer is not None else 1
    cuda = type(getattr(trainer, "accelerator", None)).__name__ == "CUDAAccelerator"
    return dataloader_settings(processes, cuda, num_workers, pin_memory, cpus=cpus)


def dataloader_settings(
    processes: int,
    cuda: bool,
    num_workers: int | None = None,
    pin_memory: bool | None = None,
    *,
    cpus: int | None = None,
) -> dict[str, Any]:
    """`loader_settings` for `processes` training processes on this machine, on CUDA or not."""
    if num_workers is None:
        share = (cpus or available_cpus()) // max(processes, 1)
        num_workers = max(0, min(8, share - 1))
    if pin_memory is None:
        pin_memory = cuda
    return {
        "num_workers": int(num_workers),
        "pin_memory": bool(pin_memory),
        "persistent_workers": int(num_workers) > 0,
    }
