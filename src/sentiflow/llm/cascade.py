"""When does calling the LLM pay? An encoder-to-LLM cascade on the validation sentences both have scored.

For each run group (backbone, variant) and LLM entry: the encoder answers every sentence and the LLM is asked only
about those the encoder is least sure of (its own top probability; per seed, and for the seed majority with the
mean probability over seeds). The deferral curve gives accuracy against the share of sentences sent to the LLM,
from the encoder alone (0%) to the LLM alone (100%), beside two baselines on the same sentences: random deferral
(in expectation) and the oracle that sends the encoder's errors first. Two fitted policies are scored honestly:
a confidence threshold, and a weighted mean of the encoder's temperature-scaled probabilities and the LLM's.
Every threshold, temperature and weight is fitted on the other folds of the sentences than the one it is scored
on (cross-fitting), so the reported accuracy is what a new sentence would get.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from sentiflow.analysis.calibration import fit_temperature, log_probs, softmax
from sentiflow.analysis.metrics import bootstrap_ci, ci_settings
from sentiflow.analysis.plots import cascade_figure
from sentiflow.atomic import write_csv, write_json

SHARES = np.linspace(0.0, 1.0, 101)
WEIGHTS = np.linspace(0.0, 1.0, 21)
# What a threshold is compared with, as cascade.json states it for whoever applies the threshold to new inputs.
CONFIDENCE = "the encoder's probability of its predicted label; seed majority: the mean over seeds of the probability of the label most seeds chose"


def deferral_accuracy(
    order: np.ndarray, encoder_correct: np.ndarray, llm_correct: np.ndarray, counts: np.ndarray
) -> np.ndarray:
    """Accuracy when the first `k` sentences of `order` go to the LLM, for each k in `counts`."""
    gain = np.concatenate([[0], np.cumsum(llm_correct[order].astype(int) - encoder_correct[order].astype(int))])
    return (encoder_correct.sum() + gain[counts]) / len(order)


def curves(confidence: np.ndarray, encoder_correct: np.ndarray, llm_correct: np.ndarray, shares=SHARES) -> pd.DataFrame:
    """Accuracy against the share deferred: least confident first, random (expected), oracle (errors first)."""
    n = len(confidence)
    counts = np.rint(np.asarray(shares) * n).astype(int)
    by_confidence = np.argsort(confidence, kind="stable")
    # The oracle sends the encoder's errors first, those the LLM fixes before those it does not; then the
    # sentences the encoder has right, those the LLM also has right first: no order does better at any share.
    oracle = np.lexsort((~llm_correct, encoder_correct))
    enc, llm = encoder_correct.mean(), llm_correct.mean()
    return pd.DataFrame(
        {
            "share": counts / n,
            "deferred": counts,
            "confidence": deferral_accuracy(by_confidence, encoder_correct, llm_correct, counts),
            "random": enc + counts / n * (llm - enc),
            "oracle": deferral_accuracy(oracle, encoder_correct, llm_correct, counts),
        }
    )


def fold_of(n: int, folds: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).permutation(n) % folds


def fit_threshold(confidence: np.ndarray, encoder_correct: np.ndarray, llm_correct: np.ndarray) -> float:
    """The confidence below which sentences go to the LLM that maximises accuracy on these sentences.

    Candidates are the midpoints between neighbouring confidences (and below all / above all); ties go to the
    threshold that defers fewer sentences.
    """
    values = np.unique(confidence)
    candidates = np.concatenate([[-np.inf], (values[:-1] + values[1:]) / 2, [np.inf]])
    gains = [
        (llm_correct & ~encoder_correct)[confidence < t].sum() - (encoder_correct & ~llm_correct)[confidence < t].sum()
        for t in candidates
    ]
    return float(candidates[int(np.argmax(gains))])  # argmax takes the first maximum: the lowest threshold


def fit_weight(encoder_probs: np.ndarray, llm_probs: np.ndarray, gold: np.ndarray) -> float:
    """The encoder's weight in the probability mean that minimises cross-entropy on these sentences (grid of 0.05)."""
    losses = [
        -np.log(np.clip((w * encoder_probs + (1 - w) * llm_probs)[np.arange(len(gold)), gold], 1e-12, None)).mean()
        for w in WEIGHTS
    ]
    return float(WEIGHTS[int(np.argmin(losses))])


