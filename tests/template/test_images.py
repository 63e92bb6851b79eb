"""The images a generated repo ships, built with a real engine and run as its manifests run them.

One repo is rendered and locked (`make lock`); `make images` builds its training and serving
images with buildah (DOCKER_BUILD, as `make images DOCKER=podman` would), and the team MLflow
image is built from deploy/mlflow/. Then, in order (each test builds on the one before):
1. the MLflow container serves on PostgreSQL with artifacts on S3 (moto), and with the S3
   endpoint left empty, as compose passes it for AWS: no empty endpoint reaches boto3;
2. the training job: the rendered PyTorchJob's command, env and security context (read-only
   root, its /tmp emptyDir, its claims as mounts, its user) in the training image with torchrun,
   tracking to that server; a model version is registered;
3. every step of the compiled Kubeflow pipeline, command and arguments from the compiled spec, in
   the training image, in order, ending in the gated promotion;
4. the serving image, read-only as its non-root user, serves the champion from that server:
   /ready, then /predict equal to the model's own prediction; its HEALTHCHECK passes.
Base images and torch come from tests/containers.py (no registry is reachable here).
"""

from __future__ import annotations

import configparser
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from tests import containers
from tests.conftest import REPO, run
from tests.servers import (
    S3_ENV,
    MotoServer,
    Postgres,
    command_with,
    free_port,
)
from tests.template.conftest import render
from tests.template.kfp import run_compiled

pytestmark = [pytest.mark.slow, pytest.mark.images]

ANSWERS = {"project_name": "Shipped Model"}
TAG = "test"
REGISTRY = "localhost/ml-platform-kit-tests"
ADMIN = ("admin", "admin-password-for-image-tests")
# The mlcore checkout the images get (the path source's build context): a copy of what building
# its wheel reads, at a fixed path, so that the build steps after it stay cached while mlcore is
# unchanged (CHANGELOG.md, which every change touches, is only in the sdist).
MLCORE_SOURCES = ("mlcore", "pyproject.toml", "README.md")
TIMINGS: dict[str, float] = {}


def sync_tree(source: Path, target: Path) -> None:
    """target as a copy of source, rewriting only files whose bytes differ (layer caches)."""
    wanted = set()
    for path in source.rglob("*"):
        if "__pycache__" in path.parts or not path.is_file():
            continue
        relative = path.relative_to(source)
        wanted.add(relative)
        copy = target / relative
        if not copy.is_file() or copy.read_bytes() != path.read_bytes():
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, copy)
    for path in sorted(target.rglob("*"), reverse=True):
        if path.is_file() and path.relative_to(target) not in wanted:
            path.unlink()


def mlcore_checkout() -> Path:
    folder = containers.CACHE / "mlcore-src"
    for name in MLCORE_SOURCES:
        source = REPO / name
        if source.is_dir():
            sync_tree(source, folder / name)
        elif not (folder / name).is_file() or (folder / name).read_bytes() != source.read_bytes():
            folder.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, folder / name)
    return folder


@dataclass
class Shipped:
    """The rendered repo and its images."""

    project: Path
    slug: str
    package: str
    train: str
    serve: str
    mlflow: str


def lock(project: Path) -> None:
    """`make lock`, reused between sessions while pyproject.toml and mlcore's are the same (a new
    resolution would take newer releases and rebuild every image)."""
    key = hashlib.sha256(
        (project / "pyproject.toml").read_bytes() + (REPO / "pyproject.toml").read_bytes()
    ).hexdigest()[:16]
    cached = containers.CACHE / "locks" / f"{key}.txt"
    if cached.is_file():
        shutil.copy2(cached, project / "requirements-lock.txt")
        return
    run(["make", "lock", f"PYTHON={sys.executable}"], project, timeout=900)
    cached.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(project / "requirements-lock.txt", cached)


@pytest.fixture(scope="module")
def engine() -> containers.Engine:
    return containers.engine()


