"""Whether each case of a peer's suite fails, per model and seed, by CheckList's rules (Ribeiro et al. 2020, as its
released code scores them).

Every answer is read in the suite's three labels, negative, neutral and positive (`polarity.answer_polarity`): a
binary model's by the neutral band on P(positive) (`behaviour.neutral_band`, CheckList's [1/3, 2/3]), a multi-class
model's (SST-5) by the polarity of the label it predicts, an LLM entry's the same way over the entry's label set. A
case fails
- MFT: when the answer's polarity is not among the case's expected ones (its label's, or neutral and positive for a
  `not_negative` case), for any of its texts;
- INV: when any perturbation's polarity differs from the original's *and* the probability of the original's polarity
  moved by more than the tolerance (`behaviour.suites.NAME.inv_tolerance`, CheckList's `Expect.inv(tolerance=0.1)`,
  the threshold its INV tests are built with), the probabilities being CheckList's three-label ones
  (`polarity.polarity_probabilities`). For a binary model read by the [1/3, 2/3] band every change of polarity moves
  that probability by at least 1/6, so the tolerance forgives none; for a multi-class model (whose polarity's
  probability is its labels' sum) it forgives a change of polarity between two nearly tied answers.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from sentiflow.behaviour.outcomes import Reading, SuiteError, prob_columns
from sentiflow.behaviour.polarity import POLARITIES, answer_polarity, polarity_probabilities

OUTCOME_COLUMNS = ["case", "seed", "failed", "item"]


def item_answers(scores: pd.DataFrame, reading: Reading) -> tuple[np.ndarray, np.ndarray]:
    """Per row of `scores`: the answer's polarity as an index into POLARITIES, and its three-label probabilities.
    A `pred` column (the cascade's seed majority) gives a multi-class model's predicted label."""
    probs = scores[prob_columns(len(reading.labels))].to_numpy(dtype=float)
    predicted = scores["pred"].to_numpy() if "pred" in scores else None
    said = answer_polarity(probs, reading.labels, reading.polarity, reading.band, predicted)
    index = np.zeros(len(said), dtype=int)
    for k, kind in enumerate(POLARITIES):
        index[said == kind] = k
    return index, polarity_probabilities(probs, reading.labels, reading.polarity, reading.band)


def case_outcomes(cases: Sequence[dict], scores: pd.DataFrame, reading: Reading, tolerance: float) -> pd.DataFrame:
    """One row per scored case and seed: `failed` and the deciding `item` (the first failing text; for a passing
    case 0 for MFT, 1 for INV). Cases without scores are left out; a case scored on some of its texts only is an
    error."""
    info = pd.DataFrame(
        {"case": [c["case"] for c in cases], "type": [c["type"] for c in cases],
         "texts": [len(c["texts"]) for c in cases]}
    ).set_index("case")  # fmt: skip
    allowed = np.array([[kind in (c["expected"] or ()) for kind in POLARITIES] for c in cases], dtype=bool)
    ordered = scores[scores["case"].isin(info.index)].sort_values(["case", "seed", "item"], kind="stable")
    ordered = ordered.reset_index(drop=True)
    if ordered.empty:
        return pd.DataFrame(columns=OUTCOME_COLUMNS).astype({"seed": int, "failed": bool, "item": int})
    said, probs = item_answers(ordered, reading)
    block = ordered.groupby(["case", "seed"], sort=False).ngroup().to_numpy()
    starts = np.r_[0, np.flatnonzero(np.diff(block)) + 1]
    sizes = np.diff(np.r_[starts, len(ordered)])
    keys = ordered.loc[starts, ["case", "seed"]].reset_index(drop=True)
    wanted = info.loc[keys["case"], "texts"].to_numpy()
    items = ordered["item"].to_numpy()
    complete = (sizes == wanted) & (items[starts + sizes - 1] == wanted - 1) & (items[starts] == 0)
    if not complete.all():
        case, seed = keys.loc[np.flatnonzero(~complete)[0]]
        raise SuiteError(f"the scores of case {case!r} at seed {seed} are not one row per text of the case")
    original = np.repeat(starts, sizes)  # each row's case's first text, at the same seed
    mft = info.loc[ordered["case"], "type"].to_numpy() == "MFT"
    case_index = info.index.get_indexer(ordered["case"])
    rows = np.arange(len(ordered))
    kept = said[original]
    moved = np.abs(probs[rows, kept] - probs[original, kept])
    fails = np.where(mft, ~allowed[case_index, said], (items > 0) & (said != kept) & (moved > tolerance))
    failed = np.logical_or.reduceat(fails, starts)
    first = np.array([items[s + np.argmax(fails[s : s + n])] for s, n in zip(starts, sizes)])
    passing = np.where(info.loc[keys["case"], "type"].to_numpy() == "MFT", 0, 1)
    return keys.assign(failed=failed, item=np.where(failed, first, passing)).astype(
        {"seed": int, "failed": bool, "item": int}
    )[OUTCOME_COLUMNS]
