"""`mlcore launch` on a generated project, without a cluster: what each launcher would start.

The sbatch scripts and PyTorchJob manifests are compared with golden files (review a change to
them like any diff: `MLCORE_UPDATE_GOLDEN=1 pytest tests/template/test_launch.py` rewrites them),
and every manifest is validated offline against the training operator's own PyTorchJob CRD
(release-1.9, ../shared/crds) and its admission webhook's rules, as `mlcore deploy check` does.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import yaml

from mlcore.deploy.check import check_files
from mlcore.launch.cli import main as launch
from tests.conftest import require_crds
from tests.template.conftest import example_answers, render

GOLDEN = Path(__file__).parent / "golden" / "launch"

# name: (launcher, overrides); the golden file is <name>.sh or <name>.yaml.
SBATCH = {
    "slurm-default": ("slurm", []),
    "slurm-2-nodes-8-gpus": (
        "slurm",
        ["launcher.nodes=2", "launcher.gpus_per_node=8", "launcher.partition=gpu",
         "launcher.cpus_per_task=12", "launcher.setup=[source .venv/bin/activate]",
         "trainer=gpu", "trainer.devices=auto"],
    ),
}  # fmt: skip
MANIFESTS = {
    "pytorchjob-default": ("kubernetes", []),
    "pytorchjob-2-nodes-8-gpus": (
        "kubernetes",
        ["launcher.nodes=2", "launcher.gpus_per_node=8", "launcher.namespace=ml",
         "launcher.image=registry.example.com/digits-classifier:1.0",
         "launcher.env.MLFLOW_TRACKING_URI=http://mlflow.mlflow:5000",
         "trainer.max_epochs=30"],
    ),
}  # fmt: skip


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render(
        tmp_path_factory.mktemp("launch") / "digits", example_answers("digits-classifier")
    )


def dry_run(project: Path, capsys: pytest.CaptureFixture[str], *args: str) -> str:
    os.chdir(project)
    code = launch([*args, "--dry-run", "--config-dir", str(project / "configs")])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return captured.out


def normalized(text: str, project: Path) -> str:
    """Machine-specific paths as placeholders, so the golden file holds on every machine."""
    return text.replace(str(project), "<project>").replace(sys.executable, "<python>")


def check_golden(name: str, text: str) -> None:
    golden = GOLDEN / name
    if os.environ.get("MLCORE_UPDATE_GOLDEN"):
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text)
    assert golden.is_file(), f"no golden file {golden}: run with MLCORE_UPDATE_GOLDEN=1"
    assert text == golden.read_text(), f"{name} differs from its golden file"


@pytest.fixture(autouse=True)
def _keep_cwd() -> object:
    cwd = Path.cwd()
    yield
    os.chdir(cwd)


@pytest.mark.parametrize("name", sorted(SBATCH))
def test_sbatch_script_matches_golden(
    name: str, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    launcher, overrides = SBATCH[name]
    text = dry_run(project, capsys, launcher, *overrides)
    assert dry_run(project, capsys, launcher, *overrides) == text, "not deterministic"
    check_golden(f"{name}.sh", normalized(text, project))


def api_problems(manifest: Path) -> list[str]:
    """What the API server (the CRD) and the operator's webhook would refuse; the policy's
    image rule aside (the launcher's default image is the unreleased `...:latest`)."""
    problems = check_files([manifest], crds=[require_crds()])
    return [problem for problem in problems if "is not pinned" not in problem]


@pytest.mark.parametrize("name", sorted(MANIFESTS))
def test_pytorchjob_matches_golden_and_the_upstream_crd(
    name: str, project: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    launcher, overrides = MANIFESTS[name]
    text = dry_run(project, capsys, launcher, *overrides)
    assert dry_run(project, capsys, launcher, *overrides) == text, "not deterministic"
    check_golden(f"{name}.yaml", text)
    manifest = tmp_path / f"{name}.yaml"
    manifest.write_text(text)
    assert api_problems(manifest) == []


@pytest.mark.parametrize("name", sorted(MANIFESTS))
def test_pytorchjob_restarts_on_preemption_with_the_operators_own_fields(
    name: str, project: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """restartPolicy ExitCode and terminationGracePeriodSeconds are fields of the operator's own
    CRD (the golden test checks the whole job against it): a misspelt one is refused."""
    launcher, overrides = MANIFESTS[name]
    job = yaml.safe_load(dry_run(project, capsys, launcher, *overrides))
    master = job["spec"]["pytorchReplicaSpecs"]["Master"]
    assert master["restartPolicy"] == "ExitCode"
    pod = master["template"]["spec"]
    assert pod["terminationGracePeriodSeconds"] >= 60
    pod["terminationGracePeriod"] = pod.pop("terminationGracePeriodSeconds")
    path = tmp_path / "misspelt.yaml"
    path.write_text(yaml.safe_dump(job))
    assert any("terminationGracePeriod" in problem for problem in api_problems(path))


def test_the_crd_and_webhook_refuse_what_the_operator_would(
    project: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The check is not a formality: wrong types, unknown fields and names fail it."""
    job = yaml.safe_load(dry_run(project, capsys, "kubernetes", "launcher.nodes=2"))
    broken = {
        "replicas-as-text": ("Worker", "replicas", "one", "Worker.replicas: 'one' is not of type"),
        "unknown-field": ("Worker", "restartPolicyy", "Never", "Worker.restartPolicyy: unknown"),
        "two-masters": ("Master", "replicas", 2, "Master.replicas: must be 1"),
    }
    for label, (replica, key, value, message) in broken.items():
        bad = yaml.safe_load(yaml.safe_dump(job))
        bad["spec"]["pytorchReplicaSpecs"][replica][key] = value
        path = tmp_path / f"{label}.yaml"
        path.write_text(yaml.safe_dump(bad))
        assert any(message in problem for problem in api_problems(path)), label
    container = job["spec"]["pytorchReplicaSpecs"]["Master"]["template"]["spec"]["containers"][0]
    container["name"] = "trainer"  # the operator only runs the container named pytorch
    path = tmp_path / "container-name.yaml"
    path.write_text(yaml.safe_dump(job))
    [problem] = api_problems(path)
    assert "must have a container named pytorch" in problem


def test_manifest_runs_torchrun_with_the_training_overrides(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    job = yaml.safe_load(dry_run(project, capsys, *MANIFESTS["pytorchjob-2-nodes-8-gpus"][0:1],
                                 *MANIFESTS["pytorchjob-2-nodes-8-gpus"][1]))  # fmt: skip
    spec = job["spec"]
    assert spec["nprocPerNode"] == "8"
    assert spec["pytorchReplicaSpecs"]["Worker"]["replicas"] == 1
    container = spec["pytorchReplicaSpecs"]["Master"]["template"]["spec"]["containers"][0]
    assert container["command"][:3] == ["python", "-m", "mlcore.launch.torchrun"]
    assert container["command"][3:5] == ["--shutdown-timeout=300", "-m"]
    # launcher.* stay out of training; a restarted pod resumes its run.
    assert container["args"] == ["trainer.max_epochs=30", "resume=auto"]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "8"
    env = {item["name"]: item.get("value", item.get("valueFrom")) for item in container["env"]}
    assert env["MLFLOW_TRACKING_URI"] == "http://mlflow.mlflow:5000"
    assert env["MLCORE_RUN_NAME"] == "digits-classifier-train"
    # Credentials by reference to the Secret serving reads too, never by value.
    for key in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"):
        reference = {"name": "digits-classifier-mlflow", "key": key, "optional": True}
        assert env[key] == {"secretKeyRef": reference}


def test_local_dry_run_prints_torchrun(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = dry_run(project, capsys, "local", "launcher.nproc_per_node=2", "trainer.max_epochs=1")
    assert "accelerator=cpu, devices=2" in out
    command = out.strip().splitlines()[-1]
    assert command == (
        f"{sys.executable} -m mlcore.launch.torchrun --standalone --nnodes=1 --nproc-per-node=2 "
        "-m digits_classifier.train trainer.max_epochs=1 resume=auto"
    )
    restarts = dry_run(project, capsys, "local", "launcher.max_restarts=2", "resume=null")
    assert "--max-restarts=2 -m digits_classifier.train resume=null" in restarts


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["local", "trainer.accelerator=gpu"], "no CUDA GPU is visible here"),
        (["local", "launcher.nproc_per_node=0"], "launcher.nproc_per_node=0"),
        (["local", "+launcher.nprocs=2"], "unknown key(s) in the local launcher config: nprocs"),
        (["slurm", "launcher.nodes=two"], "launcher.nodes='two'"),
        (["kubernetes", "launcher.name=Digits_Train"], "is not a Kubernetes name"),
        (["kubernetes", "launcher.gpus_per_node=2", "launcher.nproc_per_node=4"], "one process"),
        (["kubernetes", "+launcher.env.MLFLOW_TRACKING_PASSWORD=x"], "keep it in one place"),
        (["kubernetes", "+launcher.secret_env.Team_Secret=[TOKEN]"], "'Team_Secret' is not a"),
        (["kubernetes", "+launcher.secret_env.team=TOKEN"], "must list variable names"),
        (["kubernetes", "~launcher.secret_env", "+launcher.secret_env=oops"], "must map Secret"),
        (["k8s"], "no launcher 'k8s'"),
        (["local", "trainer=tpu"], "Could not find 'trainer/tpu'"),
    ],
)
def test_bad_launches_are_refused_with_the_reason(
    args: list[str], message: str, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    os.chdir(project)
    assert launch([*args, "--dry-run"]) == 2
    assert message in capsys.readouterr().err


def test_slurm_launcher_also_sends_sweeps_to_slurm(project: Path) -> None:
    """`-m launcher=slurm` runs a sweep's trials through Hydra's submitit launcher."""
    from hydra import compose, initialize_config_dir

    overrides = ["launcher=slurm", "launcher.partition=gpu", "launcher.gpus_per_node=1"]
    with initialize_config_dir(str(project / "configs"), version_base="1.3"):
        cfg = compose("train", overrides=overrides, return_hydra_config=True)
    launcher = cfg.hydra.launcher
    slurm = "hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmLauncher"
    assert launcher._target_ == slurm
    assert (launcher.partition, launcher.gpus_per_node, launcher.tasks_per_node) == ("gpu", 1, 1)
    assert launcher.timeout_min == 60
