"""Log a trained model in a form MLflow serves: pytorch flavour, signature, example, requirements.

The LightningModule itself is pickled, so evaluation and serving get the same class back. The
project's package travels in `code_paths`, so it loads where the project is not installed.
Requirements are explicit: MLflow's inference loads the model in a subprocess and pins local
builds no index serves; ours pin what the model imports, and mlcore from the project's source.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlcore.tracking.lineage import installed_version

if TYPE_CHECKING:
    import numpy as np
    from mlflow.models.model import ModelInfo

log = logging.getLogger(__name__)

MODEL_NAME = "model"  # the model's name in its run (MLflow 3's `name=`)
# Distributions a PyTorch / Lightning model needs to load and predict (mlflow itself is added
# by MLflow). Those not installed are left out.
RUNTIME_PACKAGES = ("torch", "lightning", "torchmetrics", "numpy")
# Never bundle these as "the project's code": they are libraries, not the project.
_LIBRARY_PACKAGES = frozenset({"torch", "lightning", "pytorch_lightning", "torchmetrics", "mlcore"})


def log_model(
    model: Any,
    input_example: np.ndarray,
    output_example: np.ndarray | None = None,
    *,
    requirements: Sequence[str] | None = None,
    name: str = MODEL_NAME,
) -> ModelInfo:
    """Log `model` to the active MLflow run with its signature (inferred from `input_example`
    and the model's output on it, `output_example` where the caller has it already), the example
    itself, explicit requirements and its code."""
    import mlflow.pytorch
    from mlflow.models import infer_signature

    if output_example is None:
        output_example = _outputs(model, input_example)
    signature = infer_signature(input_example, output_example)
    if requirements is None:
        requirements = requirements_for(model)
    # MLflow warns on every pickled model that pickles run code when loaded; that is the choice
    # made above (the project's own class, from its own registry), so the warning is noise here.
    with _quiet("mlflow.pytorch"):
        return mlflow.pytorch.log_model(
            model,
            name=name,
            signature=signature,
            input_example=input_example,
            pip_requirements=list(requirements),
            code_paths=project_code(model),
            serialization_format="pickle",
        )


def _outputs(model: Any, features: np.ndarray) -> np.ndarray:
    import torch

    was_training = model.training
    model.eval()
    with torch.inference_mode():
        output = model(torch.as_tensor(features, device=getattr(model, "device", None)))
    model.train(was_training)
    return output.detach().cpu().numpy()


def requirements_for(model: Any, packages: Iterable[str] = RUNTIME_PACKAGES) -> list[str]:
    """Pinned requirements to load `model`: runtime packages, and mlcore from the project's pin
    when the model's code imports mlcore (the generated model.py does)."""
    pins = [pin for name in packages if (pin := pinned(name))]
    project = _project_package(model)
    if project:  # a project made from the template: its code imports mlcore
        pins.append(mlcore_requirement(project))
    return pins


def pinned(distribution: str) -> str | None:
    """`name==version` of an installed distribution, without a local build suffix (`+cpu`)."""
    found = installed_version(distribution)
    return f"{distribution}=={found.split('+')[0]}" if found else None


def mlcore_requirement(project_package: str | None = None) -> str:
    """mlcore as the project depends on it (`mlcore @ git+...`), else as installed: by its URL,
    `mlcore==X` only for an install from an index."""
    from packaging.requirements import Requirement

    for distribution in _candidates(project_package):
        try:
            requires = metadata.requires(distribution) or []
        except metadata.PackageNotFoundError:
            continue
        for line in requires:
            requirement = Requirement(line)
            if requirement.name.lower() == "mlcore" and not requirement.marker:
                requirement.extras = set()  # the model needs mlcore's code, not its train stack
                return str(requirement)
    try:
        direct = json.loads(metadata.distribution("mlcore").read_text("direct_url.json") or "{}")
    except metadata.PackageNotFoundError:
        direct = {}
    url = direct.get("url")
    if url and "vcs_info" in direct:
        vcs = direct["vcs_info"]
        return f"mlcore @ {vcs.get('vcs', 'git')}+{url}@{vcs.get('commit_id', '')}"
    if url:
        return f"mlcore @ {url}"
    return f"mlcore=={installed_version('mlcore') or '0'}"


def project_code(model: Any) -> list[str] | None:
    """The folder of the package that defines the model's class, to ship with the model."""
    package = _project_package(model)
    if package is None:
        return None
    module = sys.modules.get(package)
    location = getattr(module, "__file__", None)
    if not location:
        return None
    return [str(Path(location).parent)]


def _project_package(model: Any) -> str | None:
    top = type(model).__module__.split(".")[0]
    if top in _LIBRARY_PACKAGES or top in ("__main__", "builtins"):
        return None
    return top


def _candidates(package: str | None) -> list[str]:
    if not package:
        return []
    return list(dict.fromkeys([package.replace("_", "-"), package]))


@contextmanager
def _quiet(logger_name: str) -> Iterator[None]:
    """Only errors from one logger for the duration."""
    logger = logging.getLogger(logger_name)
    saved = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(saved)
