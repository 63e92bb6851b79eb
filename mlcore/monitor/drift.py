"""The drift statistics and the decision, on plain arrays (no files, no MLflow).

PSI = sum over bins of (cur - ref) * ln(cur / ref), with the reference's quantiles as bins (one
per value for discrete features) and EPSILON for empty bins, so the logarithm stays finite.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from mlcore.config_keys import refuse_unknown_keys

if TYPE_CHECKING:
    import numpy as np

EPSILON = 1e-4


@dataclass(frozen=True)
class Thresholds:
    """When a feature drifts (`psi` exceeded or KS p-value below `ks_pvalue`), and when the batch
    does (a share of at least `drifted_share` of the features drift, or the predictions' PSI
    exceeds `prediction_psi`)."""

    psi: float = 0.2
    ks_pvalue: float = 0.01
    drifted_share: float = 0.3
    prediction_psi: float = 0.2
    bins: int = 10
    min_rows: int = 30

    def __post_init__(self) -> None:
        for name in ("psi", "prediction_psi"):
            if not (isinstance(getattr(self, name), int | float) and getattr(self, name) > 0):
                raise ValueError(
                    f"thresholds.{name} must be a number above 0 (0.2 is usual), "
                    f"not {getattr(self, name)!r}"
                )
        for name in ("ks_pvalue", "drifted_share"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and 0 < value <= 1):
                raise ValueError(f"thresholds.{name} must be in (0, 1], not {value!r}")
        if not (isinstance(self.bins, int) and self.bins >= 2):
            raise ValueError(f"thresholds.bins must be a whole number >= 2, not {self.bins!r}")
        if not (isinstance(self.min_rows, int) and self.min_rows >= 1):
            raise ValueError(
                f"thresholds.min_rows must be a whole number >= 1, not {self.min_rows!r}"
            )

    @classmethod
    def from_config(cls, node: Mapping[str, Any] | None) -> Thresholds:
        node = dict(node or {})
        refuse_unknown_keys("the monitor thresholds", node, list(cls.__dataclass_fields__))
        return cls(**node)


@dataclass(frozen=True)
class FeatureDrift:
    name: str
    psi: float
    ks_statistic: float
    ks_pvalue: float
    drifted: bool


@dataclass(frozen=True)
class PredictionDrift:
    kind: str  # "classes" (argmax of several outputs) or "values"
    psi: float
    chi2_pvalue: float | None
    reference_shares: dict[str, float]
    current_shares: dict[str, float]
    drifted: bool


@dataclass
class DriftReport:
    reference_rows: int
    current_rows: int
    thresholds: Thresholds
    features: list[FeatureDrift]
    predictions: PredictionDrift | None = None
    drifted_share: float = 0.0
    drifted: bool = False
    reasons: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _edges(reference: np.ndarray, bins: int) -> np.ndarray:
    import numpy as np

    values = np.unique(reference)
    if len(values) <= bins:  # discrete: one bin per value (midpoints between them)
        inner = (values[1:] + values[:-1]) / 2
    else:
        inner = np.unique(np.quantile(reference, np.linspace(0, 1, bins + 1)[1:-1]))
    return np.concatenate(([-np.inf], inner, [np.inf]))


def _shares(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    import numpy as np

    counts, _ = np.histogram(values, bins=edges)
    return np.clip(counts / max(len(values), 1), EPSILON, None)


def psi(reference: np.ndarray, current: np.ndarray, bins: int = 10) -> float:
    """Population stability index of `current` against `reference` (1-D arrays)."""
    import numpy as np

    edges = _edges(np.asarray(reference, float), bins)
    ref = _shares(np.asarray(reference, float), edges)
    cur = _shares(np.asarray(current, float), edges)
    return float(np.sum((cur - ref) * np.log(cur / ref)))


def _categorical_psi(ref: np.ndarray, cur: np.ndarray) -> tuple[float, dict, dict, float | None]:
    import numpy as np
    from scipy.stats import chi2_contingency

    labels = np.union1d(np.unique(ref), np.unique(cur))
    ref_counts = np.array([(ref == label).sum() for label in labels], float)
    cur_counts = np.array([(cur == label).sum() for label in labels], float)
    ref_share = np.clip(ref_counts / ref_counts.sum(), EPSILON, None)
    cur_share = np.clip(cur_counts / cur_counts.sum(), EPSILON, None)
    value = float(np.sum((cur_share - ref_share) * np.log(cur_share / ref_share)))
    pvalue = None
    if len(labels) > 1:
        pvalue = float(chi2_contingency(np.stack([ref_counts, cur_counts]))[1])
    names = [str(label) for label in labels]
    return (
        value,
        dict(zip(names, (ref_counts / ref_counts.sum()).round(4).tolist(), strict=True)),
        dict(zip(names, (cur_counts / cur_counts.sum()).round(4).tolist(), strict=True)),
        pvalue,
    )


def prediction_drift(
    reference: np.ndarray, current: np.ndarray, thresholds: Thresholds
) -> PredictionDrift:
    """Classes (argmax) for several outputs per row, values for one."""
    import numpy as np

    reference, current = np.asarray(reference), np.asarray(current)
    if reference.ndim == 2 and reference.shape[1] > 1:
        value, ref_share, cur_share, pvalue = _categorical_psi(
            reference.argmax(1), current.argmax(1)
        )
        kind = "classes"
    else:
        value, pvalue, kind = (
            psi(reference.ravel(), current.ravel(), thresholds.bins),
            None,
            "values",
        )
        ref_share = cur_share = {}
    return PredictionDrift(
        kind, value, pvalue, ref_share, cur_share, drifted=value > thresholds.prediction_psi
    )


def compare(
    reference: np.ndarray,
    current: np.ndarray,
    names: Sequence[str],
    thresholds: Thresholds,
    reference_predictions: np.ndarray | None = None,
    current_predictions: np.ndarray | None = None,
) -> DriftReport:
    """Drift of each feature (columns of the 2-D arrays, named by `names`) and of predictions."""
    import numpy as np
    from scipy.stats import ks_2samp

    reference, current = np.asarray(reference, float), np.asarray(current, float)
    if reference.ndim != 2 or current.ndim != 2 or reference.shape[1] != current.shape[1]:
        raise ValueError(
            f"reference and current batch must have the same columns: {reference.shape[1:]} "
            f"features against {current.shape[1:]}"
        )
    if np.isnan(reference).any() or np.isnan(current).any():
        raise ValueError("the batch or the reference has missing (NaN) values: clean them first")
    if len(names) != reference.shape[1]:
        raise ValueError(f"{len(names)} feature names for {reference.shape[1]} columns")
    for label, rows in (("reference", len(reference)), ("current batch", len(current))):
        if rows < thresholds.min_rows:
            raise ValueError(
                f"the {label} has {rows} rows, fewer than thresholds.min_rows = "
                f"{thresholds.min_rows}: the tests would mean nothing; wait for more data"
            )
    features = []
    for column, name in enumerate(names):
        ref, cur = reference[:, column], current[:, column]
        value = psi(ref, cur, thresholds.bins)
        if np.ptp(ref) == 0 and np.ptp(cur) == 0 and ref[0] == cur[0]:
            statistic, pvalue = 0.0, 1.0  # one constant on both sides: nothing to test
        else:
            test = ks_2samp(ref, cur)
            statistic, pvalue = float(test.statistic), float(test.pvalue)
        drifted = value > thresholds.psi or pvalue < thresholds.ks_pvalue
        features.append(FeatureDrift(name, value, statistic, pvalue, drifted))
    share = sum(f.drifted for f in features) / max(len(features), 1)
    report = DriftReport(len(reference), len(current), thresholds, features, drifted_share=share)
    if share >= thresholds.drifted_share:
        report.reasons.append(
            f"{share:.0%} of features drifted (threshold {thresholds.drifted_share:.0%})"
        )
    if reference_predictions is not None and current_predictions is not None:
        report.predictions = prediction_drift(
            reference_predictions, current_predictions, thresholds
        )
        if report.predictions.drifted:
            report.reasons.append(
                f"prediction PSI {report.predictions.psi:.3f} > {thresholds.prediction_psi}"
            )
    report.drifted = bool(report.reasons)
    return report
