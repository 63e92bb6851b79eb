"""What MLflow tracking and the registry cost a training run of the generated example.

    python bench/tracking.py [--repeat N]

1. Step time, tracking on against off, same model, data, seed and process. "On" is what
   `make train` does: the MLflow logger on SQLite, `open_run` (lineage tags, config artifact,
   system metrics sampled every 10 s). "Off" is `logger=none`. Runs alternate, so drift on a noisy
   machine hits both alike. Per step: the median of the time between Lightning's batch-start and
   batch-end hooks; per fit: the whole `trainer.fit` (with the per-epoch metric writes).
2. End of training to a registered, loadable candidate: `run.log_model` (test-split digests, the
   servable model with explicit requirements, registration as `candidate`, model card), then
   `mlcore.registry.load(name, "candidate")` and one prediction in the same process. The plots,
   drawn after registration, are timed apart.
3. `copier copy` to a registered candidate: render the example, `git init` and commit (what
   `make setup` does besides installing), `make train` in this environment with the project on
   PYTHONPATH; the install itself is left out, as the template tests leave it out.

Results go to docs/benchmarks.md by hand.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.project_config import compose as compose_project  # noqa: E402
from examples.scaffold import scaffold  # noqa: E402

EPOCHS = 8
FAST = ["trainer=cpu", "callbacks.early_stopping=null", "callbacks.rich_progress_bar=null",
        "trainer.enable_model_summary=false", "trainer.enable_progress_bar=false"]  # fmt: skip


def compose(project: Path, root: Path, overrides: list[str]):
    """The project's config (bench/project_config.py) with MLflow's store inside root."""
    cfg = compose_project(project, root, overrides)
    if cfg.get("logger"):
        from omegaconf import open_dict

        cfg.logger.mlflow.tracking_uri = f"sqlite:///{root}/mlflow.db"
        with open_dict(cfg):
            cfg.logger.mlflow.artifact_location = (root / "artifacts").as_uri()
    return cfg


class StepTimer:
    """Lightning callback: the wall time of each training step."""

    def __init__(self) -> None:
        self.steps: list[float] = []
        self._start = 0.0

    def on_train_batch_start(self, *args: object) -> None:
        self._start = time.perf_counter()

    def on_train_batch_end(self, *args: object) -> None:
        self.steps.append(time.perf_counter() - self._start)


def one_run(project: Path, tracked: bool, registry: bool = False) -> dict[str, float]:
    """Fit (and for `registry`, test, log and register) once; seconds of each phase."""
    import hydra
    import lightning as L
    from lightning.pytorch import Callback

    from mlcore.launch import trainer_settings
    from mlcore.tracking import open_run
    from mlcore.training import instantiate_callbacks, instantiate_loggers

    timer = StepTimer()
    hook = type("Timer", (Callback,), {
        "on_train_batch_start": lambda self, *a: timer.on_train_batch_start(),
        "on_train_batch_end": lambda self, *a: timer.on_train_batch_end(),
    })()  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        logger = "logger=mlflow" if tracked else "logger=none"
        cfg = compose(project, Path(tmp), [*FAST, logger, f"trainer.max_epochs={EPOCHS}"])
        L.seed_everything(42, verbose=False)
        datamodule = hydra.utils.instantiate(cfg.data)
        model = hydra.utils.instantiate(cfg.model)
        loggers = instantiate_loggers(cfg.get("logger"))
        callbacks = [*instantiate_callbacks(cfg.callbacks, has_logger=bool(loggers)), hook]
        resources = trainer_settings(cfg.trainer, model)
        trainer = hydra.utils.instantiate(
            cfg.trainer, **resources, callbacks=callbacks, logger=loggers or False
        )
        found: dict[str, float] = {}
        with open_run(cfg, loggers, trainer) as run:
            start = time.perf_counter()
            trainer.fit(model, datamodule=datamodule)
            found["fit"] = time.perf_counter() - start
            found["step"] = statistics.median(timer.steps)
            if registry:
                trainer.test(model, datamodule=datamodule, verbose=False)
                start = time.perf_counter()
                version = run.log_model(model, datamodule)
                found["registered"] = run.registered_after
                found["with_plots"] = time.perf_counter() - start
                assert version is not None
                from mlcore.registry import load

                start = time.perf_counter()
                loaded = load(cfg.registry.model_name, "candidate", tracking_uri=run.tracking_uri)
                x = datamodule.test_set.tensors[0][:8].numpy()
                assert loaded.predict(x).shape == (8, 10)
                found["load_predict"] = time.perf_counter() - start
        return found


def copy_to_candidate(tmp: Path) -> dict[str, float]:
    """`copier copy`, git init + commit, `make train`: seconds of each."""
    start = time.perf_counter()
    project = scaffold("digits-classifier", tmp / "copied")
    found = {"render": time.perf_counter() - start}
    start = time.perf_counter()
    git = ["git", "-c", "user.name=bench", "-c", "user.email=bench@example.com"]
    for args in (["init", "--quiet"], ["add", "--all"], ["commit", "--quiet", "-m", "init"]):
        subprocess.run([*git, *args], cwd=project, check=True, capture_output=True)
    found["git"] = time.perf_counter() - start
    env = {**os.environ, "PYTHONPATH": str(project / "src")}
    env.pop("MLFLOW_TRACKING_URI", None)
    start = time.perf_counter()
    result = subprocess.run(["make", "train", f"PYTHON={sys.executable}"], cwd=project, env=env,
                            capture_output=True, text=True)  # fmt: skip
    found["train"] = time.perf_counter() - start
    if result.returncode or "as candidate" not in result.stderr + result.stdout:
        raise SystemExit(f"make train did not register a candidate:\n{result.stderr[-3000:]}")
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    repeat = parser.parse_args().repeat
    logging.disable(logging.WARNING)
    warnings.filterwarnings("ignore")

    with tempfile.TemporaryDirectory() as tmp:
        project = scaffold("digits-classifier", Path(tmp) / "project")
        sys.path.insert(0, str(project / "src"))
        one_run(project, tracked=True)  # warm-up: imports, first SQLite store
        on, off, registry = [], [], []
        for _ in range(repeat):
            off.append(one_run(project, tracked=False))
            on.append(one_run(project, tracked=True))
            registry.append(one_run(project, tracked=True, registry=True))
        copies = [copy_to_candidate(Path(tmp) / f"copy{i}") for i in range(min(repeat, 3))]

    def median(runs: list[dict[str, float]], key: str) -> float:
        return statistics.median(run[key] for run in runs)

    print(f"median of {repeat} runs, {EPOCHS} epochs of the example (batch 64)")
    step_on, step_off = median(on, "step"), median(off, "step")
    fit_on, fit_off = median(on, "fit"), median(off, "fit")
    print(f"step  tracking off {step_off * 1e3:7.3f} ms  on {step_on * 1e3:7.3f} ms  "
          f"overhead {100 * (step_on / step_off - 1):+.1f} %")  # fmt: skip
    print(f"fit   tracking off {fit_off:7.3f} s   on {fit_on:7.3f} s   "
          f"overhead {100 * (fit_on / fit_off - 1):+.1f} %")  # fmt: skip
    print(f"end of training -> registered candidate: {median(registry, 'registered'):.3f} s "
          f"(with plots {median(registry, 'with_plots'):.3f} s); load + predict "
          f"{median(registry, 'load_predict'):.3f} s")  # fmt: skip
    render, git, train = (median(copies, key) for key in ("render", "git", "train"))
    print(
        f"copier copy -> registered candidate: {render + git + train:.1f} s "
        f"(render {render:.2f} s, git init+commit {git:.2f} s, make train {train:.1f} s)"
    )


if __name__ == "__main__":
    main()
