"""The generated data layout: the catalog's example dataset is the same bytes everywhere, data
stays out of git while its folders stay in, and the example notebook is committed without
outputs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO, run
from tests.template.conftest import Render

NOTEBOOK = REPO / "template" / "notebooks" / "01-explore-digits.ipynb"
MATERIALISE = (
    "from ml_project.data import prepare_data; import mlcore.data as d; prepare_data(); "
    "print(d.fingerprint('digits'))"
)


def pinned_checksum(project: Path) -> str:
    catalog = yaml.safe_load((project / "configs" / "catalog.yaml").read_text())
    return catalog["datasets"]["digits"]["checksum"].removeprefix("sha256:")


def test_the_example_dataset_is_byte_identical_across_renders_and_machines(
    render_to: Render,
) -> None:
    """Two fresh renders materialise digits.csv side by side in processes that differ as machines
    do (locale, time zone, hash seed, working directory): both are the bytes the catalog pins."""
    machines = [
        {"LC_ALL": "C", "TZ": "UTC", "PYTHONHASHSEED": "1"},
        {"LC_ALL": "C.UTF-8", "TZ": "Asia/Kolkata", "PYTHONHASHSEED": "4242"},
    ]
    projects = [render_to(name=f"machine-{i}") for i in range(len(machines))]
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", MATERIALISE],
            cwd=project / "notebooks",  # the catalog is found from a subfolder too
            env={**os.environ, **machine, "PYTHONPATH": str(project / "src")},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for project, machine in zip(projects, machines, strict=True)
    ]
    digests = []
    for process in processes:
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, err
        digests.append(out.split()[-1])
    assert digests[0] == digests[1] == pinned_checksum(projects[0])
    assert (projects[0] / "data" / "raw" / "digits.csv").read_bytes() == (
        projects[1] / "data" / "raw" / "digits.csv"
    ).read_bytes()


def test_data_is_ignored_by_git_but_the_layout_is_kept(render_to: Render) -> None:
    project = render_to()
    run(["git", "init", "--quiet"], cwd=project)
    (project / "data" / "raw" / "digits.csv").write_text("x\n")
    (project / "data" / "stray.parquet").write_text("x\n")
    (project / "data" / "processed" / "deep").mkdir()
    (project / "data" / "processed" / "deep" / "f.npz").write_text("x\n")
    run(["git", "add", "--all"], cwd=project)
    tracked = run(["git", "ls-files", "data"], cwd=project).stdout.split()
    assert tracked == [
        f"data/{name}/.gitkeep" for name in ("external", "interim", "processed", "raw")
    ]


def test_the_committed_notebook_has_no_outputs() -> None:
    """nbstripout (a pre-commit hook of generated repos) would change nothing."""
    notebook = json.loads(NOTEBOOK.read_text())
    code = [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]
    assert code
    assert all(cell["outputs"] == [] and cell["execution_count"] is None for cell in code)
    assert all(cell["metadata"] == {} for cell in notebook["cells"])
    assert "mlcore.data.load(" in "".join(code[0]["source"])


@pytest.mark.parametrize("starter", ["configs/catalog.yaml", "notebooks/*.ipynb"])
def test_catalog_and_notebooks_are_user_owned_starters(starter: str) -> None:
    copier = yaml.safe_load((REPO / "copier.yml").read_text())
    assert starter in copier["_skip_if_exists"]
    assert any(starter in pattern and "update" in pattern for pattern in copier["_exclude"])
