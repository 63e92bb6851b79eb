"""`copier update`: a generated repo takes the new standard and keeps what its owners changed.

The template history is our own (tests/template/history.py): this checkout's working tree is
v1.0.0, a synthetic release of ordinary standard changes is v1.1.0 (Makefile help text and a new
target, `log_every_n_steps` 10 -> 20 in configs/trainer/default.yaml, a new
configs/callbacks/timer.yaml, a docstring in train.py, and a docstring in the user-owned
model.py). Scenarios that need more releases add them to a clone of it. Each scenario generates
its project as a user does (`copier copy` of a release, `git init`, commit), makes its changes,
commits, and runs `copier update --defaults --conflict inline`, as the generated `make update`
does, with no trust unless the scenario says so.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from copier.errors import UnsafeTemplateError

from tests.conftest import run
from tests.template.conftest import SHARED_ENV, editable_location, make
from tests.template.history import (
    MAKEFILE_HELP,
    MAKEFILE_NEW_TARGET,
    MODEL_DOCSTRING,
    TEMPLATE_PACKAGE,
    TIMER_CONFIG,
    TIMER_TEXT,
    TRAIN_DOCSTRING,
    TRAINER_LOG_EVERY,
    V1_1,
    TemplateHistory,
    add_migration,
    append,
    build_history,
    clone_history,
    commit_all,
    files_with_markers,
    generate,
    git,
    has_markers,
    render_release,
    replace_once,
    starters,
    status,
    tree,
    unmerged,
    update,
)
from tests.template.test_generated_project import passed

PACKAGE = "ml_project"
STARTERS = starters(PACKAGE)
ANSWERS_FILE = ".copier-answers.yml"
TRAINER = "configs/trainer/default.yaml"
TRAIN = f"src/{PACKAGE}/train.py"
MODEL = f"src/{PACKAGE}/model.py"


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> TemplateHistory:
    """v1.0.0 (this working tree) and v1.1.0 (the synthetic next release), built once."""
    return build_history(tmp_path_factory.mktemp("update") / "kit")


@pytest.fixture
def own_history(history: TemplateHistory, tmp_path: Path) -> TemplateHistory:
    """A clone of the history for a scenario that adds releases of its own."""
    return clone_history(history, tmp_path / "kit")


@pytest.fixture
def project(history: TemplateHistory, tmp_path: Path) -> Path:
    """A repo generated from v1.0.0 with the default answers, committed."""
    return generate(history, tmp_path / "project")


def answers(project: Path) -> dict:
    return yaml.safe_load((project / ANSWERS_FILE).read_text())


def read(project: Path, name: str) -> str:
    return (project / name).read_text()


def assert_v1_1_standard(project: Path) -> None:
    """Every v1.1.0 change to the standard reached the repo (the update did happen)."""
    assert answers(project)["_commit"] == V1_1
    makefile = read(project, "Makefile")
    assert MAKEFILE_HELP[1] in makefile and MAKEFILE_HELP[0] not in makefile
    assert makefile.endswith(MAKEFILE_NEW_TARGET)
    assert TRAINER_LOG_EVERY[1] in read(project, TRAINER)
    assert read(project, TIMER_CONFIG) == TIMER_TEXT
    assert TRAIN_DOCSTRING[1] in read(project, TRAIN)


def assert_merged_cleanly(project: Path) -> None:
    assert not unmerged(project), "no file may be left unmerged"
    assert not files_with_markers(project), "no conflict markers"
    assert not list(project.rglob("*.rej")), "no rejected hunks left behind"


# 1. Files the template did not change


def test_user_edit_to_a_file_the_template_did_not_change_survives_untouched(project: Path) -> None:
    """Edits to files v1.1.0 leaves alone come through byte for byte, and the update still
    applies every change of v1.1.0 around them."""
    replace_once(project / "configs/trainer/cpu.yaml", "devices: 1", "devices: 2")
    append(project / "configs/logger/csv.yaml", "  flush_logs_every_n_steps: 50\n")
    append(project / ".env.example", "\n# Our team's bucket.\n# TEAM_BUCKET=s3://team-bucket\n")
    commit_all(project, "Our settings")
    edited = ["configs/trainer/cpu.yaml", "configs/logger/csv.yaml", ".env.example"]
    before = {name: (project / name).read_bytes() for name in edited}

    update(project, V1_1)

    assert {name: (project / name).read_bytes() for name in edited} == before
    assert not git(project, "diff", "HEAD", "--", *edited), "git sees no change to them"
    assert_v1_1_standard(project)
    assert_merged_cleanly(project)


# 2. Both changed the same file, in different regions


def test_user_and_template_edits_to_different_regions_of_a_file_merge_cleanly(
    history: TemplateHistory, project: Path, tmp_path: Path
) -> None:
    """Where v1.1.0 and the user changed the same file in different places, the result holds
    both changes with no conflict: exactly the v1.1.0 file with the user's edits applied."""

    def user_edits(root: Path) -> None:
        replace_once(root / TRAINER, "max_epochs: 20", "max_epochs: 50")
        replace_once(root / "Makefile", "TORCH_VERSION ?= 2.13.0", "TORCH_VERSION ?= 2.13.1")
        append(root / "README.md", "\n## Team notes\n\nOwned by the vision team.\n")
        replace_once(
            root / TRAIN,
            '    """Command-line entry point; returns the metric',
            '    """The command line (our scheduler calls it); returns the metric',
        )

    user_edits(project)
    commit_all(project, "Our edits")

    update(project, V1_1)

    expected = render_release(history, tmp_path / "expected", vcs_ref=V1_1)
    user_edits(expected)
    for name in (TRAINER, "Makefile", "README.md", TRAIN):
        assert read(project, name) == read(expected, name), name
    assert "max_epochs: 50" in read(project, TRAINER)
    assert TRAINER_LOG_EVERY[1] in read(project, TRAINER)
    assert_v1_1_standard(project)
    assert_merged_cleanly(project)


