"""mlcore.registry against a real MLflow SQLite store: register, promote, rollback, load, describe,
the errors, and the `mlcore registry` command."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from mlflow import MlflowClient

from mlcore.registry import (
    AliasNotFoundError,
    DataDigestMismatchError,
    Gate,
    GateMetricMissingError,
    ModelNotFoundError,
    NoPreviousChampionError,
    PromotionRefusedError,
    RunModelNotFoundError,
    VersionNotFoundError,
    describe,
    load,
    promote,
    register,
    rollback,
)
from mlcore.registry import cli as registry_cli
from mlcore.registry.store import EVAL_DIGEST, HISTORY_TAG

GATE = Gate(metric="test/accuracy", direction="maximize", margin=0.01, floor=0.8)


@dataclass
class Store:
    uri: str
    name: str  # this test's registered model
    log_run: Callable[..., str]  # (acc, digest=..., model=True) -> run id of a run with a model


@pytest.fixture
def store(
    mlflow_tracking_uri: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Store]:
    """The session's SQLite store, an experiment and a model name of this test's own."""
    import mlflow
    import torch

    from mlcore.mlflow_store import MODEL_URI
    from mlcore.tracking.model import log_model

    client = MlflowClient(mlflow_tracking_uri)
    name = f"model-{request.node.name}"
    experiment = client.create_experiment(name, (tmp_path / "artifacts").as_uri())
    saved = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(mlflow_tracking_uri)

    def log_run(acc: float | None, digest: str = "digest-1", model: bool = True) -> str:
        with mlflow.start_run(experiment_id=experiment) as run:
            if acc is not None:
                mlflow.log_metric("test/accuracy", acc)
            mlflow.set_tag(EVAL_DIGEST, digest)
            if model:
                torch.manual_seed(0)
                info = log_model(torch.nn.Linear(4, 3), np.ones((2, 4), dtype=np.float32))
                mlflow.set_tag(MODEL_URI, info.model_uri)
        return run.info.run_id

    yield Store(mlflow_tracking_uri, name, log_run)
    mlflow.set_tracking_uri(saved)


def champion_of(store: Store) -> str:
    return describe(store.name, "champion", tracking_uri=store.uri)["version"]


def test_train_candidate_promote_load_predict(store: Store) -> None:
    run_id = store.log_run(0.9)
    version = register(run_id, store.name, tracking_uri=store.uri, intended_use="Tests only.")
    assert version.aliases == ["candidate"] and version.tags[EVAL_DIGEST] == "digest-1"
    assert "Tests only." in version.description and run_id in version.description

    done = promote(store.name, GATE, tracking_uri=store.uri)
    assert (done.version, done.previous) == ("1", None) and "reaches the floor" in done.reason
    model = load(store.name, "champion", tracking_uri=store.uri)
    prediction = np.asarray(model.predict(np.ones((5, 4), dtype=np.float32)))
    assert prediction.shape == (5, 3)


def test_worse_candidate_refused_better_promoted_then_rolled_back(store: Store) -> None:
    first = str(register(store.log_run(0.90), store.name, tracking_uri=store.uri).version)
    promote(store.name, GATE, tracking_uri=store.uri)

    worse = str(register(store.log_run(0.895), store.name, tracking_uri=store.uri).version)
    with pytest.raises(PromotionRefusedError, match=r"0\.8950 against champion v1's 0\.9000"):
        promote(store.name, GATE, tracking_uri=store.uri)
    client = MlflowClient(store.uri)
    assert "refused" in client.get_model_version(store.name, worse).tags["mlcore.gate.decision"]
    assert champion_of(store) == first

    better = str(register(store.log_run(0.95), store.name, tracking_uri=store.uri).version)
    promote(store.name, GATE, tracking_uri=store.uri)
    assert champion_of(store) == better
    history = json.loads(client.get_registered_model(store.name).tags[HISTORY_TAG])
    assert history == [first, better]

    back = rollback(store.name, tracking_uri=store.uri)
    assert (back.version, back.previous) == (first, better) and champion_of(store) == first
    assert "mlcore.rolled_back_at" in client.get_model_version(store.name, better).tags
    with pytest.raises(NoPreviousChampionError, match="no earlier champion"):
        rollback(store.name, tracking_uri=store.uri)


def test_no_champion_and_below_the_floor_is_refused(store: Store) -> None:
    register(store.log_run(0.5), store.name, tracking_uri=store.uri)
    with pytest.raises(PromotionRefusedError, match=r"0\.5000, the floor is >= 0\.8000"):
        promote(store.name, GATE, tracking_uri=store.uri)


def test_gate_refuses_other_data_and_a_missing_metric(store: Store) -> None:
    register(store.log_run(0.9), store.name, tracking_uri=store.uri)
    promote(store.name, GATE, tracking_uri=store.uri)
    other = register(store.log_run(0.99, digest="digest-2"), store.name, tracking_uri=store.uri)
    with pytest.raises(DataDigestMismatchError, match=r"digest-2.*champion v1 on digest-1"):
        promote(store.name, GATE, version=other.version, tracking_uri=store.uri)
    bare = register(store.log_run(None), store.name, tracking_uri=store.uri)
    with pytest.raises(GateMetricMissingError, match=f"candidate v{bare.version} has no metric"):
        promote(store.name, GATE, tracking_uri=store.uri)


def test_gate_on_evaluations_compares_both_versions_on_todays_split(store: Store) -> None:
    """After new data the training runs' splits differ; `evidence_from="evaluation"` compares
    each version's newest evaluation run (both on the new split) instead."""
    import mlflow

    from mlcore.registry.store import EVALUATED_MODEL, EVALUATED_VERSION

    register(store.log_run(0.9), store.name, tracking_uri=store.uri)
    promote(store.name, GATE, tracking_uri=store.uri)
    new = register(store.log_run(0.93, digest="digest-2"), store.name, tracking_uri=store.uri)
    with pytest.raises(DataDigestMismatchError):  # the training runs: other test data
        promote(store.name, GATE, tracking_uri=store.uri)
    with pytest.raises(GateMetricMissingError, match="has no evaluation run: evaluate it"):
        promote(store.name, GATE, tracking_uri=store.uri, evidence_from="evaluation")

    experiment = MlflowClient(store.uri).get_run(new.run_id).info.experiment_id

    def evaluation(version: str, acc: float) -> None:
        with mlflow.start_run(experiment_id=experiment):
            mlflow.log_metric("test/accuracy", acc)
            mlflow.set_tags(
                {EVALUATED_MODEL: store.name, EVALUATED_VERSION: version, EVAL_DIGEST: "digest-2"}
            )

    evaluation("1", 0.95)  # an old evaluation of the champion: the newest one counts
    evaluation("1", 0.91)
    evaluation(str(new.version), 0.93)
    done = promote(store.name, GATE, tracking_uri=store.uri, evidence_from="evaluation")
    assert done.version == str(new.version) and "evaluation run" in done.reason
    assert "0.9300" in done.reason and "0.9100" in done.reason


