"""The generated pre-commit hooks in a plain shell: the first `git commit` of a freshly set-up
repository needs no activated environment, and a run before the first `git add` says that it
checked nothing instead of passing.

The shell has only git, sh, bash and dirname on PATH (what git's hook and pre-commit call by
name): no virtual environment's bin/, no python3. `make setup` creates .venv; the repository is
set up in the shared test environment, which a `.venv` link then stands in for.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import yaml

from tests.conftest import REPO

# A project name of its own: `make setup` installs it into the shared environment.
ANSWERS = {"project_name": "Hook Check"}
IDENTITY = ["-c", "user.name=Hook Tests", "-c", "user.email=hook-tests@example.com",
            "-c", "commit.gpgsign=false"]  # fmt: skip
BROKEN = "\nbroken: ${no_such_key}\n"


def plain_shell(tmp_path: Path, **variables: str) -> dict[str, str]:
    """The environment of a terminal where nothing is activated."""
    tools = tmp_path / "bin"
    tools.mkdir(exist_ok=True)
    for name in ("git", "sh", "bash", "dirname"):
        found = shutil.which(name)
        assert found, f"{name} is not installed"
        if not (tools / name).exists():
            (tools / name).symlink_to(found)
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in {"VIRTUAL_ENV", "CONDA_PREFIX", "PYTHONPATH", "PYTHONHOME"}
    }
    return {**environment, "PATH": str(tools), **variables}


def shell(project: Path, environment: dict[str, str], *command: str) -> tuple[int, str]:
    result = subprocess.run(
        command, cwd=project, env=environment, capture_output=True, text=True, timeout=600
    )
    return result.returncode, result.stdout + result.stderr


def commit(project: Path, environment: dict[str, str], message: str) -> tuple[int, str]:
    """`git add --all` and `git commit` (the pre-commit hook runs), in that shell."""
    shell(project, environment, "git", "add", "--all")
    return shell(project, environment, "git", *IDENTITY, "commit", "--quiet", "-m", message)


def test_first_commit_runs_the_hooks_without_an_activated_environment(
    installed_project: Callable[..., Path], tmp_path: Path
) -> None:
    project = installed_project(ANSWERS)  # rendered, `make setup`: git init, the git hook
    assert (project / ".git" / "hooks" / "pre-commit").is_file()
    environment = plain_shell(tmp_path)
    pre_commit = [sys.executable, "-m", "pre_commit", "run"]

    # Before the first `git add` every hook skips: the run fails and says why.
    status, out = shell(project, environment, *pre_commit, "--all-files")
    assert status == 1, out
    assert "git tracks no files yet, so no hook checked anything: git add --all" in out

    # No environment with mlcore anywhere: the check says how to make one.
    shell(project, environment, "git", "add", "--all")
    status, out = shell(project, environment, *pre_commit, "mlcore-check-configs", "--all-files")
    assert status == 1, out
    assert "No Python with mlcore for this check: run `make setup`" in out

    # `make setup`'s .venv: the first commit runs every hook, mlcore's from that environment.
    (project / ".venv").symlink_to(sys.prefix, target_is_directory=True)
    with (project / ".git" / "info" / "exclude").open("a") as exclude:
        exclude.write(".venv\n")  # .gitignore's `.venv/` matches a folder, not this link
    status, out = commit(project, environment, "First commit")
    assert status == 0, out
    for hook in ("hydra configs compose", "no credentials or local paths in configs"):
        assert re.search(rf"{hook}\.+Passed", out), out
    assert shell(project, environment, "git", "status", "--porcelain")[1] == ""

    # An activated environment instead of .venv: a broken config is refused, file and key named.
    (project / ".venv").unlink()
    activated = plain_shell(tmp_path, VIRTUAL_ENV=sys.prefix)
    trainer = project / "configs" / "trainer" / "default.yaml"
    trainer.write_text(trainer.read_text() + BROKEN)
    status, out = commit(project, activated, "A broken config")
    assert status == 1, out
    assert re.search(r"hydra configs compose\.+Failed", out), out
    assert "configs/trainer/default.yaml" in out and "no_such_key" in out


# The languages pre-commit 3.7 (the oldest the generated pyproject allows) knows. pre-commit 4.4
# renamed `system` and `script` to `unsupported` and `unsupported_script` (and still reads the old
# names); 3.x refuses the new ones, so the config keeps the old.
PRE_COMMIT_3_7_LANGUAGES = {
    "conda", "coursier", "dart", "docker", "docker_image", "dotnet", "fail", "golang", "haskell",
    "lua", "node", "perl", "pygrep", "python", "r", "ruby", "rust", "script", "swift", "system",
}  # fmt: skip


def test_every_hook_language_is_known_to_the_oldest_pre_commit_allowed() -> None:
    config = yaml.safe_load((REPO / "template" / ".pre-commit-config.yaml").read_text())
    languages = {hook["language"] for repo in config["repos"] for hook in repo["hooks"]}
    assert languages <= PRE_COMMIT_3_7_LANGUAGES, languages - PRE_COMMIT_3_7_LANGUAGES
    pins = (REPO / "template" / "pyproject.toml.jinja").read_text()
    assert '"pre-commit>=3.7"' in pins, "the oldest pre-commit allowed changed: check its languages"
