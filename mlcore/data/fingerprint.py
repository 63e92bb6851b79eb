"""Fingerprints: the sha256 of a file's bytes, streamed in fixed chunks.

Only the bytes count, so it is what `sha256sum` prints, checkable without mlcore. A local file's
digest is remembered for this process while its size, mtime and inode stay the same, so a
verified load logs its lineage without reading the file again.
"""

from __future__ import annotations

import hashlib
import os
from typing import BinaryIO

# Large enough that the per-call overhead vanishes, small enough to stay in the CPU cache.
CHUNK_SIZE = 1 << 20
_MEMO: dict[tuple[str, int, int, int, int], str] = {}
_MEMO_LIMIT = 256


def sha256_stream(stream: BinaryIO, chunk_size: int = CHUNK_SIZE) -> str:
    """The sha256 (hex) of everything left to read in a binary stream."""
    digest = hashlib.sha256()
    readinto = getattr(stream, "readinto", None)
    if readinto is None:  # some file-likes only read()
        while chunk := stream.read(chunk_size):
            digest.update(chunk)
        return digest.hexdigest()
    buffer = bytearray(chunk_size)
    view = memoryview(buffer)
    while size := readinto(buffer):
        digest.update(view[:size])
    return digest.hexdigest()


def sha256_file(path: str | os.PathLike[str]) -> str:
    """The sha256 (hex) of a local file, remembered while the file is unchanged."""
    path = os.path.realpath(path)
    stat = os.stat(path)
    key = (path, stat.st_size, stat.st_mtime_ns, stat.st_ino, stat.st_dev)
    if key in _MEMO:
        return _MEMO[key]
    with open(path, "rb", buffering=0) as stream:
        digest = sha256_stream(stream)
    if len(_MEMO) >= _MEMO_LIMIT:
        _MEMO.clear()
    _MEMO[key] = digest
    return digest


def forget(path: str | os.PathLike[str]) -> None:
    """Drop what is remembered about a path (after it was replaced)."""
    real = os.path.realpath(path)
    for key in [key for key in _MEMO if key[0] == real]:
        del _MEMO[key]


class HashingWriter:
    """A binary sink that hashes what passes through it, so a save knows the digest of what it
    wrote without reading it back."""

    mode = "wb"

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self._digest = hashlib.sha256()
        self.size = 0
        self.closed = False

    def write(self, data: bytes | bytearray | memoryview) -> int:
        if self.closed:
            raise ValueError("write to a closed file")
        view = memoryview(data).cast("B")
        self._raw.write(view)
        self._digest.update(view)
        self.size += len(view)
        return len(view)

    def hexdigest(self) -> str:
        return self._digest.hexdigest()

    def tell(self) -> int:
        return self.size

    def flush(self) -> None:
        if not self.closed:
            self._raw.flush()

    def close(self) -> None:
        """Writers close their sink when done; the underlying file is the saver's to commit."""
        self.closed = True

    def writable(self) -> bool:
        return True

    def readable(self) -> bool:
        return False

    def seekable(self) -> bool:
        return False

    def seek(self, *args: object) -> int:
        import io

        raise io.UnsupportedOperation("seek")

    def read(self, *args: object) -> bytes:
        """Never readable; present because numpy takes only objects with `read` for files."""
        import io

        raise io.UnsupportedOperation("read")

    def __enter__(self) -> HashingWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
