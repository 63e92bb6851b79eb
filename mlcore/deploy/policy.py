"""The security policy every rendered pod follows, as a platform team's admission checks would.

Kubernetes' "restricted" Pod Security Standard, plus what a shared cluster asks of a workload:
non-root, no privilege escalation, every capability dropped, the RuntimeDefault seccomp profile,
a read-only root filesystem, CPU and memory requests and limits, images pinned to a tag, and
probes on long-running servers. Plain data in, messages out: one message per broken rule, naming
the object, the container and the field to set.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

# Kinds whose pods serve traffic for as long as they run: they need readiness and liveness probes.
SERVERS = {"Deployment", "StatefulSet", "DaemonSet", "InferenceService"}
SECCOMP_OK = {"RuntimeDefault", "Localhost"}


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
    return found


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
