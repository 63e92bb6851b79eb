"""check-configs: every Hydra config composes, with every option of every config group.

Why: Hydra composes lazily, so a typo in an interpolation or a defaults list fails only when that
very combination runs, often on a cluster an hour into a queue. This composes each top-level
`configs/*.yaml`, then once per option of each group, resolves every value and prints Hydra's or
OmegaConf's error at the file and line it points to. Run-time values are not errors: `${hydra:...}`
(once Hydra's config has the key), unset `${oc.env:NAME}`, `???` and `--resolver` names. Groups
`hydra/` and `local/` are not iterated.
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

SKIPPED_GROUPS = frozenset({"hydra", "local"})
REFERENCE = re.compile(r"\$\{([\w.\[\]-]+)\}")  # `${a.b}`, a plain reference to another key
IN_CONFIG = re.compile(r"^In '([^']+)':\s*")  # how Hydra names the config it was loading
ENTRY_WORDS = re.compile(r"\b(?:override|optional)\s+|@[^:\s]*")  # around a defaults entry's group
RAISED = re.compile(r"^\w+ raised while resolving interpolation: ")
HINTS = {  # what to do, by the name of OmegaConf's error ({} is the message's last word)
    "InterpolationKeyError": "fix the key it names, or define it",
    "GrammarParseError": "not a valid ${{...}} interpolation: fix its syntax (a missing `}}` or a "
    "stray character)",
    "UnsupportedInterpolationType": "fix the resolver name, or pass --resolver {} if the project "
    "registers it",
}
PLUGIN_NOTE = (
    "note: {}: skipped, needs '{}' from a Hydra plugin that is not installed here (install it, "
    "or add it to the hook's additional_dependencies)"
)
_ABSENT = object()
_WORKER: Checker | None = None  # the checker a forked worker composes with


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    """The hook's options; `prog` names it as `mlcore check-configs` when run as a subcommand."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Check that every Hydra config composes, once per option of every config "
        "group, with its interpolations resolved.",
    )
    parser.add_argument("filenames", nargs="*", help="changed files (none: check all)")
    parser.add_argument("--config-dir", default=DEFAULT_CONFIG_DIR, help="default: %(default)s")
    parser.add_argument(
        "--config-name", action="append", dest="config_names", metavar="NAME",
        help="a primary config to compose (default: every top-level *.yaml); repeatable",
    )  # fmt: skip
    parser.add_argument(
        "--resolver", action="append", default=[], metavar="NAME",
        help="an OmegaConf resolver the project registers at run time; repeatable",
    )  # fmt: skip
    parser.add_argument(
        "--jobs", "-j", type=int, metavar="N",
        help="processes composing in parallel (default: one per CPU; 1: in this process)",
    )  # fmt: skip
    return parser


def main(argv: Sequence[str] | None = None, *, prog: str | None = None) -> int:
    """Run the hook; 1 if a config does not compose, 0 otherwise."""
    args = build_parser(prog).parse_args(argv)
    config_dir = Path(args.config_dir)
    if args.filenames and not any(is_inside(name, config_dir) for name in args.filenames):
        return 0  # nothing under the config directory changed
    if not config_dir.is_dir():
        hint = "run from the project root or pass --config-dir"
        print(f"{args.config_dir}: no such config directory; {hint}")
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
        return f"composing {self.primary}.yaml" + "".join(f" with {o}" for o in self.overrides)


@dataclass
class Outcome:
    """What a composition found, and Hydra's group choices (None when it did not compose)."""

    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    choices: dict[str, Any] | None = None


