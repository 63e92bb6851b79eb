"""Every variant renders the exact files it should, with no template syntax left, and lints clean.

The variants that run on this Python are also set up, tested and trained, in
test_generated_project.py.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO, run
from tests.template.conftest import SHARED_ENV, render
from tests.template.variants import VARIANTS

COPIER_YML = yaml.safe_load((REPO / "copier.yml").read_text())
LEFTOVER_JINJA = re.compile(r"(?<!\$)\{\{|\{%|\{#|\{%-|-%\}")
SHARED_BIN = str(Path(SHARED_ENV[0].removeprefix("PYTHON=")).parent)

# Every file a repository gets, whatever the answers; {package} is the package name.
COMMON_FILES = [
    ".copier-answers.yml",
    ".env.example",
    ".gitignore",
    ".pre-commit-config.yaml",
    "tools/project-python",
    "Makefile",
    "README.md",
    "pyproject.toml",
    ".github/dependabot.yml",
    ".github/workflows/ci.yml",
    # Builds the images on pull requests that change what they hold (no push).
    ".github/workflows/images.yml",
    ".github/workflows/template-sync.yml",
    # Continuous training: retraining, drift monitoring, the Kubeflow pipeline.
    ".github/workflows/train.yml",
    ".github/workflows/monitor.yml",
    "configs/monitor.yaml",
    "pipelines/kfp_pipeline.py",
    "configs/train.yaml",
    "configs/eval.yaml",
    "configs/predict.yaml",
    "configs/local/README.md",
    "configs/catalog.yaml",
    "configs/callbacks/default.yaml",
    "configs/callbacks/early_stopping.yaml",
    "configs/callbacks/evaluate.yaml",
    "configs/callbacks/lr_monitor.yaml",
    "configs/callbacks/mlflow.yaml",
    "configs/callbacks/model_checkpoint.yaml",
    "configs/callbacks/none.yaml",
    "configs/callbacks/rich_progress_bar.yaml",
    "configs/data/digits.yaml",
    "configs/model/mlp.yaml",
    "configs/paths/default.yaml",
    "configs/hydra/default.yaml",
    "configs/experiment/example.yaml",
    "configs/hparams_search/optuna.yaml",
    "configs/launcher/kubernetes.yaml",
    "configs/launcher/local.yaml",
    "configs/launcher/slurm.yaml",
    "configs/registry/default.yaml",
    "configs/debug/default.yaml",
    "configs/debug/fdr.yaml",
    "configs/debug/limit.yaml",
    "configs/debug/overfit.yaml",
    "configs/debug/profiler.yaml",
    "configs/logger/csv.yaml",
    "configs/logger/mlflow.yaml",
    "configs/logger/none.yaml",
    "configs/logger/tensorboard.yaml",
    "configs/logger/wandb.yaml",
    "configs/trainer/cpu.yaml",
    "configs/trainer/ddp.yaml",
    "configs/trainer/default.yaml",
    "configs/trainer/gpu.yaml",
    "src/{package}/__init__.py",
    "src/{package}/data.py",
    "src/{package}/evaluate.py",
    "src/{package}/predict.py",
    "src/{package}/model.py",
    "src/{package}/train.py",
    "tests/__init__.py",
    "tests/conftest.py",
    "tests/test_configs.py",
    "tests/test_data.py",
    "tests/test_model.py",
    "tests/test_train.py",
    "tests/test_registry.py",
    "tests/test_serve.py",
    "tests/test_notebooks.py",
    "data/raw/.gitkeep",
    "data/interim/.gitkeep",
    "data/processed/.gitkeep",
    "data/external/.gitkeep",
    "notebooks/01-explore-digits.ipynb",
    "deploy/mlflow/Dockerfile",
    "deploy/mlflow/basic_auth.ini",
    "deploy/mlflow/compose.yaml",
    "deploy/mlflow/initdb/01-auth-database.sql",
    # The training image and the Kubernetes training job (configs/launcher/kubernetes.yaml exists
    # in every repository), a release workflow that pushes the images.
    ".dockerignore",
    "deploy/train.Dockerfile",
    "deploy/k8s/training/kustomization.yaml",
    "deploy/k8s/training/pytorchjob.yaml",
    "deploy/k8s/training/claim-data.yaml",
    "deploy/k8s/training/claim-checkpoints.yaml",
    ".github/workflows/release.yml",
]
# Serving on Kubernetes (deploy_target kserve or kubernetes): the serving image, kustomize base
# and overlays.
SERVING_FILES = [
    "deploy/Dockerfile",
    "deploy/k8s/base/kustomization.yaml",
    "deploy/k8s/base/deployment.yaml",
    "deploy/k8s/base/service.yaml",
    "deploy/k8s/base/hpa.yaml",
    "deploy/k8s/base/pdb.yaml",
    "deploy/k8s/base/networkpolicy.yaml",
    "deploy/k8s/base/cronjob.yaml",
    "deploy/k8s/overlays/staging/kustomization.yaml",
    "deploy/k8s/overlays/production/kustomization.yaml",
]
KSERVE_FILES = [
    "deploy/kserve/kustomization.yaml",
    "deploy/kserve/inferenceservice.yaml",
]


def answers_of(project: Path) -> dict:
    return yaml.safe_load((project / ".copier-answers.yml").read_text())


def expected_files(answers: dict) -> set[str]:
    """The exact set of files a variant must have."""
    files = {path.format(package=answers["package_name"]) for path in COMMON_FILES}
    if answers["license"] != "Proprietary":
        files.add("LICENSE")
    if answers["deploy_target"] != "none":
        files.update(SERVING_FILES)
    if answers["deploy_target"] == "kserve":
        files.update(KSERVE_FILES)
    return files


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("variants")
    return {
        name: render(root / name, variant.answers, local_mlcore=variant.local_mlcore)
        for name, variant in VARIANTS.items()
    }


def test_variants_cover_every_answer_of_every_choice() -> None:
    for question, spec in COPIER_YML.items():
        if question.startswith("_") or spec.get("when") is False:
            continue
        if spec["type"] == "bool":
            choices = [True, False]
        elif "choices" in spec:
            options = spec["choices"]
            choices = list(options.values()) if isinstance(options, dict) else list(options)
        else:
            continue
        given = {v.rendered_answers.get(question, spec["default"]) for v in VARIANTS.values()}
        assert set(choices) <= given, f"{question}: no variant answers {set(choices) - given}"


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_variant_has_exactly_its_files(name: str, rendered: dict[str, Path]) -> None:
    project = rendered[name]
    files = {p.relative_to(project).as_posix() for p in project.rglob("*") if p.is_file()}
    assert files == expected_files(answers_of(project))


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_variant_keeps_no_template_syntax(name: str, rendered: dict[str, Path]) -> None:
    for path in rendered[name].rglob("*"):
        if path.is_file():
            assert not LEFTOVER_JINJA.search(path.read_text()), f"unrendered Jinja in {path}"


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_variant_answers_are_recorded(name: str, rendered: dict[str, Path]) -> None:
    answers = answers_of(rendered[name])
    for question, answer in VARIANTS[name].answers.items():
        assert answers[question] == answer


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(n for n, v in VARIANTS.items() if not v.runs_here))
def test_variant_for_another_python_lints_clean(name: str, rendered: dict[str, Path]) -> None:
    """ruff (for that Python's syntax) and every pre-commit hook pass, changing no file."""
    project = staged_repo(rendered[name])
    tools = {"PATH": f"{SHARED_BIN}:{os.environ['PATH']}"}  # ruff, pre-commit, mlcore hooks
    run(["ruff", "check", "."], cwd=project, env=tools)
    run(["ruff", "format", "--check", "."], cwd=project, env=tools)
    run(["pre-commit", "run", "--all-files", "--show-diff-on-failure"], cwd=project, env=tools)
    assert not changed_files(project), "pre-commit changed files"


def staged_repo(project: Path) -> Path:
    """The project as a git repository with every file staged, as pre-commit sees a commit."""
    if not (project / ".git").exists():
        run(["git", "init", "--quiet"], cwd=project)
    run(["git", "add", "--all"], cwd=project)
    return project


def changed_files(project: Path) -> str:
    """Files changed since they were staged (what a hook that "fixed" something leaves)."""
    return run(["git", "diff", "--name-only"], cwd=project).stdout


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_make_help_lists_every_target_aligned_and_readable(
    name: str, rendered: dict[str, Path]
) -> None:
    """`make help`: each documented target once, descriptions in one column, no Make syntax."""
    project = rendered[name]
    lines = run(["make", "--no-print-directory", "help"], cwd=project).stdout.splitlines()
    documented = re.findall(r"^([a-z][a-z-]*):.*## ", (project / "Makefile").read_text(), re.M)
    assert [line.split()[0] for line in lines] == documented
    columns = {len(line) - len(line.split(None, 1)[1]) for line in lines}
    assert len(columns) == 1, f"descriptions start in columns {sorted(columns)}"
    assert not [line for line in lines if "$(" in line or "$$" in line]
