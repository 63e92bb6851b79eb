"""Rendering the template with Copier itself, from this checkout, for the template tests."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
import yaml
from copier import run_copy

from tests.conftest import REPO, run

# Tests answer the mlcore source with this checkout: the default release URL is not reachable here.
LOCAL_MLCORE = {"mlcore_source": "path", "mlcore_path": str(REPO)}
# `make` variables that run a generated repo in this one environment: no venv, no reinstall of
# torch or any dependency, only the project itself installed (editable, without build isolation).
SHARED_ENV = [f"PYTHON={sys.executable}", "PIP_INSTALL_ARGS=--no-deps --no-build-isolation"]

Render = Callable[..., Path]


def render(
    destination: Path, answers: Mapping[str, Any] = (), local_mlcore: bool = True, **options: Any
) -> Path:
    """`copier copy --defaults` of this checkout's HEAD (uncommitted changes included).

    With local_mlcore, mlcore's source is this checkout; otherwise the answers decide (the default
    is the release URL, which `make setup` never fetches here: it installs with --no-deps).
    """
    run_copy(
        str(options.pop("src", REPO)),
        destination,
        data={**(LOCAL_MLCORE if local_mlcore else {}), **dict(answers)},
        defaults=True,
        vcs_ref=options.pop("vcs_ref", "HEAD"),
        quiet=True,
        **options,
    )
    return destination


def example_answers(name: str) -> dict[str, Any]:
    return yaml.safe_load((REPO / "examples" / f"{name}.yml").read_text())


def make(project: Path, *targets: str, timeout: float = 600) -> str:
    """Run Makefile targets of a generated repo in the shared environment; return the output."""
    result = run(["make", *targets, *SHARED_ENV], cwd=project, timeout=timeout)
    return result.stdout + result.stderr


@pytest.fixture(scope="session")
def kfp_venv() -> Path:
    """kfp in an environment of its own, for the pipeline and image tests' compiled pipelines."""
    from tests.template.kfp import tool_venv

    return tool_venv()


@pytest.fixture
def render_to(tmp_path: Path) -> Render:
    """Render into tmp_path/<name> with the given answers."""
    return lambda answers=(), name="project", **options: render(tmp_path / name, answers, **options)


def editable_location(distribution: str) -> str | None:
    """Where an editable install of the distribution points, if one is installed."""
    try:
        direct_url = metadata.distribution(distribution).read_text("direct_url.json")
    except metadata.PackageNotFoundError:
        return None
    url = json.loads(direct_url or "{}").get("url", "")
    return url.removeprefix("file://") or None


@pytest.fixture
def installed_project(tmp_path: Path) -> Iterator[Callable[..., Path]]:
    """Render a project and `make setup` it into the shared environment.

    Afterwards the environment is as before: the project is uninstalled, or, where a project of
    the same name was installed (the README's `make example`), that one is installed again.
    """
    installed: dict[str, str | None] = {}

    def build(answers: Mapping[str, Any], local_mlcore: bool = True) -> Path:
        project = render(tmp_path / "project", answers, local_mlcore)
        slug = yaml.safe_load((project / ".copier-answers.yml").read_text())["project_slug"]
        installed[slug] = editable_location(slug)
        make(project, "setup")
        return project

    yield build
    pip = [sys.executable, "-m", "pip", "--quiet"]
    for slug, previous in installed.items():
        if previous and Path(previous).is_dir():
            run([*pip, "install", "--no-deps", "--no-build-isolation", "-e", previous], tmp_path)
        else:
            run([*pip, "uninstall", "--yes", slug], cwd=tmp_path)
