"""Metric names, and the 0.1 names still accepted for a minor release.

0.1 starters log `<split>/acc` (torchmetrics' macro-averaged recall, not accuracy); since 0.2
they log `<split>/accuracy`. Where a run has only the old name, readers take it with a
deprecation message, so a 0.1 repo keeps working after `copier update`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

log = logging.getLogger("mlcore.metrics")

# New last path component -> the 0.1 one.
LEGACY_NAMES = {"accuracy": "acc", "accuracy_best": "acc_best"}
_warned: set[tuple[str, str]] = set()


def legacy_name(name: str) -> str | None:
    """The 0.1 name of a metric (`val/accuracy` -> `val/acc`), or None where it had no other."""
    head, _, last = name.rpartition("/")
    old = LEGACY_NAMES.get(last)
    if old is None:
        return None
    return f"{head}/{old}" if head else old


def deprecation(name: str, old: str, where: str) -> str:
    return (
        f"{where}: no metric {name!r}, so its 0.1 name {old!r} is used (deprecated; accepted "
        f"until 0.3). In 0.1's model.py it is macro-averaged (torchmetrics' default), not "
        f"accuracy: log {name!r} with MulticlassAccuracy(num_classes, average='micro') as "
        "CHANGELOG.md's 'Upgrading' says"
    )


def warn_legacy(name: str, old: str, where: str) -> None:
    """Log the deprecation once per process and name."""
    if (where, name) in _warned:
        return
    _warned.add((where, name))
    log.warning("%s", deprecation(name, old, where))


def lookup(metrics: Mapping[str, Any], name: str, where: str = "metrics") -> Any:
    """`metrics[name]`, else its 0.1 name's value with a deprecation message, else None."""
    if name in metrics:
        return metrics[name]
    old = legacy_name(name)
    if old is not None and old in metrics:
        warn_legacy(name, old, where)
        return metrics[old]
    return None
