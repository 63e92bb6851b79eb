"""Fingerprints depend on the bytes only: equal for equal content, different for any changed
byte."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlcore.data.fingerprint import (
    CHUNK_SIZE,
    HashingWriter,
    forget,
    sha256_file,
    sha256_stream,
)

SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@SETTINGS
@given(content=st.binary(max_size=4096), chunk=st.integers(min_value=1, max_value=512))
def test_equal_content_gives_equal_fingerprints_whatever_the_chunking(
    content: bytes, chunk: int
) -> None:
    expected = hashlib.sha256(content).hexdigest()
    assert sha256_stream(io.BytesIO(content), chunk_size=chunk) == expected
    assert sha256_stream(io.BytesIO(content)) == expected


@SETTINGS
@given(
    content=st.binary(min_size=1, max_size=4096),
    where=st.integers(min_value=0),
    flip=st.integers(min_value=1, max_value=255),
)
def test_any_single_changed_byte_changes_the_fingerprint(
    tmp_path: Path, content: bytes, where: int, flip: int
) -> None:
    position = where % len(content)
    changed = bytearray(content)
    changed[position] ^= flip
    first, second = tmp_path / "a.bin", tmp_path / "b.bin"
    first.write_bytes(content)
    second.write_bytes(bytes(changed))
    assert sha256_file(first) != sha256_file(second)


def test_every_byte_position_of_a_multi_chunk_file_counts(tmp_path: Path) -> None:
    """A loop over positions across chunk boundaries of a file larger than one chunk."""
    content = os.urandom(CHUNK_SIZE + 4096)
    path = tmp_path / "big.bin"
    path.write_bytes(content)
    original = sha256_file(path)
    seen = {original}
    for position in (0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, len(content) - 1):
        changed = bytearray(content)
        changed[position] ^= 0x01
        path.write_bytes(bytes(changed))
        forget(path)
        seen.add(sha256_file(path))
    assert len(seen) == 7
    path.write_bytes(content)
    forget(path)
    assert sha256_file(path) == original == hashlib.sha256(content).hexdigest()


def test_a_rewritten_file_is_hashed_again(tmp_path: Path) -> None:
    """The in-process memo is keyed on size, mtime and inode: a replaced file is not stale."""
    path = tmp_path / "data.bin"
    path.write_bytes(b"first")
    assert sha256_file(path) == hashlib.sha256(b"first").hexdigest()
    replacement = tmp_path / "new.bin"
    replacement.write_bytes(b"second, longer")
    os.replace(replacement, path)
    assert sha256_file(path) == hashlib.sha256(b"second, longer").hexdigest()


def test_the_hashing_writer_hashes_exactly_what_it_passes_on() -> None:
    sink = io.BytesIO()
    writer = HashingWriter(sink)
    for piece in (b"abc", bytearray(b"def"), memoryview(b"ghi")):
        writer.write(piece)
    writer.close()
    assert sink.getvalue() == b"abcdefghi" and writer.size == 9 and writer.tell() == 9
    assert writer.hexdigest() == hashlib.sha256(b"abcdefghi").hexdigest()
