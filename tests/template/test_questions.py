"""The questions: defaults, derived answers, validation messages, and the answers file."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pexpect
import pytest
import yaml

from tests.conftest import REPO, run
from tests.template.conftest import Render

sys.path.insert(0, str(REPO / "tools"))
import reserved_names

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
    ("package_name", "json", "is a module of Python's standard library"),
    ("package_name", "os", "is a module of Python's standard library"),
    ("package_name", "sys", "is a module of Python's standard library"),
    ("package_name", "yaml", "would shadow the module"),  # PyYAML's, a dependency's dependency
    ("package_name", "google", "would shadow the module"),  # protobuf's namespace
    ("project_slug", "Bad Slug", "not a valid distribution name"),
    ("author_email", "someone-at-example", "not an email address"),
    ("python_version", "3.9", "'3.9' is not in"),
    ("python_version", "3.14", "'3.14' is not in"),
    ("license", "WTFPL", "is not in"),
    ("mlcore_source", "pypi", "'pypi' is not in"),
    ("mlcore_path", "relative/checkout", "not an absolute path"),
    ("use_gpu", "maybe", '"maybe" is not an answer to a yes-or-no question: answer yes or no'),
    ("use_gpu", "2", "answer yes or no"),
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


REFUSED_GIT_URLS = [
    ("github.com/org/repo", "is not a git URL pip can install: use https://host/org/repo.git, "
     "ssh://git@host/org/repo.git, git://host/org/repo.git or file:///absolute/path/to/repo"),
    (".", "is not a git URL pip can install"),  # a template copied from a relative path
    ("file://relative/repo", "is not a git URL pip can install"),
    ("git@github.com:org/repo.git",
     "is scp-like syntax, which pip cannot install: write it as ssh://git@github.com/org/repo.git"),
    ("git+https://github.com/org/repo.git",
     'without pip\'s "git+" (it is added to the requirement): https://github.com/org/repo.git'),
]  # fmt: skip
ACCEPTED_GIT_URLS = [
    "https://git.example.com/org/kit.git",
    "http://git.example.com/org/kit.git",
    "ssh://git@git.example.com/org/kit.git",
    "git://git.example.com/org/kit.git",
    "file:///srv/git/kit.git",
]


@pytest.mark.parametrize(("url", "message"), REFUSED_GIT_URLS)
def test_git_url_must_be_one_pip_can_install(render_to: Render, url: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        render_to({"mlcore_source": "git", "mlcore_git_url": url})


@pytest.mark.parametrize("url", ACCEPTED_GIT_URLS)
def test_pips_git_url_forms_are_pinned_as_given(render_to: Render, url: str) -> None:
    project = render_to({"mlcore_source": "git", "mlcore_git_url": url}, local_mlcore=False)
    assert f'"mlcore[train] @ git+{url}@' in (project / "pyproject.toml").read_text()


def test_default_git_url_is_where_the_template_was_copied_from(render_to: Render) -> None:
    project = render_to({"mlcore_source": "git"}, local_mlcore=False)
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert answers["mlcore_git_url"] == f"file://{REPO}"


def test_a_relative_source_defaults_to_the_published_repository(
    render_to: Render, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pip cannot be told a relative path: the default is then the published repository."""
    monkeypatch.chdir(REPO)
    project = render_to({"mlcore_source": "git"}, local_mlcore=False, src=".")
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert answers["_src_path"] == "."
    assert answers["mlcore_git_url"] == "https://github.com/ml-platform-kit/ml-platform-kit.git"


@pytest.mark.parametrize(
    ("given", "recorded"), [("yes", True), ("no", False), ("Off", False), ("1", True), (True, True)]
)
def test_use_gpu_is_recorded_as_a_boolean(render_to: Render, given: object, recorded: bool) -> None:
    project = render_to({"use_gpu": given})
    assert yaml.safe_load((project / ".copier-answers.yml").read_text())["use_gpu"] is recorded


