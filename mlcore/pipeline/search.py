"""The best values of a finished hyperparameter search, as Hydra overrides for training.

Hydra's Optuna sweeper ends a search by writing `optimization_results.yaml` into its sweep
folder (`best_params`, `best_value`). The pipeline's train step takes `best_params` as command
line overrides, one `key=value` a line, so the values it trains with are part of its stamp and
of the run's logged config, like any other override.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

RESULTS_FILE = "optimization_results.yaml"
# A value Hydra's override grammar reads as itself without quotes.
PLAIN_VALUE = re.compile(r"^[A-Za-z0-9_.+\-/:]+$")


class SearchResultError(ValueError):
    """The search left no usable result: the message says what is missing and what to run."""


def best_params(sweep_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """`best_params` of the search whose sweep folder this is."""
    path = Path(sweep_dir) / RESULTS_FILE
    if not path.is_file():
        raise SearchResultError(
            f"no {RESULTS_FILE} in {sweep_dir}: the search did not finish (its log says why); "
            "run it with `-m hparams_search=optuna hydra.sweep.dir=<this folder>`"
        )
    import yaml

    results = yaml.safe_load(path.read_text()) or {}
    params = results.get("best_params")
    if not isinstance(params, dict) or not params:
        kind = "a multi-objective search (Pareto front)" if "solutions" in results else "no values"
        raise SearchResultError(
            f"{path} holds {kind}, not one best_params mapping: give the search one direction"
        )
    return params


def as_overrides(params: dict[str, Any]) -> list[str]:
    """`key=value` Hydra overrides, sorted by key; strings quoted where the grammar needs it."""
    overrides = []
    for key, value in sorted(params.items()):
        if isinstance(value, str) and not PLAIN_VALUE.match(value):
            if any(c.isspace() for c in value) or "'" in value:
                raise SearchResultError(
                    f"best value of {key} is {value!r}: values with spaces or quotes cannot be "
                    "passed through Make; use plain values in the search space"
                )
            value = f"'{value}'"
        elif isinstance(value, bool):
            value = str(value).lower()
        overrides.append(f"{key}={value}")
    return overrides