# 3. Both changed the same lines


def test_same_lines_changed_by_user_and_template_leave_inline_conflict_markers(
    project: Path,
) -> None:
    """A clash is never resolved silently for either side. Copier returns normally (the CLI
    exits 0); the file holds inline markers with the user's line ("before updating") and the
    template's ("after updating"), and git's index holds it unmerged (stages 1, 2 and 3: the
    old template, the user's, the new template), so `git commit` refuses until it is resolved
    (`git commit -a` would stage it, markers and all: the generated pre-commit config's
    merge-conflict check is what catches that). Every other change of the release is applied."""
    replace_once(project / TRAINER, TRAINER_LOG_EVERY[0], "log_every_n_steps: 50")
    commit_all(project, "Log less often")

    update(project, V1_1)

    text = read(project, TRAINER)
    conflict = (
        "<<<<<<< before updating\n"
        "log_every_n_steps: 50\n"
        "=======\n"
        f"{TRAINER_LOG_EVERY[1]}\n"
        ">>>>>>> after updating\n"
    )
    assert conflict in text
    assert files_with_markers(project) == {TRAINER}
    assert unmerged(project) == {TRAINER}
    stages = git(project, "ls-files", "--stage", "--", TRAINER).split("\n")
    assert sorted(line.split()[2] for line in stages if line) == ["1", "2", "3"]
    refused = subprocess.run(
        ["git", "commit", "-m", "update"], cwd=project, capture_output=True, text=True
    )
    assert refused.returncode != 0 and "unmerged" in refused.stdout + refused.stderr
    # The rest of the release came through.
    assert answers(project)["_commit"] == V1_1
    assert MAKEFILE_HELP[1] in read(project, "Makefile")
    assert read(project, TIMER_CONFIG) == TIMER_TEXT
    assert TRAIN_DOCSTRING[1] in read(project, TRAIN)


