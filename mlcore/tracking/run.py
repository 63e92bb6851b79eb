"""One call that opens a training run's MLflow run with its lineage, and what ends it: the model.

    with open_run(cfg, loggers, trainer) as run:       # lineage tags, config, system metrics
        trainer.fit(...); trainer.test(...)
        run.log_model(model, datamodule, metrics)      # data digests, plots, model, `candidate`

The run is the one Lightning's `MLFlowLogger` creates, so metrics, checkpoints and our records
share one run id and one tracking URI (SQLite by default, any server through the config or
MLFLOW_TRACKING_URI). On a server, `tracking.on_outage` says what an outage does: `fail` stops
training with a clear error, `continue` trains on and says at the end what was not logged
(mlcore.tracking.server). Without an MLflow logger (`logger=csv`, `logger=none`) the same calls do
nothing beyond logging the config, so the entry point has no branches.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlcore import mlflow_store
from mlcore.config_keys import refuse_unknown_keys
from mlcore.mlflow_store import (
    EVAL_DATASET,
    EVAL_DIGEST,
    MODEL_URI,
    bounded_retries,
    is_unreachable,
    unreachable_message,
)
from mlcore.tracking import lineage
from mlcore.tracking.loggers import is_mlflow, log_config
from mlcore.tracking.server import OUTAGE_POLICIES, OutageGuard, TrackingUnavailableError

if TYPE_CHECKING:
    from mlflow.entities.model_registry import ModelVersion

log = logging.getLogger("mlcore.tracking")

# Set by the sweep callback for the jobs of a Hydra multirun: their runs become its children.
PARENT_RUN_ENV = "MLCORE_PARENT_RUN_ID"


@dataclass(frozen=True)
class TrackingSettings:
    """The `tracking` block of a run config (all optional)."""

    system_metrics: bool = True
    system_metrics_interval: float = 10.0
    log_model: bool = True
    # What a tracking-server outage does to training: `fail` (stop) or `continue`.
    on_outage: str = "fail"
    # Also log the model as ONNX (checked equal to it) for serving with onnxruntime.
    onnx: bool = True

    @classmethod
    def from_config(cls, node: Mapping[str, Any] | None) -> TrackingSettings:
        node = dict(node or {})
        refuse_unknown_keys("`tracking`", node, list(cls.__dataclass_fields__))
        if node.get("on_outage", cls.on_outage) not in OUTAGE_POLICIES:
            raise ValueError(
                f"tracking.on_outage must be {' or '.join(OUTAGE_POLICIES)}, "
                f"not {node['on_outage']!r}"
            )
        return cls(**node)


@dataclass(frozen=True)
class RegistrySettings:
    """The `registry` block of a run config: where and whether a trained model is registered."""

    model_name: str | None = None
    register: bool = False
    intended_use: str = ""

    @classmethod
    def from_config(cls, node: Mapping[str, Any] | None) -> RegistrySettings:
        node = dict(node or {})
        return cls(
            model_name=node.get("model_name"),
            register=bool(node.get("register", False)),
            intended_use=str(node.get("intended_use") or ""),
        )


class TrackedRun(AbstractContextManager["TrackedRun"]):
    """A training run's MLflow run (or nothing, without an MLflow logger)."""

    def __init__(
        self,
        logger: Any = None,
        *,
        tracking: TrackingSettings | None = None,
        registry: RegistrySettings | None = None,
        parent_run_id: str | None = None,
    ) -> None:
        self.logger = logger
        self.tracking = tracking or TrackingSettings()
        self.registry = registry or RegistrySettings()
        self.parent_run_id = parent_run_id
        self._monitor: Any = None
        self._monitor_started = 0.0
        # Between Lightning's MLflow client and the server (see guard_outages).
        self.guard: OutageGuard | None = None
        self.model_uri: str | None = None
        self.version: ModelVersion | None = None
        # Seconds from the start of log_model to a registered (or, unregistered, logged) model.
        self.registered_after: float | None = None

    @property
    def enabled(self) -> bool:
        return self.logger is not None

    @property
    def run_id(self) -> str | None:
        return self.logger.run_id if self.logger is not None else None

    @property
    def tracking_uri(self) -> str | None:
        if self.logger is None:
            return None
        from mlcore.tracking.loggers import tracking_uri_of

        return tracking_uri_of(self.logger)

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        """Add tags to the run (nothing without MLflow)."""
        if self.logger is not None:
            from mlflow.entities import RunTag

            values = lineage.text_tags(tags)
            self.logger.experiment.log_batch(
                self.run_id, tags=[RunTag(k, v) for k, v in values.items()]
            )

    def start_system_metrics(self) -> None:
        """MLflow's system metrics (CPU, memory, disk, network; GPUs with nvidia-ml-py) every
        `system_metrics_interval` seconds, in a daemon thread; skipped without psutil."""
        if not (self.enabled and self.tracking.system_metrics) or self._monitor is not None:
            return
        try:
            import psutil  # noqa: F401  # what MLflow samples with
            from mlflow.system_metrics.system_metrics_monitor import SystemMetricsMonitor
        except ImportError:
            log.info("System metrics off: psutil is not installed")
            return
        self._monitor = SystemMetricsMonitor(
            self.run_id,
            sampling_interval=self.tracking.system_metrics_interval,
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
        server_down = self.guard is not None and self.guard.down
        ran = time.monotonic() - self._monitor_started
        if ran >= 1.5 * self.tracking.system_metrics_interval or server_down:
            return
        try:
            monitor.collect_metrics()
            monitor.publish_metrics(monitor.aggregate_metrics())
            monitor.mlflow_logger.flush()
        except Exception as error:  # system metrics must never cost the run anything else
            log.warning("System metrics not logged: %s", error)

    def guard_outages(self) -> None:
        """Route the logger's client calls through an OutageGuard (tracking.on_outage): with
        mlcore's MLFlowLogger (configs/logger/mlflow.yaml); Lightning's own offers no public
        seam for it, so an outage there fails the run as Lightning raises it."""
        if self.logger is None or self.guard is not None:
            return
        guard_outages = getattr(self.logger, "guard_outages", None)
        if guard_outages is None:
            log.info(
                "tracking.on_outage applies to mlcore.tracking.mlflow_logger.MLFlowLogger only; "
                "%s raises outages as they come",
                type(self.logger).__module__,
            )
            return
        self.guard = guard_outages(self.tracking.on_outage, self.tracking_uri)

    @property
    def not_logged(self) -> str:
        """What an outage kept from the server (empty when nothing was lost)."""
        return self.guard.summary() if self.guard is not None else ""

    def __exit__(self, *exc: object) -> None:
        self.stop_system_metrics()
        if self.guard is not None and self.guard.down:
            self.guard.not_logged.append("the run's end status (it stays RUNNING on the server)")
        if self.not_logged:
            log.warning("%s", self.not_logged)

    def log_model(
        self, model: Any, datamodule: Any, metrics: Mapping[str, float] | None = None
    ) -> ModelVersion | None:
        """Record the data, plots and servable model of a finished training run, and register
        the model as `candidate` (single runs with `registry.register`; not a search's trials).

        Returns the registered version, or None where nothing was registered.
        """
        if not (self.enabled and self.tracking.log_model):
            return None
        if self.guard is not None and self.guard.down:
            self.guard.not_logged.append(self._model_not_logged())
            self.stop_system_metrics()
            return None
        try:
            return self._log_model(model, datamodule)
        except Exception as error:
            if self.guard is None or not is_unreachable(error):
                raise
            self.guard.trip(error)
            self.guard.not_logged.append(self._model_not_logged())
            if self.tracking.on_outage == "fail":
                raise TrackingUnavailableError(self.guard.failure_message()) from error
            message = unreachable_message(self.tracking_uri, error)
            log.warning("%s: the model is not logged", message)
            return None

    def _model_not_logged(self) -> str:
        registered = " and its registration as candidate" if self.registry.register else ""
        return f"the model{registered}"

    def _log_model(self, model: Any, datamodule: Any) -> ModelVersion | None:
        import mlflow

        from mlcore.tracking import inputs, plots
        from mlcore.tracking.model import log_model

        self.stop_system_metrics()  # training is over; the monitor would only sample this
        started = time.perf_counter()
        run_id = self.run_id
        assert run_id is not None
        assert self.tracking_uri is not None
        mlflow.set_tracking_uri(self.tracking_uri)
        with mlflow.start_run(run_id=run_id, log_system_metrics=False):
            test = inputs.predict_split(model, datamodule, "test")
            if test is None:
                log.warning("No (x, y) test split to evaluate on: the model is not logged")
                return None
            splits = [inputs.dataset_rows(datamodule, name) for name in ("train", "val")]
            name = type(datamodule).__name__
            digests = inputs.log_splits([s for s in (*splits, test) if s is not None], name)
            mlflow.set_tags({EVAL_DIGEST: digests["test"], EVAL_DATASET: f"{name}-test"})
            info = log_model(model, test.features[:5])
            self.model_uri = info.model_uri
            mlflow.set_tag(MODEL_URI, info.model_uri)
            log.info("Logged the model as %s (%.2f s)", info.model_uri, _since(started))
            if self.tracking.onnx:  # the same model for onnxruntime, checked on the test split
                from mlcore.tracking.onnx import log_onnx

                log_onnx(model, test.features, info.signature)
            if self.registry.register and self.registry.model_name and not self.parent_run_id:
                from mlcore.registry import register

                self.version = register(
                    run_id,
                    self.registry.model_name,
                    tracking_uri=self.tracking_uri,
                    intended_use=self.registry.intended_use,
                )
                log.info(
                    "Registered %s version %s as candidate (models:/%s@candidate), %.2f s after "
                    "training; `make promote` makes it champion if it passes the gate",
                    self.registry.model_name,
                    self.version.version,
                    self.registry.model_name,
                    _since(started),
                )
            self.registered_after = _since(started)
            # After registering: the plots are for people reading the run, not for serving it.
            try:
                self._log_plots(test, plots)
            except Exception as error:  # a plot must never cost the run its model
                log.warning("Plots not logged: %s", error)
        return self.version

    def evaluate(self, model: Any, datamodule: Any) -> dict[str, float]:
        """MLflow's evaluation (`mlflow.models.evaluate`) of the model's test predictions, logged
        into this run: its standard metrics and plots for the task (see evaluation.py)."""
        if not self.enabled:
            return {}
        from mlcore.tracking import inputs
        from mlcore.tracking.evaluation import evaluate_predictions

        # The monitor thread must be gone before MLflow's evaluation imports scikit-learn: its
        # first MlflowClient holds MLflow's import-hook lock, and an import in this thread then
        # waits for that lock while holding the module's (a deadlock seen in the tests).
        self.stop_system_metrics()
        test = inputs.predict_split(model, datamodule, "test")
        if test is None or test.outputs is None or test.targets is None:
            log.warning("No (x, y) test split: MLflow's evaluation skipped")
            return {}
        assert self.run_id is not None and self.tracking_uri is not None
        # Which data this evaluation tested: the gate compares evaluations of the same split.
        self.set_tags({EVAL_DIGEST: inputs.split_digest(test, type(datamodule).__name__)})
        return evaluate_predictions(
            test.outputs, test.targets, run_id=self.run_id, tracking_uri=self.tracking_uri
        )

    def _log_plots(self, test: Any, plots: Any) -> None:
        """The confusion matrix (classifiers: integer targets, one output column per class) and
        the learning curves of every train/val metric with a history."""
        import mlflow
        import numpy as np

        outputs, targets = test.outputs, test.targets
        if outputs.ndim == 2 and targets is not None and np.issubdtype(targets.dtype, np.integer):
            classes = max(outputs.shape[1], int(targets.max()) + 1)
            matrix = plots.confusion_matrix(targets, outputs.argmax(axis=1), classes)
            mlflow.log_figure(plots.confusion_figure(matrix), plots.CONFUSION_MATRIX)
            mlflow.log_dict({"labels": list(range(classes)), "matrix": matrix.tolist()},
                            plots.CONFUSION_MATRIX.replace(".png", ".json"))  # fmt: skip
        client = mlflow.MlflowClient(self.tracking_uri)
        run_id = str(self.run_id)
        keys = client.get_run(run_id).data.metrics
        histories = {
            key: [(m.step, m.value) for m in client.get_metric_history(run_id, key)]
            for key in keys
            if key.split("/")[0] in ("train", "val")
        }
        figure = plots.learning_curves_figure(histories)
        if figure is not None:
            mlflow.log_figure(figure, plots.LEARNING_CURVES)


def open_run(cfg: Any, loggers: Sequence[Any], trainer: Any = None) -> TrackedRun:
    """Open the MLflow run of a training or evaluation run with its lineage.

    Tags the run (before Lightning creates it, in the same call) with its lineage (see
    `mlcore.tracking.lineage`), marks it a child of a running search, logs the resolved config to
    every logger, and starts MLflow's system metrics. Returns a TrackedRun, a no-op without MLflow
    and in every process of a distributed run but rank zero.
    """
    from mlcore.logging import global_rank

    tracking = TrackingSettings.from_config(_node(cfg, "tracking"))
    registry = RegistrySettings.from_config(_node(cfg, "registry"))
    if global_rank() != 0:
        # One run per training, however many processes: the other ranks record nothing (Lightning
        # writes metrics and checkpoints from rank zero too), so log_model is a no-op there.
        return TrackedRun(None, tracking=tracking, registry=registry)
    mlflow_logger = next((logger for logger in loggers if is_mlflow(logger)), None)
    parent = os.environ.get(PARENT_RUN_ENV) or None
    run = TrackedRun(mlflow_logger, tracking=tracking, registry=registry, parent_run_id=parent)
    # resume=auto names the interrupted attempt's run in the logger's config (mlcore.resume).
    continued = mlflow_logger is not None and _continues_a_run(cfg)
    if mlflow_logger is not None:
        root = Path(str(_node(cfg, "paths", {}).get("root_dir") or "."))
        tags = lineage.lineage_tags(root, trainer)
        tags |= _evaluated_version(_node(cfg, "model_uri"))
        if parent:
            tags[lineage.PARENT_RUN_ID] = parent
        bounded_retries()
        try:
            _tag_run(mlflow_logger, tags)
            if continued:  # resume=auto: the interrupted attempt ended it FAILED
                mlflow_logger.experiment.update_run(mlflow_logger.run_id, status="RUNNING")
        except Exception as error:
            if not is_unreachable(error):
                raise
            message = unreachable_message(run.tracking_uri, error)
            if tracking.on_outage == "fail":
                raise TrackingUnavailableError(
                    f"{message}. Nothing was trained (tracking.on_outage=fail); set "
                    "tracking.on_outage=continue to train without tracking"
                ) from error
            log.warning("%s. Training without MLflow: nothing of this run is tracked", message)
            loggers = [logger for logger in loggers if logger is not mlflow_logger]
            if trainer is not None:
                trainer.loggers = loggers
            run = TrackedRun(None, tracking=tracking, registry=registry, parent_run_id=parent)
        run.guard_outages()
    log_config(cfg, loggers, continued=continued and run.enabled)
    run.start_system_metrics()
    return run


def _evaluated_version(model_uri: Any) -> dict[str, str]:
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


def _continues_a_run(cfg: Any) -> bool:
    """Whether an MLflow logger of the config continues an existing run (`run_id` set)."""
    loggers = _node(cfg, "logger") or {}
    return any(isinstance(spec, dict) and spec.get("run_id") for spec in loggers.values())


def _tag_run(logger: Any, tags: Mapping[str, str]) -> None:
    """Give the logger's run these tags (creating the run if it has none yet)."""
    from mlflow.entities import RunTag

    logger.experiment.log_batch(logger.run_id, tags=[RunTag(k, v) for k, v in tags.items()])


def _node(cfg: Any, key: str, default: Any = None) -> Any:
    if cfg is None:
        return default
    value = cfg.get(key, default) if hasattr(cfg, "get") else getattr(cfg, key, default)
    if value is not None and hasattr(value, "items") and not isinstance(value, dict):
        from omegaconf import OmegaConf

        return OmegaConf.to_container(value, resolve=True)
    return value


def _since(started: float) -> float:
    return time.perf_counter() - started
