"""Accuracy with honest uncertainty: bootstrap intervals over sentences (scipy), exact McNemar tests, per-class scores (scikit-learn)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import combinations

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.metrics import f1_score, precision_recall_fscore_support

from sentiflow.analysis.runs import Run, RunSet
from sentiflow.atomic import write_csv, write_json


def bootstrap_ci(
    values: np.ndarray, samples: int = 10_000, confidence: float = 0.95, seed: int = 0, method: str = "BCa"
) -> tuple[float, float]:
    """Bootstrap interval (scipy.stats.bootstrap; BCa or percentile) of the mean of `values`, one entry per sentence.

    `values` may be 0/1 correctness or, over several seeds, the share of seeds that got a sentence right:
    either way the sentence is the unit that is resampled.
    """
    return _interval(
        (np.asarray(values, dtype=float),), lambda x, axis: x.mean(axis=axis), samples, confidence, seed, method
    )


def difference_ci(
    a: np.ndarray, b: np.ndarray, samples: int = 10_000, confidence: float = 0.95, seed: int = 0, method: str = "BCa"
) -> tuple[float, float]:
    """Bootstrap interval of mean(a) - mean(b) for two independent groups, each resampled within itself."""
    return _interval(
        (np.asarray(a, float), np.asarray(b, float)),
        lambda x, y, axis: x.mean(axis=axis) - y.mean(axis=axis),
        samples,
        confidence,
        seed,
        method,
    )


def _interval(data: tuple, statistic, samples: int, confidence: float, seed: int, method: str) -> tuple[float, float]:
    if any(len(x) < 2 for x in data):
        return (math.nan, math.nan)
    if all(np.all(x == x[0]) for x in data):  # nothing varies: every resample gives the same value
        value = float(statistic(*data, axis=-1))
        return (value, value)
    result = stats.bootstrap(
        data,
        statistic,
        n_resamples=samples,
        confidence_level=confidence,
        method=method,
        rng=np.random.default_rng(seed),
        batch=1000,
        vectorized=True,
    )  # batch caps memory at 1000 x n
    low, high = result.confidence_interval
    return float(low), float(high)


def mcnemar_exact(a_correct: np.ndarray, b_correct: np.ndarray) -> dict:
    """Exact two-sided McNemar test on paired correctness: a binomial test (scipy) on the discordant pairs."""
    a_correct, b_correct = np.asarray(a_correct, bool), np.asarray(b_correct, bool)
    only_a = int((a_correct & ~b_correct).sum())
    only_b = int((~a_correct & b_correct).sum())
    n = only_a + only_b
    p_value = stats.binomtest(only_a, n, 0.5).pvalue if n else 1.0
    return {"only_a_correct": only_a, "only_b_correct": only_b, "p_value": float(min(1.0, p_value))}


def class_scores(gold: np.ndarray, pred: np.ndarray, labels: Sequence[str]) -> pd.DataFrame:
    """Per class: precision, recall, F1 and support (scikit-learn); a class never predicted has precision 0."""
    ids = list(range(len(labels)))
    precision, recall, f1, support = precision_recall_fscore_support(gold, pred, labels=ids, zero_division=0)
    return pd.DataFrame({"class": list(labels), "precision": precision, "recall": recall, "f1": f1, "support": support})


def macro_f1(gold: np.ndarray, pred: np.ndarray, n_classes: int) -> float:
    return float(f1_score(gold, pred, labels=list(range(n_classes)), average="macro", zero_division=0))


def run_row(run: Run, n_classes: int) -> dict:
    """One run's line of runs.csv: its selected epoch (the published checkpoint's) beside the study's best epoch
    on validation (optimistic: chosen on the sentences it is scored on) and the last epoch."""
    history, metadata = run.history.set_index("epoch"), run.metadata
    best, selected = run.epoch("best"), run.predictions()
    peak = metadata["peak_memory"]
    return {
        "backbone": run.label,
        "backbone_key": run.backbone_key,
        "variant": run.variant,
        "seed": run.seed,
        "model": metadata["backbone"],
        "parameters": metadata["parameters"],
        "select_epoch": metadata["select_epoch"],
        "selected_epoch": run.epoch(),
        "selected_accuracy": float((selected["pred"] == selected["gold"]).mean()),
        "selected_macro_f1": macro_f1(selected["gold"].to_numpy(), selected["pred"].to_numpy(), n_classes),
        "best_epoch": best,
        "best_accuracy": float(history.loc[best, "val_accuracy"]),
        "last_epoch": int(history.index.max()),
        "last_accuracy": float(history["val_accuracy"].iloc[-1]),
        "epochs": int(metadata["epochs_trained"]),
        "train_minutes": metadata["total_seconds"] / 60,
        "epoch_seconds": float(history["epoch_seconds"].mean()),
        "sentences_per_s": float(history["train_sentences_per_s"].mean()),
        "peak_memory_mb": peak.get("gpu_allocated_mb", peak["host_rss_mb"]),
        "device": metadata["hardware"]["device_name"],
        "loop": loop_name(metadata),
    }


def loop_name(metadata: dict) -> str:
    """Which training loop a run used, as the report prints it: plain, fast, or fast with CUDA graphs."""
    loop = metadata.get("loop") or {"name": metadata["hyperparameters"]["loop"]}
    return loop["name"] + (" + CUDA graphs" if loop.get("cuda_graphs") else "")


def describe(values: pd.Series) -> dict:
    return {
        "mean": float(values.mean()),
        "std": float(values.std(ddof=1)) if len(values) > 1 else math.nan,
        "min": float(values.min()),
        "max": float(values.max()),
    }


def summarise(runs: pd.DataFrame, correct: dict[str, pd.DataFrame], bootstrap: dict) -> pd.DataFrame:
    """Per run group: the selected epoch's accuracy (the headline) with a bootstrap CI over sentences and its spread
    over seeds, beside the best-on-validation (optimistic) and last epochs' accuracy."""
    rows = []
    for backbone, group in runs.groupby("backbone", sort=False):
        per_sentence = correct[backbone].mean(axis=1).to_numpy()
        low, high = bootstrap_ci(per_sentence, **ci_settings(bootstrap))
        row = {
            "backbone": backbone,
            "backbone_key": group["backbone_key"].iloc[0],
            "variant": group["variant"].iloc[0],
            "model": group["model"].iloc[0],
            "parameters": int(group["parameters"].iloc[0]),
            "seeds": len(group),
        }
        for metric in ("selected_accuracy", "best_accuracy", "last_accuracy", "selected_macro_f1"):
            row |= {f"{metric}_{k}": v for k, v in describe(group[metric]).items()}
        row |= {
            "selected_accuracy": float(per_sentence.mean()),
            "selected_ci_low": low,
            "selected_ci_high": high,
            "selected_epoch_mode": int(group["selected_epoch"].mode().iloc[0]),
            "best_epoch_mode": int(group["best_epoch"].mode().iloc[0]),
            "epochs_max": int(group["epochs"].max()),
            "train_minutes_mean": float(group["train_minutes"].mean()),
            "epoch_seconds_mean": float(group["epoch_seconds"].mean()),
            "sentences_per_s_mean": float(group["sentences_per_s"].mean()),
            "peak_memory_mb_max": float(group["peak_memory_mb"].max()),
            "device": ", ".join(sorted(set(group["device"]))),
            "loop": ", ".join(sorted(set(group["loop"]))),
        }
        rows.append(row)
    return pd.DataFrame(rows)


