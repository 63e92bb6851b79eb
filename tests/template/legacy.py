"""The kit's real v0.1.0 release and this checkout as the next one, for upgrade tests.

A clone of this repository (history included) gets the tag v0.1.0 on its release commit (the tag
itself where the checkout has it, else the commit whose subject starts "Release 0.1.0") and, on
top, this checkout's working tree (uncommitted changes included) as the next release. A project
rendered from v0.1.0 then updates to it as a user's repo would with `make update`.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from tests.conftest import REPO, run
from tests.template.history import TemplateHistory, copy_working_tree, git

V0_1 = "v0.1.0"
# The next release in the test's own clone: newer than every tag the clone keeps (only v0.1.0).
NEXT = "v0.2.0"


def release_commit(tag: str = V0_1) -> str:
    """The commit of a release of this repository: its tag, else its "Release X.Y.Z" commit."""
    tagged = run(["git", "rev-parse", "-q", "--verify", f"{tag}^{{commit}}"], REPO, check=False)
    if tagged.returncode == 0:
        return tagged.stdout.strip()
    subject = f"^Release {tag.removeprefix('v')}\\b"
    found = run(["git", "log", "-1", "--format=%H", "-E", f"--grep={subject}"], REPO).stdout
    if not found.strip():
        raise AssertionError(
            f"No commit of release {tag} in {REPO}: the upgrade tests need the repository's "
            "history (a full clone, not a shallow one)"
        )
    return found.strip()


def build_legacy_history(destination: Path) -> TemplateHistory:
    """A clone with v0.1.0 tagged on its release commit and this working tree tagged NEXT."""
    commit = release_commit()
    run(["git", "clone", "--quiet", "--no-checkout", str(REPO), str(destination)], REPO.parent)
    for tag in git(destination, "tag", "--list").split():
        git(destination, "tag", "--delete", tag)
    git(destination, "tag", V0_1, commit)
    git(destination, "checkout", "--quiet", "-B", "main", "HEAD")
    git(destination, "rm", "-r", "--quiet", "--cached", ".")
    for entry in destination.iterdir():
        if entry.name != ".git":
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    copy_working_tree(REPO, destination)
    history = TemplateHistory(destination.resolve())
    history.release(NEXT, lambda _: None)
    return history


def legacy_mlcore(history: TemplateHistory, destination: Path) -> dict[str, str]:
    """The environment that runs a project with v0.1.0's mlcore: its source first on PYTHONPATH.

    The shared environment has today's mlcore installed; a 0.1 user has 0.1's.
    """
    destination.mkdir(parents=True, exist_ok=True)
    archive = destination / "mlcore.tar"
    git(history.path, "archive", "--output", str(archive), V0_1, "mlcore")
    run(["tar", "-xf", str(archive)], destination)
    archive.unlink()
    path = os.pathsep.join(filter(None, [str(destination), os.environ.get("PYTHONPATH")]))
    return {"PYTHONPATH": path}
