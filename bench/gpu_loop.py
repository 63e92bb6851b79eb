"""The generated training loop on one GPU with bf16-mixed against a raw PyTorch loop, same run.

    python bench/gpu_loop.py --project build/gpu-example [--out DIR]      # bench/gpu_loop.sh

The generated loop is the example project's own `train()`: its configs composed with Hydra
(logger=csv: no MLflow), its callbacks (checkpoints, rich progress bar, LR monitor; early stopping
off), and the Trainer settings mlcore.launch resolves for this GPU (precision auto -> bf16-mixed
where supported). The raw loop trains the same model class on the same DataModule's loaders with
the same optimizer, calling the model's own `training_step` under `torch.autocast(bfloat16)`.

Throughput is measured over steady-state steps: inside each epoch, from the start of its third
batch to the end of its last, with the GPU synchronised at both ends, so epoch boundaries
(validation, checkpoint writes, loader restarts) count in neither loop; they are reported apart,
as whole-fit seconds. The workload is the smallest of WORKLOADS whose raw step takes >= 3 ms.
Peak GPU memory is torch.cuda.max_memory_allocated during each fit. The script also prints the
resolved Trainer settings for this machine and, with --smoke, runs `mlcore launch local` with one
process and trainer.strategy=ddp (an NCCL process group) for one epoch. Without a GPU the same
code runs on the CPU (32-true, a small workload) as a check. Results: stdout, <out>/gpu_loop.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any, ClassVar

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench.project_config import compose  # noqa: E402

WARMUP = 2  # batches of each epoch left out of the steady-state window
TARGET_RAW_STEP_S = 0.003
# name: overrides; the first whose raw step reaches TARGET_RAW_STEP_S on the GPU is measured.
# Wide layers and a small batch (40 steps an epoch of the digits): the step is the GPU's work,
# mostly AdamW streaming 16 bytes a parameter, not Python launching kernels.
WORKLOADS = {
    f"MLP 8192x{depth}, batch 32": [f"model.hidden_dims=[{','.join(['8192'] * depth)}]",
                                    "data.batch_size=32"]
    for depth in (4, 6, 8)
}  # fmt: skip
CPU_WORKLOAD = {"MLP 256x2 (CPU check), batch 32": ["model.hidden_dims=[256,256]",
                                                    "data.batch_size=32"]}  # fmt: skip


def sync() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


class StepWindows:
    """Seconds and steps of each epoch's steady-state window (shared by both loops)."""

    def __init__(self) -> None:
        self.seconds: list[float] = []
        self.steps: list[int] = []
        self._start = 0.0

    def batch_start(self, index: int) -> None:
        if index == WARMUP:
            sync()
            self._start = time.perf_counter()

    def epoch_end(self, last_index: int) -> None:
        if last_index >= WARMUP:
            sync()
            self.seconds.append(time.perf_counter() - self._start)
            self.steps.append(last_index - WARMUP + 1)

    @property
    def steps_per_s(self) -> float:
        return sum(self.steps) / sum(self.seconds)


try:
    from lightning.pytorch import Callback
except ImportError:  # the script's --help needs no Lightning
    Callback = object  # type: ignore[assignment,misc]


class WindowTimer(Callback):  # type: ignore[misc,valid-type]
    """The generated loop's windows, as a callback added through the config (`+callbacks.timer`)."""

    latest: ClassVar[StepWindows | None] = None

    def __init__(self) -> None:
        self.windows = StepWindows()
        self._last = -1
        WindowTimer.latest = self.windows

    def on_train_batch_start(self, trainer: Any, module: Any, batch: Any, index: int) -> None:
        self.windows.batch_start(index)

    def on_train_batch_end(
        self, trainer: Any, _module: Any, _out: Any, _batch: Any, index: int
    ) -> None:
        # The window closes after the epoch's last optimizer step, before validation runs (as in
        # the raw loop): `on_train_epoch_end` comes only after the validation loop.
        if index == trainer.num_training_batches - 1:
            self.windows.epoch_end(index)


def reset_peak() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def peak_gib() -> float:
    import torch

    return torch.cuda.max_memory_allocated() / 2**30 if torch.cuda.is_available() else 0.0


# The generated loop without its per-step conveniences: what the progress bar and LR monitor cost.
LEAN = ["callbacks.rich_progress_bar=null", "trainer.enable_progress_bar=false",
        "callbacks.lr_monitor=null"]  # fmt: skip


def generated_lean_fit(project: Path, overrides: list[str], epochs: int) -> dict[str, Any]:
    """generated_fit without the progress bar and the LR monitor (`--lean`)."""
    return generated_fit(project, [*overrides, *LEAN], epochs)


