"""Render an example project from this checkout: `python examples/scaffold.py NAME DEST`.

NAME is an answers file in examples/ (without .yml). mlcore is taken from this checkout (the
`path` source), so the example runs the library exactly as it is here.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml
from copier import run_copy

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = Path(__file__).resolve().parent


def example_answers(name: str) -> dict[str, object]:
    """The answers of examples/<name>.yml, with mlcore taken from this checkout."""
    path = EXAMPLES / f"{name}.yml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in EXAMPLES.glob("*.yml")))
        raise SystemExit(f"No example named {name!r}: choose one of {known}")
    answers = yaml.safe_load(path.read_text())
    return {**answers, "mlcore_source": "path", "mlcore_path": str(REPO)}


def scaffold(name: str, destination: Path) -> Path:
    """Render the example with Copier from this checkout's HEAD (uncommitted changes included)."""
    run_copy(
        str(REPO),
        destination,
        data=example_answers(name),
        defaults=True,
        overwrite=True,
        vcs_ref="HEAD",
        quiet=True,
    )
    return destination


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("name", help="example answers file in examples/, without .yml")
    parser.add_argument("destination", type=Path, help="folder to render into")
    args = parser.parse_args(argv)
    project = scaffold(args.name, args.destination)
    print(f"Rendered examples/{args.name}.yml into {project}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
