"""Tracking as Lightning callbacks (`configs/callbacks/mlflow.yaml`), on Lightning's public hooks.

`MlflowTracking` opens the run (lineage, config, system metrics, `on_outage`) in `setup`;
`LogModel` logs the tested model after `trainer.test` and may register it as `candidate`;
`MlflowEvaluation` runs MLflow's evaluation of the test predictions. The test outputs are taken
once from Lightning's own test loop and reused. Without an MLflow logger, or off rank zero, they
do nothing.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

from lightning.pytorch import Callback, LightningModule, Trainer

from mlcore import mlflow_store
from mlcore.tracking import inputs, lineage
from mlcore.tracking.loggers import describe_logger, is_mlflow, log_config, tracking_uri_of
from mlcore.tracking.server import OUTAGE_POLICIES, OutageGuard, TrackingUnavailableError

log = logging.getLogger("mlcore.tracking")

PARENT_RUN_ENV = lineage.PARENT_RUN_ENV


def mlflow_logger(trainer: Trainer) -> Any:
    """The trainer's MLflow logger, on rank zero (None elsewhere and without one)."""
    if trainer.global_rank != 0:
        return None
    return next((logger for logger in trainer.loggers if is_mlflow(logger)), None)


def tracking_of(trainer: Trainer) -> MlflowTracking | None:
    """The trainer's MlflowTracking callback, if it has one."""
    found = [c for c in trainer.callbacks if isinstance(c, MlflowTracking)]  # type: ignore[attr-defined]
    return found[0] if found else None


