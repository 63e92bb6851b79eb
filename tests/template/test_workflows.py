"""The GitHub side of the standard: workflows and dependabot, validated offline.

Each generated `.github/` file (and this repository's own workflow) is checked against the
schemas check-jsonschema vendors (`vendor.github-workflows`, `vendor.dependabot`), audited by
zizmor offline with its strictest persona, and read as YAML: actions pinned by commit SHA, least
privilege (CI only reads; the template sync may push its branch and open its pull request, and
nothing else), and every `run:` step a target of the rendered Makefile, so CI runs exactly the
steps the generated-project tests run.
"""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO
from tests.template.conftest import render

BIN = Path(sys.executable).parent
ZIZMOR = BIN / "zizmor"
CHECK_JSONSCHEMA = BIN / "check-jsonschema"
# Every finding zizmor can make without the network, none filtered or ignored: any finding, any
# schema or syntax error fails (zizmor exits 10-14 on findings, 1-3 on errors). The auditor
# persona is its strictest (pedantic's audits and more, such as secrets-outside-env).
ZIZMOR_FLAGS = [
    "--offline", "--persona=auditor", "--min-severity=informational", "--min-confidence=low",
    "--no-config", "--no-ignores", "--strict-collection", "--format=json", "--quiet",
]  # fmt: skip

INDEX = "https://pypi.internal.example.com/simple"
ANSWER_SETS = {
    "defaults": ({}, True),
    "py312": ({"project_name": "Churn Model", "python_version": "3.12", "use_gpu": True}, True),
    "py313-index": (
        {"python_version": "3.13", "mlcore_source": "index", "mlcore_index_url": INDEX,
         "license": "Proprietary", "deploy_target": "none"},
        False,
    ),
}  # fmt: skip

OWN_WORKFLOW = REPO / ".github" / "workflows" / "ci.yml"
READ_ONLY = {"contents": "read"}
# What the jobs of each generated workflow may do; a new workflow must be listed here.
JOB_PERMISSIONS = {
    "ci.yml": READ_ONLY,
    "template-sync.yml": {"contents": "write", "pull-requests": "write"},
    # The release pushes the images to the repository's own packages (ghcr.io).
    "release.yml": {"contents": "read", "packages": "write"},
    "train.yml": READ_ONLY,
    # Per job (job name -> permissions): only the job that starts train.yml may start workflows.
    "monitor.yml": {"check": READ_ONLY, "retrain": {"actions": "write", "contents": "read"}},
    # Builds the images on pull requests, pushes nothing.
    "images.yml": READ_ONLY,
}
# Findings a generated file silences with an inline `# zizmor: ignore[...]` comment, each with
# its reason there: the template sync opens its pull request with peter-evans/create-pull-request
# (pedantic zizmor would script `gh pr create` instead).
ALLOWED_FINDINGS = {
    "template-sync.yml": [("superfluous-actions", "peter-evans/create-pull-request@")]
}
SHA_PIN = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")
# The first major release of each pinned action that runs on Node 24 (GitHub retires Node 20 on
# its runners): from their release notes. A new action must be listed here.
NODE24_MAJOR = {
    "actions/checkout": 5,
    "actions/setup-python": 6,
    "actions/cache": 5,
    "actions/upload-artifact": 5,
    "peter-evans/create-pull-request": 8,
}
# The GitHub environment whose secrets the jobs that reach the team MLflow server read.
SECRETS_ENVIRONMENT = "mlflow"
# `uses: owner/action@<sha> # vX.Y.Z`: the version a reader (and dependabot) sees next to the SHA.
USES_LINE = re.compile(r"^\s*(?:-\s*)?uses:\s*(\S+)\s*(?:#\s*(\S+))?\s*$")
MAKE_TARGET = re.compile(r"^([A-Za-z0-9][\w.-]*):(?!=)", re.MULTILINE)
TRIVIAL_COMMANDS = {"echo", "true", ":"}
TORCH_CPU = "https://download.pytorch.org/whl/cpu"
EXPECTED_JOBS = {"lint": ["setup", "lint", "precommit"], "test": ["setup", "test"],
                 "smoke": ["setup", "smoke"], "manifests": ["setup", "check-deploy"]}  # fmt: skip


