"""mlcore.monitor on synthetic data with fixed seeds: a shifted batch is flagged, an unshifted
one is not; the command's exit codes, its report files and its MLflow run.

Thresholds used throughout (the defaults, stated here so the tests say what they check): a
feature drifts when its PSI > 0.2 or its KS p-value < 0.01; a batch drifts when at least 30% of
its features drift or the predicted classes' PSI > 0.2.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from mlflow import MlflowClient

from mlcore.monitor import Thresholds, compare, psi
from mlcore.monitor.cli import main
from mlcore.monitor.drift import prediction_drift

THRESHOLDS = Thresholds(psi=0.2, ks_pvalue=0.01, drifted_share=0.3, prediction_psi=0.2)
NAMES = [f"f{i}" for i in range(6)]


def reference(rows: int = 3000) -> np.ndarray:
    return np.random.default_rng(0).normal(size=(rows, len(NAMES)))


def unshifted(rows: int = 500) -> np.ndarray:
    return np.random.default_rng(1).normal(size=(rows, len(NAMES)))


def shifted(rows: int = 500) -> np.ndarray:
    """Three of six features moved by one standard deviation: half the features drift."""
    batch = np.random.default_rng(2).normal(size=(rows, len(NAMES)))
    batch[:, :3] += 1.0
    return batch


def test_unshifted_batch_is_not_flagged() -> None:
    report = compare(reference(), unshifted(), NAMES, THRESHOLDS)
    assert not report.drifted and report.reasons == []
    assert all(f.psi < 0.05 and f.ks_pvalue > 0.01 for f in report.features)


def test_shifted_batch_is_flagged_on_the_shifted_features() -> None:
    report = compare(reference(), shifted(), NAMES, THRESHOLDS)
    assert report.drifted and report.drifted_share == 0.5
    assert [f.name for f in report.features if f.drifted] == ["f0", "f1", "f2"]
    assert all(f.psi > 0.2 and f.ks_pvalue < 1e-10 for f in report.features[:3])
    assert "50% of features drifted" in report.reasons[0]


def test_psi_of_discrete_values_and_empty_bins_stays_finite() -> None:
    ref = np.random.default_rng(3).integers(0, 5, 1000)
    assert psi(ref, ref) == pytest.approx(0.0)
    assert 1.0 < psi(ref, np.full(200, 4)) < 100  # every row in one bin: large, finite


def test_predicted_class_shift_is_flagged() -> None:
    rng = np.random.default_rng(4)
    balanced = np.eye(4)[rng.integers(0, 4, 2000)]
    same = np.eye(4)[rng.integers(0, 4, 400)]
    skewed = np.eye(4)[rng.choice(4, 400, p=[0.7, 0.1, 0.1, 0.1])]
    assert not prediction_drift(balanced, same, THRESHOLDS).drifted
    moved = prediction_drift(balanced, skewed, THRESHOLDS)
    assert moved.drifted and moved.kind == "classes" and moved.chi2_pvalue < 1e-10
    assert moved.current_shares["0"] > 0.6


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"psi": 0}, "thresholds.psi must be a number above 0"),
        ({"ks_pvalue": 1.5}, "thresholds.ks_pvalue must be in (0, 1]"),
        ({"bins": 1}, "thresholds.bins must be a whole number >= 2"),
    ],
)
def test_bad_thresholds_are_refused_with_the_fix(change: dict, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        Thresholds(**change)
    with pytest.raises(ValueError, match=r"unknown key.*psy"):
        Thresholds.from_config({"psy": 0.2})


def test_too_few_rows_are_refused() -> None:
    with pytest.raises(ValueError, match=r"fewer than thresholds\.min_rows"):
        compare(reference(), unshifted(5), NAMES, THRESHOLDS)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder with a catalog holding the reference and a monitor config (inputs only)."""
    frame = pd.DataFrame(reference(), columns=NAMES).assign(label=0)
    (tmp_path / "data").mkdir()
    frame.to_parquet(tmp_path / "data" / "reference.parquet")
    catalog = {"root": ".", "datasets": {"ref": {"uri": "data/reference.parquet"}}}
    (tmp_path / "catalog.yaml").write_text(yaml.safe_dump(catalog))
    settings = {
        "reference": {"dataset": "ref", "target": "label", "catalog": "catalog.yaml"},
        "current": "batch.csv",
        "model": None,
        "thresholds": {"psi": 0.2, "ks_pvalue": 0.01, "drifted_share": 0.3},
        "report_dir": "reports/monitor",
    }
    (tmp_path / "monitor.yaml").write_text(yaml.safe_dump(settings))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run_monitor(project: Path, batch: np.ndarray, *extra: str) -> int:
    pd.DataFrame(batch, columns=NAMES).to_csv(project / "batch.csv", index=False)
    uri = f"sqlite:///{project / 'mlflow.db'}"
    return main(["--config", "monitor.yaml", "--tracking-uri", uri, *extra])


