"""Where the bytes live: fsspec file systems, the local cache of remote files, atomic writes.

Remote reads go through fsspec's whole-file cache ($MLCORE_DATA_CACHE, else
~/.cache/mlcore/data): a pinned entry trusts its copy (the load verifies it), an unpinned one
asks the store whether the file changed. Writes are atomic: a local file is written under a
hidden name and renamed over the target (a dead writer's leftovers go on the next save); object
stores publish only a completed upload, so a failed one is aborted (a "move" there would be a
copy plus a delete); other file systems get a temporary name and `fs.mv`.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import socket
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mlcore.data.catalog import Dataset
from mlcore.data.errors import (
    ChecksumMismatchError,
    CredentialsError,
    DataError,
    DatasetNotFoundError,
    UnsupportedProtocolError,
    first_line,
)
from mlcore.data.fingerprint import HashingWriter, forget, sha256_file

CACHE_ENV = "MLCORE_DATA_CACHE"
# Stores that make an object visible only once its upload completes.
ATOMIC_PUT_PROTOCOLS = frozenset({"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "adl"})
# The package each protocol needs, and the extra of a generated project that installs it.
PROTOCOL_PACKAGES = {
    "s3": ("s3fs", "s3"),
    "s3a": ("s3fs", "s3"),
    "gs": ("gcsfs", "gcs"),
    "gcs": ("gcsfs", "gcs"),
    "az": ("adlfs", "azure"),
    "abfs": ("adlfs", "azure"),
    "abfss": ("adlfs", "azure"),
    "http": ("aiohttp", None),
    "https": ("aiohttp", None),
}
CREDENTIALS_HINT = (
    "give the store's credentials in the environment (S3: AWS_ACCESS_KEY_ID and "
    "AWS_SECRET_ACCESS_KEY or AWS_PROFILE; GCS: GOOGLE_APPLICATION_CREDENTIALS; Azure: "
    "AZURE_STORAGE_CONNECTION_STRING or AZURE_STORAGE_ACCOUNT_KEY), never in the catalog"
)
PARTIAL_SUFFIX = ".partial"
HOST = socket.gethostname().replace("-", "_") or "host"


def cache_dir() -> Path:
    """Where copies of remote files are kept."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "mlcore" / "data"


@contextlib.contextmanager
def storage_errors(dataset: Dataset, action: str = "read") -> Iterator[None]:
    """Turn what fsspec and the stores' clients raise into mlcore.data errors."""
    try:
        yield
    except DataError:
        raise
    except FileNotFoundError as error:
        hint = (
            "create it (`make data` materialises a project's datasets) or fix the catalog's uri"
            if action == "read"
            else "create the folder or bucket, or fix the catalog's uri"
        )
        raise DatasetNotFoundError(
            f"{dataset.name}: {dataset.uri} does not exist; {hint}"
        ) from error
    except ImportError as error:
        package, extra = PROTOCOL_PACKAGES.get(dataset.protocol, (None, None))
        needs = f"{package} (`pip install '.[{extra}]'` in a generated project)" if extra else ""
        raise UnsupportedProtocolError(
            f"{dataset.name}: {dataset.protocol}:// needs a package that is not installed: "
            f"{needs or first_line(error)}"
        ) from error
    except PermissionError as error:
        raise CredentialsError(
            f"{dataset.name}: access to {dataset.uri} denied ({first_line(error)}); "
            f"{CREDENTIALS_HINT}"
        ) from error
    except Exception as error:
        if _is_credentials_error(error):
            raise CredentialsError(
                f"{dataset.name}: no usable credentials for {dataset.uri} "
                f"({first_line(error)}); {CREDENTIALS_HINT}"
            ) from error
        if isinstance(error, ValueError) and "protocol not known" in str(error).lower():
            raise UnsupportedProtocolError(
                f"{dataset.name}: unsupported protocol {dataset.protocol}:// in {dataset.uri}; "
                "use a local path or a protocol fsspec knows (s3, gs, az, http(s), ...)"
            ) from error
        if isinstance(error, OSError) or type(error).__module__.split(".")[0] in (
            "botocore",
            "aiobotocore",
            "aiohttp",
            "gcsfs",
            "adlfs",
            "azure",
        ):
            raise DataError(
                f"{dataset.name}: could not {action} {dataset.uri}: {first_line(error)}"
            ) from error
        raise


