"""One alias move at a time per model, with MLflow's own primitive: a uniquely named experiment.

MLflow has no compare-and-set on aliases: two promotions could leave the worse model champion
and lose a history entry. So `promote`, `rollback` and `register`'s alias hold the lock
`<name>.promotion-lock`, an experiment: creating one is atomic in every store. Not a registered
model: MLflow's basic-auth app sweeps those permissions by name, so a release could drop the next
holder's grant; experiment grants are by id. Release renames, then deletes. Holding needs no more
permission than a training run. A killed holder's lock is never broken automatically (that would
undo the guarantee): waiting ends with a PromotionLockedError naming `mlcore registry unlock`.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from mlcore.mlflow_store import LOCK_HOLDER_TAG, LOCK_SUFFIX
from mlcore.registry.errors import PromotionLockedError

if TYPE_CHECKING:
    from mlflow import MlflowClient

log = logging.getLogger("mlcore.registry")

WAIT_SECONDS = 60.0  # how long a promotion waits for another one of the same model
HOLDER_TAG = LOCK_HOLDER_TAG


def lock_name(name: str) -> str:
    return f"{name}{LOCK_SUFFIX}"


@contextmanager
def promotion_lock(client: MlflowClient, name: str, wait: float = WAIT_SECONDS) -> Iterator[None]:
    """Hold `<name>.promotion-lock` for the duration; wait (bounded) while another holds it."""
    from mlflow.exceptions import MlflowException

    lock = lock_name(name)
    holder = f"{socket.gethostname()} pid {os.getpid()} since {_now()}"
    deadline = time.monotonic() + wait
    pause = 0.05
    while True:
        try:
            held = client.create_experiment(lock, tags={HOLDER_TAG: holder})
            break
        except MlflowException as error:
            if getattr(error, "error_code", "") != "RESOURCE_ALREADY_EXISTS":
                raise
        if time.monotonic() > deadline:
            raise PromotionLockedError(
                f"another promotion or rollback of {name!r} holds its lock "
                f"({_holder(client, lock)}) and did not finish within {wait:g} s. If none is "
                "running (a process killed mid-promotion leaves it), remove it with "
                f"`mlcore registry unlock --name {name}`"
            )
        time.sleep(pause * (1 + random.random()))  # jitter: contenders do not retry in step
        pause = min(pause * 2, 1.0)
    try:
        yield
    finally:
        _remove(client, held, lock)


def release(client: MlflowClient, name: str) -> bool:
    """Remove the lock of `name` whoever holds it (`mlcore registry unlock`); False if none.
    A lock deleted by hand (the MLflow UI) still takes the name, and MLflow renames only active
    experiments: it is restored first."""
    found = client.get_experiment_by_name(lock_name(name))
    if found is None:
        return False
    if found.lifecycle_stage != "active":
        client.restore_experiment(found.experiment_id)
    _remove(client, found.experiment_id, found.name)
    return True


def _remove(client: MlflowClient, experiment_id: str, lock: str) -> None:
    """Free the name first (a rename), then delete: the next holder's create may follow the
    rename at once, and nothing done to this experiment afterwards touches theirs."""
    client.rename_experiment(experiment_id, f"{lock}.released-{experiment_id}")
    client.delete_experiment(experiment_id)


def _holder(client: MlflowClient, lock: str) -> str:
    from mlflow.exceptions import MlflowException

    try:
        found = client.get_experiment_by_name(lock)
    except MlflowException:
        found = None
    return found.tags.get(HOLDER_TAG, "holder unknown") if found else "just released"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
