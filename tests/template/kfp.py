"""A generated repo's compiled Kubeflow pipeline, run here step by step as kfp's launcher would.

Shared by the pipeline tests (steps run on this machine) and the image tests (steps run in the
training image): `tool_venv` makes kfp's environment of its own (conftest's `kfp_venv` fixture),
`run_compiled` runs the steps.
"""

from __future__ import annotations

import graphlib
import os
import re
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from tests.conftest import REPO, run

# What the generated Makefile installs for `make pipeline-kfp`.
KFP_VERSION = "2.17.0"
PLACEHOLDER = re.compile(r"\{\{\$\.(inputs|outputs)\.parameters\['([^']+)'\](\.output_file)?\}\}")
# Runs one step: its name, its command line (placeholders filled) and the env its container sets.
Execute = Callable[[str, Sequence[str], Mapping[str, str]], subprocess.CompletedProcess[str]]


def tool_venv() -> Path:
    """kfp and kfp-kubernetes in a tool environment of their own (they pin requests, urllib3 and
    protobuf exactly):
    build/tools/kfp-venv, made once (about 30 s from PyPI) and reused by later sessions."""
    venv = REPO / "build" / "tools" / "kfp-venv"
    python = venv / "bin" / "python"
    check = [
        str(python), "-c",
        f"import kfp, kfp.kubernetes; assert kfp.__version__ == {KFP_VERSION!r}",
    ]  # fmt: skip
    if not python.is_file() or subprocess.run(check, capture_output=True).returncode != 0:
        run([sys.executable, "-m", "venv", "--clear", venv], REPO)
        packages = [f"kfp=={KFP_VERSION}", f"kfp-kubernetes=={KFP_VERSION}"]
        run([python, "-m", "pip", "install", "--quiet", *packages], REPO)
    return venv


def here(cwd: Path) -> Execute:
    """Steps run on this machine in cwd, the image's `python` being this one."""

    def execute(
        name: str, command: Sequence[str], env: Mapping[str, str]
    ) -> subprocess.CompletedProcess[str]:
        path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
        return subprocess.run(
            list(command),
            cwd=cwd,
            env={**os.environ, "PATH": path, **env},
            capture_output=True,
            text=True,
            timeout=600,
        )

    return execute


def run_compiled(
    compiled: dict,
    arguments: dict[str, str],
    tmp: Path,
    until: str,
    cwd: Path | None = None,
    execute: Execute | None = None,
) -> list[str]:
    """Run a compiled kfp pipeline's container steps in dependency order up to the step named
    `until`, as kfp's launcher would in each step's pod: placeholders filled from constants,
    pipeline arguments and earlier steps' output files, the step's environment set. Each runs
    through `execute` (default: here, in cwd). Returns the steps' names in the order they ran."""
    execute = execute or here(cwd or Path.cwd())
    tasks = compiled["root"]["dag"]["tasks"]
    order = graphlib.TopologicalSorter(
        {key: task.get("dependentTasks", []) for key, task in tasks.items()}
    ).static_order()
    outputs: dict[str, dict[str, str]] = {}
    ran = []
    for key in order:
        task = tasks[key]
        inputs = {}
        for name, source in task["inputs"]["parameters"].items():
            if "runtimeValue" in source:
                inputs[name] = source["runtimeValue"]["constant"]
            elif "componentInputParameter" in source:
                inputs[name] = arguments[source["componentInputParameter"]]
            else:
                producer = source["taskOutputParameter"]
                inputs[name] = outputs[producer["producerTask"]][producer["outputParameterKey"]]
        label = compiled["components"][task["componentRef"]["name"]]["executorLabel"]
        container = compiled["deploymentSpec"]["executors"][label]["container"]
        files: dict[str, Path] = {}

        def fill(
            match: re.Match[str], key: str = key, inputs: dict = inputs, files: dict = files
        ) -> str:
            kind, name, is_file = match.groups()
            if kind == "inputs":
                return inputs[name]
            assert is_file, match.group(0)
            files[name] = tmp / key / "outputs" / name
            return str(files[name])

        command = [PLACEHOLDER.sub(fill, part) for part in container["command"] + container["args"]]
        env = {item["name"]: item["value"] for item in container.get("env", [])}
        name = task["taskInfo"]["name"]
        done = execute(name, command, env)
        assert done.returncode == 0, f"{name}: {done.stdout[-3000:]}{done.stderr[-3000:]}"
        outputs[key] = {name: path.read_text() for name, path in files.items()}
        ran.append(name)
        if ran[-1] == until:
            return ran
    raise AssertionError(f"no step {until!r} in {ran}")
