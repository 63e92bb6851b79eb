"""check-config-safety: no credentials and no absolute local paths in config files.

Why: configs are committed and copied into every run (the resolved config goes to MLflow), so a
password in one leaks to everyone who reads the repository or the tracking server; and a path like
`/home/alice/data` works on one machine only. Flagged, each at its line (YAML read as nodes):

- a key naming a secret (`password`, `token`, `api_key`, ...) with a literal value or a literal
  `${oc.env:NAME,default}` default (interpolations, null, `???`, empty, booleans are fine);
- values shaped like known secrets: AWS key ids, private keys, GitHub tokens, URL passwords;
- absolute local paths (`/home/`, `/Users/`, `/root`, `/tmp`, `/mnt`, `C:\\`), also in
  `file:///` URIs and env defaults; remote URIs and interpolated paths are fine.

A `# mlcore: allow` comment silences a line. `configs/local/` is checked only when named.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

import yaml

from mlcore.hooks._common import (
    DEFAULT_CONFIG_DIR,
    YAML_SUFFIXES,
    Problem,
    YamlFile,
    display_path,
    line_of,
    report,
    syntax_problem,
    walk,
    yaml_files,
)

# A key names a secret when its last word is one of these (or its last two words one of the pairs).
SECRET_WORDS = frozenset(
    {
        "password",
        "passwd",
        "secret",
        "token",
        "auth",
        "credential",
        "credentials",
        "apikey",
        "accesskey",
        "secretkey",
        "privatekey",
    }
)
SECRET_PAIRS = frozenset({("api", "key"), ("access", "key"), ("secret", "key"), ("private", "key")})
# Tokenizer settings (`pad_token: "<pad>"`) are not secrets.
TEXT_TOKENS = frozenset(
    {"pad", "eos", "bos", "unk", "cls", "sep", "mask", "start", "end", "sos", "special"}
)
WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")
SECRET_FORMATS = (
    (re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"), "an AWS access key id (AKIA...)"),
    (re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----"), "a private key"),
    (
        re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})\b"),
        "a GitHub token",
    ),
)
URL_PASSWORD = re.compile(r"\b([a-zA-Z][a-zA-Z0-9+.-]*)://([^\s/@:]*):([^\s/@]+)@")
URI = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"]*")
# Where a path may start: the value's start or after a separator (not after an interpolation).
LOCAL_PATH = re.compile(
    r"(?:^|(?<=[\s=,;:'\"(\[{]))"
    r"(/(?:home|Users|root|tmp|mnt)(?=[/\s'\",;)\]}]|$)|[A-Za-z]:[\\/])[^\s'\",;)\]}]*"
)
EMPTY = frozenset({"", "???", "null", "~", "''", '""'})
PLACEHOLDER = "\0"  # stands for an interpolation in a value's literal text
SECRET_HINT = "use ${oc.env:%s} (set it in the environment or .env) and keep the value out of git"
PATH_HINT = (
    "use a path relative to ${paths.root_dir}, or ${oc.env:NAME}, or put this machine's paths "
    "in configs/local/ (git-ignored)"
)


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    """The hook's options; `prog` names it as `mlcore check-config-safety` when a subcommand."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Check YAML configs for credentials and absolute local paths.",
    )
    parser.add_argument(
        "filenames",
        nargs="*",
        help="YAML files to check (pre-commit passes them); none: every YAML file in the "
        "config directory but local/",
    )
    where = "where to look when no files are given (default: %(default)s)"
    parser.add_argument("--config-dir", default=DEFAULT_CONFIG_DIR, help=where)
    return parser


def main(argv: Sequence[str] | None = None, *, prog: str | None = None) -> int:
    """Run the hook; 1 if a config holds a credential or a local path, 0 otherwise."""
    args = build_parser(prog).parse_args(argv)
    if args.filenames:
        paths = [Path(name) for name in args.filenames if Path(name).suffix in YAML_SUFFIXES]
    else:
        config_dir = Path(args.config_dir)
        if not config_dir.is_dir():
            print(
                f"{args.config_dir}: no such config directory; run from the project root, pass "
                "--config-dir or name the files"
            )
            return 1
        files = yaml_files(config_dir)
        paths = [path for path in files if path.relative_to(config_dir).parts[0] != "local"]
    return report(problem for path in paths for problem in check_file(path))


def check_file(path: Path) -> Iterator[Problem]:
    """Every finding in one YAML file, in file order, less those on `# mlcore: allow` lines."""
    try:
        source = YamlFile.read(path)
    except yaml.YAMLError as error:
        yield syntax_problem(path, error)
        return
    shown = display_path(path)
    for document in source.documents:
        for key, key_node, node in walk(document):
            if not isinstance(node, yaml.ScalarNode):
                continue
            lines = [line_of(node)] + ([line_of(key_node)] if key_node is not None else [])
            if source.allowed(*lines):
                continue
            name = key_node.value if isinstance(key_node, yaml.ScalarNode) else ""
            shown_key = key or "(value)"
            for what, hint in findings(name, key, node):
                yield Problem(shown, line_of(node), f"{shown_key}: {what}", hint)


