"""Experiment tracking: the run's config, lineage, data, model and summary, in MLflow.

Lightning callbacks (callbacks.py): `MlflowTracking`, `LogModel`, `MlflowEvaluation`;
`log_config`, `report`, `describe_logger` (loggers.py); `MlflowSweepCallback` (sweep.py), a
Hydra multirun as one parent run. Importing this package imports neither torch, lightning nor
mlflow (callbacks.py imports lightning).
"""

from __future__ import annotations

from mlcore.tracking.loggers import CONFIG_ARTIFACT, describe_logger, log_config, report

__all__ = ["CONFIG_ARTIFACT", "describe_logger", "log_config", "report"]