def test_unknown_names_are_named(store: Store) -> None:
    with pytest.raises(ModelNotFoundError, match="no registered model 'nope'"):
        load("nope", tracking_uri=store.uri)
    register(store.log_run(0.9), store.name, tracking_uri=store.uri)
    with pytest.raises(AliasNotFoundError, match=r"no alias 'nope' \(its aliases: candidate"):
        load(store.name, "nope", tracking_uri=store.uri)
    with pytest.raises(VersionNotFoundError, match=r"no version 7 \(versions 1 to 1"):
        describe(store.name, "7", tracking_uri=store.uri)
    with pytest.raises(RunModelNotFoundError, match="logged no model"):
        register(store.log_run(0.9, model=False), store.name, tracking_uri=store.uri)


def test_describe_shows_lineage_data_and_decisions(store: Store) -> None:
    register(store.log_run(0.9), store.name, tracking_uri=store.uri)
    promote(store.name, GATE, tracking_uri=store.uri)
    described = describe(store.name, "champion", tracking_uri=store.uri)
    assert described["aliases"] == ["candidate", "champion"]
    assert described["metrics"]["test/accuracy"] == pytest.approx(0.9)
    assert described["lineage"][EVAL_DIGEST] == "digest-1"
    assert "reaches the floor" in described["version_tags"]["mlcore.gate.decision"]
    assert described["champion_history"] == ["1"]


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = registry_cli.main(list(args), prog="mlcore registry")
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_promote_list_rollback_and_one_line_errors(
    store: Store, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    where = ["--name", store.name, "--tracking-uri", store.uri, "--config-dir", str(tmp_path)]
    register(store.log_run(0.9), store.name, tracking_uri=store.uri)
    code, out, _ = run_cli(capsys, "promote", *where, "--floor", "0.5")
    assert code == 0 and out.startswith(f"Promoted {store.name} v1 to champion (was none)")

    register(store.log_run(0.85), store.name, tracking_uri=store.uri)
    code, out, err = run_cli(capsys, "promote", *where)
    assert code == 1 and not out and len(err.strip().splitlines()) == 1
    assert "refused: test/accuracy = 0.8500 against champion v1's 0.9000" in err

    code, out, _ = run_cli(capsys, "promote", "2", *where, "--margin", "-1")
    assert code == 0 and "v2 to champion (was v1)" in out
    code, out, _ = run_cli(capsys, "list", *where)
    assert code == 0 and "candidate,champion" in out
    code, out, _ = run_cli(capsys, "rollback", *where)
    assert code == 0 and "champion is v1 again (was v2)" in out
    code, out, _ = run_cli(capsys, "describe", "champion", "--json", *where)
    assert json.loads(out)["version"] == "1"

    code, _, err = run_cli(capsys, "describe", *where[2:], "--name", "nope")
    assert code == 1 and err.startswith("mlcore registry: error: no registered model 'nope'")
    code, _, err = run_cli(capsys, "promote", "--tracking-uri", store.uri,
                           "--config-dir", str(tmp_path))  # fmt: skip
    assert code == 1 and "no model name" in err


def test_cli_reads_the_project_config_and_mlflow_tracking_uri(
    store: Store,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """In a project, `mlcore registry promote` needs no flag: name, store and gate come from
    configs/registry/default.yaml, the store from MLFLOW_TRACKING_URI when it is set."""
    configs = tmp_path / "configs"
    (configs / "registry").mkdir(parents=True)
    (configs / "train.yaml").write_text("defaults:\n  - registry: default\n  - _self_\n")
    (configs / "registry" / "default.yaml").write_text(
        textwrap.dedent(f"""\
        model_name: {store.name}
        tracking_uri: ${{oc.env:MLFLOW_TRACKING_URI,sqlite:///nowhere.db}}
        gate: {{metric: test/accuracy, direction: maximize, margin: 0.0, floor: 0.95}}
        """)
    )
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store.uri)
    monkeypatch.chdir(tmp_path)
    register(store.log_run(0.9), store.name, tracking_uri=store.uri)
    code, _, err = run_cli(capsys, "promote")
    assert code == 1 and "the floor is >= 0.9500" in err
    code, out, _ = run_cli(capsys, "promote", "--set", "registry.gate.floor=0.5")
    assert code == 0 and "Promoted" in out


def test_evaluation_loads_the_projects_model_by_alias(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`make evaluate MODEL=candidate`: an alias of the model configs/registry/default.yaml
    names."""
    from mlcore.registry import load_pytorch

    register(store.log_run(0.9), store.name, tracking_uri=store.uri)
    (tmp_path / "configs" / "registry").mkdir(parents=True)
    (tmp_path / "configs" / "registry" / "default.yaml").write_text(f"model_name: {store.name}\n")
    monkeypatch.chdir(tmp_path)
    module = load_pytorch("candidate", tracking_uri=store.uri)
    assert module.out_features == 3
