"""The report's slices table per dataset: where each run group's errors concentrate, read from the slices rule."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sentiflow.report.inputs import DatasetInputs
from sentiflow.report.settings import ReportSettings
from sentiflow.report.tables import read_json


@dataclass(frozen=True)
class SliceFiles:
    """The slices rule's table and summary."""

    table: Path
    summary: Path


def read(files: SliceFiles | None, inputs: DatasetInputs, settings: ReportSettings) -> dict:
    """The section's part of a dataset's context (sentiflow.report.sections): `slices`, also where the rule is off."""
    return {"slices": collect(files)}


def collect(files: SliceFiles | None) -> dict:
    """Per run group its counts, its first `top` slices (leaves its trees fitted as holding more errors than their
    size predicts, ranked there), and the note that says why there are none; `enabled` false when the rule is off."""
    if files is None:
        return {"enabled": False, "groups": []}
    summary = read_json(files.summary)
    table = pd.read_csv(files.table, dtype={"found_by_folds": str}).replace({np.nan: None})
    top, folds = summary["settings"]["top"], summary["settings"]["folds"]
    groups = []
    for label, counts in summary["groups"].items():
        leaves = table[table["backbone"] == label]
        rows = leaves[leaves["fit_excess_errors"] > 0].head(top)
        groups.append(counts | {
            "label": label, "rows": rows.to_dict("records"), "leaves": len(leaves),
            "above": int(leaves["above_heldout_rate"].astype(bool).sum()),
            "every_fold": int((leaves["found_by_folds"].str.count(r"\+") + 1 == folds).sum()),
        })  # fmt: skip
    return {"enabled": True, "groups": groups, "settings": summary["settings"], "features": summary["features"]}
