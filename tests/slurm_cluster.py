"""A throwaway single-node Slurm cluster (Debian's slurm-wlm and munge) that lives in one folder.

Everything the daemons write (keys, sockets, state, logs, the job completion record) stays under that
folder, and the daemons run in the foreground as our children, so stopping the cluster is killing them:
nothing outlives the test. Accounting is off (no slurmdbd); Slurm's own record of every finished job is
the `jobcomp/filetxt` log, and MinJobAge keeps finished jobs visible to `squeue` for the executor plugin.

Clients find the cluster through SLURM_CONF, except one: inside a job the slurm-jobstep plugin clears
every SLURM_* variable but the job's identity before it calls `srun`, which then looks for
/etc/slurm/slurm.conf as on a real cluster. So slurmd (and every job it starts) runs in a private mount
namespace where our folder is bind-mounted on /etc/slurm; the machine's /etc is never touched.

The node may be given more CPUs than the machine has (`cpus`; slurmd then takes the configured count,
`config_overrides`), so that more single-CPU jobs run at once than there are cores, sharing them.
"""

from __future__ import annotations

import ctypes
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

DAEMONS = ("munged", "slurmctld", "slurmd")
CLIENTS = ("sbatch", "squeue", "scontrol", "scancel", "unshare", "mount")
SYSTEM_CONF = Path("/etc/slurm")


def missing_programs() -> list[str]:
    return [name for name in DAEMONS + CLIENTS if shutil.which(name) is None and not Path("/usr/sbin", name).exists()]


def _program(name: str) -> str:
    return shutil.which(name) or str(Path("/usr/sbin", name))


def _die_with_parent() -> None:
    # If the test process is killed before its teardown, the kernel stops the daemons too (PR_SET_PDEATHSIG).
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _node_memory_mb() -> int:
    # What slurmd measures; configuring more would drain the node ("Low RealMemory").
    out = subprocess.run([_program("slurmd"), "-C"], capture_output=True, text=True, check=True).stdout
    return int(re.search(r"RealMemory=(\d+)", out).group(1))


