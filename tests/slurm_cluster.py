"""A one-node SLURM cluster on 127.0.0.1, from Debian's packages (slurmctld, slurmd, munge).

Everything is private to the test session: munged on its own socket and key, slurmctld and
slurmd on free ports with their state, spool and logs in a temporary folder, found by clients
through `SLURM_CONF`. It needs root (slurmd starts jobs as their user) and the three packages
(`.ci/run` installs them on CI); `unavailable()` says why it cannot start elsewhere.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

BINARIES = ("munged", "slurmctld", "slurmd", "sbatch", "scontrol", "sinfo")


def unavailable() -> str | None:
    """Why a cluster cannot start here, or None."""
    missing = [name for name in BINARIES if shutil.which(name) is None]
    if missing:
        return f"{', '.join(missing)} not installed (apt-get install slurmctld slurmd munge)"
    if os.geteuid() != 0:
        return "slurmd must run as root to start jobs"
    return None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class SlurmCluster:
    root: Path
    conf: Path
    munge: Path

    @property
    def env(self) -> dict[str, str]:
        return {"SLURM_CONF": str(self.conf)}

    def pids(self) -> list[int]:
        found = []
        daemons = (self.root / "slurmd.pid", self.root / "slurmctld.pid", self.munge / "munged.pid")
        for path in daemons:
            if path.is_file() and path.read_text().strip().isdigit():
                found.append(int(path.read_text()))
        return found

    def stop(self, timeout: float = 10) -> None:
        """Stop the daemons (they are not our children: wait until they are gone), remove
        munged's folder."""
        pids = self.pids()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while any(Path(f"/proc/{pid}").exists() for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.1)
        shutil.rmtree(self.munge.parent, ignore_errors=True)


def start(root: Path, timeout: float = 30) -> SlurmCluster:
    """Start munged, slurmctld and slurmd; return once the node is idle."""
    # munged runs as the munge user, which cannot enter pytest's private temporary folders: its
    # files go to a folder of their own in /tmp. It wants its socket folder readable by all, its
    # key folder by itself alone.
    base = Path(tempfile.mkdtemp(prefix="mlcore-munge-", dir="/tmp"))
    base.chmod(0o755)
    munge, run_dir = base / "munge", base / "run"
    for folder in (munge, run_dir, root / "state", root / "spool", root / "log"):
        folder.mkdir(parents=True, exist_ok=True)
    key = munge / "munge.key"
    key.write_bytes(os.urandom(1024))
    shutil.chown(munge, "munge", "munge")
    shutil.chown(run_dir, "munge", "munge")
    shutil.chown(key, "munge", "munge")
    munge.chmod(0o700)
    run_dir.chmod(0o755)
    key.chmod(0o400)
    socket_path = run_dir / "munge.sock"
    subprocess.run(
        ["runuser", "-u", "munge", "--", "munged", f"--socket={socket_path}",
         f"--key-file={key}", f"--pid-file={munge / 'munged.pid'}",
         f"--log-file={munge / 'munged.log'}", f"--seed-file={munge / 'seed'}"],
        check=True, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    conf = root / "slurm.conf"
    conf.write_text(
        "\n".join(
            [
                "ClusterName=mlcoretest",
                "SlurmctldHost=localhost(127.0.0.1)",
                f"SlurmctldPort={_free_port()}",
                f"SlurmdPort={_free_port()}",
                "SlurmUser=root",
                "SlurmdUser=root",
                "AuthType=auth/munge",
                f"AuthInfo=socket={socket_path}",
                "CredType=cred/munge",
                f"StateSaveLocation={root / 'state'}",
                f"SlurmdSpoolDir={root / 'spool'}",
                f"SlurmctldPidFile={root / 'slurmctld.pid'}",
                f"SlurmdPidFile={root / 'slurmd.pid'}",
                f"SlurmctldLogFile={root / 'log' / 'slurmctld.log'}",
                f"SlurmdLogFile={root / 'log' / 'slurmd.log'}",
                "ProctrackType=proctrack/linuxproc",
                "TaskPlugin=task/none",
                "SchedulerType=sched/builtin",
                "SelectType=select/cons_tres",
                "SelectTypeParameters=CR_CPU",
                "ReturnToService=2",
                "MpiDefault=none",
                "AccountingStorageType=accounting_storage/none",
                f"NodeName=localhost NodeAddr=127.0.0.1 CPUs={os.cpu_count()} State=UNKNOWN",
                "PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP "
                "OverSubscribe=YES",
                "",
            ]
        )
    )
    env = {**os.environ, "SLURM_CONF": str(conf)}
    cluster = SlurmCluster(root, conf, munge)
    try:
        subprocess.run(["slurmctld", "-f", str(conf), "-i"], env=env, check=True, timeout=30)
        slurmd = ["slurmd", "-f", str(conf), "-N", "localhost"]
        subprocess.run(slurmd, env=env, check=True, timeout=30)
        deadline = time.monotonic() + timeout
        state = ""
        while time.monotonic() < deadline:
            result = subprocess.run(
                ["sinfo", "--noheader", "--format=%T"], env=env, capture_output=True, text=True
            )
            state = result.stdout.strip()
            if state == "idle":
                return cluster
            time.sleep(0.5)
        raise RuntimeError(f"the SLURM node is not idle after {timeout} s (state {state!r})")
    except BaseException:
        cluster.stop()
        raise
