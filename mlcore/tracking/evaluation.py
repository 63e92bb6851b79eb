"""MLflow's own evaluation of a model's test predictions: the standard metrics and plots.

It evaluates a static dataset (targets and predictions), not the model: the pyfunc returns raw
outputs (logits), which MLflow's classifier evaluator would read as labels. It is slow enough
that `evaluate.py` calls it and the training path does not.
"""

from __future__ import annotations

import logging
import warnings
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

PREDICTION = "prediction"
TARGET = "target"


def task_of(outputs: np.ndarray, targets: np.ndarray) -> str | None:
    """ "classifier" (integer targets, one output column per class), "regressor" (one output
    column), or None where MLflow's default evaluator has nothing to say."""
    import numpy as np

    columns = 1 if outputs.ndim == 1 else int(np.prod(outputs.shape[1:]))
    if np.issubdtype(targets.dtype, np.integer) and columns > 1 and targets.ndim == 1:
        return "classifier"
    if columns == 1 and targets.size == len(outputs):
        return "regressor"
    return None


def evaluate_predictions(
    outputs: np.ndarray, targets: np.ndarray, *, run_id: str, tracking_uri: str
) -> dict[str, float]:
    """Log MLflow's evaluation of these predictions into the run; return its metrics."""
    import mlflow
    import pandas as pd

    task = task_of(outputs, targets)
    if task is None:
        log.info("MLflow evaluation skipped: outputs %s, targets %s", outputs.shape, targets.shape)
        return {}
    predicted = outputs.argmax(axis=1) if task == "classifier" else outputs.reshape(-1)
    frame = pd.DataFrame({TARGET: targets.reshape(-1), PREDICTION: predicted})
    mlflow.set_tracking_uri(tracking_uri)
    with mlflow.start_run(run_id=run_id, log_system_metrics=False), warnings.catch_warnings():
        # MLflow infers a schema for the static table and hints that integer columns cannot hold
        # missing values: true, and beside the point for class labels nothing will serve.
        warnings.filterwarnings("ignore", "Hint: Inferred schema contains integer", UserWarning)
        result = mlflow.models.evaluate(
            data=frame,
            targets=TARGET,
            predictions=PREDICTION,
            model_type=task,
            evaluator_config={"log_model_explainability": False},
        )
    return {name: float(value) for name, value in result.metrics.items()}
