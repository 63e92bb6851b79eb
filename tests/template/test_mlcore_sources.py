"""mlcore installs from every source a project can answer, in a new environment.

The kit is this working tree committed into a repository of its own, tagged v9.9.9, with one
unreleased commit after the tag. Each project is copied as a user copies it (Copier from the kit's
path or from its git URL) and its own `make setup` runs in a new `.venv` that the Makefile creates
(its bundled pip upgraded), the heavy packages provided (tests/template/environments.py): pip
fetches mlcore from the source the project pins, over file://, git:// (`git daemon` on 127.0.0.1),
a path, or a package index on 127.0.0.1.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import tomllib

from tests.conftest import REPO
from tests.servers import start_git_daemon, start_package_index, write_simple_index
from tests.template.conftest import render
from tests.template.environments import (
    NO_BUILD_ISOLATION,
    environment,
    make,
    provided_packages,
    venv_python,
)
from tests.template.history import commit_all, copy_working_tree, git

pytestmark = [pytest.mark.slow]

RELEASE = "v9.9.9"
COPIER = str(Path(sys.executable).with_name("copier"))
INSTALLED = (
    "import json; from importlib.metadata import distribution; d = distribution('mlcore'); "
    "print(json.dumps([d.version, json.loads(d.read_text('direct_url.json') or 'null')]))"
)


@pytest.fixture(scope="module")
def kit(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This working tree as release v9.9.9, then one commit that is not released."""
    kit = tmp_path_factory.mktemp("sources") / "repositories" / "kit"
    kit.mkdir(parents=True)
    copy_working_tree(REPO, kit)
    git(kit, "init", "--quiet", "--initial-branch=main")
    commit_all(kit, "The kit")
    git(kit, "tag", RELEASE)
    (kit / "UNRELEASED.md").write_text("Work after the release.\n")
    commit_all(kit, "Work after the release")
    return kit


@pytest.fixture(scope="module")
def packages(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return provided_packages(tmp_path_factory.mktemp("provided") / "site-packages")


def mlcore_requirement(project: Path) -> str:
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    [requirement] = [d for d in pyproject["project"]["dependencies"] if d.startswith("mlcore")]
    return requirement


def set_up(project: Path, packages: Path) -> tuple[str, Any]:
    """The project's own `make setup` in a new .venv; mlcore's version and direct_url there."""
    make(project, "setup", NO_BUILD_ISOLATION, env=environment(packages))
    version, direct_url = json.loads(venv_python(project, INSTALLED, packages))
    return version, direct_url


def test_git_source_over_a_file_url(kit: Path, tmp_path: Path, packages: Path) -> None:
    """Copied from a local path: mlcore's default URL is that repository, as file://."""
    project = render(tmp_path / "p", {"mlcore_source": "git"}, False, src=str(kit), vcs_ref=None)
    assert mlcore_requirement(project) == f"mlcore[train] @ git+file://{kit}@{RELEASE}"
    version, direct_url = set_up(project, packages)
    assert version == "9.9.9"
    assert direct_url["url"] == f"file://{kit}"
    assert direct_url["vcs_info"]["requested_revision"] == RELEASE


def test_git_source_over_a_served_url_at_an_unreleased_commit(
    kit: Path, tmp_path: Path, packages: Path
) -> None:
    """Copied from a git server at a commit after the release: mlcore from there, at that commit."""
    daemon = start_git_daemon(kit.parent)
    try:
        url = f"{daemon.url}/kit"
        project = render(tmp_path / "p", {"mlcore_source": "git"}, False, src=url, vcs_ref="HEAD")
        commit = git(kit, "rev-parse", "HEAD").strip()
        assert mlcore_requirement(project) == f"mlcore[train] @ git+{url}@{commit}"
        version, direct_url = set_up(project, packages)
    finally:
        daemon.stop()
    assert version.startswith("9.9.10.dev1+"), "one commit after v9.9.9"
    assert direct_url["url"] == url and direct_url["vcs_info"]["commit_id"] == commit


def test_path_source(kit: Path, tmp_path: Path, packages: Path) -> None:
    answers = {"mlcore_source": "path", "mlcore_path": str(kit)}
    project = render(tmp_path / "p", answers, False, src=str(kit), vcs_ref=None)
    assert mlcore_requirement(project) == f"mlcore[train] @ file://{kit}"
    _, direct_url = set_up(project, packages)
    assert direct_url["url"] == f"file://{kit}" and not direct_url["dir_info"].get("editable")


def test_index_source(kit: Path, tmp_path: Path, packages: Path) -> None:
    """The release's wheel on a package index of the team's own: mlcore==9.9.9 from it alone."""
    release = tmp_path / "release"
    git(tmp_path, "clone", "--quiet", "--branch", RELEASE, str(kit), str(release))
    build = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation"]
    subprocess.run([*build, "--wheel-dir", str(tmp_path / "wheels"), str(release)], check=True)
    [wheel] = (tmp_path / "wheels").glob("mlcore-9.9.9-*.whl")
    index = start_package_index(write_simple_index(tmp_path / "index", {"mlcore": [wheel]}))
    try:
        answers = {"mlcore_source": "index", "mlcore_index_url": index.url}
        project = render(tmp_path / "p", answers, False, src=str(kit), vcs_ref=None)
        assert mlcore_requirement(project) == "mlcore[train]==9.9.9"
        version, direct_url = set_up(project, packages)
    finally:
        index.stop()
    assert version == "9.9.9" and direct_url is None, "from the index, not a URL"
    assert f"GET /files/{wheel.name} " in index.log.read_text()


@pytest.mark.parametrize(("ref", "unreleased"), [(RELEASE, False), ("HEAD", True)])
def test_copy_says_when_mlcore_is_pinned_to_an_unreleased_commit(
    kit: Path, tmp_path: Path, ref: str, unreleased: bool
) -> None:
    command = [COPIER, "copy", "--defaults", "--vcs-ref", ref, "--data", "mlcore_source=git"]
    copied = subprocess.run(
        [*command, str(kit), str(tmp_path / "p")], capture_output=True, text=True, check=True
    )
    commit = git(kit, "rev-parse", "HEAD").strip()
    note = f"Note: {commit} is a commit, not a release tag, and mlcore is pinned to it\nat file://{kit}"
    assert (note in copied.stderr) is unreleased, copied.stderr
    assert "make train" in copied.stderr and "make test" in copied.stderr
