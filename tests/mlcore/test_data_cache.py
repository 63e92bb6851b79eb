"""Remote files are cached by fsspec: a re-run reads nothing twice.

Requests are counted in the S3 server's own request log; one test stops the server outright
after the first load.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import s3fs

from mlcore import data
from tests.conftest import REPO
from tests.servers import MotoServer, start_moto_server

FRAME = pd.DataFrame({"x": range(100), "y": [f"row {i}" for i in range(100)]})
RAW = FRAME.to_csv(index=False, lineterminator="\n").encode()
DIGEST = hashlib.sha256(RAW).hexdigest()


def bucket_with_table(server: MotoServer) -> str:
    bucket = f"cache-{uuid.uuid4().hex[:12]}"
    fs = s3fs.S3FileSystem(endpoint_url=server.url, skip_instance_cache=True)
    fs.mkdir(bucket)
    fs.pipe_file(f"{bucket}/table.csv", RAW)
    return bucket


def catalog_for(server: MotoServer, bucket: str, **fields: object) -> dict:
    entry = {
        "uri": f"s3://{bucket}/table.csv",
        "storage_options": {"endpoint_url": server.url},
        **fields,
    }
    return {"datasets": {"table": entry}}


def load(catalog: dict, to: str = "pandas") -> Any:
    return data.load("table", to, catalog=data.Catalog.from_dict(catalog))


def test_a_pinned_file_is_downloaded_once_and_never_asked_for_again(
    moto_server: MotoServer, s3_env, data_cache: Path
) -> None:
    bucket = bucket_with_table(moto_server)
    catalog = catalog_for(moto_server, bucket, checksum=DIGEST)
    key = f"/{bucket}/table.csv"

    pd.testing.assert_frame_equal(load(catalog), FRAME)
    assert len(moto_server.requests(f"GET {key}")) == 1
    seen = len(moto_server.requests(key))

    pd.testing.assert_frame_equal(load(catalog), FRAME)
    assert load(catalog, "path").read_bytes() == RAW
    assert data.fingerprint("table", catalog=data.Catalog.from_dict(catalog)) == DIGEST
    assert len(moto_server.requests(key)) == seen, "the server saw nothing after the first load"
    assert Path(load(catalog, "path")).is_relative_to(data_cache)


def test_an_unpinned_file_is_revalidated_but_not_downloaded_again(
    moto_server: MotoServer, s3_env, data_cache: Path
) -> None:
    bucket = bucket_with_table(moto_server)
    catalog = catalog_for(moto_server, bucket)  # no checksum: `cache: check` by default
    key = f"/{bucket}/table.csv"

    load(catalog)
    load(catalog)
    assert len(moto_server.requests(f"GET {key}")) == 1, "one download"

    # The file changes on the server: the next load sees it.
    changed = FRAME.head(3).to_csv(index=False, lineterminator="\n").encode()
    s3fs.S3FileSystem(endpoint_url=moto_server.url, skip_instance_cache=True).pipe_file(
        f"{bucket}/table.csv", changed
    )
    assert len(load(catalog)) == 3
    assert len(moto_server.requests(f"GET {key}")) == 2


def test_a_rerun_in_another_process_reads_nothing(
    moto_server: MotoServer, s3_env, data_cache: Path
) -> None:
    bucket = bucket_with_table(moto_server)
    catalog = json.dumps(catalog_for(moto_server, bucket, checksum=DIGEST))
    code = (
        "import json, sys; from mlcore import data; "
        "print(len(data.load('table', catalog=data.Catalog.from_dict(json.loads(sys.argv[1])))))"
    )
    key = f"/{bucket}/table.csv"
    for run in range(2):
        result = subprocess.run(
            [sys.executable, "-c", code, catalog],
            cwd=REPO,
            env=os.environ.copy(),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.stdout.strip() == "100", result.stderr
        if run == 0:
            seen = len(moto_server.requests(key))
    assert len(moto_server.requests(key)) == seen


def test_a_stopped_server_does_not_matter_once_cached(
    s3_env, data_cache: Path, tmp_path: Path
) -> None:
    server = start_moto_server(tmp_path)
    try:
        catalog = catalog_for(server, bucket_with_table(server), checksum=DIGEST)
        load(catalog)
    finally:
        server.stop()
    pd.testing.assert_frame_equal(load(catalog), FRAME)


def test_a_save_replaces_the_cached_copy(moto_server: MotoServer, s3_env, data_cache: Path) -> None:
    catalog = catalog_for(moto_server, bucket_with_table(moto_server))
    load(catalog)
    data.save("table", FRAME.head(5), catalog=data.Catalog.from_dict(catalog))
    assert len(load(catalog)) == 5


def test_a_damaged_cached_copy_is_fetched_again(
    moto_server: MotoServer, s3_env, data_cache: Path
) -> None:
    catalog = catalog_for(moto_server, bucket_with_table(moto_server), checksum=DIGEST)
    cached = load(catalog, "path")
    cached.write_bytes(b"bit rot")

    pd.testing.assert_frame_equal(load(catalog), FRAME)
    assert load(catalog, "path").read_bytes() == RAW


def test_a_remote_file_that_changed_against_its_pin_is_refused_and_not_kept(
    moto_server: MotoServer, s3_env, data_cache: Path
) -> None:
    bucket = bucket_with_table(moto_server)
    catalog = catalog_for(moto_server, bucket, checksum="1" * 64)
    with pytest.raises(data.ChecksumMismatchError, match=DIGEST):
        load(catalog)
    assert not [path for path in data_cache.rglob("*") if path.read_bytes() == RAW]
