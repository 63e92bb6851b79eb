"""Lightning's MLFlowLogger on mlcore's tracking store, with outages handled as configured.

Through Lightning's public seams only: the tracking URI defaults to mlcore's, so no config
restates it, and `guard_outages` routes the logger's client calls through an OutageGuard.
"""

from __future__ import annotations

from typing import Any

from lightning.pytorch.loggers import MLFlowLogger as LightningMLFlowLogger

from mlcore import mlflow_store
from mlcore.tracking.server import OutageGuard


class MLFlowLogger(LightningMLFlowLogger):
    """Lightning's MLFlowLogger whose store is mlcore's unless `tracking_uri` says otherwise."""

    def __init__(
        self,
        experiment_name: str = "lightning_logs",
        run_name: str | None = None,
        tracking_uri: str | None = None,
        **kwargs: Any,
    ) -> None:
        uri = mlflow_store.absolute_sqlite(tracking_uri) if tracking_uri else None
        self.tracking_uri = uri or mlflow_store.tracking_uri()
        self.experiment_name = experiment_name
        # resume=auto names the interrupted attempt's run: this logger continues it.
        self.continued = kwargs.get("run_id") is not None
        super().__init__(
            experiment_name=experiment_name,
            run_name=run_name,
            tracking_uri=self.tracking_uri,
            **kwargs,
        )
        self.guard: OutageGuard | None = None

    @property
    def experiment(self) -> Any:
        """Lightning's MlflowClient for the run, behind the OutageGuard once one is set."""
        client = super().experiment
        return self.guard if self.guard is not None else client

    def guard_outages(self, policy: str, uri: str | None) -> OutageGuard:
        """Send the logger's client calls through an OutageGuard from now on."""
        if self.guard is None:
            self.guard = OutageGuard(super().experiment, policy, uri)  # type: ignore[arg-type]
        return self.guard
