"""Lineage tags from a real project folder: git, template answers, lock file, packages, host."""

from __future__ import annotations

import hashlib
import platform
import subprocess
from pathlib import Path

import lightning as L
import pytest

from mlcore.tracking import lineage


def git(root: Path, *args: str) -> str:
    command = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args]
    return subprocess.run(command, cwd=root, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A committed project with Copier answers and a lock file, as `make lock` leaves it."""
    root = tmp_path / "project"
    root.mkdir()
    (root / ".copier-answers.yml").write_text(
        "_commit: v1.2.3\n_src_path: https://example.com/kit.git\nproject_name: X\n"
    )
    (root / "requirements-lock.txt").write_text("torch==2.13.0\n")
    (root / "train.py").write_text("print('train')\n")
    git(root, "init", "--quiet", "--initial-branch=main")
    git(root, "remote", "add", "origin", "https://example.com/project.git")
    git(root, "add", "--all")
    git(root, "commit", "--quiet", "-m", "init")
    return root


def test_every_item_of_a_committed_project(project: Path) -> None:
    tags = lineage.lineage_tags(project)
    assert tags[lineage.GIT_COMMIT] == git(project, "rev-parse", "HEAD").strip()
    assert tags[lineage.GIT_DIRTY] == "false"
    assert tags[lineage.GIT_BRANCH] == "main"
    assert tags[lineage.GIT_REPO_URL] == "https://example.com/project.git"
    assert tags[lineage.TEMPLATE_COMMIT] == "v1.2.3"
    assert tags[lineage.TEMPLATE_SOURCE] == "https://example.com/kit.git"
    expected = hashlib.sha256(b"torch==2.13.0\n").hexdigest()
    assert tags[lineage.LOCK_FILE] == "requirements-lock.txt"
    assert tags[lineage.LOCK_SHA256] == expected
    assert (
        tags[lineage.MLCORE_VERSION] and tags[lineage.PYTHON_VERSION] == platform.python_version()
    )
    assert tags[lineage.PACKAGE_PREFIX + "torch"].startswith("2.")
    assert tags[lineage.PACKAGE_PREFIX + "mlflow"]
    assert tags[lineage.HOST_PREFIX + "name"] == platform.node()
    assert int(tags[lineage.HOST_PREFIX + "cpus"]) >= 1
    assert all(isinstance(v, str) for v in tags.values())


def test_uncommitted_and_untracked_changes_are_dirty(project: Path) -> None:
    (project / "train.py").write_text("print('changed')\n")
    assert lineage.lineage_tags(project)[lineage.GIT_DIRTY] == "true"
    git(project, "checkout", "--", "train.py")
    (project / "new_module.py").write_text("")
    assert lineage.git_tags(project)[lineage.GIT_DIRTY] == "true"


def test_outside_git_without_answers_or_lock(tmp_path: Path) -> None:
    tags = lineage.lineage_tags(tmp_path)
    assert lineage.GIT_COMMIT not in tags and lineage.GIT_DIRTY not in tags
    assert lineage.TEMPLATE_COMMIT not in tags
    assert tags[lineage.LOCK_FILE] == "none" and lineage.LOCK_SHA256 not in tags


def test_repository_without_a_commit_is_dirty(tmp_path: Path) -> None:
    git(tmp_path, "init", "--quiet")
    tags = lineage.git_tags(tmp_path)
    assert tags[lineage.GIT_DIRTY] == "true" and lineage.GIT_COMMIT not in tags


def test_accelerator_from_the_trainer(tmp_path: Path) -> None:
    trainer = L.Trainer(accelerator="cpu", devices=1, logger=False, default_root_dir=tmp_path)
    tags = lineage.accelerator_tags(trainer)
    assert tags[lineage.ACCELERATOR_PREFIX + "type"] == "cpu"
    assert tags[lineage.ACCELERATOR_PREFIX + "devices"] == "1"
    assert tags[lineage.ACCELERATOR_PREFIX + "precision"] == "32-true"
    assert tags[lineage.ACCELERATOR_PREFIX + "strategy"] == "SingleDeviceStrategy"
