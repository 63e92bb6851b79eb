"""Generated repos, end to end: set up, lint, test, train, evaluate, as a user and CI would.

Each runs in the one shared environment (no reinstall of torch or any dependency), through the
generated Makefile, the same targets its GitHub workflow calls. `make test` distributes tests by
file, so these run one after the other: side by side, two training runs on 2 cores took longer.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from tests.template.conftest import example_answers, make

pytestmark = [pytest.mark.slow]

# `copier copy --defaults` exactly (mlcore from the release URL), and the documented example.
VARIANTS = {
    "defaults": ({}, False),
    "example": (example_answers("digits-classifier"), True),
}


def finished_runs(project: Path, experiment: str, task: str) -> list:
    client = MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")
    found = client.get_experiment_by_name(experiment)
    assert found is not None, f"no MLflow experiment {experiment!r} in {project / 'mlflow.db'}"
    runs = client.search_runs([found.experiment_id], filter_string=f"tags.task = '{task}'")
    return [run for run in runs if run.info.status == "FINISHED"]


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_generated_repo_sets_up_lints_tests_trains_and_evaluates(
    variant: str, installed_project
) -> None:
    project = installed_project(*VARIANTS[variant])
    slug = re.search(r'^name = "(.+)"', (project / "pyproject.toml").read_text(), re.M).group(1)

    assert (project / ".git" / "hooks" / "pre-commit").is_file(), "make setup installs the hook"
    make(project, "lint")
    tests = make(project, "test")
    assert re.search(r"\d+ passed", tests) and " failed" not in tests
    if variant == "example":  # the slow tests once: target accuracy, a real Optuna search
        slow = make(project, "test-slow")
        assert re.search(r"\b2 passed", slow) and " failed" not in slow

    trained = make(project, "train")
    assert "MLflow tracking store: sqlite:///" in trained
    [run] = finished_runs(project, slug, "train")
    assert run.data.metrics["test/acc"] >= 0.93
    assert run.data.metrics["val/acc_best"] >= 0.93
    assert list((project / "logs" / "train" / "runs").glob("*/checkpoints/last.ckpt"))

    make(project, "evaluate")
    [evaluation] = finished_runs(project, slug, "eval")
    assert evaluation.data.metrics["test/acc"] >= 0.9
