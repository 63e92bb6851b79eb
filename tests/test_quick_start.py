"""The README's quick start, `make example` and `make test`, on a fresh clone: each sets up the
environment it needs first, and only when it is missing or older than pyproject.toml."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import REPO, run

SETS_UP = "-m venv"  # the set-up's first command, in `make -n`'s plan


def plan(target: str, venv: Path) -> str:
    """The commands `make <target>` would run (Make's own dry run), with .venv at venv. Sub-makes
    run even in a dry run: the example's points at a folder never rendered (one `make example`
    made earlier would otherwise plan its own set-up), so it fails and only this plan counts."""
    absent = venv.parent / "example-never-rendered"
    command = ["make", "--dry-run", target, f"VENV={venv}", f"EXAMPLE_DIR={absent}"]
    return run(command, cwd=REPO, check=False).stdout


@pytest.mark.parametrize("target", ["example", "test"])
def test_each_quick_start_command_sets_up_what_it_needs(target: str, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    first = plan(target, venv)
    assert SETS_UP in first and "pip install" in first, "a missing environment is made first"
    if target == "test":
        assert "ruff check" in first and "pytest" in first, "the tests include the lint"

    venv.mkdir()
    stamp = venv / ".mlcore-setup"
    stamp.touch()
    assert "pip install" not in plan(target, venv), "a ready environment is used as it is"

    past = (REPO / "pyproject.toml").stat().st_mtime - 60
    os.utime(stamp, (past, past))
    assert "pip install" in plan(target, venv), "pyproject.toml changed since: set up again"
