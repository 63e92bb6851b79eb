"""Real servers for the tests, each on 127.0.0.1 at a port the OS picks, stopped by the tests.

- `start_moto_server`: moto's S3 server (S3-compatible object storage).
- `start_postgres`: a throwaway PostgreSQL cluster (Debian's `postgresql`: `initdb`, `pg_ctl`),
  run as the `postgres` user when the tests run as root (PostgreSQL refuses root).
- `start_mlflow_server`: `mlflow server` as the generated `deploy/mlflow/compose.yaml` runs it:
  MLflow's basic-auth app, PostgreSQL for runs, registry and users, artifacts proxied to S3.
- `start_git_daemon`: `git daemon` serving repositories at git://127.0.0.1:PORT/<name>.
- `start_package_index`: a PEP 503 simple index (`write_simple_index`) over Python's http.server.

Each start waits, bounded, until the server answers, and fails with the server's own log.
"""

from __future__ import annotations

import configparser
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
DEPLOY = REPO / "template" / "deploy" / "mlflow"
# Environment that keeps AWS clients on the test's own credentials and endpoint only.
S3_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_CONFIG_FILE": "/nonexistent/aws-config",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_MAX_ATTEMPTS": "1",
}


class ServerStartError(RuntimeError):
    """A server did not come up; the message carries its log."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until(
    ready: Callable[[], bool], process: subprocess.Popen, log: Path, what: str, timeout: float
) -> None:
    """Poll `ready` every 50 ms until true; fail with the log if the process dies or times out."""
    deadline = time.monotonic() + timeout
    while not ready():
        if process.poll() is not None or time.monotonic() > deadline:
            stop_process(process)
            state = f"exited {process.returncode}" if process.returncode else "timed out"
            raise ServerStartError(f"{what} did not start ({state}):\n{log.read_text()[-4000:]}")
        time.sleep(0.05)


def answers(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=1).close()
    except urllib.error.HTTPError:
        return True  # it answered, with an error status
    except OSError:
        return False
    return True


def stop_process(process: subprocess.Popen, timeout: float = 10) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# -- S3 ----------------------------------------------------------------------------------------


@dataclass
class MotoServer:
    """moto's S3 server in a subprocess on 127.0.0.1; its request log counts what reached it."""

    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def requests(self, needle: str = "") -> list[str]:
        """Request lines logged so far (those containing needle)."""
        lines = self.log.read_text(errors="replace").splitlines()
        return [line for line in lines if "HTTP/1.1" in line and needle in line]

    def stop(self) -> None:
        stop_process(self.process)


def start_moto_server(folder: Path, timeout: float = 30.0) -> MotoServer:
    """Start `moto_server -H 127.0.0.1 -p PORT` and wait (bounded) until it answers."""
    port = free_port()
    log = folder / f"moto-{port}.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    server = MotoServer(f"http://127.0.0.1:{port}", process, log)
    wait_until(lambda: answers(f"{server.url}/moto-api/"), process, log, "moto_server", timeout)
    return server


# -- PostgreSQL --------------------------------------------------------------------------------


def postgres_bin() -> Path | None:
    """The folder of `initdb` and `pg_ctl`: on PATH, or Debian's /usr/lib/postgresql/<v>/bin."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).resolve().parent
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0,
    )
    return versions[-1].parent if versions else None


@dataclass
class Postgres:
    """A PostgreSQL cluster of the tests' own: trust authentication on 127.0.0.1 only."""

    port: int
    data: Path
    bin: Path
    as_user: list[str] = field(default_factory=list)

    def uri(self, database: str) -> str:
        # psycopg 3 named explicitly: SQLAlchemy 2.1 reads a bare postgresql:// as psycopg 3 too.
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def run(self, *command: str) -> None:
        subprocess.run(
            [*self.as_user, str(self.bin / command[0]), *command[1:]],
            check=True,
            capture_output=True,
            timeout=60,
        )

    def create_database(self, name: str) -> str:
        self.run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name)
        return self.uri(name)

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self.run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")


