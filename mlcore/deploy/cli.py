"""`mlcore deploy`: render the deploy manifests with kustomize and check them offline."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from mlcore.deploy import KUBERNETES_VERSION
from mlcore.deploy.crds import UPSTREAM_CRDS

EPILOG = """\
Examples:
  mlcore deploy render deploy/k8s/overlays/production --image-name ghcr.io/org/app \
      --image-tag v1.2.0
  mlcore deploy render deploy/k8s/overlays/staging --split build/manifests/staging
  mlcore deploy check deploy/Dockerfile build/manifests/staging/*.yaml
  mlcore deploy check --crds ~/crds build/manifests/kserve/*.yaml   # CRDs from a folder
"""


def build_parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Render a kustomization of deploy/ (kustomize, or kubectl kustomize) with "
        "the image tag and replicas set through its images: and replicas: fields, and check "
        "manifests and Dockerfiles as a platform team would.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    render = commands.add_parser("render", help="kustomize build, with tag and replicas set")
    render.add_argument("directory", type=Path, help="a folder with a kustomization.yaml")
    render.add_argument("--image-tag", help="newTag of every images: entry (e.g. the release)")
    render.add_argument("--image-name", help="newName of every images: entry (the registry path)")
    render.add_argument(
        "--replicas",
        type=int,
        help="count of every replicas: entry (refused for a workload an HPA scales: set the "
        "HPA's range instead)",
    )
    output = render.add_mutually_exclusive_group()
    output.add_argument("--output", "-o", type=Path, help="write the stream here (default stdout)")
    output.add_argument("--split", type=Path, metavar="FOLDER", help="one file per manifest")
    check = commands.add_parser(
        "check", help="validate manifests and lint Dockerfiles; the security policy on both"
    )
    check.add_argument("files", nargs="+", type=Path, help="rendered YAML files and Dockerfiles")
    check.add_argument(
        "--crds",
        action="append",
        metavar="PATH_OR_URL",
        help="a CustomResourceDefinition file, a folder of them, or an http(s) URL of one "
        "(fetched once into ~/.cache/mlcore/crds); repeat for several. Custom resources are "
        f"validated against these; default: {' '.join(UPSTREAM_CRDS)}",
    )
    check.add_argument(
        "--kubernetes-version",
        default=KUBERNETES_VERSION,
        help="the Kubernetes API the core kinds are validated against (default %(default)s)",
    )
    return parser


def main(argv: Sequence[str] | None = None, prog: str = "mlcore deploy") -> int:
    args = build_parser(prog).parse_args(argv)
    from mlcore.deploy.crds import CRDError
    from mlcore.deploy.kustomize import DeployError

    try:
        return _render(args) if args.command == "render" else _check(args)
    except (DeployError, CRDError, FileNotFoundError) as error:
        print(f"{prog}: {error}", file=sys.stderr)
        return 2


def _render(args: argparse.Namespace) -> int:
    from mlcore.deploy.kustomize import render, write_split

    text = render(args.directory, args.image_tag, args.image_name, args.replicas)
    if args.split:
        for path in write_split(text, args.split):
            print(path)
    elif args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text)
    else:
        print(text, end="")
    return 0


def _check(args: argparse.Namespace) -> int:
    from mlcore.deploy.check import check_files

    problems = check_files(args.files, args.kubernetes_version, args.crds)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(f"{len(problems)} problem(s) in {len(args.files)} file(s)", file=sys.stderr)
        return 1
    print(f"{len(args.files)} file(s) pass: schemas, CRDs, hadolint and the security policy")
    return 0