def _is_credentials_error(error: BaseException) -> bool:
    """botocore's NoCredentialsError, google.auth's DefaultCredentialsError, Azure's
    ClientAuthenticationError..., without importing any of them."""
    while error is not None:
        name = type(error).__name__
        if "Credential" in name or "Authentication" in name:
            return True
        error = error.__cause__ or error.__context__  # type: ignore[assignment]
    return False


def remote_fs(dataset: Dataset) -> tuple[Any, str]:
    """The fsspec file system of a dataset's URI, and the path within it."""
    from fsspec.core import url_to_fs

    with storage_errors(dataset):
        return url_to_fs(dataset.uri, **dict(dataset.storage_options))


def cached_fs(dataset: Dataset) -> tuple[Any, str]:
    """fsspec's whole-file cache over the dataset's file system, and the path within it."""
    from fsspec.implementations.cached import WholeFileCacheFileSystem

    fs, path = remote_fs(dataset)
    cache = WholeFileCacheFileSystem(
        fs=fs,
        cache_storage=str(cache_dir()),
        check_files=dataset.cache == "check",
        expiry_time=False,
        # A fresh instance reads the cache's metadata from disk, so it sees what other
        # processes (and other entries of the same file) downloaded since.
        skip_instance_cache=True,
    )
    return cache, path


def local_copy(dataset: Dataset) -> str:
    """A local file with the dataset's bytes: the file itself, or the cached copy of a remote one
    (downloaded on first use only)."""
    with storage_errors(dataset):
        if dataset.is_local:
            path = dataset.local_path
            if not path.is_file():
                raise FileNotFoundError(str(path))
            return str(path)
        fs, cached_path = cached_fs(dataset)
        with fs.open(cached_path, "rb") as cached:
            return str(cached.name)


def drop_cached(dataset: Dataset) -> None:
    """Forget the cached copy of a remote dataset (after a write, or when it fails its checksum)."""
    if dataset.is_local:
        forget(dataset.local_path)
        return
    fs, path = cached_fs(dataset)
    with contextlib.suppress(FileNotFoundError, KeyError):
        fs.pop_from_cache(path)


def exists(dataset: Dataset) -> bool:
    """Whether the dataset's file exists (asks the store for a remote one)."""
    if dataset.is_local:
        return dataset.local_path.is_file()
    fs, path = remote_fs(dataset)
    with storage_errors(dataset):
        return bool(fs.exists(path))


def info(dataset: Dataset) -> dict[str, Any]:
    """The store's metadata of the dataset's file (size, modification time...)."""
    with storage_errors(dataset):
        if dataset.is_local:
            stat = dataset.local_path.stat()
            return {"size": stat.st_size, "mtime": stat.st_mtime}
        fs, path = remote_fs(dataset)
        return dict(fs.info(path))


@contextlib.contextmanager
def atomic_write(dataset: Dataset, expected: str | None = None) -> Iterator[HashingWriter]:
    """A binary sink for the dataset's new bytes, published only if the writing completes (and,
    with `expected`, only if their sha256 is that one)."""
    if dataset.is_local:
        writer = _write_local
    elif dataset.protocol in ATOMIC_PUT_PROTOCOLS:
        writer = _write_object
    else:
        writer = _write_then_move
    with storage_errors(dataset, "write"), writer(dataset, expected) as sink:
        yield sink
    if not dataset.is_local:
        drop_cached(dataset)


