"""Move the `champion` alias: forward through the gate (`promote`), back through the history.

Each promotion appends to the model's `mlcore.champion.history` tag and stamps the version with
the time and the gate's reasoning, so `rollback` knows where to go and `describe` says why. Both
run under the model's promotion lock (lock.py), so each is gated against the champion it
actually replaces.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from mlcore import mlflow_store
from mlcore.registry import store
from mlcore.registry.errors import (
    GateMetricMissingError,
    NoPreviousChampionError,
    PromotionRefusedError,
)
from mlcore.registry.gate import Evidence, Gate
from mlcore.registry.lock import WAIT_SECONDS, promotion_lock

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities.model_registry import ModelVersion

log = logging.getLogger("mlcore.registry")
# Where the gate reads a version's metrics: its training run, or its newest evaluation run.
EVIDENCE_SOURCES = ("training", "evaluation")


@dataclass(frozen=True)
class Promotion:
    """What `promote` did: the new champion, the one it replaced, and the gate's reasoning."""

    name: str
    version: str
    previous: str | None
    reason: str


def promote(
    name: str,
    gate: Gate,
    *,
    version: str | int = store.CANDIDATE,
    tracking_uri: str | None = None,
    wait: float = WAIT_SECONDS,
    evidence_from: str = "training",
) -> Promotion:
    """Make `version` (default `candidate`) the champion if it passes the gate against the
    current one, else raise a RegistryError saying why. `evidence_from` is "training" (the runs
    that trained them) or "evaluation" (each version's newest evaluation run, on the same split).
    Waits up to `wait` seconds for another alias move of the model.
    """
    if evidence_from not in EVIDENCE_SOURCES:
        raise ValueError(f"evidence_from must be one of {EVIDENCE_SOURCES}, not {evidence_from!r}")
    client = mlflow_store.client(tracking_uri)
    with mlflow_store.translated(f"promote a version of model {name!r}", tracking_uri, name):
        candidate = store.version(client, name, version)
        number = str(candidate.version)
        with promotion_lock(client, name, wait):
            return _promote(client, name, gate, candidate, number, evidence_from)


def _promote(
    client: MlflowClient,
    name: str,
    gate: Gate,
    candidate: ModelVersion,
    number: str,
    evidence_from: str = "training",
) -> Promotion:
    current = store.alias_version(client, name, store.CHAMPION)
    if current == number:
        raise PromotionRefusedError(f"{name} v{number} is already the champion")
    champion = store.version(client, name, current) if current else None
    try:
        read = evidence if evidence_from == "training" else evaluation_evidence
        reason = gate.check(
            read(client, candidate, "candidate"),
            read(client, champion, "champion") if champion else None,
        )
    except PromotionRefusedError as refused:
        client.set_model_version_tag(name, number, mlflow_store.GATE_DECISION, str(refused))
        raise
    model = store.registered_model(client, name)
    past = store.history(model)
    if current and (not past or past[-1] != current):
        past.append(current)  # a champion set by hand, outside mlcore
    store.set_history(client, name, [*past, number])
    client.set_registered_model_alias(name, store.CHAMPION, number)
    client.set_model_version_tag(name, number, mlflow_store.PROMOTED_AT, _now())
    client.set_model_version_tag(name, number, mlflow_store.GATE_DECISION, reason)
    log.info("Promoted %s v%s to champion: %s", name, number, reason)
    return Promotion(name, number, current, reason)


def rollback(
    name: str, *, tracking_uri: str | None = None, wait: float = WAIT_SECONDS
) -> Promotion:
    """Give `champion` back to the version that held it before the current one."""
    client = mlflow_store.client(tracking_uri)
    with mlflow_store.translated(f"roll back model {name!r}", tracking_uri, name):
        store.registered_model(client, name)
        with promotion_lock(client, name, wait):
            return _rollback(client, name)


def _rollback(client: MlflowClient, name: str) -> Promotion:
    model = store.registered_model(client, name)
    current = store.alias_version(client, name, store.CHAMPION)
    past = store.history(model)
    if current and past and past[-1] == current:
        past = past[:-1]
    previous = next((v for v in reversed(past) if v != current), None)
    if previous is None:
        raise NoPreviousChampionError(
            f"model {name!r} has no earlier champion to roll back to (champion: "
            f"{'v' + current if current else 'none'}; history: {store.history(model) or 'empty'})"
        )
    store.version(client, name, previous)  # still exists?
    store.set_history(client, name, past[: len(past) - past[::-1].index(previous)])
    client.set_registered_model_alias(name, store.CHAMPION, previous)
    if current:
        client.set_model_version_tag(name, current, mlflow_store.ROLLED_BACK_AT, _now())
    reason = f"rolled back from v{current}" if current else "restored"
    log.info("Rolled %s back: champion is v%s again (was v%s)", name, previous, current)
    return Promotion(name, previous, current, reason)


def evidence(client: MlflowClient, version: ModelVersion, role: str) -> Evidence:
    """The gate's view of a version: its run's metrics and its evaluation digest."""
    metrics = client.get_run(version.run_id).data.metrics if version.run_id else {}
    digest = (version.tags or {}).get(mlflow_store.EVAL_DIGEST)
    return Evidence(f"{role} v{version.version}", metrics, digest)


def evaluation_evidence(client: MlflowClient, version: ModelVersion, role: str) -> Evidence:
    """The gate's view of a version from its newest finished evaluation run."""
    experiments = [client.get_run(version.run_id).info.experiment_id] if version.run_id else []
    query = (
        f"tags.`{mlflow_store.EVALUATED_MODEL}` = '{version.name}' and "
        f"tags.`{mlflow_store.EVALUATED_VERSION}` = '{version.version}' and "
        "attributes.status = 'FINISHED'"
    )
    found = client.search_runs(
        experiments, query, order_by=["attributes.start_time DESC"], max_results=1
    )
    if not found:
        raise GateMetricMissingError(
            f"{role} v{version.version} has no evaluation run: evaluate it first "
            f"(make evaluate MODEL=models:/{version.name}/{version.version})"
        )
    run = found[0]
    label = f"{role} v{version.version} (evaluation run {run.info.run_id[:8]})"
    return Evidence(label, run.data.metrics, run.data.tags.get(mlflow_store.EVAL_DIGEST))


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
