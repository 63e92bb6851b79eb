"""The security policy every rendered pod follows, as a platform team's admission checks would.

Kubernetes' "restricted" Pod Security Standard, plus what a shared cluster asks of a workload:
non-root, no privilege escalation, every capability dropped, the RuntimeDefault seccomp profile,
a read-only root filesystem, CPU and memory requests and limits, images pinned to a tag, and
probes on long-running servers. Plain data in, messages out: one message per broken rule, naming
the object, the container and the field to set.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

# Kinds whose pods serve traffic for as long as they run: they need readiness and liveness probes.
SERVERS = {"Deployment", "StatefulSet", "DaemonSet", "InferenceService"}
SECCOMP_OK = {"RuntimeDefault", "Localhost"}
# KServe's deployment modes (the annotation serving.kserve.io/deploymentMode), by their current
# and their legacy names (KServe 0.16 renamed RawDeployment to Standard, Serverless to Knative).
KSERVE_MODE = "serving.kserve.io/deploymentMode"
KSERVE_STANDARD = {"Standard", "RawDeployment"}
KSERVE_KNATIVE = {"Knative", "Serverless"}
POD_SECURITY_FIELDS = ("runAsUser", "runAsGroup", "runAsNonRoot", "fsGroup", "seccompProfile",
                       "supplementalGroups", "sysctls", "seLinuxOptions")  # fmt: skip


def pod_specs(document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, pod spec) for every pod template of a manifest; none for kinds without pods."""
    kind = document.get("kind")
    spec = document.get("spec") or {}
    if kind == "Pod":
        yield "spec", spec
    elif kind in {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}:
        yield "spec.template.spec", (spec.get("template") or {}).get("spec") or {}
    elif kind == "CronJob":
        job = (spec.get("jobTemplate") or {}).get("spec") or {}
        yield "spec.jobTemplate.spec.template.spec", (job.get("template") or {}).get("spec") or {}
    elif kind == "PyTorchJob":
        for role, replica in (spec.get("pytorchReplicaSpecs") or {}).items():
            where = f"spec.pytorchReplicaSpecs.{role}.template.spec"
            yield where, (replica.get("template") or {}).get("spec") or {}
    elif kind == "InferenceService":
        for component in ("predictor", "transformer", "explainer"):
            if component in spec:
                yield f"spec.{component}", spec[component] or {}


