"""What can go wrong with data, as one family of exceptions.

Callers catch `DataError`; every message names the dataset and what to do. Nothing is left
half-written when one is raised.
"""

from __future__ import annotations

from collections.abc import Sequence


def first_line(error: BaseException) -> str:
    """An exception's message as one line (its first), or its type when it has none."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


class DataError(Exception):
    """A data operation failed; the message names the dataset and the fix."""

    def __init__(self, message: str) -> None:
        # One line, so a command can print it as is and logs keep one record per failure.
        super().__init__(" ".join(str(message).split()))


class CatalogError(DataError):
    """The catalog file is missing, not valid YAML, or an entry in it is malformed."""


class UnknownDatasetError(DataError):
    """No dataset of that name in the catalog; `suggestions` holds the close matches."""

    def __init__(self, name: str, suggestions: Sequence[str], catalog: str) -> None:
        self.name = name
        self.suggestions = list(suggestions)
        hint = f"did you mean {', '.join(map(repr, self.suggestions))}?" if suggestions else ""
        super().__init__(
            f"no dataset {name!r} in {catalog}; {hint or 'see `mlcore data list`'}".rstrip()
        )


class DatasetNotFoundError(DataError):
    """The catalog names the dataset but its file does not exist (yet)."""


class UnsupportedProtocolError(DataError):
    """fsspec knows no file system for the URI's protocol, or its package is not installed."""


class UnsupportedFormatError(DataError):
    """A format the catalog cannot read or write, or a target the format cannot load into."""


class ChecksumMismatchError(DataError):
    """The bytes are not the ones the catalog expects: refused, never loaded or published."""

    def __init__(self, name: str, expected: str, actual: str, where: str) -> None:
        self.name = name
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"{name}: checksum mismatch for {where}: the catalog expects sha256:{expected}, "
            f"the file has sha256:{actual}; refusing it (fix the data or update the catalog's "
            "checksum if the change is intended)"
        )


class CorruptDataError(DataError):
    """The file exists but its reader cannot parse it as the catalog's format."""


class CredentialsError(DataError):
    """The storage refused access: no credentials, or not allowed to read or write."""
