"""The catalog file: entries resolved one by one, paths made absolute, mistakes named precisely;
and the check-configs hook, which composes every top-level configs/*.yaml, accepts it."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from mlcore import data
from mlcore.data.catalog import entry_or_none, find_catalog
from mlcore.hooks import check_configs

DIGEST = "9f7fca3251c178a06039990b75e3023f8b888151d2e2d4579c3ba0d2744a1d00"
CATALOG = f"""\
# The project's datasets.
root: ..
bucket: ${{oc.env:MLCORE_TEST_BUCKET,default-bucket}}
datasets:
  digits:
    description: handwritten digits
    uri: data/raw/digits.csv
    checksum: sha256:{DIGEST.upper()}
  shorthand: data/processed/features.parquet
  remote:
    uri: s3://${{bucket}}/images/train.parquet
    storage_options:
      anon: true
  needs_env:
    uri: s3://${{oc.env:MLCORE_TEST_UNSET_BUCKET}}/x.csv
  pinned_remote:
    uri: gs://bucket/x.npz
    checksum: {DIGEST}
  forced_format:
    uri: https://example.com/export?id=3
    format: json lines
"""


def write_catalog(project: Path, text: str = CATALOG) -> Path:
    path = project / "configs" / "catalog.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


@pytest.fixture
def catalog(tmp_path: Path) -> data.Catalog:
    return data.Catalog.from_file(write_catalog(tmp_path))


def test_entries_resolve_with_absolute_paths_and_normalised_checksums(
    catalog: data.Catalog, tmp_path: Path
) -> None:
    digits = catalog.get("digits")
    assert digits.uri == str(tmp_path / "data" / "raw" / "digits.csv")
    assert digits.is_local and digits.protocol == "file"
    assert (digits.format, digits.checksum, digits.description) == (
        "csv",
        DIGEST,
        "handwritten digits",
    )
    assert digits.cache is True  # pinned: the cached copy is trusted (and verified)
    assert catalog.get("shorthand").format == "parquet"
    assert catalog.get("forced_format").format == "jsonl"
    assert catalog.get("pinned_remote").format == "npz"


def test_other_top_level_keys_and_environment_variables_interpolate(
    catalog: data.Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    remote = catalog.get("remote")
    assert remote.uri == "s3://default-bucket/images/train.parquet"
    assert (remote.protocol, remote.is_local, remote.cache) == ("s3", False, "check")
    assert remote.storage_options == {"anon": True}
    monkeypatch.setenv("MLCORE_TEST_BUCKET", "team-bucket")
    assert catalog.get("remote").uri == "s3://team-bucket/images/train.parquet"


def test_an_unset_variable_fails_its_entry_only(catalog: data.Catalog) -> None:
    with pytest.raises(
        data.CatalogError,
        match=r"needs_env: environment variable MLCORE_TEST_UNSET_BUCKET is not set",
    ):
        catalog.get("needs_env")
    assert catalog.get("digits").name == "digits"


def test_names_iteration_and_membership(catalog: data.Catalog) -> None:
    assert catalog.names() == sorted(
        ["digits", "shorthand", "remote", "needs_env", "pinned_remote", "forced_format"]
    )
    assert "digits" in catalog and "nope" not in catalog and len(catalog) == 6


def test_an_unknown_name_lists_the_close_matches(catalog: data.Catalog) -> None:
    with pytest.raises(
        data.UnknownDatasetError, match=r"no dataset 'digit' .*did you mean 'digits'\?"
    ) as error:
        catalog.get("digit")
    assert error.value.suggestions == ["digits"]
    with pytest.raises(data.UnknownDatasetError, match="see `mlcore data list`"):
        catalog.get("zzzzzz")


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            {"uri": "a.csv", "chekcsum": DIGEST},
            r"unknown key 'chekcsum'; did you mean 'checksum'\?",
        ),
        ({"format": "csv"}, r"`uri` is missing"),
        ({"uri": "a.csv", "checksum": "md5:abc"}, r"is not a sha256"),
        ({"uri": "a.csv", "load_options": [1]}, r"`load_options` must be a mapping"),
        ({"uri": "a.csv", "cache": "sometimes"}, r"`cache` is true or check"),
        (["a.csv"], r"an entry is a mapping"),
    ],
)
def test_malformed_entries_are_catalog_errors(entry: object, message: str) -> None:
    catalog = data.Catalog.from_dict({"datasets": {"broken": entry}})
    with pytest.raises(data.CatalogError, match=message):
        catalog.get("broken")


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"uri": "a.xlsx"}, r"cannot tell the format of .*a\.xlsx.*add `format:`"),
        (
            {"uri": "a.csv", "format": "excel"},
            r"unsupported format 'excel'; supported: parquet, csv",
        ),
    ],
)
def test_unsupported_formats(entry: dict, message: str) -> None:
    catalog = data.Catalog.from_dict({"datasets": {"sheet": entry}})
    with pytest.raises(data.UnsupportedFormatError, match=message):
        catalog.get("sheet")


def test_compressed_suffixes_still_tell_the_format() -> None:
    catalog = data.Catalog.from_dict({"datasets": {"t": "s3://b/t.csv.gz"}})
    assert catalog.get("t").format == "csv"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("datasets: [a, b]\n", "needs a `datasets:` mapping"),
        ("datasets:\n  a: {uri: x.csv\n", "not a valid catalog"),
        ("{}\n", "needs a `datasets:` mapping"),
    ],
)
def test_invalid_catalog_files(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(data.CatalogError, match=message):
        data.Catalog.from_file(write_catalog(tmp_path, text))


def test_a_missing_catalog_file_says_how_to_give_one(tmp_path: Path) -> None:
    with pytest.raises(data.CatalogError, match=r"no data catalog at .*MLCORE_CATALOG"):
        data.Catalog.from_file(tmp_path / "nope.yaml")


def test_the_project_catalog_is_found_from_a_subfolder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As a notebook in notebooks/ finds it; MLCORE_CATALOG overrides."""
    path = write_catalog(tmp_path)
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    monkeypatch.delenv("MLCORE_CATALOG", raising=False)
    monkeypatch.chdir(notebooks)
    assert find_catalog() == path
    # Without a catalog argument, the found one is used.
    with pytest.raises(data.DatasetNotFoundError, match="digits"):
        data.load("digits")
    monkeypatch.setenv("MLCORE_CATALOG", str(tmp_path / "elsewhere.yaml"))
    assert find_catalog() == tmp_path / "elsewhere.yaml"
    monkeypatch.delenv("MLCORE_CATALOG")
    monkeypatch.chdir(tmp_path.parent)
    with pytest.raises(data.CatalogError, match=r"no data catalog: no configs/catalog\.yaml"):
        find_catalog(tmp_path.parent)


