"""Whether each case of a behavioural suite fails, per model and seed, from its items' class probabilities.

The suite and the score files are the stage's contract (docs/outputs.md): `suite.jsonl` holds one case per line
(`texts`: MFT one text, INV and DIR the original then its perturbations), a score table one row per case, item and
seed with `prob_0` ... `prob_{K-1}` in the dataset's label order. A case fails
- MFT: when the answer's polarity (`polarity.answer_polarity`: on a binary dataset by the neutral band) is not
  among `expected_polarity`; for a test that names labels (`expected_polarity` null), when the predicted label is
  not among `expected_labels`;
- INV: when any perturbed item's predicted label differs from the original's;
- DIR: when the watched labels' summed probability P moves the forbidden way (`must_not`: increase or decrease) by
  more than `direction.tolerance` from the original to any perturbed item, measured on `direction.scale`: the
  log-odds log(P / (1 - P)) (`logit`), or P itself (`probability`, CheckList's).

On the probability scale a case whose original P lies within the tolerance of the bound it would have to cross (P
above 0.9 with tolerance 0.1 and must_not increase) cannot fail whatever the model answers, and a confident model
passes by ceiling; the log-odds scale has no such ceiling. 1 - P is summed from the unwatched labels' probabilities
rather than subtracted from 1, so a float32 probability that rounds to 1 keeps its log-odds; both are floored at
PROBABILITY_FLOOR (1e-12), which puts the log-odds in [-27.6, 27.6] where a probability is exactly 0 or 1 (an
underflowed softmax, an LLM's rounded answer). Each (case, seed) says whether it `can_fail`: MFT and INV cases
always can; a DIR case can when its original's value lies more than the tolerance from the scale's bound.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from sentiflow.behaviour.polarity import answer_polarity

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
    "edits",
    "expected_labels",
    "expected_polarity",
    "direction",
]
PROBABILITY_FLOOR = 1e-12
OUTCOME_COLUMNS = ["case", "seed", "failed", "item", "can_fail"]


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


@dataclass(frozen=True)
class Reading:
    """How answers are read: the dataset's labels, their polarity and the neutral band of a binary model
    (`behaviour.neutral_band`; needed only where an MFT case expects polarities)."""

    labels: Sequence[str]
    polarity: Mapping[str, str | None] = field(default_factory=dict)
    band: Sequence[float] | None = None


def failures(case: dict, probs: np.ndarray, reading: Reading, predicted: np.ndarray | None = None
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """Per seed: whether the case fails, the item that decides it (the first failing perturbed item; 0 for MFT,
    1 for a passing INV or DIR case) and whether it could fail at all. `probs`: seeds x items x classes;
    `predicted` (seeds x items) where the label is not the most probable class (the cascade's seed majority)."""
    labels, seeds = list(reading.labels), len(probs)
    predicted = probs.argmax(2) if predicted is None else predicted
    always = np.ones(seeds, dtype=bool)
    if case["type"] == "MFT":
        if case["expected_polarity"]:
            said = answer_polarity(probs[:, 0], labels, reading.polarity, reading.band, predicted[:, 0])
            failed = ~np.isin(said, case["expected_polarity"])
        else:
            failed = ~np.isin(predicted[:, 0], [labels.index(label) for label in case["expected_labels"]])
        return failed, np.zeros(seeds, dtype=int), always
    if case["type"] == "INV":
        changed = predicted[:, 1:] != predicted[:, :1]
        return changed.any(1), 1 + changed.argmax(1), always
    direction = case["direction"]
    watched = [labels.index(name) for name in direction["labels"]]
    value = watched_value(probs, watched, direction["scale"])
    moved, tolerance, (low, high) = (
        value[:, 1:] - value[:, :1],
        direction["tolerance"],
        scale_bounds(direction["scale"]),
    )
    if direction["must_not"] == "increase":
        changed, can_fail = moved > tolerance, value[:, 0] + tolerance < high
    else:
        changed, can_fail = moved < -tolerance, value[:, 0] - tolerance > low
    return changed.any(1), 1 + changed.argmax(1), can_fail


def watched_value(probs: np.ndarray, watched: Sequence[int], scale: str) -> np.ndarray:
    """DIR: per seed and item, the watched classes' summed probability P, or its log-odds (see the module)."""
    summed = probs[:, :, list(watched)].sum(2)
    if scale == "probability":
        return summed
    rest = np.delete(probs, list(watched), axis=2).sum(2)
    return np.log(np.maximum(summed, PROBABILITY_FLOOR)) - np.log(np.maximum(rest, PROBABILITY_FLOOR))


def scale_bounds(scale: str) -> tuple[float, float]:
    """The lowest and highest value a watched quantity can take on `scale`."""
    return (0.0, 1.0) if scale == "probability" else (math.log(PROBABILITY_FLOOR), -math.log(PROBABILITY_FLOOR))


def watched_change(probs: np.ndarray, watched: Sequence[int], scale: str) -> np.ndarray:
    """DIR: per seed and item, the watched value minus the original item's."""
    value = watched_value(probs, watched, scale)
    return value - value[:, :1]


def case_outcomes(suite: pd.DataFrame, scores: pd.DataFrame, reading: Reading) -> pd.DataFrame:
    """One row per scored case and seed: `failed`, the deciding `item` and `can_fail`; cases without scores are
    left out."""
    table = ScoreTable(scores, len(reading.labels))
    rows = []
    for case in suite.to_dict("records"):
        scored = table.case(case["case"], len(case["texts"]))
        if scored is None:
            continue
        failed, item, can_fail = failures(case, scored[0], reading, scored[1])
        rows += [{"case": case["case"], "seed": seed, "failed": bool(f), "item": int(i), "can_fail": bool(c)}
                 for seed, f, i, c in zip(table.seeds, failed, item, can_fail)]  # fmt: skip
    # Typed even without a row (a suite without a case): `failed` selects rows, and an empty column of objects
    # would select columns instead.
    return pd.DataFrame(rows, columns=OUTCOME_COLUMNS).astype(
        {"seed": int, "failed": bool, "item": int, "can_fail": bool}
    )


def room(suite: pd.DataFrame, outcomes: pd.DataFrame) -> pd.DataFrame:
    """Per test and seed (as text), and per test over all seeds (`all`): how many scored (case, seed) pairs could
    fail (`can_fail`)."""
    scored = outcomes.merge(suite[["case", "test"]], on="case")
    per_seed = scored.groupby(["test", "seed"], sort=False)["can_fail"].sum().reset_index()
    over_seeds = scored.groupby("test", sort=False)["can_fail"].sum().reset_index().assign(seed="all")
    table = pd.concat([per_seed.assign(seed=per_seed["seed"].astype(str)), over_seeds], ignore_index=True)
    return table.astype({"can_fail": int})[["test", "seed", "can_fail"]]
