"""check-configs: every Hydra config composes, with every option of every config group.

Why: Hydra composes lazily. A typo in an interpolation, a defaults list naming an option that does
not exist or a bad `override` fails only when someone runs that very combination, often on a
cluster an hour into a queue. This hook composes each primary config (every top-level
`configs/*.yaml`) as it is, then once per option of each config group (`configs/<group>/*.yaml`),
with Hydra's own compose API, and resolves every interpolation; a mistake fails the commit instead,
naming the file, line and key to fix.

What only has a value while a job runs is not an error here: `${hydra:...}` (a placeholder stands
in, after checking that Hydra's config has that key), `${oc.env:NAME}` of an unset variable, `???`
(a value the command line must give) and resolvers named with `--resolver` (registered by the
project's code at run time). Groups `hydra/` and `local/` are not iterated: Hydra's own options
come from plugins, `local/` from each machine.

Only hydra, omegaconf and PyYAML are imported: the hook must stay fast (a fresh project's ~30
compositions take a few seconds) and never pull in torch.
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

from mlcore.hooks._common import (
    DEFAULT_CONFIG_DIR,
    Problem,
    YamlFile,
    display_path,
    is_inside,
    line_of,
    report,
    syntax_problem,
    walk,
)

# Config groups whose options are not composed one by one (their files are still parsed).
SKIPPED_GROUPS = frozenset({"hydra", "local"})
# Hydra's plugin groups: an option missing there is a plugin this environment lacks, unless it is
# close to an option that is there (then it is a typo, and reported).
PLUGIN_GROUPS = frozenset({"hydra/sweeper", "hydra/launcher"})
VERSION_BASE = "1.3"
PACKAGE_HEADER = re.compile(r"^#\s*@package\s+(\S+)")
# `${a.b}`, a plain reference to another key (not a resolver call).
SIMPLE_REFERENCE = re.compile(r"\$\{([\w.\[\]-]+)\}")
# Fewer compositions than this run in this process: forking would not pay.
MIN_PARALLEL_JOBS = 6
IN_CONFIG = re.compile(r"^In '([^']+)':\s*")
QUOTED = re.compile(r"'([^']+)'")
WORD = re.compile(r"[\w/.-]+")
RAISED = re.compile(r"^\w+ raised while resolving interpolation: ")
_ABSENT = object()
# The checker a forked worker composes with (it inherits it from the parent).
_WORKER_CHECKER: Checker | None = None


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    """The hook's options; `prog` names it as `mlcore check-configs` when run as a subcommand."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Check that every Hydra config composes, once per option of every config "
        "group, with its interpolations resolved.",
    )
    parser.add_argument(
        "filenames",
        nargs="*",
        help="changed files (pre-commit passes them); any change under the config directory "
        "checks every composition, none checks it too",
    )
    parser.add_argument(
        "--config-dir",
        default=DEFAULT_CONFIG_DIR,
        help=f"the Hydra config directory (default: {DEFAULT_CONFIG_DIR})",
    )
    parser.add_argument(
        "--config-name",
        action="append",
        dest="config_names",
        metavar="NAME",
        help="a primary config to compose, repeatable (default: every top-level *.yaml)",
    )
    parser.add_argument(
        "--resolver",
        action="append",
        default=[],
        metavar="NAME",
        help="a custom OmegaConf resolver the project registers at run time; its "
        "interpolations count as valid (repeatable)",
    )
    parser.add_argument(
        "--jobs",
        "-j",
        type=int,
        default=None,
        metavar="N",
        help="processes that compose in parallel (default: one per CPU; 1 composes in-process)",
    )
    return parser


def main(argv: Sequence[str] | None = None, *, prog: str | None = None) -> int:
    """Run the hook; 1 if a config does not compose, 0 otherwise."""
    args = build_parser(prog).parse_args(argv)
    config_dir = Path(args.config_dir)
    if args.filenames and not any(is_inside(name, config_dir) for name in args.filenames):
        return 0  # nothing under the config directory changed
    if not config_dir.is_dir():
        print(
            f"{args.config_dir}: no such config directory; run from the project root or pass "
            "--config-dir"
        )
        return 1
    return report(check(config_dir, args.config_names, args.resolver, args.jobs))


