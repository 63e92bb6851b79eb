"""A Hydra multirun (an Optuna search, a grid) as one MLflow parent run with a child per job.

`on_multirun_start` creates the parent and exports its id as MLCORE_PARENT_RUN_ID, which each
job's `MlflowTracking` reads; `on_multirun_end` attaches the results and closes it.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from mlcore.tracking import lineage

try:  # Hydra is a core dependency of mlcore; the base class only adds no-op hooks.
    from hydra.experimental.callback import Callback
except ImportError:  # pragma: no cover
    Callback = object  # type: ignore[assignment,misc]

log = logging.getLogger("mlcore.tracking")

SWEEP_DIR = "mlcore.sweep.dir"
RESULTS_FILE = "optimization_results.yaml"  # what the Optuna sweeper writes at the end


class MlflowSweepCallback(Callback):
    """Hydra callback: one parent MLflow run per multirun (only with `logger.mlflow` configured)."""

    def __init__(self) -> None:
        self.run_id: str | None = None
        self.tracking_uri: str | None = None

    def on_multirun_start(self, config: Any, **kwargs: Any) -> None:
        mlflow_cfg = (config.get("logger") or {}).get("mlflow")
        if not mlflow_cfg:
            return
        from mlcore import mlflow_store

        self.tracking_uri = str(mlflow_cfg.get("tracking_uri") or "") or None
        client = mlflow_store.client(self.tracking_uri)
        name = str(mlflow_cfg.get("experiment_name") or "Default")
        experiment = client.get_experiment_by_name(name)
        experiment_id = (
            experiment.experiment_id
            if experiment is not None
            else client.create_experiment(name, mlflow_cfg.get("artifact_location"))
        )
        root = (config.get("paths") or {}).get("root_dir") or "."
        tags = lineage.lineage_tags(root)
        tags["mlflow.runName"] = f"{config.get('task_name', 'run')}-search"
        tags[SWEEP_DIR] = str(config.hydra.sweep.dir)
        tags |= {str(k): str(v) for k, v in (mlflow_cfg.get("tags") or {}).items()}
        self.run_id = client.create_run(experiment_id, tags=tags).info.run_id
        os.environ[lineage.PARENT_RUN_ENV] = self.run_id
        log.info("MLflow parent run %s for this search", self.run_id)

    def on_multirun_end(self, config: Any, **kwargs: Any) -> None:
        if self.run_id is None:
            return
        from mlcore import mlflow_store

        client = mlflow_store.client(self.tracking_uri)
        results = Path(str(config.hydra.sweep.dir)) / RESULTS_FILE
        if results.is_file():
            import yaml

            found = yaml.safe_load(results.read_text()) or {}
            client.log_artifact(self.run_id, str(results))
            if isinstance(found.get("best_value"), int | float):
                metric = str(config.get("optimized_metric") or "objective")
                client.log_metric(self.run_id, f"best/{metric}", float(found["best_value"]))
            for key, value in (found.get("best_params") or {}).items():
                client.log_param(self.run_id, f"best/{key}", value)
        client.set_terminated(self.run_id, "FINISHED")
        if os.environ.get(lineage.PARENT_RUN_ENV) == self.run_id:
            del os.environ[lineage.PARENT_RUN_ENV]
        self.run_id = None
