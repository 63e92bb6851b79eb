"""Wall time of a generated repo's own test suite, as `make test` runs it.

    python bench/generated_suite.py [--repeat N]

Renders the example project, installs it into this environment (no dependencies), and times
`make test` (the fast suite) and `make test-all`. The baseline in the same run is
`pytest --collect-only` of the same suite: the cost of starting pytest and importing the stack,
which no test can avoid. Results go to docs/benchmarks.md by hand.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from copier import run_copy  # noqa: E402

from examples.scaffold import example_answers  # noqa: E402

SHARED_ENV = [f"PYTHON={sys.executable}", "PIP_INSTALL_ARGS=--no-deps --no-build-isolation"]


def timed(command: list[str], cwd: Path, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(command, cwd=cwd, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    repeat = parser.parse_args().repeat
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp) / "project"
        # The example under its own name, so the README's installed example is left alone.
        answers = {**example_answers("digits-classifier"), "project_name": "Bench Digits",
                   "package_name": "bench_digits", "project_slug": "bench-digits"}  # fmt: skip
        run_copy(str(REPO), project, data=answers, defaults=True, vcs_ref="HEAD", quiet=True)
        subprocess.run(["make", "setup", *SHARED_ENV], cwd=project, check=True, capture_output=True)
        collect_only = [sys.executable, "-m", "pytest", "--collect-only", "-q"]
        try:
            collect = timed(collect_only, project, repeat)
            fast = timed(["make", "test", *SHARED_ENV], project, repeat)
            every = timed(["make", "test-all", *SHARED_ENV], project, repeat)
        finally:
            uninstall = [sys.executable, "-m", "pip", "uninstall", "-y", "-q", "bench-digits"]
            subprocess.run(uninstall, check=True)
    print(f"median of {repeat} runs")
    print(f"pytest --collect-only (baseline)  {collect:6.1f} s")
    print(f"make test (fast suite)            {fast:6.1f} s  ({fast - collect:.1f} s of tests)")
    print(f"make test-all (with slow tests)   {every:6.1f} s")


if __name__ == "__main__":
    main()
