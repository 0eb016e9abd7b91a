"""Calibration metrics and temperature scaling that never fits and scores on the same sentences."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import optimize

from sentiflow.analysis.runs import RunSet
from sentiflow.atomic import write_csv

_TINY = np.finfo(np.float32).tiny  # probabilities come from float32 softmax; log(0) must not happen


def log_probs(probs: np.ndarray) -> np.ndarray:
    """Log-probabilities serve as logits: softmax(log p / T) is temperature scaling of the original logits."""
    return np.log(np.clip(probs, _TINY, 1.0))


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def reliability_bins(probs: np.ndarray, gold: np.ndarray, bins: int = 15) -> pd.DataFrame:
    """Equal-width bins of the predicted class's probability: count, accuracy and mean confidence per bin."""
    confidence = probs.max(1)
    correct = probs.argmax(1) == gold
    which = np.minimum((confidence * bins).astype(int), bins - 1)  # confidence 1.0 falls in the last bin
    rows = []
    for b in range(bins):
        members = which == b
        rows.append(
            {
                "bin_low": b / bins,
                "bin_high": (b + 1) / bins,
                "count": int(members.sum()),
                "accuracy": float(correct[members].mean()) if members.any() else math.nan,
                "confidence": float(confidence[members].mean()) if members.any() else math.nan,
            }
        )
    return pd.DataFrame(rows)


def classwise_ece(probs: np.ndarray, gold: np.ndarray, bins: int = 15) -> float:
    """Class-wise ECE (Kull et al., 2019): for every class, the binned gap between p(class) and how often it is the
    gold class, averaged over classes. Top-label ECE looks at the predicted class only; this sees every class."""
    gaps = []
    for k in range(probs.shape[1]):
        p, hit = probs[:, k], gold == k
        which = np.minimum((p * bins).astype(int), bins - 1)
        counts = np.bincount(which, minlength=bins)
        filled = counts > 0
        mean_p = np.bincount(which, weights=p, minlength=bins)[filled] / counts[filled]
        rate = np.bincount(which, weights=hit, minlength=bins)[filled] / counts[filled]
        gaps.append(float((np.abs(rate - mean_p) * counts[filled]).sum() / len(gold)))
    return float(np.mean(gaps))


def calibration_metrics(probs: np.ndarray, gold: np.ndarray, bins: int = 15) -> dict:
    table = reliability_bins(probs, gold, bins)
    filled = table[table["count"] > 0]
    gaps = (filled["accuracy"] - filled["confidence"]).abs()
    onehot = np.eye(probs.shape[1])[gold]
    return {
        "accuracy": float((probs.argmax(1) == gold).mean()),
        "mean_confidence": float(probs.max(1).mean()),
        "ece": float((gaps * filled["count"]).sum() / len(gold)),
        "classwise_ece": classwise_ece(probs, gold, bins),
        "mce": float(gaps.max()),
        "brier": float(((probs - onehot) ** 2).sum(1).mean()),
        "nll": float(-np.log(np.clip(probs[np.arange(len(gold)), gold], _TINY, 1.0)).mean()),
    }


def nll_at(logits: np.ndarray, gold: np.ndarray, temperature: float) -> float:
    z = logits / temperature
    z = z - z.max(axis=1, keepdims=True)
    return float((np.log(np.exp(z).sum(1)) - z[np.arange(len(gold)), gold]).mean())


def fit_temperature(logits: np.ndarray, gold: np.ndarray, low: float = 0.01, high: float = 100.0) -> float:
    """The temperature minimising NLL: scipy's bounded scalar minimiser on log T.

    NLL is convex in 1/T, hence unimodal in log T, so a bracketing search cannot stop at a false minimum.
    """
    result = optimize.minimize_scalar(
        lambda u: nll_at(logits, gold, math.exp(u)),
        bounds=(math.log(low), math.log(high)),
        method="bounded",
        options={"xatol": 1e-6},
    )
    if not result.success:
        raise RuntimeError(f"temperature fit did not converge: {result.message}")
    return math.exp(result.x)


def crossfit_temperature(
    logits: np.ndarray, gold: np.ndarray, folds: int = 2, seed: int = 0
) -> tuple[np.ndarray, list[float]]:
    """Calibrated probabilities where every sentence is scaled by a temperature fitted on the other folds."""
    assignment = np.random.default_rng(seed).permutation(len(gold)) % folds
    calibrated = np.empty_like(logits)
    temperatures = []
    for fold in range(folds):
        scored = assignment == fold
        t = fit_temperature(logits[~scored], gold[~scored])
        calibrated[scored] = softmax(logits[scored] / t)
        temperatures.append(t)
    return calibrated, temperatures


def analyse_calibration(runs: RunSet, settings: dict, holdout_rows: int, outputs) -> pd.DataFrame:
    """The calibration rule: metrics before and after temperature scaling for every run, pooled reliability bins.
    `settings`: analysis.calibration (method, bins, folds, seed); `outputs` names the files: table, bins.

    The temperature is fitted on the held-out slice of train when there is one (and method allows it),
    otherwise by cross-fitting on validation; either way never on the sentences it is scored on. The holdout
    also chose each run's epoch (`select_epoch`), by accuracy; the temperature, fitted there afterwards, changes
    no prediction, and validation, where both are scored, was used for neither.
    """

    method = settings["method"]
    if method == "auto":
        method = "holdout" if holdout_rows > 0 else "crossfit"
    if method == "holdout" and holdout_rows == 0:
        raise ValueError("analysis.calibration.method is 'holdout' but dataset.holdout_rows is 0: there is no holdout")
    rows, pooled = [], {}
    for label, group in runs.groups.items():
        gold = group.gold
        for i, seed in enumerate(group.seeds):
            probs = group.probs()[i]
            logits = log_probs(probs)
            if method == "holdout":
                held = group.runs[i].predictions(split="holdout")
                temperature = fit_temperature(log_probs(held.filter(like="prob_").to_numpy()), held["gold"].to_numpy())
                scaled, temperatures = softmax(logits / temperature), [temperature]
            else:
                scaled, temperatures = crossfit_temperature(logits, gold, settings["folds"], settings["seed"])
            for stage, p in (("before", probs), ("after", scaled)):
                temperature = float(np.mean(temperatures)) if stage == "after" else 1.0
                metrics = calibration_metrics(p, gold, settings["bins"])
                rows.append({"backbone": label, "seed": seed, "stage": stage, "method": method, "temperature": temperature,
                             **metrics})  # fmt: skip
                pooled.setdefault((label, stage), []).append((p, gold))
    diagram = []
    for (label, stage), parts in pooled.items():
        p, g = np.concatenate([x for x, _ in parts]), np.concatenate([y for _, y in parts])
        diagram.append(reliability_bins(p, g, settings["bins"]).assign(backbone=label, stage=stage))
    result = pd.DataFrame(rows)
    write_csv(outputs["table"], result)
    write_csv(outputs["bins"], pd.concat(diagram, ignore_index=True))
    return result
