"""Batch prediction over a file, chunk by chunk, so memory stays flat whatever its size.

Both ends go through `mlcore.data` (a catalog name, a path or an fsspec URI); the output goes
through an atomic sink, so readers see no output until the whole file is written.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

    from mlcore.data.catalog import Dataset
    from mlcore.serve.model import ServedModel

from mlcore.data.errors import CatalogError, DatasetNotFoundError

log = logging.getLogger("mlcore.serve")

DEFAULT_CHUNK_ROWS = 65_536
STREAMED = ("parquet", "csv", "jsonl")
Columns = Callable[["np.ndarray"], dict[str, Any]]


@dataclass(frozen=True)
class BatchResult:
    rows: int
    chunks: int
    seconds: float
    output: str


def predict_file(
    model: ServedModel,
    source: str,
    output: str,
    *,
    catalog: Any = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    features: Sequence[str] | None = None,
    exclude: Sequence[str] = (),
    keep: Sequence[str] = (),
    to_columns: Columns | None = None,
) -> BatchResult:
    """Predict every row of `source` into `output` (dataset names or paths/URIs): features are
    `features`, else every column but `exclude` and `keep` (copied beside the predictions);
    `to_columns` names the outputs (default `output_0`, ...)."""
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows must be at least 1, got {chunk_rows}")
    started = time.perf_counter()
    reading, writing = _dataset(source, catalog, must_exist=True), _dataset(output, catalog)
    for dataset, role in ((reading, "input"), (writing, "output")):
        if dataset.format not in STREAMED:
            raise ValueError(
                f"{dataset.name}: batch prediction streams {', '.join(STREAMED)} files, "
                f"not {dataset.format} ({role})"
            )
    rows = chunks = 0
    with _writer(writing) as write:
        for batch in _batches(reading, _local(reading, catalog, source), chunk_rows):
            names = _feature_names(batch.schema.names, features, exclude, keep, model, reading)
            outputs = model.predict(_matrix(batch, names, model.dtype))
            write(_output_table(batch, keep, outputs, to_columns))
            rows += batch.num_rows
            chunks += 1
    result = BatchResult(rows, chunks, time.perf_counter() - started, writing.uri)
    log.info("Predicted %d rows in %d chunks (%.1f s) into %s", *vars(result).values())
    return result


def _dataset(name_or_uri: str, catalog: Any, must_exist: bool = False) -> Dataset:
    """The catalog's dataset of that name, else one for the path or URI itself; neither says
    so, naming the catalog looked in."""
    from mlcore.data.catalog import Dataset, entry_or_none, protocol_of, resolve_format

    found = entry_or_none(name_or_uri, catalog)
    if found is not None:
        return found
    uri = name_or_uri
    if protocol_of(uri) == "file" and "::" not in uri:
        path = Path(uri.removeprefix("file://")).expanduser().resolve()
        if must_exist and not path.exists():
            raise DatasetNotFoundError(
                f"{name_or_uri}: not a dataset of {_catalog_name(catalog)}, and no file at {path}: "
                "give a dataset name (`mlcore data list`) or the path of a Parquet, CSV or JSON "
                "lines file"
            )
        uri = str(path)
    return Dataset(name=name_or_uri, uri=uri, format=resolve_format(None, uri, name_or_uri))


def _catalog_name(catalog: Any) -> str:
    from mlcore.data.catalog import Catalog, find_catalog

    if catalog is None:
        try:
            catalog = find_catalog()
        except CatalogError:
            return "the data catalog (none found: no configs/catalog.yaml here or above)"
    if isinstance(catalog, Catalog):
        return "the catalog passed"
    return f"the catalog {catalog}"


def _local(dataset: Dataset, catalog: Any, source: str) -> str:
    """A local file with the dataset's bytes: verified against the catalog's checksum if any."""
    from mlcore.data import io, storage

    if dataset.is_local and not dataset.local_path.is_file():
        raise FileNotFoundError(f"{source}: no file at {dataset.local_path}")
    return io.verified_copy(dataset) if dataset.checksum else storage.local_copy(dataset)


def _batches(dataset: Dataset, local: str, chunk_rows: int) -> Iterator[pa.RecordBatch]:
    import pyarrow as pa

    if dataset.format == "parquet":
        import pyarrow.parquet as pq

        # Unbuffered, one row group at a time: pre-buffering holds every row group read so far.
        parquet = pq.ParquetFile(local, pre_buffer=False, buffer_size=1 << 20)
        yield from parquet.iter_batches(batch_size=chunk_rows)
    elif dataset.format == "csv":
        import pyarrow.csv as pcsv

        # Blocks of about chunk_rows rows of a few hundred bytes, cut to chunk_rows exactly.
        block = max(1 << 16, min(chunk_rows * 512, 64 << 20))
        reader = pcsv.open_csv(local, read_options=pcsv.ReadOptions(block_size=block))
        yield from _rechunk(reader, chunk_rows)
    else:
        import pandas as pd

        for frame in pd.read_json(local, lines=True, chunksize=chunk_rows):
            yield pa.RecordBatch.from_pandas(frame, preserve_index=False)


def _rechunk(batches: Any, chunk_rows: int) -> Iterator[pa.RecordBatch]:
    """Record batches of exactly chunk_rows rows (the last one shorter)."""
    import pyarrow as pa

    held: list[pa.RecordBatch] = []
    count = 0
    for batch in batches:
        held.append(batch)
        count += batch.num_rows
        while count >= chunk_rows:
            table = pa.Table.from_batches(held)
            yield table.slice(0, chunk_rows).combine_chunks().to_batches()[0]
            rest = table.slice(chunk_rows)
            held, count = rest.to_batches(), rest.num_rows
    if count:
        yield pa.Table.from_batches(held).combine_chunks().to_batches()[0]


def _feature_names(
    names: list[str],
    features: Sequence[str] | None,
    exclude: Sequence[str],
    keep: Sequence[str],
    model: ServedModel,
    dataset: Dataset,
) -> list[str]:
    missing = [c for c in (*(features or ()), *keep) if c not in names]
    if missing:
        raise ValueError(f"{dataset.name}: no column {missing} (columns: {', '.join(names)})")
    chosen = list(features) if features else [c for c in names if c not in {*exclude, *keep}]
    if len(chosen) != model.n_features:
        raise ValueError(
            f"{dataset.name}: {len(chosen)} feature columns but {model.name} takes "
            f"{model.n_features}; choose them with features=[...] or exclude=[...] "
            f"(columns: {', '.join(names)})"
        )
    return chosen


def _matrix(batch: pa.RecordBatch, names: list[str], dtype: str) -> np.ndarray:
    import numpy as np

    columns = [batch.column(name).to_numpy(zero_copy_only=False) for name in names]
    return np.ascontiguousarray(np.column_stack(columns), dtype=dtype)


def _output_table(
    batch: pa.RecordBatch, keep: Sequence[str], outputs: np.ndarray, to_columns: Columns | None
) -> pa.Table:
    import pyarrow as pa

    if to_columns is None:
        matrix = outputs.reshape(len(outputs), -1)
        named = {f"output_{i}": matrix[:, i] for i in range(matrix.shape[1])}
    else:
        named = to_columns(outputs)
    kept = {name: batch.column(name) for name in keep}
    return pa.table({**kept, **named})


@contextlib.contextmanager
def _writer(dataset: Dataset) -> Iterator[Callable[[pa.Table], None]]:
    """Appends tables to the output in its format, inside the dataset's atomic sink."""
    from mlcore.data import storage

    writer: Any = None
    with storage.atomic_write(dataset) as sink:

        def write(table: pa.Table) -> None:
            nonlocal writer
            if dataset.format == "jsonl":
                text = table.to_pandas().to_json(orient="records", lines=True)
                sink.write(text.encode() if text.endswith("\n") else f"{text}\n".encode())
            elif writer is None:
                import pyarrow.csv as pcsv
                import pyarrow.parquet as pq

                parquet = dataset.format == "parquet"
                writer = (pq.ParquetWriter if parquet else pcsv.CSVWriter)(sink, table.schema)
            if writer is not None:
                writer.write_table(table)

        yield write
        if writer is not None:
            writer.close()