def check(
    config_dir: Path,
    config_names: Sequence[str] | None = None,
    resolvers: Sequence[str] = (),
    jobs: int | None = None,
) -> list[Problem]:
    """Every problem found composing the configs under config_dir."""
    return Checker(config_dir, resolvers).run(config_names, jobs)


@dataclass(frozen=True)
class Entry:
    """One entry of a defaults list, as written."""

    line: int
    text: str
    group: str | None = None  # the full group of `group: option` entries (`model`, `model/enc`)
    option: str | None = None
    config: str | None = None  # the full name of a plain `- name` entry (`callbacks/early_stop`)

    def selects(self, config_name: str) -> bool:
        """Whether this entry loads config_name (`group/option`)."""
        if self.config is not None:
            return self.config == config_name
        return self.group is not None and f"{self.group}/{self.option}" == config_name

    def names_group(self, name: str) -> bool:
        """Whether this entry is about group name (its full name or its last part)."""
        return self.group is not None and name in (self.group, self.group.rsplit("/", 1)[-1])


@dataclass
class ConfigFile:
    """A YAML file of the config directory: its config name, package and nodes."""

    name: str  # `train`, `model/mlp`
    path: Path
    source: YamlFile | None  # None when it does not parse

    @property
    def group(self) -> str:
        return self.name.rpartition("/")[0]

    @property
    def shown(self) -> str:
        return display_path(self.path)

    @cached_property
    def root(self) -> yaml.Node | None:
        if self.source is None or not self.source.documents:
            return None
        return self.source.documents[0]

    @cached_property
    def package(self) -> str:
        """Where the file's keys land in the composed config (Hydra's `# @package` rules)."""
        group_package = self.group.replace("/", ".")
        header = None
        for text in self.source.text.splitlines() if self.source else ():
            if text.strip() and not text.lstrip().startswith("#"):
                break
            if match := PACKAGE_HEADER.match(text.strip()):
                header = match.group(1)
        if header is None:
            return group_package
        parts = []
        for part in header.split("."):
            if part == "_group_":
                parts.append(group_package)
            elif part == "_name_":
                parts.append(self.name.rpartition("/")[2])
            elif part != "_global_":
                parts.append(part)
        return ".".join(part for part in parts if part)

    @cached_property
    def leaves(self) -> dict[str, yaml.Node]:
        """Each key the file sets (relative to its package) and its value node; not `defaults`."""
        if not isinstance(self.root, yaml.MappingNode):
            return {}
        keys: dict[str, yaml.Node] = {}
        for key, _, node in walk(self.root):
            if key and key != "defaults" and not key.startswith(("defaults.", "defaults[")):
                keys.setdefault(key, node)
        return keys

    @cached_property
    def defaults(self) -> list[Entry]:
        """The file's defaults list, with full group and config names."""
        if not isinstance(self.root, yaml.MappingNode):
            return []
        for key, value in self.root.value:
            if getattr(key, "value", None) == "defaults" and isinstance(value, yaml.SequenceNode):
                return [self._entry(item) for item in value.value]
        return []

    @property
    def defaults_line(self) -> int | None:
        """The line of the `defaults` key, if the file has one."""
        if isinstance(self.root, yaml.MappingNode):
            for key, _ in self.root.value:
                if getattr(key, "value", None) == "defaults":
                    return line_of(key)
        return None

    def _entry(self, item: yaml.Node) -> Entry:
        if isinstance(item, yaml.ScalarNode):
            return Entry(line_of(item), item.value, config=self._full(item.value))
        if isinstance(item, yaml.MappingNode) and len(item.value) == 1:
            key, value = item.value[0]
            written = str(getattr(key, "value", ""))
            option = value.value if isinstance(value, yaml.ScalarNode) else None
            group = written.split()[-1].split("@")[0] if written.split() else ""
            return Entry(
                line_of(item), f"{written}: {option}", group=self._full(group), option=option
            )
        return Entry(line_of(item), "?")

    def _full(self, name: str) -> str:
        """A group or config name as written in this file, made absolute."""
        if name.startswith("/") or not self.group:
            return name.lstrip("/")
        return f"{self.group}/{name}"

    def local_key(self, full_key: str) -> str | None:
        """full_key relative to this file's package, or None if the file cannot set it."""
        if not self.package:
            return full_key
        if full_key.startswith(self.package + "."):
            return full_key[len(self.package) + 1 :]
        return None


