"""Reading what `mlcore monitor` compares: the reference from the data catalog, the current
batch from a file or the request log that `mlcore serve --request-log` writes.

A request log is a folder of JSON-lines files, one line per request with `inputs` and `outputs`.
Inputs come back as float arrays in the reference's column order.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

READERS = {".parquet": "read_parquet", ".csv": "read_csv", ".jsonl": "read_json"}


@dataclass
class Batch:
    features: np.ndarray
    outputs: np.ndarray | None  # what the model answered, when the batch is a request log
    source: str


def reference(
    dataset: str, target: str | None, catalog: str | None = None
) -> tuple[np.ndarray, list[str]]:
    """The training data's feature columns (all but `target`) and their names."""
    import numpy as np

    from mlcore import data

    frame = data.load(dataset, catalog=catalog)
    if target and target not in frame.columns:
        raise ValueError(
            f"reference.target {target!r} is not a column of dataset {dataset!r} "
            f"(columns: {', '.join(map(str, frame.columns[:10]))}...)"
        )
    features = frame.drop(columns=[target]) if target else frame
    return features.to_numpy(np.float64), [str(c) for c in features.columns]


def current(location: str | Path, names: list[str], catalog: str | None = None) -> Batch:
    """The batch at `location`: a catalog dataset (any storage the catalog reaches; a name in
    the catalog wins over a file of that name), or a file or a folder of them (a request log),
    as a path or any fsspec URI (`s3://bucket/requests`)."""
    import numpy as np
    import pandas as pd

    from mlcore.data.catalog import entry_or_none

    if entry_or_none(str(location), catalog) is not None:
        from mlcore import data

        return _table(data.load(str(location), catalog=catalog), names, str(location))
    fs, files = _files(str(location))
    frame = pd.concat([_read(fs, f) for f in files], ignore_index=True)
    if "inputs" in frame.columns:  # a request log: rows of every request, in order
        features = np.concatenate([np.asarray(r, dtype=np.float64) for r in frame["inputs"]])
        outputs = None
        if "outputs" in frame.columns:
            outputs = np.concatenate([np.asarray(r) for r in frame["outputs"]])
        if features.ndim != 2 or features.shape[1] != len(names):
            raise ValueError(
                f"the request log's rows have {features.shape[1:]} values, the reference "
                f"{len(names)} features"
            )
        return Batch(features, outputs, str(location))
    return _table(frame, names, str(location))


def _files(location: str) -> tuple[Any, list[str]]:
    """The file system and the batch files at `location`, in name order (a request log's names
    start with their UTC time); hidden files (one being written) are not read."""
    from fsspec.core import url_to_fs

    fs, root = url_to_fs(location)
    if fs.isdir(root):
        found = [PurePosixPath(path) for path in fs.find(root)]
        files = sorted(str(p) for p in found if p.suffix in READERS and not p.name.startswith("."))
        if not files:
            raise ValueError(
                f"no .jsonl, .parquet or .csv files in {location}: serve with "
                f"`--request-log {location}`, or pass a batch file"
            )
        return fs, files
    if fs.isfile(root):
        return fs, [root]
    raise ValueError(
        f"no batch at {location}: pass an existing file, request-log folder or catalog dataset"
    )


def _read(fs: Any, path: str) -> pd.DataFrame:
    import pandas as pd

    suffix = PurePosixPath(path).suffix
    reader = READERS.get(suffix)
    if reader is None:
        raise ValueError(f"{path}: not a .parquet, .csv or .jsonl file")
    options = {"lines": True} if suffix == ".jsonl" else {}
    with fs.open(path, "rb") as handle:
        return getattr(pd, reader)(handle, **options)


def _table(frame: pd.DataFrame, names: list[str], source: str) -> Batch:
    import numpy as np

    missing = [n for n in names if n not in frame.columns]
    if missing:
        raise ValueError(
            f"the batch {source} lacks {len(missing)} feature column(s) of the reference: "
            f"{', '.join(missing[:5])}{'...' if len(missing) > 5 else ''}"
        )
    return Batch(frame[names].to_numpy(np.float64), None, source)
