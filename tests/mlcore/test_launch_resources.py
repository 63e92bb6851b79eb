"""Resource resolution for simulated machines (no GPU, 1, 8, bf16 or not) and launches, and the
resolved settings building a real Lightning Trainer on this machine."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from mlcore.launch import (
    Gpu,
    Hardware,
    Placement,
    ResourceError,
    TrainerRequest,
    dataloader_settings,
    loader_settings,
    resolve,
    trainer_settings,
)

GIB = 2**30
H100 = Gpu("NVIDIA H100", (9, 0), 80 * GIB)
A10 = Gpu("NVIDIA A10G", (8, 6), 24 * GIB)
V100 = Gpu("Tesla V100", (7, 0), 16 * GIB)
T4 = Gpu("Tesla T4", (7, 5), 16 * GIB)

CPU_ONLY = Hardware(cpus=8)
ONE_BF16 = Hardware(cpus=16, gpus=(A10,))
ONE_OLD = Hardware(cpus=16, gpus=(V100,))
EIGHT_BF16 = Hardware(cpus=96, gpus=(H100,) * 8)
MIXED = Hardware(cpus=32, gpus=(A10, T4))
MAC = Hardware(cpus=10, mps=True)


@pytest.mark.parametrize(
    ("hardware", "accelerator", "devices", "precision"),
    [
        (CPU_ONLY, "cpu", 1, "32-true"),
        (ONE_BF16, "gpu", 1, "bf16-mixed"),
        (ONE_OLD, "gpu", 1, "16-mixed"),
        (EIGHT_BF16, "gpu", 8, "bf16-mixed"),
        (MIXED, "gpu", 2, "16-mixed"),  # one GPU without bf16 decides for all
        (MAC, "mps", 1, "16-mixed"),
    ],
    ids=["no-gpu", "1-gpu-bf16", "1-gpu-no-bf16", "8-gpu-bf16", "2-gpu-mixed", "mps"],
)
def test_auto_picks_what_the_hardware_supports(
    hardware: Hardware, accelerator: str, devices: int, precision: str
) -> None:
    settings = resolve(TrainerRequest(), hardware)
    assert (settings.accelerator, settings.devices, settings.precision) == (
        accelerator,
        devices,
        precision,
    )
    # Lightning's own `auto` strategy: single device, or DDP across several.
    assert settings.strategy == "auto"
    assert settings.num_nodes == 1
    assert settings.world_size == devices


def test_explicit_settings_are_kept() -> None:
    asked = TrainerRequest(accelerator="gpu", devices=2, strategy="ddp", precision="32-true")
    settings = resolve(asked, EIGHT_BF16)
    assert settings.trainer_kwargs() == {
        "accelerator": "gpu",
        "devices": 2,
        "num_nodes": 1,
        "strategy": "ddp",
        "precision": "32-true",
    }


def test_cpu_processes_are_not_limited_by_gpus() -> None:
    settings = resolve(TrainerRequest(devices=4), CPU_ONLY)
    assert (settings.accelerator, settings.devices, settings.world_size) == ("cpu", 4, 4)


def test_more_gpus_than_present_is_a_clear_error() -> None:
    with pytest.raises(ResourceError, match=r"8 GPU\(s\) per node .* this machine has 1: ask for"):
        resolve(TrainerRequest(devices=8), ONE_BF16)
    with pytest.raises(ResourceError, match=r"this machine has 8"):
        resolve(TrainerRequest(devices=[0, 1, 2, 3, 4, 5, 6, 7, 8]), EIGHT_BF16)


def test_a_gpu_where_there_is_none_is_a_clear_error() -> None:
    with pytest.raises(ResourceError, match=r"no CUDA GPU is visible here.*trainer=cpu"):
        resolve(TrainerRequest(accelerator="gpu"), CPU_ONLY)


def test_bf16_on_a_gpu_without_it_is_refused() -> None:
    with pytest.raises(ResourceError, match=r"Tesla V100 has no bfloat16.*16-mixed"):
        resolve(TrainerRequest(precision="bf16-mixed"), ONE_OLD)


def test_bad_device_values_are_refused() -> None:
    with pytest.raises(ResourceError, match="not a device count"):
        resolve(TrainerRequest(devices="many"), CPU_ONLY)
    with pytest.raises(ResourceError, match="MPS is one device"):
        resolve(TrainerRequest(devices=2), MAC)


def test_several_nodes_need_a_launcher() -> None:
    with pytest.raises(ResourceError, match=r"mlcore launch slurm launcher.nodes=2"):
        resolve(TrainerRequest(num_nodes=2), EIGHT_BF16)


def test_torchrun_processes_decide_devices() -> None:
    env = {"LOCAL_WORLD_SIZE": "2", "WORLD_SIZE": "2", "RANK": "1", "LOCAL_RANK": "1"}
    placement = Placement.from_env(env)
    assert (placement.source, placement.nodes, placement.processes_per_node) == ("torchrun", 1, 2)
    settings = resolve(TrainerRequest(), CPU_ONLY, placement)
    assert (settings.devices, settings.num_nodes, settings.world_size) == (2, 1, 2)
    assert settings.accelerator == "cpu" and settings.precision == "32-true"


def test_slurm_tasks_decide_devices_and_nodes() -> None:
    env = {
        "SLURM_NTASKS": "16",
        "SLURM_NNODES": "2",
        "SLURM_NTASKS_PER_NODE": "8",
        "SLURM_JOB_NAME": "train",
        "SLURM_PROCID": "9",
    }
    placement = Placement.from_env(env)
    settings = resolve(TrainerRequest(), EIGHT_BF16, placement)
    assert (settings.devices, settings.num_nodes, settings.world_size) == (8, 2, 16)
    assert settings.precision == "bf16-mixed"
    # Without --ntasks-per-node, SLURM's task count is spread evenly over the nodes.
    del env["SLURM_NTASKS_PER_NODE"]
    assert Placement.from_env(env).processes_per_node == 8


def test_an_interactive_allocation_is_not_a_launch() -> None:
    """As in Lightning: `salloc` then `python train.py` is not srun's tasks."""
    env = {"SLURM_NTASKS": "4", "SLURM_NNODES": "1", "SLURM_JOB_NAME": "bash"}
    assert not Placement.from_env(env).launched