# 4. Files the user added


def test_files_the_user_added_survive(project: Path) -> None:
    """New configs, modules and tests of the user's own are kept byte for byte and tracked."""
    added = {
        "configs/experiment/bigger.yaml": (
            "# @package _global_\ndefaults:\n  - override /model: mlp\n\nmodel:\n  dropout: 0.3\n"
        ),
        f"src/{PACKAGE}/features.py": '"""Feature engineering."""\n\nSCALE = 16.0\n',
        "tests/test_features.py": f"from {PACKAGE}.features import SCALE\n\n\n"
        "def test_scale() -> None:\n    assert SCALE == 16.0\n",
    }
    for name, text in added.items():
        (project / name).write_text(text)
    commit_all(project, "Our files")

    update(project, V1_1)

    assert {name: read(project, name) for name in added} == added
    assert not git(project, "status", "--porcelain", "--", *added)
    assert_v1_1_standard(project)
    assert_merged_cleanly(project)


def test_file_added_by_both_user_and_template_conflicts_keeping_both(project: Path) -> None:
    """When the user already has a file at a path the release adds (here
    configs/callbacks/timer.yaml), Copier merges the two against an empty base: one conflict
    spanning the differing lines, both versions kept, the file unmerged."""
    mine = "timer:\n  _target_: lightning.pytorch.callbacks.Timer\n  duration: 00:02:00:00\n"
    (project / TIMER_CONFIG).write_text(mine)
    commit_all(project, "Our timer")

    update(project, V1_1)

    text = read(project, TIMER_CONFIG)
    assert has_markers(text)
    ours, theirs = text.split("<<<<<<< before updating\n")[1].split("=======\n")
    assert "duration: 00:02:00:00" in ours
    assert "duration: null" in theirs and "interval: epoch" in theirs
    assert unmerged(project) == {TIMER_CONFIG}


# 5. Files the user deleted


def test_files_the_user_deleted_stay_deleted(project: Path) -> None:
    """Deleted files stay deleted: configs/logger/wandb.yaml (which v1.1.0 leaves alone) and
    src/<package>/train.py (which v1.1.0 changes). For the latter Copier takes the deletion as
    the user's decision: the file is neither re-created nor reported as a conflict, and the
    release's change to it is dropped without a word (git status shows nothing of it)."""
    deleted = ["configs/logger/wandb.yaml", TRAIN]
    for name in deleted:
        (project / name).unlink()
    commit_all(project, "No wandb, our own entry point")

    update(project, V1_1)

    assert not any((project / name).exists() for name in deleted)
    assert not git(project, "status", "--porcelain", "--", *deleted)
    assert answers(project)["_commit"] == V1_1
    assert read(project, TIMER_CONFIG) == TIMER_TEXT
    assert_merged_cleanly(project)


def test_user_owned_starter_the_user_deleted_stays_deleted(project: Path) -> None:
    """A user who deleted starters (replaced data.py by a package of their own, dropped
    tests/test_data.py and the example experiment) does not get them back from an update."""
    deleted = [f"src/{PACKAGE}/data.py", "tests/test_data.py", "configs/experiment/example.yaml"]
    for name in deleted:
        (project / name).unlink()
    commit_all(project, "Our own data package")

    update(project, V1_1)

    assert [name for name in deleted if (project / name).exists()] == []


# 6. User-owned starters


