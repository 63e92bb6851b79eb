"""An MLflow dataset source for URIs MLflow has no source type of its own for (az://, memory://...).

Imported only by lineage, when such a dataset is recorded: it imports mlflow at module level.
"""

from __future__ import annotations

from typing import Any

from mlflow.data.dataset_source import DatasetSource


class FsspecDatasetSource(DatasetSource):
    """A file any fsspec file system can open, by URI."""

    def __init__(self, uri: str) -> None:
        self.uri = uri

    @staticmethod
    def _get_source_type() -> str:
        return "fsspec"

    def load(self, **kwargs: Any) -> str:
        """A local path with the file's bytes (fsspec's cache of a remote file)."""
        import fsspec

        with fsspec.open(f"simplecache::{self.uri}", "rb") as stream:
            return stream.name

    @staticmethod
    def _can_resolve(raw_source: Any) -> bool:
        return isinstance(raw_source, str) and "://" in raw_source

    @classmethod
    def _resolve(cls, raw_source: Any) -> FsspecDatasetSource:
        return cls(str(raw_source))

    def to_dict(self) -> dict[str, Any]:
        return {"uri": self.uri}

    @classmethod
    def from_dict(cls, source_dict: dict[Any, Any]) -> FsspecDatasetSource:
        return cls(str(source_dict["uri"]))