def generated_fit(project: Path, overrides: list[str], epochs: int) -> dict[str, Any]:
    """The project's own train(): composed config, its callbacks, csv logger, no test."""
    from digits_classifier.train import train

    with tempfile.TemporaryDirectory() as tmp:
        cfg = compose(project, Path(tmp), [
            *overrides, f"trainer.max_epochs={epochs}", "logger=csv", "test=false",
            "callbacks.early_stopping=null", f"+callbacks.timer._target_={__name__}.WindowTimer",
        ])  # fmt: skip
        reset_peak()
        start = time.perf_counter()
        train(cfg)
        sync()
        seconds = time.perf_counter() - start
    windows = WindowTimer.latest
    assert windows is not None and windows.steps, "the timer callback did not run"
    return {"steps_per_s": windows.steps_per_s, "fit_s": seconds, "peak_gib": peak_gib(),
            "steps": sum(windows.steps)}  # fmt: skip


def raw_fit(project: Path, overrides: list[str], epochs: int) -> dict[str, Any]:
    """Plain PyTorch: same model, DataModule loaders, optimizer, and bf16 autocast on CUDA."""
    import hydra
    import lightning as L
    import torch

    from mlcore.launch import Hardware, TrainerRequest, resolve

    with tempfile.TemporaryDirectory() as tmp:
        cfg = compose(project, Path(tmp), [*overrides, f"trainer.max_epochs={epochs}"])
        L.seed_everything(42, verbose=False)
        settings = resolve(TrainerRequest.from_config(cfg.trainer), Hardware.detect())
        cuda = settings.accelerator == "gpu"
        device = torch.device("cuda" if cuda else "cpu")
        dtype = torch.bfloat16 if "bf16" in str(settings.precision) else None
        datamodule = hydra.utils.instantiate(cfg.data, pin_memory=cuda)
        model = hydra.utils.instantiate(cfg.model)
        reset_peak()
        start = time.perf_counter()
        datamodule.prepare_data()  # as Lightning does before setup: the catalog dataset exists
        datamodule.setup("fit")
        model.to(device)
        configured = model.configure_optimizers()
        optimizer, scheduler = configured["optimizer"], configured["lr_scheduler"]["scheduler"]
        windows = StepWindows()
        for _ in range(epochs):
            model.train()
            index = -1
            for index, (x, y) in enumerate(datamodule.train_dataloader()):
                windows.batch_start(index)
                batch = (x.to(device, non_blocking=True), y.to(device, non_blocking=True))
                with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
                    loss = model.training_step(batch, index)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
            windows.epoch_end(index)
            model.eval()
            autocast = torch.autocast(device.type, dtype=dtype, enabled=dtype is not None)
            with torch.no_grad(), autocast:
                for x, y in datamodule.val_dataloader():
                    model.validation_step((x.to(device), y.to(device)), 0)
            scheduler.step()
        sync()
        seconds = time.perf_counter() - start
    return {"steps_per_s": windows.steps_per_s, "fit_s": seconds, "peak_gib": peak_gib(),
            "steps": sum(windows.steps)}  # fmt: skip


def pick_workload(project: Path, on_gpu: bool) -> tuple[str, list[str], float]:
    """The first workload whose raw step reaches the target (any, on a CPU check)."""
    candidates = WORKLOADS if on_gpu else CPU_WORKLOAD
    step = 0.0
    for name, overrides in candidates.items():
        step = 1 / raw_fit(project, overrides, epochs=1)["steps_per_s"]
        print(f"probe {name}: raw step {step * 1e3:.2f} ms", flush=True)
        if step >= TARGET_RAW_STEP_S or not on_gpu:
            return name, overrides, step
    return name, overrides, step


def resolved_settings() -> dict[str, Any]:
    from mlcore.launch import Hardware, TrainerRequest, loader_settings, resolve

    hardware = Hardware.detect()
    settings = resolve(TrainerRequest(), hardware)
    return {
        "hardware": hardware.describe(),
        "gpus": [
            {
                "name": g.name,
                "capability": list(g.capability),
                "bf16": g.bf16,
                "memory_gib": round(g.memory_bytes / 2**30, 1),
            }
            for g in hardware.gpus
        ],
        "trainer": settings.trainer_kwargs(),
        "loader_auto": loader_settings(None),
        "describe": settings.describe(),
    }


