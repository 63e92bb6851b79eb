"""What `doctor` and `sync` share: the answers file, git, and the template's release tags.

Why not Copier's own helpers: these run before Copier is imported (a repository that is not a
generated one gets its answer at once), and Copier's tag lookup returns `HEAD` when it cannot
reach the source, where the doctor has to say that the source is unreachable.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ANSWERS_FILE = ".copier-answers.yml"
# Releases are tags `vX.Y.Z` (PEP 440 release versions, nothing else: no pre-releases, no `v1`).
RELEASE_TAG = re.compile(r"^v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")
# Copier's own abbreviations for hosted templates (`gh:org/repo`, `gl:org/repo`).
HOST_PREFIXES = {"gh:": "https://github.com/", "gl:": "https://gitlab.com/"}
# Reaching a remote must never wait on a password prompt or hang a CI job.
GIT_TIMEOUT_S = 60


class UsageError(Exception):
    """The command cannot run here (exit status 2): not a generated repo, dirty tree, ..."""


class SourceUnreachable(Exception):
    """The template's repository (`_src_path`) could not be read."""


@dataclass(frozen=True)
class Answers:
    """A generated repository's `.copier-answers.yml`: where it came from and what it answered."""

    root: Path
    commit: str
    src_path: str
    answers: dict[str, Any] = field(default_factory=dict)

    @property
    def is_release(self) -> bool:
        return is_release(self.commit)


def read_answers(root: Path) -> Answers:
    """The answers of the repository at root; UsageError when it was not made by Copier."""
    path = root / ANSWERS_FILE
    if not path.is_file():
        raise UsageError(
            f"{root}: no {ANSWERS_FILE} here, so this is not a repository generated from the "
            "template. Run from the root of a generated repository (or pass --project DIR)."
        )
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise UsageError(f"{path}: not valid YAML ({error})") from error
    if not isinstance(data, dict) or not data.get("_src_path") or not data.get("_commit"):
        raise UsageError(
            f"{path}: `_src_path` or `_commit` is missing, so the template release this "
            "repository is on is unknown. Restore the file from git history."
        )
    answers = {key: value for key, value in data.items() if not str(key).startswith("_")}
    return Answers(root, str(data["_commit"]), str(data["_src_path"]), answers)


def is_release(ref: str) -> bool:
    return bool(RELEASE_TAG.match(ref))


def release_key(tag: str) -> tuple[int, int, int]:
    major, minor, patch = RELEASE_TAG.match(tag).groups()  # type: ignore[union-attr]
    return int(major), int(minor), int(patch)


def newest_release(tags: Iterable[str]) -> str | None:
    """The highest `vX.Y.Z` among tags, compared as numbers (v1.10.0 is newer than v1.9.0)."""
    releases = [tag for tag in tags if is_release(tag)]
    return max(releases, key=release_key) if releases else None


def git_url(src_path: str) -> str:
    """A location `git` understands, from what Copier recorded in `_src_path`."""
    for prefix, base in HOST_PREFIXES.items():
        if src_path.startswith(prefix):
            return base + src_path.removeprefix(prefix)
    src_path = src_path.removeprefix("git+")
    return str(Path(src_path).expanduser()) if src_path.startswith("~") else src_path


def release_tags(src_path: str) -> list[str]:
    """Every release tag of the template repository, local path or URL, oldest first."""
    result = git(["ls-remote", "--tags", "--refs", git_url(src_path)], check=False)
    if result.returncode != 0:
        reason = (result.stderr.strip().splitlines() or ["git ls-remote failed"])[-1]
        raise SourceUnreachable(f"cannot list the releases of {src_path}: {reason}")
    tags = {line.rsplit("refs/tags/", 1)[-1] for line in result.stdout.splitlines() if line}
    return sorted((tag for tag in tags if is_release(tag)), key=release_key)


def git(
    args: Sequence[str], cwd: Path | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run git without prompts; raise with git's message when check and it fails."""
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
    env.setdefault("GIT_SSH_COMMAND", "ssh -o BatchMode=yes")
    try:
        result = subprocess.run(
            ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=GIT_TIMEOUT_S
        )
    except FileNotFoundError as error:
        raise UsageError("git is not installed or not on PATH") from error
    except subprocess.TimeoutExpired:
        result = subprocess.CompletedProcess(["git", *args], 124, "", "git timed out")
    if check and result.returncode != 0:
        raise RuntimeError(f"`git {' '.join(args)}` failed: {result.stderr.strip()}")
    return result
