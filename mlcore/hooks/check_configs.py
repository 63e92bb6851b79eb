"""check-configs: every Hydra config composes, with every option of every config group.

Why: Hydra composes lazily. A typo in an interpolation, a defaults list naming an option that does
not exist or a bad `override` fails only when someone runs that very combination, often on a
cluster an hour into a queue. This hook composes each primary config (every top-level
`configs/*.yaml`), then once per option of each config group (`configs/<group>/*.yaml`), with
Hydra's compose API, and resolves every value. It prints Hydra's or OmegaConf's own error, at the
file and line found from what they report: the YAML mark, the failing key and its value, the
defaults entry named in the message.

What only has a value while a job runs is not an error here: `${hydra:...}` (a placeholder stands
in, after checking that Hydra's config has that key), `${oc.env:NAME}` of an unset variable, `???`
(a value the command line must give) and resolvers named with `--resolver` (registered by the
project's code at run time). Groups `hydra/` and `local/` are not iterated: Hydra's own options
come from plugins, `local/` from each machine. Only hydra, omegaconf and PyYAML are imported.
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

SKIPPED_GROUPS = frozenset({"hydra", "local"})  # not composed option by option
VERSION_BASE = "1.3"
REFERENCE = re.compile(r"\$\{([\w.\[\]-]+)\}")  # `${a.b}`, a plain reference to another key
IN_CONFIG = re.compile(r"^In '([^']+)':\s*")  # how Hydra names the config it was loading
QUOTED = re.compile(r"'([^']+)'")
ENTRY_WORDS = re.compile(r"\b(?:override|optional)\s+|@[^:\s]*")  # around a defaults entry's group
RAISED = re.compile(r"^\w+ raised while resolving interpolation: ")
HINTS = {  # what to do, by the name of the error OmegaConf or Hydra raised
    "InterpolationKeyError": "fix the key it names, or define it",
    "GrammarParseError": "not a valid ${{...}} interpolation: fix its syntax (a missing `}}` or a "
    "stray character)",
    "UnsupportedInterpolationType": "fix the resolver name, or pass --resolver {} if the project "
    "registers it",
}
_ABSENT = object()
_WORKER: Checker | None = None  # the checker a forked worker composes with


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
class Job:
    """One composition: a primary config, with at most one group override (`[+]group=option`)."""

    primary: str
    overrides: tuple[str, ...] = ()

    @property
    def subject(self) -> str:
        """The config this composition checks: the option it selects, else the primary."""
        return self.overrides[0].lstrip("+").replace("=", "/") if self.overrides else self.primary

    def describe(self) -> str:
        with_overrides = f" with {' '.join(self.overrides)}" if self.overrides else ""
        return f"composing {self.primary}.yaml{with_overrides}"


@dataclass
class Outcome:
    """What a composition found, and Hydra's group choices (None when it did not compose)."""

    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    choices: dict[str, Any] | None = None


class HydraRuntime:
    """Stands in for `${hydra:...}` (Hydra's config exists only while a job runs), checking that
    the key is in Hydra's config so `${hydra:runtime.outptu_dir}` fails."""

    config: Any = None

    def resolve(self, path: str) -> str:
        from omegaconf import OmegaConf

        if self.config is not None:
            try:
                found = OmegaConf.select(self.config, path, default=_ABSENT, throw_on_missing=True)
            except Exception:  # the key exists: `???` until the job runs, or resolved later
                found = None
            if found is _ABSENT:
                raise ValueError(f"Hydra's config has no key '{path}'")
        return f"<hydra:{path}>"


def _env_or_placeholder(key: str, *default: Any) -> Any:
    """`${oc.env:NAME}`: the variable, its default, or a placeholder where it is set at run time."""
    from omegaconf.resolvers import oc

    try:
        return oc.env(key, *default)
    except KeyError:
        return f"<env:{key}>"


