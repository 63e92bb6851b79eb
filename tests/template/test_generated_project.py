"""Generated repos, end to end: set up, lint, test, train, evaluate, as a user and CI would.

Each variant that runs on this Python goes through its own Makefile, the targets its GitHub
workflow calls, in the one shared environment (no reinstall of torch or any dependency).
`make test` distributes tests by file, so these run one after the other: side by side, two
training runs on 2 cores took longer.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from mlflow.tracking import MlflowClient

from tests.mlcore.test_serve import free_port
from tests.template.conftest import SHARED_ENV, make
from tests.template.test_matrix import changed_files, staged_repo
from tests.template.variants import VARIANTS

pytestmark = [pytest.mark.slow]

RUNS_HERE = sorted(name for name, variant in VARIANTS.items() if variant.runs_here)


def finished_runs(project: Path, experiment: str, task: str) -> list:
    client = MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")
    found = client.get_experiment_by_name(experiment)
    assert found is not None, f"no MLflow experiment {experiment!r} in {project / 'mlflow.db'}"
    runs = client.search_runs([found.experiment_id], filter_string=f"tags.task = '{task}'")
    return [run for run in runs if run.info.status == "FINISHED"]


def passed(output: str, count: str = r"\d+") -> bool:
    return bool(re.search(rf"\b{count} passed", output)) and " failed" not in output


# A line of a warning or a tip, whichever library prints it (pytest's summary included).
NOISE = re.compile(r"warn|deprecat|\btips?\b|\N{ELECTRIC LIGHT BULB}", re.IGNORECASE)
# Noise a fresh repo's `make train` and `make test` may print, each with its reason: none.
EXPECTED_NOISE: tuple[str, ...] = ()


def noise(output: str) -> list[str]:
    """The lines of output that are warnings or tips the user did not cause."""
    return [
        line
        for line in output.splitlines()
        if NOISE.search(line) and not any(expected in line for expected in EXPECTED_NOISE)
    ]


@pytest.mark.parametrize("name", RUNS_HERE)
def test_generated_repo_sets_up_lints_tests_trains_and_evaluates(
    name: str, installed_project
) -> None:
    variant = VARIANTS[name]
    project = installed_project(variant.answers, variant.local_mlcore)
    slug = re.search(r'^name = "(.+)"', (project / "pyproject.toml").read_text(), re.M).group(1)

    assert (project / ".git" / "hooks" / "pre-commit").is_file(), "make setup installs the hook"
    make(project, "lint")
    make(staged_repo(project), "precommit")
    assert not changed_files(project), "a fresh repo must pass every hook with no file changed"
    tested = make(project, "test")
    assert passed(tested)
    assert not noise(tested), "a fresh repo's tests warn of nothing"

    if name == "example":  # once: the slow tests, and a lock (uv resolves from PyPI)
        assert passed(make(project, "test-slow"), count="2")
        make(project, "lock")
        lock = (project / "requirements-lock.txt").read_text()
        assert re.search(r"^torch==2\.13\.0$", lock, re.M)
        assert not re.search(r"^mlcore\b", lock, re.M), "mlcore comes from its pinned source"
        assert "--constraint /tmp" not in lock, "the lock's header must not name a temp file"
        make(project, "setup")  # installs within the lock

    make(project, "smoke")
    [smoke] = finished_runs(project, slug, "debug")
    assert "test/accuracy" in smoke.data.metrics
    assert "mlcore.registry.version" not in smoke.data.tags, "a smoke run moves no candidate"

    trained = make(project, "train")
    assert not noise(trained), "a fresh repo trains without warnings or tips"
    assert "MLflow tracking store: sqlite:///" in trained
    [run] = finished_runs(project, slug, "train")
    assert run.data.metrics["test/accuracy"] >= 0.93
    assert run.data.metrics["val/accuracy_best"] >= 0.93
    # `make train` registered it, and its card says how it was made and what accuracy is.
    version = run.data.tags["mlcore.registry.version"]
    card = (
        MlflowClient(f"sqlite:///{project / 'mlflow.db'}")
        .get_model_version(*version.split("/"))
        .description
    )
    assert "| Overrides | registry.register=true |" in card
    assert "| test/accuracy |" in card and "classified correctly" in card
    assert list((project / "logs" / "train" / "runs").glob("*/checkpoints/last.ckpt"))

    make(project, "evaluate")
    [evaluation] = finished_runs(project, slug, "eval")
    assert evaluation.data.metrics["test/accuracy"] >= 0.9
    # The figure MLflow's evaluation prints is the same accuracy.
    assert evaluation.data.metrics["accuracy_score"] == pytest.approx(
        evaluation.data.metrics["test/accuracy"], abs=1e-6
    )

    # Serving: the candidate becomes champion, predicts the dataset in batch and answers HTTP.
    assert "Promoted" in make(project, "promote")
    make(project, "predict", "OUTPUT=data/processed/predictions.csv")
    predictions = (project / "data" / "processed" / "predictions.csv").read_text().splitlines()
    assert predictions[0] == '"label","probability"' and len(predictions) == 1 + 1797
    champion = version.split("/")[-1]
    assert_make_serve_answers(project, slug, champion)


def assert_make_serve_answers(project: Path, slug: str, version: str) -> None:
    """`make serve` on a free loopback port serves the champion until it is stopped."""
    port = free_port()
    command = ["make", "serve", f"PORT={port}", *SHARED_ENV]
    with subprocess.Popen(
        command,
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    ) as server:
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while not _answers(f"{url}/ready"):
                assert server.poll() is None and time.monotonic() < deadline, "never ready"
                time.sleep(0.2)
            root = httpx.get(url).json()
            assert (root["name"], root["version"], root["runtime"]) == (slug, version, "onnx")
            answer = httpx.post(f"{url}/predict", json={"inputs": [[0.0] * 64] * 2})
            assert answer.status_code == 200 and len(answer.json()["predictions"]) == 2
        finally:
            os.killpg(server.pid, signal.SIGTERM)  # make and the server it started
            server.wait(timeout=30)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.TransportError:
        return False
