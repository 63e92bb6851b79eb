"""`mlcore data`: the catalog's datasets from the command line.

Subcommands list, describe, load, save, fingerprint, verify and cache; each takes `--catalog PATH`
(default: $MLCORE_CATALOG, else configs/catalog.yaml here or above). A failure prints one line
and exits 1.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from mlcore.data.errors import DataError

if TYPE_CHECKING:
    from mlcore.data.catalog import Catalog


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--catalog",
        metavar="PATH",
        default=argparse.SUPPRESS,  # so that a subcommand's default does not undo `data --catalog`
        help="the catalog file (default: $MLCORE_CATALOG, else configs/catalog.yaml in the "
        "working directory or a folder above it)",
    )
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Datasets of the data catalog: list, describe, load, save, fingerprint, "
        "verify.",
        parents=[common],
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    commands.add_parser("list", parents=[common], help="the catalog's datasets")
    describe = commands.add_parser("describe", parents=[common], help="one dataset in full")
    describe.add_argument("name")
    load = commands.add_parser(
        "load", parents=[common], help="fetch (cached) and verify a dataset; print its local path"
    )
    load.add_argument("name")
    load.add_argument("--head", type=int, metavar="N", help="print its first N rows instead")
    save = commands.add_parser(
        "save", parents=[common], help="publish a local file's bytes as a dataset, atomically"
    )
    save.add_argument("name")
    save.add_argument("file", type=Path)
    save.add_argument(
        "--no-verify", action="store_true", help="publish even if the catalog's checksum differs"
    )
    fingerprint = commands.add_parser(
        "fingerprint", parents=[common], help="sha256 of datasets, paths or URIs"
    )
    fingerprint.add_argument("targets", nargs="+", metavar="NAME_OR_PATH")
    verify = commands.add_parser(
        "verify", parents=[common], help="check datasets against the catalog's checksums"
    )
    verify.add_argument("names", nargs="*", metavar="NAME", help="default: every pinned dataset")
    cache = commands.add_parser("cache", help="print the cache folder of remote files")
    cache.add_argument("--clear", action="store_true", help="delete every cached file")
    return parser


def main(argv: Sequence[str] | None = None, *, prog: str | None = None) -> int:
    """Run a data command; 1 on any data error (printed on one line), 0 otherwise."""
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except DataError as error:
        print(f"{parser.prog}: error: {error}", file=sys.stderr)
        return 1


def _catalog(args: argparse.Namespace) -> Catalog:
    from mlcore.data.catalog import as_catalog

    return as_catalog(getattr(args, "catalog", None))


def _shown(uri: str) -> str:
    """A local path relative to the working directory when below it."""
    try:
        return str(Path(uri).relative_to(Path.cwd()))
    except ValueError:
        return uri


def _list(args: argparse.Namespace) -> int:
    catalog = _catalog(args)
    rows = []
    for name in catalog.names():
        try:
            dataset = catalog.get(name)
        except DataError as error:
            rows.append((name, "?", "", "", f"error: {error}"))
            continue
        pinned = "pinned" if dataset.checksum else "-"
        rows.append((name, dataset.format, pinned, _shown(dataset.uri), dataset.description))
    if not rows:
        print(f"no datasets in {catalog.source}")
        return 0
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        print("  ".join([*cells, row[4]]).rstrip())
    return 0


def _describe(args: argparse.Namespace) -> int:
    from mlcore.data import storage

    dataset = _catalog(args).get(args.name)
    fields = {
        "name": dataset.name,
        "description": dataset.description or "-",
        "uri": dataset.uri,
        "format": dataset.format,
        "checksum": f"sha256:{dataset.checksum}" if dataset.checksum else "- (not pinned)",
        "load_options": dict(dataset.load_options),
        "save_options": dict(dataset.save_options),
        "storage_options": dict(dataset.storage_options),
    }
    if not dataset.is_local:
        fields["cache"] = f"{dataset.cache} ({storage.cache_dir()})"
    try:
        size = storage.info(dataset).get("size")
        fields["status"] = f"present, {size:,} bytes" if size is not None else "present"
    except DataError as error:
        fields["status"] = f"unavailable: {error}"
    width = max(map(len, fields)) + 1
    for key, value in fields.items():
        print(f"{key + ':':<{width}} {value}")
    return 0


def _load(args: argparse.Namespace) -> int:
    from mlcore.data.io import load

    catalog = _catalog(args)
    if args.head is not None:
        frame = load(args.name, "pandas", catalog=catalog, track=False)
        print(frame.head(args.head).to_string())
    else:
        print(load(args.name, "path", catalog=catalog, track=False))
    return 0


def _save(args: argparse.Namespace) -> int:
    from mlcore.data.io import save_file

    digest = save_file(args.name, args.file, catalog=_catalog(args), verify=not args.no_verify)
    print(f"saved {args.file} as {args.name} (sha256:{digest})")
    return 0


def _fingerprint(args: argparse.Namespace) -> int:
    from mlcore.data.io import fingerprint, fingerprint_uri

    catalog = None
    for target in args.targets:
        if _looks_like_path(target):
            digest = fingerprint_uri(target)
        else:  # a dataset name; an unknown one fails with the close matches
            catalog = catalog or _catalog(args)
            digest = fingerprint(target, catalog=catalog)
        print(f"{digest}  {target}")
    return 0


def _looks_like_path(target: str) -> bool:
    """A path or URI rather than a dataset name: it has a separator, or is a file here."""
    return "/" in target or "\\" in target or Path(target).is_file()


def _verify(args: argparse.Namespace) -> int:
    from mlcore.data.io import verify

    catalog = _catalog(args)
    names = args.names or catalog.names()
    failed = 0
    for name in names:
        try:
            dataset = catalog.get(name)
            if dataset.checksum is None:
                if args.names:
                    verify(name, catalog=catalog)  # raises: no checksum to verify against
                print(f"skipped  {name} (no checksum in the catalog)")
                continue
            print(f"ok       {name} sha256:{verify(name, catalog=catalog)}")
        except DataError as error:
            failed += 1
            print(f"FAILED   {error}")
    return 1 if failed else 0


def _cache(args: argparse.Namespace) -> int:
    import shutil

    from mlcore.data.storage import cache_dir

    folder = cache_dir()
    if args.clear and folder.exists():
        shutil.rmtree(folder)
        print(f"cleared {folder}")
    else:
        print(folder)
    return 0


COMMANDS = {
    "list": _list,
    "describe": _describe,
    "load": _load,
    "save": _save,
    "fingerprint": _fingerprint,
    "verify": _verify,
    "cache": _cache,
}
