"""`mlcore monitor`: is the recent batch still like the training data? Exit 0 if so, 3 if not.

    mlcore monitor --current data/new.parquet --set thresholds.psi=0.25

Writes the report folder, logs it to MLflow (`<model>-monitoring`), prints the verdict. Exit
codes: 0 no drift, 3 drift, 2 bad input or configuration, 1 the tracking store or registry failed.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

DRIFT = 3
BAD_INPUT = 2
KEYS = ("reference", "current", "model", "thresholds", "report_dir")


def build_parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Drift of recent inputs and predictions against the training data; "
        "exit 3 past the thresholds of configs/monitor.yaml.",
    )
    parser.add_argument("--config", default="configs/monitor.yaml", help="the monitor's settings")
    parser.add_argument("--current", help="batch file or request-log folder (default: config)")
    parser.add_argument("--report-dir", help="where the report goes (default: config)")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a setting, e.g. thresholds.psi=0.25 or model=null",
    )
    parser.add_argument("--no-mlflow", action="store_true", help="write the report only")
    parser.add_argument(
        "--drift-exit-code",
        type=int,
        default=DRIFT,
        help="exit code on drift (default %(default)s; 0 where a later step reads the "
        "`drifted` output written to $GITHUB_OUTPUT)",
    )
    parser.add_argument(
        "--tracking-uri", help="MLflow store (default: MLFLOW_TRACKING_URI, else ./mlflow.db)"
    )
    return parser


def load_settings(path: str | Path, overrides: Sequence[str]) -> dict[str, Any]:
    """The monitor's YAML with the overrides, interpolations resolved, unknown keys refused."""
    from omegaconf import OmegaConf

    from mlcore.config_keys import refuse_unknown_keys

    file = Path(path)
    if not file.is_file():
        raise ValueError(f"no monitor settings at {file}: pass --config (see configs/monitor.yaml)")
    merged = OmegaConf.merge(OmegaConf.load(file), OmegaConf.from_dotlist(list(overrides)))
    settings: Any = OmegaConf.to_container(merged, resolve=True)
    assert isinstance(settings, dict)
    refuse_unknown_keys(f"{file}", settings, KEYS)
    reference = settings.get("reference") or {}
    if not isinstance(reference, dict) or not reference.get("dataset"):
        raise ValueError(f"{file}: reference.dataset must name a dataset of the data catalog")
    refuse_unknown_keys(f"{file} reference", reference, ["dataset", "target", "catalog"])
    return settings


def main(argv: Sequence[str] | None = None, prog: str = "mlcore monitor") -> int:
    args = build_parser(prog).parse_args(list(sys.argv[1:] if argv is None else argv))
    from mlcore.data import DataError
    from mlcore.registry.errors import RegistryError

    try:
        return _run(args)
    except (ValueError, DataError, FileNotFoundError, RegistryError) as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        return 1 if isinstance(error, RegistryError) else BAD_INPUT


def _run(args: argparse.Namespace) -> int:
    import numpy as np

    from mlcore import mlflow_store
    from mlcore.monitor import batches, report
    from mlcore.monitor.drift import Thresholds, compare
    from mlcore.registry.settings import model_uri, project_settings

    settings = load_settings(args.config, args.overrides)
    thresholds = Thresholds.from_config(settings.get("thresholds"))
    ref = settings["reference"]
    features, names = batches.reference(ref["dataset"], ref.get("target"), ref.get("catalog"))
    location = args.current or settings.get("current")
    if not location:
        raise ValueError("no current batch: pass --current or set `current` in the settings")
    batch = batches.current(location, names, ref.get("catalog"))
    project = project_settings(Path(args.config).parent)
    tracking_uri = args.tracking_uri or mlflow_store.tracking_uri()
    context: dict[str, Any] = {"reference": ref["dataset"], "current": batch.source}
    ref_out = cur_out = None
    if settings.get("model"):
        from mlcore.serve.model import ModelLoadError, load_model

        try:
            uri = model_uri(str(settings["model"]), Path(args.config).parent)
            model = load_model(uri, tracking_uri=tracking_uri)
        except ModelLoadError as error:
            raise ValueError(f"model: {error}") from error
        dtype = np.dtype(model.dtype)
        ref_out = model.predict(features.astype(dtype))
        cur_out = batch.outputs
        if cur_out is None:
            cur_out = model.predict(batch.features.astype(dtype))
        context["model"] = f"{model.name} v{model.version} ({model.uri})"
    result = compare(features, batch.features, names, thresholds, ref_out, cur_out)
    folder = report.write(
        result, args.report_dir or settings.get("report_dir") or "reports/monitor", context
    )
    where = f"{folder}/drift.html"
    if not args.no_mlflow:
        experiment = f"{project.model_name or 'model'}-monitoring"
        tags = {k: str(v) for k, v in context.items()}
        run_id = report.log_to_mlflow(result, folder, experiment, tracking_uri, tags)
        where += f", MLflow run {run_id} in {experiment}"
    drifted = sum(f.drifted for f in result.features)
    summary = f"{drifted}/{len(result.features)} features drifted ({result.drifted_share:.0%})"
    if result.predictions is not None:
        summary += f", prediction PSI {result.predictions.psi:.3f}"
    _github_output(result.drifted)
    if result.drifted:
        print(f"DRIFT: {'; '.join(result.reasons)}. {summary}. Report: {where}")
        return args.drift_exit_code
    print(f"No drift: {summary}. Report: {where}")
    return 0


def _github_output(drifted: bool) -> None:
    """In GitHub Actions, the step output `drifted` (true/false) for the jobs that follow."""
    import os

    path = os.environ.get("GITHUB_OUTPUT")
    if path:
        with open(path, "a") as output:
            output.write(f"drifted={'true' if drifted else 'false'}\n")