def test_user_owned_starters_are_never_overwritten(
    history: TemplateHistory, project: Path, tmp_path: Path
) -> None:
    """v1.1.0 changes the starter model.py, yet an update keeps the user's model.py exactly,
    and the starters the user never edited (data.py, tests/test_model.py...) keep their v1.0.0
    text: `_skip_if_exists` files are the user's once written."""
    fresh = render_release(history, tmp_path / "fresh", vcs_ref=V1_1)
    assert MODEL_DOCSTRING[1] in read(fresh, MODEL), "the release does change the starter"
    replace_once(project / MODEL, "dropout: float = 0.1", "dropout: float = 0.25")
    commit_all(project, "Our model")
    before = {name: (project / name).read_bytes() for name in STARTERS}

    update(project, V1_1)

    assert {name: (project / name).read_bytes() for name in STARTERS} == before
    model = read(project, MODEL)
    assert MODEL_DOCSTRING[0] in model and MODEL_DOCSTRING[1] not in model
    assert not git(project, "status", "--porcelain", "--", *STARTERS)
    assert_v1_1_standard(project)
    assert_merged_cleanly(project)


# 7. Answers changed during an update


def user_changes(root: Path) -> None:
    """Edits and files of the user's, applied alike to a repo and to a fresh render."""
    replace_once(root / "pyproject.toml", '  "rich>=13",\n', '  "rich>=13",\n  "scipy>=1.11",\n')
    append(root / "README.md", "\n## Team notes\n\nOwned by the vision team.\n")
    replace_once(root / "configs/trainer/cpu.yaml", "devices: 1", "devices: 2")
    (root / f"src/{PACKAGE}/features.py").write_text("SCALE = 16.0\n")


@pytest.mark.parametrize(
    "new_answers",
    [
        {"python_version": "3.12", "license": "MIT", "use_gpu": True},
        {"license": "Proprietary"},
    ],
    ids=["python-license-gpu", "proprietary"],
)
def test_update_with_changed_answers_equals_a_fresh_copy_plus_the_users_changes(
    history: TemplateHistory, project: Path, tmp_path: Path, new_answers: dict
) -> None:
    """Updating to v1.1.0 while changing answers gives exactly a fresh v1.1.0 copy with the new
    answers, plus the user's changes (edits merged, files added), with the user-owned starters
    as they were before (their v1.0.0 text, the user's edit to model.py). The file sets match too
    (with Proprietary, LICENSE goes), and so do the answers files (`_commit` v1.1.0 in both)."""
    user_changes(project)
    replace_once(project / MODEL, "dropout: float = 0.1", "dropout: float = 0.25")
    commit_all(project, "Our changes")
    starters_before = {name: (project / name).read_bytes() for name in STARTERS}

    update(project, V1_1, data=new_answers)

    fresh = render_release(history, tmp_path / "fresh", new_answers, vcs_ref=V1_1)
    user_changes(fresh)
    expected = {**tree(fresh), **starters_before}
    actual = tree(project)
    assert sorted(actual) == sorted(expected), "the same files"
    assert [
        name for name in expected if name != ANSWERS_FILE and actual[name] != expected[name]
    ] == []
    updated_answers, fresh_answers = answers(project), answers(fresh)
    assert updated_answers.pop("_commit") == fresh_answers.pop("_commit") == V1_1
    assert updated_answers == fresh_answers
    assert updated_answers.items() >= new_answers.items()
    assert_merged_cleanly(project)


def starters_render_answers(history: TemplateHistory) -> None:
    """A release whose every starter renders python_version and license, so an answer change
    would change each of them if an update ever rendered them again."""
    package = history.template(TEMPLATE_PACKAGE)
    for module in ("model.py", "data.py"):
        git(history.path, "mv", str(package / module), str(package / f"{module}.jinja"))
    for starter in ("configs/catalog.yaml", "notebooks/01-explore-digits.ipynb"):
        source = history.template(starter)
        git(history.path, "mv", str(source), f"{source}.jinja")
    line = "# Rendered for Python {{ python_version }} under {{ license }}.\n"
    for name in (
        f"{TEMPLATE_PACKAGE}/model.py.jinja",
        f"{TEMPLATE_PACKAGE}/data.py.jinja",
        "configs/model/mlp.yaml.jinja",
        "configs/data/digits.yaml.jinja",
        "configs/experiment/example.yaml.jinja",
        "tests/test_model.py.jinja",
        "tests/test_data.py.jinja",
        "configs/catalog.yaml.jinja",
    ):
        append(history.template(name), line)
    notebook = history.template("notebooks/01-explore-digits.ipynb.jinja")
    replace_once(
        notebook,
        ' "nbformat_minor": 5\n',
        ' "nbformat_minor": 5,\n "rendered_for": "{{ python_version }} {{ license }}"\n',
    )


