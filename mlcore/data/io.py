"""load, save, fingerprint, verify: what code and the `mlcore data` command do with a dataset.

Each takes a dataset name and the catalog (a Catalog, a path, or None for the project's own:
$MLCORE_CATALOG, else configs/catalog.yaml in the working directory or a folder above it).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from mlcore.data import formats, lineage, storage
from mlcore.data.catalog import CatalogLike, Dataset, as_catalog, protocol_of
from mlcore.data.errors import CatalogError, DataError
from mlcore.data.fingerprint import sha256_file, sha256_stream
from mlcore.data.storage import verified_copy

__all__ = ["CatalogLike", "verified_copy"]  # named here before they moved


def load(
    name: str,
    to: str = "pandas",
    *,
    catalog: CatalogLike = None,
    verify: bool = True,
    track: bool = True,
    context: str = "training",
) -> Any:
    """The dataset as `to` says: "pandas", "arrow", "numpy" (npz), "bytes" (raw) or "path".

    Pinned bytes are verified first (`verify`); inside an active MLflow run the dataset is
    recorded as an input (`track`).
    """
    dataset = as_catalog(catalog).get(name)
    formats.check_target(dataset, to)
    local = verified_copy(dataset) if verify else storage.local_copy(dataset)
    data = formats.read(dataset, local, to)
    if track:
        lineage.record_if_active(dataset, local, context)
    return data


def save(name: str, data: Any, *, catalog: CatalogLike = None, verify: bool = True) -> str:
    """Write data as the dataset, atomically; return the sha256 of the bytes written. With a
    checksum in the catalog (and `verify`), other bytes are refused before they replace anything.
    """
    dataset = as_catalog(catalog).get(name)
    with storage.atomic_write(dataset, dataset.checksum if verify else None) as sink:
        formats.write(dataset, data, sink)
    return sink.hexdigest()


def save_file(
    name: str, source: str | os.PathLike[str], *, catalog: CatalogLike = None, verify: bool = True
) -> str:
    """Publish a local file's bytes, as they are, as the dataset (atomic, checksum-checked like
    save); return their sha256. For files already in the dataset's format, e.g. an upload."""
    dataset = as_catalog(catalog).get(name)
    if not Path(source).is_file():
        raise DataError(f"{name}: {source} is not a file to save")
    expected = dataset.checksum if verify else None
    with open(source, "rb") as stream, storage.atomic_write(dataset, expected) as sink:
        shutil.copyfileobj(stream, sink, 1 << 20)
    return sink.hexdigest()


def fingerprint(name: str, *, catalog: CatalogLike = None) -> str:
    """The sha256 of the dataset's bytes (a remote file is hashed from its cached copy)."""
    return sha256_file(storage.local_copy(as_catalog(catalog).get(name)))


def fingerprint_uri(uri: str, **storage_options: Any) -> str:
    """The sha256 of any file, local or remote (streamed, not cached): for data not in a catalog."""
    dataset = Dataset(name=uri, uri=uri, format="raw", storage_options=storage_options)
    if protocol_of(uri) in ("file", "local") and "::" not in uri:
        dataset = Dataset(name=uri, uri=str(Path(uri).resolve()), format="raw")
        return sha256_file(storage.local_copy(dataset))
    fs, path = storage.remote_fs(dataset)
    with storage.storage_errors(dataset), fs.open(path, "rb") as stream:
        return sha256_stream(stream)


def verify(name: str, *, catalog: CatalogLike = None) -> str:
    """Check the dataset's bytes against the catalog's checksum (CatalogError without one);
    return the digest."""
    dataset = as_catalog(catalog).get(name)
    if dataset.checksum is None:
        raise CatalogError(
            f"{name}: no checksum in the catalog to verify against; add "
            f"`checksum: sha256:{fingerprint(name, catalog=catalog)}` if these bytes are right"
        )
    verified_copy(dataset)
    return dataset.checksum


def exists(name: str, *, catalog: CatalogLike = None) -> bool:
    """Whether the dataset's file exists (no download)."""
    return storage.exists(as_catalog(catalog).get(name))
