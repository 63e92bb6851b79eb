"""The data catalog: a YAML file that maps dataset names to where they live and how to read them.

Code asks for `digits`, not `s3://team-bucket/digits/v3.csv`, so moving or pinning data is one
line of YAML (`configs/catalog.yaml`):

```yaml
root: ..                        # relative URIs are relative to this (itself relative to this file)
bucket: ${oc.env:DATA_BUCKET,example-bucket}   # any other top-level key is a variable
datasets:
  digits:
    uri: data/raw/digits.csv    # a local path or any fsspec URI
    format: csv                 # parquet, csv, jsonl, npz, raw (default: from the suffix)
    checksum: sha256:9f7f...    # optional: loads refuse other bytes
    load_options: {}            # also save_options, storage_options (never credentials),
    cache: true                 # description; cache: true, or `check` (revalidate) when unpinned
```

Entries are resolved one at a time, so one entry's unset variable does not break the others.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlcore.data.errors import CatalogError, UnknownDatasetError, UnsupportedFormatError, first_line

CATALOG_ENV = "MLCORE_CATALOG"
# The project root the generated configs use (`paths.root_dir: ${oc.env:PROJECT_ROOT,.}`).
PROJECT_ROOT_ENV = "PROJECT_ROOT"
DEFAULT_CATALOG = Path("configs") / "catalog.yaml"
FORMATS = ("parquet", "csv", "jsonl", "npz", "raw")
# Other spellings people write for the same formats.
FORMAT_ALIASES = {"json lines": "jsonl", "jsonlines": "jsonl", "ndjson": "jsonl", "pq": "parquet"}
SUFFIX_FORMATS = {
    ".parquet": "parquet",
    ".pq": "parquet",
    ".csv": "csv",
    ".tsv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".npz": "npz",
}
COMPRESSION_SUFFIXES = (".gz", ".bz2", ".xz", ".zst", ".zip")
ENTRY_KEYS = (
    "uri",
    "format",
    "description",
    "checksum",
    "load_options",
    "save_options",
    "storage_options",
    "cache",
)
CACHE_MODES = (True, "check")
PROTOCOL = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://")
SHA256 = re.compile(r"^(?:sha256:)?([0-9a-fA-F]{64})$")
LOCAL_PROTOCOLS = frozenset({"file", "local"})
UNSET_VARIABLE = re.compile(r"Environment variable '([^']+)' not found")


@dataclass(frozen=True)
class Dataset:
    """One resolved catalog entry: interpolations applied, relative paths made absolute."""

    name: str
    uri: str
    format: str
    description: str = ""
    checksum: str | None = None  # lowercase sha256 hex, without the `sha256:` prefix
    load_options: Mapping[str, Any] = field(default_factory=dict)
    save_options: Mapping[str, Any] = field(default_factory=dict)
    storage_options: Mapping[str, Any] = field(default_factory=dict)
    cache: bool | str = True  # remote files only: True (trust the copy) or "check"

    @property
    def protocol(self) -> str:
        """The fsspec protocol (`file` for a local path)."""
        return protocol_of(self.uri)

    @property
    def is_local(self) -> bool:
        return self.protocol in LOCAL_PROTOCOLS and "::" not in self.uri

    @property
    def local_path(self) -> Path:
        """The file of a local dataset (ValueError for a remote one)."""
        if not self.is_local:
            raise ValueError(f"{self.name}: {self.uri} is not a local file")
        return Path(self.uri.removeprefix("file://").removeprefix("local://"))


class Catalog:
    """The datasets of one catalog file (or mapping); entries are resolved when asked for."""

    def __init__(self, config: Any, root: Path, source: str = "<catalog>") -> None:
        self._config = config
        self.root = root
        self.source = source

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> Catalog:
        """Read a catalog file; relative URIs resolve against its `root` (default: its folder)."""
        from omegaconf import OmegaConf

        path = Path(path)
        if not path.is_file():
            raise CatalogError(
                f"no data catalog at {path}: create it (see `mlcore data --help`), "
                f"pass --catalog or set {CATALOG_ENV}"
            )
        try:
            config = OmegaConf.load(path)
        except Exception as error:  # YAML syntax, or interpolation grammar
            raise CatalogError(f"{path}: not a valid catalog: {first_line(error)}") from error
        return cls._checked(config, path.resolve().parent, str(path))

    @classmethod
    def from_dict(cls, mapping: Mapping[str, Any], root: str | os.PathLike[str] = ".") -> Catalog:
        """A catalog from a mapping of the file's shape (`datasets:` and optional `root:`)."""
        from omegaconf import OmegaConf

        try:
            config = OmegaConf.create(dict(mapping))
        except Exception as error:
            raise CatalogError(f"not a valid catalog: {first_line(error)}") from error
        return cls._checked(config, Path(root).resolve(), "<catalog>")

    @classmethod
    def _checked(cls, config: Any, base: Path, source: str) -> Catalog:
        from omegaconf import DictConfig

        datasets = config.get("datasets") if isinstance(config, DictConfig) else None
        if not isinstance(datasets, DictConfig):
            raise CatalogError(f"{source}: a catalog needs a `datasets:` mapping of name -> entry")
        try:
            root = config.get("root", ".")
        except Exception as error:
            raise CatalogError(f"{source}: root: {first_line(error)}") from error
        return cls(config, (base / str(root)).resolve(), source)

    def names(self) -> list[str]:
        return sorted(str(name) for name in self._config.datasets)

    def __contains__(self, name: object) -> bool:
        return name in self._config.datasets

    def __iter__(self) -> Iterator[Dataset]:
        return (self.get(name) for name in self.names())

    def __len__(self) -> int:
        return len(self._config.datasets)

    def __repr__(self) -> str:
        return f"Catalog({self.source!r}, datasets={self.names()})"

    def get(self, name: str) -> Dataset:
        """The entry `name`, resolved; UnknownDatasetError (with close matches) if there is none."""
        from omegaconf import DictConfig, OmegaConf

        if name not in self:
            import difflib

            close = difflib.get_close_matches(name, self.names(), n=3, cutoff=0.6)
            raise UnknownDatasetError(name, close, self.source)
        try:
            node = self._config.datasets[name]  # a string entry (`name: uri`) resolves here
            entry: Any = (
                OmegaConf.to_container(node, resolve=True) if isinstance(node, DictConfig) else node
            )
        except Exception as error:  # an unset ${oc.env:...}, a missing key
            unset = UNSET_VARIABLE.search(str(error))
            if unset:
                raise CatalogError(
                    f"{self.source}: {name}: environment variable {unset.group(1)} is not set "
                    f"(export it or put it in .env; or give a default: "
                    f"${{oc.env:{unset.group(1)},default}})"
                ) from error
            raise CatalogError(f"{self.source}: {name}: {first_line(error)}") from error
        if isinstance(entry, str):
            entry = {"uri": entry}
        if not isinstance(entry, dict):
            raise CatalogError(f"{self.source}: {name}: an entry is a mapping with at least `uri`")
        return self._dataset(name, entry)

    def _dataset(self, name: str, entry: dict[str, Any]) -> Dataset:
        where = f"{self.source}: {name}"
        unknown = [key for key in entry if key not in ENTRY_KEYS]
        if unknown:
            import difflib

            key = str(unknown[0])
            close = difflib.get_close_matches(key, ENTRY_KEYS, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"keys: {', '.join(ENTRY_KEYS)}"
            raise CatalogError(f"{where}: unknown key {key!r}; {hint}")
        uri = entry.get("uri")
        if not isinstance(uri, str) or not uri.strip():
            raise CatalogError(f"{where}: `uri` is missing (a path, or s3://bucket/key, ...)")
        uri = self._absolute(uri.strip())
        options = {}
        for key in ("load_options", "save_options", "storage_options"):
            value = entry.get(key) or {}
            if not isinstance(value, dict):
                raise CatalogError(f"{where}: `{key}` must be a mapping, got {value!r}")
            options[key] = value
        checksum = entry.get("checksum")
        if checksum is not None:
            checksum = normalize_checksum(checksum, where)
        cache = entry.get("cache", True if checksum else "check")
        if cache not in CACHE_MODES:
            raise CatalogError(f"{where}: `cache` is true or check, got {cache!r}")
        return Dataset(
            name=name,
            uri=uri,
            format=resolve_format(entry.get("format"), uri, name),
            description=str(entry.get("description") or ""),
            checksum=checksum,
            cache=cache,
            **options,
        )

    def _absolute(self, uri: str) -> str:
        """A local path relative to the catalog's root made absolute; other URIs unchanged."""
        if protocol_of(uri) not in LOCAL_PROTOCOLS or "::" in uri:
            return uri
        path = Path(uri.removeprefix("file://").removeprefix("local://")).expanduser()
        return str(path if path.is_absolute() else self.root / path)


def protocol_of(uri: str) -> str:
    """The URI's protocol (the last one of a chained URL), `file` for a plain path."""
    match = PROTOCOL.match(uri.rsplit("::", 1)[-1])
    return match.group(1).lower() if match else "file"


def resolve_format(written: Any, uri: str, name: str) -> str:
    """The entry's format: as written (aliases allowed), else from the URI's suffix."""
    if written:
        key = str(written).strip().lower()
        key = FORMAT_ALIASES.get(key, key)
        if key not in FORMATS:
            raise UnsupportedFormatError(
                f"{name}: unsupported format {written!r}; supported: {', '.join(FORMATS)}"
            )
        return key
    suffixes = [s.lower() for s in Path(uri.split("?", 1)[0]).suffixes]
    if suffixes and suffixes[-1] in COMPRESSION_SUFFIXES:
        suffixes.pop()
    if suffixes and suffixes[-1] in SUFFIX_FORMATS:
        return SUFFIX_FORMATS[suffixes[-1]]
    raise UnsupportedFormatError(
        f"{name}: cannot tell the format of {uri} from its suffix; add `format:` "
        f"({', '.join(FORMATS)})"
    )


def normalize_checksum(value: Any, where: str = "checksum") -> str:
    """`sha256:<hex>` or `<hex>` as lowercase hex; CatalogError for anything else."""
    match = SHA256.match(str(value).strip())
    if not match:
        raise CatalogError(
            f"{where}: checksum {value!r} is not a sha256 (write sha256:<64 hex digits>, as "
            "`mlcore data fingerprint` prints it)"
        )
    return match.group(1).lower()


def find_catalog(start: str | os.PathLike[str] | None = None) -> Path:
    """The catalog to use: $MLCORE_CATALOG; else configs/catalog.yaml of $PROJECT_ROOT; else
    the one in `start` (the working directory) or the nearest folder above, as git does."""
    if os.environ.get(CATALOG_ENV):
        return Path(os.environ[CATALOG_ENV])
    here = Path(start or Path.cwd()).resolve()
    folders = [here, *here.parents]
    if start is None and os.environ.get(PROJECT_ROOT_ENV):
        folders.insert(0, Path(os.environ[PROJECT_ROOT_ENV]).resolve())
    for folder in folders:
        if (folder / DEFAULT_CATALOG).is_file():
            return folder / DEFAULT_CATALOG
    searched = f"{folders[0]}, {here}" if folders[0] != here else str(here)
    raise CatalogError(
        f"no data catalog: no {DEFAULT_CATALOG} in {searched} or a folder above it; pass "
        f"--catalog (catalog=... in Python), set {CATALOG_ENV}, or point {PROJECT_ROOT_ENV} at "
        "the project"
    )


CatalogLike = Catalog | str | os.PathLike[str] | None


def as_catalog(catalog: CatalogLike = None) -> Catalog:
    """A Catalog from a Catalog, a file path, or None (the project's, see find_catalog)."""
    if isinstance(catalog, Catalog):
        return catalog
    return Catalog.from_file(catalog if catalog is not None else find_catalog())


def entry_or_none(
    name: str, catalog: Catalog | str | os.PathLike[str] | None = None
) -> Dataset | None:
    """The catalog's dataset `name`, or None without such a name or any catalog (for commands
    taking a name or a path: the name wins, so a command means the same everywhere). A catalog
    that exists but cannot be read is an error, not a silent miss."""
    if catalog is None:
        try:
            catalog = find_catalog()
        except CatalogError:
            return None
    found = as_catalog(catalog)
    return found.get(name) if name in found else None
