"""A template history of our own, for the `copier update` tests and `bench/update.py`.

`build_history` copies this checkout's working tree (tracked and untracked-but-not-ignored files,
uncommitted changes included) into a temporary git repository and tags it v1.0.0; a synthetic
"next release" of ordinary changes to the standard (plus one change to a user-owned starter,
which an update must never apply) is v1.1.0. Scenarios add releases of their own to a clone
(`clone_history`, `TemplateHistory.release`). Nothing depends on this repository's own tags or
history, so the tests pass in a shallow clone without tags.

Each synthetic change is an exact text replacement that fails loudly when its anchor is gone:
if the template drifts, the history says which change no longer applies.

Generated projects are made the way a user makes them: `copier copy` of a release (with
mlcore's source answered as this checkout), `git init`, a commit; then user changes, a commit, and
`copier update --defaults --conflict inline` (what the generated `make update` runs).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from copier import Settings, run_copy, run_update

from tests.conftest import REPO, run
from tests.template.conftest import LOCAL_MLCORE

V1_0 = "v1.0.0"
V1_1 = "v1.1.0"
# Commits in temporary repositories never depend on the machine's git identity.
IDENTITY = ["-c", "user.name=Update Tests", "-c", "user.email=update-tests@example.com"]
# Where the package's modules live in the template.
TEMPLATE_PACKAGE = "src/{{package_name}}"


def starters(package: str = "ml_project") -> tuple[str, ...]:
    """The user-owned starters (copier.yml `_skip_if_exists`) as rendered for a package."""
    return (
        f"src/{package}/model.py",
        f"src/{package}/data.py",
        "configs/model/mlp.yaml",
        "configs/data/digits.yaml",
        "configs/experiment/example.yaml",
        "tests/test_model.py",
        "tests/test_data.py",
        "configs/catalog.yaml",
        "notebooks/01-explore-digits.ipynb",
    )


def git(cwd: Path, *args: str) -> str:
    """Run git in cwd with a fixed identity; return stdout (raise with the output on failure)."""
    return run(["git", *IDENTITY, *args], cwd=cwd).stdout


def replace_once(path: Path, old: str, new: str) -> None:
    """Replace the one occurrence of old in path; fail if it is missing or not unique."""
    text = path.read_text()
    count = text.count(old)
    if count != 1:
        raise AssertionError(f"{path}: expected exactly one {old!r} to replace, found {count}")
    path.write_text(text.replace(old, new))


def append(path: Path, text: str) -> None:
    with path.open("a") as handle:
        handle.write(text)


def copy_working_tree(source: Path, destination: Path) -> None:
    """Copy the files git sees in source: tracked, and untracked but not ignored.

    Ignored paths (.venv, build/, caches) never come along, nor .git (ls-files never lists it);
    tracked files deleted from the working tree are skipped.
    """
    listed = run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=source).stdout
    for name in sorted(set(filter(None, listed.split("\0")))):
        origin = source / name
        if not (origin.is_file() or origin.is_symlink()):
            continue
        target = destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(origin, target, follow_symlinks=False)


@dataclass(frozen=True)
class TemplateHistory:
    """A git repository of the kit with release tags. `path` is absolute: Copier records the
    source as given, and `copier update` finds the template again through it."""

    path: Path

    @property
    def src(self) -> str:
        return str(self.path)

    def template(self, relative: str) -> Path:
        """A file of the template (under template/)."""
        return self.path / "template" / relative

    def release(self, tag: str, changes: Callable[[TemplateHistory], object]) -> str:
        """Apply changes to the working tree, commit them and tag the commit `tag`."""
        changes(self)
        git(self.path, "add", "-A")
        git(self.path, "commit", "--quiet", "--allow-empty", "-m", f"Release {tag}")
        git(self.path, "tag", tag)
        return tag

    def tags(self) -> list[str]:
        return git(self.path, "tag", "--list").split()


# What the synthetic v1.1.0 changes, for the tests to check.
MAKEFILE_HELP = ("help: ## List the targets", "help: ## List every target and what it does")
MAKEFILE_NEW_TARGET = "\ncheck: lint test ## Lint and fast tests: what a pull request must pass\n"
TRAINER_LOG_EVERY = ("log_every_n_steps: 10", "log_every_n_steps: 20")
TIMER_CONFIG = "configs/callbacks/timer.yaml"
TIMER_TEXT = (
    "# Stops training once the time budget is spent (since v1.1.0).\n"
    "timer:\n"
    "  _target_: lightning.pytorch.callbacks.Timer\n"
    "  duration: null\n"
    "  interval: epoch\n"
)
TRAIN_DOCSTRING = (
    "fit and test; return the metrics.",
    "fit and test, then return the metrics.",
)
# A user-owned starter: the release changes it, no update may apply the change.
MODEL_DOCSTRING = (
    '"""The model: a small multilayer perceptron that classifies the digits.',
    '"""The model: a multilayer perceptron for the digits (starter of v1.1.0).',
)


