"""mlcore doctor: is this repository on the standard it was generated from?

Why: a hand edit to a file the template owns (the Makefile, the workflows, the pre-commit config)
silently forks a repository from the standard, and `copier update` only helps a team that knows
it is behind. The doctor reports the release the repository is on (`_commit`), the newest
`vX.Y.Z` tag at the source, the template-owned files that differ from what that release renders
with the recorded answers (`_skip_if_exists` files are the team's; copier.yml's
`_mlcore_edit_freely` files are listed as edits, not drift), and whether the installed mlcore is
the pinned one.

Exit status: 0 on the standard, 1 on drift (with --newest-required also an older release), 2 when
it cannot run here. An unreachable source fails only with --strict: a laptop offline is not drift.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Literal

from mlcore.standards._project import (
    Answers,
    SourceUnreachable,
    UsageError,
    newest_release,
    read_answers,
    release_key,
    release_tags,
)

EXIT_OK, EXIT_DRIFT, EXIT_USAGE = 0, 1, 2
MlcoreStatus = Literal["match", "mismatch", "not-compared"]
# copier.yml's list of standard files meant to be edited (Copier itself ignores the key).
EDIT_FREELY_KEY = "mlcore_edit_freely"


@dataclass
class Drift:
    """Template-owned files that differ from the release the repository is on.

    `changed` and `missing` are drift; `edited` and `deleted` are the same for the standard's
    files a team is meant to edit, reported only.
    """

    checked: bool = False
    changed: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    edited: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    user_owned: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def files(self) -> list[str]:
        return sorted([*self.changed, *self.missing])

    @property
    def edits(self) -> list[str]:
        return sorted([*self.edited, *self.deleted])


@dataclass(frozen=True)
class Ownership:
    """Who owns a rendered file, as the release itself declares it in copier.yml."""

    user_owned: Callable[[Path], bool]
    edit_freely: Callable[[str], bool]


@dataclass
class MlcoreCheck:
    """The installed mlcore against the release the template pins."""

    installed: str | None
    expected: str | None
    status: MlcoreStatus
    reason: str


@dataclass
class Report:
    """Everything the doctor found; `to_json` is what `--json` prints."""

    project: str
    source: str
    version: str
    newest: str | None
    update_available: bool | None
    source_error: str | None
    drift: Drift
    mlcore: MlcoreCheck
    problems: list[str] = field(default_factory=list)
    exit_code: int = EXIT_OK

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["on_standard"] = self.exit_code == EXIT_OK and self.drift.checked
        return data


def installed_mlcore() -> str | None:
    """The installed mlcore's version (a function, so tests can stand in another)."""
    try:
        return version("mlcore")
    except PackageNotFoundError:
        return None


def check_mlcore(answers: Answers, installed: str | None) -> MlcoreCheck:
    """The installed mlcore against the template release, where the comparison means something.

    A repository on an unreleased commit, or one that installs mlcore from a local checkout, pins
    no release to compare with: that is said, not counted as drift.
    """
    if not answers.is_release:
        reason = f"the repository is on {answers.commit}, not a release tag"
        return MlcoreCheck(installed, None, "not-compared", reason)
    expected = answers.commit.removeprefix("v")
    if answers.answers.get("mlcore_source") == "path":
        reason = "installed from a local checkout (mlcore_source is path)"
        return MlcoreCheck(installed, expected, "not-compared", reason)
    if installed is None:
        return MlcoreCheck(None, expected, "mismatch", "mlcore is not installed")
    if installed != expected:
        reason = f"the template pins {expected}; `make setup` installs it"
        return MlcoreCheck(installed, expected, "mismatch", reason)
    return MlcoreCheck(installed, expected, "match", "the release the template pins")


def render_reference(answers: Answers, destination: Path) -> Ownership:
    """Render the repository's own release with its recorded answers into destination.

    Returns the ownership that very release declares: its user-owned starters (`_skip_if_exists`,
    rendered as Copier renders it) and its standard files meant to be edited
    (`_mlcore_edit_freely`, gitignore-style patterns like Copier's; none before that key existed).
    Copier is imported here, not earlier.
    """
    from copier import run_copy
    from pathspec import GitIgnoreSpec

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # e.g. Copier's notes on dirty local templates
        worker = run_copy(
            answers.src_path,
            destination,
            data=dict(answers.answers),
            vcs_ref=answers.commit,
            defaults=True,
            quiet=True,
            unsafe=False,
            skip_tasks=True,
        )
    editable = GitIgnoreSpec.from_lines(worker.template.config_data.get(EDIT_FREELY_KEY) or [])
    return Ownership(user_owned=worker.match_skip, edit_freely=editable.match_file)


def compare(rendered: Path, project: Path, ownership: Ownership) -> Drift:
    """Every rendered file the template owns, byte for byte against the repository's copy."""
    drift = Drift(checked=True)
    for path in sorted(p for p in rendered.rglob("*") if p.is_file()):
        relative = path.relative_to(rendered)
        name = relative.as_posix()
        if ownership.user_owned(relative):
            drift.user_owned.append(name)
            continue
        editable = ownership.edit_freely(name)
        ours = project / relative
        if not ours.is_file():
            (drift.deleted if editable else drift.missing).append(name)
        elif ours.read_bytes() != path.read_bytes():
            (drift.edited if editable else drift.changed).append(name)
    return drift


