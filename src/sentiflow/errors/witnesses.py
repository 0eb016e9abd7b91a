"""Label issues confirmed by independent witnesses, and how well the detection finds labels flipped on purpose.

Confident learning flags the sentences the encoders confidently disagree with; with one encoder family these are
mostly hard sentences whose gold label is right. A flag becomes a *confirmed* label issue only when independent
witnesses, LLM entries that never trained on the data, also read the sentence against its gold label: every
good-enough witness that scored it predicts another label than gold, and their mean probability of the encoders'
suggested label is at least `confirm_probability`. A witness is good enough when the lower end of the Wilson
interval of its validation accuracy lies above the majority class's share (and above `min_witness_accuracy`): a
witness that labels no better than always answering the commonest class says nothing about one sentence's label.

A stated rule rather than CROWDLAB (`cleanlab.multiannotator`): CROWDLAB weighs the encoders' probabilities into the
consensus, and they are the witness being checked; the rule keeps the encoders for finding candidates and the
witnesses for confirming them, and a reader can check each confirmation by hand.

`inject_flips` measures the whole detection: validation labels never train a model, so flipping a seeded share of the
judged sentences' labels and running the same detection on the same probabilities costs no training.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sentiflow.analysis.proportions import wilson_of_share
from sentiflow.errors.label_issues import find_issues

CONFIRMED, CANDIDATE = "confirmed", "candidate"


@dataclass(frozen=True)
class Rule:
    """The confirmation rule's settings (analysis.label_issues)."""

    confirm_probability: float = 0.7
    min_witness_accuracy: float | None = None
    confidence: float = 0.95

    @classmethod
    def from_settings(cls, settings: dict, confidence: float) -> Rule:
        return cls(settings["confirm_probability"], settings["min_witness_accuracy"], confidence)


def wilson(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a rate: honest at 0 and 1, where a bootstrap interval collapses to a point."""
    return wilson_of_share(successes / n if n else 0.0, n, confidence)


def witness_quality(gold: np.ndarray, probs: np.ndarray, rule: Rule) -> dict:
    """A witness's accuracy on the sentences it scored (rows of `probs` not NaN), its Wilson interval, the bar it must
    clear (the majority class's share of those sentences, or min_witness_accuracy if higher) and whether it does."""
    scored = ~np.isnan(probs).any(1)
    n = int(scored.sum())
    if n == 0:
        return {"sentences": 0, "accuracy": None, "ci": [None, None], "bar": None, "good": False}
    right = int((probs[scored].argmax(1) == gold[scored]).sum())
    low, high = wilson(right, n, rule.confidence)
    bar = max(np.bincount(gold[scored]).max() / n, rule.min_witness_accuracy or 0.0)
    return {"sentences": n, "accuracy": right / n, "ci": [low, high], "bar": float(bar), "good": bool(low > bar)}


def detect(gold: np.ndarray, encoders: dict[str, np.ndarray], witnesses: dict[str, np.ndarray], rule: Rule):
    """Candidates (cleanlab on the encoders' probabilities, `find_issues`) with their status and each witness's
    evidence (`{name}_predicted`, `{name}_prob_suggested`; NaN where it did not score the sentence), and each
    witness's quality. `witnesses[name]` holds sentences x classes probabilities, NaN rows where not scored."""
    gold = np.asarray(gold, dtype=int)
    found = find_issues(gold, encoders)
    quality = {name: witness_quality(gold, probs, rule) for name, probs in witnesses.items()}
    rows, suggested = found["position"].to_numpy(), found["suggested"].to_numpy()
    votes, backing = np.zeros(len(rows), dtype=int), np.ones(len(rows), dtype=bool)
    prob_sum = np.zeros(len(rows))
    for name, probs in witnesses.items():
        mine = probs[rows]
        scored = ~np.isnan(mine).any(1)
        found[f"{name}_predicted"] = np.where(scored, np.nan_to_num(mine).argmax(1), -1)
        found[f"{name}_prob_suggested"] = mine[np.arange(len(rows)), suggested] if len(rows) else []
        if quality[name]["good"]:
            votes += scored
            backing &= ~scored | (np.nan_to_num(mine).argmax(1) != gold[rows])
            prob_sum += np.where(scored, np.nan_to_num(mine[np.arange(len(rows)), suggested]), 0.0)
    mean_prob = np.divide(prob_sum, votes, out=np.full(len(rows), np.nan), where=votes > 0)
    confirmed = (votes > 0) & backing & (mean_prob >= rule.confirm_probability)
    found["witnesses"] = votes
    found["witness_prob_suggested"] = mean_prob
    found["status"] = np.where(confirmed, CONFIRMED, CANDIDATE)
    return found, quality


def flip_positions(judged: np.ndarray, share: float, classes: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A seeded `share` of the judged positions (at least one when any), each with a shift 1..classes-1 that moves
    its label to another class."""
    if not len(judged) or share == 0:
        return np.array([], dtype=int), np.array([], dtype=int)
    rng = np.random.default_rng(seed)
    count = max(1, round(share * len(judged)))
    flipped = np.sort(rng.choice(judged, count, replace=False))
    return flipped, rng.integers(1, classes, count)


def inject_flips(gold, encoders: dict, witnesses: dict, judged: np.ndarray, rule: Rule, flips: tuple) -> dict:
    """The detection run again with the labels of `flips` (`flip_positions`) changed: recall of the flips (as
    candidates and as confirmed issues) and flags on the judged sentences left unflipped, each with its Wilson
    interval. Those flags include the data's own label issues, so they bound the false flags from above."""
    gold = np.asarray(gold, dtype=int)
    flipped, shift = flips
    changed = gold.copy()
    classes = next(iter(encoders.values())).shape[1]
    changed[flipped] = (changed[flipped] + shift) % classes
    found, _ = detect(changed, encoders, witnesses, rule)
    flagged = {CANDIDATE: set(found["position"]), CONFIRMED: set(found.loc[found["status"] == CONFIRMED, "position"])}
    unflipped = np.setdiff1d(judged, flipped)
    result = {"judged": len(judged), "flipped": len(flipped), "unflipped": len(unflipped)}
    for kind, flags in flagged.items():
        hits = int(np.isin(flipped, list(flags)).sum())
        wrong = int(np.isin(unflipped, list(flags)).sum())
        name = "candidates" if kind == CANDIDATE else "confirmed"
        result[f"recall_{name}"] = hits / len(flipped) if len(flipped) else None
        result[f"recall_{name}_ci"] = list(wilson(hits, len(flipped), rule.confidence))
        result[f"unflipped_{name}"] = wrong
        result[f"unflipped_{name}_share"] = wrong / len(unflipped) if len(unflipped) else None
        result[f"unflipped_{name}_ci"] = list(wilson(wrong, len(unflipped), rule.confidence))
    return result


def as_probabilities(table: pd.DataFrame, index: np.ndarray, labels) -> np.ndarray:
    """A witness table's `llm_prob_{label}` columns as sentences x classes in the order of `index`, NaN rows for the
    sentences it did not score."""
    probs = table.set_index("index")[[f"llm_prob_{label}" for label in labels]].reindex(index)
    return probs.to_numpy(dtype=float)
