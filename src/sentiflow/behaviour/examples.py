"""The failing cases a reader can look at: per model, every case that fails in at least half its seeds, with the
original and the deciding perturbed text and what the model answered on each at its first failing seed."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from sentiflow.behaviour.outcomes import ScoreTable

COLUMNS = ["test", "type", "model", "kind", "case", "failed_seeds", "seeds", "seed", "item", "original", "original_b",
           "perturbed", "perturbed_b", "expected", "predicted_original", "predicted_perturbed", "watched_change"]  # fmt: skip


def expectation(case: dict) -> str:
    """What the case expects, in words: the passing labels, the invariance, or the forbidden direction."""
    if case["type"] == "MFT":
        return " or ".join(case["expected_labels"])
    if case["type"] == "INV":
        return "same label as the original"
    direction = case["direction"]
    return (
        f"P({' + '.join(direction['labels'])}) must not {direction['must_not']} by more than {direction['tolerance']:g}"
    )


def failing_cases(
    suite: pd.DataFrame, model: str, kind: str, outcomes: pd.DataFrame, scores: pd.DataFrame, labels: Sequence[str]
) -> pd.DataFrame:
    """One row per case `model` fails in at least half its seeds, in suite order, as its first failing seed
    answered it (the deciding item is that seed's)."""
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
        watched = None
        if case["type"] == "DIR":
            ids = [labels.index(name) for name in case["direction"]["labels"]]
            watched = float(probs[at, item, ids].sum() - probs[at, 0, ids].sum())
        rows.append({
            "test": case["test"], "type": case["type"], "model": model, "kind": kind, "case": case["case"],
            "failed_seeds": int(failing.loc[case["case"], "failed_seeds"]), "seeds": int(failing.loc[case["case"], "seeds"]),
            "seed": seed, "item": item, "original": case["texts"][0], "original_b": pair[0],
            "perturbed": case["texts"][item] if item else None, "perturbed_b": pair[item] if item else None,
            "expected": expectation(case), "predicted_original": labels[predicted[at, 0]],
            "predicted_perturbed": labels[predicted[at, item]] if item else None, "watched_change": watched,
        })  # fmt: skip
    return pd.DataFrame(rows, columns=COLUMNS)
