"""What the generated training loop costs over a raw PyTorch loop of the same model and data.

    python bench/loop_overhead.py [--repeat N]

The generated loop is the example project's own: its configs composed with Hydra, its callbacks
(checkpointing, early stopping off so every run does all epochs, the rich progress bar, the LR
monitor) and the MLflow logger on a SQLite file, driven by Lightning. The raw loop trains the same
model class on the same data loaders with the same optimizer and scheduler, validating each epoch
as the Trainer does.

Costs are split the way they scale. Per step: the slope between two numbers of training batches
per epoch (same epochs), which cancels one-time and per-epoch costs. Per epoch: the slope between
two epoch counts (same batches), which holds validation, checkpoint writes and the epoch's MLflow
writes. The throughput ratio is raw over generated time per step; the heavier model's raw step
takes several milliseconds. Results go to docs/benchmarks.md by hand.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.project_config import compose  # noqa: E402
from examples.scaffold import scaffold  # noqa: E402

EPOCHS = (2, 6)  # short and long runs, for the per-epoch slope


# Lightning with nothing of ours: no callbacks, logger or progress bar.
BARE = ["callbacks=none", "logger=none", "trainer.enable_progress_bar=false",
        "+trainer.enable_checkpointing=false"]  # fmt: skip


def bare_fit(project: Path, epochs: int, batches: int, overrides: list[str]) -> float:
    """Seconds inside trainer.fit of Lightning alone, same model and data."""
    return generated_fit(project, epochs, batches, [*BARE, *overrides])


def generated_fit(project: Path, epochs: int, batches: int, overrides: list[str]) -> float:
    """Seconds inside trainer.fit of the generated loop."""
    import hydra
    import lightning as L

    from mlcore.launch import trainer_settings
    from mlcore.training import instantiate_callbacks, instantiate_loggers

    with tempfile.TemporaryDirectory() as tmp:
        cfg = compose(
            project,
            Path(tmp),
            [f"trainer.max_epochs={epochs}", f"+trainer.limit_train_batches={batches}",
             "trainer=cpu", *overrides],
        )  # fmt: skip
        if cfg.callbacks:
            cfg.callbacks.early_stopping = None  # every run trains all its epochs
        if cfg.logger:
            cfg.logger.mlflow.tracking_uri = f"sqlite:///{tmp}/mlflow.db"
        L.seed_everything(0, verbose=False)
        datamodule = hydra.utils.instantiate(cfg.data)
        model = hydra.utils.instantiate(cfg.model)
        loggers = instantiate_loggers(cfg.logger)
        callbacks = instantiate_callbacks(cfg.callbacks, has_logger=bool(loggers))
        resources = trainer_settings(cfg.trainer, model)
        trainer = hydra.utils.instantiate(
            cfg.trainer, **resources, callbacks=callbacks, logger=loggers or False
        )
        start = time.perf_counter()
        trainer.fit(model, datamodule=datamodule)
        assert trainer.global_step == epochs * batches, "not the runs being compared"
        return time.perf_counter() - start


def raw_fit(project: Path, epochs: int, batches: int, overrides: list[str]) -> float:
    """Seconds of a plain PyTorch loop over the same model, data, optimizer and scheduler."""
    import hydra
    import lightning as L
    import torch

    with tempfile.TemporaryDirectory() as tmp:
        cfg = compose(project, Path(tmp), [f"trainer.max_epochs={epochs}", *overrides])
        L.seed_everything(0, verbose=False)
        datamodule = hydra.utils.instantiate(cfg.data)
        model = hydra.utils.instantiate(cfg.model)
        datamodule.prepare_data()  # as Lightning does before setup: the catalog dataset exists
        datamodule.setup("fit")
        start = time.perf_counter()
        configured = model.configure_optimizers()
        optimizer, scheduler = configured["optimizer"], configured["lr_scheduler"]["scheduler"]
        for _ in range(epochs):
            model.train()
            for _, (x, y) in zip(range(batches), datamodule.train_dataloader(), strict=False):
                optimizer.zero_grad()
                loss = model.loss(model(x), y)
                loss.backward()
                optimizer.step()
            model.eval()
            with torch.no_grad():
                for x, y in datamodule.val_dataloader():
                    model.loss(model(x), y)
            scheduler.step()
        return time.perf_counter() - start


def costs(fit, project: Path, overrides: list[str], few: int, many: int, repeat: int):
    """Median seconds per training step and per epoch (see the module docstring)."""
    short, long = EPOCHS
    steps, epochs = [], []
    for _ in range(repeat):
        base = fit(project, short, few, overrides)
        more_batches = fit(project, short, many, overrides)
        more_epochs = fit(project, long, few, overrides)
        steps.append((more_batches - base) / (short * (many - few)))
        epochs.append((more_epochs - base) / (long - short))
    return statistics.median(steps), statistics.median(epochs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    repeat = parser.parse_args().repeat
    logging.disable(logging.WARNING)
    warnings.filterwarnings("ignore")

    with tempfile.TemporaryDirectory() as tmp:
        project = scaffold("digits-classifier", Path(tmp) / "project")
        sys.path.insert(0, str(project / "src"))
        # name: (overrides, batches per epoch for the two runs; the loader has more)
        workloads = {
            "example model (MLP 256-128), batch 8": (["data.batch_size=8"], 10, 150),
            "heavier model (MLP 1024-1024), batch 16": (
                ["model.hidden_dims=[1024,1024]", "data.batch_size=16"], 5, 75,
            ),
        }  # fmt: skip
        rows = []
        for name, (overrides, few, many) in workloads.items():
            loops = {"raw": raw_fit, "lightning": bare_fit, "generated": generated_fit}
            rows.append((name, {key: costs(fit, project, overrides, few, many, repeat)
                                for key, fit in loops.items()}))  # fmt: skip

    print(f"median of {repeat} runs; ms per training step | ms per epoch")
    for name, cost in rows:
        print(name)
        for key, (step, epoch) in cost.items():
            print(f"  {key:<10} {step * 1e3:8.3f} | {epoch * 1e3:7.1f}")
        raw, bare, ours = (cost[key][0] for key in ("raw", "lightning", "generated"))
        lightning, kit = (bare - raw) * 1e3, (ours - bare) * 1e3
        print(
            f"  overhead per step: generated over raw {(ours - raw) * 1e3:.3f} ms "
            f"(Lightning alone {lightning:.3f} ms, the kit {kit:.3f} ms)"
        )
        print(f"  throughput ratio: generated/raw {raw / ours:.3f}, Lightning/raw {raw / bare:.3f}")


if __name__ == "__main__":
    main()