def containers(pod: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for field in ("initContainers", "containers"):
        for index, container in enumerate(pod.get(field) or []):
            yield f"{field}[{index}] ({container.get('name', '?')})", container
    if "model" in pod:  # an InferenceService's model runs in the runtime's container
        yield "model", pod["model"] or {}


def violations(document: dict[str, Any]) -> list[str]:
    """What in this manifest breaks the policy (empty when it follows it)."""
    found: list[str] = []
    meta = document.get("metadata") or {}
    name = f"{document.get('kind')}/{meta.get('name')}"
    for where, pod in pod_specs(document):
        pod_context = pod.get("securityContext") or {}
        items = list(containers(pod))
        if not items:
            found.append(f"{name}: {where} has no containers")
        for label, container in items:
            at = f"{name}: {where}.{label}"
            found.extend(f"{at}: {problem}" for problem in _container(container, pod_context))
            if document.get("kind") in SERVERS and label != "model":
                for probe in ("readinessProbe", "livenessProbe"):
                    if not container.get(probe) and not label.startswith("initContainers"):
                        found.append(f"{at}: no {probe} (serve /ready and /health)")
    if document.get("kind") == "InferenceService":
        found.extend(f"{name}: {problem}" for problem in _kserve_mode(document))
    return found


def replica_conflicts(manifests: Iterable[tuple[str, dict[str, Any]]]) -> list[str]:
    """Workloads that set spec.replicas while an HPA among the manifests scales them: each
    apply would reset the HPA's scale-out to that count. (where, manifest) in, messages out."""
    manifests = list(manifests)
    scaled: dict[tuple[str | None, str, str], str] = {}
    for _, document in manifests:
        if document.get("kind") == "HorizontalPodAutoscaler":
            meta = document.get("metadata") or {}
            target = (document.get("spec") or {}).get("scaleTargetRef") or {}
            key = (meta.get("namespace"), str(target.get("kind")), str(target.get("name")))
            scaled[key] = str(meta.get("name"))
    found = []
    for where, document in manifests:
        meta = document.get("metadata") or {}
        key = (meta.get("namespace"), str(document.get("kind")), str(meta.get("name")))
        if key in scaled and "replicas" in (document.get("spec") or {}):
            found.append(
                f"{where}: {key[1]}/{key[2]}: spec.replicas is set while "
                f"HorizontalPodAutoscaler/{scaled[key]} scales it, so every apply resets a "
                "scale-out: leave replicas out (the HPA's minReplicas is the floor)"
            )
    return found


def _kserve_mode(isvc: dict[str, Any]) -> Iterator[str]:
    """What KServe's deployment mode would drop or Knative refuse, though the webhook lets it by:
    an unnamed mode (the cluster's default decides), pod-level security settings under Knative
    (refused unless the cluster enables kubernetes.podspec-securitycontext), and a request-based
    scale metric under Standard mode's HPA (dropped without a word)."""
    mode = ((isvc.get("metadata") or {}).get("annotations") or {}).get(KSERVE_MODE)
    if mode is None:
        yield (
            f"metadata.annotations: no {KSERVE_MODE}: name the mode (Standard or Knative); the "
            "cluster's default otherwise decides how it runs"
        )
    for component in ("predictor", "transformer", "explainer"):
        spec = (isvc.get("spec") or {}).get(component)
        if not spec:
            continue
        pod_level = sorted(set(spec.get("securityContext") or {}) & set(POD_SECURITY_FIELDS))
        if mode in KSERVE_KNATIVE and pod_level:
            yield (
                f"spec.{component}.securityContext: {', '.join(pod_level)} at pod level, which "
                "Knative refuses unless the cluster enables kubernetes.podspec-securitycontext: "
                "set them in each container's securityContext"
            )
        metric = spec.get("scaleMetric")
        if mode in KSERVE_STANDARD and metric in {"concurrency", "rps"}:
            yield (
                f"spec.{component}.scaleMetric: {metric} is ignored in {mode} mode (its HPA "
                "scales on cpu or memory): use scaleMetric cpu or memory"
            )


def _container(container: dict[str, Any], pod: dict[str, Any]) -> Iterator[str]:
    context = container.get("securityContext") or {}

    def effective(key: str) -> Any:
        return context[key] if key in context else pod.get(key)

    if effective("runAsNonRoot") is not True:
        yield "runAsNonRoot is not true (set securityContext.runAsNonRoot: true)"
    if effective("runAsUser") == 0:
        yield "runAsUser is 0 (root): use a numeric non-root user such as 10001"
    if context.get("privileged") is True:
        yield "privileged is true: drop it"
    if context.get("allowPrivilegeEscalation") is not False:
        yield "allowPrivilegeEscalation is not false (set it to false)"
    if context.get("readOnlyRootFilesystem") is not True:
        yield (
            "readOnlyRootFilesystem is not true (set it, and mount an emptyDir where the "
            "process writes, such as /tmp)"
        )
    drop = (context.get("capabilities") or {}).get("drop") or []
    if "ALL" not in drop:
        yield "capabilities are not dropped (set capabilities.drop: [ALL])"
    if (context.get("capabilities") or {}).get("add"):
        yield "capabilities are added: the restricted profile allows none"
    seccomp = (effective("seccompProfile") or {}).get("type")
    if seccomp not in SECCOMP_OK:
        yield "no seccomp profile (set securityContext.seccompProfile.type: RuntimeDefault)"
    resources = container.get("resources") or {}
    for part in ("requests", "limits"):
        for resource in ("cpu", "memory"):
            if resource not in (resources.get(part) or {}):
                yield f"no {part}.{resource} (set resources.{part}.{resource})"
    image = container.get("image")
    if image is not None and not _pinned(str(image)):
        yield f"image {image!r} is not pinned: give it a version tag or a digest, not latest"


def _pinned(image: str) -> bool:
    if "@sha256:" in image:
        return True
    name = image.rsplit("/", 1)[-1]
    tag = name.split(":", 1)[1] if ":" in name else ""
    return bool(tag) and tag != "latest"


# --- Dockerfiles -------------------------------------------------------------------------------

_INSTRUCTION = re.compile(r"^\s*(FROM|USER)\s+(\S+)", re.IGNORECASE | re.MULTILINE)


def dockerfile_violations(text: str, name: str = "Dockerfile") -> list[str]:
    """The final stage must switch to a numeric non-root user (Kubernetes' runAsNonRoot needs a
    numeric one to verify it without reading /etc/passwd)."""
    user: str | None = None
    for instruction, value in _INSTRUCTION.findall(_joined(text)):
        # Each stage starts as its base image's user.
        user = None if instruction.upper() == "FROM" else value
    if user is None:
        return [f"{name}: the final stage has no USER: add `USER 10001` (a numeric non-root uid)"]
    uid = user.split(":", 1)[0]
    if uid == "root" or (uid.isdigit() and int(uid) == 0):
        return [f"{name}: USER {user} runs the container as root: use a uid such as 10001"]
    if not uid.isdigit():
        return [f"{name}: USER {user} is not numeric: use a uid such as 10001"]
    return []


def _joined(text: str) -> str:
    """Line continuations joined, so an instruction is one line."""
    return re.sub(r"\\\n", " ", text)
