"""Experiment tracking: the run's config, lineage, data, model and summary, in MLflow.

- Lightning callbacks (callbacks.py, configured in the project's configs/callbacks/mlflow.yaml):
  `MlflowTracking` opens the run with its lineage tags (lineage.py), the resolved config and
  system metrics; `LogModel` records the data digests (inputs.py), the confusion matrix and
  learning curves (plots.py), the servable model (model.py, onnx.py) and registers it as
  `candidate` (mlcore.registry); `MlflowEvaluation` logs MLflow's own evaluation of the test
  predictions (evaluation.py).
- `log_config`, `report`, `describe_logger` (loggers.py): the config into every Lightning logger
  and the end-of-run summary.
- `MlflowSweepCallback` (sweep.py): a Hydra multirun as one parent run, its trials as children.

Importing this package imports neither torch, lightning nor mlflow (callbacks.py imports
lightning).
"""

from __future__ import annotations

from mlcore.tracking.loggers import CONFIG_ARTIFACT, describe_logger, log_config, report

__all__ = ["CONFIG_ARTIFACT", "describe_logger", "log_config", "report"]