def next_release(history: TemplateHistory) -> None:
    """The synthetic v1.1.0: ordinary changes to the standard and to one user-owned starter."""
    makefile = history.template("Makefile.jinja")
    replace_once(makefile, *MAKEFILE_HELP)
    append(makefile, MAKEFILE_NEW_TARGET)
    replace_once(history.template("configs/trainer/default.yaml"), *TRAINER_LOG_EVERY)
    history.template(TIMER_CONFIG).write_text(TIMER_TEXT)
    replace_once(history.template(f"{TEMPLATE_PACKAGE}/train.py.jinja"), *TRAIN_DOCSTRING)
    replace_once(history.template(f"{TEMPLATE_PACKAGE}/model.py"), *MODEL_DOCSTRING)


def build_history(destination: Path, source: Path = REPO) -> TemplateHistory:
    """The working tree of source as v1.0.0, and the synthetic next release as v1.1.0."""
    destination.mkdir(parents=True)
    copy_working_tree(source, destination)
    git(destination, "init", "--quiet", "--initial-branch=main")
    history = TemplateHistory(destination.resolve())
    history.release(V1_0, lambda _: None)
    history.release(V1_1, next_release)
    return history


def clone_history(history: TemplateHistory, destination: Path) -> TemplateHistory:
    """A clone (tags included) where a scenario adds releases without touching the shared one."""
    git(destination.parent, "clone", "--quiet", history.src, str(destination))
    return TemplateHistory(destination.resolve())


# Generated projects. Copier runs with empty settings: a machine's own Copier settings (trusted
# templates, default answers) never change what a test sees.


def render_release(
    history: TemplateHistory, destination: Path, answers: Mapping[str, Any] = (), vcs_ref=V1_0
) -> Path:
    """`copier copy --defaults` of a release, mlcore's source answered as this checkout."""
    run_copy(
        history.src,
        destination,
        data={**LOCAL_MLCORE, **dict(answers)},
        defaults=True,
        vcs_ref=vcs_ref,
        unsafe=False,
        quiet=True,
        settings=Settings(),
    )
    return destination


def generate(
    history: TemplateHistory, destination: Path, answers: Mapping[str, Any] = (), vcs_ref=V1_0
) -> Path:
    """A project as a user starts it: rendered from a release, `git init`, committed."""
    render_release(history, destination, answers, vcs_ref)
    git(destination, "init", "--quiet", "--initial-branch=main")
    commit_all(destination, f"Generated from {vcs_ref}")
    return destination


def commit_all(project: Path, message: str) -> None:
    git(project, "add", "-A")
    git(project, "commit", "--quiet", "--allow-empty", "--no-verify", "-m", message)


def update(project: Path, vcs_ref: str | None = None, **options: Any) -> None:
    """`copier update --defaults --conflict inline` (the newest release unless vcs_ref); no trust
    unless `unsafe=True` is passed."""
    run_update(
        project,
        defaults=True,
        overwrite=True,
        conflict="inline",
        vcs_ref=vcs_ref,
        **{"quiet": True, "unsafe": False, "settings": Settings(), **options},
    )


def status(project: Path) -> str:
    """`git status --porcelain`, untracked files listed one by one."""
    return git(project, "status", "--porcelain", "--untracked-files=all")


def unmerged(project: Path) -> set[str]:
    """Paths that git's index holds as unmerged (where Copier records inline conflicts)."""
    return set(git(project, "diff", "--name-only", "--diff-filter=U").split())


def tree(root: Path) -> dict[str, bytes]:
    """Every file under root except .git/, by path relative to root."""
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and path.relative_to(root).parts[0] != ".git"
    }


def has_markers(text: str) -> bool:
    """Whether text holds a line of an inline conflict (`<<<<<<< `, `=======`, `>>>>>>> `)."""
    return any(
        line.startswith(("<<<<<<< ", ">>>>>>> ")) or line == "=======" for line in text.splitlines()
    )


def files_with_markers(root: Path) -> set[str]:
    """Files under root (.git/ aside) with inline conflict markers."""
    return {
        name
        for name, content in tree(root).items()
        if has_markers(content.decode(errors="replace"))
    }


def add_migration(history: TemplateHistory, entry: str) -> None:
    """Add an entry (YAML text of one list item, indented two spaces) to copier.yml's
    `_migrations`, creating the key if the template has none yet."""
    config = history.path / "copier.yml"
    text = config.read_text()
    if "\n_migrations:\n" in text:
        replace_once(config, "\n_migrations:\n", f"\n_migrations:\n{entry}")
    else:
        append(config, f"\n_migrations:\n{entry}")