def test_command_exits_0_without_drift_and_3_with_it_and_logs_the_report(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_monitor(project, unshifted()) == 0
    assert "No drift: 0/6 features drifted" in capsys.readouterr().out
    assert run_monitor(project, shifted()) == 3
    assert "DRIFT: 50% of features drifted" in capsys.readouterr().out

    report = json.loads((project / "reports" / "monitor" / "drift.json").read_text())
    assert report["drifted"] is True and report["current_rows"] == 500
    assert (project / "reports" / "monitor" / "features.png").read_bytes()[:4] == b"\x89PNG"
    assert "DRIFT" in (project / "reports" / "monitor" / "drift.html").read_text()

    client = MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("model-monitoring")
    runs = client.search_runs([experiment.experiment_id], order_by=["attributes.start_time"])
    assert sorted(r.data.metrics["drift/detected"] for r in runs) == [0.0, 1.0]
    drifted = next(r for r in runs if r.data.metrics["drift/detected"] == 1.0)
    assert drifted.data.metrics["drift/drifted_share"] == 0.5
    artifacts = {a.path for a in client.list_artifacts(drifted.info.run_id, "drift")}
    assert {"drift/drift.json", "drift/drift.html", "drift/features.png"} <= artifacts


def test_command_exits_2_on_bad_input(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_monitor(project, unshifted(), "--set", "thresholds.psi=-1") == 2
    assert "thresholds.psi must be a number above 0" in capsys.readouterr().err
    assert run_monitor(project, unshifted(), "--current", "nope.csv") == 2
    assert "no batch at nope.csv" in capsys.readouterr().err
    pd.DataFrame(unshifted()[:, :4], columns=NAMES[:4]).to_csv(project / "narrow.csv")
    assert main(["--config", "monitor.yaml", "--current", "narrow.csv", "--no-mlflow"]) == 2
    assert "lacks 2 feature column(s) of the reference: f4, f5" in capsys.readouterr().err


def test_current_batch_by_catalog_name_wins_over_a_file_of_that_name(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """As `mlcore serve`'s batch prediction reads its input: a catalog name means the catalog's
    dataset in every working directory, even beside a file that happens to have its name."""
    pd.DataFrame(shifted(), columns=NAMES).to_parquet(project / "data" / "recent.parquet")
    catalog = yaml.safe_load((project / "catalog.yaml").read_text())
    catalog["datasets"]["batch.csv"] = {"uri": "data/recent.parquet"}
    (project / "catalog.yaml").write_text(yaml.safe_dump(catalog))
    assert run_monitor(project, unshifted(), "--no-mlflow") == 3  # batch.csv itself: unshifted
    assert "DRIFT: 50% of features drifted" in capsys.readouterr().out
    assert run_monitor(project, unshifted(), "--no-mlflow", "--current", "ref") == 0


def test_request_log_on_object_storage_is_read_by_the_monitor(
    moto_server, fresh_s3: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Serving replicas in a cluster log to a bucket (a real S3 API, moto); the monitor reads
    the folder there. Files appear whole: nothing hidden or partial is left behind."""
    import uuid

    import fsspec

    from mlcore.monitor.batches import current
    from mlcore.serve.requestlog import RequestLog

    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server.url)  # as a cluster's config would
    bucket = f"requests-{uuid.uuid4().hex[:8]}"
    fs = fsspec.filesystem("s3")
    fs.mkdir(bucket)
    location = f"s3://{bucket}/serving/production"
    batch = shifted(60)
    log = RequestLog(location, flush_rows=20, flush_seconds=60)
    log.start()
    for start in range(0, 60, 10):  # six requests of ten rows: three files of twenty rows
        log.record(batch[start : start + 10], np.full(10, 1.0))
    log.close()
    assert log.written == 60 and log.dropped == 0
    names = [p.rsplit("/", 1)[-1] for p in fs.find(f"{bucket}/serving/production")]
    assert len(names) == 3 and all(
        n.startswith("requests-") and n.endswith(".jsonl") for n in names
    )

    read = current(location, NAMES)
    np.testing.assert_allclose(read.features, batch)
    assert read.outputs is not None and read.outputs.tolist() == [1.0] * 60
    assert compare(reference(), read.features, NAMES, THRESHOLDS).drifted
