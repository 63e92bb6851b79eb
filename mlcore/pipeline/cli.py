"""`mlcore pipeline`: stamp files for the generated `make pipeline`.

    mlcore pipeline stamp .pipeline/train.stamp --data --config train --set trainer.max_epochs=5 \
        --code src

writes what the step depends on and touches the file only when that changed, so a Make target
that depends on it runs again exactly then. Exit 1 with one line when an input cannot be read.
`mlcore pipeline summary` prints the run's Markdown summary (champion before vs candidate);
`mlcore pipeline best-params SWEEP_DIR` prints a finished search's best values as overrides.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def build_parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog, description="Stamp files that let Make skip unchanged pipeline steps."
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    stamp = commands.add_parser(
        "stamp", help="write a step's input fingerprints, only if they changed"
    )
    stamp.add_argument("path", help="the stamp file, e.g. .pipeline/train.stamp")
    stamp.add_argument(
        "--data",
        nargs="*",
        metavar="DATASET",
        help="datasets of the catalog to fingerprint (none named: every dataset)",
    )
    stamp.add_argument("--catalog", help="the data catalog (default: configs/catalog.yaml)")
    stamp.add_argument("--config", metavar="NAME", help="Hydra primary config, e.g. train")
    stamp.add_argument("--config-dir", default="configs", help="the project's Hydra config dir")
    stamp.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a Hydra override the step runs with (repeat for several)",
    )
    stamp.add_argument("--code", nargs="*", default=[], metavar="PATH", help="code files/folders")
    summary = commands.add_parser(
        "summary", help="Markdown: the champion before the gate vs the candidate, and the decision"
    )
    summary.add_argument("folder", nargs="?", default=".pipeline", help="the pipeline's folder")
    best = commands.add_parser(
        "best-params", help="a finished Optuna search's best values, one Hydra override a line"
    )
    best.add_argument("sweep_dir", help="the search's hydra.sweep.dir")
    return parser


def main(argv: Sequence[str] | None = None, prog: str = "mlcore pipeline") -> int:
    args = build_parser(prog).parse_args(list(sys.argv[1:] if argv is None else argv))
    if args.command == "summary":
        from mlcore.pipeline.summary import summary

        try:
            print(summary(args.folder))
        except FileNotFoundError as error:
            print(f"{prog}: error: {error}", file=sys.stderr)
            return 1
        return 0
    if args.command == "best-params":
        from mlcore.pipeline.search import SearchResultError, as_overrides, best_params

        try:
            print("\n".join(as_overrides(best_params(args.sweep_dir))))
        except SearchResultError as error:
            print(f"{prog}: error: {error}", file=sys.stderr)
            return 1
        return 0
    from mlcore.data import DataError
    from mlcore.pipeline.stamp import StampError, stamp_content, write_stamp

    if args.data is None and not args.config and not args.code:
        print(f"{prog}: error: nothing to stamp: give --data, --config or --code", file=sys.stderr)
        return 2
    try:
        content = stamp_content(
            data=args.data,
            catalog=args.catalog,
            config=args.config,
            config_dir=args.config_dir,
            overrides=args.overrides,
            code=args.code,
        )
    except (StampError, DataError) as error:
        print(f"{prog}: error: {args.path}: {error}", file=sys.stderr)
        return 1
    changed = write_stamp(args.path, content)
    print(f"{args.path}: {'inputs changed' if changed else 'unchanged'}")
    return 0
