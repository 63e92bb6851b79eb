"""A generated repo on a fresh machine: the first command sets up; torch follows use_gpu.

The set-up runs for real in venv mode (no PYTHON=...): the Makefile creates `.venv` with the
Python the project targets, upgrades its pip and installs, with this environment's packages
provided (tests/template/environments.py) so that only what a test is about is downloaded or built.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.conftest import run
from tests.servers import start_package_index, write_simple_index
from tests.template.conftest import SHARED_ENV, render
from tests.template.environments import (
    NO_BUILD_ISOLATION,
    environment,
    make,
    provided_packages,
    steps,
    venv_python,
)

TORCH_VERSION = "2.13.0"
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
# The project install without dependencies: the torch tests are about torch alone.
NO_DEPS = "PIP_INSTALL_ARGS=--no-deps --no-build-isolation"
PIP_VERSION = "import pip; print(pip.__version__)"
INSTALLED = "from importlib.metadata import version; print(version('{}'))"


@pytest.fixture(scope="module")
def packages(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return provided_packages(tmp_path_factory.mktemp("provided") / "site-packages")


@pytest.fixture(scope="module")
def packages_without_torch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("provided-without-torch") / "site-packages"
    return provided_packages(folder, left_out=["torch"])


@pytest.fixture(scope="module")
def torch_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The torch wheel pip finds here without an index (a find-links folder), if there is one."""
    folder = tmp_path_factory.mktemp("torch-wheel")
    download = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-index"]
    found = subprocess.run(
        [*download, "--dest", str(folder), f"torch=={TORCH_VERSION}"], capture_output=True
    )
    wheels = list(folder.glob("torch-*.whl"))
    if found.returncode != 0 or not wheels:
        pytest.skip(f"no torch {TORCH_VERSION} wheel on this machine's find-links to serve")
    return wheels[0]


def version_at_least(version: str, minimum: tuple[int, ...]) -> bool:
    return tuple(int(part) for part in re.findall(r"\d+", version)[: len(minimum)]) >= minimum


@pytest.mark.slow
def test_first_command_sets_up_and_later_ones_reuse_the_environment(
    tmp_path: Path, packages: Path
) -> None:
    project = render(tmp_path / "project")  # mlcore from this checkout (path)
    env = environment(packages)

    first = make(project, "lint", NO_BUILD_ISOLATION, env=env)
    done = steps(first)
    assert done[0] == "==> Setting up .venv: its first use", first
    assert done[1].startswith("==> Creating .venv with "), first
    assert done[2:] == [
        f"==> torch {TORCH_VERSION}",
        "==> ml-project (editable) with mlcore and every dependency",
    ], first
    assert "All checks passed!" in first, "then the lint itself"
    assert version_at_least(venv_python(project, PIP_VERSION, packages), (24, 1)), "pip upgraded"
    assert venv_python(project, INSTALLED.format("mlcore"), packages)
    assert (project / ".git" / "hooks" / "pre-commit").is_file()

    again = make(project, "lint", NO_BUILD_ISOLATION, env=env)
    assert steps(again) == [], "an environment that is up to date is not set up again"

    later = time.time() + 10
    os.utime(project / "pyproject.toml", (later, later))
    changed = make(project, "lint", NO_BUILD_ISOLATION, env=env)
    assert steps(changed)[0] == "==> Setting up .venv: pyproject.toml changed since the last set-up"
    assert not any("Creating" in step for step in steps(changed)), "the .venv is kept"


def test_an_interpreter_of_your_own_is_used_as_it_is(tmp_path: Path) -> None:
    """With PYTHON=..., no .venv is made and nothing installed before the command."""
    project = render(tmp_path / "project")
    output = run(["make", "lint", *SHARED_ENV], cwd=project).stdout
    assert not (project / ".venv").exists() and not steps(output)
    assert "ruff check" in output


def test_make_test_lints_before_testing(tmp_path: Path) -> None:
    project = render(tmp_path / "project")
    (project / "src" / "ml_project" / "unformatted.py").write_text("x=1\n")
    result = run(["make", "test", *SHARED_ENV], cwd=project, check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "unformatted.py" in output and "1 file would be reformatted" in output
    assert "test session starts" not in output, "pytest does not run after a failed lint"


@pytest.mark.parametrize(("use_gpu", "index"), [(False, TORCH_CPU_INDEX), (True, "")])
def test_torch_index_follows_use_gpu(tmp_path: Path, use_gpu: bool, index: str) -> None:
    project = render(tmp_path / "project", {"use_gpu": use_gpu})
    printed = run(["make", "--eval", "print: ; @echo '$(TORCH_INDEX)'", "print"], cwd=project)
    assert printed.stdout.strip() == index


@pytest.mark.slow
def test_torch_comes_from_torch_index_where_pip_has_no_build_of_its_own(
    tmp_path: Path, packages_without_torch: Path, torch_wheel: Path
) -> None:
    """A stock pip (no configuration, no find-links): torch from TORCH_INDEX, here a local
    index standing in for PyTorch's CPU index."""
    index = start_package_index(write_simple_index(tmp_path / "index", {"torch": [torch_wheel]}))
    try:
        project = render(tmp_path / "project")
        env = environment(
            packages_without_torch, unset=["PIP_FIND_LINKS"], PIP_CONFIG_FILE=os.devnull
        )
        output = make(project, "setup", f"TORCH_INDEX={index.url}", NO_DEPS, env=env)
    finally:
        index.stop()
    assert f"==> Downloading torch {TORCH_VERSION} from {index.url}: " in output
    assert f"GET /files/{quote(torch_wheel.name)} " in index.log.read_text()
    installed = venv_python(project, INSTALLED.format("torch"), packages_without_torch)
    assert torch_wheel.name.startswith(f"torch-{installed}-")


@pytest.mark.slow
def test_a_torch_pip_finds_without_an_index_is_taken(
    tmp_path: Path, packages_without_torch: Path, torch_wheel: Path
) -> None:
    """pip pointed at a local build (find-links): that one, and PyTorch's index (the default
    TORCH_INDEX, unreachable from some machines) is never asked."""
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    (wheels / torch_wheel.name).symlink_to(torch_wheel)
    project = render(tmp_path / "project")
    env = environment(
        packages_without_torch,
        PIP_CONFIG_FILE=os.devnull,
        PIP_FIND_LINKS=str(wheels),
        # Were the index asked where it cannot be reached, fail fast rather than wait.
        PIP_DEFAULT_TIMEOUT="5",
        PIP_RETRIES="0",
    )
    output = make(project, "setup", NO_DEPS, env=env)
    assert "Downloading torch" not in output
    installed = venv_python(project, INSTALLED.format("torch"), packages_without_torch)
    assert torch_wheel.name.startswith(f"torch-{installed}-")
