"""Readers and writers per format, each a thin call into pandas, pyarrow or numpy.

Reads get a local file, so pyarrow can memory-map Parquet. `load_options` / `save_options` are
the keyword arguments of those calls. CSV is written with "\n" line endings and no index, so the
same frame gives the same bytes everywhere and a checksum can pin it.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mlcore.data.catalog import COMPRESSION_SUFFIXES, Dataset
from mlcore.data.errors import CatalogError, CorruptDataError, UnsupportedFormatError, first_line
from mlcore.data.fingerprint import HashingWriter

_TABLES = ("pandas", "arrow", "path")
TARGETS = {
    **dict.fromkeys(("parquet", "csv", "jsonl"), _TABLES),
    "npz": ("numpy", "pandas", "path"),
    "raw": ("path", "bytes"),
}
COMPRESSIONS = dict(zip(COMPRESSION_SUFFIXES, ("gzip", "bz2", "xz", "zstd", "zip"), strict=True))


def check_target(dataset: Dataset, to: str) -> None:
    """Refuse, before any I/O, a target the dataset's format cannot load into."""
    if to not in TARGETS[dataset.format]:
        raise UnsupportedFormatError(
            f"{dataset.name}: a {dataset.format} dataset loads to "
            f"{', '.join(TARGETS[dataset.format])}, not {to!r}"
        )


def read(dataset: Dataset, local: str, to: str) -> Any:
    """The dataset's local file read into `to`; unreadable bytes raise CorruptDataError."""
    check_target(dataset, to)
    if to == "path":
        return Path(local)
    options = dict(dataset.load_options)
    try:
        if to == "bytes":
            return Path(local).read_bytes()
        return _READERS[dataset.format](local, to, options, dataset)
    except TypeError as error:
        _check_options(dataset, "load_options", options, error)
        raise _corrupt(dataset, error) from error
    except ImportError as error:
        raise UnsupportedFormatError(
            f"{dataset.name}: reading {dataset.format} needs a package that is not installed: "
            f"{first_line(error)}"
        ) from error
    except (MemoryError, RecursionError):
        raise
    except Exception as error:  # every reader's own parse error: ArrowInvalid, ParserError...
        raise _corrupt(dataset, error) from error


def _check_options(dataset: Dataset, key: str, options: dict[str, Any], error: TypeError) -> None:
    """An unexpected or missing keyword argument is the catalog's options' fault: say so."""
    if "argument" in str(error):
        role = "reader" if key == "load_options" else "writer"
        raise CatalogError(
            f"{dataset.name}: {key} {options} do not suit the {dataset.format} {role}: "
            f"{first_line(error)}"
        ) from error


def _corrupt(dataset: Dataset, error: BaseException) -> CorruptDataError:
    return CorruptDataError(
        f"{dataset.name}: {dataset.uri} is not readable as {dataset.format}: "
        f"{type(error).__name__}: {first_line(error)}"
    )


def _read_parquet(local: str, to: str, options: dict[str, Any], dataset: Dataset) -> Any:
    import pyarrow.parquet as pq

    table = pq.read_table(local, **options)
    return table if to == "arrow" else table.to_pandas()


def _read_csv(local: str, to: str, options: dict[str, Any], dataset: Dataset) -> Any:
    import pandas as pd

    options.setdefault("compression", _compression(dataset.uri))
    return _tabular(pd.read_csv(local, **options), to)


def _read_jsonl(local: str, to: str, options: dict[str, Any], dataset: Dataset) -> Any:
    import pandas as pd

    options.setdefault("compression", _compression(dataset.uri))
    options.setdefault("lines", True)
    return _tabular(pd.read_json(local, **options), to)