@pytest.fixture(scope="module")
def shipped(
    engine: containers.Engine, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Shipped]:
    folder = tmp_path_factory.mktemp("images")
    checkout = mlcore_checkout()
    project = render(
        folder / "project",
        {**ANSWERS, "mlcore_source": "path", "mlcore_path": str(checkout)},
        local_mlcore=False,
    )
    given = yaml.safe_load((project / ".copier-answers.yml").read_text())
    start = time.monotonic()
    containers.base_images(engine, given["python_version"])
    TIMINGS["base images"] = time.monotonic() - start
    lock(project)
    build = " ".join(
        ["buildah", *engine.storage, *containers.build_command()]
    )  # what DOCKER_BUILD is for buildah, with the tests' storage
    with containers.torch_index(folder) as index:
        start = time.monotonic()
        make_images = [
            "make", "images", f"TAG={TAG}", f"REGISTRY={REGISTRY}", f"DOCKER_BUILD={build}",
            f"DOCKER_BUILD_ARGS=--build-context mlcore={checkout} --build-arg TORCH_INDEX={index}",
        ]  # fmt: skip
        run(make_images, project, timeout=2400)
        TIMINGS["make images"] = time.monotonic() - start
    mlflow = f"{REGISTRY}/mlflow:{TAG}"
    TIMINGS["mlflow image"] = engine.build(
        project / "deploy" / "mlflow", project / "deploy" / "mlflow" / "Dockerfile", mlflow
    )
    slug = given["project_slug"]
    yield Shipped(
        project,
        slug,
        given["package_name"],
        f"{REGISTRY}/{slug}-train:{TAG}",
        f"{REGISTRY}/{slug}:{TAG}",
        mlflow,
    )
    images = (mlflow, f"{REGISTRY}/{slug}:{TAG}", f"{REGISTRY}/{slug}-train:{TAG}")
    sizes = {image: round(engine.size(image) / 1e6) for image in images}
    print(f"\nimage build seconds: {TIMINGS}\nimage sizes (MB): {sizes}")


# -- 1. The team MLflow server ----------------------------------------------------------------


@dataclass
class TeamServer:
    url: str
    container: containers.Container
    bucket: str

    def env(self) -> dict[str, str]:
        """What a project needs to log there: the URI and the admin's credentials."""
        return {
            "MLFLOW_TRACKING_URI": self.url,
            "MLFLOW_TRACKING_USERNAME": ADMIN[0],
            "MLFLOW_TRACKING_PASSWORD": ADMIN[1],
        }


