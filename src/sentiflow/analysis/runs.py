"""Finished training runs read back (the outputs documented in docs/outputs.md), as one type for the analysis.

A `RunSet` is a dataset's runs in run groups (a backbone with a variant of the recipe), each group its seeds.
Every analysis reads a run at its selected epoch: the epoch of its published checkpoint, chosen by training
(`select_epoch`: on the held-out slice of train, or on validation as the study did, or the last). A group's
`probs()` stacks its seeds' probabilities (seeds x sentences x classes, in sentence-index order) and `majority()`
is the label most seeds chose, ties broken by the seed-mean probability (`seed_majority`: the one rule for a seed
majority, which the cascade, the behavioural suite's cascade and the error tables all follow).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd


class MissingRuns(RuntimeError):
    pass


def select_epoch(history: pd.DataFrame, which: str) -> int:
    """`best`: highest validation accuracy, `holdout`: highest holdout accuracy (earliest on ties); `last`."""
    if which == "last":
        return int(history["epoch"].max())
    column = {"best": "val_accuracy", "holdout": "holdout_accuracy"}.get(which)
    if column is None:
        raise ValueError(f"epoch selection must be 'best', 'holdout' or 'last', not {which!r}")
    return int(history.loc[history[column].idxmax(), "epoch"])


def seed_majority(probs: np.ndarray) -> np.ndarray:
    """Per sentence of `probs` (seeds x sentences x classes), the class most seeds predicted; a tie (an even number
    of seeds split evenly, or three seeds on three classes) goes to the tied class with the highest seed-mean
    probability, not to the lower class id: the id order of a dataset's labels says nothing about a sentence."""
    probs = np.asarray(probs, dtype=float)
    predicted = probs.argmax(2)
    votes = np.stack([(predicted == k).sum(0) for k in range(probs.shape[2])], axis=1)
    tied = votes == votes.max(1, keepdims=True)
    return np.where(tied, probs.mean(0), -np.inf).argmax(1)


@dataclass
class Run:
    label: str  # the run group's label: the backbone, plus +variant unless it is the base recipe
    seed: int
    folder: Path
    metadata: dict
    _tables: dict = field(default_factory=dict, repr=False)

    @property
    def variant(self) -> str:
        return self.metadata.get("variant", "base")

    @property
    def backbone_key(self) -> str:
        """The `backbones:` key; `label` adds the variant."""
        return self.metadata.get("backbone_key", self.label)

    @classmethod
    def read(cls, metadata_path) -> Run:
        """The run whose metadata.json is at `metadata_path`; its tables are read from that folder when asked for."""
        path = Path(metadata_path)
        metadata = json.loads(path.read_text())
        return cls(metadata["run_name"], int(metadata["seed"]), path.parent, metadata)

    def table(self, name: str) -> pd.DataFrame:
        if name not in self._tables:
            self._tables[name] = pd.read_csv(self.folder / f"{name}.csv")
        return self._tables[name]

    @property
    def history(self) -> pd.DataFrame:
        return self.table("history")

    def epoch(self, which: str = "selected") -> int:
        """`selected`: the epoch of the published checkpoint; `best` (on validation), `holdout`, `last`."""
        return int(self.metadata["selected_epoch"]) if which == "selected" else select_epoch(self.history, which)

    def predictions(self, which: str = "selected", split: str = "validation") -> pd.DataFrame:
        """The predictions of one epoch on `validation` or `holdout`, in index order."""
        table = self.table("predictions" if split == "validation" else "holdout_predictions")
        chosen = table[table["epoch"] == self.epoch(which)]
        return chosen.sort_values("index").reset_index(drop=True)


