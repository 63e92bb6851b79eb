"""`mlcore launch`: run the project's training through a launcher of `configs/launcher/`."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

EPILOG = """\
Overrides are Hydra overrides: launcher.* keys configure the launch, every other one goes to
each training process unchanged. Examples:
  mlcore launch local                                   # torchrun, one process per GPU (1 on CPU)
  mlcore launch local launcher.nproc_per_node=2         # 2 CPU processes on gloo
  mlcore launch slurm launcher.nodes=2 launcher.gpus_per_node=8 --dry-run
  mlcore launch kubernetes launcher.image=registry.example.com/project:1.0 --dry-run
"""


def build_parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Launch training with torchrun, on SLURM (submitit) or as a Kubeflow "
        "PyTorchJob, as configs/launcher/<LAUNCHER>.yaml says.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("launcher", help="a file of configs/launcher/: local, slurm, kubernetes")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides (key=value)")
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="print the command, sbatch script or manifest; start nothing",
    )
    parser.add_argument(
        "--wait",
        type=float,
        metavar="SECONDS",
        help="slurm: wait up to SECONDS for the job to end; exit 1 unless it completed",
    )
    parser.add_argument("--config-dir", default="configs", help="the Hydra config directory")
    parser.add_argument("--config-name", default="train", help="the primary config (train)")
    return parser


def main(argv: Sequence[str] | None = None, prog: str = "mlcore launch") -> int:
    args = build_parser(prog).parse_intermixed_args(argv)
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    from mlcore.launch.config import LaunchConfigError, compose_launch
    from mlcore.launch.resources import ResourceError

    try:
        launch = compose_launch(
            args.launcher, args.overrides, config_dir=args.config_dir, config_name=args.config_name
        )
        engine = str(launch.settings.get("engine") or args.launcher)
        if engine not in ("local", "slurm", "kubernetes"):
            raise LaunchConfigError(
                f"launcher.engine={engine!r} in configs/launcher/{args.launcher}.yaml: use local, "
                "slurm or kubernetes"
            )
        start = getattr(importlib.import_module(f"mlcore.launch.{engine}"), f"launch_{engine}")
        waiting = {"wait_s": args.wait} if engine == "slurm" else {}
        return int(start(launch, dry_run=args.dry_run, **waiting))
    except (LaunchConfigError, ResourceError, HydraException, OmegaConfBaseException) as error:
        print(f"{prog}: {error}", file=sys.stderr)
        return 2
