"""The pre-commit hooks: check-configs composes every config, check-config-safety finds secrets.

Config trees are written into tmp_path; the hooks run in-process (as pre-commit would run the
console script, from the project root) unless the test is about the installed commands.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from mlcore import cli
from mlcore.hooks import check_config_safety, check_configs
from tests.conftest import REPO, run

# A small Hydra project: two primaries, groups selected by both or one of them, a group no
# primary selects (experiment), a nested default (trainer/long builds on trainer/default), and
# values that only exist at run time (${hydra:...}, an unset ${oc.env:...}, ???).
TREE = {
    "train.yaml": """\
        defaults:
          - _self_
          - model: small
          - trainer: default
          - logger: csv
          - paths: default
          - optional local: default
          - debug: null

        task_name: train
        seed: 7
        ckpt_path: null
        """,
    "eval.yaml": """\
        defaults:
          - _self_
          - model: small
          - trainer: default
          - paths: default

        task_name: eval
        ckpt_path: ???
        """,
    "paths/default.yaml": """\
        root_dir: ${oc.env:PROJECT_ROOT,.}
        log_dir: ${paths.root_dir}/logs
        output_dir: ${hydra:runtime.output_dir}
        hub_token: ${oc.env:MLCORE_TEST_UNSET_TOKEN}
        """,
    "model/small.yaml": """\
        hidden: 32
        lr: 0.01
        epochs: ${trainer.max_epochs}
        """,
    "model/large.yaml": """\
        hidden: 512
        lr: 0.001
        epochs: ${trainer.max_epochs}
        """,
    "trainer/default.yaml": """\
        max_epochs: 3
        default_root_dir: ${paths.output_dir}
        """,
    "trainer/long.yaml": """\
        defaults:
          - default

        max_epochs: 30
        """,
    "logger/csv.yaml": """\
        csv:
          save_dir: ${paths.output_dir}/csv
          name: ${task_name}
        """,
    "logger/mlflow.yaml": """\
        mlflow:
          tracking_uri: ${oc.env:MLFLOW_TRACKING_URI,sqlite:///${paths.root_dir}/mlflow.db}
          run_name: ${task_name}
        """,
    "debug/fast.yaml": """\
        # @package _global_
        defaults:
          - override /logger: csv

        trainer:
          max_epochs: 1
        """,
    "experiment/wide.yaml": """\
        # @package _global_
        defaults:
          - override /model: large

        model:
          hidden: 1024
        """,
    "hydra/job_logging/quiet.yaml": "version: 1\n",
    "local/README.md": "Machine-local settings go here.\n",
}


def write_tree(root: Path, files: dict[str, str]) -> Path:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project root holding `configs/` (TREE), made the current directory as pre-commit does."""
    write_tree(tmp_path / "configs", TREE)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLCORE_TEST_UNSET_TOKEN", raising=False)
    return tmp_path


def edit(project: Path, relative: str, old: str, new: str) -> None:
    path = project / "configs" / relative
    text = path.read_text()
    assert old in text, f"{old!r} not in {relative}"
    path.write_text(text.replace(old, new, 1))


def check(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    """Run check-configs in this process (one process: --jobs 1); exit code and stdout."""
    code = check_configs.main(["--jobs", "1", *args])
    captured = capsys.readouterr()
    return code, captured.out


# -- check-configs -----------------------------------------------------------------------------


def test_valid_tree_passes_silently(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Runtime-only values (${hydra:...}, an unset ${oc.env:...}, ???) are not errors."""
    assert check_configs.main(["--jobs", "1"]) == 0
    assert capsys.readouterr() == ("", "")


def test_every_option_of_every_group_is_composed(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each primary once, then each option its defaults do not already choose; a group that no
    primary selects is appended; hydra/ and local/ are not iterated."""
    import hydra

    composed: list[tuple[str, tuple[str, ...]]] = []
    original = hydra.compose

    def spy(config_name: str, overrides: list[str], **options: Any) -> Any:
        """Hydra's compose API, recording what the hook asks it for."""
        composed.append((config_name, tuple(overrides)))
        return original(config_name, overrides, **options)

    monkeypatch.setattr(hydra, "compose", spy)
    assert check_configs.main(["--jobs", "1"]) == 0
    assert sorted(composed) == sorted(
        [
            ("eval", ()),
            ("train", ()),
            ("eval", ("model=large",)),
            ("eval", ("trainer=long",)),
            ("train", ("model=large",)),
            ("train", ("trainer=long",)),
            ("train", ("logger=mlflow",)),
            ("train", ("debug=fast",)),
            # No primary selects experiment: appended to each, fine if one composes it.
            ("eval", ("+experiment=wide",)),
            ("train", ("+experiment=wide",)),
        ]
    )


def test_interpolation_typo_names_file_line_and_key(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edit(project, "model/small.yaml", "${trainer.max_epochs}", "${trainer.max_epoch}")
    code, out = check(capsys)
    assert code == 1
    assert out.splitlines() == [
        "configs/model/small.yaml:3: model.epochs: ${trainer.max_epoch}: Interpolation key "
        "'trainer.max_epoch' not found (composing eval.yaml); fix the key it names, or define it"
    ]


def test_broken_option_the_defaults_never_select_is_caught(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """model/large.yaml is only composed because every option is: no default picks it."""
    edit(project, "model/large.yaml", "${trainer.max_epochs}", "${trainer.epochs}")
    code, out = check(capsys)
    assert code == 1
    assert "configs/model/large.yaml:3: model.epochs: ${trainer.epochs}: Interpolation key" in out
    assert "with model=large" in out
    assert len(out.splitlines()) == 1  # seen by several compositions, printed once


def test_reference_to_a_broken_key_reports_the_broken_key_only(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """paths.log_dir holds the typo; values that merely refer to it are not reported."""
    edit(project, "paths/default.yaml", "${paths.root_dir}/logs", "${paths.rot_dir}/logs")
    edit(project, "trainer/default.yaml", "${paths.output_dir}", "${paths.log_dir}")
    code, out = check(capsys)
    assert code == 1
    assert out.splitlines() == [
        "configs/paths/default.yaml:2: paths.log_dir: ${paths.rot_dir}/logs: Interpolation key "
        "'paths.rot_dir' not found (composing eval.yaml); fix the key it names, or define it"
    ]


def test_missing_option_in_defaults_list(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    edit(project, "train.yaml", "  - model: small\n", "  - model: smal\n")
    code, out = check(capsys)
    assert code == 1
    assert out.splitlines() == [
        "configs/train.yaml:3: defaults: model: smal: Could not find 'model/smal' "
        "(available: large, small) (composing train.yaml); fix the option name or add "
        "configs/model/smal.yaml"
    ]


def test_yaml_syntax_error_names_file_and_line(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edit(project, "model/large.yaml", "lr: 0.001", "lr: [0.001")
    code, out = check(capsys)
    assert code == 1
    assert out.startswith("configs/model/large.yaml:3: YAML syntax error: ")
    assert len(out.splitlines()) == 1


def test_duplicate_key_is_a_yaml_error(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """PyYAML accepts duplicate keys; Hydra's loader does not, and neither does the hook."""
    edit(project, "model/small.yaml", "lr: 0.01\n", "lr: 0.01\nlr: 0.02\n")
    code, out = check(capsys)
    assert code == 1
    assert "configs/model/small.yaml:3: YAML syntax error: found duplicate key lr" in out


def test_bad_override_group(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    edit(project, "debug/fast.yaml", "override /logger: csv", "override /loger: csv")
    code, out = check(capsys)
    assert code == 1
    assert out.startswith(
        "configs/debug/fast.yaml:3: defaults: override /loger: csv: Could not override 'loger'."
    )
    assert "(composing train.yaml with debug=fast)" in out


def test_override_to_missing_option(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Hydra blames the primary ("In 'train'"); the hook finds the override that asked for it."""
    edit(project, "debug/fast.yaml", "override /logger: csv", "override /logger: cvs")
    code, out = check(capsys)
    assert code == 1
    assert out.startswith(
        "configs/debug/fast.yaml:3: defaults: override /logger: cvs: Could not find 'logger/cvs' "
        "(available: csv, mlflow)"
    )


def test_override_without_the_keyword(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    edit(project, "debug/fast.yaml", "override /logger: csv", "/logger: csv")
    code, out = check(capsys)
    assert code == 1
    assert out.startswith("configs/debug/fast.yaml:3: defaults: /logger: csv: logger appears")
    assert "write `override /<group>: <option>`" in out


def test_broken_option_of_a_group_no_primary_selects(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """experiment/ is in no defaults list: appended to each primary, reported once if none
    composes it."""
    edit(project, "experiment/wide.yaml", "override /model: large", "override /model: larg")
    code, out = check(capsys)
    assert code == 1
    assert out.splitlines() == [
        "configs/experiment/wide.yaml:3: defaults: override /model: larg: Could not find "
        "'model/larg' (available: large, small) (composing eval.yaml with +experiment=wide); "
        "fix the option name or add configs/model/larg.yaml"
    ]


def test_option_needing_an_absent_hydra_plugin_is_skipped_with_a_note(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """pre-commit's own environment (`language: python`) lacks the project's Hydra plugins."""
    write_tree(
        project / "configs",
        {
            "hparams_search/grid.yaml": """\
                # @package _global_
                defaults:
                  - override /hydra/launcher: no_such_launcher_plugin
                """
        },
    )
    edit(project, "train.yaml", "  - debug: null\n", "  - debug: null\n  - hparams_search: null\n")
    assert check_configs.main(["--jobs", "1"]) == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        "note: configs/hparams_search/grid.yaml: skipped, needs "
        "'hydra/launcher/no_such_launcher_plugin' from a Hydra plugin that is not installed here "
        "(install it, or add it to the hook's additional_dependencies)\n"
    )


def test_invalid_interpolation_syntax(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    edit(project, "model/small.yaml", "lr: 0.01", "lr: ${oops")
    code, out = check(capsys)
    assert code == 1
    assert out.startswith("configs/model/small.yaml:2: lr: ${oops: no viable alternative at input")
    assert "not a valid ${...} interpolation: fix its syntax" in out


def test_hydra_runtime_key_must_exist(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    edit(project, "paths/default.yaml", "runtime.output_dir", "runtime.outptu_dir")
    code, out = check(capsys)
    assert code == 1
    assert out.splitlines()[0].startswith(
        "configs/paths/default.yaml:3: paths.output_dir: ${hydra:runtime.outptu_dir}: "
        "Hydra's config has no key 'runtime.outptu_dir'"
    )


def test_unknown_resolver_unless_declared(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edit(project, "model/small.yaml", "hidden: 32", "hidden: ${double:16}")
    code, out = check(capsys)
    assert code == 1
    assert (
        "configs/model/small.yaml:1: model.hidden: ${double:16}: Unsupported interpolation type "
        "double (composing eval.yaml); fix the resolver name, or pass --resolver double" in out
    )
    assert check(capsys, "--resolver", "double") == (0, "")


def test_config_name_selects_primaries(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    edit(project, "train.yaml", "  - model: small\n", "  - model: smal\n")
    assert check(capsys, "--config-name", "eval") == (0, "")
    code, out = check(capsys, "--config-name", "evl")
    assert code == 1
    assert out == "configs: --config-name evl: no evl.yaml in the config directory; fix the name\n"


def test_changed_files_outside_the_config_dir_skip_the_check(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edit(project, "model/small.yaml", "${trainer.max_epochs}", "${trainer.max_epoch}")
    assert check(capsys, "README.md", "src/app.py") == (0, "")
    assert check(capsys, "configs/model/small.yaml")[0] == 1


def test_missing_config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    assert check(capsys) == (
        1,
        "configs: no such config directory; run from the project root or pass --config-dir\n",
    )


def test_config_dir_without_a_primary_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    write_tree(tmp_path / "configs", {"model/small.yaml": "hidden: 32\n"})
    assert check(capsys) == (
        1,
        "configs: no primary config (a top-level *.yaml) to compose; add one, or name it with "
        "--config-name\n",
    )


def test_parallel_workers_find_the_same(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Forked workers report what one process does, in the same order."""
    if not hasattr(os, "fork"):
        pytest.skip("no fork here: the hook composes in-process")
    edit(project, "model/large.yaml", "${trainer.max_epochs}", "${trainer.epochs}")
    edit(project, "debug/fast.yaml", "override /logger: csv", "override /loger: csv")
    in_process = check(capsys)
    assert check_configs.main(["--jobs", "2"]) == 1
    assert capsys.readouterr().out == in_process[1]
    assert len(in_process[1].splitlines()) == 2


def test_hook_leaves_hydra_and_omegaconf_as_they_were(project: Path) -> None:
    """The check swaps in stand-ins for ${hydra:...} and ${oc.env:...}; they are put back."""
    from hydra.core.global_hydra import GlobalHydra
    from omegaconf import OmegaConf

    edit(project, "model/small.yaml", "${trainer.max_epochs}", "${trainer.max_epoch}")
    assert check_configs.main(["--jobs", "1"]) == 1
    assert not GlobalHydra.instance().is_initialized()
    cfg = OmegaConf.create(
        {"home": "${oc.env:MLCORE_TEST_UNSET_TOKEN,fallback}", "x": "${oc.env:NOPE_X}"}
    )
    assert cfg.home == "fallback"
    with pytest.raises(Exception, match="Environment variable 'NOPE_X' not found"):
        _ = cfg.x
    with pytest.raises(Exception, match="HydraConfig was not set"):
        _ = OmegaConf.create({"d": "${hydra:runtime.output_dir}"}).d


# -- check-config-safety -----------------------------------------------------------------------

UNSAFE = """\
db:
  password: hunter2
  user: analyst
  api_key: sk-live-1234
  secret_token: ${oc.env:DB_TOKEN,abc123}
aws:
  key_id: AKIAIOSFODNN7EXAMPLE
  AWS_SECRET_ACCESS_KEY: wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY
github:
  pat: ghp_abcdefghijklmnopqrstuvwxyz0123456789
tracking:
  uri: postgresql://mlflow:s3cret@db.internal:5432/mlflow
deploy:
  key: |
    -----BEGIN OPENSSH PRIVATE KEY-----
    b3BlbnNzaC1rZXktdjEAAAAA
    -----END OPENSSH PRIVATE KEY-----
paths:
  data_dir: /home/alice/data
  cache: /Users/bob/cache
  tmp: /tmp
  mount: "/mnt/shared/digits"
  root: /root/x
  windows: C:\\Users\\carol\\data
  db: sqlite:////tmp/mlflow.db
  files: [data/ok.csv, /home/alice/extra.csv]
"""

SAFE = """\
db:
  password: ${oc.env:DB_PASSWORD}
  passwd: null
  token: ???
  api_key: ""
  auth: false
  secret_key: ${oc.env:SECRET_KEY,null}
  credentials: ${db.password}
  pad_token: "<pad>"
  max_tokens: 512
  secret_name: my-k8s-secret
  uri: postgresql://mlflow:${oc.env:DB_PASSWORD}@db.internal/mlflow
  ssh: git+ssh://git@github.com/org/repo.git
paths:
  root_dir: ${oc.env:PROJECT_ROOT,.}
  data_dir: ${paths.root_dir}/data
  tmp_dir: ${paths.root_dir}/tmp
  tracking: ${oc.env:MLFLOW_TRACKING_URI,sqlite:///${paths.root_dir}/mlflow.db}
  bucket: s3://my-bucket/tmp/data
  docs: https://example.com/home/guide
  metric: val/acc
  output_dir: ${hydra:runtime.output_dir}
"""


def safety(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = check_config_safety.main(list(args))
    return code, capsys.readouterr().out


def test_secrets_and_local_paths_are_found_with_their_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    write_tree(tmp_path, {"configs/unsafe.yaml": UNSAFE})
    code, out = safety(capsys, "configs/unsafe.yaml")
    assert code == 1
    found = [line.split(";")[0] for line in out.splitlines()]
    assert found == [
        "configs/unsafe.yaml:2: db.password: a secret-looking key holds a literal value",
        "configs/unsafe.yaml:4: db.api_key: a secret-looking key holds a literal value",
        "configs/unsafe.yaml:5: db.secret_token: a secret-looking key has a literal default in "
        "${oc.env:...}",
        "configs/unsafe.yaml:7: aws.key_id: the value looks like an AWS access key id (AKIA...)",
        "configs/unsafe.yaml:8: aws.AWS_SECRET_ACCESS_KEY: a secret-looking key holds a literal "
        "value",
        "configs/unsafe.yaml:10: github.pat: the value looks like a GitHub token",
        "configs/unsafe.yaml:12: tracking.uri: the URL embeds a password "
        "(postgresql://mlflow:***@...)",
        "configs/unsafe.yaml:14: deploy.key: the value looks like a private key",
        "configs/unsafe.yaml:19: paths.data_dir: absolute local path /home/alice/data",
        "configs/unsafe.yaml:20: paths.cache: absolute local path /Users/bob/cache",
        "configs/unsafe.yaml:21: paths.tmp: absolute local path /tmp",
        "configs/unsafe.yaml:22: paths.mount: absolute local path /mnt/shared/digits",
        "configs/unsafe.yaml:23: paths.root: absolute local path /root/x",
        "configs/unsafe.yaml:24: paths.windows: absolute local path C:\\Users\\carol\\data",
        "configs/unsafe.yaml:25: paths.db: absolute local path sqlite:////tmp/mlflow.db",
        "configs/unsafe.yaml:26: paths.files[1]: absolute local path /home/alice/extra.csv",
    ]
    # How to fix it is on each line; the secrets themselves are not.
    assert "use ${oc.env:DB_PASSWORD}" in out
    assert "use ${oc.env:AWS_SECRET_ACCESS_KEY}" in out
    assert "relative to ${paths.root_dir}" in out
    for secret in ("hunter2", "sk-live", "abc123", "AKIAIOSFODNN7", "wJalr", "ghp_", "s3cret"):
        assert secret not in out


def test_interpolations_env_refs_and_remote_uris_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    write_tree(tmp_path, {"configs/safe.yaml": SAFE})
    assert safety(capsys, "configs/safe.yaml") == (0, "")


def test_allow_comment_suppresses_its_line_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    text = """\
        ci:
          cache_dir: /tmp/ci-cache  # mlcore: allow (the CI image's cache)
          fixture_token: not-a-real-token  #mlcore:allow
          scratch: /tmp/scratch
        """
    write_tree(tmp_path, {"configs/ci.yaml": text})
    code, out = safety(capsys, "configs/ci.yaml")
    assert code == 1
    assert out.splitlines() == [
        "configs/ci.yaml:4: ci.scratch: absolute local path /tmp/scratch; use a path relative to "
        "${paths.root_dir}, or ${oc.env:NAME}, or put this machine's paths in configs/local/ "
        "(git-ignored)"
    ]


def test_without_files_scans_the_config_dir_but_local(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    write_tree(
        tmp_path,
        {
            "configs/paths/default.yaml": "data_dir: /mnt/data\n",
            "configs/local/default.yaml": "data_dir: /home/me/data\n",  # git-ignored, per machine
            "other/elsewhere.yaml": "token: abc\n",
        },
    )
    code, out = safety(capsys)
    assert code == 1
    assert out.splitlines() == [
        "configs/paths/default.yaml:1: data_dir: absolute local path /mnt/data; use a path "
        "relative to ${paths.root_dir}, or ${oc.env:NAME}, or put this machine's paths in "
        "configs/local/ (git-ignored)"
    ]
    # Named explicitly, local files and YAML elsewhere are checked; other files are ignored.
    code, out = safety(capsys, "configs/local/default.yaml", "other/elsewhere.yaml", "notes.md")
    assert code == 1
    assert [line.split(":")[0] for line in out.splitlines()] == [
        "configs/local/default.yaml",
        "other/elsewhere.yaml",
    ]


def test_safety_reports_yaml_syntax_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    write_tree(tmp_path, {"configs/bad.yaml": "a: 1\nb: [2\n"})
    code, out = safety(capsys, "configs/bad.yaml")
    assert code == 1
    assert out.startswith("configs/bad.yaml:3: YAML syntax error: ")


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("password", True),
        ("db_password", True),
        ("DB_PASSWD", True),
        ("apiKey", True),
        ("api_key", True),
        ("apikey", True),
        ("client_secret", True),
        ("AWS_SECRET_ACCESS_KEY", True),
        ("private_key", True),
        ("hf_token", True),
        ("HFToken", True),
        ("credentials", True),
        ("basic_auth", True),
        ("max_tokens", False),
        ("pad_token", False),
        ("eos_token", False),
        ("tokenizer", False),
        ("secret_name", False),
        ("password_file", False),
        ("author", False),
        ("oauth_scopes", False),
        ("key", False),
    ],
)
def test_secret_key_names(name: str, secret: bool) -> None:
    assert check_config_safety.is_secret_key(name) is secret


# -- commands ----------------------------------------------------------------------------------


def test_mlcore_subcommands_run_the_hooks(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["check-configs", "--jobs", "1"]) == 0
    assert cli.main(["check-config-safety"]) == 0
    assert capsys.readouterr().out == ""
    edit(project, "paths/default.yaml", "${oc.env:PROJECT_ROOT,.}", "/home/me/project")
    assert cli.main(["check-config-safety", "configs/paths/default.yaml"]) == 1
    assert capsys.readouterr().out.startswith(
        "configs/paths/default.yaml:1: root_dir: absolute local path /home/me/project; "
    )


def test_mlcore_help_lists_the_hooks(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([]) == 0
    out = capsys.readouterr().out
    assert "check-configs" in out
    assert "check-config-safety" in out


def test_subcommand_help_is_the_hooks_own(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["check-configs", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: mlcore check-configs")
    assert "--config-dir" in out


def test_hook_command_imports_nothing_heavy(run_python, project: Path) -> None:
    """The hooks import hydra and omegaconf, never torch, lightning or mlflow."""
    heavy = {"torch", "lightning", "pytorch_lightning", "mlflow", "torchmetrics"}
    for command in ("check-configs", "check-config-safety"):
        code = (
            f"import sys; from mlcore import cli; rc = cli.main([{command!r}]); "
            "print(' '.join(sorted({m.split('.')[0] for m in sys.modules}))); sys.exit(rc)"
        )
        loaded = set(run_python(["-c", code], cwd=project).stdout.split())
        assert "yaml" in loaded  # the hook ran
        assert not loaded & heavy, f"{command} imported {sorted(loaded & heavy)}"


@pytest.mark.parametrize("script", ["mlcore-check-configs", "mlcore-check-config-safety"])
def test_console_scripts_are_installed(script: str) -> None:
    path = shutil.which(script, path=str(Path(sys.executable).parent))
    if path is None:
        pytest.skip(f"{script} is not installed next to this Python (reinstall mlcore)")
    result = subprocess.run([path, "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: {script}")


# -- a real rendered project -------------------------------------------------------------------


def hook_command(name: str) -> list[str]:
    """The installed console script if there is one, else the same hook through `python -m`."""
    script = shutil.which(f"mlcore-{name}", path=str(Path(sys.executable).parent))
    return [script] if script else [sys.executable, "-m", "mlcore", name]


def test_hooks_pass_on_a_freshly_rendered_project(tmp_path: Path) -> None:
    """A new project from the template passes both hooks, silently."""
    from tests.template.conftest import render

    project = render(tmp_path / "p")
    for name in ("check-configs", "check-config-safety"):
        result = run(hook_command(name), cwd=project)
        assert (result.stdout, result.stderr) == ("", ""), name


def snapshot_of_checkout(destination: Path) -> Path:
    """A git repository whose one commit is this checkout's working tree (tracked files and
    untracked ones git does not ignore): `pre-commit try-repo` reads committed and staged files
    only, and this checkout's hooks may not be committed yet."""
    listed = run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO
    ).stdout
    for relative in filter(None, listed.split("\0")):
        source = REPO / relative
        if source.is_file():
            target = destination / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    git_init_and_add(destination)
    identity = ["-c", "user.name=test", "-c", "user.email=test@example.com"]
    run(["git", *identity, "-c", "commit.gpgsign=false", "commit", "-qm", "snapshot"], destination)
    return destination


def git_init_and_add(directory: Path) -> None:
    if not (directory / ".git").exists():
        run(["git", "init", "-q"], cwd=directory)
    run(["git", "add", "-A"], cwd=directory)


@pytest.mark.slow
def test_pre_commit_try_repo_runs_both_hooks(tmp_path: Path) -> None:
    """As a remote team would: pre-commit builds its own environment with mlcore from this
    repository (`language: python`, dependencies from PyPI) and runs both hooks on a fresh
    project. ~20 s, mostly pip."""
    from tests.template.conftest import render

    kit = snapshot_of_checkout(tmp_path / "kit")
    project = render(tmp_path / "project")
    git_init_and_add(project)
    result = run(
        [sys.executable, "-m", "pre_commit", "try-repo", kit, "--all-files", "--color", "never"],
        cwd=project,
        env={"PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"), "PIP_NO_INPUT": "1"},
        timeout=900,
    )
    out = result.stdout
    assert "id: check-configs\n" in out  # the hooks the manifest declares
    assert "id: check-config-safety\n" in out
    assert re.search(r"^hydra configs compose\.+Passed$", out, re.MULTILINE), out
    assert re.search(r"^no credentials or local paths in configs\.+Passed$", out, re.MULTILINE)
