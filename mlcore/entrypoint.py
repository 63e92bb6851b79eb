"""`hydra_main`: Hydra's `@hydra.main`, with a `--help` that answers in a fraction of a second.

Hydra's own `--help` rebuilds its config repository once per group; ours reads the config
directory. Every other flag still goes to Hydra unchanged.
"""

from __future__ import annotations

import functools
import inspect
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

R = TypeVar("R")
HELP_FLAGS = ("--help", "-h")


def hydra_main(
    config_path: str, config_name: str, version_base: str = "1.3"
) -> Callable[[Callable[[Any], R]], Callable[[], R | None]]:
    """Decorate a task function as `hydra.main(version_base, config_path, config_name)` would."""

    def decorate(task: Callable[[Any], R]) -> Callable[[], R | None]:
        import hydra

        run_with_hydra = hydra.main(
            version_base=version_base, config_path=config_path, config_name=config_name
        )(task)
        config_dir = (Path(inspect.getfile(task)).parent / config_path).resolve()

        @functools.wraps(task)
        def entry_point() -> R | None:
            args = sys.argv[1:]
            if any(flag in args for flag in HELP_FLAGS):
                print(render_help(task, config_dir, config_name))
                return None
            try:
                return run_with_hydra()
            except SystemExit as stop:
                raise SystemExit(exit_code(stop)) from None

        return entry_point

    return decorate


# What a process stopped by SIGTERM exits with (128 + 15), as a shell reports it: launchers and
# restart policies (Kubernetes' ExitCode, SLURM's requeue, torchrun) read it as "try again".
SIGTERM_EXIT = 143


def exit_code(stop: SystemExit) -> int | str | None:
    """The exit code of a SystemExit; 143 for Lightning's SIGTERMException, which has no code:
    a preempted run must not look finished."""
    exceptions = sys.modules.get("lightning.pytorch.utilities.exceptions")
    if exceptions is not None and isinstance(stop, exceptions.SIGTERMException):
        print(f"Stopped by SIGTERM: exit {SIGTERM_EXIT} (resume=auto continues from the "
              "checkpoint written now)", file=sys.stderr)  # fmt: skip
        return SIGTERM_EXIT
    return stop.code


def render_help(task: Callable[..., Any], config_dir: Path, config_name: str) -> str:
    """The help text: what the command does, its config groups and its primary config file."""
    module = sys.modules.get(task.__module__)
    summary = (inspect.getdoc(module) or "").split("\n\n")[0] if module else ""
    spec = getattr(module, "__spec__", None)
    if spec is not None:  # `python -m package.module`: the module's real name, not __main__
        command = f"python -m {spec.name}"
    else:  # `python path/to/script.py`
        command = f"python {Path(inspect.getfile(task)).name}"
    groups = config_groups(config_dir)
    width = max((len(group) for group in groups), default=0)
    primary = config_dir / f"{config_name.removesuffix('.yaml')}.yaml"
    lines = [
        summary,
        "",
        f"Usage: {command} [group=option ...] [key=value ...] [-m]",
        "",
        f"Config groups (choose with group=option; files in {config_dir}/<group>/):",
        *(f"  {group:<{width}}  {', '.join(options)}" for group, options in groups.items()),
        "",
        f"{primary} (override any key with key=value):",
        *(f"  {line}" for line in primary.read_text().rstrip().splitlines()),
        "",
        "--cfg job prints the composed config, -m runs a sweep, --hydra-help explains Hydra.",
    ]
    return "\n".join(lines)


def config_groups(config_dir: Path) -> dict[str, list[str]]:
    """Each config group under config_dir (nested ones as a/b) with its options, sorted; not
    Hydra's own (`hydra/...`)."""
    groups: dict[str, list[str]] = {}
    for option in config_dir.rglob("*.yaml"):
        group = option.parent.relative_to(config_dir).as_posix()
        if group != "." and group.split("/")[0] != "hydra":
            groups.setdefault(group, []).append(option.stem)
    return {group: sorted(groups[group]) for group in sorted(groups)}