class SlurmCluster:
    def __init__(self, root: Path, cpus: int | None = None, min_job_age: int = 900):
        self.root = Path(root)
        self.cpus = cpus or os.cpu_count()
        self.min_job_age = min_job_age
        self.host = socket.gethostname().split(".")[0]
        self.conf = self.root / "etc" / "slurm.conf"
        self.jobcomp = self.root / "jobcomp.txt"
        self.processes: dict[str, subprocess.Popen] = {}

    @property
    def env(self) -> dict[str, str]:
        """The environment a client (sbatch, squeue, snakemake) needs to find this cluster."""
        return {**os.environ, "SLURM_CONF": str(self.conf)}

    def _write_config(self) -> None:
        for folder in ("etc", "munge", "state", "spool", "log"):
            (self.root / folder).mkdir(mode=0o700, parents=True, exist_ok=True)
        key = self.root / "munge" / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o600)
        munge_socket = self.root / "munge" / "munge.socket"
        # Without it, slurmd drains a node configured with more CPUs than it finds.
        overrides = "SlurmdParameters=config_overrides\n" if self.cpus > os.cpu_count() else ""
        self.conf.write_text(
            f"""\
ClusterName=sentiflow-test
SlurmctldHost={self.host}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort={_free_port()}
SlurmdPort={_free_port()}
AuthType=auth/munge
AuthInfo=socket={munge_socket}
CredType=cred/munge
StateSaveLocation={self.root / "state"}
SlurmdSpoolDir={self.root / "spool"}
SlurmctldPidFile={self.root / "slurmctld.pid"}
SlurmdPidFile={self.root / "slurmd.pid"}
SlurmctldLogFile={self.root / "log" / "slurmctld.log"}
SlurmdLogFile={self.root / "log" / "slurmd.log"}
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc={self.jobcomp}
MinJobAge={self.min_job_age}
ReturnToService=2
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
KillWait=60
{overrides}NodeName={self.host} NodeAddr=127.0.0.1 CPUs={self.cpus} RealMemory={_node_memory_mb()} State=UNKNOWN
PartitionName=main Nodes=ALL Default=YES MaxTime=INFINITE State=UP
"""
        )

    def _start(self, name: str, *args: str, private_etc: bool = False) -> None:
        command = [_program(name), *args]
        if private_etc:
            # unshare and sh both exec, so the Popen pid is the daemon's own.
            bind = 'mount --bind "$0" /etc/slurm && exec "$@"'
            command = [
                "unshare",
                "--mount",
                "--propagation",
                "private",
                "sh",
                "-c",
                bind,
                str(self.conf.parent),
                *command,
            ]
        with open(self.root / "log" / f"{name}.out", "w") as log:
            self.processes[name] = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )

    def start(self, timeout: float = 60) -> SlurmCluster:
        if not SYSTEM_CONF.is_dir():
            raise RuntimeError(f"{SYSTEM_CONF} is missing: install Debian's slurm-client (slurm-wlm) first")
        self._write_config()
        munge = self.root / "munge"
        self._start(
            "munged", "--foreground", "--force", f"--socket={munge / 'munge.socket'}",
            f"--key-file={munge / 'munge.key'}", f"--pid-file={munge / 'munged.pid'}",
            f"--log-file={self.root / 'log' / 'munged.log'}", f"--seed-file={munge / 'munged.seed'}",
        )  # fmt: skip
        self._wait(lambda: (munge / "munge.socket").exists(), timeout, "munged to open its socket")
        self._start("slurmctld", "-D", "-i", "-f", str(self.conf))
        self._wait(
            lambda: self.scontrol("ping").returncode == 0 and "UP" in self.scontrol("ping").stdout, timeout, "slurmctld"
        )
        self._start("slurmd", "-D", "-f", str(self.conf), "-N", self.host, private_etc=True)
        self._wait(lambda: self.node_state() in ("IDLE", "MIXED", "ALLOCATED"), timeout, "the node to become idle")
        return self

    def scontrol(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([_program("scontrol"), *args], capture_output=True, text=True, env=self.env)

    def node_state(self) -> str:
        out = self.scontrol("show", "node", self.host).stdout
        match = re.search(r"State=(\S+)", out)
        return match.group(1).split("+")[0] if match else ""

    def squeue(self, *args: str) -> str:
        return subprocess.run(
            [_program("squeue"), *args], capture_output=True, text=True, env=self.env, check=True
        ).stdout

    def _wait(self, ready, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, process in self.processes.items():
                if process.poll() is not None:
                    raise RuntimeError(
                        f"{name} exited with {process.returncode} while waiting for {what}:\n{self.logs()}"
                    )
            if ready():
                return
            time.sleep(0.5)
        raise TimeoutError(f"waited {timeout:.0f} s for {what}:\n{self.logs()}")

    def logs(self) -> str:
        return "\n".join(
            f"--- {path.name}\n{path.read_text(errors='replace')[-3000:]}"
            for path in sorted((self.root / "log").glob("*"))
        )

    def completed_jobs(self) -> list[dict[str, str]]:
        """Slurm's job completion record: one dict of KEY=VALUE fields per finished job."""
        if not self.jobcomp.exists():
            return []
        return [
            dict(re.findall(r"(\w+)=(\S*)", line)) for line in self.jobcomp.read_text().splitlines() if line.strip()
        ]

    def stop(self) -> None:
        if "slurmctld" in self.processes and self.processes["slurmctld"].poll() is None:
            # Cancel what is left and let slurmd reap its step daemons before the daemons go.
            subprocess.run([_program("scancel"), "--full", "--user", "root"], env=self.env, capture_output=True)
            deadline = time.monotonic() + 60
            while (
                time.monotonic() < deadline and self.squeue("--noheader", "--states=RUNNING,COMPLETING,PENDING").strip()
            ):
                time.sleep(1)
        for name in reversed(list(self.processes)):
            process = self.processes[name]
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()

    def __enter__(self) -> SlurmCluster:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