@contextmanager
def check_time_resolvers(runtime: HydraRuntime, custom: Sequence[str]) -> Iterator[None]:
    """Swap in resolvers for what exists only at run time; put Hydra's and OmegaConf's back."""
    from hydra.core.utils import setup_globals
    from omegaconf import OmegaConf
    from omegaconf.resolvers import oc

    OmegaConf.register_new_resolver("hydra", runtime.resolve, replace=True)
    OmegaConf.register_new_resolver("oc.env", _env_or_placeholder, replace=True)
    for name in custom:
        OmegaConf.register_new_resolver(name, lambda *a, n=name: f"<{n}:{a}>", replace=True)
    try:
        yield
    finally:
        setup_globals()  # Hydra's own `hydra`, `now` and `python_version` resolvers
        OmegaConf.register_new_resolver("oc.env", oc.env, replace=True)
        for name in custom:
            OmegaConf.clear_resolver(name)


class Checker:
    """Composes the configs of one directory and turns Hydra's errors into problems."""

    def __init__(self, config_dir: Path, resolvers: Sequence[str] = ()) -> None:
        self.config_dir, self.resolvers, self.runtime = config_dir, tuple(resolvers), HydraRuntime()
        self.problems: list[Problem] = []
        self.files: dict[str, YamlFile] = {}  # config name (`model/mlp`) -> its parsed file
        for path in sorted(config_dir.rglob("*.yaml")):
            name = path.relative_to(config_dir).with_suffix("").as_posix()
            try:
                self.files[name] = YamlFile.read(path)
            except yaml.YAMLError as error:
                self.files[name] = YamlFile(path, "", [])
                self.problems.append(syntax_problem(path, error))
        self.groups: dict[str, list[str]] = {}  # each group (not hydra/ or local/): its options
        for name in self.files:
            group, _, option = name.rpartition("/")
            if group and group.split("/")[0] not in SKIPPED_GROUPS:
                self.groups.setdefault(group, []).append(option)

    def run(self, config_names: Sequence[str] | None, jobs: int | None = None) -> list[Problem]:
        """Compose each primary, then each option of the groups it selects (`group=option`), then
        each option of a group none selects (`+group=option`: fine if one primary composes it)."""
        from hydra import initialize_config_dir

        where = display_path(self.config_dir)
        names = [name.removesuffix(".yaml") for name in config_names or ()]
        primaries = [n for n in names or self.files if n in self.files and (names or "/" not in n)]
        for name in names:
            if name not in self.files:
                message = f"--config-name {name}: no {name}.yaml in the config directory"
                self.problems.append(Problem(where, None, message, "fix the name"))
        if not names and not primaries:
            message, hint = "no primary config (a top-level *.yaml) to compose", "add one, or "
            self.problems.append(Problem(where, None, message, hint + "name it with --config-name"))
        estimate = len(primaries) * (1 + sum(map(len, self.groups.values())))
        with (
            initialize_config_dir(str(self.config_dir.resolve()), version_base=VERSION_BASE),
            check_time_resolvers(self.runtime, self.resolvers),
            _composer(self, jobs, estimate) as compose_all,
        ):
            outcomes = compose_all([Job(primary) for primary in primaries])
            chosen = {
                p: o.choices
                for p, o in zip(primaries, outcomes, strict=True)
                if o.choices is not None
            }
            owned = {group for choices in chosen.values() for group in choices} | {
                names[0]
                for top in self.files
                if "/" not in top
                for *_, names in self._defaults(top)
            }
            selected = [
                Job(primary, (f"{group}={option}",))
                for primary, choices in chosen.items()
                for group, options in self.groups.items()
                if group in choices
                for option in options
                if option != choices[group]
            ]
            appended = [
                Job(primary, (f"+{group}={option}",))
                for group, options in self.groups.items()
                if group not in owned and len(chosen) == len(primaries)
                for option in options
                for primary in chosen
            ]
            results = compose_all(selected + appended)
            outcomes += results[: len(selected)]
            failed: dict[str, Outcome] = {}  # an appended option: what its first composition found
            for job, outcome in zip(appended, results[len(selected) :], strict=True):
                failed.setdefault(job.subject, outcome)
                if not outcome.problems:
                    failed[job.subject] = Outcome()  # it composes with this primary
            outcomes += failed.values()
        notes = dict.fromkeys(note for outcome in outcomes for note in outcome.notes)
        print(*notes, sep="\n", file=sys.stderr, end="\n" if notes else "")
        return self.problems + [problem for outcome in outcomes for problem in outcome.problems]

    def compose(self, job: Job) -> Outcome:
        """Compose one job with Hydra and resolve every value of the result."""
        from hydra import compose
        from omegaconf import OmegaConf

        try:
            cfg = compose(job.primary, list(job.overrides), return_hydra_config=True)
        except Exception as error:  # any failure to compose is the finding
            return self._failure(job, error)
        choices = OmegaConf.to_container(cfg.hydra.runtime.choices)
        assert isinstance(choices, dict)
        loaded = {job.primary, job.subject, *(f"{g}/{o}" for g, o in choices.items() if o)}
        self.runtime.config = cfg.hydra
        try:
            errors = list(_resolution_errors(cfg))
        finally:
            self.runtime.config = None
        failed = {key for key, _, _ in errors}
        problems = [
            # A key that only refers to a broken one fails too: report the one with the mistake.
            self._problem(job, error, f"{key}: {raw}", self.locate(key, raw, job, loaded))
            for key, raw, error in errors
            if not any(ref in failed for ref in REFERENCE.findall(str(raw)))
        ]
        return Outcome(problems, choices=choices)

    def _failure(self, job: Job, error: Exception) -> Outcome:
        """A composition Hydra refused: its error, at the YAML mark, key or defaults entry."""
        from hydra.errors import MissingConfigException

        chain = [error]
        while (cause := chain[-1].__cause__ or chain[-1].__context__) and len(chain) < 9:
            chain.append(cause)
        marked = next((e for e in chain if isinstance(e, yaml.MarkedYAMLError)), None)
        if marked is not None and marked.problem_mark is not None:
            return Outcome([syntax_problem(Path(marked.problem_mark.name), marked)])
        keyed = next((e for e in chain if getattr(e, "full_key", None)), None)
        if keyed is not None:
            value = getattr(keyed, "value", None)
            located = self.locate(str(keyed.full_key), value, job, set())
            return Outcome([self._problem(job, keyed, f"{keyed.full_key}: {value}", located)])
        text = next((line for e in chain if (line := _first_line(e))), type(error).__name__)
        in_config, text = (m[1], text[m.end() :]) if (m := IN_CONFIG.match(text)) else (None, text)
        needles, hint = QUOTED.findall(text) + text.split()[:1], "fix the defaults list"
        if isinstance(error, MissingConfigException):
            missing, options = str(error.missing_cfg_file), list(error.options or [])
            if missing.startswith("hydra/") and not difflib.get_close_matches(
                missing.rpartition("/")[2], options, cutoff=0.75
            ):
                return Outcome(
                    notes=[
                        f"note: {self._shown(job.subject)}: skipped, needs '{missing}' from a "
                        "Hydra plugin that is not installed here (install it, or add it to the "
                        "hook's additional_dependencies)"
                    ]
                )
            needles = [missing]
            text += f" (available: {', '.join(options)})" if options else ""
            hint = f"fix the option name or add {display_path(self.config_dir)}/{missing}.yaml"
        elif "appears more than once" in text:
            hint = "to replace another config's choice write `override /<group>: <option>`"
        elif "Could not override" in text:
            hint = "fix the group name; `override` only replaces a group the defaults list has"
        name, line, entry = self._entry([job.subject, in_config, job.primary], needles)
        message = f"defaults: {entry}: {text}" if entry else text
        return Outcome([Problem(self._shown(name), line, message, hint, job.describe())])

    def _problem(
        self, job: Job, error: Exception, what: str, at: tuple[str, int | None]
    ) -> Problem:
        text = RAISED.sub("", _first_line(error))
        hint = HINTS.get(type(error).__name__, "fix the value").format(text.rpartition(" ")[2])
        return Problem(self._shown(at[0]), at[1], f"{what}: {text}", hint, job.describe())

    def _shown(self, name: str) -> str:
        return display_path(self.files[name].path if name in self.files else self.config_dir)

    @cached_property
    def leaves(self) -> list[tuple[str, str, str | None, int]]:
        """(config name, key as written, scalar value, line) of every value the files set."""
        return [
            (name, key, getattr(node, "value", None), line_of(node))
            for name, source in self.files.items()
            for document in source.documents[:1]
            for key, _, node in walk(document)
            if key and not key.startswith(("defaults.", "defaults["))
        ]

    def locate(self, key: str, value: Any, job: Job, loaded: set[str]) -> tuple[str, int | None]:
        """The file and line that set key (OmegaConf's full key, or the key in its file): a file
        setting the same value first, then one this composition loaded, then the longest match."""
        found = [
            (str(value) == written, name in loaded, name == job.subject, len(local), name, line)
            for name, local, written, line in self.leaves
            if key == local or key.endswith("." + local)
        ]
        best = max(found, default=None)
        return (best[-2], best[-1]) if best else (job.subject, None)

    def _entry(
        self, order: Sequence[str | None], needles: Sequence[str]
    ) -> tuple[str, int | None, str | None]:
        """The first defaults entry naming one of needles (a group or `group/option`): in the
        configs of order first, then in any file."""
        names = [name for name in dict.fromkeys([*order, *self.files]) if name in self.files]
        for name in names:
            for line, text, written in self._defaults(name):
                if any(n == w or n.endswith("/" + w) for n in needles for w in written):
                    return name, line, text
        return names[0], None, None

    def _defaults(self, name: str) -> Iterator[tuple[int, str, tuple[str, ...]]]:
        """(line, text, (group, `group/option`) or (config,)) of each entry of a defaults list."""
        root = next(iter(self.files[name].documents), None)
        for key, value in root.value if isinstance(root, yaml.MappingNode) else ():
            if key.value == "defaults" and isinstance(value, yaml.SequenceNode):
                for item in value.value:
                    if not isinstance(item, yaml.MappingNode):
                        yield line_of(item), str(item.value), (str(item.value).strip("/"),)
                        continue
                    text = ", ".join(f"{k.value}: {getattr(v, 'value', v)}" for k, v in item.value)
                    group, _, option = (p.strip() for p in ENTRY_WORDS.sub("", text).partition(":"))
                    yield line_of(item), text, (group.strip("/"), f"{group}/{option}".strip("/"))


