"""Drift monitoring: recent inputs and predictions against the data the model was trained on.

    report = compare(reference_features, current_features, names, Thresholds(),
                     reference_predictions, current_predictions)
    report.drifted            # True past the thresholds

PSI and SciPy's Kolmogorov-Smirnov test per feature, PSI and chi-square for predictions.
`mlcore monitor` exits 3 on drift, so a scheduled job can trigger retraining. Imports are lazy.
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
