"""Every GPU of a machine: each training job takes a free device slot, so that `--resources gpu=N` on a machine
with N GPUs trains N runs at once, each on its own device (and `training.runs_per_gpu` runs per device).

A slot is an exclusive `flock` on a small file in a machine-wide folder. The kernel drops the lock when the
process ends, however it ends (a crash, SIGKILL, a node reboot), so a slot can never leak. A job chooses only
among the GPUs it can see (CUDA_VISIBLE_DEVICES, when a scheduler set it), and a GPU is known by its UUID, so
jobs that a scheduler confined to different GPUs (each seeing its own as device 0) never wait for each other.
Slots are handed out spreading over devices first: with two GPUs and two runs per GPU, the first two jobs land
on different GPUs.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import torch

from sentiflow.train import runinfo

# Bytes a fine-tuning run holds at its peak per parameter: fp32 weights and gradients (8), AdamW's two moments
# (8), a bf16 copy made by autocast, and the activations that the CUDA graphs keep, one private pool per batch
# width. Measured peaks (one H200, batch 32, SST-2, fast loop with graphs): DistilBERT-base 2.58 GB for 66M
# parameters (40 bytes each), BERT-base 4.26 GB for 109M (41); MiniLM-L6 with the plain loop 0.67 GB for 22.7M (31).
# 44 leaves a tenth for the allocator's slack. (GB here: 2**30 bytes.)
BYTES_PER_PARAMETER = 44


def slots_folder() -> Path:
    """The machine-wide folder of slot files (SENTIFLOW_GPU_SLOTS, else one in the system's temporary folder)."""
    return Path(os.environ.get("SENTIFLOW_GPU_SLOTS") or Path(tempfile.gettempdir()) / "sentiflow-gpu-slots")


def visible_devices(count: int) -> list[str]:
    """A machine-wide name for each device this process may use, in torch's order (cuda:0, cuda:1, ...).

    With CUDA, the GPU's UUID: a scheduler that confines each job to its GPUs renumbers them all as device 0,
    and two jobs on two different GPUs must not wait for each other. Without it, the CUDA_VISIBLE_DEVICES
    entries (or 0..count-1 when it is unset).
    """
    if torch.cuda.is_available():
        return [str(torch.cuda.get_device_properties(i).uuid) for i in range(count)]
    names = [d.strip() for d in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if d.strip()]
    return names[:count] if names else [str(i) for i in range(count)]


@dataclass
class Slot:
    index: int  # the device's position among the visible ones: torch device cuda:{index}
    device: str  # its name in CUDA_VISIBLE_DEVICES (a number or a GPU UUID)
    place: int  # which of the runs_per_gpu places on that device
    path: Path
    handle: IO = field(repr=False)  # kept open: the lock lives as long as this file object

    def record(self) -> dict:
        return {"device_index": self.index, "device": self.device, "place": self.place, "lock": str(self.path)}

    def release(self) -> None:
        self.handle.close()

    def __enter__(self) -> Slot:
        return self

    def __exit__(self, *exc) -> None:
        # A run that raises in a process that goes on (a test session, a notebook) must not keep the device.
        self.release()


def try_slot(devices: list[str], runs_per_gpu: int, folder: Path) -> Slot | None:
    """The first free slot, spreading over devices before packing any; None when all are taken."""
    folder.mkdir(parents=True, exist_ok=True)
    for place in range(runs_per_gpu):
        for index, device in enumerate(devices):
            path = folder / f"gpu-{re.sub(r'[^A-Za-z0-9._-]', '_', device)}.place{place}.lock"
            handle = open(path, "a+")  # noqa: SIM115 (held for the whole run: the lock)
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                continue
            handle.seek(0)
            handle.truncate()
            handle.write(f"{os.getpid()}\n")  # for people looking at the folder; the lock itself is what counts
            handle.flush()
            return Slot(index, device, place, path, handle)
    return None


def acquire(devices: list[str], runs_per_gpu: int = 1, folder: Path | None = None, poll_seconds: float = 2.0) -> Slot:
    """Wait for a free slot (more jobs than slots wait instead of crowding a device) and hold it."""
    folder = folder or slots_folder()
    waited = False
    while (slot := try_slot(devices, runs_per_gpu, folder)) is None:
        if not waited:
            print(
                f"all {len(devices) * runs_per_gpu} GPU slots in {folder} are taken ({len(devices)} device(s) x "
                f"{runs_per_gpu} run(s) each); waiting for one to free up",
                file=sys.stderr,
                flush=True,
            )
            waited = True
        time.sleep(poll_seconds)
    return slot


def claim_device(requested: str, threads: int | None, runs_per_gpu: int) -> tuple[torch.device, Slot | None]:
    """The torch thread pool sized to the job, and its device: a free GPU slot when CUDA is asked for without naming
    a device (held until the slot is released or the process ends)."""
    if threads:
        # One OpenMP pool sized to the rule's `threads:`; a second busy-waiting pool would halve throughput.
        torch.set_num_threads(runinfo.torch_threads(threads))
    device, slot = runinfo.pick_device(requested), None
    if device.type == "cuda" and device.index is None:  # no device named: take a free slot of the visible GPUs
        slot = acquire(visible_devices(torch.cuda.device_count()), runs_per_gpu)
        device = torch.device("cuda", slot.index)
        print(f"running on {device} ({slot.record()})", file=sys.stderr)
    return device, slot


def claim_job_device(training: dict, threads: int | None) -> tuple[torch.device, Slot | None]:
    """`claim_device` for a job that holds the `gpu` resource like training (attribute, behaviour_encoder): placed by
    the config's `training.device` and `runs_per_gpu`, which are no rule's params (they place a job, they do not
    change what it computes), and sized to the rule's `threads`. The slot is held while the caller keeps it."""
    return claim_device(training["device"], threads, training["runs_per_gpu"])


@contextlib.contextmanager
def claimed_device(
    requested: str, threads: int | None, runs_per_gpu: int
) -> Iterator[tuple[torch.device, Slot | None]]:
    """`claim_device` for the length of a `with` block: the slot is released when the block ends, however it ends."""
    device, slot = claim_device(requested, threads, runs_per_gpu)
    with slot or contextlib.nullcontext():
        yield device, slot


class DoesNotFit(RuntimeError):
    """Packing one more run onto the device would run it out of memory."""


def check_fits(free_bytes: int, parameters: int, device_name: str, runs_per_gpu: int) -> None:
    """Refuse to start a run the device cannot hold, with what to change, instead of failing out of memory later."""
    needed = parameters * BYTES_PER_PARAMETER
    if needed > free_bytes:
        raise DoesNotFit(
            f"{device_name} has {free_bytes / 2**30:.1f} GiB free, and this run needs about {needed / 2**30:.1f} GiB "
            f"({parameters / 1e6:.0f}M parameters x {BYTES_PER_PARAMETER} bytes); with training.runs_per_gpu: {runs_per_gpu} "
            "the other runs on this device hold the rest. Lower training.runs_per_gpu or free the device."
        )
