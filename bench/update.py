"""Wall time of `copier update` of a generated repo, from v1.0.0 to v1.1.0.

    python bench/update.py [--repeat N]

Builds the same template history as the update tests (tests/template/history.py: this working
tree as v1.0.0, the synthetic next release as v1.1.0), generates repos from v1.0.0 with the
default answers (the template's full file set) and a committed user edit, and times
`python -m copier update --defaults --conflict inline --vcs-ref v1.1.0` in each, as the
generated `make update` runs it, and `run_update` in this process (no interpreter start-up).
Baselines in the same run: `python -m copier --version` (start-up alone) and
`python -m copier copy` of v1.1.0 (one render of the template, where an update renders it three
times: the old release, the new one into the repo, the new one alone, then merges with git).
Target: an update under 3 s. Results go to docs/benchmarks.md by hand.
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

from tests.template.conftest import LOCAL_MLCORE  # noqa: E402
from tests.template.history import (  # noqa: E402
    V1_0,
    V1_1,
    TemplateHistory,
    build_history,
    commit_all,
    generate,
    replace_once,
    update,
)

TARGET_S = 3.0
TRAINER = "configs/trainer/default.yaml"


def timed(command: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - start


def user_repo(history: TemplateHistory, destination: Path) -> Path:
    """A repo generated from v1.0.0 (default answers) with a committed user edit."""
    project = generate(history, destination, vcs_ref=V1_0)
    replace_once(project / TRAINER, "max_epochs: 20", "max_epochs: 50")
    commit_all(project, "A user edit")
    return project


def updated(project: Path) -> bool:
    """The update kept the user's edit and applied the release's change to the same file."""
    text = (project / TRAINER).read_text()
    return "max_epochs: 50" in text and "log_every_n_steps: 20" in text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    repeat = parser.parse_args().repeat
    copier = [sys.executable, "-m", "copier"]
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        history = build_history(tmp / "kit")
        cli_repos = [user_repo(history, tmp / f"cli-{index}") for index in range(repeat)]
        api_repos = [user_repo(history, tmp / f"api-{index}") for index in range(repeat)]
        data = [arg for key, value in LOCAL_MLCORE.items() for arg in ("--data", f"{key}={value}")]
        copy = [*copier, "copy", "--defaults", "--quiet", "--vcs-ref", V1_1, *data, history.src]
        update_cli = [*copier, "update", "--defaults", "--conflict", "inline", "--vcs-ref", V1_1]

        startup = [timed([*copier, "--version"], tmp) for _ in range(repeat)]
        copies = [timed([*copy, str(tmp / f"copy-{index}")], tmp) for index in range(repeat)]
        cli = [timed(update_cli, project) for project in cli_repos]
        api = []
        for project in api_repos:
            start = time.perf_counter()
            update(project, V1_1)
            api.append(time.perf_counter() - start)
        assert all(map(updated, cli_repos + api_repos)), "every update did its job"

    median = statistics.median
    print(f"median of {repeat} runs; the template's full file set, {V1_0} -> {V1_1}")
    print(f"python -m copier --version (start-up)     {median(startup):5.2f} s")
    print(f"copier copy {V1_1} (one render)           {median(copies):5.2f} s")
    print(f"copier update {V1_0} -> {V1_1}            {median(cli):5.2f} s")
    print(f"run_update in process (no start-up)       {median(api):5.2f} s")
    verdict = "met" if median(cli) < TARGET_S else "NOT met"
    print(f"target (copier update under {TARGET_S:.0f} s): {verdict}")


if __name__ == "__main__":
    main()