def start_postgres(folder: Path) -> Postgres:
    """initdb + pg_ctl start (about a second); raises FileNotFoundError without PostgreSQL."""
    binaries = postgres_bin()
    if binaries is None:
        raise FileNotFoundError("initdb")
    as_user: list[str] = []
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:  # PostgreSQL will not run as root
        as_user = ["runuser", "-u", "postgres", "--"]
        shutil.chown(folder, "postgres")
    server = Postgres(free_port(), folder / "data", binaries, as_user)
    server.run("initdb", "-D", str(server.data), "-A", "trust", "-U", "postgres", "--no-sync")
    options = f"-h 127.0.0.1 -p {server.port} -k {folder} -F -c fsync=off"
    log = folder / "postgres.log"
    server.run("pg_ctl", "-D", str(server.data), "-l", str(log), "-o", options, "-w", "start")
    return server


# -- MLflow ------------------------------------------------------------------------------------


def deploy_command() -> list[str]:
    """The `mlflow server` command line of the generated deploy/mlflow/compose.yaml."""
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return [str(part) for part in compose["services"]["mlflow"]["command"]]


def command_with(command: Sequence[str], values: Mapping[str, str]) -> list[str]:
    """The command with the values of `--option=value` replaced for the options named."""
    out = []
    for part in command:
        option, equals, _ = part.partition("=")
        out.append(f"{option}={values[option]}" if equals and option in values else part)
    missing = set(values) - {part.partition("=")[0] for part in command}
    assert not missing, f"deploy/mlflow/compose.yaml's mlflow command lacks {sorted(missing)}"
    return out


USERS = {
    # Creates the project's experiment and model, so manages them.
    "trainer": "trainer-password-for-tests",
    # default_permission = READ and no grant: may load, not register or promote.
    "reader": "reader-password-for-tests",
    # Granted EDIT on a model by the admin, as the generated README shows.
    "bob": "bob-password-for-tests",
}


@dataclass
class MlflowServer:
    """`mlflow server --app-name basic-auth` and how to reach it."""

    url: str
    process: subprocess.Popen[bytes] | None
    log: Path
    admin: tuple[str, str]
    command: list[str]
    env: dict[str, str]

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def stop(self) -> None:
        """SIGTERM to the server and its workers (one process group), then wait for them."""
        if self.process is None:
            return
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.process = None

    def ensure_running(self, timeout: float = 120) -> None:
        """Start the server (same stores, same port) unless it runs and answers."""
        if self.process is not None and self.process.poll() is None and answers(self.health):
            return
        self.stop()
        with self.log.open("ab") as sink:
            self.process = subprocess.Popen(
                self.command,
                stdout=sink,
                stderr=subprocess.STDOUT,
                env=self.env,
                start_new_session=True,
            )
        wait_until(lambda: answers(self.health), self.process, self.log, "mlflow server", timeout)

    @property
    def health(self) -> str:
        return f"{self.url}/health"

    def client_env(self, user: str) -> dict[str, str]:
        """What a generated repo needs to use this server: the URI and a user's credentials,
        nothing else (and quick retries, so that the tests' outages are reported quickly)."""
        return {
            "MLFLOW_TRACKING_URI": self.url,
            "MLFLOW_TRACKING_USERNAME": user,
            "MLFLOW_TRACKING_PASSWORD": self.admin[1] if user == self.admin[0] else USERS[user],
            "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1",
            "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "0",
            "MLFLOW_HTTP_REQUEST_TIMEOUT": "20",
        }

    def admin_client(self) -> Any:
        """MLflow's basic-auth admin client, signed in as the admin."""
        from mlflow.server.auth.client import AuthServiceClient

        return AuthServiceClient(self.url)

    def add_users(self) -> None:
        with environment(self.client_env(self.admin[0])):
            admin = self.admin_client()
            for user, password in USERS.items():
                admin.create_user(user, password)