class MlflowTracking(Callback):
    """Open the trainer's MLflow run with its lineage; keep its system metrics; handle outages.

    `root_dir` is the project (git commit, template, lock file); `config` the resolved run config,
    logged to every logger once the run is open (`mlcore.training.log_hyperparameters` sets it).
    """

    def __init__(
        self,
        root_dir: str | None = None,
        system_metrics: bool = True,
        system_metrics_interval: float = 10.0,
        on_outage: str = "fail",
        evaluated_model: str | None = None,
    ) -> None:
        if on_outage not in OUTAGE_POLICIES:
            policies = " or ".join(OUTAGE_POLICIES)
            raise ValueError(f"tracking.on_outage must be {policies}, not {on_outage!r}")
        self.root_dir = Path(root_dir or ".")
        self.system_metrics = system_metrics
        self.system_metrics_interval = float(system_metrics_interval)
        self.on_outage = on_outage
        # Resolved now: Lightning's MLFlowLogger exports its own MLFLOW_TRACKING_URI once it
        # starts, and the registry is the one MLFLOW_TRACKING_URI names before that.
        self.evaluated = _evaluated_version(evaluated_model)
        self.config: Any = None
        self.logger: Any = None
        self.guard: OutageGuard | None = None
        self.opened = False
        self._monitor: Any = None
        self._monitor_started = 0.0

    @property
    def run_id(self) -> str | None:
        return self.logger.run_id if self.logger is not None else None

    @property
    def tracking_uri(self) -> str | None:
        return tracking_uri_of(self.logger) if self.logger is not None else None

    @property
    def down(self) -> bool:
        return self.guard is not None and self.guard.down

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        if self.opened:
            return
        self.opened = True
        self.logger = mlflow_logger(trainer)
        if self.logger is None:
            if self.config is not None and trainer.global_rank == 0:
                log_config(self.config, trainer.loggers)
            return
        tags = lineage.lineage_tags(self.root_dir, trainer)
        tags |= self.evaluated
        parent = os.environ.get(PARENT_RUN_ENV)
        if parent:
            tags[lineage.PARENT_RUN_ID] = parent
        attempt = _record_run(trainer, self.logger)
        if attempt > 1:
            tags[lineage.RESUMED] = str(attempt)
        continued = bool(getattr(self.logger, "continued", False))
        mlflow_store.bounded_retries()
        try:
            self._tag(tags)
            if continued:  # resume=auto: the interrupted attempt ended it FAILED
                self.logger.experiment.update_run(self.logger.run_id, status="RUNNING")
        except Exception as error:
            if not mlflow_store.is_unreachable(error):
                raise
            message = mlflow_store.unreachable_message(self.tracking_uri, error)
            if self.on_outage == "fail":
                raise TrackingUnavailableError(
                    f"{message}. Nothing was trained (tracking.on_outage=fail); set "
                    "tracking.on_outage=continue to train without tracking"
                ) from error
            log.warning("%s. Training without MLflow: nothing of this run is tracked", message)
            trainer.loggers = [logger for logger in trainer.loggers if logger is not self.logger]
            self.logger = None
        else:
            self._guard_outages()
        if self.config is not None:
            log_config(
                self.config, trainer.loggers, continued=continued and self.logger is not None
            )
        if self.logger is not None:
            for line in describe_logger(self.logger):
                log.info("%s", line)
        self._start_system_metrics()

    def set_tags(self, tags: dict[str, Any]) -> None:
        """Add tags to the run (nothing without MLflow)."""
        if self.logger is not None:
            self._tag(lineage.text_tags(tags))

    def _tag(self, tags: dict[str, str]) -> None:
        from mlflow.entities import RunTag

        run_tags = [RunTag(key, value) for key, value in tags.items()]
        self.logger.experiment.log_batch(self.logger.run_id, tags=run_tags)

    def _guard_outages(self) -> None:
        """Route the logger's client calls through an OutageGuard: with mlcore's MLFlowLogger;
        Lightning's own offers no public seam for it, so there an outage fails as it comes."""
        guard_outages = getattr(self.logger, "guard_outages", None)
        if guard_outages is None:
            only = "mlcore.tracking.mlflow_logger.MLFlowLogger"
            where = type(self.logger).__module__
            log.info("tracking.on_outage applies to %s only; %s raises outages", only, where)
            return
        self.guard = guard_outages(self.on_outage, self.tracking_uri)

    def _start_system_metrics(self) -> None:
        """MLflow's system metrics (CPU, memory, disk, network; GPUs with nvidia-ml-py) every
        `system_metrics_interval` seconds, in a daemon thread; skipped without psutil."""
        if self.logger is None or not self.system_metrics or self._monitor is not None:
            return
        try:
            import psutil  # noqa: F401  # what MLflow samples with
            from mlflow.system_metrics.system_metrics_monitor import SystemMetricsMonitor
        except ImportError:
            log.info("System metrics off: psutil is not installed")
            return
        self._monitor = SystemMetricsMonitor(
            self.run_id,
            sampling_interval=self.system_metrics_interval,
            tracking_uri=self.tracking_uri,
        )
        self._monitor.start()
        self._monitor_started = time.monotonic()

    def stop_system_metrics(self) -> None:
        """Stop the monitor. A run shorter than about one sampling interval (MLflow's thread
        publishes only after its first interval) still gets one sample, taken now, unless the
        server is known to be down."""
        if self._monitor is None:
            return
        monitor, self._monitor = self._monitor, None
        monitor.finish()
        ran = time.monotonic() - self._monitor_started
        if ran >= 1.5 * self.system_metrics_interval or self.down:
            return
        try:
            monitor.collect_metrics()
            monitor.publish_metrics(monitor.aggregate_metrics())
            monitor.mlflow_logger.flush()
        except Exception as error:  # system metrics must never cost the run anything else
            log.warning("System metrics not logged: %s", error)

    def on_fit_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self.stop_system_metrics()  # training is over; the monitor would only sample the test

    def on_test_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self.stop_system_metrics()

    def on_exception(
        self, trainer: Trainer, pl_module: LightningModule, error: BaseException
    ) -> None:
        self.teardown(trainer, pl_module, "exception")  # training stops: say it now

    def teardown(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        """Say what an outage kept from the server, once: after the test where a callback
        still logs then (LogModel), else now."""
        self.stop_system_metrics()
        callbacks = trainer.callbacks  # type: ignore[attr-defined]
        test_follows = stage == "fit" and any(isinstance(c, TestOutputs) for c in callbacks)
        if self.down and not test_follows:
            assert self.guard is not None
            status = "the run's end status (it stays RUNNING on the server)"
            if status not in self.guard.not_logged:
                self.guard.not_logged.append(status)
            log.warning("%s", self.guard.summary())


def _record_run(trainer: Trainer, logger: Any) -> int:
    """Put the MLflow run into the run directory's record (resume=auto); the attempt number."""
    from mlcore.resume import RunRecord

    record = RunRecord(Path(trainer.default_root_dir))
    return record.set_run_id(str(logger.run_id)) if record.path.is_file() else 1


def _evaluated_version(model_uri: str | None) -> dict[str, str]:
    """An evaluation of a registered model names the version it tests (an alias moves)."""
    from mlcore.registry import store
    from mlcore.registry.settings import model_uri as resolved

    uri = resolved(str(model_uri)) if model_uri else ""  # `candidate`: the project's model
    if not uri.startswith("models:/"):
        return {}
    name, ref = store.parse_model_uri(uri)
    client = mlflow_store.client()  # the registry MLFLOW_TRACKING_URI names, as everywhere
    with mlflow_store.translated(f"resolve {uri}", client.tracking_uri, name):
        found = store.version(client, name, ref)
    return {mlflow_store.EVALUATED_MODEL: name, mlflow_store.EVALUATED_VERSION: str(found.version)}


class TestOutputs(Callback):
    """The test split's features, targets and model outputs, taken from Lightning's own test loop
    by a forward hook on the module (no extra pass); a module whose `test_step` does not call
    `forward`, or a test split sharded over several processes, gets one pass of its own."""

    def __init__(self) -> None:
        self.test: inputs.Split | None = None
        self._batches: list[tuple[Any, Any]] = []
        self._targets: list[Any] = []
        self._hook: Any = None

    def on_test_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self.test, self._batches, self._targets = None, [], []
        if trainer.world_size == 1:
            self._hook = pl_module.register_forward_hook(self._capture)

    def _capture(self, module: Any, args: tuple[Any, ...], output: Any) -> None:
        if args and hasattr(output, "detach"):
            self._batches.append((inputs.numpy(args[0]), inputs.numpy(output)))

    def on_test_batch_end(
        self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any,
        batch_idx: int, dataloader_idx: int = 0,
    ) -> None:  # fmt: skip
        if isinstance(batch, tuple | list) and len(batch) >= 2:
            self._targets.append(inputs.numpy(batch[1]))

    def on_test_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        import numpy as np

        if self._hook is not None:
            self._hook.remove()
            self._hook = None
        if self._batches and len(self._batches) == len(self._targets):
            features, outputs = (np.concatenate(part) for part in zip(*self._batches, strict=True))
            targets = np.concatenate(self._targets)
            self.test = inputs.Split("test", features, targets, outputs)
        elif trainer.global_rank == 0 and trainer.datamodule is not None:  # type: ignore[attr-defined]
            self.test = inputs.predict_split(pl_module, trainer.datamodule, "test")  # type: ignore[attr-defined]
        self._batches, self._targets = [], []


class LogModel(TestOutputs):
    """After `trainer.test`: the data digests, the servable model (and its checked ONNX copy),
    the plots; with `register` (not in a search's trials) a new version of `model_name` as
    `candidate` in the registry."""

    def __init__(
        self,
        enabled: bool = True,
        onnx: bool = True,
        register: bool = False,
        model_name: str | None = None,
        intended_use: str = "",
    ) -> None:
        super().__init__()
        self.enabled = enabled
        self.onnx = onnx
        self.register = register
        self.model_name = model_name
        self.intended_use = intended_use
        self.model_uri: str | None = None
        self.version: Any = None
        self.registered_after: float | None = None

    def on_test_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        super().on_test_end(trainer, pl_module)
        tracking = tracking_of(trainer)
        if not self.enabled or tracking is None or tracking.logger is None:
            return
        what = "the model and its registration as candidate" if self._registers() else "the model"
        if tracking.down:
            assert tracking.guard is not None
            tracking.guard.not_logged.append(what)
            return
        try:
            self._log(trainer, pl_module, tracking)
        except Exception as error:
            if tracking.guard is None or not mlflow_store.is_unreachable(error):
                raise
            tracking.guard.trip(error)
            tracking.guard.not_logged.append(what)
            if tracking.on_outage == "fail":
                raise TrackingUnavailableError(tracking.guard.failure_message()) from error
            message = mlflow_store.unreachable_message(tracking.tracking_uri, error)
            log.warning("%s: the model is not logged", message)

    def _registers(self) -> bool:
        return bool(self.register and self.model_name and not os.environ.get(PARENT_RUN_ENV))

    def _log(self, trainer: Trainer, model: LightningModule, tracking: MlflowTracking) -> None:
        import mlflow

        from mlcore.tracking.model import log_model

        test, datamodule = self.test, trainer.datamodule  # type: ignore[attr-defined]
        if test is None or test.targets is None:
            log.warning("No (x, y) test split to evaluate on: the model is not logged")
            return
        started = time.perf_counter()
        assert tracking.tracking_uri is not None
        mlflow.set_tracking_uri(tracking.tracking_uri)
        with mlflow.start_run(run_id=tracking.run_id, log_system_metrics=False):
            splits = [inputs.dataset_rows(datamodule, name) for name in ("train", "val")]
            name = type(datamodule).__name__
            digests = inputs.log_splits([s for s in (*splits, test) if s is not None], name)
            mlflow.set_tags({mlflow_store.EVAL_DIGEST: digests["test"],
                             mlflow_store.EVAL_DATASET: f"{name}-test"})  # fmt: skip
            info = log_model(model, test.features[:5], test.outputs[:5])  # type: ignore[index]
            self.model_uri = info.model_uri
            mlflow.set_tag(mlflow_store.MODEL_URI, info.model_uri)
            log.info("Logged the model as %s (%.2f s)", info.model_uri, _since(started))
            if self.onnx:  # the same model for onnxruntime, checked on the test split
                from mlcore.tracking.onnx import log_onnx

                log_onnx(model, test.features, info.signature, test.outputs)
            if self._registers():
                self._register(tracking, started)
            self.registered_after = _since(started)
            try:  # after registering: the plots are for people reading the run
                _log_plots(test, tracking)
            except Exception as error:  # a plot must never cost the run its model
                log.warning("Plots not logged: %s", error)

    def _register(self, tracking: MlflowTracking, started: float) -> None:
        from mlcore.registry import register

        assert tracking.run_id is not None and self.model_name
        self.version = register(tracking.run_id, self.model_name,
                                tracking_uri=tracking.tracking_uri,
                                intended_use=self.intended_use)  # fmt: skip
        log.info(
            "Registered %s version %s as candidate (models:/%s@candidate), %.2f s after training; "
            "`make promote` makes it champion if it passes the gate",
            self.model_name, self.version.version, self.model_name, _since(started),
        )  # fmt: skip


def _log_plots(test: inputs.Split, tracking: MlflowTracking) -> None:
    """The confusion matrix (classifiers: integer targets, one output column per class) and
    the learning curves of every train/val metric with a history."""
    import mlflow
    import numpy as np

    from mlcore.tracking import plots

    outputs, targets = test.outputs, test.targets
    assert outputs is not None and targets is not None
    if outputs.ndim == 2 and np.issubdtype(targets.dtype, np.integer):
        classes = max(outputs.shape[1], int(targets.max()) + 1)
        matrix = plots.confusion_matrix(targets, outputs.argmax(axis=1), classes)
        mlflow.log_figure(plots.confusion_figure(matrix), plots.CONFUSION_MATRIX)
        mlflow.log_dict({"labels": list(range(classes)), "matrix": matrix.tolist()},
                        plots.CONFUSION_MATRIX.replace(".png", ".json"))  # fmt: skip
    client = mlflow.MlflowClient(tracking.tracking_uri)
    run_id = str(tracking.run_id)
    histories = {
        key: [(m.step, m.value) for m in client.get_metric_history(run_id, key)]
        for key in client.get_run(run_id).data.metrics
        if key.split("/")[0] in ("train", "val")
    }
    figure = plots.learning_curves_figure(histories)
    if figure is not None:
        mlflow.log_figure(figure, plots.LEARNING_CURVES)


class MlflowEvaluation(TestOutputs):
    """After `trainer.test`: MLflow's evaluation (`mlflow.models.evaluate`) of the test outputs,
    logged into the run, its metrics in `metrics` (see evaluation.py)."""

    def __init__(self) -> None:
        super().__init__()
        self.metrics: dict[str, float] = {}

    def on_test_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        super().on_test_end(trainer, pl_module)
        tracking = tracking_of(trainer)
        if tracking is None or tracking.logger is None:
            return
        from mlcore.tracking.evaluation import evaluate_predictions

        test = self.test
        if test is None or test.outputs is None or test.targets is None:
            log.warning("No (x, y) test split: MLflow's evaluation skipped")
            return
        name = type(trainer.datamodule).__name__  # type: ignore[attr-defined]
        # Which data this evaluation tested: the gate compares evaluations of the same split.
        tracking.set_tags({mlflow_store.EVAL_DIGEST: inputs.split_digest(test, name)})
        assert tracking.run_id is not None and tracking.tracking_uri is not None
        self.metrics = evaluate_predictions(test.outputs, test.targets, run_id=tracking.run_id,
                                            tracking_uri=tracking.tracking_uri)  # fmt: skip
        import torch

        # What trainer.test's caller reads: its metrics and these.
        trainer.callback_metrics.update(
            {k: torch.tensor(v, dtype=torch.float64) for k, v in self.metrics.items()}
        )


def _since(started: float) -> float:
    return time.perf_counter() - started
