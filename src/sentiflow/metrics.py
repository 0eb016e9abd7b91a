"""Accuracy with honest uncertainty: bootstrap intervals over sentences, exact McNemar tests between models."""

from __future__ import annotations

import math
from itertools import combinations

import numpy as np
import pandas as pd

from sentiflow.atomic import write_csv, write_json
from sentiflow.runs import Run, load_runs, select_epoch


def bootstrap_ci(values: np.ndarray, samples: int = 10_000, confidence: float = 0.95, seed: int = 0) -> tuple[float, float]:
    """Percentile interval of the mean of `values` (one entry per sentence), resampling sentences.

    `values` may be 0/1 correctness or, over several seeds, the share of seeds that got a sentence right:
    either way the sentence is the unit that is resampled.
    """
    values = np.asarray(values, dtype=float)
    if len(values) == 0:
        return (math.nan, math.nan)
    rng = np.random.default_rng(seed)
    means = np.empty(samples)
    for start in range(0, samples, 1000):  # chunks keep memory at 1000 x n
        stop = min(start + 1000, samples)
        means[start:stop] = values[rng.integers(0, len(values), size=(stop - start, len(values)))].mean(axis=1)
    tail = (1 - confidence) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return float(low), float(high)


def mcnemar_exact(a_correct: np.ndarray, b_correct: np.ndarray) -> dict:
    """Exact (binomial) two-sided McNemar test on paired correctness of two models on the same sentences."""
    a_correct, b_correct = np.asarray(a_correct, bool), np.asarray(b_correct, bool)
    only_a = int((a_correct & ~b_correct).sum())
    only_b = int((~a_correct & b_correct).sum())
    n = only_a + only_b
    # P(X <= min) under Binomial(n, 1/2), doubled and capped at 1.
    tail = sum(math.comb(n, k) for k in range(min(only_a, only_b) + 1)) / 2**n if n else 1.0
    return {"only_a_correct": only_a, "only_b_correct": only_b, "p_value": min(1.0, 2 * tail)}


def run_row(backbone: str, seed: int, history: pd.DataFrame, metadata: dict) -> dict:
    best = select_epoch(history, "best")
    by_epoch = history.set_index("epoch")
    peak = metadata["peak_memory"]
    return {
        "backbone": backbone,
        "seed": seed,
        "model": metadata["backbone"],
        "parameters": metadata["parameters"],
        "best_epoch": best,
        "best_accuracy": float(by_epoch.loc[best, "val_accuracy"]),
        "last_epoch": int(history["epoch"].max()),
        "last_accuracy": float(history["val_accuracy"].iloc[-1]),
        "train_minutes": metadata["total_seconds"] / 60,
        "epoch_seconds": float(history["epoch_seconds"].mean()),
        "sentences_per_s": float(history["train_sentences_per_s"].mean()),
        "peak_memory_mb": peak.get("gpu_allocated_mb", peak["host_rss_mb"]),
        "device": metadata["hardware"]["device_name"],
    }


def describe(values: pd.Series) -> dict:
    return {
        "mean": float(values.mean()),
        "std": float(values.std(ddof=1)) if len(values) > 1 else math.nan,
        "min": float(values.min()),
        "max": float(values.max()),
    }


def correctness_matrix(predictions: dict[int, pd.DataFrame]) -> pd.DataFrame:
    """Rows: validation index; columns: seed; values: whether that seed's selected epoch got it right."""
    return pd.DataFrame({seed: (p["pred"] == p["gold"]).to_numpy() for seed, p in predictions.items()}, index=next(iter(predictions.values()))["index"].to_numpy())


def summarise(runs: pd.DataFrame, correct: dict[str, pd.DataFrame], bootstrap: dict) -> pd.DataFrame:
    """Per backbone: spread of best and last accuracy over seeds, and a bootstrap CI of the selected epoch's accuracy."""
    rows = []
    for backbone, group in runs.groupby("backbone", sort=False):
        per_sentence = correct[backbone].mean(axis=1).to_numpy()
        low, high = bootstrap_ci(per_sentence, bootstrap["samples"], bootstrap["confidence"], bootstrap["seed"])
        row = {"backbone": backbone, "model": group["model"].iloc[0], "parameters": int(group["parameters"].iloc[0]), "seeds": len(group)}
        for metric in ("best_accuracy", "last_accuracy"):
            row |= {f"{metric}_{k}": v for k, v in describe(group[metric]).items()}
        row |= {
            "selected_accuracy": float(per_sentence.mean()),
            "selected_ci_low": low,
            "selected_ci_high": high,
            "best_epoch_mode": int(group["best_epoch"].mode().iloc[0]),
            "train_minutes_mean": float(group["train_minutes"].mean()),
            "epoch_seconds_mean": float(group["epoch_seconds"].mean()),
            "sentences_per_s_mean": float(group["sentences_per_s"].mean()),
            "peak_memory_mb_max": float(group["peak_memory_mb"].max()),
            "device": ", ".join(sorted(set(group["device"]))),
        }
        rows.append(row)
    return pd.DataFrame(rows)


def mcnemar_table(correct: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """An exact McNemar test for every pair of backbones on every seed both ran."""
    rows = []
    for a, b in combinations(correct, 2):
        for seed in sorted(set(correct[a].columns) & set(correct[b].columns)):
            test = mcnemar_exact(correct[a][seed].to_numpy(), correct[b][seed].to_numpy())
            rows.append({"backbone_a": a, "backbone_b": b, "seed": seed,
                         "accuracy_a": float(correct[a][seed].mean()), "accuracy_b": float(correct[b][seed].mean()), **test})
    return pd.DataFrame(rows, columns=["backbone_a", "backbone_b", "seed", "accuracy_a", "accuracy_b", "only_a_correct", "only_b_correct", "p_value"])


def correctness(runs: list[Run], which: str) -> dict[str, pd.DataFrame]:
    by_backbone: dict[str, dict[int, pd.DataFrame]] = {}
    for run in runs:
        by_backbone.setdefault(run.backbone, {})[run.seed] = run.predictions(which)
    return {backbone: correctness_matrix(predictions) for backbone, predictions in by_backbone.items()}


def aggregate(metadata_paths, expected, analysis: dict, *, runs, summary, summary_json, mcnemar) -> dict:
    """The aggregate rule: per-run and per-backbone tables, McNemar tests, and a JSON of it all for the report."""
    loaded, missing = load_runs(metadata_paths, expected, analysis["allow_partial"])
    which = analysis["select_epoch"]
    run_table = pd.DataFrame([run_row(r.backbone, r.seed, r.history, r.metadata) for r in loaded])
    correct = correctness(loaded, which)
    summary_table = summarise(run_table, correct, analysis["bootstrap"])
    tests = mcnemar_table(correct)
    result = {
        "selected_epoch": which,
        "validation_sentences": int(len(next(iter(correct.values())))),
        "expected_runs": [{"backbone": b, "seed": s} for b, s in expected],
        "missing_runs": missing,
        "bootstrap": analysis["bootstrap"],
        "runs": run_table.to_dict("records"),
        "backbones": summary_table.to_dict("records"),
        "mcnemar": tests.to_dict("records"),
    }
    write_csv(runs, run_table)
    write_csv(summary, summary_table)
    write_csv(mcnemar, tests)
    write_json(summary_json, result)
    return result