def mcnemar_table(correct: dict[str, pd.DataFrame], variant_of: dict[str, str] | None = None) -> pd.DataFrame:
    """An exact McNemar test for every pair of backbones trained with the same variant, on every seed both ran.

    Variants of one backbone are compared in `variant_table`.
    """
    variant_of = variant_of or {}
    rows = []
    for a, b in combinations(correct, 2):
        if variant_of.get(a) != variant_of.get(b):
            continue
        for seed in sorted(set(correct[a].columns) & set(correct[b].columns)):
            test = mcnemar_exact(correct[a][seed].to_numpy(), correct[b][seed].to_numpy())
            rows.append(
                {
                    "backbone_a": a,
                    "backbone_b": b,
                    "seed": seed,
                    "accuracy_a": float(correct[a][seed].mean()),
                    "accuracy_b": float(correct[b][seed].mean()),
                    **test,
                }
            )
    return pd.DataFrame(
        rows,
        columns=[
            "backbone_a",
            "backbone_b",
            "seed",
            "accuracy_a",
            "accuracy_b",
            "only_a_correct",
            "only_b_correct",
            "p_value",
        ],
    )


def paired_comparison(
    label: str, reference: str, by_seed: pd.Series, correct: dict[str, pd.DataFrame], bootstrap: dict
) -> dict:
    """Run group `label` against `reference` on the seeds both ran, paired twice.

    Over seeds: a paired t-test (scipy) on the per-seed accuracies (`by_seed`, by run label and seed). Over
    sentences: a bootstrap interval of the accuracy difference that resamples sentences with both groups'
    per-sentence correctness (averaged over the shared seeds) kept together, and exact McNemar tests per seed.
    """
    seeds = sorted(set(correct[label].columns) & set(correct[reference].columns))
    ours = np.array([by_seed[label, s] for s in seeds])
    theirs = np.array([by_seed[reference, s] for s in seeds])
    per_sentence = (correct[label][seeds].mean(axis=1) - correct[reference][seeds].mean(axis=1)).to_numpy()
    low, high = bootstrap_ci(per_sentence, **ci_settings(bootstrap))
    tests = [mcnemar_exact(correct[label][s].to_numpy(), correct[reference][s].to_numpy())["p_value"] for s in seeds]
    return {
        "seeds": len(seeds), "accuracy": float(ours.mean()), "reference_accuracy": float(theirs.mean()),
        "difference": float((ours - theirs).mean()), "difference_ci_low": low, "difference_ci_high": high,
        "seeds_p_value": float(stats.ttest_rel(ours, theirs).pvalue) if len(seeds) > 1 and np.any(ours != theirs) else math.nan,
        "mcnemar_p_min": min(tests) if tests else math.nan, "mcnemar_p_max": max(tests) if tests else math.nan,
    }  # fmt: skip


