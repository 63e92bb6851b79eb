"""The questions: defaults, derived answers, validation messages, and the answers file."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pexpect
import pytest
import yaml

from tests.conftest import REPO, run
from tests.template.conftest import Render

COPIER_YML = yaml.safe_load((REPO / "copier.yml").read_text())
QUESTIONS = {name: spec for name, spec in COPIER_YML.items() if not name.startswith("_")}
ASKED = {name: spec for name, spec in QUESTIONS.items() if spec.get("when") is not False}
COPIER = str(Path(sys.executable).with_name("copier"))
LEFTOVER_JINJA = re.compile(r"(?<!\$)\{\{|\{%|\{#")


def test_template_never_needs_trust() -> None:
    assert not {"_tasks", "_jinja_extensions", "_migrations"} & set(COPIER_YML)
    assert COPIER_YML["_subdirectory"] == "template"
    assert COPIER_YML["_min_copier_version"]


@pytest.mark.parametrize("name", sorted(ASKED))
def test_every_question_has_help_and_default(name: str) -> None:
    spec = ASKED[name]
    assert spec.get("help"), f"{name} has no help text"
    assert "default" in spec, f"{name} has no default"
    assert "validator" in spec or "choices" in spec or spec["type"] == "bool", name


def test_defaults_render_and_record_answers(render_to: Render) -> None:
    project = render_to()
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert answers["_src_path"] == str(REPO)
    assert answers["_commit"]
    assert answers["package_name"] == "ml_project"
    assert set(ASKED) - {"mlcore_git_url", "mlcore_index_url"} <= set(answers)
    assert not {"mlcore_ref", "mlcore_version", "mlcore_requirement"} & set(answers)


def test_names_are_derived_from_the_project_name(render_to: Render) -> None:
    project = render_to({"project_name": "Churn Model 2 (EU)"})
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert answers["package_name"] == "churn_model_2_eu"
    assert answers["project_slug"] == "churn-model-2-eu"
    assert (project / "src" / "churn_model_2_eu" / "train.py").is_file()


def test_no_file_keeps_template_syntax(render_to: Render) -> None:
    project = render_to()
    for path in project.rglob("*"):
        if path.is_file():
            assert not LEFTOVER_JINJA.search(path.read_text()), f"unrendered Jinja in {path}"
            assert "{{" not in path.name and not path.name.endswith(".jinja"), path


def test_git_tracks_every_rendered_file(render_to: Render) -> None:
    """The generated .gitignore must not hide any file the template ships."""
    project = render_to()
    rendered = {p.relative_to(project).as_posix() for p in project.rglob("*") if p.is_file()}
    run(["git", "init", "--quiet"], cwd=project)
    ignored = run(["git", "ls-files", "--others", "--ignored", "--exclude-standard"], cwd=project)
    assert not set(ignored.stdout.split()) & rendered


INVALID_ANSWERS = [
    ("project_name", "   ", "project name is empty"),
    ("package_name", "My-Model", "not a valid package name"),
    ("package_name", "2fast", "not a valid package name"),
    ("package_name", "class", "is a Python keyword"),
    ("package_name", "lambda", "is a Python keyword"),
    ("package_name", "torch", "would shadow the module"),
    ("project_slug", "Bad Slug", "not a valid distribution name"),
    ("author_email", "someone-at-example", "not an email address"),
    ("python_version", "3.9", "'3.9' is not in"),
    ("python_version", "3.14", "'3.14' is not in"),
    ("license", "WTFPL", "is not in"),
    ("mlcore_source", "pypi", "'pypi' is not in"),
    ("mlcore_path", "relative/checkout", "not an absolute path"),
]


@pytest.mark.parametrize(("question", "answer", "message"), INVALID_ANSWERS)
def test_invalid_answer_is_rejected_with_its_message(
    render_to: Render, question: str, answer: str, message: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        render_to({question: answer})


@pytest.mark.parametrize("index", ["https://pypi.org/simple", "https://files.pythonhosted.org/x"])
def test_public_pypi_is_refused_as_mlcore_index(render_to: Render, index: str) -> None:
    with pytest.raises(ValueError, match="its `mlcore` is an unrelated package"):
        render_to({"mlcore_source": "index", "mlcore_index_url": index})


def test_git_url_must_be_a_git_url(render_to: Render) -> None:
    with pytest.raises(ValueError, match="is not a git URL"):
        render_to({"mlcore_source": "git", "mlcore_git_url": "github.com/org/repo"})


def test_prompt_rejects_an_invalid_answer_and_asks_again(tmp_path: Path) -> None:
    """At the interactive prompt, a keyword package name is refused in place, then fixed."""
    command = ["copy", "--vcs-ref", "HEAD", str(REPO), str(tmp_path / "p")]
    child = pexpect.spawn(COPIER, command, encoding="utf-8", timeout=30, dimensions=(50, 250))
    try:
        child.expect("project name")
        child.sendline("")  # keep the default
        child.expect("import name")
        child.send("\x15class")  # clear the derived default, type a keyword
        child.sendline("")
        child.expect("Python keyword")
        child.send("\x15" + "ml_project")
        child.sendline("")
        child.expect("Distribution and repository name")  # the next question: accepted
    finally:
        child.terminate(force=True)


def test_copy_needs_no_trust_flag(tmp_path: Path) -> None:
    """`copier copy` as a user types it: no --trust, nothing asked after --defaults."""
    destination = tmp_path / "p"
    command = [COPIER, "copy", "--defaults", "--vcs-ref", "HEAD", "--data", "mlcore_source=path",
               "--data", f"mlcore_path={REPO}", str(REPO), str(destination)]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert (destination / "Makefile").is_file()
