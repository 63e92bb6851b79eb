"""Drift monitoring: recent inputs and predictions against the data the model was trained on.

    from mlcore.monitor import Thresholds, compare

    report = compare(reference_features, current_features, names, Thresholds(),
                     reference_predictions, current_predictions)
    report.drifted            # True past the thresholds

Per feature, the population stability index over quantile bins of the reference and SciPy's
two-sample Kolmogorov-Smirnov test (`scipy.stats.ks_2samp`); for predictions, the PSI of the
predicted classes (or values) and SciPy's chi-square test of the class counts. `mlcore monitor`
(cli.py) reads the reference from the data catalog and the current batch from a file or the
request log of `mlcore serve --request-log`, writes a JSON and HTML report with plots, logs it
to MLflow and exits 3 on drift, so a scheduled job can trigger retraining. Importing this
package imports neither numpy's heavy friends nor SciPy: each call imports what it needs.
"""

from __future__ import annotations

from mlcore.monitor.drift import (
    DriftReport,
    FeatureDrift,
    PredictionDrift,
    Thresholds,
    compare,
    psi,
)

__all__ = ["DriftReport", "FeatureDrift", "PredictionDrift", "Thresholds", "compare", "psi"]