@dataclass(frozen=True)
class Job:
    """One composition: a primary config with group overrides, done to check `subject`."""

    primary: str
    overrides: tuple[str, ...] = ()
    subject: str = ""  # the config whose check this is: an option (`logger/csv`) or the primary
    appended: bool = False  # `+group=option` of a group no primary selects

    def describe(self) -> str:
        with_overrides = f" with {' '.join(self.overrides)}" if self.overrides else ""
        return f"composing {self.primary}.yaml{with_overrides}"


@dataclass
class Outcome:
    """What a composition found, and the group choices it made (None when it did not compose)."""

    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    choices: dict[str, str | None] | None = None


class HydraRuntime:
    """Stands in for Hydra's `${hydra:...}` resolver: that config only exists while a job runs.

    It still checks that Hydra's config has the key, so `${hydra:runtime.outptu_dir}` fails.
    """

    def __init__(self) -> None:
        self.config: Any = None

    def resolve(self, path: str) -> str:
        from omegaconf import OmegaConf

        if self.config is not None:
            try:
                found = OmegaConf.select(self.config, path, default=_ABSENT, throw_on_missing=True)
            except Exception:  # the key exists: `???` until the job runs, or resolved later
                found = None
            if found is _ABSENT:
                raise KeyError(f"Hydra's config has no key '{path}'")
        return f"<hydra:{path}>"


def _env_or_placeholder(key: str, *default: Any) -> Any:
    """`${oc.env:NAME}`: the variable, its default, or a placeholder where it is set at run time."""
    from omegaconf.resolvers import oc

    try:
        return oc.env(key, *default)
    except KeyError:
        return f"<env:{key}>"


@contextmanager
def check_time_resolvers(custom: Sequence[str]) -> Iterator[HydraRuntime]:
    """Swap in resolvers for what exists only at run time; put Hydra's and OmegaConf's back."""
    from hydra.core.utils import setup_globals
    from omegaconf import OmegaConf
    from omegaconf.resolvers import oc

    runtime = HydraRuntime()
    OmegaConf.register_new_resolver("hydra", runtime.resolve, replace=True)
    OmegaConf.register_new_resolver("oc.env", _env_or_placeholder, replace=True)
    for name in custom:
        OmegaConf.register_new_resolver(name, _placeholder(name), replace=True)
    try:
        yield runtime
    finally:
        setup_globals()  # Hydra's own `hydra`, `now` and `python_version` resolvers
        OmegaConf.register_new_resolver("oc.env", oc.env, replace=True)
        for name in custom:
            OmegaConf.clear_resolver(name)


def _placeholder(name: str) -> Callable[..., str]:
    return lambda *args: f"<{name}:{','.join(map(str, args))}>"