def test_the_catalog_of_project_root_is_found_from_anywhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run started elsewhere with PROJECT_ROOT set (the root the configs use) reads that
    project's data; MLCORE_CATALOG still wins; a PROJECT_ROOT without a catalog falls back to
    the working directory's, and with none there either the error names both."""
    project = tmp_path / "project"
    path = write_catalog(project)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.delenv("MLCORE_CATALOG", raising=False)
    monkeypatch.chdir(elsewhere)
    monkeypatch.setenv("PROJECT_ROOT", str(project))
    assert find_catalog() == path.resolve()
    monkeypatch.setenv("MLCORE_CATALOG", str(tmp_path / "other.yaml"))
    assert find_catalog() == tmp_path / "other.yaml"
    monkeypatch.delenv("MLCORE_CATALOG")
    monkeypatch.setenv("PROJECT_ROOT", str(elsewhere))
    monkeypatch.chdir(project / "configs")
    assert find_catalog() == path.resolve()
    monkeypatch.chdir(tmp_path)
    with pytest.raises(data.CatalogError, match=r"in .*elsewhere, .*point PROJECT_ROOT"):
        find_catalog()


def test_entry_or_none_for_commands_taking_a_name_or_a_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """None without a catalog or without the name (the caller reads a path); a catalog that is
    there but unreadable is an error rather than a silent fall-back to a file."""
    monkeypatch.delenv("MLCORE_CATALOG", raising=False)
    monkeypatch.chdir(tmp_path)
    assert entry_or_none("digits") is None  # no catalog anywhere above tmp_path
    path = write_catalog(tmp_path)
    assert entry_or_none("digits").uri == str(tmp_path / "data" / "raw" / "digits.csv")
    assert entry_or_none("data/raw/digits.csv", path) is None
    path.write_text("datasets: [not, a, mapping]\n")
    with pytest.raises(data.CatalogError, match=r"catalog\.yaml"):
        entry_or_none("digits")


# -- the check-configs hook composes every top-level configs/*.yaml: the catalog composes too ---

TRAIN = """\
defaults:
  - _self_
  - model: small
seed: 1
"""


def hook_project(tmp_path: Path, catalog: str) -> Path:
    write_catalog(tmp_path, catalog)
    configs = tmp_path / "configs"
    (configs / "train.yaml").write_text(TRAIN)
    (configs / "model").mkdir()
    (configs / "model" / "small.yaml").write_text("hidden: 8\n")
    (configs / "model" / "large.yaml").write_text("hidden: 64\n")
    return configs


def test_check_configs_accepts_a_catalog_with_unset_environment_variables(tmp_path: Path) -> None:
    """`${oc.env:...}` of a variable set only where the data is read is fine at commit time."""
    configs = hook_project(tmp_path, CATALOG)
    assert check_configs.check(configs, jobs=1) == []


def test_check_configs_reports_a_broken_interpolation_in_the_catalog(tmp_path: Path) -> None:
    broken = "datasets:\n  a:\n    uri: s3://${bucket}/a.csv\n"
    configs = hook_project(tmp_path, broken)
    problems = check_configs.check(configs, jobs=1)
    assert [str(p) for p in problems] and all("catalog.yaml" in str(p) for p in problems)
    assert any("datasets.a.uri" in str(p) for p in problems)
