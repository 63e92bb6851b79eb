"""mlcore sync: `copier update` as an unattended job, made safe to commit and review.

Why not plain `copier update` in CI: it exits 0 while leaving inline conflict markers, records
those files as unmerged (so the next `git checkout -B` refuses to run), and `git diff --quiet`
misses the files it adds. This runs the update (`--defaults --conflict inline`, never `--trust`),
finds every conflicted file, stages everything (`git add -A`, markers kept for the pull request)
and writes a markdown report for the pull request's body.

Exit status: 0 after an update or when there is nothing to do; 1 when Copier fails; 2 when it
cannot run here. Under GitHub Actions it sets the outputs `changed`, `conflicts`, `version` and
`previous`.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mlcore.standards._project import UsageError, git, read_answers

# Lines that open or close an inline conflict (Copier writes `<<<<<<< before updating`). A bare
# `=======` is not enough on its own: Markdown and reStructuredText underline headings with it.
CONFLICT_MARKERS = (b"<<<<<<< ", b">>>>>>> ")
DIRTY_LIST_LIMIT = 10


class UpdateFailed(Exception):
    """Copier could not update the repository (exit status 1)."""


@dataclass
class SyncResult:
    previous: str
    version: str
    changes: dict[str, str] = field(default_factory=dict)  # path -> added|modified|deleted
    conflicts: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.changes)


def sync(project: Path, vcs_ref: str | None = None) -> SyncResult:
    """Update project to the newest release (or vcs_ref) and stage the result."""
    previous = read_answers(project).commit
    require_clean_repository_root(project)
    run_copier_update(project, vcs_ref)
    result = SyncResult(previous=previous, version=read_answers(project).commit)
    result.changes = working_tree_changes(project)
    if not result.changed:
        return result
    unmerged = unmerged_paths(project)
    marked = {
        path
        for path, change in result.changes.items()
        if change != "deleted" and has_conflict_markers(project / path)
    }
    result.conflicts = sorted(unmerged | marked)
    # Resolves the unmerged entries (each takes the working-tree file, markers and all) and adds
    # the new files, so the index is clean for the branch and commit that follow.
    git(["add", "--all"], cwd=project)
    left = unmerged_paths(project)
    if left:
        raise UpdateFailed(f"files still unmerged after `git add --all`: {', '.join(sorted(left))}")
    return result


def require_clean_repository_root(project: Path) -> None:
    top = git(["rev-parse", "--show-toplevel"], cwd=project, check=False)
    if top.returncode != 0 or Path(top.stdout.strip()).resolve() != project.resolve():
        raise UsageError(f"{project} is not the root of a git repository: copier update needs one")
    status = git(["status", "--porcelain", "--untracked-files=all"], cwd=project)
    if dirty := status.stdout.splitlines():
        shown = "\n  ".join(dirty[:DIRTY_LIST_LIMIT])
        extra = len(dirty) - DIRTY_LIST_LIMIT
        more = f"\n  ... and {extra} more" if extra > 0 else ""
        raise UsageError(
            "the git tree is not clean; commit or stash these first, so the update's changes "
            f"are the only ones:\n  {shown}{more}"
        )


def run_copier_update(project: Path, vcs_ref: str | None) -> None:
    """`copier update --defaults --conflict inline` through Copier's API (imported only here)."""
    from copier import run_update

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            run_update(
                dst_path=project,
                defaults=True,
                overwrite=True,
                conflict="inline",
                unsafe=False,
                quiet=True,
                vcs_ref=vcs_ref,
            )
    except Exception as error:  # Copier's own errors and git's alike
        raise UpdateFailed(f"copier update failed: {error}") from error


def working_tree_changes(project: Path) -> dict[str, str]:
    """Every path the update touched, new untracked files included."""
    out = git(
        ["status", "--porcelain=v1", "-z", "--untracked-files=all", "--no-renames"], cwd=project
    ).stdout
    changes = {}
    for entry in filter(None, out.split("\0")):
        code, path = entry[:2], entry[3:]
        if code == "??" or "A" in code:
            changes[path] = "added"
        elif "D" in code and "U" not in code:
            changes[path] = "deleted"
        else:
            changes[path] = "modified"
    return dict(sorted(changes.items()))


