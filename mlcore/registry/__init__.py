"""The MLflow Model Registry as generated projects use it: aliases, a gate, lineage.

`register` (a run's model as version `candidate`), `promote` (`champion` moves through the gate),
`rollback`, `load`, `describe`; `mlcore registry` is the same from the shell. Aliases and tags,
not MLflow's deprecated stages. Errors are RegistryErrors naming what is wrong; alias moves on
one model take turns (lock.py). mlflow is imported only when a function runs.
"""

from __future__ import annotations

from mlcore.registry.describe import describe, load, load_pytorch
from mlcore.registry.errors import (
    AliasNotFoundError,
    DataDigestMismatchError,
    GateMetricMissingError,
    ModelNotFoundError,
    NoPreviousChampionError,
    NotAuthenticatedError,
    PermissionDeniedError,
    PromotionLockedError,
    PromotionRefusedError,
    RegistryError,
    RunModelNotFoundError,
    ServerUnavailableError,
    VersionNotFoundError,
)
from mlcore.registry.gate import Evidence, Gate
from mlcore.registry.promotion import Promotion, promote, rollback
from mlcore.registry.register import register
from mlcore.registry.store import CANDIDATE, CHAMPION

__all__ = [
    "CANDIDATE",
    "CHAMPION",
    "AliasNotFoundError",
    "DataDigestMismatchError",
    "Evidence",
    "Gate",
    "GateMetricMissingError",
    "ModelNotFoundError",
    "NoPreviousChampionError",
    "NotAuthenticatedError",
    "PermissionDeniedError",
    "Promotion",
    "PromotionLockedError",
    "PromotionRefusedError",
    "RegistryError",
    "RunModelNotFoundError",
    "ServerUnavailableError",
    "VersionNotFoundError",
    "describe",
    "load",
    "load_pytorch",
    "promote",
    "register",
    "rollback",
]
