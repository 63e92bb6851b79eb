"""The promotion gate: does a candidate beat the champion on the same data, by enough?

Pure decisions over plain values (no MLflow here), so every branch is tested without a store.
The metric and its direction, the margin and the floor come from the project's config
(`configs/registry/default.yaml`, `gate:`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from mlcore.config_keys import refuse_unknown_keys
from mlcore.registry.errors import (
    DataDigestMismatchError,
    GateMetricMissingError,
    PromotionRefusedError,
)

Direction = Literal["maximize", "minimize"]


@dataclass(frozen=True)
class Evidence:
    """What the gate knows of one model version: its metrics and the digest of its test data."""

    label: str  # "candidate v3", "champion v2": how messages name it
    metrics: Mapping[str, float]
    digest: str | None


@dataclass(frozen=True)
class Gate:
    """`metric` must improve on the champion's by at least `margin` in `direction`; with no
    champion, it must reach `floor` (no floor: anything passes). A margin of 0 lets a tie pass."""

    metric: str = "test/accuracy"
    direction: Direction = "maximize"
    margin: float = 0.0
    floor: float | None = None

    def __post_init__(self) -> None:
        if self.direction not in ("maximize", "minimize"):
            raise ValueError(f"gate direction must be maximize or minimize, not {self.direction!r}")
        if not self.metric:
            raise ValueError("the gate needs a metric name, e.g. test/accuracy")

    @classmethod
    def from_config(cls, node: Mapping[str, Any] | None) -> Gate:
        node = dict(node or {})
        refuse_unknown_keys("the gate config", node, list(cls.__dataclass_fields__))
        floor = node.get("floor")
        return cls(
            metric=str(node.get("metric", cls.metric)),
            direction=node.get("direction", cls.direction),
            margin=float(node.get("margin", cls.margin)),
            floor=None if floor is None else float(floor),
        )

    def value(self, evidence: Evidence) -> float:
        """The evidence's value of the gate metric, or a GateMetricMissingError naming it.

        A run of a 0.1 model has the metric only under its 0.1 name (`test/acc` for
        `test/accuracy`): that is used, with a deprecation message (mlcore.metrics)."""
        from mlcore.metrics import lookup

        value = lookup(evidence.metrics, self.metric, f"the gate, {evidence.label}")
        if value is None or math.isnan(value):
            known = ", ".join(sorted(evidence.metrics)) or "none"
            raise GateMetricMissingError(
                f"{evidence.label} has no metric {self.metric!r}, which the gate compares "
                f"(its metrics: {known}); evaluate it on the test split or set gate.metric"
            )
        return float(value)

    def check(self, candidate: Evidence, champion: Evidence | None) -> str:
        """Return why the candidate passes, or raise why not (each error names both figures)."""
        value = self.value(candidate)
        better = ">=" if self.direction == "maximize" else "<="
        if champion is None:
            if self.floor is None:
                return f"{candidate.label}: {self.metric} = {value:.4f}, no champion and no floor"
            if not self._at_least(value, self.floor):
                raise PromotionRefusedError(
                    f"{candidate.label} refused: {self.metric} = {value:.4f}, the floor is "
                    f"{better} {self.floor:.4f} ({self.direction}) and there is no champion yet"
                )
            return (
                f"{candidate.label}: {self.metric} = {value:.4f} reaches the floor "
                f"{better} {self.floor:.4f}; no champion yet"
            )
        if not candidate.digest or not champion.digest or candidate.digest != champion.digest:
            raise DataDigestMismatchError(
                f"{candidate.label} was evaluated on data with digest "
                f"{candidate.digest or '(none)'}, {champion.label} on "
                f"{champion.digest or '(none)'}: the gate compares models on the same test data "
                "only; evaluate both on the same split"
            )
        incumbent = self.value(champion)
        sign = 1 if self.direction == "maximize" else -1
        needed = incumbent + sign * self.margin
        change = value - incumbent
        if not self._at_least(value, needed):
            raise PromotionRefusedError(
                f"{candidate.label} refused: {self.metric} = {value:.4f} against {champion.label}"
                f"'s {incumbent:.4f} ({change:+.4f}); it must be {better} {needed:.4f} "
                f"(margin {self.margin:g}, {self.direction})"
            )
        return (
            f"{candidate.label}: {self.metric} = {value:.4f} against {champion.label}'s "
            f"{incumbent:.4f} ({change:+.4f}, margin {self.margin:g}, {self.direction})"
        )

    def _at_least(self, value: float, bound: float) -> bool:
        # A tolerance of a few ulps, so that a margin of 0 really lets an equal value pass.
        tolerance = 1e-12 * max(1.0, abs(bound))
        if self.direction == "maximize":
            return value >= bound - tolerance
        return value <= bound + tolerance
