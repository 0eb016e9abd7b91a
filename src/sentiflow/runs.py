"""Read finished training runs back (the outputs documented in docs/outputs.md)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd



class MissingRuns(RuntimeError):
    pass


def select_epoch(history: pd.DataFrame, which: str) -> int:
    """'best': highest validation accuracy (earliest on ties), as the checkpoint; 'last': the final epoch."""
    if which == "last":
        return int(history["epoch"].max())
    if which == "best":
        return int(history.loc[history["val_accuracy"].idxmax(), "epoch"])
    raise ValueError(f"epoch selection must be 'best' or 'last', not {which!r}")


@dataclass
class Run:
    backbone: str
    seed: int
    folder: Path
    metadata: dict
    _tables: dict = field(default_factory=dict, repr=False)

    @property
    def variant(self) -> str:
        return self.metadata.get("variant", "base")

    @property
    def backbone_key(self) -> str:
        """The `backbones:` key; `backbone` is the run group's label, which adds the variant."""
        return self.metadata.get("backbone_key", self.backbone)

    def table(self, name: str) -> pd.DataFrame:
        if name not in self._tables:
            self._tables[name] = pd.read_csv(self.folder / f"{name}.csv")
        return self._tables[name]

    @property
    def history(self) -> pd.DataFrame:
        return self.table("history")

    def epoch(self, which: str) -> int:
        return select_epoch(self.history, which)

    def predictions(self, which: str, split: str = "validation") -> pd.DataFrame:
        """The predictions of the selected epoch ('best' or 'last'), in index order."""
        table = self.table("predictions" if split == "validation" else "holdout_predictions")
        chosen = table[table["epoch"] == self.epoch(which)]
        return chosen.sort_values("index").reset_index(drop=True)


def load_runs(metadata_paths, expected: list[tuple[str, int]], allow_partial: bool = False) -> tuple[list[Run], list[dict]]:
    """Load the runs whose metadata.json is given; every expected (backbone, seed) must be among them.

    Returns (runs in the expected order, missing runs). Missing runs are an error unless `allow_partial`.
    """
    expected = [(str(backbone), int(seed)) for backbone, seed in expected]  # config gives lists
    found = {}
    for path in map(Path, metadata_paths):
        if path.is_file():
            metadata = json.loads(path.read_text())
            found[(metadata["run_name"], int(metadata["seed"]))] = Run(metadata["run_name"], int(metadata["seed"]), path.parent, metadata)
    missing = [{"backbone": b, "seed": s} for b, s in expected if (b, s) not in found]
    if missing and not allow_partial:
        names = ", ".join(f"{m['backbone']} seed {m['seed']}" for m in missing)
        raise MissingRuns(f"{len(missing)} of {len(expected)} configured runs are missing ({names}); "
                          "finish them, or set analysis.allow_partial: true to analyse the rest")
    if len(missing) == len(expected):
        raise MissingRuns("none of the configured runs has finished; nothing to analyse")
    return [found[key] for key in expected if key in found], missing


def by_backbone(runs: list[Run]) -> dict[str, list[Run]]:
    """The runs grouped by backbone, in the configured order of backbones and seeds."""
    grouped: dict[str, list[Run]] = {}
    for run in runs:
        grouped.setdefault(run.backbone, []).append(run)
    return grouped