@dataclass
class RunGroup:
    """One backbone with one variant of the recipe, over its seeds."""

    label: str
    runs: list[Run]
    _probs: dict = field(default_factory=dict, repr=False)

    @property
    def seeds(self) -> list[int]:
        return [run.seed for run in self.runs]

    @property
    def variant(self) -> str:
        return self.runs[0].variant

    @property
    def backbone_key(self) -> str:
        return self.runs[0].backbone_key

    @cached_property
    def index(self) -> np.ndarray:
        return self.runs[0].predictions()["index"].to_numpy()

    @cached_property
    def gold(self) -> np.ndarray:
        return self.runs[0].predictions()["gold"].to_numpy()

    def probs(self, split: str = "validation") -> np.ndarray:
        """Class probabilities at each seed's selected epoch: seeds x sentences x classes, sentences in index order."""
        if split not in self._probs:
            tables = [run.predictions(split=split) for run in self.runs]
            self._probs[split] = np.stack([t.filter(like="prob_").to_numpy() for t in tables])
        return self._probs[split]

    def predictions(self) -> np.ndarray:
        """Each seed's predicted class: seeds x sentences."""
        return self.probs().argmax(2)

    def majority(self) -> np.ndarray:
        """Per sentence, the class most seeds predicted, ties to the highest seed-mean probability (`seed_majority`)."""
        return seed_majority(self.probs())

    def mean_probs(self) -> np.ndarray:
        return self.probs().mean(0)

    def correct(self) -> pd.DataFrame:
        """Whether each seed got each sentence right: rows are sentence indices, columns seeds."""
        return pd.DataFrame((self.predictions() == self.gold).T, index=self.index, columns=self.seeds)

    def wrong_in_seeds(self) -> np.ndarray:
        return (self.predictions() != self.gold).sum(0)


@dataclass
class RunSet:
    """A dataset's finished runs, in run groups in the configured order, and the configured runs that are missing."""

    groups: dict[str, RunGroup]
    expected: list[dict]
    missing: list[dict]

    @classmethod
    def load(cls, metadata_paths, expected=None, allow_partial: bool = False) -> RunSet:
        """The runs whose metadata.json is given; every expected [label, seed] must be among them unless
        `allow_partial` (then the missing ones are listed). Without `expected`: every run given, grouped in the
        order first given, possibly none (for readers of whatever has finished: the report, the plan)."""
        found = {}
        for path in map(Path, metadata_paths):
            if path.is_file():
                run = Run.read(path)
                found[run.label, run.seed] = run
        if expected is None:
            return cls._grouped(found, list(found), [])
        expected = [(str(label), int(seed)) for label, seed in expected]  # config gives lists
        missing = [{"backbone": label, "seed": seed} for label, seed in expected if (label, seed) not in found]
        if missing and not allow_partial:
            names = ", ".join(f"{m['backbone']} seed {m['seed']}" for m in missing)
            raise MissingRuns(
                f"{len(missing)} of {len(expected)} configured runs are missing ({names}); "
                "finish them, or set analysis.allow_partial: true to analyse the rest"
            )
        if len(missing) == len(expected):
            raise MissingRuns("none of the configured runs has finished; nothing to analyse")
        return cls._grouped(found, expected, missing)

    @classmethod
    def _grouped(cls, found: dict, expected: list[tuple[str, int]], missing: list[dict]) -> RunSet:
        """The found runs in run groups, groups and seeds in the order of `expected`."""
        groups: dict[str, RunGroup] = {}
        for key in expected:
            if key in found:
                groups.setdefault(key[0], RunGroup(key[0], [])).runs.append(found[key])
        return cls(groups, [{"backbone": label, "seed": seed} for label, seed in expected], missing)

    @property
    def runs(self) -> list[Run]:
        return [run for group in self.groups.values() for run in group.runs]

    @property
    def selection(self) -> str:
        """How the runs chose their epoch (holdout, best or last); runs of one dataset all choose alike."""
        return ", ".join(sorted({run.metadata["select_epoch"] for run in self.runs}))

    @property
    def validation_sentences(self) -> int:
        return len(next(iter(self.groups.values())).index)
