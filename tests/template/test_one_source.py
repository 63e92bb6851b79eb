"""Each value has one home: rename the model and move MLflow, and every step follows.

A generated repo names its model only in `configs/registry/default.yaml` (the Makefile, the
manifests, the pipeline and the monitor name an alias) and finds MLflow only through
MLFLOW_TRACKING_URI. The test changes each in that one place and runs train, promote, serve,
monitor and the pipeline: everything lands under the new name in the new store, and nothing
falls back to the old name or to the project's mlflow.db.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pandas
import pytest
import yaml
from mlflow.tracking import MlflowClient

from tests.conftest import run
from tests.mlcore.test_serve import free_port
from tests.template.conftest import SHARED_ENV

pytestmark = [pytest.mark.slow]

# A project name of its own: other test files install theirs into the same environment.
ANSWERS = {"project_name": "One Source"}
MODEL = "digits-renamed"
EPOCHS = "trainer.max_epochs=3"
TEXT_SUFFIXES = {"", ".yaml", ".yml", ".py", ".md", ".toml", ".txt", ".cfg", ".json", ".jinja"}


def rename_model(project: Path, name: str) -> None:
    """The one edit a team makes to rename its model."""
    file = project / "configs" / "registry" / "default.yaml"
    text = file.read_text()
    renamed = re.sub(r"^model_name: .*$", f"model_name: {name}", text, count=1, flags=re.M)
    assert renamed != text, "configs/registry/default.yaml has a model_name line"
    file.write_text(renamed)


def files_naming(project: Path, needle: str) -> list[str]:
    """Text files of the project (not .git) that contain `needle`."""
    found = []
    for path in project.rglob("*"):
        if ".git" in path.parts or not path.is_file() or path.suffix not in TEXT_SUFFIXES:
            continue
        if needle in path.read_text(errors="replace"):
            found.append(str(path.relative_to(project)))
    return sorted(found)


def test_renamed_model_and_moved_store_reach_every_step(installed_project, tmp_path: Path) -> None:
    project = installed_project(ANSWERS)
    slug = yaml.safe_load((project / ".copier-answers.yml").read_text())["project_slug"]
    # No file restates the model as a registry URI: the Makefile, the Dockerfile, the
    # kustomizations, the kfp pipeline, monitor.yaml and the README name an alias.
    assert files_naming(project, f"models:/{slug}") == []

    rename_model(project, MODEL)
    store = tmp_path / "team-store"
    store.mkdir()
    uri = f"sqlite:///{store / 'mlflow.db'}"
    env = {"MLFLOW_TRACKING_URI": uri}

    def make(*targets: str) -> str:
        result = run(["make", *targets, *SHARED_ENV], cwd=project, env=env)
        return result.stdout + result.stderr

    trained = make("train", f"ARGS={EPOCHS}")
    assert f"MLflow tracking store: {uri}" in trained
    assert "Promoted" in make("promote")
    client = MlflowClient(tracking_uri=uri)
    assert str(client.get_model_version_by_alias(MODEL, "champion").version) == "1"

    assert_serves(project, env, MODEL, "1")

    frame = pandas.read_csv(project / "data" / "raw" / "digits.csv")
    frame.sample(400, random_state=0).to_csv(project / "recent.csv", index=False)
    monitored = make("monitor", "CURRENT=recent.csv")
    assert "No drift" in monitored, monitored
    report = json.loads((project / "reports" / "monitor" / "drift.json").read_text())
    assert report["model"].startswith(f"{MODEL} v1 ")
    assert client.get_experiment_by_name(f"{MODEL}-monitoring") is not None

    make("pipeline", f"TRAIN_ARGS={EPOCHS}")
    candidate = json.loads((project / ".pipeline" / "train.done").read_text())
    assert candidate["version"] == "2"
    versions = sorted(str(v.version) for v in client.search_model_versions(f"name = '{MODEL}'"))
    assert versions == ["1", "2"]

    assert [m.name for m in client.search_registered_models()] == [MODEL]
    assert not (project / "mlflow.db").exists(), "nothing fell back to the project's store"


def assert_serves(project: Path, env: dict[str, str], name: str, version: str) -> None:
    """`make serve` (the champion, by alias) answers with the renamed model."""
    port = free_port()
    with subprocess.Popen(
        ["make", "serve", f"PORT={port}", *SHARED_ENV],
        cwd=project,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    ) as server:
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while not _ready(url):
                assert server.poll() is None and time.monotonic() < deadline, "never ready"
                time.sleep(0.2)
            root = httpx.get(url).json()
            assert (root["name"], root["version"]) == (name, version)
            answer = httpx.post(f"{url}/predict", json={"inputs": [[0.0] * 64] * 2})
            assert answer.status_code == 200 and len(answer.json()["predictions"]) == 2
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/ready", timeout=1).status_code == 200
    except httpx.TransportError:
        return False
