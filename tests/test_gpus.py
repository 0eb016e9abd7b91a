"""Device slots with real concurrent processes: distinct devices, waiting when full, no slot lost to a killed job
or to a run that fails in a process that goes on."""

import json
import os
import select
import signal
import subprocess
import sys
import time

import pytest
import torch
from test_training import LABELS, LR, run_outputs

from sentiflow.train.gpus import (
    DoesNotFit,
    acquire,
    check_fits,
    claim_job_device,
    claimed_device,
    try_slot,
    visible_devices,
)
from sentiflow.train.run import NonFiniteLoss, TrainConfig, fine_tune

# A training job's slot handling, as a process of its own: take a slot, report it, hold it until killed.
HOLDER = """
import json, sys, time
from pathlib import Path
from sentiflow.train.gpus import acquire
slot = acquire(sys.argv[1].split(","), int(sys.argv[2]), Path(sys.argv[3]), poll_seconds=0.1)
print(json.dumps(slot.record()), flush=True)
time.sleep(600)
"""


def hold(devices: str, runs_per_gpu: int, folder) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", HOLDER, devices, str(runs_per_gpu), str(folder)], stdout=subprocess.PIPE, text=True
    )


def granted(process: subprocess.Popen, timeout: float = 30) -> dict:
    ready, _, _ = select.select([process.stdout], [], [], timeout)
    assert ready, f"process {process.pid} got no slot within {timeout} s"
    os.set_blocking(process.stdout.fileno(), True)
    return json.loads(process.stdout.readline())


def waiting(process: subprocess.Popen, seconds: float = 1.5) -> bool:
    """True when the process is alive and has printed nothing (still waiting for a slot) after `seconds`."""
    time.sleep(seconds)
    os.set_blocking(process.stdout.fileno(), False)
    return process.poll() is None and not process.stdout.readline()


@pytest.fixture
def processes():
    started = []
    yield started
    for process in started:
        process.kill()
        process.wait()


def test_jobs_get_distinct_devices_wait_when_full_and_a_killed_job_frees_its_slot(tmp_path, processes):
    first, second = hold("0,1", 1, tmp_path), hold("0,1", 1, tmp_path)
    processes += [first, second]
    slots = [granted(first), granted(second)]
    assert sorted(s["device_index"] for s in slots) == [0, 1]  # one job per GPU
    third = hold("0,1", 1, tmp_path)
    processes.append(third)
    assert waiting(third)  # two GPUs, two jobs: the third waits instead of crowding a device
    first.send_signal(signal.SIGKILL)  # a crashed job: the kernel drops its lock
    first.wait()
    assert granted(third)["device_index"] == slots[0]["device_index"]


def test_runs_per_gpu_packs_after_spreading(tmp_path, processes):
    holders = [hold("GPU-aaa,GPU-bbb", 2, tmp_path) for _ in range(4)]
    processes += holders
    slots = sorted((s["device"], s["place"]) for s in map(granted, holders))
    assert slots == [("GPU-aaa", 0), ("GPU-aaa", 1), ("GPU-bbb", 0), ("GPU-bbb", 1)]
    # In process too: with every place held, there is no slot.
    assert try_slot(["GPU-aaa", "GPU-bbb"], 2, tmp_path) is None


def test_a_slot_is_released_and_taken_again_in_process(tmp_path):
    slot = acquire(["0"], 1, tmp_path)
    assert try_slot(["0"], 1, tmp_path) is None
    slot.release()
    again = try_slot(["0"], 1, tmp_path)
    assert again is not None and again.index == 0
    again.release()


def test_a_block_that_raises_lets_go_of_its_slot(tmp_path):
    with pytest.raises(ZeroDivisionError), acquire(["0"], 1, tmp_path) as slot:
        assert slot.index == 0 and try_slot(["0"], 1, tmp_path) is None  # held inside the block
        _ = 1 / 0
    again = try_slot(["0"], 1, tmp_path)
    assert again is not None and again.index == 0
    again.release()
    # On the CPU there is no slot to hold: the block gets the device alone.
    with claimed_device("cpu", None, 1) as (device, held):
        assert device == torch.device("cpu") and held is None


