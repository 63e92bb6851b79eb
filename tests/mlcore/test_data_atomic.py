"""A writer killed in the middle of a save leaves the old version readable and no partial file.

The writer is a real process that saves a large raw file slowly (the source trickles in); it is
SIGKILLed once it has written several megabytes, on local files and on S3 (where the upload is
multipart by then: 5 MiB parts), so no cleanup code of ours gets to run.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from mlcore import data
from tests.conftest import REPO
from tests.mlcore.conftest import Backend

MIB = 1 << 20
WRITER = """
import json, sys, time
from mlcore import data

class Trickle:
    '''64 MiB, one MiB every 20 ms; says when 8 MiB have gone out.'''
    def __init__(self):
        self.sent = 0
    def read(self, size=-1):
        if self.sent >= 64 << 20:
            return b""
        time.sleep(0.02)
        self.sent += 1 << 20
        if self.sent == 8 << 20:
            print("midway", flush=True)
        return b"n" * (1 << 20)

data.save("blob", Trickle(), catalog=data.Catalog.from_dict(json.loads(sys.argv[1])))
print("finished", flush=True)
"""


def test_sigkill_mid_save_leaves_the_old_version_and_no_partial_file(backend: Backend) -> None:
    # 5 MiB parts: by the time of the kill, S3 has parts of an unfinished multipart upload.
    entry = backend.entry("blob.bin", format="raw", storage_options={"default_block_size": 5 * MIB})
    if not backend.server:
        entry.pop("storage_options")
    catalog = {"datasets": {"blob": entry}}
    old = b"the old version\n" * 1000
    data.save("blob", old, catalog=data.Catalog.from_dict(catalog))

    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, json.dumps(catalog)],
        cwd=REPO,
        env=os.environ.copy(),  # the test's credentials and endpoint
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = writer.stdout.readline()
        assert line.strip() == "midway", writer.stderr.read()
        if backend.name == "local":
            partial = [name for name in backend.listing() if name.endswith(".partial")]
            assert partial, "the writer is writing to its temporary file"
        time.sleep(0.1)
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=10)
    finally:
        if writer.poll() is None:
            writer.kill()
            writer.wait()
    assert writer.returncode == -signal.SIGKILL

    reader = data.Catalog.from_dict(catalog)
    assert data.load("blob", "bytes", catalog=reader) == old
    visible = [name for name in backend.listing() if not name.startswith(".")]
    assert visible == ["blob.bin"], "no partial file under any visible name"
    if backend.server:  # killed mid-upload indeed: parts were sent, never completed
        bucket = backend.base.removeprefix("s3://")
        uploads = backend.fs().call_s3("list_multipart_uploads", Bucket=bucket)
        assert [upload["Key"] for upload in uploads.get("Uploads", [])] == ["blob.bin"]

    # The next save of the same file removes what the dead writer left (local files; an
    # unfinished S3 upload was never an object at all).
    data.save("blob", b"new", catalog=reader)
    assert backend.listing() == ["blob.bin"]
    assert data.load("blob", "bytes", catalog=reader) == b"new"


@pytest.mark.parametrize("alive", [True, False])
def test_only_dead_writers_partial_files_are_removed(tmp_path, alive: bool) -> None:
    from mlcore.data.storage import HOST, remove_dead_partials

    target = tmp_path / "blob.bin"
    pid = os.getpid()
    if not alive:
        finished = subprocess.run(
            [sys.executable, "-c", "import os; print(os.getpid())"],
            capture_output=True,
            text=True,
            check=True,
        )
        pid = int(finished.stdout)
    leftover = tmp_path / f".blob.bin.{HOST}-{pid}-abc123.partial"
    leftover.write_bytes(b"partial")
    other_host = tmp_path / f".blob.bin.otherhost-{pid}-abc123.partial"
    other_host.write_bytes(b"partial")

    removed = remove_dead_partials(target)

    assert leftover.exists() is alive
    assert removed == ([] if alive else [leftover])
    assert other_host.exists(), "another machine's writer may still be running"