def test_launched_processes_must_match_asked_devices() -> None:
    placement = Placement(nodes=1, processes_per_node=2, source="torchrun")
    with pytest.raises(ResourceError, match="torchrun started 2 process"):
        resolve(TrainerRequest(devices=4), EIGHT_BF16, placement)
    with pytest.raises(ResourceError, match="this machine has 1"):
        resolve(TrainerRequest(), ONE_BF16, Placement(1, 2, "torchrun"))
    with pytest.raises(ResourceError, match=r"set launcher.nodes instead"):
        resolve(TrainerRequest(num_nodes=4), EIGHT_BF16, Placement(2, 8, "slurm"))


def test_fsdp_when_a_replica_would_not_fit_a_gpu() -> None:
    small, large = 100_000_000, 3_000_000_000  # 1.5 GiB and 45 GiB of training state
    eight_small = Hardware(cpus=64, gpus=(V100,) * 8)
    assert resolve(TrainerRequest(), eight_small, model_parameters=small).strategy == "auto"
    chosen = resolve(TrainerRequest(), eight_small, model_parameters=large)
    assert chosen.strategy == "fsdp" and "fsdp:" in chosen.notes[0]
    # One device has nothing to shard across; an explicit strategy is kept.
    one = resolve(TrainerRequest(devices=1), eight_small, model_parameters=large)
    assert one.strategy == "auto"
    asked = TrainerRequest(strategy="ddp")
    assert resolve(asked, eight_small, model_parameters=large).strategy == "ddp"


def test_dataloader_workers_and_pinned_memory() -> None:
    assert dataloader_settings(1, cuda=False, cpus=8) == {
        "num_workers": 7,
        "pin_memory": False,
        "persistent_workers": True,
    }
    # Eight processes share 16 cores: one worker each; pinned memory on CUDA.
    assert dataloader_settings(8, cuda=True, cpus=16)["num_workers"] == 1
    assert dataloader_settings(8, cuda=True, cpus=16)["pin_memory"] is True
    assert dataloader_settings(2, cuda=False, cpus=2)["num_workers"] == 0
    assert dataloader_settings(1, cuda=False, cpus=128)["num_workers"] == 8
    # Explicit values win.
    chosen = dataloader_settings(1, cuda=True, num_workers=0, pin_memory=False, cpus=8)
    assert chosen == {"num_workers": 0, "pin_memory": False, "persistent_workers": False}


def test_detect_and_build_a_trainer_on_this_machine() -> None:
    import lightning as L
    import torch

    hardware = Hardware.detect()
    assert hardware.cpus == len(os.sched_getaffinity(0))
    assert len(hardware.gpus) == (torch.cuda.device_count() if torch.cuda.is_available() else 0)

    kwargs = trainer_settings({"accelerator": "cpu", "devices": "auto", "precision": "auto"})
    trainer = L.Trainer(**kwargs, logger=False, enable_checkpointing=False, max_epochs=1)
    assert trainer.num_devices == 1 and trainer.precision == "32-true"
    assert loader_settings(trainer, num_workers=None, pin_memory=None)["pin_memory"] is False


def test_importing_launch_imports_no_torch() -> None:
    heavy = "{'torch', 'lightning', 'submitit', 'hydra'}"
    code = f"import sys, mlcore.launch; print(sorted({heavy} & set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "[]"
