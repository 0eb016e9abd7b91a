"""Failure rates of behavioural tests with intervals that cover, and paired comparisons of models on the same cases.

Cases are not independent: the cases of one template, or the perturbations of one validation sentence, share a
`cluster`, and a model's seeds share their training. A failure rate is the share of failing (case, seed) pairs, and
its interval is `sentiflow.analysis.crossed`'s: the expected rate over the population of seeds and of clusters (for
a model with one seed, an LLM entry or a cascade, that model's rate over the clusters), its variance split into the
seeds' part and the clusters' part, each with its own degrees of freedom. A comparison of two models on the cases both
answered keeps each model's seeds (independent between the models) and the clusters (shared) in its variance. The
coverage of both, simulated under a known truth at the default suite's sizes, is in docs/statistics.md and checked by
tests/test_coverage.py.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from sentiflow.analysis import crossed

METHOD = "seeds x clusters score interval"  # as the summary and the report name it


def rate_with_interval(fails: np.ndarray, clusters: np.ndarray, confidence: float) -> dict:
    """The failure rate of seeds x cases `fails` and its interval; NaN without cases, and NaN ends with one cluster
    (the clusters' variance needs two)."""
    fails = np.asarray(fails, float)
    clusters = np.asarray(clusters)
    if fails.size == 0:
        return {"cases": 0, "clusters": 0, "failure_rate": math.nan, "ci_low": math.nan, "ci_high": math.nan}
    rate, low, high = crossed.rate_interval(fails, clusters, confidence)
    return {"cases": fails.shape[1], "clusters": len(np.unique(clusters)), "failure_rate": float(rate),
            "ci_low": float(low), "ci_high": float(high)}  # fmt: skip


def fail_table(outcomes: pd.DataFrame) -> pd.DataFrame:
    """Cases x seeds of 0/1 failures, from `outcomes.case_outcomes`."""
    return outcomes.pivot(index="case", columns="seed", values="failed").astype(float)


def failure_rates(suite: pd.DataFrame, tables: dict[str, tuple[str, pd.DataFrame]], confidence: float) -> pd.DataFrame:
    """Per test (in suite order) and model (`tables`: model -> (kind, `fail_table`)): the rate over seeds and per seed."""
    rows = []
    for test, cases in suite.groupby("test", sort=False):
        described = {"test": test, "type": cases["type"].iloc[0], "probes": cases["probes"].iloc[0]}
        for model, (kind, table) in tables.items():
            scored = table.reindex(cases["case"]).dropna()
            clusters = cases.set_index("case").loc[scored.index, "cluster"].to_numpy()
            seeds = list(table.columns)
            head = described | {"model": model, "kind": kind}
            rows.append(
                head | {"seed": "all", "seeds": len(seeds)} | rate_with_interval(scored.T, clusters, confidence)
            )
            for seed in seeds if len(seeds) > 1 else []:
                one = scored[[seed]].T
                rows.append(head | {"seed": str(seed), "seeds": 1} | rate_with_interval(one, clusters, confidence))
    return pd.DataFrame(rows, columns=RATE_COLUMNS)


RATE_COLUMNS = ["test", "type", "probes", "model", "kind", "seed", "seeds", "cases", "clusters", "failure_rate",
                "ci_low", "ci_high"]  # fmt: skip


def paired_difference(a: np.ndarray, b: np.ndarray, clusters: np.ndarray, confidence: float) -> dict:
    """Rate of model a minus rate of model b on the same cases: `a` is a's seeds x cases of 0/1, `b` b's (their
    seeds independent, the clusters shared); NaN without cases, NaN ends with one cluster."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if a.shape[-1] == 0:
        return {"cases": 0, "rate_a": math.nan, "rate_b": math.nan, "difference": math.nan,
                "ci_low": math.nan, "ci_high": math.nan}  # fmt: skip
    compared = crossed.paired_models(a, b, np.asarray(clusters), confidence)
    rate_a, rate_b = float(compared.a.rate), float(compared.b.rate)
    return {"cases": a.shape[-1], "rate_a": rate_a, "rate_b": rate_b, "difference": rate_a - rate_b,
            "ci_low": float(compared.ci[0]), "ci_high": float(compared.ci[1])}  # fmt: skip


ALL_TESTS = "all tests"


def comparisons(
    suite: pd.DataFrame,
    tables: dict[str, tuple[str, pd.DataFrame]],
    pairs: list[tuple[str, str, str]],
    confidence: float,
) -> pd.DataFrame:
    """Each pair (comparison kind, model a, model b) per test and over all tests, on the cases both answered (every
    seed of each).

    Over all tests, a cluster is the same source sentence or template whichever test perturbed it, so that a
    sentence perturbed by several tests is one cluster with all its cases."""
    answered = {model: table.dropna() for model, (_, table) in tables.items()}
    groups = [*suite.groupby("test", sort=False), (ALL_TESTS, suite)]
    rows = []
    for comparison, a, b in pairs:
        for test, cases in groups:
            both = cases[cases["case"].isin(answered[a].index) & cases["case"].isin(answered[b].index)]
            result = paired_difference(
                answered[a].loc[both["case"]].to_numpy().T,
                answered[b].loc[both["case"]].to_numpy().T,
                both["cluster"].to_numpy(),
                confidence,
            )
            rows.append({"test": test, "comparison": comparison, "model_a": a, "model_b": b,
                         "clusters": both["cluster"].nunique()} | result)  # fmt: skip
    return pd.DataFrame(rows, columns=COMPARISON_COLUMNS)


COMPARISON_COLUMNS = ["test", "comparison", "model_a", "model_b", "clusters", "cases", "rate_a", "rate_b", "difference",
                      "ci_low", "ci_high"]  # fmt: skip
