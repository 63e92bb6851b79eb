"""A project's launcher config (`configs/launcher/<name>.yaml`), composed as Hydra composes it.

`mlcore launch slurm trainer=gpu launcher.nodes=2` composes the project's primary config with
`launcher=slurm` and the overrides, reads the `launcher` node, and hands the other overrides to
the training command unchanged, so every process composes exactly what a local run would.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlcore.config_keys import refuse_unknown_keys

# Every process of one launch writes into the same run directory: the generated Hydra config names
# it `${oc.env:MLCORE_RUN_NAME,<date>_<time>}`, and each launcher sets the variable once per job.
RUN_NAME_ENV = "MLCORE_RUN_NAME"
RUN_NAME_FORMAT = "%Y-%m-%d_%H-%M-%S"


class LaunchConfigError(ValueError):
    """The launcher config is missing or wrong; the message says how to fix it."""


@dataclass(frozen=True)
class Launch:
    """One launch: its settings, the training module and overrides every process runs."""

    name: str
    settings: dict[str, Any]
    trainer: dict[str, Any]
    module: str
    overrides: tuple[str, ...]
    root: Path


def is_launcher_override(override: str) -> bool:
    """Overrides of `launcher` or `launcher.*` (+, ++, ~ too) set the launch, not training."""
    key = _key(override)
    return key == "launcher" or key.startswith("launcher.")


def compose_launch(
    name: str,
    overrides: Sequence[str] = (),
    *,
    config_dir: str | os.PathLike[str] = "configs",
    config_name: str = "train",
) -> Launch:
    """Compose `<config_name>.yaml` with `launcher=<name>` and the overrides; return the launch."""
    directory = Path(config_dir).resolve()
    options = sorted(p.stem for p in (directory / "launcher").glob("*.yaml"))
    if not (directory / f"{config_name}.yaml").is_file():
        raise LaunchConfigError(
            f"no {config_name}.yaml in {directory}: run from the project root or pass --config-dir"
        )
    if name not in options:
        known = ", ".join(options) or "none"
        raise LaunchConfigError(
            f"no launcher {name!r} in {directory / 'launcher'} (there: {known}); add "
            f"{name}.yaml there or pick one of those"
        )
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    training = tuple(o for o in overrides if not is_launcher_override(o))
    with initialize_config_dir(str(directory), version_base="1.3"):
        cfg = compose(config_name, overrides=[f"launcher={name}", *overrides])
    settings: Any = OmegaConf.to_container(cfg.launcher, resolve=True)
    trainer: Any = OmegaConf.to_container(cfg.get("trainer") or {}, resolve=False)
    if not (module := settings.get("module")):
        raise LaunchConfigError(
            f"launcher.module is not set in {directory / 'launcher' / name}.yaml: name the "
            "training entry point (e.g. module: my_package.train)"
        )
    root = Path(str(OmegaConf.select(cfg, "paths.root_dir") or ".")).resolve()
    if "resume" in cfg and not any(_key(o) == "resume" for o in training):
        training = (*training, RESUME_AUTO)
    return Launch(name, settings, trainer, str(module), training, root)


# What launchers add to the training command unless the overrides set `resume`: a process the
# launcher restarts (torchrun, a requeued SLURM job, a restarted pod) continues its run.
RESUME_AUTO = "resume=auto"


def _key(override: str) -> str:
    return override.lstrip("+~").split("=", 1)[0]


def run_name(now: float | None = None) -> str:
    """The run directory's name, as the generated Hydra config would name it (local time)."""
    return time.strftime(RUN_NAME_FORMAT, time.localtime(now))


def check_keys(name: str, settings: Mapping[str, Any], known: Sequence[str]) -> None:
    """Refuse keys a launcher does not read (a typo would otherwise be ignored silently)."""
    refuse_unknown_keys(f"the {name} launcher config", settings, known, LaunchConfigError)


def whole_number(settings: Mapping[str, Any], key: str, default: int, minimum: int = 1) -> int:
    """A launcher setting that counts something: `default` when unset or auto, else >= minimum."""
    value = settings.get(key)
    if value in (None, "auto"):
        return default
    if not str(value).isdigit() or int(value) < minimum:
        raise LaunchConfigError(f"launcher.{key}={value!r}: give a whole number >= {minimum}")
    return int(value)
