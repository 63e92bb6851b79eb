"""What the generated training loop costs over a raw PyTorch loop of the same model and data.

    python bench/loop_overhead.py [--repeat N]

The generated loop is the example project's own: its configs composed with Hydra, its callbacks
(checkpointing, early stopping off so every run does all epochs, the rich progress bar, the LR
monitor) and the MLflow logger on a SQLite file, driven by Lightning. The raw loop trains the same
model class on the same data loaders with the same optimizer and scheduler, validating each epoch
as the Trainer does. Each is timed at two epoch counts; the difference cancels one-time costs
(MLflow store, sanity check), leaving the cost per training step. A second, heavier model (raw
step of several ms) gives the throughput ratio. Results go to docs/benchmarks.md by hand.
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

from examples.scaffold import scaffold  # noqa: E402

SHORT, LONG = 3, 13  # epochs


def compose(project: Path, root: Path, overrides: list[str]):
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    paths = [f"paths.root_dir={root}", f"paths.output_dir={root}/out", f"paths.log_dir={root}/logs"]
    with initialize_config_dir(config_dir=str(project / "configs"), version_base="1.3"):
        return hydra_compose("train", overrides=[*paths, *overrides])


def generated_fit(project: Path, epochs: int, model_overrides: list[str]) -> tuple[float, int]:
    """Seconds inside trainer.fit of the generated loop, and its training steps."""
    import hydra
    import lightning as L

    from mlcore.training import instantiate_callbacks, instantiate_loggers

    with tempfile.TemporaryDirectory() as tmp:
        cfg = compose(
            project,
            Path(tmp),
            [f"trainer.max_epochs={epochs}", "trainer=cpu", "callbacks.early_stopping=null",
             *model_overrides],
        )  # fmt: skip
        cfg.logger.mlflow.tracking_uri = f"sqlite:///{tmp}/mlflow.db"
        L.seed_everything(0, verbose=False)
        datamodule = hydra.utils.instantiate(cfg.data)
        model = hydra.utils.instantiate(cfg.model)
        loggers = instantiate_loggers(cfg.logger)
        callbacks = instantiate_callbacks(cfg.callbacks)
        trainer = hydra.utils.instantiate(cfg.trainer, callbacks=callbacks, logger=loggers)
        start = time.perf_counter()
        trainer.fit(model, datamodule=datamodule)
        return time.perf_counter() - start, trainer.global_step


def raw_fit(project: Path, epochs: int, model_overrides: list[str]) -> tuple[float, int]:
    """Seconds of a plain PyTorch loop over the same model, data, optimizer and scheduler."""
    import hydra
    import lightning as L
    import torch

    with tempfile.TemporaryDirectory() as tmp:
        cfg = compose(project, Path(tmp), [f"trainer.max_epochs={epochs}", *model_overrides])
        L.seed_everything(0, verbose=False)
        datamodule = hydra.utils.instantiate(cfg.data)
        model = hydra.utils.instantiate(cfg.model)
        datamodule.setup("fit")
        start = time.perf_counter()
        configured = model.configure_optimizers()
        optimizer, scheduler = configured["optimizer"], configured["lr_scheduler"]["scheduler"]
        steps = 0
        for _ in range(epochs):
            model.train()
            for x, y in datamodule.train_dataloader():
                optimizer.zero_grad()
                loss = model.loss(model(x), y)
                loss.backward()
                optimizer.step()
                steps += 1
            model.eval()
            with torch.no_grad():
                for x, y in datamodule.val_dataloader():
                    model.loss(model(x), y)
            scheduler.step()
        return time.perf_counter() - start, steps


def per_step(fit, project: Path, overrides: list[str], repeat: int) -> tuple[float, float]:
    """Median seconds per training step (slope between two epoch counts) and per-run throughput."""
    slopes, rates = [], []
    for _ in range(repeat):
        short, short_steps = fit(project, SHORT, overrides)
        long, long_steps = fit(project, LONG, overrides)
        slopes.append((long - short) / (long_steps - short_steps))
        rates.append(long_steps / long)
    return statistics.median(slopes), statistics.median(rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    repeat = parser.parse_args().repeat
    logging.disable(logging.WARNING)
    warnings.filterwarnings("ignore")

    with tempfile.TemporaryDirectory() as tmp:
        project = scaffold("digits-classifier", Path(tmp) / "project")
        sys.path.insert(0, str(project / "src"))
        workloads = {
            "example model (MLP 256-128, batch 64)": [],
            "heavier model (MLP 3x2048, batch 256)": [
                "model.hidden_dims=[2048,2048,2048]", "data.batch_size=256",
            ],
        }  # fmt: skip
        rows = []
        for name, overrides in workloads.items():
            raw_step, raw_rate = per_step(raw_fit, project, overrides, repeat)
            gen_step, gen_rate = per_step(generated_fit, project, overrides, repeat)
            rows.append((name, raw_step, gen_step, raw_rate, gen_rate))

    print(f"median of {repeat} runs; per-step = slope between {SHORT} and {LONG} epochs")
    for name, raw_step, gen_step, raw_rate, gen_rate in rows:
        print(name)
        print(f"  raw loop        {raw_step * 1e3:7.3f} ms/step  {raw_rate:8.1f} steps/s")
        print(f"  generated loop  {gen_step * 1e3:7.3f} ms/step  {gen_rate:8.1f} steps/s")
        print(f"  overhead        {(gen_step - raw_step) * 1e3:7.3f} ms/step  "
              f"throughput ratio {gen_rate / raw_rate:.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
