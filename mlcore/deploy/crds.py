"""Custom resources checked against their upstream CustomResourceDefinitions, offline.

The API server validates a custom resource against its CRD's `openAPIV3Schema`, a structural
schema, and with strict field validation (kubectl's default) refuses a field the schema does not
name instead of pruning it. `json_schema` converts such a schema to JSON Schema with the same
rules: unknown fields refused unless `x-kubernetes-preserve-unknown-fields`,
`x-kubernetes-int-or-string` as an integer or a string, `nullable` as null allowed. CEL rules
(`x-kubernetes-validations`) are not evaluated. The CRDs come from folders, files or URLs; a URL
is fetched once (with a timeout) into the user's cache.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

# The releases the template's custom resources are written against: the defaults of `mlcore
# deploy check --crds` (and of the generated Makefile's CRDS). Tags, so the cached copy never
# goes stale; the training operator has no release tag of its CRD apart from its branch.
UPSTREAM_CRDS = (
    "https://raw.githubusercontent.com/kserve/kserve/v0.20.0/config/crd/full/"
    "serving.kserve.io_inferenceservices.yaml",
    "https://raw.githubusercontent.com/kubeflow/trainer/release-1.9/manifests/base/crds/"
    "kubeflow.org_pytorchjobs.yaml",
)
CRD_KIND = "CustomResourceDefinition"
CACHE_ENV = "MLCORE_CRD_CACHE"
# Validation keywords that mean the same in a structural schema and in JSON Schema.
KEPT = ("enum", "format", "pattern", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
        "minLength", "maxLength", "minItems", "maxItems", "uniqueItems", "minProperties",
        "maxProperties", "multipleOf", "required")  # fmt: skip
FETCH_TIMEOUT = 30.0
YAML_SUFFIXES = {".yaml", ".yml", ".json"}
# (apiVersion, kind) -> the JSON Schema of that version of the custom resource.
Schemas = dict[tuple[str, str], dict[str, Any]]


class CRDError(Exception):
    """A CRD source cannot be read; the message says which and what to do."""


def cache_dir() -> Path:
    """Where fetched CRDs are kept ($MLCORE_CRD_CACHE, else ~/.cache/mlcore/crds)."""
    if given := os.environ.get(CACHE_ENV):
        return Path(given).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "mlcore" / "crds"


def load(sources: Iterable[str | Path]) -> Schemas:
    """The JSON Schema of every served version of every CRD in the sources."""
    import yaml

    schemas: Schemas = {}
    for source in sources:
        for path in _files(source):
            stat = path.stat()
            try:
                schemas.update(_file_schemas(str(path.resolve()), stat.st_mtime_ns, stat.st_size))
            except yaml.YAMLError as error:
                raise CRDError(f"{path} ({source}) is not YAML: {error}") from error
    return schemas


@functools.lru_cache(maxsize=16)
def _file_schemas(path: str, mtime_ns: int, size: int) -> Schemas:
    """The schemas of one CRD file, parsed once per process while it is unchanged."""
    import yaml

    schemas: Schemas = {}
    for document in yaml.load_all(Path(path).read_text(), Loader=_loader()):
        if isinstance(document, dict) and document.get("kind") == CRD_KIND:
            schemas.update(crd_schemas(document))
    return schemas


def crd_schemas(crd: dict[str, Any]) -> Schemas:
    """(apiVersion, kind) -> JSON Schema for each served version of one CRD."""
    spec = crd.get("spec") or {}
    group, kind = spec.get("group"), (spec.get("names") or {}).get("kind")
    schemas: Schemas = {}
    for version in spec.get("versions") or []:
        openapi = ((version.get("schema") or {}).get("openAPIV3Schema")) or {}
        if not version.get("served", True) or not openapi:
            continue
        api_version = f"{group}/{version['name']}"
        schema = json_schema(openapi)
        # ObjectMeta is the API server's, not the CRD's: mlcore.deploy.check validates it with
        # Kubernetes' own schema.
        schema.setdefault("properties", {}).update(
            apiVersion={"const": api_version}, kind={"const": kind}, metadata={"type": "object"}
        )
        schemas[(api_version, str(kind))] = schema
    return schemas


def json_schema(node: dict[str, Any]) -> dict[str, Any]:
    """One structural-schema node as JSON Schema, with the API server's strict field rules."""
    out: dict[str, Any] = {key: node[key] for key in KEPT if key in node}
    int_or_string = bool(node.get("x-kubernetes-int-or-string"))
    if int_or_string:
        out["type"] = ["integer", "string"]
    elif "type" in node:
        out["type"] = node["type"]
    for key in ("anyOf", "allOf", "oneOf"):
        if key in node and not (int_or_string and key == "anyOf"):  # anyOf: the two types
            out[key] = [json_schema(child) for child in node[key]]
    if "not" in node:
        out["not"] = json_schema(node["not"])
    if "items" in node:
        out["items"] = json_schema(node["items"])
    if "properties" in node:
        out["properties"] = {name: json_schema(child) for name, child in node["properties"].items()}
    preserve = bool(node.get("x-kubernetes-preserve-unknown-fields"))
    additional = node.get("additionalProperties")
    if isinstance(additional, dict):
        out["additionalProperties"] = json_schema(additional)
    elif additional is True or preserve:
        pass
    elif node.get("type") == "object" or "properties" in node:
        # An object schema prunes what it does not name; strict validation refuses it instead.
        out["additionalProperties"] = False
    if node.get("x-kubernetes-embedded-resource"):
        for name in ("apiVersion", "kind"):
            out.setdefault("properties", {}).setdefault(name, {"type": "string"})
        out.setdefault("properties", {}).setdefault("metadata", {"type": "object"})
    if node.get("nullable"):
        out = {"anyOf": [out, {"type": "null"}]}
    return out


