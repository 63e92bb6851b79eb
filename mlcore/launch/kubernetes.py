"""Kubernetes launches: a Kubeflow PyTorchJob (kubeflow.org/v1), applied with kubectl.

One pod per node (a `Master`, then `Worker`s), each running torchrun with `nprocPerNode`
processes; the training operator gives torchrun the rendezvous through its `PET_*` variables.
Preemption: a deleted pod gets SIGTERM and `grace_period_s` to stop; the workers save a checkpoint
and torchrun (through mlcore.launch.torchrun) exits 143, which `restartPolicy: ExitCode` restarts
(codes from 128 up; 1-127, an error, fail the job at once), up to `backoff_limit` times; the
restarted pod resumes the run (`resume=auto`, in the same run directory: the job's name).
The manifest is plain data rendered with sorted environment entries, so the same config always
gives the same text: review it in a pull request (`--dry-run`), apply it unchanged.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Iterable
from typing import Any

from mlcore.launch.config import (
    RUN_NAME_ENV,
    Launch,
    LaunchConfigError,
    check_keys,
    whole_number,
)

KEYS = (
    "engine", "module", "name", "namespace", "image", "image_pull_policy", "nodes",
    "gpus_per_node", "nproc_per_node", "cpu", "memory", "workdir", "data_claim",
    "checkpoints_claim", "env", "secret_env", "backoff_limit", "grace_period_s", "service_account",
)  # fmt: skip
API_VERSION = "kubeflow.org/v1"
TORCHRUN = ["python", "-m", "mlcore.launch.torchrun"]
GPU_RESOURCE = "nvidia.com/gpu"
# Kubernetes object names: DNS-1123 labels; Secret names: DNS-1123 subdomains.
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_SECRET = re.compile(r"^[a-z0-9]([-.a-z0-9]{0,251}[a-z0-9])?$")
_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")


def manifest(launch: Launch) -> dict[str, Any]:
    """The PyTorchJob for this launch, as a dict in the key order it is rendered in."""
    s = launch.settings
    check_keys("kubernetes", s, KEYS)
    name = str(s.get("name") or "")
    if not _NAME.match(name):
        raise LaunchConfigError(
            f"launcher.name={name!r} is not a Kubernetes name: lowercase letters, digits and "
            "'-', starting and ending with a letter or digit, at most 63 characters"
        )
    if not s.get("image"):
        raise LaunchConfigError("launcher.image is not set: give the training image to run")
    nodes = whole_number(s, "nodes", 1)
    gpus = whole_number(s, "gpus_per_node", 0, minimum=0)
    processes = whole_number(s, "nproc_per_node", max(gpus, 1))
    if gpus and processes > gpus:
        raise LaunchConfigError(
            f"launcher.nproc_per_node={processes} but launcher.gpus_per_node={gpus}: one process "
            "per GPU, so at most as many processes as GPUs"
        )
    workdir = str(s.get("workdir") or "/workspace")
    grace = whole_number(s, "grace_period_s", 300, minimum=0)
    labels = {
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/component": "training",
        "app.kubernetes.io/managed-by": "mlcore",
    }
    env = {RUN_NAME_ENV: name, "PROJECT_ROOT": workdir}
    env |= {str(key): str(value) for key, value in (s.get("env") or {}).items()}
    resources = {"cpu": str(s.get("cpu") or 4), "memory": str(s.get("memory") or "16Gi")}
    resources |= {GPU_RESOURCE: str(gpus)} if gpus else {}
    container = {
        "name": "pytorch",  # the name the training operator looks for
        "image": str(s["image"]),
        "imagePullPolicy": str(s.get("image_pull_policy") or "IfNotPresent"),
        # torchrun gives its workers the pod's grace period to save (its own default: 30 s).
        "command": [*TORCHRUN, f"--shutdown-timeout={grace}", "-m", launch.module],
        "args": list(launch.overrides),
        "workingDir": workdir,
        "env": [{"name": key, "value": env[key]} for key in sorted(env)] + _secret_env(s, env),
        "resources": {"requests": resources, "limits": dict(resources)},
        "volumeMounts": _mounts(s, workdir),
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,  # writes go to /tmp, data/ and logs/ (volumes)
            "capabilities": {"drop": ["ALL"]},
        },
    }
    pod_spec: dict[str, Any] = {
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": 1000,
            "runAsGroup": 1000,
            "fsGroup": 1000,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        # Time between SIGTERM and SIGKILL: the workers save a checkpoint in it.
        "terminationGracePeriodSeconds": grace,
        "containers": [container],
        "volumes": _volumes(s),
    }
    if s.get("service_account"):
        pod_spec["serviceAccountName"] = str(s["service_account"])
    template = {
        # Istio's sidecar keeps a finished pod running; Kubeflow's docs turn it off for jobs.
        "metadata": {"labels": labels, "annotations": {"sidecar.istio.io/inject": "false"}},
        "spec": pod_spec,
    }
    replicas = {"Master": _replicas(1, template)}
    if nodes > 1:
        replicas["Worker"] = _replicas(nodes - 1, template)
    namespace = {"namespace": str(s["namespace"])} if s.get("namespace") else {}
    return {
        "apiVersion": API_VERSION,
        "kind": "PyTorchJob",
        "metadata": {"name": name, **namespace, "labels": labels},
        "spec": {
            "nprocPerNode": str(processes),
            "runPolicy": {
                "cleanPodPolicy": "None",  # keep finished pods, and their logs, for reading
                # Restarts of the job in all (each preemption is one).
                "backoffLimit": whole_number(s, "backoff_limit", 10, minimum=0),
            },
            "pytorchReplicaSpecs": replicas,
        },
    }


def _secret_env(s: dict[str, Any], env: dict[str, str]) -> list[dict[str, Any]]:
    """`secret_env: {secret-name: [VARIABLE, ...]}` as references to the Secret's keys of those
    names, the way the serving Deployment reads MLflow's credentials: the values stay in the
    cluster, and an optional reference lets a job against a server without auth run without
    the Secret."""
    mapping = s.get("secret_env") or {}
    if not isinstance(mapping, dict):
        raise LaunchConfigError(
            f"launcher.secret_env must map Secret names to lists of variables, not {mapping!r}"
        )
    references: dict[str, str] = {}
    for secret, variables in mapping.items():
        if not _SECRET.match(str(secret)):
            raise LaunchConfigError(
                f"launcher.secret_env: {secret!r} is not a Kubernetes Secret name"
            )
        if isinstance(variables, str) or not isinstance(variables, Iterable):
            raise LaunchConfigError(
                f"launcher.secret_env.{secret} must list variable names, not {variables!r}"
            )
        for variable in map(str, variables):
            if not _ENV_NAME.match(variable):
                raise LaunchConfigError(
                    f"launcher.secret_env.{secret}: {variable!r} is not a variable name"
                )
            if variable in env or variable in references:
                raise LaunchConfigError(
                    f"launcher.secret_env: {variable} is set twice (launcher.env or another "
                    "Secret): keep it in one place"
                )
            references[variable] = str(secret)
    return [
        {
            "name": variable,
            "valueFrom": {
                "secretKeyRef": {"name": references[variable], "key": variable, "optional": True}
            },
        }
        for variable in sorted(references)
    ]


def _replicas(count: int, template: dict[str, Any]) -> dict[str, Any]:
    # Restart on exit codes from 128 up (a signal: preemption), never on an error (1-127).
    return {"replicas": count, "restartPolicy": "ExitCode", "template": template}


def _mounts(s: dict[str, Any], workdir: str) -> list[dict[str, Any]]:
    mounts = [
        {"name": "dshm", "mountPath": "/dev/shm"},  # DataLoader workers and NCCL share it
        {"name": "tmp", "mountPath": "/tmp"},  # caches and temporary files: the root is read-only
    ]
    if s.get("data_claim"):
        mounts.append({"name": "data", "mountPath": f"{workdir}/data"})
    if s.get("checkpoints_claim"):
        mounts.append({"name": "checkpoints", "mountPath": f"{workdir}/logs"})
    return mounts


def _volumes(s: dict[str, Any]) -> list[dict[str, Any]]:
    volumes: list[dict[str, Any]] = [
        {"name": "dshm", "emptyDir": {"medium": "Memory"}},
        {"name": "tmp", "emptyDir": {}},
    ]
    for volume, key in (("data", "data_claim"), ("checkpoints", "checkpoints_claim")):
        if s.get(key):
            volumes.append({"name": volume, "persistentVolumeClaim": {"claimName": str(s[key])}})
    return volumes


def render(launch: Launch) -> str:
    """The manifest as YAML, with a header saying where it came from."""
    import yaml

    source = f"configs/launcher/{launch.name}.yaml"
    header = f"# Kubeflow PyTorchJob rendered by `mlcore launch kubernetes` from {source}.\n"

    class Dumper(yaml.SafeDumper):
        def ignore_aliases(self, data: Any) -> bool:  # each replica spelled out, no &id001
            return True

    return header + yaml.dump(manifest(launch), Dumper=Dumper, sort_keys=False, width=100)


def launch_kubernetes(launch: Launch, *, dry_run: bool = False) -> int:
    text = render(launch)
    if dry_run:
        print(text, end="")
        return 0
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        hint = "print the manifest with --dry-run and apply it with `kubectl apply -f <file>`"
        print(f"kubectl is not on PATH: install it, or {hint}", file=sys.stderr)
        return 2
    result = subprocess.run([kubectl, "apply", "-f", "-"], input=text, text=True, check=False)
    if result.returncode == 0:
        name = manifest(launch)["metadata"]["name"]
        selector = f"training.kubeflow.org/job-name={name}"
        print(f"Follow it: kubectl get pytorchjob {name}; kubectl logs -f -l {selector}")
    return result.returncode
