"""`mlcore registry`: register, promote, roll back, describe and list model versions.

Inside a generated project every default comes from its configs (`configs/registry/default.yaml`:
model name, tracking store, gate), so `make promote` is `mlcore registry promote` and nothing
more; flags override any of it. Failures print one line and exit 1; usage errors exit 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from mlcore.registry.errors import PromotionRefusedError, RegistryError

EXAMPLES = """\
examples (in a generated project):
  mlcore registry promote                     candidate -> champion through the configured gate
  mlcore registry promote 4 --margin 0.01     version 4, with a stricter margin
  mlcore registry rollback                    champion back to the previous one
  mlcore registry describe candidate          lineage of the candidate (--json for machines)
  mlcore registry list                        versions and their aliases
  mlcore registry register <run id>           a run's logged model as a new candidate
  mlcore registry unlock                      remove a promotion lock left by a killed process
"""


def build_parser(prog: str) -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    where = common.add_argument_group("where (defaults: the project's configs/registry/)")
    where.add_argument("--name", help="registered model name")
    where.add_argument(
        "--tracking-uri",
        help="MLflow tracking store (and registry); default: MLFLOW_TRACKING_URI, else ./mlflow.db",
    )
    where.add_argument("--config-dir", default="configs", help="the project's Hydra config dir")
    where.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="Hydra override for the project config, e.g. registry.gate.floor=0.95",
    )
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Model registry on MLflow aliases: candidate, champion, rollback.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    register = commands.add_parser("register", parents=[common], help="register a run's model")
    register.add_argument("run_id", help="the MLflow run that logged the model")
    register.add_argument("--alias", default="candidate", help="alias to set (candidate)")

    promote = commands.add_parser(
        "promote", parents=[common], help="make a version champion if it passes the gate"
    )
    promote.add_argument("version", nargs="?", default="candidate", help="number or alias")
    promote.add_argument("--metric", help="gate metric (e.g. test/accuracy)")
    promote.add_argument("--direction", choices=("maximize", "minimize"))
    promote.add_argument("--margin", type=float, help="least improvement over the champion")
    promote.add_argument("--floor", type=float, help="least value when there is no champion")
    promote.add_argument(
        "--evidence",
        choices=("training", "evaluation"),
        default="training",
        help="compare the training runs' metrics (default) or each version's newest "
        "evaluation run (after new data: both tested on the current split)",
    )
    promote.add_argument(
        "--refused-ok",
        action="store_true",
        help="a gate refusal prints why and exits 0 (a pipeline's gate step); errors still fail",
    )

    commands.add_parser("rollback", parents=[common], help="champion back to the previous one")

    describe = commands.add_parser("describe", parents=[common], help="a version's lineage")
    describe.add_argument("version", nargs="?", default="champion", help="number or alias")
    describe.add_argument("--json", action="store_true", help="print JSON")

    commands.add_parser("list", parents=[common], help="versions, aliases and gate metric")
    commands.add_parser(
        "unlock", parents=[common], help="remove a promotion lock a killed process left behind"
    )
    return parser


def main(argv: Sequence[str] | None = None, prog: str = "mlcore registry") -> int:
    args = build_parser(prog).parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        return _run(args)
    except (RegistryError, ValueError) as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        return 1


def _run(args: argparse.Namespace) -> int:
    from mlcore import registry
    from mlcore.registry.settings import project_settings

    settings = project_settings(args.config_dir, overrides=args.overrides)
    name = args.name or settings.model_name
    uri = args.tracking_uri  # else MLFLOW_TRACKING_URI, else the project's mlflow.db
    if not name:
        raise ValueError(
            "no model name: pass --name, or run inside a generated project "
            f"({args.config_dir}/registry/default.yaml sets registry.model_name)"
        )
    if args.command == "register":
        found = registry.register(args.run_id, name, alias=args.alias, tracking_uri=uri)
        print(f"Registered {name} v{found.version} as {args.alias} (models:/{name}@{args.alias})")
    elif args.command == "promote":
        changes = {
            key: getattr(args, key)
            for key in ("metric", "direction", "margin", "floor")
            if getattr(args, key) is not None
        }
        gate = replace(settings.gate, **changes)
        try:
            done = registry.promote(
                name, gate, version=args.version, tracking_uri=uri, evidence_from=args.evidence
            )
        except PromotionRefusedError as refused:
            if not args.refused_ok:
                raise
            print(f"Not promoted: {refused}")
            return 0
        was = f"v{done.previous}" if done.previous else "none"
        print(f"Promoted {name} v{done.version} to champion (was {was}): {done.reason}")
    elif args.command == "rollback":
        done = registry.rollback(name, tracking_uri=uri)
        print(f"Rolled back {name}: champion is v{done.version} again (was v{done.previous})")
    elif args.command == "describe":
        described = registry.describe(name, args.version, tracking_uri=uri)
        print(json.dumps(described, indent=2, default=str) if args.json else _text(described))
    elif args.command == "list":
        _list(name, uri, settings.gate.metric)
    elif args.command == "unlock":
        from mlcore import mlflow_store
        from mlcore.registry import lock

        with mlflow_store.translated(f"unlock model {name!r}", uri, name):
            released = lock.release(mlflow_store.client(uri), name)
        print(f"Removed {lock.lock_name(name)}" if released else f"{name} was not locked")
    return 0


def _text(described: dict[str, Any]) -> str:
    lines = [f"{described['name']} v{described['version']}  aliases: "
             f"{', '.join(described['aliases']) or '-'}"]  # fmt: skip
    for key in ("source", "run_id", "status", "champion_history"):
        if key in described:
            lines.append(f"  {key}: {described[key]}")
    for section in ("metrics", "lineage", "version_tags"):
        if described.get(section):
            lines.append(f"  {section}:")
            lines += [f"    {k}: {v}" for k, v in described[section].items()]
    if described.get("datasets"):
        lines.append("  datasets:")
        lines += [f"    {d['context']}: {d['name']} {d['digest']}" for d in described["datasets"]]
    return "\n".join(lines)


def _list(name: str, uri: str | None, metric: str) -> None:
    from mlcore import mlflow_store
    from mlcore.registry import store

    client = mlflow_store.client(uri)
    with mlflow_store.translated(f"list model {name!r}", uri, name):
        aliases: dict[str, list[str]] = {}
        for alias, number in store.aliases_of(store.registered_model(client, name)).items():
            aliases.setdefault(number, []).append(alias)
        found = client.search_model_versions(f"name='{name}'")
        print(f"{'version':>7}  {metric:>12}  {'aliases':<20}  run")
        for version in sorted(found, key=lambda v: int(v.version)):
            run = client.get_run(version.run_id) if version.run_id else None
            value = run.data.metrics.get(metric) if run else None
            shown = f"{value:.4f}" if value is not None else "-"
            tags = ",".join(sorted(aliases.get(str(version.version), []))) or "-"
            print(f"{version.version:>7}  {shown:>12}  {tags:<20}  {version.run_id}")
