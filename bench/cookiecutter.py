"""`cookiecutter --no-input` of the derived flavour against `copier copy --defaults`, same answers.

    python bench/cookiecutter.py [--repeat N]

Both render this checkout (Copier at HEAD, uncommitted changes included; cookiecutter from the
committed cookiecutter/ folder), as the commands a user types, in one run. Results go to
docs/benchmarks.md by hand.
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
BIN = Path(sys.executable).parent
ANSWERS = {"mlcore_source": "path", "mlcore_path": str(REPO)}


def timed(command: list[str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as out:
            start = time.perf_counter()
            subprocess.run([*command, str(Path(out) / "p")], check=True, capture_output=True)
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    repeat = parser.parse_args().repeat
    data = [f"{key}={value}" for key, value in ANSWERS.items()]
    copier = [str(BIN / "copier"), "copy", "--quiet", "--defaults", "--vcs-ref", "HEAD"]
    copier += [arg for pair in data for arg in ("--data", pair)] + [str(REPO)]
    baker = [str(BIN / "cookiecutter"), "--no-input", str(REPO), "--directory", "cookiecutter"]
    baker += [*data, "--output-dir"]
    copy = timed(copier, repeat)
    bake = timed(baker, repeat)
    print(f"median of {repeat} runs")
    print(f"copier copy --defaults        {copy:6.2f} s")
    print(f"cookiecutter --no-input       {bake:6.2f} s  ({copy / bake:.1f}x faster than copier)")


if __name__ == "__main__":
    main()
