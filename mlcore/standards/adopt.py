"""mlcore adopt: bring a repository made by the cookiecutter flavour under `copier update`.

Why: such a repository (made directly or through cruft) has no `.copier-answers.yml`, so Copier
cannot update it. This renders the release and answers it recorded (`.cookiecutter-answers.yml`
or `.cruft.json`) with Copier, checks that most files match byte for byte, and writes the
answers file Copier wrote there. It refuses, changing nothing, what it cannot map.
Exit status: 0 adopted, 2 refused.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from mlcore.standards._project import (
    ANSWERS_FILE,
    SourceUnreachable,
    UsageError,
    git_url,
    release_tags,
)

COOKIECUTTER_ANSWERS = ".cookiecutter-answers.yml"
CRUFT_FILE = ".cruft.json"
# Below this share of the template's files found identical, the repository is not that project.
MIN_MATCHING_SHARE = 0.5


@dataclass(frozen=True)
class Recorded:
    """What a cookiecutter-made repository says about its origin."""

    source_file: str
    template: str
    version: str
    answers: dict[str, Any]


def read_recorded(root: Path) -> Recorded:
    """The flavour's answers file, or else cruft's; UsageError when there is neither."""
    flavour, cruft = root / COOKIECUTTER_ANSWERS, root / CRUFT_FILE
    if flavour.is_file():
        data = yaml.safe_load(flavour.read_text()) or {}
        answers = {k: v for k, v in data.items() if not str(k).startswith("_")}
        template, version = str(data.get("_template", "")), str(data.get("_version", ""))
        return Recorded(COOKIECUTTER_ANSWERS, template, version, answers)
    if cruft.is_file():
        data = json.loads(cruft.read_text())
        context = dict(data.get("context", {}).get("cookiecutter", {}))
        version = str(context.get("_template_version") or "").removeprefix("v")
        if not version and str(data.get("checkout") or "").startswith("v"):
            version = str(data["checkout"]).removeprefix("v")
        answers = {k: v for k, v in context.items() if not str(k).startswith("_")}
        return Recorded(CRUFT_FILE, str(data.get("template", "")), version, answers)
    raise UsageError(
        f"{root}: neither {COOKIECUTTER_ANSWERS} nor {CRUFT_FILE} is here, so the answers this "
        "repository was made with are unknown. Run it in a repository made by the cookiecutter "
        "flavour of the template."
    )


def adopt(root: Path, template: str | None = None) -> Path:
    """Write root/.copier-answers.yml for the release and answers recorded; return its path."""
    if (root / ANSWERS_FILE).exists():
        raise UsageError(f"{root}: {ANSWERS_FILE} exists already: Copier manages this repository")
    recorded = read_recorded(root)
    source = template or recorded.template
    if not source:
        raise UsageError(f"{recorded.source_file} names no template: pass --template URL")
    tag = f"v{recorded.version}"
    try:
        tags = release_tags(source)
    except SourceUnreachable as error:
        raise UsageError(f"{error}; pass --template with a reachable copy") from error
    if tag not in tags:
        known = ", ".join(tags[-5:]) or "none"
        raise UsageError(
            f"{recorded.source_file} says release {recorded.version!r}, but {source} has no tag "
            f"{tag} (newest: {known}); this repository cannot be mapped to a template release"
        )
    # Cookiecutter asks every question and records "" for those Copier skips (the index URL of a
    # git-sourced project); Copier validates whatever it is given, so those stay out.
    answers = {key: value for key, value in recorded.answers.items() if value != ""}
    with tempfile.TemporaryDirectory() as tmp:
        rendered = render_release(source, tag, answers, Path(tmp) / "project")
        check_same_project(root, rendered, tag)
        answers_text = (rendered / ANSWERS_FILE).read_text()
    target = root / ANSWERS_FILE
    target.write_text(answers_text)
    if recorded.source_file == COOKIECUTTER_ANSWERS:
        (root / COOKIECUTTER_ANSWERS).unlink()  # replaced by Copier's own answers file
    return target


def render_release(source: str, tag: str, answers: dict[str, Any], destination: Path) -> Path:
    """The project Copier renders from that release with those answers."""
    import warnings

    from copier import run_copy

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Copier's dirty-template and similar notices
        try:
            source = source if "://" in source else git_url(source)
            run_copy(
                source,
                destination,
                data=answers,
                vcs_ref=tag,
                defaults=True,
                quiet=True,
                unsafe=False,
            )
        except ValueError as error:  # an answer the template refuses, or one missing
            raise UsageError(f"the recorded answers do not fit release {tag}: {error}") from error
    return destination


def check_same_project(root: Path, rendered: Path, tag: str) -> None:
    """Refuse unless most of the template's files are in root byte for byte."""
    files = [
        p.relative_to(rendered)
        for p in rendered.rglob("*")
        if p.is_file() and p.name != ANSWERS_FILE and ".git" not in p.parts
    ]
    same = [
        f
        for f in files
        if (root / f).is_file() and (root / f).read_bytes() == (rendered / f).read_bytes()
    ]
    share = len(same) / len(files) if files else 0.0
    if share < MIN_MATCHING_SHARE:
        raise UsageError(
            f"only {len(same)} of the {len(files)} files of release {tag} match this repository "
            f"({share:.0%}): it was not made from this template with these answers"
        )


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Write the .copier-answers.yml that lets `copier update` take over a "
        "repository made by the cookiecutter flavour (or cruft). Exit status: 0 adopted, "
        "2 refused (nothing changed).",
    )
    parser.add_argument("--template", metavar="URL", help="default: the one recorded")
    parser.add_argument("--project", default=".", metavar="DIR", help="default: .")
    return parser


def main(argv: Sequence[str] | None = None, *, prog: str | None = None) -> int:
    args = build_parser(prog).parse_args(argv)
    root = Path(args.project).resolve()
    try:
        written = adopt(root, args.template)
    except UsageError as error:
        print(f"mlcore adopt: {error}", file=sys.stderr)
        return 2
    print(
        f"Wrote {written.relative_to(root)}: `copier update` (or `make update`) now brings this "
        "repository to the newest release. Commit it."
    )
    return 0
