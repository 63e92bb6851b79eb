"""A short model card per registered version: data, metrics, lineage, intended use.

Markdown, written at registration from what the run recorded, so it cannot drift from the run.
It becomes the version's description (the registry UI shows it) and the run artifact
`model_card/v<N>.md`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlflow.entities import Run

LINEAGE_ROWS = (
    ("Command", "mlcore.command"),
    ("Overrides", "mlcore.overrides"),
    ("Resumed, attempt", "mlcore.resume.attempt"),
    ("Git commit", "mlflow.source.git.commit"),
    ("Uncommitted changes", "mlcore.git.dirty"),
    ("Branch", "mlflow.source.git.branch"),
    ("Template commit", "mlcore.template.commit"),
    ("mlcore", "mlcore.version"),
    ("Python", "mlcore.python"),
    ("torch", "mlcore.package.torch"),
    ("lightning", "mlcore.package.lightning"),
    ("Environment lock (sha256)", "mlcore.env.lock_sha256"),
    ("Host", "mlcore.host.name"),
    ("Accelerator", "mlcore.accelerator.type"),
)


def model_card(
    name: str, version: str, run: Run, intended_use: str = "", model_uri: str = ""
) -> str:
    """The card's markdown for version `version` of model `name`, logged by `run`."""
    tags = run.data.tags
    lines = [f"# {name}, version {version}", ""]
    lines += ["## Intended use", "", intended_use.strip() or "Not stated.", ""]
    lines += ["## Data", ""]
    lines += _table(("Split", "Dataset", "Digest"), _datasets(run)) or ["No dataset recorded."]
    lines += [""]
    metrics = {k: v for k, v in sorted(run.data.metrics.items()) if k.startswith(("test/", "val/"))}
    lines += ["## Metrics", ""]
    rows = [(k, f"{v:.4f}", meaning(k)) for k, v in metrics.items()]
    lines += _table(("Metric", "Value", "What it is"), rows) or [
        "No test or validation metrics recorded."
    ]
    lines += ["", "## Lineage", ""]
    lineage = [("MLflow run", run.info.run_id)]
    if model_uri:
        lineage.append(("Model", model_uri))
    lineage += [(label, tags[key]) for label, key in LINEAGE_ROWS if tags.get(key)]
    lines += _table(("", ""), lineage)
    lines += ["", "Config: the run's artifact `config/config.yaml`. Plots: `plots/`.", ""]
    return "\n".join(lines)


# What the kit's standard metric names measure, by their last part (`test/accuracy`).
MEANINGS = {
    "accuracy": "accuracy: the share of examples classified correctly",
    "accuracy_best": "the best validation accuracy of any epoch",
    "loss": "the mean loss the model trains on",
    "acc": "0.1's name: macro-averaged (the mean of the per-class recalls), not accuracy",
    "acc_best": "0.1's name: the best macro-averaged validation score",
}


def meaning(metric: str) -> str:
    return MEANINGS.get(metric.rpartition("/")[2], "")


def _datasets(run: Run) -> list[tuple[str, str, str]]:
    rows = []
    for entry in getattr(run.inputs, "dataset_inputs", None) or []:
        context = next((t.value for t in entry.tags if t.key == "mlflow.data.context"), "")
        rows.append((context, entry.dataset.name, entry.dataset.digest))
    return rows


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    if not rows:
        return []
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return out


def _cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def summary(metrics: Mapping[str, float]) -> str:
    return ", ".join(f"{k} {v:.4f}" for k, v in sorted(metrics.items()))
