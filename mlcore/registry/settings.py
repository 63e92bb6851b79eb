"""The registry settings of a generated project, read from its own Hydra configs.

Composing `train.yaml` (with the user's overrides) gives the model name and gate exactly as
training saw them (`configs/registry/default.yaml`); outside a project, flags supply them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlcore.registry.gate import Gate

DEFAULT_CONFIG_DIR = Path("configs")
DEFAULT_CONFIG_NAME = "train"
# The model name's one home in a project: every other file names an alias or a version.
MODEL_NAME_FILE = Path("registry") / "default.yaml"


@dataclass(frozen=True)
class ProjectSettings:
    """What the registry commands need from a project (any of it may be absent)."""

    model_name: str | None = None
    gate: Gate = field(default_factory=Gate)


def project_settings(
    config_dir: str | Path = DEFAULT_CONFIG_DIR,
    config_name: str = DEFAULT_CONFIG_NAME,
    overrides: Sequence[str] = (),
) -> ProjectSettings:
    """Compose the project's primary config and return its `registry` block as settings.

    Without `<config_dir>/<config_name>.yaml`, or with no `registry` group in it, the defaults.
    """
    directory = Path(config_dir).resolve()
    if not (directory / f"{config_name}.yaml").is_file():
        return ProjectSettings()
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    with initialize_config_dir(config_dir=str(directory), version_base="1.3"):
        cfg = compose(config_name, overrides=list(overrides))
    node: Any = cfg.get("registry")
    if node is None:
        return ProjectSettings()
    registry = OmegaConf.to_container(node, resolve=True)
    assert isinstance(registry, dict)
    return ProjectSettings(
        model_name=registry.get("model_name"), gate=Gate.from_config(registry.get("gate"))
    )


def project_model_name(config_dir: str | Path = DEFAULT_CONFIG_DIR) -> str | None:
    """`model_name` of `<config_dir>/registry/default.yaml`, None outside a project.

    Read as plain YAML (no Hydra): the serving image has the configs but not Hydra.
    """
    file = Path(config_dir) / MODEL_NAME_FILE
    if not file.is_file():
        return None
    import yaml

    node = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
    name = node.get("model_name") if isinstance(node, dict) else None
    if name is not None and "${" in str(name):
        raise ValueError(
            f"{file}: model_name is an interpolation ({name}); write the name itself, "
            "or name the model in full (models:/<name>@<alias>)"
        )
    return str(name) if name else None


def model_uri(reference: str, config_dir: str | Path = DEFAULT_CONFIG_DIR) -> str:
    """An alias (`champion`) or version (`3`) of the project's model as its `models:/` URI, so
    callers never name the model; URIs and existing paths come back unchanged."""
    if "/" in reference or ":" in reference or Path(reference).exists():
        return reference
    if not reference:
        raise ValueError("no model: name an alias (champion), a version or models:/<name>@<alias>")
    name = project_model_name(config_dir)
    if not name:
        raise ValueError(
            f"{reference!r} is an alias or version of the project's model, but "
            f"{Path(config_dir) / MODEL_NAME_FILE} names no model_name here: run in the "
            f"project's root, or name the model in full (models:/<name>@{reference})"
        )
    return f"models:/{name}/{reference}" if reference.isdigit() else f"models:/{name}@{reference}"
