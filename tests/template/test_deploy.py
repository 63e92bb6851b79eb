"""The generated deploy files, checked as a platform team would, offline.

Each variant kind renders once per module: kustomize renders every overlay (through the generated
`make manifests`, i.e. `mlcore deploy render`), kubernetes-validate validates the core kinds
(strict, Kubernetes 1.32), the upstream CRDs (../shared/crds: KServe v0.20.0, training-operator
1.9) the custom resources, hadolint lints every Dockerfile, and the policy holds on every rendered
pod. The generated `make check-deploy` runs all of it, and the negative tests show each check
failing on a file broken the way a careless edit would break it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlcore.deploy import crds
from mlcore.deploy.admission import refusals
from mlcore.deploy.kustomize import kustomize_command
from mlcore.deploy.policy import containers, pod_specs, violations
from tests.conftest import REPO, SHARED_CRDS, require_crds, require_kustomize, run
from tests.template.conftest import SHARED_ENV, render
from tests.template.variants import VARIANTS

BIN = Path(sys.executable).parent
KUBERNETES_VERSION = "1.32.0"
# Every variant has deploy files (the training image and job at least), so every one is checked;
# together they give every deploy_target, GPU and mlcore_source answer.
NAMES = sorted(VARIANTS)
TAG = "v1.2.3"
REGISTRY = "ghcr.io/Example-Org"  # capitals, as a GitHub owner may have: images are lowercase
CUSTOM_KINDS = {
    ("kubeflow.org/v1", "PyTorchJob"),
    ("serving.kserve.io/v1beta1", "InferenceService"),
}
# The tag the committed kustomizations carry until `make manifests` sets the release's.
UNRENDERED_TAG = "render-with-make-manifests"


def make(project: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        ["make", *args, *SHARED_ENV, f"TAG={TAG}", f"REGISTRY={REGISTRY}", f"CRDS={SHARED_CRDS}"],
        cwd=project, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


@pytest.fixture(scope="module")
def projects(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each variant rendered, with its manifests rendered by its own `make manifests`."""
    require_kustomize()
    require_crds()
    root = tmp_path_factory.mktemp("deploy")
    rendered = {}
    for name in NAMES:
        variant = VARIANTS[name]
        project = render(root / name, variant.answers, local_mlcore=variant.local_mlcore)
        make(project, "manifests")
        rendered[name] = project
    return rendered


def answers(project: Path) -> dict[str, Any]:
    return yaml.safe_load((project / ".copier-answers.yml").read_text())


def manifests(project: Path, folder: str = "*") -> list[Path]:
    return sorted((project / "build" / "manifests").glob(f"{folder}/*.yaml"))


