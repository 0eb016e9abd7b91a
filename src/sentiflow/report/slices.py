"""The report's slices table per dataset: where each run group's errors concentrate, read from the slices rule."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sentiflow.report import explore
from sentiflow.report.explore import Column
from sentiflow.report.inputs import DatasetInputs
from sentiflow.report.settings import ReportSettings
from sentiflow.report.tables import read_json


@dataclass(frozen=True)
class SliceFiles:
    """The slices rule's table and summary."""

    table: Path
    summary: Path


COLUMNS = [
    Column("backbone", "backbone", "category"), Column("rank", "rank", "number", 0), Column("slice", "slice", wide=True),
    Column("sentences", "sentences", "number", 0), Column("errors", "errors", "number", 0),
    Column("error_rate", "error rate", "number", 3), Column("error_rate_ci_low", "CI low", "number", 3),
    Column("error_rate_ci_high", "CI high", "number", 3), Column("heldout_error_rate", "held-out rate", "number", 3),
    Column("above", "interval above it", "category"), Column("share_of_errors", "share of errors", "number", 3),
    Column("excess_errors", "excess errors", "number", 1), Column("fit_error_rate", "rate where fitted", "number", 3),
    Column("found_by_folds", "folds", "category"),
]  # fmt: skip


def read(files: SliceFiles | None, inputs: DatasetInputs, settings: ReportSettings) -> dict:
    """The section's part of a dataset's context (sentiflow.report.sections): `slices`, also where the rule is off."""
    return {"slices": collect(files, inputs.name)}


def slices_table(table: pd.DataFrame, groups: list[str], name: str, shown: int) -> dict:
    """Every leaf of every run group as a table to explore: each group's first-ranked leaf, then each one's second,
    and so on, so the rows the page shows first are each group's top slices."""
    if table.empty:
        return explore.table(f"{name}-slices", COLUMNS, [], shown)
    order = table.assign(group=table["backbone"].map({g: i for i, g in enumerate(groups)}))
    rows = order.sort_values(["rank", "group"], kind="stable").to_dict("records")
    return explore.table(f"{name}-slices", COLUMNS, [row | {"above": bool(row["above_heldout_rate"])} for row in rows],
                         shown)  # fmt: skip


def collect(files: SliceFiles | None, name: str = "") -> dict:
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
    labels = list(summary["groups"])
    return {"enabled": True, "groups": groups, "settings": summary["settings"], "features": summary["features"],
            "explore": slices_table(table, labels, name, top * len(labels))}  # fmt: skip