def test_answer_changes_never_touch_user_owned_files(
    own_history: TemplateHistory, tmp_path: Path
) -> None:
    """In a release whose starters all depend on python_version and license (checked: fresh
    copies with the old and the new answers differ in every starter), an update that changes
    those answers rewrites the standard (pyproject.toml, LICENSE) and leaves each user-owned
    file exactly as it was, edited (model.py) or not."""
    release = own_history.release("v1.2.0", starters_render_answers)
    new_answers = {"python_version": "3.12", "license": "MIT"}
    with_old = render_release(own_history, tmp_path / "with-old", vcs_ref=release)
    with_new = render_release(own_history, tmp_path / "with-new", new_answers, vcs_ref=release)
    assert [name for name in STARTERS if read(with_old, name) == read(with_new, name)] == []

    project = generate(own_history, tmp_path / "project", vcs_ref=release)
    replace_once(project / MODEL, "dropout: float = 0.1", "dropout: float = 0.25")
    commit_all(project, "Our model")
    before = {name: (project / name).read_bytes() for name in STARTERS}

    update(project, release, data=new_answers)

    assert {name: (project / name).read_bytes() for name in STARTERS} == before
    assert 'requires-python = ">=3.12"' in read(project, "pyproject.toml")
    assert read(project, "LICENSE") == read(with_new, "LICENSE") != read(with_old, "LICENSE")
    assert answers(project).items() >= new_answers.items()
    assert_merged_cleanly(project)


@pytest.mark.parametrize(
    ("source", "requirement"),
    [
        ({"mlcore_source": "git"}, "mlcore[train] @ git+{url}@v{version}"),
        (
            {
                "mlcore_source": "index",
                "mlcore_index_url": "https://pypi.internal.example.com/simple",
            },
            "mlcore[train]=={version}",
        ),
    ],
    ids=["git", "index"],
)
def test_mlcore_pin_moves_to_the_new_release(
    history: TemplateHistory, tmp_path: Path, source: dict, requirement: str
) -> None:
    """A repo pinned to mlcore v1.0.0 is pinned to v1.1.0 once updated (template and library
    move together), exactly as a fresh copy of v1.1.0 would be."""
    project = generate(history, tmp_path / "project", source)
    url = answers(project).get("mlcore_git_url", "")
    pinned = f'"{requirement.format(url=url, version="1.0.0")}"'
    assert pinned in read(project, "pyproject.toml")

    update(project, V1_1)

    assert pinned.replace("1.0.0", "1.1.0") in read(project, "pyproject.toml")
    fresh = render_release(history, tmp_path / "fresh", source, vcs_ref=V1_1)
    for name in ("pyproject.toml", "Makefile", "README.md"):
        assert read(project, name) == read(fresh, name), name
    assert_merged_cleanly(project)


# 8. A release that moves a file, with a migration

