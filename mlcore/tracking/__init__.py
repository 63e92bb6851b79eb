"""Experiment tracking: the run's config, lineage, data, model and summary, in MLflow.

- `open_run` (run.py): the MLflow run of a training or evaluation, with its lineage tags
  (lineage.py), the resolved config, system metrics; its `log_model` records the data digests
  (inputs.py), the confusion matrix and learning curves (plots.py), the servable model (model.py)
  and registers it as `candidate` (mlcore.registry); its `evaluate` logs MLflow's own evaluation
  of the test predictions (evaluation.py).
- `log_config`, `report`, `describe_logger` (loggers.py): the config into every Lightning logger
  and the end-of-run summary.
- `MlflowSweepCallback` (sweep.py): a Hydra multirun as one parent run, its trials as children.

Importing this package imports neither torch, lightning nor mlflow.
"""

from __future__ import annotations

from mlcore.tracking.loggers import CONFIG_ARTIFACT, describe_logger, log_config, report
from mlcore.tracking.run import TrackedRun, open_run

__all__ = ["CONFIG_ARTIFACT", "TrackedRun", "describe_logger", "log_config", "open_run", "report"]
