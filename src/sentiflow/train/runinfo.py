"""What a run needs to record to be reproduced: package versions, hardware, peak memory."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import resource
import sys

import torch

import sentiflow

PACKAGES = (
    "sentiflow",
    "torch",
    "transformers",
    "tokenizers",
    "numpy",
    "pandas",
    "safetensors",
    "datasets",
    "snakemake",
)


def package_versions() -> dict[str, str | None]:

    # The version of the code that runs: the workflow imports this checkout's library, installed or not.
    versions = {"python": sys.version.split()[0], "sentiflow": sentiflow.__version__}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    versions["cuda"] = torch.version.cuda
    return versions


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def granted_cpus() -> int:
    """CPUs this process may run on: a scheduler's cpuset or affinity mask, not the machine's count."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def torch_threads(requested: int) -> int:
    """`requested` threads, but never more than the CPUs granted: an oversubscribed OpenMP pool spins."""
    granted = granted_cpus()
    if requested > granted:
        print(f"using {granted} threads, not {requested}: only {granted} CPUs are granted to this job", file=sys.stderr)
        return granted
    return requested


# CUDA_VISIBLE_DEVICES is not among them: hardware() records it already.
SCHEDULER_VARIABLES = (
    "SLURM_JOB_ID", "SLURM_ARRAY_JOB_ID", "SLURM_JOB_PARTITION", "SLURM_CPUS_PER_TASK",
    "SLURM_JOB_NODELIST", "SLURM_RESTART_COUNT",
)  # fmt: skip


def scheduler() -> dict:
    """What a batch scheduler granted this job, so a run on a cluster can be traced to its Slurm job."""
    return {"granted_cpus": granted_cpus()} | {
        name.lower(): os.environ[name] for name in SCHEDULER_VARIABLES if name in os.environ
    }


def pick_device(requested: str = "auto") -> torch.device:
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if requested.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"training.device is {requested!r} but no CUDA device is visible")
    return torch.device(requested)


def hardware(device: torch.device) -> dict:
    info = {
        "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_name(),
        "cpu": cpu_name(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "platform": platform.platform(),
        "hostname": platform.node(),
        "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
        "scheduler": scheduler(),
    }
    if device.type == "cuda":
        info["gpu_memory_total_mb"] = round(torch.cuda.get_device_properties(device).total_memory / 2**20)
    return info


def peak_memory_mb(device: torch.device) -> dict:
    # ru_maxrss is in KiB on Linux.
    peak = {"host_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}
    if device.type == "cuda":
        peak["gpu_allocated_mb"] = round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
    return peak
