"""Sentences whose gold label is likely wrong, found by confident learning (cleanlab), and what they cost in accuracy.

cleanlab's `find_label_issues` (Northcutt et al. 2021, "Confident Learning") compares each sentence's given label
with out-of-sample predicted probabilities; the validation predictions of a model never trained on validation are
such probabilities. It runs per backbone and on the backbones' mean probabilities (pooled), so a sentence flagged by
every backbone can be told from one flagged by a single model's quirk. What it flags are candidates: confident
errors of the encoders, mostly hard sentences; `witnesses` confirms a candidate only with independent evidence.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

ISSUE_COLUMNS = ["position", "gold", "suggested", "self_confidence", "suggested_confidence", "flagged_pooled",
                 "backbones_flagging", "flagged_by"]  # fmt: skip


def check_inputs(gold: np.ndarray, probs: np.ndarray, name: str) -> None:
    if probs.ndim != 2 or len(probs) != len(gold):
        raise ValueError(
            f"{name}: probabilities must be sentences x classes for {len(gold)} sentences, not {probs.shape}"
        )
    if len(gold) and (gold.min() < 0 or gold.max() >= probs.shape[1]):
        raise ValueError(f"{name}: gold labels must lie in 0..{probs.shape[1] - 1}")
    absent = np.flatnonzero(np.bincount(gold, minlength=probs.shape[1]) == 0)
    if len(absent):
        # cleanlab estimates a noise rate per class from the sentences given that class; without one it still
        # answers, but with a confident joint that has an empty row.
        raise ValueError(
            f"{name}: cleanlab needs every class among the gold labels; class(es) {absent.tolist()} have none"
        )


def flagged(gold: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """cleanlab's verdict per sentence, its default filter (prune by noise rate), in this process (n_jobs=1)."""
    from cleanlab.filter import find_label_issues

    return find_label_issues(labels=gold, pred_probs=probs, n_jobs=1)


def find_issues(gold: np.ndarray, probs_by_backbone: dict[str, np.ndarray]) -> pd.DataFrame:
    """Every sentence flagged by some backbone or by the pooled probabilities, least self-confident first: its
    position, gold label, suggested label (argmax of the pooled probabilities), self-confidence (pooled probability
    of gold), the pooled probability of the suggestion, whether the pooled run flags it, and which backbones do."""
    gold = np.asarray(gold, dtype=int)
    if not probs_by_backbone:
        raise ValueError("no backbone's probabilities were given")
    probs_by_backbone = {name: np.asarray(p, dtype=float) for name, p in probs_by_backbone.items()}
    for name, probs in probs_by_backbone.items():
        check_inputs(gold, probs, name)
    pooled = np.mean(list(probs_by_backbone.values()), axis=0)
    by_backbone = {name: flagged(gold, probs) for name, probs in probs_by_backbone.items()}
    by_pooled = flagged(gold, pooled)
    votes = np.sum(list(by_backbone.values()), axis=0)
    rows = np.flatnonzero(by_pooled | (votes > 0))
    suggested = pooled.argmax(1)
    table = pd.DataFrame({
        "position": rows, "gold": gold[rows], "suggested": suggested[rows],
        "self_confidence": pooled[rows, gold[rows]], "suggested_confidence": pooled[rows, suggested[rows]],
        "flagged_pooled": by_pooled[rows], "backbones_flagging": votes[rows].astype(int),
        "flagged_by": ["; ".join(name for name, f in by_backbone.items() if f[i]) for i in rows],
    }, columns=ISSUE_COLUMNS)  # fmt: skip
    return table.sort_values(["self_confidence", "position"]).reset_index(drop=True)


def judged_positions(n: int, sentences: int | None, seed: int) -> np.ndarray:
    """The validation positions the witnesses score and the flips are drawn from: all `n`, or a seeded sample."""
    if sentences is None or sentences >= n:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, sentences, replace=False))


def sensitivity(correct_by_backbone: dict[str, np.ndarray], flagged_mask: np.ndarray) -> pd.DataFrame:
    """Per backbone: accuracy on all sentences and without the flagged ones (`flagged_mask`, e.g.
    `np.isin(np.arange(n), issues["position"])`). `correct_by_backbone[name]` holds, per sentence, 0/1 correctness
    or the share of seeds that got it right."""
    flagged_mask = np.asarray(flagged_mask, dtype=bool)
    rows = []
    for name, correct in correct_by_backbone.items():
        correct = np.asarray(correct, dtype=float)
        if correct.shape != flagged_mask.shape:
            raise ValueError(f"{name}: {correct.shape[0]} sentences but a flag for {flagged_mask.shape[0]}")
        kept = correct[~flagged_mask]
        accuracy, without = float(correct.mean()), float(kept.mean()) if len(kept) else float("nan")
        rows.append({
            "backbone": name, "sentences": len(correct), "flagged": int(flagged_mask.sum()), "accuracy": accuracy,
            "accuracy_without_flagged": without, "difference": without - accuracy,
            "accuracy_on_flagged": float(correct[flagged_mask].mean()) if flagged_mask.any() else float("nan"),
        })  # fmt: skip
    return pd.DataFrame(rows)
