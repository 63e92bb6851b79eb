"""The MLflow Model Registry, the way every generated project uses it: aliases, a gate, lineage.

- `register(run_id, name)`: the run's logged model becomes a new version, aliased `candidate`,
  with its evaluation digest and a model card (register.py, card.py).
- `promote(name, gate)`: `champion` moves to the candidate if it beats the champion on the same
  test data by the gate's margin, or, with no champion, reaches the floor (promotion.py, gate.py).
- `rollback(name)`: `champion` goes back to the previous one (history kept in a tag).
- `load(name, alias)`: a pyfunc model ready to predict; `describe(name, ref)`: a version's lineage.

Stages (Staging/Production) are deprecated in MLflow; aliases and tags carry all of it. Errors are
RegistryError subclasses (errors.py) whose messages name what is wrong, a server's refusals
(403, 401) and outages included. Alias moves on one model take turns (lock.py). The
`mlcore registry` command (cli.py) is the same API from the shell. mlflow is imported only when
a function runs.
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
