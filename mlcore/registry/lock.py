"""One alias move at a time per model, with MLflow's own primitive: a unique registered model.

MLflow has no compare-and-set on aliases: two processes that each read the champion, pass the
gate and move the alias can leave the worse one champion (the later write wins) and drop an entry
from the history tag (read, append, write); MLflow itself writes an alias by reading then
inserting, so two writers of one alias can also fail on the database's unique key. So `promote`,
`rollback` and the alias that `register` sets on model `<name>` run while holding the registered
model `<name>.promotion-lock`: creating a registered model is atomic in every registry store
(the name is the table's primary key; a second create fails with RESOURCE_ALREADY_EXISTS), and
deleting it releases the lock. Inside, the champion is read, gated
against and replaced with nobody else moving it, so the champion only ever moves to a version
that passed the gate against the one it replaces, and the history records every move in order.

Holding it needs no more permission than the promotion: any signed-in user may create a
registered model and manage what they created. A lock left by a killed process is not broken
automatically (a lock broken while still held would undo the guarantee): waiting ends with a
PromotionLockedError naming its holder and `mlcore registry unlock`.
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

from mlcore.registry.errors import PromotionLockedError
from mlcore.registry.store import LOCK_SUFFIX

if TYPE_CHECKING:
    from mlflow import MlflowClient

log = logging.getLogger("mlcore.registry")

WAIT_SECONDS = 60.0  # how long a promotion waits for another one of the same model
HOLDER_TAG = "mlcore.lock.holder"
# What a create of a held lock answers. The SQL store inserts, and on the unique-key violation
# re-reads the model to word its error; when the holder deletes the lock between the two, the
# create answers "does not exist" instead: the lock was just released, so try again.
CONTENDED = ("RESOURCE_ALREADY_EXISTS", "RESOURCE_DOES_NOT_EXIST")


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
            client.create_registered_model(
                lock,
                tags={HOLDER_TAG: holder},
                description=f"Held while mlcore promotes or rolls back {name}",
            )
            break
        except MlflowException as error:
            if getattr(error, "error_code", "") not in CONTENDED:
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
        release(client, name)


def release(client: MlflowClient, name: str) -> bool:
    """Delete the lock; False if there was none."""
    from mlflow.exceptions import MlflowException

    try:
        client.delete_registered_model(lock_name(name))
    except MlflowException as error:
        if getattr(error, "error_code", "") in ("RESOURCE_DOES_NOT_EXIST", "NOT_FOUND"):
            return False
        raise
    return True


def _holder(client: MlflowClient, lock: str) -> str:
    from mlflow.exceptions import MlflowException

    try:
        return client.get_registered_model(lock).tags.get(HOLDER_TAG, "holder unknown")
    except MlflowException:
        return "just released"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