class Checker:
    """Composes the configs of one directory and turns Hydra's errors into problems."""

    def __init__(self, config_dir: Path, resolvers: Sequence[str] = ()) -> None:
        self.config_dir, self.resolvers = config_dir, tuple(resolvers)
        self.hydra_config: Any = None  # Hydra's config of the composition being resolved
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
        each option of a group no defaults list names (`+group=option`: fine if one composes)."""
        from hydra import initialize_config_dir

        where = display_path(self.config_dir)
        names = [name.removesuffix(".yaml") for name in config_names or ()]
        primaries = [n for n in names or self.files if n in self.files and (names or "/" not in n)]
        for name in (name for name in names if name not in self.files):
            message = f"--config-name {name}: no {name}.yaml in the config directory"
            self.problems.append(Problem(where, None, message, "fix the name"))
        if not names and not primaries:
            message, hint = "no primary config (a top-level *.yaml) to compose", "add one, or name"
            self.problems.append(Problem(where, None, message, f"{hint} it with --config-name"))
        estimate = len(primaries) * (1 + sum(map(len, self.groups.values())))
        with (
            initialize_config_dir(str(self.config_dir.resolve()), version_base="1.3"),
            self._run_time_resolvers(),
            _composer(self, jobs, estimate) as compose_all,
        ):
            outcomes = compose_all([Job(primary) for primary in primaries])
            chosen = {p: o.choices for p, o in zip(primaries, outcomes, strict=True) if o.choices}
            tops = [name for name in self.files if "/" not in name]
            named = {group for top in tops for _, _, group, _ in self._defaults(top)}
            selected = [
                Job(primary, (f"{group}={option}",))
                for primary, choices in chosen.items()
                for group, options in self.groups.items()
                for option in options
                if group in choices and option != choices[group]
            ]
            appended = [
                Job(primary, (f"+{group}={option}",))
                for group, options in self.groups.items()
                if group not in named and not any(group in c for c in chosen.values())
                for option in options
                for primary in (chosen if len(chosen) == len(primaries) else ())
            ]
            results = compose_all(selected + appended)
            outcomes += results[: len(selected)]
            first: dict[str, Outcome] = {}  # each appended option: its first composition's
            for job, outcome in zip(appended, results[len(selected) :], strict=True):
                first.setdefault(job.subject, outcome)
                if not outcome.problems:
                    first[job.subject] = Outcome()  # it composes with this primary
            outcomes += first.values()
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
        choices: Any = OmegaConf.to_container(cfg.hydra.runtime.choices)
        assert isinstance(choices, dict)
        loaded = [job.primary, job.subject, *(f"{g}/{o!s}" for g, o in choices.items() if o)]
        self.hydra_config = cfg.hydra
        try:
            errors = list(_resolution_errors(cfg))
        finally:
            self.hydra_config = None
        failed = {key for key, _, _ in errors}
        problems = [
            self._problem(job, error, f"{key}: {raw}", self.locate(key, raw, job, loaded))
            for key, raw, error in errors
            # A key that only refers to a broken one fails too: report the one with the mistake.
            if not any(ref in failed for ref in REFERENCE.findall(str(raw)))
        ]
        return Outcome(problems, choices=choices)

    def _failure(self, job: Job, error: Exception) -> Outcome:
        """A composition Hydra refused: its error, at the YAML mark, key or defaults entry."""
        from hydra.errors import MissingConfigException

        chain: list[BaseException] = [error]
        while (cause := chain[-1].__cause__ or chain[-1].__context__) and len(chain) < 9:
            chain.append(cause)
        marked = next((e for e in chain if isinstance(e, yaml.MarkedYAMLError)), None)
        if marked is not None and marked.problem_mark is not None:
            return Outcome([syntax_problem(Path(marked.problem_mark.name), marked)])
        keyed = next((e for e in chain if getattr(e, "full_key", None)), None)
        if keyed is not None:  # OmegaConf's error, while Hydra loaded a file
            key, value = str(getattr(keyed, "full_key")), getattr(keyed, "value", None)  # noqa: B009
            return Outcome(
                [self._problem(job, keyed, f"{key}: {value}", self.locate(key, value, job))]
            )
        text = next((first for e in chain if (first := _first_line(e))), type(error).__name__)
        in_config, text = (m[1], text[m.end() :]) if (m := IN_CONFIG.match(text)) else (None, text)
        needles, hint = re.findall("'([^']+)'", text) + text.split()[:1], "fix the defaults list"
        if isinstance(error, MissingConfigException):
            missing, options = str(error.missing_cfg_file), list(error.options or [])
            option = missing.rpartition("/")[2]
            if missing.startswith("hydra/") and not difflib.get_close_matches(
                option, options, cutoff=0.75
            ):
                return Outcome(notes=[PLUGIN_NOTE.format(self._shown(job.subject), missing)])
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
        self, job: Job, error: BaseException, what: str, at: tuple[str, int | None]
    ) -> Problem:
        text = RAISED.sub("", _first_line(error))
        hint = HINTS.get(type(error).__name__, "fix the value").format(text.rpartition(" ")[2])
        return Problem(self._shown(at[0]), at[1], f"{what}: {text}", hint, job.describe())

    def _shown(self, name: str) -> str:
        return display_path(self.files[name].path if name in self.files else self.config_dir)

    @cached_property
    def nodes(self) -> list[tuple[str, str, str | None, int]]:
        """(config name, key as written, scalar value, line) of every node of every file; a
        defaults entry's key is `defaults[i]` or `defaults[i].<group as written>`."""
        return [
            (name, key, node.value if isinstance(node, yaml.ScalarNode) else None, line_of(node))
            for name, source in self.files.items()
            for document in source.documents[:1]
            for key, _, node in walk(document)
            if key
        ]

    def locate(
        self, key: str, value: Any, job: Job, loaded: Sequence[str] = ()
    ) -> tuple[str, int | None]:
        """The file and line that set key (a full key, or the key in its file): one setting this
        value first, then one this composition loaded, the config it checks, the longest key."""
        found = [
            (str(value) == written, name in loaded, name == job.subject, len(local), name, line)
            for name, local, written, line in self.nodes
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
            for line, text, *written in self._defaults(name):
                if any(n == w or n.endswith("/" + w) for n in needles for w in written):
                    return name, line, text
        return names[0], None, None

    def _defaults(self, name: str) -> Iterator[tuple[int, str, str, str]]:
        """(line, text, group, `group/option`) of each entry of a config's defaults list."""
        for config, key, value, line in self.nodes:
            if config == name and key.startswith("defaults[") and value is not None:
                text = f"{key.partition('].')[2]}: {value}" if "]." in key else value
                group, _, option = (p.strip(" /") for p in ENTRY_WORDS.sub("", text).partition(":"))
                yield line, text, group, f"{group}/{option}".strip("/")

    def _hydra(self, path: str) -> str:
        """`${hydra:path}`: a placeholder, once Hydra's config is known to have that key."""
        from omegaconf import OmegaConf

        if self.hydra_config is not None:
            try:
                found = OmegaConf.select(
                    self.hydra_config, path, default=_ABSENT, throw_on_missing=True
                )
            except Exception:  # the key exists: `???` until the job runs, or resolved later
                found = None
            if found is _ABSENT:
                raise ValueError(f"Hydra's config has no key '{path}'")
        return f"<hydra:{path}>"

    @contextmanager
    def _run_time_resolvers(self) -> Iterator[None]:
        """Stand-ins for what exists only at run time; Hydra's and OmegaConf's are put back."""
        from hydra.core.utils import setup_globals
        from omegaconf import OmegaConf
        from omegaconf.resolvers import oc

        OmegaConf.register_new_resolver("hydra", self._hydra, replace=True)
        OmegaConf.register_new_resolver("oc.env", _env_or_placeholder, replace=True)
        for name in self.resolvers:
            OmegaConf.register_new_resolver(name, lambda *a, n=name: f"<{n}:{a}>", replace=True)
        try:
            yield
        finally:
            setup_globals()  # Hydra's own `hydra`, `now` and `python_version` resolvers
            OmegaConf.register_new_resolver("oc.env", oc.env, replace=True)
            for name in self.resolvers:
                OmegaConf.clear_resolver(name)


def _env_or_placeholder(key: str, *default: Any) -> Any:
    """`${oc.env:NAME}`: the variable, its default, or a placeholder where it is set at run time."""
    from omegaconf.resolvers import oc

    try:
        return oc.env(key, *default)
    except KeyError:
        return f"<env:{key}>"


def _resolution_errors(cfg: Any) -> Iterator[tuple[str, Any, Exception]]:
    """(full key, raw value, error) for each value of cfg that does not resolve; values the
    command line must still give (`???`) and interpolations of them are fine."""
    from omegaconf import DictConfig, ListConfig, OmegaConf
    from omegaconf.errors import InterpolationToMissingValueError, MissingMandatoryValue

    def visit(node: Any, prefix: str) -> Iterator[tuple[str, Any, Exception]]:
        keys = list(node.keys()) if isinstance(node, DictConfig) else range(len(node))
        for key in keys:
            full = f"{prefix}[{key}]" if isinstance(key, int) else f"{prefix}.{key!s}".lstrip(".")
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
    """A function composing jobs in order: in forked workers (they inherit the imported modules
    and the initialised Hydra) where there are CPUs and jobs enough for them to pay."""
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
