"""A generated repo pins mlcore to the release it was rendered from, from an explicit source."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import tomllib
import yaml

from tests.conftest import REPO, run
from tests.template.conftest import render

INDEX = "https://pypi.internal.example.com/simple"


@pytest.fixture
def released_kit(tmp_path: Path) -> Path:
    """A clone of this repository with its HEAD tagged as release v9.9.9."""
    kit = tmp_path / "kit"
    run(["git", "clone", "--quiet", str(REPO), str(kit)], cwd=tmp_path)
    for tag in run(["git", "tag"], cwd=kit).stdout.split():  # this repository's real releases
        run(["git", "tag", "--delete", tag], cwd=kit)
    run(["git", "tag", "v9.9.9"], cwd=kit)
    return kit


def dependencies(project: Path) -> list[str]:
    return tomllib.loads((project / "pyproject.toml").read_text())["project"]["dependencies"]


def mlcore_requirement(project: Path) -> str:
    [requirement] = [dep for dep in dependencies(project) if dep.startswith("mlcore")]
    return requirement


def test_git_source_pins_the_release_tag(released_kit: Path, tmp_path: Path) -> None:
    project = render(tmp_path / "p", {"mlcore_source": "git"}, src=released_kit, vcs_ref=None)
    assert yaml.safe_load((project / ".copier-answers.yml").read_text())["_commit"] == "v9.9.9"
    # The default URL: where the project was copied from.
    assert mlcore_requirement(project) == f"mlcore[train] @ git+file://{released_kit}@v9.9.9"


def test_copy_takes_the_newest_release_not_unreleased_commits(
    released_kit: Path, tmp_path: Path
) -> None:
    (released_kit / "UNRELEASED.md").write_text("work after the release\n")
    run(["git", "add", "UNRELEASED.md"], cwd=released_kit)
    identity = ["-c", "user.name=Test", "-c", "user.email=test@example.com"]
    run(["git", *identity, "commit", "-qm", "wip"], cwd=released_kit)

    answers = {"mlcore_source": "git"}
    released = render(tmp_path / "released", answers, src=released_kit, vcs_ref=None)
    assert mlcore_requirement(released).endswith("@v9.9.9")

    head = render(tmp_path / "head", answers, src=released_kit, vcs_ref="HEAD")
    commit = run(["git", "rev-parse", "HEAD"], cwd=released_kit).stdout.strip()
    assert mlcore_requirement(head) == f"mlcore[train] @ git+file://{released_kit}@{commit}"


def test_index_source_pins_the_version_and_uses_only_that_index(
    released_kit: Path, tmp_path: Path
) -> None:
    answers = {"mlcore_source": "index", "mlcore_index_url": INDEX}
    project = render(tmp_path / "p", answers, src=released_kit, vcs_ref=None)
    assert mlcore_requirement(project) == "mlcore[train]==9.9.9"
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    assert pyproject["tool"]["uv"]["sources"]["mlcore"] == {"index": "mlcore"}
    assert pyproject["tool"]["uv"]["index"] == [{"name": "mlcore", "url": INDEX, "explicit": True}]
    makefile = (project / "Makefile").read_text()
    assert re.search(rf"--no-deps --index-url {re.escape(INDEX)} \"mlcore==9\.9\.9\"", makefile)


def test_path_source_points_at_the_checkout(tmp_path: Path) -> None:
    project = render(tmp_path / "p")
    assert mlcore_requirement(project) == f"mlcore[train] @ file://{REPO}"
