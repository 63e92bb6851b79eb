"""Refusing config keys nobody reads: a typo'd key would otherwise be ignored silently.

One check for every settings block mlcore reads from a project's config (the launchers, the
promotion gate, `tracking`); each caller names the block and the error type it raises.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def refuse_unknown_keys(
    where: str, given: Iterable[str], known: Sequence[str], error: type[Exception] = ValueError
) -> None:
    """Raise `error` naming the keys of `given` not in `known`, and the known ones."""
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise error(f"unknown key(s) in {where}: {', '.join(unknown)}; known: {', '.join(known)}")