def start_team_server(
    engine: containers.Engine,
    shipped: Shipped,
    postgres: Postgres,
    s3: MotoServer,
    folder: Path,
    name: str,
    endpoint: str,
    extra_env: dict[str, str] | None = None,
) -> TeamServer:
    """The MLflow image with compose.yaml's command and environment, on the tests' PostgreSQL
    and moto; MLFLOW_S3_ENDPOINT_URL as given (empty: what compose passes where .env has none)."""
    import boto3

    bucket = f"{name}-artifacts"
    boto3.client(
        "s3",
        endpoint_url=s3.url,
        aws_access_key_id=S3_ENV["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=S3_ENV["AWS_SECRET_ACCESS_KEY"],
        region_name=S3_ENV["AWS_DEFAULT_REGION"],
    ).create_bucket(Bucket=bucket)
    deploy = shipped.project / "deploy" / "mlflow"
    compose = yaml.safe_load((deploy / "compose.yaml").read_text())["services"]
    auth = configparser.ConfigParser()
    auth.read(deploy / "basic_auth.ini")
    auth["mlflow"]["database_uri"] = postgres.create_database(f"{name}_auth")
    ini = folder / f"{name}-basic_auth.ini"
    with ini.open("w") as sink:
        auth.write(sink)
    ini.chmod(0o644)
    port = free_port()
    command = command_with(
        [str(part) for part in compose["mlflow"]["command"]],
        {
            "--port": str(port),
            "--backend-store-uri": postgres.create_database(name),
            "--artifacts-destination": f"s3://{bucket}/artifacts",
            "--allowed-hosts": f"127.0.0.1:{port},localhost:{port}",
            "--workers": "1",
        },
    )
    environment = compose["mlflow"]["environment"]
    assert "MLFLOW_S3_ENDPOINT_URL" in environment, "compose passes the endpoint"
    env = {
        "PGPASSWORD": "unused-trust-authentication",
        "MLFLOW_AUTH_ADMIN_PASSWORD": ADMIN[1],
        "MLFLOW_FLASK_SERVER_SECRET_KEY": "image-tests-secret",
        "AWS_ACCESS_KEY_ID": S3_ENV["AWS_ACCESS_KEY_ID"],
        "AWS_SECRET_ACCESS_KEY": S3_ENV["AWS_SECRET_ACCESS_KEY"],
        "AWS_DEFAULT_REGION": S3_ENV["AWS_DEFAULT_REGION"],
        "MLFLOW_S3_ENDPOINT_URL": endpoint,
        **(extra_env or {}),
    }
    assert set(env) - {"AWS_DEFAULT_REGION", *(extra_env or {})} <= set(environment)
    options = ["-v", f"{ini}:/etc/mlflow/basic_auth.ini:ro"]
    options += [f"--env={key}={value}" for key, value in env.items()]
    container = engine.start(f"mlflow-{name}", shipped.mlflow, *command, options=options)
    url = f"http://127.0.0.1:{port}"
    container.wait_until_answers(f"{url}/health", timeout=180)
    return TeamServer(url, container, bucket)


def log_artifact(server: TeamServer, folder: Path) -> tuple[int, str]:
    """Log a file through the server's artifact proxy: the HTTP status and the answer."""
    from mlflow import MlflowClient

    from tests.servers import environment

    artifact = folder / "note.txt"
    artifact.write_text("proxied to S3")
    with environment(server.env()):
        client = MlflowClient(server.url)
        experiment = client.create_experiment(f"artifacts-{time.monotonic_ns()}")
        run_id = client.create_run(experiment).info.run_id
        try:
            client.log_artifact(run_id, str(artifact))
        except Exception as error:  # the status is in the message
            return 500, str(error)
        return 200, run_id


@pytest.fixture(scope="module")
def team_server(
    engine: containers.Engine,
    shipped: Shipped,
    postgres: Postgres,
    moto_server: MotoServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[TeamServer]:
    folder = tmp_path_factory.mktemp("team-server")
    server = start_team_server(
        engine, shipped, postgres, moto_server, folder, "team", moto_server.url
    )
    yield server
    server.container.stop()


def test_team_mlflow_image_stores_runs_in_postgres_and_artifacts_in_s3(
    team_server: TeamServer, moto_server: MotoServer, tmp_path: Path
) -> None:
    status, run_id = log_artifact(team_server, tmp_path)
    assert status == 200, run_id
    assert moto_server.requests(f"/{team_server.bucket}/artifacts/"), "the file reached S3"
    user = team_server.container.exec("id", "-u").stdout.strip()
    assert user == "10001", "the server runs as its non-root user"


def test_an_empty_s3_endpoint_never_reaches_boto3(
    engine: containers.Engine,
    shipped: Shipped,
    postgres: Postgres,
    moto_server: MotoServer,
    tmp_path: Path,
) -> None:
    """compose.yaml passes MLFLOW_S3_ENDPOINT_URL empty where .env sets none (AWS): the image
    drops it, so boto3 takes its own endpoint (here AWS_ENDPOINT_URL_S3, standing in for AWS's)
    instead of failing every upload with `Invalid endpoint`."""
    server = start_team_server(
        engine, shipped, postgres, moto_server, tmp_path, "aws", "",
        extra_env={"AWS_ENDPOINT_URL_S3": moto_server.url},
    )  # fmt: skip
    try:
        status, answer = log_artifact(server, tmp_path)
        assert status == 200, f"{answer}\n{server.container.logs()[-3000:]}"
        assert moto_server.requests(f"/{server.bucket}/artifacts/")
        environ = server.container.exec("cat", "/proc/1/environ").stdout.split("\0")
        assert not any(item.startswith("MLFLOW_S3_ENDPOINT_URL=") for item in environ)
    finally:
        server.container.stop()


# -- 2. The training job -------------------------------------------------------------------------


def pod_options(pod: dict[str, Any], container: dict[str, Any], folder: Path) -> list[str]:
    """podman options for what the pod spec says: its user, read-only root, dropped capabilities,
    no privilege escalation, its volumes (emptyDirs as tmpfs, claims as folders owned by the
    fsGroup), working directory."""
    security = pod["securityContext"]
    box = container["securityContext"]
    options = [f"--user={security['runAsUser']}:{security['runAsGroup']}"]
    if box.get("readOnlyRootFilesystem"):
        options.append("--read-only")
    if box.get("allowPrivilegeEscalation") is False:
        options.append("--security-opt=no-new-privileges")
    options += [f"--cap-drop={cap}" for cap in box.get("capabilities", {}).get("drop", [])]
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    for mount in container["volumeMounts"]:
        volume = volumes[mount["name"]]
        if "emptyDir" in volume:
            options.append(f"--tmpfs={mount['mountPath']}:rw,exec,mode=1777")
        else:
            claim = folder / volume["persistentVolumeClaim"]["claimName"]
            claim.mkdir(parents=True, exist_ok=True)
            os.chown(claim, security["runAsUser"], security["fsGroup"])
            options.append(f"--volume={claim}:{mount['mountPath']}")
    options.append(f"--workdir={container['workingDir']}")
    return options


def test_the_training_job_trains_in_its_image_and_registers_a_version(
    engine: containers.Engine, shipped: Shipped, team_server: TeamServer, tmp_path: Path
) -> None:
    """The PyTorchJob `make launch LAUNCHER=kubernetes` renders (a short run that registers), run
    as the training operator runs its master pod: torchrun told the job's size through PET_*."""
    launch = run(
        ["make", "launch", "LAUNCHER=kubernetes", f"PYTHON={sys.executable}",
         f"ARGS=--dry-run launcher.image={shipped.train} registry.register=true"
         " trainer.max_epochs=3"],
        shipped.project,
    )  # fmt: skip
    job = yaml.safe_load(launch.stdout[launch.stdout.index("apiVersion:") :])
    assert job["metadata"]["namespace"] == f"{shipped.slug}-training"
    master = job["spec"]["pytorchReplicaSpecs"]["Master"]
    pod = master["template"]["spec"]
    [container] = pod["containers"]
    env = {item["name"]: item.get("value") for item in container["env"]}
    # The job tracks to the team server: its URI in the cluster becomes this test's server.
    assert env["MLFLOW_TRACKING_URI"].startswith("http://mlflow.")
    env["MLFLOW_TRACKING_URI"] = team_server.url
    # The Secret's keys (secretKeyRef), as the Secret would give them.
    env |= {key: team_server.env()[key] for key, value in env.items() if value is None}
    # What the training operator sets for a one-node job.
    env |= {"PET_NNODES": "1", "PET_NODE_RANK": "0", "PET_MASTER_ADDR": "127.0.0.1",
            "PET_NPROC_PER_NODE": job["spec"]["nprocPerNode"], "PET_MASTER_PORT": str(free_port()),
            "MASTER_ADDR": "127.0.0.1", "WORLD_SIZE": "1", "RANK": "0"}  # fmt: skip
    options = pod_options(pod, container, tmp_path)
    options += [f"--env={key}={value}" for key, value in env.items()]
    options += ["--entrypoint", container["command"][0]]
    started = time.monotonic()
    done = engine.run(shipped.train, *container["command"][1:], *container["args"], options=options)
    TIMINGS["training job"] = time.monotonic() - started
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    from mlflow import MlflowClient

    from tests.servers import environment

    with environment(team_server.env()):
        candidate = MlflowClient(team_server.url).get_model_version_by_alias(
            shipped.slug, "candidate"
        )
    assert candidate.version, "the job registered a version"
    checkpoints = tmp_path / f"{shipped.slug}-checkpoints"
    assert list(checkpoints.rglob("*.ckpt")), "checkpoints went to the claim mounted at logs/"


# -- 3. The Kubeflow pipeline --------------------------------------------------------------------


def test_every_compiled_pipeline_step_runs_in_the_training_image(
    engine: containers.Engine,
    shipped: Shipped,
    team_server: TeamServer,
    kfp_venv: Path,
    tmp_path: Path,
) -> None:
    run(["make", "pipeline-kfp", f"KFP_VENV={kfp_venv}", f"KFP_IMAGE={shipped.train}",
         f"KFP_TRACKING_URI={team_server.url}"], shipped.project)  # fmt: skip
    compiled, _ = yaml.safe_load_all((shipped.project / "build" / "kfp-pipeline.yaml").read_text())
    images = {e["container"]["image"] for e in compiled["deploymentSpec"]["executors"].values()}
    assert images == {shipped.train}
    credentials = {key: team_server.env()[key] for key in
                   ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD")}  # fmt: skip

    def in_image(name: str, command: Any, env: Any) -> subprocess.CompletedProcess[str]:
        """The step's pod: the image as built (its user, its working directory), the step's
        env and the Secret's credentials (kfp-kubernetes' secretAsEnv)."""
        options = [f"--env={key}={value}" for key, value in {**env, **credentials}.items()]
        options += ["--entrypoint", command[0]]
        return engine.run(shipped.train, *command[1:], options=options)

    started = time.monotonic()
    ran = run_compiled(compiled, {"train_args": "", "search_args": ""}, tmp_path,
                       until="promote", execute=in_image)  # fmt: skip
    TIMINGS["pipeline steps"] = time.monotonic() - started
    assert ran[0] == "prepare" and ran[-1] == "promote" and "train" in ran
    from mlflow import MlflowClient

    from tests.servers import environment

    with environment(team_server.env()):
        client = MlflowClient(team_server.url)
        champion = client.get_model_version_by_alias(shipped.slug, "champion")
        candidate = client.get_model_version_by_alias(shipped.slug, "candidate")
    assert champion.version == candidate.version, "the gate promoted the pipeline's candidate"


# -- 4. Serving -------------------------------------------------------------------------------


def model_prediction(
    engine: containers.Engine, shipped: Shipped, server: TeamServer, rows: list[list[float]]
) -> np.ndarray:
    """What the champion's PyTorch model itself answers, its logits (loaded in the training image,
    which has torch, lightning and the project)."""
    code = (
        "import json, sys, torch\n"
        "from mlcore.registry import load_pytorch\n"
        f"model = load_pytorch('models:/{shipped.slug}@champion').eval()\n"
        "rows = torch.tensor(json.loads(sys.argv[1]), dtype=torch.float32)\n"
        "with torch.inference_mode():\n"
        "    print(json.dumps(model(rows).tolist()))\n"
    )
    options = [f"--env={key}={value}" for key, value in server.env().items()]
    done = engine.run(shipped.train, "python", "-c", code, json.dumps(rows), options=options)
    assert done.returncode == 0, done.stderr[-4000:]
    return np.asarray(json.loads(done.stdout.strip().splitlines()[-1]))


def test_the_serving_image_serves_the_champion_read_only_as_its_user(
    engine: containers.Engine, shipped: Shipped, team_server: TeamServer
) -> None:
    from sklearn.datasets import load_digits

    rows = load_digits().data[:5].astype("float32").tolist()
    port = free_port()
    config = shipped.project / "deploy" / "k8s" / "base" / "kustomization.yaml"
    literals = yaml.safe_load(config.read_text())["configMapGenerator"][0]["literals"]
    env = dict(literal.split("=", 1) for literal in literals)  # the ConfigMap
    assert env["MODEL_URI"] == "champion"  # the alias; the name is configs/registry's
    env |= {**team_server.env(), "PORT": str(port)}
    options = ["--read-only", "--tmpfs=/tmp:rw,mode=1777", "--user=10001:10001",
               "--cap-drop=ALL", "--security-opt=no-new-privileges"]  # fmt: skip
    options += [f"--env={key}={value}" for key, value in env.items()]
    server = engine.start("serving", shipped.serve, options=options)
    try:
        url = f"http://127.0.0.1:{port}"
        server.wait_until_answers(f"{url}/ready", timeout=180)
        with urllib.request.urlopen(f"{url}/ready", timeout=10) as ready:
            assert ready.status == 200
        request = urllib.request.Request(
            f"{url}/predict",
            data=json.dumps({"inputs": rows}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            served = np.asarray(json.load(answer)["predictions"])
        with urllib.request.urlopen(f"{url}/", timeout=10) as about:
            described = json.load(about)
        assert described["runtime"] == "onnx"
        expected = model_prediction(engine, shipped, team_server, rows)
        np.testing.assert_allclose(served, expected, rtol=1e-4, atol=1e-4)
        np.testing.assert_array_equal(served.argmax(axis=1), expected.argmax(axis=1))
        # The image's own HEALTHCHECK (kept: Docker's format), run in the container.
        check = engine.inspect(shipped.serve)["Healthcheck"]["Test"]
        assert check[0] == "CMD", check
        done = server.exec(*check[1:])
        assert done.returncode == 0, done.stderr
        assert server.exec("id", "-u").stdout.strip() == "10001"
        assert server.exec("touch", "/workspace/x").returncode != 0, "the root is read-only"
    finally:
        server.stop()


def test_the_onnx_serving_image_carries_no_torch(
    engine: containers.Engine, shipped: Shipped
) -> None:
    done = engine.run(shipped.serve, "-c", "import torch", options=["--entrypoint", "python"])
    assert done.returncode != 0 and "No module named 'torch'" in done.stderr


def test_make_lock_is_the_same_each_time(shipped: Shipped) -> None:
    """The lock names its torch constraint at a fixed path, not a new temporary file each time."""
    text = (shipped.project / "requirements-lock.txt").read_text()
    assert "/tmp/" not in text and "-c build/torch-version.txt" in text
