"""The package import and the `mlcore` command: instant, and truthful about versions."""

from __future__ import annotations

import importlib.metadata
import platform
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import mlcore
from mlcore import cli

# Importing any of these costs seconds; the package import and the CLI must not.
HEAVY = frozenset(
    {"torch", "lightning", "pytorch_lightning", "mlflow", "torchmetrics", "scipy", "matplotlib"}
)


def imported_packages(importtime_stderr: str) -> set[str]:
    """Top-level package names from `python -X importtime` output."""
    names = set()
    for line in importtime_stderr.splitlines():
        if not line.startswith("import time:") or "imported package" in line:
            continue
        names.add(line.rsplit("|", 1)[-1].strip().split(".")[0])
    return names


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["-c", "import mlcore; mlcore.__version__"], id="import-mlcore"),
        pytest.param(["-m", "mlcore", "--help"], id="help"),
        pytest.param(["-m", "mlcore", "--version"], id="version"),
        pytest.param(["-m", "mlcore", "info"], id="info"),
        pytest.param(
            [
                "-c",
                "import mlcore.logging, mlcore.training, mlcore.tracking, mlcore.entrypoint",
            ],
            id="import-submodules",
        ),
        pytest.param(
            ["-c", "import mlcore.registry, mlcore.registry.cli, mlcore.tracking.sweep"],
            id="import-registry",
        ),
        pytest.param(["-m", "mlcore", "registry", "--help"], id="registry-help"),
        pytest.param(
            [
                "-c",
                "import mlcore.monitor, mlcore.monitor.cli, mlcore.pipeline, mlcore.pipeline.cli",
            ],
            id="import-continuous-training",
        ),
        pytest.param(["-m", "mlcore", "monitor", "--help"], id="monitor-help"),
        pytest.param(["-m", "mlcore", "pipeline", "stamp", "--help"], id="pipeline-help"),
    ],
)
def test_stays_light(run_python, args: list[str]) -> None:
    """Neither the package, its submodules nor the CLI import torch, lightning or mlflow."""
    result = run_python(["-X", "importtime", *args])
    imported = imported_packages(result.stderr)
    assert "mlcore" in imported  # the parser really saw the import log
    assert not imported & HEAVY, f"imported heavy packages: {sorted(imported & HEAVY)}"


def test_import_leaves_heavy_modules_out_of_sys_modules(run_python) -> None:
    """A second check by another route: sys.modules after `import mlcore` and `mlcore --help`."""
    code = (
        "import contextlib, io, sys\n"
        "import mlcore.cli\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    mlcore.cli.main([])\n"
        "print(' '.join(sorted({name.split('.')[0] for name in sys.modules})))\n"
    )
    loaded = set(run_python(["-c", code]).stdout.split())
    assert "mlcore" in loaded
    assert not loaded & HEAVY


def test_version_matches_installed_distribution(run_python) -> None:
    """`mlcore --version` prints exactly the installed distribution's version."""
    expected = importlib.metadata.version("mlcore")
    assert run_python(["-m", "mlcore", "--version"]).stdout.strip() == expected
    assert mlcore.__version__ == expected


def test_console_script_answers_help() -> None:
    """The installed `mlcore` entry point runs the same parser."""
    script = shutil.which("mlcore", path=str(Path(sys.executable).parent))
    if script is None:
        pytest.skip("the mlcore console script is not installed next to this Python")
    result = subprocess.run([script, "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("usage: mlcore")
    assert "info" in out
    assert "--version" in out


def test_help_lists_commands(run_python) -> None:
    """`mlcore --help` shows usage, the --version flag and the info command."""
    out = run_python(["-m", "mlcore", "--help"]).stdout
    assert out.startswith("usage: mlcore")
    assert "--version" in out
    assert "info" in out
    assert "key package versions" in out


def test_info_lists_key_packages(run_python) -> None:
    """`mlcore info` prints Python, the platform and each key package with its version."""
    out = run_python(["-m", "mlcore", "info"]).stdout
    lines = out.splitlines()
    assert lines[0].startswith(f"python  {platform.python_version()} (")
    assert lines[1] == f"system  {platform.system()} {platform.machine()}"
    rows = dict(line.split(None, 1) for line in lines[2:])
    assert list(rows) == list(cli.KEY_PACKAGES)
    for name in ("mlcore", "torch", "lightning", "hydra-core", "mlflow", "torchmetrics"):
        assert rows[name].strip() == importlib.metadata.version(name), name


def test_info_marks_missing_packages(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A package that is not installed is reported as such, not as an error."""
    monkeypatch.setattr(cli, "KEY_PACKAGES", ("mlcore", "no-such-distribution-xyz"))
    assert cli.main(["info"]) == 0
    out = capsys.readouterr().out
    assert "no-such-distribution-xyz  not installed" in out
    # Names are padded to the longest one, so the versions line up in a column.
    assert f"{'mlcore':<24}  {importlib.metadata.version('mlcore')}\n" in out


def test_main_without_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    """Bare `mlcore` prints the help and succeeds."""
    assert cli.main([]) == 0
    assert capsys.readouterr().out.startswith("usage: mlcore")


def test_main_version_in_process(capsys: pytest.CaptureFixture[str]) -> None:
    """`main(["--version"])` returns 0 and prints the version only."""
    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out == importlib.metadata.version("mlcore") + "\n"


def test_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    """argparse rejects an unknown subcommand with exit status 2."""
    with pytest.raises(SystemExit) as exc:
        cli.main(["frobnicate"])
    assert exc.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_version_falls_back_when_not_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    """From a checkout that was never installed, __version__ is a marked placeholder."""

    def missing(name: str) -> str:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", missing)
    assert mlcore.__version__ == "0.0.0+unknown"


def test_unknown_attribute_raises_attribute_error() -> None:
    """The lazy module __getattr__ only answers for __version__."""
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        mlcore.nope  # noqa: B018
    assert not hasattr(mlcore, "torch")
