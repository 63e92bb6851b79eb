"""The registry settings of a generated project, read from its own Hydra configs.

`mlcore registry promote` in a project needs the same model name and gate that training used;
they live in `configs/registry/default.yaml` (group `registry` of `train.yaml`). Composing
`train.yaml` (with any overrides the user passes) gives them exactly as a run sees them. The
store is not among them: it is MLFLOW_TRACKING_URI's (mlcore.mlflow_store). Outside a project,
flags supply them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlcore.registry.gate import Gate

DEFAULT_CONFIG_DIR = Path("configs")
DEFAULT_CONFIG_NAME = "train"


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
        model_name=registry.get("model_name"),
        gate=Gate.from_config(registry.get("gate")),
    )
