"""What can go wrong in the registry, one class each, every message naming the thing at fault.

All derive from RegistryError, so a caller (the `mlcore registry` command) catches one class and
prints its message as one line.
"""

from __future__ import annotations

# Raised where mlcore talks to MLflow (mlcore.mlflow_store); named here with the rest.
from mlcore.mlflow_store import (
    NotAuthenticatedError,
    PermissionDeniedError,
    RegistryError,
    ServerUnavailableError,
)

__all__ = [
    "AliasNotFoundError",
    "DataDigestMismatchError",
    "GateMetricMissingError",
    "ModelNotFoundError",
    "NoPreviousChampionError",
    "NotAuthenticatedError",
    "PermissionDeniedError",
    "PromotionLockedError",
    "PromotionRefusedError",
    "RegistryError",
    "RunModelNotFoundError",
    "ServerUnavailableError",
    "VersionNotFoundError",
]


class ModelNotFoundError(RegistryError):
    """No registered model of that name in the tracking store."""


class VersionNotFoundError(RegistryError):
    """The registered model has no such version, or no version behind an alias."""


class AliasNotFoundError(VersionNotFoundError):
    """The registered model has no such alias."""


class RunModelNotFoundError(RegistryError):
    """The run logged no model to register."""


class GateMetricMissingError(RegistryError):
    """The candidate (or the champion) has no value for the gate's metric."""


class DataDigestMismatchError(RegistryError):
    """Candidate and champion were evaluated on different data (or one has no digest)."""


class PromotionRefusedError(RegistryError):
    """The candidate did not pass the gate: it does not beat the champion by the margin, or,
    with no champion yet, it does not reach the floor."""


class NoPreviousChampionError(RegistryError):
    """Rollback asked for, but no earlier champion is recorded."""


class PromotionLockedError(RegistryError):
    """Another promotion or rollback of the same model held its lock for longer than we waited."""
