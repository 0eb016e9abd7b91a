"""What a run needs to record to be reproduced: package versions, hardware, peak memory."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import resource
import sys

import torch

PACKAGES = ("sentiflow", "torch", "transformers", "tokenizers", "numpy", "pandas", "safetensors", "datasets", "snakemake")


def package_versions() -> dict[str, str | None]:
    versions = {"python": sys.version.split()[0]}
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
