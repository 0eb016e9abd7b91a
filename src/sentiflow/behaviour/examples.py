"""The failing cases a reader can look at: per model, every case that fails in at least half its seeds, with the
original and the deciding perturbed text and what the model answered on each at its first failing seed."""

from __future__ import annotations

import pandas as pd

from sentiflow.behaviour.outcomes import Reading, ScoreTable, watched_change
from sentiflow.behaviour.polarity import answer_polarity

COLUMNS = ["test", "type", "model", "kind", "case", "failed_seeds", "seeds", "seed", "item", "original", "original_b",
           "perturbed", "perturbed_b", "expected", "predicted_original", "predicted_perturbed", "watched_change"]  # fmt: skip


def expectation(case: dict) -> str:
    """What the case expects, in words: the passing labels, the invariance, or the forbidden direction."""
    if case["type"] == "MFT":
        return " or ".join(case["expected_polarity"] or case["expected_labels"])
    if case["type"] == "INV":
        return "same label as the original"
    direction = case["direction"]
    watched = f"P({' + '.join(direction['labels'])})"
    measured = f"the log-odds of {watched}" if direction["scale"] == "logit" else watched
    return f"{measured} must not {direction['must_not']} by more than {direction['tolerance']:g}"


def failing_cases(
    suite: pd.DataFrame, model: str, kind: str, outcomes: pd.DataFrame, scores: pd.DataFrame, reading: Reading
) -> pd.DataFrame:
    """One row per case `model` fails in at least half its seeds, in suite order, as its first failing seed
    answered it (the deciding item is that seed's). An MFT case that expects polarities shows the answer's
    polarity; a DIR case its watched change on its own scale."""
    labels = list(reading.labels)
    per_case = outcomes.groupby("case", sort=False).agg(failed_seeds=("failed", "sum"), seeds=("seed", "size"))
    first = outcomes[outcomes["failed"]].groupby("case")[["item", "seed"]].first()
    failing = per_case[(per_case["failed_seeds"] > 0) & (2 * per_case["failed_seeds"] >= per_case["seeds"])]
    answers = ScoreTable(scores, len(labels))
    rows = []
    for case in suite[suite["case"].isin(failing.index)].to_dict("records"):
        item, seed = (int(x) for x in first.loc[case["case"]])
        pair = case["texts_b"] or [None] * len(case["texts"])
        probs, predicted = answers.case(case["case"], len(case["texts"]))
        at = answers.seeds.index(seed)
        watched, answered = None, labels[predicted[at, 0]]
        if case["type"] == "DIR":
            ids = [labels.index(name) for name in case["direction"]["labels"]]
            watched = float(watched_change(probs[at : at + 1], ids, case["direction"]["scale"])[0, item])
        if case["type"] == "MFT" and case["expected_polarity"]:
            answered = str(answer_polarity(probs[at, 0], labels, reading.polarity, reading.band, predicted[at, 0]))
        rows.append({
            "test": case["test"], "type": case["type"], "model": model, "kind": kind, "case": case["case"],
            "failed_seeds": int(failing.loc[case["case"], "failed_seeds"]), "seeds": int(failing.loc[case["case"], "seeds"]),
            "seed": seed, "item": item, "original": case["texts"][0], "original_b": pair[0],
            "perturbed": case["texts"][item] if item else None, "perturbed_b": pair[item] if item else None,
            "expected": expectation(case), "predicted_original": answered,
            "predicted_perturbed": labels[predicted[at, item]] if item else None, "watched_change": watched,
        })  # fmt: skip
    return pd.DataFrame(rows, columns=COLUMNS)