class Checker:
    """Composes the configs of one directory and turns Hydra's errors into problems."""

    def __init__(self, config_dir: Path, resolvers: Sequence[str] = ()) -> None:
        self.config_dir = config_dir
        self.resolvers = tuple(resolvers)
        self.problems: list[Problem] = []
        self.files: dict[str, ConfigFile] = {}
        for path in sorted(config_dir.rglob("*.yaml")):
            name = path.relative_to(config_dir).with_suffix("").as_posix()
            try:
                source: YamlFile | None = YamlFile.read(path)
            except yaml.YAMLError as error:
                source = None
                self.problems.append(syntax_problem(path, error))
            self.files[name] = ConfigFile(name, path, source)
            self.problems.extend(self._grammar_problems(self.files[name]))
        self.runtime: HydraRuntime | None = None

    @property
    def groups(self) -> dict[str, list[str]]:
        """Each config group (not hydra/ or local/) and its options."""
        groups: dict[str, list[str]] = {}
        for name in self.files:
            group, _, option = name.rpartition("/")
            if group and group.split("/")[0] not in SKIPPED_GROUPS:
                groups.setdefault(group, []).append(option)
        return groups

    def run(self, config_names: Sequence[str] | None, jobs: int | None = None) -> list[Problem]:
        """Compose each primary config, then once per option of each group.

        The option compositions (most of the time) run in `jobs` forked processes.
        """
        from hydra import initialize_config_dir

        names = [name.removesuffix(".yaml") for name in config_names or ()]
        names = names or [name for name in self.files if "/" not in name]
        if not names:
            self.problems.append(
                Problem(
                    display_path(self.config_dir),
                    None,
                    "no primary config (a top-level *.yaml) to compose",
                    "add one, or name it with --config-name",
                )
            )
        primaries = []
        for name in names:
            if name in self.files:
                primaries.append(name)
            else:
                self.problems.append(
                    Problem(
                        display_path(self.config_dir),
                        None,
                        f"--config-name {name}: no {name}.yaml in the config directory",
                        "fix the name",
                    )
                )
        estimate = len(primaries) * (1 + sum(map(len, self.groups.values())))
        with (
            initialize_config_dir(str(self.config_dir.resolve()), version_base=VERSION_BASE),
            check_time_resolvers(self.resolvers) as self.runtime,
            self._composer(jobs, estimate) as compose_all,
        ):
            outcomes = compose_all([Job(primary, subject=primary) for primary in primaries])
            chosen = {
                # A primary that did not compose: its own defaults list says which groups.
                primary: outcome.choices
                or {e.group: e.option for e in self.files[primary].defaults if e.group}
                for primary, outcome in zip(primaries, outcomes, strict=True)
            }
            option_jobs = self._option_jobs(chosen, orphans=all(o.choices for o in outcomes))
            base_errors = {
                primary: {problem.message for problem in outcome.problems}
                for primary, outcome in zip(primaries, outcomes, strict=True)
                if outcome.choices is None
            }
            composed_somewhere = set()
            appended: dict[str, list[Outcome]] = {}
            for job, outcome in zip(option_jobs, compose_all(option_jobs), strict=True):
                # A primary that does not compose fails each of its options the same way.
                repeated = base_errors.get(job.primary, set())
                outcome.problems = [p for p in outcome.problems if p.message not in repeated]
                if not job.appended:
                    outcomes.append(outcome)
                elif not outcome.problems:
                    composed_somewhere.add(job.subject)
                else:
                    appended.setdefault(job.subject, []).append(outcome)
            # A group no primary selects is fine if it composes with one of them.
            outcomes += [
                found[0] for subject, found in appended.items() if subject not in composed_somewhere
            ]
        notes: list[str] = []
        for outcome in outcomes:
            self.problems.extend(outcome.problems)
            notes.extend(note for note in outcome.notes if note not in notes)
        for note in notes:
            print(note, file=sys.stderr)
        return self.problems

    def _option_jobs(self, chosen: dict[str, dict[str, Any]], orphans: bool) -> list[Job]:
        """One composition per primary and option of each group the primary selects.

        The option the primary's defaults choose is what composing the primary checked. With
        orphans, a group that no top-level config's defaults list names and no composed primary
        selects is appended (`+group=option`) to each primary (not when a primary failed: its
        groups are then unknown).
        """
        jobs = []
        for primary, choices in chosen.items():
            for group, options in self.groups.items():
                jobs += [
                    Job(primary, (f"{group}={option}",), f"{group}/{option}")
                    for option in options
                    if group in choices and option != choices[group]
                ]
        owned = {group for choices in chosen.values() for group in choices}
        owned |= {
            entry.group
            for name, config in self.files.items()
            if "/" not in name
            for entry in config.defaults
            if entry.group
        }
        for group, options in self.groups.items():
            if group not in owned and orphans:
                jobs += [
                    Job(primary, (f"+{group}={option}",), f"{group}/{option}", appended=True)
                    for option in options
                    for primary in chosen
                ]
        return jobs

    @contextmanager
    def _composer(
        self, workers: int | None, estimate: int
    ) -> Iterator[Callable[[list[Job]], list[Outcome]]]:
        """A function that composes jobs in order: in forked processes where enough are expected.

        Hydra takes ~0.15 s a composition, nearly all of it CPU; a fork inherits the imported
        modules and the initialised Hydra, so a worker costs milliseconds to start.
        """
        global _WORKER_CHECKER

        workers = min(workers or _cpu_count(), estimate)
        if workers < 2 or estimate < MIN_PARALLEL_JOBS or "fork" not in _start_methods():
            yield lambda jobs: [self.compose(job) for job in jobs]
            return
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        _WORKER_CHECKER = self
        try:
            context = multiprocessing.get_context("fork")
            with ProcessPoolExecutor(workers, mp_context=context) as pool:
                yield lambda jobs: list(pool.map(_compose_in_worker, jobs))
        finally:
            _WORKER_CHECKER = None

    def compose(self, job: Job) -> Outcome:
        """Compose one job with Hydra and resolve every value of the result."""
        from hydra import compose
        from omegaconf import OmegaConf

        try:
            cfg = compose(job.primary, list(job.overrides), return_hydra_config=True)
        except Exception as error:  # any failure to compose is the finding
            return self._composition_error(job, error)
        choices: Any = OmegaConf.to_container(cfg.hydra.runtime.choices)
        assert isinstance(choices, dict)
        assert self.runtime is not None
        self.runtime.config = cfg.hydra
        try:
            problems = list(self._unresolved(job, cfg, choices))
        finally:
            self.runtime.config = None
        return Outcome(problems=problems, choices=choices)

    # -- values that do not resolve ----------------------------------------------------------

    @cached_property
    def hydra_keys(self) -> frozenset[str]:
        """The keys under `hydra` that the project's files set (with the mappings around them).

        Only these of Hydra's config are resolved: the rest is Hydra's own.
        """
        return frozenset(
            full
            for config in self.files.values()
            for full in (_full_key(config, local) for local in config.leaves)
            if full.startswith("hydra.")
        )

    def _unresolved(self, job: Job, cfg: Any, choices: dict[str, Any]) -> Iterator[Problem]:
        errors = list(_resolution_errors(cfg, self.hydra_keys))
        failed = {key for key, _, _ in errors}
        in_job = self._files_in(job, choices)
        for key, raw, error in errors:
            # A key that only refers to a broken one fails too: report the one with the mistake.
            if any(ref in failed for ref in SIMPLE_REFERENCE.findall(str(raw))):
                continue
            config, line = self._locate(key, raw, job, in_job)
            message, hint = _describe_resolution(key, raw, error)
            yield Problem(config.shown, line, message, hint, job.describe())

    def _files_in(self, job: Job, choices: dict[str, Any]) -> set[str]:
        """The configs a composition loaded, as far as defaults lists tell."""
        names = {job.primary, job.subject}
        names |= {f"{group}/{option}" for group, option in choices.items() if option}
        pending = list(names)
        while pending:
            config = self.files.get(pending.pop())
            for entry in config.defaults if config else ():
                name = entry.config or (entry.group and f"{entry.group}/{entry.option}")
                if name and name not in names:
                    names.add(name)
                    pending.append(name)
        return names

    def _locate(
        self, key: str, raw: Any, job: Job, in_job: set[str]
    ) -> tuple[ConfigFile, int | None]:
        """The file and line that set key to raw: in the composition first, then any file."""
        best: tuple[tuple[bool, bool, bool], ConfigFile, int] | None = None
        for config in self.files.values():
            local = config.local_key(key)
            node = config.leaves.get(local) if local is not None else None
            if node is None:
                continue
            exact = isinstance(node, yaml.ScalarNode) and node.value == str(raw)
            rank = (config.name in in_job, exact, config.name == job.subject)
            if best is None or rank > best[0]:
                best = (rank, config, line_of(node))
        if best is not None:
            return best[1], best[2]
        return self.files[job.subject or job.primary], None

    # -- compositions that fail --------------------------------------------------------------

    def _composition_error(self, job: Job, error: Exception) -> Outcome:
        from hydra.errors import MissingConfigException
        from omegaconf.errors import GrammarParseError, OmegaConfBaseException

        context = job.describe()
        cause = error.__cause__ or error.__context__
        if isinstance(error, yaml.YAMLError):
            return Outcome([syntax_problem(self._marked_file(error), error)])
        if isinstance(cause, GrammarParseError) or isinstance(error, GrammarParseError):
            found = [p for name in self.files for p in self._grammar_problems(self.files[name])]
            if found:
                return Outcome(found)
        if isinstance(error, MissingConfigException):
            return self._missing_config(job, error)
        text = _first_line(error) or (_first_line(cause) if cause else "") or type(error).__name__
        in_config = None
        if match := IN_CONFIG.match(text):
            in_config, text = match.group(1), text[match.end() :]
        key = getattr(error, "full_key", None) or getattr(cause, "full_key", None)
        if key and isinstance(error, OmegaConfBaseException):
            config, line = self._locate(str(key), None, job, set())
            problem = Problem(config.shown, line, f"{key}: {text}", "fix the value", context)
            return Outcome([problem])
        names = QUOTED.findall(text) + WORD.findall(text)
        if in_config is None:
            in_config = next((name for name in names if name in self.files), None)
        config, entry = self._find_entry(
            job, in_config, lambda e: e.text in names or any(e.names_group(n) for n in names)
        )
        where = f"defaults: {entry.text}: " if entry else ""
        hint = "fix the defaults list"
        if "appears more than once" in text:
            hint = "to replace another config's choice write `override /<group>: <option>`"
        elif "Could not override" in text:
            hint = "fix the group name; `override` only replaces a group the defaults list has"
        line = entry.line if entry else config.defaults_line
        return Outcome([Problem(config.shown, line, where + text, hint, context)])

    def _missing_config(self, job: Job, error: Any) -> Outcome:
        """A defaults list (or `override`) names a config that does not exist."""
        missing = str(error.missing_cfg_file or "")
        options = list(error.options or [])
        group = missing.rpartition("/")[0]
        option = missing.rpartition("/")[2]
        if group in PLUGIN_GROUPS and not difflib.get_close_matches(option, options, cutoff=0.75):
            subject = self.files.get(job.subject) or self.files[job.primary]
            return Outcome(
                notes=[
                    f"note: {subject.shown}: skipped, needs '{missing}' from a Hydra plugin that "
                    "is not installed here (install it, or add it to the hook's "
                    "additional_dependencies)"
                ]
            )
        match = IN_CONFIG.match(_first_line(error))
        config, entry = self._find_entry(
            job, match.group(1) if match else None, lambda e: e.selects(missing)
        )
        available = f" (available: {', '.join(options)})" if options else ""
        where = f"defaults: {entry.text}: " if entry else ""
        return Outcome(
            [
                Problem(
                    config.shown,
                    entry.line if entry else None,
                    f"{where}no config '{missing}'{available}",
                    f"fix the option name or add {display_path(self.config_dir)}/{missing}.yaml",
                    job.describe(),
                )
            ]
        )

    def _marked_file(self, error: yaml.YAMLError) -> Path:
        """The config file a YAML error from Hydra's loader points at."""
        mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
        name = getattr(mark, "name", None)
        if name is None:
            return self.config_dir
        resolved = Path(name).resolve()
        return next((c.path for c in self.files.values() if c.path.resolve() == resolved), resolved)

    def _find_entry(
        self, job: Job, in_config: str | None, wanted: Callable[[Entry], bool]
    ) -> tuple[ConfigFile, Entry | None]:
        """The defaults entry a composition error is about: in the config under test first
        (its `override`s), then the config Hydra named, the primary, and any other file."""
        order = [job.subject, in_config, job.primary, *self.files]
        for name in dict.fromkeys(name for name in order if name in self.files):
            config = self.files[name]
            for entry in config.defaults:
                if wanted(entry):
                    return config, entry
        fallback = in_config if in_config in self.files else job.subject or job.primary
        return self.files.get(fallback, self.files[job.primary]), None

    def _grammar_problems(self, config: ConfigFile) -> list[Problem]:
        """Values whose `${...}` OmegaConf cannot parse (Hydra fails the whole load on them)."""
        from omegaconf import OmegaConf
        from omegaconf.errors import GrammarParseError

        problems = []
        for key, node in config.leaves.items():
            if isinstance(node, yaml.ScalarNode) and "${" in node.value:
                try:
                    OmegaConf.create({"value": node.value})
                except GrammarParseError as error:
                    problems.append(
                        Problem(
                            config.shown,
                            line_of(node),
                            f"{_full_key(config, key)}: {node.value}: not a valid interpolation "
                            f"({_first_line(error)})",
                            "fix the ${...} syntax (a missing `}` or a stray character)",
                        )
                    )
        return problems


