"""The `mlcore` command. Subcommands import what they need when they run, so `--help` is instant."""

from __future__ import annotations

import argparse
import platform
import sys
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version

# Packages whose versions decide whether a training run can be reproduced.
KEY_PACKAGES = ("mlcore", "torch", "lightning", "torchmetrics", "hydra-core", "mlflow")
# Subcommand -> (module, help). Each module's `main(argv, prog) -> int` parses its own options; it
# is imported only when its command runs, so `mlcore --help` imports none of them.
COMMANDS = {
    "check-configs": (
        "mlcore.hooks.check_configs",
        "check that every Hydra config composes, once per option of every group",
    ),
    "check-config-safety": (
        "mlcore.hooks.check_config_safety",
        "check YAML configs for credentials and absolute local paths",
    ),
    "doctor": (
        "mlcore.standards.doctor",
        "report the template release, the newest one and drift from the standard",
    ),
    "sync": (
        "mlcore.standards.sync",
        "copier update to the newest release, stage it and report conflicts (for CI)",
    ),
    "tracking-uri": (
        "mlcore.mlflow_store",
        "print the MLflow tracking URI runs go to (MLFLOW_TRACKING_URI, else ./mlflow.db)",
    ),
    "registry": (
        "mlcore.registry.cli",
        "register, promote (through the gate), roll back, describe and list model versions",
    ),
    "adopt": (
        "mlcore.standards.adopt",
        "bring a repo made by the cookiecutter flavour (or cruft) under copier update",
    ),
    "serve": (
        "mlcore.serve.cli",
        "serve a registered model over HTTP: /predict, /health, /ready, /metrics",
    ),
    "data": (
        "mlcore.data.cli",
        "datasets of the data catalog: list, describe, load, save, fingerprint, verify",
    ),
    "launch": (
        "mlcore.launch.cli",
        "run training with torchrun, on SLURM or as a Kubernetes PyTorchJob (configs/launcher/)",
    ),
    "deploy": (
        "mlcore.deploy.cli",
        "render deploy/ kustomizations (image tag, replicas) and check manifests and Dockerfiles",
    ),
    "pipeline": (
        "mlcore.pipeline.cli",
        "stamp files that let `make pipeline` skip unchanged steps; the run's summary",
    ),
    "monitor": (
        "mlcore.monitor.cli",
        "drift of recent inputs and predictions against the training data (PSI, KS)",
    ),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mlcore",
        description="Shared tooling for repos made from the ML Platform Kit template.",
    )
    parser.add_argument("--version", action="store_true", help="print the mlcore version and exit")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser("info", help="print Python, platform and key package versions")
    for name, (_, summary) in COMMANDS.items():
        commands.add_parser(name, help=summary, add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list and args_list[0] in COMMANDS:
        return _run_command(args_list[0], args_list[1:])
    parser = build_parser()
    args = parser.parse_args(args_list)
    if args.version:
        print(_installed("mlcore"))
        return 0
    if args.command == "info":
        return _info()
    parser.print_help()
    return 0


def _run_command(name: str, argv: list[str]) -> int:
    """Run a command; its module (and Hydra or Copier with it) is imported only now."""
    import importlib

    module = importlib.import_module(COMMANDS[name][0])
    return int(module.main(argv, prog=f"mlcore {name}"))


def _info() -> int:
    print(f"python  {platform.python_version()} ({sys.executable})")
    print(f"system  {platform.system()} {platform.machine()}")
    width = max(map(len, KEY_PACKAGES))
    print(*(f"{name:<{width}}  {_installed(name)}" for name in KEY_PACKAGES), sep="\n")
    return 0


def _installed(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"