MOVED_FROM, MOVED_TO = "configs/local/README.md", "configs/local/LOCAL.md"
MOVED_TITLE = ("# Machine-local settings", "# Machine-local settings (configs/local/LOCAL.md)")
USER_NOTE = "\nOn the team's workstations: `data.num_workers: 8`.\n"
# Copier deletes a file the new release no longer has, so an `after` migration carries the
# user's edits across the move: a three-way merge of the release's new file with the user's old
# one (as committed before updating), on the old release's text of it.
MERGE_MOVE = f"""\
  - version: v1.2.0
    command: |
      set -e
      old={MOVED_FROM} new={MOVED_TO}
      if git cat-file -e "HEAD:$old" 2>/dev/null && [ ! -e "$old" ] && [ -e "$new" ]; then
        git show "HEAD:$old" > "$new.mine"
        git -C "{{{{ _copier_conf.src_path }}}}" show "{{{{ _version_from }}}}:template/$old" \\
          > "$new.base"
        git merge-file -L "after updating" -L "last update" -L "before updating" \\
          "$new" "$new.base" "$new.mine" || true
        rm "$new.mine" "$new.base"
      fi
"""
# What a first attempt looks like: `git mv` before the update.
GIT_MV_BEFORE = f"""\
  - version: v1.2.0
    when: "{{{{ _stage == 'before' }}}}"
    command: "test ! -e {MOVED_FROM} || git mv {MOVED_FROM} {MOVED_TO}"
"""


def move_release(migration: str) -> Callable[[TemplateHistory], None]:
    """A release that moves configs/local/README.md to LOCAL.md (and retitles it)."""

    def changes(history: TemplateHistory) -> None:
        source, target = history.template(MOVED_FROM), history.template(MOVED_TO)
        git(history.path, "mv", str(source), str(target))
        replace_once(target, *MOVED_TITLE)
        add_migration(history, migration)

    return changes


def gpu_comment(history: TemplateHistory) -> None:
    append(history.template("configs/trainer/gpu.yaml"), "# Since v1.3.0.\n")


@pytest.fixture
def moving_history(own_history: TemplateHistory) -> TemplateHistory:
    """v1.2.0 moves the file with MERGE_MOVE; v1.3.0 changes another file and keeps the
    migration in copier.yml, as every later release does."""
    own_history.release("v1.2.0", move_release(MERGE_MOVE))
    own_history.release("v1.3.0", gpu_comment)
    return own_history


def project_with_note(history: TemplateHistory, destination: Path, vcs_ref: str) -> Path:
    """A repo generated from vcs_ref, with the user's note added to the local settings README
    (at whichever path that release has it) and committed."""
    project = generate(history, destination, vcs_ref=vcs_ref)
    [readme] = [project / name for name in (MOVED_FROM, MOVED_TO) if (project / name).exists()]
    append(readme, USER_NOTE)
    commit_all(project, "A note for the team")
    return project


def test_update_across_a_migration_without_trust_fails_and_changes_nothing(
    moving_history: TemplateHistory, tmp_path: Path
) -> None:
    """A migration is an unsafe feature: without --trust, Copier stops with its clear error
    naming it, before touching anything (same files, same HEAD, clean tree)."""
    project = project_with_note(moving_history, tmp_path / "project", V1_1)
    before, head = tree(project), git(project, "rev-parse", "HEAD")

    with pytest.raises(UnsafeTemplateError, match=r"unsafe feature: migrations") as error:
        update(project)

    assert "--trust" in str(error.value)
    assert tree(project) == before
    assert git(project, "rev-parse", "HEAD") == head
    assert status(project) == ""


def test_trusted_update_across_a_migration_moves_the_file_and_keeps_the_user_edit(
    moving_history: TemplateHistory, tmp_path: Path
) -> None:
    """With trust, the update from v1.1.0 to v1.3.0 runs the v1.2.0 migration: the old path is
    gone, the new one holds the release's text (new title) with the user's note merged in, no
    conflict, and git sees a rename."""
    project = project_with_note(moving_history, tmp_path / "project", V1_1)

    update(project, unsafe=True)

    assert not (project / MOVED_FROM).exists()
    fresh = render_release(moving_history, tmp_path / "fresh", vcs_ref="v1.3.0")
    assert read(project, MOVED_TO) == read(fresh, MOVED_TO) + USER_NOTE
    assert MOVED_TITLE[1] in read(project, MOVED_TO)
    assert answers(project)["_commit"] == "v1.3.0"
    assert "Since v1.3.0" in read(project, "configs/trainer/gpu.yaml")
    assert_merged_cleanly(project)
    git(project, "add", "-A")
    renamed = git(project, "diff", "--cached", "-M", "--name-status").splitlines()
    assert any(
        line.startswith("R") and line.split("\t")[1:] == [MOVED_FROM, MOVED_TO] for line in renamed
    )