def _resolution_errors(
    cfg: Any, hydra_keys: frozenset[str]
) -> Iterator[tuple[str, Any, Exception]]:
    """(full key, raw value, error) for each value of cfg that does not resolve.

    Values the command line must still give (`???`) and interpolations of them are fine. Under
    `hydra`, only hydra_keys are visited.
    """
    from omegaconf import DictConfig, ListConfig, OmegaConf
    from omegaconf.errors import InterpolationToMissingValueError, MissingMandatoryValue

    def visit(node: Any, prefix: str) -> Iterator[tuple[str, Any, Exception]]:
        keys = list(node.keys()) if isinstance(node, DictConfig) else range(len(node))
        for key in keys:
            full = f"{prefix}[{key}]" if isinstance(key, int) else f"{prefix}.{key!s}".lstrip(".")
            if full.startswith("hydra.") and full not in hydra_keys:
                continue
            try:
                value = node[key]
            except (MissingMandatoryValue, InterpolationToMissingValueError):
                continue
            except Exception as error:  # every other failure to resolve is a finding
                raw = OmegaConf.to_container(node, resolve=False)
                yield full, raw[key], error  # type: ignore[index]
                continue
            if isinstance(value, DictConfig | ListConfig):
                yield from visit(value, full)

    yield from visit(cfg, "")


