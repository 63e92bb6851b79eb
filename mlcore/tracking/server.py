"""What a training run does when the MLflow server stops answering.

`OutageGuard` sits between the MLFlowLogger and the server: with `tracking.on_outage=fail` the
first outage stops training; with `continue`, nothing more is sent and `not_logged` says what the
server never got.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Literal

from mlcore.mlflow_store import is_unreachable, unreachable_message

log = logging.getLogger("mlcore.tracking")

OutagePolicy = Literal["fail", "continue"]
OUTAGE_POLICIES: tuple[str, ...] = ("fail", "continue")


class TrackingUnavailableError(RuntimeError):
    """The MLflow tracking server did not answer, after MLflow's own retries."""


@dataclass
class OutageGuard:
    """Wraps an MlflowClient: outages stop the run (`fail`) or are recorded (`continue`)."""

    client: Any
    policy: OutagePolicy = "fail"
    uri: str | None = None
    down_since: str | None = None
    error: str | None = None
    not_logged: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.policy not in OUTAGE_POLICIES:
            raise ValueError(
                f"tracking.on_outage must be one of {', '.join(OUTAGE_POLICIES)}, "
                f"not {self.policy!r}"
            )

    @property
    def down(self) -> bool:
        return self.down_since is not None

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.client, name)
        if not callable(attribute):
            return attribute

        def guarded(*args: Any, **kwargs: Any) -> Any:
            return self.call(name, attribute, *args, **kwargs)

        return guarded

    def call(self, name: str, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run one client call, unless the server is known to be down."""
        if self.down:
            self.record(name, args, kwargs)
            return None
        try:
            return function(*args, **kwargs)
        except Exception as error:
            if not is_unreachable(error):
                raise
            self.trip(error)
            self.record(name, args, kwargs)
            if self.policy == "fail":
                raise TrackingUnavailableError(self.failure_message()) from error
            log.warning(
                "%s. Training goes on without it (tracking.on_outage=continue); nothing more "
                "is sent to it in this run.",
                unreachable_message(self.uri, error),
            )
            return None

    def record(self, name: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
        """Note a write that never reached the server (reads lose nothing)."""
        if not name.startswith(_READS):
            self.not_logged.append(describe_call(name, args, kwargs))

    def trip(self, error: BaseException) -> None:
        if not self.down:
            self.down_since = datetime.now(timezone.utc).isoformat(timespec="seconds")
            self.error = unreachable_message(self.uri, error)

    def failure_message(self) -> str:
        return (
            f"{self.error}. Training stopped (tracking.on_outage=fail); the run keeps what was "
            "logged before. Set tracking.on_outage=continue to train through an outage."
        )

    def summary(self) -> str:
        """What the server never got, one line (empty when nothing was lost)."""
        if not self.down:
            return ""
        return (
            f"MLflow was unreachable from {self.down_since} ({self.uri}); not logged: "
            f"{'; '.join(_merge(self.not_logged)) or 'nothing'}"
        )


_READS = ("get_", "search_", "list_", "download_")


def describe_call(name: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> str:
    """A short account of one client call that never reached the server."""
    if name == "log_batch":
        parts = []
        metrics = kwargs.get("metrics") or []
        if metrics:
            keys = sorted({m.key for m in metrics})
            steps = sorted({m.step for m in metrics})
            parts.append(f"metrics {', '.join(keys)} (step {steps[0]})")
        if kwargs.get("params"):
            parts.append(f"{len(kwargs['params'])} params")
        if kwargs.get("tags"):
            parts.append(f"{len(kwargs['tags'])} tags")
        return ", ".join(parts) or "an empty batch"
    if name == "set_terminated":
        return "the run's end status"
    if name in ("log_artifact", "log_artifacts", "log_text", "log_dict", "log_figure"):
        return f"artifact {args[-1] if len(args) > 1 else kwargs.get('artifact_file', '?')}"
    return name.replace("_", " ")


def _merge(items: list[str]) -> list[str]:
    """Metric lines of successive steps merged into one range; other lines once each."""
    merged: list[str] = []
    metric_steps: dict[str, list[str]] = {}
    for item in items:
        if item.startswith("metrics ") and item.endswith(")"):
            keys, _, step = item.rpartition(" (step ")
            metric_steps.setdefault(keys, []).append(step.rstrip(")"))
        elif item not in merged:
            merged.append(item)
    ranges = [
        f"{keys} at {len(steps)} step(s) ({steps[0]} to {steps[-1]})"
        for keys, steps in metric_steps.items()
    ]
    return ranges + merged