def crossfit(
    encoder_probs: np.ndarray,
    llm_probs: np.ndarray,
    gold: np.ndarray,
    encoder_pred: np.ndarray,
    confidence: np.ndarray,
    folds: int,
    seed: int,
) -> dict:
    """Out-of-fold decisions of both policies: each fold's threshold, temperature and weight come from the others."""
    fold = fold_of(len(gold), folds, seed)
    encoder_correct, llm_correct = encoder_pred == gold, llm_probs.argmax(1) == gold
    deferred = np.zeros(len(gold), dtype=bool)
    combined_pred = np.zeros(len(gold), dtype=int)
    thresholds, weights, temperatures = [], [], []
    for f in range(folds):
        fit, score = fold != f, fold == f
        threshold = fit_threshold(confidence[fit], encoder_correct[fit], llm_correct[fit])
        deferred[score] = confidence[score] < threshold
        temperature = fit_temperature(log_probs(encoder_probs[fit]), gold[fit])
        calibrated = softmax(log_probs(encoder_probs) / temperature)
        weight = fit_weight(calibrated[fit], llm_probs[fit], gold[fit])
        combined_pred[score] = (weight * calibrated[score] + (1 - weight) * llm_probs[score]).argmax(1)
        thresholds.append(threshold), weights.append(weight), temperatures.append(temperature)
    cascade_correct = np.where(deferred, llm_correct, encoder_correct)
    return {"fold": fold, "deferred": deferred, "cascade_correct": cascade_correct, "combined_correct": combined_pred == gold,
            "thresholds": thresholds, "weights": weights, "temperatures": temperatures}  # fmt: skip


def paired_difference_ci(a: np.ndarray, b: np.ndarray, ci: dict) -> tuple[float, float]:
    """Bootstrap interval of mean(a - b) over the same sentences (paired: a sentence is resampled with both)."""
    return bootstrap_ci(a.astype(float) - b.astype(float), **ci)


def analyse(
    encoder_probs: np.ndarray,
    llm_probs: np.ndarray,
    llm_seconds: np.ndarray,
    gold: np.ndarray,
    encoder_pred: np.ndarray,
    settings: dict,
    bootstrap: dict,
) -> tuple[pd.DataFrame, dict]:
    """Curves and the cross-fitted operating points of one encoder (one seed, or the seed majority) and one LLM."""
    confidence = encoder_probs[np.arange(len(gold)), encoder_pred]
    encoder_correct, llm_correct = encoder_pred == gold, llm_probs.argmax(1) == gold
    table = curves(confidence, encoder_correct, llm_correct)
    fitted = crossfit(encoder_probs, llm_probs, gold, encoder_pred, confidence, settings["folds"], settings["seed"])
    ci = ci_settings(bootstrap)
    cascade, combined = fitted["cascade_correct"], fitted["combined_correct"]
    errors = int((~encoder_correct).sum())
    point = {
        "sentences": len(gold),
        "encoder_accuracy": float(encoder_correct.mean()),
        "llm_accuracy": float(llm_correct.mean()),
        # The LLM alone against the encoder alone on the same sentences: which of the two answers better.
        **dict(zip(("llm_gain_ci_low", "llm_gain_ci_high"), paired_difference_ci(llm_correct, encoder_correct, ci))),
        "cascade_accuracy": float(cascade.mean()),
        **dict(zip(("cascade_ci_low", "cascade_ci_high"), bootstrap_ci(cascade, **ci))),
        **dict(zip(("gain_ci_low", "gain_ci_high"), paired_difference_ci(cascade, encoder_correct, ci))),
        "deferred_share": float(fitted["deferred"].mean()),
        "llm_calls": int(fitted["deferred"].sum()),
        "llm_seconds": float(llm_seconds[fitted["deferred"]].sum()),
        "thresholds": fitted["thresholds"],
        # For new inputs (the behavioural suite): fitted on all these sentences; the fold thresholds only score it.
        "threshold": fit_threshold(confidence, encoder_correct, llm_correct),
        "combined_accuracy": float(combined.mean()),
        **dict(zip(("combined_ci_low", "combined_ci_high"), bootstrap_ci(combined, **ci))),
        "combined_weights": fitted["weights"],
        "combined_llm_seconds": float(llm_seconds.sum()),
        "oracle_share": errors / len(gold),
        "oracle_accuracy": float((encoder_correct.sum() + (llm_correct & ~encoder_correct).sum()) / len(gold)),
    }
    return table, point


