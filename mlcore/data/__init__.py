"""Datasets by name, through a YAML catalog: load, save, fingerprint, verify, lineage.

    frame = data.load("digits")                 # pandas; to="arrow" | "numpy" | "path" | "bytes"
    data.save("digits", frame)                  # atomic; refused if the checksum does not match
    data.verify("digits")                       # against the catalog's checksum
    data.log_input(run_id, "digits")            # record it as an input of an MLflow run

Every failure is a `DataError`. Importing this package imports none of pandas, pyarrow, fsspec
or mlflow.
"""

from __future__ import annotations

from mlcore.data.catalog import Catalog, Dataset, find_catalog
from mlcore.data.errors import (
    CatalogError,
    ChecksumMismatchError,
    CorruptDataError,
    CredentialsError,
    DataError,
    DatasetNotFoundError,
    UnknownDatasetError,
    UnsupportedFormatError,
    UnsupportedProtocolError,
)
from mlcore.data.io import exists, fingerprint, fingerprint_uri, load, save, save_file, verify
from mlcore.data.lineage import dataset_inputs, log_input, log_input_to_trainer
from mlcore.data.storage import cache_dir

__all__ = [
    "Catalog",
    "CatalogError",
    "ChecksumMismatchError",
    "CorruptDataError",
    "CredentialsError",
    "DataError",
    "Dataset",
    "DatasetNotFoundError",
    "UnknownDatasetError",
    "UnsupportedFormatError",
    "UnsupportedProtocolError",
    "cache_dir",
    "dataset_inputs",
    "exists",
    "find_catalog",
    "fingerprint",
    "fingerprint_uri",
    "load",
    "log_input",
    "log_input_to_trainer",
    "save",
    "save_file",
    "verify",
]