def unmerged_paths(project: Path) -> set[str]:
    out = git(["ls-files", "--unmerged", "-z"], cwd=project).stdout
    return {entry.split("\t", 1)[1] for entry in filter(None, out.split("\0"))}


def has_conflict_markers(path: Path) -> bool:
    if not path.is_file():
        return False
    with path.open("rb") as lines:
        return any(line.startswith(CONFLICT_MARKERS) for line in lines)


def format_markdown(result: SyncResult) -> str:
    """The pull request body."""
    lines = [
        f"# Template update: {result.previous} → {result.version}",
        "",
        f"`make template-sync` ran `copier update` from template release `{result.previous}` to "
        f"`{result.version}`: the template's changes are merged into this repository's files, "
        "your edits kept. Files the template marks as yours (model, data, their configs and "
        "tests) are never touched.",
        "",
        "## Conflicts to resolve",
        "",
    ]
    if result.conflicts:
        lines += [f"- [ ] `{path}`" for path in result.conflicts]
        lines += [
            "",
            "Each file above holds inline conflict markers where the template and this "
            "repository changed the same lines: search for `<<<<<<<`, keep the right lines, "
            "delete the three marker lines (`<<<<<<< before updating`, `=======`, "
            "`>>>>>>> after updating`) and push to this branch before merging.",
        ]
    else:
        lines.append("None: every change merged cleanly.")
    lines += ["", "## Changed files", "", "| File | Change |", "| --- | --- |"]
    lines += [f"| `{path}` | {change} |" for path, change in result.changes.items()]
    lines += ["", "Run `make doctor` after merging to check the repository is on the standard."]
    return "\n".join(lines) + "\n"


def format_summary(result: SyncResult) -> str:
    if not result.changed:
        return f"Nothing to do: on {result.version}, and the template changes no file."
    summary = (
        f"Template update {result.previous} → {result.version}: "
        f"{len(result.changes)} file(s) changed, every change staged (git add --all)."
    )
    if not result.conflicts:
        return summary + "\nConflicts to resolve: none."
    listed = "\n".join(f"  {path}" for path in result.conflicts)
    return f"{summary}\nConflicts to resolve ({len(result.conflicts)}):\n{listed}"


def write_github_outputs(result: SyncResult, outputs: Path) -> None:
    """Step outputs for the workflow: whether to open the pull request, and what to call it."""
    with outputs.open("a") as stream:
        stream.write(
            f"changed={str(result.changed).lower()}\nconflicts={len(result.conflicts)}\n"
            f"version={result.version}\nprevious={result.previous}\n"
        )


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Update this repository to the newest template release (copier update, "
        "conflicts inline), stage the result and report the conflicts to resolve. Needs a "
        "clean git tree. What the template-sync workflow runs.",
    )
    parser.add_argument("--report", metavar="PATH", help="write a markdown report (a PR body)")
    parser.add_argument("--vcs-ref", metavar="REF", help="update to this tag or commit instead")
    parser.add_argument("--project", default=".", metavar="DIR", help="default: .")
    return parser


def main(argv: Sequence[str] | None = None, *, prog: str | None = None) -> int:
    args = build_parser(prog).parse_args(argv)
    name = prog or "sync"
    try:
        result = sync(Path(args.project).resolve(), vcs_ref=args.vcs_ref)
    except (UsageError, UpdateFailed) as error:
        print(f"{name}: {error}", file=sys.stderr)
        return 2 if isinstance(error, UsageError) else 1
    print(format_summary(result))
    if result.changed and args.report:
        Path(args.report).write_text(format_markdown(result))
        print(f"Report: {args.report}")
    if os.environ.get("GITHUB_OUTPUT"):
        write_github_outputs(result, Path(os.environ["GITHUB_OUTPUT"]))
    return 0
