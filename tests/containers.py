"""Real container images for the tests: built with buildah, run with podman (runc), offline.

No image registry is reachable here, so the base images the generated Dockerfiles name
(`python:3.11.14-slim-bookworm`, `python:3.11.14-bookworm`) are made from Debian packages
(`mmdebstrap --variant=minbase bookworm`, then imported), with this machine's CA bundle and pip
settings copied in so that pip inside a build reaches the package index. They stand in for the
official images: Debian's Python (3.11) at /usr/bin/python3, `python` and `pip` beside it. The
Dockerfiles themselves are built exactly as users build them.

torch comes from a package index of our own on 127.0.0.1:INDEX_PORT serving the CPU wheel that pip
installs here (the Dockerfiles' TORCH_INDEX build argument). The port is fixed so that the build
steps that name it stay cached between sessions.

Images, layers and the base images' root file systems are kept in CACHE
(~/.cache/ml-platform-kit-tests): a second session rebuilds only what changed.

- `engine()`: the engine, or a skip that says what is missing (a failure under CI=true, where
  .ci/run installs podman, buildah, runc and mmdebstrap).
- `Engine.build` / `Engine.run` / `Engine.start`: `buildah bud` and `podman run` with the options
  that work on this kernel (chroot isolation, host network, runc; crun fails here).
- `base_images(engine)`: the python base images, made once.
- `torch_index()`: the local index serving torch.
"""

from __future__ import annotations

import configparser
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.servers import (
    LoopbackServer,
    ServerStartError,
    answers,
    stop_process,
    write_simple_index,
)

CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "ml-platform-kit-tests"
TOOLS = ("buildah", "podman", "runc", "mmdebstrap")
# The local index torch comes from during builds (fixed: it is part of a cached build step).
INDEX_PORT = 38611
TORCH_VERSION = "2.13.0"
# The official images' tags the generated Dockerfiles name, by Python version of the template.
PYTHON_TAGS = {"3.11": "3.11.14"}
# Short names resolve to Docker Hub's: the base images are stored under the names they stand for.
HUB = "docker.io/library/"
# What the official images hold that a minbase Debian lacks: Python with venv and pip.
SLIM_PACKAGES = ("python3", "python3-venv", "python3-pip", "ca-certificates")
# The non-slim image adds the build tools the Dockerfiles' build stages may use.
FULL_PACKAGES = ("git", "make")
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


def missing_tools() -> list[str]:
    return [tool for tool in TOOLS if shutil.which(tool) is None]


def engine() -> Engine:
    """The engine, or skip (fail on CI) naming the missing tools and how to get them."""
    missing = missing_tools()
    if not missing:
        return Engine()
    reason = (
        f"the image tests need {', '.join(missing)} (Debian: apt-get install podman buildah runc "
        "mmdebstrap; .ci/run installs them)"
    )
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true and {reason}")
    pytest.skip(reason)


class ContainerError(AssertionError):
    """An engine command failed; the message has its output."""


def _run(
    command: Sequence[str], timeout: float, check: bool = True, **kwargs: object
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        list(command), capture_output=True, text=True, timeout=timeout, **kwargs
    )  # type: ignore[call-overload]
    if check and result.returncode != 0:
        raise ContainerError(
            f"`{' '.join(command)}` exited {result.returncode}\n"
            f"--- stdout ---\n{result.stdout[-8000:]}\n--- stderr ---\n{result.stderr[-8000:]}"
        )
    return result