@contextmanager
def environment(values: Mapping[str, str]) -> Iterator[None]:
    """os.environ with `values` for the duration (MLflow reads credentials from it per request)."""
    saved = dict(os.environ)
    os.environ.update(values)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def start_mlflow_server(
    folder: Path,
    postgres: Postgres,
    s3: MotoServer,
    *,
    bucket: str = "mlflow-artifacts",
    databases: tuple[str, str] = ("mlflow", "mlflow_auth"),
    admin_password: str = "admin-password-for-tests",
    timeout: float = 90.0,
) -> MlflowServer:
    """The deploy example's server: its basic_auth.ini and command, with local stores."""
    import boto3

    boto3.client("s3", endpoint_url=s3.url, **_boto_credentials()).create_bucket(Bucket=bucket)
    auth = configparser.ConfigParser()
    auth.read(DEPLOY / "basic_auth.ini")
    auth["mlflow"]["database_uri"] = postgres.create_database(databases[1])
    ini = folder / "basic_auth.ini"
    with ini.open("w") as sink:
        auth.write(sink)
    port = free_port()
    command = command_with(
        deploy_command(),
        {
            "--host": "127.0.0.1",
            "--port": str(port),
            "--backend-store-uri": postgres.create_database(databases[0]),
            "--artifacts-destination": f"s3://{bucket}/artifacts",
            "--allowed-hosts": f"127.0.0.1:{port},localhost:{port}",
            "--workers": "1",
        },
    )
    # `mlflow` as the venv's console script: the test interpreter's own installation.
    command[0] = str(Path(sys.executable).with_name("mlflow"))
    env = {
        **os.environ,
        **S3_ENV,
        "MLFLOW_S3_ENDPOINT_URL": s3.url,
        "MLFLOW_AUTH_CONFIG_PATH": str(ini),
        "MLFLOW_AUTH_ADMIN_PASSWORD": admin_password,
        "MLFLOW_FLASK_SERVER_SECRET_KEY": "tests-only-secret-key",
    }
    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"):
        env.pop(name, None)
    log = folder / "mlflow-server.log"
    log.touch()
    admin = (auth["mlflow"]["admin_username"], admin_password)
    server = MlflowServer(f"http://127.0.0.1:{port}", None, log, admin, command, env)
    server.ensure_running(timeout)
    return server


def _boto_credentials() -> dict[str, str]:
    return {
        "aws_access_key_id": S3_ENV["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": S3_ENV["AWS_SECRET_ACCESS_KEY"],
        "region_name": S3_ENV["AWS_DEFAULT_REGION"],
    }


# -- Package sources: a git server and a package index -------------------------------------------


@dataclass
class LoopbackServer:
    """A server subprocess on 127.0.0.1 and the URL it serves at; its log says what it served."""

    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        stop_process(self.process)


def listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def start_git_daemon(base: Path, timeout: float = 30.0) -> LoopbackServer:
    """`git daemon` serving every repository under base at git://127.0.0.1:PORT/<name>."""
    port = free_port()
    log = base.parent / f"git-daemon-{port}.log"
    command = [
        "git", "daemon", "--reuseaddr", "--export-all", "--informative-errors", "--verbose",
        f"--base-path={base}", "--listen=127.0.0.1", f"--port={port}", str(base),
    ]  # fmt: skip
    with log.open("wb") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT)
    wait_until(lambda: listening(port), process, log, "git daemon", timeout)
    return LoopbackServer(f"git://127.0.0.1:{port}", process, log)


HTML = "<!DOCTYPE html><html><body>\n"


def write_simple_index(root: Path, files: Mapping[str, Sequence[Path]]) -> Path:
    """A PEP 503 simple index under root: /simple/<project>/ links each file, with its sha256."""
    (root / "files").mkdir(parents=True, exist_ok=True)
    projects = []
    for project, paths in files.items():
        links = []
        for path in paths:
            (root / "files" / path.name).symlink_to(path.resolve())
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            links.append(f'<a href="../../files/{path.name}#sha256={digest}">{path.name}</a>')
        page = root / "simple" / project
        page.mkdir(parents=True)
        (page / "index.html").write_text(HTML + "\n".join(links))
        projects.append(f'<a href="{project}/">{project}</a>')
    (root / "simple" / "index.html").write_text(HTML + "\n".join(projects))
    return root


def start_package_index(root: Path, timeout: float = 30.0) -> LoopbackServer:
    """Python's http.server over a simple index (write_simple_index): the URL ends in /simple."""
    port = free_port()
    log = root.parent / f"index-{port}.log"
    command = [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", "--directory", str(root)]
    with log.open("wb") as sink:
        process = subprocess.Popen([*command, str(port)], stdout=sink, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/simple"
    wait_until(lambda: answers(f"{url}/"), process, log, "the package index", timeout)
    return LoopbackServer(url, process, log)
