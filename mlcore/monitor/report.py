"""The drift report: JSON for machines, HTML with PNG plots for people, and an MLflow run.

The folder is overwritten each check (MLflow keeps the history); the deciding figures are
logged as metrics, so drift over time is a chart in MLflow.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from mlcore.monitor.drift import DriftReport

TOP_FEATURES = 20


def write(report: DriftReport, folder: str | Path, context: dict[str, Any]) -> Path:
    """Write drift.json, features.png, predictions.png (if any) and drift.html into `folder`."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    payload = {**context, **report.to_dict()}
    (folder / "drift.json").write_text(json.dumps(payload, indent=2, default=str) + "\n")
    _plot(report, folder)
    (folder / "drift.html").write_text(_html(report, context, folder))
    return folder


def _plot(report: DriftReport, folder: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    import matplotlib.pyplot as plt

    top = sorted(report.features, key=lambda f: f.psi, reverse=True)[:TOP_FEATURES]
    figure, axis = plt.subplots(figsize=(8, 0.3 * len(top) + 1.5))
    top.reverse()  # highest at the top
    colors = ["tab:red" if f.drifted else "tab:blue" for f in top]
    axis.barh([f.name for f in top], [f.psi for f in top], color=colors)
    axis.axvline(report.thresholds.psi, color="black", linestyle="--", label="PSI threshold")
    axis.set_xlabel("population stability index")
    axis.set_title(f"Feature drift: the {len(top)} highest PSI (red: drifted)")
    axis.legend()
    figure.tight_layout()
    figure.savefig(folder / "features.png", dpi=80)
    plt.close(figure)
    predictions = report.predictions
    if predictions is None or not predictions.reference_shares:
        return
    labels = list(predictions.reference_shares)
    figure, axis = plt.subplots(figsize=(8, 3))
    positions = range(len(labels))
    reference = list(predictions.reference_shares.values())
    current = [predictions.current_shares.get(k, 0.0) for k in labels]
    axis.bar([p - 0.2 for p in positions], reference, 0.4, label="reference")
    axis.bar([p + 0.2 for p in positions], current, 0.4, label="current")
    axis.set_xticks(list(positions), labels)
    axis.set_ylabel("share of rows")
    axis.set_title(f"Predicted classes (PSI {predictions.psi:.3f})")
    axis.legend()
    figure.tight_layout()
    figure.savefig(folder / "predictions.png", dpi=80)
    plt.close(figure)


def _html(report: DriftReport, context: dict[str, Any], folder: Path) -> str:
    verdict = "DRIFT: " + "; ".join(report.reasons) if report.drifted else "no drift"
    rows = "".join(
        f"<tr><td>{html.escape(f.name)}</td><td>{f.psi:.4f}</td><td>{f.ks_statistic:.4f}</td>"
        f"<td>{f.ks_pvalue:.3g}</td><td>{'yes' if f.drifted else ''}</td></tr>"
        for f in sorted(report.features, key=lambda f: f.psi, reverse=True)
    )
    facts = "".join(
        f"<li>{html.escape(str(k))}: {html.escape(str(v))}</li>" for k, v in context.items()
    )
    images = "".join(
        f'<img src="{name}" alt="{name}">'
        for name in ("features.png", "predictions.png")
        if (folder / name).is_file()
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>Drift report</title></head>"
        f"<body><h1>Drift report: {html.escape(verdict)}</h1><ul>{facts}"
        f"<li>rows: reference {report.reference_rows}, current {report.current_rows}</li>"
        f"<li>drifted features: {report.drifted_share:.0%}</li></ul>{images}"
        "<table><tr><th>feature</th><th>PSI</th><th>KS statistic</th><th>KS p-value</th>"
        f"<th>drifted</th></tr>{rows}</table></body></html>\n"
    )


def log_to_mlflow(
    report: DriftReport, folder: Path, experiment: str, tracking_uri: str, tags: dict[str, str]
) -> str:
    """One run in `experiment` with the deciding figures as metrics and the report as artifacts."""
    from mlcore import mlflow_store

    client = mlflow_store.client(tracking_uri)
    found = client.get_experiment_by_name(experiment)
    experiment_id = found.experiment_id if found else client.create_experiment(experiment)
    run = client.create_run(experiment_id, tags={**tags, "task": "monitor"}, run_name="drift")
    run_id = run.info.run_id
    metrics = {
        "drift/detected": float(report.drifted),
        "drift/drifted_share": report.drifted_share,
        "drift/max_psi": max((f.psi for f in report.features), default=0.0),
        "drift/current_rows": float(report.current_rows),
    }
    if report.predictions is not None:
        metrics["drift/prediction_psi"] = report.predictions.psi
    for key, value in metrics.items():
        client.log_metric(run_id, key, value)
    client.log_artifacts(run_id, str(folder), "drift")
    client.set_terminated(run_id)
    return run_id