def _describe_resolution(key: str, raw: Any, error: Exception) -> tuple[str, str]:
    """The message and the fix for a value that does not resolve."""
    from omegaconf.errors import InterpolationKeyError, UnsupportedInterpolationType

    if isinstance(error, InterpolationKeyError):
        missing = _missing_key(error)
        if str(raw) == f"${{{missing}}}":
            return f"{key}: interpolation {raw} not found", "fix the key it names, or define it"
        return (
            f"{key}: interpolation {raw}: key '{missing}' not found",
            "fix the key it names, or define it",
        )
    if isinstance(error, UnsupportedInterpolationType):
        resolver = _first_line(error).rsplit(" ", 1)[-1]
        return (
            f"{key}: {raw}: unknown resolver '{resolver}'",
            f"fix the resolver name, or pass --resolver {resolver} if the project registers it",
        )
    detail = RAISED.sub("", _first_line(error))
    if len(detail) > 1 and detail[0] == detail[-1] == '"':  # a KeyError's quoted message
        detail = detail[1:-1]
    return f"{key}: {raw}: {detail}", "fix the value"


def _missing_key(error: Exception) -> str | None:
    match = QUOTED.search(_first_line(error))
    return match.group(1) if match else None


def _first_line(error: BaseException | None) -> str:
    """An error's message without OmegaConf's `full_key:`/`object_type=` trailer."""
    text = str(error or "").strip()
    return text.splitlines()[0].strip() if text else ""


def _full_key(config: ConfigFile, local: str) -> str:
    return f"{config.package}.{local}" if config.package else local


def _compose_in_worker(job: Job) -> Outcome:
    assert _WORKER_CHECKER is not None
    return _WORKER_CHECKER.compose(job)


def _cpu_count() -> int:
    """CPUs this process may use (a container's limit, not the machine's)."""
    import os

    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _start_methods() -> list[str]:
    import multiprocessing

    return multiprocessing.get_all_start_methods()
