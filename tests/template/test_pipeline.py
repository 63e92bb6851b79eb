"""`make pipeline` in a generated repo: every step once, then only the steps whose inputs changed.

One project, rendered and set up once for the module, goes through four pipeline runs in order
(each test builds on the one before): a first run trains, evaluates and promotes; a second with
nothing changed trains nothing (Make's output and the MLflow store say so); a changed training
config would re-train without preparing data again (Make's dry run after the stamps are
recomputed); a changed data file (and its catalog checksum) prepares data again, re-trains and
gates against the champion evaluated on the new split. Training is kept to a few epochs.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from mlflow.tracking import MlflowClient

from tests.conftest import run
from tests.template.conftest import SHARED_ENV, editable_location, make, render
from tests.template.kfp import run_compiled

pytestmark = [pytest.mark.slow]

EPOCHS = "TRAIN_ARGS=trainer.max_epochs=3"
# Searches and the runs checked only for their overrides train on a few batches.
FEW_BATCHES = [
    "trainer.max_epochs=1",
    "+trainer.limit_train_batches=5",
    "+trainer.limit_val_batches=2",
]
NAME = "CT Pipeline"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    # A name of its own: other test files install and uninstall the default project's package
    # in the same environment, possibly at the same time (pytest-xdist).
    project = render(tmp_path_factory.mktemp("pipeline") / "project", {"project_name": NAME})
    slug = yaml.safe_load((project / ".copier-answers.yml").read_text())["project_slug"]
    previous = editable_location(slug)
    make(project, "setup")
    yield project
    pip = [sys.executable, "-m", "pip", "--quiet"]
    if previous and Path(previous).is_dir():
        run([*pip, "install", "--no-deps", "--no-build-isolation", "-e", previous], project)
    else:
        run([*pip, "uninstall", "--yes", slug], project)


def store(project: Path) -> tuple[int, int, list[str]]:
    """Finished train runs, eval runs and registered versions of the project's model."""
    client = MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")
    slug = yaml.safe_load((project / ".copier-answers.yml").read_text())["project_slug"]
    experiment = client.get_experiment_by_name(slug)
    assert experiment is not None
    counts = []
    for task in ("train", "eval"):
        runs = client.search_runs([experiment.experiment_id], f"tags.task = '{task}'")
        counts.append(sum(r.info.status == "FINISHED" for r in runs))
    versions = sorted(str(v.version) for v in client.search_model_versions(f"name = '{slug}'"))
    return counts[0], counts[1], versions


def steps_run(output: str, package: str) -> set[str]:
    """Which steps Make ran, from the commands it echoed."""
    patterns = {
        "prepare": rf"-m {package}\.data\b",
        "search": rf"-m {package}\.train -m hparams_search=optuna\b",
        "train": rf"-m {package}\.train\b(?! -m hparams_search)",
        "evaluate": rf"-m {package}\.evaluate\b",
        "promote": r"mlcore registry promote",
    }
    return {step for step, pattern in patterns.items() if re.search(pattern, output)}


def package_of(project: Path) -> str:
    return yaml.safe_load((project / ".copier-answers.yml").read_text())["package_name"]


def test_first_run_prepares_trains_evaluates_and_promotes(project: Path) -> None:
    output = make(project, "pipeline", EPOCHS)
    assert steps_run(output, package_of(project)) == {"prepare", "train", "evaluate", "promote"}
    assert store(project) == (1, 1, ["1"])
    assert "Promoted" in (project / ".pipeline" / "promote.done").read_text()
    candidate = json.loads((project / ".pipeline" / "train.done").read_text())
    assert candidate["version"] == "1" and candidate["metrics"]["test/accuracy"] >= 0.9
    summary = make(project, "pipeline-summary")
    assert "champion (none) vs candidate v1" in summary and "| test/accuracy |" in summary


def test_unchanged_inputs_skip_every_step(project: Path) -> None:
    before = store(project)
    output = make(project, "pipeline", EPOCHS)
    assert steps_run(output, package_of(project)) == set(), output
    assert ".pipeline/train.stamp: unchanged" in output
    assert store(project) == before, "no new run, no new version"


def test_changed_config_would_retrain_without_preparing_data(project: Path) -> None:
    """Make's own decision, without paying for another training run: the stamps are recomputed
    for real, then `make -n -o FORCE` (a dry run that leaves the stamps as they now are) lists
    the commands it would run."""
    changed = "TRAIN_ARGS=trainer.max_epochs=4"
    stamped = make(project, ".pipeline/prepare.stamp", ".pipeline/train.stamp", changed)
    assert "prepare.stamp: unchanged" in stamped and "train.stamp: inputs changed" in stamped
    planned = make(project, "-n", "-o", "FORCE", "pipeline", changed)
    assert steps_run(planned, package_of(project)) == {"train", "evaluate", "promote"}, planned
    assert store(project) == (1, 1, ["1"]), "a dry run runs nothing"


