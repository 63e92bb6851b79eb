"""`mlcore doctor` and `mlcore sync` against a real template history, run by Copier itself.

The history is this checkout's working tree committed as release v1.0.0, then one template change
(the Makefile's help text, and a new file) released as v1.1.0. Projects are rendered from v1.0.0
with the local mlcore, committed, and copied for each test (rendering costs a second or two).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from mlcore.standards import doctor, sync
from mlcore.standards._project import Answers, newest_release
from tests.conftest import REPO, run

ANSWERS = {"mlcore_source": "path", "mlcore_path": str(REPO)}
GIT = ["git", "-c", "user.name=Test", "-c", "user.email=test@example.com",
       "-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false"]  # fmt: skip
# The line v1.1.0 changes, as v1.0.0 renders it into a project's Makefile and as v1.1.0 does.
HELP_V1_0 = "help: ## List the targets"
HELP_V1_1 = "help: ## List every target, with what it does"
NEW_FILE = "docs/STANDARD.md"  # added to the template by v1.1.0
MODEL = "src/ml_project/model.py"  # user-owned (`_skip_if_exists`)
UNMERGED_CODES = {"DD", "AU", "UD", "UA", "DU", "AA", "UU"}


def git(*args: str, cwd: Path) -> str:
    return run([*GIT, *args], cwd=cwd).stdout


@pytest.fixture(scope="module")
def kit(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A template repository with releases v1.0.0 (this working tree) and v1.1.0."""
    kit = tmp_path_factory.mktemp("kit")
    listed = run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO).stdout
    for name in filter(None, listed.split("\0")):
        source = REPO / name
        if source.is_file():
            (kit / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, kit / name)
    git("init", "--quiet", "--initial-branch=main", cwd=kit)
    git("add", "--all", cwd=kit)
    git("commit", "--quiet", "-m", "v1.0.0", cwd=kit)
    git("tag", "v1.0.0", cwd=kit)
    makefile = kit / "template" / "Makefile.jinja"
    assert HELP_V1_0 in makefile.read_text()
    makefile.write_text(makefile.read_text().replace(HELP_V1_0, HELP_V1_1))
    (kit / "template" / NEW_FILE).parent.mkdir(parents=True, exist_ok=True)
    (kit / "template" / NEW_FILE).write_text("# The standard\n\nNew in v1.1.0.\n")
    git("add", "--all", cwd=kit)
    git("commit", "--quiet", "-m", "v1.1.0", cwd=kit)
    git("tag", "v1.1.0", cwd=kit)
    return kit