def test_git_mv_migration_before_the_update_keeps_the_user_edit_only_as_a_conflict(
    own_history: TemplateHistory, tmp_path: Path
) -> None:
    """The first migration one would write, `git mv` at the `before` stage, moves the file, but
    Copier then sees the new path added on both sides (by the user's moved file and by the
    release) and merges them against an empty base: the user's note survives only inside
    conflict markers, the file unmerged. Nothing is lost, but a clean move needs MERGE_MOVE."""
    own_history.release("v1.2.0", move_release(GIT_MV_BEFORE))
    project = project_with_note(own_history, tmp_path / "project", V1_1)

    update(project, unsafe=True)

    assert not (project / MOVED_FROM).exists()
    text = read(project, MOVED_TO)
    ours = text.split("<<<<<<< before updating\n")[1].split("=======\n")[0]
    assert USER_NOTE.strip() in ours
    assert unmerged(project) == {MOVED_TO}


def test_update_between_releases_that_do_not_cross_a_migration_needs_no_trust(
    moving_history: TemplateHistory, tmp_path: Path
) -> None:
    """v1.3.0's copier.yml still has the v1.2.0 migration, but a repo already at v1.2.0 is not
    crossing it: the update needs no trust and runs nothing."""
    project = project_with_note(moving_history, tmp_path / "project", "v1.2.0")
    assert USER_NOTE in read(project, MOVED_TO)

    update(project, unsafe=False)

    assert read(project, MOVED_TO).endswith(USER_NOTE)
    assert not (project / MOVED_FROM).exists()

    assert answers(project)["_commit"] == "v1.3.0"
    assert "Since v1.3.0" in read(project, "configs/trainer/gpu.yaml")
    assert_merged_cleanly(project)


# 9. The updated repo still works


@pytest.mark.slow
def test_updated_repo_sets_up_and_passes_its_own_tests(
    history: TemplateHistory, installed_project, tmp_path: Path
) -> None:
    """After an update with user changes (an edited starter, an edited and a new config, a new
    module with its test, then the release's new timer callback switched on), `make setup` and
    `make test` pass in the shared environment. `installed_project` installs the distribution
    and restores the environment afterwards; the repo it renders is replaced in place by one
    generated from the history (same path, same distribution) before `make setup` runs again."""
    project = installed_project({"project_name": "Update Check"})
    package = "update_check"
    shutil.rmtree(project)
    generate(history, project, {"project_name": "Update Check"})
    replace_once(
        project / f"src/{package}/model.py", "dropout: float = 0.1", "dropout: float = 0.2"
    )
    replace_once(project / TRAINER, "max_epochs: 20", "max_epochs: 15")
    (project / "configs/experiment/narrow.yaml").write_text(
        "# @package _global_\ndefaults:\n  - override /model: mlp\n\n"
        "model:\n  hidden_dims: [64, 32]\n"
    )
    (project / f"src/{package}/features.py").write_text("SCALE = 16.0\n")
    (project / "tests/test_features.py").write_text(
        f"from {package}.features import SCALE\n\n\ndef test_scale() -> None:\n"
        "    assert SCALE == 16.0\n"
    )
    commit_all(project, "Our changes")

    update(project, V1_1)
    replace_once(
        project / "configs/callbacks/default.yaml",
        "  - lr_monitor\n",
        "  - lr_monitor\n  - timer\n",
    )
    commit_all(project, "Update to v1.1.0 and time our runs")

    assert answers(project)["_commit"] == V1_1
    assert_merged_cleanly(project)
    make(project, "setup")
    assert passed(make(project, "test"))