@dataclass
class Container:
    """A detached container (podman run -d) and how to reach and stop it."""

    engine: Engine
    name: str

    def logs(self) -> str:
        done = self.engine.podman("logs", self.name, check=False, timeout=30)
        return done.stdout + done.stderr

    def running(self) -> bool:
        done = self.engine.podman(
            "inspect", "--format", "{{.State.Running}}", self.name, check=False, timeout=30
        )
        return done.stdout.strip() == "true"

    def exec(self, *command: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return self.engine.podman("exec", self.name, *command, check=False, timeout=timeout)

    def wait_until_answers(self, url: str, timeout: float) -> None:
        """Poll url (bounded) until it answers; fail with the container's log otherwise."""
        deadline = time.monotonic() + timeout
        while not answers(url):
            if not self.running() or time.monotonic() > deadline:
                state = "exited" if not self.running() else "timed out"
                raise ServerStartError(
                    f"{self.name} did not answer {url} ({state}):\n{self.logs()}"
                )
            time.sleep(0.2)

    def stop(self) -> None:
        self.engine.podman("rm", "--force", "--time", "5", self.name, check=False, timeout=60)


@dataclass
class Engine:
    """buildah and podman on a storage of the tests' own, kept in CACHE between sessions."""

    root: Path = field(default_factory=lambda: CACHE / "storage")
    runroot: Path = field(default_factory=lambda: Path("/run/ml-platform-kit-tests"))

    @property
    def storage(self) -> list[str]:
        return ["--root", str(self.root), "--runroot", str(self.runroot)]

    def podman(self, *args: str, check: bool = True, timeout: float = 120):
        return _run(["podman", *self.storage, "--runtime", "runc", *args], timeout, check)

    def buildah(self, *args: str, check: bool = True, timeout: float = 120):
        return _run(["buildah", *self.storage, *args], timeout, check)

    def exists(self, image: str) -> bool:
        return self.podman("image", "exists", image, check=False).returncode == 0

    def build(
        self,
        context: Path,
        dockerfile: Path,
        tag: str,
        build_args: Mapping[str, str] = (),  # type: ignore[assignment]
        extra: Sequence[str] = (),
        timeout: float = 1500,
    ) -> float:
        """`buildah bud` as `make images DOCKER=...` runs it, offline but for the package index;
        returns the seconds it took."""
        start = time.monotonic()
        arguments = [f"--build-arg={key}={value}" for key, value in dict(build_args).items()]
        self.buildah(*build_command(), *arguments, *extra, "-f", str(dockerfile), "-t", tag,
                     str(context), timeout=timeout)  # fmt: skip
        return time.monotonic() - start

    def inspect(self, image: str) -> dict:
        return json.loads(self.podman("image", "inspect", image).stdout)[0]

    def size(self, image: str) -> int:
        return int(self.inspect(image)["Size"])

    def run(self, image: str, *args: str, options: Sequence[str] = (), timeout: float = 900):
        """`podman run --rm` with the options, returning the finished process (not checked)."""
        return self.podman("run", "--rm", *RUN_OPTIONS, *options, image, *args,
                           check=False, timeout=timeout)  # fmt: skip

    def start(self, name: str, image: str, *args: str, options: Sequence[str] = ()) -> Container:
        """`podman run -d` under that name (an earlier one of that name is removed first)."""
        self.podman("rm", "--force", name, check=False)
        self.podman("run", "-d", "--name", name, *RUN_OPTIONS, *options, image, *args)
        return Container(self, name)


def build_command() -> list[str]:
    """The build command `make images` gets as DOCKER_BUILD with buildah: no pull (the base images
    are local), the host's network, chroot isolation, layer cache, Docker's format (OCI has no
    HEALTHCHECK)."""
    return [
        "bud", "--isolation", "chroot", "--network", "host", "--pull=never", "--layers",
        "--format", "docker",
    ]  # fmt: skip


# The host's network (no bridge here) and limits runc can set on this kernel.
RUN_OPTIONS = ["--network", "host", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"]


# -- Base images ---------------------------------------------------------------------------------


def pip_settings() -> str:
    """This machine's pip settings that reach an index over HTTP(S): the CA bundle, index URLs,
    trusted hosts (file:// indexes and find-links folders are not in the image)."""
    keys = ("index-url", "extra-index-url", "trusted-host")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True
    )
    values: dict[str, str] = {}
    for line in done.stdout.splitlines():
        name, _, value = line.partition("=")
        key = name.rpartition(".")[2]
        if key in keys:
            urls = [u for u in value.strip("'\"").split() if not u.startswith("file:")]
            if urls:
                values[key] = " ".join(urls)
    for key in keys:
        env = os.environ.get("PIP_" + key.upper().replace("-", "_"))
        if env:
            values[key] = env
    config = configparser.ConfigParser()
    config["global"] = {"cert": str(CA_BUNDLE), **values}
    lines = [f"{key} = {value}" for key, value in config["global"].items()]
    return "[global]\n" + "\n".join(lines) + "\n"


def _rootfs(packages: Sequence[str], folder: Path) -> Path:
    """A minbase bookworm root file system with the packages, as a tar (made once)."""
    tarball = folder / f"bookworm-{'-'.join(sorted(packages))}.tar"
    if tarball.is_file():
        return tarball
    folder.mkdir(parents=True, exist_ok=True)
    settings = folder / "pip.conf"
    settings.write_text(pip_settings())
    partial = tarball.with_suffix(".partial.tar")
    hooks = [
        # The official images' `python` and a pip that installs system-wide.
        'ln -sf /usr/bin/python3 "$1/usr/local/bin/python"',
        'ln -sf /usr/bin/pip3 "$1/usr/local/bin/pip"',
        'rm -f "$1"/usr/lib/python3*/EXTERNALLY-MANAGED',
        f"copy-in {CA_BUNDLE} /etc/ssl/certs/",
        f'cp {settings} "$1/etc/pip.conf"',
    ]
    command = ["mmdebstrap", "--variant=minbase", "--quiet", f"--include={','.join(packages)}"]
    command += [f"--customize-hook={hook}" for hook in hooks]
    _run([*command, "bookworm", str(partial)], timeout=900)
    partial.rename(tarball)
    return tarball


def base_images(engine: Engine, python: str = "3.11") -> list[str]:
    """The images the generated Dockerfiles start FROM, made where missing: returns their names."""
    version = PYTHON_TAGS[python]
    slim, full = f"{HUB}python:{version}-slim-bookworm", f"{HUB}python:{version}-bookworm"
    if not engine.exists(slim):
        tarball = _rootfs(SLIM_PACKAGES, CACHE / "rootfs")
        changes = ['CMD ["python3"]', "ENV LANG=C.UTF-8"]
        engine.podman("import", *[f"--change={c}" for c in changes], str(tarball), slim,
                      timeout=600)  # fmt: skip
    if not engine.exists(full):
        context = CACHE / "full-python"
        context.mkdir(parents=True, exist_ok=True)
        (context / "Dockerfile").write_text(
            f"FROM {slim}\n"
            "RUN apt-get update && apt-get install -y --no-install-recommends "
            f"{' '.join(FULL_PACKAGES)} && rm -rf /var/lib/apt/lists/*\n"
        )
        engine.build(context, context / "Dockerfile", full, timeout=600)
    return [slim, full]


# -- torch from a local index --------------------------------------------------------------------


def torch_wheel(version: str = TORCH_VERSION) -> Path:
    """The CPU wheel of torch for this Python: from pip's find-links folders or its cache, else
    downloaded once from the CPU index into CACHE."""
    tag = f"cp{sys.version_info.major}{sys.version_info.minor}"
    pattern = f"torch-{version}+cpu-{tag}-{tag}-*linux*_x86_64.whl"
    folders = [CACHE / "wheels"]
    for value in (os.environ.get("PIP_FIND_LINKS", ""), _pip_config("find-links")):
        folders += [Path(part) for part in value.split() if part.startswith("/")]
    for folder in folders:
        found = sorted(folder.glob(pattern))
        if found:
            return found[-1]
    found = sorted((Path.home() / ".cache" / "pip").rglob(pattern))
    if found:
        return found[-1]
    (CACHE / "wheels").mkdir(parents=True, exist_ok=True)
    _run([sys.executable, "-m", "pip", "download", "--no-deps", f"torch=={version}",
          "--index-url", "https://download.pytorch.org/whl/cpu", "-d", str(CACHE / "wheels")],
         timeout=1200)  # fmt: skip
    return sorted((CACHE / "wheels").glob(pattern))[-1]


def _pip_config(key: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "pip", "config", "get", f"global.{key}"],
        capture_output=True,
        text=True,
    )
    return done.stdout.strip().strip("'\"") if done.returncode == 0 else ""


@contextmanager
def torch_index(folder: Path) -> Iterator[str]:
    """A PEP 503 index with the torch CPU wheel on 127.0.0.1:INDEX_PORT; yields its URL."""
    root = write_simple_index(folder / "index", {"torch": [torch_wheel()]})
    log = folder / "torch-index.log"
    command = [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", "--directory",
               str(root), str(INDEX_PORT)]  # fmt: skip
    with log.open("wb") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT)
    server = LoopbackServer(f"http://127.0.0.1:{INDEX_PORT}/simple", process, log)
    deadline = time.monotonic() + 30
    while not answers(f"{server.url}/"):
        if process.poll() is not None or time.monotonic() > deadline:
            stop_process(process)
            raise ServerStartError(
                f"the torch index on port {INDEX_PORT} did not start:\n{log.read_text()}"
            )
        time.sleep(0.05)
    try:
        yield server.url
    finally:
        server.stop()
