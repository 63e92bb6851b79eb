"""The generated project's training config, composed for a benchmark run in a scratch folder.

Shared by the loop, tracking and GPU benchmarks: every path points into `root`, and the data
catalog is the project's own, so the run works from any working directory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def compose(project: Path, root: Path, overrides: list[str]) -> Any:
    """`configs/train.yaml` of the project with its outputs under root, plus the overrides."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    paths = [
        f"paths.root_dir={root}",
        f"paths.output_dir={root}/out",
        f"paths.log_dir={root}/logs",
        f"data.catalog={project}/configs/catalog.yaml",
    ]
    with initialize_config_dir(config_dir=str(project / "configs"), version_base="1.3"):
        return hydra_compose("train", overrides=[*paths, *overrides])
