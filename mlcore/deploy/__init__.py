"""Deployment manifests of a generated repository: rendered by kustomize, checked offline.

`render` builds a kustomization (an overlay of `deploy/k8s/`, `deploy/k8s/training/` or
`deploy/kserve/`) with kustomize, after setting the image name and tag through the
kustomization's own `images:` field. `check` validates what was rendered (kubernetes-validate for
core kinds; custom resources against their upstream CRDs and their operators' admission rules),
lints Dockerfiles with hadolint, and applies the security policy every pod follows.
"""

from __future__ import annotations

# The Kubernetes release whose API the core kinds are validated against (kubernetes-validate
# ships its schemas); `mlcore deploy check --kubernetes-version` picks another.
KUBERNETES_VERSION = "1.32.0"