def smoke(project: Path, env: dict[str, str]) -> dict[str, Any]:
    """`mlcore launch local` with one process and DDP (NCCL on a GPU), one short epoch."""
    command = [sys.executable, "-m", "mlcore", "launch", "local", "launcher.nproc_per_node=1",
               "trainer.strategy=ddp", "trainer.max_epochs=1", "logger=csv", "test=false",
               "tracking.system_metrics=false", "callbacks.rich_progress_bar=null"]  # fmt: skip
    start = time.perf_counter()
    result = subprocess.run(command, cwd=project, env=env, capture_output=True, text=True,
                            timeout=180)  # fmt: skip
    output = result.stdout + result.stderr
    lines = [line for line in output.splitlines() if "Trainer" in line or "nccl" in line.lower()]
    return {"command": " ".join(command[1:]), "returncode": result.returncode,
            "seconds": round(time.perf_counter() - start, 1), "lines": lines[-6:],
            "tail": output[-1500:] if result.returncode else ""}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--project", type=Path, default=REPO / "build" / "gpu-example")
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", ".")))
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--smoke", action="store_true", help="also the torchrun DDP smoke run")
    parser.add_argument("--smoke-after-s", type=float, default=170, help="skip it past this")
    parser.add_argument("--lean", action="store_true", help="also without progress bar, LR monitor")
    args = parser.parse_args()
    project = args.project.resolve()
    sys.path.insert(0, str(project / "src"))
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [str(REPO), str(project / "src"), os.environ.get("PYTHONPATH", "")]
    )
    logging.disable(logging.WARNING)
    warnings.filterwarnings("ignore")
    import torch

    started = time.perf_counter()
    on_gpu = torch.cuda.is_available()
    results: dict[str, Any] = {"torch": torch.__version__, "cuda": torch.version.cuda}
    results["resolved"] = resolved_settings()
    print("Resolved on this machine:", results["resolved"]["describe"], flush=True)

    save(args.out, results)
    name, overrides, probe = pick_workload(project, on_gpu)
    loops = {"raw": raw_fit, "generated": generated_fit}
    if args.lean:
        loops["generated-lean"] = generated_lean_fit
    rows: dict[str, list[dict[str, Any]]] = {loop: [] for loop in loops}
    results |= {"workload": name, "overrides": overrides, "runs": rows}
    for index in range(args.repeat):  # alternate, so drift hits both loops alike
        for loop, fit in loops.items():
            rows[loop].append(fit(project, overrides, args.epochs))
            row = rows[loop][-1]
            print(f"run {index + 1} {loop}: {row['steps_per_s']:.1f} steps/s, fit "
                  f"{row['fit_s']:.1f} s, peak {row['peak_gib']:.2f} GiB "
                  f"[{time.perf_counter() - started:.0f} s]", flush=True)  # fmt: skip
            save(args.out, results)  # what is done survives a timeout
    summary = {
        loop: {key: statistics.median(run[key] for run in runs) for key in runs[0]}
        for loop, runs in rows.items()
    }
    ratio = summary["generated"]["steps_per_s"] / summary["raw"]["steps_per_s"]
    results |= {"probe_raw_step_ms": probe * 1e3,
                "epochs": args.epochs, "repeat": args.repeat, "median": summary,
                "ratio_generated_over_raw": ratio,
                "target_met": ratio >= 0.9 and (probe >= TARGET_RAW_STEP_S or not on_gpu),
                "mlflow_imported": "mlflow" in sys.modules}  # fmt: skip

    print(f"\nworkload: {name} ({' '.join(overrides)}), {args.epochs} epochs, median of "
          f"{args.repeat}; precision {results['resolved']['trainer']['precision']}")  # fmt: skip
    print(f"{'loop':<15} {'steps/s':>9} {'ms/step':>8} {'fit s':>7} {'peak GiB':>9}")
    for loop, row in summary.items():
        print(f"{loop:<15} {row['steps_per_s']:9.1f} {1e3 / row['steps_per_s']:8.3f} "
              f"{row['fit_s']:7.2f} {row['peak_gib']:9.2f}")  # fmt: skip
    print(f"throughput ratio generated/raw: {ratio:.3f} (target >= 0.9)", flush=True)
    if args.lean:
        lean = summary["generated-lean"]["steps_per_s"] / summary["raw"]["steps_per_s"]
        results["ratio_lean_over_raw"] = lean
        print(f"throughput ratio generated-lean/raw: {lean:.3f}", flush=True)

    save(args.out, results)
    if args.smoke and time.perf_counter() - started > args.smoke_after_s:
        print(f"smoke skipped: {time.perf_counter() - started:.0f} s spent already")
    elif args.smoke:
        results["smoke"] = smoke(project, dict(os.environ))
        print(f"smoke ({results['smoke']['command']}): exit {results['smoke']['returncode']} "
              f"in {results['smoke']['seconds']} s")  # fmt: skip
        for line in results["smoke"]["lines"]:
            print("  " + line)
        if results["smoke"]["tail"]:
            print(results["smoke"]["tail"])
    results["wall_s"] = time.perf_counter() - started
    save(args.out, results)
    print(f"wrote {args.out / 'gpu_loop.json'} after {results['wall_s']:.0f} s")
    return 0


def save(out: Path, results: dict[str, Any]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "gpu_loop.json").write_text(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    raise SystemExit(main())
