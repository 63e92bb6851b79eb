"""mlcore.data load / save / fingerprint / verify, each on local files and on S3 (moto server).

The `backend` fixture runs every test twice: a local folder, and a fresh bucket on a real
S3-compatible server on 127.0.0.1 read through s3fs, its endpoint from the catalog's storage
options (an `${oc.env:...}` interpolation) and its credentials from the environment.
"""

from __future__ import annotations

import hashlib
import subprocess

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from mlcore import data
from tests.mlcore.conftest import Backend

FRAME = pd.DataFrame({"id": [1, 2, 3], "label": ["cat", "dog", "émeu"], "score": [0.5, 1.25, -2.0]})


def sha256(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def read_bytes(backend: Backend, file: str) -> bytes:
    return backend.fs().cat_file(f"{backend.base}/{file}")


def write_bytes(backend: Backend, file: str, raw: bytes) -> None:
    backend.fs().pipe_file(f"{backend.base}/{file}", raw)


@pytest.mark.parametrize("fmt", ["parquet", "csv", "jsonl"])
def test_tables_round_trip_to_pandas_and_arrow(backend: Backend, fmt: str) -> None:
    catalog = backend.catalog(table=backend.entry(f"table.{fmt}"))
    digest = data.save("table", FRAME, catalog=catalog)

    assert digest == sha256(read_bytes(backend, f"table.{fmt}"))
    pd.testing.assert_frame_equal(data.load("table", catalog=catalog), FRAME)
    table = data.load("table", "arrow", catalog=catalog)
    assert isinstance(table, pa.Table)
    assert table.column_names == ["id", "label", "score"] and table.num_rows == 3
    local = data.load("table", "path", catalog=catalog)
    assert local.is_file() and sha256(local.read_bytes()) == digest


def test_an_arrow_table_saves_as_parquet(backend: Backend) -> None:
    catalog = backend.catalog(table=backend.entry("table.parquet"))
    data.save("table", pa.Table.from_pandas(FRAME, preserve_index=False), catalog=catalog)
    assert data.load("table", "arrow", catalog=catalog).to_pandas().equals(FRAME)


def test_npz_round_trips_to_numpy_and_pandas(backend: Backend) -> None:
    catalog = backend.catalog(arrays=backend.entry("arrays.npz"))
    data.save("arrays", {"x": np.arange(4.0), "y": np.array([0, 1, 0, 1])}, catalog=catalog)

    arrays = data.load("arrays", "numpy", catalog=catalog)
    np.testing.assert_array_equal(arrays["x"], np.arange(4.0))
    assert list(data.load("arrays", catalog=catalog).columns) == ["x", "y"]


def test_raw_files_round_trip_as_bytes_and_paths(backend: Backend, tmp_path) -> None:
    catalog = backend.catalog(blob=backend.entry("blob.bin", format="raw"))
    payload = bytes(range(256)) * 100
    assert data.save("blob", payload, catalog=catalog) == sha256(payload)
    assert data.load("blob", "bytes", catalog=catalog) == payload

    source = tmp_path / "upload.bin"
    source.write_bytes(b"uploaded as it is")
    data.save_file("blob", source, catalog=catalog)
    assert data.load("blob", "path", catalog=catalog).read_bytes() == b"uploaded as it is"


def test_csv_is_byte_identical_for_the_same_frame(backend: Backend) -> None:
    """What lets a catalog pin a CSV with a checksum: no platform line endings, no index."""
    catalog = backend.catalog(a=backend.entry("a.csv"), b=backend.entry("b.csv"))
    assert data.save("a", FRAME, catalog=catalog) == data.save("b", FRAME.copy(), catalog=catalog)
    assert b"\r\n" not in read_bytes(backend, "a.csv")


def test_load_options_reach_the_reader(backend: Backend) -> None:
    entry = backend.entry("table.csv", load_options={"usecols": ["id", "score"]})
    catalog = backend.catalog(table=entry)
    data.save("table", FRAME, catalog=catalog)
    assert list(data.load("table", catalog=catalog).columns) == ["id", "score"]


def test_fingerprint_is_the_sha256_of_the_bytes_as_sha256sum_prints_it(backend: Backend) -> None:
    catalog = backend.catalog(table=backend.entry("table.csv"))
    data.save("table", FRAME, catalog=catalog)
    local = data.load("table", "path", catalog=catalog)
    sha256sum = subprocess.run(["sha256sum", local], capture_output=True, text=True, check=True)

    assert data.fingerprint("table", catalog=catalog) == sha256sum.stdout.split()[0]
    assert data.fingerprint_uri(f"{backend.base}/table.csv", **_endpoint(backend)) == (
        sha256(read_bytes(backend, "table.csv"))
    )


def _endpoint(backend: Backend) -> dict[str, str]:
    return {"endpoint_url": backend.server.url} if backend.server else {}


def test_verify_passes_on_the_pinned_bytes_and_names_both_digests_otherwise(
    backend: Backend,
) -> None:
    raw = FRAME.to_csv(index=False, lineterminator="\n").encode()
    write_bytes(backend, "table.csv", raw)
    good = backend.catalog(table=backend.entry("table.csv", checksum=f"sha256:{sha256(raw)}"))
    assert data.verify("table", catalog=good) == sha256(raw)

    pinned = "0" * 64
    bad = backend.catalog(table=backend.entry("table.csv", checksum=pinned))
    with pytest.raises(data.ChecksumMismatchError) as refused:
        data.load("table", catalog=bad)
    message = str(refused.value)
    assert "table" in message and pinned in message and sha256(raw) in message
    assert (refused.value.expected, refused.value.actual) == (pinned, sha256(raw))
    with pytest.raises(data.ChecksumMismatchError):
        data.verify("table", catalog=bad)


def test_verify_without_a_checksum_says_what_to_add(backend: Backend) -> None:
    catalog = backend.catalog(table=backend.entry("table.csv"))
    data.save("table", FRAME, catalog=catalog)
    with pytest.raises(data.CatalogError, match=r"add `checksum: sha256:[0-9a-f]{64}`"):
        data.verify("table", catalog=catalog)


def test_a_save_whose_bytes_miss_the_checksum_replaces_nothing(backend: Backend) -> None:
    old = FRAME.to_csv(index=False, lineterminator="\n").encode()
    write_bytes(backend, "table.csv", old)
    catalog = backend.catalog(table=backend.entry("table.csv", checksum=sha256(old)))

    with pytest.raises(data.ChecksumMismatchError, match="table"):
        data.save("table", FRAME.head(1), catalog=catalog)

    assert read_bytes(backend, "table.csv") == old
    assert backend.listing() == ["table.csv"], "nothing half-written left behind"
    assert data.save("table", FRAME, catalog=catalog) == sha256(old)


def test_a_writer_that_fails_midway_leaves_the_old_version(backend: Backend) -> None:
    catalog = backend.catalog(blob=backend.entry("blob.bin", format="raw"))
    data.save("blob", b"version 1", catalog=catalog)

    class Failing:
        def __init__(self) -> None:
            self.calls = 0

        def read(self, size: int = -1) -> bytes:
            self.calls += 1
            if self.calls > 3:
                raise OSError("the source went away")
            return b"x" * 1024

    with pytest.raises(data.DataError, match="the source went away"):
        data.save("blob", Failing(), catalog=catalog)

    assert data.load("blob", "bytes", catalog=catalog) == b"version 1"
    assert backend.listing() == ["blob.bin"]


def test_missing_file(backend: Backend) -> None:
    catalog = backend.catalog(table=backend.entry("nowhere/table.parquet"))
    assert not data.exists("table", catalog=catalog)
    with pytest.raises(data.DatasetNotFoundError, match=r"table: .*table\.parquet does not exist"):
        data.load("table", catalog=catalog)
    with pytest.raises(data.DatasetNotFoundError):
        data.fingerprint("table", catalog=catalog)


@pytest.mark.parametrize(
    ("fmt", "raw"),
    [
        ("parquet", b"PAR1 this is not parquet at all"),
        ("csv", b'a,b\n1,"unterminated\n'),
        ("jsonl", b'{"a": 1}\n{"a": \n'),
        ("npz", b"PK\x03\x04 a broken zip"),
    ],
)
def test_corrupt_files_are_refused_with_the_dataset_name(
    backend: Backend, fmt: str, raw: bytes
) -> None:
    write_bytes(backend, f"broken.{fmt}", raw)
    catalog = backend.catalog(broken=backend.entry(f"broken.{fmt}"))
    with pytest.raises(data.CorruptDataError, match=rf"broken: .* is not readable as {fmt}"):
        data.load("broken", "numpy" if fmt == "npz" else "pandas", catalog=catalog)


def test_a_target_the_format_cannot_load_into_is_refused_before_any_read(
    backend: Backend,
) -> None:
    catalog = backend.catalog(blob=backend.entry("missing.bin", format="raw"))
    with pytest.raises(data.UnsupportedFormatError, match="loads to path, bytes, not 'pandas'"):
        data.load("blob", catalog=catalog)


def test_saving_the_wrong_kind_of_object_is_refused(backend: Backend) -> None:
    catalog = backend.catalog(table=backend.entry("table.parquet"))
    with pytest.raises(data.UnsupportedFormatError, match=r"cannot save a builtins\.list"):
        data.save("table", [1, 2, 3], catalog=catalog)
    assert backend.listing() == []


def test_bad_load_options_are_a_catalog_error(backend: Backend) -> None:
    entry = backend.entry("table.csv", load_options={"no_such_option": 1})
    catalog = backend.catalog(table=entry)
    data.save("table", FRAME, catalog=catalog)
    with pytest.raises(data.CatalogError, match="load_options"):
        data.load("table", catalog=catalog)


def test_unknown_protocol(tmp_path) -> None:
    catalog = data.Catalog.from_dict({"datasets": {"x": "nosuchfs://bucket/x.csv"}})
    with pytest.raises(data.UnsupportedProtocolError, match=r"x: unsupported protocol nosuchfs://"):
        data.load("x", catalog=catalog)


def test_a_protocol_whose_package_is_missing_names_the_extra(monkeypatch) -> None:
    import importlib

    registry = importlib.import_module("fsspec.registry")  # `fsspec.registry` is also a mapping
    monkeypatch.setitem(
        registry.known_implementations,
        "gs",
        {"class": "no_such_module.GCSFileSystem", "err": "Please install gcsfs to access GCS"},
    )
    monkeypatch.delitem(registry._registry, "gs", raising=False)
    catalog = data.Catalog.from_dict({"datasets": {"x": "gs://bucket/x.csv"}})
    with pytest.raises(data.UnsupportedProtocolError, match=r"gs:// needs .*gcsfs.*\[gcs\]"):
        data.load("x", catalog=catalog)


def test_missing_credentials_are_a_credentials_error(
    moto_server, fresh_s3, data_cache, monkeypatch, tmp_path
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("MLCORE_TEST_S3_ENDPOINT", moto_server.url)
    entry = {
        "uri": "s3://bucket/table.csv",
        "storage_options": {"endpoint_url": "${oc.env:MLCORE_TEST_S3_ENDPOINT}"},
    }
    catalog = data.Catalog.from_dict({"datasets": {"table": entry}})
    with pytest.raises(data.CredentialsError, match=r"table: no usable credentials .*AWS_"):
        data.load("table", catalog=catalog)
    with pytest.raises(data.CredentialsError):
        data.save("table", FRAME, catalog=catalog)


def test_the_endpoint_may_come_from_the_environment_alone(
    moto_server, fresh_s3, data_cache, monkeypatch
) -> None:
    """AWS_ENDPOINT_URL (botocore's own variable) works without any storage option."""
    import s3fs

    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server.url)
    s3fs.S3FileSystem(endpoint_url=moto_server.url).mkdir("env-endpoint")
    catalog = data.Catalog.from_dict({"datasets": {"t": "s3://env-endpoint/t.parquet"}})
    data.save("t", FRAME, catalog=catalog)
    pd.testing.assert_frame_equal(data.load("t", catalog=catalog), FRAME)
