"""The cookiecutter flavour: derived, equal to Copier's render, same validation, and adoptable.

Each comparison renders a release of a template history of our own (the working tree, its
flavour derived for that release) with Copier and with cookiecutter, both for real, and compares
the trees file by file, apart from the answers file each tool writes.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from cookiecutter.exceptions import FailedHookException
from cookiecutter.main import cookiecutter
from copier import run_copy

from tests.conftest import REPO, run
from tests.template.conftest import LOCAL_MLCORE, make
from tests.template.history import (
    TemplateHistory,
    commit_all,
    copy_working_tree,
    git,
    next_release,
    status,
    tree,
    update,
)
from tests.template.test_questions import INVALID_ANSWERS
from tests.template.variants import VARIANTS

sys.path.insert(0, str(REPO / "cookiecutter"))
import derive

OLD, NEW = "1.0.0", "1.1.0"
ANSWERS_FILES = {".copier-answers.yml", ".cookiecutter-answers.yml"}


def release(history: TemplateHistory, version: str, changes=lambda _: None) -> str:
    """A release whose cookiecutter flavour is derived for it, as the release process does."""

    def derive_too(h: TemplateHistory) -> None:
        changes(h)
        assert derive.main(["--repo", str(h.path), "--version", version]) == 0

    return history.release(f"v{version}", derive_too)


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> TemplateHistory:
    """This working tree as v1.0.0 and the synthetic next release as v1.1.0, flavours derived."""
    root = tmp_path_factory.mktemp("history") / "kit"
    root.mkdir()
    copy_working_tree(REPO, root)
    git(root, "init", "--quiet", "--initial-branch=main")
    history = TemplateHistory(root.resolve())
    release(history, OLD)
    release(history, NEW, next_release)
    return history


def checkout(history: TemplateHistory, version: str, destination: Path) -> Path:
    """The kit as it was at a release (what `cookiecutter <repo> --checkout vX` reads)."""
    git(
        history.path.parent,
        "clone",
        "--quiet",
        "--branch",
        f"v{version}",
        history.src,
        str(destination),
    )
    return destination


def bake(kit: Path, destination: Path, answers: Mapping[str, Any]) -> Path:
    """`cookiecutter --no-input <kit> --directory cookiecutter`, answers as extra context."""
    destination.mkdir(parents=True, exist_ok=True)
    return Path(
        cookiecutter(
            str(kit), directory="cookiecutter", no_input=True, extra_context=dict(answers),
            output_dir=str(destination),
        )
    )  # fmt: skip


def test_committed_flavour_is_derived_from_the_template() -> None:
    """A change to copier.yml or template/ without re-deriving fails here."""
    assert derive.main(["--check"]) == 0, "run `python cookiecutter/derive.py` and commit"


def test_check_notices_a_stale_flavour(tmp_path: Path) -> None:
    copy_working_tree(REPO, tmp_path)
    (tmp_path / "template" / "Makefile.jinja").write_text("# changed\n")
    assert derive.main(["--check", "--repo", str(tmp_path)]) == 1


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_cookiecutter_renders_what_copier_renders(
    name: str, history: TemplateHistory, tmp_path: Path
) -> None:
    answers = VARIANTS[name].rendered_answers
    if answers.get("mlcore_source", "git") == "git":
        # Copier's default is where it copies from; cookiecutter tells no source at prompt time.
        answers = {**answers, "mlcore_git_url": derive.TEMPLATE_URL}
    by_copier = tmp_path / "copier"
    run_copy(history.src, by_copier, data=answers, defaults=True, vcs_ref=f"v{NEW}", quiet=True)
    by_cookiecutter = bake(checkout(history, NEW, tmp_path / "kit"), tmp_path / "cc", answers)
    copier_files, cookiecutter_files = tree(by_copier), tree(by_cookiecutter)
    for name_ in ANSWERS_FILES:
        copier_files.pop(name_, None)
        cookiecutter_files.pop(name_, None)
    assert sorted(cookiecutter_files) == sorted(copier_files)
    different = [f for f in copier_files if copier_files[f] != cookiecutter_files[f]]
    assert not different, f"cookiecutter renders these differently: {different}"
    recorded = (by_cookiecutter / ".cookiecutter-answers.yml").read_text()
    assert f'_version: "{NEW}"' in recorded


@pytest.mark.parametrize(("question", "answer", "message"), INVALID_ANSWERS)
def test_invalid_answer_gets_copiers_message_and_leaves_nothing(
    question: str, answer: str, message: str, tmp_path: Path, capfd: pytest.CaptureFixture
) -> None:
    out = tmp_path / "out"
    with pytest.raises(FailedHookException):
        bake(REPO, out, {**LOCAL_MLCORE, question: answer})
    assert re.search(re.escape(message), capfd.readouterr().err)
    assert not (out.exists() and any(out.iterdir())), "a refused answer leaves no project behind"


def baked_project(history: TemplateHistory, tmp_path: Path, answers: Mapping[str, Any]) -> Path:
    """A repository made by cookiecutter from v1.0.0, committed, with user edits committed."""
    kit = checkout(history, OLD, tmp_path / "kit-old")
    project = bake(kit, tmp_path / "made", answers)
    git(project, "init", "--quiet", "--initial-branch=main")
    commit_all(project, "Made by cookiecutter")
    cpu = project / "configs" / "trainer" / "cpu.yaml"
    cpu.write_text(cpu.read_text() + "# our cluster's CPU nodes\n")
    (project / "configs" / "experiment" / "ours.yaml").write_text("# @package _global_\nseed: 3\n")
    commit_all(project, "Our changes")
    return project


def adopt(project: Path, *args: str) -> Any:
    return run([sys.executable, "-m", "mlcore", "adopt", "--project", str(project), *args], project)


@pytest.fixture
def answers() -> dict[str, Any]:
    return {"mlcore_source": "path", "mlcore_path": str(REPO), "project_name": "Adopted Model"}


def test_adopted_repo_updates_like_a_copier_one(
    history: TemplateHistory, tmp_path: Path, answers: dict[str, Any]
) -> None:
    project = baked_project(history, tmp_path, answers)
    adopt(project, "--template", history.src)
    recorded = (project / ".copier-answers.yml").read_text()
    assert "_commit: v1.0.0" in recorded and f"_src_path: {history.src}" in recorded
    assert not (project / ".cookiecutter-answers.yml").exists()
    commit_all(project, "Adopt: copier update from now on")

    update(project)
    assert "_commit: v1.1.0" in (project / ".copier-answers.yml").read_text()
    assert (project / "configs" / "callbacks" / "timer.yaml").is_file()  # the standard arrived
    assert "log_every_n_steps: 20" in (project / "configs/trainer/default.yaml").read_text()
    assert "# our cluster's CPU nodes" in (project / "configs/trainer/cpu.yaml").read_text()
    assert (project / "configs/experiment/ours.yaml").read_text().endswith("seed: 3\n")


def test_adopt_reads_crufts_file(history: TemplateHistory, tmp_path: Path, answers) -> None:
    project = baked_project(history, tmp_path, answers)
    recorded = (project / ".cookiecutter-answers.yml").read_text()
    context = {k: v for k, v in _yaml(recorded).items() if not k.startswith("_")}
    cruft = {
        "template": history.src, "commit": "0" * 40, "checkout": f"v{OLD}",
        "context": {"cookiecutter": {**context, "_template_version": OLD}},
        "directory": "cookiecutter",
    }  # fmt: skip
    (project / ".cookiecutter-answers.yml").unlink()
    (project / ".cruft.json").write_text(json.dumps(cruft))
    commit_all(project, "As cruft left it")
    adopt(project)
    assert "_commit: v1.0.0" in (project / ".copier-answers.yml").read_text()


def _yaml(text: str) -> dict[str, Any]:
    import yaml

    return yaml.safe_load(text)


@pytest.mark.parametrize("case", ["foreign", "unknown-release", "no-answers"])
def test_adopt_refuses_what_it_cannot_map_and_changes_nothing(
    case: str, history: TemplateHistory, tmp_path: Path, answers: dict[str, Any]
) -> None:
    if case == "no-answers":
        project = tmp_path / "plain"
        project.mkdir()
        (project / "README.md").write_text("# Not from the template\n")
    else:
        project = baked_project(history, tmp_path, answers)
        recorded = project / ".cookiecutter-answers.yml"
        if case == "unknown-release":
            recorded.write_text(recorded.read_text().replace(f'"{OLD}"', '"9.9.9"'))
        else:  # a repository of someone else's that happens to carry the answers file
            for path in project.rglob("*"):
                if path.is_file() and ".git" not in path.parts and path != recorded:
                    path.write_text("# someone else's project\n")
    before = tree(project)
    result = run_refused(project, history)
    assert result.returncode == 2
    assert "mlcore adopt:" in result.stderr
    assert tree(project) == before, "a refused adoption changes nothing"


def run_refused(project: Path, history: TemplateHistory):
    import subprocess

    command = [sys.executable, "-m", "mlcore", "adopt", "--project", str(project)]
    return subprocess.run(
        [*command, "--template", history.src], capture_output=True, text=True, timeout=300
    )


@pytest.mark.slow
def test_adopted_and_updated_repo_passes_its_own_tests(
    history: TemplateHistory, tmp_path: Path, installed_project
) -> None:
    """Cookiecutter at v1.0.0, user edits, adopt, update to v1.1.0: its own `make test` passes."""
    # A name of its own: the defaults' `ml-project`, installed in the same environment by the
    # generated-project test running beside this one, would be uninstalled under it.
    answers = {"project_name": "Adopted Project", "mlcore_source": "path", "mlcore_path": str(REPO)}
    installed = installed_project(answers)  # installs the package, restored afterwards
    project = baked_project(history, tmp_path, answers)
    adopt(project, "--template", history.src)
    commit_all(project, "Adopt")
    update(project)
    assert not status(project) or "UU" not in status(project)
    make(project, "setup")
    make(project, "test")
    assert installed.is_dir()
