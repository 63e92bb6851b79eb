"""Stamp files: the inputs of one pipeline step, written only when they change.

A stamp is JSON with sorted keys: `data` (dataset name -> sha256 of its bytes, from the data
catalog), `config` (sha256 of the composed Hydra config, interpolations unresolved so that
machine-specific values such as absolute paths do not count) and `code` (sha256 over the paths
and bytes of the given files). `write_stamp` leaves an unchanged stamp untouched, its mtime
included: that is what makes Make skip the step that depends on it.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

# Never part of a code hash: caches and compiled files change without the code changing.
IGNORED_DIRS = {"__pycache__", ".pytest_cache", ".ruff_cache", ".mypy_cache", ".ipynb_checkpoints"}
IGNORED_SUFFIXES = {".pyc", ".pyo"}


class StampError(ValueError):
    """An input of a stamp cannot be read: the message says which and how to fix it."""


def code_hash(paths: Iterable[str | os.PathLike[str]], root: Path | None = None) -> str:
    """sha256 over every file under `paths` (relative name and bytes, in sorted order)."""
    root = (root or Path.cwd()).resolve()
    files: list[Path] = []
    for given in paths:
        path = Path(given)
        if not path.exists():
            raise StampError(f"code path {given} does not exist (relative to {root})")
        if path.is_file():
            files.append(path)
            continue
        for folder, dirs, names in os.walk(path):
            dirs[:] = sorted(
                d for d in dirs if d not in IGNORED_DIRS and not d.endswith(".egg-info")
            )
            files += [Path(folder, n) for n in names if Path(n).suffix not in IGNORED_SUFFIXES]
    digest = hashlib.sha256()
    for file in sorted({f.resolve() for f in files}):
        name = file.relative_to(root) if file.is_relative_to(root) else file
        digest.update(f"{name.as_posix()}\0".encode())
        digest.update(hashlib.sha256(file.read_bytes()).digest())
    return digest.hexdigest()


def config_hash(
    config_dir: str | os.PathLike[str], config_name: str, overrides: Sequence[str]
) -> str:
    """sha256 of the primary config composed with the overrides, as YAML (not resolved)."""
    directory = Path(config_dir).resolve()
    if not (directory / f"{config_name}.yaml").is_file():
        raise StampError(
            f"no config {config_name}.yaml in {directory}: pass --config-dir and --config of "
            "the step's Hydra entry point"
        )
    from hydra import compose, initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf import OmegaConf

    try:
        with initialize_config_dir(config_dir=str(directory), version_base="1.3"):
            cfg = compose(config_name, overrides=list(overrides))
    except HydraException as error:
        message = f"config {config_name} with {list(overrides)} does not compose: {error}"
        raise StampError(message) from error
    return hashlib.sha256(OmegaConf.to_yaml(cfg, sort_keys=True).encode()).hexdigest()


def data_fingerprints(names: Sequence[str], catalog: str | None = None) -> dict[str, str]:
    """Dataset name -> sha256 of its bytes; no names: every dataset of the catalog."""
    from mlcore import data

    found = data.Catalog.from_file(catalog or data.find_catalog())
    return {name: data.fingerprint(name, catalog=found) for name in (names or found.names())}


def stamp_content(
    *,
    data: Sequence[str] | None = None,
    catalog: str | None = None,
    config: str | None = None,
    config_dir: str = "configs",
    overrides: Sequence[str] = (),
    code: Sequence[str] = (),
) -> dict[str, Any]:
    """What a step depends on; `data=None` leaves data out, `data=[]` takes the whole catalog."""
    content: dict[str, Any] = {}
    if data is not None:
        content["data"] = data_fingerprints(data, catalog)
    if config:
        content["config"] = {
            "name": config,
            "overrides": list(overrides),
            "sha256": config_hash(config_dir, config, overrides),
        }
    if code:
        content["code"] = {"paths": sorted(map(str, code)), "sha256": code_hash(code)}
    return content


def write_stamp(path: str | os.PathLike[str], content: dict[str, Any]) -> bool:
    """Write the stamp if its content changed (atomically); return whether it was written."""
    target = Path(path)
    text = json.dumps(content, indent=2, sort_keys=True) + "\n"
    if target.is_file() and target.read_text() == text:
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    with os.fdopen(handle, "w") as stream:
        stream.write(text)
    os.replace(temporary, target)
    return True