def problems(document: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    """Each way the document breaks the schema, as `<field path>: <what is wrong>`."""
    import jsonschema

    errors = jsonschema.Draft202012Validator(schema).iter_errors(document)
    return [
        line for e in sorted(errors, key=lambda e: list(map(str, e.path))) for line in _describe(e)
    ]


def _describe(error: Any) -> Iterator[str]:
    path = _path(error.path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        known = set(error.schema.get("properties") or {})
        for name in sorted(set(error.instance) - known):
            yield f"{_join(path, name)}: unknown field (not in the CRD's schema)"
        return
    if error.validator == "required":
        match = re.match(r"^'(.+)' is a required property$", error.message)
        if match:
            yield f"{_join(path, match[1])}: required field missing"
            return
    if error.validator in {"anyOf", "oneOf"} and error.context:
        # int-or-string and nullable fields: the plainest of the alternatives' messages.
        yield f"{path or '(document)'}: {error.context[0].message}"
        return
    yield f"{path or '(document)'}: {error.message}"


def _path(parts: Iterable[Any]) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _files(source: str | Path) -> list[Path]:
    text = str(source)
    if re.match(r"^https?://", text):
        return [fetch(text)]
    path = Path(text).expanduser()
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix in YAML_SUFFIXES and p.is_file())
        if not files:
            raise CRDError(f"{path} holds no CRD file (*.yaml, *.yml or *.json)")
        return files
    if path.is_file():
        return [path]
    raise CRDError(
        f"--crds {text}: no such file or folder, and not an http(s) URL: give a folder of CRD "
        "files, a CRD file, or the URL of one"
    )


def fetch(url: str, timeout: float = FETCH_TIMEOUT) -> Path:
    """The CRD at url, from the cache, or downloaded into it (whole or not at all)."""
    import hashlib

    name = re.sub(r"[^\w.-]", "_", url.rstrip("/").rsplit("/", 1)[-1]) or "crd.yaml"
    target = cache_dir() / f"{hashlib.sha256(url.encode()).hexdigest()[:16]}-{name}"
    if target.is_file():
        return target
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            body = response.read()
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise CRDError(
            f"could not fetch the CRD {url} (timeout {timeout:g} s): {reason}. Without network, "
            "download it elsewhere and give its file or folder with --crds (make check-deploy "
            "CRDS=<folder>)"
        ) from error
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    partial.write_bytes(body)
    partial.replace(target)
    return target


def _loader() -> Any:
    import yaml

    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the KServe CRD is 2 MB of YAML
