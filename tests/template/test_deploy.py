"""The generated deploy files, checked as a platform team would, offline.

Each variant kind renders once per module: kustomize renders every overlay (through the generated
`make manifests`, i.e. `mlcore deploy render`), kubernetes-validate validates the core kinds
(strict, Kubernetes 1.32), check-jsonschema the custom resources with the schemas mlcore ships,
hadolint lints every Dockerfile, and the policy holds on every rendered pod. The generated
`make check-deploy` runs all of it, and the negative tests show each check failing on a file
broken the way a careless edit would break it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlcore.deploy import CUSTOM_SCHEMAS
from mlcore.deploy.policy import containers, pod_specs, violations
from tests.conftest import REPO, require_kustomize, run
from tests.template.conftest import SHARED_ENV, render
from tests.template.variants import VARIANTS

BIN = Path(sys.executable).parent
KUBERNETES_VERSION = "1.32.0"
# Every variant has deploy files (the training image and job at least), so every one is checked;
# together they give every deploy_target, GPU and mlcore_source answer.
NAMES = sorted(VARIANTS)
TAG = "v1.2.3"
REGISTRY = "ghcr.io/Example-Org"  # capitals, as a GitHub owner may have: images are lowercase
PYTORCHJOB_SCHEMA = CUSTOM_SCHEMAS[("kubeflow.org/v1", "PyTorchJob")]
ISVC_SCHEMA = CUSTOM_SCHEMAS[("serving.kserve.io/v1beta1", "InferenceService")]


def make(project: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        ["make", *args, *SHARED_ENV, f"TAG={TAG}", f"REGISTRY={REGISTRY}"],
        cwd=project, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


@pytest.fixture(scope="module")
def projects(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each variant rendered, with its manifests rendered by its own `make manifests`."""
    require_kustomize()
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
    return (document["apiVersion"], document["kind"]) in CUSTOM_SCHEMAS


def by_kind(project: Path, folder: str) -> dict[str, dict[str, Any]]:
    return {load(path)["kind"]: load(path) for path in manifests(project, folder)}


# --- what every variant renders ---------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_make_check_deploy_passes(name: str, projects: dict[str, Path]) -> None:
    output = make(projects[name], "check-deploy").stdout
    assert re.search(r"\d+ file\(s\) pass: schemas, hadolint and the security policy", output)


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
    if answers(projects[name])["deploy_target"] == "none":
        assert core == []
        return
    kinds = {load(path)["kind"] for path in core}
    assert kinds == {"ConfigMap", "Deployment", "Service", "HorizontalPodAutoscaler",
                     "PodDisruptionBudget", "NetworkPolicy", "CronJob"}  # fmt: skip
    command = [BIN / "kubernetes-validate", "--strict", "-k", KUBERNETES_VERSION, *core]
    run(command, cwd=projects[name])


@pytest.mark.parametrize("name", NAMES)
def test_custom_resources_match_the_schemas_mlcore_ships(
    name: str, projects: dict[str, Path]
) -> None:
    project = projects[name]
    [job] = manifests(project, "training")
    run([BIN / "check-jsonschema", "--schemafile", PYTORCHJOB_SCHEMA, job], cwd=project)
    if answers(project)["deploy_target"] == "kserve":
        services = [
            *[path for path in manifests(project, "kserve") if is_custom(path)],
            project / "deploy" / "kserve" / "inferenceservice-mlflow.yaml",
        ]
        run([BIN / "check-jsonschema", "--schemafile", ISVC_SCHEMA, *services], cwd=project)


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
            pod_context = pod.get("securityContext") or {}
            for _, container in containers(pod):
                seen += 1
                context = container["securityContext"]
                assert pod_context["runAsNonRoot"] is True and pod_context["runAsUser"] > 0
                assert pod_context["seccompProfile"] == {"type": "RuntimeDefault"}
                assert context["allowPrivilegeEscalation"] is False
                assert context["readOnlyRootFilesystem"] is True
                assert context["capabilities"]["drop"] == ["ALL"]
                for part in ("requests", "limits"):
                    assert {"cpu", "memory"} <= set(container["resources"][part]), path
    target = answers(projects[name])["deploy_target"]
    # The training job; per overlay the server and the batch job; the KServe predictor.
    assert seen == 1 + (4 if target != "none" else 0) + (1 if target == "kserve" else 0)


# --- the overlays, the images and the training job --------------------------------------------


