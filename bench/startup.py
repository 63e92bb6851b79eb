"""Start-up costs a user feels on every command, each against a baseline timed in the same run.

    python bench/startup.py [--repeat N]

- `copier copy` of the whole template (defaults), from this checkout.
- `import mlcore` against a bare `python -c pass`.
- `python -m <package>.train --help` of a rendered project (mlcore's `hydra_main`) against the same
  entry point decorated with plain `@hydra.main` (Hydra's own help).
Prints the median wall time of each and the ratios. Results go to docs/benchmarks.md by hand.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from examples.scaffold import scaffold  # noqa: E402


def median_seconds(action: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def python(*args: str, cwd: Path | None = None) -> Callable[[], None]:
    env_path = str(cwd / "src") if cwd else ""
    env = {"PYTHONPATH": env_path, "PATH": "/usr/bin:/bin"}
    return lambda: subprocess.run([sys.executable, *args], cwd=cwd, env=env, check=True,
                                  capture_output=True)  # fmt: skip


def hydra_only_entry_point(project: Path) -> str:
    """A copy of train.py whose only change is Hydra's own decorator; returns its module name."""
    source = (project / "src" / "digits_classifier" / "train.py").read_text()
    baseline = source.replace(
        '@hydra_main(config_path="../../configs", config_name="train")',
        '@hydra.main(version_base="1.3", config_path="../../configs", config_name="train")',
    )
    assert baseline != source, "train.py no longer uses hydra_main: update this benchmark"
    (project / "src" / "digits_classifier" / "train_hydra_help.py").write_text(baseline)
    return "digits_classifier.train_hydra_help"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=7)
    repeat = parser.parse_args().repeat

    with tempfile.TemporaryDirectory() as tmp:
        counter = iter(range(10**6))
        copy = median_seconds(
            lambda: scaffold("digits-classifier", Path(tmp) / f"copy{next(counter)}"), repeat
        )
        project = scaffold("digits-classifier", Path(tmp) / "project")
        baseline_module = hydra_only_entry_point(project)

        bare = median_seconds(python("-c", "pass"), repeat)
        mlcore = median_seconds(python("-c", "import mlcore"), repeat)
        help_of = {
            name: median_seconds(python("-m", module, "--help", cwd=project), repeat)
            for name, module in [("ours", "digits_classifier.train"), ("hydra", baseline_module)]
        }
        ours, hydra = help_of["ours"], help_of["hydra"]

    print(f"median of {repeat} runs, Python {sys.version.split()[0]}")
    print(f"copier copy (whole template, defaults)   {copy:7.3f} s")
    print(f"python -c pass (baseline)                {bare:7.3f} s")
    print(f"python -c 'import mlcore'                {mlcore:7.3f} s  (+{mlcore - bare:.3f} s)")
    print(f"train --help, plain @hydra.main          {hydra:7.3f} s")
    print(f"train --help, mlcore hydra_main          {ours:7.3f} s  ({hydra / ours:.1f}x faster)")


if __name__ == "__main__":
    main()
