"""New environments for the set-up tests, with the heavy packages provided.

A generated repo's `make setup` installs torch, mlcore and about 150 packages: minutes each time.
The set-up tests run the real `make setup` (or the first `make lint`) in a new `.venv` that the
Makefile itself creates, with this environment's packages provided read-only on PYTHONPATH: a
folder of links into its site-packages. pip finds them installed, so it fetches only what a test is
about: pip itself (the venv's bundled one is upgraded), mlcore from its source, torch from its
index. Left out of the folder: pip, mlcore, every editable install (generated projects, which the
set-up installs itself), and whatever a test names (torch, where it installs torch).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path

from packaging.utils import canonicalize_name

ALWAYS_LEFT_OUT = ("pip", "mlcore")
# The project install builds mlcore and the project with the provided hatchling (no download).
NO_BUILD_ISOLATION = "PIP_INSTALL_ARGS=--no-build-isolation"


def provided_packages(folder: Path, left_out: Iterable[str] = ()) -> Path:
    """Links to this environment's packages in folder, but those left out; `bin` links its
    scripts (ruff's module finds its binary there)."""
    site = Path(sysconfig.get_paths()["purelib"])
    names = {canonicalize_name(name) for name in (*ALWAYS_LEFT_OUT, *left_out)}
    skipped: set[str] = set()
    for distribution in metadata.distributions(path=[str(site)]):
        direct_url = json.loads(distribution.read_text("direct_url.json") or "{}")
        editable = direct_url.get("dir_info", {}).get("editable", False)
        if editable or canonicalize_name(distribution.metadata["Name"]) in names:
            skipped |= {Path(f).parts[0] for f in distribution.files or () if Path(f).parts}
    folder.mkdir(parents=True)
    for entry in site.iterdir():
        if entry.name not in skipped and entry.suffix != ".pth" and entry.name != "__pycache__":
            (folder / entry.name).symlink_to(entry)
    (folder / "bin").symlink_to(Path(sys.prefix) / "bin")
    return folder


def environment(packages: Path, unset: Iterable[str] = (), **values: str) -> dict[str, str]:
    """os.environ with the provided packages on PYTHONPATH, values set and `unset` removed."""
    env = {**os.environ, "PYTHONPATH": str(packages), **values}
    return {key: value for key, value in env.items() if key not in set(unset)}


def make(project: Path, *args: str, env: dict[str, str], timeout: float = 600) -> str:
    """`make ...` in the project with exactly env; the output (stdout and stderr), or a failure
    that shows it."""
    result = subprocess.run(
        ["make", *args], cwd=project, env=env, capture_output=True, text=True, timeout=timeout
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"`make {' '.join(args)}` exited {result.returncode}:\n{output}"
    return output


def steps(output: str) -> list[str]:
    """The progress lines the set-up prints (`==> ...`)."""
    return [line for line in output.splitlines() if line.startswith("==> ")]


def venv_python(project: Path, code: str, packages: Path) -> str:
    """Run code with the project's .venv Python (packages provided as in the set-up)."""
    python = project / ".venv" / "bin" / "python"
    env = environment(packages)
    return subprocess.run(
        [str(python), "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout.strip()