def test_overlays_set_namespace_replicas_autoscaling_and_the_release_image(
    projects: dict[str, Path],
) -> None:
    project = projects["py312-mit-kubernetes"]
    slug = answers(project)["project_slug"]
    image = f"ghcr.io/example-org/{slug}:{TAG}"
    for overlay, namespace, replicas, scaling in [
        ("staging", f"{slug}-staging", 1, (1, 3)),
        ("production", slug, 3, (3, 20)),
    ]:
        kinds = by_kind(project, overlay)
        deployment, hpa = kinds["Deployment"], kinds["HorizontalPodAutoscaler"]
        assert deployment["metadata"]["name"] == slug  # `kubectl rollout restart` relies on it
        assert {doc["metadata"]["namespace"] for doc in kinds.values()} == {namespace}
        assert deployment["spec"]["replicas"] == replicas
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
        assert config["data"]["MODEL_URI"] == f"models:/{slug}@champion"
        secrets = [e["valueFrom"]["secretKeyRef"] for e in server["env"] if "valueFrom" in e]
        assert secrets and all(ref["optional"] is True for ref in secrets)
        assert {"name": "tmp", "mountPath": "/tmp"} in server["volumeMounts"]


def test_mlcore_deploy_render_sets_replicas_through_kustomize(
    projects: dict[str, Path],
) -> None:
    project = projects["py312-mit-kubernetes"]
    overlay = project / "deploy" / "k8s" / "overlays" / "production"
    before = (overlay / "kustomization.yaml").read_text()
    output = run(
        [BIN / "mlcore", "deploy", "render", overlay, "--replicas", "7", "--image-tag", "9.9.9"],
        cwd=project,
    ).stdout
    [deployment] = [d for d in yaml.safe_load_all(output) if d["kind"] == "Deployment"]
    assert deployment["spec"]["replicas"] == 7
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":9.9.9")
    assert (overlay / "kustomization.yaml").read_text() == before


def test_kserve_runs_our_image_on_8080_and_the_mlflow_alternative_speaks_v2(
    projects: dict[str, Path],
) -> None:
    project = projects["py313-proprietary-path-gpu"]
    slug = answers(project)["project_slug"]
    isvc = by_kind(project, "kserve")["InferenceService"]
    [container] = isvc["spec"]["predictor"]["containers"]
    assert container["image"] == f"ghcr.io/example-org/{slug}:{TAG}"
    assert container["ports"] == [{"containerPort": 8080, "protocol": "TCP"}]
    assert {"name": "PORT", "value": "8080"} in container["env"]
    assert container["readinessProbe"]["httpGet"] == {"path": "/ready", "port": 8080}
    mlflow = load(project / "deploy" / "kserve" / "inferenceservice-mlflow.yaml")
    model = mlflow["spec"]["predictor"]["model"]
    assert model["modelFormat"] == {"name": "mlflow"} and model["protocolVersion"] == "v2"
    assert model["storageUri"].startswith("s3://")


@pytest.mark.parametrize("name", NAMES)
def test_committed_training_job_is_what_the_launcher_renders(
    name: str, projects: dict[str, Path]
) -> None:
    project = projects[name]
    committed = (project / "deploy" / "k8s" / "training" / "pytorchjob.yaml").read_text()
    rendered = run([BIN / "mlcore", "launch", "kubernetes", "--dry-run"], cwd=project).stdout
    assert committed == rendered
    [job] = manifests(project, "training")
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
    if given["use_gpu"]:
        assert "nvidia/cuda:" in train and final_train == "${CUDA_IMAGE}"
    else:
        assert final_train == f"python:{final_train.split(':')[1]}"
        assert final_train.endswith("-slim-bookworm")
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
    for dockerfile in dockerfiles:
        if given["mlcore_source"] == "path":
            assert f"COPY --from=mlcore . {given['mlcore_path']}" in dockerfile
            assert f"--build-context mlcore={given['mlcore_path']}" in makefile
        if given["mlcore_source"] == "index":
            assert f"--index-url {given['mlcore_index_url']}" in dockerfile


# --- the checks bite ---------------------------------------------------------------------------


def deploy_check(project: Path, *paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [BIN / "mlcore", "deploy", "check", *paths],
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


def test_an_inference_service_with_a_wrong_type_fails_check_jsonschema(
    projects: dict[str, Path], tmp_path: Path
) -> None:
    project = projects["py313-proprietary-path-gpu"]
    [source] = [p for p in manifests(project, "kserve") if is_custom(p)]
    isvc = load(source)
    isvc["spec"]["predictor"]["maxReplicas"] = "five"
    broken = tmp_path / "isvc.yaml"
    broken.write_text(yaml.safe_dump(isvc))
    schema_check = [BIN / "check-jsonschema", "--schemafile", ISVC_SCHEMA, broken]
    result = subprocess.run(schema_check, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and "'five' is not of type 'integer'" in result.stdout
    result = deploy_check(project, broken)
    assert result.returncode == 1 and "inferenceservice-v1beta1.json" in result.stderr
