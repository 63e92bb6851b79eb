"""The `mlcore` command. Subcommands import what they need when they run, so `--help` is instant."""

from __future__ import annotations

import argparse
import platform
import sys
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version

# Packages whose versions decide whether a training run can be reproduced.
KEY_PACKAGES = ("mlcore", "torch", "lightning", "torchmetrics", "hydra-core", "mlflow")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mlcore",
        description="Shared tooling for repos made from the ML Platform Kit template.",
    )
    parser.add_argument("--version", action="store_true", help="print the mlcore version and exit")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser("info", help="print Python, platform and key package versions")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        print(_installed("mlcore"))
        return 0
    if args.command == "info":
        return _info()
    parser.print_help()
    return 0


def _info() -> int:
    print(f"python  {platform.python_version()} ({sys.executable})")
    print(f"system  {platform.system()} {platform.machine()}")
    width = max(map(len, KEY_PACKAGES))
    for name in KEY_PACKAGES:
        print(f"{name:<{width}}  {_installed(name)}")
    return 0


def _installed(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"
