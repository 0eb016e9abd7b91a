"""Whether each case of a behavioural suite fails, per model and seed, from its items' class probabilities.

The suite and the score files are the stage's contract (docs/outputs.md): `suite.jsonl` holds one case per line
(`texts`: MFT one text, INV and DIR the original then its perturbations), a score table one row per case, item and
seed with `prob_0` ... `prob_{K-1}` in the dataset's label order. A case fails
- MFT: when the predicted label is not among `expected_labels`;
- INV: when any perturbed item's predicted label differs from the original's;
- DIR: when the summed probability of `direction.labels` moves the forbidden way (`must_not`: increase or
  decrease) by more than `direction.tolerance` from the original to any perturbed item.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

TYPES = ("MFT", "INV", "DIR")
SUITE_COLUMNS = [
    "case",
    "test",
    "type",
    "probes",
    "source",
    "cluster",
    "texts",
    "texts_b",
    "expected_labels",
    "direction",
]


class SuiteError(ValueError):
    pass


def read_suite(path) -> pd.DataFrame:
    """The suite's cases in file order; a line that is not a case of a known type is refused, naming the line."""
    rows = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        case = json.loads(line)
        missing = [key for key in SUITE_COLUMNS if key not in case]
        if missing or case["type"] not in TYPES:
            problem = f"lacks {', '.join(missing)}" if missing else f"has type {case['type']!r}, not one of {TYPES}"
            raise SuiteError(f"{path} line {number} {problem}")
        rows.append(case)
    suite = pd.DataFrame(rows, columns=SUITE_COLUMNS)
    if suite["case"].duplicated().any():
        raise SuiteError(f"{path} repeats case {suite.loc[suite['case'].duplicated(), 'case'].iloc[0]!r}")
    return suite


def check_labels(suite: pd.DataFrame, labels: Sequence[str], path) -> None:
    """Every label a case expects or watches must be one of the dataset's, else the case is named."""
    for case in suite.to_dict("records"):
        named = (case["expected_labels"] or []) + ((case["direction"] or {}).get("labels") or [])
        unknown = [label for label in named if label not in labels]
        if unknown:
            raise SuiteError(f"{path}: case {case['case']!r} names label(s) {unknown} not among {list(labels)}")


def read_scores(path, classes: int) -> pd.DataFrame:
    """A score table (case, item, seed, prob_0 ... prob_{K-1}), checked for the dataset's number of classes."""
    scores = pd.read_parquet(path)
    wanted = ["case", "item", "seed", *prob_columns(classes)]
    missing = [column for column in wanted if column not in scores]
    if missing:
        raise SuiteError(f"{path} lacks column(s) {', '.join(missing)}")
    return scores[wanted]


def prob_columns(classes: int) -> list[str]:
    return [f"prob_{k}" for k in range(classes)]


class ScoreTable:
    """A score table sorted by case, seed and item, each case's rows found by position (a lookup per case in a
    pandas index of repeated keys would cost a scan of the table)."""

    def __init__(self, scores: pd.DataFrame, classes: int):
        ordered = scores.sort_values(["case", "seed", "item"], kind="stable")
        self.probs = ordered[prob_columns(classes)].to_numpy()
        self.predicted = ordered["pred"].to_numpy() if "pred" in ordered else self.probs.argmax(1)
        self.seeds = sorted(int(seed) for seed in ordered["seed"].unique())
        names, starts, counts = np.unique(ordered["case"].to_numpy(), return_index=True, return_counts=True)
        self.rows = {name: (start, count) for name, start, count in zip(names, starts, counts)}

    def case(self, name: str, items: int) -> tuple[np.ndarray, np.ndarray] | None:
        """seeds x items x classes of one case and the predicted labels (seeds x items: the table's `pred` where it
        has one, else the most probable class), or None when an item or seed is missing (the case was not scored)."""
        start, count = self.rows.get(name, (0, 0))
        if count != len(self.seeds) * items:
            return None
        shape = (len(self.seeds), items)
        return self.probs[start : start + count].reshape(*shape, -1), self.predicted[start : start + count].reshape(
            shape
        )


def failures(
    case: dict, probs: np.ndarray, labels: Sequence[str], predicted: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Per seed: whether the case fails, and the item that decides it (the first failing perturbed item; 0 for MFT,
    1 for a passing INV or DIR case). `probs`: seeds x items x classes; `predicted` (seeds x items) where the
    label is not the most probable class (the cascade's seed majority)."""
    predicted = probs.argmax(2) if predicted is None else predicted
    if case["type"] == "MFT":
        expected = [labels.index(label) for label in case["expected_labels"]]
        return ~np.isin(predicted[:, 0], expected), np.zeros(len(probs), dtype=int)
    if case["type"] == "INV":
        changed = predicted[:, 1:] != predicted[:, :1]
    else:
        direction = case["direction"]
        moved = watched_change(probs, [labels.index(name) for name in direction["labels"]])[:, 1:]
        tolerance = direction["tolerance"]
        changed = moved > tolerance if direction["must_not"] == "increase" else moved < -tolerance
    return changed.any(1), 1 + changed.argmax(1)


def watched_change(probs: np.ndarray, watched: Sequence[int]) -> np.ndarray:
    """DIR: per seed and item, the watched classes' summed probability minus the original item's."""
    summed = probs[:, :, list(watched)].sum(2)
    return summed - summed[:, :1]


def case_outcomes(suite: pd.DataFrame, scores: pd.DataFrame, labels: Sequence[str]) -> pd.DataFrame:
    """One row per scored case and seed: `failed` and the deciding `item`; cases without scores are left out."""
    table = ScoreTable(scores, len(labels))
    rows = []
    for case in suite.to_dict("records"):
        scored = table.case(case["case"], len(case["texts"]))
        if scored is None:
            continue
        failed, item = failures(case, scored[0], labels, scored[1])
        rows += [{"case": case["case"], "seed": seed, "failed": bool(f), "item": int(i)}
                 for seed, f, i in zip(table.seeds, failed, item)]  # fmt: skip
    # Typed even without a row (a suite without a case): `failed` selects rows, and an empty column of objects
    # would select columns instead.
    return pd.DataFrame(rows, columns=["case", "seed", "failed", "item"]).astype(
        {"seed": int, "failed": bool, "item": int}
    )
