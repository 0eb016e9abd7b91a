"""Failure rates of behavioural tests with honest intervals, and paired comparisons of models on the same cases.

Cases are not independent: the cases of one template, or the perturbations of one validation sentence, share a
`cluster`. A failure rate is the share of failing (case, seed) pairs: over seeds, every seed's cases pooled. Its
interval is a hierarchical percentile bootstrap: each resample draws the model's seeds with replacement, then the
test's clusters with replacement, each drawn cluster bringing all its cases; the resampled rate is the failures
over the drawn seeds and the drawn clusters' cases divided by their (seed, case) count. With one seed (an LLM, or
the rate of one seed) only clusters are drawn. A comparison of two models takes each case's share of failing seeds
per model on the cases both answered, and resamples clusters (paired: a cluster is drawn with both models' answers).
A rate of exactly 0 or 1 has a bootstrap interval of zero width, which claims a certainty no finite suite has: there
the interval is Wilson's score interval with the clusters as the trials (each cluster's share of failing cases and
seeds as its outcome), honest at the boundary and as wide as the independent units warrant.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from sentiflow.analysis.proportions import wilson_interval

# A resample's seeds and clusters are drawn in batches, so that memory stays at about BATCH x clusters.
BATCH = 2000


def cluster_sums(fails: np.ndarray, clusters: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Failures per seed and cluster (seeds x clusters) and cases per cluster, clusters in order of first appearance."""
    _, first, codes = np.unique(clusters, return_index=True, return_inverse=True)
    order = np.argsort(np.argsort(first))  # renumber clusters by first appearance: results do not depend on names
    codes = order[codes]
    sums = np.stack([np.bincount(codes, weights=row, minlength=len(first)) for row in np.asarray(fails, float)])
    return sums, np.bincount(codes, minlength=len(first)).astype(float)


def _counts(rng: np.random.Generator, batch: int, n: int) -> np.ndarray:
    """How often each of n units is drawn in each of `batch` resamples of n draws with replacement."""
    draws = rng.integers(0, n, size=(batch, n)) + n * np.arange(batch)[:, None]  # each resample its own range
    return np.bincount(draws.ravel(), minlength=batch * n).reshape(batch, n).astype(float)


def hierarchical_rates(fails: np.ndarray, clusters: np.ndarray, samples: int, seed: int) -> np.ndarray:
    """The resampled failure rates (see the module docstring). `fails`: seeds x cases of 0/1 (or shares)."""
    sums, sizes = cluster_sums(fails, clusters)
    n_seeds, n_clusters = sums.shape
    rng = np.random.default_rng(seed)
    rates = []
    for start in range(0, samples, BATCH):
        batch = min(BATCH, samples - start)
        seed_counts = _counts(rng, batch, n_seeds) if n_seeds > 1 else np.ones((batch, 1))
        cluster_counts = _counts(rng, batch, n_clusters)
        failed = ((seed_counts @ sums) * cluster_counts).sum(1)
        rates.append(failed / (seed_counts.sum(1) * (cluster_counts @ sizes)))
    return np.concatenate(rates)


def percentile_interval(values: np.ndarray, confidence: float) -> tuple[float, float]:
    tail = (1 - confidence) / 2
    low, high = np.quantile(values, [tail, 1 - tail])
    return float(low), float(high)


def rate_with_interval(fails: np.ndarray, clusters: np.ndarray, bootstrap: dict) -> dict:
    """The failure rate of seeds x cases `fails` and its hierarchical interval; NaN without cases."""
    fails = np.asarray(fails, float)
    if fails.size == 0:
        return {"cases": 0, "clusters": 0, "failure_rate": math.nan, "ci_low": math.nan, "ci_high": math.nan}
    rate = float(fails.mean())
    if rate in (0.0, 1.0):
        sums, sizes = cluster_sums(fails, clusters)
        low, high = wilson_interval(sums.sum(0) / (sizes * fails.shape[0]), bootstrap["confidence"])
        low, high = (0.0, high) if rate == 0 else (low, 1.0)  # the end at the rate, exactly
    else:
        rates = hierarchical_rates(fails, clusters, bootstrap["samples"], bootstrap["seed"])
        low, high = percentile_interval(rates, bootstrap["confidence"])
    return {"cases": fails.shape[1], "clusters": len(np.unique(clusters)), "failure_rate": rate,
            "ci_low": low, "ci_high": high}  # fmt: skip


