"""`mlcore data`: each command, one-line errors with exit status 1, and a light import."""

from __future__ import annotations

import hashlib
import textwrap
from pathlib import Path

import pytest

from mlcore import cli
from mlcore.data import cli as data_cli
from tests.mlcore.test_cli import imported_packages

RAW = b"x,y\n1,2\n3,4\n"
DIGEST = hashlib.sha256(RAW).hexdigest()
# Not imported by `import mlcore.data` nor `mlcore data --help`: each costs a second or more.
HEAVY = frozenset({"pandas", "pyarrow", "fsspec", "s3fs", "mlflow", "numpy", "torch"})


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project with configs/catalog.yaml, run from its notebooks/ folder."""
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "catalog.yaml").write_text(
        textwrap.dedent(
            f"""\
            root: ..
            datasets:
              table:
                description: a small table
                uri: data/table.csv
                checksum: sha256:{DIGEST}
              unpinned: data/other.parquet
              broken:
                uri: data/table.csv
                checksum: sha256:{"0" * 64}
            """
        )
    )
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "table.csv").write_bytes(RAW)
    (tmp_path / "notebooks").mkdir()
    monkeypatch.chdir(tmp_path / "notebooks")
    monkeypatch.delenv("MLCORE_CATALOG", raising=False)
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = cli.main(["data", *args])
    out, err = capsys.readouterr()
    return status, out, err


def test_list(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "list")
    assert status == 0
    lines = out.splitlines()
    assert [line.split()[0] for line in lines] == ["broken", "table", "unpinned"]
    assert lines[1].split()[1:3] == ["csv", "pinned"] and lines[1].endswith("a small table")


def test_describe(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "describe", "table")
    assert status == 0
    assert f"checksum:        sha256:{DIGEST}" in out
    assert f"uri:             {project / 'data' / 'table.csv'}" in out
    assert "status:          present, 12 bytes" in out
    _, out, _ = run(capsys, "describe", "unpinned")
    assert "not pinned" in out and "status:          unavailable:" in out


def test_load_prints_the_local_path_or_the_first_rows(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "load", "table")[1].strip() == str(project / "data" / "table.csv")
    status, out, _ = run(capsys, "load", "table", "--head", "1")
    assert status == 0 and out.split() == ["x", "y", "0", "1", "2"]


def test_save_publishes_a_file_checked_against_the_checksum(
    project: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    good, bad = tmp_path / "good.csv", tmp_path / "bad.csv"
    good.write_bytes(RAW)
    bad.write_bytes(b"x,y\n")
    status, out, _ = run(capsys, "save", "table", str(good))
    assert status == 0 and f"sha256:{DIGEST}" in out
    status, _, err = run(capsys, "save", "table", str(bad))
    assert status == 1 and "checksum mismatch" in err
    assert (project / "data" / "table.csv").read_bytes() == RAW
    assert run(capsys, "save", "table", str(bad), "--no-verify")[0] == 0
    assert (project / "data" / "table.csv").read_bytes() == b"x,y\n"


def test_fingerprint_of_names_and_paths_as_sha256sum_prints_them(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = run(capsys, "fingerprint", "table", "../data/table.csv")
    assert status == 0
    assert out.splitlines() == [f"{DIGEST}  table", f"{DIGEST}  ../data/table.csv"]


def test_verify_checks_every_pinned_dataset(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = run(capsys, "verify")
    assert status == 1
    lines = out.splitlines()
    assert lines[0].startswith("FAILED   broken: checksum mismatch")
    assert lines[1] == f"ok       table sha256:{DIGEST}"
    assert lines[2] == "skipped  unpinned (no checksum in the catalog)"
    assert run(capsys, "verify", "table")[0] == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["load", "tabel"], "no dataset 'tabel' in"),
        (["load", "unpinned"], "unpinned: "),
        (["describe", "nope"], "no dataset 'nope'"),
        (["fingerprint", "tabel"], "did you mean 'table'?"),
        (["--catalog", "/nonexistent/catalog.yaml", "list"], "no data catalog at"),
        (["list", "--catalog", "/nonexistent/catalog.yaml"], "no data catalog at"),
    ],
)
def test_errors_are_one_line_and_exit_1(
    project: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    status, out, err = run(capsys, *args)
    assert status == 1 and out == ""
    assert err.count("\n") == 1 and err.startswith("mlcore data: error: ") and message in err


def test_cache_prints_and_clears_the_cache_folder(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLCORE_DATA_CACHE", str(tmp_path / "cache"))
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "copy").write_text("x")
    assert run(capsys, "cache")[1].strip() == str(tmp_path / "cache")
    assert run(capsys, "cache", "--clear")[0] == 0
    assert not (tmp_path / "cache").exists()


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as error:
        data_cli.main(["frobnicate"], prog="mlcore data")
    assert error.value.code == 2


def test_mlcore_help_lists_the_data_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    assert "    data " in capsys.readouterr().out


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["-c", "import mlcore.data"], id="import"),
        pytest.param(["-m", "mlcore", "data", "--help"], id="help"),
        pytest.param(["-m", "mlcore", "--help"], id="mlcore-help"),
    ],
)
def test_stays_light(run_python, args: list[str]) -> None:
    """Neither the package nor the command's help import pandas, pyarrow, fsspec or mlflow."""
    imported = imported_packages(run_python(["-X", "importtime", *args]).stderr)
    assert "mlcore" in imported
    assert not imported & HEAVY, f"imported heavy packages: {sorted(imported & HEAVY)}"
