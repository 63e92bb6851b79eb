"""What a run was made from, as MLflow tags: code, template, packages, environment lock, machine.

Plain run tags, so MLflow's own client and UI read them without mlcore. Git facts use MLflow's
tag names but come from the project root, not `sys.argv[0]` (under pytest that is not the
project).
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from collections.abc import Iterable, Mapping
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

# MLflow's own tag names (mlflow.utils.mlflow_tags), spelled out to keep mlflow out of imports.
GIT_COMMIT = "mlflow.source.git.commit"
GIT_BRANCH = "mlflow.source.git.branch"
GIT_REPO_URL = "mlflow.source.git.repoURL"
PARENT_RUN_ID = "mlflow.parentRunId"
# Ours: one namespace, so `tags.mlcore.* ` filters find them all.
GIT_DIRTY = "mlcore.git.dirty"
TEMPLATE_COMMIT = "mlcore.template.commit"
TEMPLATE_SOURCE = "mlcore.template.source"
MLCORE_VERSION = "mlcore.version"
PYTHON_VERSION = "mlcore.python"
PACKAGE_PREFIX = "mlcore.package."
LOCK_FILE = "mlcore.env.lock_file"
LOCK_SHA256 = "mlcore.env.lock_sha256"
HOST_PREFIX = "mlcore.host."
ACCELERATOR_PREFIX = "mlcore.accelerator."

COMMAND = "mlcore.command"
MAX_TAG = 5000  # characters of a tag value every MLflow store accepts
OVERRIDES = "mlcore.overrides"
RESUMED = "mlcore.resume.attempt"
# Set by the sweep callback for the jobs of a Hydra multirun: their runs become its children.
PARENT_RUN_ENV = "MLCORE_PARENT_RUN_ID"

ANSWERS_FILE = ".copier-answers.yml"
LOCK_FILENAME = "requirements-lock.txt"
# Distributions whose versions decide whether a training run can be reproduced.
KEY_PACKAGES = (
    "torch",
    "lightning",
    "torchmetrics",
    "hydra-core",
    "mlflow",
    "numpy",
    "scikit-learn",
)


def lineage_tags(root: str | os.PathLike[str], trainer: Any = None) -> dict[str, str]:
    """Every lineage tag of a run started from the project at `root` (the Trainer, if given,
    adds the accelerator, device count, precision and strategy it resolved)."""
    root = Path(root).resolve()
    tags = git_tags(root) | template_tags(root) | package_tags() | lock_tags(root)
    return tags | host_tags() | accelerator_tags(trainer) | command_tags()


def command_tags() -> dict[str, str]:
    """The command line that started the run (`python -m pkg.train registry.register=true ...`)
    and its Hydra overrides, so a registered version says what made it."""
    import shlex
    import sys

    argv = list(getattr(sys, "orig_argv", None) or sys.argv)
    if argv:
        argv[0] = Path(argv[0]).name  # the interpreter's name, not this machine's path to it
    tags = {COMMAND: shlex.join(argv)[:MAX_TAG]} if argv else {}
    try:
        from hydra.core.hydra_config import HydraConfig
    except ImportError:  # pragma: no cover
        return tags
    if HydraConfig.initialized():
        tags[OVERRIDES] = shlex.join(HydraConfig.get().overrides.task)[:MAX_TAG] or "(none)"
    return tags


def git_tags(root: Path) -> dict[str, str]:
    """Commit, branch, remote URL and whether the tree is dirty (untracked files count: they
    make a run irreproducible; outside a repository, no commit and dirty)."""
    if _git(root, "rev-parse", "--is-inside-work-tree") != "true":
        return {}
    tags = {GIT_DIRTY: "true" if _git(root, "status", "--porcelain") else "false"}
    commit = _git(root, "rev-parse", "--verify", "--quiet", "HEAD")
    if commit:
        tags[GIT_COMMIT] = commit
    else:
        tags[GIT_DIRTY] = "true"
    branch = _git(root, "rev-parse", "--abbrev-ref", "HEAD")
    if branch and branch != "HEAD":
        tags[GIT_BRANCH] = branch
    remote = _git(root, "config", "--get", "remote.origin.url")
    if remote:
        tags[GIT_REPO_URL] = remote
    return tags


def template_tags(root: Path) -> dict[str, str]:
    """The template release (Copier's `_commit`) and source the project was rendered from."""
    answers_path = _find_upwards(root, ANSWERS_FILE)
    if answers_path is None:
        return {}
    import yaml

    answers = yaml.safe_load(answers_path.read_text()) or {}
    tags = {}
    if answers.get("_commit"):
        tags[TEMPLATE_COMMIT] = str(answers["_commit"])
    if answers.get("_src_path"):
        tags[TEMPLATE_SOURCE] = str(answers["_src_path"])
    return tags


def package_tags(packages: Iterable[str] = KEY_PACKAGES) -> dict[str, str]:
    """mlcore's version, Python's, and each key distribution's (left out when not installed)."""
    tags = {MLCORE_VERSION: installed_version("mlcore") or "unknown"}
    tags[PYTHON_VERSION] = platform.python_version()
    for name in packages:
        found = installed_version(name)
        if found:
            tags[PACKAGE_PREFIX + name] = found
    return tags


def lock_tags(root: Path) -> dict[str, str]:
    """The SHA-256 of `requirements-lock.txt` (`make lock`), or `none` where there is no lock."""
    from mlcore.data.fingerprint import sha256_file

    lock = root / LOCK_FILENAME
    if not lock.is_file():
        return {LOCK_FILE: "none"}
    return {LOCK_FILE: LOCK_FILENAME, LOCK_SHA256: sha256_file(lock)}


def host_tags() -> dict[str, str]:
    """The machine: name, OS, CPU architecture and count, memory."""
    tags = {
        HOST_PREFIX + "name": platform.node(),
        HOST_PREFIX + "platform": platform.platform(),
        HOST_PREFIX + "machine": platform.machine(),
        HOST_PREFIX + "cpus": str(os.cpu_count() or 0),
    }
    memory = _memory_bytes()
    if memory:
        tags[HOST_PREFIX + "memory_gb"] = f"{memory / 2**30:.1f}"
    return tags


def accelerator_tags(trainer: Any = None) -> dict[str, str]:
    """What the run trained on: the Trainer's accelerator, devices (per node), nodes, world size,
    precision and strategy, and the CUDA devices torch sees (only if torch is already imported)."""
    tags: dict[str, str] = {}
    if trainer is not None:
        accelerator = type(getattr(trainer, "accelerator", None)).__name__
        tags[ACCELERATOR_PREFIX + "type"] = accelerator.removesuffix("Accelerator").lower()
        tags[ACCELERATOR_PREFIX + "devices"] = str(getattr(trainer, "num_devices", ""))
        tags[ACCELERATOR_PREFIX + "precision"] = str(getattr(trainer, "precision", ""))
        tags[ACCELERATOR_PREFIX + "strategy"] = type(getattr(trainer, "strategy", None)).__name__
        # Processes over all nodes, and nodes: what a distributed run was spread over.
        tags[ACCELERATOR_PREFIX + "world_size"] = str(getattr(trainer, "world_size", ""))
        tags[ACCELERATOR_PREFIX + "num_nodes"] = str(getattr(trainer, "num_nodes", ""))
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        tags[ACCELERATOR_PREFIX + "cuda"] = str(torch.version.cuda)
        tags[ACCELERATOR_PREFIX + "gpu_count"] = str(torch.cuda.device_count())
        tags[ACCELERATOR_PREFIX + "gpu_name"] = torch.cuda.get_device_name(0)
    return tags


def installed_version(distribution: str) -> str | None:
    try:
        return version(distribution)
    except PackageNotFoundError:
        return None


def text_tags(values: Mapping[str, Any]) -> dict[str, str]:
    """Tag values as MLflow stores them: strings, at most 5000 characters (its limit)."""
    return {key: str(value)[:5000] for key, value in values.items() if value is not None}


def _git(root: Path, *args: str) -> str:
    try:
        result = subprocess.run(
            ["git", *args], cwd=root, capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return result.stdout.strip() if result.returncode == 0 else ""


def _find_upwards(start: Path, name: str) -> Path | None:
    for folder in (start, *start.parents):
        candidate = folder / name
        if candidate.is_file():
            return candidate
    return None


def _memory_bytes() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return 0