def fail_table(outcomes: pd.DataFrame) -> pd.DataFrame:
    """Cases x seeds of 0/1 failures, from `outcomes.case_outcomes`."""
    return outcomes.pivot(index="case", columns="seed", values="failed").astype(float)


def failure_rates(suite: pd.DataFrame, tables: dict[str, tuple[str, pd.DataFrame]], bootstrap: dict) -> pd.DataFrame:
    """Per test (in suite order) and model (`tables`: model -> (kind, `fail_table`)): the rate over seeds and per seed."""
    rows = []
    for test, cases in suite.groupby("test", sort=False):
        described = {"test": test, "type": cases["type"].iloc[0], "probes": cases["probes"].iloc[0]}
        for model, (kind, table) in tables.items():
            scored = table.reindex(cases["case"]).dropna()
            clusters = cases.set_index("case").loc[scored.index, "cluster"].to_numpy()
            seeds = list(table.columns)
            head = described | {"model": model, "kind": kind}
            rows.append(head | {"seed": "all", "seeds": len(seeds)} | rate_with_interval(scored.T, clusters, bootstrap))
            for seed in seeds if len(seeds) > 1 else []:
                one = scored[[seed]].T
                rows.append(head | {"seed": str(seed), "seeds": 1} | rate_with_interval(one, clusters, bootstrap))
    return pd.DataFrame(rows, columns=RATE_COLUMNS)


RATE_COLUMNS = ["test", "type", "probes", "model", "kind", "seed", "seeds", "cases", "clusters", "failure_rate",
                "ci_low", "ci_high"]  # fmt: skip


def paired_difference(a: np.ndarray, b: np.ndarray, clusters: np.ndarray, bootstrap: dict) -> dict:
    """Mean of a minus mean of b (per-case failure shares of two models on the same cases), resampling clusters."""
    if len(a) == 0:
        return {"cases": 0, "rate_a": math.nan, "rate_b": math.nan, "difference": math.nan,
                "ci_low": math.nan, "ci_high": math.nan}  # fmt: skip
    sums, sizes = cluster_sums(np.stack([a, b]), clusters)
    rng = np.random.default_rng(bootstrap["seed"])
    differences = []
    for start in range(0, bootstrap["samples"], BATCH):
        counts = _counts(rng, min(BATCH, bootstrap["samples"] - start), len(sizes))
        differences.append((counts @ (sums[0] - sums[1])) / (counts @ sizes))
    low, high = percentile_interval(np.concatenate(differences), bootstrap["confidence"])
    return {"cases": len(a), "rate_a": float(np.mean(a)), "rate_b": float(np.mean(b)),
            "difference": float(np.mean(a) - np.mean(b)), "ci_low": low, "ci_high": high}  # fmt: skip


ALL_TESTS = "all tests"


def comparisons(
    suite: pd.DataFrame, tables: dict[str, tuple[str, pd.DataFrame]], pairs: list[tuple[str, str, str]], bootstrap: dict
) -> pd.DataFrame:
    """Each pair (comparison kind, model a, model b) per test and over all tests, on the cases both answered.

    Over all tests, a cluster is the same source sentence or template whichever test perturbed it, so that a
    sentence perturbed by several tests is drawn once with all its cases."""
    shares = {model: table.mean(axis=1) for model, (_, table) in tables.items()}
    groups = [*suite.groupby("test", sort=False), (ALL_TESTS, suite)]
    rows = []
    for comparison, a, b in pairs:
        for test, cases in groups:
            both = cases[cases["case"].isin(shares[a].index) & cases["case"].isin(shares[b].index)]
            result = paired_difference(
                shares[a].loc[both["case"]].to_numpy(),
                shares[b].loc[both["case"]].to_numpy(),
                both["cluster"].to_numpy(),
                bootstrap,
            )
            rows.append({"test": test, "comparison": comparison, "model_a": a, "model_b": b,
                         "clusters": both["cluster"].nunique()} | result)  # fmt: skip
    return pd.DataFrame(rows, columns=COMPARISON_COLUMNS)


COMPARISON_COLUMNS = ["test", "comparison", "model_a", "model_b", "clusters", "cases", "rate_a", "rate_b", "difference",
                      "ci_low", "ci_high"]  # fmt: skip