def findings(name: str, key: str, node: yaml.ScalarNode) -> Iterator[tuple[str, str]]:
    """(what is wrong, how to fix it) for one scalar value under key `name` (full key `key`)."""
    value = node.value
    env_name = _env_name(key)
    if is_secret_key(name) and not _is_empty(node):
        literal, defaults = split_interpolations(value)
        if literal.replace(PLACEHOLDER, "").strip():
            yield "a secret-looking key holds a literal value", SECRET_HINT % env_name
        else:
            for default in defaults:
                if not _is_empty_text(default):
                    yield (
                        "a secret-looking key has a literal default in ${oc.env:...}",
                        f"drop the default: ${{oc.env:{env_name}}}",
                    )
    for pattern, label in SECRET_FORMATS:
        if pattern.search(value):
            yield f"the value looks like {label}", SECRET_HINT % env_name
    for match in URL_PASSWORD.finditer(value):
        literal, _ = split_interpolations(match.group(3))
        if literal.replace(PLACEHOLDER, "").strip():
            scheme, user = match.group(1), match.group(2)
            yield (
                f"the URL embeds a password ({scheme}://{user}:***@...)",
                f"write {scheme}://{user}:${{oc.env:{env_name}_PASSWORD}}@..., or the whole URL "
                f"as ${{oc.env:{env_name}}}",
            )
    for path in local_paths(value):
        yield f"absolute local path {path}", PATH_HINT


def is_secret_key(name: str) -> bool:
    """Whether a key's name says it holds a secret: `db_password`, `apiKey`, `HF_TOKEN`."""
    words = [word.lower() for word in WORDS.findall(name)]
    if not words:
        return False
    if words[-1] == "token" and len(words) > 1 and words[-2] in TEXT_TOKENS:
        return False
    return words[-1] in SECRET_WORDS or tuple(words[-2:]) in SECRET_PAIRS


def local_paths(value: str) -> list[str]:
    """The absolute local paths in a value's literal text and in its `${oc.env:...}` defaults."""
    literal, defaults = split_interpolations(value)
    found = []
    for text in (literal, *defaults):
        text, _ = split_interpolations(text)
        for uri in URI.finditer(text):
            rest = uri.group().split("://", 1)[1]
            if rest.startswith("/"):  # no host: `file:///home/...`, `sqlite:////tmp/...`
                local = "/" + rest.lstrip("/")
                if LOCAL_PATH.match(local):
                    found.append(uri.group())
        text = URI.sub(" ", text)
        found += [match.group() for match in LOCAL_PATH.finditer(text)]
    return [path.replace(PLACEHOLDER, "${...}") for path in found]


def split_interpolations(value: str) -> tuple[str, list[str]]:
    """The value with each top-level `${...}` replaced by PLACEHOLDER, and the defaults of its
    `${oc.env:NAME,default}` interpolations (unquoted)."""
    literal: list[str] = []
    defaults: list[str] = []
    index = 0
    while index < len(value):
        if value.startswith("${", index) and (index == 0 or value[index - 1] != "\\"):
            end = _closing_brace(value, index + 1)
            if end is None:  # unbalanced: the rest is literal text
                literal.append(value[index:])
                break
            body = value[index + 2 : end]
            if body.startswith("oc.env:"):
                _, comma, default = _split_top_level(body[len("oc.env:") :])
                if comma:
                    defaults.append(_unquote(default.strip()))
            literal.append(PLACEHOLDER)
            index = end + 1
        else:
            literal.append(value[index])
            index += 1
    return "".join(literal), defaults


def _closing_brace(text: str, start: int) -> int | None:
    """The index of the `}` that closes the `{` at start (nested braces counted)."""
    depth = 0
    for index in range(start, len(text)):
        if text[index] == "{":
            depth += 1
        elif text[index] == "}":
            depth -= 1
            if depth == 0:
                return index
    return None


def _split_top_level(text: str) -> tuple[str, str, str]:
    """text split at its first comma outside braces, brackets and quotes."""
    depth, quote = 0, ""
    for index, char in enumerate(text):
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in "{[":
            depth += 1
        elif char in "}]":
            depth -= 1
        elif char == "," and depth == 0:
            return text[:index], ",", text[index + 1 :]
    return text, "", ""


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text


def _is_empty(node: yaml.ScalarNode) -> bool:
    """null, a boolean, empty or `???`: nothing secret in it."""
    if node.tag in ("tag:yaml.org,2002:null", "tag:yaml.org,2002:bool"):
        return True
    return node.value.strip() in EMPTY


def _is_empty_text(text: str) -> bool:
    literal, _ = split_interpolations(text)
    return literal.replace(PLACEHOLDER, "").strip() in EMPTY


def _env_name(key: str) -> str:
    """An environment variable name for a key: `db.password` -> DB_PASSWORD."""
    parts = [part for part in re.split(r"[.\[\]]+", key) if part and not part.isdigit()]
    if parts and re.fullmatch(r"[A-Z][A-Z0-9_]*", parts[-1]):  # already an env var's name
        return parts[-1]
    name = re.sub(r"[^A-Za-z0-9]+", "_", "_".join(parts[-2:])).strip("_").upper()
    return name or "NAME"
