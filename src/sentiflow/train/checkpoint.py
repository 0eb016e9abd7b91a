"""Epoch-end resume state and the best-epoch checkpoint, both written atomically."""

from __future__ import annotations

import copy
import os
import random
import shutil
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from sentiflow.atomic import aside_path, atomic_path

STATE_FILE = "state.pt"
BEST = "best"  # the best-epoch checkpoint inside the resume folder
TABLES = ("history", "steps", "predictions", "holdout_predictions")


def rng_state() -> dict:
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _to_host(value, pinned: dict | None, key: tuple = ()):
    """A copy of a state (nested dicts, lists, tensors) on the host, detached from training.

    With `pinned` (a dict of reusable page-locked buffers, keyed by the tensor's place in the state), a CUDA tensor
    is copied into its buffer asynchronously, in stream order after the epoch's last kernel: the training thread
    does not wait for the copy, and later kernels that change the weights run after it.
    """
    if isinstance(value, torch.Tensor):
        if pinned is None or value.device.type != "cuda":
            return value.detach().to("cpu", copy=True)
        buffer = pinned.get(key)
        if buffer is None or buffer.shape != value.shape or buffer.dtype != value.dtype:
            buffer = pinned[key] = torch.empty(value.shape, dtype=value.dtype, pin_memory=True)
        return buffer.copy_(value.detach(), non_blocking=True)
    if isinstance(value, dict):
        return {k: _to_host(v, pinned, (*key, k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_to_host(v, pinned, (*key, i)) for i, v in enumerate(value))
    return copy.deepcopy(value)


def snapshot(*, model, optimizer, scheduler, progress: dict, tables: dict[str, pd.DataFrame], pinned=None) -> dict:
    """Everything a resume state holds, copied off the device now, so training may go on while it is written.

    With `pinned` buffers the copies of CUDA tensors may still be in flight: `state["ready"]` is the CUDA event
    to wait for before reading them (None when every copy is done).
    """
    state = {
        "model": _to_host(model.state_dict(), pinned, ("model",)),
        "optimizer": _to_host(optimizer.state_dict(), pinned, ("optimizer",)),
        "scheduler": copy.deepcopy(scheduler.state_dict()),
        "rng": rng_state(),
        "progress": copy.deepcopy(progress),
        "tables": {name: frame.copy() for name, frame in tables.items()},
        "ready": None,
    }
    if pinned:
        state["ready"] = torch.cuda.Event()
        state["ready"].record()
    return state


def write_resume_state(folder: str | Path, state: dict, *, model, tokenizer, new_best: bool) -> None:
    """Write a snapshot as the resume state, swapped in as one folder.

    The best-epoch checkpoint lives in the same folder so that state and checkpoint always agree: it is
    written afresh (from the snapshot's weights) when this epoch is the new best, and hard-linked (no copy)
    from the previous state otherwise.
    """
    folder = Path(folder)
    if state["ready"] is not None:  # the asynchronous device-to-host copies of the snapshot
        state["ready"].synchronize()
    with atomic_path(folder, directory=True) as tmp:
        torch.save(
            {key: state[key] for key in ("model", "optimizer", "scheduler", "rng", "progress")}, tmp / STATE_FILE
        )
        for name in TABLES:
            state["tables"][name].to_parquet(tmp / f"{name}.parquet", index=False)
        if new_best:
            model.save_pretrained(tmp / BEST, state_dict=state["model"], safe_serialization=True)
            tokenizer.save_pretrained(tmp / BEST)
        elif (folder / BEST).exists():  # absent only when stopped before the first epoch ended
            shutil.copytree(folder / BEST, tmp / BEST, copy_function=os.link)


class StateWriter:
    """Writes epoch-end resume states on a background thread, one at a time, while the next epoch trains.

    The snapshot is taken on the training thread, so what is written is exactly the state at the end of the
    epoch; on a GPU it is an asynchronous copy into page-locked host memory, ordered before the next epoch's
    kernels, so the training thread does not wait for it (the writer thread does). A kill during a write leaves the previous complete state (the folder swap is
    atomic), from which a rerun repeats one epoch and ends with the same numbers. `wait()` before anything
    that needs the state on disk: a mid-epoch save on a signal, and publishing the best checkpoint.
    """

    def __init__(self):
        # Page-locked host buffers for CUDA states, reused by every snapshot: a state is written before the next
        # snapshot is taken (submit waits), so one set suffices.
        self.pinned: dict | None = {} if torch.cuda.is_available() else None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self.seconds = {"snapshot": 0.0, "write": 0.0, "waited": 0.0}  # the training thread pays snapshot + waited

    def submit(
        self, folder, *, model, optimizer, scheduler, progress: dict, tables: dict, tokenizer, new_best: bool
    ) -> None:
        self.wait()
        started = time.perf_counter()
        state = snapshot(
            model=model, optimizer=optimizer, scheduler=scheduler, progress=progress, tables=tables, pinned=self.pinned
        )
        self.seconds["snapshot"] += time.perf_counter() - started

        def write():
            began = time.perf_counter()
            try:
                write_resume_state(folder, state, model=model, tokenizer=tokenizer, new_best=new_best)
            except BaseException as err:  # raised on the training thread by the next wait()
                self._error = err
            self.seconds["write"] += time.perf_counter() - began

        self._thread = threading.Thread(target=write, name="resume-state-writer", daemon=False)
        self._thread.start()

    def wait(self) -> None:
        if self._thread is not None:
            started = time.perf_counter()
            self._thread.join()
            self.seconds["waited"] += time.perf_counter() - started
            self._thread = None
        if self._error is not None:
            error, self._error = self._error, None
            raise error


def load_resume_state(folder: str | Path):
    """Return (state dict, tables) or None when there is nothing to resume from."""
    folder = Path(folder)
    aside = aside_path(folder)
    if not (folder / STATE_FILE).is_file() and (aside / STATE_FILE).is_file():
        # A kill between the two renames of the folder swap leaves only the previous state, set aside.
        shutil.rmtree(folder, ignore_errors=True)
        aside.rename(folder)
    if not (folder / STATE_FILE).is_file():
        return None
    state = torch.load(folder / STATE_FILE, map_location="cpu", weights_only=False)
    tables = {name: pd.read_parquet(folder / f"{name}.parquet") for name in TABLES}
    return state, tables


class ResumeStates:
    """One run's resume folder: load and restore a saved state, save new ones in the background, discard a stale one.

    `save` takes the run's progress record (anything with `elapsed` seconds and `to_state()`), adds the seconds
    trained since the last save, and hands a snapshot to the background writer.
    """

    def __init__(self, folder, model, optimizer, scheduler, tokenizer):
        self.folder = Path(folder)
        self.model, self.optimizer, self.scheduler, self.tokenizer = model, optimizer, scheduler, tokenizer
        self.writer = StateWriter()
        self._since = time.time()

    def load(self):
        return load_resume_state(self.folder)

    def discard(self) -> None:
        shutil.rmtree(self.folder)

    def restore(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        restore_rng(state["rng"])

    def session_seconds(self) -> float:
        """Seconds since the last call (or since this run started): training time not yet in the progress."""
        now = time.time()
        seconds, self._since = now - self._since, now
        return seconds

    def save(self, progress, tables: dict[str, pd.DataFrame], new_checkpoint: bool, wait: bool = False) -> None:
        progress.elapsed += self.session_seconds()
        self.writer.submit(self.folder, model=self.model, optimizer=self.optimizer, scheduler=self.scheduler,
                           progress=progress.to_state(), tables=tables, tokenizer=self.tokenizer,
                           new_best=new_checkpoint)  # fmt: skip
        if wait:
            self.writer.wait()

    def wait(self) -> None:
        self.writer.wait()
