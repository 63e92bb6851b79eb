"""hydra_main: a fast --help read from the config directory; everything else goes to Hydra.

The subprocess tests run a small Hydra app (conftest.TASK_MODULE) from a temporary directory.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlcore.entrypoint import config_groups, hydra_main, render_help

HINT = "--cfg job prints the composed config, -m runs a sweep, --hydra-help explains Hydra."


def group_lines(help_text: str) -> dict[str, str]:
    """The `group  options` rows of a help text, as group -> options text."""
    lines = help_text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Config groups")) + 1
    rows = {}
    for line in lines[start:]:
        if not line.strip():
            break
        group, options = line.split(None, 1)
        rows[group] = options
    return rows


def test_config_groups_finds_groups_and_sorted_options(
    config_dir: Path, expected_groups: dict[str, list[str]]
) -> None:
    """Groups (nested as a/b) with sorted options; the primary config and hydra/ are left out."""
    groups = config_groups(config_dir)
    assert groups == expected_groups
    for options in groups.values():
        assert options == sorted(options)


def test_config_groups_of_empty_or_flat_dir(tmp_path: Path) -> None:
    """No subdirectories, no groups."""
    assert config_groups(tmp_path) == {}
    (tmp_path / "train.yaml").write_text("seed: 1\n")
    (tmp_path / "eval.yaml").write_text("seed: 1\n")
    assert config_groups(tmp_path) == {}


def test_config_groups_ignores_non_yaml(tmp_path: Path) -> None:
    """Only .yaml files are options; a group made only of other files does not appear."""
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("x\n")
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "mlp.yaml").write_text("x: 1\n")
    (tmp_path / "model" / "mlp.yaml.bak").write_text("x: 1\n")
    assert config_groups(tmp_path) == {"model": ["mlp"]}


def test_config_groups_only_hides_hydras_own_groups(config_dir: Path) -> None:
    """A user group whose name merely starts with 'hydra' is still listed."""
    (config_dir / "hydrant").mkdir()
    (config_dir / "hydrant" / "red.yaml").write_text("pressure: 1\n")
    groups = config_groups(config_dir)
    assert "hydra/launcher" not in groups
    assert groups.get("hydrant") == ["red"]


def test_render_help_lists_groups_and_primary_config(config_dir: Path) -> None:
    """Summary, usage, the group rows, then the primary file with its comments, then a hint."""

    def task(cfg: Any) -> None:
        """Not used for the summary: the module docstring is."""

    text = render_help(task, config_dir, "train")
    lines = text.splitlines()
    assert lines[0] == __doc__.split("\n\n")[0]
    command = sys.modules[__name__].__spec__.name
    assert f"Usage: python -m {command} [group=option ...] [key=value ...] [-m]" in lines
    assert f"Config groups (choose with group=option; files in {config_dir}/<group>/):" in lines
    assert group_lines(text) == {
        "data": "digits, iris",
        "model": "large, small",
        "model/encoder": "cnn, mlp",
    }
    primary = config_dir / "train.yaml"
    header = f"{primary} (override any key with key=value):"
    start = lines.index(header) + 1
    expected = [f"  {line}" for line in primary.read_text().rstrip().splitlines()]
    assert lines[start : start + len(expected)] == expected
    assert "  seed: 7  # the run's seed" in lines  # comments are kept
    assert lines[-1] == HINT


def test_render_help_aligns_group_column(config_dir: Path) -> None:
    """Options start in one column, after the longest group name."""
    text = render_help(lambda cfg: None, config_dir, "train")
    rows = [line for line in text.splitlines() if re.match(r"  (data|model)", line)]
    columns = {len(row) - len(row.split(None, 1)[1]) for row in rows}
    assert columns == {2 + len("model/encoder") + 2}


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_hydra_main_help_in_process(
    config_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    flag: str,
) -> None:
    """With a help flag anywhere in argv, the help is printed and the task does not run."""
    calls: list[Any] = []

    def task(cfg: Any) -> None:
        """The task."""
        calls.append(cfg)

    entry = hydra_main(config_path=str(config_dir), config_name="train")(task)
    monkeypatch.setattr(sys, "argv", ["train", "model=large", flag])
    assert entry() is None
    assert calls == []
    assert capsys.readouterr().out == render_help(task, config_dir, "train") + "\n"


def test_hydra_main_keeps_task_identity(config_dir: Path) -> None:
    """The entry point carries the task's name and docstring (functools.wraps)."""

    def my_task(cfg: Any) -> None:
        """Docstring of the task."""

    entry = hydra_main(config_path=str(config_dir), config_name="train")(my_task)
    assert entry.__name__ == "my_task"
    assert entry.__doc__ == "Docstring of the task."
    assert entry.__wrapped__ is my_task  # type: ignore[attr-defined]


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help_subprocess(run_python, hydra_app: Path, flag: str) -> None:
    """`python -m mltask --help`: the module summary, groups with options and train.yaml."""
    result = run_python(["-m", "mltask", "model=large", flag], cwd=hydra_app)
    out = result.stdout
    configs = (hydra_app / "configs").resolve()
    lines = out.splitlines()
    assert lines[0] == "Train the test app on the chosen data."
    assert "second paragraph" not in out
    assert "Usage: python -m mltask [group=option ...] [key=value ...] [-m]" in lines
    assert f"Config groups (choose with group=option; files in {configs}/<group>/):" in lines
    assert group_lines(out) == {
        "data": "digits, iris",
        "model": "large, small",
        "model/encoder": "cnn, mlp",
    }
    assert "quiet" not in out  # hydra/job_logging/quiet.yaml is Hydra's, not the app's
    assert f"{configs / 'train.yaml'} (override any key with key=value):" in lines
    assert "  # Primary config of the test app." in lines
    assert "    - model: small" in lines
    assert lines[-1] == HINT
    assert "TASK RAN" not in out


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ([], "TASK RAN model=small lr=0.01 data=digits epochs=2 seed=7"),
        (
            ["model=large", "data=iris", "trainer.max_epochs=5", "seed=11"],
            "TASK RAN model=large lr=0.5 data=iris epochs=5 seed=11",
        ),
    ],
)
def test_without_help_hydra_runs_the_task(
    run_python, hydra_app: Path, tmp_path: Path, overrides: list[str], expected: str
) -> None:
    """Other arguments go to Hydra: it composes the config, applies overrides and runs the task."""
    run_dir = tmp_path / "run"
    result = run_python(["-m", "mltask", *overrides, f"hydra.run.dir={run_dir}"], cwd=hydra_app)
    assert expected in result.stdout.splitlines()
    saved = yaml.safe_load((run_dir / ".hydra" / "overrides.yaml").read_text())
    assert saved == overrides  # Hydra records the task's overrides, not its own
    assert not (hydra_app / "outputs").exists()