def check_drift(answers: Answers) -> Drift:
    with tempfile.TemporaryDirectory(prefix="mlcore-doctor-") as temporary:
        rendered = Path(temporary) / "rendered"
        try:
            ownership = render_reference(answers, rendered)
        except Exception as error:  # Copier's and git's errors alike: report, don't crash
            message = str(error).strip().splitlines()
            return Drift(
                error=f"cannot render {answers.commit}: {message[-1] if message else error}"
            )
        return compare(rendered, answers.root, ownership)


def diagnose(project: Path, newest_required: bool = False, strict: bool = False) -> Report:
    """The whole check; UsageError when project is not a generated repository."""
    answers = read_answers(project)
    newest: str | None = None
    source_error: str | None = None
    try:
        newest = newest_release(release_tags(answers.src_path))
    except SourceUnreachable as error:
        source_error = str(error)
    update_available: bool | None = None
    if newest is not None and answers.is_release:
        update_available = release_key(newest) > release_key(answers.commit)
    unreached = Drift(error="not checked: the template source cannot be reached")
    drift = check_drift(answers) if source_error is None else unreached
    mlcore = check_mlcore(answers, installed_mlcore())
    report = Report(
        str(project),
        answers.src_path,
        answers.commit,
        newest,
        update_available,
        source_error,
        drift,
        mlcore,
    )
    report.problems = problems(report, newest_required=newest_required, strict=strict)
    report.exit_code = EXIT_DRIFT if report.problems else EXIT_OK
    return report


def problems(report: Report, newest_required: bool, strict: bool) -> list[str]:
    """Why the repository is not on the standard; empty when it is."""
    found = [f"{name} differs from {report.version}" for name in report.drift.changed]
    found += [f"{name} is missing (the template ships it)" for name in report.drift.missing]
    if report.mlcore.status == "mismatch":
        found.append(f"mlcore: {report.mlcore.reason}")
    if newest_required and report.update_available:
        found.append(f"{report.newest} is out and the repository is on {report.version}")
    if strict and (report.source_error or report.drift.error):
        found.append(report.source_error or str(report.drift.error))
    return found


def format_report(report: Report) -> str:
    """A few lines a person reads at a glance."""
    lines = [f"Template     {report.source}", f"This repo    {report.version}"]
    if report.source_error:
        lines.append(f"Newest       unknown: {report.source_error}")
    elif report.newest is None:
        lines.append("Newest       no vX.Y.Z release tag at the source")
    elif report.update_available:
        lines.append(f"Newest       {report.newest}: an update is available (make update)")
    elif report.update_available is None:
        lines.append(f"Newest       {report.newest} (this repo is on an unreleased commit)")
    else:
        lines.append(f"Newest       {report.newest}: up to date")
    drift = report.drift
    if not drift.checked:
        lines.append(f"Drift        unknown: {drift.error}")
    elif not drift.files:
        others = "every other" if drift.edits else "every"
        lines.append(f"Drift        none: {others} template-owned file matches {report.version}")
    else:
        lines.append(f"Drift        {len(drift.files)} template-owned file(s) differ:")
        lines += [f"               changed  {name}" for name in drift.changed]
        lines += [f"               missing  {name}" for name in drift.missing]
    if drift.edits:
        count = len(drift.edits)
        lines.append(f"Your edits   {count} standard file(s) meant to be edited (not drift):")
        lines += [f"               edited   {name}" for name in drift.edited]
        lines += [f"               deleted  {name}" for name in drift.deleted]
    mlcore = report.mlcore
    installed = f"{mlcore.installed} installed" if mlcore.installed else "not installed"
    verdict = {"match": "matches", "mismatch": "MISMATCH", "not-compared": "not compared"}
    lines.append(f"mlcore       {installed}; {verdict[mlcore.status]}: {mlcore.reason}")
    if report.exit_code == EXIT_OK and drift.checked:
        lines.append("On the standard.")
    elif report.exit_code == EXIT_OK:
        lines.append("Nothing off the standard found, but drift was not checked (--strict fails).")
    else:
        lines.append("Not on the standard:")
        lines += [f"  - {problem}" for problem in report.problems]
        if drift.files:
            lines.append(
                "  Put a file back with `git checkout`, re-render it with `make update` (Copier "
                "merges), or propose the change to the template itself."
            )
    return "\n".join(lines)


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Report the template release this repository is on, the newest release, "
        "template-owned files that drifted from the standard, and whether mlcore matches. "
        "Exit status: 0 on the standard, 1 on drift, 2 on usage errors.",
    )
    for flag, why in (
        ("--json", "print the report as JSON"),
        ("--newest-required", "also fail when a newer release exists"),
        ("--strict", "also fail when the template source cannot be reached (drift then unknown)"),
    ):
        parser.add_argument(flag, action="store_true", help=why)
    parser.add_argument(
        "--project", default=".", metavar="DIR", help="the generated repository (default: .)"
    )
    return parser


def main(argv: Sequence[str] | None = None, *, prog: str | None = None) -> int:
    args = build_parser(prog).parse_args(argv)
    try:
        report = diagnose(
            Path(args.project).resolve(), newest_required=args.newest_required, strict=args.strict
        )
    except UsageError as error:
        if args.json:
            print(json.dumps({"error": str(error), "exit_code": EXIT_USAGE}))
        print(f"{prog or 'doctor'}: {error}", file=sys.stderr)
        return EXIT_USAGE
    print(json.dumps(report.to_json(), indent=2) if args.json else format_report(report))
    return report.exit_code