@contextlib.contextmanager
def _write_local(dataset: Dataset, expected: str | None) -> Iterator[HashingWriter]:
    target = dataset.local_path
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_dead_partials(target)
    handle, temporary = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.name}.{HOST}-{os.getpid()}-", suffix=PARTIAL_SUFFIX
    )
    try:
        with os.fdopen(handle, "wb") as raw:
            sink = HashingWriter(raw)
            yield sink
            raw.flush()
            os.fsync(raw.fileno())
        _check(dataset, expected, sink)
        os.chmod(temporary, _file_mode())  # mkstemp makes it private; a dataset is not
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(temporary)
        raise
    forget(target)
    _sync_folder(target.parent)


@contextlib.contextmanager
def _write_object(dataset: Dataset, expected: str | None) -> Iterator[HashingWriter]:
    fs, path = remote_fs(dataset)
    handle = fs.open(path, "wb")
    try:
        sink = HashingWriter(handle)
        yield sink
        _check(dataset, expected, sink)
    except BaseException:
        _abort(handle)
        raise
    handle.close()  # completes the upload: the object appears whole


@contextlib.contextmanager
def _write_then_move(dataset: Dataset, expected: str | None) -> Iterator[HashingWriter]:
    fs, path = remote_fs(dataset)
    folder, _, name = path.rpartition("/")
    temporary = f"{folder}/.{name}.{uuid.uuid4().hex}{PARTIAL_SUFFIX}"
    try:
        with fs.open(temporary, "wb") as handle:
            sink = HashingWriter(handle)
            yield sink
        _check(dataset, expected, sink)
        fs.mv(temporary, path)
    except BaseException:
        with contextlib.suppress(Exception):
            fs.rm(temporary)
        raise


def _check(dataset: Dataset, expected: str | None, sink: HashingWriter) -> None:
    if expected is not None and sink.hexdigest() != expected:
        raise ChecksumMismatchError(dataset.name, expected, sink.hexdigest(), dataset.uri)


def _abort(handle: Any) -> None:
    """Throw an unfinished upload away: abort it (S3 multipart, GCS resumable...) and mark the
    file closed, so that nothing completes it later."""
    with contextlib.suppress(Exception):
        handle.discard()
    with contextlib.suppress(Exception):
        handle.closed = True


def remove_dead_partials(target: Path) -> list[Path]:
    """Remove temporary files that writers of `target` on this host left when they died."""
    pattern = re.compile(
        rf"^\.{re.escape(target.name)}\.{re.escape(HOST)}-(\d+)-\w+{re.escape(PARTIAL_SUFFIX)}$"
    )
    removed = []
    with contextlib.suppress(FileNotFoundError):
        for entry in os.scandir(target.parent):
            match = pattern.match(entry.name)
            if match and not _alive(int(match.group(1))):
                with contextlib.suppress(FileNotFoundError):
                    os.remove(entry.path)
                    removed.append(Path(entry.path))
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


@functools.cache
def _file_mode() -> int:
    """0o666 less the umask: the mode `open()` would have given the file."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _sync_folder(folder: Path) -> None:
    """Make the rename itself durable (a crash right after must not bring the old name back)."""
    with contextlib.suppress(OSError):
        handle = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(handle)
        finally:
            os.close(handle)


def verified_copy(dataset: Dataset) -> str:
    """A local copy whose bytes match the catalog's checksum, if any: a cached copy that does
    not is fetched once more, then dropped and refused."""
    local = local_copy(dataset)
    if dataset.checksum is None:
        return local
    actual = sha256_file(local)
    if actual != dataset.checksum and not dataset.is_local:
        drop_cached(dataset)
        local = local_copy(dataset)
        actual = sha256_file(local)
    if actual != dataset.checksum:
        if not dataset.is_local:
            drop_cached(dataset)
        raise ChecksumMismatchError(dataset.name, dataset.checksum, actual, dataset.uri)
    return local
