"""`mlcore pipeline stamp`: the stamp changes exactly when a step's inputs change, and is left
untouched (mtime included) otherwise, which is what lets Make skip the step."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

from mlcore.pipeline.cli import main


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A catalog with one CSV, a Hydra config with a group, and a code folder."""
    (tmp_path / "data.csv").write_text("a,b\n1,2\n")
    configs = tmp_path / "configs"
    (configs / "model").mkdir(parents=True)
    catalog = {"root": "..", "datasets": {"table": {"uri": "data.csv"}}}
    (configs / "catalog.yaml").write_text(yaml.safe_dump(catalog))
    (configs / "train.yaml").write_text("defaults:\n  - model: small\n  - _self_\nseed: 1\n")
    (configs / "model" / "small.yaml").write_text("width: 8\n")
    (tmp_path / "src" / "pkg").mkdir(parents=True)
    (tmp_path / "src" / "pkg" / "train.py").write_text("print('train')\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


STAMP = ".pipeline/train.stamp"


def stamp(*extra: str) -> int:
    return main(["stamp", STAMP, "--data", "--config", "train", "--code", "src", *extra])


def rewritten(project: Path, *extra: str) -> bool:
    """Stamp again; whether the file was rewritten (its mtime moved back first to tell)."""
    path = project / STAMP
    os.utime(path, (1_000_000, 1_000_000))
    assert stamp(*extra) == 0
    return path.stat().st_mtime != 1_000_000


def test_stamp_records_data_config_and_code(project: Path) -> None:
    assert stamp() == 0
    content = json.loads((project / STAMP).read_text())
    assert set(content) == {"data", "config", "code"}
    assert len(content["data"]["table"]) == 64  # sha256 of the CSV's bytes
    assert content["config"]["name"] == "train" and content["code"]["paths"] == ["src"]


def test_only_a_changed_input_rewrites_the_stamp(project: Path) -> None:
    assert stamp() == 0
    assert not rewritten(project), "nothing changed: the stamp must keep its mtime"
    (project / "src" / "pkg" / "__pycache__").mkdir()
    (project / "src" / "pkg" / "__pycache__" / "train.cpython-311.pyc").write_bytes(b"x")
    assert not rewritten(project), "caches are not code"
    assert rewritten(project, "--set", "model.width=16"), "an override changes the config"
    assert not rewritten(project, "--set", "model.width=16")
    (project / "configs" / "model" / "small.yaml").write_text("width: 32\n")
    assert rewritten(project, "--set", "model.width=16") is False, "the override still wins"
    assert rewritten(project), "a changed group file changes the composed config"
    (project / "data.csv").write_text("a,b\n1,3\n")
    assert rewritten(project), "changed data"
    (project / "src" / "pkg" / "train.py").write_text("print('train!')\n")
    assert rewritten(project), "changed code"


def test_bad_inputs_fail_with_the_reason(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["stamp", STAMP, "--code", "nope"]) == 1
    assert "code path nope does not exist" in capsys.readouterr().err
    assert main(["stamp", STAMP, "--config", "predict"]) == 1
    assert "no config predict.yaml" in capsys.readouterr().err
    assert main(["stamp", STAMP, "--config", "train", "--set", "model=large"]) == 1
    assert "does not compose" in capsys.readouterr().err
    assert main(["stamp", STAMP, "--data", "missing"]) == 1
    assert "missing" in capsys.readouterr().err
    assert main(["stamp", STAMP]) == 2
    assert "nothing to stamp" in capsys.readouterr().err
    assert not (project / STAMP).exists()


def test_best_params_are_printed_as_sorted_overrides(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """What Hydra's Optuna sweeper writes at the end of a search, read back as overrides."""
    results = {
        "name": "optuna",
        "best_params": {"model.optimizer.lr": 0.0031, "model.dropout": 0.1, "data.batch_size": 64},
        "best_value": 0.97,
    }
    (tmp_path / "optimization_results.yaml").write_text(yaml.safe_dump(results))
    assert main(["best-params", str(tmp_path)]) == 0
    assert capsys.readouterr().out.split() == [
        "data.batch_size=64", "model.dropout=0.1", "model.optimizer.lr=0.0031"
    ]  # fmt: skip


def test_best_params_quote_strings_and_refuse_what_make_cannot_pass(tmp_path: Path) -> None:
    from mlcore.pipeline.search import SearchResultError, as_overrides

    assert as_overrides({"opt": "adam", "act": "gelu(x)", "flag": True}) == [
        "act='gelu(x)'", "flag=true", "opt=adam"
    ]  # fmt: skip
    with pytest.raises(SearchResultError, match="spaces or quotes"):
        as_overrides({"name": "two words"})


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "the search did not finish"),
        ({"name": "optuna", "solutions": [{"params": {}, "values": [1, 2]}]}, "Pareto front"),
        ({"name": "optuna", "best_params": {}}, "no values"),
    ],
)
def test_best_params_without_a_result_say_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: dict | None, message: str
) -> None:
    if content is not None:
        (tmp_path / "optimization_results.yaml").write_text(yaml.safe_dump(content))
    assert main(["best-params", str(tmp_path)]) == 1
    assert message in capsys.readouterr().err