def variant_table(runs: pd.DataFrame, correct: dict[str, pd.DataFrame], bootstrap: dict) -> pd.DataFrame:
    """Every variant of a backbone against its reference (`base`, else the first variant), `paired_comparison`."""
    rows = []
    by_seed = runs.set_index(["backbone", "seed"])["selected_accuracy"]
    for backbone, group in runs.groupby("backbone_key", sort=False):
        labels = dict(zip(group["variant"], group["backbone"]))  # variant -> run label, in configured order
        reference = "base" if "base" in labels else next(iter(labels))
        for variant, label in labels.items():
            if variant != reference:
                compared = paired_comparison(label, labels[reference], by_seed, correct, bootstrap)
                rows.append({"backbone": backbone, "variant": variant, "reference": reference} | compared)
    return pd.DataFrame(rows, columns=VARIANT_COLUMNS)


def backbone_table(runs: pd.DataFrame, correct: dict[str, pd.DataFrame], bootstrap: dict) -> pd.DataFrame:
    """Every pair of backbones trained with the same variant, in the configured order, `paired_comparison`: the
    interval of their accuracy difference over sentences beside the per-seed McNemar tests of `mcnemar_table`."""
    rows = []
    by_seed = runs.set_index(["backbone", "seed"])["selected_accuracy"]
    for variant, group in runs.groupby("variant", sort=False):
        labels = list(dict.fromkeys(group["backbone"]))
        for a, b in combinations(labels, 2):
            compared = paired_comparison(a, b, by_seed, correct, bootstrap)
            rows.append({"variant": variant, "backbone_a": a, "backbone_b": b} | rename_reference(compared))
    return pd.DataFrame(rows, columns=BACKBONE_COLUMNS)