def _resolution_errors(cfg: Any) -> Iterator[tuple[str, Any, Exception]]:
    """(full key, raw value, error) for each value of cfg that does not resolve; values the
    command line must still give (`???`) and interpolations of them are fine."""
    from omegaconf import DictConfig, ListConfig, OmegaConf
    from omegaconf.errors import InterpolationToMissingValueError, MissingMandatoryValue

    def visit(node: Any, prefix: str) -> Iterator[tuple[str, Any, Exception]]:
        keys = list(node.keys()) if isinstance(node, DictConfig) else range(len(node))
        for key in keys:
            full = f"{prefix}[{key}]" if isinstance(key, int) else f"{prefix}.{key}".lstrip(".")
            try:
                value = node[key]
            except (MissingMandatoryValue, InterpolationToMissingValueError):
                continue
            except Exception as error:  # every other failure to resolve is a finding
                yield full, OmegaConf.to_container(node, resolve=False)[key], error  # type: ignore[index]
                continue
            if isinstance(value, DictConfig | ListConfig):
                yield from visit(value, full)

    yield from visit(cfg, "")


def _first_line(error: BaseException) -> str:
    """An error's message without OmegaConf's `full_key:`/`object_type=` trailer."""
    return next(iter(str(error).strip().splitlines()), "").strip().strip('"')


@contextmanager
def _composer(checker: Checker, jobs: int | None, estimate: int) -> Iterator[Callable[..., list]]:
    """A function composing jobs in order: in forked workers, which inherit the imported modules
    and the initialised Hydra, where there are CPUs and enough jobs for them to pay."""
    import multiprocessing
    import os

    global _WORKER
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    workers = min(jobs or cpus or 1, estimate // 3)
    if workers < 2 or "fork" not in multiprocessing.get_all_start_methods():
        yield lambda jobs: [checker.compose(job) for job in jobs]
        return
    from concurrent.futures import ProcessPoolExecutor

    _WORKER = checker
    try:
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
            yield lambda jobs: list(pool.map(_compose_in_worker, jobs))
    finally:
        _WORKER = None


def _compose_in_worker(job: Job) -> Outcome:
    assert _WORKER is not None
    return _WORKER.compose(job)


if __name__ == "__main__":
    sys.exit(main())