def test_a_job_is_placed_by_the_training_section_and_sized_to_its_threads(tmp_path, monkeypatch):
    """The attribute and behaviour_encoder jobs: training.device and the rule's threads, whatever else the section says."""
    monkeypatch.setenv("SENTIFLOW_GPU_SLOTS", str(tmp_path))
    before = torch.get_num_threads()
    try:
        device, slot = claim_job_device({"device": "cpu", "runs_per_gpu": 3, "threads": 8, "epochs": 2}, 1)
        assert device == torch.device("cpu") and slot is None and torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match=r"training\.device is 'cuda' but no CUDA device is visible"):
            claim_job_device({"device": "cuda", "runs_per_gpu": 1}, None)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="a job takes a GPU slot only where CUDA is visible")
def test_jobs_on_the_gpu_take_the_places_runs_per_gpu_allows(tmp_path, monkeypatch):
    """With training.runs_per_gpu 2, jobs spread over the visible GPUs first, then take each one's second place."""
    monkeypatch.setenv("SENTIFLOW_GPU_SLOTS", str(tmp_path))
    count = torch.cuda.device_count()
    claimed = [claim_job_device({"device": "cuda", "runs_per_gpu": 2}, None) for _ in range(count + 1)]
    try:
        assert [device for device, _ in claimed] == [torch.device("cuda", i) for i in [*range(count), 0]]
        assert [slot.place for _, slot in claimed] == [0] * count + [1]
        # The next free place, if any: the second GPU's second one.
        claimed.append((None, try_slot(visible_devices(count), 2, tmp_path)))
        following = claimed[-1][1]
        assert following is None if count == 1 else (following.index, following.place) == (1, 1)
    finally:
        for _, slot in claimed:
            if slot is not None:
                slot.release()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="a run takes a GPU slot only where CUDA is visible")
def test_a_run_that_fails_in_training_frees_its_slot_for_the_next_run(tiny_bert, toy_tokens, tmp_path, monkeypatch):
    folder = tmp_path / "slots"
    monkeypatch.setenv("SENTIFLOW_GPU_SLOTS", str(folder))
    train, validation, pad_id = toy_tokens
    cfg = {"epochs": 1, "seed": 1, "threads": 1, "loop": "plain", "device": "cuda", "runs_per_gpu": 1}
    # An infinite step size makes the weights non-finite after the first step: the second loss is NaN.
    with pytest.raises(NonFiniteLoss, match="loss is nan at epoch 1, step 2") as failed:
        fine_tune(str(tiny_bert), LABELS, train, validation, pad_id, TrainConfig(**cfg, learning_rate=float("inf")),
                  run_outputs(tmp_path / "failed"))  # fmt: skip
    # The traceback keeps the failed run's frames (and any slot they hold) alive: every slot must be free anyway.
    assert failed.traceback
    devices = visible_devices(torch.cuda.device_count())
    slots = [try_slot(devices, 1, folder) for _ in devices]
    assert all(slot is not None for slot in slots), "the failed run still holds its GPU slot"
    for slot in slots:
        slot.release()
    metadata = fine_tune(str(tiny_bert), LABELS, train, validation, pad_id, TrainConfig(**cfg, learning_rate=LR),
                         run_outputs(tmp_path / "next"))  # fmt: skip
    assert metadata["hardware"]["gpu_slot"]["place"] == 0 and metadata["epochs_trained"] == 1
    last = try_slot(devices, 1, folder)
    assert last is not None  # and the finished run let go of it too
    last.release()


def test_visible_devices_follow_the_scheduler(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3, 5")
    assert visible_devices(2) == ["3", "5"]
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    assert visible_devices(3) == ["0", "1", "2"]


def test_a_run_that_does_not_fit_is_refused_with_what_to_change():
    check_fits(free_bytes=8 * 2**30, parameters=110_000_000, device_name="GPU", runs_per_gpu=2)  # 4.5 GiB: fits
    # BERT-base measured 4.26 GB at its peak (fast loop, CUDA graphs): 4 GiB free must not pass.
    with pytest.raises(
        DoesNotFit,
        match=r"GPU has 4\.0 GiB free, and this run needs about 4\.5 GiB \(110M parameters.*Lower training\.runs_per_gpu",
    ):
        check_fits(free_bytes=4 * 2**30, parameters=110_000_000, device_name="GPU", runs_per_gpu=4)
    with pytest.raises(DoesNotFit):
        check_fits(free_bytes=2**30, parameters=110_000_000, device_name="GPU", runs_per_gpu=4)