def rename_reference(compared: dict) -> dict:
    """A paired comparison's accuracies named for backbones a and b."""
    names = {"accuracy": "accuracy_a", "reference_accuracy": "accuracy_b"}
    return {names.get(key, key): value for key, value in compared.items()}


VARIANT_COLUMNS = [
    "backbone",
    "variant",
    "reference",
    "seeds",
    "accuracy",
    "reference_accuracy",
    "difference",
    "difference_ci_low",
    "difference_ci_high",
    "seeds_p_value",
    "mcnemar_p_min",
    "mcnemar_p_max",
]
BACKBONE_COLUMNS = ["variant", "backbone_a", "backbone_b", "seeds", "accuracy_a", "accuracy_b", "difference",
                    "difference_ci_low", "difference_ci_high", "seeds_p_value", "mcnemar_p_min", "mcnemar_p_max"]  # fmt: skip


def ci_settings(bootstrap: dict) -> dict:
    """The keyword arguments of bootstrap_ci and difference_ci from the config's `analysis.bootstrap`."""
    return {
        "samples": bootstrap["samples"],
        "confidence": bootstrap["confidence"],
        "seed": bootstrap["seed"],
        "method": bootstrap["method"],
    }


def per_class_table(runs: RunSet, labels: Sequence[str]) -> pd.DataFrame:
    """Per run group and class: precision, recall and F1 of the selected epoch, mean and std over seeds."""
    scores = []
    for label, group in runs.groups.items():
        for seed, predicted in zip(group.seeds, group.predictions()):
            scores.append(class_scores(group.gold, predicted, labels).assign(backbone=label, seed=seed))
    table = pd.concat(scores).groupby(["backbone", "class"], sort=False).agg(
        precision_mean=("precision", "mean"), precision_std=("precision", "std"), recall_mean=("recall", "mean"),
        recall_std=("recall", "std"), f1_mean=("f1", "mean"), f1_std=("f1", "std"), support=("support", "first"),
        seeds=("seed", "size"),
    )  # fmt: skip
    return table.reset_index()


def aggregate(runs: RunSet, labels: Sequence[str], bootstrap: dict, outputs) -> dict:
    """The aggregate rule: per-run, per-group and per-class tables, McNemar tests, and a JSON of it all for the
    report. `bootstrap`: the intervals' settings (analysis.bootstrap); `outputs` names the files: runs, summary,
    summary_json, per_class, mcnemar, variants, backbone_pairs."""
    run_table = pd.DataFrame([run_row(run, len(labels)) for run in runs.runs])
    correct = {label: group.correct() for label, group in runs.groups.items()}
    summary_table = summarise(run_table, correct, bootstrap)
    classes = per_class_table(runs, labels)
    tests = mcnemar_table(correct, dict(zip(run_table["backbone"], run_table["variant"])))
    compared = variant_table(run_table, correct, bootstrap)
    pairs = backbone_table(run_table, correct, bootstrap)
    result = {
        "select_epoch": runs.selection,
        "labels": list(labels),
        "validation_sentences": runs.validation_sentences,
        "expected_runs": runs.expected,
        "missing_runs": runs.missing,
        "bootstrap": bootstrap,
        "runs": run_table.to_dict("records"),
        "backbones": summary_table.to_dict("records"),
        "per_class": classes.to_dict("records"),
        "mcnemar": tests.to_dict("records"),
        "variants": compared.to_dict("records"),
        "backbone_pairs": pairs.to_dict("records"),
    }
    write_csv(outputs["runs"], run_table)
    write_csv(outputs["summary"], summary_table)
    write_csv(outputs["per_class"], classes)
    write_csv(outputs["mcnemar"], tests)
    write_csv(outputs["variants"], compared)
    write_csv(outputs["backbone_pairs"], pairs)
    write_json(outputs["summary_json"], result)
    return result
