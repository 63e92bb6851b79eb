"""Deployment manifests of a generated repository: rendered by kustomize, checked offline.

`render` builds a kustomization (an overlay of `deploy/k8s/`, `deploy/k8s/training/` or
`deploy/kserve/`) with kustomize, after setting the image tag and replica counts through the
kustomization's own `images:` and `replicas:` fields. `check` validates what was rendered
(kubernetes-validate for core kinds, check-jsonschema with the schemas shipped here for custom
resources), lints Dockerfiles with hadolint, and applies the security policy every pod follows.
"""

from __future__ import annotations

from pathlib import Path

SCHEMAS = Path(__file__).parent / "schemas"
# Custom resources the template ships, and the schema each is checked with.
CUSTOM_SCHEMAS = {
    ("kubeflow.org/v1", "PyTorchJob"): Path(__file__).parent.parent
    / "launch"
    / "schemas"
    / "pytorchjob-v1.json",
    ("serving.kserve.io/v1beta1", "InferenceService"): SCHEMAS / "inferenceservice-v1beta1.json",
}
# The Kubernetes release whose API the core kinds are validated against (kubernetes-validate
# ships its schemas); `mlcore deploy check --kubernetes-version` picks another.
KUBERNETES_VERSION = "1.32.0"
