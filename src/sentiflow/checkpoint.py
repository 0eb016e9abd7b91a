"""Epoch-end resume state and the best-epoch checkpoint, both written atomically."""

from __future__ import annotations

import os
import random
import shutil
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


def save_resume_state(folder: str | Path, *, model, optimizer, scheduler, progress: dict, tables: dict[str, pd.DataFrame], tokenizer, new_best: bool) -> None:
    """Everything needed to continue after the epoch in `progress['epoch']`, swapped in as one folder.

    The best-epoch checkpoint lives in the same folder so that state and checkpoint always agree: it is
    written afresh when this epoch is the new best, and hard-linked (no copy) from the previous state otherwise.
    """
    folder = Path(folder)
    with atomic_path(folder, directory=True) as tmp:
        torch.save(
            {
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "rng": rng_state(),
                "progress": progress,
            },
            tmp / STATE_FILE,
        )
        for name in TABLES:
            tables[name].to_parquet(tmp / f"{name}.parquet", index=False)
        if new_best:
            model.save_pretrained(tmp / BEST, safe_serialization=True)
            tokenizer.save_pretrained(tmp / BEST)
        elif (folder / BEST).exists():  # absent only when stopped before the first epoch ended
            shutil.copytree(folder / BEST, tmp / BEST, copy_function=os.link)


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