# 10. Nothing to update


def test_update_of_an_up_to_date_repo_changes_nothing(
    history: TemplateHistory, project: Path, tmp_path: Path
) -> None:
    """Once a repo is at the newest release (updated with user changes and committed, or
    generated from it), another update leaves every file as it is: git status stays clean."""
    user_changes(project)
    commit_all(project, "Our changes")
    update(project, V1_1)
    commit_all(project, "Update to v1.1.0")
    before = tree(project)

    update(project)

    assert status(project) == ""
    assert tree(project) == before

    fresh = generate(history, tmp_path / "fresh", vcs_ref=V1_1)
    update(fresh)
    assert status(fresh) == ""


# The generated Makefile's own entry point


def test_make_update_brings_the_repo_to_the_newest_release(project: Path) -> None:
    """`make update` (the generated Makefile, running `python -m copier update --defaults
    --conflict inline`) takes the newest release, v1.1.0, and keeps a user edit."""
    replace_once(project / TRAINER, "max_epochs: 20", "max_epochs: 50")
    commit_all(project, "Longer training")

    out = make(project, "update")

    assert "reinstalling" not in out, "mlcore's pin (a local checkout) did not move"
    assert "max_epochs: 50" in read(project, TRAINER)
    assert_v1_1_standard(project)
    assert_merged_cleanly(project)


def test_make_update_lists_conflicts_and_a_conflicted_makefile_says_so(project: Path) -> None:
    """Copier exits 0 where it leaves inline conflicts: `make update` lists the files and fails.
    Markers in the Makefile itself would make every target fail with a bare "missing
    separator": its first lines stop Make first, naming the conflicted files and the fix."""
    replace_once(project / "Makefile", MAKEFILE_HELP[0], "help: ## Our own help text")
    replace_once(project / TRAINER, TRAINER_LOG_EVERY[0], "log_every_n_steps: 50")
    commit_all(project, "Our help text, less logging")

    updated = run(["make", "update", *SHARED_ENV], cwd=project, check=False)

    out = updated.stdout + updated.stderr
    assert updated.returncode != 0, out
    assert "Conflicts to resolve (git diff HEAD --check shows each marker):" in out
    assert f"\n  Makefile\n  {TRAINER}\n" in updated.stdout
    assert files_with_markers(project) == {"Makefile", TRAINER}
    assert answers(project)["_commit"] == V1_1

    stopped = run(["make", "help"], cwd=project, check=False)
    out = stopped.stdout + stopped.stderr
    assert stopped.returncode != 0 and "missing separator" not in out, out
    marker = read(project, "Makefile").splitlines().index("<<<<<<< before updating") + 1
    assert f"Makefile holds conflicts left by `make update` (at line(s) {marker})" in out
    assert "delete the three marker lines, then run make again" in out
    assert f"Conflicted files: Makefile {TRAINER}" in out


def test_make_update_reinstalls_when_the_mlcore_pin_moved(
    history: TemplateHistory, tmp_path: Path
) -> None:
    """A repo pinned to mlcore at v1.0.0 (here from the history's own git URL) is pinned to
    v1.1.0 once updated: `make update` then runs `make setup`, which reinstalls."""
    url = f"file://{history.src}"
    source = {"project_name": "Pin Moves", "mlcore_source": "git", "mlcore_git_url": url}
    project = generate(history, tmp_path / "project", source)
    slug = answers(project)["project_slug"]
    assert editable_location(slug) is None

    try:
        out = make(project, "update")
        assert (
            f"The update moved mlcore's pin to mlcore[train] @ git+{url}@v1.1.0: reinstalling "
            "with make setup"
        ) in out
        assert editable_location(slug) == str(project), "make setup installed the project"
    finally:
        run([sys.executable, "-m", "pip", "uninstall", "--quiet", "--yes", slug], cwd=tmp_path)
    assert answers(project)["_commit"] == V1_1