def _read_npz(local: str, to: str, options: dict[str, Any], dataset: Dataset) -> Any:
    import numpy as np

    options.setdefault("allow_pickle", False)  # a pickle in a data file runs code when loaded
    with np.load(local, **options) as archive:
        arrays = {name: archive[name] for name in archive.files}
    if to == "numpy":
        return arrays
    import pandas as pd

    if any(array.ndim != 1 for array in arrays.values()):
        raise UnsupportedFormatError(
            f"{dataset.name}: only an npz of 1-D arrays (one per column) loads to pandas; "
            "load it with to='numpy'"
        )
    return pd.DataFrame(arrays)


def _tabular(frame: Any, to: str) -> Any:
    if to == "arrow":
        import pyarrow as pa

        return pa.Table.from_pandas(frame, preserve_index=False)
    return frame


def _compression(uri: str) -> str | None:
    return COMPRESSIONS.get(Path(uri.split("?", 1)[0]).suffix.lower())


_READERS = {"parquet": _read_parquet, "csv": _read_csv, "jsonl": _read_jsonl, "npz": _read_npz}


def write(dataset: Dataset, data: Any, sink: HashingWriter) -> None:
    """Serialise data in the dataset's format into sink."""
    options = dict(dataset.save_options)
    try:
        _WRITERS[dataset.format](data, sink, options, dataset)
    except TypeError as error:
        _check_options(dataset, "save_options", options, error)
        raise


def _refuse(dataset: Dataset, data: Any, accepted: str) -> UnsupportedFormatError:
    return UnsupportedFormatError(
        f"{dataset.name}: cannot save a {type(data).__module__}.{type(data).__name__} as "
        f"{dataset.format}; give {accepted}"
    )


def _is_frame(data: Any) -> bool:
    return type(data).__name__ == "DataFrame" and type(data).__module__.startswith("pandas")


def _is_table(data: Any) -> bool:
    return type(data).__name__ == "Table" and type(data).__module__.startswith("pyarrow")


def _as_frame(data: Any, dataset: Dataset) -> Any:
    if _is_frame(data):
        return data
    if _is_table(data):
        return data.to_pandas()
    raise _refuse(dataset, data, "a pandas DataFrame or a pyarrow Table")


def _write_parquet(data: Any, sink: HashingWriter, options: dict[str, Any], ds: Dataset) -> None:
    if _is_table(data):
        import pyarrow.parquet as pq

        pq.write_table(data, sink, **options)
    else:
        _as_frame(data, ds).to_parquet(sink, **options)


def _write_csv(data: Any, sink: HashingWriter, options: dict[str, Any], ds: Dataset) -> None:
    options = {"index": False, "lineterminator": "\n", **options}
    _as_frame(data, ds).to_csv(sink, **options)


def _write_jsonl(data: Any, sink: HashingWriter, options: dict[str, Any], ds: Dataset) -> None:
    options = {"orient": "records", "lines": True, **options}
    _as_frame(data, ds).to_json(sink, **options)


def _write_npz(data: Any, sink: HashingWriter, options: dict[str, Any], ds: Dataset) -> None:
    import numpy as np

    if _is_frame(data):
        data = {str(column): data[column].to_numpy() for column in data.columns}
    if not isinstance(data, Mapping):
        raise _refuse(ds, data, "a mapping of name -> numpy array, or a pandas DataFrame")
    save = np.savez_compressed if options.pop("compressed", False) else np.savez
    arrays: dict[str, Any] = {str(name): np.asarray(array) for name, array in data.items()}
    save(sink, **arrays, **options)


def _write_raw(data: Any, sink: HashingWriter, options: dict[str, Any], ds: Dataset) -> None:
    if isinstance(data, bytes | bytearray | memoryview):
        sink.write(data)
    elif isinstance(data, str | Path):
        with open(data, "rb") as source:
            shutil.copyfileobj(source, sink, 1 << 20)
    elif hasattr(data, "read"):
        shutil.copyfileobj(data, sink, 1 << 20)
    else:
        raise _refuse(ds, data, "bytes, a local file path or a binary stream")


_WRITERS = {
    "parquet": _write_parquet,
    "csv": _write_csv,
    "jsonl": _write_jsonl,
    "npz": _write_npz,
    "raw": _write_raw,
}