def run_cascade(name: str, llm_table_path, runs, labels: Sequence[str], bootstrap: dict, settings: dict, outputs
                ) -> pd.DataFrame:  # fmt: skip
    """The cascade rule for one dataset and LLM entry: curves, operating points and the figure, per run group of a
    `runs.RunSet`. `outputs` names the files: curves, points, summary, png, pdf."""

    llm = pd.read_csv(llm_table_path)
    llm = llm[llm["in_cascade"]].sort_values("index").reset_index(drop=True)
    llm_probs = llm[[f"llm_prob_{label}" for label in labels]].to_numpy()
    curve_tables, points = [], []
    for label, group in runs.groups.items():
        rows = pd.Series(np.arange(len(group.index)), index=group.index).loc[llm["index"]].to_numpy()
        probs, gold = group.probs()[:, rows], group.gold[rows]  # seeds x sentences x classes
        encoders = [(f"seed {seed}", probs[i], probs[i].argmax(1)) for i, seed in enumerate(group.seeds)]
        encoders.append(("seed majority", probs.mean(0), group.majority()[rows]))
        for which, encoder_probs, pred in encoders:
            table, point = analyse(
                encoder_probs, llm_probs, llm["llm_seconds"].to_numpy(), gold, pred, settings, bootstrap
            )
            curve_tables.append(table.assign(backbone=label, encoder=which))
            points.append({"backbone": label, "encoder": which, "llm": name} | point)
    curve_table = pd.concat(curve_tables, ignore_index=True) if curve_tables else pd.DataFrame()
    point_table = pd.DataFrame(points)
    summary = {"llm": name, "sentences": len(llm), "settings": settings, "confidence": CONFIDENCE,
               "missing_runs": runs.missing, "backbones": {}}  # fmt: skip
    for label, rows in point_table.groupby("backbone", sort=False) if len(point_table) else []:
        majority = rows[rows["encoder"] == "seed majority"].iloc[0].to_dict()
        seeds = rows[rows["encoder"] != "seed majority"]
        summary["backbones"][label] = majority | {
            "seed_cascade_accuracy_mean": float(seeds["cascade_accuracy"].mean()),
            "seed_cascade_accuracy_sd": float(seeds["cascade_accuracy"].std(ddof=1)) if len(seeds) > 1 else None,
            "seed_encoder_accuracy_mean": float(seeds["encoder_accuracy"].mean()),
        }
    write_csv(outputs["curves"], curve_table)
    written = point_table.copy()
    for column in ("thresholds", "combined_weights") if len(written) else ():  # one value per fold, as text
        written[column] = written[column].map(lambda values: " ".join(f"{x:.6g}" for x in values))
    write_csv(outputs["points"], written)
    write_json(outputs["summary"], summary)
    cascade_figure(curve_table, summary["backbones"], name, outputs["png"], outputs["pdf"])
    return point_table
