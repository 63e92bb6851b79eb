"""What both hooks share: problems printed as `path:line: message`, YAML read with line numbers.

The hooks read YAML as PyYAML nodes (`yaml.compose`), not as Python objects, because a node
remembers where it was written: a problem can then name the line to fix, not only the file.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import yaml

DEFAULT_CONFIG_DIR = "configs"
YAML_SUFFIXES = (".yaml", ".yml")
# An inline comment that silences the safety hook on its line (see hooks/README.md).
ALLOW_COMMENT = re.compile(r"#\s*mlcore:\s*allow\b")


@dataclass(frozen=True)
class Problem:
    """One finding. Two problems are the same when file, line and message are: the context (which
    composition showed it) is left out, so a problem seen by many compositions prints once."""

    path: str
    line: int | None
    message: str
    hint: str = ""
    context: str = field(default="", compare=False)

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        context = f" ({self.context})" if self.context else ""
        hint = f"; {self.hint}" if self.hint else ""
        return f"{where}: {self.message}{context}{hint}"


def report(problems: Iterable[Problem]) -> int:
    """Print each distinct problem once, in the order found; 1 if there were any, else 0."""
    distinct = dict.fromkeys(problems)  # ordered, and equal problems once
    print(*distinct, sep="\n", end="\n" if distinct else "")
    return 1 if distinct else 0


def display_path(path: Path | str) -> str:
    """The path relative to the current directory when it lies below it (as pre-commit names
    files), otherwise as given."""
    resolved, cwd = Path(path).resolve(), Path.cwd().resolve()
    return resolved.relative_to(cwd).as_posix() if resolved.is_relative_to(cwd) else str(path)


def is_inside(path: Path | str, directory: Path) -> bool:
    """Whether path lies in directory (both resolved, so `./configs/a.yaml` counts)."""
    return Path(path).resolve().is_relative_to(directory.resolve())


def yaml_files(directory: Path) -> list[Path]:
    """Every YAML file below directory, sorted."""
    return sorted(p for p in directory.rglob("*") if p.suffix in YAML_SUFFIXES and p.is_file())


def syntax_problem(path: Path | str, error: yaml.YAMLError) -> Problem:
    """A YAML parse error as a problem at the line PyYAML stopped on."""
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    problem = getattr(error, "problem", None) or str(error).splitlines()[0]
    context = getattr(error, "context", None)
    detail = f"{problem} ({context})" if context else problem
    line = mark.line + 1 if mark is not None else None
    column = f", column {mark.column + 1}" if mark is not None else ""
    return Problem(
        display_path(path),
        line,
        f"YAML syntax error: {detail}{column}",
        "fix the YAML (indentation, a missing quote or bracket, a `:` inside an unquoted value)",
    )


@dataclass
class YamlFile:
    """A YAML file's text and its documents as nodes (line numbers kept)."""

    path: Path
    text: str
    documents: list[yaml.Node]

    @classmethod
    def read(cls, path: Path) -> YamlFile:
        """Parse path; raises yaml.YAMLError on a syntax error."""
        text = path.read_text(encoding="utf-8")
        return cls(path, text, list(yaml.compose_all(text, Loader=yaml.SafeLoader)))

    def allowed(self, *lines: int) -> bool:
        """Whether any of these (1-based) lines carries a `# mlcore: allow` comment."""
        source = self.text.splitlines()
        return any(0 < n <= len(source) and ALLOW_COMMENT.search(source[n - 1]) for n in lines)


def join_key(prefix: str, key: str | int) -> str:
    """OmegaConf's spelling of a full key: `a.b`, `a.b[0]`."""
    return f"{prefix}[{key}]" if isinstance(key, int) else f"{prefix}.{key}" if prefix else key


def walk(
    node: yaml.Node, prefix: str = "", key_node: yaml.Node | None = None
) -> Iterator[tuple[str, yaml.Node | None, yaml.Node]]:
    """Every node under node as (full key, the node of its key if in a mapping, the node)."""
    yield prefix, key_node, node
    if isinstance(node, yaml.MappingNode):
        for child_key, child in node.value:
            name = child_key.value if isinstance(child_key, yaml.ScalarNode) else "?"
            yield from walk(child, join_key(prefix, name), child_key)
    elif isinstance(node, yaml.SequenceNode):
        for index, child in enumerate(node.value):
            yield from walk(child, join_key(prefix, index), None)


def line_of(node: yaml.Node) -> int:
    """The 1-based line a node starts on."""
    return node.start_mark.line + 1