def test_changed_data_prepares_and_retrains_and_gates_on_the_new_split(project: Path) -> None:
    data = project / "data" / "raw" / "digits.csv"
    lines = data.read_text().splitlines(keepends=True)
    data.write_text("".join(lines[:-100]))  # new data: 100 rows fewer
    digest = run([sys.executable, "-m", "mlcore", "data", "fingerprint", "digits"], project)
    catalog = project / "configs" / "catalog.yaml"
    text = re.sub(r"sha256:[0-9a-f]{64}", "sha256:" + digest.stdout.split()[0], catalog.read_text())
    catalog.write_text(text)
    output = make(project, "pipeline", "TRAIN_ARGS=trainer.max_epochs=4")
    assert steps_run(output, package_of(project)) == {"prepare", "train", "evaluate", "promote"}
    # The champion is evaluated again beside the candidate, on the new test split: the gate
    # compares those two evaluations (the training runs' splits differ, which it refuses).
    assert store(project) == (2, 3, ["1", "2"])
    decision = (project / ".pipeline" / "promote.done").read_text()
    assert re.match(r"(Promoted|Not promoted: )", decision), decision
    assert "candidate v2 (evaluation run" in decision and "champion v1 (evaluation run" in decision
    assert "champion v1 vs candidate v2" in make(project, "pipeline-summary")


def test_search_feeds_its_best_values_to_training(project: Path) -> None:
    """SEARCH=1: a two-trial Optuna search runs before training, and its best values are the
    train step's overrides: in its stamp and in the registered candidate's run. Run again with
    the same arguments, nothing runs."""
    args = [
        "SEARCH=1",
        "SEARCH_ARGS=hydra.sweeper.n_trials=2 hydra.sweeper.sampler.n_startup_trials=2",
        f"TRAIN_ARGS={' '.join(FEW_BATCHES)}",
    ]
    output = make(project, "pipeline", *args)
    assert steps_run(output, package_of(project)) == {"search", "train", "evaluate", "promote"}
    best = (project / ".pipeline" / "best-params.txt").read_text().split()
    assert {line.split("=")[0] for line in best} == {
        "data.batch_size", "model.dropout", "model.optimizer.lr"
    }  # fmt: skip
    stamp = json.loads((project / ".pipeline" / "train.stamp").read_text())
    assert stamp["config"]["overrides"] == [*best, *FEW_BATCHES]

    candidate = json.loads((project / ".pipeline" / "train.done").read_text())
    client = MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")
    slug = yaml.safe_load((project / ".copier-answers.yml").read_text())["project_slug"]
    run_id = client.get_model_version(slug, candidate["version"]).run_id
    params = client.get_run(run_id).data.params
    for override in best:
        key, value = override.split("=")
        assert float(params[key.replace(".", "/")]) == pytest.approx(float(value)), key

    again = make(project, "pipeline", *args)
    assert steps_run(again, package_of(project)) == set(), again


def monitor(project: Path, batch: Path) -> subprocess.CompletedProcess[str]:
    command = ["make", "monitor", f"CURRENT={batch}", *SHARED_ENV]
    return subprocess.run(command, cwd=project, capture_output=True, text=True, timeout=300)


def test_make_monitor_passes_a_sample_of_the_data_and_flags_inverted_images(
    project: Path,
) -> None:
    """Thresholds of the generated configs/monitor.yaml: PSI 0.2, KS p-value 0.01, 30% of
    features, prediction PSI 0.2; the champion predicts both sides."""
    import pandas as pd

    frame = pd.read_csv(project / "data" / "raw" / "digits.csv")
    sample = frame.sample(400, random_state=0)
    sample.to_csv(project / "recent.csv", index=False)
    same = monitor(project, project / "recent.csv")
    assert same.returncode == 0, same.stdout + same.stderr
    assert "No drift" in same.stdout
    pixels = sample.columns.drop("target")
    sample.assign(**{c: 16 - sample[c] for c in pixels}).to_csv(
        project / "shifted.csv", index=False
    )
    shifted = monitor(project, project / "shifted.csv")
    assert "DRIFT" in shifted.stdout and "Error 3" in shifted.stderr, (
        shifted.stdout + shifted.stderr
    )
    report = json.loads((project / "reports" / "monitor" / "drift.json").read_text())
    assert report["drifted"] and report["predictions"]["drifted"]
    slug = yaml.safe_load((project / ".copier-answers.yml").read_text())["project_slug"]
    assert report["model"].startswith(f"{slug} v")