def test_reserved_module_names_are_current() -> None:
    """copier.yml lists every module name of this Python and of the generated project's
    dependencies as installed here; `python tools/reserved_names.py` rewrites the lists."""
    assert reserved_names.main(["--check"]) == 0, "run `python tools/reserved_names.py`"


def test_reserved_names_check_notices_a_missing_name(tmp_path: Path) -> None:
    for relative in ("copier.yml", "template/pyproject.toml.jinja"):
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text((REPO / relative).read_text())
    stale = (tmp_path / "copier.yml").read_text().replace("'json', ", "", 1)
    (tmp_path / "copier.yml").write_text(stale)
    assert reserved_names.main(["--check", "--repo", str(tmp_path)]) == 1


def test_prompt_rejects_an_invalid_answer_and_asks_again(tmp_path: Path) -> None:
    """At the interactive prompt, a keyword package name is refused in place, then fixed."""
    child = prompt(tmp_path)
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


# The prompts before use_gpu's with mlcore from git (the default), by words of their help.
QUESTIONS_BEFORE_USE_GPU = [
    "project name", "import name", "Distribution and repository name", "One sentence",
    "Your name", "Contact email", "Python version", "License", "installs mlcore from",
    "Git URL of the ML Platform Kit",
]  # fmt: skip


def prompt(tmp_path: Path, *options: str) -> pexpect.spawn:
    command = ["copy", "--vcs-ref", "HEAD", *options, str(REPO), str(tmp_path / "p")]
    # prompt_toolkit would wait about a second per question for a cursor position report.
    env = {**os.environ, "PROMPT_TOOLKIT_NO_CPR": "1"}
    return pexpect.spawn(
        COPIER, command, env=env, encoding="utf-8", timeout=30, dimensions=(50, 250)
    )


def answer(child: pexpect.spawn, text: str) -> None:
    """Clear the prefilled default and type text, then Enter."""
    child.send("\x15" + text)
    child.sendline("")


def test_prompt_refuses_a_standard_library_module_name(tmp_path: Path) -> None:
    child = prompt(tmp_path)
    try:
        child.expect("project name")
        child.sendline("")
        child.expect("import name")
        answer(child, "json")
        child.expect("is a module of Python's standard library")
        answer(child, "json_tools")
        child.expect("Distribution and repository name")
    finally:
        child.terminate(force=True)


@pytest.mark.parametrize("data", [[], ["--data", "use_gpu=maybe"]])
def test_use_gpu_is_a_yes_or_no_question_at_the_prompt_too(tmp_path: Path, data: list[str]) -> None:
    """Asked, use_gpu is Copier's y/N question (no word but yes or no can be typed), recorded as
    a boolean; given with --data in an interactive copy, `maybe` is refused when its turn comes."""
    child = prompt(tmp_path, *data)
    try:
        for question in QUESTIONS_BEFORE_USE_GPU:  # every default kept
            child.expect(question)
            child.sendline("")
        if data:
            child.expect('"maybe" is not an answer to a yes-or-no question: answer yes or no')
            child.expect(pexpect.EOF)
            assert not (tmp_path / "p").exists(), "nothing is written"
            return
        child.expect("NVIDIA GPUs")
        child.send("y")
        child.expect("Where the trained model is served")  # the next question
        child.sendline("")
        child.expect(pexpect.EOF, timeout=120)
    finally:
        child.terminate(force=True)
    answers = yaml.safe_load((tmp_path / "p" / ".copier-answers.yml").read_text())
    assert answers["use_gpu"] is True


def test_copy_needs_no_trust_flag(tmp_path: Path) -> None:
    """`copier copy` as a user types it: no --trust, nothing asked after --defaults."""
    destination = tmp_path / "p"
    command = [COPIER, "copy", "--defaults", "--vcs-ref", "HEAD", "--data", "mlcore_source=path",
               "--data", f"mlcore_path={REPO}", str(REPO), str(destination)]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert (destination / "Makefile").is_file()
