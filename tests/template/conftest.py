"""Rendering the template with Copier itself, from this checkout, for the template tests."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Mapping
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


@pytest.fixture
def render_to(tmp_path: Path) -> Render:
    """Render into tmp_path/<name> with the given answers."""
    return lambda answers=(), name="project", **options: render(tmp_path / name, answers, **options)


@pytest.fixture
def installed_project(tmp_path: Path) -> Iterator[Callable[[Mapping[str, Any]], Path]]:
    """Render a project, then `make setup` it into the shared environment; uninstall afterwards."""
    installed: list[str] = []

    def build(answers: Mapping[str, Any], local_mlcore: bool = True) -> Path:
        project = render(tmp_path / "project", answers, local_mlcore)
        make(project, "setup")
        answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
        installed.append(answers["project_slug"])
        return project

    yield build
    for slug in installed:
        run([sys.executable, "-m", "pip", "uninstall", "--yes", "--quiet", slug], cwd=tmp_path)