def tool(path: Path) -> str:
    if not path.is_file():
        pytest.fail(f"{path.name} is not installed: `pip install -e '.[dev]'` installs it")
    return str(path)


def load(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


def triggers(workflow: dict[str, Any]) -> dict[str, Any]:
    """The `on:` mapping (PyYAML reads the bare key `on` as the boolean True)."""
    return workflow.get("on", workflow.get(True))


def steps(workflow: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, job in workflow["jobs"].items():
        for step in job.get("steps", []):
            yield name, step


def run_lines(step: dict[str, Any]) -> list[str]:
    lines = [line.strip() for line in str(step.get("run", "")).splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def makefile_targets(makefile: Path) -> set[str]:
    return set(MAKE_TARGET.findall(makefile.read_text()))


def make_targets_called(line: str) -> list[str]:
    """The targets of a `make ...` command line (variables and options left out)."""
    words = shlex.split(line)
    assert words[0] == "make", line
    return [word for word in words[1:] if "=" not in word and not word.startswith("-")]


def zizmor(*paths: Path, ignores: bool = False) -> subprocess.CompletedProcess[str]:
    """zizmor with ZIZMOR_FLAGS; with ignores, inline `# zizmor: ignore[...]` comments count."""
    flags = [flag for flag in ZIZMOR_FLAGS if not (ignores and flag == "--no-ignores")]
    command = [tool(ZIZMOR), *flags, *map(str, paths)]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def check_jsonschema(schema: str, *paths: Path) -> subprocess.CompletedProcess[str]:
    command = [tool(CHECK_JSONSCHEMA), "--builtin-schema", schema, *map(str, paths)]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module", params=sorted(ANSWER_SETS))
def project(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    answers, local_mlcore = ANSWER_SETS[request.param]
    return render(tmp_path_factory.mktemp(request.param) / "project", answers, local_mlcore)


def generated_workflows(project: Path) -> list[Path]:
    workflows = sorted((project / ".github" / "workflows").glob("*.y*ml"))
    assert workflows, "the template ships no workflow"
    return workflows


def answers_of(project: Path) -> dict[str, Any]:
    return load(project / ".copier-answers.yml")


# --- schemas and zizmor ---------------------------------------------------------------------


def test_generated_workflows_match_the_github_schema(project: Path) -> None:
    result = check_jsonschema("vendor.github-workflows", *generated_workflows(project))
    assert result.returncode == 0, result.stdout + result.stderr


def test_generated_dependabot_matches_its_schema(project: Path) -> None:
    result = check_jsonschema("vendor.dependabot", project / ".github" / "dependabot.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_zizmor_finds_nothing_in_generated_github_files(project: Path) -> None:
    """Nothing, with no ignore honoured, except the findings ALLOWED_FINDINGS lists by file."""
    paths = [*generated_workflows(project), project / ".github" / "dependabot.yml"]
    strict = [path for path in paths if path.name not in ALLOWED_FINDINGS]
    result = zizmor(*strict)
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout) == []
    for path in (path for path in paths if path.name in ALLOWED_FINDINGS):
        audit = zizmor(path)
        findings = [
            (finding["ident"], location["concrete"]["feature"])
            for finding in json.loads(audit.stdout)
            for location in finding["locations"]
            if location["symbolic"]["kind"] == "Primary"
        ]
        assert len(findings) == len(ALLOWED_FINDINGS[path.name]), audit.stdout
        for (ident, feature), (allowed, where) in zip(
            findings, ALLOWED_FINDINGS[path.name], strict=True
        ):
            assert ident == allowed and where in feature, (ident, feature)
        # ...and each is silenced in the file itself, so zizmor as teams run it finds nothing.
        honoured = zizmor(path, ignores=True)
        assert honoured.returncode == 0, honoured.stdout + honoured.stderr
        assert json.loads(honoured.stdout) == []


def test_own_workflow_matches_the_schema_and_zizmor_finds_nothing() -> None:
    schema = check_jsonschema("vendor.github-workflows", OWN_WORKFLOW)
    assert schema.returncode == 0, schema.stdout + schema.stderr
    audit = zizmor(OWN_WORKFLOW)
    assert audit.returncode == 0, audit.stdout + audit.stderr
    assert json.loads(audit.stdout) == []


def test_the_checks_catch_a_bad_workflow_and_a_bad_dependabot(tmp_path: Path) -> None:
    """The flags above leave the exit codes meaningful: a known-bad file fails both tools."""
    bad = tmp_path / ".github" / "workflows" / "bad.yml"
    bad.parent.mkdir(parents=True)
    bad.write_text(
        "on: pull_request_target\n"
        "jobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - uses: actions/checkout@v4\n"
        '      - run: echo "${{ github.event.pull_request.title }}"\n'
    )
    audit = zizmor(bad)
    assert audit.returncode >= 10, audit.stdout + audit.stderr
    found = {finding["ident"] for finding in json.loads(audit.stdout)}
    assert {"unpinned-uses", "template-injection", "artipacked"} <= found
    dependabot = tmp_path / "dependabot.yml"
    dependabot.write_text("version: 2\nupdates:\n  - package-ecosystem: pip\n    directory: /\n")
    assert check_jsonschema("vendor.dependabot", dependabot).returncode != 0  # no schedule


def test_the_auditor_persona_finds_secrets_outside_an_environment(tmp_path: Path) -> None:
    """What the auditor persona adds is on: a job reading a secret without an environment."""
    workflow = tmp_path / ".github" / "workflows" / "secret.yml"
    workflow.parent.mkdir(parents=True)
    workflow.write_text(
        "on: workflow_dispatch\npermissions: {}\n"
        "jobs:\n  a:\n    runs-on: ubuntu-latest\n    timeout-minutes: 5\n"
        "    env:\n      TOKEN: ${{ secrets.TOKEN }}\n"
        "    steps:\n      - run: echo hello\n"
    )
    audit = zizmor(workflow)
    assert audit.returncode >= 10, audit.stdout + audit.stderr
    assert "secrets-outside-env" in {finding["ident"] for finding in json.loads(audit.stdout)}


def test_jobs_that_read_secrets_name_the_mlflow_environment(project: Path) -> None:
    readers = set()
    for workflow_path in generated_workflows(project):
        for name, job in load(workflow_path)["jobs"].items():
            text = yaml.safe_dump(job)
            if re.search(r"secrets\.(?!GITHUB_TOKEN\b)", text):
                readers.add(f"{workflow_path.name}:{name}")
                assert job.get("environment") == SECRETS_ENVIRONMENT, (workflow_path.name, name)
    assert readers == {"train.yml:train", "monitor.yml:check"}
    readme = (project / "README.md").read_text()
    assert f"GitHub environment `{SECRETS_ENVIRONMENT}`" in readme


def test_pinned_actions_run_on_node_24(project: Path) -> None:
    for workflow_path in [*generated_workflows(project), OWN_WORKFLOW]:
        for line in workflow_path.read_text().splitlines():
            match = USES_LINE.match(line)
            if not match:
                continue
            action, version = match[1].split("@")[0], match[2]
            assert action in NODE24_MAJOR, f"{action}: add its first Node 24 major to NODE24_MAJOR"
            major = int(version.removeprefix("v").split(".")[0])
            assert major >= NODE24_MAJOR[action], f"{workflow_path.name}: {line.strip()} (Node 20)"


# --- structure ------------------------------------------------------------------------------


def assert_secure(
    workflow_path: Path, job_permissions: dict[str, Any] = READ_ONLY
) -> dict[str, Any]:
    """Rules every workflow follows, generated or our own; returns the parsed workflow.

    Read-only workflows say so at the top; one whose jobs write grants nothing at the top and
    exactly job_permissions to each job (or, given per job name, to that job).
    """
    workflow = load(workflow_path)
    per_job = all(isinstance(value, dict) for value in job_permissions.values())
    if job_permissions == READ_ONLY:
        assert workflow["permissions"] == READ_ONLY, "top-level permissions: contents: read"
    else:
        assert workflow["permissions"] == {}, "top-level permissions: {} (the jobs say what)"
    if per_job:
        assert set(workflow["jobs"]) == set(job_permissions), "a job without its permissions"
    for name, job in workflow["jobs"].items():
        if job_permissions == READ_ONLY:
            assert "permissions" not in job or job["permissions"] == READ_ONLY, name
        else:
            expected = job_permissions[name] if per_job else job_permissions
            assert job["permissions"] == expected, name
        assert isinstance(job.get("timeout-minutes"), int), f"job {name} has no timeout-minutes"
    for name, step in steps(workflow):
        uses = step.get("uses")
        if uses:
            assert SHA_PIN.match(uses), f"{name}: `{uses}` is not pinned to a commit SHA"
        if str(uses).startswith("actions/checkout@"):
            assert step["with"]["persist-credentials"] is False, f"{name}: checkout keeps creds"
    for line in workflow_path.read_text().splitlines():
        match = USES_LINE.match(line)
        if match:
            assert match[2] and re.match(r"^v\d+(\.\d+)*$", match[2]), f"no version: {line}"
    return workflow


def assert_runs_on_every_change(workflow: dict[str, Any]) -> None:
    """CI: every push to main, every pull request, on demand; a newer push cancels the run."""
    assert workflow["concurrency"]["group"] == "${{ github.workflow }}-${{ github.ref }}"
    assert workflow["concurrency"]["cancel-in-progress"] is True
    on = triggers(workflow)
    assert on["push"] == {"branches": ["main"]}
    assert "pull_request" in on and "workflow_dispatch" in on


def test_generated_workflow_is_secure_and_calls_only_make_targets(project: Path) -> None:
    targets = makefile_targets(project / "Makefile")
    workflows = generated_workflows(project)
    assert {path.name for path in workflows} == set(JOB_PERMISSIONS)
    for workflow_path in workflows:
        workflow = assert_secure(workflow_path, JOB_PERMISSIONS[workflow_path.name])
        for name, step in steps(workflow):
            for line in run_lines(step):
                command = shlex.split(line)[0]
                if command == "make":
                    missing = set(make_targets_called(line)) - targets
                    assert not missing, f"{name}: `{line}` calls targets not in the Makefile"
                else:
                    assert command in TRIVIAL_COMMANDS, f"{name}: `{line}` is not a make target"


def test_env_of_make_steps_is_read_by_the_makefile(project: Path) -> None:
    """A variable a workflow sets for a `make` step is one the Makefile reads (a misspelt
    name would be ignored silently), or one the tool a target runs reads itself (gh)."""
    makefile = (project / "Makefile").read_text()
    read_by_gh = {"GH_TOKEN", "GH_REPO"}
    for workflow_path in generated_workflows(project):
        for name, step in steps(load(workflow_path)):
            for variable in set(step.get("env", {})) - read_by_gh:
                used = re.compile(rf"\$\({variable}\)|^{variable} *\??=|\$\$\{{?{variable}\b", re.M)
                assert used.search(makefile), f"{name}: the Makefile never reads {variable}"


def test_generated_ci_runs_the_standard_jobs(project: Path) -> None:
    answers = answers_of(project)
    workflow = load(project / ".github" / "workflows" / "ci.yml")
    assert_runs_on_every_change(workflow)
    assert workflow["env"]["TORCH_INDEX"] == TORCH_CPU
    called = {
        name: [t for step in job["steps"] for line in run_lines(step)
               for t in make_targets_called(line)]
        for name, job in workflow["jobs"].items()
    }  # fmt: skip
    assert called == EXPECTED_JOBS
    for name, step in steps(workflow):
        uses = step.get("uses", "")
        if uses.startswith("actions/setup-python@"):
            assert step["with"]["python-version"] == answers["python_version"], name
            assert step["with"]["cache"] == "pip"
            assert set(step["with"]["cache-dependency-path"].split()) == {
                "pyproject.toml", "requirements-lock.txt"}  # fmt: skip
        if uses.startswith("actions/cache@"):
            assert step["with"]["path"] == "~/.cache/pre-commit"
            assert "hashFiles('.pre-commit-config.yaml')" in step["with"]["key"]
    lint = workflow["jobs"]["lint"]["steps"]
    cached = any(step.get("uses", "").startswith("actions/cache@") for step in lint)
    assert cached, "the lint job caches pre-commit's environments"


def test_generated_dependabot_updates_pip_and_actions_weekly(project: Path) -> None:
    config = load(project / ".github" / "dependabot.yml")
    updates = {update["package-ecosystem"]: update for update in config["updates"]}
    assert set(updates) == {"pip", "github-actions", "docker"}
    assert updates["docker"]["directories"] == ["/deploy", "/deploy/mlflow"]
    for update in updates.values():
        assert update.get("directory", "/") == "/"
        assert update["schedule"]["interval"] == "weekly"
        assert 0 < update["open-pull-requests-limit"] <= 10
        assert update["commit-message"]["prefix"]
    groups = updates["pip"]["groups"].values()
    assert any(set(group.get("update-types", [])) == {"minor", "patch"} for group in groups)


def test_readme_documents_ci(project: Path) -> None:
    readme = (project / "README.md").read_text()
    assert "## CI" in readme
    assert "`.github/workflows/ci.yml`" in readme and "`.github/dependabot.yml`" in readme


def test_generated_workflow_and_own_workflow_pin_the_same_versions(project: Path) -> None:
    def pins(workflow: dict[str, Any]) -> dict[str, str]:
        return dict(step["uses"].split("@") for _, step in steps(workflow) if "uses" in step)

    pinned: dict[str, str] = pins(load(OWN_WORKFLOW))
    for workflow_path in generated_workflows(project):
        for action, sha in pins(load(workflow_path)).items():
            assert pinned.setdefault(action, sha) == sha, f"{workflow_path.name}: {action}"


def test_generated_images_workflow_builds_on_pull_requests_touching_what_images_hold(
    project: Path,
) -> None:
    """Every file a Dockerfile copies (and the Dockerfiles, the lock and the Makefile) is among the
    paths that start the build; it runs `make images` and pushes nothing."""
    workflow = load(project / ".github" / "workflows" / "images.yml")
    paths = triggers(workflow)["pull_request"]["paths"]
    held = {"Makefile", "requirements-lock.txt", ".dockerignore"}
    for dockerfile in (project / "deploy").glob("*Dockerfile"):
        held.add(f"deploy/{dockerfile.name}")
        for line in dockerfile.read_text().splitlines():
            words = line.split()
            if words[:1] == ["COPY"] and not any(w.startswith("--from") for w in words):
                for source in words[1:-1]:
                    held.add(source.replace("requirements-lock.tx[t]", "requirements-lock.txt"))
    for path in sorted(held):
        matched = any(fnmatch.fnmatch(path, p) or fnmatch.fnmatch(f"{path}/x", p) for p in paths)
        assert matched, f"images.yml does not build when {path} changes"
    called = [t for _, step in steps(workflow) for line in run_lines(step)
              for t in make_targets_called(line)]  # fmt: skip
    assert called == ["images"]
    assert "push" not in called and workflow["permissions"] == READ_ONLY


def test_generated_template_sync_opens_a_pull_request(project: Path) -> None:
    """Weekly and on demand: `make setup`, `make template-sync`, then the pull request."""
    answers = answers_of(project)
    workflow = load(project / ".github" / "workflows" / "template-sync.yml")
    on = triggers(workflow)
    assert set(on) == {"schedule", "workflow_dispatch"}  # never on untrusted pull-request code
    [schedule] = on["schedule"]
    _minute, _hour, day, month, weekday = schedule["cron"].split()
    assert (day, month) == ("*", "*") and weekday.isdigit(), "once a week"
    assert workflow["concurrency"]["cancel-in-progress"] is False
    assert workflow["env"]["TORCH_INDEX"] == TORCH_CPU
    [(name, job)] = workflow["jobs"].items()
    called = [
        t for step in job["steps"] for line in run_lines(step) for t in make_targets_called(line)
    ]
    assert called == ["setup", "template-sync"], name
    by_action = {step["uses"].split("@")[0]: step for step in job["steps"] if "uses" in step}
    assert set(by_action) == {
        "actions/checkout", "actions/setup-python", "peter-evans/create-pull-request"}  # fmt: skip
    checkout = by_action["actions/checkout"]["with"]
    assert checkout == {"fetch-depth": 0, "persist-credentials": False}
    assert by_action["actions/setup-python"]["with"]["python-version"] == answers["python_version"]
    [sync] = [step for step in job["steps"] if step.get("run") == "make template-sync"]
    pull_request = by_action["peter-evans/create-pull-request"]
    assert job["steps"][-1] is pull_request
    assert pull_request["if"] == f"steps.{sync['id']}.outputs.changed == 'true'"
    options = pull_request["with"]
    assert options["branch"] == "template-sync" and options["delete-branch"] is True
    assert f"${{{{ steps.{sync['id']}.outputs.version }}}}" in options["title"]
    assert options["labels"]
    # The body is the report `make template-sync` writes, which git ignores (not in the commit).
    makefile = (project / "Makefile").read_text()
    assert f"SYNC_REPORT ?= {options['body-path']}" in makefile
    assert f"/{options['body-path']}" in (project / ".gitignore").read_text().splitlines()


def test_readme_documents_staying_on_the_standard(project: Path) -> None:
    readme = (project / "README.md").read_text()
    assert "## Staying on the standard" in readme
    assert "`.github/workflows/template-sync.yml`" in readme
    for command in ("make update", "make doctor", "<<<<<<<", "--exclude", "Renovate"):
        assert command in readme, command


def test_own_workflow_runs_ci_run() -> None:
    workflow = assert_secure(OWN_WORKFLOW)
    assert_runs_on_every_change(workflow)
    [(name, job)] = workflow["jobs"].items()
    assert job["runs-on"].startswith("ubuntu-"), name
    assert job["timeout-minutes"] == 60
    env = {**workflow.get("env", {}), **job.get("env", {})}
    assert env["CI"] == "true" and env["TORCH_INDEX"] == TORCH_CPU
    commands = [line for step in job["steps"] for line in run_lines(step)]
    assert commands == ["bash .ci/run"]
    pythons = [
        step["with"]["python-version"]
        for step in job["steps"]
        if step.get("uses", "").startswith("actions/setup-python@")
    ]
    assert pythons == ["3.11"]


def test_ci_run_calls_only_targets_of_our_makefile() -> None:
    targets = makefile_targets(REPO / "Makefile")
    lines = (REPO / ".ci" / "run").read_text().splitlines()
    called = [t for line in lines if line.startswith("make ") for t in make_targets_called(line)]
    assert called, ".ci/run calls no make target"
    assert set(called) <= targets, set(called) - targets