def load(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


def is_custom(path: Path) -> bool:
    document = load(path)
    return (document["apiVersion"], document["kind"]) in CUSTOM_KINDS


def by_kind(project: Path, folder: str) -> dict[str, dict[str, Any]]:
    return {load(path)["kind"]: load(path) for path in manifests(project, folder)}


# --- what every variant renders ---------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_make_check_deploy_passes(name: str, projects: dict[str, Path]) -> None:
    output = make(projects[name], "check-deploy").stdout
    assert re.search(r"\d+ file\(s\) pass: schemas, CRDs, hadolint and the security policy", output)


@pytest.mark.parametrize("name", NAMES)
def test_kustomize_renders_the_overlays_the_answers_ask_for(
    name: str, projects: dict[str, Path]
) -> None:
    project = projects[name]
    target = answers(project)["deploy_target"]
    folders = {path.parent.name for path in manifests(project)}
    expected = {"training"} | ({"staging", "production"} if target != "none" else set())
    assert folders == expected | ({"kserve"} if target == "kserve" else set())
    if target == "none":
        assert not (project / "deploy" / "Dockerfile").exists()
        assert not (project / "deploy" / "k8s" / "base").exists()


@pytest.mark.parametrize("name", NAMES)
def test_core_kinds_validate_offline_with_kubernetes_validate(
    name: str, projects: dict[str, Path]
) -> None:
    core = [path for path in manifests(projects[name]) if not is_custom(path)]
    kinds = {load(path)["kind"] for path in core}
    serving = {"ConfigMap", "Deployment", "Service", "HorizontalPodAutoscaler",
               "PodDisruptionBudget", "NetworkPolicy", "CronJob"}  # fmt: skip
    if answers(projects[name])["deploy_target"] == "none":
        serving = set()
    assert kinds == serving | {"PersistentVolumeClaim"}  # the training job's claims
    command = [BIN / "kubernetes-validate", "--strict", "-k", KUBERNETES_VERSION, *core]
    run(command, cwd=projects[name])


@pytest.mark.parametrize("name", NAMES)
def test_custom_resources_match_the_upstream_crds_and_admission_rules(
    name: str, projects: dict[str, Path]
) -> None:
    project = projects[name]
    schemas = crds.load([SHARED_CRDS])
    custom = [path for path in manifests(project) if is_custom(path)]
    kinds = {load(path)["kind"] for path in custom}
    target = answers(project)["deploy_target"]
    assert kinds == {"PyTorchJob"} | ({"InferenceService"} if target == "kserve" else set())
    for path in custom:
        document = load(path)
        schema = schemas[(document["apiVersion"], document["kind"])]
        assert crds.problems(document, schema) == [], path
        assert refusals(document) == [], path


@pytest.mark.parametrize("name", NAMES)
def test_hadolint_passes_every_dockerfile(name: str, projects: dict[str, Path]) -> None:
    project = projects[name]
    dockerfiles = sorted((project / "deploy").glob("*Dockerfile"))
    expected = {"train.Dockerfile"} | (
        {"Dockerfile"} if answers(project)["deploy_target"] != "none" else set()
    )
    assert {path.name for path in dockerfiles} == expected
    mlflow = REPO / "template" / "deploy" / "mlflow" / "Dockerfile"
    run([BIN / "hadolint", "--no-color", *dockerfiles, mlflow], cwd=project)


@pytest.mark.parametrize("name", NAMES)
def test_every_rendered_container_is_non_root_limited_and_restricted(
    name: str, projects: dict[str, Path]
) -> None:
    seen = 0
    for path in manifests(projects[name]):
        document = load(path)
        assert violations(document) == [], path
        for _, pod in pod_specs(document):
            for _, container in containers(pod):
                seen += 1
                # The container's own settings, else the pod's (KServe's: the container's).
                context = {**(pod.get("securityContext") or {}), **container["securityContext"]}
                assert context["runAsNonRoot"] is True and context["runAsUser"] > 0
                assert context["seccompProfile"] == {"type": "RuntimeDefault"}
                assert context["allowPrivilegeEscalation"] is False
                assert context["readOnlyRootFilesystem"] is True
                assert context["capabilities"]["drop"] == ["ALL"]
                for part in ("requests", "limits"):
                    assert {"cpu", "memory"} <= set(container["resources"][part]), path
    target = answers(projects[name])["deploy_target"]
    # The training job; per overlay the server and the batch job; the KServe predictor.
    assert seen == 1 + (4 if target != "none" else 0) + (1 if target == "kserve" else 0)


# --- the overlays, the images and the training job --------------------------------------------


def test_overlays_set_namespace_autoscaling_and_the_release_image_not_replicas(
    projects: dict[str, Path],
) -> None:
    project = projects["py312-mit-kubernetes"]
    slug = answers(project)["project_slug"]
    image = f"ghcr.io/example-org/{slug}:{TAG}"
    for overlay, namespace, scaling in [
        ("staging", f"{slug}-staging", (1, 3)),
        ("production", slug, (3, 20)),
    ]:
        kinds = by_kind(project, overlay)
        deployment, hpa = kinds["Deployment"], kinds["HorizontalPodAutoscaler"]
        assert deployment["metadata"]["name"] == slug  # `kubectl rollout restart` relies on it
        assert {doc["metadata"]["namespace"] for doc in kinds.values()} == {namespace}
        # The HPA owns the count: a replicas field would reset its scale-out on every apply.
        assert "replicas" not in deployment["spec"]
        assert hpa["spec"]["scaleTargetRef"]["name"] == slug
        assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == scaling
        pod = deployment["spec"]["template"]["spec"]
        [server] = pod["containers"]
        assert server["image"] == image
        batch = kinds["CronJob"]["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        assert batch["containers"][0]["image"] == image
        assert server["readinessProbe"]["httpGet"]["path"] == "/ready"
        assert server["livenessProbe"]["httpGet"]["path"] == "/health"
        config = kinds["ConfigMap"]
        assert server["envFrom"][0]["configMapRef"]["name"] == config["metadata"]["name"]
        # An alias: the image resolves it with configs/registry/default.yaml, the name's one home.
        assert config["data"]["MODEL_URI"] == "champion"
        secrets = [e["valueFrom"]["secretKeyRef"] for e in server["env"] if "valueFrom" in e]
        assert secrets and all(ref["optional"] is True for ref in secrets)
        assert {"name": "tmp", "mountPath": "/tmp"} in server["volumeMounts"]


def test_mlcore_deploy_render_sets_the_tag_and_leaves_replicas_to_the_hpa(
    projects: dict[str, Path],
) -> None:
    project = projects["py312-mit-kubernetes"]
    overlay = project / "deploy" / "k8s" / "overlays" / "production"
    before = (overlay / "kustomization.yaml").read_text()
    render = [BIN / "mlcore", "deploy", "render", overlay, "--image-tag", "9.9.9"]
    output = run(render, cwd=project).stdout
    [deployment] = [d for d in yaml.safe_load_all(output) if d["kind"] == "Deployment"]
    assert "replicas" not in deployment["spec"]
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":9.9.9")
    refused = subprocess.run([*render, "--replicas", "7"], cwd=project, capture_output=True,
                             text=True, timeout=120)  # fmt: skip
    assert refused.returncode == 2, refused.stdout
    assert "no `replicas:` entry" in refused.stderr
    assert (overlay / "kustomization.yaml").read_text() == before


def test_kserve_runs_our_image_on_8080_in_standard_mode(projects: dict[str, Path]) -> None:
    project = projects["py313-proprietary-path-gpu"]
    slug = answers(project)["project_slug"]
    isvc = by_kind(project, "kserve")["InferenceService"]
    # Standard mode, named: an HPA on CPU; security per container, which every mode takes.
    assert isvc["metadata"]["annotations"] == {
        "serving.kserve.io/deploymentMode": "Standard",
        "serving.kserve.io/autoscalerClass": "hpa",
    }
    predictor = isvc["spec"]["predictor"]
    assert "securityContext" not in predictor
    assert predictor.get("scaleMetric", "cpu") == "cpu"
    assert predictor["scaleTarget"] == 70
    [container] = predictor["containers"]
    context = container["securityContext"]
    assert context["runAsNonRoot"] is True and context["runAsUser"] == 10001
    assert context["seccompProfile"] == {"type": "RuntimeDefault"}
    assert container["image"] == f"ghcr.io/example-org/{slug}:{TAG}"
    assert container["ports"] == [{"containerPort": 8080, "protocol": "TCP"}]
    assert {"name": "PORT", "value": "8080"} in container["env"]
    assert container["readinessProbe"]["httpGet"] == {"path": "/ready", "port": 8080}
    # KServe's MLflow runtime (MLServer) cannot run our models (they import lightning and mlcore,
    # and it writes into a read-only working directory): only our image is shipped.
    assert sorted(p.name for p in (project / "deploy" / "kserve").iterdir()) == [
        "inferenceservice.yaml",
        "kustomization.yaml",
    ]


KUSTOMIZATIONS = {
    "training": "deploy/k8s/training",
    "staging": "deploy/k8s/overlays/staging",
    "production": "deploy/k8s/overlays/production",
    "kserve": "deploy/kserve",
}


def images_in(documents: list[dict[str, Any]]) -> set[str]:
    return {
        str(container["image"])
        for document in documents
        for _, pod in pod_specs(document)
        for _, container in containers(pod)
        if "image" in container
    }


@pytest.mark.parametrize("name", NAMES)
def test_rendered_manifests_name_the_images_the_release_pushes_and_committed_ones_none(
    name: str, projects: dict[str, Path]
) -> None:
    """`make manifests` names only what `make images push` (the release's steps) build and
    push; the committed kustomizations, applied directly, name no image anyone pushed, and say
    so in the tag, instead of pulling a stranger's image of that name from Docker Hub."""
    project = projects[name]
    dry_run = make(project, "-n", "images", "push").stdout.replace("\\\n", " ")
    built = set(re.findall(r"docker build .* -t (\S+) \.", dry_run))
    pushed = set(re.findall(r"docker push (\S+)", dry_run))
    rendered = images_in([load(path) for path in manifests(project)])
    assert rendered and rendered <= built and rendered <= pushed, (rendered, built, pushed)
    assert all(image.startswith("ghcr.io/example-org/") for image in rendered)
    release = load(project / ".github" / "workflows" / "release.yml")
    [job] = release["jobs"].values()
    assert job["env"] == {"REGISTRY": "ghcr.io/${{ github.repository_owner }}",
                          "TAG": "${{ github.ref_name }}"}  # fmt: skip
    steps = [step.get("run") for step in job["steps"]]
    assert steps.index("make images") < steps.index("make push")
    assert "make check-deploy" in steps  # which runs `make manifests` with the same variables
    for folder in {path.parent.name for path in manifests(project)}:
        committed = run([*kustomize_command(), KUSTOMIZATIONS[folder]], cwd=project).stdout
        tags = {image.rsplit(":", 1)[-1] for image in images_in(documents_of(committed))}
        assert tags == {UNRENDERED_TAG}, (folder, tags)
    # No instruction to apply a committed folder as it is.
    for path in [project / "README.md", *(project / "deploy").rglob("kustomization.yaml")]:
        assert not re.search(r"kubectl apply -k \S*deploy", path.read_text()), path


def documents_of(text: str) -> list[dict[str, Any]]:
    return [document for document in yaml.safe_load_all(text) if document]


@pytest.mark.parametrize("name", NAMES)
def test_use_gpu_reaches_the_slurm_and_kubernetes_launchers(
    name: str, projects: dict[str, Path]
) -> None:
    project = projects[name]
    gpus = 1 if answers(project)["use_gpu"] else 0
    launchers = project / "configs" / "launcher"
    assert yaml.safe_load((launchers / "kubernetes.yaml").read_text())["gpus_per_node"] == gpus
    slurm = yaml.safe_load((launchers / "slurm.yaml").read_text())["launcher"]
    assert slurm["gpus_per_node"] == gpus
    [job] = [path for path in manifests(project, "training") if load(path)["kind"] == "PyTorchJob"]
    for replica in load(job)["spec"]["pytorchReplicaSpecs"].values():
        [container] = replica["template"]["spec"]["containers"]
        for part in ("requests", "limits"):
            assert container["resources"][part].get("nvidia.com/gpu") == (
                str(gpus) if gpus else None
            )
    script = run([BIN / "mlcore", "launch", "slurm", "--dry-run"], cwd=project).stdout
    assert ("#SBATCH --gpus-per-node=1" in script) == bool(gpus), script


@pytest.mark.parametrize("name", NAMES)
def test_committed_training_job_is_what_the_launcher_renders(
    name: str, projects: dict[str, Path]
) -> None:
    project = projects[name]
    committed = (project / "deploy" / "k8s" / "training" / "pytorchjob.yaml").read_text()
    rendered = run([BIN / "mlcore", "launch", "kubernetes", "--dry-run"], cwd=project).stdout
    assert committed == rendered
    [job] = [path for path in manifests(project, "training") if load(path)["kind"] == "PyTorchJob"]
    image = load(job)["spec"]["pytorchReplicaSpecs"]["Master"]["template"]["spec"]
    slug = answers(project)["project_slug"]
    assert image["containers"][0]["image"] == f"ghcr.io/example-org/{slug}-train:{TAG}"


def test_a_changed_launcher_config_makes_check_deploy_ask_for_make_training_job(
    projects: dict[str, Path], tmp_path: Path
) -> None:
    project = shutil.copytree(projects["py312-mit-kubernetes"], tmp_path / "project")
    config = project / "configs" / "launcher" / "kubernetes.yaml"
    config.write_text(config.read_text().replace("memory: 16Gi", "memory: 32Gi"))
    failed = make(project, "check-deploy", check=False)
    assert failed.returncode != 0
    assert "pytorchjob.yaml is stale: run 'make training-job'" in failed.stderr
    make(project, "training-job")
    assert "memory: 32Gi" in (project / "deploy/k8s/training/pytorchjob.yaml").read_text()
    make(project, "check-deploy")


@pytest.mark.parametrize("name", NAMES)
def test_images_are_multi_stage_slim_and_non_root(name: str, projects: dict[str, Path]) -> None:
    project = projects[name]
    given = answers(project)
    train = (project / "deploy" / "train.Dockerfile").read_text()
    final_train = re.findall(r"^FROM (\S+)", train, re.M)[-1]
    assert final_train == f"python:{final_train.split(':')[1]}"
    assert final_train.endswith("-slim-bookworm")
    # One CUDA stack with use_gpu: torch's CUDA wheels (PyPI's are CUDA 13), no CUDA base image.
    assert "nvidia/cuda" not in train
    index = re.findall(r"^ARG TORCH_INDEX=(\S+)", train, re.M)
    gpu = given["use_gpu"]
    assert index == ["https://pypi.org/simple" if gpu else "https://download.pytorch.org/whl/cpu"]
    # The pipeline's steps run `make <target>` in this image.
    assert "COPY --from=build /usr/bin/make /usr/bin/make" in train
    assert re.search(r"^COPY Makefile ", train, re.M)
    assert re.findall(r"^USER (\S+)", train, re.M)[-1] == "1000:1000"  # the job's runAsUser
    dockerfiles = [train]
    if given["deploy_target"] != "none":
        serve = (project / "deploy" / "Dockerfile").read_text()
        stages = re.findall(r"^FROM (\S+)", serve, re.M)
        assert len(stages) == 2 and stages[-1].endswith("-slim-bookworm")
        assert not stages[0].endswith("-slim-bookworm"), "build tools stay in the build stage"
        assert re.findall(r"^USER (\S+)", serve, re.M) == ["10001:10001"]
        instructions = [line for line in serve.splitlines() if not line.startswith("#")]
        assert "HEALTHCHECK" in serve and "urllib.request" in serve
        assert not any("curl" in line for line in instructions), "no curl in the slim image"
        dockerfiles.append(serve)
    makefile = (project / "Makefile").read_text()
    for dockerfile in [*dockerfiles, (project / "deploy" / "mlflow" / "Dockerfile").read_text()]:
        # A `# syntax=` line makes BuildKit pull a frontend from Docker Hub; no feature needs it.
        assert "# syntax=" not in dockerfile
    for dockerfile in dockerfiles:
        assert "test -s requirements-lock.txt" in dockerfile, "built from the lock only"
        if given["mlcore_source"] == "path":
            assert f"COPY --from=mlcore . {given['mlcore_path']}" in dockerfile
            assert f"--build-context mlcore={given['mlcore_path']}" in makefile
        if given["mlcore_source"] == "index":
            assert f"--index-url {given['mlcore_index_url']}" in dockerfile


# --- the checks bite ---------------------------------------------------------------------------


def deploy_check(project: Path, *paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [BIN / "mlcore", "deploy", "check", "--crds", SHARED_CRDS, *paths],
        cwd=project, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_policy_check_fails_a_deployment_without_run_as_non_root_or_limits(
    projects: dict[str, Path], tmp_path: Path
) -> None:
    project = projects["py312-mit-kubernetes"]
    [source] = [p for p in manifests(project, "staging") if load(p)["kind"] == "Deployment"]
    deployment = load(source)
    del deployment["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"]
    del deployment["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]
    broken = tmp_path / "deployment.yaml"
    broken.write_text(yaml.safe_dump(deployment))
    result = deploy_check(project, broken)
    assert result.returncode == 1
    assert "containers[0] (server): runAsNonRoot is not true" in result.stderr
    assert "no limits.cpu" in result.stderr and "no limits.memory" in result.stderr


def test_a_dockerfile_running_as_root_fails(projects: dict[str, Path], tmp_path: Path) -> None:
    project = projects["py312-mit-kubernetes"]
    text = (project / "deploy" / "Dockerfile").read_text()
    broken = tmp_path / "Dockerfile"
    broken.write_text(text.replace("USER 10001:10001", "USER root"))
    result = deploy_check(project, broken)
    assert result.returncode == 1
    assert "DL3002" in result.stderr and "runs the container as root" in result.stderr
    broken.write_text(text.replace("USER 10001:10001\n", ""))
    result = deploy_check(project, broken)
    assert result.returncode == 1 and "has no USER" in result.stderr


def test_custom_resources_broken_against_their_crd_fail_with_the_field_path(
    projects: dict[str, Path], tmp_path: Path
) -> None:
    project = projects["py313-proprietary-path-gpu"]
    [source] = [p for p in manifests(project, "kserve") if is_custom(p)]
    [job_source] = [p for p in manifests(project, "training") if is_custom(p)]
    isvc, job = load(source), load(job_source)
    isvc["spec"]["predictor"]["maxReplicas"] = "five"
    isvc["spec"]["predictor"]["containers"][0]["readinessProbe"]["httpGett"] = {}
    del job["spec"]["pytorchReplicaSpecs"]["Master"]["template"]["spec"]["containers"][0]["name"]
    broken = [tmp_path / "isvc.yaml", tmp_path / "job.yaml"]
    broken[0].write_text(yaml.safe_dump(isvc))
    broken[1].write_text(yaml.safe_dump(job))
    result = deploy_check(project, *broken)
    assert result.returncode == 1
    for message in [
        "spec.predictor.maxReplicas: 'five' is not of type 'integer'",
        "spec.predictor.containers[0].readinessProbe.httpGett: unknown field",
        "spec.pytorchReplicaSpecs.Master.template.spec.containers[0].name: required field",
    ]:
        assert message in result.stderr, message


def test_make_images_on_ci_without_a_lock_stops_and_says_how(
    projects: dict[str, Path], tmp_path: Path
) -> None:
    """Images come from a lock only: on CI `make images` without one fails before any build
    (DOCKER=false would fail a build too, with another message)."""
    project = tmp_path / "project"
    shutil.copytree(projects[NAMES[0]], project, ignore=shutil.ignore_patterns("build"))
    (project / "requirements-lock.txt").unlink(missing_ok=True)
    done = subprocess.run(
        ["make", "images", "DOCKER=false", "DOCKER_BUILD=false"],
        cwd=project, env={**os.environ, "CI": "true"}, capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode != 0
    assert "Run 'make lock' and commit requirements-lock.txt" in done.stderr, done.stderr
    assert "false" not in done.stdout.split(), "no build started"


@pytest.mark.parametrize("name", NAMES)
def test_training_job_tracks_to_the_team_server_in_its_namespace_with_its_claims(
    name: str, projects: dict[str, Path]
) -> None:
    """Without MLFLOW_TRACKING_URI the job fell back to SQLite in its read-only image; its claims
    were neither shipped nor documented (pods stayed Pending)."""
    project = projects[name]
    slug = answers(project)["project_slug"]
    documents = [load(path) for path in manifests(project, "training")]
    namespaces = {document["metadata"]["namespace"] for document in documents}
    assert namespaces == {f"{slug}-training"}
    [job] = [document for document in documents if document["kind"] == "PyTorchJob"]
    pod = job["spec"]["pytorchReplicaSpecs"]["Master"]["template"]["spec"]
    [container] = pod["containers"]
    env = {item["name"]: item.get("value") for item in container["env"]}
    assert env["MLFLOW_TRACKING_URI"].startswith("http"), "never the SQLite fallback"
    claims = {
        volume["persistentVolumeClaim"]["claimName"]
        for volume in pod["volumes"]
        if "persistentVolumeClaim" in volume
    }
    shipped = {d["metadata"]["name"]: d for d in documents if d["kind"] == "PersistentVolumeClaim"}
    assert claims == set(shipped) == {f"{slug}-data", f"{slug}-checkpoints"}
    for claim in shipped.values():
        assert claim["spec"]["accessModes"] == ["ReadWriteMany"], "every node mounts them"


def test_team_server_database_comes_back_with_the_host(projects: dict[str, Path]) -> None:
    compose = load(projects[NAMES[0]] / "deploy" / "mlflow" / "compose.yaml")
    for service in ("postgres", "mlflow"):
        assert compose["services"][service]["restart"] == "unless-stopped", service