@pytest.fixture(scope="module")
def pristine(kit: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project rendered from v1.0.0 and committed, as `copier copy` + `git init` leave it."""
    from copier import run_copy

    project = tmp_path_factory.mktemp("pristine") / "project"
    run_copy(str(kit), project, data=ANSWERS, defaults=True, vcs_ref="v1.0.0", quiet=True)
    git("init", "--quiet", "--initial-branch=main", cwd=project)
    git("add", "--all", cwd=project)
    git("commit", "--quiet", "-m", "Render v1.0.0", cwd=project)
    return project


@pytest.fixture
def project(pristine: Path, tmp_path: Path) -> Path:
    """A fresh copy of the pristine project (its git history included)."""
    return Path(shutil.copytree(pristine, tmp_path / "project", symlinks=True))


@pytest.fixture(autouse=True)
def github_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Step outputs go to a file of the test's own, also when the suite runs in GitHub Actions."""
    outputs = tmp_path / "github_output"
    monkeypatch.setenv("GITHUB_OUTPUT", str(outputs))
    yield outputs


def outputs_of(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines())


def run_doctor(project: Path, *args: str) -> tuple[int, str]:
    """`mlcore doctor` in this process; its exit status and what it printed."""
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = doctor.main(["--project", str(project), *args], prog="mlcore doctor")
    return status, out.getvalue()


def run_sync(project: Path, *args: str) -> int:
    return sync.main(["--project", str(project), *args], prog="mlcore sync")


def commit_all(project: Path, message: str) -> None:
    git("add", "--all", cwd=project)
    git("commit", "--quiet", "-m", message, cwd=project)


def status_codes(project: Path) -> dict[str, str]:
    out = git("status", "--porcelain=v1", "--untracked-files=all", cwd=project)
    return {line[3:]: line[:2] for line in out.splitlines()}


# --- doctor -----------------------------------------------------------------------------------


def test_doctor_on_a_fresh_repo_reports_versions_and_no_drift(project: Path) -> None:
    status, out = run_doctor(project)
    assert status == 0, out
    assert "This repo    v1.0.0" in out
    assert "Newest       v1.1.0: an update is available (make update)" in out
    assert "Drift        none" in out
    assert out.rstrip().endswith("On the standard.")
    status, out = run_doctor(project, "--newest-required")
    assert status == 1, out
    assert "v1.1.0 is out and the repository is on v1.0.0" in out


def test_doctor_names_a_changed_template_owned_file(project: Path) -> None:
    makefile = project / "Makefile"
    makefile.write_text(makefile.read_text() + "\nmine:\n\techo mine\n")
    status, out = run_doctor(project)
    assert status == 1, out
    assert "changed  Makefile" in out
    assert "Makefile differs from v1.0.0" in out


def test_doctor_leaves_user_owned_files_to_the_user(project: Path) -> None:
    model = project / MODEL
    model.write_text(model.read_text() + "\n# our own model\n")
    (project / "src" / "ml_project" / "data.py").unlink()
    status, out = run_doctor(project, "--json")
    assert status == 0, out
    report = json.loads(out)
    assert report["drift"]["changed"] == [] and report["drift"]["missing"] == []
    assert MODEL in report["drift"]["user_owned"]


def test_doctor_lists_edits_the_standard_invites_and_fails_only_on_drift(project: Path) -> None:
    """Configs, entry points and the README are standard files meant to be edited (copier.yml's
    `_mlcore_edit_freely`): reported, never drift. The Makefile is the standard's own."""
    trainer = project / "configs" / "trainer" / "default.yaml"
    trainer.write_text(trainer.read_text().replace("max_epochs: 20", "max_epochs: 50"))
    (project / "README.md").write_text((project / "README.md").read_text() + "\nOur notes.\n")
    (project / "configs" / "logger" / "wandb.yaml").unlink()
    status, out = run_doctor(project)
    assert status == 0, out
    assert "Drift        none: every other template-owned file matches v1.0.0" in out
    assert "Your edits   3 standard file(s) meant to be edited (not drift):" in out
    assert "edited   configs/trainer/default.yaml" in out and "edited   README.md" in out
    assert "deleted  configs/logger/wandb.yaml" in out
    assert out.rstrip().endswith("On the standard.")

    makefile = project / "Makefile"
    makefile.write_text(makefile.read_text() + "\nmine:\n\techo mine\n")
    status, out = run_doctor(project, "--json")
    assert status == 1, out
    drift = json.loads(out)["drift"]
    assert drift["changed"] == ["Makefile"] and drift["missing"] == []
    assert drift["edited"] == ["README.md", "configs/trainer/default.yaml"]
    assert drift["deleted"] == ["configs/logger/wandb.yaml"]


def test_doctor_reports_a_missing_template_owned_file(project: Path) -> None:
    (project / ".github" / "workflows" / "ci.yml").unlink()
    status, out = run_doctor(project)
    assert status == 1, out
    assert "missing  .github/workflows/ci.yml" in out


def test_doctor_json_is_machine_readable(project: Path) -> None:
    (project / ".pre-commit-config.yaml").write_text("repos: []\n")
    status, out = run_doctor(project, "--json")
    assert status == 1
    report = json.loads(out)
    assert report["version"] == "v1.0.0" and report["newest"] == "v1.1.0"
    assert report["update_available"] is True and report["source_error"] is None
    assert report["drift"]["checked"] is True
    assert report["drift"]["changed"] == [".pre-commit-config.yaml"]
    assert report["mlcore"]["status"] == "not-compared"  # installed from a local checkout
    assert report["on_standard"] is False and report["exit_code"] == 1


def test_doctor_says_when_the_source_is_unreachable(project: Path, tmp_path: Path) -> None:
    answers_file = project / ".copier-answers.yml"
    answers = yaml.safe_load(answers_file.read_text())
    answers["_src_path"] = str(tmp_path / "no-such-template")
    answers_file.write_text(yaml.safe_dump(answers))
    status, out = run_doctor(project)
    assert status == 0, out
    assert "Newest       unknown: cannot list the releases of" in out
    assert "Drift        unknown: not checked" in out
    assert out.rstrip().endswith("but drift was not checked (--strict fails).")
    status, out = run_doctor(project, "--strict")
    assert status == 1, out


def test_doctor_outside_a_generated_repo_is_a_usage_error(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mlcore", "doctor"], cwd=tmp_path, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    assert result.returncode == 2, result.stdout + result.stderr
    assert "no .copier-answers.yml here, so this is not a repository generated" in result.stderr


def answers(commit: str, source: str = "git") -> Answers:
    return Answers(Path("."), commit, "gh:org/kit", {"mlcore_source": source})


@pytest.mark.parametrize(
    ("commit", "source", "installed", "status"),
    [
        ("v1.2.3", "git", "1.2.3", "match"),
        ("v1.2.3", "index", "1.2.3", "match"),
        ("v1.2.3", "git", "1.2.4", "mismatch"),
        ("v1.2.3", "git", None, "mismatch"),
        ("v1.2.3", "path", "0.0.1.dev3", "not-compared"),
        ("0a4c0c9", "git", "1.2.3", "not-compared"),
        ("v1.2.3-4-g0a4c0c9", "git", "1.2.3", "not-compared"),
    ],
)
def test_mlcore_is_compared_with_the_release(
    commit: str, source: str, installed: str | None, status: str
) -> None:
    assert doctor.check_mlcore(answers(commit, source), installed).status == status


def test_releases_are_vxyz_tags_compared_as_numbers() -> None:
    assert newest_release(["v1.9.0", "v1.10.0", "v2.0.0rc1", "v1", "latest", "1.11.0"]) == "v1.10.0"
    assert newest_release(["main"]) is None


def test_mlcore_help_imports_no_copier(run_python) -> None:
    """The doctor and sync import Copier when they run; `mlcore --help` never does."""
    result = run_python(["-X", "importtime", "-m", "mlcore", "--help"])
    lines = [line for line in result.stderr.splitlines() if line.startswith("import time:")]
    imported = {line.rsplit("|", 1)[-1].strip().split(".")[0] for line in lines}
    assert "mlcore" in imported
    assert not imported & {"copier", "plumbum", "jinja2", "pydantic"}
    assert "doctor" in result.stdout and "sync" in result.stdout


# --- sync -------------------------------------------------------------------------------------


def test_sync_marks_conflicts_stages_everything_and_reports(
    project: Path, github_output: Path
) -> None:
    makefile = project / "Makefile"
    makefile.write_text(makefile.read_text().replace(HELP_V1_0, "help: ## Our own help text"))
    commit_all(project, "Our help text")
    report = project / ".template-sync.md"

    assert run_sync(project, "--report", str(report)) == 0

    text = report.read_text()
    assert text.startswith("# Template update: v1.0.0 → v1.1.0\n")
    conflicts = text.split("## Conflicts to resolve", 1)[1].split("##", 1)[0]
    assert "- [ ] `Makefile`" in conflicts
    assert f"| `{NEW_FILE}` | added |" in text
    lines = makefile.read_text().splitlines()
    assert any(line.startswith("<<<<<<< ") for line in lines)
    assert "help: ## Our own help text" in lines and HELP_V1_1 in lines
    # A clean index: nothing unmerged, every change staged, the new file included.
    assert git("ls-files", "--unmerged", cwd=project) == ""
    codes = status_codes(project)
    assert not set(codes.values()) & UNMERGED_CODES, codes
    # README.md names the release it was rendered from.
    assert codes == {"Makefile": "M ", ".copier-answers.yml": "M ", "README.md": "M ",
                     NEW_FILE: "A "}  # fmt: skip
    outputs = outputs_of(github_output)
    assert outputs == {"changed": "true", "conflicts": "1", "version": "v1.1.0",
                       "previous": "v1.0.0"}  # fmt: skip
    # What the pull-request action then does: a branch and a commit, markers included.
    git("checkout", "-B", "template-sync", cwd=project)
    git("commit", "--quiet", "-am", "Update to template v1.1.0", cwd=project)
    assert "<<<<<<< " in git("show", "HEAD:Makefile", cwd=project)
    assert git("show", f"HEAD:{NEW_FILE}", cwd=project).startswith("# The standard")
    assert status_codes(project) == {}


def test_sync_merges_cleanly_then_has_nothing_to_do(project: Path, github_output: Path) -> None:
    model = project / MODEL
    model.write_text(model.read_text() + "\n# our own model\n")
    commit_all(project, "Our model")
    report = project / ".template-sync.md"

    assert run_sync(project, "--report", str(report)) == 0
    assert "## Conflicts to resolve\n\nNone" in report.read_text()
    assert HELP_V1_1 in (project / "Makefile").read_text()
    assert model.read_text().endswith("# our own model\n")  # user-owned: left alone
    assert outputs_of(github_output)["conflicts"] == "0"
    commit_all(project, "Update to template v1.1.0")
    report.unlink()
    github_output.unlink()
    head = git("rev-parse", "HEAD", cwd=project)

    assert run_sync(project, "--report", str(report)) == 0
    assert outputs_of(github_output) == {"changed": "false", "conflicts": "0",
                                         "version": "v1.1.0", "previous": "v1.1.0"}  # fmt: skip
    assert not report.exists()
    assert git("rev-parse", "HEAD", cwd=project) == head
    assert status_codes(project) == {}
    status, out = run_doctor(project, "--newest-required")
    assert status == 0, out


def test_sync_refuses_a_dirty_tree(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "notes.txt").write_text("not committed\n")
    assert run_sync(project, "--report", str(project / ".template-sync.md")) == 2
    assert "the git tree is not clean" in capsys.readouterr().err
    assert yaml.safe_load((project / ".copier-answers.yml").read_text())["_commit"] == "v1.0.0"
    assert status_codes(project) == {"notes.txt": "??"}
    assert not (project / ".template-sync.md").exists()


def test_sync_outside_a_generated_repo_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_sync(tmp_path) == 2
    assert "not a repository generated from the template" in capsys.readouterr().err
