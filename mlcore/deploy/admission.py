"""What the operators' admission webhooks refuse that no CRD schema says, checked offline.

A cluster with the Kubeflow training operator or KServe runs their validating webhooks on every
apply; these are the same rules, read from their sources (training-operator release-1.9,
`pkg/webhooks/pytorch/pytorchjob_webhook.go`; KServe v0.20, `validateAutoScalingCompExtension`
in `pkg/apis/serving/v1beta1/inference_service_validation.go`), so a manifest they would refuse
fails `mlcore deploy check` first.
"""

from __future__ import annotations

import re
from typing import Any

DNS_1035 = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
ISVC_NAME = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
PYTORCH_REPLICA_TYPES = ("Master", "Worker")
PYTORCH_CONTAINER = "pytorch"  # the container the operator configures and watches
DEPLOYMENT_MODE = "serving.kserve.io/deploymentMode"
AUTOSCALER_CLASS = "serving.kserve.io/autoscalerClass"
KNATIVE_CLASS = "autoscaling.knative.dev/class"
KNATIVE_HPA = "hpa.autoscaling.knative.dev"
HPA_METRICS = ("cpu", "memory")
KPA_METRICS = ("concurrency", "rps")
COMPONENTS = ("predictor", "transformer", "explainer")


def refusals(document: dict[str, Any]) -> list[str]:
    """What the kind's admission webhook would refuse in this manifest (empty: nothing)."""
    kind = document.get("kind")
    name = f"{kind}/{(document.get('metadata') or {}).get('name')}"
    if kind == "PyTorchJob":
        found = _pytorchjob(document)
    elif kind == "InferenceService":
        found = _inference_service(document)
    else:
        return []
    return [f"{name}: {problem} (the operator's admission webhook refuses it)" for problem in found]


def _pytorchjob(job: dict[str, Any]) -> list[str]:
    found = []
    if not DNS_1035.match(str((job.get("metadata") or {}).get("name", ""))):
        found.append("metadata.name: must be a DNS-1035 label (a-z, 0-9, '-', a letter first)")
    replicas = (job.get("spec") or {}).get("pytorchReplicaSpecs")
    if not replicas:
        return [*found, "spec.pytorchReplicaSpecs: required"]
    for role, spec in replicas.items():
        where = f"spec.pytorchReplicaSpecs.{role}"
        if role not in PYTORCH_REPLICA_TYPES:
            found.append(f"{where}: unsupported replica type (only Master and Worker)")
        spec = spec or {}
        containers = ((spec.get("template") or {}).get("spec") or {}).get("containers") or []
        if not containers:
            found.append(f"{where}.template.spec.containers: must be specified")
        for index, container in enumerate(containers):
            if not container.get("image"):
                found.append(f"{where}.template.spec.containers[{index}].image: required")
        if containers and not any(c.get("name") == PYTORCH_CONTAINER for c in containers):
            found.append(
                f"{where}.template.spec.containers: must have a container named {PYTORCH_CONTAINER}"
            )
        count = spec.get("replicas")
        if role == "Master" and count != 1:
            found.append(f"{where}.replicas: must be 1")
        elif role != "Master" and isinstance(count, int) and count < 1:
            found.append(f"{where}.replicas: must be at least 1")
    return found


def _inference_service(isvc: dict[str, Any]) -> list[str]:
    meta = isvc.get("metadata") or {}
    annotations = meta.get("annotations") or {}
    found = []
    if not ISVC_NAME.match(str(meta.get("name", ""))):
        found.append("metadata.name: must match [a-z]([-a-z0-9]*[a-z0-9])?")
    mode = annotations.get(DEPLOYMENT_MODE)
    autoscaler = annotations.get(AUTOSCALER_CLASS)
    for component in COMPONENTS:
        spec = (isvc.get("spec") or {}).get(component)
        if spec is None:
            continue
        where = f"spec.{component}"
        metric = spec.get("scaleMetric")
        if mode == "Standard":
            if autoscaler == "hpa" and metric is not None and metric not in HPA_METRICS:
                found.append(f"{where}.scaleMetric: [{metric}] is not a supported metric (HPA)")
            target = spec.get("scaleTarget")
            target = target if isinstance(target, int) else None  # a wrong type: the CRD's
            low = (metric or "cpu") == "cpu" and target is not None and target < 1
            if autoscaler == "hpa" and target is not None and (low or target > 100):
                found.append(f"{where}.scaleTarget: the target utilization is in [1, 100]")
            if autoscaler == "keda" and metric is not None:
                found.append(f"{where}.scaleMetric: not supported with KEDA")
        elif annotations.get(KNATIVE_CLASS) == KNATIVE_HPA:
            if metric is not None and metric not in HPA_METRICS:
                found.append(f"{where}.scaleMetric: [{metric}] is not a supported metric (HPA)")
        else:  # Knative's own autoscaler (the mode named Knative, Serverless, RawDeployment...)
            if spec.get("deploymentStrategy") is not None:
                found.append(f"{where}.deploymentStrategy: only supported in Standard mode")
            if metric is not None and metric not in KPA_METRICS:
                found.append(
                    f"{where}.scaleMetric: [{metric}] is not a supported metric (Knative's "
                    f"autoscaler; {DEPLOYMENT_MODE}: {mode or 'unset'})"
                )
    return found