def test_cfg_job_goes_to_hydra(run_python, hydra_app: Path) -> None:
    """`--cfg job` prints Hydra's composed config, overrides applied, without running the task."""
    out = run_python(["-m", "mltask", "--cfg", "job", "model=large"], cwd=hydra_app).stdout
    assert yaml.safe_load(out) == {
        "model": {"name": "large", "lr": 0.5},
        "data": {"name": "digits", "batch_size": 32},
        "seed": 7,
        "trainer": {"max_epochs": 2},
    }


def test_hydra_help_goes_to_hydra(run_python, hydra_app: Path) -> None:
    """`--hydra-help` is Hydra's, not ours."""
    out = run_python(["-m", "mltask", "--hydra-help"], cwd=hydra_app).stdout
    assert "Hydra (1.3" in out
    assert "Config groups (choose" not in out


def test_bad_override_is_reported_by_hydra(run_python, hydra_app: Path, tmp_path: Path) -> None:
    """An unknown group option fails the way Hydra fails, naming the missing option."""
    result = run_python(
        ["-m", "mltask", "model=huge", f"hydra.run.dir={tmp_path}"], cwd=hydra_app, check=False
    )
    assert result.returncode != 0
    assert "Could not find 'model/huge'" in result.stderr
    assert "TASK RAN" not in result.stdout


def test_help_usage_when_run_as_script(run_python, hydra_app: Path) -> None:
    """The usage line names a command that works, also when the file is run as a script."""
    out = run_python(["mltask.py", "--help"], cwd=hydra_app).stdout
    assert "Train the test app on the chosen data." in out  # the help itself works
    assert "python -m __main__" not in out


def test_help_accepts_config_name_with_extension(
    config_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A config_name that Hydra accepts also works for --help."""
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(config_dir), version_base="1.3"):
        assert compose("train.yaml").model.name == "small"  # Hydra is fine with the extension

    entry = hydra_main(config_path=str(config_dir), config_name="train.yaml")(lambda cfg: None)
    monkeypatch.setattr(sys, "argv", ["train", "--help"])
    entry()
    assert f"{config_dir / 'train.yaml'} (override any key" in capsys.readouterr().out