def test_make_pipeline_kfp_compiles_the_same_steps_for_kubeflow(
    project: Path, kfp_venv: Path
) -> None:
    image = "registry.example.com/team/model-train:1.2.3"
    output = make(project, "pipeline-kfp", f"KFP_VENV={kfp_venv}", f"KFP_IMAGE={image}")
    assert "Compiled build/kfp-pipeline.yaml" in output
    # Two documents: the pipeline, then its Kubernetes platform config (kfp-kubernetes).
    compiled, platform = yaml.safe_load_all((project / "build" / "kfp-pipeline.yaml").read_text())
    tasks = compiled["root"]["dag"]["tasks"]
    names = {key: task["taskInfo"]["name"] for key, task in tasks.items()}
    after = {names[k]: {names[d] for d in t.get("dependentTasks", [])} for k, t in tasks.items()}
    assert after == {
        "prepare": set(),
        "train": {"prepare"},
        "evaluate-candidate": {"train"},
        "evaluate-champion": {"train"},
        "promote": {"evaluate-candidate", "evaluate-champion"},
    }
    makefile = (project / "Makefile").read_text()
    for target in make_targets(compiled):  # each step is a target of the project's Makefile
        assert re.search(rf"^{target}:", makefile, re.M), target
    executors = compiled["deploymentSpec"]["executors"].values()
    assert {e["container"]["image"] for e in executors} == {image}
    assert compiled["root"]["inputDefinitions"]["parameters"]["train_args"]
    # Every step signs in to MLflow with the Secret that serving and the training job read.
    slug = yaml.safe_load((project / ".copier-answers.yml").read_text())["project_slug"]
    configs = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    assert configs.keys() == compiled["deploymentSpec"]["executors"].keys()
    for config in configs.values():
        (secret,) = config["secretAsEnv"]
        assert secret["secretNameParameter"]["runtimeValue"]["constant"] == f"{slug}-mlflow"
        assert secret["optional"] is True
        assert {(k["secretKey"], k["envVar"]) for k in secret["keyToEnv"]} == {
            ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_USERNAME"),
            ("MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_PASSWORD"),
        }


def make_targets(compiled: dict) -> set[str]:
    """The Makefile targets a compiled pipeline's steps run: constant `target` inputs and the
    targets its commands name."""
    targets = set()
    for task in compiled["root"]["dag"]["tasks"].values():
        target = task["inputs"]["parameters"].get("target")
        if target:
            targets.add(target["runtimeValue"]["constant"])
    for executor in compiled["deploymentSpec"]["executors"].values():
        targets |= set(
            re.findall(r"\bmake ([a-z][-a-z]*)", " ".join(executor["container"]["command"]))
        )
    return targets


def test_the_compiled_kfp_pipeline_with_search_runs_its_steps_here(
    project: Path, kfp_venv: Path, tmp_path: Path
) -> None:
    """`make pipeline-kfp SEARCH=1`, its steps up to training run as their pods would run them:
    the search's best values reach the train step only through kfp's output (the file `make
    pipeline` reads is removed first), and the candidate trains with them, `train_args` last.
    (Evaluation and promotion are the `make` component that the prepare step runs too.)"""
    tracking = f"sqlite:///{project / 'mlflow.db'}"
    make(
        project, "pipeline-kfp", f"KFP_VENV={kfp_venv}", "SEARCH=1", f"KFP_TRACKING_URI={tracking}"
    )
    compiled, _ = yaml.safe_load_all((project / "build" / "kfp-pipeline.yaml").read_text())
    assert compiled["root"]["inputDefinitions"]["parameters"].keys() == {
        "train_args",
        "search_args",
    }
    tasks = compiled["root"]["dag"]["tasks"].values()
    after = {t["taskInfo"]["name"]: len(t.get("dependentTasks", [])) for t in tasks}
    assert after == {"prepare": 0, "search": 1, "train": 2, "evaluate-candidate": 1,
                     "evaluate-champion": 1, "promote": 2}  # fmt: skip
    (project / ".pipeline" / "best-params.txt").unlink(missing_ok=True)
    _, _, versions_before = store(project)

    arguments = {
        "train_args": " ".join(FEW_BATCHES),
        "search_args": "hydra.sweeper.n_trials=2 hydra.sweeper.sampler.n_startup_trials=2",
    }
    ran = run_compiled(compiled, arguments, tmp_path, until="train", cwd=project)
    assert ran == ["prepare", "search", "train"]

    best = (project / ".pipeline" / "best-params.txt").read_text().split()
    assert {line.split("=")[0] for line in best} == {
        "data.batch_size", "model.dropout", "model.optimizer.lr"
    }  # fmt: skip
    _, _, versions = store(project)
    (new,) = set(versions) - set(versions_before)
    client = MlflowClient(tracking_uri=tracking)
    slug = yaml.safe_load((project / ".copier-answers.yml").read_text())["project_slug"]
    assert str(client.get_model_version_by_alias(slug, "candidate").version) == new
    params = client.get_run(client.get_model_version(slug, new).run_id).data.params
    assert params["trainer/max_epochs"] == "1"
    for override in best:
        key, value = override.split("=")
        assert float(params[key.replace(".", "/")]) == pytest.approx(float(value)), key
